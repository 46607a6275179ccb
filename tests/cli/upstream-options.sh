# SPDX-License-Identifier: Apache-2.0
# Upstream's (simplestreams' Python) command lines work unchanged: MAAS's
# documented sstream-mirror line (options after the arguments, --opt=value,
# --progress), --path, -U, --log-file, --no-checksumming-reader; the
# sstream-query options -o, --json, --pretty, --keyring, -U, --path, --max;
# and the CA bundle from $SSL_CERT_FILE / $CURL_CA_BUNDLE, an unknown
# certificate's error naming --ca-file.
. tests/lib.sh
M=$BIN/sstream-mirror
Q=$BIN/sstream-query
CHECK="$PY tests/treecheck.py"
W=$T/www
mkdir -p "$W"
cp -r "$FIXTURES/examples/foocloud" "$W/foocloud"
cp -r "$FIXTURES/signed/examples/foocloud" "$W/signed"
cp -r "$FIXTURES/examples/foocloud/files" "$W/signed/"
chmod -R u+w "$W"
KR=$FIXTURES/signed/test.gpg
httpd_start "$W"
U=$HTTP_URL

# ---- sstream-mirror, as MAAS documents it ---------------------------------------------
D=$T/maas
expect 0 "MAAS's command line" "$M" --keyring="$KR" "$U/signed" "$D" 'arch=amd64' 'release~(pinky|focal)' --max=1 --progress
check "the mirror verifies" $CHECK "$D"
check "only amd64 items" sh -c "! grep -rq '\"arch\": *\"i386\"' '$D/streams/v1/'"
check "--max=1: one version per product" test "$("$Q" "$D" -o '%(product_name)s %(version_name)s' | sort -u | cut -d' ' -f1 | uniq -d | wc -l)" -eq 0
check "--progress: lines on stderr though it is not a terminal" err_has "files .* MiB"
expect 0 "the same without --progress" "$M" "$U/signed" "$T/quiet" --keyring="$KR" arch=amd64 --max=1
check "... prints no progress" test ! -s "$T/err"

# ---- --path, -U, --no-checksumming-reader -------------------------------------------
expect 0 "--path to the index" "$M" --path streams/v1/index.json "$U/foocloud" "$T/path1"
check "--path: the mirror verifies" $CHECK "$T/path1"
expect 0 "--path=products file" "$M" "$U/foocloud" "$T/path2" --path=streams/v1/com.example.foovendor:released:download.json --no-item-download
check "--path=products: only that products file" sh -c "ls '$T/path2/streams/v1/' | grep -q download && ! ls '$T/path2/streams/v1/' | grep -q aws"
expect 2 "--path that is not there" "$M" --path streams/v1/nothing.json "$U/foocloud" "$T/path3"
check "... named" err_has "nothing.json"
mkdir -p -m 700 "$T/gnupg"
gpg --homedir "$T/gnupg" --batch --quiet --passphrase '' --quick-gen-key 'Other <o@example.invalid>' rsa2048 sign never 2>/dev/null
gpg --homedir "$T/gnupg" --batch --quiet --export >"$T/other.gpg"
expect 3 "a wrong keyring fails" "$M" --keyring "$T/other.gpg" "$U/signed" "$T/wrong"
expect 0 "-U: signatures not required" "$M" --keyring "$T/other.gpg" -U "$U/signed" "$T/nov"
check "-U: the mirror verifies" $CHECK "$T/nov"
expect 0 "--no-checksumming-reader is accepted" "$M" --no-checksumming-reader "$U/foocloud" "$T/ncr"
check "... and the hashes are still checked" $CHECK "$T/ncr"
cp -r "$W/foocloud" "$W/bad"
f=$(cd "$W/bad" && find files -name '*amd64-disk1.img' | head -n 1)
printf 'XXXX' | dd of="$W/bad/$f" bs=1 seek=0 conv=notrunc 2>/dev/null
expect 1 "--no-checksumming-reader: a corrupt item still fails" "$M" --no-checksumming-reader "$U/bad" "$T/ncr-bad"
check "... named" err_has "$(basename "$f")"

# ---- --log-file -------------------------------------------------------------------
echo "earlier line" >"$T/log"
expect 1 "--log-file" "$M" "$U/bad" "$T/logged" --log-file "$T/log"
check "--log-file: the messages are still on stderr" err_has "FAIL"
check "--log-file: ... and appended to the file" grep -q "FAIL" "$T/log"
check "--log-file: appended, not truncated" grep -q "^earlier line" "$T/log"
check "--log-file: the same text" sh -c "tail -n +2 '$T/log' | cmp -s - '$T/err'"
expect 2 "--log-file in a missing directory" "$M" "$U/foocloud" "$T/x" --log-file "$T/no/such/log"
check "... named" err_has "$T/no/such/log"

