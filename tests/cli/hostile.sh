# SPDX-License-Identifier: Apache-2.0
# Hostile upstreams and hostile trees (issue 13): paths into the private
# .sstream/ directory, state files naming paths outside the tree, symlinks
# inside TARGET/TREE, documents outside streams/, shared content ids,
# content ids naming our own documents, stale temporary files, metadata.yaml
# values that would make names, keys and paths we cannot publish.
. tests/lib.sh
M=$BIN/sstream-mirror
P=$BIN/sstream-publish
V=$BIN/sstream-verify
Q=$BIN/sstream-query
MK="$PY tests/mkhostile.py"
S=$T/src
O=$T/outside
mkdir -p "$S" "$O"
# the contents of a directory, to show it untouched
listing() { (cd "$1" 2>/dev/null && find . -printf '%p %s %y\n' | sort); }

# ---- 1. the private directory is no document's --------------------------------------
$MK "$S/priv-item" '{"docs": [{"key": "a", "path": "streams/v1/a.json", "items": {"p/1/x": "files/x", "p/1/s": ".sstream/state"}}]}'
expect 2 "an item at .sstream/state is refused" "$M" "$S/priv-item" "$T/m1"
check "... naming the path and the reason" err_has "unsafe path '.sstream/state': inside the tree's private directory"
check "... before the target changes" test ! -e "$T/m1/streams" -a ! -e "$T/m1/files"
expect 2 "sstream-verify refuses it too" "$V" "$S/priv-item"
check "... naming it" err_has "'.sstream/state': inside"
$MK "$S/priv-git" '{"docs": [{"key": "a", "path": "streams/v1/a.json", "items": {"p/1/x": ".sstream/history.git/HEAD"}}]}'
expect 2 "an item in .sstream/history.git is refused" "$M" "$S/priv-git" "$T/m1"
$MK "$S/priv-doc" '{"docs": [{"key": "a", "path": ".sstream/a.json", "items": {"p/1/x": "files/x"}}]}'
expect 2 "a products file under .sstream/ is refused" "$M" "$S/priv-doc" "$T/m1"
check "... naming it" err_has "'.sstream/a.json': inside"

# A state file is read back from disk: a path in it that is not safe is
# never deleted (a first run could plant one).
$MK "$S/plain" '{"docs": [{"key": "a", "path": "streams/v1/a.json", "items": {"p/1/x": "files/a/x", "p/1/y": "files/b/y"}}]}'
expect 0 "mirror a plain tree" "$M" "$S/plain" "$T/m2"
echo precious >"$T/victim"
printf '# sstream-mirror state\nP 0 ../victim\nP 0 .sstream/lock\nM ../victim\n' >"$T/m2/.sstream/state"
expect 0 "a rerun over a planted state file" "$M" --grace 0 "$S/plain" "$T/m2"
check "... deletes nothing outside the tree" test -f "$T/victim"
check "... says what it ignored" err_has "ignoring unsafe path '../victim'"
expect 0 "... and the tree verifies" "$V" "$T/m2"

# ---- 2. symlinks inside the tree are never followed to write or delete ----------------
echo keep >"$O/keep"
mkdir -p "$T/m3/.sstream"
ln -s "$O" "$T/m3/.sstream/tmp"
listing "$O" >"$T/o1"
expect 2 "a symlinked .sstream/tmp is refused" "$M" "$S/plain" "$T/m3"
check "... naming the symlink" err_has "'$T/m3/.sstream/tmp' is a symbolic link inside the tree"
check "... and what it points at is untouched" sh -c "listing() { (cd \"\$1\" && find . -printf '%p %s %y\n' | sort); }; listing '$O' | cmp -s - '$T/o1'"

mkdir -p "$T/m4/streams" "$O/v1"
ln -s "$O/v1" "$T/m4/streams/v1"
expect 2 "a symlinked streams/v1 is refused" "$M" "$S/plain" "$T/m4"
check "... and no index is written through it" test ! -e "$O/v1/index.json"
check "... naming it" err_has "'$T/m4/streams/v1' is a symbolic link inside the tree"

