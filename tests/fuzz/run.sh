#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 (ASan+UBSan+libFuzzer) in build-fuzz/ and runs each
# for a bounded time on a copy of its checked-in corpus. Used by tests/run.sh (CI) and by hand:
#
#   tests/fuzz/run.sh                          every target, SHOAL_FUZZ_SECONDS each (default 60)
#   tests/fuzz/run.sh request size             only fuzz_request and fuzz_size
#   SHOAL_FUZZ_SECONDS=600 tests/fuzz/run.sh   longer runs
#
# Needs what cluster/deps.sh installs (clang-14, libclang-rt-14-dev, .deps/msgpack). Only the fuzz
# targets are built (`fuzz_all`: each compiles just the parser sources it exercises), about a
# minute on two cores.
#
# Each target runs in a temporary copy of its corpus (the checked-in one is never written), with
# -max_total_time=SHOAL_FUZZ_SECONDS, a per-input -timeout of SHOAL_FUZZ_TIMEOUT seconds (default
# 30: the parsers take microseconds, so only a hang or a pathological input gets near it) and
# -rss_limit_mb=SHOAL_FUZZ_RSS_MB (default 2048), under an outer `timeout` as a backstop. Set
# SHOAL_FUZZ_SEED to repeat a run (the seed of every run is printed).
#
# On a finding (crash, sanitizer report, leak, timeout, out-of-memory) the step prints the report,
# the reproducer as od -c and base64 (so it can be recreated from a CI log), and the command that
# replays it; the reproducer is also kept in build-fuzz/findings/. Every target still runs; the exit
# status is 1 if any had a finding or the build failed, 0 otherwise. To keep a fixed reproducer as
# a regression input, copy it into tests/fuzz/corpus/<name>/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
seconds="${SHOAL_FUZZ_SECONDS:-60}"
per_input_timeout="${SHOAL_FUZZ_TIMEOUT:-30}"
rss_mb="${SHOAL_FUZZ_RSS_MB:-2048}"
build="$root/build-fuzz"
findings="$build/findings"

CXX=clang++-14 CC=clang-14 cmake -S "$root" -B "$build" -G Ninja -DSHOAL_FUZZ=ON \
  -DSHOAL_WERROR=OFF -DSHOAL_TESTS=OFF -DSHOAL_BENCH=OFF -DSHOAL_SANITIZE=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target fuzz_all

# The targets: the arguments, or every tests/fuzz/<name>_fuzz.cc (not whatever lies in bin/).
names=("$@")
if ((${#names[@]} == 0)); then
  for src in "$root"/tests/fuzz/*_fuzz.cc; do
    name="$(basename "$src" .cc)"
    names+=("${name%_fuzz}")
  done
fi

work="$(mktemp -d /tmp/shoal-fuzz.XXXXXX)"
trap 'rm -rf "$work"' EXIT
rm -rf "$findings" && mkdir -p "$findings"  # this run's reproducers only
# Sanitizer reports are fatal and symbolized; leaks count as findings.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# report_finding NAME LOG: prints the report and every reproducer of NAME, and keeps them.
report_finding() {
  local name="$1" log="$2" file
  echo "---- $name: report (last 80 lines of its log)"
  tail -n 80 "$log"
  for file in "$work/$name"-crash-* "$work/$name"-leak-* "$work/$name"-timeout-* \
    "$work/$name"-oom-* "$work/$name"-slow-unit-*; do
    [[ -f "$file" ]] || continue
    cp "$file" "$findings/"
    echo "---- reproducer $(basename "$file") ($(stat -c %s "$file") bytes), od -c:"
    od -c "$file" | head -n 40
    echo "---- base64 (recreate with: base64 -d > repro):"
    base64 "$file"
    echo "---- replay: $build/bin/fuzz_$name $findings/$(basename "$file")"
  done
}

failed=()
for name in "${names[@]}"; do
  bin="$build/bin/fuzz_$name"
  [[ -x "$bin" ]] || { echo "no fuzz target fuzz_$name" >&2; failed+=("$name"); continue; }
  mkdir -p "$work/$name"
  corpus="$root/tests/fuzz/corpus/$name"
  [[ -d "$corpus" ]] && cp -r "$corpus"/. "$work/$name"/
  seed_args=()
  [[ -n "${SHOAL_FUZZ_SEED:-}" ]] && seed_args=(-seed="$SHOAL_FUZZ_SEED")
  echo "==> fuzz_$name for ${seconds}s ($(find "$work/$name" -type f | wc -l) corpus files)"
  status=0
  # The outer timeout only matters if libFuzzer itself wedges: it stops on its own after
  # max_total_time plus the current input (at most -timeout).
  (cd "$work" && timeout --kill-after=30 $((seconds + per_input_timeout + 120)) \
    "$bin" "$work/$name" -max_total_time="$seconds" -timeout="$per_input_timeout" \
    -rss_limit_mb="$rss_mb" -print_final_stats=1 "${seed_args[@]}" \
    -artifact_prefix="$work/$name-" >"$work/$name.log" 2>&1) || status=$?
  grep -E "^INFO: Seed:|stat::number_of_executed_units|stat::peak_rss_mb|^Done" \
    "$work/$name.log" || true
  if ((status != 0)); then
    if ((status == 124 || status == 137)); then
      echo "FINDING in fuzz_$name: did not stop within its time bound (exit $status)"
    else
      echo "FINDING in fuzz_$name (exit $status)"
    fi
    report_finding "$name" "$work/$name.log"
    failed+=("$name")
  fi
done

if ((${#failed[@]})); then
  echo "fuzz: findings in ${failed[*]} (reproducers in $findings)"
  exit 1
fi
echo "fuzz: no findings in ${names[*]}"
