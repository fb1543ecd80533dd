#!/bin/bash
# Reproducible build check: the working tree copied into two directories of
# different names and depths, each configured and built from scratch
# exactly as image/Containerfile's builder stage does (static, no tests),
# with ccache off (a cache hit would hide a difference) and the same
# SOURCE_DATE_EPOCH (the last commit's time). The stripped binaries must have
# the same sha256; their GNU build-ids are printed too.
#
# Built with -Ddebug=true on top: -g never changes the generated code, but
# it puts the build and source directories into the debug info, which the
# linker hashes into the build-id that strip keeps. A path leaking into any
# object therefore shows up as a different stripped hash (meson.build's
# -ffile-prefix-map is what prevents it).
#
# Usage: tests/bench/reproducible.sh [extra meson setup args]
# Takes two full compiles (several minutes on 2 cores). Exit 0 when both
# stripped hashes match, 1 when they differ, 2 when a build fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
: "${SOURCE_DATE_EPOCH:=$(git -C "$root" log -1 --format=%ct)}"
export SOURCE_DATE_EPOCH CCACHE_DISABLE=1
work=$(mktemp -d /tmp/openshell-repro.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Two checkouts that share no path: different lengths and depths.
dirs=("$work/a/src" "$work/second-tree/deeper/openshell-supervisor")
for d in "${dirs[@]}"; do
    mkdir -p "$d"
    git -C "$root" ls-files -z --cached --others --exclude-standard \
        | (cd "$root" && tar --null -T - -c) | tar -x -C "$d"
done

declare -A sha bid
for d in "${dirs[@]}"; do
    echo "# building in $d" >&2
    t0=$(date +%s)
    if ! (cd "$d" && meson setup build -Dtests=disabled -Dstatic_binary=true -Ddebug=true "$@" \
            && ninja -C build supervisor/openshell-supervisor) > "$d.log" 2>&1; then
        tail -20 "$d.log" >&2
        echo "reproducible: build in $d failed" >&2
        exit 2
    fi
    strip --strip-all -o "$d.stripped" "$d/build/supervisor/openshell-supervisor"
    sha[$d]=$(sha256sum "$d.stripped" | cut -d' ' -f1)
    bid[$d]=$(readelf -n "$d.stripped" | awk '/Build ID/ {print $3}')
    echo "$d: stripped sha256 ${sha[$d]} build-id ${bid[$d]} ($(( $(date +%s) - t0 ))s)"
done

a=${dirs[0]} b=${dirs[1]}
if [ "${sha[$a]}" = "${sha[$b]}" ]; then
    echo "reproducible: same stripped binary from both directories (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH)"
    exit 0
fi
echo "reproducible: the stripped binaries differ" >&2
cmp -l "$a.stripped" "$b.stripped" | head -5 >&2 || true
if command -v diffoscope >/dev/null; then
    diffoscope "$a.stripped" "$b.stripped" | head -40 >&2 || true
fi
exit 1
