# shellcheck shell=bash
# Shared helpers for the benchmark drivers in bench/ (sourced, not run).
#
# A driver sets `bench_name` (used in messages), sources this file, calls `bench_init` (temporary
# directory + cleanup trap), then `bench_prepare` (deps and build) and the start_* helpers. Every
# process started through `bench_spawn` is killed by the EXIT trap -- on success, error or Ctrl-C --
# and the temporary directory is removed. Messages go to stderr; results are the driver's stdout.
#
# Globals set here: root (repository), work (temporary directory), s3_port, shoald_port,
# shoald_bin (the binary under test), peer_auth; varnish_port and varnish_pid (start_varnish).

bench_name="${bench_name:?set bench_name before sourcing bench/lib.sh}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python=/usr/bin/python3
aws_cli=/usr/bin/aws  # Debian's awscli; another `aws` may come first in PATH
work=""
pids=()
s3_port=""
shoald_port=""
shoald_log_level=warn  # --log-level of start_shoald and start_cluster
# The shoald under test: BENCH_SHOALD (SHOALD_BIN is its older name, once bench/hedge.sh's), else
# build/bin/shoald (built by bench_prepare when missing).
shoald_bin="${BENCH_SHOALD:-${SHOALD_BIN:-$root/build/bin/shoald}}"
peer_auth=(--insecure-peer)  # start_cluster's peer-port authentication (see use_cluster_key)

export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1

bench_log() { echo "$bench_name: $*" >&2; }

