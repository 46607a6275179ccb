#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Do two commits write the same trees for the same input?  (issue 17:
# "the trees written are byte-identical for the same input")
#
#   scripts/byte-identical.sh [BEFORE [AFTER]]
#
# Builds BEFORE and AFTER (default: the commit before issue 17's redesign,
# i.e. the parent of "Publish split by concern", and HEAD) from `git
# archive` in a temporary directory, runs the same commands with each
# over the same inputs, and compares every file they wrote byte for byte:
#
#   - sstream-mirror file:// of each example tree (minimal, foocloud;
#     cirros metadata only), unfiltered and filtered;
#   - sstream-mirror of the real fixtures (../shared/fixtures/real, each
#     products file in a tree of its own with an index; metadata only),
#     unfiltered and filtered, and lxc-images 20230424 then 20230703 into
#     one target (files waiting out the grace period), then with --grace 0;
#   - sstream-publish add of example images (split tarball, split squashfs,
#     unified, VM; made once, shared by both runs), a second version of one,
#     list, prune --keep 1 (default grace, then --grace 0), webconf;
#   - sstream-verify of every tree written (exit status and output).
#
# Time is pinned: every command runs under libfaketime frozen at
# $BI_TIME (default 2026-01-01 00:00:00 UTC; the monotonic clock is left
# alone), so the "updated" fields, the grace-period ledgers and the
# history commits are written with the same time by both builds and
# nothing needs to be excluded.  An option one build lacks (--no-html:
# the catalogue page came after BEFORE) is passed only to the build that
# has it.  Exit 0 when every file is the same, 1 when some differ (listed,
# with `diff` of text files), 2 when a build or setup failed.
# BI_KEEP=1 keeps the temporary directory.
set -u
cd "$(dirname "$0")/.."
TOP=$PWD
first_split=$(git log --format=%H --grep='^Publish split by concern' --reverse | head -n 1)
BEFORE=${1:-${first_split:+$first_split^}}
AFTER=${2:-HEAD}
FIX=${SS_FIXTURES:-/work/shared/fixtures}
: "${BI_TIME:=2026-01-01 00:00:00}"
FT=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1 2>/dev/null | head -n 1)
die() { echo "byte-identical: $*" >&2; exit 2; }
[ -n "$BEFORE" ] || die "no BEFORE given and no 'Publish split by concern' commit found"
[ -n "$FT" ] || die "libfaketime is needed to pin the time (apt-get install libfaketime)"
[ -d "$FIX/examples" ] && [ -d "$FIX/real" ] || die "fixtures not found at $FIX (set SS_FIXTURES)"
W=$(mktemp -d /tmp/byte-identical.XXXXXX)
[ "${BI_KEEP:-0}" = 1 ] || trap 'rm -rf "$W"' EXIT
echo "byte-identical: BEFORE $(git rev-parse --short "$BEFORE") AFTER $(git rev-parse --short "$AFTER") in $W"

# ---- build both ------------------------------------------------------------
build() { # REV DIR
	mkdir -p "$2" && git archive "$1" | tar -x -C "$2" || return 1
	make -C "$2" -j2 >"$2.log" 2>&1 || { tail -20 "$2.log" >&2; return 1; }
}
build "$BEFORE" "$W/before" || die "build of $BEFORE failed"
build "$AFTER" "$W/after" || die "build of $AFTER failed"

# ---- the shared input --------------------------------------------------------
IN=$W/in
mkdir -p "$IN/real" "$IN/img"
real_tree() { # NAME PRODUCTS-FILE: a tree with an index naming it
	mkdir -p "$IN/real/$1/streams/v1"
	cp "$FIX/real/$2" "$IN/real/$1/streams/v1/products.json"
	python3 - "$IN/real/$1/streams/v1" <<'PY'
import json, sys
d = sys.argv[1]
p = json.load(open(d + "/products.json"))
idx = {"format": "index:1.0", "updated": "Mon, 01 Jan 2024 00:00:00 +0000", "index": {
    p.get("content_id", "x"): {"path": "streams/v1/products.json", "format": "products:1.0",
                               "datatype": p.get("datatype", "image-downloads"),
                               "products": sorted(p["products"])}}}
json.dump(idx, open(d + "/index.json", "w"), indent=1, sort_keys=True)
PY
}
for f in lxc-images-20230424 lxc-images-20230703 ubuntu-minimal-released-download-20231115 \
	ubuntu-released-download-trimmed juju-openstack-imagemetadata; do
	real_tree "$f" "$f.json"
