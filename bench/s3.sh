#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# S3 benchmarks against a local Ceph RGW (tests/ceph.sh), each side by side
# with rclone (and the AWS CLI) doing the same in the same run:
#  1. 5435 small files (lxc-images-20230424 shape, stand-in payloads)
#  2. 1 GiB in 64 files
# each as a full upload and a no-op rerun, against rclone sync and, when
# installed, the AWS CLI's `aws s3 sync`.
#  3. the same 1 GiB served over http and mirrored from the URL: the items
#     go from the source straight into the bucket; prints the time, the
#     state directory's peak size and the run's peak RSS
# Both tools get 4 parallel transfers and 64 MiB parts.  rclone also
# uploads what it is told.  `bench/s3.sh stream` runs case 3 alone.
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

. bench/lib.sh
secs() {
	t0=$(now)
	"$@" >/dev/null 2>&1 || echo "  (failed: $*)" >&2
	printf '%.2f' "$(echo "$(now) - $t0" | bc -l)"
}
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
row() { printf '  %-34s %7s s   rclone %7s s   ratio %s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"; }

# the AWS CLI, with the same parallelism and part size
export AWS_CONFIG_FILE=$T/aws.conf
printf '[default]\nregion = us-east-1\ns3 =\n  max_concurrent_requests = 4\n  multipart_chunksize = 64MB\n  multipart_threshold = 64MB\n' >"$AWS_CONFIG_FILE"
AWS="/usr/bin/aws --endpoint-url $S3_ENDPOINT s3 sync --only-show-errors"
have_aws=1
[ -x /usr/bin/aws ] || { have_aws=0; echo "  (aws CLI missing: scripts/install-deps.sh installs awscli)"; }
row3() {
	if [ "$have_aws" = 1 ]; then
		printf '  %-26s %7s s   rclone %7s s (%sx)   aws %7s s (%sx)\n' "$1" "$2" "$3" "$(ratio "$2" "$3")" \
			"$4" "$(ratio "$2" "$4")"
	else
		row "$1" "$2" "$3"
	fi
}
# TREE NAME: full upload and no-op rerun by each tool into its own prefix;
# memstore holds objects in RAM (tests/ceph.sh caps it at 2 GiB), so each
# tool's objects are purged before the next tool runs
compare() {
	local tree=$1 name=$2 o1 o2 r1 r2 a1=0 a2=0
	o1=$(secs "$M" -j 4 "$tree" "s3://bench/ours-$name")
	o2=$(secs "$M" -j 4 "$tree" "s3://bench/ours-$name")
	$RC purge "rgw:bench/ours-$name" >/dev/null 2>&1
	r1=$(secs $RC sync "$tree" "rgw:bench/rclone-$name")
	r2=$(secs $RC sync "$tree" "rgw:bench/rclone-$name")
	$RC purge "rgw:bench/rclone-$name" >/dev/null 2>&1
	if [ "$have_aws" = 1 ]; then
		a1=$(secs $AWS "$tree" "s3://bench/aws-$name")
		a2=$(secs $AWS "$tree" "s3://bench/aws-$name")
		$RC purge "rgw:bench/aws-$name" >/dev/null 2>&1
	fi
	row3 "full upload" "$o1" "$r1" "$a1"
	row3 "no-op rerun" "$o2" "$r2" "$a2"
}

# TREE NAME: TREE served over http and mirrored from its URL (no local
# copy of the items); the wall time, the peak size of the state directory
# (sampled every 0.1 s) and the run's peak RSS (GNU time).
stream() {
	local tree=$1 name=$2 t0 peak=0 k
	httpd_start "$tree"
	rm -rf "$T/state"
	t0=$(now)
	/usr/bin/time -f '%M' -o "$T/rss" "$M" -j 4 "$HTTP_URL" "s3://bench/stream-$name" >/dev/null 2>"$T/stream.err" &
	local pid=$!
	while kill -0 $pid 2>/dev/null; do
		k=$(du -sk "$T/state" 2>/dev/null | cut -f1)
		[ "${k:-0}" -gt "$peak" ] && peak=$k
		sleep 0.1
	done
	wait $pid || { echo "  (failed: see below)"; tail -3 "$T/stream.err"; }
	printf '  %-26s %7.2f s   peak state dir %s KiB   peak RSS %s KiB\n' "from http, no local copy" \
		"$(echo "$(now) - $t0" | bc -l)" "$peak" "$(tail -1 "$T/rss")"
	$RC purge "rgw:bench/stream-$name" >/dev/null 2>&1
}

if [ "${1:-}" != stream ]; then
	"$PY" tests/mkpayload.py "$FIXTURES/real/lxc-images-20230424.json" "$T/small" '.' --index
	n=$(find "$T/small" -type f | wc -l)
	echo "== S3 upload, $n small files, lxc-images-20230424 shape ($(du -sh "$T/small" | cut -f1))"
	compare "$T/small" small
	rm -rf "$T/small"
fi

echo "== S3 upload, 64 files x 16 MiB (1 GiB)"
"$PY" bench/mktree.py "$T/big" 64 16777216
[ "${1:-}" = stream ] || compare "$T/big" big
stream "$T/big" big
finish >/dev/null
