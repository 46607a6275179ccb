# SPDX-License-Identifier: Apache-2.0
# The images.linuxcontainers.org layout: `add TREE META ROOT...` publishes
# one metadata tarball with several roots (rootfs tarball, squashfs, qcow2)
# as one version whose one lxd.tar.xz item carries every combined_*_sha256
# (the shape of ../shared/fixtures/real/lxc-images-20230424.json); a root
# of the same metadata joins its version later; --delta adds the
# squashfs.vcdiff as images: names it; an add that fails leaves every byte
# of the tree (.sstream/ included) as it was; list and webconf show it.
. tests/lib.sh
P=$BIN/sstream-publish
V=$BIN/sstream-verify
REAL=$FIXTURES/real/lxc-images-20230424.json
I=$T/img
# image DIR DATE TEXT: DIR/meta.tar.xz, root.tar.xz, root.squashfs, disk.qcow2
image() {
	mkdir -p "$1/m" "$1/r/bin"
	printf 'architecture: x86_64\ncreation_date: %s\nproperties:\n  os: Layoutos\n  release: "1"\n  variant: default\n  description: Layoutos 1 amd64\n' \
		"$2" >"$1/m/metadata.yaml"
	echo "$3" >"$1/r/bin/file"
	head -c 20000 /dev/urandom >"$1/r/bin/blob"
	tar -C "$1/m" -cJf "$1/meta.tar.xz" metadata.yaml
	tar -C "$1/r" -cJf "$1/root.tar.xz" .
	mksquashfs "$1/r" "$1/root.squashfs" -quiet -noappend -all-root >/dev/null
	{ printf 'QFI\373'; head -c 4096 /dev/urandom; } >"$1/disk.qcow2"
}
image "$I/v1" 1795910400 one
image "$I/v2" 1795996800 two
fp() { cat "$1" "$2" | sha256sum | cut -c1-64; }
# snap TREE: every entry's kind, mode and name, every file's bytes
snap() { (cd "$1" && find . -printf '%y %m %p\n' | sort && find . -type f -exec sha256sum {} + | sort); }
items() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1]+"/streams/v1/images.json"))
for p in d["products"].values():
    for vn, v in sorted(p["versions"].items()):
        print(vn, " ".join(sorted(v["items"])))' "$1"; }
field() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1]+"/streams/v1/images.json"))
v=d["products"]["layoutos:1:amd64:default"]["versions"][sys.argv[2]]["items"]
print(v[sys.argv[3]].get(sys.argv[4], ""))' "$@"; }

# ---- one command, three roots ----------------------------------------------------------------
D=$T/one
expect 0 "add TREE META ROOT ROOT ROOT" "$P" add "$D" "$I/v1/meta.tar.xz" "$I/v1/root.tar.xz" "$I/v1/root.squashfs" "$I/v1/disk.qcow2"
FP_TAR=$(fp "$I/v1/meta.tar.xz" "$I/v1/root.tar.xz")
FP_SQ=$(fp "$I/v1/meta.tar.xz" "$I/v1/root.squashfs")
FP_VM=$(fp "$I/v1/meta.tar.xz" "$I/v1/disk.qcow2")
check "one fingerprint a line, sha256(meta || root), in the order given" test "$(cat "$T/out")" = "$(printf '%s\n%s\n%s' "$FP_TAR" "$FP_SQ" "$FP_VM")"
items "$D" >"$T/items"
check "one version holding the metadata and every root" test "$(cat "$T/items")" = "20261129_0000 disk.qcow2 incus.tar.xz lxd.tar.xz root.squashfs root.tar.xz"
check "one lxd.tar.xz item carries every combined fingerprint" sh -c "test '$(field "$D" 20261129_0000 lxd.tar.xz combined_rootxz_sha256)' = '$FP_TAR' && test '$(field "$D" 20261129_0000 lxd.tar.xz combined_sha256)' = '$FP_TAR' && test '$(field "$D" 20261129_0000 lxd.tar.xz combined_squashfs_sha256)' = '$FP_SQ' && test '$(field "$D" 20261129_0000 lxd.tar.xz combined_disk-kvm-img_sha256)' = '$FP_VM'"
check "... and so does Incus's" test "$(field "$D" 20261129_0000 incus.tar.xz combined_squashfs_sha256)" = "$FP_SQ"
# the shape of images.linuxcontainers.org: the same item names, ftypes and
# metadata fields as a real version with the same three roots
expect 0 "the same shape as images.linuxcontainers.org" "$PY" - "$REAL" "$D/streams/v1/images.json" <<'PY'
import json, sys
real = json.load(open(sys.argv[1]))["products"]["almalinux:8:amd64:cloud"]["versions"]["20230421_23:27"]["items"]
ours = json.load(open(sys.argv[2]))["products"]["layoutos:1:amd64:default"]["versions"]["20261129_0000"]["items"]
shape = lambda items: {k: (v["ftype"], sorted(v)) for k, v in items.items() if not k.endswith(".vcdiff") and k != "incus.tar.xz"}
assert shape(real) == shape(ours), (shape(real), shape(ours))
PY
check "the files side by side in one directory" test "$(find "$D/images" -type f | wc -l)" -eq 4 -a "$(find "$D/images" -mindepth 1 -type d | wc -l)" -eq 1
expect 0 "the tree verifies (every combined fingerprint)" "$V" "$D"
expect 0 "... and is valid for LXD" "$PY" -W ignore tests/validate.py lxd-profile.schema.json "$D/streams/v1/images.json"
snap "$D" >"$T/s1"
expect 0 "the same again" "$P" add "$D" "$I/v1/meta.tar.xz" "$I/v1/root.tar.xz" "$I/v1/root.squashfs" "$I/v1/disk.qcow2"
check "... is already published" test "$(grep -c 'already published' "$T/out")" -eq 3
snap "$D" >"$T/now"
check "... and changes nothing" cmp -s "$T/now" "$T/s1"

