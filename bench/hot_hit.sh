#!/usr/bin/env bash
# Hot-hit throughput of shoald versus the two caches it is compared with, all in front of the same
# s3rver: Varnish 7.1 holding the whole object in memory (the strongest in-memory peer) and an
# nginx slice cache (disk cache files, sendfile); raw loopback TCP (iperf3) as the ceiling. One run:
#   1. cluster/deps.sh (installs nginx and varnish with apt when missing); builds build/bin/shoald
#      if it is missing;
#   2. s3rver on a free port; a 256 MiB random object s3://bench/hot.bin;
#   3. shoald (2 GiB memory, 16 MiB pages), nginx (bench/nginx-slice.conf.in: slice 16m,
#      proxy_cache, 2 workers, sendfile) and Varnish (bench/varnish.vcl.in: the whole object from
#      s3rver, kept in `-s malloc,1G`, ranges answered from memory) on free ports; all warmed by
#      fetching every 16 MiB page once, then checked to answer from cache (shoald: no new origin
#      request; nginx: X-Cache-Status HIT; Varnish: X-Cache HIT);
#   4. BENCH_ROUNDS times: for range sizes 1 MiB and 16 MiB (aligned, at random offsets:
#      bench/range.lua) and each concurrency C: `wrk -t2 -cC -d10s --latency` against each of the
#      three, one after the other (never two at once; the order rotates from cell to cell);
#   5. iperf3 over loopback for 5 s;
#   6. prints a plain table and the same as Markdown (for docs/benchmarks.md) on stdout: per cell
#      the median over the rounds of GB/s (wrk's bytes read / duration / 1e9) and of p50/p99
#      latency, the ratios shoald/Varnish, shoald/nginx and shoald/iperf3 (of the medians), and
#      each round's shoald/Varnish ratio; the load average before and after.
# Each wrk run also logs any rise of the kernel's TCP memory-pressure counters (tcp_pressure below),
# so a cell that fails on a timeout says whether the kernel was dropping segments.
# Speed targets are reported, not asserted. Exit status: 0 when every tool worked; 1 when any failed
# (a wrk run with errors, non-2xx answers or odd answer sizes, a cache that was not hot, iperf3).
#
# Environment knobs: BENCH_DURATION (seconds per wrk run, default 10), BENCH_CONCURRENCY (default
# "4 16 64"), BENCH_ROUNDS (default 1), BENCH_TARGETS (default "shoald varnish nginx"),
# BENCH_WAIT_LOAD (e.g. 1.0: first wait until the 1-minute load average is below it, at most
# BENCH_WAIT_MAX_S seconds, default 600). Takes about 4 minutes with the defaults.
# Everything it starts is stopped, and its temporary directory removed, on exit.
set -euo pipefail

bench_name=hot_hit
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

duration="${BENCH_DURATION:-10}"
read -r -a concurrencies <<<"${BENCH_CONCURRENCY:-4 16 64}"
read -r -a targets <<<"${BENCH_TARGETS:-shoald varnish nginx}"
rounds="${BENCH_ROUNDS:-1}"
range_mibs=(1 16)
object_bytes=$((256 << 20))
page_bytes=$((16 << 20))
bucket=bench
key=hot.bin
failures=0
nginx_port=""
varnish_port=""

fail() {
  bench_log "FAILED: $*"
  failures=$((failures + 1))
}

# start_nginx: nginx from bench/nginx-slice.conf.in with its prefix under $work/nginx.
start_nginx() {
  start_nginx_from nginx-slice.conf.in "s|@S3_PORT@|$s3_port|g"
}

# port_of TARGET: the client port of shoald, nginx or varnish.
port_of() {
  case "$1" in
    shoald) echo "$shoald_port" ;;
    nginx) echo "$nginx_port" ;;
    varnish) echo "$varnish_port" ;;
  esac
}

# path_of TARGET: the object's URL path on TARGET.
path_of() {
  case "$1" in
    shoald) echo "/fetch/$bucket/$key" ;;
    *) echo "/$bucket/$key" ;;
  esac
}

# url TARGET: the object's URL on TARGET.
url() { echo "http://127.0.0.1:$(port_of "$1")$(path_of "$1")"; }

