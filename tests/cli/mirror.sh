# SPDX-License-Identifier: Apache-2.0
# sstream-mirror against a real HTTP server on 127.0.0.1: full and filtered
# mirrors, no-op reruns, upstream updates with pruning and --keep, faults,
# resume, local reuse, signatures, locking, kill -9, hostile input.
. tests/lib.sh
M=$BIN/sstream-mirror
Q=$BIN/sstream-query
CHECK="$PY tests/treecheck.py"
W=$T/www
mkdir -p "$W"
cp -r "$FIXTURES/examples/foocloud" "$W/foocloud"
cp -r "$FIXTURES/signed/examples/foocloud" "$W/signed-foocloud"
cp -r "$FIXTURES/examples/foocloud/files" "$W/signed-foocloud/"
chmod -R u+w "$W"
"$PY" tests/mkpayload.py "$FIXTURES/real/lxc-images-20230424.json" "$W/up1" '^(alpine|ubuntu):[^:]*:amd64:' --index
"$PY" tests/mkpayload.py "$FIXTURES/real/lxc-images-20230703.json" "$W/up2" '^(alpine|ubuntu):[^:]*:amd64:' --index
ln -s up1 "$W/current"
httpd_start "$W"
U=$HTTP_URL
LOG=$T/httpd.log
# (the catalogue page is left out: its status block records every run)
snapshot() { (cd "$1" && find . -path ./.sstream -prune -o -path ./index.html -prune -o -type f -printf '%p %s %T@\n' | sort); }
gets() { grep -c "^GET $1" "$LOG" 2>/dev/null || true; }

# ---- usage ----------------------------------------------------------------
expect 0 "--help" "$M" --help
check "--help has the exit codes" out_has "75 temporary"
expect 64 "no target" "$M" "$U/foocloud"
expect 64 "bad filter" "$M" "$U/foocloud" "$T/x" 'arch:amd64'
expect 64 "bad --grace" "$M" --grace 1y "$U/foocloud" "$T/x"
# beyond int range: refused, not truncated (4294967297 used to be 1)
expect 64 "--retries beyond int range" "$M" --retries 4294967297 "$U/foocloud" "$T/x"
check "--retries: named" err_has "retries: '4294967297' is out of range"
expect 64 "--max beyond int range" "$M" --max 4294967297 "$U/foocloud" "$T/x"
expect 64 "--limit-rate overflowing" "$M" --limit-rate 99999999999G "$U/foocloud" "$T/x"
expect 64 "--grace overflowing" "$M" --grace 99999999999999999d "$U/foocloud" "$T/x"

# ---- a full mirror keeps upstream's bytes; a rerun changes nothing ---------
D=$T/full
expect 0 "full mirror" "$M" "$U/foocloud" "$D"
check "quiet on success" test ! -s "$T/out" -a ! -s "$T/err"
for f in index.json com.example.foovendor:released:download.json com.example.foovendor:released:aws.json; do
	check "full mirror keeps $f verbatim" cmp -s "$W/foocloud/streams/v1/$f" "$D/streams/v1/$f"
done
check "every listed file present and verified" $CHECK "$D"
expect 0 "query the mirror" "$Q" -f csv "$D"
check "the mirror lists all 33 items" test "$(out_lines)" -eq 34
snapshot "$D" >"$T/snap1"
: >"$LOG"
sleep 1
expect 0 "no-op rerun" "$M" "$U/foocloud" "$D"
snapshot "$D" >"$T/snap2"
check "no-op rerun: files and mtimes unchanged" cmp -s "$T/snap1" "$T/snap2"
check "no-op rerun: no item downloaded" test "$(gets /foocloud/files)" -eq 0

