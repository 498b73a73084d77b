#!/usr/bin/env bash
# Owner-aware routing: hot-hit throughput, latency and hops between nodes of requests sent
# through shoal-router versus straight to one node of a 3-node cluster, in one run.
#
#   bench/router.sh            prints a plain table and a Markdown table (docs/benchmarks.md)
#
# Three shoald nodes (--insecure-peer on loopback, 16 MiB pages, 1 GiB memory each) in front of
# s3rver; one 256 MiB object (16 pages, spread over the three owners by the ring), warmed by
# reading every page once. For range sizes 1 MiB and 16 MiB (aligned, so every request is one
# page: bench/range.lua) and each concurrency C, `wrk -t2 -cC --latency` runs against:
#   - direct: node a (a fixed node is a random node as far as page owners go: about 2/3 of the
#     pages live elsewhere, so those requests take one hop over the peer protocol);
#   - router: shoal-router with --bounded-load 0 (always the owner);
#   - router-bl: shoal-router with the default --bounded-load 1.25 (the owner unless it has over
#     1.25x the average load of this router's requests in flight).
# Hops per request = the increase of the nodes' forwarded_out counters / wrk's request count.
# Speed targets are reported, not asserted; exit status 1 only when a tool or a check fails.
# Knobs: BENCH_DURATION (s per wrk run, default 8), BENCH_CONCURRENCY (default "4 16"),
# BENCH_WAIT_LOAD (see bench/lib.sh). About 2 minutes with the defaults.
set -euo pipefail
bench_name=router
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init
bench_prepare
if [[ ! -x "$root/build/bin/shoal-router" ]]; then
  bench_log "building shoal-router (Release, build/, -j2)"
  ninja -C "$root/build" -j2 shoal-router >&2
fi
duration="${BENCH_DURATION:-8}"
read -r -a concurrency <<<"${BENCH_CONCURRENCY:-4 16}"
object_bytes=$((256 * 1024 * 1024))
page_bytes=$((16 * 1024 * 1024))

start_s3rver
upload_random bench routed.bin "$object_bytes"

names=(a b c)
declare -A port peer pid
start_cluster --memory 1GiB --page-size 16MiB "${no_hot_copies[@]}"

wait_for_cluster

declare -A router_port
start_router() {  # start_router NAME BOUNDED_LOAD
  router_port[$1]="$(free_port)"
  bench_spawn "$work/router-$1.log" "$root/build/bin/shoal-router" \
    --listen "127.0.0.1:${router_port[$1]}" --node "127.0.0.1:${port[a]}" \
    --node "127.0.0.1:${port[b]}" --node "127.0.0.1:${port[c]}" --bounded-load "$2" \
    --threads 2 --log-level warn
  wait_for_port "${router_port[$1]}" "$spawned_pid" "shoal-router $1" "$work/router-$1.log"
  for _ in $(seq 1 100); do
    [[ "$(curl -sS "http://127.0.0.1:${router_port[$1]}/router/stats" |
      grep -o '"state":"alive"' | wc -l)" == 3 ]] && return 0
    sleep 0.1
  done
  bench_log "shoal-router $1 did not see 3 alive nodes"
  return 1
}
start_router router 0
start_router router-bl 1.25

# Warm: every page once, through the router (so each lands on its owner).
for ((p = 0; p < object_bytes / page_bytes; p++)); do
  curl -sS --fail -o /dev/null -H "Range: bytes=$((p * page_bytes))-$(((p + 1) * page_bytes - 1))" \
    "http://127.0.0.1:${router_port[router]}/fetch/bench/routed.bin"
done
misses_warm="$(($(node_stat a pages miss) + $(node_stat b pages miss) + $(node_stat c pages miss)))"
bench_log "warm: $misses_warm page misses in the cluster (16 pages)"

forwarded_total() {
  echo $(($(node_stat a cluster forwarded_out) + $(node_stat b cluster forwarded_out) + \
    $(node_stat c cluster forwarded_out)))
}

# run TARGET_PORT RANGE_BYTES C -> "gbps p50_ms p99_ms hops_per_request"
run() {
  local before out
  before="$(forwarded_total)"
  out="$(BENCH_PATH=/fetch/bench/routed.bin BENCH_OBJECT_BYTES=$object_bytes \
    BENCH_RANGE_BYTES="$2" wrk -t2 -c"$3" -d"${duration}s" --timeout 10s --latency \
    -s "$root/bench/range.lua" "http://127.0.0.1:$1" 2>&1)"
  echo "$out" | grep RESULT | "$python" -c '
import sys
f = dict(kv.split("=") for kv in sys.stdin.read().split()[1:])
errors = sum(int(f[k]) for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
if errors: sys.exit("wrk reported %d errors" % errors)
hops = (int(sys.argv[2]) - int(sys.argv[1])) / max(1, int(f["requests"]))
print("%.2f %.1f %.1f %.2f" % (int(f["bytes"]) / int(f["duration_us"]) / 1e3,
      int(f["p50_us"]) / 1e3, int(f["p99_us"]) / 1e3, hops))' "$before" "$(forwarded_total)"
}

wait_for_low_load
echo "routing, 3 nodes, wrk -t2 ${duration} s per cell, commit $(git -C "$root" rev-parse --short HEAD), load $(load_average)"
echo "| range | conc | target | GB/s | p50 ms | p99 ms | hops/request |"
echo "|---|---|---|---|---|---|---|"
for mib in 1 16; do
  for c in "${concurrency[@]}"; do
    for target in direct router router-bl; do
      case "$target" in
        direct) tport="${port[a]}" ;;
        *) tport="${router_port[$target]}" ;;
      esac
      read -r gbps p50 p99 hops <<<"$(run "$tport" $((mib * 1024 * 1024)) "$c")"
      echo "| $mib MiB | $c | $target | $gbps | $p50 | $p99 | $hops |"
    done
  done
done
misses_end="$(($(node_stat a pages miss) + $(node_stat b pages miss) + $(node_stat c pages miss)))"
[[ "$misses_end" == "$misses_warm" ]] || {
  bench_log "FAILED: the cluster missed $((misses_end - misses_warm)) pages after warming"
  exit 1
}
skips="$(curl -sS "http://127.0.0.1:${router_port[router-bl]}/router/stats" |
  "$python" -c 'import json, sys; print(json.load(sys.stdin)["load_skips"])')"
echo "router-bl sent $skips requests past an overloaded owner; load $(load_average)"
