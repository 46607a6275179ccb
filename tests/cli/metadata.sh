# SPDX-License-Identifier: Apache-2.0
# metadata.yaml as build and add read it: a metadata.yaml like the one
# `lxc image export` gives publishes under its os/release/variant with its
# description carried into release_title (what `lxc image list` shows);
# without properties.os or properties.release add and build refuse,
# naming the file, rather than publish unknown:unknown; build names the
# YAML it was given and leaves no output directory behind.
. tests/lib.sh
P=$BIN/sstream-publish
I=$T/img
mkdir -p "$I/exp" "$I/root/bin" "$I/noos" "$I/norel"
echo hi >"$I/root/bin/hi"
tar -C "$I/root" -cJf "$I/root.tar.xz" .
# what `lxc image export` of an images: container holds (distrobuilder's fields)
cat >"$I/exp/metadata.yaml" <<'YAML'
architecture: x86_64
creation_date: 1795910400
expiry_date: 1798502400
properties:
  architecture: amd64
  description: Alpine 3.17 amd64 (20261129_00:00)
  name: alpine-3.17-amd64-default-20261129_00:00
  os: Alpine
  release: "3.17"
  serial: "20261129_00:00"
  type: squashfs
  variant: default
templates:
  /etc/hostname:
    when:
    - create
    - copy
    template: hostname.tpl
YAML
tar -C "$I/exp" -cJf "$I/exp.tar.xz" metadata.yaml
printf 'architecture: x86_64\ncreation_date: 1795910400\nproperties:\n  release: "3.17"\n' >"$I/noos/metadata.yaml"
printf 'architecture: x86_64\ncreation_date: 1795910400\nproperties:\n  os: Alpine\n' >"$I/norel/metadata.yaml"
tar -C "$I/noos" -cJf "$I/noos.tar.xz" metadata.yaml
tar -C "$I/norel" -cJf "$I/norel.tar.xz" metadata.yaml

# ---- add ---------------------------------------------------------------------------------------
D=$T/tree
expect 0 "add an image with lxc image export's metadata.yaml" "$P" add "$D" "$I/exp.tar.xz" "$I/root.tar.xz"
prod() { "$PY" -c 'import json,sys; p=json.load(open(sys.argv[1]+"/streams/v1/images.json"))["products"]
print(" ".join(sorted(p))); [print(k, v.get(k)) for v in p.values() for k in sys.argv[2:]]' "$@"; }
prod "$D" os release variant release_title >"$T/prod"
check "product os:release:arch:variant from properties" test "$(head -1 "$T/prod")" = "alpine:3.17:amd64:default"
check "os, release, variant as given" sh -c "grep -qx 'os Alpine' '$T/prod' && grep -qx 'release 3.17' '$T/prod' && grep -qx 'variant default' '$T/prod'"
# LXD lists a simplestreams image as "os release_title arch (version)", an
# imported one by properties.description: the two agree
check "release_title from properties.description" grep -qx 'release_title 3.17' "$T/prod"
mkdir -p "$I/titled"
sed 's/^  description: .*/  description: Alpine Edge Nightly amd64 (20261129_00:00)/' "$I/exp/metadata.yaml" >"$I/titled/metadata.yaml"
tar -C "$I/titled" -cJf "$I/titled.tar.xz" metadata.yaml
expect 0 "a description that says more than the release" "$P" add -q "$T/titled" "$I/titled.tar.xz" "$I/root.tar.xz"
prod "$T/titled" release_title >"$T/prod"
check "... is the release_title" grep -qx 'release_title Edge Nightly' "$T/prod"
expect 0 "list" "$P" list "$T/titled" --format json
check "list shows it" out_has '"description": "Alpine Edge Nightly amd64'
mkdir -p "$I/rt"
printf 'architecture: x86_64\ncreation_date: 1795910400\nproperties:\n  os: Alpine\n  release: "3.17"\n  release_title: Three seventeen\n  description: Alpine 3.17\n' >"$I/rt/metadata.yaml"
tar -C "$I/rt" -cJf "$I/rt.tar.xz" metadata.yaml
expect 0 "properties.release_title" "$P" add -q "$T/rt" "$I/rt.tar.xz" "$I/root.tar.xz"
prod "$T/rt" release_title >"$T/prod"
check "... wins over the description" grep -qx 'release_title Three seventeen' "$T/prod"

snap() { (cd "$1" && find . -printf '%y %m %p\n' | sort && find . -type f -exec sha256sum {} + | sort); }
snap "$D" >"$T/before"
expect 2 "add: metadata.yaml without properties.os" "$P" add "$D" "$I/noos.tar.xz" "$I/root.tar.xz"
check "... names the file and the field" err_has "invalid image '$I/noos.tar.xz': metadata.yaml has no properties.os"
expect 2 "add: metadata.yaml without properties.release" "$P" add "$D" "$I/norel.tar.xz" "$I/root.tar.xz"
check "... names the file and the field" err_has "invalid image '$I/norel.tar.xz': metadata.yaml has no properties.release"
snap "$D" >"$T/after"
check "... nothing published (no unknown:unknown)" cmp -s "$T/before" "$T/after"
expect 2 "add into a new tree" "$P" add "$T/new" "$I/noos.tar.xz" "$I/root.tar.xz"
check "... makes no tree" test ! -e "$T/new"

# ---- build ------------------------------------------------------------------------------------
expect 2 "build: metadata.yaml without properties.os" "$P" build "$I/root" --metadata "$I/noos/metadata.yaml" -o "$T/out1"
check "... names the YAML given" err_has "invalid metadata '$I/noos/metadata.yaml' has no properties.os"
check "... and leaves no output directory" test ! -e "$T/out1"
printf 'architecture: x86_64\ncreation_date: [1\n' >"$T/bad.yaml"
expect 2 "build: metadata that is not YAML" "$P" build "$I/root" --metadata "$T/bad.yaml" -o "$T/out2/sub"
check "... names the YAML, not the output tarball" sh -c "grep -q \"invalid metadata '$T/bad.yaml' line\" '$T/err' && ! grep -q meta.tar '$T/err'"
check "... and leaves no output directory" test ! -e "$T/out2/sub"
mkdir "$T/out3"
expect 2 "build: metadata without a creation_date, into an existing directory" "$P" build "$I/root" --metadata "$I/noos/metadata.yaml" -o "$T/out3"
check "... which stays, empty" test -d "$T/out3" -a -z "$(ls -A "$T/out3")"
expect 0 "build with lxc image export's metadata.yaml" "$P" build "$I/root" --metadata "$I/exp/metadata.yaml" -o "$T/out4"
check "... then adds" sh -c "'$P' add -q '$T/built' '$T/out4/meta.tar.xz' '$T/out4/rootfs.tar.xz'"

# ---- the README's example is what build and add read -------------------------------------------
"$PY" -c 'import re,sys; t=open("README.md").read(); t=t[t.index("### metadata.yaml"):]
print(re.search(r"```yaml\n(.*?)```", t, re.S).group(1), end="")' >"$T/readme.yaml"
expect 0 "build with the README's metadata.yaml" "$P" build "$I/root" --metadata "$T/readme.yaml" -o "$T/out5"
expect 0 "... and add it" "$P" add -q "$T/readme" "$T/out5/meta.tar.xz" "$T/out5/rootfs.tar.xz"
prod "$T/readme" release_title >"$T/prod"
check "... published as the README says" sh -c "grep -qx 'alpine:3.17:amd64:default' '$T/prod' && grep -qx 'release_title 3.17' '$T/prod'"

finish