# ---- list and webconf show it ---------------------------------------------------------------
expect 0 "list" "$P" list "$D" --format json
cp "$T/out" "$T/list.json"
expect 0 "list: an image per root, by fingerprint and type" "$PY" - "$T/list.json" "$FP_TAR" "$FP_SQ" "$FP_VM" <<'PY'
import json, sys
got = sorted((i["fingerprint"], i["type"], i["version"]) for i in json.load(open(sys.argv[1])))
want = sorted([(sys.argv[2], "CONTAINER", "20261129_0000"), (sys.argv[3], "CONTAINER", "20261129_0000"),
               (sys.argv[4], "VIRTUAL-MACHINE", "20261129_0000")])
assert got == want, got
PY
expect 0 "webconf" "$P" webconf "$D" --base-url https://images.example
check "webconf: the version's aliases, pointing LXD at lxc image copy" sh -c "grep -q 'location = /import/layoutos/1 ' '$T/out' && grep -q 'lxc image copy REMOTE:layoutos/1 local:' '$T/out'"

# ---- a root of the same metadata joins its version later ----------------------------------
D2=$T/later
expect 0 "add the rootfs tarball" "$P" add "$D2" "$I/v1/meta.tar.xz" "$I/v1/root.tar.xz"
META_PATH=$(field "$D2" 20261129_0000 lxd.tar.xz path)
expect 0 "add the squashfs of the same metadata later (root first)" "$P" add "$D2" "$I/v1/root.squashfs" "$I/v1/meta.tar.xz"
check "... prints its fingerprint" test "$(cat "$T/out")" = "$FP_SQ"
expect 0 "... and the VM disk" "$P" add -q "$D2" "$I/v1/meta.tar.xz" "$I/v1/disk.qcow2"
check "one version, one metadata item with three combined fingerprints" sh -c "test '$(items "$D2")' = '20261129_0000 disk.qcow2 incus.tar.xz lxd.tar.xz root.squashfs root.tar.xz' && test '$(field "$D2" 20261129_0000 lxd.tar.xz combined_squashfs_sha256)' = '$FP_SQ' && test '$(field "$D2" 20261129_0000 lxd.tar.xz combined_rootxz_sha256)' = '$FP_TAR'"
check "the metadata file kept where it was, stored once" test "$(field "$D2" 20261129_0000 lxd.tar.xz path)" = "$META_PATH" -a "$(find "$D2/images" -name 'lxd.tar*' | wc -l)" -eq 1
check "no second directory" test "$(find "$D2/images" -mindepth 1 -type d | wc -l)" -eq 1
check "the same documents as one command" cmp -s "$D/streams/v1/images.json" "$D2/streams/v1/images.json"
expect 0 "the tree verifies" "$V" "$D2"

