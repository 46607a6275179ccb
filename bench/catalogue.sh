#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Catalogue benchmark: writing TREE/index.html for the lxc-images-20230424
# fixture tree (5435 items) against a no-op mirror run of the same tree
# (--no-html, so the page is not counted twice), best of 3 each, side by
# side; and the page's size.  The issue's aim: the page under 5 % of the
# no-op run, under 2 MB.
set -eu
: "${BUILD:=build}"
PY=/usr/bin/python3
FIX=${SS_FIXTURES:-$(pwd)/tests/fixtures/upstream}
B=$(mktemp -d /var/tmp/sscbench.XXXXXX)
trap 'rm -rf "$B"' EXIT
now() { date +%s.%N; }
best() {
	b=999999
	for _ in 1 2 3; do
		t0=$(now)
		"$@" >/dev/null 2>&1
		t=$(echo "$(now) - $t0" | bc -l)
		b=$(echo "if ($t < $b) $t else $b" | bc -l)
	done
	printf '%.3f' "$b"
}
echo "== catalogue: the page of the lxc-images-20230424 tree (5435 items)"
"$PY" tests/mkpayload.py "$FIX/real/lxc-images-20230424.json" "$B/src" '.' --index >/dev/null
"$BUILD/bin/sstream-mirror" -q --no-html "$B/src" "$B/m"
noop=$(best "$BUILD/bin/sstream-mirror" -q --no-html "$B/src" "$B/m")
page=$(best "$BUILD/bin/sstream-publish" html -q "$B/m")
size=$(stat -c %s "$B/m/index.html")
echo "no-op mirror run ${noop}s, page ${page}s: $(echo "100 * $page / $noop" | bc -l | xargs printf '%.1f')% of the run; page ${size} bytes"
