# SPDX-License-Identifier: Apache-2.0
# sstream-mirror into S3 (a real Ceph RGW on 127.0.0.1, tests/ceph.sh):
# full and filtered mirrors read back anonymously with sstream-verify,
# no-op reruns that put nothing, upstream updates with grace-period
# deletion, multipart items, the lock, bad credentials, endpoint down,
# kill -9 at random points.
. tests/lib.sh
. tests/ceph.sh
M=$BIN/sstream-mirror
V=$BIN/sstream-verify
P=$BIN/sstream-publish
W=$T/www
mkdir -p "$W"
cp -r "$FIXTURES/examples/foocloud" "$W/foocloud"
chmod -R u+w "$W"
"$PY" tests/mkpayload.py "$FIXTURES/real/lxc-images-20230424.json" "$W/up1" '^(alpine|ubuntu):[^:]*:amd64:' --index
"$PY" tests/mkpayload.py "$FIXTURES/real/lxc-images-20230703.json" "$W/up2" '^(alpine|ubuntu):[^:]*:amd64:' --index
ln -s up1 "$W/current"
httpd_start "$W"
U=$HTTP_URL
ceph_start
export XDG_STATE_HOME=$T/state HOME=$T
S3="curl -s --aws-sigv4 aws:amz:us-east-1:s3 -u $AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"
EMPTY=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
mkbucket() { ceph_bucket "$1"; }
# keys BUCKET PREFIX: every key under PREFIX, sorted, in $T/keys.
keys() {
	$S3 -H "x-amz-content-sha256: $EMPTY" "$S3_ENDPOINT/$1?list-type=2&max-keys=1000&prefix=$(echo "$2" | sed 's|/|%2F|g')" >"$T/listing"
	grep -q '<ListBucketResult' "$T/listing" || fail "list $1/$2"
	grep -o '<Key>[^<]*</Key>' "$T/listing" | sed 's/<[^>]*>//g' | sort >"$T/keys"
}
# lock_expired PREFIX: waits until the lock object under PREFIX (if any)
# has expired, by the expiry written in it.
lock_expired() {
	exp=$($S3 -H "x-amz-content-sha256: $EMPTY" "$S3_ENDPOINT/mirror/$1/.sstream/lock" | sed -n 's/^expires //p')
	[ -n "$exp" ] || return 0
	while [ "$(date +%s)" -le "$exp" ]; do sleep 0.2; done
}
report() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/report.json" "$1"; }

# ---- usage and errors before any write --------------------------------------
expect 64 "bad s3 target" "$M" "$U/foocloud" s3:///nobucket
check "bad target named" err_has "s3:///nobucket"
mkbucket mirror
expect 2 "missing bucket" "$M" "$U/foocloud" s3://nosuchbucket/site
check "missing bucket: NoSuchBucket" err_has "NoSuchBucket"
expect 2 "wrong secret" env AWS_SECRET_ACCESS_KEY=wrong "$M" "$U/foocloud" s3://mirror/site
check "wrong secret: 403 SignatureDoesNotMatch" err_has "403 SignatureDoesNotMatch"
expect 2 "unknown key id" env AWS_ACCESS_KEY_ID=nobody "$M" "$U/foocloud" s3://mirror/site
check "unknown key: InvalidAccessKeyId" err_has "InvalidAccessKeyId"
keys mirror site/
check "nothing written with bad credentials" test ! -s "$T/keys"
expect 2 "no credentials at all" env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$M" "$U/foocloud" s3://mirror/site
check "no credentials: says how to give them" err_has "AWS_ACCESS_KEY_ID"
# (ASan wants to be first in the preload list; faketime preloads itself.)
expect 2 "clock two hours slow" env ASAN_OPTIONS=verify_asan_link_order=0 faketime -f -2h "$M" "$U/foocloud" s3://mirror/site
check "clock skew: RequestTimeTooSkewed" err_has "403 RequestTimeTooSkewed"
down=$(free_port)
expect 75 "endpoint down" "$M" --retries 0 --s3-endpoint "http://127.0.0.1:$down" "$U/foocloud" s3://mirror/site

