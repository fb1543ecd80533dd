#!/bin/bash
# End-to-end delivery tests in real containers (podman + runc, DESIGN.md §10).
#
# Builds the supervisor image from image/Containerfile and two sandbox
# images (a debootstrapped Debian, and one with no libc: only a static
# busybox), then runs each sandbox with the supervisor delivered
#   (a) as an image mount:  --mount type=image,...,destination=/opt/openshell/bin
#   (b) by `copy-self` into a named volume, then mounted read-only there
# and checks: the delivered binary is PID 1, policy and gateway keys come from
# mounted files, the delivery is read-only, `podman stop` ends it cleanly
# within the grace period, and OpenSSH's ssh gets in through a published port.
#
# The sandbox containers run exactly as the Helm chart's agent container
# (taken from its render, chart_facts.mjs): --cap-drop=all plus exactly the
# chart's capabilities.add, a read-only root filesystem when the chart sets
# one, --security-opt seccomp=unconfined,apparmor=unconfined. The suite also
# proves each of those capabilities necessary, runs the supervisor in a user
# namespace of the runtime's (--userns=auto, as hostUsers: false), checks
# workspace ownership with the chart's fsGroup and seed script, IPv4
# fallback of the dual-stack listener, and gateway key rotation.
#
# Environment:
#   OPENSHELL_SUPERVISOR_BINARY  static binary to package (default:
#                                build/supervisor/openshell-supervisor when it
#                                exists; otherwise the Containerfile's builder
#                                stage compiles one: about 4 minutes more)
#   OPENSHELL_E2E_FULL_BUILD=1   always use the builder stage
#   OPENSHELL_E2E_SSH=auto|1|0   SSH checks: auto runs them when the bridge
#                                listens and reports them skipped otherwise;
#                                1 makes a missing bridge a failure
#   OPENSHELL_TESTS_MUST_WORK=1  every skip is a failure (tests/run-all.sh)
#   OPENSHELL_TEST_CACHE         cache directory (default /var/tmp/openshell-tests):
#                                debootstrap root, podman storage, images
#
# Output is TAP (meson's protocol: 'tap', so meson counts skips); the last
# line is "# N passed, N failed, N skipped". Exit status 1 on any failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)  # no git needed: a source tarball runs it too

MUST_WORK=${OPENSHELL_TESTS_MUST_WORK:-0}
if [ "$(id -u)" != 0 ]; then
    # The whole suite skipped, in TAP; a failure where skips are not allowed.
    if [ "$MUST_WORK" = 1 ]; then
        echo "Bail out! needs root (podman with runc, debootstrap) and OPENSHELL_TESTS_MUST_WORK=1"
        exit 1
    fi
    echo "1..0 # SKIP needs root (podman with runc, debootstrap)"
    exit 0
fi
"$here/setup.sh" >&2 || { echo "Bail out! tests/containers/setup.sh failed"; exit 2; }
. "$here/env.sh"
tools=$("$root/tests/chart/setup.sh" 2>/dev/null | tail -n 1) || { echo "Bail out! tests/chart/setup.sh failed"; exit 2; }
facts=$(node "$here/chart_facts.mjs" "$tools/helm/helm") || { echo "Bail out! rendering the chart failed"; exit 2; }
eval "$facts"

CACHE=$OPENSHELL_TEST_CACHE
SUP_IMG=localhost/openshell-e2e/supervisor:test
DEB_IMG=localhost/openshell-e2e/sandbox-debian:test
BB_IMG=localhost/openshell-e2e/sandbox-busybox:test
BASE_IMG=localhost/debian:bookworm
BIN=/opt/openshell/bin/openshell-supervisor
TAG="oe2e-$$"
SSH_MODE=${OPENSHELL_E2E_SSH:-auto}
STOP_TIMEOUT=10          # podman stop's grace before it SIGKILLs
SUP_GRACE=3              # OPENSHELL_SHUTDOWN_GRACE_SECS inside

work=$(mktemp -d /tmp/openshell-e2e.XXXXXX)
passed=0 failed=0 skipped=0 n=0

