#!/usr/bin/env bash
# Installs everything the build, the demo and the test suites need on a
# Debian 12 machine, as root. Idempotent: packages already present are not
# fetched again.
set -euo pipefail

packages=(
  # build
  meson ninja-build pkg-config g++ protobuf-compiler libprotobuf-dev
  libseccomp-dev libcap-ng-dev libboost1.81-dev libspdlog-dev libfmt-dev
  libssh-dev libssl-dev zlib1g-dev libyaml-dev libgtest-dev libgmock-dev
  libc-ares-dev
  # tests: the empty-root probe, real SSH clients, the anchors of the benchmarks
  busybox-static openssh-client openssh-server rsync python3 util-linux
  iproute2 bubblewrap tini procps python3-paramiko file git ca-certificates curl strace
  openssl
  # fuzz build: clang 16 is the first to compile std::expected; its
  # libFuzzer and sanitizer runtimes; llvm-symbolizer for readable reports
  clang-16 libclang-rt-16-dev llvm
  # delivery tests: containers and the chart tools
  podman runc debootstrap unzip
  # the linux/arm64 binary (image/build-arm64.sh) and its test under qemu-user
  crossbuild-essential-arm64 qemu-user-static
  # ... and what its static link takes, for arm64 (Multi-Arch: same, so
  # beside the amd64 ones; apt upgrades an amd64 one to the same version)
  libprotobuf-dev:arm64 libseccomp-dev:arm64 libcap-ng-dev:arm64
  libboost1.81-dev:arm64 libspdlog-dev:arm64 libfmt-dev:arm64 libssh-dev:arm64
  libssl-dev:arm64 zlib1g-dev:arm64 libc-ares-dev:arm64 libyaml-dev:arm64
)

# The arm64 packages above need the architecture known to dpkg (and then
# to apt: they are missing, so the apt-get update below runs).
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "setup-machine: adding the arm64 architecture" >&2
  dpkg --add-architecture arm64
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup-machine: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Never remove a package to make room (an arm64 -dev package that is not
  # Multi-Arch: same would take its amd64 twin away): refuse instead.
  removed=$(apt-get install -s --no-install-recommends "${missing[@]}" | awk '/^Remv / {print $2}')
  if [ -n "$removed" ]; then
    echo "setup-machine: installing would remove:" $removed "; refusing" >&2
    exit 1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "setup-machine: installing npm" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
