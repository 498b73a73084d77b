#!/usr/bin/env bash
# Gray failure: the latency of client requests while one member of three is frozen (SIGSTOP, as
# in a long GC pause or a stalled VM) and its pages are read through the other two.
#
#   bench/frozen_member.sh      prints p50/p99/max of every request, and of those during the freeze
#
# Three shoald nodes (bench/lib.sh start_cluster with a cluster key, 1 MiB pages) in front of
# s3rver; one 64 MiB object (64 pages), read once through every node so each page is cached on its
# owner and every node has measured every peer. Then BENCH_CLIENTS (default 8) client threads read
# random ranges of up to 2 MiB through nodes a and b for BENCH_DURATION s (default 25); node c
# is SIGSTOPped from second 3 for BENCH_FREEZE s (default 15), then SIGCONTed. Every answer must
# be a complete 206 with the exact bytes (else the run fails). Knobs: BENCH_SHOALD (the shoald
# binary), and any shoald flag in BENCH_FLAGS (e.g. "--forward-deadline-max-ms 500").
set -euo pipefail
bench_name=frozen_member
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init
bench_prepare
duration="${BENCH_DURATION:-25}"
freeze="${BENCH_FREEZE:-15}"
clients="${BENCH_CLIENTS:-8}"
read -r -a extra <<<"${BENCH_FLAGS:-}"

start_s3rver
object_bytes=$((64 * 1024 * 1024))
upload_random bench frozen.bin "$object_bytes"
aws_out="$work/frozen.bin"  # upload_random's copy

names=(a b c)
declare -A port peer pid
use_cluster_key
start_cluster --memory 1GiB --page-size 1MiB "${no_hot_copies[@]}" "${extra[@]}"
wait_for_cluster
for n in "${names[@]}"; do
  curl -sS --fail -o /dev/null -H "Range: bytes=0-$((object_bytes - 1))" \
    "http://127.0.0.1:${port[$n]}/fetch/bench/frozen.bin"
done
bench_log "warm; freezing node c (pid ${pid[c]}) at 3 s for $freeze s"
( sleep 3; kill -STOP "${pid[c]}"; sleep "$freeze"; kill -CONT "${pid[c]}" ) &
freezer=$!

PORTS="${port[a]} ${port[b]}" DATA="$aws_out" DURATION="$duration" CLIENTS="$clients" \
  FREEZE_FROM=3 FREEZE_TO=$((3 + freeze)) "$python" - <<'PY'
import http.client, os, random, sys, threading, time
ports = [int(p) for p in os.environ["PORTS"].split()]
data = open(os.environ["DATA"], "rb").read()
stop_at = time.monotonic() + float(os.environ["DURATION"])
t0 = time.monotonic()
freeze = (float(os.environ["FREEZE_FROM"]), float(os.environ["FREEZE_TO"]))
lat, frozen, errors = [], [], []
lock = threading.Lock()
def client(i):
    rng = random.Random(i)
    while time.monotonic() < stop_at:
        first = rng.randrange(len(data))
        last = min(len(data) - 1, first + rng.randrange(2 << 20))
        port = ports[i % len(ports)]
        start = time.monotonic()
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            c.request("GET", "/fetch/bench/frozen.bin", headers={"Range": "bytes=%d-%d" % (first, last)})
            r = c.getresponse()
            body = r.read()
            ok = r.status == 206 and body == data[first:last + 1]
            c.close()
        except Exception as e:  # noqa: BLE001
            ok = False
        ms = (time.monotonic() - start) * 1e3
        with lock:
            lat.append(ms)
            if freeze[0] <= start - t0 < freeze[1]:
                frozen.append(ms)
            if not ok:
                errors.append("bytes=%d-%d" % (first, last))
threads = [threading.Thread(target=client, args=(i,)) for i in range(int(os.environ["CLIENTS"]))]
for t in threads: t.start()
for t in threads: t.join()
def q(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))] if v else float("nan")
print("| requests | during the freeze | p50 ms | p99 ms | max ms | freeze p50 / p99 / max ms | errors |")
print("|---|---|---|---|---|---|---|")
print("| %d | %d | %.1f | %.1f | %.1f | %.1f / %.1f / %.1f | %d |" % (
    len(lat), len(frozen), q(lat, .5), q(lat, .99), max(lat), q(frozen, .5), q(frozen, .99),
    max(frozen) if frozen else float("nan"), len(errors)))
if errors:
    sys.exit("%d requests failed, first %s" % (len(errors), errors[0]))
PY
wait "$freezer"
for n in a b; do
  # (A shoald from before the forward deadlines has no forward_peers.)
  echo "node $n: forward_peers $(node_stat "$n" cluster forward_peers 2>/dev/null || echo none)"
done
bench_log "waiting for node c to be alive everywhere again"
wait_for_cluster && echo "node c rejoined"
