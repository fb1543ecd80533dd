#!/bin/bash
# The linux/arm64 supervisor (image/build-arm64.sh), run on this amd64
# machine under qemu-user (Debian qemu-user-static, no binfmt_misc needed:
# qemu-aarch64-static is called by name).
#
# What it proves about build-arm64/supervisor/openshell-supervisor:
#   - an AArch64 executable, statically linked: no PT_INTERP, no DT_NEEDED,
#     and `version` runs in an empty root (so it runs from an image volume
#     on any arm64 node, as the amd64 one);
#   - `version` prints VERSION's version and the same library versions as
#     the amd64 binary of this checkout (one source, one set of libraries);
#   - policy parsing and validation (libyaml, protobuf, the policy
#     library) give, byte for byte, the amd64 binary's diagnostics and exit
#     status on invalid policies;
#   - `check` with a valid policy gets through loading and compiling it
#     (the seccomp program included) and reports every layer unavailable,
#     exactly as qemu-user makes it (below).
#
# What it does not prove: that any layer is enforced on arm64. qemu-user
# translates the guest's system calls into the host's; it refuses clone()
# with namespace flags (EINVAL), does not emulate seccomp(2) (a filter
# would apply to qemu's own x86-64 calls, so it answers ENOSYS) and knows
# no Landlock call (ABI 0). So `check` finds no sandbox to probe: it
# prints every layer "unavailable" with clone's error and exits 1, as it
# would on a node whose kernel refused the namespaces. The test asserts
# that and that qemu's trace shows the EINVAL behind it; should a
# qemu-user ever create the namespaces, the assertion fails and says so,
# and this test should then assert the layers `check` prints. Enforcement
# on arm64 needs an arm64 kernel (a node or qemu-system), not this test.
# `copy-self` is not run either: it execs the copy to check it, and the
# host kernel cannot exec an arm64 file without a binfmt_misc handler.
#
# Usage: run.sh AMD64_BINARY (meson passes the supervisor of this build)
# Environment:
#   OPENSHELL_ARM64_BINARY       default: build-arm64/supervisor/openshell-supervisor
#   OPENSHELL_TESTS_MUST_WORK=1  a missing binary or qemu fails instead of skipping
#   OPENSHELL_ARM64_LANE=0       the lane is off (tests/build.sh built no
#                                arm64 binary): skipped, whatever MUST_WORK says
# Output is TAP.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# Absolute: meson passes a path relative to its build directory, and the
# checks below run in a scratch directory.
amd64=$(realpath "${1:?usage: run.sh AMD64_BINARY}")
arm64=$(realpath -m "${OPENSHELL_ARM64_BINARY:-$root/build-arm64/supervisor/openshell-supervisor}")
qemu=qemu-aarch64-static
MUST_WORK=${OPENSHELL_TESTS_MUST_WORK:-0}

n=0 failed=0
ok()  { n=$((n + 1)); echo "ok $n - $1"; }
bad() {
    failed=$((failed + 1)) n=$((n + 1)); echo "not ok $n - $1"; shift
    local l; for l in "$@"; do printf '%s\n' "$l" | sed 's/^/# /'; done
}
skip() {
    if [ "$MUST_WORK" = 1 ]; then bad "$1" "would skip ($2) but OPENSHELL_TESTS_MUST_WORK=1"; return; fi
    n=$((n + 1)); echo "ok $n - $1 # SKIP $2"
}
# Without the binary or qemu nothing can run: the whole file is skipped,
# loudly, or failed where skips are not allowed.
unavailable() {
    if [ "$MUST_WORK" = 1 ]; then
        echo "Bail out! $1 and OPENSHELL_TESTS_MUST_WORK=1"
        exit 1
    fi
    echo "1..0 # SKIP $1"
    exit 0
}
if [ "${OPENSHELL_ARM64_LANE:-1}" = 0 ]; then
    echo "1..0 # SKIP the arm64 lane is off (OPENSHELL_ARM64_LANE=0)"
    exit 0
fi
[ -x "$arm64" ] || unavailable "no arm64 binary at $arm64 (image/build-arm64.sh builds it)"
command -v "$qemu" >/dev/null || unavailable "no $qemu (apt-get install qemu-user-static)"

work=$(mktemp -d /tmp/openshell-arm64.XXXXXX)
trap 'rm -rf "$work"' EXIT
# Runs BINARY ARGS... (through qemu when BINARY is qemu's first argument),
# leaving stdout, stderr and the exit status in $work/{out,err,rc}.
capture() { "$@" >"$work/out" 2>"$work/err"; echo $? >"$work/rc"; }
result() { printf 'exit %s\nstdout:\n%s\nstderr:\n%s\n' "$(cat "$work/rc")" "$(cat "$work/out")" "$(cat "$work/err")"; }

# ---------------------------------------------------------------- the file --
description=$(file -b "$arm64")
if [[ $description == "ELF 64-bit LSB executable, ARM aarch64,"* && $description == *"statically linked"* ]]; then
    ok "file: an AArch64 ELF executable, statically linked"
else
    bad "file: an AArch64 ELF executable, statically linked" "file says: $description"
fi
interp=$(readelf -lW "$arm64" 2>&1 | grep -c 'INTERP')
needed=$(readelf -dW "$arm64" 2>&1 | grep -c 'NEEDED')
if [ "$interp" = 0 ] && [ "$needed" = 0 ]; then
    ok "readelf: no PT_INTERP, no DT_NEEDED"
