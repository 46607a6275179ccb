# SPDX-License-Identifier: Apache-2.0
# nginx_start ROOT DIR: serves ROOT on a free 127.0.0.1 port with nginx,
# keeping its config, logs and pid under DIR; sets NGINX_URL and NGINX_PID.
# The access log (DIR/access.log) has one line per request:
# "METHOD URI STATUS BYTES_SENT REQUEST_LENGTH".  Sourced by bench scripts.
nginx_start() {
	local root=$1 dir=$2 port
	port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	mkdir -p "$dir/tmp"
	cat >"$dir/nginx.conf" <<CONF
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 1024; }
http {
	log_format wire '\$request_method \$uri \$status \$bytes_sent \$request_length';
	access_log $dir/access.log wire;
	client_body_temp_path $dir/tmp/body;
	proxy_temp_path $dir/tmp/proxy;
	fastcgi_temp_path $dir/tmp/fastcgi;
	uwsgi_temp_path $dir/tmp/uwsgi;
	scgi_temp_path $dir/tmp/scgi;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 1000000;
	types { application/json json sjson; }
	default_type application/octet-stream;
	server {
		listen 127.0.0.1:$port;
		root $root;
		autoindex on;   # lftp and rclone read directory listings
	}
}
CONF
	/usr/sbin/nginx -c "$dir/nginx.conf" -p "$dir" -g 'daemon on;'
	local i=0
	while [ ! -s "$dir/nginx.pid" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	NGINX_PID=$(cat "$dir/nginx.pid")
	NGINX_URL=http://127.0.0.1:$port
}

# nginx_serve_tmp B: serves B/www (created) with nginx, its files under
# B/nginx; sets HTTPD (the pid, for the caller's trap) and U (the URL).
nginx_serve_tmp() {
	chmod 755 "$1"   # nginx's workers read it as www-data
	mkdir -p "$1/www"
	nginx_start "$1/www" "$1/nginx"
	HTTPD=$NGINX_PID
	U=$NGINX_URL
}
