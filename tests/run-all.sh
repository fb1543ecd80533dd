#!/usr/bin/env bash
# Every test suite: sets up the machine, builds, runs meson's test suites
# (unit, policy, integration, escape, ssh, fuzz, load, chart, containers,
# arm64), then fuzzes each parser for a bounded time in the clang build (tests/fuzz;
# OPENSHELL_FUZZ_LANE=0 skips it), and prints meson's summaries. With
# OPENSHELL_SANITIZER_LANE=1, unit, policy, ssh, integration and the fuzz
# corpora run again under ASan and UBSan (not yet on by default: it has not
# had a full green run). Run as root: the suites build real sandboxes.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run-all: needs root (namespaces, mounts, podman)" >&2; exit 1; }
tests/setup-machine.sh
tests/build.sh
# Security suites never skip quietly: a missing kernel feature fails them.
export OPENSHELL_TESTS_MUST_WORK=1
# The container suite's SSH checks fail, not skip, when the bridge is absent.
export OPENSHELL_E2E_SSH=1
status=0
meson test -C build --print-errorlogs --num-processes 2 "$@" | tee build/test-summary.txt || status=$?
summaries=(build/test-summary.txt)
if [ $# = 0 ] && [ "${OPENSHELL_SANITIZER_LANE:-0}" = 1 ]; then
  # Any sanitizer finding ends the process with a report (a test failure).
  # The sanitizer build links dynamically (ASan has no static runtime), so
  # the static-binary checks run in the main build only.
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 GTEST_FILTER=-StaticBinary.*
  ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 meson test -C build-asan --print-errorlogs \
    --num-processes 2 --suite unit --suite policy --suite ssh --suite fuzz \
    | tee build-asan/test-summary.txt || status=$?
  # Once started, the supervisor denies itself ptrace (supervisor/
  # self_restrict.cc) and the sandbox's filter denies it too; LeakSanitizer
  # stops the threads with ptrace at exit and, refused, aborts a clean exit.
  # So the suites that run the supervisor check memory errors and undefined
  # behaviour, not leaks (the libraries' leaks are checked above).
  ASAN_OPTIONS=abort_on_error=1:detect_leaks=0 meson test -C build-asan --print-errorlogs \
    --num-processes 2 --suite integration | tee build-asan/integration-summary.txt || status=$?
  summaries+=(build-asan/test-summary.txt build-asan/integration-summary.txt)
fi
if [ $# = 0 ] && [ "${OPENSHELL_FUZZ_LANE:-1}" != 0 ]; then
  meson test -C build-fuzz --print-errorlogs --num-processes 2 --suite fuzz \
    | tee build-fuzz/test-summary.txt || status=$?
  summaries+=(build-fuzz/test-summary.txt)
fi
# The counts of every run as one plain closing line.
ok=$(awk '/^Ok:/ {n += $2} END {print n + 0}' "${summaries[@]}")
failed=$(awk '/^(Fail|Timeout|Unexpected Pass):/ {n += $NF} END {print n + 0}' "${summaries[@]}")
skipped=$(awk '/^Skipped:/ {n += $2} END {print n + 0}' "${summaries[@]}")
echo "${ok} passed, ${failed} failed, ${skipped} skipped"
exit "$status"
