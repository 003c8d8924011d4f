#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this script):
#   1. installs missing dependencies (scripts/install-deps.sh)
#   2. checks formatting (clang-format)
#   3. builds with clang and -Wthread-safety -Werror, and checks that a known violation is
#      rejected (so the annotations are really being checked); runs the request decoder's
#      libFuzzer target from that build for 20 s; checks that an upward include between the
#      rooms fails to build (scripts/check_rooms.py); runs clang-tidy's naming checks
#      (scripts/tidy.sh, .clang-tidy)
#   4. builds and runs the suite three ways: release, ASan+UBSan, TSan
# Fails if any step fails. Build trees live in build-test/ (kept between runs, so a re-run
# only rebuilds what changed). Extra arguments go to `meson test` (e.g. a test name).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

scripts/install-deps.sh
scripts/format.sh --check

# setup DIR [meson options...]: configure once, reconfigure if the options changed.
setup() {
  local dir=$1
  shift
  if [ -d "$dir/meson-private" ]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}

echo "== clang -Wthread-safety build"
CXX=clang++ setup build-test/clang -Dcpp_args=-Wthread-safety
ninja -C build-test/clang
if clang++ -std=c++20 -Wthread-safety -Werror -I"$root" -fsyntax-only \
    tests/compile_fail/thread_safety_violation.cc 2>/dev/null; then
  echo "thread-safety: a known violation compiled; the annotations are not being checked" >&2
  exit 1
fi
echo "thread-safety: violation rejected as it should be"
# Each room sees only the rooms below it (the top-level meson.build): an upward include must
# fail to build, and a downward one must not.
scripts/check_rooms.py build-test/clang
# The naming scheme (.clang-tidy), over the sources that build compiles.
scripts/tidy.sh build-test/clang

# The clang build carries the libFuzzer targets (tests/fuzz/meson.build). Each run starts from
# the checked-in seeds with a fresh corpus: the decoder is small and its coverage saturates in
# seconds; value profiling steers the mutations towards the length and offset comparisons.
echo "== fuzz: request decoder (libFuzzer, 20 s)"
fuzz=build-test/clang/tests/fuzz/fuzz_request
fuzz_log=build-test/clang/fuzz_request.log
rm -rf build-test/clang/fuzz-corpus
mkdir -p build-test/clang/fuzz-corpus
if ! "$fuzz" -max_total_time=20 -timeout=10 -use_value_profile=1 \
    -artifact_prefix=build-test/clang/fuzz- build-test/clang/fuzz-corpus tests/fuzz/corpus \
    >"$fuzz_log" 2>&1; then
  tail -n 40 "$fuzz_log" >&2
  echo "fuzz: fuzz_request failed (input saved as build-test/clang/fuzz-*; replay: $fuzz FILE)" >&2
  exit 1
fi
echo "fuzz: $(grep -E '^Done' "$fuzz_log")"

passed=0
failed=0
skipped=0
run_suite() {
  local name=$1
  shift
  echo "== $name build"
  setup "build-test/$name" "$@"
  ninja -C "build-test/$name"
  local log="build-test/$name/suite.log" rc=0
  meson test -C "build-test/$name" --print-errorlogs "${TEST_ARGS[@]}" 2>&1 | tee "$log" ||
    rc=$?
  local ok fail skip
  ok=$(awk '/^Ok:/ {print $2}' "$log")
  fail=$(awk '/^(Fail|Unexpected Pass|Timeout):/ {n += $2} END {print n + 0}' "$log")
  skip=$(awk '/^Skipped:/ {print $2}' "$log")
  passed=$((passed + ${ok:-0}))
  failed=$((failed + fail))
  skipped=$((skipped + ${skip:-0}))
  if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then failed=$((failed + 1)); fi
}

TEST_ARGS=("$@")
# Sanitizer findings must fail the run, not just print.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=abort_on_error=0:detect_leaks=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
run_suite release -Dbuildtype=release
run_suite asan -Dbuildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false \
  -Dcpp_args=-fno-sanitize-recover=all
run_suite tsan -Dbuildtype=debugoptimized -Db_sanitize=thread

echo "summary: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
