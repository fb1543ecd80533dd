#!/usr/bin/env bash
# Applies targeted mutants to a scratch copy of the tree, one at a time,
# builds, runs the suites that should notice, and prints a table:
# mutant -> the tests that failed (killed) or "SURVIVED".
#
#   tests/mutants/run.sh [--no-baseline] [MUTANT...]
#
# Every mechanism the suites claim to test must be killed by one of them.
# Not part of CI: it rebuilds the supervisor once per mutant and is slow on
# a small machine, so each mutant runs only the tests aimed at it. Run as
# root (the suites build real sandboxes). The scratch copy lives under
# /var/tmp (mktemp) and is removed at the end, unless MUTANTS_SCRATCH names
# a directory to keep it in; the real tree is untouched. MUTANTS_LOG_DIR=DIR
# keeps each run's test output there (DIR/NAME.log, DIR/baseline-NAME.log).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "mutants: needs root" >&2; exit 1; }

baseline=1
if [ "${1:-}" = "--no-baseline" ]; then baseline=0; shift; fi

# name | file | exact text | replacement | test commands (run in the build dir)
# A mutant may name several test commands, separated by ";": each suite that
# should notice it runs (and only those), and it is killed when any fails.
# Test commands name their binaries relative to the build directory; $PY is
# Debian's python3, $SUP the supervisor.
mutants=(
  "pid1-reap-only-init|supervisor/pid1.cc|pid_t pid = ::waitpid(-1, &status, WNOHANG);|pid_t pid = ::waitpid(sandbox_.init_pid(), &status, WNOHANG);|gtest tests/integration-tests Reaping.*"
  "sandbox-kill-noop|supervisor/sandbox.cc|if (alive_) ::kill(init_pid_, SIGKILL);|(void)init_pid_;|gtest tests/integration-tests Teardown.*:Signals.*"
  "last-attacher-takes-writer-seat|supervisor/main_process.cc|if (want_input && writer_ == nullptr) writer_ = client.get();|if (want_input) writer_ = client.get();|py integration/sandbox_ssh_test.py MainProcessAttach"
  "check-always-exits-0|supervisor/check.cc|return ok ? 0 : 1;|return ok ? 0 : 0;|gtest tests/escape/escape-tests *Check*;gtest tests/escape/view-tests View.Check*;gtest tests/hardening-tests SelfRestriction.CheckReportsIt"
  "seccomp-loads-allow-all|supervisor/seccomp.cc|return ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) == 0;|static sock_filter allow[] = {{0x06, 0, 0, 0x7fff0000U}}; sock_fprog all{1, allow}; (void)fprog; return ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &all, 0, 0) == 0;|gtest tests/escape/escape-tests Escape.*Denied*:Seccomp/Discriminates.*"
  "seccomp-compiler-low-word-lt-is-le|sandbox-policy/seccomp_bpf.cc|c.branch(BPF_JGE, v, F, 0);|c.branch(BPF_JGT, v, F, 0);|gtest tests/policy/policy-tests SeccompCompiler.*"
  "seccomp-compiler-reuses-a-word-under-another-mask|sandbox-policy/seccomp_bpf.cc|bool operator==(const Held&) const = default;|bool operator==(const Held& o) const { return offset == o.offset; }|gtest tests/policy/policy-tests SeccompCompiler.*"
  "yaml-null-never-null|sandbox-policy/walk.cc|  if (scalar.style != YAML_PLAIN_SCALAR_STYLE |  if (true |gtest tests/policy/policy-tests Load*"
  "yaml-quoted-scalar-read-as-plain|sandbox-policy/walk.cc|        node->quoted = scalar.style != YAML_PLAIN_SCALAR_STYLE|        node->quoted = scalar.style == YAML_ANY_SCALAR_STYLE|gtest tests/policy/policy-tests Load*"
  "yaml-second-document-taken|sandbox-policy/walk.cc|      document_ended = true;|      document_ended = false;|gtest tests/policy/policy-tests Load*"
  "yaml-reader-error-at-its-mark|sandbox-policy/walk.cc|parser_.error == YAML_READER_ERROR ? position_at|false ? position_at|gtest tests/policy/policy-tests Load*"
  "libssh-reads-its-socket-itself|meson.build|'--redefine-sym', 'recv=openshell_ssh_recv',|'--redefine-sym', 'recvmsg=recvmsg',|py ssh/bridge_test.py Exec"
  "read-ahead-poll-ignores-pending-bytes|ssh-bridge/read_ahead.cc|    if (ready > 0) {|    if (ready < 0) {|gtest tests/ssh/read_ahead_test ReadAhead.*;py ssh/bridge_test.py Exec"
  "read-ahead-close-keeps-pending-bytes|ssh-bridge/read_ahead.cc|      sockets.erase(it);|      (void)it;|gtest tests/ssh/read_ahead_test ReadAhead.*"
  "preauth-limit-never-enforced|ssh-bridge/bridge.cc|  unauthenticated.push_back(id);|  (void)0;|py ssh/bridge_test.py Refusals;py ssh/fairness_test.py"
  "preauth-per-source-limit-never-enforced|ssh-bridge/bridge.cc|while (per_source[source] >= config.max_unauthenticated_per_source) {|while (false) {|py ssh/fairness_test.py"
  "preauth-total-limit-never-enforced|ssh-bridge/bridge.cc|while (unauthenticated.size() >= config.max_unauthenticated) {|while (false) {|py ssh/fairness_test.py;py ssh/bridge_test.py Refusals"
  "view-failure-exits-as-sandbox|supervisor/run.cc|is_setup_failure(sandbox.error()) ? Stage::sandbox_setup : Stage::sandbox|Stage::sandbox|gtest tests/integration-tests Startup.*"
  "spawn-setup-failure-exits-as-sandbox|supervisor/run.cc|  return Stage::sandbox_setup;|  return Stage::sandbox;|gtest tests/integration-tests Startup.*"
  "self-restriction-failure-exits-as-sandbox|supervisor/run.cc|die_at(Stage::event_loop, restricted|die_at(Stage::sandbox, restricted|gtest tests/integration-tests Startup.*"
  "read-only-bind-not-recursive|supervisor/mounts.cc|(recursive ? AT_RECURSIVE : 0)|(recursive ? 0 : 0)|gtest tests/escape/view-tests View.ASubmount*"
  "ssh-fd-shared-with-libssh|ssh-bridge/connection.cc|int libssh_fd = ::fcntl(socket_.native_handle(), F_DUPFD_CLOEXEC, 0);|int libssh_fd = socket_.native_handle();|handshakes"
)