# A free TCP port on 127.0.0.1 (bind port 0, read it, close).
free_port() {
  "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# bench_cleanup: the EXIT trap. Kills every process started with bench_spawn (TERM, then KILL after
# 5 s), prints the tail of each log when the driver failed, removes the temporary directory.
bench_cleanup() {
  local status=$?
  local pid
  for pid in "${pids[@]}"; do
    stop_pid "$pid"
  done
  if ((status != 0)) && [[ -n "$work" ]]; then
    local log
    for log in "$work"/*.log; do
      [[ -s "$log" ]] && { echo "--- last lines of $log" >&2; tail -n 20 "$log" >&2; }
    done
  fi
  [[ -n "$work" ]] && rm -rf "$work"
  return "$status"
}

bench_init() {
  work="$(mktemp -d "/tmp/shoal-$bench_name.XXXXXX")"
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

# stop_pid PID: TERM, wait up to 5 s, then KILL. No-op for a process that is already gone.
stop_pid() {
  local pid="$1"
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# bench_spawn LOG CMD...: starts CMD in the background with stdout+stderr in LOG, remembers its pid
# for the cleanup trap, and sets `spawned_pid`.
bench_spawn() {
  local log="$1"
  shift
  "$@" >"$log" 2>&1 &
  spawned_pid=$!
  pids+=("$spawned_pid")
}

# wait_for_port PORT PID NAME LOG: waits up to 20 s for PORT to accept; fails with the log if
# process PID exits first or time runs out.
wait_for_port() {
  local port="$1" pid="$2" name="$3" log="$4"
  for _ in $(seq 1 400); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      bench_log "$name exited before listening on port $port; its log:"
      cat "$log" >&2
      return 1
    fi
    sleep 0.05
  done
  bench_log "$name did not listen on port $port within 20 s; its log:"
  cat "$log" >&2
  return 1
}

# bench_prepare: installs what is missing (cluster/deps.sh) and builds build/bin/shoald if it is
# the binary under test and missing; fails when $shoald_bin is not executable.
bench_prepare() {
  "$root/cluster/deps.sh"
  if [[ "$shoald_bin" == "$root/build/bin/shoald" && ! -x "$shoald_bin" ]]; then
    bench_log "building shoald (Release, build/, -j2)"
    cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
    ninja -C "$root/build" -j2 shoald >&2
  fi
  [[ -x "$shoald_bin" ]] || { bench_log "no shoald at $shoald_bin"; return 1; }
  # no_hot_copies: the flag that turns hot copies off (node/hot_copies.h), for benches that
  # measure forwards themselves; empty for an older shoald (BENCH_SHOALD) without that flag.
  no_hot_copies=()
  if "$shoald_bin" --help 2>&1 | grep -q -- '--hot-copy-memory'; then
    no_hot_copies=(--hot-copy-memory 0)
  fi
}

# start_s3rver: s3rver on a free port with its data under $work/s3; sets s3_port.
start_s3rver() {
  s3_port="$(free_port)"
  mkdir -p "$work/s3"
  bench_spawn "$work/s3rver.log" node "$root/.deps/s3rver/node_modules/s3rver/bin/s3rver.js" \
    -d "$work/s3" -a 127.0.0.1 -p "$s3_port" --silent
  wait_for_port "$s3_port" "$spawned_pid" s3rver "$work/s3rver.log"
  bench_log "s3rver on 127.0.0.1:$s3_port"
}

# start_varnish: Varnish (bench/varnish.vcl.in: the whole object from s3rver, kept in
# `-s malloc,1G`) in the foreground on a free port, its working directory under $work/varnish;
# `-j none`: no privilege separation (the temporary directory is private). Sets varnish_port and
# varnish_pid (the cache process that serves, not the manager).
start_varnish() {
  local dir="$work/varnish"
  varnish_port="$(free_port)"
  mkdir -p "$dir"
  sed -e "s|@S3_PORT@|$s3_port|g" "$root/bench/varnish.vcl.in" >"$dir/varnish.vcl"
  bench_spawn "$work/varnish.log" varnishd -F -j none -n "$dir/n" -a "127.0.0.1:$varnish_port" \
    -f "$dir/varnish.vcl" -s malloc,1G
  local manager=$spawned_pid
  wait_for_port "$varnish_port" "$manager" varnish "$work/varnish.log"
  varnish_pid="$(pgrep -o -P "$manager" || true)"
  bench_log "varnish on 127.0.0.1:$varnish_port"
}

# start_nginx_from TEMPLATE [SED_EXPR...]: nginx from bench/TEMPLATE in the foreground, its prefix
# $work/nginx (with tmp/ and cache/ in it). The template's @PREFIX@, @PORT@ (a free port), @USER@
# and @GROUP@ (the user running the benchmark) are filled in, then each extra `sed -e` SED_EXPR.
# Sets nginx_port and nginx_pid; fails when nginx refuses the configuration or does not listen.
start_nginx_from() {
  local template="$1" prefix="$work/nginx"
  shift
  local -a exprs=()
  local e
  for e in "$@"; do exprs+=(-e "$e"); done
  nginx_port="$(free_port)"
  mkdir -p "$prefix/tmp" "$prefix/cache"
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$nginx_port|g" \
    -e "s|@USER@|$(id -un)|g" -e "s|@GROUP@|$(id -gn)|g" "${exprs[@]}" \
    "$root/bench/$template" >"$prefix/nginx.conf"
  nginx -t -q -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" || return 1
  bench_spawn "$work/nginx.log" nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log"
  nginx_pid=$spawned_pid
  wait_for_port "$nginx_port" "$nginx_pid" nginx "$prefix/error.log" || return 1
  bench_log "nginx ($template) on 127.0.0.1:$nginx_port"
}

# cpu_ticks PID...: user + system CPU time the processes PID... (all their threads) have used so
# far, in USER_HZ ticks (getconf CLK_TCK per second); a process that is gone counts 0.
cpu_ticks() {
  local p total=0 fields
  for p in "$@"; do
    read -r -a fields <"/proc/$p/stat" 2>/dev/null || continue
    total=$((total + fields[13] + fields[14]))
  done
  echo "$total"
}

# start_shaped_origin: tests/tools/fault_proxy.py in front of s3rver, shaped like S3 Standard
# (Durner et al., VLDB 2023: tens of ms to the first byte, 25-95 MiB/s per connection, median
# 55-60): BENCH_FIRST_BYTE_MS (default 30) before every answer and BENCH_ORIGIN_BPS bytes/s
# (default 60000000) per connection. Sets origin_port (use it where s3_port would be).
start_shaped_origin() {
  origin_port="$(free_port)"
  bench_spawn "$work/origin-proxy.log" "$python" "$root/tests/tools/fault_proxy.py" \
    --upstream "127.0.0.1:$s3_port" --listen "127.0.0.1:$origin_port" \
    --first-byte-ms "${BENCH_FIRST_BYTE_MS:-30}" --bytes-per-second "${BENCH_ORIGIN_BPS:-60000000}"
  wait_for_port "$origin_port" "$spawned_pid" origin-proxy "$work/origin-proxy.log"
  bench_log "S3-shaped origin on 127.0.0.1:$origin_port (${BENCH_FIRST_BYTE_MS:-30} ms to the" \
    "first byte, ${BENCH_ORIGIN_BPS:-60000000} bytes/s per connection)"
}

aws_s3() {
  "$aws_cli" --endpoint-url "http://127.0.0.1:$s3_port" s3 "$@"
}

# upload_random BUCKET KEY BYTES: creates BUCKET if needed and uploads BYTES random bytes as KEY
# (public-read). Leaves the file at $work/KEY (slashes turned into '_') for comparisons.
upload_random() {
  local bucket="$1" key="$2" bytes="$3"
  local file="$work/${key//\//_}"
  head -c "$bytes" /dev/urandom >"$file"
  aws_s3 ls "s3://$bucket" >/dev/null 2>&1 || aws_s3 mb "s3://$bucket" >/dev/null
  aws_s3 cp --only-show-errors --acl public-read "$file" "s3://$bucket/$key"
  bench_log "uploaded s3://$bucket/$key ($bytes bytes)"
}

# start_shoald_at PORT: a fresh shoald (2 GiB memory, 16 MiB pages, --log-level
# $shoald_log_level, plus the flags in BENCH_SHOALD_ARGS, split on spaces, e.g. "--threads 4") on
# a free port reading from 127.0.0.1:PORT; sets shoald_port and shoald_pid.
start_shoald_at() {
  shoald_port="$(free_port)"
  local extra=()
  read -r -a extra <<<"${BENCH_SHOALD_ARGS:-}"
  bench_spawn "$work/shoald.log" "$shoald_bin" --listen "127.0.0.1:$shoald_port" \
    --memory 2GiB --page-size 16MiB --s3-endpoint "http://127.0.0.1:$1" \
    --s3-region us-east-1 --log-level "$shoald_log_level" "${extra[@]}"
  shoald_pid=$spawned_pid
  wait_for_port "$shoald_port" "$shoald_pid" shoald "$work/shoald.log"
}

# start_shoald: start_shoald_at in front of s3rver itself.
start_shoald() {
  start_shoald_at "$s3_port"
}

# use_cluster_key: start_cluster's nodes authenticate their peer port with a fresh random cluster
# key, as in production, instead of running it open (--insecure-peer).
use_cluster_key() {
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/cluster.key"
  peer_auth=(--cluster-key-file "$work/cluster.key")
}

# start_cluster FLAG...: one $shoald_bin per name in the global array `names` (node-NAME, peer
# port on loopback with ${peer_auth[@]}, every node seeded with every peer port, --log-level
# $shoald_log_level),
# each with FLAG... added (e.g. --memory, --page-size), reading from s3rver (or from
# 127.0.0.1:$cluster_origin_port when that is set, e.g. start_shaped_origin's proxy); fills the
# global associative arrays
# port, peer and pid (declare them first: `declare -A port peer pid`) and waits until every
# client port accepts. Does not wait for the members to see each other (wait_for_cluster).
start_cluster() {
  local n seeds=()
  for n in "${names[@]}"; do
    port[$n]="$(free_port)"
    peer[$n]="$(free_port)"
    seeds+=(--seed "127.0.0.1:${peer[$n]}")
  done
  for n in "${names[@]}"; do
    bench_spawn "$work/shoald-$n.log" "$shoald_bin" --listen "127.0.0.1:${port[$n]}" \
      --node-id "node-$n" --peer-listen "127.0.0.1:${peer[$n]}" "${peer_auth[@]}" "${seeds[@]}" \
      --s3-endpoint "http://127.0.0.1:${cluster_origin_port:-$s3_port}" --s3-region us-east-1 \
      --log-level "$shoald_log_level" "$@"
    pid[$n]=$spawned_pid
    wait_for_port "${port[$n]}" "$spawned_pid" "shoald-$n" "$work/shoald-$n.log"
  done
}

# shoald_stat KEY...: prints one value of shoald's /stats JSON, e.g. `shoald_stat origin requests`.
shoald_stat() {
  stat_at "$shoald_port" "$@"
}

# node_stat NODE KEY...: the same for node NODE of start_cluster, e.g. `node_stat a memory pages`.
node_stat() {
  stat_at "${port[$1]}" "${@:2}"
}

# stat_at PORT KEY...: one value of the /stats JSON of the shoald on 127.0.0.1:PORT.
stat_at() {
  curl -sS --fail "http://127.0.0.1:$1/stats" |
    "$python" -c 'import json, sys; v = json.load(sys.stdin)
for k in sys.argv[1:]: v = v[k]
print(v)' "${@:2}"
}

# wait_for_cluster: up to 30 s until every node of start_cluster sees all ${#names[@]} members
# alive; fails (return 1) otherwise.
wait_for_cluster() {
  local n alive want="${#names[@]}"
  for _ in $(seq 1 300); do
    alive=0
    for n in "${names[@]}"; do
      [[ "$(curl -sS "http://127.0.0.1:${port[$n]}/stats" | grep -o '"state":"alive"' | wc -l)" == "$want" ]] &&
        alive=$((alive + 1))
    done
    ((alive == want)) && return 0
    sleep 0.1
  done
  bench_log "the $want nodes did not all see each other alive within 30 s"
  return 1
}

# load_average: the 1-, 5- and 15-minute load averages, e.g. "0.42 0.61 0.80".
load_average() { cut -d' ' -f1-3 /proc/loadavg; }

# wait_for_low_load: when BENCH_WAIT_LOAD is set (e.g. 1.0), waits until the 1-minute load average
# is below it, checking every 15 s for at most BENCH_WAIT_MAX_S seconds (default 600); then goes on
# either way (the load is printed with the results).
wait_for_low_load() {
  [[ -n "${BENCH_WAIT_LOAD:-}" ]] || return 0
  local deadline=$((SECONDS + ${BENCH_WAIT_MAX_S:-600}))
  while :; do
    local one
    one="$(cut -d' ' -f1 /proc/loadavg)"
    if "$python" -c "import sys; sys.exit(0 if $one < ${BENCH_WAIT_LOAD} else 1)"; then
      return 0
    fi
    if ((SECONDS >= deadline)); then
      bench_log "load average still $one (>= $BENCH_WAIT_LOAD); measuring anyway"
      return 0
    fi
    bench_log "load average $one >= $BENCH_WAIT_LOAD; waiting"
    sleep 15
  done
}