# grace removal through a symlinked directory: refused, said, exit 1
expect 0 "mirror a tree" "$M" "$S/plain" "$T/m5"
mv "$T/m5/files/b" "$O/b"
ln -s "$O/b" "$T/m5/files/b"
expect 1 "files dropped behind a symlinked directory are not deleted" "$M" --grace 0 "$S/plain" "$T/m5" 'item_name=x'
check "... the file outside is still there" test -f "$O/b/y"
check "... and the refusal is said" err_has "files/b' is a symbolic link inside the tree"
expect 0 "... the tree verifies" "$V" "$T/m5"

# the tree root itself may be a symlink: the operator's choice
mkdir -p "$T/realroot"
ln -s "$T/realroot" "$T/rootlink"
expect 0 "a TARGET that is itself a symlink is fine" "$M" "$S/plain" "$T/rootlink"
check "... written into what it points at" test -f "$T/realroot/streams/v1/index.json"

# publish: prune through a symlinked images/, add through a symlinked streams/v1
I=$T/img
mkdir -p "$I/m" "$I/r"
echo hello >"$I/r/hello"
tar -C "$I/r" -cf "$I/root.tar" .
# meta NAME KEY VALUE...: a metadata tarball from the base metadata.yaml with
# properties.KEY or a top-level KEY replaced
meta() {
	name=$1
	shift
	printf 'architecture: %s\ncreation_date: %s\nproperties:\n  os: %s\n  release: one\n  variant: default\n' \
		"${ARCH:-x86_64}" "${DATE:-1795910400}" "${OS:-HostOS}" >"$I/m/metadata.yaml"
	tar -C "$I/m" -cf "$I/$name.tar" metadata.yaml
}
meta good
expect 0 "publish an image" "$P" add "$T/p1" "$I/good.tar" "$I/root.tar"
mkdir -p "$O/pimages"
mv "$T/p1/images"/* "$O/pimages/"
rmdir "$T/p1/images"
ln -s ../outside/pimages "$T/p1/images"
echo junk >"$O/pimages/junk"
cp -a "$T/p1/streams" "$T/p1-streams-before"
expect 2 "prune through a symlinked images/ is refused" "$P" prune "$T/p1" --keep 1 --grace 0s
check "... the file outside stays" test -f "$O/pimages/junk"
check "... naming the symlink" err_has "'$T/p1/images' is a symbolic link inside the tree"
check "... and the streams are as they were" diff -r "$T/p1-streams-before" "$T/p1/streams"
mkdir -p "$T/p2/streams" "$O/pv1"
ln -s "$O/pv1" "$T/p2/streams/v1"
expect 2 "publish add through a symlinked streams/v1 is refused" "$P" add "$T/p2" "$I/good.tar" "$I/root.tar"
check "... nothing written through it" test -z "$(ls -A "$O/pv1")"

# ---- 3. products files outside streams/ keep a path each -----------------------------------
$MK "$S/outside" '{"docs": [{"key": "a", "path": "a/p.json", "items": {"pa/1/x": "files/a"}},
                            {"key": "b", "path": "b/p.json", "items": {"pb/1/x": "files/b"}}]}'
for mode in verbatim filtered; do
	F=""
	[ $mode = filtered ] && F="arch=amd64"
	expect 0 "$mode mirror of a/p.json and b/p.json" "$M" "$S/outside" "$T/o-$mode" $F
	expect 0 "... verifies" "$V" "$T/o-$mode"
	run "$Q" -f csv --fields content_id,product_name "$T/o-$mode"
	check "... keeps both content ids" sh -c "grep -q '^a,pa' '$T/out' && grep -q '^b,pb' '$T/out'"
done
# a nested index outside streams/
$MK "$S/nested" '{"index": "other/index.json", "docs": [{"key": "c", "path": "other/c.json", "items": {"pc/1/x": "files/c"}}]}'
mkdir -p "$S/nested/streams/v1"
printf '{"format": "index:1.0", "index": {"c": {"format": "index:1.0", "path": "other/index.json"}}}' >"$S/nested/streams/v1/index.json"
expect 0 "verbatim mirror of a nested index at other/index.json" "$M" "$S/nested" "$T/o-nested"
expect 0 "... verifies" "$V" "$T/o-nested"
run "$Q" -f csv --fields content_id "$T/o-nested"
check "... lists its item" out_has '^c'

# ---- 4. two index entries, one content id ------------------------------------------------
$MK "$S/shared" '{"docs": [{"key": "a", "cid": "x", "path": "streams/v1/a.json", "items": {"pa/1/x": "files/a"}},
                           {"key": "b", "cid": "x", "path": "streams/v1/b.json", "items": {"pb/1/x": "files/b"}}]}'
expect 2 "a filtered mirror refuses two products files with one content id" "$M" "$S/shared" "$T/sh" arch=amd64
check "... naming both" err_has "'streams/v1/a.json' and 'streams/v1/b.json' both hold content id 'x'"
check "... target untouched" test ! -e "$T/sh/streams"
expect 3 "sstream-verify: an index key that is not the file's content_id" "$V" "$S/shared"
check "... named" out_has "index entry 'a' names 'streams/v1/a.json', whose content_id is 'x'"

# ---- 5. import: content ids of our own documents ---------------------------------------------
expect 0 "publish a tree to import into" "$P" add "$T/p3" "$I/good.tar" "$I/root.tar"
cp -a "$T/p3/streams" "$T/p3-before"
for cid in index images .images.a; do
	printf '[{"content_id": "%s", "product_name": "p", "version_name": "1", "item_name": "x", "path": "images/x", "size": 0, "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}]' \
		"$cid" >"$T/items.json"
	expect 2 "import refuses content id '$cid'" "$P" import "$T/p3" "$T/items.json"
	check "... saying why" err_has "content id '$cid' would overwrite the tree's own"
	check "... leaving the streams as they were" diff -r "$T/p3-before" "$T/p3/streams"
done
expect 0 "the tree still verifies" "$V" "$T/p3"

# ---- 11. temporary files of killed runs go at the start of the next ---------------------------
head -c 100000 /dev/urandom >"$T/p3/.sstream/tmp/add.abc123"
echo x >"$T/p3/streams/v1/.images.json.tmp.Zx81Qa"
expect 0 "publish add after a killed one" "$P" add "$T/p3" "$I/good.tar" "$I/root.tar"
check "... removed its copy" test ! -e "$T/p3/.sstream/tmp/add.abc123"
check "... and the temporary file of its atomic write" test ! -e "$T/p3/streams/v1/.images.json.tmp.Zx81Qa"
# a run killed while recording the history leaves git's lock files
ls "$T/p3/.sstream/history.git/refs/heads/" >/dev/null
BRANCH=$(ls "$T/p3/.sstream/history.git/refs/heads/" | head -1)
touch "$T/p3/.sstream/history.git/refs/heads/$BRANCH.lock" "$T/p3/.sstream/history.git/HEAD.lock"
DATE=1796083200 meta hist
RECORDS=$("$P" history "$T/p3" | wc -l)
expect 0 "publish add after a run killed while recording the history" "$P" add "$T/p3" "$I/hist.tar" "$I/root.tar"
check "... records its change" test "$("$P" history "$T/p3" | wc -l)" -eq $((RECORDS + 1))
check "... and the stale locks are gone" test ! -e "$T/p3/.sstream/history.git/HEAD.lock"
head -c 1000 /dev/urandom >"$T/m2/.sstream/tmp/add.abc123"
expect 0 "a mirror run also removes what a killed publish left" "$M" "$S/plain" "$T/m2"
check "... gone" test ! -e "$T/m2/.sstream/tmp/add.abc123"

# ---- 13. metadata.yaml values we cannot publish, sizes verify refuses ----------------------------
cp -a "$T/p3/streams" "$T/p3-before2"
refuse() {
	desc=$1 msg=$2
	meta bad
	expect 2 "add refuses $desc" "$P" add "$T/p3" "$I/bad.tar" "$I/root.tar"
	check "... saying why" err_has "$msg"
	check "... leaving the tree as it was" diff -r "$T/p3-before2" "$T/p3/streams"
}
DATE=-31622400000 refuse "a creation_date before 1970" "creation_date -31622400000 is not a time between 1970 and 9999"
DATE=99999999999999 refuse "a creation_date gmtime cannot take" "is not a time between 1970 and 9999"
ARCH=x86_64/../../x refuse "an unknown architecture" "architecture 'x86_64/../../x' is unknown"
OS=evil,other/alias refuse "a ',' in properties.os" "properties.os 'evil,other/alias'"
OS=a:b refuse "a ':' in properties.os" "properties.os 'a:b'"
meta good
expect 64 "add refuses an alias with a ','" "$P" add "$T/p3" "$I/good.tar" "$I/root.tar" --alias 'a,b'
# a key that cannot sign is found before any file is placed
mkdir -m 700 "$T/nogpg"
DATE=1795996800 meta other
(cd "$T/p3" && find . -type f -not -path './.sstream/*' | sort) >"$T/files-before"
expect 2 "add with a signing key that is not there" env GNUPGHOME="$T/nogpg" "$P" add --sign-key nobody@example.invalid "$T/p3" "$I/other.tar" "$I/root.tar"
check "... places no file" sh -c "cd '$T/p3' && find . -type f -not -path './.sstream/*' | sort | cmp -s - '$T/files-before'"
$MK "$S/sizes" '{"docs": [{"key": "a", "path": "streams/v1/a.json", "items": {"p/1/x": "files/x", "p/1/y": "files/y"},
                           "fields": {"p/1/y": {"size": "twelve"}}}]}'
expect 1 "the mirror fails an item whose size verify refuses" "$M" "$S/sizes" "$T/sz"
check "... saying why" err_has "size is not a whole number"
expect 0 "... and what it wrote verifies" "$V" "$T/sz"

# ---- 12. disk full: items placed, documents not written: partial, not fatal -------------------
# A 1 MiB tmpfs (pages of 4 KiB): a small tree, then an update whose four
# items fill it exactly, so that its products file cannot be written.
DF=$T/dfull
mkdir -p "$DF"
if mount -t tmpfs -o size=1m tmpfs "$DF"; then
	EXTRA_CLEANUP="umount $DF"
	$MK "$S/small" '{"docs": [{"key": "a", "path": "streams/v1/a.json", "items": {"p/1/x": "files/x"}}]}'
	expect 0 "mirror a small tree onto a 1 MiB filesystem" "$M" --no-history --no-html "$S/small" "$DF/t"
	rm "$DF/t/.sstream/last-success" # its page is counted below: the items fill the rest exactly
	cp -a "$S/small" "$S/big"
	"$PY" - "$S/big" <<'PY'
import hashlib, json, os, sys
root = sys.argv[1]
doc = json.load(open(root + "/streams/v1/a.json"))
items = doc["products"]["p"]["versions"]["1"]["items"]
for i in range(4):
    data = bytes([i]) * (63 * 4096)
    open("%s/files/big%d" % (root, i), "wb").write(data)
    items["big%d" % i] = {"ftype": "raw", "path": "files/big%d" % i, "size": len(data),
                          "sha256": hashlib.sha256(data).hexdigest()}
json.dump(doc, open(root + "/streams/v1/a.json", "w"))
PY
	expect 1 "an update that fills the disk is partial (items placed), not fatal" "$M" --no-history --no-html "$S/big" "$DF/t"
	check "... saying what happened" err_has "items placed, but the documents were not all written"
	check "... the items are there" test -f "$DF/t/files/big3"
	expect 0 "... and the tree, still the old one, verifies" "$V" "$DF/t"
	mount -o remount,size=4m "$DF"
	expect 0 "with room again, the next run finishes" "$M" --no-history --no-html "$S/big" "$DF/t"
	expect 0 "... and the new tree verifies" "$V" "$DF/t"
	run "$Q" -f csv "$DF/t"
	check "... listing all five items" test "$(out_lines)" -eq 6
else
	fail "the disk-full test needs root (mount -t tmpfs)"
fi
finish
