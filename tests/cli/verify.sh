# SPDX-License-Identifier: Apache-2.0
# sstream-verify: a clean tree passes; each corruption is caught and named;
# remote trees over HTTP; downloaded files; image fingerprints.
. tests/lib.sh
V=$BIN/sstream-verify
M=$BIN/sstream-mirror
W=$T/www
mkdir -p "$W"
cp -r "$FIXTURES/examples/foocloud" "$W/foocloud"
cp -r "$FIXTURES/signed/examples/foocloud" "$W/signed"
cp -r "$FIXTURES/examples/foocloud/files" "$W/signed/"
chmod -R u+w "$W"
"$PY" tests/mkpayload.py "$FIXTURES/real/lxc-images-20230424.json" "$W/lxc" '^(alpine:3[.]17|ubuntu:jammy):amd64:' --index
fresh() { rm -rf "$T/$1"; cp -r "$W/$2" "$T/$1"; echo "$T/$1"; }

expect 0 "--help" "$V" --help
expect 64 "no tree" "$V"
expect 64 "bad --format" "$V" --format xml "$W/foocloud"

# ---- clean trees --------------------------------------------------------------
expect 0 "clean example tree" "$V" "$W/foocloud"
check "quiet on success" test ! -s "$T/out" -a ! -s "$T/err"
expect 0 "-v lists every file" "$V" -v "$W/foocloud"
check "-v: PATH: OK lines" out_has "^files/beta-2/foovendor-6.1-beta2-server-cloudimg-amd64-disk1.img: OK$"
check "-v: summary" out_has "^18 files: 18 ok, 0 failed"
expect 0 "clean LXD tree, combined fingerprints recomputed" "$V" -v "$W/lxc"
check "LXD tree: all files" out_has "files: [0-9]* ok, 0 failed"
expect 0 "a mirror verifies" "$M" "$W/lxc" "$T/mirror" arch=amd64 --max 1
expect 0 "... and so does the filtered mirror" "$V" "$T/mirror"
expect 0 "json output" "$V" --format json "$W/foocloud"
check "json: counts" "$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["result"]==0 and r["files"]==18 and r["failed"]==0, r' "$T/out"

# ---- corruptions, each caught and named ----------------------------------------------
D=$(fresh flip foocloud)
F=files/release-20121001/foovendor-6.1-server-cloudimg-amd64-disk1.img
printf 'X' | dd of="$D/$F" bs=1 seek=3 conv=notrunc 2>/dev/null
expect 3 "a flipped byte" "$V" "$D"
check "flipped: named with the hash" out_has "^$F: FAIL md5 "
check "flipped: one problem" out_has "^18 files: 17 ok, 1 failed"

D=$(fresh trunc foocloud)
truncate -s 10 "$D/$F"
expect 3 "a truncated file" "$V" "$D"
check "truncated: named" out_has "^$F: FAIL size 10, expected 60"

D=$(fresh missing foocloud)
rm "$D/$F"
expect 3 "a missing file" "$V" "$D"
check "missing: named" out_has "^$F: FAIL missing"

D=$(fresh size foocloud)
sed -i 's/"size": 60,/"size": 61,/' "$D/streams/v1/com.example.foovendor:released:download.json"
expect 3 "a wrong size in the stream" "$V" "$D"
check "wrong size: named" out_has "FAIL size 60, expected 61"

D=$(fresh combined lxc)
"$PY" -c '
import json, sys
f = sys.argv[1]; d = json.load(open(f))
v = d["products"]["ubuntu:jammy:amd64:default"]["versions"]
items = v[sorted(v)[-1]]["items"]
items["lxd.tar.xz"]["combined_squashfs_sha256"] = "0" * 64
json.dump(d, open(f, "w"))
' "$D/streams/v1/images.json"
expect 3 "a wrong combined fingerprint" "$V" "$D"
check "combined: named, with the metadata file" out_has "rootfs.squashfs: FAIL combined_squashfs_sha256 (with images/ubuntu/jammy/amd64/default/.*/lxd.tar.xz) is [0-9a-f]*, expected 0000"

D=$(fresh nocombined lxc)
"$PY" -c '
import json, sys
f = sys.argv[1]; d = json.load(open(f))
v = d["products"]["alpine:3.17:amd64:default"]["versions"]
del v[sorted(v)[-1]]["items"]["lxd.tar.xz"]["combined_squashfs_sha256"]
json.dump(d, open(f, "w"))
' "$D/streams/v1/images.json"
expect 3 "a missing combined fingerprint" "$V" "$D"
check "missing combined: named" out_has "lxd.tar.xz: FAIL no combined_squashfs_sha256 for the squashfs item"

