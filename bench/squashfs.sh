#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# build --rootfs squashfs (libsquashfs, one worker per core) beside
# mksquashfs (all cores, the same block size and compressor) on the same
# generated tree: many small files, as a rootfs has, and some large ones.
set -eu
: "${BUILD:=build}"
TOP=$(pwd)
P=$TOP/$BUILD/bin/sstream-publish
B=$(mktemp -d /var/tmp/sssqbench.XXXXXX)
trap 'rm -rf "$B"' EXIT
. bench/lib.sh
timeit() {
	t0=$(now)
	"$@" >/dev/null 2>&1
	printf '%.2f' "$(echo "$(now) - $t0" | bc -l)"
}

echo "== squashfs rootfs: 20000 small files and 96 MiB of large ones"
R=$B/root
mkdir -p "$R/usr/lib" "$R/usr/share/doc" "$R/bin"
python3 - "$R/usr/share/doc" <<'PY'
import os, sys
for d in range(100):
    os.makedirs(f"{sys.argv[1]}/pkg{d}")
    for f in range(200):
        with open(f"{sys.argv[1]}/pkg{d}/f{f}", "w") as out:
            out.write(f"package {d} file {f}\n" + "some documentation text\n" * (f % 40 + 1))
PY
for i in $(seq 0 15); do head -c 4194304 /dev/urandom >"$R/usr/lib/blob$i.so"; done
for i in $(seq 0 7); do yes "line $i of a text file with some words in it" | head -c 4194304 >"$R/usr/share/text$i"; done
ln -s ../usr/lib/blob0.so "$R/bin/link"
ln "$R/usr/share/text0" "$R/usr/share/hard0"
printf 'architecture: x86_64\ncreation_date: 1795910400\nproperties:\n  os: bench\n  release: one\n' >"$B/metadata.yaml"
find "$R" -type f -exec cat {} + >/dev/null
export SOURCE_DATE_EPOCH=1795910400
for comp in xz zstd; do
	ref=$(timeit mksquashfs "$R" "$B/ref.sqfs" -comp "$comp" -b 131072 -noappend -quiet -all-root -no-progress)
	ours=$(timeit "$P" build "$R" --metadata "$B/metadata.yaml" --rootfs squashfs --compression "$comp" -o "$B/out")
	echo "  mksquashfs -comp $comp          ${ref} s  $(stat -c %s "$B/ref.sqfs") bytes"
	echo "  sstream-publish build ($comp)  ${ours} s  $(stat -c %s "$B/out/rootfs.squashfs") bytes"
	echo "  ratio                       $(ratio "$ours" "$ref")x   (ours includes the metadata tarball and the fingerprint)"
	rm -rf "$B/out" "$B/ref.sqfs"
done
