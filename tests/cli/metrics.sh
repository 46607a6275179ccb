# SPDX-License-Identifier: Apache-2.0
# Monitoring: --metrics FILE of sstream-mirror and sstream-publish, read by
# a strict parser of the Prometheus text format (python3-prometheus-client),
# its values those of the run's --report; the last success, the tree's
# item and byte counts survive a failed run, which sets the failure gauge;
# upstream's date falls back to its newest version; publish counts failed
# and fetched; sstream-verify --max-age measures from the last successful
# mirror run (no-op runs included) and says durations as given.
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
check "a success: gauge 1" test "$(val sstream_last_run_success "$T/m.txt")" = 1
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
check "rerun: a success (gauge 1)" test "$(val sstream_last_run_success "$T/h.txt")" = 1
HB=$(val sstream_items_bytes "$T/h.txt")
HN=$(val sstream_items "$T/h.txt")
check "the tree's size: the sum of its items' ($HB)" test "$HB" = \
	"$("$BIN/sstream-query" -f '%(size)s' "$T/hm" | awk '{ s += $1 } END { print s }')"

# ---- a run that fails with 75 (the server answers 500) keeps what the tree
# holds, and says it failed ----
expect 75 "a mirror run the server fails (500)" "$M" --retries 0 --metrics "$T/h.prom" "$HTTP_URL/_fault/500" "$T/hm"
check "metrics parse after 75" sh -c "$(declare -f prom); PY='$PY' prom '$T/h.prom' >'$T/h75.txt'"
check "75: result 75, success gauge 0" test "$(val sstream_last_run_result "$T/h75.txt"):$(val sstream_last_run_success "$T/h75.txt")" = 75:0
check "75: the items the tree holds ($HN), not 0" test "$(val sstream_items "$T/h75.txt")" = "$HN"
check "75: the tree's bytes ($HB), not 0" test "$(val sstream_items_bytes "$T/h75.txt")" = "$HB"
check "75: the last success kept" test "$(val sstream_last_success_timestamp_seconds "$T/h75.txt")" = \
	"$(val sstream_last_success_timestamp_seconds "$T/h.txt")"
# a first metrics file written by a failed run counts the tree too
expect 75 "a failed run with a new metrics file" "$M" --retries 0 --metrics "$T/new.prom" "$HTTP_URL/_fault/500" "$T/hm"
check "... parses" sh -c "$(declare -f prom); PY='$PY' prom '$T/new.prom' >'$T/new.txt'"
check "... the tree's items ($HN) and bytes" test "$(val sstream_items "$T/new.txt") $(val sstream_items_bytes "$T/new.txt")" = "$HN $HB"

# ---- --max-age measures from the last successful run, a no-op included ----
expect 0 "a mirror of a 2013 upstream, just run, is fresh" "$V" --max-age 2d "$T/hm"
echo $(($(date +%s) - 3 * 86400 - 3 * 3600)) >"$T/hm/.sstream/last-success"
expect 1 "its last success 3 days ago: stale" "$V" --max-age 2d "$T/hm"
check "... the age and --max-age as given: '3d 3h old, more than --max-age 2d'" \
	err_has "stale: last successful mirror run is from .*, 3d 3h old, more than --max-age 2d\$"
expect 1 "--max-age 48h" "$V" --max-age 48h "$T/hm"
check "... said as 48h" err_has "3d 3h old, more than --max-age 48h\$"
expect 75 "a failed run" "$M" --retries 0 "$HTTP_URL/_fault/500" "$T/hm"
expect 1 "... records nothing: still stale" "$V" --max-age 2d "$T/hm"
expect 0 "a dry run" "$M" -n "$HTTP_URL" "$T/hm"
expect 1 "... records nothing either" "$V" --max-age 2d "$T/hm"
expect 0 "a no-op rerun (the server answers 304)" "$M" --report "$T/h3.json" "$HTTP_URL" "$T/hm"
check "... read no document" test "$(rep "$T/h3.json" bytes_fetched)" = 0
expect 0 "... records its success: fresh" "$V" --max-age 2d "$T/hm"

# ---- a failed run keeps the last success ----
expect 2 "mirror of a missing source" "$M" --metrics "$T/m.prom" "$T/nothing" "$D"
check "metrics parse after a failure" sh -c "$(declare -f prom); PY='$PY' prom '$T/m.prom' >'$T/m2.txt'"
check "result 2" test "$(val sstream_last_run_result "$T/m2.txt")" = 2
check "last success kept from the previous file" test "$(val sstream_last_success_timestamp_seconds "$T/m2.txt")" = "$OK1"
check "no upstream date without an upstream" test -z "$(val sstream_upstream_updated_timestamp_seconds "$T/m2.txt")"
check "a failure: gauge 0" test "$(val sstream_last_run_success "$T/m2.txt")" = 0
check "the items the tree holds, not 0" test "$(val sstream_items "$T/m2.txt")" = "$(rep "$T/r.json" items)"

