# SPDX-License-Identifier: Apache-2.0
# A throw-away Ceph cluster for the S3 tests (sourced after tests/lib.sh):
# one monitor, one OSD on memstore and radosgw, all on 127.0.0.1 with
# dynamic ports, no authentication inside the cluster, no systemd.
#
#   ceph_start          starts it under $T/ceph; sets S3_ENDPOINT, and
#                       AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY of a user
#   ceph_user UID AK SK creates another user
#   ceph_bucket NAME    a bucket whose objects anyone may read (a policy)
#   ceph_rgw_stop / ceph_rgw_start   stop (kill -9) and restart radosgw only
#   ceph_stop           stops everything (also run from the EXIT trap)
#
# Start-up takes a few seconds: memstore needs no disk format, and a short
# paxos propose interval lets the monitor commit maps at once.

# free_port: a TCP port free on 127.0.0.1 right now.
free_port() {
	"$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

ceph_need() {
	for b in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph; do
		if ! command -v $b >/dev/null; then
			fail "the S3 tests need Ceph ($b missing; scripts/install-deps.sh installs it)"
			finish
			exit 1
		fi
	done
}

ceph_start() {
	ceph_need
	CEPH_DIR=$T/ceph
	mkdir -p "$CEPH_DIR/mon" "$CEPH_DIR/osd" "$CEPH_DIR/run" "$CEPH_DIR/rgw"
	CEPH_MON_PORT=$(free_port)
	CEPH_RGW_PORT=$(free_port)
	fsid=$(cat /proc/sys/kernel/random/uuid)
	cat >"$CEPH_DIR/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$CEPH_MON_PORT
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc secure
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon max pg per osd = 1000
paxos propose interval = 0.1
osd objectstore = memstore
memstore device bytes = 2147483648
osd crush chooseleaf type = 0
run dir = $CEPH_DIR/run
admin socket = $CEPH_DIR/run/\$name.asok
log file = $CEPH_DIR/\$name.log
pid file = $CEPH_DIR/run/\$name.pid
mon data = $CEPH_DIR/mon
osd data = $CEPH_DIR/osd
keyring = $CEPH_DIR/keyring
mon cluster log file = $CEPH_DIR/cluster.log
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$CEPH_RGW_PORT
rgw data = $CEPH_DIR/rgw
rgw dns name = localhost
rgw enable ops log = false
rgw multipart min part size = 65536
EOF
	export CEPH_CONF=$CEPH_DIR/ceph.conf
	EXTRA_CLEANUP=ceph_stop
	: >"$CEPH_DIR/keyring"
	monmaptool --create --addv a "[v2:127.0.0.1:$CEPH_MON_PORT]" --fsid "$fsid" "$CEPH_DIR/monmap" >"$CEPH_DIR/setup.log" 2>&1 &&
		ceph-mon --mkfs -i a --monmap "$CEPH_DIR/monmap" >>"$CEPH_DIR/setup.log" 2>&1 &&
		ceph-mon -i a >>"$CEPH_DIR/setup.log" 2>&1 &&
		timeout 30 ceph osd create >>"$CEPH_DIR/setup.log" 2>&1 &&
		ceph-osd -i 0 --mkfs >>"$CEPH_DIR/setup.log" 2>&1 &&
		ceph-osd -i 0 >>"$CEPH_DIR/setup.log" 2>&1
	if [ $? -ne 0 ]; then
		fail "the Ceph monitor and OSD start"
		sed 's/^/    /' "$CEPH_DIR/setup.log" | tail -20 >&2
		finish
		exit 1
	fi
	ceph_rgw_start
	export AWS_ACCESS_KEY_ID=sstestkey AWS_SECRET_ACCESS_KEY=sstestsecret AWS_REGION=us-east-1
	ceph_user tester "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"
	S3_ENDPOINT=http://127.0.0.1:$CEPH_RGW_PORT
	export AWS_ENDPOINT_URL=$S3_ENDPOINT
}

# Starts radosgw and waits (at most 60 s) until it answers HTTP.
ceph_rgw_start() {
	radosgw -n client.rgw >>"$CEPH_DIR/setup.log" 2>&1
	i=0
	until curl -s -o /dev/null "http://127.0.0.1:$CEPH_RGW_PORT/"; do
		i=$((i + 1))
		if [ $i -gt 600 ]; then
			fail "radosgw answers on 127.0.0.1:$CEPH_RGW_PORT"
			tail -20 "$CEPH_DIR/client.rgw.log" >&2
			finish
			exit 1
		fi
		sleep 0.1
	done
}

ceph_rgw_stop() {
	f=$CEPH_DIR/run/client.rgw.pid
	[ -s "$f" ] || return 0
	pid=$(cat "$f")
	kill -9 "$pid" 2>/dev/null
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	rm -f "$f"
}

ceph_user() {
	radosgw-admin user create --uid "$1" --display-name "$1" --access-key "$2" --secret-key "$3" \
		>>"$CEPH_DIR/setup.log" 2>&1 || fail "radosgw-admin creates user $1"
}

ceph_bucket() {
	e=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
	s3="curl -s --aws-sigv4 aws:amz:us-east-1:s3 -u $AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"
	$s3 -H "x-amz-content-sha256: $e" -X PUT "$S3_ENDPOINT/$1" -o /dev/null -w '%{http_code}' | grep -q 200 ||
		fail "create bucket $1"
	printf '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::%s/*"]}]}' "$1" >"$CEPH_DIR/policy"
	$s3 -H "x-amz-content-sha256: $(sha256sum <"$CEPH_DIR/policy" | cut -c1-64)" -T "$CEPH_DIR/policy" \
		"$S3_ENDPOINT/$1?policy=" -o /dev/null -w '%{http_code}' | grep -q 204 || fail "policy on bucket $1"
}

ceph_stop() {
	ceph_rgw_stop
	for n in osd.0 mon.a; do
		f=$CEPH_DIR/run/$n.pid
		[ -s "$f" ] || continue
		pid=$(cat "$f")
		kill -9 "$pid" 2>/dev/null
		while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	done
}
