#!/usr/bin/env bash
# Soak: a 3-node cluster in front of s3rver under a steady mix of hits, misses with evictions,
# forwards and client aborts for a bounded time; fails on any error or on RSS/fd growth.
#
#   bench/soak.sh                      10 minutes after a 1-minute warm-up
#   SOAK_SECONDS=240 bench/soak.sh     a shorter run
#
# Setup: cluster/deps.sh, build/bin/shoald built if missing (a stale one is used as it is);
# s3rver on a free port with bucket `soak`: one hot object (hot.bin, 4 MiB) and a pool of
# SOAK_COLD_OBJECTS (default 160) cold 1 MiB objects; three shoald nodes (--insecure-peer on
# loopback, 256 KiB pages, --memory 32MiB each: 96 MiB in all, less than the 160 MiB pool).
#
# Load, the same in the warm-up and the measured phase:
#   - hits: one wrk per node (-t1 -c2, bench/range.lua, 64 KiB ranges of hot.bin, paced by
#     BENCH_DELAY_MS=SOAK_HIT_DELAY_MS, default 5 ms per request and connection); two thirds of
#     the pages a node is asked for live on another node, so most hits are forwards;
#   - bench/soak_client.py: paced misses (the cold objects in turn, so their pages were evicted
#     by the time they come round again; byte-checked), byte-checked hot reads and client aborts
#     (reset mid-body, reset before the answer, half a request, a 50 ms client timeout), each on
#     a new connection to a node chosen at random. Rates: SOAK_MISS_RATE (default 16/s),
#     SOAK_ABORT_RATE (default 8/s).
#
# Measurements: after the warm-up (SOAK_WARMUP_SECONDS, default 60: every node's memory tier is
# full by then) and at the end, each time with the load stopped for 3 s so that only the
# cluster's own connections are open, it prints per node: RSS (VmRSS), open fds, memory-tier
# pages and evictions, and the error counters from /metrics (5xx answers, peer errors, origin
# operations neither ok nor cancelled, pages that failed). Every SOAK_SAMPLE_SECONDS (default 60) during
# the measured phase it prints RSS and fds under load. Then the client side: wrk's errors (socket
# errors, timeouts, statuses > 399) and soak_client's (anything but the expected answer), and a
# digest of each node's warnings (aborted answers are expected there; they are not counted).
#
# Exit status 1 when any node died or any error counter grew (server or client), or when a
# node's RSS grew by more than SOAK_RSS_GROWTH_MIB (default 32) or its fds by more than
# SOAK_FD_GROWTH (default 8) between the two idle measurements; the warm-up is what absorbs
# the one-time growth (memory tier filling, allocator arenas, the peer connection pools).
# Everything started is stopped, and the temporary directory removed, on exit.
set -euo pipefail

bench_name=soak
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

seconds="${SOAK_SECONDS:-600}"
warmup="${SOAK_WARMUP_SECONDS:-60}"
sample_every="${SOAK_SAMPLE_SECONDS:-60}"
rss_growth_mib="${SOAK_RSS_GROWTH_MIB:-32}"
fd_growth="${SOAK_FD_GROWTH:-8}"
cold_objects="${SOAK_COLD_OBJECTS:-160}"
hit_delay_ms="${SOAK_HIT_DELAY_MS:-5}"
miss_rate="${SOAK_MISS_RATE:-16}"
abort_rate="${SOAK_ABORT_RATE:-8}"
bucket=soak
page_bytes=$((256 << 10))
hot_bytes=$((4 << 20))
cold_bytes=$((1 << 20))
names=(a b c)
declare -A port peer pid
failures=0

fail() {
  bench_log "FAILED: $*"
  failures=$((failures + 1))
}

