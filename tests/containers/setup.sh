#!/bin/sh
# Installs what tests/containers/run.sh needs on a Debian 12 machine, as root.
# Idempotent: packages already present are left alone and apt is not asked.
set -eu

packages="podman runc debootstrap busybox-static openssh-client ca-certificates file git"

missing=""
for p in $packages; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing="$missing $p"
    fi
done

if [ -n "$missing" ]; then
    echo "setup: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing
else
    echo "setup: all packages present ($packages)"
fi

# podman --userns=auto (the suite's hostUsers: false run) takes its ranges
# from the `containers` entries of /etc/subuid and /etc/subgid.
for f in /etc/subuid /etc/subgid; do
    grep -q '^containers:' "$f" 2>/dev/null || echo 'containers:2147483647:2147483648' >> "$f"
done