# ---- sstream-query ---------------------------------------------------------------
expect 0 "query -o" "$Q" "$U/foocloud" ftype=disk1.img -o '%(item_url)s %(md5)s' --max 1
check "-o: url and hash per item" sh -c "grep -q '^$U/foocloud/files/.*disk1.img [0-9a-f]\{32\}$' '$T/out'"
check "-o with --max 1: one per product" test "$(out_lines)" -eq 2
expect 0 "query --output-format=" "$Q" "$U/foocloud" ftype=disk1.img --output-format='%(md5)s %(size)s'
check "--output-format: md5 and size" sh -c "grep -qx '[0-9a-f]\{32\} [0-9]*' '$T/out'"
expect 0 "query --json" "$Q" --json "$U/foocloud" arch=amd64
check "--json: a JSON list" "$PY" -c "import json,sys; l=json.load(open('$T/out')); sys.exit(not l or any(i['arch']!='amd64' for i in l))"
expect 0 "query --pretty" "$Q" "$U/foocloud" --pretty ftype=disk1.img --max=1
check "--pretty: a member per line" sh -c "grep -q '^  \"ftype\": \"disk1.img\",\$' '$T/out'"
check "--pretty: each item parses" "$PY" -c "
import json
text=open('$T/out').read()
dec=json.JSONDecoder(); i=0; n=0
while i < len(text):
    while i < len(text) and text[i].isspace(): i += 1
    if i >= len(text): break
    o, i = dec.raw_decode(text, i); n += 1
assert n == 2, n"
expect 64 "--json and --pretty together" "$Q" "$U/foocloud" --json --pretty
expect 0 "query --keyring" "$Q" --keyring "$KR" "$U/signed" ftype=disk1.img
check "--keyring: items" test "$(out_lines)" -ge 2
expect 3 "query --keyring, wrong key" "$Q" --keyring "$T/other.gpg" "$U/signed"
expect 0 "query --keyring -U" "$Q" --keyring "$T/other.gpg" -U "$U/signed"
expect 0 "query --path" "$Q" "$U/foocloud" --path streams/v1/com.example.foovendor:released:download.json -o '%(content_id)s'
check "--path: that products file only" sh -c "sort -u '$T/out' | grep -qx 'com.example.foovendor:released:download' && test \$(sort -u '$T/out' | wc -l) -eq 1"
expect 0 "query --log-file" "$Q" -v "$U/foocloud" --log-file "$T/qlog"
check "query --log-file: -v's line in it" grep -q "items from" "$T/qlog"

# ---- the CA bundle: --ca-file, then $SSL_CERT_FILE, then $CURL_CA_BUNDLE ---------------
tls_cert
httpd_start "$W" --tls "$T/cert.pem" "$T/key.pem"
S=https://127.0.0.1:$HTTP_PORT
expect 2 "https, unknown certificate" env -u SSL_CERT_FILE -u CURL_CA_BUNDLE "$M" "$S/foocloud" "$T/tls0"
check "the certificate error names --ca-file" err_has "\-\-ca-file"
expect 0 "https with \$SSL_CERT_FILE" env -u CURL_CA_BUNDLE SSL_CERT_FILE="$T/cert.pem" "$M" "$S/foocloud" "$T/tls1"
check "... verifies" $CHECK "$T/tls1"
expect 0 "https with \$CURL_CA_BUNDLE" env -u SSL_CERT_FILE CURL_CA_BUNDLE="$T/cert.pem" "$M" "$S/foocloud" "$T/tls2"
expect 0 "--ca-file wins over \$SSL_CERT_FILE" env SSL_CERT_FILE=/nonexistent "$M" --ca-file "$T/cert.pem" "$S/foocloud" "$T/tls3"
expect 0 "query with \$SSL_CERT_FILE" env SSL_CERT_FILE="$T/cert.pem" "$Q" "$S/foocloud"
expect 2 "query, unknown certificate" env -u SSL_CERT_FILE -u CURL_CA_BUNDLE "$Q" "$S/foocloud"
check "query: names --ca-file" err_has "\-\-ca-file"
expect 0 "verify with \$SSL_CERT_FILE" env SSL_CERT_FILE="$T/cert.pem" "$BIN/sstream-verify" "$S/foocloud"
expect 2 "verify, unknown certificate" env -u SSL_CERT_FILE -u CURL_CA_BUNDLE "$BIN/sstream-verify" "$S/foocloud"
check "verify: names --ca-file" err_has "\-\-ca-file"
finish