# upload_objects: hot.bin and the cold pool, written under $work/objects (soak_client.py compares
# against these) and copied to s3://soak/ in one aws call.
upload_objects() {
  local dir="$work/objects" i
  mkdir -p "$dir/cold"
  head -c "$hot_bytes" /dev/urandom >"$dir/hot.bin"
  for ((i = 0; i < cold_objects; i++)); do
    head -c "$cold_bytes" /dev/urandom >"$dir/cold/$(printf '%04d' "$i").bin"
  done
  aws_s3 mb "s3://$bucket" >/dev/null
  aws_s3 cp --only-show-errors --recursive --acl public-read "$dir" "s3://$bucket/"
  bench_log "uploaded hot.bin ($hot_bytes bytes) and $cold_objects cold objects ($cold_bytes bytes each)"
}

# start_soak_cluster: the three nodes (32 MiB memory, 256 KiB pages), each seeing all three alive.
start_soak_cluster() {
  start_cluster --memory 32MiB --page-size 256KiB
  wait_for_cluster
  bench_log "3 nodes up, each sees 3 alive members"
}

# node_figures NODE: "rss_kib fds pages evictions 5xx peer_errors origin_errors page_errors
# client_disconnects forwards_in pages_local pages_forwarded origin_gets" for one node (RSS and fds from /proc, the rest from /metrics).
node_figures() {
  local n="$1" rss fds
  rss="$(awk '/^VmRSS:/ { print $2 }' "/proc/${pid[$n]}/status")"
  fds="$(find "/proc/${pid[$n]}/fd" -mindepth 1 -maxdepth 1 | wc -l)"
  curl -sS --fail --max-time 10 "http://127.0.0.1:${port[$n]}/metrics" |
    "$python" -c '
import re, sys
rss, fds = sys.argv[1:]
sums = dict.fromkeys(["pages", "evictions", "5xx", "peer_errors", "origin_errors", "page_errors",
                      "disconnects", "forwards_in", "hits", "forwarded", "origin_gets"], 0)
for line in sys.stdin:
    if line.startswith("#") or not line.strip():
        continue
    m = re.match(r"([a-z_:]+)(\{[^}]*\})?\s+(\S+)", line)
    if not m:
        continue
    name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
    label = dict(re.findall(r"(\w+)=\"([^\"]*)\"", labels))
    if name == "shoal_memory_pages":
        sums["pages"] += value
    elif name.startswith("shoal_memory_evictions"):
        sums["evictions"] += value
    elif name == "shoal_requests_total" and label.get("status", "").startswith("5"):
        sums["5xx"] += value
    elif name == "shoal_peer_errors_total":
        sums["peer_errors"] += value
    elif name == "shoal_origin_requests_total":
        if label.get("outcome") == "ok":
            sums["origin_gets"] += value if label.get("op") == "get" else 0
        elif label.get("outcome") != "cancelled":  # cancelled: a losing hedge
            sums["origin_errors"] += value
    elif name == "shoal_pages_total" and label.get("outcome") == "error":
        sums["page_errors"] += value
    elif name == "shoal_pages_total" and label.get("outcome") == "hit_memory":
        sums["hits"] += value
    elif name == "shoal_pages_total" and label.get("outcome") == "forwarded":
        sums["forwarded"] += value
    elif name == "shoal_client_disconnects_total":
        sums["disconnects"] += value
    elif name == "shoal_forwards_in_total":
        sums["forwards_in"] += value
print(rss, fds, " ".join("%d" % v for v in sums.values()))' "$rss" "$fds"
}

# measure LABEL: the idle figures of every node into $work/figures-LABEL, printed as a table.
measure() {
  local label="$1" n
  : >"$work/figures-$label"
  echo "$label:"
  printf '  %-6s %9s %5s %6s %9s %5s %11s %13s %11s %11s %11s\n' node rss_mib fds pages evictions \
    5xx peer_errors origin_errors page_errors disconnects forwards_in
  for n in "${names[@]}"; do
    if ! kill -0 "${pid[$n]}" 2>/dev/null; then
      fail "shoald-$n is not running"
      continue
    fi
    local f
    f="$(node_figures "$n")"
    echo "$n $f" >>"$work/figures-$label"
    local rss fds pages ev e5 pe oe ge dc fwd _ _ _
    read -r rss fds pages ev e5 pe oe ge dc fwd _ _ _ <<<"$f"
    printf '  %-6s %9.1f %5d %6d %9d %5d %11d %13d %11d %11d %11d\n' "node-$n" \
      "$("$python" -c "print($rss / 1024)")" "$fds" "$pages" "$ev" "$e5" "$pe" "$oe" "$ge" "$dc" "$fwd"
  done
}

