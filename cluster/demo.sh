#!/usr/bin/env bash
# A short tour of a 3-node Shoal cluster in front of a local S3 server, on loopback:
#   1. cluster/deps.sh, then a Release build of shoald, shoal-router and shoalctl in build/ (-j2);
#   2. s3rver on a free port with a temporary data directory;
#   3. bucket "demo" with a 40 MiB random object "videos/sample one.bin" and a small text object
#      "notes/hello.txt", uploaded with awscli (/usr/bin/aws);
#   4. three shoald nodes (node-a, node-b, node-c: 256 MiB memory, 16 MiB pages, a shared cluster
#      key) on free client and peer ports, which are printed; the tour waits until every node
#      sees all three alive;
#   5. the same range (bytes 1000-17000000, which spans two pages) fetched through each node --
#      the first fetch misses, the others hit wherever the pages live -- with the response
#      headers of the first shown and every body compared (cmp) to the uploaded file;
#   6. shoal-router in front of the three nodes, the range fetched through it, and how many
#      page requests each node forwarded to another (the router sends each request to the
#      owner of its first page, so it adds none for one-page ranges);
#   7. `shoalctl members` and `shoalctl status` (with the admin token), and the router's view.
# Everything it starts is stopped, and its temporary directory removed, on exit (also on error or
# Ctrl-C). Exit status 0 when every step worked. Needs a few free TCP ports on 127.0.0.1.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python=/usr/bin/python3
aws_cli=/usr/bin/aws
work=""
pids=()

