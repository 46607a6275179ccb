# SPDX-License-Identifier: Apache-2.0
# sstream-query against every fixture, every filter operator, bad input and
# a remote tree served by a real HTTP server on 127.0.0.1.
. tests/lib.sh
Q=$BIN/sstream-query
R=$FIXTURES/real

# ---- usage -------------------------------------------------------------
expect 0 "--help" "$Q" --help
check "--help lists exit codes" out_has "Exit status"
expect 64 "no SOURCE" "$Q"
expect 64 "bad --max" "$Q" --max abc "$R/cirros-released-download.json"
expect 64 "--max beyond int range" "$Q" --max 4294967297 "$R/cirros-released-download.json"
expect 64 "bad --format" "$Q" --format xml "$R/cirros-released-download.json"
expect 64 "unknown option" "$Q" --bogus "$R/cirros-released-download.json"
expect 64 "bad filter" "$Q" "$R/cirros-released-download.json" 'arch:amd64'
check "bad filter is named" err_has "'arch:amd64'"
expect 64 "bad regex" "$Q" "$R/cirros-released-download.json" 'arch~(x'
check "bad regex is named, one line" test "$(err_lines)" -eq 1

# ---- every real stream, cross-checked against the Python reference ------
for f in lxc-images-20230424 lxc-images-20230703 ubuntu-minimal-released-download-20231115 \
	ubuntu-released-download-trimmed incus-chr-vm-images juju-otc-imageids \
	juju-openstack-imagemetadata cirros-released-download cirros-devel-download; do
	expect 0 "query $f" "$Q" --format csv --fields product_name,version_name,item_name "$R/$f.json"
	tail -n +2 "$T/out" >"$T/ours"
	"$PY" tests/refquery.py "$R/$f.json" >"$T/ref"
	check "$f: same items as the reference" cmp -s "$T/ours" "$T/ref"
done

# ---- filters: each operator, ANDed, --max; against the reference ---------
L=$R/lxc-images-20230424.json
for filters in "arch=amd64" "arch!=amd64" "release~(jammy|noble)" "release!~^[0-9]" \
	"arch=amd64;release~(jammy|noble);ftype=squashfs" "version_name~\\d{8}_\\d\\d:\\d\\d" \
	"os~(?i)^UBUNTU$" "missing=" "missing!=" "size~^1336$" "delta_base~." \
	"combined_squashfs_sha256~^[0-9a-f]{64}$;ftype=lxd.tar.xz"; do
	old_ifs=$IFS
	IFS=';'
	# shellcheck disable=SC2086
	set -- $filters
	IFS=$old_ifs
	for max in 0 1 2; do
		expect 0 "filter $filters --max $max" "$Q" --max "$max" -f csv -F product_name,version_name,item_name "$L" "$@"
		tail -n +2 "$T/out" >"$T/ours"
		"$PY" tests/refquery.py "$L" --max "$max" "$@" >"$T/ref"
		check "filter $filters --max $max matches the reference ($(wc -l <"$T/ref") items)" cmp -s "$T/ours" "$T/ref"
	done
done
expect 0 "no match is not an error" "$Q" "$L" arch=vax
check "no match prints only the header" test "$(out_lines)" -eq 1

# ---- output formats -----------------------------------------------------
expect 0 "json" "$Q" -f json "$TESTDATA/aliases.json"
check "json: real types and alias fields" "$PY" -c '
import json, sys
items = json.load(open(sys.argv[1]))
assert len(items) == 3
us = [i for i in items if i["item_name"] == "usee1"][0]
assert us["supported"] is True and us["build_count"] == 7 and us["release_num"] == 24.04
assert us["nothing"] is None and us["endpoint"] == "https://ec2.us-east-1.example.com"
assert "tags" not in us and "item_url" not in us
' "$T/out"
expect 0 "json with item_url" "$Q" -f json "$FIXTURES/examples/minimal"
check "json item_url joins root and path" "$PY" -c '
import json, sys
items = json.load(open(sys.argv[1]))
assert items[0]["item_url"].endswith("examples/minimal/product1/20150915/text.txt"), items[0]
assert items[0]["size"] == 38
' "$T/out"
expect 0 "template" "$Q" -f '%(product_name)s|%(version_name)s|%(size)s|%(nope)s|100%%' "$FIXTURES/examples/minimal" item_name=item1
check "template substitutes fields" test "$(cat "$T/out")" = "com.example:product1|20150915|38||100%"
expect 0 "csv quoting" "$Q" -f csv -F item_name,extra "$TESTDATA/aliases.json" item_name=other
check "csv quotes commas and quotes" test "$(tail -n 1 "$T/out")" = 'other,"{""k"":[1,2]}"'
expect 0 "table" "$Q" "$FIXTURES/examples/foocloud" arch=amd64 ftype=disk1.img --max 1
check "table header and one row" test "$(out_lines)" -eq 2
check "table shows the path" out_has "files/release-20121026.1/foovendor-6.1-server-cloudimg-amd64-disk1.img"

