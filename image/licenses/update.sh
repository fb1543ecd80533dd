#!/bin/sh
# Refreshes the notices of every library linked into the static binary from
# the Debian packages it is built from (their /usr/share/doc/PKG/copyright).
# Run on the build machine after a package update; tests/containers checks
# that the image carries one notice per library and that they are current.
# Usage: image/licenses/update.sh   (from anywhere; writes next to itself)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
# One version: an arm64 twin (Multi-Arch: same) is listed too, at the same one.
version() { dpkg-query -W -f='${Version}\n' "$1" | head -n 1; }
# library  package  SPDX
while read -r lib pkg spdx; do
    src=/usr/share/doc/$pkg/copyright
    [ -r "$src" ] || { echo "update.sh: $src missing: apt-get install $pkg" >&2; exit 1; }
    { echo "Library: $lib"
      echo "Debian package: $pkg $(version "$pkg")"
      echo "License: $spdx"
      echo
      cat "$src"; } > "$here/$lib.txt"
done < "$here/libraries"
# Boost (Asio, header-only): the Boost Software License block of its copyright file.
{ echo "Library: boost (Asio, header-only)"
  echo "Debian package: libboost1.81-dev $(version libboost1.81-dev)"
  echo "License: BSL-1.0"
  echo
  sed -n '/^ Boost Software License - Version 1.0/,/^ OTHER DEALINGS IN THE SOFTWARE\./p' \
      /usr/share/doc/libboost1.81-dev/copyright | sed 's/^ \.\{0,1\}//'; } > "$here/boost.txt"
# Full texts of the common licences the copyright files refer to.
for l in LGPL-2.1 GPL-3 Apache-2.0; do cp "/usr/share/common-licenses/$l" "$here/$l.txt"; done
