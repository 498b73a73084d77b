#!/usr/bin/env bash
# A short tour of one Shoal node in front of a local S3 server, on loopback:
#   1. cluster/deps.sh, then a Release build of shoald and shoalctl in build/ (-j2);
#   2. s3rver on a free port with a temporary data directory;
#   3. bucket "demo" with a 40 MiB random object "videos/sample one.bin" and a small text object
#      "notes/hello.txt", uploaded with awscli (/usr/bin/aws);
#   4. shoald (256 MiB memory, 16 MiB pages) on a free port, pointed at s3rver;
#   5. the same range (bytes 1000-17000000, which spans two pages) fetched twice -- a miss, then a
#      hit -- with the response headers shown and the bytes compared (cmp) to the uploaded file;
#   6. the node's /stats, pretty-printed.
# Everything it starts is stopped, and its temporary directory removed, on exit (also on error or
# Ctrl-C). Exit status 0 when every step worked. Needs a free TCP port or two on 127.0.0.1.
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
  cmake --build "$root/build" -j2 --target shoald shoalctl
}

start_s3rver() {
  s3_port="$(free_port)"
  mkdir -p "$work/s3"
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

start_shoald() {
  shoal_port="$(free_port)"
  "$root/build/bin/shoald" --listen "127.0.0.1:$shoal_port" --memory 256MiB --page-size 16MiB \
    --s3-endpoint "http://127.0.0.1:$s3_port" --s3-region us-east-1 >"$work/shoald.log" 2>&1 &
  pids+=($!)
  wait_for_port "$shoal_port" "$!" shoald "$work/shoald.log"
  echo "==> shoald on 127.0.0.1:$shoal_port"
}

# fetch_range LABEL: GETs bytes 1000-17000000 of the sample through shoald, shows the response
# headers and the time, and compares the body with the uploaded file's bytes.
fetch_range() {
  local label="$1"
  local url="http://127.0.0.1:$shoal_port/fetch/demo/videos/sample%20one.bin"
  echo
  echo "==> GET $url  Range: bytes=1000-17000000  ($label)"
  curl -sS --fail-with-body -D - -o "$work/range-$label.bin" -H 'Range: bytes=1000-17000000' \
    -w 'time_total: %{time_total} s\n' "$url"
  cmp "$work/range-$label.bin" <(tail -c +1001 "$work/sample one.bin" | head -c 16999001)
  echo "bytes match the uploaded object (16999001 bytes from offset 1000)"
}

fetch_text() {
  local url="http://127.0.0.1:$shoal_port/fetch/demo/notes/hello.txt"
  echo
  echo "==> GET $url  Range: bytes=0-1023 (clamped to the object's end)"
  curl -sS --fail-with-body -D - -H 'Range: bytes=0-1023' "$url"
}

show_stats() {
  echo
  echo "==> GET /stats"
  curl -sS --fail-with-body "http://127.0.0.1:$shoal_port/stats" | "$python" -m json.tool
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
  start_shoald
  fetch_range miss
  fetch_range hit
  fetch_text
  show_stats
  echo
  echo "==> demo done; stopping shoald and s3rver"
}

# Sourcing the file (e.g. to try one step) defines the functions without running the demo.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
