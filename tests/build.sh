#!/usr/bin/env bash
# Configures (once) and builds the project in ./build and the libFuzzer
# harnesses in ./build-fuzz (clang; OPENSHELL_FUZZ_LANE=0 skips them), the
# same project with ASan and UBSan in ./build-asan (dynamic: the sanitizer
# runtimes do not link statically; OPENSHELL_SANITIZER_LANE=0 skips it),
# and the static linux/arm64 supervisor in ./build-arm64 (cross build:
# image/build-arm64.sh; OPENSHELL_ARM64_LANE=0 skips it), which
# tests/arm64/run.sh runs under qemu-user.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
  meson setup build >/dev/null
fi
ninja -C build
if [ "${OPENSHELL_SANITIZER_LANE:-1}" != 0 ]; then
  if [ ! -f build-asan/build.ninja ]; then
    # The sanitizers' instrumentation makes gcc 12 report a false "may be
    # used uninitialized" inside Boost.Beast's parser (proxy_request.cc)
    # and a false out-of-bounds memmove inside Boost.JSON's array
    # (json.cc); the release build stays the warning gate. -O1 (the
    # level AddressSanitizer's documentation recommends) and line tables
    # only (-g1: enough for the reports' stack traces) compile in about
    # half the time of -O2 -g.
    meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
      -Dstatic_binary=false -Doptimization=1 -Ddebug=false \
      "-Dcpp_args=['-g1', '-Wno-error=maybe-uninitialized', '-Wno-error=array-bounds']" >/dev/null
  fi
  ninja -C build-asan
fi
# The clang fuzz lane, on unless OPENSHELL_FUZZ_LANE=0 (the gcc build
# replays the corpora either way).
if [ "${OPENSHELL_FUZZ_LANE:-1}" != 0 ]; then tests/fuzz/build.sh; fi
# The arm64 binary only (no tests are built for arm64): 7 min 42 s from
# nothing with ninja -j2 on 2 cores shared with another build (4 min 53 s
# of user CPU).
if [ "${OPENSHELL_ARM64_LANE:-1}" != 0 ]; then image/build-arm64.sh; fi
