#!/usr/bin/env bash
# Builds Shoal and runs every test, the way CI does (.ci/run calls this).
#
#   tests/run.sh                          deps, Release build + ctest, then ASan+UBSan build + ctest
#   SHOAL_SKIP_SANITIZE=1 tests/run.sh    no ASan+UBSan build
#   SHOAL_SKIP_FUZZ=1 tests/run.sh        no fuzzing
#   SHOAL_FUZZ_SECONDS=300 tests/run.sh   longer fuzzing (default 60 s per target)
#
# Steps: cluster/deps.sh; the layer check (tests/tools/check_layers.py: every #include follows the
# rules table of docs/architecture.md); Release (-DSHOAL_WERROR=ON) configured and built in build/ with Ninja and
# -j2, then `ctest --test-dir build --output-on-failure -j2`; unless SHOAL_SKIP_SANITIZE=1, the
# same in build-asan/ with -DSHOAL_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DSHOAL_BENCH=OFF.
# Integration tests pick their own free ports, so two run side by side safely. A variant whose
# configure or build fails skips its later steps; the script goes on with the next variant and
# prints a summary. Then, unless SHOAL_SKIP_FUZZ=1, `tests/fuzz/run.sh` builds the libFuzzer
# targets with clang-14 in build-fuzz/ (about a minute) and runs each for SHOAL_FUZZ_SECONDS
# (default 60; four targets, so about 5 minutes in all) on a temporary copy of its corpus; a
# finding fails the step and prints the report and the reproducer (see tests/fuzz/run.sh).
# Exit status: 0 when every step passed, 1 otherwise.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1

summary=()
failed=0

# step NAME COMMAND...: runs COMMAND, records PASS/FAIL with the time taken; returns its status.
step() {
  local name="$1"
  shift
  local start=$SECONDS
  echo
  echo "==> $name: $*"
  if "$@"; then
    summary+=("PASS  $name ($((SECONDS - start)) s)")
    return 0
  fi
  summary+=("FAIL  $name ($((SECONDS - start)) s)")
  failed=1
  return 1
}

# variant LABEL BUILD_DIR CMAKE_ARGS...: configure, build and test one build tree.
variant() {
  local label="$1" dir="$2"
  shift 2
  if step "$label configure" cmake -S "$root" -B "$dir" -G Ninja -DSHOAL_WERROR=ON "$@" &&
    step "$label build" cmake --build "$dir" -j2; then
    step "$label tests" ctest --test-dir "$dir" --output-on-failure -j2
  else
    summary+=("SKIP  $label tests (no build)")
  fi
}

# shellcheck disable=SC2317  # runs from the EXIT trap
print_summary() {
  echo
  echo "==================== tests/run.sh summary ===================="
  printf '%s\n' "${summary[@]}"
  if ((failed)); then
    echo "RESULT: FAILED"
  else
    echo "RESULT: all passed"
  fi
}
trap print_summary EXIT

if ! step "deps" "$root/cluster/deps.sh"; then
  exit 1
fi

# The include rules of docs/architecture.md ("Layers"); a violation fails the run but the builds
# and tests still go on, so one run reports everything.
step "layers" python3 "$root/tests/tools/check_layers.py" "$root"

variant "release" "$root/build" -DCMAKE_BUILD_TYPE=Release

if [[ "${SHOAL_SKIP_SANITIZE:-0}" == "1" ]]; then
  summary+=("SKIP  asan+ubsan (SHOAL_SKIP_SANITIZE=1)")
else
  # Make UBSan reports readable; -fno-sanitize-recover already makes them fatal.
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
  variant "asan+ubsan" "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DSHOAL_SANITIZE=ON \
    -DSHOAL_BENCH=OFF
fi

if [[ "${SHOAL_SKIP_FUZZ:-0}" == "1" ]]; then
  summary+=("SKIP  fuzz (SHOAL_SKIP_FUZZ=1)")
else
  export SHOAL_FUZZ_SECONDS="${SHOAL_FUZZ_SECONDS:-60}"
  step "fuzz" "$root/tests/fuzz/run.sh"
fi

exit "$failed"
