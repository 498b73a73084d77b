#!/usr/bin/env bash
# Cold read: a 64 MiB object read in one range through a freshly started shoald versus straight
# from s3rver. One run:
#   1. cluster/deps.sh; builds build/bin/shoald if it is missing;
#   2. s3rver on a free port; a 64 MiB random object s3://bench/cold.bin;
#   3. BENCH_RUNS times (default 3): `curl -o /dev/null` of Range bytes=0-67108863 straight from
#      s3rver (path-style URL, with the x-amz-content-sha256 header s3rver wants) and through a new
#      shoald process (2 GiB memory, 16 MiB pages, default --readahead-pages 4, so it fetches the
#      object's pages from s3rver in parallel); shoald is started for each run and stopped after it,
#      so every read through it is cold; which goes first alternates. Each answer must be a 206 of
#      64 MiB; after the first cold read the bytes shoald serves are compared with the upload;
#   4. prints each run, the medians (seconds and GB/s) and the ratio direct/shoald (> 1: shoald was
#      faster), as plain text and as Markdown (for docs/benchmarks.md) on stdout.
# Exit status: 0 when every read worked; 1 otherwise. Speeds are reported, not asserted.
# Everything it starts is stopped, and its temporary directory removed, on exit.
set -euo pipefail

bench_name=cold_read
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

runs="${BENCH_RUNS:-3}"
object_bytes=$((64 << 20))
bucket=bench
key=cold.bin

# timed_get LABEL URL [CURL ARGS...]: GETs the whole object as one range into /dev/null; appends
# "LABEL seconds" to $work/times; fails unless the answer is a 206 of 64 MiB.
timed_get() {
  local label="$1" url="$2"
  shift 2
  local got
  got="$(curl -sS -o /dev/null -w '%{http_code} %{size_download} %{time_total}' \
    -H "Range: bytes=0-$((object_bytes - 1))" "$@" "$url")"
  read -r code size seconds <<<"$got"
  if [[ "$code" != 206 || "$size" != "$object_bytes" ]]; then
    bench_log "$label: answer $code with $size bytes (want 206 with $object_bytes)"
    return 1
  fi
  echo "$label $seconds" >>"$work/times"
  bench_log "$label: $seconds s"
}

direct_read() {
  timed_get direct "http://127.0.0.1:$s3_port/$bucket/$key" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD'
}

# shoald_read VERIFY: a cold read through a new shoald; with VERIFY=1 it then reads the object again
# (now hot) into a file and compares it with the upload.
shoald_read() {
  local verify="$1"
  start_shoald
  local url="http://127.0.0.1:$shoald_port/fetch/$bucket/$key"
  timed_get shoald "$url"
  local pages
  pages="$(shoald_stat pages miss)"
  ((pages == object_bytes / (16 << 20))) || {
    bench_log "shoald fetched $pages pages, want $((object_bytes / (16 << 20)))"
    return 1
  }
  if ((verify)); then
    curl -sS --fail -o "$work/served.bin" -H "Range: bytes=0-$((object_bytes - 1))" "$url"
    cmp "$work/served.bin" "$work/$key"
    rm -f "$work/served.bin"
  fi
  stop_pid "$shoald_pid"
}

report() {
  "$python" - "$work/times" "$object_bytes" "$(load_average)" \
    "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" <<'EOF'
import sys, statistics, datetime
times_path, object_bytes, load, commit = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
times = {"direct": [], "shoald": []}
for line in open(times_path):
    label, seconds = line.split()
    times[label].append(float(seconds))
med = {k: statistics.median(v) for k, v in times.items()}
gbps = {k: object_bytes / v / 1e9 for k, v in med.items()}
ratio = med["direct"] / med["shoald"]
when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
print()
print(f"cold read of a {object_bytes >> 20} MiB object in one range, commit {commit}, {when}")
for k in ("direct", "shoald"):
    runs = " ".join(f"{t:.3f}" for t in times[k])
    print(f"  {k:>6}: runs {runs} s; median {med[k]:.3f} s = {gbps[k]:.2f} GB/s")
print(f"  direct/shoald time ratio: {ratio:.2f}x (> 1: shoald faster)")
print(f"  load average after: {load}")
print()
print("Markdown:")
print()
print(f"Commit `{commit}`, {when}; load average after {load}.")
print()
print("| path | runs (s) | median (s) | GB/s |")
print("|---|---|---|---|")
names = {"direct": "straight from s3rver", "shoald": "through a cold shoald"}
for k in ("direct", "shoald"):
    runs = ", ".join(f"{t:.3f}" for t in times[k])
    print(f"| {names[k]} | {runs} | {med[k]:.3f} | {gbps[k]:.2f} |")
print(f"| ratio direct/shoald | | {ratio:.2f}x | |")
EOF
}

main() {
  bench_init
  bench_prepare
  wait_for_low_load
  start_s3rver
  upload_random "$bucket" "$key" "$object_bytes"
  : >"$work/times"
  local run
  for ((run = 1; run <= runs; run++)); do
    if ((run % 2 == 1)); then
      direct_read
      shoald_read $((run == 1))
    else
      shoald_read 0
      direct_read
    fi
  done
  report
}

main "$@"
