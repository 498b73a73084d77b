#!/usr/bin/env bash
# Disk-tier benchmark: disk-hit throughput of shoald against raw O_DIRECT reads of the same store
# file, the disk tier's ranged reads alone against the same, and warm-restart recovery time for a
# disk with thousands of slots. One run:
#   1. cluster/deps.sh; builds build/bin/shoald if it is missing, unless BENCH_SHOALD names the
#      binary to use; it must know --disk-path; builds build/bin/disk_range_bench if missing;
#   2. s3rver on a free port; a random object s3://bench/disk.bin of BENCH_WORKING_SET_MIB (2048);
#   3. disk hits, 16 MiB pages: shoald #1 (memory larger than the object, --disk-path $work/d16)
#      reads every page once, then gets SIGTERM, which writes its memory pages to disk; shoald #2
#      starts on the same disk with --memory 64MiB (a few pages: almost every request is a disk
#      hit) and must recover every page; a few ranges are compared byte for byte with the
#      upload; then `wrk -t2 -cC -d${BENCH_DURATION}s` with bench/range.lua for 16 MiB ranges at
#      C = 4 (whole pages: each disk hit is a flight that reserves its 16 MiB inside --memory, so
#      more than 4 at once are shed with 503 by a 64 MiB memory tier); then shoald #2b on the
#      same disk with --memory of an eighth of the working set (issue 11: "working set 8x
#      memory") for 1 MiB ranges at random 1 MiB-aligned offsets at C = 16 (each a ranged disk
#      read of the 16 blocks it covers, not promoted); neither may ask the origin anything;
#      the filling shoald, which holds everything in memory, first serves the same 1 MiB load
#      (memory hits: the HTTP path's ceiling in this run, no raw reference); after shoald #2b,
#      nginx (bench/nginx-directio.conf.in) serves the same 1 MiB load from the same store file
#      with O_DIRECT: the peer, an HTTP server reading the same device in the same run;
#   4. raw device, measured right before and right after every wrk cell (the virtual disk's speed
#      drifts with the machine's other work), on the written part of the same store file: for
#      16 MiB cells `dd if=<the store file> bs=16M count=<working set> iflag=direct of=/dev/null`
#      (sequential, queue depth 1); for the 1 MiB cell `disk_range_bench --raw-only`: 1 MiB
#      O_DIRECT preads at random 4 KiB-aligned offsets by 4 threads (queue depth 4, as shoald's 4
#      disk I/O threads) into huge-page buffers; a cell's ratio is shoald's GB/s over the mean of
#      its two raw runs; then once more with 4 dd processes at once (a quarter each), the device
#      at queue depth 4;
#   4b. the disk tier alone (no HTTP): disk_range_bench on the same store file once shoald has
#      stopped: DiskTier::read_range of 1 MiB at random aligned and unaligned offsets,
#      DiskTier::read of whole pages, and raw 1 MiB O_DIRECT preads, interleaved, at C = 4 and 16
#      (BENCH_RANGE_ROUNDS rounds of BENCH_RANGE_SECONDS s per cell);
#   5. recovery, 64 KiB pages: shoald #3 (--page-size 64KiB, --disk-capacity
#      BENCH_RECOVERY_DISK_MIB (2048): ~30,000 slots) reads BENCH_RECOVERY_FILL_MIB (1024) of the
#      object (16,384 pages), SIGTERM writes them to disk; shoald #4 starts on that disk; its
#      /stats disk.recovery_seconds and the time until its port accepts are reported;
#   6. prints a plain table and the same as Markdown (for docs/benchmarks.md) on stdout: GB/s of
#      every wrk cell, the raw reference's GB/s, the ratio server/raw (target for shoald: at
#      least 0.8), shoald/nginx for the 1 MiB cell, the CPU seconds per GB served of wrk and of
#      the server (user + system, all threads) and, for the 1 MiB cell, the cores that 0.8x raw
#      would take at those costs; disk_range_bench's table, recovery figures, the load average
#      before and after.
# Speed targets are reported, not asserted. Exit status: 0 when every tool and check worked; 1
# otherwise (wrong bytes, an origin request during the disk runs, missing pages after restart,
# a failed wrk run). Environment knobs: BENCH_DURATION (10), BENCH_WORKING_SET_MIB,
# BENCH_RECOVERY_DISK_MIB, BENCH_RECOVERY_FILL_MIB, BENCH_RANGE_ROUNDS (3), BENCH_RANGE_SECONDS (3),
# BENCH_SHOALD, BENCH_WAIT_LOAD (see bench/README.md).
# Takes about 5 minutes with the defaults and needs about 3 x the working set of free disk space
# under /tmp. Everything it starts is stopped, and its temporary directory removed, on exit.
set -euo pipefail

