#!/usr/bin/env bash
# Fuzzes one harness for a bounded time: run.sh HARNESS SEED_DIR SECONDS.
# New inputs go to a scratch corpus (the seeds in the tree stay as they are);
# a crashing input is kept under <harness dir>/fuzz-artifacts/ and fails the
# run. Prints libFuzzer's last status line: executions, cov:, ft:, corpus.
set -euo pipefail
harness=$1 seeds=$2 seconds=$3
name=$(basename "$harness")
artifacts=$(dirname "$harness")/fuzz-artifacts
mkdir -p "$artifacts"
work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus" "$work/tmp"
log=$work/log

# Crash on the first sanitizer finding, with a stack and without leaks of
# the process's one-time set-up counted.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
status=0
TMPDIR=$work/tmp "$harness" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts/$name-" \
  "$work/corpus" "$seeds" >"$log" 2>&1 || status=$?
if [ "$status" != 0 ]; then
  tail -n 80 "$log"
  echo "fuzz: $name failed with status $status; inputs in $artifacts" >&2
  exit "$status"
fi
grep -E '^#[0-9]+' "$log" | tail -n 1
grep -E '^stat::' "$log" || true
