#!/usr/bin/env bash
# System calls per hot-hit response: `strace -c -f` on the server (every thread) while a fixed
# number of hot ranges are read over keep-alive connections. One run:
#   1. cluster/deps.sh; builds build/bin/shoald if it is missing;
#   2. s3rver with a 64 MiB random object; shoald (or Varnish, bench/varnish.vcl.in), warmed;
#   3. strace -c -f -p SERVER while curl reads BENCH_REQUESTS (default 400) ranges of
#      BENCH_RANGE_MIB (default 1) MiB, aligned, rotating through the object, BENCH_PARALLEL
#      (default 4) connections at a time;
#   4. prints strace's summary and, per response, the calls of each kind (calls / requests) as a
#      Markdown table on stdout.
# strace slows the server many times over: the counts are the point, not the speed.
# Usage: bench/hot_syscalls.sh [shoald|varnish]. Exit status 0 when every step worked.
set -euo pipefail

bench_name=hot_syscalls
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

target="${1:-shoald}"
requests="${BENCH_REQUESTS:-400}"
range_bytes=$((${BENCH_RANGE_MIB:-1} << 20))
parallel="${BENCH_PARALLEL:-4}"
object_bytes=$((64 << 20))
bucket=bench
key=hot.bin

# curl_args N: curl's arguments, one a line, for N ranges of range_bytes rotating through the
# object (one URL per `--next` section, so that curl reuses its connection).
curl_args() {
  local n="$1" i first path
  path="/$bucket/$key"
  [[ "$target" == shoald ]] && path="/fetch/$bucket/$key"
  for ((i = 0; i < n; i++)); do
    ((i == 0)) || echo --next
    first=$(((i * range_bytes) % object_bytes))
    printf '%s\n' -sS --fail -o /dev/null -H "Range: bytes=$first-$((first + range_bytes - 1))" \
      "http://127.0.0.1:$server_port$path"
  done
}

main() {
  bench_init
  bench_prepare
  start_s3rver
  upload_random "$bucket" "$key" "$object_bytes"
  case "$target" in
    shoald)
      start_shoald
      server_port=$shoald_port server_pid=$shoald_pid
      ;;
    varnish)
      start_varnish
      server_port=$varnish_port server_pid=$varnish_pid
      ;;
    *) bench_log "usage: $0 [shoald|varnish]"; exit 1 ;;
  esac
  local path first
  path="/$bucket/$key"
  [[ "$target" == shoald ]] && path="/fetch/$bucket/$key"
  for ((first = 0; first < object_bytes; first += range_bytes)); do  # warm
    curl -sS --fail -o /dev/null -H "Range: bytes=$first-$((first + range_bytes - 1))" \
      "http://127.0.0.1:$server_port$path"
  done
  # Requests are split over `parallel` curl processes, each reusing one connection.
  local per=$((requests / parallel)) j
  local -a clients=()
  strace -c -f -o "$work/strace.txt" -p "$server_pid" &
  local strace_pid=$!
  sleep 2  # strace attaches
  for ((j = 0; j < parallel; j++)); do
    # shellcheck disable=SC2046 # one argument per word, on purpose
    (IFS=$'\n'; exec curl $(curl_args "$per")) &
    clients+=($!)
  done
  local ok=0
  for j in "${clients[@]}"; do wait "$j" || ok=1; done
  sleep 1
  kill -INT "$strace_pid"
  wait "$strace_pid" || true
  ((ok == 0)) || { bench_log "a client failed"; exit 1; }
  cat "$work/strace.txt" >&2
  "$python" - "$work/strace.txt" "$((per * parallel))" "$target" "$range_bytes" <<'EOF'
import sys
path, n, target, range_bytes = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
rows = []
for line in open(path):
    f = line.split()
    if len(f) >= 5 and f[0][0].isdigit() and f[-1] != "total":
        calls = int(f[3])
        rows.append((calls / n, f[-1]))
rows.sort(reverse=True)
print(f"{target}: system calls per {range_bytes >> 20} MiB response ({n} responses)")
print()
print("| call | per response |")
print("|---|---|")
for per, name in rows:
    if per >= 0.05:
        print(f"| `{name}` | {per:.2f} |")
print(f"| all | {sum(p for p, _ in rows):.2f} |")
EOF
}

main "$@"
