# SPDX-License-Identifier: Apache-2.0
# sstream-mirror's S3 client against a scripted fake S3 server
# (tests/s3fake.py): endless and oversized listings end promptly with the
# right exit status, hostile listed keys are never requested, request
# paths reach the server percent-encoded and as sent, memory stays bounded
# on an endless listing, and a malformed lock object expires a lock TTL
# after it was written.  Every run is bounded by `timeout 60`.
. tests/lib.sh
M=$BIN/sstream-mirror
TREE=$FIXTURES/examples/foocloud
export AWS_ACCESS_KEY_ID=anything AWS_SECRET_ACCESS_KEY=anything XDG_STATE_HOME=$T/state HOME=$T
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 2>/dev/null

# fake SCRIPT [ARG]: a fresh fake server; sets EP and LOG.
fake() {
	n=$((${n:-0} + 1))
	LOG=$T/fake$n.log
	: >"$LOG"
	"$PY" "$TOP/tests/s3fake.py" "$T/fport$n" "$LOG" "$@" &
	HTTPD_PIDS="$HTTPD_PIDS $!"
	i=0
	while [ ! -s "$T/fport$n" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	[ -s "$T/fport$n" ] || { echo "s3fake did not start" >&2; exit 1; }
	EP=http://127.0.0.1:$(cat "$T/fport$n")
}
log_has() { grep -q -- "$1" "$LOG"; }

# ---- hostile keys in a listing are never requested ---------------------------
fake hostile
expect 0 "hostile listing: the tree is published" timeout 60 "$M" --s3-endpoint "$EP" "$TREE" s3://b/site
for k in 'site/../../victim/important' 'site/a/./b' 'site//x' 'other/notunder' 'site/ctl?key'; do
	check "hostile listing: warns naming '$k'" grep -qF -- "$k: key skipped" "$T/err"
done
# Again with no grace: what is no longer named would be deleted now.
expect 0 "hostile listing, grace 0" timeout 60 "$M" --grace 0 --s3-endpoint "$EP" "$TREE" s3://b/site
check "hostile listing: the run did write" log_has '^PUT /b/site/streams/v1/index.json$'
check "hostile listing: no request path has a '..' or '.' segment" \
	sh -c "! grep -E '/\\.\\.?(/|\\?|\$)' '$LOG'"
check "hostile listing: no empty segment in a request path" sh -c "! grep -E '^[A-Z]+ /b/[^?]*//' '$LOG'"
for k in victim important a/./b 'site//x' notunder ctl %01; do
	check "hostile listing: '$k' never requested" sh -c "! grep -qF -- '$k' '$LOG'"
done

# ---- request paths: percent-encoded segment by segment, sent as is ------------
fake plain
expect 0 "odd prefix: published" timeout 60 "$M" --s3-endpoint "$EP" "$TREE" "s3://b/s p+c~"
check "the prefix is encoded in the listing query" log_has '^GET /b/?list-type=2&prefix=s%20p%2Bc~%2F$'
check "each key segment is encoded, '/' kept" \
	log_has '^PUT /b/s%20p%2Bc~/streams/v1/com\.example\.foovendor%3Areleased%3Aaws\.json$'
check "the lock path is sent as is" log_has '^PUT /b/s%20p%2Bc~/\.sstream/lock$'

# ---- endless listings --------------------------------------------------------
fake repeat
t0=$(date +%s)
expect 2 "repeated continuation token: fatal" timeout 60 "$M" --retries 0 --s3-endpoint "$EP" "$TREE" s3://b/site
check "repeated continuation token: named" err_has "repeats the continuation token 'the-same-token'"
check "repeated continuation token: stops after two pages" test "$(grep -c 'list-type=2' "$LOG")" -eq 2
check "repeated continuation token: promptly" test $(($(date +%s) - t0)) -lt 30

fake endless 10
t0=$(date +%s)
expect 75 "ever-new tokens: stopped by --max-time" timeout 60 "$M" --max-time 4 --s3-endpoint "$EP" "$TREE" s3://b/site
check "ever-new tokens: says the time limit is up" err_has "max-time"
check "ever-new tokens: within the time limit and a little" test $(($(date +%s) - t0)) -lt 20
check "ever-new tokens: many pages were read" test "$(grep -c 'list-type=2' "$LOG")" -gt 5
check "ever-new tokens: the lock is released" log_has '^DELETE /b/site/\.sstream/lock$'

# Peak memory on an endless listing of 2000 new keys a page: it stops at
# the run's time limit (75) or at the 4M keys a listing may hold (2),
# whichever comes first, and memory stays bounded either way.
fake endless 2000
run timeout 60 /usr/bin/time -v -o "$T/time" "$M" --max-time 30 --s3-endpoint "$EP" "$TREE" s3://b/site
check "endless listing, 2000 keys a page: stopped (exit $RC)" test "$RC" -eq 75 -o "$RC" -eq 2
kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$T/time")
pages=$(grep -c 'list-type=2' "$LOG")
echo "endless listing: $pages pages of 2000 keys, peak RSS ${kb} KiB" >&2
# (About 390 MiB at the 4M keys; ASan's shadow memory and quarantine come
# on top in a sanitizer build.)
cap=1048576
case $BUILD in *san*) cap=4194304 ;; esac
check "endless listing: peak RSS under $cap KiB (${kb} KiB after $pages pages)" test "${kb:-999999999}" -lt "$cap"