# ---- a full mirror, read back anonymously over HTTP --------------------------
expect 0 "full mirror into s3" "$M" --report "$T/report.json" "$U/foocloud" s3://mirror/site
check "quiet on success" test ! -s "$T/out" -a ! -s "$T/err"
expect 0 "the bucket verifies over HTTP, deep" "$V" --deep "$S3_ENDPOINT/mirror/site"
for f in index.json com.example.foovendor:released:download.json; do
	curl -s "$S3_ENDPOINT/mirror/site/streams/v1/$f" >"$T/got"
	check "$f verbatim in the bucket" cmp -s "$W/foocloud/streams/v1/$f" "$T/got"
done
curl -s -D "$T/hdr" -o /dev/null "$S3_ENDPOINT/mirror/site/streams/v1/index.json"
check "documents: Content-Type application/json" grep -qi '^content-type: application/json' "$T/hdr"
check "documents: short Cache-Control" grep -qi '^cache-control: public, max-age=60' "$T/hdr"
item=$(cd "$W/foocloud" && find files -type f | head -1)
curl -s -D "$T/hdr" -o /dev/null "$S3_ENDPOINT/mirror/site/$item"
check "items: long immutable Cache-Control" grep -qi '^cache-control: .*immutable' "$T/hdr"
check "report counts the uploads (18 files, 3 documents)" test "$(report 'd["s3"]["uploaded"]')" -eq 21
keys mirror site/
check "lock released" sh -c "! grep -q '^site/.sstream/lock' '$T/keys'"

expect 0 "no-op rerun" "$M" --report "$T/report.json" "$U/foocloud" s3://mirror/site
check "no-op rerun puts nothing" test "$(report 'd["s3"]["uploaded"]')" -eq 0
check "no-op rerun deletes nothing" test "$(report 'd["s3"]["deleted"]')" -eq 0

# Credentials from a profile in ~/.aws/credentials; virtual-host addressing
# (BUCKET.localhost, which curl resolves to 127.0.0.1).
mkdir -p "$HOME/.aws"
printf '[default]\naws_access_key_id = nobody\naws_secret_access_key = x\n\n[ci]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
	"$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$HOME/.aws/credentials"
expect 0 "credentials from profile ci, virtual-host style" env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_PROFILE=ci \
	"$M" --s3-virtual-host --s3-endpoint "http://localhost:$CEPH_RGW_PORT" "$U/foocloud" s3://mirror/vhost
expect 0 "... the bucket verifies" "$V" "$S3_ENDPOINT/mirror/vhost"
expect 2 "the default profile's wrong key" env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$M" "$U/foocloud" s3://mirror/vhost
check "... InvalidAccessKeyId" err_has "InvalidAccessKeyId"

# A filtered mirror at another prefix: only what it lists.
expect 0 "filtered mirror into s3" "$M" --max 1 "$U/foocloud" s3://mirror/filtered arch=amd64 'ftype~^(disk1.img|tar.gz)$'
expect 0 "filtered bucket verifies" "$V" --deep "$S3_ENDPOINT/mirror/filtered"
keys mirror filtered/files/
check "filtered: exactly 2 items" test "$(wc -l <"$T/keys")" -eq 2
# an upstream-style reader (tests/refquery.py, the Python flattening of
# the upstream tools) sees in the bucket what sstream-query selects upstream
expect 0 "the filtered selection, upstream" "$BIN/sstream-query" --max 1 --format csv \
	--fields product_name,version_name,item_name "$U/foocloud" arch=amd64 'ftype~^(disk1.img|tar.gz)$'
tail -n +2 "$T/out" | sort >"$T/want"
curl -s "$S3_ENDPOINT/mirror/filtered/streams/v1/index.json" >"$T/fidx"
: >"$T/got"
for p in $("$PY" -c 'import json,sys; print(" ".join(e["path"] for e in json.load(open(sys.argv[1]))["index"].values()))' "$T/fidx"); do
	curl -s "$S3_ENDPOINT/mirror/filtered/$p" >"$T/fprod"
	"$PY" tests/refquery.py "$T/fprod" >>"$T/got"
