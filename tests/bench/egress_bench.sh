#!/bin/bash
# Egress proxy benchmark (not pass/fail): see egress_bench.py.
# Usage: tests/bench/egress_bench.sh BUILD_DIR. Runs as root.
set -euo pipefail
BUILD=${1:?usage: egress_bench.sh BUILD_DIR}
exec /usr/bin/python3 "$(dirname "$0")/egress_bench.py" "$(realpath "$BUILD/supervisor/openshell-supervisor")"