# The deadline cuts a request in flight and a back-off that would end past
# it; the lock is still released afterwards.
fake stall
t0=$(date +%s)
expect 75 "a stalled listing: stopped by --max-time" timeout 60 "$M" --timeout 30 --max-time 4 --s3-endpoint "$EP" "$TREE" s3://b/site
check "a stalled listing: at the deadline, not a stall period later" test $(($(date +%s) - t0)) -lt 20
check "a stalled listing: the lock is released" log_has '^DELETE /b/site/\.sstream/lock$'
fake slowdown
t0=$(date +%s%N)
expect 75 "503 SlowDown forever: temporary" timeout 60 "$M" --retries 10 --max-time 5 --s3-endpoint "$EP" "$TREE" s3://b/site
ms=$((($(date +%s%N) - t0) / 1000000))
check "503 SlowDown forever: no back-off past the deadline (${ms} ms)" test "$ms" -lt 6500
check "503 SlowDown forever: retried" test "$(grep -c 'list-type=2' "$LOG")" -ge 3

# ---- multipart uploads -------------------------------------------------------
# A published tree whose root file (400 kB, incompressible) is over the
# part size.
I=$T/img
mkdir -p "$I/meta" "$I/root/bin"
printf 'architecture: x86_64\ncreation_date: 1795910400\nproperties:\n  os: TestOS\n  release: s3\n' >"$I/meta/metadata.yaml"
head -c 400000 /dev/urandom >"$I/root/bin/blob"
tar -C "$I/meta" -cJf "$I/meta.tar.xz" metadata.yaml
tar -C "$I/root" -cf "$I/root.tar" .
expect 0 "publish add" "$BIN/sstream-publish" add "$T/site" "$I/meta.tar.xz" "$I/root.tar"
big=$(cd "$T/site" && find images -type f -size +300k | head -1)
fake plain
expect 0 "multipart: published" timeout 60 "$M" --s3-part-size 64k --s3-endpoint "$EP" "$T/site" s3://b/pub
check "multipart: the object is the file's bytes, in 7 parts" \
	log_has "^COMPLETE pub/$big $(sha256sum "$T/site/$big" | cut -d' ' -f1) 7\$"
# Each part answered after 2 s, one at a time: the deadline comes first.
fake slowparts
t0=$(date +%s)
expect 75 "slow parts: stopped by --max-time" timeout 60 "$M" -j 1 --max-time 5 --s3-part-size 64k --s3-endpoint "$EP" "$T/site" s3://b/pub
check "slow parts: promptly" test $(($(date +%s) - t0)) -lt 12
check "slow parts: not every part was sent" test "$(grep -c 'partNumber=' "$LOG")" -lt 7
check "slow parts: the upload is aborted" log_has '^DELETE /b/pub/images/.*?uploadId=up-1$'
check "slow parts: never completed" sh -c "! grep -q '^COMPLETE' '$LOG'"

fake bigpage
expect 2 "a listing page over the reply cap: fatal, not temporary" timeout 60 "$M" --s3-endpoint "$EP" "$TREE" s3://b/site
check "a listing page over the reply cap: says so" err_has "reply larger than"

# ---- a malformed lock object expires a lock TTL after it was written ---------
# (The fake's lock object was written 120 s ago.)
for body in garbage ''; do
	fake badlock "$body"
	expect 75 "malformed lock '$body', TTL 1h: held" timeout 60 "$M" --s3-lock-ttl 1h --s3-endpoint "$EP" "$TREE" s3://b/site
	check "malformed lock '$body': the holder is named as malformed" err_has "locked by a malformed lock object"
	check "malformed lock '$body', TTL 1h: nothing written" sh -c "! grep -q '^PUT /b/site/files' '$LOG'"
	expect 0 "malformed lock '$body', TTL 60s: taken over" timeout 60 "$M" --s3-lock-ttl 60s --s3-endpoint "$EP" "$TREE" s3://b/site
	check "malformed lock '$body': deleted, then taken" \
		sh -c "grep -n '/b/site/\.sstream/lock\$' '$LOG' | grep -q 'DELETE' && grep -q '^PUT /b/site/streams/v1/index.json\$' '$LOG'"
done

finish