else
    bad "readelf: no PT_INTERP, no DT_NEEDED" "$interp INTERP header(s), $needed NEEDED entries"
fi

# ------------------------------------------------------------------ version --
version=$(tr -d ' \n' <"$root/VERSION")
capture "$qemu" "$arm64" version
arm64_version=$(cat "$work/out")
if [ "$(cat "$work/rc")" = 0 ] && [[ $arm64_version == "openshell-supervisor $version ("*")" ]]; then
    ok "version under qemu: openshell-supervisor $version"
else
    bad "version under qemu: openshell-supervisor $version" "$(result)"
fi
# In an empty root (only qemu, itself static, and the binary), as in an
# image volume: the binary needs no file of the image it is mounted into.
if [ "$(id -u)" != 0 ]; then
    skip "version in an empty root under qemu" "chroot needs root"
else
    mkdir "$work/empty-root"
    cp "$(command -v "$qemu")" "$work/empty-root/$qemu"
    cp "$arm64" "$work/empty-root/openshell-supervisor"
    capture chroot "$work/empty-root" "/$qemu" /openshell-supervisor version
    if [ "$(cat "$work/rc")" = 0 ] && [ "$(cat "$work/out")" = "$arm64_version" ]; then
        ok "version in an empty root under qemu"
    else
        bad "version in an empty root under qemu" "$(result)"
    fi
fi
amd64_version=$("$amd64" version 2>&1)
if [ "$arm64_version" = "$amd64_version" ]; then
    ok "version: the same line as the amd64 binary (same libraries)"
else
    bad "version: the same line as the amd64 binary (same libraries)" \
        "arm64: $arm64_version" "amd64: $amd64_version"
fi

# ------------------------------------------------------- policy validation --
# Each invalid policy is refused by the loader, before any sandbox is made,
# so qemu-user changes nothing: the diagnostics must be the amd64 ones.
cd "$work"
printf 'version: 1\nbogus_field: 3\n' >unknown-key.yaml
printf 'version: 1\nnetwork: {mode: sideways}\n' >bad-enum.yaml
printf 'version: 1\nfilesystem_policy: {read_only: [relative/path]}\n' >relative-path.yaml
printf 'version: 1\nprocess: [\n' >bad-yaml.yaml
for policy in unknown-key.yaml bad-enum.yaml relative-path.yaml bad-yaml.yaml; do
    capture "$qemu" "$arm64" validate-policy "$policy"
    arm64_result=$(result)
    capture "$amd64" validate-policy "$policy"
    amd64_result=$(result)
    if [ "$arm64_result" = "$amd64_result" ] && [ "$(cat "$work/rc")" = 2 ]; then
        ok "validate-policy $policy: refused with the amd64 binary's message and exit 2"
    else
        bad "validate-policy $policy: refused with the amd64 binary's message and exit 2" \
            "arm64 (qemu):" "$arm64_result" "amd64:" "$amd64_result"
    fi
done

# -------------------------------------------------------------------- check --
# A policy the amd64 binary accepts, every layer on.
mkdir -m 0755 sandbox
cp "$root/tests/support/minimal-policy.yaml" policy.yaml
capture "$amd64" validate-policy policy.yaml
if [ "$(cat "$work/rc")" = 0 ]; then
    ok "the check policy is valid for the amd64 binary"
else
    bad "the check policy is valid for the amd64 binary" "$(result)"
fi
# As root, as in a container; see the header for why this is the outcome.
capture env -i OPENSHELL_WORKDIR="$work/sandbox" "$qemu" "$arm64" check --policy policy.yaml
unavailable=$(grep -cE '^(user-ns|mount-ns|pid-ns|ipc/uts-ns|network|capabilities|no_new_privs|landlock|seccomp) +unavailable \(' "$work/out")
if [ "$(cat "$work/rc")" = 1 ] && [ "$unavailable" = 9 ] && [ ! -s "$work/err" ] &&
    ! grep -qE '^[a-z/_-]+ +enforced' "$work/out" &&
    grep -q '^result  *NOT every layer the policy asks for is enforced$' "$work/out"; then
    ok "check under qemu: every layer unavailable, exit 1 (qemu-user makes no namespace)"
else
    bad "check under qemu: every layer unavailable, exit 1 (qemu-user makes no namespace)" \
        "expected exit 1, nine layers unavailable, the NOT result line, no stderr" "got:" "$(result)"
fi
# The cause, from qemu's own trace: the clone that makes the namespaces
# gets EINVAL. If this fails, qemu now makes them: assert the layers.
env -i OPENSHELL_WORKDIR="$work/sandbox" "$qemu" -strace "$arm64" check --policy policy.yaml \
    >/dev/null 2>"$work/trace"
if grep -Eq '^[0-9]+ clone\(CLONE_NEWNS\|.*\) = -1 errno=22 \(Invalid argument\)$' "$work/trace"; then
    ok "qemu trace: clone() with namespace flags answers EINVAL, the cause of check's result"
else
    bad "qemu trace: clone() with namespace flags answers EINVAL, the cause of check's result" \
        "no EINVAL clone in the trace: does this qemu-user make namespaces now?" \
        "$(grep -E 'clone|unshare' "$work/trace" | head -n 5)"
fi

echo "1..$n"
[ "$failed" = 0 ]
