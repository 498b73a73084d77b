#!/usr/bin/env bash
# Hedging: cold page fetches through the fault-injecting proxy with 2% of origin GETs stalled by
# 2 s, with hedging on (the defaults: --hedge-quantile 0.99, --hedge-budget 5%) and off
# (--hedge-quantile 0). One run:
#   1. cluster/deps.sh; builds build/bin/shoald if it is missing (BENCH_SHOALD, or its older name
#      SHOALD_BIN, overrides the binary);
#   2. s3rver on a free port with s3://bench/hedge.bin, (BENCH_WARM + BENCH_PAGES) pages of 64 KiB;
#   3. for each mode (on, then off): a fresh tests/tools/fault_proxy.py (seed 7, so both modes see
#      the same draw sequence) with the rule {"action": "stall_mid_body", "after_bytes": 16384,
#      "ms": 2000, "probability": 0.02} on GETs of the bucket, and a fresh shoald (64 KiB pages,
#      1 GiB memory) in front of it; BENCH_CLIENTS (8) keep-alive clients fetch every page once
#      (all cold): the first BENCH_WARM (200) pages warm the latency tracker and are not measured,
#      then BENCH_PAGES (3000) pages are timed one by one (request sent to last body byte). Every
#      answer must be a 206 of 64 KiB with the right first bytes;
#   4. prints p50/p99/p99.9 per mode, the origin GETs the proxy saw per page fetched (the extra
#      requests hedging cost), hedges sent/refused from /stats, and the ratios on/off, as plain
#      text and as Markdown (for docs/benchmarks.md) on stdout.
# Target (issue 5): p99 with hedging <= 0.1x p99 without, for <= 5% extra origin requests.
# Reported, not asserted. Exit status 1 only when a tool or a check fails. About 1-2 minutes.
set -euo pipefail

bench_name=hedge
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pages="${BENCH_PAGES:-3000}"
warm="${BENCH_WARM:-200}"
clients="${BENCH_CLIENTS:-8}"
page_bytes=65536
bucket=bench
key=hedge.bin
stall_rule='{"match": {"method": "GET", "path_contains": "/bench/"}, "action": "stall_mid_body",
             "after_bytes": 16384, "ms": 2000, "probability": 0.02}'

# start_proxy: a fresh fault proxy in front of s3rver with the stall rule; sets proxy_port/pid.
start_proxy() {
  proxy_port="$(free_port)"
  bench_spawn "$work/proxy.log" "$python" "$root/tests/tools/fault_proxy.py" \
    --upstream "127.0.0.1:$s3_port" --listen "127.0.0.1:$proxy_port" --seed 7
  proxy_pid=$spawned_pid
  wait_for_port "$proxy_port" "$proxy_pid" fault_proxy "$work/proxy.log"
  curl -sS --fail -X POST --data "$stall_rule" "http://127.0.0.1:$proxy_port/__proxy/rules" >/dev/null
}

# start_node QUANTILE: a fresh shoald in front of the proxy; sets shoald_port/pid.
start_node() {
  shoald_port="$(free_port)"
  bench_spawn "$work/shoald.log" "$shoald_bin" --listen "127.0.0.1:$shoald_port" \
    --memory 1GiB --page-size 64KiB --s3-endpoint "http://127.0.0.1:$proxy_port" \
    --s3-region us-east-1 --log-level warn --hedge-quantile "$1"
  shoald_pid=$spawned_pid
  wait_for_port "$shoald_port" "$shoald_pid" shoald "$work/shoald.log"
}

# fetch_pages FIRST COUNT OUT: fetches pages FIRST..FIRST+COUNT-1 with $clients keep-alive
# clients, checks each answer against the uploaded file, writes one latency (ms) per line to OUT.
fetch_pages() {
  "$python" - "$shoald_port" "$bucket/$key" "$1" "$2" "$clients" "$work/$key" "$3" <<'EOF'
import http.client, sys, threading, time
port, path, first, count, clients, source, out = sys.argv[1:8]
first, count, clients, size = int(first), int(count), int(clients), 65536
data = open(source, "rb")
expected = {}
for p in range(first, first + count):
    data.seek(p * size)
    expected[p] = data.read(64)
todo, lock, latencies, errors = list(range(first, first + count)), threading.Lock(), [], []
def client():
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=60)
    while True:
        with lock:
            if not todo:
                return
            p = todo.pop(0)
        start = time.perf_counter()
        conn.request("GET", "/fetch/" + path, headers={"Range": f"bytes={p * size}-{p * size + size - 1}"})
        r = conn.getresponse()
        body = r.read()
        ms = (time.perf_counter() - start) * 1000
        with lock:
            if r.status != 206 or len(body) != size or body[:64] != expected[p]:
                errors.append(f"page {p}: status {r.status}, {len(body)} bytes")
            latencies.append(ms)