# under_load_samples END: every $sample_every s until END (a $SECONDS value), RSS and fds per node.
under_load_samples() {
  local end="$1" n line
  while ((SECONDS + sample_every < end)); do
    sleep "$sample_every"
    line="  t+$((SECONDS - phase_start))s:"
    for n in "${names[@]}"; do
      kill -0 "${pid[$n]}" 2>/dev/null || { line+=" node-$n gone"; continue; }
      line+=" node-$n $(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/${pid[$n]}/status") MiB"
      line+=" $(find "/proc/${pid[$n]}/fd" -mindepth 1 -maxdepth 1 | wc -l) fds;"
    done
    echo "$line"
  done
}

# phase LABEL SECONDS: the load for SECONDS (3 wrk + soak_client.py); adds the client-side errors
# to $work/client-errors and prints the operation counts.
phase() {
  local label="$1" secs="$2" n wrk_pids=() status=0
  bench_log "$label: load for ${secs} s"
  phase_start=$SECONDS
  for n in "${names[@]}"; do
    BENCH_PATH="/fetch/$bucket/hot.bin" BENCH_OBJECT_BYTES="$hot_bytes" BENCH_RANGE_BYTES=65536 \
      BENCH_DELAY_MS="$hit_delay_ms" wrk -t1 -c2 -d"${secs}s" --timeout 10s \
      -s "$root/bench/range.lua" "http://127.0.0.1:${port[$n]}" >"$work/wrk-$label-$n.txt" 2>&1 &
    wrk_pids+=($!)
  done
  "$python" "$root/bench/soak_client.py" --ports "${port[a]},${port[b]},${port[c]}" \
    --bucket "$bucket" --seconds "$secs" --files "$work/objects" --cold-count "$cold_objects" \
    --page-bytes "$page_bytes" --miss-rate "$miss_rate" --abort-rate "$abort_rate" \
    >"$work/client-$label.json" 2>"$work/client-$label.log" &
  local client_pid=$!
  [[ "$label" == measured ]] && under_load_samples $((SECONDS + secs))
  wait "$client_pid" || status=$?
  for p in "${wrk_pids[@]}"; do
    wait "$p" || status=$?
  done
  ((status == 0)) || fail "$label: a load generator exited with status $status"
  "$python" - "$label" "$work/client-$label.json" "$work"/wrk-"$label"-*.txt <<'EOF' >>"$work/client-report"
import json, sys
label, client_path, wrk_paths = sys.argv[1], sys.argv[2], sys.argv[3:]
try:
    client = json.load(open(client_path))
except (OSError, ValueError) as e:
    client = {"ops": {}, "errors": 1, "examples": [f"no result from soak_client.py: {e}"]}
hits = wrk_errors = 0
for path in wrk_paths:
    line = next((l for l in open(path) if l.startswith("RESULT ")), None)
    if line is None:
        wrk_errors += 1
        continue
    f = dict(kv.split("=") for kv in line.split()[1:])
    hits += int(f["requests"])
    wrk_errors += sum(int(f[k]) for k in ("connect_errors", "read_errors", "write_errors",
                                          "status_errors", "timeouts"))
ops = " ".join(f"{k}={v}" for k, v in sorted(client["ops"].items()))
print(f"{label} wrk_requests={hits} wrk_errors={wrk_errors} {ops} client_errors={client['errors']}")
for e in client["examples"][:5]:
    print(f"  {label} client error: {e}")
EOF
  grep -E "^ *$label " "$work/client-report" >&2 || true
  sleep 3  # let the closed client connections drain before any idle measurement
}

