#!/bin/sh
# Installs the Debian packages Ward needs to build, test and run its demo.
# Idempotent: does nothing when everything is present. Needs root (or sudo)
# only when something is missing.
#   sh scripts/install-deps.sh          what building, testing and the demo need
#   sh scripts/install-deps.sh bench    also the peers the benchmarks compare
#                                       against (gocryptfs over FUSE)
set -eu

PKGS="build-essential meson ninja-build pkg-config
libssl-dev libseccomp-dev libyaml-dev libjansson-dev libsqlite3-dev
libcbor-dev libcurl4-openssl-dev libevent-dev libpq-dev postgresql
openssl python3 python3-pytest python3-flask python3-cheroot
python3-numpy python3-cairo python3-requests python3-cryptography pypy3 libpython3.11-testsuite
pypy3-lib-testsuite
clang libclang-rt-14-dev"
if [ "${1:-}" = bench ]; then
	PKGS="$PKGS gocryptfs fuse3"
fi

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

echo "ward: installing missing Debian packages:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "ward: need root to install:$missing; run as root or install them with apt-get" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null || $SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