# A free TCP port on 127.0.0.1 (bind port 0, read it, close).
free_port() {
  "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for_port PORT PID NAME LOG: waits up to 20 s for PORT to accept; fails with the log if the
# process PID exits first or time runs out.
wait_for_port() {
  local port="$1" pid="$2" name="$3" log="$4"
  for _ in $(seq 1 400); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "demo: $name exited before listening on port $port; its log:" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.05
  done
  echo "demo: $name did not listen on port $port within 20 s; its log:" >&2
  cat "$log" >&2
  return 1
}

cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if ((status != 0)) && [[ -n "$work" ]]; then
    for log in "$work"/*.log; do
      [[ -f "$log" ]] && { echo "--- last lines of $log" >&2; tail -n 20 "$log" >&2; }
    done
  fi
  [[ -n "$work" ]] && rm -rf "$work"
  return "$status"
}

build() {
  echo "==> deps and build (Release, build/, -j2)"
  "$root/cluster/deps.sh"
  cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$root/build" -j2 --target shoald shoal-router shoalctl
}

start_s3rver() {
  s3_port="$(free_port)"
  mkdir -p "$work/s3"
  # The legacy provider has the DES that s3rver's ListObjectsV2 continuation tokens use.
  NODE_OPTIONS=--openssl-legacy-provider \
    node "$root/.deps/s3rver/node_modules/s3rver/bin/s3rver.js" -d "$work/s3" -a 127.0.0.1 \
    -p "$s3_port" --silent >"$work/s3rver.log" 2>&1 &
  pids+=($!)
  wait_for_port "$s3_port" "$!" s3rver "$work/s3rver.log"
  echo "==> s3rver on 127.0.0.1:$s3_port (data in $work/s3)"
}

aws_s3() {
  "$aws_cli" --endpoint-url "http://127.0.0.1:$s3_port" s3 "$@"
}

upload_samples() {
  echo "==> uploading s3://demo/videos/sample one.bin (40 MiB) and s3://demo/notes/hello.txt"
  head -c $((40 * 1024 * 1024)) /dev/urandom >"$work/sample one.bin"
  printf 'Hello from the Shoal demo.\n' >"$work/hello.txt"
  aws_s3 mb s3://demo
  aws_s3 cp --only-show-errors "$work/sample one.bin" "s3://demo/videos/sample one.bin"
  aws_s3 cp --only-show-errors "$work/hello.txt" "s3://demo/notes/hello.txt"
  aws_s3 ls --recursive s3://demo
}

names=(a b c)
declare -A client_port peer_port

# start_cluster: three shoald nodes sharing a cluster key, each seeded with all three peer ports.
# With an admin token file, for shoalctl.
start_cluster() {
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/cluster.key"
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/admin.token"
  chmod 600 "$work/cluster.key" "$work/admin.token"
  local admin=(--admin-token-file "$work/admin.token")
  local n seeds=()
  for n in "${names[@]}"; do
    client_port[$n]="$(free_port)"
    peer_port[$n]="$(free_port)"
    seeds+=(--seed "127.0.0.1:${peer_port[$n]}")
  done
  for n in "${names[@]}"; do
    "$root/build/bin/shoald" --listen "127.0.0.1:${client_port[$n]}" --node-id "node-$n" \
      --peer-listen "127.0.0.1:${peer_port[$n]}" --cluster-key-file "$work/cluster.key" \
      "${seeds[@]}" "${admin[@]}" --memory 256MiB --page-size 16MiB \
      --s3-endpoint "http://127.0.0.1:$s3_port" --s3-region us-east-1 \
      >"$work/shoald-$n.log" 2>&1 &
    pids+=($!)
    wait_for_port "${client_port[$n]}" "$!" "shoald node-$n" "$work/shoald-$n.log"
    echo "==> shoald node-$n: client port 127.0.0.1:${client_port[$n]}, peer port" \
      "127.0.0.1:${peer_port[$n]}"
  done
  wait_for_members
}

# wait_for_members: up to 20 s for every node to see three alive members.
wait_for_members() {
  local n alive
  for n in "${names[@]}"; do
    for _ in $(seq 1 200); do
      alive="$(curl -sS "http://127.0.0.1:${client_port[$n]}/stats" | grep -o '"state":"alive"' |
        wc -l)"
      [[ "$alive" == 3 ]] && break
      sleep 0.1
    done
    if [[ "$alive" != 3 ]]; then
      echo "demo: node-$n sees $alive alive members, not 3" >&2
      return 1
    fi
  done
  echo "==> every node sees 3 alive members"
}

start_router() {
  router_port="$(free_port)"
  local n nodes=()
  for n in "${names[@]}"; do nodes+=(--node "127.0.0.1:${client_port[$n]}"); done
  "$root/build/bin/shoal-router" --listen "127.0.0.1:$router_port" "${nodes[@]}" --poll-ms 500 \
    >"$work/shoal-router.log" 2>&1 &
  pids+=($!)
  wait_for_port "$router_port" "$!" shoal-router "$work/shoal-router.log"
  for _ in $(seq 1 100); do
    [[ "$(curl -sS "http://127.0.0.1:$router_port/router/stats" | grep -o '"state":"alive"' |
      wc -l)" == 3 ]] && break
    sleep 0.1
  done
  echo "==> shoal-router on 127.0.0.1:$router_port"
}

# fetch_range PORT LABEL [SHOW]: GETs bytes 1000-17000000 of the sample through PORT, prints the
# time (and the response headers when SHOW is set), and compares the body with the uploaded
# file's bytes.
fetch_range() {
  local port="$1" label="$2" show="${3:-}"
  local url="http://127.0.0.1:$port/fetch/demo/videos/sample%20one.bin"
  local out="$work/range-$label.bin"
  echo
  echo "==> GET $url  Range: bytes=1000-17000000  ($label)"
  if [[ -n "$show" ]]; then
    curl -sS --fail-with-body -D - -o "$out" -H 'Range: bytes=1000-17000000' \
      -w 'time_total: %{time_total} s\n' "$url"
  else
    curl -sS --fail-with-body -o "$out" -H 'Range: bytes=1000-17000000' \
      -w 'time_total: %{time_total} s\n' "$url"
  fi
  cmp "$out" <(tail -c +1001 "$work/sample one.bin" | head -c 16999001)
  echo "bytes match the uploaded object (16999001 bytes from offset 1000)"
}

fetch_text() {
  local url="http://127.0.0.1:$router_port/fetch/demo/notes/hello.txt"
  echo
  echo "==> GET $url  Range: bytes=0-1023 (through the router; clamped to the object's end)"
  curl -sS --fail-with-body -D - -H 'Range: bytes=0-1023' "$url"
}

# forwards: one line per node with its forwarded_out / forwarded_in counters and cached pages.
forwards() {
  local n
  for n in "${names[@]}"; do
    curl -sS "http://127.0.0.1:${client_port[$n]}/stats" | "$python" -c '
import json, sys
s = json.load(sys.stdin)
print("  %s: forwarded_out %d, forwarded_in %d, pages cached %d" % (s["node_id"],
      s["cluster"]["forwarded_out"], s["cluster"]["forwarded_in"], s["memory"]["pages"]))'
  done
}

# one_page_through PORT: GETs the first 1 MiB of page 1 (a one-page range) through PORT.
one_page_through() {
  curl -sS --fail -o /dev/null -H 'Range: bytes=16777216-17825791' \
    "http://127.0.0.1:$1/fetch/demo/videos/sample%20one.bin"
}

show_shoalctl() {
  local ctl="$root/build/bin/shoalctl"
  local cmd
  for cmd in members status; do
    echo
    echo "==> shoalctl --node 127.0.0.1:${client_port[a]} --token-file admin.token $cmd"
    "$ctl" --node "127.0.0.1:${client_port[a]}" --token-file "$work/admin.token" "$cmd"
  done
}

show_router_stats() {
  echo
  echo "==> GET /router/stats (shoal-router's view of the cluster)"
  curl -sS --fail-with-body "http://127.0.0.1:$router_port/router/stats" | "$python" -m json.tool
}

main() {
  build
  work="$(mktemp -d "${TMPDIR:-/tmp}/shoal-demo-XXXXXX")"
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  # s3rver accepts the access key S3RVER (secret S3RVER); awscli and shoald read these. A private
  # AWS_CONFIG_FILE keeps a user's own profile settings out of the demo.
  export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1
  export AWS_CONFIG_FILE="$work/aws-config" AWS_SHARED_CREDENTIALS_FILE="$work/aws-credentials"
  export AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
  start_s3rver
  upload_samples
  start_cluster
  fetch_range "${client_port[a]}" "node-a-miss" show
  fetch_range "${client_port[b]}" "node-b-hit"
  fetch_range "${client_port[c]}" "node-c-hit"
  echo
  echo "==> page requests forwarded between nodes so far (each node asks the owner of a page it"
  echo "    does not own):"
  forwards
  start_router
  fetch_range "$router_port" "router" show
  fetch_text
  local n
  for n in "${names[@]}"; do one_page_through "${client_port[$n]}"; done
  echo
  echo "==> after one one-page request straight to each node (two of them forward it):"
  forwards
  for _ in 1 2 3; do one_page_through "$router_port"; done
  echo "==> after three more through shoal-router (sent to the owner: no new forwards):"
  forwards
  show_shoalctl
  show_router_stats
  echo
  echo "==> demo done; stopping shoal-router, the three nodes and s3rver"
}

# Sourcing the file (e.g. to try one step) defines the functions without running the demo.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
