#!/usr/bin/env bash
# Every test suite: sets up the machine, builds, runs meson's test suites
# (unit, policy, integration, escape, ssh, chart, containers) and prints
# meson's summary. Run as root: the suites build real sandboxes.
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
# The same counts as one plain closing line.
ok=$(awk '/^Ok:/ {print $2}' build/test-summary.txt)
failed=$(awk '/^(Fail|Timeout|Unexpected Pass):/ {n += $NF} END {print n + 0}' build/test-summary.txt)
skipped=$(awk '/^Skipped:/ {print $2}' build/test-summary.txt)
echo "${ok:-0} passed, ${failed} failed, ${skipped:-0} skipped"
exit "$status"