threads = [threading.Thread(target=client) for _ in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
if errors:
    sys.exit("bad answers: " + "; ".join(errors[:5]))
with open(out, "w") as f:
    f.write("\n".join(f"{v:.3f}" for v in latencies) + "\n")
EOF
}

# run_mode NAME QUANTILE: one measured run; appends "NAME gets hedges_sent hedges_refused" to
# $work/counts and leaves the latencies in $work/NAME.ms.
run_mode() {
  local name="$1" quantile="$2"
  start_proxy
  start_node "$quantile"
  bench_log "$name: warming with $warm pages"
  fetch_pages 0 "$warm" "$work/warm.ms"
  bench_log "$name: timing $pages cold pages with $clients clients"
  fetch_pages "$warm" "$pages" "$work/$name.ms"
  local gets sent refused
  gets="$(curl -sS --fail "http://127.0.0.1:$proxy_port/__proxy/stats" |
    "$python" -c 'import json, sys; print(json.load(sys.stdin)["counts"].get("GET", 0))')"
  sent="$(shoald_stat origin hedges sent)"
  refused="$(shoald_stat origin hedges refused)"
  echo "$name $gets $sent $refused" >>"$work/counts"
  bench_log "$name: $gets origin GETs, hedges sent $sent, refused $refused"
  stop_pid "$shoald_pid"
  stop_pid "$proxy_pid"
}

report() {
  "$python" - "$work" "$((warm + pages))" "$(load_average)" \
    "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" <<'EOF'
import sys, datetime
work, fetched, load, commit = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def pct(values, q):  # nearest rank
    v = sorted(values)
    return v[max(0, min(len(v) - 1, int(-(-q * len(v) // 1)) - 1))]
rows = {}
for line in open(f"{work}/counts"):
    name, gets, sent, refused = line.split()
    ms = [float(x) for x in open(f"{work}/{name}.ms")]
    rows[name] = dict(p50=pct(ms, 0.5), p99=pct(ms, 0.99), p999=pct(ms, 0.999), n=len(ms),
                      gets=int(gets), extra=int(gets) / fetched - 1, sent=int(sent), refused=int(refused))
on, off = rows["on"], rows["off"]
when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
print()
print(f"hedging, {on['n']} timed cold 64 KiB pages per mode, 2% of origin GETs stalled 2 s, "
      f"commit {commit}, {when}")
for name, r in rows.items():
    print(f"  hedging {name:>3}: p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, p99.9 {r['p999']:.1f} ms;"
          f" {r['gets']} origin GETs for {fetched} pages ({100 * r['extra']:+.1f}%);"
          f" hedges sent {r['sent']}, refused {r['refused']}")
print(f"  p99 on/off: {on['p99'] / off['p99']:.3f}x; p99.9 on/off: {on['p999'] / off['p999']:.3f}x"
      f" (target: p99 <= 0.1x for <= 5% extra origin requests)")
print(f"  load average after: {load}")
print()
print("Markdown:")
print()
print(f"Commit `{commit}`, {when}; load average after {load}.")
print()
print("| hedging | p50 (ms) | p99 (ms) | p99.9 (ms) | origin GETs / pages | extra origin requests | hedges sent / refused |")
print("|---|---|---|---|---|---|---|")
for name, r in rows.items():
    print(f"| {name} | {r['p50']:.1f} | {r['p99']:.1f} | {r['p999']:.1f} | {r['gets']} / {fetched} |"
          f" {100 * r['extra']:+.1f}% | {r['sent']} / {r['refused']} |")
print(f"| ratio on/off | {on['p50'] / off['p50']:.2f}x | {on['p99'] / off['p99']:.3f}x |"
      f" {on['p999'] / off['p999']:.3f}x | | | |")
EOF
}

main() {
  bench_init
  bench_prepare
  wait_for_low_load
  start_s3rver
  upload_random "$bucket" "$key" "$(((warm + pages) * page_bytes))"
  : >"$work/counts"
  run_mode on 0.99
  run_mode off 0
  report
}

main "$@"
