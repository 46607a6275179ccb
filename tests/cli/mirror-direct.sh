#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Items of 8 MiB and more are written O_DIRECT (lib/download_internal.h,
# DIRECT_MIN) on ext4, XFS and btrfs, on no other filesystem: whole 1 MiB
# buffers bypass the page cache, the last piece
# of odd length goes through it.  The files are upstream's bytes whatever
# their length (whole blocks, or a last piece), from http or a local
# source; a transfer cut short resumes through the page cache, and the
# trees verify deep.
. tests/lib.sh

M=$BIN/sstream-mirror
SRV=$T/srv
mkdir -p "$SRV"
"$PY" bench/mktree.py "$SRV/odd" 3 $(((9 << 20) + 1234)) >/dev/null
"$PY" bench/mktree.py "$SRV/even" 2 $((8 << 20)) >/dev/null
"$PY" bench/mktree.py "$SRV/small" 2 $(((8 << 20) - 1)) >/dev/null
: >"$T/faults"
httpd_start "$SRV"
same() { diff -r -q -x .sstream "$1/files" "$2/files" >/dev/null; }

for t in odd even small; do
	expect 0 "$t: a mirror over http" "$M" -q -j 2 --no-history "$HTTP_URL/$t" "$T/h-$t"
	check "$t: every file is upstream's" same "$SRV/$t" "$T/h-$t"
	expect 0 "$t: the tree verifies deep" "$BIN/sstream-verify" -q --deep "$T/h-$t"
	expect 0 "$t: a mirror of a local source" "$M" -q --no-history "$SRV/$t" "$T/l-$t"
	check "$t: every file is upstream's" same "$SRV/$t" "$T/l-$t"
done

# which files were written O_DIRECT, and that each left it for its last
# piece: on a local disk's filesystem (ext4, XFS, btrfs), and on no other
# (tmpfs here; NFS, CIFS and FUSE alike)
local_disk() { case $(stat -f -c %T "$1") in ext2/ext3 | xfs | btrfs) return 0 ;; esac; return 1; }
setfl() { grep 'F_SETFL, .*O_NOFOLLOW' "$1"; } # (the part files: opened O_NOFOLLOW)
if command -v strace >/dev/null && strace -qq -e trace=none true 2>/dev/null; then
	D=""
	for d in "$T" /var/tmp; do
		if local_disk "$d"; then
			D=$(mktemp -d "$d/ssdirect.XXXXXX")
			break
		fi
	done
	if [ -n "$D" ]; then
		for t in odd small; do
			strace -f -qq -e trace=fcntl -o "$T/fcntl-$t.log" "$M" -q --no-history "$HTTP_URL/$t" "$D/s-$t"
			check "$t: the strace'd mirror's files are upstream's" same "$SRV/$t" "$D/s-$t"
		done
		rm -rf "$D"
		on=$(setfl "$T/fcntl-odd.log" | grep -c 'O_DIRECT|')
		off=$(setfl "$T/fcntl-odd.log" | grep -vc 'O_DIRECT|')
		check "9 MiB + 1234 bytes: 3 files O_DIRECT ($on)" test "$on" -eq 3
		check "... each back to the page cache for its last piece ($off)" test "$off" -eq 3
		check "8 MiB - 1 byte: no file O_DIRECT" test "$(setfl "$T/fcntl-small.log" | grep -c 'O_DIRECT|')" -eq 0
	else
		echo "  (no ext4, XFS or btrfs directory here: the O_DIRECT checks left out)"
	fi
	if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
		S=$(mktemp -d /dev/shm/ssdirect.XXXXXX)
		strace -f -qq -e trace=fcntl -o "$T/fcntl-shm.log" "$M" -q --no-history "$HTTP_URL/odd" "$S/m"
		check "tmpfs: the mirror's files are upstream's" same "$SRV/odd" "$S/m"
		rm -rf "$S"
		check "tmpfs: 9 MiB + 1234 bytes, no file O_DIRECT" test "$(setfl "$T/fcntl-shm.log" | grep -c 'O_DIRECT|')" -eq 0
	fi
elif ! command -v strace >/dev/null; then
	fail "strace is not installed (scripts/install-deps.sh installs it)"
fi

# cut short every time: the next run continues the part file at an odd offset
echo "truncate blob-00001" >"$T/faults"
expect 1 "a body cut short every time: partial" "$M" -q --retries 1 --no-history "$HTTP_URL/odd" "$T/cut"
part=$(find "$T/cut/.sstream/tmp" -type f -size +1k | head -1)
check "... a part file is kept" test -n "$part"
check "... holding an odd number of bytes" test $(($(stat -c %s "$part") % 4096)) -ne 0
: >"$T/faults"
: >"$T/httpd.log"
expect 0 "the next run resumes" "$M" -q --no-history "$HTTP_URL/odd" "$T/cut"
check "... with a Range request" grep -q "blob-00001.img bytes=[1-9]" "$T/httpd.log"
check "... and every file is upstream's" same "$SRV/odd" "$T/cut"
expect 0 "... and the tree verifies deep" "$BIN/sstream-verify" -q --deep "$T/cut"

finish
