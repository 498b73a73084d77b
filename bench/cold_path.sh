#!/usr/bin/env bash
# Cold reads against an origin shaped like S3: every row of issue 11's table as a ratio against
# the direct read measured in the same run (docs/benchmarks.md, "Cold path").
#
#   1. cluster/deps.sh; builds build/bin/shoald if it is missing;
#   2. s3rver behind tests/tools/fault_proxy.py shaped like S3 Standard (start_shaped_origin in
#      bench/lib.sh: BENCH_FIRST_BYTE_MS, default 30 ms, and BENCH_ORIGIN_BPS, default 60 MB/s
#      per connection); every shoald reads from the proxy, and so does every "direct" read;
#   3. BENCH_RUNS times (default 5), each on objects no node has seen (so every read is cold),
#      alternating which of the pair goes first:
#        start   1 MiB at a page's start               vs a direct ranged GET of the same bytes
#        deep    1 MiB at 11 MiB + 4 KiB of a page      vs the same direct
#        forward 1 MiB at a page's start, asked of a member that does not own the page (2-node
#                cluster; the owner found with /admin/locate) vs the same direct
#        big     a 64 MiB range (4 pages)               vs one direct GET of it
#      every answer is checked (206, the right length; the bytes of the first run's reads are
#      compared with the upload);
#   4. restart: a node with a disk tier and 4 pages of memory reads 8 pages once, stops cleanly,
#      starts again and reads the first page: reports whether it came from disk (hit_disk);
#   5. memory: a node with --memory 256MiB under a miss-heavy load (16 clients reading 512 MiB of
#      cold pages through the shaped origin, twice over, in shuffled order); reports its peak RSS
#      against 1.1 x --memory + 64 MiB;
#   6. prints each row's runs, medians and the ratio shoald/direct (< 1: shoald faster), as
#      plain text and as Markdown for docs/benchmarks.md.
# Row "1 MiB disk hits at random offsets" is bench/disk_hit.sh's.
# Exit status: 0 when every read was right; 1 otherwise. Speeds are reported, not asserted.
set -euo pipefail

bench_name=cold_path
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

runs="${BENCH_RUNS:-5}"
page=$((16 << 20))
mib=$((1 << 20))
bucket=bench

# timed LABEL EXPECT_BYTES URL RANGE [CURL ARGS...]: GETs RANGE of URL into $work/last.bin;
# appends "LABEL seconds" to $work/times; fails unless it is a 206 of EXPECT_BYTES bytes.
timed() {
  local label="$1" want="$2" url="$3" range="$4"
  shift 4
  local code size seconds
  read -r code size seconds < <(curl -sS -o "$work/last.bin" \
    -w '%{http_code} %{size_download} %{time_total}\n' -H "Range: bytes=$range" "$@" "$url")
  if [[ "$code" != 206 || "$size" != "$want" ]]; then
    bench_log "$label: answer $code with $size bytes (want 206 with $want)"
    return 1
  fi
  echo "$label $seconds" >>"$work/times"
}

direct() {  # direct LABEL KEY RANGE BYTES
  timed "$1/direct" "$4" "http://127.0.0.1:$origin_port/$bucket/$2" "$3" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD'
}

# through LABEL PORT KEY RANGE BYTES [FIRST_BYTE]: a read through the shoald on PORT; on the
# first run the bytes are compared with the upload (FIRST_BYTE: the range's first offset).
through() {
  local label="$1" port="$2" key="$3" range="$4" bytes="$5" first="${6:-0}"
  timed "$label/shoald" "$bytes" "http://127.0.0.1:$port/fetch/$bucket/$key" "$range"
  if ((run == 1)); then
    cmp "$work/last.bin" <(tail -c +$((first + 1)) "$work/$key" | head -c "$bytes")
  fi
}

# pair LABEL KEY RANGE BYTES FIRST PORT: the direct read and the read through PORT, in an order
# that alternates by run.
pair() {
  local label="$1" key="$2" range="$3" bytes="$4" first="$5" port="$6"
  if ((run % 2 == 1)); then
    direct "$label" "$key" "$range" "$bytes"
    through "$label" "$port" "$key" "$range" "$bytes" "$first"
  else
    through "$label" "$port" "$key" "$range" "$bytes" "$first"
    direct "$label" "$key" "$range" "$bytes"
  fi
}