done
sort -o "$T/got" "$T/got"
check "filtered: the Python reader sees exactly the selected items (2)" \
	sh -c 'test "$(wc -l <"$1")" -eq 2 && cmp -s "$1" "$2"' _ "$T/want" "$T/got"

# Dry run: says what it would put, puts nothing.
expect 0 "dry run" "$M" -n "$U/foocloud" s3://mirror/dry
check "dry run lists what it would add" out_has "^add "
keys mirror dry/
check "dry run wrote nothing" test ! -s "$T/keys"

# ---- upstream update: new objects, old ones after the grace period ---------
expect 0 "mirror up1" "$M" "$U/current" s3://mirror/lxc
keys mirror lxc/
cp "$T/keys" "$T/keys1"
rm "$W/current" && ln -s up2 "$W/current"
expect 0 "mirror up2 (grace 1h)" "$M" --report "$T/report.json" "$U/current" s3://mirror/lxc
expect 0 "after the update the bucket verifies" "$V" --deep "$S3_ENDPOINT/mirror/lxc"
check "update: no deletion within the grace period" test "$(report 'd["s3"]["deleted"]')" -eq 0
keys mirror lxc/
check "update: old objects still there" sh -c "comm -23 '$T/keys1' '$T/keys' | grep -v .sstream | wc -l | grep -qx 0"
expect 0 "mirror up2 again, grace 0" "$M" -v --grace 0 --report "$T/report.json" "$U/current" s3://mirror/lxc
check "grace 0: dropped objects deleted" test "$(report 'd["s3"]["deleted"]')" -gt 0
check "grace 0: nothing put" test "$(report 'd["s3"]["uploaded"]')" -eq 0
expect 0 "after deletion the bucket verifies" "$V" --deep "$S3_ENDPOINT/mirror/lxc"
keys mirror lxc/
grep -v '\.sstream/' "$T/keys" | sed 's|^lxc/||' >"$T/inbucket"
(cd "$T/state/sstream" && find . -mindepth 1 -maxdepth 1 -name '*lxc*' | head -1) >"$T/stagename"
SD=$T/state/sstream/$(cat "$T/stagename")
(cd "$SD" && find . -path ./.sstream -prune -o -type f -print | sed 's|^\./||' | sort) >"$T/staged"
check "no item under the state dir: the staging tree holds the documents only" \
	sh -c '! grep -v "^streams/v1/" "$1" | grep -q .' _ "$T/staged"
{ cat "$T/staged"; "$PY" -c 'import json,glob,sys
for f in glob.glob(sys.argv[1] + "/streams/v1/*.json"):
    for p in json.load(open(f)).get("products", {}).values():
        for v in p.get("versions", {}).values():
            for i in v.get("items", {}).values(): print(i["path"])' "$SD"; } | sort -u >"$T/named"
check "bucket holds exactly the documents and the items they name" cmp -s "$T/inbucket" "$T/named"

# ---- the lock ----------------------------------------------------------------
printf 'owner otherhost:123\nexpires %s\n' $(($(date +%s) + 3600)) >"$T/lock"
$S3 -H "x-amz-content-sha256: $(sha256sum <"$T/lock" | cut -c1-64)" -T "$T/lock" "$S3_ENDPOINT/mirror/site/.sstream/lock" -o /dev/null
expect 75 "locked by another run" "$M" "$U/foocloud" s3://mirror/site
check "says who holds the lock" err_has "otherhost:123"
printf 'owner otherhost:123\nexpires %s\n' $(($(date +%s) - 10)) >"$T/lock"
$S3 -H "x-amz-content-sha256: $(sha256sum <"$T/lock" | cut -c1-64)" -T "$T/lock" "$S3_ENDPOINT/mirror/site/.sstream/lock" -o /dev/null
expect 0 "an expired lock is taken over" "$M" "$U/foocloud" s3://mirror/site
# A lock object with no owner or expiry (garbage, empty) expires a lock
# period after it was written.
: >"$T/lock"
$S3 -H "x-amz-content-sha256: $EMPTY" -T "$T/lock" "$S3_ENDPOINT/mirror/site/.sstream/lock" -o /dev/null
expect 75 "an empty lock object holds within its TTL" "$M" "$U/foocloud" s3://mirror/site
check "... named as malformed" err_has "locked by a malformed lock object until"
sleep 2
expect 0 "... and is taken over after --s3-lock-ttl" "$M" --s3-lock-ttl 1s "$U/foocloud" s3://mirror/site

# ---- hostile keys under the prefix: never read, written or deleted ----------
mkbucket victim
echo precious >"$T/precious"
PH=$(sha256sum <"$T/precious" | cut -c1-64)
$S3 -H "x-amz-content-sha256: $PH" -T "$T/precious" "$S3_ENDPOINT/victim/important" -o /dev/null
$S3 --path-as-is -H "x-amz-content-sha256: $PH" -T "$T/precious" "$S3_ENDPOINT/mirror/site/../../victim/important" -o /dev/null
$S3 --path-as-is -H "x-amz-content-sha256: $PH" -T "$T/precious" "$S3_ENDPOINT/mirror/site/images/./x" -o /dev/null
$S3 -H "x-amz-content-sha256: $PH" -T "$T/precious" "$S3_ENDPOINT/mirror/site/a%0Ab" -o /dev/null
keys mirror site/
check "the hostile keys are planted" sh -c "grep -qx 'site/../../victim/important' '$T/keys' && grep -qx 'site/images/./x' '$T/keys'"
expect 0 "a run over hostile keys, grace 0" "$M" --grace 0 "$U/foocloud" s3://mirror/site
check "... names the '..' key" err_has "site/../../victim/important.*key skipped"
check "... names the '.' key" err_has "site/images/./x.*key skipped"
check "... names the control-character key, printable" err_has "site/a?b.*key skipped"
keys victim ""
check "... the other bucket's object is still there" grep -qx important "$T/keys"
keys mirror site/
check "... and the hostile keys are not deleted either" sh -c "grep -qx 'site/../../victim/important' '$T/keys' && grep -qx 'site/images/./x' '$T/keys'"
expect 0 "... the bucket verifies" "$V" --deep "$S3_ENDPOINT/mirror/site"

# ---- publishing: sstream-publish add TREE, then TREE into the bucket ----------
# The root file is incompressible and larger than the part size: multipart.
I=$T/img
mkdir -p "$I/meta" "$I/root/bin"
printf 'architecture: x86_64\ncreation_date: 1795910400\nproperties:\n  os: TestOS\n  release: s3\n' >"$I/meta/metadata.yaml"
head -c 400000 /dev/urandom >"$I/root/bin/blob"
tar -C "$I/meta" -cJf "$I/meta.tar.xz" metadata.yaml
tar -C "$I/root" -cf "$I/root.tar" .
expect 0 "publish add" "$P" add "$T/site" "$I/meta.tar.xz" "$I/root.tar"
expect 0 "publish the tree into s3 (multipart; straight from the tree)" "$M" --s3-part-size 64k --s3-acl public-read --report "$T/report.json" "$T/site" s3://mirror/pub
check "multipart: every object put" test "$(report 'd["s3"]["uploaded"]')" -ge 4
expect 0 "the published bucket verifies, deep (LXD fingerprints)" "$V" --deep "$S3_ENDPOINT/mirror/pub"
big=$(cd "$T/site" && find images -type f -size +300k | head -1)
curl -s "$S3_ENDPOINT/mirror/pub/$big" -o "$T/big"
check "multipart object: the same bytes" cmp -s "$T/site/$big" "$T/big"
check "published straight: no staging copy" sh -c "! ls '$T/state/sstream' | grep -q _mirror_pub_"
expect 0 "publish rerun" "$M" --report "$T/report.json" "$T/site" s3://mirror/pub
check "publish rerun puts nothing" test "$(report 'd["s3"]["uploaded"]')" -eq 0

# A source whose item does not match its hash.  Published straight (a whole
# local tree): exit 3, and no document goes up.
cp -r "$W/foocloud" "$T/badsrc"
f=$(cd "$T/badsrc" && find files -type f -size +0 | sort | head -1)
printf 'X' | dd of="$T/badsrc/$f" bs=1 count=1 conv=notrunc 2>/dev/null
expect 3 "corrupt item in a local tree: integrity failure" "$M" "$T/badsrc" s3://mirror/bad
check "corrupt item named" err_has "$f"
keys mirror bad/streams/
check "no document put after the failure" test ! -s "$T/keys"
keys mirror "bad/$f"
check "corrupt item not in the bucket" test ! -s "$T/keys"
# Through the staging tree (a filter): the staged documents name every item
# and the items come from the source with no local copy, each hashed
# before it is put: exit 3, and no document goes up.
expect 3 "corrupt item, filtered: integrity failure" "$M" "$T/badsrc" s3://mirror/bad2 'arch~.'
check "corrupt item named" err_has "$f"
keys mirror bad2/streams/
check "no document put after the failure" test ! -s "$T/keys"
keys mirror "bad2/$f"
check "corrupt item not in the bucket" test ! -s "$T/keys"

# ---- two runs at once: the second exits 75 naming the first ---------------
# wait_lock PREFIX: until a run holds the lock of s3://mirror/PREFIX (60 s at most)
wait_lock() {
	local i=0
	until $S3 -H "x-amz-content-sha256: $EMPTY" -o /dev/null -w '%{http_code}' "$S3_ENDPOINT/mirror/$1/.sstream/lock" | grep -q 200; do
		i=$((i + 1))
		[ $i -lt 600 ] || break
		sleep 0.1
	done
}
# The first run holds the lock while its source stalls.
echo "stall streams/v1/index.json" >"$T/faults"
"$M" --s3-lock-ttl 3s "$U/foocloud" s3://mirror/conc >"$T/a.out" 2>&1 &
A=$!
wait_lock conc
expect 75 "a second run while the first holds the lock" "$M" "$U/foocloud" s3://mirror/conc
check "the second run says who holds it" err_has "locked by .*:$A until"
# The first run renews its lock while it waits: still held after its TTL.
sleep 4
expect 75 "still locked after the TTL (renewed)" "$M" "$U/foocloud" s3://mirror/conc
{ kill -9 $A; wait $A; } 2>/dev/null
wait $A 2>/dev/null
rm -f "$T/faults"
# Its lock expires 3 s after the last renewal; then a run takes it over.
lock_expired conc
expect 0 "the dead run's lock expires and is taken over" "$M" "$U/foocloud" s3://mirror/conc
expect 0 "... and the bucket verifies" "$V" --deep "$S3_ENDPOINT/mirror/conc"

# ---- a lock another run took over is left to it ---------------------------
# The run stalls on its source while its lock is overwritten (a takeover
# after an expiry); at its end it releases only a lock that is still its
# own (the lock's ETag no longer the one it wrote, its body names another).
echo "stall streams/v1/index.json" >"$T/faults"
"$M" --timeout 3 --retries 0 "$U/foocloud" s3://mirror/took >"$T/a.out" 2>&1 &
A=$!
wait_lock took
printf 'owner otherhost:77\nexpires %s\n' $(($(date +%s) + 3600)) >"$T/lock"
$S3 -H "x-amz-content-sha256: $(sha256sum <"$T/lock" | cut -c1-64)" -T "$T/lock" "$S3_ENDPOINT/mirror/took/.sstream/lock" -o /dev/null
wait $A
check "the run whose lock was taken over fails" test $? -ne 0
rm -f "$T/faults"
check "... and leaves the other run's lock" sh -c "$S3 -H 'x-amz-content-sha256: $EMPTY' '$S3_ENDPOINT/mirror/took/.sstream/lock' | grep -q 'owner otherhost:77'"
$S3 -H "x-amz-content-sha256: $EMPTY" -X DELETE "$S3_ENDPOINT/mirror/took/.sstream/lock" -o /dev/null

# ---- a document back to bytes of the same size: put, whatever the state says
# A run killed after it put a document but before it saved the state
# leaves the state naming the document's old bytes; when upstream goes back
# to them (an index whose date alone changed: the same size), the document
# is put again all the same (the store's ETag, its MD5, decides).
cp -r "$W/foocloud" "$W/flip"
IDX=$W/flip/streams/v1/index.json
cp "$IDX" "$T/idx.orig"
expect 0 "flip: a first mirror" "$M" --grace 0 "$U/flip" s3://mirror/flip
$S3 -H "x-amz-content-sha256: $EMPTY" "$S3_ENDPOINT/mirror/flip/.sstream/state" -o "$T/state.old"
sed -i 's/17:56:57/18:56:57/' "$IDX"
check "flip: the changed index has the same size" test "$(stat -c %s "$IDX")" -eq "$(stat -c %s "$T/idx.orig")"
expect 0 "flip: upstream changes its index's date" "$M" --grace 0 "$U/flip" s3://mirror/flip
$S3 -H "x-amz-content-sha256: $(sha256sum <"$T/state.old" | cut -c1-64)" -T "$T/state.old" \
	"$S3_ENDPOINT/mirror/flip/.sstream/state" -o /dev/null
cp "$T/idx.orig" "$IDX"
expect 0 "flip: upstream goes back, the state naming the old bytes" "$M" --grace 0 "$U/flip" s3://mirror/flip
$S3 -H "x-amz-content-sha256: $EMPTY" "$S3_ENDPOINT/mirror/flip/streams/v1/index.json" -o "$T/idx.bucket"
check "flip: the bucket's index is upstream's again" cmp -s "$T/idx.orig" "$T/idx.bucket"
expect 0 "flip: the bucket verifies" "$V" --deep "$S3_ENDPOINT/mirror/flip"

# ---- the same for an item changed in place (other bytes, the same size):
# put again when the bucket holds other bytes than the ones the state
# names.  With a sha256 in the stream, the store's ETag of what was put,
# kept in the state, decides; with an md5 alone, that md5 against the
# ETag of a single PUT (and upstream's in-place change is seen by it).
# set_item FILE DOC NEW SHA: FILE's bytes become NEW's (its first byte
# flipped when NEW is "flip"), its hashes in DOC follow (a sha256 added
# when SHA is 1)
set_item() {
	"$PY" - "$@" <<'PY'
import hashlib, json, sys
item, doc, new, sha = sys.argv[1:]
old = open(item, "rb").read()
data = open(new, "rb").read() if new != "flip" else bytes([old[0] ^ 1]) + old[1:]
open(item, "wb").write(data)
d = json.load(open(doc))
for p in d["products"].values():
    for v in p["versions"].values():
        for i in v["items"].values():
            if i.get("md5") == hashlib.md5(old).hexdigest():
                i["md5"] = hashlib.md5(data).hexdigest()
                if sha == "1":
                    i["sha256"] = hashlib.sha256(data).hexdigest()
json.dump(d, open(doc, "w"), indent=1)
PY
}
item_flip() {
	local n=$1 sha=$2
	local ITEM=files/beta-2/foovendor-6.1-beta2-server-cloudimg-amd64-disk1.img
	local DL="$W/$n/streams/v1/com.example.foovendor:released:download.json"
	cp -r "$W/foocloud" "$W/$n"
	cp "$W/$n/$ITEM" "$T/item.orig"
	set_item "$W/$n/$ITEM" "$DL" "$T/item.orig" "$sha"
	cp "$DL" "$T/dl.orig"
	expect 0 "$n: a first mirror" "$M" --grace 0 "$U/$n" s3://mirror/$n
	$S3 -H "x-amz-content-sha256: $EMPTY" "$S3_ENDPOINT/mirror/$n/.sstream/state" -o "$T/state.old"
	check "$n: the state keeps the ETag of what was put" grep -q '^e [0-9a-f]\{32\}$' "$T/state.old"
	set_item "$W/$n/$ITEM" "$DL" flip "$sha"
	check "$n: the changed item has the same size" test "$(stat -c %s "$W/$n/$ITEM")" -eq "$(stat -c %s "$T/item.orig")"
	expect 0 "$n: upstream changes the item in place" "$M" --grace 0 "$U/$n" s3://mirror/$n
	$S3 -H "x-amz-content-sha256: $EMPTY" "$S3_ENDPOINT/mirror/$n/$ITEM" -o "$T/item.bucket"
	check "$n: the bucket has the changed item" cmp -s "$W/$n/$ITEM" "$T/item.bucket"
	# as if that run had been killed before it saved the state
	$S3 -H "x-amz-content-sha256: $(sha256sum <"$T/state.old" | cut -c1-64)" -T "$T/state.old" \
		"$S3_ENDPOINT/mirror/$n/.sstream/state" -o /dev/null
	cp "$T/item.orig" "$W/$n/$ITEM"
	cp "$T/dl.orig" "$DL"
	expect 0 "$n: upstream goes back, the state naming the old bytes" "$M" --grace 0 "$U/$n" s3://mirror/$n
	$S3 -H "x-amz-content-sha256: $EMPTY" "$S3_ENDPOINT/mirror/$n/$ITEM" -o "$T/item.bucket"
	check "$n: the bucket's item is upstream's again" cmp -s "$T/item.orig" "$T/item.bucket"
	expect 0 "$n: the bucket verifies" "$V" --deep "$S3_ENDPOINT/mirror/$n"
	expect 0 "$n: a rerun" "$M" --grace 0 --report "$T/report.json" "$U/$n" s3://mirror/$n
	check "$n: ... puts nothing" test "$(report 'd["s3"]["uploaded"]')" -eq 0
}
item_flip iflip-md5 0
item_flip iflip-sha 1
# a state written before ETags were kept: the items stand on its word,
# and the next state has their ETags
$S3 -H "x-amz-content-sha256: $EMPTY" "$S3_ENDPOINT/mirror/iflip-sha/.sstream/state" -o "$T/state.old"
sed '/^e /d' "$T/state.old" >"$T/state.noetag"
$S3 -H "x-amz-content-sha256: $(sha256sum <"$T/state.noetag" | cut -c1-64)" -T "$T/state.noetag" \
	"$S3_ENDPOINT/mirror/iflip-sha/.sstream/state" -o /dev/null
expect 0 "a state without ETags, dry run" "$M" -n --grace 0 "$U/iflip-sha" s3://mirror/iflip-sha
$S3 -H "x-amz-content-sha256: $EMPTY" "$S3_ENDPOINT/mirror/iflip-sha/.sstream/state" -o "$T/state.dry"
check "... leaves the state as it was" cmp -s "$T/state.noetag" "$T/state.dry"
expect 0 "a state without ETags" "$M" --grace 0 --report "$T/report.json" "$U/iflip-sha" s3://mirror/iflip-sha
check "... puts nothing" test "$(report 'd["s3"]["uploaded"]')" -eq 0
$S3 -H "x-amz-content-sha256: $EMPTY" "$S3_ENDPOINT/mirror/iflip-sha/.sstream/state" -o "$T/state.new"
check "... and the next state has their ETags ($(grep -c '^e ' "$T/state.new"))" \
	test "$(grep -c '^e ' "$T/state.new")" -eq "$(grep -c '^e ' "$T/state.old")"

# ---- a products file whose product list changes goes through an alternate
# key: the bucket's index never lists a product its file lacks, even when a
# run dies between the two PUTs (the kill rounds below hit that window now
# and then); the alternate is pruned as any unnamed object
expect 0 "switch: a first mirror (up1)" "$M" "$U/up1" s3://mirror/sw
expect 0 "switch: upstream changes its product list (up2)" "$M" -v "$U/up2" s3://mirror/sw
ALT=$($S3 -H "x-amz-content-sha256: $EMPTY" "$S3_ENDPOINT/mirror/sw/streams/v1/.images.a.json" | sha256sum | cut -c1-64)
check "switch: the new products file went up at the alternate key first" \
	test "$ALT" = "$(sha256sum <"$W/up2/streams/v1/images.json" | cut -c1-64)"
expect 0 "switch: the bucket verifies" "$V" --deep "$S3_ENDPOINT/mirror/sw"
expect 0 "switch: back to up1, with no grace" "$M" --grace 0 "$U/up1" s3://mirror/sw
keys mirror sw/streams
check "switch: only the documents the index names are left" \
	test "$(tr '\n' ' ' <"$T/keys")" = "sw/streams/v1/images.json sw/streams/v1/index.json "
expect 0 "switch: the bucket verifies" "$V" --deep "$S3_ENDPOINT/mirror/sw"
# a bucket index that is not one (not JSON) names nothing: no switch, and
# the run replaces it
printf 'not {json' >"$T/junk"
$S3 -H "x-amz-content-sha256: $(sha256sum <"$T/junk" | cut -c1-64)" -T "$T/junk" \
	"$S3_ENDPOINT/mirror/sw/streams/v1/index.json" -o /dev/null
expect 0 "switch: over a bucket index that is not JSON" "$M" --grace 0 "$U/up2" s3://mirror/sw
expect 0 "switch: ... the bucket verifies" "$V" --deep "$S3_ENDPOINT/mirror/sw"

# ---- kill -9 at random points: the bucket always verifies -------------------
rm "$W/current" && ln -s up1 "$W/current"
expect 0 "kill test: start from up1" "$M" "$U/current" s3://mirror/kill
for round in 1 2 3 4 5; do
	if [ $((round % 2)) -eq 1 ]; then up=up2; else up=up1; fi
	rm "$W/current" && ln -s $up "$W/current"
	"$M" --grace 0 --s3-lock-ttl 1s "$U/current" s3://mirror/kill >/dev/null 2>&1 &
	K=$!
	# Rounds spread over the run: source transfers, then uploads.
	sleep "$(( (round - 1) * 2 + $(shuf -i 0-1 -n 1) )).$(shuf -i 1-9 -n 1)"
	kill -9 $K 2>/dev/null
	wait $K 2>/dev/null
	expect 0 "kill -9 round $round ($up): the bucket verifies" "$V" --deep "$S3_ENDPOINT/mirror/kill"
	lock_expired kill
done
expect 0 "after the kills a run finishes" "$M" --grace 0 "$U/current" s3://mirror/kill
expect 0 "... and the bucket verifies" "$V" --deep "$S3_ENDPOINT/mirror/kill"
expect 0 "... and a rerun" "$M" --grace 0 --report "$T/report.json" "$U/current" s3://mirror/kill
check "... puts nothing" test "$(report 'd["s3"]["uploaded"]')" -eq 0

# ---- the object store dies mid-run (kill -9 of radosgw) -------------------
rm "$W/current" && ln -s up2 "$W/current"
"$M" --retries 1 --grace 0 --s3-lock-ttl 2s "$U/current" s3://mirror/kill >"$T/k.out" 2>&1 &
K=$!
sleep "$(shuf -i 1-4 -n 1).$(shuf -i 0-9 -n 1)"
ceph_rgw_stop
wait $K
krc=$?
check "store killed: the run exits 75 (or had finished)" test $krc -eq 75 -o $krc -eq 0
ceph_rgw_start
expect 0 "store back: the bucket verifies" "$V" --deep "$S3_ENDPOINT/mirror/kill"
# The run could not release its lock: it expires 2 s after the last renewal.
lock_expired kill
expect 0 "store back: the next run finishes" "$M" --grace 0 "$U/current" s3://mirror/kill
expect 0 "... and the bucket verifies" "$V" --deep "$S3_ENDPOINT/mirror/kill"

finish
