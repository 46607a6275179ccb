# SPDX-License-Identifier: Apache-2.0
# The real client reading an S3 mirror: sstream-mirror writes an LXD image
# tree into Ceph RGW; nginx serves the bucket prefix over HTTPS (as a CDN or
# proxy in front of object storage would); the LXD daemon lists and copies
# the image from it.
. tests/lib.sh
. tests/ceph.sh
M=$BIN/sstream-mirror
lxd_start
ceph_start
NGINX_PID=""
stop_all() {
	[ -z "$NGINX_PID" ] || { kill "$NGINX_PID"; wait "$NGINX_PID"; } 2>/dev/null
	lxd_stop
	ceph_stop
}
EXTRA_CLEANUP=stop_all
export XDG_STATE_HOME=$T/state

FP=$("$PY" tests/mklxdtree.py "$T/upstream")
httpd_start "$T/upstream"
ceph_bucket images
expect 0 "mirror the image tree into s3" "$M" "$HTTP_URL" s3://images/site arch=amd64

tls_cert
PORT=$(free_port)
mkdir -p "$T/nginx/tmp"
cat >"$T/nginx/nginx.conf" <<CONF
worker_processes 1;
error_log $T/nginx/error.log;
pid $T/nginx/nginx.pid;
events { worker_connections 64; }
http {
	access_log $T/nginx/access.log;
	client_body_temp_path $T/nginx/tmp/body;
	proxy_temp_path $T/nginx/tmp/proxy;
	fastcgi_temp_path $T/nginx/tmp/fastcgi;
	uwsgi_temp_path $T/nginx/tmp/uwsgi;
	scgi_temp_path $T/nginx/tmp/scgi;
	server {
		listen 127.0.0.1:$PORT ssl;
		ssl_certificate $T/cert.pem;
		ssl_certificate_key $T/key.pem;
		ssl_protocols TLSv1.2 TLSv1.3;
		location /.sstream/ { deny all; }
		location / {
			proxy_pass http://127.0.0.1:$CEPH_RGW_PORT/images/site/;
			proxy_set_header Host 127.0.0.1:$CEPH_RGW_PORT;
		}
	}
}
CONF
nginx -c "$T/nginx/nginx.conf" -p "$T/nginx" -g 'daemon off;' &
NGINX_PID=$!
i=0
until curl -sk -o /dev/null "https://127.0.0.1:$PORT/streams/v1/index.json"; do
	i=$((i + 1))
	[ $i -lt 100 ] || { fail "nginx starts"; break; }
	sleep 0.1
done
expect 0 "the proxied bucket verifies" "$BIN/sstream-verify" --ca-file "$T/cert.pem" --deep "https://127.0.0.1:$PORT"
cp "$T/cert.pem" "$LXD_CONF/servercerts/s3mirror.crt"
expect 0 "lxc remote add" lxc remote add s3mirror "https://127.0.0.1:$PORT" --protocol=simplestreams --public
expect 0 "lxc image list s3mirror:" lxc image list s3mirror: --format csv -c lfd
check "the image is listed with its alias" out_has "^testos/one"
expect 0 "lxc image copy from the bucket (the daemon re-checks the fingerprint)" lxc image copy s3mirror:testos/one local:
expect 0 "lxc image list local:" lxc image list local: --format csv -c f
check "the local image has the fingerprint" out_has "^${FP%"${FP#????????????}"}$"

finish