# owner_of KEY: the node id owning page 0 of KEY, as node a's ring places it.
owner_of() {
  curl -sS --fail -H "Authorization: Bearer $(cat "$work/admin.token")" \
    "http://127.0.0.1:${port[a]}/admin/locate?kind=$bucket&object=$1&range=bytes%3D0-0" |
    "$python" -c 'import json, sys; print(json.load(sys.stdin)["pages"][0]["owner"])'
}

latency_rows() {
  start_shoald_at "$origin_port"
  local single=$shoald_port
  names=(a b)
  declare -gA port peer pid
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/admin.token"
  chmod 600 "$work/admin.token"
  cluster_origin_port=$origin_port
  start_cluster --memory 2GiB --page-size 16MiB --admin-token-file "$work/admin.token"
  wait_for_cluster
  for ((run = 1; run <= runs; run++)); do
    upload_random "$bucket" "start-$run.bin" "$page"
    upload_random "$bucket" "deep-$run.bin" "$page"
    upload_random "$bucket" "big-$run.bin" $((4 * page))
    local fwd="" i
    for i in $(seq 1 20); do  # a fresh object whose first page node b owns
      upload_random "$bucket" "fwd-$run-$i.bin" "$mib"
      [[ "$(owner_of "fwd-$run-$i.bin")" == node-b ]] && { fwd="fwd-$run-$i.bin"; break; }
    done
    [[ -n "$fwd" ]] || { bench_log "no object owned by node b in 20 tries"; return 1; }
    local deep_first=$((11 * mib + 4096))
    pair start "start-$run.bin" "0-$((mib - 1))" "$mib" 0 "$single"
    pair deep "deep-$run.bin" "$deep_first-$((deep_first + mib - 1))" "$mib" "$deep_first" "$single"
    pair forward "$fwd" "0-$((mib - 1))" "$mib" 0 "${port[a]}"
    pair big "big-$run.bin" "0-$((4 * page - 1))" $((4 * page)) 0 "$single"
    bench_log "run $run of $runs done"
  done
}

# restart_row: 8 pages read once through a node with 4 pages of memory and a disk tier; a clean
# restart; is page 0 served from disk?
restart_row() {
  upload_random "$bucket" restart.bin $((8 * page))
  mkdir -p "$work/disk"
  local p flags=(--memory 64MiB --page-size 16MiB --disk-path "$work/disk" --disk-capacity 1GiB
    --s3-endpoint "http://127.0.0.1:$origin_port" --s3-region us-east-1 --log-level warn)
  shoald_port="$(free_port)"
  bench_spawn "$work/restart-1.log" "$shoald_bin" --listen "127.0.0.1:$shoald_port" "${flags[@]}"
  wait_for_port "$shoald_port" "$spawned_pid" shoald "$work/restart-1.log"
  # Each read ends with its first MiB while its page still fills; with 4 pages of memory the 5th
  # fill in flight is shed (503 + Retry-After, pages in flight count inside --memory): retried.
  for p in $(seq 0 7); do
    curl -sS --fail --retry 10 -o /dev/null \
      -H "Range: bytes=$((p * page))-$((p * page + mib - 1))" \
      "http://127.0.0.1:$shoald_port/fetch/$bucket/restart.bin"
  done
  stop_pid "$spawned_pid"
  bench_spawn "$work/restart-2.log" "$shoald_bin" --listen "127.0.0.1:$shoald_port" "${flags[@]}"
  wait_for_port "$shoald_port" "$spawned_pid" shoald "$work/restart-2.log"
  curl -sS --fail -o /dev/null -H "Range: bytes=0-$((mib - 1))" \
    "http://127.0.0.1:$shoald_port/fetch/$bucket/restart.bin"
  restart_disk_hits="$(shoald_stat pages hit_disk)"
  stop_pid "$spawned_pid"
}

