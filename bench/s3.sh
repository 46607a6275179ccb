#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# S3 benchmarks against a local Ceph RGW (tests/ceph.sh), each side by side
# with rclone (and the AWS CLI) doing the same in the same run:
#  1. 5435 small files (lxc-images-20230424 shape, stand-in payloads)
#  2. 1 GiB in 64 files
# each as a full upload and a no-op rerun from a local tree, against rclone
# sync and, when installed, the AWS CLI's `aws s3 sync`.
#  3. the 5435 small files served over http (nginx, bench/nginx.sh) and
#     mirrored from the URL: the items go from the source straight into the
#     bucket, against `rclone copy` from an HTTP remote on the same nginx
#     into the same bucket (another prefix); S3_ROUNDS (default 3)
#     interleaved rounds, medians and max, the ratio of the medians
#  4. the same for the 1 GiB tree; and for each of 3 and 4 the CPU seconds
#     per run of each side (its own process, radosgw, ceph-osd, nginx, and
#     the machine's idle time: medians), then one more run of ours printing
#     the state directory's peak size and the peak RSS
# Both tools get 4 parallel transfers and 64 MiB parts.  rclone also
# uploads what it is told.  `bench/s3.sh stream` runs cases 3 and 4 alone.
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
# PREFIX: the objects under PREFIX deleted, and their space freed at once
# (radosgw's garbage collection otherwise waits hours)
purge() {
	$RC purge "rgw:bench/$1" >/dev/null 2>&1
	radosgw-admin gc process --include-all >/dev/null 2>&1
}
# TREE NAME: full upload and no-op rerun by each tool into its own prefix;
# memstore holds objects in RAM (tests/ceph.sh caps it at 2 GiB), so each
# tool's objects are purged before the next tool runs
compare() {
	local tree=$1 name=$2 o1 o2 r1 r2 a1=0 a2=0
	o1=$(secs "$M" -j 4 "$tree" "s3://bench/ours-$name")
	o2=$(secs "$M" -j 4 "$tree" "s3://bench/ours-$name")
	purge "ours-$name"
	r1=$(secs $RC sync "$tree" "rgw:bench/rclone-$name")
	r2=$(secs $RC sync "$tree" "rgw:bench/rclone-$name")
	purge "rclone-$name"
	if [ "$have_aws" = 1 ]; then
		a1=$(secs $AWS "$tree" "s3://bench/aws-$name")
		a2=$(secs $AWS "$tree" "s3://bench/aws-$name")
		purge "aws-$name"
	fi
	row3 "full upload" "$o1" "$r1" "$a1"
	row3 "no-op rerun" "$o2" "$r2" "$a2"
}

# The http source: nginx (bench/nginx.sh: autoindex for rclone's listing)
# over a directory its workers may read.
W=$(mktemp -d /var/tmp/sss3bench.XXXXXX)
chmod 755 "$W"
NGINX_PID=""
bench_cleanup() {
	[ -z "$NGINX_PID" ] || kill "$NGINX_PID" 2>/dev/null
	rm -rf "$W"
	ceph_stop
}
EXTRA_CLEANUP=bench_cleanup
. bench/nginx.sh
nginx_start "$W" "$T/nginx"

# median and max of numbers, one per line on stdin
# a full run of each into an empty prefix (the prefix is purged after the
# run, untimed: memstore keeps objects in RAM)
ours_stream() {
	rm -rf "$T/state"
	"$M" -j 4 "$NGINX_URL/$1" "s3://bench/ours-stream-$1"
}
rclone_stream() { $RC copy --http-url "$NGINX_URL/$1" :http: "rgw:bench/rclone-stream-$1"; }

# CPU seconds (user + system) used so far by the processes PIDS (commas)
HZ=$(getconf CLK_TCK)
ticks() {
	local t=0 p
	for p in ${1//,/ }; do
		[ -r "/proc/$p/stat" ] && t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
	done
	echo "$t"
}
# radosgw, ceph-osd, nginx (master and workers), the machine's idle time
cpu_snap() {
	echo "$(ticks "$(cat "$CEPH_DIR/run/client.rgw.pid")") $(ticks "$(cat "$CEPH_DIR/run/osd.0.pid")")" \
		"$(ticks "$NGINX_PID,$(pgrep -d, -P "$NGINX_PID")")" "$(awk '/^cpu / { print $5 + $6 }' /proc/stat)"
}
# FILE CMD...: like secs; appends to FILE the CPU seconds the command (with
# its children), radosgw, ceph-osd and nginx used during it, and how long
# the machine's CPUs were idle meanwhile (near 0: the run was CPU-bound)
secs_cpu() {
	local f=$1 a b t0 t1 cu cs
	shift
	a=$(cpu_snap)
	t0=$(now)
	( "$@" >/dev/null 2>&1 || echo "  (failed: $*)" >&2; times >"$T/times" )
	t1=$(now)
	b=$(cpu_snap)
	read -r cu cs < <(tail -1 "$T/times" | sed 's/m/ /g; s/s//g' | awk '{ print $1 * 60 + $2, $3 * 60 + $4 }')
	echo "$cu $cs $a $b" | awk -v hz="$HZ" '{ printf "%.2f %.2f %.2f %.2f %.2f\n", $1 + $2, ($7 - $3) / hz,
		($8 - $4) / hz, ($9 - $5) / hz, ($10 - $6) / hz }' >>"$f"
	printf '%.2f' "$(echo "$t1 - $t0" | bc -l)"
}
# LABEL FILE: the median of each column of FILE (secs_cpu's) and their sum
cpu_row() {
	printf '    %-8s' "$1"
	for c in 1 2 3 4; do printf ' %8s' "$(cut -d' ' -f$c "$2" | stats | cut -d' ' -f1)"; done
	printf ' %8s' "$(awk '{ print $1 + $2 + $3 + $4 }' "$2" | stats | cut -d' ' -f1)"
	printf ' %10s\n' "$(cut -d' ' -f5 "$2" | stats | cut -d' ' -f1)"
}

