#!/usr/bin/env bash
# Hot-hit throughput of shoald versus an nginx slice cache in front of the same s3rver, beside raw
# loopback TCP (iperf3) as the ceiling. One run:
#   1. cluster/deps.sh; builds build/bin/shoald if it is missing;
#   2. s3rver on a free port; a 256 MiB random object s3://bench/hot.bin;
#   3. shoald (2 GiB memory, 16 MiB pages) and nginx (bench/nginx-slice.conf.in: slice 16m,
#      proxy_cache, 2 workers, sendfile) on free ports; both warmed by fetching every 16 MiB page
#      once, then checked to answer from cache (shoald: no new origin request; nginx: X-Cache-Status
#      HIT);
#   4. for range sizes 1 MiB and 16 MiB (aligned, at random offsets: bench/range.lua) and each
#      concurrency C: `wrk -t2 -cC -d10s --latency` against shoald, then against nginx (never both at
#      once; which goes first alternates);
#   5. iperf3 over loopback for 5 s;
#   6. prints a plain table and the same as Markdown (for docs/benchmarks.md) on stdout: GB/s
#      (wrk's bytes read / duration / 1e9), p50/p99 latency, the ratios shoald/nginx and
#      shoald/iperf3, the load average before and after.
# Speed targets are reported, not asserted. Exit status: 0 when every tool worked; 1 when any failed
# (a wrk run with errors, non-2xx answers or odd answer sizes, a cache that was not hot, iperf3).
#
# Environment knobs: BENCH_DURATION (seconds per wrk run, default 10), BENCH_CONCURRENCY (default
# "4 16 64"), BENCH_WAIT_LOAD (e.g. 1.0: first wait until the 1-minute load average is below it, at
# most BENCH_WAIT_MAX_S seconds, default 600). Takes about 3 minutes with the defaults.
# Everything it starts is stopped, and its temporary directory removed, on exit.
set -euo pipefail

bench_name=hot_hit
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

duration="${BENCH_DURATION:-10}"
read -r -a concurrencies <<<"${BENCH_CONCURRENCY:-4 16 64}"
range_mibs=(1 16)
object_bytes=$((256 << 20))
page_bytes=$((16 << 20))
bucket=bench
key=hot.bin
failures=0
nginx_port=""

fail() {
  bench_log "FAILED: $*"
  failures=$((failures + 1))
}

# start_nginx: nginx from bench/nginx-slice.conf.in with its prefix under $work/nginx.
start_nginx() {
  local prefix="$work/nginx"
  nginx_port="$(free_port)"
  mkdir -p "$prefix/tmp" "$prefix/cache"
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$nginx_port|g" -e "s|@S3_PORT@|$s3_port|g" \
    -e "s|@USER@|$(id -un)|g" -e "s|@GROUP@|$(id -gn)|g" \
    "$root/bench/nginx-slice.conf.in" >"$prefix/nginx.conf"
  nginx -t -q -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log"
  bench_spawn "$work/nginx.log" nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log"
  wait_for_port "$nginx_port" "$spawned_pid" nginx "$prefix/error.log"
  bench_log "nginx on 127.0.0.1:$nginx_port"
}

# url TARGET: the object's URL on shoald or nginx.
url() {
  case "$1" in
    shoald) echo "http://127.0.0.1:$shoald_port/fetch/$bucket/$key" ;;
    nginx) echo "http://127.0.0.1:$nginx_port/$bucket/$key" ;;
  esac
}

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

# nginx_all_hits: one 1 MiB range inside every slice answers with X-Cache-Status: HIT.
nginx_all_hits() {
  local first status
  for ((first = 0; first < object_bytes; first += page_bytes)); do
    status="$(curl -sS -o /dev/null -D - -H "Range: bytes=$((first + 4096))-$((first + 4096 + (1 << 20) - 1))" \
      "$(url nginx)" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-cache-status" { print $2 }')"
    [[ "$status" == HIT ]] || {
      bench_log "nginx slice at $first: X-Cache-Status '$status'"
      return 1
    }
  done
}

