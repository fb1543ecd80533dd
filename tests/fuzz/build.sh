#!/usr/bin/env bash
# Configures (once) the fuzz build in ./build-fuzz: clang 16 with libFuzzer,
# ASan and UBSan, linked dynamically (the sanitizers' runtimes do not link
# statically). Builds only the harnesses; `meson test -C build-fuzz --suite
# fuzz` fuzzes each for -Dfuzz_seconds. Warnings do not fail this build
# (clang warns where gcc does not); the gcc build is the warning gate.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang-16 CXX=clang++-16 meson setup build-fuzz \
    -Dfuzzing=true -Dstatic_binary=false -Db_sanitize=address,undefined -Db_lundef=false \
    -Dbuildtype=debugoptimized -Dtests=disabled -Dwerror=false "$@" >/dev/null
fi
meson compile -C build-fuzz $(meson introspect build-fuzz --targets | python3 -c '
import json, sys
print(" ".join(t["name"] for t in json.load(sys.stdin) if t["name"].endswith("_fuzzer")))')
