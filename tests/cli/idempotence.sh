# SPDX-License-Identifier: Apache-2.0
# sstream-publish add is idempotent: re-adding images already published, in
# any order among others, changes no byte of the tree and records nothing;
# and the documents do not depend on the order the images were added in.
. tests/lib.sh
P=$BIN/sstream-publish
I=$T/img
# image NAME RELEASE DATE: a split image (metadata tarball + rootfs tarball)
image() {
	mkdir -p "$I/$1/m" "$I/$1/r/bin"
	printf 'architecture: x86_64\ncreation_date: %s\nproperties:\n  os: testos\n  release: %s\n' \
		"$3" "$2" >"$I/$1/m/metadata.yaml"
	printf '#!/bin/sh\necho %s\n' "$1" >"$I/$1/r/bin/hello"
	tar -C "$I/$1/m" -cJf "$I/$1/meta.tar.xz" metadata.yaml
	tar -C "$I/$1/r" -cJf "$I/$1/root.tar.xz" .
}
image a alpha 1795910400
image b beta 1795996800
image c gamma 1796083200
image d alpha 1796169600 # a second version of a product
add() { "$P" add -q "$1" "$I/$2/meta.tar.xz" "$I/$2/root.tar.xz"; }
# every file of the tree (history included) with its content hash and mtime
snap() { (cd "$1" && find . -path ./.sstream/tmp -prune -o -path ./.sstream/lock -prune -o -type f -print0 |
	sort -z | xargs -0 stat -c '%n %s %Y' && find . -path ./.sstream -prune -o -type f -print0 | sort -z |
	xargs -0 sha256sum); }
records() { "$P" history "$1" | wc -l | tr -d ' '; }

A=$T/one
for x in a b c d; do expect 0 "add $x" add "$A" "$x"; done
check "four records" test "$(records "$A")" -eq 4
snap "$A" >"$T/s1"
sleep 1 # an mtime that changed would show
for x in d d a c b d; do expect 0 "add $x again" add "$A" "$x"; done
snap "$A" >"$T/s2"
check "re-adding changed no byte, no mtime" cmp -s "$T/s1" "$T/s2"
check "and recorded nothing" test "$(records "$A")" -eq 4
expect 0 "re-add says so" "$P" add "$A" "$I/c/meta.tar.xz" "$I/c/root.tar.xz"
check "... already published" out_has "already published"

# the same images added in another order: the same documents
B=$T/two
for x in d c a b; do expect 0 "add $x (other order)" add "$B" "$x"; done
for f in index.json images.json; do
	check "$f identical whatever the order" cmp -s "$A/streams/v1/$f" "$B/streams/v1/$f"
done
check "index products sorted" "$PY" -c '
import json, sys
for e in json.load(open(sys.argv[1]))["index"].values():
    assert e["products"] == sorted(e["products"]), e["products"]
' "$A/streams/v1/index.json"

# import: the index lists products sorted too
cat >"$T/items.json" <<'JSON'
[{"content_id": "x", "product_name": "zz", "version_name": "1", "item_name": "f", "path": "f/zz", "size": 1, "sha256": "0000000000000000000000000000000000000000000000000000000000000000"},
 {"content_id": "x", "product_name": "aa", "version_name": "1", "item_name": "f", "path": "f/aa", "size": 1, "sha256": "0000000000000000000000000000000000000000000000000000000000000000"},
 {"content_id": "x", "product_name": "mm", "version_name": "1", "item_name": "f", "path": "f/mm", "size": 1, "sha256": "0000000000000000000000000000000000000000000000000000000000000000"}]
JSON
expect 0 "import" "$P" import "$T/imp" "$T/items.json"
check "import: index products sorted" "$PY" -c '
import json, sys
assert json.load(open(sys.argv[1]))["index"]["x"]["products"] == ["aa", "mm", "zz"]
' "$T/imp/streams/v1/index.json"
snap "$T/imp" >"$T/s3"
expect 0 "import again" "$P" import "$T/imp" "$T/items.json"
snap "$T/imp" >"$T/s4"
check "import again: no byte changed" cmp -s "$T/s3" "$T/s4"
finish
