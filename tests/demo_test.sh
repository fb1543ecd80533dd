#!/usr/bin/env bash
# tests/demo.sh itself, non-interactive: `tests/demo.sh -- CMD` runs CMD as
# the main process of a real sandbox (the built-in default policy, the
# sandbox user, seccomp, no_new_privs) and exits with CMD's exit code; its
# stdout is CMD's alone. The keys go to OPENSHELL_DEMO_STATE, and a user's
# /var/tmp/openshell-demo is left exactly as it was.
#
#   tests/demo_test.sh SUPERVISOR
#
# Runs in a private mount namespace where the machine's /etc/openshell (if
# any) is empty, so that a policy there cannot change what the built-in
# default gives.
set -euo pipefail
supervisor=$(realpath "${1:?usage: demo_test.sh SUPERVISOR}")
src=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" != 0 ]; then
  [ "${OPENSHELL_TESTS_MUST_WORK:-0}" = 1 ] && { echo "demo_test: needs root" >&2; exit 1; }
  echo "demo_test: SKIP: needs root (namespaces)" >&2
  exit 77
fi

if [ "${OPENSHELL_DEMO_TEST_ISOLATED:-}" != 1 ]; then
  export OPENSHELL_DEMO_TEST_ISOLATED=1
  exec unshare --mount --propagation private "$0" "$@"
fi
# Hidden only where it exists: a mkdir here would leave it on the machine.
if [ -d /etc/openshell ]; then mount -t tmpfs -o mode=0755 tmpfs /etc/openshell; fi

scratch=$(mktemp -d /var/tmp/openshell-demo-test-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
chmod 0755 "$scratch"
failures=0
fail() { echo "not ok: $*" >&2; failures=$((failures + 1)); }

# What the user's own demo directory holds now (or that it does not exist).
user_state=/var/tmp/openshell-demo
fingerprint() {
  if [ -e "$user_state" ]; then
    (cd "$user_state" && find . -printf '%p %s %T@ %m\n' | sort && find . -type f -exec sha256sum {} + | sort)
  else
    echo absent
  fi
}
before=$(fingerprint)

workdir=$scratch/work
mkdir "$workdir"
script='id -u; grep -E "^(NoNewPrivs|Seccomp|CapEff):" /proc/self/status; exit 7'
set +e
OPENSHELL_DEMO_SUPERVISOR=$supervisor OPENSHELL_DEMO_STATE=$scratch/state \
  OPENSHELL_WORKDIR=$workdir OPENSHELL_SSH_LISTEN=127.0.0.1:0 OPENSHELL_LOG_LEVEL=warn \
  timeout -k 5 120 "$src/tests/demo.sh" -- /bin/sh -c "$script" </dev/null >"$scratch/out" 2>"$scratch/err"
status=$?
set -e

[ "$status" = 7 ] || fail "exit code $status, expected CMD's 7"
expected=$(printf '1000\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2')
[ "$(cat "$scratch/out")" = "$expected" ] || fail "stdout is not CMD's output in the sandbox: $(cat "$scratch/out")"
grep -q 'landlock' "$scratch/err" || fail "the demo did not print what the sandbox enforces"
for key in gateway gateway.pub authorized_keys host_key known_hosts; do
  [ -f "$scratch/state/$key" ] || fail "no $key in OPENSHELL_DEMO_STATE"
done
grep -q "$scratch/state/gateway" "$scratch/err" || fail "the printed ssh command does not name the state directory"
[ "$(fingerprint)" = "$before" ] || fail "$user_state was changed"

# Control: the same script outside the sandbox, as the caller (root).
outside=$(/bin/sh -c "$script" || true)
[ "$(printf '%s\n' "$outside" | head -n1)" = 0 ] || fail "control: outside the sandbox the uid is not 0"

if ((failures)); then
  echo "--- demo stderr" >&2
  cat "$scratch/err" >&2
  exit 1
fi
echo "demo_test: ok (exit code 7 passed through, sandboxed as uid 1000, $user_state untouched)"
