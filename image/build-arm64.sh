#!/usr/bin/env bash
# Cross-compiles the static linux/arm64 supervisor on a Debian 12 amd64
# machine into ./build-arm64 (configured once) and builds only the binary:
#   build-arm64/supervisor/openshell-supervisor
# Needs what tests/setup-machine.sh installs: crossbuild-essential-arm64,
# the arm64 multiarch -dev packages and qemu-user-static (the cross file's
# exe_wrapper). Package it with
#   image/build.sh --platform linux/arm64 --prebuilt build-arm64/supervisor/openshell-supervisor -t TAG
# tests/arm64/run.sh runs it under qemu-user.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build-arm64/build.ninja ]; then
  # No tests in this build: GoogleTest is not installed for arm64, and the
  # suites need the kernel features qemu-user does not emulate.
  meson setup build-arm64 --cross-file image/cross-arm64.ini -Dtests=disabled >/dev/null
fi
ninja -C build-arm64 supervisor/openshell-supervisor