# NAME: the tree $W/NAME served over http and mirrored from its URL (no
# local copy of the items) against rclone copy, interleaved rounds, with
# the CPU seconds each side costs (its own process, radosgw, ceph-osd,
# nginx: medians); then one run of ours sampling the state directory
# (every 0.1 s) and its peak RSS (GNU time).
stream() {
	local name=$1 peak=0 k rmed rmax omed omax
	: >"$T/to"
	: >"$T/tr"
	: >"$T/co"
	: >"$T/cr"
	for _ in $(seq "${S3_ROUNDS:-3}"); do
		secs_cpu "$T/co" ours_stream "$name" >>"$T/to"; echo >>"$T/to"
		purge "ours-stream-$name"
		secs_cpu "$T/cr" rclone_stream "$name" >>"$T/tr"; echo >>"$T/tr"
		purge "rclone-stream-$name"
	done
	read -r omed omax < <(stats <"$T/to")
	read -r rmed rmax < <(stats <"$T/tr")
	printf '  %-34s median %6s s, max %6s s\n' "sstream-mirror -j 4 URL s3://" "$omed" "$omax"
	printf '  %-34s median %6s s, max %6s s\n' "rclone copy --transfers 4 :http:" "$rmed" "$rmax"
	printf '  %-34s %sx   (target: at most 1.0x)\n' "ratio (median)" "$(ratio "$omed" "$rmed")"
	# Ours sends each item's sha256 (x-amz-content-sha256), which radosgw
	# checks as the bytes come; rclone sends UNSIGNED-PAYLOAD and no
	# Content-MD5 (radosgw checks nothing of its bytes).
	printf '  CPU s per run, median (%s cores):  tool  radosgw ceph-osd    nginx    total  idle(all)\n' "$(nproc)"
	cpu_row ours "$T/co"
	cpu_row rclone "$T/cr"
	printf '    radosgw, ours - rclone: %+.2f s (ours has it check each item'"'"'s sha256, rclone sends UNSIGNED-PAYLOAD)\n' \
		"$(echo "$(cut -d' ' -f2 "$T/co" | stats | cut -d' ' -f1) - $(cut -d' ' -f2 "$T/cr" | stats | cut -d' ' -f1)" | bc -l)"
	rm -rf "$T/state"
	/usr/bin/time -f '%M' -o "$T/rss" "$M" -j 4 "$NGINX_URL/$name" "s3://bench/ours-stream-$name" \
		>/dev/null 2>"$T/stream.err" &
	local pid=$!
	while kill -0 $pid 2>/dev/null; do
		k=$(du -sk "$T/state" 2>/dev/null | cut -f1)
		[ "${k:-0}" -gt "$peak" ] && peak=$k
		sleep 0.1
	done
	wait $pid || { echo "  (failed: see below)"; tail -3 "$T/stream.err"; }
	printf '  %-34s peak state dir %s KiB, peak RSS %s KiB\n' "ours, one more run" "$peak" "$(tail -1 "$T/rss")"
	purge "ours-stream-$name"
}

"$PY" tests/mkpayload.py "$FIXTURES/real/lxc-images-20230424.json" "$W/small" '.' --index
n=$(find "$W/small" -type f | wc -l)
if [ "${1:-}" != stream ]; then
	echo "== S3 upload, $n small files, lxc-images-20230424 shape ($(du -sh "$W/small" | cut -f1))"
	compare "$W/small" small
fi
echo "== S3 from http, $n small files, lxc-images-20230424 shape, no local copy"
stream small
rm -rf "$W/small"

"$PY" bench/mktree.py "$W/big" 64 16777216
if [ "${1:-}" != stream ]; then
	echo "== S3 upload, 64 files x 16 MiB (1 GiB)"
	compare "$W/big" big
fi
echo "== S3 from http, 64 files x 16 MiB (1 GiB), no local copy"
stream big
finish >/dev/null
