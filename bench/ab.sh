#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Has a change made the tools slower?  Two commits side by side on the same
# machine in the same run, their runs interleaved so that both see the same
# load (a 2-core machine shared with other work is never quiet enough for
# figures taken at different times to be compared):
#
#   bench/ab.sh [BEFORE [AFTER]]
#
# BEFORE defaults to the commit before issue 17's redesign (the parent of
# "Publish split by concern"), AFTER to the working tree's build (BUILD).
# Cases, each the median of BENCH_ROUNDS (default 5) interleaved runs:
#  1. a full mirror of the lxc-images-20230424 shape (5435 files, stand-in
#     payloads) from nginx on loopback, -j 4
#  2. a no-op rerun of it (conditional requests)
#  3. sstream-verify of the mirrored tree
#  4. sstream-verify --deep of the served tree (every file downloaded and
#     hashed)
# Prints each case's medians and the ratio AFTER / BEFORE.
set -eu
: "${BUILD:=build}"
TOP=$(pwd)
FIX=${SS_FIXTURES:-$TOP/tests/fixtures/upstream}
first_split=$(git log --format=%H --grep='^Publish split by concern' --reverse | head -n 1)
BEFORE=${1:-${first_split:+$first_split^}}
AFTER=${2:-}
B=$(mktemp -d /var/tmp/ssab.XXXXXX)
HTTPD=""
trap '[ -z "$HTTPD" ] || kill $HTTPD 2>/dev/null; sleep 0.2; rm -rf "$B"' EXIT
. bench/lib.sh
. bench/nginx.sh

# build COMMIT DIR: the tools of COMMIT, built from git archive
build() {
	mkdir -p "$2" && git archive "$1" | tar -x -C "$2" && make -C "$2" -j2 >"$2.log" 2>&1 ||
		{ tail -20 "$2.log" >&2; exit 2; }
}
echo "== building $BEFORE"
build "$BEFORE" "$B/before"
OLD=$B/before/build/bin
if [ -n "$AFTER" ]; then
	echo "== building $AFTER"
	build "$AFTER" "$B/after"
	NEW=$B/after/build/bin
else
	NEW=$TOP/$BUILD/bin
fi
# --no-html where the build has it (the page came after the redesign): the
# cases compare the same work
nohtml() { "$1/sstream-mirror" --help 2>&1 | grep -q -- --no-html && echo --no-html || true; }
OLDX=$(nohtml "$OLD")
NEWX=$(nohtml "$NEW")

chmod 755 "$B"
mkdir -p "$B/www"
/usr/bin/python3 tests/mkpayload.py "$FIX/real/lxc-images-20230424.json" "$B/www/lxc" '.' --index >/dev/null
nginx_start "$B/www" "$B/nginx"
HTTPD=$NGINX_PID
U=$NGINX_URL

timed() { local t0; t0=$(now); "$@" >/dev/null 2>&1 || echo "FAILED: $*" >&2; echo "$(now) - $t0" | bc -l; }
# case NAME SETUP CMD...: BENCH_ROUNDS interleaved runs of CMD with each build's
# binaries ($X), SETUP run before each
case_ab() {
	local name=$1 setup=$2 i
	shift 2
	: >"$B/t.old"; : >"$B/t.new"
	for i in $(seq "${BENCH_ROUNDS:-5}"); do
		# the order alternates: whichever runs second pays for what
		# the first left the kernel to do
		sides="old new"
		[ $((i % 2)) -eq 1 ] || sides="new old"
		for side in $sides; do
			if [ $side = old ]; then X=$OLD XH=$OLDX; else X=$NEW XH=$NEWX; fi
			T=$(cat "$B/runs/$side" 2>/dev/null || echo "$B/runs/$side.0")
			$setup
			timed "$@" >>"$B/t.$side"
		done
	done
	local o n
	read -r o _ < <(stats <"$B/t.old")
	read -r n _ < <(stats <"$B/t.new")
	printf '  %-30s before %7s s   after %7s s   ratio %sx\n' "$name" "$o" "$n" "$(ratio "$n" "$o")"
}
# a fresh target under another name, which ext4 places as a top-level
# directory (chattr +T: Orlov spreads them over the block groups); the
# earlier ones stay until the script ends (about 40 MB each).  Without a
# journal (this machine's root file system) ext4 skips inodes deleted less
# than a minute ago (five, while their table block is dirty) when it
# allocates: a target deleted between runs made the next runs pay a scan
# over its thousands of freed inodes for every file they created (perf:
# recently_deleted, 20-60 % of a run's CPU).
mkdir -p "$B/runs"
chattr +T "$B/runs" 2>/dev/null || true
nfresh=0
fresh() {
	nfresh=$((nfresh + 1))
	# a name of this invocation's own: ext4 starts its search for a
	# top-level directory's group from a hash of the name
	T=$B/runs/$side.${B##*.}.$nfresh
	echo "$T" >"$B/runs/$side"
	sync -f "$B"
	sleep 1
}
keep() { :; }
# (each full run's --report kept, for its phases: the fetch moves with the
# disk and the machine's neighbours; the fixed work does not)
nrep=0
mirror() {
	nrep=$((nrep + 1))
	"$X/sstream-mirror" $XH -q -j 4 --report "$B/reports/$side.$nrep.json" "$U/lxc" "$T"
}
# the median of each phase of SIDE's reports that have phases
phases() {
	/usr/bin/python3 - "$B/reports" "$1" <<'PY'
import glob, json, statistics, sys
runs = [r["phases"] for r in (json.load(open(f)) for f in glob.glob("%s/%s.*.json" % tuple(sys.argv[1:]))) if "phases" in r]
if runs:
    print("    %-6s phase medians (s)  " % sys.argv[2], ", ".join("%s %.3f" % (k, statistics.median(r[k] for r in runs)) for k in runs[0]))
PY
}
verify() { "$X/sstream-verify" -q "$T"; }
deep() { "$X/sstream-verify" -q --deep "$U/lxc"; }

echo "== lxc-images-20230424 shape, 5435 files, from nginx on loopback"
mkdir -p "$B/reports"
case_ab "full mirror -j 4" fresh mirror
phases old
phases new
rm -f "$B"/reports/*
case_ab "no-op rerun" keep mirror
case_ab "sstream-verify" keep verify
case_ab "sstream-verify --deep URL" keep deep