# ---- filtered mirror: lists exactly what it has ----------------------------
D=$T/filtered
expect 0 "filtered mirror" "$M" --max 1 "$U/foocloud" "$D" arch=amd64 'ftype~^(disk1.img|tar.gz)$'
check "filtered tree verifies" $CHECK "$D"
expect 0 "query filtered" "$Q" -f '%(item_name)s' "$D" ftype~.
check "filtered: exactly the 2 matching items" test "$(sort "$T/out" | tr '\n' ' ')" = "disk1.img tar.gz "
check "filtered: not verbatim" sh -c "! cmp -s '$W/foocloud/streams/v1/index.json' '$D/streams/v1/index.json'"
check "filtered: only 2 files" test "$(find "$D/files" -type f | wc -l)" -eq 2
expect 0 "filtered products file is valid" "$PY" -W ignore tests/validate.py products.schema.json "$D/streams/v1/com.example.foovendor:released:download.json"
expect 0 "filtered index is valid" "$PY" -W ignore tests/validate.py index.schema.json "$D/streams/v1/index.json"

# ---- dry run ---------------------------------------------------------------
D=$T/dry
expect 0 "dry run" "$M" -n "$U/foocloud" "$D" arch=i386
check "dry run lists additions with sizes" out_has "^add  *59  files/release-20121026.1/foovendor-6.1-server-cloudimg-i386-disk1.img"
check "dry run totals" out_has "^total: add 9 items (546 bytes)"
check "dry run changes nothing" test ! -e "$D/streams"

# ---- files already there are trusted, or re-checked with --check-existing ----
D=$T/full
printf 'X' | dd of="$D/files/beta-2/foovendor-6.1-beta2-server-cloudimg-amd64.tar.gz" bs=1 seek=2 conv=notrunc 2>/dev/null
expect 0 "a rerun trusts what it has" "$M" "$U/foocloud" "$D"
expect 3 "... which verify catches" "$BIN/sstream-verify" "$D"
expect 0 "--check-existing re-hashes and repairs" "$M" -v --check-existing "$U/foocloud" "$D"
check "repaired file fetched again" out_has "^+ files/beta-2/foovendor-6.1-beta2-server-cloudimg-amd64.tar.gz"
expect 0 "repaired: verify accepts it" "$BIN/sstream-verify" "$D"

# ---- metadata only, then items ------------------------------------------------
D=$T/meta
expect 0 "--no-item-download" "$M" --no-item-download "$U/foocloud" "$D"
check "metadata only: no files" test ! -e "$D/files"
check "metadata only: the index is there" test -s "$D/streams/v1/index.json"
expect 0 "then a normal run" "$M" "$U/foocloud" "$D"
check "the normal run fetched the items" $CHECK "$D"

# ---- upstream updates: lxc-images 20230424 -> 20230703 -----------------------
D=$T/lxc
expect 0 "lxc mirror, --max 2" "$M" --max 2 --grace 0 -j 4 "$U/current" "$D"
check "lxc: verifies" $CHECK "$D"
expect 0 "lxc: query" "$Q" -f '%(version_name)s' "$D" product_name=ubuntu:jammy:amd64:default ftype=squashfs
check "lxc: 2 newest jammy versions" test "$(tr '\n' ' ' <"$T/out")" = "20230423_12:40 20230422_07:43 "
check "lxc: combined fingerprints carried" sh -c "grep -q combined_squashfs_sha256 '$D/streams/v1/images.json'"
expect 0 "lxc mirror is valid for LXD" "$PY" -W ignore tests/validate.py lxd-profile.schema.json "$D/streams/v1/images.json"
rm "$W/current"
ln -s up2 "$W/current"
expect 0 "lxc update" "$M" --max 2 --grace 0 -v "$U/current" "$D"
check "update: verifies" $CHECK "$D"
check "update: old versions pruned" test ! -e "$D/images/ubuntu/jammy/amd64/default/20230423_12:40"
check "update: empty directories removed" test ! -e "$D/images/alpine/3.14"
check "update: new release present" test -d "$D/images/ubuntu/mantic"
check "update: removals reported" out_has "^- images/ubuntu/kinetic/"
check "update: nothing left but what is listed" sh -c "test \$(find '$D/images' -type f | wc -l) -eq \$('$Q' -f csv '$D' ftype~. | tail -n +2 | wc -l)"