# MUTANTS_SCRATCH=DIR keeps the scratch tree and its build there between
# runs: only files whose content changed are copied again, so a second run
# rebuilds what changed instead of everything.
if [ -n "${MUTANTS_SCRATCH:-}" ]; then
  scratch=$MUTANTS_SCRATCH
  mkdir -p "$scratch"
else
  scratch=$(mktemp -d /var/tmp/openshell-mutants-XXXXXX)
  trap 'rm -rf "$scratch"' EXIT
fi
tree=$scratch/tree
mkdir -p "$tree"
# The files a checkout has (tracked and new), not .git nor build output: the
# copy is also a check that the suites need no git work tree. A file already
# there with the same content keeps its time stamp (no rebuild).
(cd "$src" && git ls-files -co --exclude-standard -z 2>/dev/null || find . -path ./build -prune -o -type f -print0) |
  while IFS= read -r -d '' f; do
    [ -f "$src/$f" ] || continue
    cmp -s "$src/$f" "$tree/$f" 2>/dev/null && continue
    mkdir -p "$tree/$(dirname "$f")" && cp "$src/$f" "$tree/$f"
  done
echo "mutants: scratch tree $tree" >&2
[ -f "$tree/build/build.ninja" ] || (cd "$tree" && meson setup build >/dev/null)
build=$tree/build
targets=(supervisor/openshell-supervisor tests/integration-tests tests/hardening-tests
         tests/ssh/ssh-test-server tests/escape/escape-tests tests/escape/view-tests
         tests/escape/probe tests/policy/policy-tests tests/ssh/read_ahead_test)

PY=/usr/bin/python3
SUP=$build/supervisor/openshell-supervisor

# Runs one test command; prints the names of the failed tests (nothing if
# all passed) and returns non-zero when any failed.
run_one() {
  local kind=$1 what=$2 filter=${3:-} log=$scratch/last.log
  local env=(SUPERVISOR_BINARY="$SUP" ESCAPE_PROBE="$build/tests/escape/probe"
             OPENSHELL_TESTS_MUST_WORK=1)
  case $kind in
    gtest)
      env "${env[@]}" timeout 900 "$build/$what" --gtest_filter="$filter" >"$log" 2>&1 || true
      grep -E '^\[  FAILED  \] [A-Za-z0-9_.*/]+(, where| \()' "$log" |
        sed -E 's/^\[  FAILED  \] ([^ ,]+).*/\1/' | sort -u
      grep -q '^\[  PASSED  \]' "$log" && ! grep -q '^\[  FAILED  \]' "$log" ;;
    py)
      # The bridge's tests drive the test server; the others the supervisor.
      local server=$SUP
      [[ $what == ssh/* ]] && server=$build/tests/ssh/ssh-test-server
      env "${env[@]}" timeout 900 $PY -W ignore "$tree/tests/$what" "$server" $filter >"$log" 2>&1 || true
      if grep -q '^1\.\.' "$log"; then  # TAP (tests/support/unittest_tap.py)
        grep -E '^not ok ' "$log" | sed -E 's/^not ok [0-9]+ - __main__\.//' | sort -u
        ! grep -q '^not ok ' "$log"
      else  # unittest's own runner
        grep -E '^(FAIL|ERROR): ' "$log" | sed -E 's/^[A-Z]+: [^ ]+ \(__main__\.([^)]+)\).*/\1/' | sort -u
        grep -qE '^OK( |$)' "$log"
      fi ;;
    handshakes)
      env "${env[@]}" OPENSHELL_HANDSHAKE_ROUNDS=100 timeout 900 $PY -W ignore \
        "$tree/tests/ssh/bridge_test.py" "$build/tests/ssh/ssh-test-server" Handshakes >"$log" 2>&1 || true
      grep -E '^not ok ' "$log" | sed -E 's/^not ok [0-9]+ - __main__\.//' | sort -u
      grep -q '^1\.\.' "$log" && ! grep -q '^not ok ' "$log" ;;
  esac
  local status=$?
  cat "$log" >>"$scratch/run.log"
  return $status
}