# ---- an upstream whose documents state no updated date: its newest version ----
cp -r "$EX" "$T/noupd"
"$PY" - "$T/noupd"/streams/v1/*.json <<'PYEOF'
import json, sys
def strip(o):
    if isinstance(o, dict):
        o.pop("updated", None)
        for v in o.values():
            strip(v)
for f in sys.argv[1:]:
    d = json.load(open(f))
    strip(d)
    json.dump(d, open(f, "w"))
PYEOF
check "the copy states no updated date" sh -c "! grep -q updated '$T/noupd'/streams/v1/*.json"
expect 0 "mirror of it" "$M" --metrics "$T/nu.prom" "$T/noupd" "$T/nu"
check "metrics parse" sh -c "$(declare -f prom); PY='$PY' prom '$T/nu.prom' >'$T/nu.txt'"
check "upstream date: its newest version 20121026.1 (2012-10-26T00:00:00Z)" \
	test "$(val sstream_upstream_updated_timestamp_seconds "$T/nu.txt")" = 1351209600

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
check "add: the tree's bytes ($B)" test "$(val sstream_items_bytes "$T/pub.txt")" = "$B"
check "add: fetched = the bytes copied in ($B), none failed" \
	test "$(val sstream_last_run_bytes_fetched "$T/pub.txt"):$(val sstream_last_run_items_failed "$T/pub.txt")" = "$B:0"
expect 0 "publish remove --metrics" "$P" remove --metrics "$T/pub.prom" "$S" "$FP"
check "publish metrics parse after remove" sh -c "$(declare -f prom); PY='$PY' prom '$T/pub.prom' >'$T/pub2.txt'"
check "remove: all removed, none left" test "$(val sstream_last_run_items_removed "$T/pub2.txt"):$(val sstream_items "$T/pub2.txt")" = "$N:0"
expect 2 "publish add of a missing file --metrics" "$P" add --metrics "$T/pub.prom" "$S" "$T/nope"
check "publish metrics parse after failure" sh -c "$(declare -f prom); PY='$PY' prom '$T/pub.prom' >'$T/pub3.txt'"
check "publish failure: result 2, last success kept" test \
	"$(val sstream_last_run_result "$T/pub3.txt") $(val sstream_last_success_timestamp_seconds "$T/pub3.txt")" = \
	"2 $(val sstream_last_success_timestamp_seconds "$T/pub2.txt")"
check "publish failure: the file it could not add counted failed, nothing fetched" \
	test "$(val sstream_last_run_items_failed "$T/pub3.txt"):$(val sstream_last_run_bytes_fetched "$T/pub3.txt")" = 1:0
check "publish failure: gauge 0" test "$(val sstream_last_run_success "$T/pub3.txt")" = 0
check "remove: fetched 0" test "$(val sstream_last_run_bytes_fetched "$T/pub2.txt")" = 0

# ---- sstream-verify --max-age: the stale-mirror alarm ----
expect 1 "an old tree (2013) no mirror run recorded is stale" "$V" --max-age 2d "$EX"
# (the age's hours are left out when they are 0: once a day, "5004d old")
check "... said in one line naming the tree and the date" sh -c "grep -qE '$EX: stale: newest metadata is from 2013-03-20T17:56:57Z, [0-9]+d( [0-9]+h)? old, more than --max-age 2d\$' '$T/err' && test \$(wc -l <'$T/err') -eq 1"
expect 0 "--max-age long enough" "$V" --max-age 10000d "$EX"
rm -f "$D/.sstream/last-success"
F=$T/fresh
cp -r "$D" "$F"
NOW=$(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S +0000')
sed -i "s/\"updated\": \"[^\"]*\"/\"updated\": \"$NOW\"/" "$F"/streams/v1/*.json
expect 0 "a fresh tree is not stale" "$V" --max-age 1h "$F"
expect 0 "a published tree (no updated dates: document mtimes) is fresh" "$V" --max-age 1h "$S"
touch -d '3 days ago' "$S"/streams/v1/*.json
expect 1 "... and stale when its documents are old" "$V" --max-age 2d "$S"
check "... '3d old, more than --max-age 2d'" err_has "3d old, more than --max-age 2d\$"
expect 64 "--max-age needs a duration" "$V" --max-age soon "$D"
finish