# get_range TARGET FIRST LAST [CURL ARGS...]: GETs one range, discarding the body; fails unless
# the answer is a 206 with exactly LAST-FIRST+1 bytes.
get_range() {
  local target="$1" first="$2" last="$3"
  shift 3
  local got
  got="$(curl -sS -o /dev/null -w '%{http_code} %{size_download}' -H "Range: bytes=$first-$last" \
    "$@" "$(url "$target")")"
  [[ "$got" == "206 $((last - first + 1))" ]] || {
    bench_log "$target bytes=$first-$last answered '$got' (want '206 $((last - first + 1))')"
    return 1
  }
}

# warm TARGET: fetches every 16 MiB page of the object once.
warm() {
  local first
  for ((first = 0; first < object_bytes; first += page_bytes)); do
    get_range "$1" "$first" $((first + page_bytes - 1))
  done
}

# all_hits TARGET HEADER: one 1 MiB range inside every 16 MiB page answers with HEADER: HIT
# (nginx: X-Cache-Status, per slice; Varnish: X-Cache, the one whole object).
all_hits() {
  local target="$1" header="$2" first status
  for ((first = 0; first < object_bytes; first += page_bytes)); do
    status="$(curl -sS -o /dev/null -D - -H "Range: bytes=$((first + 4096))-$((first + 4096 + (1 << 20) - 1))" \
      "$(url "$target")" | tr -d '\r' |
      awk -F': ' -v h="$header" 'tolower($1) == tolower(h) { print $2 }')"
    [[ "$status" == HIT ]] || {
      bench_log "$target at $first: $header '$status'"
      return 1
    }
  done
}

# peers_all_hit: nginx and Varnish (those measured) answer every page from their cache.
peers_all_hit() {
  local t ok=0
  for t in "${targets[@]}"; do
    case "$t" in
      nginx) all_hits nginx X-Cache-Status || ok=1 ;;
      varnish) all_hits varnish X-Cache || ok=1 ;;
    esac
  done
  return "$ok"
}

# tcp_pressure: "MEMORY_PRESSURES RCVQ_DROPS RTO_TIMEOUTS", this network namespace's TCP counters
# (/proc/net/netstat, TcpExt: TCPMemoryPressures, TCPRcvQDrop, TCPTimeouts). When all sockets
# together pass net.ipv4.tcp_mem's pressure mark, the kernel drops arriving segments
# (TCPRcvQDrop) and the sender waits out retransmission timeouts that double each time (TCPTimeouts).
tcp_pressure() {
  awk '$1 == "TcpExt:" { if (!n) { for (i = 2; i <= NF; i++) name[i] = $i; n = 1 }
                         else { for (i = 2; i <= NF; i++) v[name[i]] = $i } }
       END { printf "%d %d %d\n", v["TCPMemoryPressures"], v["TCPRcvQDrop"], v["TCPTimeouts"] }' \
    /proc/net/netstat
}

# measure TARGET RANGE_MIB C ROUND: one wrk run; appends "TARGET RANGE_MIB C ROUND requests bytes
# duration_us p50_us p99_us" to $work/results.tsv, or fails (and appends nothing) when wrk failed or any
# answer looked wrong.
measure() {
  local target="$1" mib="$2" c="$3" round="$4"
  local out="$work/wrk-$target-$mib-$c-$round.txt" range_bytes=$((mib << 20))
  bench_log "round $round: wrk $target ${mib} MiB c=$c (${duration} s)"
  local tcp_before tcp_after
  tcp_before="$(tcp_pressure)"
  if ! BENCH_PATH="$(path_of "$target")" BENCH_OBJECT_BYTES="$object_bytes" \
    BENCH_RANGE_BYTES="$range_bytes" \
    wrk -t2 -c"$c" -d"${duration}s" --timeout 10s --latency -s "$root/bench/range.lua" \
    "http://127.0.0.1:$(port_of "$target")" >"$out" 2>&1; then
    cat "$out" >&2
    return 1
  fi
  local line
  line="$(grep '^RESULT ' "$out" || true)"
  [[ -n "$line" ]] || { cat "$out" >&2; return 1; }
  local requests bytes duration_us p50_us p99_us connect_errors read_errors write_errors
  local status_errors timeouts
  read -r requests bytes duration_us p50_us p99_us connect_errors read_errors write_errors \
    status_errors timeouts < <(echo "${line#RESULT }" | sed -E 's/[a-z0-9_]+=//g')
  tcp_after="$(tcp_pressure)"
  local p0 q0 t0 p1 q1 t1
  read -r p0 q0 t0 <<<"$tcp_before"
  read -r p1 q1 t1 <<<"$tcp_after"
  if ((p1 > p0 || q1 > q0 || t1 > t0)); then
    bench_log "$target ${mib} MiB c=$c: kernel TCP memory pressure during the run: entered" \
      "$((p1 - p0)) times, $((q1 - q0)) segments dropped at receive queues, $((t1 - t0))" \
      "retransmission timeouts (tcp_mem: $(cat /proc/sys/net/ipv4/tcp_mem))"
  fi
  if ((requests == 0 || connect_errors + read_errors + write_errors + status_errors + timeouts > 0)); then
    bench_log "$target ${mib} MiB c=$c: $line"
    return 1
  fi
  # Each answer is the range plus a few hundred bytes of headers; wrk also counts the bytes of the
  # (at most C) answers still arriving when it stops.
  if ((bytes < requests * range_bytes || bytes > (requests + c) * (range_bytes + 4096))); then
    bench_log "$target ${mib} MiB c=$c: $bytes bytes for $requests answers of $range_bytes bytes"
    return 1
  fi
  echo "$target $mib $c $round $requests $bytes $duration_us $p50_us $p99_us" >>"$work/results.tsv"
}

