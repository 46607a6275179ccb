#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Items of 8 MiB and more are written O_DIRECT (lib/download_internal.h,
# DIRECT_MIN): whole 1 MiB buffers bypass the page cache, the last piece
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

# which files were written O_DIRECT, and that each left it for its last piece
if command -v strace >/dev/null && strace -qq -e trace=none true 2>/dev/null; then
	for t in odd small; do
		strace -f -qq -e trace=fcntl -o "$T/fcntl-$t.log" "$M" -q --no-history "$HTTP_URL/$t" "$T/s-$t"
		check "$t: the strace'd mirror's files are upstream's" same "$SRV/$t" "$T/s-$t"
	done
	# (the part files are the ones opened O_NOFOLLOW; O_DIRECTORY is not it)
	setfl() { grep 'F_SETFL, .*O_NOFOLLOW' "$T/fcntl-$1.log"; }
	on=$(setfl odd | grep -c 'O_DIRECT|')
	off=$(setfl odd | grep -vc 'O_DIRECT|')
	check "9 MiB + 1234 bytes: 3 files O_DIRECT ($on)" test "$on" -eq 3
	check "... each back to the page cache for its last piece ($off)" test "$off" -eq 3
	check "8 MiB - 1 byte: no file O_DIRECT" test "$(setfl small | grep -c 'O_DIRECT|')" -eq 0
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
