#!/usr/bin/env bash
# Forwarding cost: hot-hit throughput and latency of a page read through its owner versus through
# a non-owner (one forward over the peer protocol), in one run on the same machine.
#
#   bench/forward.sh            prints a table and the forwarded/direct GB/s ratio
#
# Two shoald nodes (bench/lib.sh start_cluster: --insecure-peer on loopback, 16 MiB pages) in
# front of s3rver; one 16 MiB object (one page), cached on its owner. For each range size
# (1 MiB, 16 MiB) and concurrency, wrk reads ranges of it once through the owner (direct) and
# once through the other node (every request forwarded to the owner). Besides throughput and
# latency it charges each cell the CPU time of the whole machine and that of the two shoald
# processes alone per GB moved (the latter holds up when other jobs load the machine). Speed
# targets are reported, not asserted (target: forwarded >= 0.7x direct). Knobs: BENCH_DURATION
# (s, default 8), BENCH_CONCURRENCY (default "4 16"), BENCH_SHOALD (the shoald binary, default
# build/bin/shoald), BENCH_PEER_KEY=1 (a cluster key instead of --insecure-peer: every frame
# encrypted and authenticated, as in production).
set -euo pipefail
bench_name=forward
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init
bench_prepare
duration="${BENCH_DURATION:-8}"
read -r -a concurrency <<<"${BENCH_CONCURRENCY:-4 16}"

start_s3rver
upload_random bench fwd.bin $((16 * 1024 * 1024))

names=(a b)
declare -A port peer pid
if [[ "${BENCH_PEER_KEY:-0}" == "1" ]]; then use_cluster_key; fi  # authenticated frames
start_cluster --memory 2GiB --page-size 16MiB "${no_hot_copies[@]}"  # every read forwarded
wait_for_cluster
# Warm through node a; the page lives on exactly one of the two nodes.
curl -sS --fail -o /dev/null -H "Range: bytes=0-$((16 * 1024 * 1024 - 1))" \
  "http://127.0.0.1:${port[a]}/fetch/bench/fwd.bin"
if [[ "$(node_stat a memory pages)" == 1 ]]; then owner=a; other=b; else owner=b; other=a; fi
bench_log "the page is owned by node $owner; node $other forwards it"

# busy_jiffies: CPU time the whole machine spent busy so far (user, nice, system, irq, softirq,
# steal; /proc/stat, in USER_HZ ticks), to put a CPU cost on every byte a cell moves.
busy_jiffies() {
  awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat
}
# node_jiffies: CPU time (user + system, USER_HZ ticks) the shoald processes have used so far:
# the cost of the cache itself, whatever else the machine runs meanwhile (wrk, other jobs).
node_jiffies() {
  local n
  local -a pids=()
  for n in "${names[@]}"; do pids+=("${pid[$n]}"); done
  cpu_ticks "${pids[@]}"
}
hz="$(getconf CLK_TCK)"
cores="$(nproc)"

run() {  # run NODE RANGE_BYTES C -> "gbps p50_ms p99_ms cpu_s_per_gb busy_fraction node_s_per_gb"
  local out before after nodes_before nodes_after
  before="$(busy_jiffies)"
  nodes_before="$(node_jiffies)"
  out="$(BENCH_PATH=/fetch/bench/fwd.bin BENCH_OBJECT_BYTES=$((16 * 1024 * 1024)) \
    BENCH_RANGE_BYTES="$2" wrk -t2 -c"$3" -d"${duration}s" --timeout 10s --latency \
    -s "$root/bench/range.lua" "http://127.0.0.1:${port[$1]}" 2>&1)"
  after="$(busy_jiffies)"
  nodes_after="$(node_jiffies)"
  echo "$out" | grep RESULT | BUSY_JIFFIES="$((after - before))" \
    NODE_JIFFIES="$((nodes_after - nodes_before))" HZ="$hz" CORES="$cores" "$python" -c '
import sys
f = dict(kv.split("=") for kv in sys.stdin.read().split()[1:])
errors = sum(int(f[k]) for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
if errors: sys.exit("wrk reported %d errors" % errors)
import os
busy = float(os.environ["BUSY_JIFFIES"]) / float(os.environ["HZ"])
seconds = int(f["duration_us"]) / 1e6
gb = int(f["bytes"]) / 1e9
nodes = float(os.environ["NODE_JIFFIES"]) / float(os.environ["HZ"])
print("%.2f %.1f %.1f %.2f %.2f %.2f" % (int(f["bytes"]) / int(f["duration_us"]) / 1e3,
                                         int(f["p50_us"]) / 1e3, int(f["p99_us"]) / 1e3,
                                         busy / gb, busy / seconds / int(os.environ["CORES"]),
                                         nodes / gb))'
}

echo "forwarding, wrk -t2 ${duration} s per cell, commit $(git -C "$root" rev-parse --short HEAD), load $(load_average)"
echo "| range | conc | direct GB/s | direct p50/p99 ms | forwarded GB/s | forwarded p50/p99 ms | forwarded/direct | CPU s/GB direct / forwarded (cores busy) | shoald CPU s/GB direct / forwarded |"
echo "|---|---|---|---|---|---|---|---|---|"
for mib in 1 16; do
  for c in "${concurrency[@]}"; do
    read -r dg dp50 dp99 dcpu dbusy dnode <<<"$(run "$owner" $((mib * 1024 * 1024)) "$c")"
    read -r fg fp50 fp99 fcpu fbusy fnode <<<"$(run "$other" $((mib * 1024 * 1024)) "$c")"
    ratio="$("$python" -c "print('%.2fx' % ($fg / $dg))")"
    echo "| $mib MiB | $c | $dg | $dp50 / $dp99 | $fg | $fp50 / $fp99 | $ratio | $dcpu ($dbusy) / $fcpu ($fbusy) | $dnode / $fnode |"
  done
done
echo "forwards served by node $owner: $(node_stat "$owner" cluster forwarded_in)"
