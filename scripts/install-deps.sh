#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages sstream builds and tests with; does nothing
# when they are all present.  Needs root (or sudo) only when something is
# missing.
set -eu
PKGS="build-essential pkg-config
libcurl4-openssl-dev libjansson-dev libssl-dev libarchive-dev liblzma-dev
libzstd-dev libgit2-dev libyaml-dev libgpgme-dev libpcre2-dev libsquashfs-dev
python3 python3-jsonschema gnupg gpgv curl ca-certificates openssl xz-utils time bc strace
lxd lxd-client squashfs-tools xdelta3 nginx apache2 faketime rclone lftp awscli
ceph-mon ceph-osd radosgw ceph-common
debhelper fakeroot lintian mandoc bash-completion python3-prometheus-client systemd
tidy chromium nodejs"
# the catalogue's browser test; NodeSource's nodejs brings its own npm
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"
# make fuzz: libFuzzer comes with clang
[ "${1:-}" != fuzz ] || PKGS="$PKGS clang libclang-rt-14-dev"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq
# shellcheck disable=SC2086
$SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends $missing
