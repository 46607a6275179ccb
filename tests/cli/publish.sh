# SPDX-License-Identifier: Apache-2.0
# sstream-publish: add (split tarball, split squashfs, unified, VM), list,
# remove, idempotence, bad images; then the real client: the LXD daemon
# lists, copies and unpacks each image from the published tree over HTTPS.
. tests/lib.sh
P=$BIN/sstream-publish
V=$BIN/sstream-verify
I=$T/img
mkdir -p "$I/meta" "$I/rootfs/rootfs/bin" "$I/unified" "$I/vmmeta"
cat >"$I/meta/metadata.yaml" <<'YAML'
architecture: x86_64
creation_date: 1795910400
properties:
  os: TestOS
  release: two
  variant: default
  description: TestOS two
YAML
printf '#!/bin/sh\necho hello\n' >"$I/rootfs/rootfs/bin/hello"
chmod 755 "$I/rootfs/rootfs/bin/hello"
tar -C "$I/meta" -cJf "$I/meta.tar.xz" metadata.yaml
tar -C "$I/rootfs/rootfs" -cJf "$I/root.tar.xz" .  # a split rootfs: the filesystem at its root
mksquashfs "$I/rootfs/rootfs" "$I/root.squashfs" -quiet -noappend -all-root >/dev/null
sed 's/release: two/release: three/' "$I/meta/metadata.yaml" >"$I/unified/metadata.yaml"
cp -r "$I/rootfs/rootfs" "$I/unified/"
tar -C "$I/unified" -czf "$I/unified.tar.gz" metadata.yaml rootfs
sed 's/release: two/release: vm/' "$I/meta/metadata.yaml" >"$I/vmmeta/metadata.yaml"
tar -C "$I/vmmeta" -cf "$I/vmmeta.tar" metadata.yaml
printf 'QFI\373' >"$I/disk.qcow2"
head -c 4096 /dev/zero >>"$I/disk.qcow2"
D=$T/www/site

# ---- add ------------------------------------------------------------------------------
expect 0 "add a split image (rootfs tarball)" "$P" add "$D" "$I/meta.tar.xz" "$I/root.tar.xz" --alias mine/tar
FP_TAR=$(cut -d' ' -f1 "$T/out")
check "fingerprint = sha256(meta || root)" test "$FP_TAR" = "$(cat "$I/meta.tar.xz" "$I/root.tar.xz" | sha256sum | cut -d' ' -f1)"
snap() { (cd "$D" && find . -path ./.sstream -prune -o -type f -printf '%p %s %T@\n' | sort); }
snap >"$T/s1"
sleep 1
expect 0 "adding the same image again" "$P" add "$D" "$I/meta.tar.xz" "$I/root.tar.xz" --alias mine/tar
check "... says so" out_has "already published"
snap >"$T/s2"
check "... and changes nothing" cmp -s "$T/s1" "$T/s2"
expect 0 "add files in the other order" "$P" add -q "$D" "$I/root.tar.xz" "$I/meta.tar.xz"
check "stored files named for what they are" test -f "$D/images/$FP_TAR/lxd.tar.xz" -a -f "$D/images/$FP_TAR/rootfs.tar.xz"
# a tree published before files were named by compression keeps its names
cp -r "$D" "$T/oldnames"
mv "$T/oldnames/images/$FP_TAR/lxd.tar.xz" "$T/oldnames/images/$FP_TAR/meta.tar"
sed -i "s|images/$FP_TAR/lxd.tar.xz|images/$FP_TAR/meta.tar|g" "$T/oldnames/streams/v1/images.json"
expect 0 "re-adding to a tree with the old names" "$P" add "$T/oldnames" "$I/meta.tar.xz" "$I/root.tar.xz"
check "... is already published" out_has "already published"
check "... and keeps the old names" sh -c "grep -q 'images/$FP_TAR/meta.tar\"' '$T/oldnames/streams/v1/images.json' && test ! -e '$T/oldnames/images/$FP_TAR/lxd.tar.xz'"
expect 0 "add a unified image" "$P" add "$D" "$I/unified.tar.gz"
FP_UNI=$(cut -d' ' -f1 "$T/out")
check "unified fingerprint = sha256(file)" test "$FP_UNI" = "$(sha256sum <"$I/unified.tar.gz" | cut -d' ' -f1)"
expect 0 "add a VM image (qcow2)" "$P" add "$D" "$I/vmmeta.tar" "$I/disk.qcow2"
FP_VM=$(cut -d' ' -f1 "$T/out")
expect 0 "the tree verifies (hashes, combined fingerprints)" "$V" "$D"
expect 0 "the tree is valid for LXD" "$PY" -W ignore tests/validate.py lxd-profile.schema.json "$D/streams/v1/images.json"
expect 0 "the index is valid" "$PY" -W ignore tests/validate.py index.schema.json "$D/streams/v1/index.json"
check "both metadata items" sh -c "grep -q '\"incus.tar.xz\"' '$D/streams/v1/images.json' && grep -q '\"lxd.tar.xz\"' '$D/streams/v1/images.json'"
check "requirements and lxd_requirements" sh -c "grep -q '\"requirements\"' '$D/streams/v1/images.json' && grep -q '\"lxd_requirements\"' '$D/streams/v1/images.json'"
check "x86_64 published as amd64" sh -c "grep -q '\"testos:two:amd64:default\"' '$D/streams/v1/images.json'"
check "version key from creation_date" sh -c "grep -q '\"20261129_0000\"' '$D/streams/v1/images.json'"

