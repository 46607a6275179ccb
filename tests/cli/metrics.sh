# SPDX-License-Identifier: Apache-2.0
# Monitoring: --metrics FILE of sstream-mirror and sstream-publish, read by
# a strict parser of the Prometheus text format (python3-prometheus-client),
# its values those of the run's --report; the last success survives a
# failed run; sstream-verify --max-age on a fresh and an old tree.
. tests/lib.sh
M=$BIN/sstream-mirror
P=$BIN/sstream-publish
V=$BIN/sstream-verify
EX=$TOP/examples/foocloud
# prom FILE: the samples as "name value" lines (labels checked, then dropped);
# fails on anything the parser or these rules refuse
prom() {
	"$PY" - "$1" <<'PYEOF'
import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
assert text.endswith("\n"), "no final newline"
seen = set()
for fam in text_string_to_metric_families(text):
    assert fam.type == "gauge" and fam.documentation, fam
    assert fam.name not in seen, "family twice: " + fam.name
    seen.add(fam.name)
    assert len(fam.samples) == 1, fam
    s = fam.samples[0]
    assert set(s.labels) == {"tool", "target"}, s.labels
    v = s.value
    print(s.name, int(v) if v == int(v) else v)
PYEOF
}
val() { awk -v n="$1" '$1 == n { print $2 }' "$2"; }
rep() { "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

# ---- a mirror run: every value as --report says ----
D=$T/mirror
expect 0 "mirror with --metrics and --report" "$M" --metrics "$T/m.prom" --report "$T/r.json" "$EX" "$D"
check "metrics parse (strict)" sh -c "$(declare -f prom); PY='$PY' prom '$T/m.prom' >'$T/m.txt'"
for k in items:sstream_items added:sstream_last_run_items_added removed:sstream_last_run_items_removed \
	failed:sstream_last_run_items_failed bytes_fetched:sstream_last_run_bytes_fetched \
	bytes_added:sstream_last_run_bytes_added bytes_removed:sstream_last_run_bytes_removed \
	result:sstream_last_run_result; do
	check "${k%%:*} as in --report ($(rep "$T/r.json" "${k%%:*}"))" \
		test "$(val "${k#*:}" "$T/m.txt")" = "$(rep "$T/r.json" "${k%%:*}")"
done
check "items added" test "$(val sstream_last_run_items_added "$T/m.txt")" -gt 0
check "upstream updated: Wed, 20 Mar 2013 17:56:57 +0000" \
	test "$(val sstream_upstream_updated_timestamp_seconds "$T/m.txt")" = 1363802217
START=$(val sstream_last_run_start_timestamp_seconds "$T/m.txt")
END=$(val sstream_last_run_end_timestamp_seconds "$T/m.txt")
OK1=$(val sstream_last_success_timestamp_seconds "$T/m.txt")
check "start <= end, both now" "$PY" -c "import sys, time; s, e = $START, $END; assert s <= e <= time.time() + 1 and s > time.time() - 3600"
check "a success: last success = end" test "$OK1" = "$END"
check "labels: tool and target" grep -q "^sstream_items{tool=\"sstream-mirror\",target=\"$D\"} " "$T/m.prom"
check "written atomically: no temporary file left" test "$(ls -A "$T" | grep -c 'm\.prom')" -eq 1

# ---- over http, a rerun the server answers 304 reads no document: the
# upstream date stays what the file recorded ----
mkdir -p "$T/www" && cp -r "$EX" "$T/www/foocloud" # the server logs beside the directory it serves
httpd_start "$T/www/foocloud"
expect 0 "mirror over http" "$M" --metrics "$T/h.prom" --report "$T/h1.json" "$HTTP_URL" "$T/hm"
expect 0 "no-op rerun over http" "$M" --metrics "$T/h.prom" --report "$T/h2.json" "$HTTP_URL" "$T/hm"
check "rerun metrics parse" sh -c "$(declare -f prom); PY='$PY' prom '$T/h.prom' >'$T/h.txt'"
check "rerun: nothing added, as in --report" test "$(val sstream_last_run_items_added "$T/h.txt")" = "$(rep "$T/h2.json" added)"
check "rerun: items as in --report" test "$(val sstream_items "$T/h.txt")" = "$(rep "$T/h2.json" items)"
check "rerun: the upstream date kept" test "$(val sstream_upstream_updated_timestamp_seconds "$T/h.txt")" = 1363802217

# ---- a failed run keeps the last success ----
expect 2 "mirror of a missing source" "$M" --metrics "$T/m.prom" "$T/nothing" "$D"
check "metrics parse after a failure" sh -c "$(declare -f prom); PY='$PY' prom '$T/m.prom' >'$T/m2.txt'"
check "result 2" test "$(val sstream_last_run_result "$T/m2.txt")" = 2
check "last success kept from the previous file" test "$(val sstream_last_success_timestamp_seconds "$T/m2.txt")" = "$OK1"
check "no upstream date without an upstream" test -z "$(val sstream_upstream_updated_timestamp_seconds "$T/m2.txt")"

# ---- a partial run: failed items counted as in --report ----
cp -r "$EX" "$T/src"
rm "$T/src/files/beta-2/foovendor-6.1-beta2-server-cloudimg-i386-disk1.img"
expect 1 "mirror with an item missing upstream" "$M" --metrics "$T/p.prom" --report "$T/p.json" "$T/src" "$T/partial"
check "metrics parse after a partial run" sh -c "$(declare -f prom); PY='$PY' prom '$T/p.prom' >'$T/p.txt'"
check "failed = 1 as in --report" test "$(val sstream_last_run_items_failed "$T/p.txt")" = "$(rep "$T/p.json" failed)"
check "result 1" test "$(val sstream_last_run_result "$T/p.txt")" = 1
check "never succeeded: no last success" test -z "$(val sstream_last_success_timestamp_seconds "$T/p.txt")"
expect 0 "dry run" "$M" -n --metrics "$T/dry.prom" "$EX" "$T/dry"
check "a dry run writes no metrics" test ! -e "$T/dry.prom"

# ---- publish ----
FP=$("$PY" tests/mklxdtree.py "$T/img")
MD=$(find "$T/img" -name lxd.tar.xz)
RT=$(find "$T/img" -name rootfs.tar.xz)
S=$T/site
expect 0 "publish add --metrics" "$P" add --metrics "$T/pub.prom" "$S" "$MD" "$RT"
check "publish metrics parse" sh -c "$(declare -f prom); PY='$PY' prom '$T/pub.prom' >'$T/pub.txt'"
N=$("$BIN/sstream-query" -f '%(item_name)s' "$S" | wc -l)
B=$("$BIN/sstream-query" -f '%(size)s' "$S" | awk '{ s += $1 } END { print s }')
check "add: items listed = the tree's ($N)" test "$(val sstream_items "$T/pub.txt")" = "$N"
check "add: all of them added" test "$(val sstream_last_run_items_added "$T/pub.txt")" = "$N"
check "add: bytes added = their sizes ($B)" test "$(val sstream_last_run_bytes_added "$T/pub.txt")" = "$B"
check "publish: tool label" grep -q '^sstream_items{tool="sstream-publish",' "$T/pub.prom"
expect 0 "publish remove --metrics" "$P" remove --metrics "$T/pub.prom" "$S" "$FP"
check "publish metrics parse after remove" sh -c "$(declare -f prom); PY='$PY' prom '$T/pub.prom' >'$T/pub2.txt'"
check "remove: all removed, none left" test "$(val sstream_last_run_items_removed "$T/pub2.txt"):$(val sstream_items "$T/pub2.txt")" = "$N:0"
expect 2 "publish add of a missing file --metrics" "$P" add --metrics "$T/pub.prom" "$S" "$T/nope"
check "publish metrics parse after failure" sh -c "$(declare -f prom); PY='$PY' prom '$T/pub.prom' >'$T/pub3.txt'"
check "publish failure: result 2, last success kept" test \
	"$(val sstream_last_run_result "$T/pub3.txt") $(val sstream_last_success_timestamp_seconds "$T/pub3.txt")" = \
	"2 $(val sstream_last_success_timestamp_seconds "$T/pub2.txt")"

# ---- sstream-verify --max-age: the stale-mirror alarm ----
expect 1 "an old tree (2013) is stale" "$V" --max-age 2d "$D"
check "... said in one line naming the tree and the date" sh -c "grep -q '$D: stale: newest metadata is from 2013-03-20T17:56:57Z' '$T/err' && test \$(wc -l <'$T/err') -eq 1"
expect 0 "--max-age long enough" "$V" --max-age 10000d "$D"
F=$T/fresh
cp -r "$D" "$F"
NOW=$(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S +0000')
sed -i "s/\"updated\": \"[^\"]*\"/\"updated\": \"$NOW\"/" "$F"/streams/v1/*.json
expect 0 "a fresh tree is not stale" "$V" --max-age 1h "$F"
expect 0 "a published tree (no updated dates: document mtimes) is fresh" "$V" --max-age 1h "$S"
touch -d '3 days ago' "$S"/streams/v1/*.json
expect 1 "... and stale when its documents are old" "$V" --max-age 2d "$S"
expect 64 "--max-age needs a duration" "$V" --max-age soon "$D"
finish
