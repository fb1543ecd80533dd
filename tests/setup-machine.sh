#!/usr/bin/env bash
# Installs everything the build, the demo and the test suites need on a
# Debian 12 machine, as root. Idempotent: packages already present are not
# fetched again.
set -euo pipefail

packages=(
  # build
  meson ninja-build pkg-config g++ protobuf-compiler libprotobuf-dev
  libseccomp-dev libcap-ng-dev libboost1.81-dev libspdlog-dev libfmt-dev
  libssh-dev libssl-dev zlib1g-dev libyaml-cpp-dev libgtest-dev libgmock-dev
  libc-ares-dev
  # tests: the empty-root probe, real SSH clients, the anchors of the benchmarks
  busybox-static openssh-client openssh-server rsync python3 util-linux
  iproute2 bubblewrap tini procps python3-paramiko file git ca-certificates curl strace
  # fuzz build: clang 16 is the first to compile std::expected; its
  # libFuzzer and sanitizer runtimes; llvm-symbolizer for readable reports
  clang-16 libclang-rt-16-dev llvm
  # delivery tests: containers and the chart tools
  podman runc debootstrap unzip
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup-machine: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "setup-machine: installing npm" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