# ---- build: reproducible images from a directory ----------------------------------------
R=$T/buildroot
mkdir -p "$R/bin" "$R/dev" "$T/tpl"
printf '#!/bin/sh\necho built\n' >"$R/bin/hello"
chmod 755 "$R/bin/hello"
ln -s hello "$R/bin/link"
ln "$R/bin/hello" "$R/bin/hard"
mknod "$R/dev/null2" c 1 3
echo '{{ container.name }}' >"$T/tpl/hostname.tpl"
sed 's/release: two/release: built/' "$I/meta/metadata.yaml" >"$T/built.yaml"
export SOURCE_DATE_EPOCH=1795910400
expect 0 "build a split image" "$P" build "$R" --metadata "$T/built.yaml" --templates "$T/tpl" -o "$T/b1"
FP_B1=$(cut -d' ' -f1 "$T/out")
touch "$R/bin/hello"
expect 0 "build it again" "$P" build "$R" --metadata "$T/built.yaml" --templates "$T/tpl" -o "$T/b2"
check "same input, same fingerprint (SOURCE_DATE_EPOCH)" test "$(cut -d' ' -f1 "$T/out")" = "$FP_B1"
check "same bytes" cmp -s "$T/b1/rootfs.tar.xz" "$T/b2/rootfs.tar.xz"
check "fingerprint of what was built" test "$FP_B1" = "$(cat "$T/b1/meta.tar.xz" "$T/b1/rootfs.tar.xz" | sha256sum | cut -d' ' -f1)"
tar -tvf "$T/b1/rootfs.tar.xz" >"$T/listing" 2>/dev/null
check "symlink kept" grep -q 'bin/link -> hello' "$T/listing"
check "hard link kept" grep -q 'bin/hello link to bin/hard' "$T/listing"
check "device node kept" grep -q '^crw.* 1,3 .*dev/null2' "$T/listing"
check "owners 0" sh -c "! grep -v ' root/root ' '$T/listing'"
check "mtimes clamped" sh -c "! grep -v ' 2026-11-29 ' '$T/listing'"
check "the rootfs tarball holds the filesystem at its root" grep -q ' bin/hello' "$T/listing"
tar -tf "$T/b1/meta.tar.xz" >"$T/listing"
check "metadata tarball: metadata.yaml and templates" sh -c "grep -qx metadata.yaml '$T/listing' && grep -qx templates/hostname.tpl '$T/listing'"
expect 0 "build a unified zstd image" "$P" build "$R" --metadata "$T/built.yaml" --unified --compression zstd -o "$T/b3"
check "unified: rootfs/ inside" sh -c "tar --zstd -tf '$T/b3/image.tar.zst' | grep -qx rootfs/bin/hello"
echo "just some text" >"$T/notyaml.yaml"
expect 2 "build with bad metadata" "$P" build "$R" --metadata "$T/notyaml.yaml" -o "$T/b4"
check "bad metadata: the YAML named" err_has "invalid metadata '$T/notyaml.yaml' is not a mapping"
check "bad metadata: nothing left behind (no output directory)" test ! -e "$T/b4"
expect 64 "build without -o" "$P" build "$R" --metadata "$T/built.yaml"
unset SOURCE_DATE_EPOCH