D=$(fresh noroot lxc)
"$PY" -c '
import json, sys
f = sys.argv[1]; d = json.load(open(f))
v = d["products"]["alpine:3.17:amd64:default"]["versions"]
del v[sorted(v)[-1]]["items"]["root.squashfs"]
json.dump(d, open(f, "w"))
' "$D/streams/v1/images.json"
expect 3 "a fingerprint naming a root item that is not there" "$V" "$D"
check "unpaired: named" out_has "lxd.tar.xz: FAIL combined_squashfs_sha256 names no squashfs item"

D=$(fresh delta lxc)
"$PY" -c '
import json, sys
f = sys.argv[1]; d = json.load(open(f))
v = d["products"]["alpine:3.17:amd64:default"]["versions"]
newest = sorted(v)[-1]
for it in v[newest]["items"].values():
    if "delta_base" in it:
        it["delta_base"] = newest[:8] + "_00:00x"
json.dump(d, open(f, "w"))
' "$D/streams/v1/images.json"
expect 3 "a delta_base naming no version" "$V" "$D"
check "delta: named" out_has "vcdiff: FAIL delta_base '.*' is not an older version of alpine:3.17:amd64:default"
# A file whose hashes match but that has a problem is one failed file.
counted_once() { awk '/^[0-9]+ files: /{ n = $1; ok = $3; bad = $5 } END { exit !(n && ok + bad == n && bad == '"$1"') }' "$T/out"; }
check "delta: the summary counts each file once" counted_once 1

# Many versions with deltas: every base is looked up (once per product,
# not once per delta: 30 000 deltas took 19 s).  Bases: the previous
# version (fine), one older than the oldest version (pruned: fine), one
# naming no version between the oldest and the newest (a problem).
D=$T/manydeltas
"$PY" - "$D" <<'PY'
import hashlib, json, os, sys
d = sys.argv[1]; os.makedirs(d + "/streams/v1"); os.makedirs(d + "/f")
open(d + "/f/x", "w").write("x")
h = hashlib.sha256(b"x").hexdigest()
vers = {}
for i in range(1, 3001):
    base = "2024%05d" % (i - 1) if i > 1 else "2023"
    if i == 1500:
        base = "2024001499x"
    vers["2024%05d" % i] = {"items": {"d": {"path": "f/x", "ftype": "vcdiff", "delta_base": base, "size": 1, "sha256": h}}}
prods = {"p": {"versions": vers}}
json.dump({"format": "products:1.0", "content_id": "c", "products": prods}, open(d + "/streams/v1/c.json", "w"))
json.dump({"format": "index:1.0", "index": {"c": {"path": "streams/v1/c.json", "products": ["p"]}}}, open(d + "/streams/v1/index.json", "w"))
PY
expect 3 "many deltas, one base naming no version" "$V" "$D"
check "many deltas: exactly that one named" sh -c "test \$(grep -c 'FAIL delta_base' '$T/out') -eq 1 && grep -q \"FAIL delta_base '2024001499x'\" '$T/out'"

for change in arch version; do
	D=$(fresh lxd$change lxc)
	"$PY" -c '
import json, sys
f, change = sys.argv[1], sys.argv[2]; d = json.load(open(f))
p = d["products"]["alpine:3.17:amd64:default"]
if change == "arch":
    p["arch"] = "vax"
else:
    v = p["versions"]; newest = sorted(v)[-1]; v["v" + newest] = v.pop(newest)
json.dump(d, open(f, "w"))
' "$D/streams/v1/images.json" $change
	expect 3 "LXD would skip the image: bad $change" "$V" "$D"
	check "bad $change: named" out_has "FAIL .*the image is not listed"
done

D=$(fresh badhash foocloud)
sed -i '0,/"md5": "[0-9a-f]*"/s//"md5": "not-hex"/' "$D/streams/v1/com.example.foovendor:released:download.json"
expect 3 "a hash that is not hex (what the schema says)" "$V" "$D"
check "bad hash field named" out_has "FAIL md5 is not 32 hex digits"
check "bad hash: the summary counts the file once" counted_once 1
expect 3 "a download stream without paths (the trimmed Ubuntu fixture)" "$V" "$FIXTURES/real/ubuntu-released-download-trimmed.json"
check "no path named" out_has "FAIL an item of a download stream without a path"

D=$(fresh notindexed foocloud)
sed -i '/"com.example.foovendor:pinky:server:i386"/d; s/"com.example.foovendor:pinky:server:amd64", /"com.example.foovendor:pinky:server:amd64"/' "$D/streams/v1/index.json"
expect 3 "a product missing from the index" "$V" "$D"
check "not indexed: named" out_has "product 'com.example.foovendor:pinky:server:i386' of .* is not in the index"

D=$(fresh noproducts foocloud)
rm "$D/streams/v1/com.example.foovendor:released:aws.json"
expect 2 "an index naming a missing products file" "$V" "$D"
check "missing products file: named" err_has "com.example.foovendor:released:aws.json"