# ---- sources: roots, direct index, signed root, nested index -------------
expect 0 "tree root" "$Q" -f csv "$FIXTURES/examples/foocloud"
check "both content ids" test "$(out_lines)" -eq 34
expect 0 "direct index" "$Q" -f csv "$FIXTURES/examples/cirros/streams/v1/index.json"
expect 0 "signed root (index.sjson)" "$Q" -f csv "$FIXTURES/signed/examples/foocloud"
check "signed tree lists the same items" test "$(out_lines)" -eq 34
expect 0 "nested index" "$Q" -f '%(content_id)s %(item_url)s' "$TESTDATA/nested" --max 1
check "nested: content id from the index, ':' and ' ' kept in paths" \
	test "$(cat "$T/out")" = "com.example:leaf $TESTDATA/nested/files/a b:c.txt"

# ---- bad input: exit 2, one line naming the file and the reason ----------
for f in truncated notjson wrongformat array itemnotobject duplicate; do
	expect 2 "bad/$f" "$Q" "$TESTDATA/bad/$f.json"
	check "bad/$f: one line naming the file" sh -c "test \$(wc -l <'$T/err') -eq 1 && grep -q 'bad/$f.json' '$T/err'"
	check "bad/$f: nothing on stdout" test ! -s "$T/out"
done
expect 2 "a repeated key" "$Q" "$TESTDATA/bad/duplicate.json"
check "repeated key: named with its line" err_has "duplicate.json': line 13 column 15: duplicate object key near '\"sha256\"'"
for f in dotdot absolute backslash empty nul; do
	expect 2 "hostile/$f" "$Q" "$TESTDATA/hostile/$f.json"
	check "hostile/$f: one line naming the file" sh -c "test \$(wc -l <'$T/err') -eq 1 && grep -q 'hostile/$f.json' '$T/err'"
	check "hostile/$f: the reason" err_has "unsafe path\|cannot parse.*not allowed"
done
expect 2 "missing tree" "$Q" "$T/nothing-here"
expect 2 "index naming a missing products file" "$Q" "$R/juju-otc-index.json"
check "names the missing file" err_has "com.ubuntu.cloud-released-otc.sjson"

# ---- remote trees over HTTP -----------------------------------------------
mkdir -p "$T/www"
cp -r "$FIXTURES/examples/foocloud" "$FIXTURES/examples/cirros" "$T/www/"
cp "$R/lxc-images-20230424.json" "$T/www/"
cp -r "$TESTDATA/nested" "$T/www/"
chmod -R u+w "$T/www"
httpd_start "$T/www"
U=$HTTP_URL
expect 0 "http root" "$Q" -f csv "$U/foocloud"
check "http root: all items" test "$(out_lines)" -eq 34
expect 0 "http root with slash" "$Q" -f '%(item_url)s' "$U/foocloud/" item_name=disk1.img arch=amd64 --max 1
check "item_url is a URL" test "$(cat "$T/out")" = "$U/foocloud/files/release-20121026.1/foovendor-6.1-server-cloudimg-amd64-disk1.img"
expect 0 "http direct index" "$Q" -f csv "$U/cirros/streams/v1/index.json"
expect 0 "http products file" "$Q" -f csv -F product_name,version_name,item_name "$U/lxc-images-20230424.json"
tail -n +2 "$T/out" >"$T/ours"
"$PY" tests/refquery.py "$R/lxc-images-20230424.json" >"$T/ref"
check "http products file: same items as the local file" cmp -s "$T/ours" "$T/ref"
expect 0 "http nested index, ':' and ' ' percent-encoded" "$Q" -f '%(item_url)s' "$U/nested" --max 1
check "percent-encoded item_url" test "$(cat "$T/out")" = "$U/nested/files/a%20b:c.txt"
expect 2 "http 404" "$Q" "$U/_fault/404/foocloud/streams/v1/index.json"
check "404 named" err_has "HTTP 404"
expect 75 "http 500 is temporary" "$Q" "$U/_fault/500/foocloud/streams/v1/index.json"
check "500 named, one line" sh -c "grep -q 'HTTP 500' '$T/err' && test \$(wc -l <'$T/err') -eq 1"
expect 75 "truncated body is temporary" "$Q" "$U/_fault/truncate/lxc-images-20230424.json"
expect 75 "connection reset is temporary" "$Q" "$U/_fault/reset/lxc-images-20230424.json"
expect 2 "http products 404 under a good index" "$Q" "$U/_fault/404/cirros/streams/v1/index.json"
expect 2 "http root without an index" "$Q" "$U/nothing"
check "both index names tried" sh -c "grep -q 'GET /nothing/streams/v1/index.json' '$T/httpd.log' && grep -q 'GET /nothing/streams/v1/index.sjson' '$T/httpd.log'"
check "neither there: index.json named" sh -c "grep -q 'nothing/streams/v1/index.json' '$T/err' && ! grep -q index.sjson '$T/err'"
expect 2 "local root without an index" "$Q" "$T/noindex"
check "local: index.json named" sh -c "grep -q 'noindex/streams/v1/index.json' '$T/err' && ! grep -q index.sjson '$T/err'"
expect 75 "connection refused is temporary" "$Q" "http://127.0.0.1:9/streams/v1/index.json"

finish
