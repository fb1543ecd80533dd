#!/bin/sh
# Chart and sideload tests: helm lint, helm template for Kubernetes 1.32-1.36,
# every rendered object validated against the agent-sandbox CRDs vendored
# in tests/chart/crds/ (v0.5.6) and the Kubernetes core schemas, kubectl kustomize of
# sideload/. Installs its tools first (setup.sh). Output is TAP (meson
# protocol: 'tap'); last line "# N passed, N failed, N skipped".
# Usage: tests/chart/run.sh [REGEX]   (REGEX selects tests by name)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tools=$("$here/setup.sh" | tail -n 1)
export OPENSHELL_TOOLS_DIR="$tools"
exec node "$here/run.mjs" "$@"
