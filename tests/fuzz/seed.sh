#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Regenerates the seed part of the fuzz corpora (tests/fuzz/corpus/<target>/
# seed-*) from the fixtures.  Inputs libFuzzer found are kept beside them.
set -eu
cd "$(dirname "$0")/../.."
C=tests/fuzz/corpus
mkdir -p $C/products $C/clearsign $C/tree $C/filter $C/image
name() { echo "seed-$(echo "${1#tests/fixtures/}" | tr '/' '_')"; }
# products and clearsign: every small document of the fixtures
find tests/fixtures -type f \( -name '*.json' -o -name '*.sjson' \) -size -64k | sort | while read -r f; do
	cp "$f" "$C/products/$(name "$f")"
	case $f in *.sjson) cp "$f" "$C/clearsign/$(name "$f")" ;; esac
done
# products: single items, for the direct reader of flat items (an input
# is also read as one item): flat ones, and each thing it leaves to jansson
i=0
for item in '{"ftype": "lxd.tar.xz", "size": 884, "path": "images/a/lxd.tar.xz", "sha256": "ab12"}' \
	'{"a":-0}' '{"a":1234567890123456789}' '{"a":123456789012345678,"b":-123456789012345678}' \
	'{"a":"x","a":"y"}' '{"a":"\\u00e9","b":"\\n"}' '{"a":true,"b":false,"c":null,"d":1.5,"e":[1],"f":{}}' \
	' {\t"a" : "b" ,\r\n"c":01 } ' '{"a":"b"} x' '{}' '{"a":"b",}' '{"a":tru}' '"item"' '{"k\\u0000":"v"}' '{"k\001":"v"}' \
	'{"a":"caf\303\251","b":-5,"c":"\177"}'; do
	i=$((i + 1))
	printf "$item" >"$C/products/seed-item-$i"
done
# tree: each fixture tree's documents, as "=== RELPATH" records
for d in $(find tests/fixtures -type d -name v1 | sort); do
	root=${d%/streams/v1}
	out=$C/tree/$(name "$root")
	: >"$out"
	for f in $(cd "$root" && find streams -type f | sort); do
		printf '=== %s\n' "$f" >>"$out"
		cat "$root/$f" >>"$out"
	done
done
for f in tests/fixtures/hostile/*.json tests/fixtures/hostile-index.json; do
	cp "$f" "$C/tree/$(name "$f")"
done
# filter: expressions, an empty line, a products document
i=0
for exprs in 'arch=amd64' 'release~(jammy|noble)\nftype!=disk1.img' 'item_name!~^root\\Z\nendpoint~^https' \
	'(?i)x~[' 'n=3\nf=1.5\nt=True\nz=None' 'u~\\w+\\d*(?P<x>.)' 'l~\\[1' 'label=release'; do
	i=$((i + 1))
	{ printf "$exprs\n\n"; cat tests/fixtures/aliases.json; } >"$C/filter/seed-$i"
	{ printf "$exprs\n\n"; } >"$C/filter/seed-builtin-$i"
done
# image: metadata.yaml texts, and tarballs of them ('T' + the bytes)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/metadata.yaml" <<'YAML'
architecture: x86_64
creation_date: 1795910400
expiry_date: 1800000000
properties:
  os: Ubuntu
  release: noble
  variant: default
templates:
  /etc/hostname:
    when: [create, copy]
    template: hostname.tpl
YAML
cp "$tmp/metadata.yaml" "$C/image/seed-metadata.yaml"
printf 'architecture: aarch64\ncreation_date: 1\nproperties: {os: "Debian", release: [a, b]}\n' >"$C/image/seed-flow.yaml"
printf 'a: &x [1, 2]\nb: *x\narchitecture: !!str x\ncreation_date: 1\n' >"$C/image/seed-anchor.yaml"
mkdir "$tmp/rootfs"
for z in '' J z; do
	tar -C "$tmp" -c${z}f "$tmp/i.tar" metadata.yaml
	{ printf T; cat "$tmp/i.tar"; } >"$C/image/seed-split$z.tar"
	tar -C "$tmp" -c${z}f "$tmp/i.tar" metadata.yaml rootfs
	{ printf T; cat "$tmp/i.tar"; } >"$C/image/seed-unified$z.tar"
done
# webconf: products documents with unified images, and the hostile one
mkdir -p $C/webconf
for f in tests/fixtures/lxd/*.json tests/fixtures/hostile/*.json; do
	cp "$f" "$C/webconf/$(name "$f")"
done
# ledger: the format of now, the two it replaced, and lines it refuses
mkdir -p $C/ledger
printf 'P 1700000000 images/a/rootfs.squashfs\nP 5 files/with space\nP 9 files/b\n' >"$C/ledger/seed-current"
printf '1700000000 images/x.tar.xz\n1700000001 images/y.tar.xz\nnot a line\n' >"$C/ledger/seed-old-publish"
printf 'o e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 0 site/k\nd 12 site/gone\nd 11 site/gone\n' \
	>"$C/ledger/seed-old-s3"
printf '# sstream-mirror state\nM streams/v1/index.json\nP 100 files/old.img\nP -5 files/neg\nP 200 ../outside\n' \
	>"$C/ledger/seed-mirror-state"
printf 'P 1 a//b\nP 1 .sstream/state\nP 1 /abs\nP 1 a\\b\nP 1000000000000000000 big\nP 999999999999999999 max\nP 1 \nP 1' \
	>"$C/ledger/seed-refused"
# treeconf: a tree's settings file, valid and not
mkdir -p $C/treeconf
printf '# sstream: this tree'"'"'s settings (sstream-publish and sstream-mirror keep them)\nsign-key = 0123456789ABCDEF0123456789ABCDEF01234567\nwebconf-nginx = https://images.example.org/\n' >$C/treeconf/seed-full
printf 'webconf-apache = http://127.0.0.1:8080/site/\n' >$C/treeconf/seed-apache
printf 'sign-key = A\nsign-key = B\n' >$C/treeconf/seed-twice
printf 'sign-key = A B\n\n# x\ncolour = blue' >$C/treeconf/seed-bad
printf 'sign-key = \n' >$C/treeconf/seed-empty
