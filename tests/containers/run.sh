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
# The sandbox containers get what the supervisor needs to build namespaces,
# the same set the Helm chart grants (not --privileged):
#   --cap-add SYS_ADMIN,NET_ADMIN,SETPCAP
#   --security-opt seccomp=unconfined --security-opt apparmor=unconfined
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
#   OPENSHELL_TEST_CACHE         cache directory (default /var/tmp/openshell-tests):
#                                debootstrap root, podman storage, images
#
# Last line: "N passed, N failed, N skipped". Exit status 1 on any failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(git -C "$here" rev-parse --show-toplevel)

if [ "$(id -u)" != 0 ]; then
    echo "tests/containers/run.sh: needs root (podman with runc, debootstrap)" >&2
    exit 2
fi
"$here/setup.sh" >&2 || { echo "setup.sh failed" >&2; exit 2; }
. "$here/env.sh"

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
passed=0 failed=0 skipped=0

cleanup() {
    local ids
    ids=$(pm ps -aq --filter "label=openshell-e2e=$TAG" 2>/dev/null)
    [ -n "$ids" ] && pm rm -f -t 0 $ids >/dev/null 2>&1
    ids=$(pm volume ls -q --filter "label=openshell-e2e=$TAG" 2>/dev/null)
    [ -n "$ids" ] && pm volume rm -f $ids >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT

ok()   { passed=$((passed + 1)); echo "ok - $1"; }
bad()  { failed=$((failed + 1)); echo "not ok - $1"; shift; for l in "$@"; do echo "    $l"; done; }
skip() { skipped=$((skipped + 1)); echo "skip - $1: $2"; }
fatal() { bad "$@"; echo "$passed passed, $failed failed, $skipped skipped"; exit 1; }
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
    log "packaging $binary (Containerfile target prebuilt)"
    mkdir -p "$work/ctx"
    cp "$binary" "$work/ctx/openshell-supervisor"
    # --no-cache: buildah 1.28 reuses a cached LABEL layer whatever the
    # build arguments, so VERSION/SOURCE would not reach the labels.
    build_out=$(pm build --no-cache -f "$root/image/Containerfile" --target prebuilt \
        --build-arg PREBUILT=openshell-supervisor --build-arg SOURCE=file://"$root" \
        -t "$SUP_IMG" "$work/ctx" 2>&1) \
        || fatal "supervisor image (prebuilt target) builds" "$(echo "$build_out" | tail -5)"
    expected_sha=$(sha256sum "$binary" | cut -d' ' -f1)
else
    log "building the supervisor image with its builder stage (slow: apt and a full compile)"
    # --no-cache for the same LABEL reason as above (it redoes the apt step).
    build_out=$(pm build --no-cache --network host -f "$root/image/Containerfile" \
        --ignorefile "$root/image/Containerfile.dockerignore" \
        --build-arg BASE="$BASE_IMG" --build-arg SOURCE=file://"$root" \
        -t "$SUP_IMG" "$root" 2>&1) \
        || fatal "supervisor image (builder stage) builds" "$(echo "$build_out" | tail -15)"
    # Uncached builds leave their builder layers behind (about 1 GB each).
    pm image prune -f >/dev/null 2>&1
    expected_sha=""
fi
ok "supervisor image builds from image/Containerfile"

# Only /openshell-supervisor, mode 0555, statically linked, as entrypoint.
cid=$(pm create "$SUP_IMG")
pm export "$cid" > "$work/sup.tar"
pm rm "$cid" >/dev/null
listing=$(tar -tvf "$work/sup.tar" | grep -v '/$' | grep -v ' \./$' || true)
files=$(tar -tf "$work/sup.tar" | sed 's|^\./||' | grep -v '/$' | grep -v '^$' | grep -vE '^(etc|dev|proc|sys|run)(/|$)' || true)
mode=$(tar -tvf "$work/sup.tar" | awk '$NF ~ /^\.?\/?openshell-supervisor$/ {print $1}')
if [ "$files" = "openshell-supervisor" ] && [ "$mode" = "-r-xr-xr-x" ]; then
    ok "image holds only /openshell-supervisor, mode 0555"
else
    bad "image holds only /openshell-supervisor, mode 0555" "files: $(echo $files)" "mode: $mode" "$listing"
fi
tar -xf "$work/sup.tar" -C "$work" openshell-supervisor 2>/dev/null || tar -xf "$work/sup.tar" -C "$work" ./openshell-supervisor
if file -L "$work/openshell-supervisor" | grep -q 'statically linked' && ! file -L "$work/openshell-supervisor" | grep -q 'interpreter'; then
    ok "packaged binary is statically linked (no interpreter, no libc needed)"
else
    bad "packaged binary is statically linked" "$(file -L "$work/openshell-supervisor")"
fi
[ -z "$expected_sha" ] && expected_sha=$(sha256sum "$work/openshell-supervisor" | cut -d' ' -f1)

ep=$(pm image inspect "$SUP_IMG" --format '{{json .Config.Entrypoint}}')
[ "$ep" = '["/openshell-supervisor"]' ] && ok "entrypoint is /openshell-supervisor" || bad "entrypoint is /openshell-supervisor" "got $ep"
missing=""
for l in title description source version licenses; do
    v=$(pm image inspect "$SUP_IMG" --format "{{index .Labels \"org.opencontainers.image.$l\"}}")
    [ -n "$v" ] || missing="$missing $l"
done
[ -z "$missing" ] && ok "OCI labels title, description, source, version, licenses" || bad "OCI labels present" "missing or empty:$missing"

if out=$(pm run --rm "$SUP_IMG" version 2>&1) && echo "$out" | grep -q 'openshell-supervisor'; then
    ok "podman run IMAGE version: $out"
else
    bad "podman run IMAGE version" "$out"
fi

# ---------------------------------------------------------- sandbox images --
mkdir -p "$work/deb" "$work/bb/bin" "$work/bb/etc"
cat > "$work/deb/Containerfile" <<EOF
FROM $BASE_IMG
RUN useradd --create-home --uid 1000 --shell /bin/bash sandbox && mkdir -p /sandbox /app
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
EOF

RUN_SEC=(--cap-add SYS_ADMIN,NET_ADMIN,SETPCAP --security-opt seccomp=unconfined --security-opt apparmor=unconfined)
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
    local name="$TAG-$(echo "$3-$2" | tr -c 'a-z0-9\n' '-')"
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

    if ! out=$(pm run -d --name "$name" --label "openshell-e2e=$TAG" "${RUN_SEC[@]}" "${RUN_FILES[@]}" \
            "${mount[@]}" -p 127.0.0.1::2222 -e OPENSHELL_SHUTDOWN_GRACE_SECS=$SUP_GRACE \
            -e OPENSHELL_LOG_LEVEL=info --stop-timeout $STOP_TIMEOUT \
            --entrypoint "$BIN" "$img" run -- sleep 3600 2>&1); then
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
    if pm top "$name" args 2>/dev/null | grep -q '^sleep 3600'; then
        ok "$what: the main process (sleep 3600) runs under it"
    else
        bad "$what: the main process runs under it" "$(pm top "$name" pid ppid args 2>&1)"
    fi

    # Policy and keys are the mounted files, where the supervisor reads them.
    if [ "$(pm exec "$name" cat /etc/openshell/policy.yaml 2>&1)" = "$(cat "$work/policy.yaml")" ] \
        && [ "$(pm exec "$name" cat /etc/openshell/ssh/authorized_keys 2>&1)" = "$(cat "$work/keys/authorized_keys")" ]; then
        ok "$what: policy and authorized keys are the mounted files"
    else
        bad "$what: policy and authorized keys are the mounted files" "$(pm exec "$name" ls -l /etc/openshell /etc/openshell/ssh 2>&1)"
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
        out=$(ssh_to "$port" "$work/gw/id" "echo $token; echo ns=\$(readlink /proc/self/ns/pid); test -e /etc/openshell/ssh/authorized_keys && echo KEYS-VISIBLE || echo keys-hidden" 2>&1)
        if echo "$out" | grep -qx "$token" && echo "$out" | grep -q '^ns=pid:' \
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

# The supervisor reads the mounted policy: a broken one at
# /etc/openshell/policy.yaml must stop it with exit 2 naming that file.
# Runs once the binary has a policy loader (it lists validate-policy).
if pm run --rm "$SUP_IMG" --help 2>&1 | grep -q 'validate-policy'; then
    printf 'version: 1\nfilesystem_policy:\n  read_write: [relative/path]\n' > "$work/bad-policy.yaml"
    out=$(timeout 60 podman --runtime runc run --rm --label "openshell-e2e=$TAG" "${RUN_SEC[@]}" \
        -v "$work/bad-policy.yaml:/etc/openshell/policy.yaml:ro" -v "$work/keys:/etc/openshell/ssh:ro" \
        --mount "type=image,source=$SUP_IMG,destination=/opt/openshell/bin" \
        --entrypoint "$BIN" "$DEB_IMG" run -- true 2>&1)
    code=$?
    if [ "$code" = 2 ] && echo "$out" | grep -q '/etc/openshell/policy.yaml'; then
        ok "a broken mounted policy stops the supervisor with exit 2 naming /etc/openshell/policy.yaml"
    else
        bad "a broken mounted policy stops the supervisor with exit 2 naming the file" "exit $code" "$(echo "$out" | tail -3)"
    fi
else
    skip "a broken mounted policy stops the supervisor" "this build has no policy loader (no validate-policy subcommand)"
fi

# A main process that ignores SIGTERM: the supervisor escalates to SIGKILL
# after OPENSHELL_SHUTDOWN_GRACE_SECS and still exits before podman would.
name="$TAG-stubborn"
if pm run -d --name "$name" --label "openshell-e2e=$TAG" "${RUN_SEC[@]}" "${RUN_FILES[@]}" \
        --mount "type=image,source=$SUP_IMG,destination=/opt/openshell/bin" \
        -e OPENSHELL_SHUTDOWN_GRACE_SECS=$SUP_GRACE -e OPENSHELL_SSH_LISTEN=off \
        --entrypoint "$BIN" "$BB_IMG" run -- sh -c 'trap "" TERM; while :; do sleep 1; done' >/dev/null 2>&1; then
    sleep 2
    t0=$(date +%s.%N)
    pm stop -t 20 "$name" >/dev/null 2>&1
    t1=$(date +%s.%N)
    took=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    code=$(pm inspect -f '{{.State.ExitCode}}' "$name")
    if awk -v t="$took" -v g=$SUP_GRACE 'BEGIN { exit !(t >= g - 0.5 && t < 20) }'; then
        ok "SIGTERM-ignoring main process: killed after the ${SUP_GRACE}s supervisor grace, stop took ${took}s (exit $code)"
    else
        bad "SIGTERM-ignoring main process is killed after the supervisor's grace" "took ${took}s, exit $code" "$(pm logs "$name" 2>&1 | tail -5)"
    fi
else
    bad "SIGTERM-ignoring main process: container starts"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