done
mkdir -p "$IN/real/incus/streams/v1" "$IN/real/cirros/streams/v1"
cp "$FIX/real/incus-chr-vm-index.json" "$IN/real/incus/streams/v1/index.json"
cp "$FIX/real/incus-chr-vm-images.json" "$IN/real/incus/streams/v1/images.json"
cp "$FIX/real/cirros-index.json" "$IN/real/cirros/streams/v1/index.json"
cp "$FIX/real/cirros-devel-download.json" "$IN/real/cirros/streams/v1/net.cirros-cloud:devel:download.json"
cp "$FIX/real/cirros-released-download.json" "$IN/real/cirros/streams/v1/net.cirros-cloud:released:download.json"

# images: fixed names, owners and mtimes (built once: both runs add the same bytes)
I=$IN/img
mkdir -p "$I/meta" "$I/meta2" "$I/sqmeta" "$I/rootfs/bin" "$I/unified" "$I/vmmeta"
cat >"$I/meta/metadata.yaml" <<'YAML'
architecture: x86_64
creation_date: 1795910400
properties:
  os: TestOS
  release: two
  variant: default
  description: TestOS two
YAML
sed 's/1795910400/1795996800/' "$I/meta/metadata.yaml" >"$I/meta2/metadata.yaml"
sed 's/release: two/release: three/' "$I/meta/metadata.yaml" >"$I/unified/metadata.yaml"
sed 's/release: two/release: vm/' "$I/meta/metadata.yaml" >"$I/vmmeta/metadata.yaml"
sed 's/release: two/release: sq/' "$I/meta/metadata.yaml" >"$I/sqmeta/metadata.yaml"
printf '#!/bin/sh\necho hello\n' >"$I/rootfs/bin/hello"
chmod 755 "$I/rootfs/bin/hello"
cp -r "$I/rootfs" "$I/unified/rootfs"
TAR="tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@1795910400"
$TAR -C "$I/meta" -cJf "$I/meta.tar.xz" metadata.yaml
$TAR -C "$I/meta2" -cJf "$I/meta2.tar.xz" metadata.yaml
$TAR -C "$I/sqmeta" -cJf "$I/sqmeta.tar.xz" metadata.yaml
$TAR -C "$I/rootfs" -cJf "$I/root.tar.xz" .
$TAR -C "$I/unified" -czf "$I/unified.tar.gz" metadata.yaml rootfs
$TAR -C "$I/vmmeta" -cf "$I/vmmeta.tar" metadata.yaml
{ printf 'QFI\373'; head -c 4096 /dev/zero; } >"$I/disk.qcow2"
if command -v mksquashfs >/dev/null; then
	mksquashfs "$I/rootfs" "$I/root.squashfs" -quiet -noappend -all-root -mkfs-time 1795910400 \
		-all-time 1795910400 >/dev/null || rm -f "$I/root.squashfs"
fi