# ---- --delta: the squashfs.vcdiff named as images: names it ---------------------------------
expect 0 "version 2 with two roots and --delta" "$P" add -q --delta "$D2" "$I/v2/meta.tar.xz" "$I/v2/root.tar.xz" "$I/v2/root.squashfs"
check "root.<base>.vcdiff, ftype squashfs.vcdiff, delta_base" sh -c "test '$(field "$D2" 20261130_0000 root.20261129_0000.vcdiff ftype)' = squashfs.vcdiff && test '$(field "$D2" 20261130_0000 root.20261129_0000.vcdiff delta_base)' = 20261129_0000"
DELTA=$D2/$(field "$D2" 20261130_0000 root.20261129_0000.vcdiff path)
expect 0 "the delta rebuilds version 2's squashfs" xdelta3 -d -f -s "$I/v1/root.squashfs" "$DELTA" "$T/rebuilt"
check "rebuilt = new" cmp -s "$T/rebuilt" "$I/v2/root.squashfs"
D3=$T/deltalater
expect 0 "version 1" "$P" add -q "$D3" "$I/v1/meta.tar.xz" "$I/v1/root.squashfs"
expect 0 "version 2's tarball" "$P" add -q "$D3" "$I/v2/meta.tar.xz" "$I/v2/root.tar.xz"
expect 0 "version 2's squashfs later, with --delta" "$P" add -q --delta "$D3" "$I/v2/meta.tar.xz" "$I/v2/root.squashfs"
check "... gets its delta too" test "$(field "$D3" 20261130_0000 root.20261129_0000.vcdiff delta_base)" = 20261129_0000
expect 0 "the tree with deltas verifies" "$V" "$D3"

# ---- a failed add leaves nothing behind --------------------------------------------------------
# another metadata tarball at the same product and minute
mkdir -p "$I/other"
sed 's/description: .*/description: another build/' "$I/v1/m/metadata.yaml" >"$I/other/metadata.yaml"
tar -C "$I/other" -cJf "$I/other/meta.tar.xz" metadata.yaml
snap "$D2" >"$T/b1"
expect 2 "a squashfs of another metadata at the same version" "$P" add "$D2" "$I/other/meta.tar.xz" "$I/v1/root.squashfs"
check "... named" err_has "version 20261129_0000 of layoutos:1:amd64:default already holds a different 'lxd.tar.xz'"
snap "$D2" >"$T/now"
check "... every byte as it was (no orphan directory)" cmp -s "$T/now" "$T/b1"
D4=$T/conflict
expect 0 "a version with a tarball" "$P" add -q "$D4" "$I/v1/meta.tar.xz" "$I/v1/root.tar.xz"
snap "$D4" >"$T/b2"
expect 2 "the same metadata with another rootfs tarball and a new squashfs" "$P" add "$D4" "$I/v1/meta.tar.xz" "$I/v1/root.squashfs" "$I/v2/root.tar.xz"
check "... named" err_has "already holds a different 'root.tar.xz'"
snap "$D4" >"$T/now"
check "... every byte as it was (the squashfs not placed either)" cmp -s "$T/now" "$T/b2"
expect 64 "two roots of one kind" "$P" add "$D4" "$I/v1/meta.tar.xz" "$I/v1/root.squashfs" "$I/v2/root.squashfs"
check "... named" err_has "are both a root.squashfs"
echo "not an image" >"$T/text"
expect 2 "a root that is none" "$P" add "$D4" "$I/v1/meta.tar.xz" "$I/v1/root.squashfs" "$T/text"
check "... named" err_has "$T/text"
snap "$D4" >"$T/now"
check "... every byte as it was" cmp -s "$T/now" "$T/b2"
expect 0 "a dry run of three roots" "$P" add --dry-run "$T/dry" "$I/v1/meta.tar.xz" "$I/v1/root.tar.xz" "$I/v1/root.squashfs" "$I/v1/disk.qcow2"
check "... says what it would add" test "$(grep -c 'would be added' "$T/out")" -eq 3
check "... and makes no tree" test ! -e "$T/dry"

finish
