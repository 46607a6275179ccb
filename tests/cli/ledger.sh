# SPDX-License-Identifier: Apache-2.0
# The ledger of files waiting out their grace period (lib/ledger.h), as
# the tools keep it: publish prune writes "P SINCE PATH" lines, reads the
# bare "SINCE PATH" lines of before (a file unreferenced since long ago
# goes now, and the ledger is rewritten in the one format), and refuses a
# line with no time or an unsafe path instead of reading it as "since
# 1970"; the mirror's state keeps the same lines.
. tests/lib.sh
P=$BIN/sstream-publish
M=$BIN/sstream-mirror
I=$T/img
mkdir -p "$I/rootfs/bin"
printf '#!/bin/sh\necho hello\n' >"$I/rootfs/bin/hello"
tar -C "$I/rootfs" -cJf "$I/root.tar.xz" .
D=$T/site
for day in 1 2 3; do
	mkdir -p "$I/m$day"
	printf 'architecture: x86_64\ncreation_date: %s\nproperties:\n  os: TestOS\n  release: two\n  variant: default\n' \
		$((1795910400 + day * 86400)) >"$I/m$day/metadata.yaml"
	tar -C "$I/m$day" -cJf "$I/m$day/meta.tar.xz" metadata.yaml
	expect 0 "add version $day" "$P" add -q "$D" "$I/m$day/meta.tar.xz" "$I/root.tar.xz"
done
L=$D/.sstream/unreferenced
expect 0 "prune --keep 2 (default grace)" "$P" prune -q "$D" --keep 2
check "the ledger holds the pruned version's files, in the one format" \
	sh -c "test \$(grep -cE '^P [0-9]+ images/' '$L') -eq \$(wc -l <'$L') && test \$(wc -l <'$L') -ge 1"
check "... sorted by path" sh -c "cut -d' ' -f3- '$L' | sort -c"
# the format of before: "SINCE PATH"; one line since long ago, one junk time
first=$(sed -n '1s/^P [0-9]* //p' "$L")
{
	echo "1 $first"
	echo "abc images/not-a-time"
	echo "5 ../../outside"
} >"$L"
expect 0 "prune reads the old format" "$P" prune -q "$D" --keep 2
check "a file unreferenced since long ago (old format) is deleted" test ! -e "$D/$first"
check "the ledger is rewritten in the one format" sh -c "! grep -qvE '^P [0-9]+ images/' '$L'"
check "the refused lines are not carried over" sh -c "! grep -qE 'outside|not-a-time' '$L'"
# a junk time is not 'since 1970': the file it names waits its grace period
expect 0 "prune --keep 1 (default grace)" "$P" prune -q "$D" --keep 1
victim=$(sed -n '1s/^P [0-9]* //p' "$L")
sed -i "s|^P [0-9]* $victim\$|abc $victim|" "$L"
expect 0 "prune with a junk time in the ledger" "$P" prune -q "$D" --keep 1
check "a file with a junk time in the ledger is not deleted at once" test -e "$D/$victim"
check "... and gets a time of its own" grep -qE "^P [0-9]+ $victim\$" "$L"

# the mirror's state: the same lines, a refused one said and dropped
EX=$FIXTURES/examples/minimal
expect 0 "mirror minimal" "$M" -q --no-html "file://$EX" "$T/m"
printf 'P 5 ../outside\nP abc files/x\n' >>"$T/m/.sstream/state"
expect 0 "mirror again with refused ledger lines in the state" "$M" --no-html "file://$EX" "$T/m"
check "the unsafe path is named" err_has "ignoring unsafe path '../outside'"
check "the state keeps no refused line" sh -c "! grep -qE '^P (5|abc) ' '$T/m/.sstream/state'"
finish
