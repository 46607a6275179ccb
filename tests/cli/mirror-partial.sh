#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A version is published whole or not at all (issue 16 item 5): when an
# item of an LXD version fails (its root image answers 404), the mirror
# exits 1 and does not list the version - a version listing only its
# metadata is an image LXD lists and cannot fetch, and sstream-verify
# fails the tree.  What the previous run listed for the product stays.
. tests/lib.sh

SRV=$T/srv
mkdir -p "$SRV"
"$PY" tests/mklxdtree.py "$SRV/up" >/dev/null
: >"$T/faults"
httpd_start "$SRV"
P=$SRV/up/streams/v1/images.json

# add_version VERSION [RESPUN]: a copy of the first version under another
# key and directory, its rootfs made its own; RESPUN makes another one
add_version() {
	"$PY" - "$SRV/up" "$1" "${2:-}" <<'PY'
import copy, hashlib, json, os, shutil, sys
root, ver, extra = sys.argv[1], sys.argv[2], sys.argv[3].encode()
p = os.path.join(root, "streams/v1/images.json")
doc = json.load(open(p))
prod = doc["products"]["testos:one:amd64:default"]
first = sorted(prod["versions"])[0]
items = copy.deepcopy(prod["versions"][first]["items"])
d = "images/testos/one/amd64/default/%s/" % ver
os.makedirs(os.path.join(root, d), exist_ok=True)
meta = open(os.path.join(root, items["lxd.tar.xz"]["path"]), "rb").read()
# its own bytes: not a file the mirror can link from another version
rootfs = open(os.path.join(root, items["root.tar.xz"]["path"]), "rb").read() + ver.encode() + extra
name = "rootfs%s.tar.xz" % ("-respun" if extra else "")
open(os.path.join(root, d, "lxd.tar.xz"), "wb").write(meta)
open(os.path.join(root, d, name), "wb").write(rootfs)
fp = hashlib.sha256(meta + rootfs).hexdigest()
for k in ("lxd.tar.xz", "incus.tar.xz"):
    items[k].update(path=d + "lxd.tar.xz", combined_rootxz_sha256=fp, combined_sha256=fp)
items["root.tar.xz"].update(path=d + name, size=len(rootfs), sha256=hashlib.sha256(rootfs).hexdigest())
prod["versions"][ver] = {"items": items}
json.dump(doc, open(p, "w"), indent=1, sort_keys=True)
PY
}

listed() { grep -q "\"$2\"" "$1/streams/v1/images.json" 2>/dev/null; }
unlisted() { ! listed "$@"; }

# ---- a new mirror: the only version's root fails -------------------------
echo "404 rootfs.tar.xz" >"$T/faults"
expect 1 "the root item fails: partial" "$BIN/sstream-mirror" "$HTTP_URL/up" "$T/m1"
check "the failed item is named" err_has "rootfs.tar.xz"
check "the version is not listed" bash -c "! grep -rq 20261129_0000 '$T/m1/streams'"
expect 0 "the tree written verifies" "$BIN/sstream-verify" "$T/m1"
: >"$T/faults"
expect 0 "once the root is served, the next run completes" "$BIN/sstream-mirror" "$HTTP_URL/up" "$T/m1"
check "the version is listed" listed "$T/m1" 20261129_0000
expect 0 "the complete tree verifies" "$BIN/sstream-verify" "$T/m1"

# ---- a new version whose root fails: the previous listing stays ----------
add_version 20261130_0000
echo "404 20261130_0000/rootfs.tar.xz" >"$T/faults"
expect 1 "the new version's root fails: partial" "$BIN/sstream-mirror" "$HTTP_URL/up" "$T/m1"
check "the new version is not listed" unlisted "$T/m1" 20261130_0000
check "the previous version is still listed" listed "$T/m1" 20261129_0000
expect 0 "the tree verifies" "$BIN/sstream-verify" "$T/m1"
check "no metadata item is listed alone" bash -c "! grep -q 'without a root item' '$T/err'"
: >"$T/faults"
expect 0 "the next run lists the new version" "$BIN/sstream-mirror" "$HTTP_URL/up" "$T/m1"
check "the new version is listed" listed "$T/m1" 20261130_0000
expect 0 "the tree verifies" "$BIN/sstream-verify" "$T/m1"

# ---- a listed version respun upstream, its new root fails ----------------
# its metadata is unchanged, so what the last run listed for it can stay
"$PY" - "$SRV/up" <<'PY'
import json, os, sys
p = os.path.join(sys.argv[1], "streams/v1/images.json")
doc = json.load(open(p))
del doc["products"]["testos:one:amd64:default"]["versions"]["20261130_0000"]
json.dump(doc, open(p, "w"), indent=1, sort_keys=True)
PY
add_version 20261130_0000 respun
echo "404 rootfs-respun" >"$T/faults"
expect 1 "the respun root fails: partial" "$BIN/sstream-mirror" "$HTTP_URL/up" "$T/m1"
check "the version stays listed, as before" listed "$T/m1" 20261130_0000
check "with its previous root" bash -c "grep -q '20261130_0000/rootfs.tar.xz' '$T/m1/streams/v1/images.json' &&
	! grep -q rootfs-respun '$T/m1/streams/v1/images.json'"
expect 0 "the tree verifies" "$BIN/sstream-verify" "$T/m1"

finish