D=$(fresh hostile foocloud)
sed -i 's|"files/release-20121001/foovendor-6.1-server-cloudimg-amd64-disk1.img"|"../../etc/passwd"|' "$D/streams/v1/com.example.foovendor:released:download.json"
expect 2 "a hostile path" "$V" "$D"
check "hostile: named" err_has "unsafe path '../../etc/passwd'"

D=$(fresh orphans foocloud)
echo stray >"$D/files/stray.img"
expect 0 "orphans are not looked for by default" "$V" "$D"
expect 1 "--orphans: a warning" "$V" --orphans "$D"
check "orphan named" out_has "^files/stray.img: ORPHAN$"

# ---- signatures ------------------------------------------------------------------------
KR=$FIXTURES/signed/test.gpg
expect 0 "signed tree with --keyring" "$V" --keyring "$KR" "$W/signed"
D=$(fresh tampered signed)
cp "$FIXTURES/signed/tampered-aws.sjson" "$D/streams/v1/com.example.foovendor:released:aws.sjson"
expect 3 "a tampered .sjson" "$V" --keyring "$KR" "$D"
check "tampered: named" err_has "aws.sjson': bad signature"
expect 3 "an unsigned tree under --keyring" "$V" --keyring "$KR" "$W/foocloud/streams/v1/index.json"
check "unsigned: named" err_has "not a clearsigned document"

# ---- remote trees ------------------------------------------------------------------------
httpd_start "$W"
U=$HTTP_URL
expect 0 "remote tree by HEAD" "$V" "$U/foocloud"
check "HEAD only, no download" sh -c "! grep -q '^GET /foocloud/files' '$T/httpd.log'"
expect 0 "remote --deep" "$V" --deep "$U/lxc"
echo "404 amd64-disk1.img" >"$T/faults"
expect 3 "remote: a missing file" "$V" "$U/foocloud"
check "remote 404 named" out_has "amd64-disk1.img: FAIL HTTP 404"
echo "corrupt rootfs.squashfs" >"$T/faults"
expect 0 "remote HEAD cannot see a corrupt body" "$V" "$U/lxc"
expect 3 "remote --deep sees it" "$V" --deep "$U/lxc"
check "deep: named" out_has "rootfs.squashfs: FAIL sha256"
: >"$T/faults"

# ---- downloaded files ---------------------------------------------------------------------
mkdir -p "$T/dl"
cp "$W/foocloud/$F" "$T/dl/"
cp "$W/foocloud/files/beta-2/foovendor-6.1-beta2-server-cloudimg-i386.tar.gz" "$T/dl/renamed.tar.gz"
expect 0 "--files: good downloads (by name, by hash)" "$V" -v --files "$T/dl/foovendor-6.1-server-cloudimg-amd64-disk1.img" "$T/dl/renamed.tar.gz" "$U/foocloud"
check "--files: OK lines" sh -c "grep -q 'amd64-disk1.img: OK' '$T/out' && grep -q 'renamed.tar.gz: OK' '$T/out'"
printf 'X' | dd of="$T/dl/foovendor-6.1-server-cloudimg-amd64-disk1.img" bs=1 seek=3 conv=notrunc 2>/dev/null
echo unknown >"$T/dl/unknown.bin"
expect 3 "--files: a corrupt download" "$V" --files "$T/dl/foovendor-6.1-server-cloudimg-amd64-disk1.img" "$W/foocloud"
check "--files: FAIL named" out_has "amd64-disk1.img: FAIL md5"
expect 1 "--files: an unknown file" "$V" --files "$T/dl/unknown.bin" "$W/foocloud"
check "--files: UNKNOWN" out_has "unknown.bin: UNKNOWN"

# ---- image fingerprints ---------------------------------------------------------------------
FP=$("$PY" tests/mklxdtree.py "$T/img")
MD=$(find "$T/img" -name lxd.tar.xz)
RT=$(find "$T/img" -name rootfs.tar.xz)
expect 0 "image fingerprint" "$V" image "$MD" "$RT"
check "fingerprint = sha256(meta || root)" test "$(cat "$T/out")" = "$(cat "$MD" "$RT" | sha256sum | cut -d' ' -f1)"
check "fingerprint = what the stream says" test "$(cat "$T/out")" = "$FP"
expect 0 "image --expect" "$V" image "$MD" "$RT" --expect "$FP"
expect 3 "image --expect, wrong" "$V" image "$RT" "$MD" --expect "$FP"
check "image: FAIL" out_has "FAIL fingerprint"
expect 0 "unified image fingerprint" "$V" image "$RT"
check "unified = sha256(file)" test "$(cat "$T/out")" = "$(sha256sum <"$RT" | cut -d' ' -f1)"
expect 2 "image: missing file" "$V" image "$T/nothing"
expect 64 "image --expect, not a fingerprint" "$V" image "$MD" "$RT" --expect zz
check "image --expect zz: usage error named" err_has "64 hex digits"
expect 64 "--jobs beyond int range" "$V" -j 4294967297 "$W/foocloud"

finish