# check_growth: compares figures-warm with figures-end; any growth of an error counter, RSS or
# fds beyond the bounds fails.
check_growth() {
  "$python" - "$work/figures-warm" "$work/figures-end" "$rss_growth_mib" "$fd_growth" <<'EOF'
import sys
warm_path, end_path, rss_bound, fd_bound = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
fields = ["rss", "fds", "pages", "evictions", "5xx", "peer_errors", "origin_errors", "page_errors",
          "disconnects", "forwards_in", "hits", "forwarded", "origin_gets"]
def load(path):
    rows = {}
    for line in open(path):
        parts = line.split()
        rows[parts[0]] = dict(zip(fields, map(int, parts[1:])))
    return rows
warm, end = load(warm_path), load(end_path)
bad = 0
for node in sorted(warm):
    if node not in end:
        print(f"node-{node}: no end figures"); bad += 1; continue
    w, e = warm[node], end[node]
    for k in ("5xx", "peer_errors", "origin_errors", "page_errors"):
        if e[k] > 0:
            print(f"node-{node}: {k} = {e[k]} (after warm-up: {w[k]})"); bad += 1
    growth_mib = (e["rss"] - w["rss"]) / 1024
    if growth_mib > rss_bound:
        print(f"node-{node}: RSS grew {growth_mib:.1f} MiB (bound {rss_bound:.0f})"); bad += 1
    if e["fds"] - w["fds"] > fd_bound:
        print(f"node-{node}: fds grew {e['fds'] - w['fds']} (bound {fd_bound})"); bad += 1
    print(f"node-{node}: RSS {w['rss'] / 1024:.1f} -> {e['rss'] / 1024:.1f} MiB "
          f"({growth_mib:+.1f}), fds {w['fds']} -> {e['fds']}; during the run: pages served "
          f"from local memory +{e['hits'] - w['hits']}, from peers +{e['forwarded'] - w['forwarded']}, "
          f"origin GETs +{e['origin_gets'] - w['origin_gets']}, evictions +{e['evictions'] - w['evictions']}, "
          f"forwards served +{e['forwards_in'] - w['forwards_in']}, client disconnects "
          f"+{e['disconnects'] - w['disconnects']}")
sys.exit(1 if bad else 0)
EOF
}

main() {
  bench_init
  bench_prepare
  local load_before
  load_before="$(load_average)"
  start_s3rver
  upload_objects
  start_soak_cluster
  : >"$work/client-report"

  echo "soak: 3 nodes (32 MiB memory, 256 KiB pages each), ${warmup} s warm-up + ${seconds} s," \
    "commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)," \
    "$(date '+%Y-%m-%d %H:%M'), load average $load_before"
  echo "load: hits via wrk (3 x -t1 -c2, ${hit_delay_ms} ms pacing), misses ${miss_rate}/s," \
    "aborts ${abort_rate}/s, checked hot reads 4/s; cold pool $cold_objects x 1 MiB"
  phase warmup "$warmup"
  measure warm
  phase measured "$seconds"
  measure end
  echo "log lines at warn or above, per node (paths, numbers and addresses folded):"
  local n
  for n in "${names[@]}"; do
    grep -E ' (warn|error) ' "$work/shoald-$n.log" |
      sed -E 's/^[^ ]+ //; s#/fetch/[^ :]+#PATH#g; s/[0-9]+(\.[0-9]+)*(:[0-9]+)?/N/g' |
      sort | uniq -c | sort -rn | head -n 5 | sed "s/^/  node-$n /" || true
  done
  echo "client side:"
  sed 's/^/  /' "$work/client-report"
  local client_errors
  client_errors="$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^(wrk|client)_errors=/) { split($i, kv, "="); s += kv[2] } } END { print s + 0 }' \
    "$work/client-report")"
  ((client_errors == 0)) || fail "$client_errors client-side errors"
  echo "growth from after the warm-up to the end (bounds: RSS +${rss_growth_mib} MiB, fds +${fd_growth}):"
  local growth_status=0
  check_growth >"$work/growth" || growth_status=$?
  sed 's/^/  /' "$work/growth"
  ((growth_status == 0)) || fail "server errors or growth beyond the bounds (above)"
  echo "load average after: $(load_average)"
  if ((failures > 0)); then
    bench_log "$failures check(s) failed"
    exit 1
  fi
  echo "soak: passed"
}

main "$@"
