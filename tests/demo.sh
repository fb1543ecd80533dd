#!/usr/bin/env bash
# The main job: builds the supervisor and starts it as PID 1 of a fresh PID
# namespace with the sandbox built from the default policy, the main process
# inside it (the login shell with a terminal, or CMD), and the SSH bridge on
# 127.0.0.1:2222 with a freshly generated gateway key. It prints the ssh
# command that opens a shell in the same sandbox.
#   tests/demo.sh                 # a shell inside the sandbox
#   tests/demo.sh -- CMD ARGS...  # CMD as the main process; its exit code
#   tests/demo.sh --help          # this text
# OPENSHELL_DEMO_STATE: the directory of the keys (default
# /var/tmp/openshell-demo). OPENSHELL_DEMO_SUPERVISOR: a supervisor already
# built, used as it is (no machine setup, no build): tests/demo_test.sh.
# The environment is the supervisor's configuration (README "Configuration"):
# OPENSHELL_POLICY_FILE, OPENSHELL_USER_ENVIRONMENT, OPENSHELL_WORKDIR, ...
#
# Claude Code as the agent. The npm package @anthropic-ai/claude-code ships
# a native binary; a network_policies rule lets that binary, and nothing
# else, reach api.anthropic.com:443; the API key reaches the sandbox only
# through OPENSHELL_USER_ENVIRONMENT (the supervisor passes none of its own
# environment in). HOME is the workdir, where it keeps ~/.claude.
#   npm install -g @anthropic-ai/claude-code@2.1.332
#   cat > /var/tmp/claude-policy.yaml <<EOF
#   version: 1
#   filesystem_policy:
#     include_workdir: true
#     read_only: [/usr, /lib, /proc, /dev/urandom, /etc, /var/log]
#     read_write: [/tmp, /dev/null]
#   landlock: { compatibility: best_effort }
#   network_policies:
#     claude_code:
#       endpoints: [ { host: api.anthropic.com, port: 443 } ]
#       binaries: [ { path: $(npm prefix -g)/bin/claude } ]
#   EOF
#   export ANTHROPIC_API_KEY=sk-ant-...
#   OPENSHELL_POLICY_FILE=/var/tmp/claude-policy.yaml \
#   OPENSHELL_USER_ENVIRONMENT="{\"ANTHROPIC_API_KEY\": \"$ANTHROPIC_API_KEY\"}" \
#     tests/demo.sh -- claude
# The rule's path may be the npm symlink: it matches by its target. Without
# the rule (or with the key unset) claude cannot reach the API.
# tests/egress/claude_code_test.py runs the same against a stand-in API.
set -euo pipefail
if [ "${1:-}" = --help ] || [ "${1:-}" = -h ]; then
  sed -n '2,/^set -euo pipefail$/{/^#/s/^# \{0,1\}//p}' "$0"
  exit 0
fi
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
