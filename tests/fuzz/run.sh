#!/usr/bin/env bash
# Builds every libFuzzer target with clang-14 (ASan+UBSan+libFuzzer) in build-fuzz/ and runs each
# for SHOAL_FUZZ_SECONDS (default 30) on a copy of its checked-in corpus. Exit non-zero on a
# finding or a build failure. Used by tests/run.sh (CI) and by hand for long runs:
#   SHOAL_FUZZ_SECONDS=600 tests/fuzz/run.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
seconds="${SHOAL_FUZZ_SECONDS:-30}"
build="$root/build-fuzz"
CXX=clang++-14 CC=clang-14 cmake -S "$root" -B "$build" -G Ninja -DSHOAL_FUZZ=ON \
  -DSHOAL_WERROR=OFF -DSHOAL_TESTS=OFF -DSHOAL_BENCH=OFF -DSHOAL_SANITIZE=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target fuzz_all
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for bin in "$build"/bin/fuzz_*; do
  name="$(basename "$bin")"
  corpus="$root/tests/fuzz/corpus/${name#fuzz_}"
  mkdir -p "$work/$name"
  [[ -d "$corpus" ]] && cp -r "$corpus"/. "$work/$name"/
  echo "==> $name for ${seconds}s"
  status=0
  (cd "$work" && "$bin" "$work/$name" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$work/" >"$work/$name.log" 2>&1) || status=$?
  grep -E "stat::number_of_executed_units|^Done" "$work/$name.log" || true
  if ((status != 0)); then
    echo "FINDING in $name (exit $status):"
    grep -E -A30 "ERROR|SUMMARY|deadly" "$work/$name.log" | head -60
    ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* 2>/dev/null || true
    exit 1
  fi
done
echo "fuzz: no findings"