cleanup() {
    local ids
    ids=$(pm ps -aq --filter "label=openshell-e2e=$TAG" 2>/dev/null)
    [ -n "$ids" ] && pm rm -f -t 0 $ids >/dev/null 2>&1
    ids=$(pm volume ls -q --filter "label=openshell-e2e=$TAG" 2>/dev/null)
    [ -n "$ids" ] && pm volume rm -f $ids >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT

# TAP: "ok N - what", "not ok N - what" with "# detail" lines,
# "ok N - what # SKIP why"; a '#' inside a name would start a directive.
tapname() { printf '%s' "$1" | tr '#' 'N'; }
summary() { echo "1..$n"; echo "# $passed passed, $failed failed, $skipped skipped"; }
ok()   { passed=$((passed + 1)) n=$((n + 1)); echo "ok $n - $(tapname "$1")"; }
bad()  {
    failed=$((failed + 1)) n=$((n + 1)); echo "not ok $n - $(tapname "$1")"; shift
    local l; for l in "$@"; do printf '%s\n' "$l" | sed 's/^/# /'; done
}
skip() {
    if [ "$MUST_WORK" = 1 ]; then bad "$1" "would skip ($2) but OPENSHELL_TESTS_MUST_WORK=1"; return; fi
    skipped=$((skipped + 1)) n=$((n + 1)); echo "ok $n - $(tapname "$1") # SKIP $2"
}
fatal() { bad "$@"; summary; exit 1; }
log()  { echo "# $*" >&2; }

# ------------------------------------------------------------- base image --
if ! pm image exists "$BASE_IMG"; then
    if [ ! -d "$CACHE/rootfs" ]; then
        log "debootstrap --variant=minbase bookworm (cached in $CACHE/rootfs)"
        rm -rf "$CACHE/rootfs.tmp"
        debootstrap --variant=minbase bookworm "$CACHE/rootfs.tmp" > "$CACHE/debootstrap.log" 2>&1 \
            || fatal "debootstrap of the Debian base" "see $CACHE/debootstrap.log"
        mv "$CACHE/rootfs.tmp" "$CACHE/rootfs"
    fi
    log "importing $BASE_IMG"
    tar -C "$CACHE/rootfs" -c . | pm import - "$BASE_IMG" >/dev/null \
        || fatal "podman import of the Debian base"
fi

# -------------------------------------------------------- supervisor image --
binary=${OPENSHELL_SUPERVISOR_BINARY:-$root/build/supervisor/openshell-supervisor}
# The previous run's image would otherwise linger untagged in the cache.
pm rmi -f "$SUP_IMG" >/dev/null 2>&1
if [ "${OPENSHELL_E2E_FULL_BUILD:-0}" != 1 ] && [ -x "$binary" ]; then
    log "packaging $binary (image/build.sh --prebuilt)"
    build_out=$(PODMAN="podman --runtime runc" "$root/image/build.sh" --prebuilt "$binary" --base "$BASE_IMG" -t "$SUP_IMG" 2>&1) \
        || fatal "supervisor image (prebuilt target) builds" "$(echo "$build_out" | tail -5)"
    expected_sha=$(sha256sum "$binary" | cut -d' ' -f1)
else
    log "building the supervisor image with its builder stage (slow: apt and a full compile)"
    build_out=$(PODMAN="podman --runtime runc" "$root/image/build.sh" --base "$BASE_IMG" -t "$SUP_IMG" 2>&1) \
        || fatal "supervisor image (builder stage) builds" "$(echo "$build_out" | tail -15)"
    # Uncached builds leave their builder layers behind (about 1 GB each).
    pm image prune -f >/dev/null 2>&1
    expected_sha=""
fi
ok "supervisor image builds from image/Containerfile (image/build.sh)"

# /openshell-supervisor (0555), the same inode at /openshell-sandbox, and
# /licenses: nothing else.
cid=$(pm create "$SUP_IMG")
pm export "$cid" > "$work/sup.tar"
pm rm "$cid" >/dev/null
mkdir -p "$work/supfs"
tar -xf "$work/sup.tar" -C "$work/supfs"
files=$(cd "$work/supfs" && find . -type f -o -type l | sed 's|^\./||' | grep -vE '^(etc|dev|proc|sys|run)(/|$)' | grep -v '^licenses/' | sort | tr '\n' ' ')
mode=$(stat -c '%a' "$work/supfs/openshell-supervisor" 2>/dev/null)
if [ "$files" = "openshell-sandbox openshell-supervisor " ] && [ "$mode" = 555 ]; then
    ok "image holds /openshell-supervisor (mode 0555), /openshell-sandbox and /licenses only"
else
    bad "image holds /openshell-supervisor (mode 0555), /openshell-sandbox and /licenses only" "files: $files" "mode: $mode"
fi
if [ "$(stat -c %i "$work/supfs/openshell-supervisor")" = "$(stat -c %i "$work/supfs/openshell-sandbox" 2>/dev/null)" ]; then
    ok "/openshell-sandbox is a hard link of /openshell-supervisor (OpenShell's driver path)"
else
    bad "/openshell-sandbox is a hard link of /openshell-supervisor" "$(ls -li "$work/supfs" 2>&1)"
fi
if file -L "$work/supfs/openshell-supervisor" | grep -q 'statically linked' && ! file -L "$work/supfs/openshell-supervisor" | grep -q 'interpreter'; then
    ok "packaged binary is statically linked (no interpreter, no libc needed)"
else
    bad "packaged binary is statically linked" "$(file -L "$work/supfs/openshell-supervisor")"
fi
[ -z "$expected_sha" ] && expected_sha=$(sha256sum "$work/supfs/openshell-supervisor" | cut -d' ' -f1)

# One notice per statically linked library, as image/licenses/libraries lists them.
missing=""
while read -r lib pkg spdx; do
    grep -q "^License: $spdx\$" "$work/supfs/licenses/$lib.txt" 2>/dev/null || missing="$missing $lib"
done < "$root/image/licenses/libraries"
for l in boost LICENSE LGPL-2.1 GPL-3; do
    [ -s "$work/supfs/licenses/$l.txt" ] || [ -s "$work/supfs/licenses/$l" ] || missing="$missing $l"
done
[ -z "$missing" ] && ok "/licenses has the notice of every linked library ($(wc -l < "$root/image/licenses/libraries") + boost) and LICENSE" \
    || bad "/licenses has the notice of every linked library" "missing:$missing"

ep=$(pm image inspect "$SUP_IMG" --format '{{json .Config.Entrypoint}}')
[ "$ep" = '["/openshell-supervisor"]' ] && ok "entrypoint is /openshell-supervisor" || bad "entrypoint is /openshell-supervisor" "got $ep"
labels=$(pm image inspect "$SUP_IMG" --format '{{json .Labels}}')
missing="" empty=""
for l in title description source version revision created licenses base.name; do
    v=$(pm image inspect "$SUP_IMG" --format "{{index .Labels \"org.opencontainers.image.$l\"}}")
    [ -n "$v" ] || missing="$missing $l"
done
empty=$(echo "$labels" | python3 -c 'import json,sys; print(" ".join(k for k,v in json.load(sys.stdin).items() if not v))')
[ -z "$missing$empty" ] && ok "OCI labels title, description, source, version, revision, created, licenses, base.name set; no empty label" \
    || bad "OCI labels set, none empty" "missing:$missing" "empty: $empty"
want_version=$(tr -d ' \n' < "$root/VERSION")
got_version=$(pm image inspect "$SUP_IMG" --format '{{index .Labels "org.opencontainers.image.version"}}')
got_rev=$(pm image inspect "$SUP_IMG" --format '{{index .Labels "org.opencontainers.image.revision"}}')
got_base=$(pm image inspect "$SUP_IMG" --format '{{index .Labels "org.opencontainers.image.base.name"}}')
# The commit the tree is at, or "unknown" for a source tarball (image/build.sh).
want_rev=unknown
[ "$(git -C "$root" rev-parse --show-toplevel 2>/dev/null)" = "$root" ] && want_rev=$(git -C "$root" rev-parse HEAD)
if [ "$got_version" = "$want_version" ] && [[ $got_rev == "$want_rev"* ]] && [[ $got_base == *@sha256:* ]]; then
    ok "labels: version $got_version from VERSION, revision of HEAD, base pinned by digest"
else
    bad "labels: version from VERSION, revision of HEAD, base by digest" "version $got_version (want $want_version)" "revision $got_rev" "base $got_base"
fi
# A build without build.sh's --base still starts from one fixed base.
if grep -qE '^ARG BASE=[^ ]+@sha256:[0-9a-f]{64}$' "$root/image/Containerfile"; then
    ok "image/Containerfile's default base is pinned by digest"
else
    bad "image/Containerfile's default base is pinned by digest" "$(grep '^ARG BASE=' "$root/image/Containerfile")"
fi
spdx=$(pm image inspect "$SUP_IMG" --format '{{index .Labels "org.opencontainers.image.licenses"}}')
nolic=""
while read -r _ _ l; do [[ $spdx == *"$l"* ]] || nolic="$nolic [$l]"; done < "$root/image/licenses/libraries"
[[ $spdx == Apache-2.0* ]] && [ -z "$nolic" ] && ok "licenses label is an SPDX expression covering every library: $spdx" \
    || bad "licenses label covers every library" "$spdx" "missing:$nolic"

if out=$(pm run --rm "$SUP_IMG" version 2>&1) && echo "$out" | grep -q "openshell-supervisor $want_version"; then
    ok "podman run IMAGE version: $out"
else
    bad "podman run IMAGE version" "$out"
fi
if out=$(pm run --rm --entrypoint /openshell-sandbox "$SUP_IMG" version 2>&1) && echo "$out" | grep -q 'openshell-supervisor'; then
    ok "the image runs as /openshell-sandbox too"
else
    bad "the image runs as /openshell-sandbox" "$out"
fi

# ------------------------------------------------------- linux/arm64 image --
# The cross-built binary (image/build-arm64.sh, run by tests/build.sh)
# packaged for linux/arm64. The prebuilt stages only place files and run on
# the build machine's platform, so no arm64 emulation is needed to build
# it; its binary then runs under qemu-user (tests/arm64/run.sh checks more
# of that binary).
arm64_binary=${OPENSHELL_ARM64_BINARY:-$root/build-arm64/supervisor/openshell-supervisor}
ARM_IMG=localhost/openshell-e2e/supervisor:test-arm64
pm rmi -f "$ARM_IMG" >/dev/null 2>&1
if [ "${OPENSHELL_ARM64_LANE:-1}" = 0 ]; then
    skipped=$((skipped + 1)) n=$((n + 1))
    echo "ok $n - linux/arm64 image # SKIP OPENSHELL_ARM64_LANE=0: tests/build.sh built no arm64 binary"
elif [ ! -x "$arm64_binary" ] || ! command -v qemu-aarch64-static >/dev/null; then
    skip "linux/arm64 image" "no $arm64_binary or no qemu-aarch64-static (tests/build.sh, tests/setup-machine.sh)"
elif ! build_out=$(PODMAN="podman --runtime runc" "$root/image/build.sh" --platform linux/arm64 \
        --prebuilt "$arm64_binary" --base "$BASE_IMG" -t "$ARM_IMG" 2>&1); then
    bad "linux/arm64 image builds (image/build.sh --platform linux/arm64 --prebuilt)" "$(echo "$build_out" | tail -5)"
else
    arch=$(pm image inspect "$ARM_IMG" --format '{{.Os}}/{{.Architecture}}')
    cid=$(pm create --platform linux/arm64 "$ARM_IMG")
    mkdir -p "$work/armfs"
    pm export "$cid" | tar -xf - -C "$work/armfs"
    pm rm "$cid" >/dev/null
    arm_file=$(file -L "$work/armfs/openshell-supervisor")
    same_inode=no
    [ "$(stat -c %i "$work/armfs/openshell-supervisor")" = "$(stat -c %i "$work/armfs/openshell-sandbox" 2>/dev/null)" ] && same_inode=yes
    same_sha=no
    [ "$(sha256sum < "$work/armfs/openshell-supervisor")" = "$(sha256sum < "$arm64_binary")" ] && same_sha=yes
    if [ "$arch" = linux/arm64 ] && [[ $arm_file == *"ARM aarch64"*"statically linked"* ]] \
        && [ "$same_inode" = yes ] && [ "$same_sha" = yes ]; then
        ok "linux/arm64 image: platform $arch, the cross-built static aarch64 binary, /openshell-sandbox its hard link"
    else
        bad "linux/arm64 image: platform, binary, hard link" "platform $arch" "$arm_file" \
            "hard link: $same_inode, the cross-built binary: $same_sha"
    fi
    if out=$(qemu-aarch64-static "$work/armfs/openshell-sandbox" version 2>&1) \
        && echo "$out" | grep -q "^openshell-supervisor $want_version "; then
        ok "the arm64 image's binary runs under qemu-user: $out"
    else
        bad "the arm64 image's binary runs under qemu-user" "$out"
    fi
    pm rmi -f "$ARM_IMG" >/dev/null 2>&1
fi

# ---------------------------------------------------------- sandbox images --
mkdir -p "$work/deb" "$work/bb/bin" "$work/bb/etc"
cat > "$work/deb/Containerfile" <<EOF
FROM $BASE_IMG
RUN useradd --home-dir /sandbox --create-home --uid 1000 --shell /bin/bash sandbox && mkdir -p /app \
 && echo "# image-home-marker" >> /sandbox/.bashrc
EOF
build_out=$(pm build -t "$DEB_IMG" "$work/deb" 2>&1) && ok "Debian sandbox image builds" \
    || fatal "Debian sandbox image builds" "$(echo "$build_out" | tail -5)"

cp "$(command -v busybox)" "$work/bb/bin/busybox"
file -L "$work/bb/bin/busybox" | grep -q 'statically linked' || fatal "busybox is static" "$(file -L "$work/bb/bin/busybox")"
printf 'root:x:0:0:root:/root:/bin/sh\nsandbox:x:1000:1000:sandbox:/sandbox:/bin/sh\n' > "$work/bb/etc/passwd"
printf 'root:x:0:\nsandbox:x:1000:\n' > "$work/bb/etc/group"
cat > "$work/bb/Containerfile" <<'EOF'
FROM scratch
COPY bin/busybox /bin/busybox
COPY etc/passwd etc/group /etc/
RUN ["/bin/busybox", "mkdir", "-p", "/usr/bin", "/sbin", "/usr/sbin", "/tmp", "/sandbox", "/app", "/var/log"]
RUN ["/bin/busybox", "--install", "-s"]
EOF
build_out=$(pm build -t "$BB_IMG" "$work/bb" 2>&1) && ok "busybox-only sandbox image builds" \
    || fatal "busybox-only sandbox image builds" "$(echo "$build_out" | tail -5)"
libs=$(pm run --rm --entrypoint /bin/busybox "$BB_IMG" find / -xdev \( -name 'libc.so*' -o -name 'ld-linux*' -o -name 'libc.musl*' -o -name 'ld-musl*' \) 2>&1)
if [ -n "$libs" ]; then
    bad "busybox image has no libc" "found: $libs"
else
    ok "busybox image has no libc and no dynamic loader"
fi

# ------------------------------------------------- policy and gateway keys --
mkdir -p "$work/keys" "$work/gw"
ssh-keygen -q -t ed25519 -N '' -C gateway@e2e -f "$work/gw/id" || fatal "ssh-keygen"
ssh-keygen -q -t ed25519 -N '' -C stranger@e2e -f "$work/gw/stranger" || fatal "ssh-keygen"
cp "$work/gw/id.pub" "$work/keys/authorized_keys"
chmod 0600 "$work/keys/authorized_keys"
policy_marker="e2e-$TAG-$RANDOM"
cat > "$work/policy.yaml" <<EOF
# $policy_marker
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /bin, /lib, /etc, /proc, /dev/urandom, /app, /var/log]
  read_write: [/tmp, /dev/null]
