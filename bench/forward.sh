#!/usr/bin/env bash
# Forwarding cost: hot-hit throughput and latency of a page read through its owner versus through
# a non-owner (one forward over the peer protocol), in one run on the same machine.
#
#   bench/forward.sh            prints a table and the forwarded/direct GB/s ratio
#
# Two shoald nodes (--insecure-peer on loopback, 16 MiB pages) in front of s3rver; one 64 MiB
# object whose pages are spread over both owners. For each page size of range (1 MiB, 16 MiB)
# and concurrency, wrk reads ranges inside the pages owned by node A, once through A (direct)
# and once through B (every page forwarded to A). Speed targets are reported, not asserted
# (target: forwarded >= 0.7x direct). Knobs: BENCH_DURATION (s, default 8), BENCH_CONCURRENCY
# (default "4 16"), BENCH_SHOALD (the shoald binary, default build/bin/shoald), BENCH_PEER_KEY=1
# (a cluster key instead of --insecure-peer: every frame authenticated, as in production).
set -euo pipefail
bench_name=forward
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init
bench_prepare
duration="${BENCH_DURATION:-8}"
read -r -a concurrency <<<"${BENCH_CONCURRENCY:-4 16}"

start_s3rver
upload_random bench fwd.bin $((16 * 1024 * 1024))

declare -A port
peer_a="$(free_port)"; peer_b="$(free_port)"
peer_auth=(--insecure-peer)
if [[ "${BENCH_PEER_KEY:-0}" == "1" ]]; then  # authenticated frames, as in production
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/cluster.key"
  peer_auth=(--cluster-key-file "$work/cluster.key")
fi
for n in a b; do
  port[$n]="$(free_port)"
  peer_var="peer_$n"
  bench_spawn "$work/shoald-$n.log" "${BENCH_SHOALD:-$root/build/bin/shoald}" --listen "127.0.0.1:${port[$n]}" \
    --node-id "node-$n" --peer-listen "127.0.0.1:${!peer_var}" "${peer_auth[@]}" \
    --seed "127.0.0.1:$peer_a" --seed "127.0.0.1:$peer_b" \
    --memory 2GiB --page-size 16MiB --s3-endpoint "http://127.0.0.1:$s3_port" \
    --s3-region us-east-1 --log-level warn
  wait_for_port "${port[$n]}" "$spawned_pid" "shoald-$n" "$work/shoald-$n.log"
done
stat() {  # stat NODE KEY...
  curl -sS --fail "http://127.0.0.1:${port[$1]}/stats" |
    "$python" -c 'import json, sys; v = json.load(sys.stdin)
for k in sys.argv[1:]: v = v[k]
print(v)' "${@:2}"
}
for _ in $(seq 1 100); do
  [[ "$(stat a members | grep -o alive | wc -l)" == 2 ]] && break
  sleep 0.1
done
# Warm through node a; the page lives on exactly one of the two nodes.
curl -sS --fail -o /dev/null -H "Range: bytes=0-$((16 * 1024 * 1024 - 1))" \
  "http://127.0.0.1:${port[a]}/fetch/bench/fwd.bin"
if [[ "$(stat a memory pages)" == 1 ]]; then owner=a; other=b; else owner=b; other=a; fi
bench_log "the page is owned by node $owner; node $other forwards it"

# busy_jiffies: CPU time the whole machine spent busy so far (user, nice, system, irq, softirq,
# steal; /proc/stat, in USER_HZ ticks), to put a CPU cost on every byte a cell moves.
busy_jiffies() {
  awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat
}
hz="$(getconf CLK_TCK)"
cores="$(nproc)"

run() {  # run NODE RANGE_BYTES C -> "gbps p50_ms p99_ms cpu_s_per_gb busy_fraction"
  local out before after
  before="$(busy_jiffies)"
  out="$(BENCH_PATH=/fetch/bench/fwd.bin BENCH_OBJECT_BYTES=$((16 * 1024 * 1024)) \
    BENCH_RANGE_BYTES="$2" wrk -t2 -c"$3" -d"${duration}s" --timeout 10s --latency \
    -s "$root/bench/range.lua" "http://127.0.0.1:${port[$1]}" 2>&1)"
  after="$(busy_jiffies)"
  echo "$out" | grep RESULT | BUSY_JIFFIES="$((after - before))" HZ="$hz" CORES="$cores" "$python" -c '
import sys
f = dict(kv.split("=") for kv in sys.stdin.read().split()[1:])
errors = sum(int(f[k]) for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
if errors: sys.exit("wrk reported %d errors" % errors)
import os
busy = float(os.environ["BUSY_JIFFIES"]) / float(os.environ["HZ"])
seconds = int(f["duration_us"]) / 1e6
print("%.2f %.1f %.1f %.2f %.2f" % (int(f["bytes"]) / int(f["duration_us"]) / 1e3,
                                    int(f["p50_us"]) / 1e3, int(f["p99_us"]) / 1e3,
                                    busy / (int(f["bytes"]) / 1e9),
                                    busy / seconds / int(os.environ["CORES"])))'
}

echo "forwarding, wrk -t2 ${duration} s per cell, commit $(git -C "$root" rev-parse --short HEAD), load $(load_average)"
echo "| range | conc | direct GB/s | direct p50/p99 ms | forwarded GB/s | forwarded p50/p99 ms | forwarded/direct | CPU s/GB direct / forwarded (cores busy) |"
echo "|---|---|---|---|---|---|---|---|"
for mib in 1 16; do
  for c in "${concurrency[@]}"; do
    read -r dg dp50 dp99 dcpu dbusy <<<"$(run "$owner" $((mib * 1024 * 1024)) "$c")"
    read -r fg fp50 fp99 fcpu fbusy <<<"$(run "$other" $((mib * 1024 * 1024)) "$c")"
    ratio="$("$python" -c "print('%.2fx' % ($fg / $dg))")"
    echo "| $mib MiB | $c | $dg | $dp50 / $dp99 | $fg | $fp50 / $fp99 | $ratio | $dcpu ($dbusy) / $fcpu ($fbusy) |"
  done
done
echo "forwards served by node $owner: $(stat "$owner" cluster forwarded_in)"