# --keep: versions gone upstream stay while fewer than N remain
D=$T/keep
rm "$W/current"; ln -s up1 "$W/current"
expect 0 "keep: first" "$M" --max 3 --grace 0 "$U/current" "$D"
rm "$W/current"; ln -s up2 "$W/current"
expect 0 "keep: update" "$M" --max 3 --keep --grace 0 "$U/current" "$D"
expect 0 "keep: query kinetic" "$Q" -f '%(version_name)s' "$D" product_name=ubuntu:kinetic:amd64:default ftype=squashfs
check "keep: a product gone upstream keeps its 3 versions" test "$(out_lines)" -eq 3
expect 0 "keep: query jammy" "$Q" -f '%(version_name)s' "$D" product_name=ubuntu:jammy:amd64:default ftype=squashfs
check "keep: a product with 3 new versions keeps none of the old" test "$(out_lines)" -eq 3
check "keep: verifies" $CHECK "$D"

# grace: files dropped from the index stay until the grace period is over
D=$T/grace
rm "$W/current"; ln -s up1 "$W/current"
expect 0 "grace: first" "$M" --max 1 "$U/current" "$D" 'product_name~^alpine:3.14'
OLDF=$(cd "$D" && find images -type f | head -n 1)
rm "$W/current"; ln -s up2 "$W/current"
expect 0 "grace: update" "$M" --max 1 "$U/current" "$D" 'product_name~^alpine:3.14'
check "grace: the dropped file stays for now" test -f "$D/$OLDF"
check "grace: the index no longer lists it" sh -c "! grep -q images.json '$D/streams/v1/index.json'"
expect 0 "grace over" "$M" --max 1 --grace 0 "$U/current" "$D" 'product_name~^alpine:3.14'
check "grace over: the file is gone" test ! -e "$D/$OLDF"
check "grace over: empty directories gone" test ! -e "$D/images"

# ---- faults --------------------------------------------------------------------
F=$T/faults
D=$T/f404
echo "404 amd64-disk1.img" >"$F"
expect 1 "a 404 item is a partial failure" "$M" "$U/foocloud" "$D"
check "the failure is named" err_has "FAIL files/.*amd64-disk1.img: .*HTTP 404"
check "the tree lists only what it has" $CHECK "$D"
expect 0 "query partial" "$Q" -f '%(path)s' "$D" ftype=disk1.img arch=amd64
check "no amd64 disk1.img listed" test ! -s "$T/out"
: >"$F"
expect 0 "the next run completes it" "$M" "$U/foocloud" "$D"
check "now verbatim and complete" cmp -s "$W/foocloud/streams/v1/index.json" "$D/streams/v1/index.json"

D=$T/f500
echo "500x2 i386-disk1.img" >"$F"
: >"$LOG"
expect 0 "5xx is retried" "$M" --retries 3 "$U/foocloud" "$D"
check "retried twice, then fetched" test "$(grep -c 'GET .*release-20121026.1/.*i386-disk1.img' "$LOG")" -eq 3
check "5xx: verifies" $CHECK "$D"

D=$T/f500b
echo "500 i386-disk1.img" >"$F"
expect 1 "5xx that never ends: the item fails" "$M" --retries 1 "$U/foocloud" "$D"
check "5xx failure named" err_has "HTTP 500"
echo "500 files/" >"$F"
expect 75 "every item failing with 5xx is temporary" "$M" --retries 0 "$U/foocloud" "$T/f500c"
# the products without files (image ids) are complete: only they are listed
check "every file item failing: the tree is consistent" $CHECK "$T/f500c"
check "... listing no product whose items failed" sh -c "! grep -q '\"path\": \"files/' '$T/f500c/streams/v1/'*.json"