# ---- build --rootfs squashfs: libsquashfs, reproducible, everything kept -------------------
export SOURCE_DATE_EPOCH=1795910400
printf 'owned\n' >"$R/bin/owned"
chown 1000:1001 "$R/bin/owned"
printf '#!/bin/sh\n' >"$R/bin/suid"
chmod 4711 "$R/bin/suid"
mkfifo "$R/dev/fifo"
head -c 300000 /dev/urandom >"$R/bin/big"  # more than two 128 KiB blocks and a tail
XA=user.sstream
"$PY" -c 'import os, sys; os.setxattr(sys.argv[1], "user.sstream", b"kept")' "$R/bin/big" 2>/dev/null ||
	{ XA=trusted.sstream; "$PY" -c 'import os, sys; os.setxattr(sys.argv[1], "trusted.sstream", b"kept")' "$R/bin/big"; }
sed 's/release: two/release: squashed/' "$I/meta/metadata.yaml" >"$T/sq.yaml"
expect 0 "build a squashfs image" "$P" build "$R" --metadata "$T/sq.yaml" --rootfs squashfs --keep-owners -o "$T/sq1"
FP_SQB=$(cut -d' ' -f1 "$T/out")
check "... rootfs.squashfs written" test -s "$T/sq1/rootfs.squashfs"
touch "$R/bin/hello"
expect 0 "build it again" "$P" build "$R" --metadata "$T/sq.yaml" --rootfs squashfs --keep-owners -o "$T/sq2"
check "squashfs: same input, same bytes (SOURCE_DATE_EPOCH)" cmp -s "$T/sq1/rootfs.squashfs" "$T/sq2/rootfs.squashfs"
check "squashfs: fingerprint = sha256(meta || squashfs)" test "$FP_SQB" = "$(cat "$T/sq1/meta.tar.xz" "$T/sq1/rootfs.squashfs" | sha256sum | cut -d' ' -f1)"
unsquashfs -lln "$T/sq1/rootfs.squashfs" >"$T/listing"
check "squashfs: owners kept (--keep-owners)" grep -q '^-rw-r--r-- 1000/1001 .* squashfs-root/bin/owned$' "$T/listing"
check "squashfs: modes kept (setuid)" grep -q '^-rws--x--x 0/0 .* squashfs-root/bin/suid$' "$T/listing"
check "squashfs: symlink kept" grep -q 'squashfs-root/bin/link -> hello$' "$T/listing"
check "squashfs: device node kept" grep -q '^crw-r--r-- 0/0 *1, *3 .* squashfs-root/dev/null2$' "$T/listing"
check "squashfs: fifo kept" grep -q '^prw.* squashfs-root/dev/fifo$' "$T/listing"
check "squashfs: mtimes clamped" sh -c "! grep -v ' 2026-11-29 00:00 ' '$T/listing'"
unsquashfs -q -d "$T/sqx" "$T/sq1/rootfs.squashfs" >/dev/null 2>&1
check "squashfs: hard link kept (one inode, two names)" test "$(stat -c %i "$T/sqx/bin/hello")" = "$(stat -c %i "$T/sqx/bin/hard")" -a "$(stat -c %h "$T/sqx/bin/hard")" = 2
check "squashfs: data kept" cmp -s "$T/sqx/bin/big" "$R/bin/big"
check "squashfs: xattr kept" "$PY" -c 'import os, sys; assert os.getxattr(sys.argv[1], sys.argv[2]) == b"kept"' "$T/sqx/bin/big" "$XA"
expect 0 "a zstd squashfs" "$P" build "$R" --metadata "$T/sq.yaml" --rootfs squashfs --compression zstd -o "$T/sq3"
check "... says zstd" sh -c "unsquashfs -s '$T/sq3/rootfs.squashfs' | grep -q '^Compression zstd'"
check "... owners 0 without --keep-owners" sh -c "unsquashfs -lln '$T/sq3/rootfs.squashfs' | grep -q ' 0/0 .*bin/owned$'"
expect 64 "squashfs and --unified do not go together" "$P" build "$R" --metadata "$T/sq.yaml" --rootfs squashfs --unified -o "$T/sq4"
expect 64 "squashfs without compression" "$P" build "$R" --metadata "$T/sq.yaml" --rootfs squashfs --compression none -o "$T/sq4"
unset SOURCE_DATE_EPOCH

