#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Peak memory of a full mirror against the tree's size: generated trees of
# 10 000, 100 000 and 1 000 000 tiny items (one products file each, every
# file a hard link to one blob) served by nginx on loopback, mirrored into
# an empty directory, then again after upstream dropped one item (the
# cron run after a change: both trees are read).  Prints the peak RSS of each and
# the growth per item between sizes, against the targets of issue 20
# (100 000 items: 128 MiB, 1 000 000 items: 512 MiB).
# MEMORY_SIZES="10000 100000" leaves out the million (about 10 minutes).
set -eu
: "${BUILD:=build}"
: "${MEMORY_SIZES:=10000 100000 1000000}"
TOP=$(pwd)
BIN=$TOP/$BUILD/bin
PY=/usr/bin/python3
B=$(mktemp -d /var/tmp/ssmem.XXXXXX)
HTTPD=""
trap '[ -z "$HTTPD" ] || kill $HTTPD 2>/dev/null; sleep 0.2; rm -rf "$B"' EXIT

. bench/nginx.sh
nginx_serve_tmp "$B"

# peak RSS in KiB of a command (its output thrown away), or FAILED
peak() {
	if /usr/bin/time -f '%M' -o "$B/time" "$@" >/dev/null 2>"$B/err"; then
		tail -n 1 "$B/time"
	else
		echo "FAILED: $*" >&2
		head -3 "$B/err" >&2
		echo 0
	fi
}
mib() { echo $(( ($1 + 512) / 1024 )); }

echo "== peak memory against the tree size (tiny items from nginx, -j 4)"
printf '  %-9s %-12s %-14s %s\n' items mirror "changed rerun" "products file"
prev_n=0 prev_kb=0
for n in $MEMORY_SIZES; do
	"$PY" bench/mktree.py "$B/www/t$n" "$n" 16 --links
	size=$(stat -c %s "$B/www/t$n/streams/v1/images.json")
	kb=$(peak "$BIN/sstream-mirror" -j 4 "$U/t$n" "$B/m")
	"$PY" -c 'import json, sys
f = sys.argv[1]
d = json.load(open(f))
items = d["products"]["bench:blobs:amd64"]["versions"]["20261129"]["items"]
del items[max(items)]
json.dump(d, open(f, "w"))' "$B/www/t$n/streams/v1/images.json"
	rkb=$(peak "$BIN/sstream-mirror" -j 4 "$U/t$n" "$B/m")
	printf '  %-9s %-12s %-14s %s MiB\n' "$n" "$(mib "$kb") MiB" "$(mib "$rkb") MiB" "$(mib $((size / 1024)))"
	if [ "$prev_n" -gt 0 ]; then
		echo "    growth from $prev_n: $(( (kb - prev_kb) * 1024 / (n - prev_n) )) bytes per item"
	fi
	case $n in
	100000) echo "    target: at most 128 MiB" ;;
	1000000) echo "    target: at most 512 MiB" ;;
	esac
	prev_n=$n prev_kb=$kb
	rm -rf "$B/m" "$B/www/t$n"
done
