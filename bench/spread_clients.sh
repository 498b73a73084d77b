#!/usr/bin/env bash
# Clients spread over a cluster, as behind a load balancer: hot 1 MiB hits with 12 connections
# spread evenly over the 3 members of a cluster, against the same 12 connections on one node that
# holds every page, in one run on the same machine (issue 12: target >= 0.9x).
#
#   bench/spread_clients.sh     prints a table and the spread/one-node GB/s ratio
#
# One object of BENCH_PAGES (default 8) 16 MiB pages in s3rver. Three setups, each with 2 GiB of
# --memory per node (bench/lib.sh start_cluster and start_shoald_at, 16 MiB pages):
#   one node    a standalone shoald holding every page (warmed by one full read);
#   spread      a 3-member cluster with hot copies (--hot-copy-memory auto: 1/8 of --memory),
#               warmed by reading every page whole three times through every member, which
#               makes each member copy the pages it does not own (node/hot_copies.h);
#   no copies   the same cluster with --hot-copy-memory 0: two reads in three are forwarded to
#               the page's owner (what main measured before hot copies: 0.42-0.46x).
# Each cell runs three wrk processes at once (-t1 -c4 each, random aligned 1 MiB ranges of the
# object, bench/range.lua): for "one node" all three against it, for the clusters one per
# member; the GB/s is their bytes over the longest duration. The ratio is reported, not
# asserted. Knobs: BENCH_DURATION (s per cell, default 8), BENCH_ROUNDS (default 1: the cells run
# in the order one node, spread, no copies, repeated), BENCH_SHOALD (the shoald binary).
set -euo pipefail
bench_name=spread_clients
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init
bench_prepare
duration="${BENCH_DURATION:-8}"
rounds="${BENCH_ROUNDS:-1}"
pages="${BENCH_PAGES:-8}"
page=$((16 * 1024 * 1024))
object_bytes=$((pages * page))

start_s3rver
upload_random bench spread.bin "$object_bytes"

# The standalone node.
start_shoald
solo_port=$shoald_port
# The two clusters: a, b, c with hot copies; x, y, z without.
declare -A port peer pid
names=(a b c)
start_cluster --memory 2GiB --page-size 16MiB
wait_for_cluster
names=(x y z)
start_cluster --memory 2GiB --page-size 16MiB --hot-copy-memory 0
wait_for_cluster

# read_whole PORT: every page of the object, one whole-page GET each.
read_whole() {
  local p
  for ((p = 0; p < pages; p++)); do
    curl -sS --fail -o /dev/null -H "Range: bytes=$((p * page))-$((p * page + page - 1))" \
      "http://127.0.0.1:$1/fetch/bench/spread.bin"
  done
}
read_whole "$solo_port"
for n in a b c x y z; do read_whole "${port[$n]}"; done  # owners fetch their pages
for _ in 1 2; do
  for n in a b c; do read_whole "${port[$n]}"; done  # three whole reads: hot on non-owners
done
sleep 1  # copies being made land
copies=""
for n in a b c; do
  copies+="$n $(node_stat "$n" hot_copies pages)/$pages "
done
bench_log "hot copies after warming (node copies/pages): $copies"

# run PORT PORT PORT -> "gbps p50_ms p99_ms": three wrk -t1 -c4 at once, one per port.
run() {
  local ports=("$@") outs=() i
  for i in 0 1 2; do outs+=("$work/wrk-$i.out"); done
  for i in 0 1 2; do
    BENCH_PATH=/fetch/bench/spread.bin BENCH_OBJECT_BYTES="$object_bytes" \
      BENCH_RANGE_BYTES=$((1024 * 1024)) wrk -t1 -c4 -d"${duration}s" --timeout 10s --latency \
      -s "$root/bench/range.lua" "http://127.0.0.1:${ports[$i]}" >"${outs[$i]}" 2>&1 &
  done
  wait
  cat "${outs[@]}" | grep RESULT | "$python" -c '
import sys
rows = [dict(kv.split("=") for kv in line.split()[1:]) for line in sys.stdin]
if len(rows) != 3: sys.exit("expected 3 wrk results, got %d" % len(rows))
for f in rows:
    errors = sum(int(f[k]) for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
    if errors: sys.exit("wrk reported %d errors" % errors)
total = sum(int(f["bytes"]) for f in rows)
us = max(int(f["duration_us"]) for f in rows)
print("%.2f %.1f %.1f" % (total / us / 1e3, max(int(f["p50_us"]) for f in rows) / 1e3,
                          max(int(f["p99_us"]) for f in rows) / 1e3))'
}

forwards_before() { node_stat "$1" cluster forwarded_in; }

echo "spread clients, 3 x wrk -t1 -c4 (12 connections), 1 MiB hits over $pages pages, ${duration} s per cell, commit $(git -C "$root" rev-parse --short HEAD), load $(load_average)"
echo "| round | one node GB/s (p50/p99 ms) | spread over 3, hot copies GB/s (p50/p99 ms) | spread over 3, no copies GB/s (p50/p99 ms) | spread/one node | no copies/one node | forwards during spread (copies / none) |"
echo "|---|---|---|---|---|---|---|"
for ((r = 1; r <= rounds; r++)); do
  read -r sg sp50 sp99 <<<"$(run "$solo_port" "$solo_port" "$solo_port")"
  fa=$(($(forwards_before a) + $(forwards_before b) + $(forwards_before c)))
  read -r cg cp50 cp99 <<<"$(run "${port[a]}" "${port[b]}" "${port[c]}")"
  fa=$(($(forwards_before a) + $(forwards_before b) + $(forwards_before c) - fa))
  fx=$(($(forwards_before x) + $(forwards_before y) + $(forwards_before z)))
  read -r ng np50 np99 <<<"$(run "${port[x]}" "${port[y]}" "${port[z]}")"
  fx=$(($(forwards_before x) + $(forwards_before y) + $(forwards_before z) - fx))
  ratio="$("$python" -c "print('%.2fx' % ($cg / $sg))")"
  nratio="$("$python" -c "print('%.2fx' % ($ng / $sg))")"
  echo "| $r | $sg ($sp50/$sp99) | $cg ($cp50/$cp99) | $ng ($np50/$np99) | $ratio | $nratio | $fa / $fx |"
done
hits=""
for n in a b c; do hits+="$n $(node_stat "$n" hot_copies hits) "; done
echo "copy hits (node hits): $hits; load at the end $(load_average)"