# Runs every test command of a mutant (";"-separated); prints the failed
# tests of all of them and returns non-zero when any failed.
run_tests() {
  local commands=$1 command kind what filter status=0 failed
  IFS=';' read -ra list <<<"$commands"
  for command in "${list[@]}"; do
    read -r kind what filter <<<"$command"
    echo "mutants:   $command" >&2
    failed=$(run_one "$kind" "$what" "$filter") || { status=1; echo "${failed:-$what (no test listed)}"; }
  done
  return $status
}

apply() {  # file old new: exact, single replacement, or fail
  $PY - "$tree/$1" "$2" "$3" <<'EOF'
import sys
path, old, new = sys.argv[1:4]
text = open(path).read()
if text.count(old) != 1:
    sys.exit("mutant does not apply: %r occurs %d times in %s" % (old, text.count(old), path))
open(path, "w").write(text.replace(old, new))
EOF
}

selected=("$@")
chosen=()
for entry in "${mutants[@]}"; do
  name=${entry%%|*}
  if ((${#selected[@]})) && [[ " ${selected[*]} " != *" $name "* ]]; then continue; fi
  chosen+=("$entry")
done
((${#chosen[@]})) || { echo "mutants: no mutant named ${selected[*]}" >&2; exit 2; }

# Every run's output, kept after the scratch tree is gone when asked to.
keep_log() {
  [ -n "${MUTANTS_LOG_DIR:-}" ] || return 0
  mkdir -p "$MUTANTS_LOG_DIR"
  mv "$scratch/run.log" "$MUTANTS_LOG_DIR/$1.log" 2>/dev/null || true
}

# The baseline: the real code passes every test command that is to judge a
# mutant (each distinct command once, before anything is mutated). A mutant
# whose tests fail unmutated proves nothing and is not run.
declare -A baseline_failed=()
if ((baseline)); then
  ninja -C "$build" "${targets[@]}" >"$scratch/build.log" 2>&1 || { cat "$scratch/build.log" >&2; exit 1; }
  for entry in "${chosen[@]}"; do
    IFS='|' read -r name file old new command <<<"$entry"
    [ -z "${baseline_failed[$command]+x}" ] || continue
    echo "mutants: baseline: $command" >&2
    if failed=$(run_tests "$command"); then
      baseline_failed[$command]=""
    else
      baseline_failed[$command]="$(echo $failed)"
      echo "mutants: baseline FAILS: $(echo $failed)" >&2
    fi
    keep_log "baseline-$name"
  done
fi

results=()
for entry in "${chosen[@]}"; do
  IFS='|' read -r name file old new command <<<"$entry"
  if ((baseline)) && [ -n "${baseline_failed[$command]}" ]; then
    results+=("$name|BASELINE FAILS: ${baseline_failed[$command]}")
    continue
  fi
  cp "$tree/$file" "$scratch/original"
  apply "$file" "$old" "$new"
  echo "mutants: $name ($file), running: $command" >&2
  if ! ninja -C "$build" "${targets[@]}" >"$scratch/build.log" 2>&1; then
    results+=("$name|does not build (see the mutant)")
    cat "$scratch/build.log" >&2
  elif failed=$(run_tests "$command"); then
    results+=("$name|SURVIVED")
  else
    # The first three failed tests name the kill; the rest are counted.
    read -ra names <<<"$(echo $failed)"
    killers="${names[*]:0:3}"
    ((${#names[@]} <= 3)) || killers+=" (+$((${#names[@]} - 3)) more)"
    results+=("$name|killed by: ${killers:-the run itself (no test listed; see the log)}")
  fi
  echo "mutants: $name: ${results[-1]#*|}" >&2
  keep_log "$name"
  cp "$scratch/original" "$tree/$file"
done

printf '\n%-42s %s\n' "MUTANT" "RESULT"
for r in "${results[@]}"; do
  printf '%-42s %s\n' "${r%%|*}" "${r#*|}"
done
[[ "${results[*]}" != *SURVIVED* && "${results[*]}" != *BASELINE* && "${results[*]}" != *"does not build"* ]]