bench_name=disk_hit
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

duration="${BENCH_DURATION:-10}"
working_mib="${BENCH_WORKING_SET_MIB:-2048}"
recovery_disk_mib="${BENCH_RECOVERY_DISK_MIB:-2048}"
recovery_fill_mib="${BENCH_RECOVERY_FILL_MIB:-1024}"
range_rounds="${BENCH_RANGE_ROUNDS:-3}"
range_seconds="${BENCH_RANGE_SECONDS:-3}"
range_bench="$root/build/bin/disk_range_bench"
bucket=bench
key=disk.bin
object_bytes=$((working_mib << 20))
page_bytes=$((16 << 20))
failures=0
nginx_port=""
nginx_pid=""

fail() {
  bench_log "FAILED: $*"
  failures=$((failures + 1))
}

# spawn_shoald NAME DISK_DIR FLAGS...: shoald on a free port with --disk-path DISK_DIR (created;
# the store is DISK_DIR/shoal.slots); sets
# shoald_port and shoald_pid (the helpers in lib.sh then talk to it).
spawn_shoald() {
  local name="$1" disk="$2"
  shift 2
  mkdir -p "$disk"
  shoald_port="$(free_port)"
  bench_spawn "$work/$name.log" "$shoald_bin" --listen "127.0.0.1:$shoald_port" \
    --s3-endpoint "http://127.0.0.1:$s3_port" --s3-region us-east-1 \
    --log-level "$shoald_log_level" --disk-path "$disk" "$@"
  shoald_pid=$spawned_pid
  wait_for_port "$shoald_port" "$shoald_pid" "$name" "$work/$name.log"
}