# iperf3_listening PORT: true once a socket listens on 127.0.0.1:PORT (read from /proc/net/tcp, so
# that no probe connection is made: iperf3 would take one as a test and refuse the real client).
iperf3_listening() {
  local want
  want="$(printf '0100007F:%04X' "$1")"
  awk -v want="$want" 'NR > 1 && $2 == want && $4 == "0A" { found = 1 } END { exit !found }' \
    /proc/net/tcp
}

# run_iperf3: an iperf3 server on a free port and a 5 s client; writes GB/s to $work/iperf3.
run_iperf3() {
  local port
  port="$(free_port)"
  bench_spawn "$work/iperf3-server.log" iperf3 -s -p "$port" -B 127.0.0.1
  local server_pid=$spawned_pid
  local tries=0
  until iperf3_listening "$port"; do
    tries=$((tries + 1))
    if ((tries > 200)) || ! kill -0 "$server_pid" 2>/dev/null; then
      cat "$work/iperf3-server.log" >&2
      return 1
    fi
    sleep 0.05
  done
  bench_log "iperf3 -c 127.0.0.1 -p $port -t 5 -J"
  local status=0
  iperf3 -c 127.0.0.1 -p "$port" -t 5 -J >"$work/iperf3.json" || status=$?
  stop_pid "$server_pid"
  ((status == 0)) || { cat "$work/iperf3.json" >&2; return 1; }
  "$python" -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(d["end"]["sum_received"]["bits_per_second"] / 8 / 1e9)' "$work/iperf3.json" >"$work/iperf3"
}

