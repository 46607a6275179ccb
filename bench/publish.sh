#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Publish benchmarks, each beside its reference in the same run:
#  1. build of a generated rootfs (>= 500 MB) vs tar -c | xz -T0 (and zstd -T0)
#  2. add of a 1 GiB image (one read: copy + sha256 + fingerprint) vs sha256sum
set -eu
: "${BUILD:=build}"
TOP=$(pwd)
P=$TOP/$BUILD/bin/sstream-publish
B=$(mktemp -d /var/tmp/sspbench.XXXXXX)
trap 'rm -rf "$B"' EXIT
. bench/lib.sh
timeit() {
	t0=$(now)
	"$@" >/dev/null 2>&1
	printf '%.2f' "$(echo "$(now) - $t0" | bc -l)"
}

echo "== build: a 512 MiB generated rootfs"
# half random (incompressible), half text-like: what a rootfs roughly is
mkdir -p "$B/root/usr/lib" "$B/root/usr/share"
for i in $(seq 0 31); do head -c 8388608 /dev/urandom >"$B/root/usr/lib/blob$i.so"; done
for i in $(seq 0 31); do yes "line $i of a configuration file with some words in it" | head -c 8388608 >"$B/root/usr/share/text$i"; done
printf 'architecture: x86_64\ncreation_date: 1795910400\nproperties:\n  os: bench\n  release: one\n' >"$B/metadata.yaml"
cat "$B"/root/usr/lib/* "$B"/root/usr/share/* >/dev/null
for comp in xz zstd; do
	ref_cmd="xz -T0"
	[ "$comp" = zstd ] && ref_cmd="zstd -T0 -q"
	ref=$(timeit sh -c "tar -C '$B/root' -cf - . | $ref_cmd > '$B/ref.tar'")
	ours=$(timeit "$P" build "$B/root" --metadata "$B/metadata.yaml" --compression "$comp" -o "$B/out")
	echo "  tar -c | $ref_cmd              ${ref} s"
	echo "  sstream-publish build ($comp)  ${ours} s"
	echo "  ratio                          $(ratio "$ours" "$ref")x   (target: within 1.1x)"
	rm -rf "$B/out" "$B/ref.tar"
done
rm -rf "$B/root"

echo "== add: a 1 GiB image"
head -c 1073741824 /dev/urandom >"$B/root.img"
printf 'QFI\373' | dd of="$B/root.img" conv=notrunc 2>/dev/null
tar -C "$B" -cJf "$B/meta.tar.xz" metadata.yaml
cat "$B/root.img" >/dev/null
ref=$(timeit sha256sum "$B/root.img")
ours=$(timeit "$P" add "$B/tree" "$B/meta.tar.xz" "$B/root.img")
echo "  sha256sum                      ${ref} s"
echo "  sstream-publish add            ${ours} s (copy + sha256 + fingerprint, one read)"
echo "  ratio                          $(ratio "$ours" "$ref")x   (target: within 1.1x)"
