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
# /var/tmp (mktemp) and is removed at the end; the real tree is untouched.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "mutants: needs root" >&2; exit 1; }

baseline=1
if [ "${1:-}" = "--no-baseline" ]; then baseline=0; shift; fi

# name | file | exact text | replacement | test command (run in the build dir)
# Test commands name their binaries relative to the build directory; $PY is
# Debian's python3, $SUP the supervisor.
mutants=(
  "pid1-reap-only-init|supervisor/pid1.cc|pid_t pid = ::waitpid(-1, &status, WNOHANG);|pid_t pid = ::waitpid(sandbox_.init_pid(), &status, WNOHANG);|gtest tests/integration-tests Reaping.*"
  "sandbox-kill-noop|supervisor/sandbox.cc|if (alive_) ::kill(init_pid_, SIGKILL);|(void)init_pid_;|gtest tests/integration-tests Teardown.*:Signals.*"
  "last-attacher-takes-writer-seat|supervisor/main_process.cc|if (want_input && writer_ == nullptr) writer_ = client.get();|if (want_input) writer_ = client.get();|py integration/sandbox_ssh_test.py MainProcessAttach"
  "check-always-exits-0|supervisor/check.cc|return ok ? 0 : 1;|return ok ? 0 : 0;|gtest tests/escape/escape-tests *Check*"
  "seccomp-loads-allow-all|supervisor/seccomp.cc|return ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) == 0;|static sock_filter allow[] = {{0x06, 0, 0, 0x7fff0000U}}; sock_fprog all{1, allow}; (void)fprog; return ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &all, 0, 0) == 0;|gtest tests/escape/escape-tests Escape.*Denied*:Seccomp/Discriminates.*"
  "preauth-limit-never-enforced|ssh-bridge/bridge.cc|while (!unauthenticated.empty() && unauthenticated.size() >= config.max_unauthenticated) {|while (false) {|py ssh/bridge_test.py Refusals"
  "view-failure-exits-as-sandbox|supervisor/run.cc|is_setup_failure(sandbox.error()) ? Stage::sandbox_setup : Stage::sandbox|Stage::sandbox|gtest tests/integration-tests Startup.*"
  "spawn-setup-failure-exits-as-sandbox|supervisor/run.cc|  return Stage::sandbox_setup;|  return Stage::sandbox;|gtest tests/integration-tests Startup.*"
  "self-restriction-failure-exits-as-sandbox|supervisor/run.cc|die_at(Stage::event_loop, restricted|die_at(Stage::sandbox, restricted|gtest tests/integration-tests Startup.*"
  "read-only-bind-not-recursive|supervisor/mounts.cc|(recursive ? AT_RECURSIVE : 0)|(recursive ? 0 : 0)|gtest tests/escape/view-tests View.ASubmount*"
  "ssh-fd-shared-with-libssh|ssh-bridge/connection.cc|int libssh_fd = ::fcntl(socket_.native_handle(), F_DUPFD_CLOEXEC, 0);|int libssh_fd = socket_.native_handle();|handshakes"
)

scratch=$(mktemp -d /var/tmp/openshell-mutants-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
tree=$scratch/tree
mkdir -p "$tree"
# The files a checkout has (tracked and new), not .git nor build output: the
# copy is also a check that the suites need no git work tree.
(cd "$src" && git ls-files -co --exclude-standard -z 2>/dev/null || find . -path ./build -prune -o -type f -print0) |
  (cd "$src" && xargs -0 cp --parents -t "$tree")
echo "mutants: scratch tree $tree" >&2
(cd "$tree" && meson setup build >/dev/null)
build=$tree/build
targets=(supervisor/openshell-supervisor tests/integration-tests tests/ssh/ssh-test-server
         tests/escape/escape-tests tests/escape/view-tests tests/escape/probe)

PY=/usr/bin/python3
SUP=$build/supervisor/openshell-supervisor

# Runs one test command; prints the names of the failed tests (nothing if
# all passed) and returns non-zero when any failed.
run_tests() {
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
      local server=$SUP
      [ "$what" = ssh/bridge_test.py ] && server=$build/tests/ssh/ssh-test-server
      env "${env[@]}" timeout 900 $PY -W ignore "$tree/tests/$what" "$server" $filter >"$log" 2>&1 || true
      grep -E '^not ok ' "$log" | sed -E 's/^not ok [0-9]+ - __main__\.//' | sort -u
      grep -q '^1\.\.' "$log" && ! grep -q '^not ok ' "$log" ;;
    handshakes)
      env "${env[@]}" OPENSHELL_HANDSHAKE_ROUNDS=100 timeout 900 $PY -W ignore \
        "$tree/tests/ssh/bridge_test.py" "$build/tests/ssh/ssh-test-server" Handshakes >"$log" 2>&1 || true
      grep -E '^not ok ' "$log" | sed -E 's/^not ok [0-9]+ - __main__\.//' | sort -u
      grep -q '^1\.\.' "$log" && ! grep -q '^not ok ' "$log" ;;
  esac
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
results=()
for entry in "${mutants[@]}"; do
  IFS='|' read -r name file old new command <<<"$entry"
  if ((${#selected[@]})) && [[ " ${selected[*]} " != *" $name "* ]]; then continue; fi
  read -r kind what filter <<<"$command"
  if ((baseline)); then
    echo "mutants: baseline for $name: $command" >&2
    ninja -C "$build" "${targets[@]}" >"$scratch/build.log" 2>&1 || { cat "$scratch/build.log" >&2; exit 1; }
    if ! failed=$(run_tests "$kind" "$what" "$filter"); then
      results+=("$name|BASELINE FAILS: $(echo $failed)")
      continue
    fi
  fi
  cp "$tree/$file" "$scratch/original"
  apply "$file" "$old" "$new"
  echo "mutants: $name ($file), running: $command" >&2
  if ! ninja -C "$build" "${targets[@]}" >"$scratch/build.log" 2>&1; then
    results+=("$name|does not build (see the mutant)")
  elif failed=$(run_tests "$kind" "$what" "$filter"); then
    results+=("$name|SURVIVED")
  else
    results+=("$name|killed by: $(echo ${failed:-the run itself (no test listed; see the log)})")
  fi
  cp "$scratch/original" "$tree/$file"
done

printf '\n%-34s %s\n' "MUTANT" "RESULT"
for r in "${results[@]}"; do
  printf '%-34s %s\n' "${r%%|*}" "${r#*|}"
done
[[ "${results[*]}" != *SURVIVED* && "${results[*]}" != *BASELINE* ]]