# report: the plain table and the Markdown table from results.tsv, iperf3 and the load averages.
report() {
  "$python" - "$work/results.tsv" "$work/iperf3" "$load_before" "$(load_average)" "$duration" \
    "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" "$rounds" \
    "${targets[*]}" <<'EOF'
import sys, datetime, statistics
results_path, iperf_path, load_before, load_after, duration, commit, rounds, targets = sys.argv[1:]
runs = {}  # (target, mib, c) -> {round: figures}
for line in open(results_path):
    target, mib, c, rnd, requests, nbytes, dur_us, p50, p99 = line.split()
    dur_s = int(dur_us) / 1e6
    runs.setdefault((target, int(mib), int(c)), {})[int(rnd)] = {
        "gbps": int(nbytes) / dur_s / 1e9, "p50": int(p50) / 1e3, "p99": int(p99) / 1e3}
try:
    iperf = float(open(iperf_path).read())
except (OSError, ValueError):
    iperf = None
cases = sorted({(mib, c) for (_, mib, c) in runs})

def med(target, mib, c, field):
    r = runs.get((target, mib, c))
    return statistics.median(v[field] for v in r.values()) if r else None

def gb(target, mib, c):
    v = med(target, mib, c, "gbps")
    if v is None:
        return "failed" if target in targets.split() else "not run"
    return f"{v:.2f}"

def lat(target, mib, c):
    a, b = med(target, mib, c, "p50"), med(target, mib, c, "p99")
    return f"{a:.1f} / {b:.1f}" if a is not None else "-"

def ratio(a, b):
    return f"{a / b:.2f}x" if a is not None and b else "-"

def per_round(mib, c):
    s, v = runs.get(("shoald", mib, c), {}), runs.get(("varnish", mib, c), {})
    return ", ".join(f"{s[r]['gbps'] / v[r]['gbps']:.2f}" for r in sorted(s) if r in v) or "-"

header = ["range", "conc", "shoald GB/s", "shoald p50/p99 ms", "Varnish GB/s", "Varnish p50/p99 ms",
          "nginx GB/s", "nginx p50/p99 ms", "shoald/Varnish", "shoald/nginx", "shoald/iperf3",
          "shoald/Varnish per round"]
table = []
for mib, c in cases:
    s = med("shoald", mib, c, "gbps")
    table.append([f"{mib} MiB", str(c), gb("shoald", mib, c), lat("shoald", mib, c),
                  gb("varnish", mib, c), lat("varnish", mib, c),
                  gb("nginx", mib, c), lat("nginx", mib, c),
                  ratio(s, med("varnish", mib, c, "gbps")), ratio(s, med("nginx", mib, c, "gbps")),
                  ratio(s, iperf), per_round(mib, c)])
iperf_text = f"{iperf:.2f} GB/s" if iperf else "failed"
when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
widths = [max(len(r[i]) for r in [header] + table) for i in range(len(header))]
print()
print(f"hot hits, wrk -t2 {duration} s per cell, {rounds} round(s) (medians), commit {commit}, {when}")
for r in [header] + table:
    print("  ".join(v.rjust(w) for v, w in zip(r, widths)))
print(f"iperf3 loopback (1 stream, 5 s): {iperf_text}")
print(f"load average before: {load_before}; after: {load_after}")
print()
print("Markdown:")
print()
print(f"Commit `{commit}`, {when}; {rounds} round(s) of {duration} s per cell, medians; load average "
      f"before {load_before}, after {load_after}; iperf3 loopback ceiling {iperf_text}.")
print()
print("| " + " | ".join(header) + " |")
print("|" + "|".join("---" for _ in header) + "|")
for r in table:
    print("| " + " | ".join(r) + " |")
EOF
}

main() {
  bench_init
  bench_prepare
  wait_for_low_load
  load_before="$(load_average)"
  start_s3rver
  upload_random "$bucket" "$key" "$object_bytes"
  [[ " ${targets[*]} " == *" shoald "* ]] || { bench_log "BENCH_TARGETS must name shoald"; exit 1; }
  local t
  for t in "${targets[@]}"; do
    case "$t" in
      shoald) start_shoald ;;
      nginx) start_nginx ;;
      varnish) start_varnish ;;
      *) bench_log "unknown target '$t' in BENCH_TARGETS"; exit 1 ;;
    esac
  done
  : >"$work/results.tsv"

  bench_log "warming ${targets[*]} (every 16 MiB page once)"
  for t in "${targets[@]}"; do
    warm "$t" || fail "warming $t"
  done
  peers_all_hit || fail "a peer is not answering from its cache after warming"
  local origin_before
  origin_before="$(shoald_stat origin requests)"
  # A second pass over shoald must not reach the origin: it is hot.
  warm shoald || fail "re-reading shoald"

  # The order of the targets rotates from cell to cell (and round to round), so that none is
  # always measured first or right after the same neighbour.
  local round mib c i=0 k n=${#targets[@]}
  for ((round = 1; round <= rounds; round++)); do
    for mib in "${range_mibs[@]}"; do
      for c in "${concurrencies[@]}"; do
        for ((k = 0; k < n; k++)); do
          t="${targets[$(((i + k) % n))]}"
          measure "$t" "$mib" "$c" "$round" || fail "wrk against $t, ${mib} MiB, c=$c"
          sleep 1
        done
        i=$((i + 1))
      done
    done
  done

  local origin_after
  origin_after="$(shoald_stat origin requests)"
  ((origin_after == origin_before)) ||
    fail "shoald asked the origin $((origin_after - origin_before)) times while it should be hot"
  peers_all_hit || fail "a peer is not answering from its cache after the runs"

  run_iperf3 || fail "iperf3"
  report
  if ((failures > 0)); then
    bench_log "$failures step(s) failed"
    exit 1
  fi
}

main "$@"
