#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Upstream documents of 4 MiB and more (issue 20): the mirror reads them in
# place (their text becomes the items) and keeps the bytes upstream served
# in an unlinked file under TARGET/.sstream/tmp until it writes them.  A
# full mirror still publishes upstream's bytes verbatim, plain or signed; a
# changed rerun (the old tree let go before the documents are written)
# keeps exactly what upstream dropped pending; a refused document is named
# with jansson's line and column and changes nothing; a dry run writes
# nothing; the spool never holds a name.
. tests/lib.sh

M=$BIN/sstream-mirror
S=$T/src
P=streams/v1/images.json
"$PY" bench/mktree.py "$S" 30000 16 --links >/dev/null
check "upstream's products file is over 4 MiB (spooled)" test "$(stat -c %s "$S/$P")" -gt 4194304
# every byte of a tree (.sstream/ included): names, sizes, mtimes, contents
snap() { (cd "$1" && find . -printf '%p %y %s %T@\n' | LC_ALL=C sort && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }
spool_empty() { [ -z "$(ls -A "$1/.sstream/tmp")" ]; }

expect 0 "a full mirror" "$M" --no-history "$S" "$T/m"
check "... publishes upstream's products file byte for byte" cmp -s "$S/$P" "$T/m/$P"
check "... and its index" cmp -s "$S/streams/v1/index.json" "$T/m/streams/v1/index.json"
check "... leaves nothing in .sstream/tmp" spool_empty "$T/m"

# upstream drops its last item
"$PY" - "$S/$P" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
items = d["products"]["bench:blobs:amd64"]["versions"]["20261129"]["items"]
del items[max(items)]
json.dump(d, open(sys.argv[1], "w"))
PY
DROPPED=files/099/blob-29999.img
snap "$T/m" >"$T/before"
expect 0 "a dry run after upstream changed" "$M" --dry-run --no-history "$S" "$T/m"
check "... says what it would remove" out_has "$DROPPED"
snap "$T/m" >"$T/after"
check "... changes nothing" cmp -s "$T/before" "$T/after"
expect 0 "the changed rerun" "$M" --no-history "$S" "$T/m"
check "... publishes upstream's new bytes" cmp -s "$S/$P" "$T/m/$P"
check "... keeps the dropped item's file through its grace period" test -f "$T/m/$DROPPED"
check "... pending in the state file" grep -q " $DROPPED\$" "$T/m/.sstream/state"
check "... and nothing else pending" test "$(grep -c '^P ' "$T/m/.sstream/state")" = 1
check "... leaves nothing in .sstream/tmp" spool_empty "$T/m"
# the tree holds upstream's bytes: read back from the spool to be compared
expect 0 "a rerun checking every file" "$M" -v --no-history --check-existing "$S" "$T/m"
check "... adds and removes nothing" out_has "^29999 items: 0 added (0 bytes, 0 fetched), 0 reused, 0 removed, 0 failed"
check "... the products file as it was" cmp -s "$S/$P" "$T/m/$P"

# a refused document: named with jansson's line and column, nothing changed
cp "$S/$P" "$T/good.json"
sed -i 's/"files\/000\/blob-20000.img"/"files\/000\/blob-20000.img" "x"/' "$S/$P"
snap "$T/m" >"$T/before"
expect 2 "upstream's products file is not JSON" "$M" --no-history "$S" "$T/m"
check "... jansson's message, naming the file, line and column" err_has "images.json': line 1 column [0-9]*: '}' expected near '\"x\"'"
snap "$T/m" >"$T/after"
check "... the tree exactly as it was" cmp -s "$T/before" "$T/after"
check "... nothing in .sstream/tmp" spool_empty "$T/m"
cp "$T/good.json" "$S/$P"

# no room for the copy: said, naming the document, before anything changes
if mount -t tmpfs -o size=2m tmpfs "$T/full" 2>/dev/null || { mkdir -p "$T/full" && mount -t tmpfs -o size=2m tmpfs "$T/full"; }; then
	EXTRA_CLEANUP="umount $T/full"
	expect 2 "a target without room for upstream's products file" "$M" --no-history "$S" "$T/full/m"
	check "... says so, naming it" err_has "cannot keep a copy of '.*images.json': No space left on device"
	check "... no document and no item written" test ! -e "$T/full/m/streams" -a ! -e "$T/full/m/files"
	umount "$T/full" && EXTRA_CLEANUP=
else
	echo "  (no tmpfs: the full-disk check skipped)"
fi

# signed: the clearsigned bytes spooled, the verified text read in place
export GNUPGHOME=$T/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key 'Up <up@example.invalid>' rsa2048 sign never 2>/dev/null
gpg --batch --quiet --export up@example.invalid >"$T/up.gpg"
SS=$T/signed
mkdir -p "$SS/streams/v1"
ln -s "$S/files" "$SS/files"
# (gpg signs lines of under 20 000 bytes: upstream's text, indented)
"$PY" -c 'import json, sys
json.dump(json.load(open(sys.argv[1])), open(sys.argv[2], "w"), indent=1)' "$S/$P" "$T/images.json"
gpg --batch --quiet --yes --clearsign -o "$SS/streams/v1/images.sjson" "$T/images.json"
sed 's/images\.json/images.sjson/' "$S/streams/v1/index.json" >"$T/index.json"
gpg --batch --quiet --yes --clearsign -o "$SS/streams/v1/index.sjson" "$T/index.json"
expect 0 "a signed source of over 4 MiB, verified" "$M" --no-history --keyring "$T/up.gpg" "$SS" "$T/s"
check "... its signed products file byte for byte" cmp -s "$SS/streams/v1/images.sjson" "$T/s/streams/v1/images.sjson"
check "... and a JSON view listing the same" "$PY" -c 'import json, sys
a, b = (json.load(open(f))["products"] for f in sys.argv[1:])
sys.exit(a != b)' "$S/$P" "$T/s/$P"
check "... leaves nothing in .sstream/tmp" spool_empty "$T/s"
finish