for mode in corrupt longer; do
	D=$T/f$mode
	echo "$mode amd64-root.tar.gz" >"$F"
	: >"$LOG"
	expect 1 "$mode body: the item fails" "$M" "$U/foocloud" "$D"
	check "$mode: retried once from zero" test "$(grep -c 'GET .*release-20121026.1/.*amd64-root.tar.gz' "$LOG")" -eq 2
	check "$mode: named" err_has "FAIL files/release-20121026.1/foovendor-6.1-server-cloudimg-amd64-root.tar.gz"
	check "$mode: not published, tree consistent" $CHECK "$D"
	check "$mode: no stray file" test ! -e "$D/files/release-20121026.1/foovendor-6.1-server-cloudimg-amd64-root.tar.gz"
done

D=$T/ftrunc
echo "truncate amd64.tar.gz" >"$F"
expect 1 "truncated body, every time: fails after retries" "$M" --retries 1 "$U/foocloud" "$D"
: >"$F"
: >"$LOG"
expect 0 "truncated: the next run resumes" "$M" "$U/foocloud" "$D"
check "resumed with a Range request" grep -q 'GET .*amd64.tar.gz bytes=[1-9]' "$LOG"
check "truncated then resumed: verifies" $CHECK "$D"

D=$T/fnorange
mkdir -p "$D/.sstream/tmp"
P=$(printf '%s' files/release-20121026.1/foovendor-6.1-server-cloudimg-i386.tar.gz | sha256sum | cut -c1-32)
printf 'GARBAGE-GARBAGE' >"$D/.sstream/tmp/$P.part"
echo "norange i386.tar.gz" >"$F"
: >"$LOG"
expect 0 "Range ignored (200): restart from zero" "$M" "$U/foocloud" "$D"
check "asked for a range" grep -q 'GET .*release-20121026.1/.*i386.tar.gz bytes=15-' "$LOG"
check "Range ignored: verifies" $CHECK "$D"
: >"$F"

D=$T/fstall
echo "stall amd64-disk1.img" >"$F"
expect 1 "a stalled body hits the stall limit" "$M" --timeout 1 --retries 0 "$U/foocloud" "$D"
check "stall named" err_has "amd64-disk1.img"
check "stall: consistent" $CHECK "$D"
echo "reset amd64-disk1.img" >"$F"
expect 1 "connection reset: the item fails" "$M" --retries 1 "$U/foocloud" "$T/freset"
check "reset: consistent" $CHECK "$T/freset"
: >"$F"

echo "tofile amd64-disk1.img" >"$F"
expect 1 "a redirect to file:// is refused" "$M" "$U/foocloud" "$T/ftofile"
check "redirect refused: consistent" $CHECK "$T/ftofile"
check "redirect refused: nothing from /etc" sh -c "! grep -rq root: '$T/ftofile/files'"
echo "500x2 foocloud/streams/v1/index.json" >"$F"
expect 0 "a 5xx on the index is retried" "$M" --retries 2 "$U/foocloud" "$T/findex"
: >"$F"