# memory_row: peak RSS of a --memory 256MiB node under a miss-heavy load.
memory_row() {
  local i
  for i in $(seq 1 8); do upload_random "$bucket" "rss-$i.bin" $((4 * page)); done
  shoald_port="$(free_port)"
  bench_spawn "$work/rss.log" "$shoald_bin" --listen "127.0.0.1:$shoald_port" --memory 256MiB \
    --page-size 16MiB --s3-endpoint "http://127.0.0.1:$origin_port" --s3-region us-east-1 \
    --log-level warn
  local node=$spawned_pid
  wait_for_port "$shoald_port" "$node" shoald "$work/rss.log"
  "$python" - "$shoald_port" "$node" "$work/rss" <<'EOF'
import random, subprocess, sys, threading, time
port, pid, out = sys.argv[1], sys.argv[2], sys.argv[3]
jobs = [(o, p) for _ in range(2) for o in range(1, 9) for p in range(4)]
random.Random(7).shuffle(jobs)
lock, peak, done = threading.Lock(), [0], [False]
def sample():
    while not done[0]:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                peak[0] = max(peak[0], int(line.split()[1]) * 1024)
        time.sleep(0.05)
def client():
    while True:
        with lock:
            if not jobs: return
            o, p = jobs.pop()
        first = p << 24
        subprocess.run(["curl", "-sS", "-o", "/dev/null", "-H",
                        f"Range: bytes={first}-{first + (16 << 20) - 1}",
                        f"http://127.0.0.1:{port}/fetch/bench/rss-{o}.bin"], check=False)
s = threading.Thread(target=sample); s.start()
clients = [threading.Thread(target=client) for _ in range(16)]
for c in clients: c.start()
for c in clients: c.join()
done[0] = True; s.join()
open(out, "w").write(str(peak[0]))
EOF
  stop_pid "$node"
}

report() {
  "$python" - "$work/times" "$restart_disk_hits" "$(cat "$work/rss")" "$(load_average)" \
    "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    "${BENCH_FIRST_BYTE_MS:-30}" "${BENCH_ORIGIN_BPS:-60000000}" <<'EOF'
import sys, statistics, datetime
path, disk_hits, rss, load, commit, fb_ms, bps = sys.argv[1:8]
times = {}
for line in open(path):
    label, seconds = line.split()
    times.setdefault(label, []).append(float(seconds))
rows = [("start", "cold 1 MiB range at a page's start", 1.3),
        ("deep", "cold 1 MiB range at 11 MiB + 4 KiB in a page", 1.5),
        ("forward", "cold 1 MiB range asked of a member that does not own the page", 1.5),
        ("big", "cold 64 MiB range vs one direct GET of it", 0.4)]
when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
bound = 1.1 * 256 * 2**20 + 64 * 2**20
lines = []
for key, name, target in rows:
    d, s = times[key + "/direct"], times[key + "/shoald"]
    md, ms = statistics.median(d), statistics.median(s)
    lines.append((name, ", ".join(f"{x:.3f}" for x in d), ", ".join(f"{x:.3f}" for x in s),
                  f"{md:.3f}", f"{ms:.3f}", f"{ms / md:.2f}x", f"<= {target}x"))
print()
print(f"cold path against an S3-shaped origin ({fb_ms} ms to the first byte, {int(bps) / 1e6:.0f} MB/s"
      f" per connection), commit {commit}, {when}, load average after {load}")
for l in lines:
    print(f"  {l[0]}: direct {l[1]} s; shoald {l[2]} s; medians {l[3]} / {l[4]} s; "
          f"shoald/direct {l[5]} (target {l[6]})")
print(f"  restart with a nearly empty disk tier: page 0 {'served from disk' if int(disk_hits) else 'NOT on disk'}")
print(f"  peak RSS under misses, --memory 256MiB: {int(rss) / 2**20:.0f} MiB "
      f"({int(rss) / (256 * 2**20):.2f}x; bound 1.1x + 64 MiB = {bound / 2**20:.0f} MiB: "
      f"{'within' if int(rss) <= bound else 'ABOVE'})")
print()
print("Markdown:")
print()
print(f"Commit `{commit}`, {when}; origin shaped {fb_ms} ms / {int(bps) / 1e6:.0f} MB/s per "
      f"connection; load average after {load}.")
print()
print("| measure | direct runs (s) | shoald runs (s) | medians direct / shoald (s) | shoald/direct | target |")
print("|---|---|---|---|---|---|")
for l in lines:
    print(f"| {l[0]} | {l[1]} | {l[2]} | {l[3]} / {l[4]} | {l[5]} | {l[6]} |")
print(f"| a page read once, clean restart, nearly empty disk tier | | | | "
      f"{'served from disk' if int(disk_hits) else 'not on disk'} | served from disk |")
print(f"| peak RSS under a miss-heavy load, `--memory 256MiB` | | | | {int(rss) / 2**20:.0f} MiB "
      f"({int(rss) / (256 * 2**20):.2f}x) | <= {bound / 2**20:.0f} MiB |")
EOF
}

main() {
  bench_init
  bench_prepare
  wait_for_low_load
  start_s3rver
  start_shaped_origin
  : >"$work/times"
  latency_rows
  restart_row
  memory_row
  report
}

main "$@"
