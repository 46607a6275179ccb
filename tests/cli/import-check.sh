# SPDX-License-Identifier: Apache-2.0
# sstream-publish import: every record passes the item check sstream-verify
# applies (lib/itemcheck.c); a bad record is refused (exit 2) naming the
# record and the field, and the tree is left as it was.
. tests/lib.sh
P=$BIN/sstream-publish
V=$BIN/sstream-verify
D=$T/imported
mkdir -p "$D/files"
echo one >"$D/files/one.txt"
SHA=$(sha256sum "$D/files/one.txt" | cut -d' ' -f1)
rec() { # rec SHA256 SIZE [EXTRA]
	printf '[{"content_id": "com.example:files", "product_name": "com.example:files:amd64", "version_name": "20261101", "item_name": "one.txt", "path": "files/one.txt", "size": %s, "sha256": "%s"%s}]\n' "$2" "$1" "${3:-}"
}
snap() { (cd "$D" && find . -print0 | sort -z | xargs -0 ls -ld --time-style=+%s.%N | awk '{print $1, $5, $6, $7}'; find . -type f -print0 | sort -z | xargs -0 sha256sum); }

rec "$SHA" 4 >"$T/good.json"
expect 0 "import a good record" "$P" import "$D" "$T/good.json"
expect 0 "the imported tree verifies" "$V" "$D"
snap >"$T/s1"

rec 00 4 >"$T/short-sha.json"
expect 2 "a sha256 of two digits is refused" "$P" import "$D" "$T/short-sha.json"
check "... naming the record" err_has "item 0 (com.example:files:amd64 20261101 one.txt)"
check "... and the field" err_has "sha256 is not 64 hex digits"

rec "$SHA" -5 >"$T/neg-size.json"
expect 2 "a negative size is refused" "$P" import "$D" "$T/neg-size.json"
check "... naming the field" err_has "size is not a whole number of bytes"

rec "$SHA" 4 ', "md5": "not-hex"' >"$T/bad-md5.json"
expect 2 "an md5 that is not hex is refused" "$P" import "$D" "$T/bad-md5.json"
check "... naming the field" err_has "md5 is not 32 hex digits"

# the second record is the bad one: nothing of the first is written either
printf '[{"content_id": "com.example:other", "product_name": "p", "version_name": "1", "item_name": "i", "id": "ami-1"},
 {"content_id": "com.example:other", "product_name": "p", "version_name": "2", "item_name": "j", "path": "files/one.txt", "sha512": "abc"}]\n' >"$T/second.json"
expect 2 "a bad second record is refused" "$P" import "$D" "$T/second.json"
check "... named by its number" err_has "item 1 (p 2 j): sha512 is not 128 hex digits"

snap >"$T/s2"
check "refused imports leave the tree as it was" cmp -s "$T/s1" "$T/s2"
check "... and it still verifies" "$V" "$D"

finish