# ---- list --------------------------------------------------------------------------------
expect 0 "list" "$P" list "$D"
check "list: the split image with its aliases" out_has "^testos/two/default,testos/two,mine/tar *${FP_TAR%"${FP_TAR#????????????}"} "
check "list: the VM" out_has "VIRTUAL-MACHINE"
# Two root items of one type in a version: one image per metadata and
# root type (the metadata holds one fingerprint per type), not one per pair.
"$PY" - "$T/tworoots" <<'PY'
import json, os, sys
d = sys.argv[1]; os.makedirs(d + "/streams/v1")
items = {"meta": {"ftype": "lxd.tar.xz", "path": "m", "size": 1, "sha256": "a" * 64, "combined_squashfs_sha256": "b" * 64},
         "sq1": {"ftype": "squashfs", "path": "s1", "size": 2, "sha256": "c" * 64},
         "sq2": {"ftype": "squashfs", "path": "s2", "size": 3, "sha256": "d" * 64}}
prods = {"p:amd64:default": {"arch": "amd64", "os": "o", "release": "r", "variant": "default",
                             "versions": {"20240101_00:00": {"items": items}}}}
json.dump({"format": "products:1.0", "content_id": "images", "datatype": "image-downloads", "products": prods},
          open(d + "/streams/v1/images.json", "w"))
json.dump({"format": "index:1.0", "index": {"images": {"path": "streams/v1/images.json", "products": list(prods)}}},
          open(d + "/streams/v1/index.json", "w"))
PY
expect 0 "list: two roots of one type" "$P" list "$T/tworoots" --format csv
check "two roots of one type: one image" test "$(grep -c bbbbbbbb "$T/out")" -eq 1
expect 0 "list json" "$P" list "$D" --format json
check "list json parses" "$PY" -c 'import json,sys; l=json.load(open(sys.argv[1])); assert len(l) == 3, l' "$T/out"

# ---- bad images -----------------------------------------------------------------------
printf 'architecture: x86_64\n' >"$T/metadata.yaml"
tar -C "$T" -cf "$T/nodate.tar" metadata.yaml
printf 'creation_date: 1\n' >"$T/metadata.yaml"
tar -C "$T" -cf "$T/noarch.tar" metadata.yaml
printf 'architecture: [x86_64\n' >"$T/metadata.yaml"
tar -C "$T" -cf "$T/badyaml.tar" metadata.yaml
echo "not a tarball" >"$T/plain.txt"
snap >"$T/s3"
expect 2 "metadata without creation_date" "$P" add "$D" "$T/nodate.tar" "$I/root.tar.xz"
check "named" err_has "nodate.tar': metadata.yaml has no creation_date"
expect 2 "metadata without architecture" "$P" add "$D" "$T/noarch.tar" "$I/root.tar.xz"
check "named" err_has "noarch.tar': metadata.yaml has no architecture"
expect 2 "bad YAML" "$P" add "$D" "$T/badyaml.tar" "$I/root.tar.xz"
check "named with its line" err_has "badyaml.tar': metadata.yaml line"
expect 2 "not a tarball" "$P" add "$D" "$T/plain.txt"
expect 2 "a root file of unknown kind" "$P" add "$D" "$I/meta.tar.xz" "$T/plain.txt"
check "named" err_has "plain.txt' is not a squashfs, qcow2 or tar image"
expect 2 "a split metadata tarball alone" "$P" add "$D" "$I/meta.tar.xz"
snap >"$T/s4"
check "bad images leave the tree as it was" cmp -s "$T/s3" "$T/s4"

# ---- remove ------------------------------------------------------------------------------
cp -r "$D" "$T/rm"
expect 0 "remove by fingerprint prefix" "$P" remove "$T/rm" "${FP_VM%"${FP_VM#????????????}"}"
expect 0 "list after remove" "$P" list "$T/rm" --format csv
check "the VM is gone" sh -c "! grep -q VIRTUAL '$T/out'"
expect 0 "remove by alias" "$P" remove "$T/rm" mine/tar
expect 2 "remove what is not there" "$P" remove "$T/rm" nothing-like-this

# ---- prune: keep the newest N versions, files go after the grace period ----------------------
D6=$T/prunesite
for day in 1 2 3; do
	mkdir -p "$T/p$day"
	sed "s/creation_date: 1795910400/creation_date: $((1795910400 + day * 86400))/" "$I/meta/metadata.yaml" >"$T/p$day/metadata.yaml"
	tar -C "$T/p$day" -cJf "$T/p$day/meta.tar.xz" metadata.yaml
	expect 0 "add version $day" "$P" add -q "$D6" "$T/p$day/meta.tar.xz" "$I/root.tar.xz"
done
expect 0 "list: 3 versions" "$P" list "$D6" --format csv
check "3 versions listed" test "$(out_lines)" -eq 3
expect 0 "prune --dry-run" "$P" prune "$D6" --keep 1 --dry-run
check "dry run names the versions" sh -c "grep -q 'would remove version testos:two:amd64:default/20261130_0000' '$T/out' && grep -q 'would remove version testos:two:amd64:default/20261201_0000' '$T/out'"
expect 0 "dry run changed nothing" "$P" list "$D6" --format csv
check "still 3 versions" test "$(out_lines)" -eq 3
expect 0 "prune --keep 1 (default grace)" "$P" prune "$D6" --keep 1
expect 0 "pruned list" "$P" list "$D6" --format csv
check "1 version left, the newest" sh -c "test \$(wc -l <'$T/out') -eq 1 && grep -q 20261202_0000 '$T/out'"
check "files stay during the grace period" test "$(find "$D6/images" -type f | wc -l)" -eq 6
expect 0 "the pruned tree verifies" "$V" "$D6"
expect 0 "prune after the grace period" "$P" prune "$D6" --keep 1 --grace 0
check "old files deleted, and their directories" test "$(find "$D6/images" -mindepth 1 -maxdepth 1 -type d | wc -l)" -eq 1
expect 0 "--orphans finds nothing left" "$V" --orphans "$D6"
expect 64 "prune without --keep" "$P" prune "$D6"
expect 64 "--keep beyond int range" "$P" prune "$D6" --keep 4294967297

# ---- deltas: a squashfs.vcdiff from the previous version ------------------------------------
D7=$T/deltasite
mkdir -p "$T/r2/bin"
cp -r "$I/rootfs/rootfs/." "$T/r2/"
echo "new file" >"$T/r2/bin/new"
mksquashfs "$T/r2" "$T/root2.squashfs" -quiet -noappend -all-root >/dev/null
expect 0 "add version 1 (squashfs)" "$P" add -q "$D7" "$T/p1/meta.tar.xz" "$I/root.squashfs"
expect 0 "add version 2 with --delta" "$P" add -q --delta "$D7" "$T/p2/meta.tar.xz" "$T/root2.squashfs"
check "a squashfs.vcdiff item with its delta_base" sh -c "grep -q '\"squashfs.vcdiff\"' '$D7/streams/v1/images.json' && grep -q '\"delta_base\": \"20261130_0000\"' '$D7/streams/v1/images.json'"
DELTA=$(find "$D7/images" -name 'delta-*.vcdiff')
BASE=$(find "$D7/images" -name rootfs.squashfs | while read -r f; do cmp -s "$f" "$I/root.squashfs" && echo "$f"; done)
expect 0 "the delta rebuilds the new squashfs from the old" xdelta3 -d -f -s "$BASE" "$DELTA" "$T/rebuilt.squashfs"
check "rebuilt = new" cmp -s "$T/rebuilt.squashfs" "$T/root2.squashfs"
expect 0 "the tree with a delta verifies" "$V" "$D7"
expect 0 "... and is valid for LXD" "$PY" -W ignore tests/validate.py lxd-profile.schema.json "$D7/streams/v1/images.json"

# ---- import: flat item records into products files (json2streams) -----------------------
D4=$T/imported
mkdir -p "$D4/files"
echo one >"$D4/files/one.txt"
echo two >"$D4/files/two.txt"
"$PY" - "$D4" >"$T/items.json" <<'PY'
import hashlib, json, os, sys
d = sys.argv[1]
def rec(v, name):
    data = open(os.path.join(d, "files", name), "rb").read()
    return {"content_id": "com.example:files", "product_name": "com.example:files:amd64", "version_name": v,
            "item_name": name, "path": "files/" + name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "arch": "amd64", "ftype": "text"}
items = [rec("20261101", "one.txt"), rec("20261102", "two.txt"),
         {"content_id": "com.example:ids", "product_name": "com.example:ids:amd64", "version_name": "20261101",
          "item_name": "region1", "id": "ami-1", "region": "r1"}]
print(json.dumps(items))
PY
expect 0 "import items" "$P" import "$D4" "$T/items.json"
expect 0 "imported tree verifies" "$V" "$D4"
expect 0 "imported: query" "$BIN/sstream-query" -f '%(content_id)s %(version_name)s %(item_name)s %(arch)s' "$D4"
check "imported: all items, fields kept" sh -c "grep -q '^com.example:files 20261102 two.txt amd64$' '$T/out' && grep -q '^com.example:ids 20261101 region1 $' '$T/out'"
check "imported: condensed (arch moved up)" sh -c "! grep -A3 '\"one.txt\": {' '$D4/streams/v1/com.example:files.json' | grep -q arch"
expect 0 "imported products are valid" "$PY" -W ignore tests/validate.py products.schema.json "$D4/streams/v1/com.example:files.json" "$D4/streams/v1/com.example:ids.json"
expect 0 "import again" "$P" import "$D4" "$T/items.json"
check "import again: nothing changed" out_has "nothing changed"
echo '[{"content_id": "x", "product_name": "p", "version_name": "v", "item_name": "i", "path": "../escape"}]' >"$T/evil.json"
expect 2 "import refuses unsafe paths" "$P" import "$T/imp2" "$T/evil.json"
check "unsafe path named" err_has "unsafe path '../escape'"
echo '[{"content_id": "x", "product_name": "p", "version_name": "v", "item_name": "i", "path": "a", "path": "../b"}]' >"$T/dup.json"
expect 2 "import refuses a repeated key" "$P" import "$T/imp2" "$T/dup.json"
check "repeated key: file and line named" err_has "dup.json': line 1 column .*duplicate object key"
echo '[{"content_id": "x"}]' >"$T/short.json"
expect 2 "import needs every name" "$P" import "$T/imp2" "$T/short.json"
check "missing field named" err_has "item 0 has no product_name"

# ---- signing -------------------------------------------------------------------------------
export GNUPGHOME=$T/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key 'Publisher <pub@example.invalid>' rsa2048 sign never 2>/dev/null
gpg --batch --quiet --export pub@example.invalid >"$T/pub.gpg"
D5=$T/signedsite
expect 0 "add with --sign-key" "$P" add --sign-key pub@example.invalid "$D5" "$I/meta.tar.xz" "$I/root.tar.xz"
check "signed products and index written" test -s "$D5/streams/v1/images.sjson" -a -s "$D5/streams/v1/index.sjson"
check "the signed index names the signed products" grep -q 'streams/v1/images.sjson' "$D5/streams/v1/index.sjson"
expect 0 "gpgv accepts the signature" gpgv --keyring "$T/pub.gpg" "$D5/streams/v1/index.sjson"
expect 0 "sstream-verify --keyring accepts the tree" "$V" --keyring "$T/pub.gpg" "$D5"
expect 0 "sstream-mirror --keyring mirrors it" "$BIN/sstream-mirror" --keyring "$T/pub.gpg" "$D5" "$T/signedmirror"
expect 0 "... and the mirror verifies" "$V" --keyring "$T/pub.gpg" "$T/signedmirror"
expect 2 "signing with a key that is not there" "$P" add --sign-key nobody@example.invalid "$T/nokey" "$I/meta.tar.xz" "$I/root.tar.xz"
check "missing key named" err_has "no secret key 'nobody@example.invalid'"
unset GNUPGHOME

# ---- the real client ---------------------------------------------------------------------
LXD_INSTANCES="c-tar c-sq c-uni c-built c-sqb"
lxd_start
# the squashfs image goes in a tree of its own (same version key as the tarball one)
D2=$T/www/site2
expect 0 "add a split image (squashfs)" "$P" add "$D2" "$I/meta.tar.xz" "$I/root.squashfs" --alias mine/sq
FP_SQ=$(cut -d' ' -f1 "$T/out")
tls_cert
cp "$T/cert.pem" "$LXD_CONF/servercerts/site.crt"
cp "$T/cert.pem" "$LXD_CONF/servercerts/site2.crt"
httpd_start "$D" --tls "$T/cert.pem" "$T/key.pem"
expect 0 "remote add site" lxc remote add site "https://127.0.0.1:$HTTP_PORT" --protocol=simplestreams --public
httpd_start "$D2" --tls "$T/cert.pem" "$T/key.pem"
expect 0 "remote add site2" lxc remote add site2 "https://127.0.0.1:$HTTP_PORT" --protocol=simplestreams --public
expect 0 "lxc image list site:" lxc image list site: --format csv -c lf
short() { printf '%.12s' "$1"; }
check "listed: the tarball image with its alias" out_has "mine/tar.*,$(short "$FP_TAR")$"
check "listed: the unified image" out_has ",$(short "$FP_UNI")$"
expect 0 "lxc image list site2:" lxc image list site2: --format csv -c lf
check "listed: the squashfs image" out_has "mine/sq.*,$(short "$FP_SQ")$"
expect 0 "copy the tarball image (fingerprint re-checked)" lxc image copy site:mine/tar local:
expect 0 "copy the squashfs image" lxc image copy site2:mine/sq local:
expect 0 "copy the unified image" lxc image copy "site:$FP_UNI" local:
expect 0 "copy the VM image with --vm" lxc image copy "site:$FP_VM" local: --vm
expect 0 "local images" lxc image list local: --format csv -c f
for fp in "$FP_TAR" "$FP_SQ" "$FP_UNI" "$FP_VM"; do
	check "local image $(short "$fp")" out_has "^$(short "$fp")$"
done
expect 0 "a storage pool" lxc storage create default dir
expect 0 "a default profile disk" lxc profile device add default root disk path=/ pool=default
expect 0 "lxc init from the tarball image" lxc init "$FP_TAR" c-tar
expect 0 "lxc init from the squashfs image" lxc init "$FP_SQ" c-sq
expect 0 "lxc init from the unified image" lxc init "$FP_UNI" c-uni
D3=$T/www/site3
expect 0 "publish the built image" "$P" add "$D3" "$T/b1/meta.tar.xz" "$T/b1/rootfs.tar.xz" --alias built
cp "$T/cert.pem" "$LXD_CONF/servercerts/site3.crt"
httpd_start "$D3" --tls "$T/cert.pem" "$T/key.pem"
expect 0 "remote add site3" lxc remote add site3 "https://127.0.0.1:$HTTP_PORT" --protocol=simplestreams --public
expect 0 "copy the built image" lxc image copy site3:built local:
expect 0 "lxc init from the built image" lxc init "$FP_B1" c-built
# a tree of its own: the client caches a remote's index
D8=$T/www/site4
expect 0 "publish the squashfs build" "$P" add "$D8" "$T/sq1/meta.tar.xz" "$T/sq1/rootfs.squashfs" --alias builtsq
check "... stored as rootfs.squashfs" test -f "$D8/images/$FP_SQB/rootfs.squashfs"
cp "$T/cert.pem" "$LXD_CONF/servercerts/site4.crt"
httpd_start "$D8" --tls "$T/cert.pem" "$T/key.pem"
expect 0 "remote add site4" lxc remote add site4 "https://127.0.0.1:$HTTP_PORT" --protocol=simplestreams --public
expect 0 "copy the squashfs build" lxc image copy site4:builtsq local:
expect 0 "lxc init from the squashfs build" lxc init "$FP_SQB" c-sqb
SQR=$LXD_DIR/storage-pools/default/containers/c-sqb/rootfs
check "c-sqb: unpacked by the daemon, symlink, device node and data there" sh -c "test -x '$SQR/bin/hello' && test -L '$SQR/bin/link' && test -c '$SQR/dev/null2' && cmp -s '$SQR/bin/big' '$R/bin/big'"
check "c-built: unpacked, symlink and device node there" sh -c "test -x '$LXD_DIR/storage-pools/default/containers/c-built/rootfs/bin/hello' && test -L '$LXD_DIR/storage-pools/default/containers/c-built/rootfs/bin/link' && test -c '$LXD_DIR/storage-pools/default/containers/c-built/rootfs/dev/null2'"
for c in c-tar c-sq c-uni; do
	check "$c: the rootfs was unpacked" test -x "$LXD_DIR/storage-pools/default/containers/$c/rootfs/bin/hello"
done

finish
