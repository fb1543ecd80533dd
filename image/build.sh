#!/bin/bash
# Builds the supervisor image with every label and argument taken from the
# checkout, so that no label is empty and the build is reproducible:
#   version          VERSION (the one version source: meson, chart, sideload)
#   revision         git rev-parse HEAD (+"-dirty" with local changes)
#   created          SOURCE_DATE_EPOCH (default: the last commit's time), RFC 3339
#   licenses         SPDX expression of this project and every linked library
#   base.name        BASE resolved to NAME@sha256:DIGEST (refused if it cannot be)
#
# Usage: image/build.sh [--prebuilt BINARY] [--platform P] [--base IMAGE]
#                       [--source URL] -t TAG [extra podman build args...]
#   --prebuilt BINARY  package this static binary (target `prebuilt`) instead
#                      of compiling it in the builder stage (target `image`)
#   --base IMAGE       Debian bookworm image (default localhost/debian:bookworm)
# Environment: PODMAN (default "podman --runtime runc").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
PODMAN=${PODMAN:-podman --runtime runc}

prebuilt="" platform="" base=localhost/debian:bookworm tag="" source="https://github.com/NVIDIA/OpenShell"
extra=()
while [ $# -gt 0 ]; do
    case $1 in
        --prebuilt) prebuilt=$2; shift 2 ;;
        --platform) platform=$2; shift 2 ;;
        --base) base=$2; shift 2 ;;
        --source) source=$2; shift 2 ;;
        -t) tag=$2; shift 2 ;;
        *) extra+=("$1"); shift ;;
    esac
done
[ -n "$tag" ] || { echo "image/build.sh: -t TAG is required" >&2; exit 2; }

version=$(tr -d ' \n' < "$root/VERSION")
if [ "$(git -C "$root" rev-parse --show-toplevel 2>/dev/null)" = "$root" ]; then
    revision=$(git -C "$root" rev-parse HEAD)
    [ -z "$(git -C "$root" status --porcelain --untracked-files=no)" ] || revision="$revision-dirty"
    : "${SOURCE_DATE_EPOCH:=$(git -C "$root" log -1 --format=%ct)}"
else
    # A source tarball: no commit to name, and its files' times stand in
    # for the commit's (SOURCE_DATE_EPOCH, when set, wins).
    revision=unknown
    : "${SOURCE_DATE_EPOCH:=$(stat -c %Y "$root/VERSION")}"
fi
export SOURCE_DATE_EPOCH
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)

# Pin the base by digest: a tag may move between two builds.
if [[ $base != *@sha256:* ]]; then
    digest=$($PODMAN image inspect --format '{{.Digest}}' "$base" 2>/dev/null || true)
    [[ $digest == sha256:* ]] || { echo "image/build.sh: cannot resolve $base to a digest (pull or import it first)" >&2; exit 2; }
    base="${base%%@*}@$digest"
fi

licenses="Apache-2.0"
while read -r _ _ spdx; do
    [[ " AND $licenses AND " == *" AND $spdx AND "* ]] || licenses="$licenses AND $spdx"
done < "$here/licenses/libraries"
licenses="$licenses AND BSL-1.0"
# Parenthesise WITH-expressions so the AND-list stays unambiguous.
licenses=$(echo "$licenses" | sed 's/\([A-Za-z0-9.+-]*\) WITH \([A-Za-z0-9.-]*\)/(\1 WITH \2)/g')

args=(--no-cache --timestamp "$SOURCE_DATE_EPOCH" -f "$here/Containerfile"
      --build-arg BASE="$base" --build-arg BASE_DIGEST="$base"
      --build-arg VERSION="$version" --build-arg REVISION="$revision"
      --build-arg CREATED="$created" --build-arg SOURCE="$source"
      --build-arg LICENSES="$licenses" --build-arg SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH"
      -t "$tag")
[ -n "$platform" ] && args+=(--platform "$platform")

if [ -n "$prebuilt" ]; then
    ctx=$(mktemp -d)
    trap 'rm -rf "$ctx"' EXIT
    cp "$prebuilt" "$ctx/openshell-supervisor"
    mkdir "$ctx/licenses"
    cp "$here"/licenses/*.txt "$root/LICENSE" "$ctx/licenses/"
    exec $PODMAN build "${args[@]}" --target prebuilt "${extra[@]}" "$ctx"
fi
exec $PODMAN build "${args[@]}" --network host --ignorefile "$here/Containerfile.dockerignore" \
    --target image "${extra[@]}" "$root"
