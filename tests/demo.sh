#!/usr/bin/env bash
# The main job: builds the supervisor and starts it as PID 1 of a fresh PID
# namespace with the sandbox built from the default policy, the main process
# inside it (the login shell with a terminal, or CMD), and the SSH bridge on
# 127.0.0.1:2222 with a freshly generated gateway key. It prints the ssh
# command that opens a shell in the same sandbox.
#   tests/demo.sh                 # a shell inside the sandbox
#   tests/demo.sh -- CMD ARGS...  # CMD as the main process; its exit code
# OPENSHELL_DEMO_STATE: the directory of the keys (default
# /var/tmp/openshell-demo). OPENSHELL_DEMO_SUPERVISOR: a supervisor already
# built, used as it is (no machine setup, no build): tests/demo_test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: needs root (namespaces)" >&2; exit 1; }
if [ -n "${OPENSHELL_DEMO_SUPERVISOR:-}" ]; then
  supervisor=$OPENSHELL_DEMO_SUPERVISOR
else
  tests/setup-machine.sh
  tests/build.sh >/dev/null
  supervisor=$PWD/build/supervisor/openshell-supervisor
fi
"$supervisor" version >&2

state=${OPENSHELL_DEMO_STATE:-/var/tmp/openshell-demo}
mkdir -p "$state"
chmod 0700 "$state"
if [ ! -f "$state/gateway" ]; then
  ssh-keygen -q -t ed25519 -N '' -C openshell-demo-gateway -f "$state/gateway"
fi
cp "$state/gateway.pub" "$state/authorized_keys"
if [ ! -f "$state/host_key" ]; then
  ssh-keygen -q -t ed25519 -N '' -C openshell-demo-host -f "$state/host_key"
fi
echo "[127.0.0.1]:2222 $(cut -d' ' -f1,2 "$state/host_key.pub")" > "$state/known_hosts"

# The workspace belongs to the sandbox user (uid 1000 unless the image
# names a `sandbox` user).
workdir=${OPENSHELL_WORKDIR:-/sandbox}
mkdir -p "$workdir"
chown 1000:1000 "$workdir"

export OPENSHELL_LOG_LEVEL=${OPENSHELL_LOG_LEVEL:-info}
export OPENSHELL_SANDBOX_ID=${OPENSHELL_SANDBOX_ID:-demo}
export OPENSHELL_WORKDIR=$workdir
export OPENSHELL_SSH_LISTEN=${OPENSHELL_SSH_LISTEN:-127.0.0.1:2222}
export OPENSHELL_SSH_AUTHORIZED_KEYS_FILE=$state/authorized_keys
export OPENSHELL_SSH_HOST_KEY_FILE=$state/host_key

echo "--- what this sandbox enforces" >&2
"$supervisor" check >&2 || true
cat >&2 <<MSG
--- get a shell in the same sandbox from another terminal:
ssh -i $state/gateway -p 2222 -o UserKnownHostsFile=$state/known_hosts gateway@127.0.0.1
--- the main process's terminal (Ctrl-P Ctrl-Q detaches):
ssh -t -i $state/gateway -p 2222 -o UserKnownHostsFile=$state/known_hosts gateway@127.0.0.1 -s openshell-main
MSG
# unshare makes the supervisor PID 1 of a new PID namespace, as in a pod.
exec unshare --pid --fork --kill-child "$supervisor" "$@"