# measure TARGET RANGE_MIB C: one wrk run; appends "TARGET RANGE_MIB C requests bytes duration_us
# p50_us p99_us" to $work/results.tsv, or fails (and appends nothing) when wrk failed or any
# answer looked wrong.
measure() {
  local target="$1" mib="$2" c="$3"
  local out="$work/wrk-$target-$mib-$c.txt" range_bytes=$((mib << 20))
  local path
  path="/${bucket}/${key}"
  [[ "$target" == shoald ]] && path="/fetch/${bucket}/${key}"
  bench_log "wrk $target ${mib} MiB c=$c (${duration} s)"
  if ! BENCH_PATH="$path" BENCH_OBJECT_BYTES="$object_bytes" BENCH_RANGE_BYTES="$range_bytes" \
    wrk -t2 -c"$c" -d"${duration}s" --timeout 10s --latency -s "$root/bench/range.lua" \
    "http://127.0.0.1:$([[ "$target" == shoald ]] && echo "$shoald_port" || echo "$nginx_port")" \
    >"$out" 2>&1; then
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
  echo "$target $mib $c $requests $bytes $duration_us $p50_us $p99_us" >>"$work/results.tsv"
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
    "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" <<'EOF'
import sys, datetime
results_path, iperf_path, load_before, load_after, duration, commit = sys.argv[1:]
rows = {}
for line in open(results_path):
    target, mib, c, requests, nbytes, dur_us, p50, p99 = line.split()
    dur_s = int(dur_us) / 1e6
    rows[(target, int(mib), int(c))] = {
        "gbps": int(nbytes) / dur_s / 1e9, "rps": int(requests) / dur_s,
        "p50": int(p50) / 1e3, "p99": int(p99) / 1e3}
try:
    iperf = float(open(iperf_path).read())
except (OSError, ValueError):
    iperf = None
cases = sorted({(mib, c) for (_, mib, c) in rows})

def gb(target, mib, c):
    r = rows.get((target, mib, c))
    return f"{r['gbps']:.2f}" if r else "failed"

def lat(target, mib, c):
    r = rows.get((target, mib, c))
    return f"{r['p50']:.1f} / {r['p99']:.1f}" if r else "-"

def ratio(a, b):
    return f"{a / b:.2f}x" if a is not None and b else "-"

def g(target, mib, c):
    r = rows.get((target, mib, c))
    return r["gbps"] if r else None

header = ["range", "conc", "shoald GB/s", "shoald p50/p99 ms", "nginx GB/s", "nginx p50/p99 ms",
          "shoald/nginx", "shoald/iperf3"]
table = []
for mib, c in cases:
    table.append([f"{mib} MiB", str(c), gb("shoald", mib, c), lat("shoald", mib, c),
                  gb("nginx", mib, c), lat("nginx", mib, c),
                  ratio(g("shoald", mib, c), g("nginx", mib, c)),
                  ratio(g("shoald", mib, c), iperf)])
iperf_text = f"{iperf:.2f} GB/s" if iperf else "failed"
when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
widths = [max(len(r[i]) for r in [header] + table) for i in range(len(header))]
print()
print(f"hot hits, wrk -t2 {duration} s per cell, commit {commit}, {when}")
for r in [header] + table:
    print("  ".join(v.rjust(w) for v, w in zip(r, widths)))
print(f"iperf3 loopback (1 stream, 5 s): {iperf_text}")
print(f"load average before: {load_before}; after: {load_after}")
print()
print("Markdown:")
print()
print(f"Commit `{commit}`, {when}; load average before {load_before}, after {load_after}; "
      f"iperf3 loopback ceiling {iperf_text}.")
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
  start_shoald
  start_nginx
  : >"$work/results.tsv"

  bench_log "warming shoald and nginx (every 16 MiB page once)"
  warm shoald || fail "warming shoald"
  warm nginx || fail "warming nginx"
  nginx_all_hits || fail "nginx is not answering from its cache after warming"
  local origin_before
  origin_before="$(shoald_stat origin requests)"
  # A second pass over shoald must not reach the origin: it is hot.
  warm shoald || fail "re-reading shoald"

  local mib c i=0 first second
  for mib in "${range_mibs[@]}"; do
    for c in "${concurrencies[@]}"; do
      if ((i % 2 == 0)); then first=shoald second=nginx; else first=nginx second=shoald; fi
      i=$((i + 1))
      measure "$first" "$mib" "$c" || fail "wrk against $first, ${mib} MiB, c=$c"
      sleep 1
      measure "$second" "$mib" "$c" || fail "wrk against $second, ${mib} MiB, c=$c"
      sleep 1
    done
  done

  local origin_after
  origin_after="$(shoald_stat origin requests)"
  ((origin_after == origin_before)) ||
    fail "shoald asked the origin $((origin_after - origin_before)) times while it should be hot"
  nginx_all_hits || fail "nginx is not answering from its cache after the runs"

  run_iperf3 || fail "iperf3"
  report
  if ((failures > 0)); then
    bench_log "$failures step(s) failed"
    exit 1
  fi
}

main "$@"