landlock:
  compatibility: best_effort
# No network section: the default mode, proxy (own network namespace, egress
# only through the supervisor): what NET_ADMIN and SYS_PTRACE are for.
# Seen inside the sandbox only if the supervisor read this file.
environment:
  OE2E_POLICY_MARKER: "$policy_marker"
EOF

# Exactly the chart's agent container: every default capability dropped, its
# list added, its read-only root (--read-only-tmpfs=false: Kubernetes mounts
# no tmpfs of its own on /tmp, /run).
RUN_SEC=(--cap-drop="$CHART_CAPS_DROP" --cap-add="$CHART_CAPS" --security-opt seccomp=unconfined --security-opt apparmor=unconfined)
[ "$CHART_RO_ROOT" = true ] && RUN_SEC+=(--read-only --read-only-tmpfs=false)
[ "$CHART_CAPS_DROP" = ALL ] || bad "the chart drops every default capability" "drop: $CHART_CAPS_DROP"
log "agent container as the chart renders it: ${RUN_SEC[*]}"
RUN_FILES=(-v "$work/policy.yaml:/etc/openshell/policy.yaml:ro" -v "$work/keys:/etc/openshell/ssh:ro")

# Delivery (b) needs a volume filled by copy-self, run like the chart's init
# container: non-root, read-only root filesystem, no capabilities.
fill_volume() { # volume
    pm volume create --label "openshell-e2e=$TAG" --opt o=uid=65532,gid=65532 "$1" >/dev/null || return 1
    pm run --rm --label "openshell-e2e=$TAG" --user 65532:65532 --read-only --cap-drop all \
        --security-opt no-new-privileges -v "$1:/opt/openshell/bin" "$SUP_IMG" copy-self "$BIN"
}

