#!/usr/bin/env bash
# Every test suite: sets up the machine, builds, runs meson's test suites
# (unit, policy, integration, escape, ssh, fuzz, load, chart, containers,
# arm64), then runs unit, policy, ssh, integration and the fuzz corpora
# again under ASan and UBSan (OPENSHELL_SANITIZER_LANE=0 skips it), fuzzes
# each parser for a bounded time in the clang build (tests/fuzz;
# OPENSHELL_FUZZ_LANE=0 skips it), and prints meson's summaries and each
# lane's time. Run as root: the suites build real sandboxes.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run-all: needs root (namespaces, mounts, podman)" >&2; exit 1; }
tests/setup-machine.sh
build_started=$SECONDS
tests/build.sh
build_time=$((SECONDS - build_started))
# Security suites never skip quietly: a missing kernel feature fails them.
export OPENSHELL_TESTS_MUST_WORK=1
# The container suite's SSH checks fail, not skip, when the bridge is absent.
export OPENSHELL_E2E_SSH=1
status=0
lane_started=$SECONDS
meson test -C build --print-errorlogs --num-processes 2 "$@" | tee build/test-summary.txt || status=$?
summaries=(build/test-summary.txt)
times=("builds (main, sanitizer, fuzz, arm64; tests/build.sh): ${build_time} s"
       "main build's suites: $((SECONDS - lane_started)) s")
if [ $# = 0 ] && [ "${OPENSHELL_SANITIZER_LANE:-1}" != 0 ]; then
  lane_started=$SECONDS
  # Any sanitizer finding ends the process with a report (a test failure).
  # The sanitizer build links dynamically (ASan has no static runtime), so
  # the static-binary checks run in the main build only.
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 GTEST_FILTER=-StaticBinary.*
  ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 meson test -C build-asan --print-errorlogs \
    --num-processes 2 --suite unit --suite policy --suite fuzz \
    | tee build-asan/test-summary.txt || status=$?
  # LeakSanitizer stops the threads with ptrace at exit, and a process that
  # cannot be stopped (one under strace, as in the ssh suite's fsync check;
  # the supervisor, which denies itself ptrace, and every sandbox process)
  # aborts a clean exit. So the suites that run the SSH server and the
  # supervisor check memory errors and undefined behaviour, not leaks (the
  # libraries' leaks are checked above; the supervisor binary also says so
  # itself, supervisor/main.cc). 100 handshakes instead of 500 under churn:
  # each takes up to a second in this build, and the main build runs 500.
  ASAN_OPTIONS=abort_on_error=1:detect_leaks=0 OPENSHELL_HANDSHAKE_ROUNDS=100 \
    meson test -C build-asan --print-errorlogs --num-processes 2 --suite ssh --suite integration \
    | tee build-asan/integration-summary.txt || status=$?
  summaries+=(build-asan/test-summary.txt build-asan/integration-summary.txt)
  times+=("sanitizer lane's suites: $((SECONDS - lane_started)) s")
fi
if [ $# = 0 ] && [ "${OPENSHELL_FUZZ_LANE:-1}" != 0 ]; then
  lane_started=$SECONDS
  meson test -C build-fuzz --print-errorlogs --num-processes 2 --suite fuzz \
    | tee build-fuzz/test-summary.txt || status=$?
  summaries+=(build-fuzz/test-summary.txt)
  times+=("fuzz lane: $((SECONDS - lane_started)) s")
fi
# The counts of every run as one plain closing line.
ok=$(awk '/^Ok:/ {n += $2} END {print n + 0}' "${summaries[@]}")
failed=$(awk '/^(Fail|Timeout|Unexpected Pass):/ {n += $NF} END {print n + 0}' "${summaries[@]}")
skipped=$(awk '/^Skipped:/ {n += $2} END {print n + 0}' "${summaries[@]}")
printf '%s\n' "${times[@]}"
echo "${ok} passed, ${failed} failed, ${skipped} skipped"
exit "$status"
