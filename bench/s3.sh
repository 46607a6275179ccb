#!/bin/bash
# S3 benchmarks against a local Ceph RGW (tests/ceph.sh), each side by side
# with rclone doing the same in the same run:
#  1. 356 small files (lxc-images amd64 alpine/ubuntu, stand-in payloads)
#  2. the no-op rerun of the same
#  3. one 256 MiB file (multipart)
# Both tools get 4 parallel transfers and 64 MiB parts.  rclone also
# uploads what it is told; sstream-mirror first checks every hash into its
# staging tree (its cost is in the figure).
set -u
: "${BUILD:=build}"
. tests/lib.sh
. tests/ceph.sh
if ! command -v rclone >/dev/null; then
	echo "bench/s3.sh: rclone missing (scripts/install-deps.sh installs it)"
	exit 1
fi
ceph_start
export XDG_STATE_HOME=$T/state HOME=$T
M=$BIN/sstream-mirror
S3="curl -s --aws-sigv4 aws:amz:us-east-1:s3 -u $AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"
$S3 -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
	-X PUT "$S3_ENDPOINT/bench" -o /dev/null
export RCLONE_CONFIG=$T/rclone.conf
printf '[rgw]\ntype = s3\nprovider = Ceph\nendpoint = %s\naccess_key_id = %s\nsecret_access_key = %s\n' \
	"$S3_ENDPOINT" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$RCLONE_CONFIG"
RC="env -u AWS_CA_BUNDLE rclone --transfers 4 --s3-chunk-size 64M --s3-upload-cutoff 64M"

now() { date +%s.%N; }
secs() {
	t0=$(now)
	"$@" >/dev/null 2>&1 || echo "  (failed: $*)" >&2
	printf '%.2f' "$(echo "$(now) - $t0" | bc -l)"
}
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
row() { printf '  %-34s %7s s   rclone %7s s   ratio %s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"; }

"$PY" tests/mkpayload.py "$FIXTURES/real/lxc-images-20230703.json" "$T/small" '^(alpine|ubuntu):[^:]*:amd64:' --index
n=$(find "$T/small" -type f | wc -l)
echo "== S3 upload, $n small files ($(du -sh "$T/small" | cut -f1))"
ours=$(secs "$M" -j 4 "$T/small" s3://bench/ours-small)
ref=$(secs $RC copy "$T/small" rgw:bench/rclone-small)
row "full upload" "$ours" "$ref"
ours=$(secs "$M" -j 4 "$T/small" s3://bench/ours-small)
ref=$(secs $RC copy "$T/small" rgw:bench/rclone-small)
row "no-op rerun" "$ours" "$ref"

echo "== S3 upload, one 256 MiB file"
mkdir -p "$T/big/streams/v1" "$T/big/files"
head -c $((256 << 20)) /dev/urandom >"$T/big/files/big.img"
"$PY" - "$T/big" <<'PY'
import hashlib, json, os, sys
root = sys.argv[1]
data = open(os.path.join(root, "files/big.img"), "rb").read()
prod = {"format": "products:1.0", "content_id": "bench", "datatype": "image-downloads",
        "products": {"p": {"arch": "amd64", "versions": {"1": {"items": {"img": {
            "ftype": "disk1.img", "path": "files/big.img", "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}}}}}}}
idx = {"format": "index:1.0", "index": {"bench": {"format": "products:1.0", "datatype": "image-downloads",
        "path": "streams/v1/bench.json", "products": ["p"]}}}
json.dump(prod, open(os.path.join(root, "streams/v1/bench.json"), "w"))
json.dump(idx, open(os.path.join(root, "streams/v1/index.json"), "w"))
PY
ours=$(secs "$M" -j 4 "$T/big" s3://bench/ours-big)
ref=$(secs $RC copy "$T/big" rgw:bench/rclone-big)
row "full upload (multipart)" "$ours" "$ref"
finish >/dev/null
