#!/usr/bin/env bash
# The S3 port against the /fetch API and against s3rver itself: hot ranged GETs of one cached
# object through shoald's S3 port (path-style /bucket/key, anonymous), through /fetch/bucket/key
# on the same node, and straight from s3rver, in one run (issue 14: S3 port >= 0.9x /fetch).
#
#   bench/s3_port.sh            prints a table and the s3/fetch and s3/direct GB/s ratios
#
# One object of BENCH_OBJECT_MIB (default 64) MiB in s3rver, read once whole through /fetch so
# every page is in shoald's memory (2 GiB, 16 MiB pages). Each cell is one `wrk -t2 -cC` of
# random aligned ranges (bench/range.lua) for BENCH_DURATION seconds (default 8), for range sizes
# 1 MiB and 16 MiB and concurrency BENCH_CONCURRENCY (default "4 16"); the three targets run in
# turn, BENCH_ROUNDS times (default 1), and the table shows each cell's median. Ratios are
# reported, not asserted.
set -euo pipefail
bench_name=s3_port
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init
bench_prepare
duration="${BENCH_DURATION:-8}"
rounds="${BENCH_ROUNDS:-1}"
read -r -a concurrency <<<"${BENCH_CONCURRENCY:-4 16}"
object_bytes=$((${BENCH_OBJECT_MIB:-64} * 1024 * 1024))

start_s3rver
upload_random bench s3port.bin "$object_bytes"
s3_api_port="$(free_port)"
BENCH_SHOALD_ARGS="--s3-api-listen 127.0.0.1:$s3_api_port --s3-api-anonymous ${BENCH_SHOALD_ARGS:-}" \
  start_shoald
wait_for_port "$s3_api_port" "$shoald_pid" "shoald S3 port" "$work/shoald.log"
curl -sS --fail -o "$work/warm.bin" -r "0-$((object_bytes - 1))" \
  "http://127.0.0.1:$shoald_port/fetch/bench/s3port.bin"
cmp -s "$work/warm.bin" "$work/s3port.bin" || { bench_log "warm read differs from the object"; exit 1; }
rm -f "$work/warm.bin"
# The S3 port serves the same pages: one ranged read through it must be exact and not miss.
misses="$(shoald_stat origin requests)"
curl -sS --fail -o "$work/s3.bin" -r 0-1048575 "http://127.0.0.1:$s3_api_port/bench/s3port.bin"
cmp -s "$work/s3.bin" <(head -c 1048576 "$work/s3port.bin") || { bench_log "S3 port read differs"; exit 1; }
[[ "$(shoald_stat origin requests)" == "$misses" ]] || { bench_log "the S3 port read missed"; exit 1; }

# cell PORT PATH RANGE_BYTES CONC -> "gbps p50_ms p99_ms" of one wrk run.
cell() {
  local out="$work/wrk.out"
  BENCH_PATH="$2" BENCH_OBJECT_BYTES="$object_bytes" BENCH_RANGE_BYTES="$3" \
    wrk -t2 -c"$4" -d"${duration}s" --timeout 10s --latency -s "$root/bench/range.lua" \
    "http://127.0.0.1:$1" >"$out" 2>&1
  grep RESULT "$out" | "$python" -c '
import sys
f = dict(kv.split("=") for kv in sys.stdin.read().split()[1:])
errors = sum(int(f[k]) for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
if errors: sys.exit("wrk reported %d errors" % errors)
print("%.2f %.1f %.1f" % (int(f["bytes"]) / int(f["duration_us"]) / 1e3, int(f["p50_us"]) / 1e3,
                          int(f["p99_us"]) / 1e3))'
}

declare -A runs
for ((r = 1; r <= rounds; r++)); do
  for mib in 1 16; do
    for c in "${concurrency[@]}"; do
      bytes=$((mib * 1024 * 1024))
      runs[s3 $mib $c]+="$(cell "$s3_api_port" /bench/s3port.bin "$bytes" "$c");"
      runs[fetch $mib $c]+="$(cell "$shoald_port" /fetch/bench/s3port.bin "$bytes" "$c");"
      runs[direct $mib $c]+="$(cell "$s3_port" /bench/s3port.bin "$bytes" "$c");"
    done
  done
done
misses_after="$(shoald_stat origin requests)"
[[ "$misses_after" == "$misses" ]] || bench_log "note: $((misses_after - misses)) origin requests during the cells"

echo "S3 port vs /fetch vs s3rver, wrk -t2, hot aligned ranges of a ${BENCH_OBJECT_MIB:-64} MiB object, ${duration} s per cell, medians of $rounds, commit $(git -C "$root" rev-parse --short HEAD), load $(load_average)"
echo "| range | conc | S3 port GB/s (p50/p99 ms) | /fetch GB/s (p50/p99 ms) | s3rver GB/s (p50/p99 ms) | S3 port / fetch | S3 port / s3rver |"
echo "|---|---|---|---|---|---|---|"
for mib in 1 16; do
  for c in "${concurrency[@]}"; do
    "$python" - "$mib" "$c" "${runs[s3 $mib $c]}" "${runs[fetch $mib $c]}" "${runs[direct $mib $c]}" <<'EOF'
import statistics, sys
mib, conc = sys.argv[1], sys.argv[2]
def median(cells):
    rows = [list(map(float, c.split())) for c in cells.split(";") if c]
    return [statistics.median(r[i] for r in rows) for i in range(3)]
s3, fetch, direct = (median(a) for a in sys.argv[3:6])
fmt = lambda m: "%.2f (%.1f/%.1f)" % tuple(m)
print("| %s MiB | %s | %s | %s | %s | %.2fx | %.2fx |" % (mib, conc, fmt(s3), fmt(fetch), fmt(direct),
      s3[0] / fetch[0], s3[0] / direct[0]))
EOF
  done
done
