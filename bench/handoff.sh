#!/usr/bin/env bash
# Ownership changes on a warm cluster: origin GETs caused by a join and by a drain.
#
#   bench/handoff.sh            prints the origin GETs of each change (target: <= 1 each)
#
# Three shoald nodes (a, b, c; bench/lib.sh start_cluster: --insecure-peer on loopback, 64 KiB
# pages) in front of s3rver through tests/tools/fault_proxy.py, which counts the origin's GETs.
# One object of BENCH_PAGES pages (default 64) is read whole through node a (warm: one GET per
# page). Join: node d starts, seeded with the others; once all four see each other, the whole
# object is read through every node. Drain: `shoalctl drain node-b` (weight 0, hand-off, leave);
# then the whole object is read through a, c and d. Each row is the proxy's GET count over that
# step; the bytes of every read are compared with the object. Knobs: BENCH_PAGES, BENCH_SHOALD.
set -euo pipefail
bench_name=handoff
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init
bench_prepare
pages="${BENCH_PAGES:-64}"
page=$((64 * 1024))
size=$((pages * page))

start_s3rver
upload_random bench handoff.bin "$size"
cluster_origin_port="$(free_port)"
bench_spawn "$work/origin-proxy.log" "$python" "$root/tests/tools/fault_proxy.py" \
  --upstream "127.0.0.1:$s3_port" --listen "127.0.0.1:$cluster_origin_port"
wait_for_port "$cluster_origin_port" "$spawned_pid" origin-proxy "$work/origin-proxy.log"

head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/admin.token"
chmod 600 "$work/admin.token"
flags=(--memory 256MiB --page-size 64KiB --admin-token-file "$work/admin.token")
names=(a b c)
declare -A port peer pid
start_cluster "${flags[@]}"
wait_for_cluster

origin_gets() {
  curl -sS --fail "http://127.0.0.1:$cluster_origin_port/__proxy/stats" |
    "$python" -c 'import json, sys; print(json.load(sys.stdin)["counts"].get("GET", 0))'
}
reset_origin() { curl -sS --fail -X POST "http://127.0.0.1:$cluster_origin_port/__proxy/reset" >/dev/null; }
read_all() {  # read_all NODE...: the whole object through each node, bytes compared
  local n
  for n in "$@"; do
    curl -sS --fail -o "$work/got" -H "Range: bytes=0-$((size - 1))" \
      "http://127.0.0.1:${port[$n]}/fetch/bench/handoff.bin"
    cmp -s "$work/got" "$work/handoff.bin" || { bench_log "node $n served wrong bytes"; exit 1; }
  done
}

read_all a
warm="$(origin_gets)"
bench_log "warm: $warm origin GETs for $pages pages"

# Join: node d, seeded with every peer port (as start_cluster seeds).
reset_origin
names=(a b c d)
port[d]="$(free_port)"
peer[d]="$(free_port)"
seeds=()
for n in a b c d; do seeds+=(--seed "127.0.0.1:${peer[$n]}"); done
bench_spawn "$work/shoald-d.log" "$shoald_bin" --listen "127.0.0.1:${port[d]}" --node-id node-d \
  --peer-listen "127.0.0.1:${peer[d]}" "${peer_auth[@]}" "${seeds[@]}" \
  --s3-endpoint "http://127.0.0.1:$cluster_origin_port" --s3-region us-east-1 \
  --log-level "$shoald_log_level" "${flags[@]}"
pid[d]=$spawned_pid
wait_for_port "${port[d]}" "${pid[d]}" shoald-d "$work/shoald-d.log"
wait_for_cluster
read_all a b c d
join_gets="$(origin_gets)"
join_taken="$(node_stat d cluster handoffs_taken 2>/dev/null || echo n/a)"

# Drain: node b.
reset_origin
"$root/build/bin/shoalctl" --node "127.0.0.1:${port[a]}" --token-file "$work/admin.token" \
  --json drain node-b >"$work/drain.json"
handed="$("$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["drain"].get("handed_off", "n/a"))' "$work/drain.json")"
read_all a c d
drain_gets="$(origin_gets)"

printf '%-36s %8s %8s\n' "change (warm cluster, $pages pages)" "origin GETs" "target"
printf '%-36s %8s %8s\n' "4th node joins, every page read" "$join_gets" "<= 1"
printf '%-36s %8s %8s\n' "shoalctl drain, every page read" "$drain_gets" "<= 1"
echo "pages the joiner took from previous owners: $join_taken; pages the drained node handed off: $handed"
