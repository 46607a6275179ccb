#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Items without a size (issue 16 item 4): a server answering such an item
# with an endless body once wrote 2.3 GB in 5 s.  By default the mirror
# refuses them before any transfer: the run exits 1 naming them and the
# rest of the tree is mirrored.  (max_item_size, a library option, caps
# them instead: tests/unit/test_download.c.)
. tests/lib.sh

SRV=$T/srv
mkdir -p "$SRV"
"$PY" - "$SRV/tree" <<'PY'
import hashlib, json, os, sys
root = sys.argv[1]
products = {}
for name, data, sized in (("sized.img", b"a sized item\n" * 100, True),
                          ("nosize.img", b"an item without a size\n", False)):
    rel = "files/" + name
    os.makedirs(os.path.join(root, "files"), exist_ok=True)
    open(os.path.join(root, rel), "wb").write(data)
    it = {"ftype": "disk1.img", "path": rel, "sha256": hashlib.sha256(data).hexdigest()}
    if sized:
        it["size"] = len(data)
    # a product each: a version is listed whole or not at all
    products["com.example:u:" + name.split(".")[0]] = {
        "arch": "amd64", "release": "r", "versions": {"20260101": {"items": {"disk": it}}}}
upd = "Thu, 01 Jan 2026 00:00:00 +0000"
doc = {"content_id": "com.example:u", "datatype": "image-downloads", "format": "products:1.0",
       "updated": upd, "products": products}
os.makedirs(os.path.join(root, "streams/v1"))
json.dump(doc, open(os.path.join(root, "streams/v1/u.json"), "w"), indent=1)
json.dump({"format": "index:1.0", "updated": upd, "index": {"com.example:u": {
    "datatype": "image-downloads", "format": "products:1.0", "path": "streams/v1/u.json",
    "products": sorted(products), "updated": upd}}},
    open(os.path.join(root, "streams/v1/index.json"), "w"), indent=1)
PY
echo "endless nosize.img" >"$T/faults"
httpd_start "$SRV"

# A guard for the old behaviour: no file of this run may pass 50 MB.
start=$(date +%s)
expect 1 "an item without a size is refused: partial" \
	bash -c "ulimit -f 51200; exec timeout 60 '$BIN/sstream-mirror' '$HTTP_URL/tree' '$T/m'"
secs=$(($(date +%s) - start))
check "the refused item is named" err_has "files/nosize.img"
check "the reason is given" err_has "no size"
check "the run did not wait on the endless body (took $secs s)" test "$secs" -lt 20
check "the sized item is mirrored" cmp "$SRV/tree/files/sized.img" "$T/m/files/sized.img"
check "the refused item is not in the tree" test ! -e "$T/m/files/nosize.img"
check "no temporary file grew" test -z "$(find "$T/m" -size +1M)"
check "the refused item was never requested" test -z "$(grep nosize "$T/httpd.log")"
expect 0 "the tree written verifies" "$BIN/sstream-verify" "$T/m"
check "the written products list the sized item only" \
	bash -c "grep -q sized.img '$T/m/streams/v1/u.json' && ! grep -q nosize.img '$T/m/streams/v1/u.json'"

# --max-item-size: such items are fetched, and an endless one fails at the cap
expect 1 "--max-item-size 1m: the endless item fails at the cap" \
	bash -c "ulimit -f 51200; exec timeout 60 '$BIN/sstream-mirror' --max-item-size 1m '$HTTP_URL/tree' '$T/m3'"
check "... named" err_has "files/nosize.img"
check "... it was requested this time" grep -q nosize "$T/httpd.log"
check "... and nothing past the cap stayed" test -z "$(find "$T/m3" -size +2M)"
expect 64 "--max-item-size 0 is a usage error" "$BIN/sstream-mirror" --max-item-size 0 "$HTTP_URL/tree" "$T/m4"
finish
