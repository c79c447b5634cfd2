#!/usr/bin/env bash
# Installs what the test suites need, idempotently: Debian tools for the data path and the
# NBD interop tests, and the Node.js gRPC client used by the interop tests. libnbd-bin and
# fuse3 are no longer node prerequisites: the NBD interop tests (nbdinfo, nbdcopy, nbdfuse)
# and the node benchmark's comparison with the old nbdfuse path use them.
set -euo pipefail
cd "$(dirname "$0")/../.."

packages=(libnbd-bin nbdkit fio xfsprogs e2fsprogs qemu-utils openssl util-linux mount fuse3 sqlite3)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -f tests/interop/package.json ]; then
  if [ ! -d tests/interop/node_modules ] || [ tests/interop/package.json -nt tests/interop/node_modules ]; then
    echo "installing Node.js interop client packages"
    (cd tests/interop && npm install --no-audit --no-fund --loglevel=error && touch node_modules)
  fi
fi