# ---- the same commands with each build -----------------------------------------
run_all() { # BUILD-DIR OUT-DIR
	local B=$1/build/bin O=$2 M P V extra="" pextra=""
	M=$B/sstream-mirror P=$B/sstream-publish V=$B/sstream-verify
	mkdir -p "$O"
	"$M" --help 2>&1 | grep -q -- '--no-html' && extra="--no-html"
	"$P" add --help 2>&1 | grep -q -- '--no-html' && pextra="--no-html"
	local LOG=$O/commands.log
	: >"$LOG"
	# c NAME CMD...: runs CMD at the pinned time; its exit status and
	# output become part of what is compared
	c() {
		local name=$1
		shift
		(cd "$O" && env LD_PRELOAD="$FT" FAKETIME="$BI_TIME" FAKETIME_NO_CACHE=1 \
			FAKETIME_DONT_FAKE_MONOTONIC=1 TZ=UTC HOME="$O/home" XDG_STATE_HOME="$O/home/state" "$@" \
			>"$O/$name.out" 2>"$O/$name.err")
		echo "$name: exit $?" >>"$LOG"
		# verify's summary says how long it took (the monotonic clock,
		# which is not pinned): the one figure that may differ
		case $name in v-*) sed -i -E 's/ in [0-9.]+ s\)$/ in - s)/' "$O/$name.out" ;; esac
	}
	local EX=$FIX/examples
	c m-minimal "$M" -q $extra "file://$EX/minimal" t/minimal
	c m-foocloud "$M" -q $extra "file://$EX/foocloud" t/foocloud
	c m-foocloud-f "$M" -q $extra "file://$EX/foocloud" t/foocloud-f 'arch=amd64'
	c m-foocloud-f2 "$M" -q $extra "file://$EX/foocloud" t/foocloud-f2 'arch=i386' 'ftype=disk1.img'
	c m-minimal-f "$M" -q $extra "file://$EX/minimal" t/minimal-f 'ftype=root.img'
	c m-cirros "$M" -q $extra --no-item-download "file://$EX/cirros" t/cirros
	c m-cirros-f "$M" -q $extra --no-item-download "file://$EX/cirros" t/cirros-f 'arch=x86_64'
	for r in "$IN"/real/*; do
		c "m-real-${r##*/}" "$M" -q $extra --no-item-download "file://$r" "t/real-${r##*/}"
	done
	c m-lxc-f "$M" -q $extra --no-item-download "file://$IN/real/lxc-images-20230424" t/lxc-f 'arch=amd64' 'os=Ubuntu'
	c m-ubuntu-f "$M" -q $extra --no-item-download "file://$IN/real/ubuntu-minimal-released-download-20231115" \
		t/ubuntu-f 'release=jammy'
	c m-lxc-max "$M" -q $extra --no-item-download --max 1 "file://$IN/real/lxc-images-20230424" t/lxc-max
	# incremental: a new upstream, files waiting out the grace period, then gone
	c m-inc1 "$M" -q $extra --no-item-download "file://$IN/real/lxc-images-20230424" t/inc
	c m-inc2 "$M" -q $extra --no-item-download "file://$IN/real/lxc-images-20230703" t/inc
	cp "$O/t/inc/.sstream/state" "$O/m-inc2.state"
	c m-inc3 "$M" -q $extra --no-item-download --grace 0 "file://$IN/real/lxc-images-20230703" t/inc
	# publish
	c p-add "$P" add -q $pextra t/pub "$I/meta.tar.xz" "$I/root.tar.xz" --alias test/two
	[ -f "$I/root.squashfs" ] && c p-add-sq "$P" add -q $pextra t/pub "$I/sqmeta.tar.xz" "$I/root.squashfs"
	c p-add-unified "$P" add -q $pextra t/pub "$I/unified.tar.gz" --alias test/three
	c p-add-vm "$P" add -q $pextra t/pub "$I/vmmeta.tar" "$I/disk.qcow2"
	c p-add-v2 "$P" add -q $pextra t/pub "$I/meta2.tar.xz" "$I/root.tar.xz"
	c p-list "$P" list t/pub --format json
	c p-prune "$P" prune $pextra t/pub --keep 1
	# the files waiting out the grace period, as the ledger lists them
	cp "$O/t/pub/.sstream/unreferenced" "$O/p-prune.ledger"
	c p-prune0 "$P" prune $pextra t/pub --keep 1 --grace 0
	c p-webconf "$P" webconf $pextra t/pub --base-url https://images.example.org
	c p-webconf-apache "$P" webconf $pextra t/pub --base-url https://images.example.org/lxd --server apache
	for t in "$O"/t/*; do
		c "v-${t##*/}" "$V" "t/${t##*/}"
	done
}
run_all "$W/before" "$W/out-before"
run_all "$W/after" "$W/out-after"

# ---- compare ---------------------------------------------------------------------
cd "$W" || exit 2
(cd out-before && find . \( -type f -o -type l \) | sort) >list-before
(cd out-after && find . \( -type f -o -type l \) | sort) >list-after
files=$(sort -u list-before list-after | wc -l)
same=0 differ=0
while read -r f; do
	a=out-before/$f b=out-after/$f
	if [ ! -e "$a" ] && [ ! -L "$a" ]; then
		echo "ONLY AFTER  $f"
	elif [ ! -e "$b" ] && [ ! -L "$b" ]; then
		echo "ONLY BEFORE $f"
	elif cmp -s "$a" "$b"; then
		same=$((same + 1))
		continue
	else
		echo "DIFFERS     $f"
		if grep -Iq . "$a" 2>/dev/null || [ ! -s "$a" ]; then
			diff "$a" "$b" | head -n "${BI_DIFF_LINES:-12}" | sed 's/^/    /'
		fi
	fi
	differ=$((differ + 1))
done < <(sort -u list-before list-after)
echo "byte-identical: $files files, $same the same, $differ not"
[ "$differ" -eq 0 ]