# stop_shoald: SIGTERM, then wait for a clean exit (up to 120 s: memory pages go to disk).
stop_shoald() {
  kill -TERM "$shoald_pid"
  local status=0
  wait "$shoald_pid" || status=$?
  ((status == 0)) || { tail -n 20 "$work"/*.log >&2; return 1; }
}

# read_pages FIRST_BYTE LAST_BYTE: GETs [FIRST_BYTE, LAST_BYTE] in 16 MiB ranges, 4 at a time;
# fails unless every answer is a 206 of the right length.
read_pages() {
  local from="$1" to="$2" first
  local -a jobs=()
  for ((first = from; first <= to; first += page_bytes)); do
    local last=$((first + page_bytes - 1))
    ((last > to)) && last=$to
    (
      got="$(curl -sS -o /dev/null -w '%{http_code} %{size_download}' \
        -H "Range: bytes=$first-$last" "http://127.0.0.1:$shoald_port/fetch/$bucket/$key")"
      [[ "$got" == "206 $((last - first + 1))" ]] || {
        bench_log "bytes=$first-$last answered '$got'"
        exit 1
      }
    ) &
    jobs+=($!)
    if ((${#jobs[@]} == 4)); then
      wait "${jobs[0]}" || return 1
      jobs=("${jobs[@]:1}")
    fi
  done
  local j
  for j in "${jobs[@]}"; do wait "$j" || return 1; done
}

# check_bytes: 8 ranges at assorted offsets, compared byte for byte with the uploaded file.
check_bytes() {
  local i first len
  for i in 0 1 2 3 4 5 6 7; do
    first=$(((object_bytes / 8) * i + i * 4097))
    len=$((1 << (14 + i)))
    ((first + len > object_bytes)) && first=$((object_bytes - len))
    curl -sS -H "Range: bytes=$first-$((first + len - 1))" \
      "http://127.0.0.1:$shoald_port/fetch/$bucket/$key" >"$work/range.bin"
    cmp -s "$work/range.bin" <(tail -c +$((first + 1)) "$work/$key" | head -c "$len") || {
      bench_log "bytes $first+$len differ from the upload"
      return 1
    }
  done
}

# server_pids TIER: the processes that serve TIER (shoald, or nginx's master and workers), one
# per line.
server_pids() {
  if [[ "$1" == nginx ]]; then
    echo "$nginx_pid"
    pgrep -P "$nginx_pid" || true
  else
    echo "$shoald_pid"
  fi
}

# measure MIB C RAW [TIER]: one wrk run between two runs of the raw reference RAW (raw_dd,
# raw_random, or raw_none: no reference); appends "MIB C requests bytes duration_us p50_us p99_us
# raw_before raw_after RAW TIER wrk_cpu_s server_cpu_s" (TIER: disk, the default, or memory:
# shoald's disk or memory hits; nginx: the running nginx_directio, ranges of the store file; the
# CPU seconds wrk and the server used during the wrk run) to $work/results.tsv, or fails when wrk
# failed or any answer looked wrong.
measure() {
  local mib="$1" c="$2" raw="$3" tier="${4:-disk}" range_bytes=$(($1 << 20))
  local out="$work/wrk-$1-$2-$tier.txt"
  local dd_before dd_after target_port="$shoald_port" path="/fetch/$bucket/$key"
  if [[ "$tier" == nginx ]]; then
    target_port="$nginx_port"
    path="/disk/shoal.slots"
  fi
  dd_before="$("$raw")"
  bench_log "wrk ${mib} MiB ranges c=$c (${duration} s) on $tier"
  local -a serving
  mapfile -t serving < <(server_pids "$tier")
  local server_before server_after
  server_before="$(cpu_ticks "${serving[@]}")"
  if ! BENCH_PATH="$path" BENCH_OBJECT_BYTES="$object_bytes" \
    BENCH_RANGE_BYTES="$range_bytes" /usr/bin/time -f "CPU %U %S" -o "$out.cpu" \
    wrk -t2 -c"$c" -d"${duration}s" --timeout 20s --latency \
    -s "$root/bench/range.lua" "http://127.0.0.1:$target_port" >"$out" 2>&1; then
    cat "$out" >&2
    return 1
  fi
  local line requests bytes duration_us p50_us p99_us e1 e2 e3 e4 e5
  line="$(grep '^RESULT ' "$out" || true)"
  [[ -n "$line" ]] || { cat "$out" >&2; return 1; }
  read -r requests bytes duration_us p50_us p99_us e1 e2 e3 e4 e5 < <(echo "${line#RESULT }" |
    sed -E 's/[a-z0-9_]+=//g')
  if ((requests == 0 || e1 + e2 + e3 + e4 + e5 > 0 || bytes < requests * range_bytes)); then
    bench_log "${mib} MiB c=$c: $line"
    return 1
  fi
  server_after="$(cpu_ticks "${serving[@]}")"
  local wrk_cpu server_cpu
  wrk_cpu="$(awk '$1 == "CPU" { print $2 + $3 }' "$out.cpu")"
  server_cpu="$("$python" -c "print(($server_after - $server_before) / $(getconf CLK_TCK))")"
  dd_after="$("$raw")"
  echo "$mib $c $requests $bytes $duration_us $p50_us $p99_us $dd_before $dd_after $raw $tier" \
    "$wrk_cpu $server_cpu" >>"$work/results.tsv"
}

# raw_none: no raw reference (memory hits); prints 0.
raw_none() { echo 0; }

# raw_random: 1 MiB O_DIRECT preads at random offsets of the written part of the store file by 4
# threads (disk_range_bench --raw-only, 5 s); prints GB/s.
raw_random() {
  local out
  out="$("$range_bench" --raw-only --dir "$work/d16" --pages $((object_bytes / page_bytes)) \
    --concurrency 4 --rounds 1 --seconds 5 2>/dev/null)"
  bench_log "raw random 1 MiB reads: $(echo "$out" | grep '^raw ')"
  echo "$out" | awk '$1 == "raw" { print $3; exit }'
}

# raw_dd: sequential O_DIRECT read of the written part of the 16 MiB store ($store16, the first
# $object_bytes bytes), 16 MiB blocks; prints GB/s.
raw_dd() {
  local out
  out="$(dd if="$store16" of=/dev/null bs=16M count=$((object_bytes / page_bytes)) iflag=direct \
    2>&1 | tail -n 1)"
  bench_log "dd: $out"
  "$python" -c 'import re, sys
m = re.search(r"^(\d+) bytes .* copied, ([0-9.]+) s", sys.argv[1])
print(int(m.group(1)) / float(m.group(2)) / 1e9)' "$out"
}

# raw_dd_parallel: the same bytes read by 4 dd processes at once (a quarter each, O_DIRECT),
# the device's throughput at queue depth 4 like shoald's 4 I/O threads; prints GB/s.
raw_dd_parallel() {
  local quarter=$((object_bytes / page_bytes / 4)) i t0 t1
  t0="$(date +%s.%N)"
  for i in 0 1 2 3; do
    dd if="$store16" of=/dev/null bs=16M skip=$((i * quarter)) count="$quarter" iflag=direct \
      2>/dev/null &
  done
  wait
  t1="$(date +%s.%N)"
  "$python" -c "print($quarter * 4 * $page_bytes / ($t1 - $t0) / 1e9)"
}

# start_nginx_directio: nginx (bench/nginx-directio.conf.in) serving $work/d16/shoal.slots with
# O_DIRECT; checks one 1 MiB range against the file; sets nginx_port and nginx_pid.
start_nginx_directio() {
  start_nginx_from nginx-directio.conf.in "s|@STORE_DIR@|$work/d16|g" || return 1
  local first=$((5 << 20))
  curl -sS -H "Range: bytes=$first-$((first + (1 << 20) - 1))" \
    "http://127.0.0.1:$nginx_port/disk/shoal.slots" >"$work/range.bin"
  cmp -s "$work/range.bin" <(tail -c +$((first + 1)) "$store16" | head -c $((1 << 20))) || {
    bench_log "nginx's bytes $first+1MiB differ from the store file"
    return 1
  }
}

# stop_nginx: SIGQUIT (graceful) to the nginx started by start_nginx_directio, if any, then waits
# for it to exit.
stop_nginx() {
  [[ -n "$nginx_pid" ]] || return 0
  kill -QUIT "$nginx_pid" 2>/dev/null || true
  wait "$nginx_pid" || true
  nginx_pid=""
}

# check_no_origin_and_stop: fails unless the running shoald never asked the origin; logs its disk
# figures and its slice-buffer reuse, and stops it.
check_no_origin_and_stop() {
  local origin_requests
  origin_requests="$(shoald_stat origin requests)"
  ((origin_requests == 0)) || fail "shoald asked the origin $origin_requests times"
  bench_log "$(curl -sS "http://127.0.0.1:$shoald_port/stats" | "$python" -c '
import json, sys
s = json.load(sys.stdin)
buffers = {k: v for k, v in s["memory"].items() if k.startswith("slice_buffers")}
disk = s["disk"]
print(f"disk stats: {disk}; slice buffers: {buffers}")')"
  stop_shoald || fail "stopping the disk shoald"
}

report() {
  "$python" - "$work/results.tsv" "$work/recovery" "$load_before" "$(load_average)" \
    "$duration" "$working_mib" "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" <<'EOF'
import os, sys, datetime
results, rec_path, load_before, load_after, duration, working, commit = sys.argv[1:]
rec = dict(line.split("=", 1) for line in open(rec_path).read().split())
rows = []
need = ""
for line in open(results):
    (mib, c, requests, nbytes, dur_us, p50, p99, dd_before, dd_after, raw, tier, wrk_cpu,
     server_cpu) = line.split()
    gbps = int(nbytes) / (int(dur_us) / 1e6) / 1e9
    wrk_per_gb = float(wrk_cpu) / (int(nbytes) / 1e9)
    server_per_gb = float(server_cpu) / (int(nbytes) / 1e9)
    dd = (float(dd_before) + float(dd_after)) / 2
    what = {"raw_dd": "dd 16 MiB sequential, QD 1", "raw_random": "1 MiB random pread, QD 4",
            "raw_none": "none (the HTTP path's ceiling)"}[raw]
    label = f"{mib} MiB" + {"memory": " memory hits", "nginx": " nginx O_DIRECT"}.get(tier, "")
    rows.append([label, c, f"{gbps:.2f}", f"{int(p50) / 1e3:.1f} / {int(p99) / 1e3:.1f}",
                 what, f"{dd:.2f} ({float(dd_before):.2f}/{float(dd_after):.2f})" if dd else "-",
                 f"{gbps / dd:.2f}x" if dd else "-",
                 f"{wrk_per_gb:.3f} / {server_per_gb:.3f}"])
    if label == "1 MiB":
        target = 0.8 * dd
        need = (f"0.8x raw in the 1 MiB cell is {target:.2f} GB/s: at this cell's CPU per GB wrk "
                f"alone would need {target * wrk_per_gb:.1f} cores, wrk and shoald "
                f"{target * (wrk_per_gb + server_per_gb):.1f}; this machine has {os.cpu_count()}")
header = ["range", "conc", "GB/s", "p50/p99 ms", "raw O_DIRECT reference",
          "raw GB/s (before/after)", "server/raw", "CPU s per GB: wrk / server"]
by_label = {r[0]: float(r[2]) for r in rows}
peer = ""
if "1 MiB" in by_label and "1 MiB nginx O_DIRECT" in by_label:
    peer = (f"1 MiB disk hits, shoald/nginx O_DIRECT in the same run: "
            f"{by_label['1 MiB'] / by_label['1 MiB nginx O_DIRECT']:.2f}x")
when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
parallel = f"raw device at queue depth 4 (4 dd iflag=direct at once): {float(rec['dd4']):.2f} GB/s"
recovery = (f"recovery: {rec['slots']} slots of 64 KiB pages, {rec['pages']} pages recovered in "
            f"{float(rec['seconds']):.3f} s (port accepting {float(rec['start']):.2f} s after exec); "
            f"16 MiB store: {rec['pages16']} pages in {float(rec['seconds16']):.3f} s")
print()
print(f"disk hits, {working} MiB working set, 16 MiB pages, memory tier 64 MiB (16 MiB ranges) "
      f"and {int(working) // 8} MiB (1 MiB ranges), wrk -t2 {duration} s per cell, commit {commit}, "
      f"{when}")
for r in [header] + rows:
    print("  ".join(v.rjust(w) for v, w in zip(r, widths)))
print(parallel)
if peer:
    print(peer)
if need:
    print(need)
print(recovery)
print(f"load average before: {load_before}; after: {load_after}")
print()
print("Markdown:")
print()
print(f"Commit `{commit}`, {when}; {working} MiB working set, 16 MiB pages, `--memory 64MiB` "
      f"(16 MiB ranges) and `{int(working) // 8}MiB` (1 MiB ranges); "
      f"load average before {load_before}, after {load_after}.")
print()
print("| " + " | ".join(header) + " |")
print("|" + "|".join("---" for _ in header) + "|")
for r in rows:
    print("| " + " | ".join(r) + " |")
print()
print(parallel[0].upper() + parallel[1:] + ".")
print()
if peer:
    print(peer + ".")
    print()
if need:
    print(need + ".")
    print()
print(recovery[0].upper() + recovery[1:] + ".")
EOF
  echo
  echo "The disk tier alone on the same store file (bench/disk_range_bench.cc):"
  cat "$work/range.txt"
}

main() {
  bench_init
  bench_prepare
  "$shoald_bin" --help | grep -q -- --disk-path || {
    bench_log "$shoald_bin has no --disk-path: rebuild it (ninja -C build -j2 shoald)"
    exit 1
  }
  if [[ ! -x "$range_bench" ]]; then
    bench_log "building disk_range_bench (Release, build/, -j2)"
    cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
    ninja -C "$root/build" -j2 disk_range_bench >&2
  fi
  wait_for_low_load
  load_before="$(load_average)"
  start_s3rver
  upload_random "$bucket" "$key" "$object_bytes"
  : >"$work/results.tsv"

  # 3. Fill the disk through a node that holds everything in memory, then restart small.
  local capacity_mib=$((working_mib + working_mib / 8 + 64))
  spawn_shoald shoald-fill "$work/d16" --memory $((working_mib + 512))MiB \
    --disk-capacity "${capacity_mib}MiB"
  bench_log "reading every 16 MiB page once"
  read_pages 0 $((object_bytes - 1)) || fail "filling through shoald"
  # The same 1 MiB load as the disk-hit cell, served from memory: the HTTP path's ceiling in
  # this run (the machine is shared; its load moves every figure).
  measure 1 16 raw_none memory || fail "wrk 1 MiB c=16 (memory hits)"
  stop_shoald || fail "stopping the filling shoald"

  local t0 t1
  store16="$work/d16/shoal.slots"
  spawn_shoald shoald-disk "$work/d16" --memory 64MiB --disk-capacity "${capacity_mib}MiB"
  local pages16 seconds16
  pages16="$(shoald_stat disk pages_recovered)"
  seconds16="$(shoald_stat disk recovery_seconds)"
  ((pages16 == object_bytes / page_bytes)) ||
    fail "recovered $pages16 pages, want $((object_bytes / page_bytes))"
  check_bytes || fail "bytes served from disk differ from the upload"
  measure 16 4 raw_dd || fail "wrk 16 MiB c=4"
  check_no_origin_and_stop
  spawn_shoald shoald-disk8 "$work/d16" --memory $((working_mib / 8))MiB \
    --disk-capacity "${capacity_mib}MiB"
  measure 1 16 raw_random || fail "wrk 1 MiB c=16"
  check_no_origin_and_stop
  # The same cell served by nginx from the same store file: what a plain HTTP server reaching
  # the device with O_DIRECT gets on this machine in this run.
  if start_nginx_directio; then
    measure 1 16 raw_random nginx || fail "wrk 1 MiB c=16 (nginx)"
  else
    fail "starting nginx (O_DIRECT)"
  fi
  stop_nginx
  local dd4
  dd4="$(raw_dd_parallel)"
  bench_log "the disk tier alone: disk_range_bench on $store16"
  "$range_bench" --dir "$work/d16" --kind "$bucket" --object "$key" \
    --pages $((object_bytes / page_bytes)) --concurrency 4,16 --rounds "$range_rounds" \
    --seconds "$range_seconds" >"$work/range.txt" || fail "disk_range_bench"

  # 5. Recovery of thousands of 64 KiB slots.
  spawn_shoald shoald-fill64 "$work/d64" --page-size 64KiB --memory $((recovery_fill_mib * 2))MiB \
    --disk-capacity "${recovery_disk_mib}MiB" --readahead-pages 32
  bench_log "reading ${recovery_fill_mib} MiB in 64 KiB pages"
  read_pages 0 $(((recovery_fill_mib << 20) - 1)) || fail "filling the 64 KiB store"
  stop_shoald || fail "stopping the 64 KiB filling shoald"
  t0="$(date +%s.%N)"
  spawn_shoald shoald-recover "$work/d64" --page-size 64KiB --memory 256MiB \
    --disk-capacity "${recovery_disk_mib}MiB"
  t1="$(date +%s.%N)"
  local slots pages seconds
  slots="$(shoald_stat disk slots)"
  pages="$(shoald_stat disk pages_recovered)"
  seconds="$(shoald_stat disk recovery_seconds)"
  ((pages == (recovery_fill_mib << 20) / 65536)) ||
    fail "recovered $pages of $(((recovery_fill_mib << 20) / 65536)) 64 KiB pages"
  echo "slots=$slots pages=$pages seconds=$seconds start=$("$python" -c "print($t1 - $t0)")" \
    "pages16=$pages16 seconds16=$seconds16 dd4=$dd4" >"$work/recovery"
  stop_shoald || fail "stopping the recovering shoald"

  report
  if ((failures > 0)); then
    bench_log "$failures step(s) failed"
    exit 1
  fi
}

main "$@"
