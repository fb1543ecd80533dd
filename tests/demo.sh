#!/usr/bin/env bash
# The main job: builds the supervisor and starts it as PID 1 of a fresh PID
# namespace with a main process inside the sandbox: the login shell with a
# terminal, or the command given after the script's arguments.
#   tests/demo.sh                 # a shell inside the sandbox
#   tests/demo.sh -- CMD ARGS...  # CMD as the main process
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: needs root (namespaces)" >&2; exit 1; }
tests/setup-machine.sh
tests/build.sh >/dev/null
supervisor=$PWD/build/supervisor/openshell-supervisor
"$supervisor" version >&2

export OPENSHELL_LOG_LEVEL=${OPENSHELL_LOG_LEVEL:-info}
export OPENSHELL_SANDBOX_ID=${OPENSHELL_SANDBOX_ID:-demo}
mkdir -p /sandbox
# unshare makes the supervisor PID 1 of a new PID namespace, as in a pod.
exec unshare --pid --fork --kill-child "$supervisor" "$@"
