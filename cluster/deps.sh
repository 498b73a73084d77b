#!/usr/bin/env bash
# Installs everything Shoal needs to build, test and demo on Debian 12, only what is missing.
#   cluster/deps.sh            apt packages + msgpack-cxx prefix + s3rver and @aws-sdk/client-s3 (npm)
# Idempotent; safe to run on every build. Installs into the system (apt, as root) and into
# the project-local folder .deps/ (msgpack-cxx headers, s3rver, the AWS SDK for JavaScript), which
# is git-ignored.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
deps="$root/.deps"
mkdir -p "$deps"

apt_packages=(
  build-essential cmake ninja-build pkg-config git
  libboost1.81-dev libboost-system1.81-dev libboost-url1.81-dev
  libcurl4-openssl-dev libssl-dev nlohmann-json3-dev libsystemd-dev libxxhash-dev liburing-dev
  libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-boto3 awscli rclone curl prometheus wrk iperf3 nginx varnish haproxy time
  clang-14 libclang-rt-14-dev
)

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js may come from another repository (with npm bundled); only install Debian's when absent.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}" >&2
  sudo_cmd=""
  [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# msgpack-cxx: its Debian package depends on libboost-dev (1.74), which conflicts with Boost 1.81.
# It is header-only, so unpack it into a project-local prefix instead of installing it.
if [[ ! -f "$deps/msgpack/usr/include/msgpack.hpp" ]]; then
  tmp="$(mktemp -d)"
  (cd "$tmp" && apt-get download libmsgpack-cxx-dev >/dev/null 2>&1 || { apt-get update -qq && apt-get download libmsgpack-cxx-dev; })
  rm -rf "$deps/msgpack" && mkdir -p "$deps/msgpack"
  dpkg-deb -x "$tmp"/libmsgpack-cxx-dev_*.deb "$deps/msgpack"
  rm -rf "$tmp"
fi

# s3rver: a local S3 server for tests and the demo, pinned.
s3rver_version="3.7.1"
if [[ ! -f "$deps/s3rver/node_modules/s3rver/package.json" ]] ||
   ! grep -q "\"version\": \"$s3rver_version\"" "$deps/s3rver/node_modules/s3rver/package.json"; then
  mkdir -p "$deps/s3rver"
  (cd "$deps/s3rver" && npm install --no-audit --no-fund --loglevel=error "s3rver@$s3rver_version" >&2)
fi

# @aws-sdk/client-s3: a current AWS SDK for the S3 port's tests (tests/tools/s3_api_client.mjs),
# pinned.
aws_sdk_version="3.1178.0"
if [[ ! -f "$deps/aws-sdk/node_modules/@aws-sdk/client-s3/package.json" ]] ||
   ! grep -q "\"version\": \"$aws_sdk_version\"" "$deps/aws-sdk/node_modules/@aws-sdk/client-s3/package.json"; then
  mkdir -p "$deps/aws-sdk"
  (cd "$deps/aws-sdk" && npm install --no-audit --no-fund --loglevel=error "@aws-sdk/client-s3@$aws_sdk_version" >&2)
fi