host_pid_of() { pm inspect -f '{{.State.Pid}}' "$1"; }

wait_port() { # host port, seconds
    local i
    for ((i = 0; i < $2 * 5; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.2
    done
    return 1
}

ssh_to() { # port key command...
    local port=$1 key=$2
    shift 2
    timeout 30 ssh -F /dev/null -i "$key" -p "$port" -o BatchMode=yes -o IdentitiesOnly=yes \
        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
        -o ConnectTimeout=10 sandbox@127.0.0.1 "$@"
}

# One sandbox run: image, delivery ("image" or "volume"), label for messages.
scenario() {
    local img=$1 delivery=$2 what="$3 / $2 delivery"
    shift 3
    local extra_args=("$@")
    [ ${#extra_args[@]} -gt 0 ] && what="$what, ${extra_args[*]}"
    local name="$TAG-$(echo "$what" | tr -c 'a-z0-9\n' '-' | cut -c1-40)-$RANDOM"
    local mount
    if [ "$delivery" = image ]; then
        mount=(--mount "type=image,source=$SUP_IMG,destination=/opt/openshell/bin")
    else
        local vol="$name-bin"
        if ! out=$(fill_volume "$vol" 2>&1); then
            bad "$what: copy-self fills the volume (non-root, read-only rootfs, no caps)" "$out"
            return
        fi
        local mp copied
        mp=$(pm volume inspect -f '{{.Mountpoint}}' "$vol")
        copied=$(stat -c '%a %u' "$mp/openshell-supervisor" 2>&1)
        if [ "$copied" = "755 65532" ] && [ "$(sha256sum < "$mp/openshell-supervisor" | cut -d' ' -f1)" = "$expected_sha" ]; then
            ok "$what: copy-self fills the volume (non-root, read-only rootfs, no caps): mode 0755, same binary"
        else
            bad "$what: copy-self fills the volume with the binary, mode 0755" "mode/owner: $copied" "$(ls -la "$mp" 2>&1)"
            return
        fi
        mount=(-v "$vol:/opt/openshell/bin:ro")
    fi

    local files=("${RUN_FILES[@]}")
    if [[ " ${extra_args[*]} " == *" --userns=auto "* ]]; then
        # Root of the runtime's user namespace is not host root: it cannot
        # read the root-only key file (the kubelet gives a Secret volume to
        # the pod's user namespace). The public keys, world-readable.
        mkdir -p "$work/keys-userns"
        install -m 0644 "$work/keys/authorized_keys" "$work/keys-userns/authorized_keys"
        files=(-v "$work/policy.yaml:/etc/openshell/policy.yaml:ro" -v "$work/keys-userns:/etc/openshell/ssh:ro")
    fi
    # OPENSHELL_SSH_LISTEN as the chart sets it (the dual-stack default).
    if ! out=$(pm run -d --name "$name" --label "openshell-e2e=$TAG" "${RUN_SEC[@]}" "${files[@]}" \
            "${extra_args[@]}" "${mount[@]}" -p 127.0.0.1::2222 -e OPENSHELL_SHUTDOWN_GRACE_SECS=$SUP_GRACE \
            -e OPENSHELL_LOG_LEVEL=info -e OPENSHELL_SSH_LISTEN="$CHART_LISTEN" --stop-timeout $STOP_TIMEOUT \
            --entrypoint "$BIN" "$img" run -- sh -c 'echo "policy-marker=$OE2E_POLICY_MARKER"; exec sleep 3600' 2>&1); then
        bad "$what: container starts" "$out"
        return
    fi
    sleep 2
    if [ "$(pm inspect -f '{{.State.Running}}' "$name")" != true ]; then
        bad "$what: supervisor keeps running with its main process" \
            "exit code $(pm inspect -f '{{.State.ExitCode}}' "$name")" "$(pm logs "$name" 2>&1 | tail -8)"
        return
    fi
    ok "$what: supervisor keeps running with its main process"

    # PID 1 of the container is the delivered binary.
    local hpid cmd0 exe_sha
    hpid=$(host_pid_of "$name")
    cmd0=$(tr '\0' '\n' < "/proc/$hpid/cmdline" | head -n 1)
    exe_sha=$(sha256sum "/proc/$hpid/exe" 2>/dev/null | cut -d' ' -f1)
    if [ "$cmd0" = "$BIN" ] && [ "$exe_sha" = "$expected_sha" ] \
        && [ "$(pm exec "$name" cat /proc/1/cmdline | tr '\0' '\n' | head -n 1)" = "$BIN" ]; then
        ok "$what: PID 1 is the delivered supervisor ($BIN, same sha256 as the image's)"
    else
        bad "$what: PID 1 is the delivered supervisor" "argv0: $cmd0" "exe sha256: $exe_sha (want $expected_sha)"
    fi
    if [[ " ${extra_args[*]} " == *" --userns=auto "* ]]; then
        local host_uid
        host_uid=$(awk '/^Uid:/ {print $2}' "/proc/$hpid/status")
        if [ "$host_uid" != 0 ] && [ "$(pm exec "$name" id -u)" = 0 ]; then
            ok "$what: the supervisor is root in the container but host uid $host_uid (as with hostUsers: false)"
        else
            bad "$what: the supervisor runs in a user namespace of the runtime's" "host uid $host_uid"
        fi
    fi
    if pm top "$name" args 2>/dev/null | grep -q '^sleep 3600'; then
        ok "$what: the main process (sleep 3600) runs under it"
    else
        bad "$what: the main process runs under it" "$(pm top "$name" pid ppid args 2>&1)"
    fi

    # The supervisor read the mounted policy: its environment reached the
    # main process (the keys are proven by the SSH checks below).
    if pm logs "$name" 2>/dev/null | grep -qx "policy-marker=$policy_marker"; then
        ok "$what: the main process got the mounted policy's environment (the supervisor read it)"
    else
        bad "$what: the main process got the mounted policy's environment" "$(pm logs "$name" 2>&1 | grep -v '^{' | tail -3)"
    fi
    if pm exec "$name" sh -c "echo x >> $BIN" >/dev/null 2>&1; then
        bad "$what: the delivered binary is read-only in the sandbox container" "appending to $BIN worked"
    elif pm exec "$name" sh -c "rm -f $BIN" >/dev/null 2>&1 || ! pm exec "$name" test -e "$BIN"; then
        bad "$what: the delivered binary is read-only in the sandbox container" "removing $BIN worked"
    else
        ok "$what: the delivered binary is read-only in the sandbox container"
    fi

    # SSH from the host through the published port.
    local port
    port=$(pm port "$name" 2222 | head -n 1 | sed 's/.*://')
    if ! wait_port "$port" 10; then
        if [ "$SSH_MODE" = 1 ]; then
            bad "$what: SSH bridge listens on 2222" "$(pm logs "$name" 2>&1 | tail -5)"
        else
            skip "$what: ssh into the sandbox" "nothing listens on 2222 (SSH bridge not in this build; OPENSHELL_E2E_SSH=1 makes this a failure)"
        fi
    elif [ "$SSH_MODE" = 0 ]; then
        skip "$what: ssh into the sandbox" "OPENSHELL_E2E_SSH=0"
    else
        local token="ssh-$RANDOM$RANDOM" out outer_ns
        # The sandbox has its own PID namespace: not the one where the
        # supervisor is PID 1 (the sandbox init is a fork, so argv says nothing).
        outer_ns=$(pm exec "$name" readlink /proc/1/ns/pid)
        out=$(ssh_to "$port" "$work/gw/id" "echo $token; echo ns=\$(readlink /proc/self/ns/pid); test -e /etc/openshell/ssh/authorized_keys && echo KEYS-VISIBLE || echo keys-hidden; echo marker=\$OE2E_POLICY_MARKER" 2>&1)
        if echo "$out" | grep -qx "$token" && echo "$out" | grep -q '^ns=pid:' && echo "$out" | grep -qx "marker=$policy_marker" \
            && ! echo "$out" | grep -qxF "ns=$outer_ns" && echo "$out" | grep -qx keys-hidden; then
            ok "$what: ssh with the gateway key runs a command inside the sandbox (own PID namespace, gateway keys hidden)"
        else
            bad "$what: ssh with the gateway key runs a command inside the sandbox" "$out" "supervisor's PID namespace: $outer_ns"
        fi
        if ssh_to "$port" "$work/gw/stranger" true >/dev/null 2>&1; then
            bad "$what: a key not in authorized_keys is refused"
        else
            ok "$what: a key not in authorized_keys is refused"
        fi
    fi

    # podman stop: SIGTERM, and the supervisor must be gone before the grace ends.
    local t0 t1 code
    t0=$(date +%s.%N)
    pm stop -t $STOP_TIMEOUT "$name" >/dev/null 2>&1
    t1=$(date +%s.%N)
    code=$(pm inspect -f '{{.State.ExitCode}}' "$name")
    local took
    took=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    if awk -v t="$took" -v g=$STOP_TIMEOUT 'BEGIN { exit !(t < g) }' && [ "$code" = 143 ]; then
        ok "$what: podman stop ends it cleanly in ${took}s (< ${STOP_TIMEOUT}s), exit 143 = 128+SIGTERM of the main process"
    else
        bad "$what: podman stop ends it cleanly within ${STOP_TIMEOUT}s" "took ${took}s, exit code $code" "$(pm logs "$name" 2>&1 | tail -5)"
    fi
}

scenario "$DEB_IMG" image debian
scenario "$DEB_IMG" volume debian
scenario "$BB_IMG" image busybox
scenario "$BB_IMG" volume busybox
# hostUsers: false: a user namespace of the runtime's, as Kubernetes makes one.
# (podman cannot mount an image volume into such a container: the
# init-container delivery, which works on every cluster.)
scenario "$DEB_IMG" volume debian --userns=auto

SUP_MOUNT=(--mount "type=image,source=$SUP_IMG,destination=/opt/openshell/bin")

# A user namespace made under the runtime's masked /proc (a runtime that
# masks first and unshares after; nested containers): the kernel refuses
# the sandbox a fresh /proc (mount_too_revealing). The supervisor must say
# so and name the pod setting; with the masks lifted (podman's unmask=ALL,
# Kubernetes' procMount: Unmasked) that refusal is gone (the run then stops
# later: unshare --map-root-user denies setgroups). SETFCAP: mapping uid 0
# needs it (Linux 5.12), for the runtime's part only.
nested() {
    timeout 60 podman --runtime runc run --rm --label "openshell-e2e=$TAG" "${RUN_SEC[@]}" --cap-add SETFCAP \
        "${RUN_FILES[@]}" "${SUP_MOUNT[@]}" -e OPENSHELL_SSH_LISTEN=off "$@" \
        --entrypoint unshare "$DEB_IMG" --user --map-root-user --mount "$BIN" run -- true 2>&1
}
out=$(nested)
code=$?
if [ "$code" != 0 ] && echo "$out" | grep -q 'mount proc on /proc' \
        && echo "$out" | grep -q 'securityContext.procMount: Unmasked' && echo "$out" | grep -q 'hostUsers: false'; then
    ok "a fresh /proc refused under masked paths in a user namespace: exit $code, the error names the cause and procMount: Unmasked"
else
    bad "a fresh /proc refused under masked paths names the cause and procMount: Unmasked" "exit $code" "$(echo "$out" | tail -4)"
fi
out=$(nested --security-opt unmask=ALL)
if echo "$out" | grep -q 'mount proc on'; then
    bad "with the masks lifted (unmask=ALL) the sandbox's /proc mounts" "$(echo "$out" | tail -4)"
else
    ok "with the masks lifted (unmask=ALL, as procMount: Unmasked) the sandbox's /proc mounts"
fi

# ------------------------------------------------ least privilege, measured --
# With exactly the chart's capabilities `check` holds every layer, and `run`
# (own network namespace, SSH on) starts; without any one of them `run` fails:
# the list is the minimum.
out=$(timeout 60 podman --runtime runc run --rm --label "openshell-e2e=$TAG" "${RUN_SEC[@]}" "${RUN_FILES[@]}" \
    "${SUP_MOUNT[@]}" --entrypoint "$BIN" "$DEB_IMG" check 2>&1)
code=$?
if [ "$code" = 0 ] && echo "$out" | grep -q '^network *enforced' && echo "$out" | grep -q '^user-ns *enforced'; then
    ok "check with --cap-drop=all --cap-add=$CHART_CAPS (the chart's list): every layer enforced"
else
    bad "check with exactly the chart's capabilities" "exit $code" "$(echo "$out" | grep -v '^{' | tail -12)"
fi
for cap in ${CHART_CAPS//,/ }; do
    fewer=$(echo ",$CHART_CAPS," | sed "s/,$cap,/,/; s/^,//; s/,\$//")
    sec=(--cap-drop=all --security-opt seccomp=unconfined --security-opt apparmor=unconfined --read-only --read-only-tmpfs=false)
    [ -n "$fewer" ] && sec+=(--cap-add="$fewer")
    out=$(timeout 60 podman --runtime runc run --rm --label "openshell-e2e=$TAG" "${sec[@]}" "${RUN_FILES[@]}" \
        "${SUP_MOUNT[@]}" -e OPENSHELL_SSH_LISTEN="$CHART_LISTEN" --entrypoint "$BIN" "$DEB_IMG" run -- true 2>&1)
    code=$?
    if [ "$code" != 0 ]; then
        ok "without $cap (only $fewer) the sandbox cannot be built: exit $code, $(echo "$out" | grep -o '"cause":"[^"]*"' | head -1)"
    else
        bad "without $cap the sandbox cannot be built (else the chart grants too much)" "$(echo "$out" | tail -3)"
    fi
done

# --------------------------------------------------- workspace ownership --
# The claim is root-owned 0755 on most block storage. Without fsGroup the
# sandbox user cannot write it; the kubelet's fsGroup handling (chgrp to the
# fsGroup, g+rwX, setgid directories; the gid also becomes a supplementary
# group of every container) with the chart's fsGroup makes it writable, and
# the chart's seed script copies the image's home into it once.
# A host directory: a podman named volume would copy the image's /sandbox
# into itself and take its owner, which a fresh claim does not.
wsdir="$work/workspace"
mkdir "$wsdir" && chown 0:0 "$wsdir" && chmod 0755 "$wsdir"
ws="$wsdir"
agent_write() { # extra args...
    timeout 60 podman --runtime runc run --rm --label "openshell-e2e=$TAG" "${RUN_SEC[@]}" "${RUN_FILES[@]}" \
        "${SUP_MOUNT[@]}" "$@" -v "$ws:/sandbox" -e OPENSHELL_SSH_LISTEN=off \
        -e OPENSHELL_SANDBOX_UID="$CHART_UID" -e OPENSHELL_SANDBOX_GID="$CHART_GID" \
        --entrypoint "$BIN" "$DEB_IMG" run -- sh -c 'echo agent > /sandbox/agent-file && id -u && cat /sandbox/.bashrc 2>/dev/null | grep -c image-home-marker' 2>&1
}
out=$(agent_write)
if [ $? != 0 ] && echo "$out" | grep -q 'Permission denied'; then
    ok "root-owned 0755 workspace without fsGroup: the sandbox user cannot write it (the reported failure)"
else
    bad "root-owned 0755 workspace without fsGroup is not writable (the test would prove nothing)" "$(echo "$out" | tail -3)"
fi
if [ -n "$CHART_FSGROUP" ] && [ "$CHART_FSGROUP_POLICY" = OnRootMismatch ]; then
    # OnRootMismatch: the kubelet changes ownership only when the root does not match.
    if [ "$(stat -c %g "$wsdir")" != "$CHART_FSGROUP" ]; then
        chgrp -R "$CHART_FSGROUP" "$wsdir" && chmod -R g+rwX "$wsdir" && find "$wsdir" -type d -exec chmod g+s {} +
    fi
    seed() {
        timeout 60 podman --runtime runc run --rm --label "openshell-e2e=$TAG" --user "$CHART_UID:$CHART_GID" \
            --group-add "$CHART_FSGROUP" --cap-drop=all --read-only --security-opt no-new-privileges \
            -v "$ws:$CHART_SEED_MOUNT" -e SOURCE="$CHART_SEED_SOURCE" --entrypoint sh "$DEB_IMG" -c "$CHART_SEED_SCRIPT" 2>&1
    }
    s1=$(seed); c1=$?
    s2=$(seed); c2=$?
    out=$(agent_write --group-add "$CHART_FSGROUP")
    code=$?
    if [ $c1 = 0 ] && echo "$s1" | grep -q 'seeded from' && [ $c2 = 0 ] && echo "$s2" | grep -q 'already seeded' \
        && [ $code = 0 ] && [ "$(echo "$out" | grep -v '^{' | tail -2 | tr '\n' ' ')" = "$CHART_UID 1 " ] \
        && [ "$(cat "$wsdir/agent-file" 2>/dev/null)" = agent ]; then
        ok "with the chart's fsGroup $CHART_FSGROUP ($CHART_FSGROUP_POLICY) and seed script: seeded once, the agent (uid $CHART_UID) writes the workspace and has the image's .bashrc"
    else
        bad "with the chart's fsGroup and seed script the agent writes the workspace" "seed 1: $c1 $s1" "seed 2: $c2 $s2" "agent: $code $(echo "$out" | tail -3)" "$(ls -lan "$wsdir")"
    fi
else
    bad "the chart sets fsGroup with OnRootMismatch" "fsGroup '$CHART_FSGROUP' policy '$CHART_FSGROUP_POLICY'"
fi

# ----------------------------------------------- IPv4 fallback of [::]:2222 --
# A kernel without IPv6 (ipv6.disable=1): socket(AF_INET6) fails with
# EAFNOSUPPORT, made so here by a seccomp profile of the runtime.
cat > "$work/no-ipv6.json" <<'JSON'
{"defaultAction": "SCMP_ACT_ALLOW",
 "syscalls": [{"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97,
               "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_EQ"}]}]}
JSON
# Network mode pod: this checks the SSH listener alone (the egress proxy's
# own listeners need IPv6 loopback today: it fails to start without IPv6).
{ cat "$work/policy.yaml"; printf 'network:\n  mode: pod\n'; } > "$work/policy-pod.yaml"
name="$TAG-noipv6"
sec_noipv6=()
for a in "${RUN_SEC[@]}"; do [ "$a" = "seccomp=unconfined" ] && a="seccomp=$work/no-ipv6.json"; sec_noipv6+=("$a"); done
if pm run -d --name "$name" --label "openshell-e2e=$TAG" "${sec_noipv6[@]}" "${SUP_MOUNT[@]}" \
        -v "$work/policy-pod.yaml:/etc/openshell/policy.yaml:ro" -v "$work/keys:/etc/openshell/ssh:ro" \
        -p 127.0.0.1::2222 -e OPENSHELL_SSH_LISTEN="$CHART_LISTEN" --entrypoint "$BIN" "$DEB_IMG" run -- sleep 3600 >/dev/null 2>&1; then
    port=$(pm port "$name" 2222 | head -n 1 | sed 's/.*://')
    wait_port "$port" 10
    out=$(ssh_to "$port" "$work/gw/id" "echo v4-ok" 2>&1)
    logline=$(pm logs "$name" 2>&1 | grep 'no IPv6' | head -1)
    if [ "$out" = v4-ok ] && echo "$logline" | grep -q '"address":"0.0.0.0:2222"'; then
        ok "no IPv6 in the kernel: $CHART_LISTEN falls back to 0.0.0.0:2222 with a log line, SSH works"
    else
        bad "no IPv6 in the kernel: the listener falls back to IPv4" "ssh: $out" "log: $logline" "$(pm logs "$name" 2>&1 | tail -3)"
    fi
    pm rm -f -t 0 "$name" >/dev/null 2>&1
else
    bad "no-IPv6 container starts" "$(pm logs "$name" 2>&1 | tail -3)"
fi

# ------------------------------------------------------ gateway key rotation --
# The keys directory laid out as the kubelet writes a Secret volume
# (authorized_keys -> ..data/authorized_keys, ..data -> ..TIMESTAMP) and
# updated as it does: a new timestamped directory, then ..data renamed over.
kd="$work/rotating"
mkdir -p "$kd/..v1"
cp "$work/gw/id.pub" "$kd/..v1/authorized_keys"
ln -s ..v1 "$kd/..data"
ln -s ..data/authorized_keys "$kd/authorized_keys"
swap_keys() { # version content-file
    mkdir "$kd/..$1" && cp "$2" "$kd/..$1/authorized_keys"
    ln -s "..$1" "$kd/..data_tmp" && mv -T "$kd/..data_tmp" "$kd/..data"
}
until_ssh() { # port key want(ok|refused) -> prints seconds taken, fails after 5 s
    local t0 i
    t0=$(date +%s.%N)
    for ((i = 0; i < 50; i++)); do
        if ssh_to "$1" "$2" true >/dev/null 2>&1; then [ "$3" = ok ] && break; else [ "$3" = refused ] && break; fi
        sleep 0.1
    done
    awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'
    [ "$i" -lt 50 ]
}
name="$TAG-rotate"
if pm run -d --name "$name" --label "openshell-e2e=$TAG" "${RUN_SEC[@]}" -v "$work/policy.yaml:/etc/openshell/policy.yaml:ro" \
        -v "$kd:/etc/openshell/ssh:ro" "${SUP_MOUNT[@]}" -p 127.0.0.1::2222 -e OPENSHELL_LOG_LEVEL=info \
        --entrypoint "$BIN" "$DEB_IMG" run -- sleep 3600 >/dev/null 2>&1; then
    port=$(pm port "$name" 2222 | head -n 1 | sed 's/.*://')
    wait_port "$port" 10
    if ssh_to "$port" "$work/gw/id" true && ! ssh_to "$port" "$work/gw/stranger" true 2>/dev/null; then
        # Rotate: the stranger's key replaces the gateway's.
        swap_keys v2 "$work/gw/stranger.pub"
        t_new=$(until_ssh "$port" "$work/gw/stranger" ok); new_ok=$?
        t_old=$(until_ssh "$port" "$work/gw/id" refused); old_ok=$?
        if [ $new_ok = 0 ] && [ $old_ok = 0 ] && awk -v a="$t_new" -v b="$t_old" 'BEGIN { exit !(a <= 2 && b <= 2) }' \
            && [ "$(pm inspect -f '{{.State.Running}}' "$name")" = true ]; then
            ok "rotated Secret (..data swapped): the new key is accepted after ${t_new}s, the removed one refused (${t_old}s), no restart"
        else
            bad "rotated key accepted and removed key refused within 2 s" "new key: $t_new s (ok=$new_ok)" "old key refused: $t_old s (ok=$old_ok)" "$(pm logs "$name" 2>&1 | grep -i 'authorized' | tail -3)"
        fi
        # A broken file keeps the last good keys and says so.
        printf 'this is not a key\n' > "$work/broken-keys"
        swap_keys v3 "$work/broken-keys"
        sleep 1
        logline=$(pm logs "$name" 2>&1 | grep 'not reloaded' | tail -1)
        if ssh_to "$port" "$work/gw/stranger" true && ! ssh_to "$port" "$work/gw/id" true 2>/dev/null \
            && echo "$logline" | grep -q '"level":"error"'; then
            ok "a broken authorized_keys keeps the last good keys and logs an error"
        else
            bad "a broken authorized_keys keeps the last good keys and logs an error" "log: $logline"
        fi
    else
        bad "key rotation: the initial key works and the stranger is refused" "$(pm logs "$name" 2>&1 | tail -3)"
    fi
    pm rm -f -t 0 "$name" >/dev/null 2>&1
else
    bad "key rotation container starts" "$(pm logs "$name" 2>&1 | tail -3)"
fi

# ------------------------------------------------------- broken policy --
# The supervisor reads the mounted policy: a broken one at
# /etc/openshell/policy.yaml must stop it with exit 2 naming that file.
printf 'version: 1\nfilesystem_policy:\n  read_write: [relative/path]\n' > "$work/bad-policy.yaml"
out=$(timeout 60 podman --runtime runc run --rm --label "openshell-e2e=$TAG" "${RUN_SEC[@]}" \
    -v "$work/bad-policy.yaml:/etc/openshell/policy.yaml:ro" -v "$work/keys:/etc/openshell/ssh:ro" \
    "${SUP_MOUNT[@]}" --entrypoint "$BIN" "$DEB_IMG" run -- true 2>&1)
code=$?
if [ "$code" = 2 ] && echo "$out" | grep -q '/etc/openshell/policy.yaml'; then
    ok "a broken mounted policy stops the supervisor with exit 2 naming /etc/openshell/policy.yaml"
else
    bad "a broken mounted policy stops the supervisor with exit 2 naming the file" "exit $code" "$(echo "$out" | tail -3)"
fi

# A main process that ignores SIGTERM: the supervisor escalates to SIGKILL
# after OPENSHELL_SHUTDOWN_GRACE_SECS and exits 137 (128 + SIGKILL) before podman would.
name="$TAG-stubborn"
if pm run -d --name "$name" --label "openshell-e2e=$TAG" "${RUN_SEC[@]}" "${RUN_FILES[@]}" "${SUP_MOUNT[@]}" \
        -e OPENSHELL_SHUTDOWN_GRACE_SECS=$SUP_GRACE -e OPENSHELL_SSH_LISTEN=off \
        --entrypoint "$BIN" "$BB_IMG" run -- sh -c 'trap "" TERM; while :; do sleep 1; done' >/dev/null 2>&1; then
    sleep 2
    t0=$(date +%s.%N)
    pm stop -t 20 "$name" >/dev/null 2>&1
    t1=$(date +%s.%N)
    took=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    code=$(pm inspect -f '{{.State.ExitCode}}' "$name")
    if awk -v t="$took" -v g=$SUP_GRACE 'BEGIN { exit !(t >= g - 0.5 && t < 20) }' && [ "$code" = 137 ]; then
        ok "SIGTERM-ignoring main process: killed after the ${SUP_GRACE}s supervisor grace, stop took ${took}s, exit 137 = 128+SIGKILL"
    else
        bad "SIGTERM-ignoring main process is killed after the supervisor's grace with exit 137" "took ${took}s, exit $code" "$(pm logs "$name" 2>&1 | tail -5)"
    fi
else
    bad "SIGTERM-ignoring main process: container starts"
fi

summary
[ "$failed" = 0 ]