# https: certificates are verified; --ca-file trusts a private CA
tls_cert
httpd_start "$W" --tls "$T/cert.pem" "$T/key.pem"
S=$HTTP_URL
S=https${S#http}
expect 2 "https with an unknown certificate is refused" "$M" "$S/foocloud" "$T/tls-bad"
check "certificate problem named" err_has "certificate"
check "unknown certificate: target untouched" test ! -e "$T/tls-bad/streams"
expect 0 "https with --ca-file" "$M" --ca-file "$T/cert.pem" "$S/foocloud" "$T/tls"
check "https mirror verifies" $CHECK "$T/tls"

# --mirror: a fallback source for items
D=$T/fallback
mkdir -p "$W/broken/streams/v1"
cp "$W/foocloud/streams/v1/"*.json "$W/broken/streams/v1/"
expect 0 "items from a fallback mirror" "$M" --mirror "$U/foocloud" "$U/broken" "$D"
check "fallback: verifies" $CHECK "$D"

# ---- local reuse: same content, new path, no download --------------------------
D=$T/reuse
expect 0 "reuse: first" "$M" "$U/up1" "$D" 'product_name~^alpine:3.16:amd64:cloud'
mkdir -p "$W/moved/streams/v1"
cp -r "$W/up1/images" "$W/moved/images2"
sed 's|"images/|"images2/|' "$W/up1/streams/v1/images.json" >"$W/moved/streams/v1/images.json"
cp "$W/up1/streams/v1/index.json" "$W/moved/streams/v1/"
: >"$LOG"
expect 0 "reuse: moved upstream" "$M" -v --grace 0 "$U/moved" "$D" 'product_name~^alpine:3.16:amd64:cloud'
check "reuse: nothing downloaded" test "$(gets /moved/images2)" -eq 0
check "reuse: reported" out_has "^= images2/alpine/3.16/"
check "reuse: verifies" $CHECK "$D"
check "reuse: old paths gone, new present" test ! -e "$D/images" -a -d "$D/images2/alpine/3.16"

# ---- signatures ------------------------------------------------------------------
KR=$FIXTURES/signed/test.gpg
D=$T/signed
expect 0 "signed mirror" "$M" --keyring "$KR" "$U/signed-foocloud" "$D"
check "signed: index.sjson verbatim" cmp -s "$W/signed-foocloud/streams/v1/index.sjson" "$D/streams/v1/index.sjson"
check "signed: products .sjson verbatim" cmp -s "$W/signed-foocloud/streams/v1/com.example.foovendor:released:aws.sjson" "$D/streams/v1/com.example.foovendor:released:aws.sjson"
check "signed: a plain index.json for LXD" $CHECK "$D"
check "signed: index.json names .json products" sh -c "grep -q 'released:download.json\"' '$D/streams/v1/index.json'"
expect 0 "signed: signatures still verify" gpgv --keyring "$KR" "$D/streams/v1/index.sjson"
expect 3 "unsigned tree with --keyring" "$M" --keyring "$KR" "$U/foocloud/streams/v1/index.json" "$T/unsigned"
check "unsigned: named" err_has "not a clearsigned document"
check "unsigned: target untouched" test ! -e "$T/unsigned/streams"
expect 3 "a root without index.sjson under --keyring" "$M" --keyring "$KR" "$U/foocloud" "$T/unsigned2"
cp -r "$W/signed-foocloud" "$W/tampered"
cp "$FIXTURES/signed/tampered-aws.sjson" "$W/tampered/streams/v1/com.example.foovendor:released:aws.sjson"
expect 3 "tampered products file" "$M" --keyring "$KR" "$U/tampered" "$T/tampered"
check "tampered: bad signature named" err_has "aws.sjson': bad signature"
check "tampered: target untouched" test ! -e "$T/tampered/streams" -a ! -e "$T/tampered/files"
export GNUPGHOME=$T/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key 'Other <other@example.invalid>' rsa2048 sign never 2>/dev/null
gpg --batch --quiet --export >"$T/other.gpg"
expect 3 "wrong key" "$M" --keyring "$T/other.gpg" "$U/signed-foocloud" "$T/wrongkey"
check "wrong key: unknown key named" err_has "unknown key"
gpg --batch --quiet --passphrase '' --faked-system-time 20200101T000000 \
	--quick-gen-key 'Old <old@example.invalid>' rsa2048 sign 2020-01-10 2>/dev/null
mkdir -p "$W/expired/streams/v1"
gpg --batch --quiet --faked-system-time 20200102T000000 --local-user old@example.invalid --clearsign \
	-o "$W/expired/streams/v1/index.sjson" "$W/foocloud/streams/v1/index.json" 2>/dev/null
gpg --batch --quiet --export old@example.invalid >"$T/old.gpg"
expect 3 "expired key" "$M" --keyring "$T/old.gpg" "$U/expired" "$T/expired"
check "expired: named" err_has "expired"
expect 0 "--no-verify skips the check" "$M" --keyring "$T/other.gpg" --no-verify "$U/signed-foocloud" "$T/noverify"
unset GNUPGHOME

# ---- hostile products files -------------------------------------------------------
mkdir -p "$W/hostile/streams/v1"
"$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
d["products"]["com.example.foovendor:pinky:server:amd64"]["versions"]["20121001"]["items"]["disk1.img"]["path"] = "../../../../tmp/evil"
json.dump(d, open(sys.argv[2], "w"))
' "$W/foocloud/streams/v1/com.example.foovendor:released:download.json" "$W/hostile/streams/v1/com.example.foovendor:released:download.json"
cp "$W/foocloud/streams/v1/index.json" "$W/foocloud/streams/v1/com.example.foovendor:released:aws.json" "$W/hostile/streams/v1/"
expect 2 "../ paths are refused" "$M" "$U/hostile" "$T/hostile"
check "hostile: named" err_has "unsafe path '../../../../tmp/evil'"
check "hostile: target untouched" test ! -e "$T/hostile/streams" -a ! -e /tmp/evil
cp "$TESTDATA/bad/truncated.json" "$W/truncated.json"
expect 2 "a malformed source" "$M" "$U/truncated.json" "$T/malformed"
check "malformed: named" err_has "truncated.json"
expect 75 "a truncated transfer is temporary" "$M" "$U/_fault/truncate/foocloud/streams/v1/index.json" "$T/malformed"
check "malformed: target untouched" test ! -e "$T/malformed/streams"
expect 2 "a 404 index" "$M" "$U/nothing" "$T/nothing"
check "404 index: target untouched" test ! -e "$T/nothing/streams"

# ---- one run at a time; kill -9 at any moment -----------------------------------------
# Items come at 2 KiB/s, so each kill lands in a running process (checked).
D=$T/lock
echo "drip images/" >"$F"
"$M" "$U/current" "$D" -j 1 >/dev/null 2>&1 &
BG=$!
i=0
while [ ! -e "$D/.sstream/tmp" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
expect 75 "a second run exits 75 at once" "$M" "$U/current" "$D"
check "lock: said so" err_has "another run holds its lock"
sleep 1
check "the kill -9 of a first run lands while it runs" kill -9 $BG
wait $BG 2>/dev/null
check "after kill -9 of a first run: nothing is published before its items are there" test ! -e "$D/streams/v1/index.json"
: >"$F"
expect 0 "after kill -9: the next run finishes" "$M" "$U/current" "$D"
check "after kill -9: complete" $CHECK "$D"
# and a kill during an update of an existing tree (its index stays readable)
rm "$W/current"; ln -s up1 "$W/current"
echo "drip images/" >"$F"
"$M" "$U/current" "$D" -j 2 --grace 0 >/dev/null 2>&1 &
BG=$!
sleep 1.5
check "the kill -9 mid-update lands while it runs" kill -9 $BG
wait $BG 2>/dev/null
check "killed mid-update: an index is there" test -e "$D/streams/v1/index.json"
check "killed mid-update: consistent" $CHECK "$D"
expect 0 "killed mid-update: sstream-verify accepts it" "$BIN/sstream-verify" "$D"
: >"$F"
expect 0 "killed mid-update: the next run finishes" "$M" "$U/current" "$D" --grace 0
check "killed mid-update: complete" $CHECK "$D"

# ---- --report ------------------------------------------------------------------------
expect 0 "report" "$M" --report "$T/report.json" "$U/foocloud" "$T/report"
check "report is JSON with the counts" "$PY" -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["result"] == 0 and r["added"] == 18 and r["items"] == 33 and r["failed"] == 0, r
assert r["bytes_added"] == 1101 and r["failures"] == [] and r["verbatim"] is True
' "$T/report.json"
check "report says where the seconds went" "$PY" -c '
import json, sys
r = json.load(open(sys.argv[1]))
p = r["phases"]
assert sorted(p) == sorted(["load", "plan", "fetch", "sync", "documents", "page", "history"]), p
assert all(v >= 0 for v in p.values()) and p["load"] > 0 and p["fetch"] > 0 and p["page"] + p["history"] > 0, p
assert sum(p.values()) <= r["seconds"] + 0.005, (sum(p.values()), r["seconds"])
' "$T/report.json"

finish
