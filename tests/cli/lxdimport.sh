# SPDX-License-Identifier: Apache-2.0
# LXD direct-URL import (lxc image import https://HOST/import/ALIAS) and
# the images.linuxcontainers.org aliases: the real LXD daemon imports
# unified images by alias and by fingerprint through Debian's nginx, running
# the snippet sstream-publish webconf wrote, over HTTPS (TLS 1.3 only) with
# a test CA the daemon trusts (SSL_CERT_FILE); an alias with only an arm64
# image is refused with a plain-text body; a new version is served after
# the snippet was rewritten and nginx reloaded.
. tests/lib.sh
P=$BIN/sstream-publish
if ! command -v nginx >/dev/null; then
	fail "this test needs nginx (scripts/install-deps.sh installs it)"
	finish
	exit 1
fi

# ---- a test CA and a server certificate for 127.0.0.1 it signed -------------------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ca.key" -out "$T/ca.pem" -days 2 -subj /CN=sstream-test-ca 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/srv.csr" -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$T/san.ext"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
	-extfile "$T/san.ext" -out "$T/cert.pem" 2>/dev/null
check "the server certificate verifies against the test CA" sh -c "openssl verify -CAfile '$T/ca.pem' '$T/cert.pem' >/dev/null"

# ---- images: unified amd64 and arm64 builds, a split one ----------------------------------
R=$T/rootfs
mkdir -p "$R/bin" "$R/etc"
printf '#!/bin/sh\necho hello\n' >"$R/bin/hello"
chmod 755 "$R/bin/hello"
echo one >"$R/etc/version"
meta() { # meta FILE ARCH OS RELEASE DATE
	printf 'architecture: %s\ncreation_date: %s\nproperties:\n  os: %s\n  release: "%s"\n  variant: default\n  description: %s %s\n' \
		"$2" "$5" "$3" "$4" "$3" "$4" >"$1"
}
export SOURCE_DATE_EPOCH=1795910400
meta "$T/amd.yaml" x86_64 Alpine 3.17 1795910400
meta "$T/arm.yaml" aarch64 Alpine 3.17 1795910400
meta "$T/armonly.yaml" aarch64 Armos 1 1795910400
meta "$T/split.yaml" x86_64 Splitos 1 1795910400
expect 0 "build a unified amd64 image" "$P" build "$R" --metadata "$T/amd.yaml" --unified --compression gzip -o "$T/amd"
FP_AMD=$(cut -d' ' -f1 "$T/out")
expect 0 "build a unified arm64 image" "$P" build "$R" --metadata "$T/arm.yaml" --unified --compression gzip -o "$T/arm"
FP_ARM=$(cut -d' ' -f1 "$T/out")
expect 0 "build an arm64-only image" "$P" build "$R" --metadata "$T/armonly.yaml" --unified -o "$T/armonly"
FP_ARMONLY=$(cut -d' ' -f1 "$T/out")
expect 0 "build a split image" "$P" build "$R" --metadata "$T/split.yaml" -o "$T/split"
D=$T/www/tree
expect 0 "add the amd64 image" "$P" add "$D" "$T/amd/image.tar.gz"
expect 0 "add the arm64 image" "$P" add "$D" "$T/arm/image.tar.gz"
expect 0 "add the arm64-only image" "$P" add "$D" "$T/armonly/image.tar.xz" --alias armonly
expect 0 "add the split image" "$P" add "$D" "$T/split/meta.tar.xz" "$T/split/rootfs.tar.xz"
check "files named by what they are" sh -c "test -f '$D/images/$FP_AMD/image.tar.gz' && test -f '$D/images/$FP_ARMONLY/image.tar.xz' && test \$(find '$D/images' -name lxd.tar.xz | wc -l) -eq 1 && test \$(find '$D/images' -name rootfs.tar.xz | wc -l) -eq 1"
check "the default variant is aliased os/release too" grep -q '"aliases": "alpine/3.17/default,alpine/3.17"' "$D/streams/v1/images.json"

# ---- the snippet ------------------------------------------------------------------------
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=https://127.0.0.1:$PORT
expect 0 "webconf" "$P" webconf "$D" --base-url "$URL/"
check "webconf prints the snippet it keeps in the tree" cmp -s "$T/out" "$D/.sstream/import-nginx.conf"
check "webconf names the alias with no unified image" err_has "alias 'splitos/1': no unified image"
check "no http-level directive (map)" sh -c "! grep -q '^ *map ' '$T/out'"
expect 64 "webconf without --base-url" "$P" webconf "$D"
expect 64 "webconf for an unknown server" "$P" webconf "$D" --base-url "$URL" --server lighttpd
expect 0 "list" "$P" list "$D"
check "list: a unified image with its import URL" out_has "$(printf %.12s "$FP_AMD") .* $URL/import/$FP_AMD$"
check "list: a split image cannot be imported by URL" out_has "^splitos/1/default.* -$"

N=$T/nginx
# The README's server block, as written, with this test's port, files and tree.
readme_server() {
	sed -n '/^```nginx$/,/^```$/p' README.md | sed '1d;$d' | sed \
		-e "s|listen 443 ssl;|listen 127.0.0.1:$PORT ssl;|" \
		-e "s|/etc/ssl/images.example.com.crt|$T/cert.pem|" \
		-e "s|/etc/ssl/images.example.com.key|$T/key.pem|" \
		-e "s|/srv/lxd|$D|g"
}
check "the README has one nginx server block with TLS 1.3" sh -c "test \$(grep -c '^\`\`\`nginx\$' README.md) -eq 1 && grep -q 'ssl_protocols TLSv1.2 TLSv1.3;' README.md"
nginx_conf "$N" "	log_format lxd '\$request \"\$http_lxd_server_architectures\" \"\$http_lxd_server_version\"';
	access_log $N/access.log lxd;
	default_type application/octet-stream;
	gzip on;
	# no keep-alive: after a reload, a connection the daemon kept open
	# would still reach an old worker, with the old snippet
	keepalive_timeout 0;
$(readme_server)"
expect 0 "nginx accepts the snippet" nginx -t -q -e "$N/error.log" -c "$N/nginx.conf" -p "$N"
nginx_run "$N" "$URL/streams/v1/index.json" --cacert "$T/ca.pem"
C="curl -sS --cacert $T/ca.pem"
expect 0 "nginx serves the tree over TLS 1.3" $C --tlsv1.3 -o /dev/null "$URL/streams/v1/index.json"
expect 0 "... and TLS 1.2 for older clients (the README's ssl_protocols)" $C --tls-max 1.2 -o /dev/null "$URL/streams/v1/index.json"
expect 0 "the tree's private directory is denied" $C -o /dev/null -w '%{http_code}' "$URL/.sstream/import-nginx.conf"
check "... 403" out_has '^403$'

# head ARCHES PATH: the response headers of LXD's HEAD request
head_req() { run $C -I -H "LXD-Server-Architectures: $1" -H "LXD-Server-Version: curl-test" "$URL/import/$2"; }
hdr() { tr -d '\r' <"$T/out" | sed -n "s/^$1: //Ip"; }
head_req "x86_64, i686" alpine/3.17
check "x86_64 host: the amd64 image's hash" test "$(hdr LXD-Image-Hash)" = "$FP_AMD"
check "... and its URL" test "$(hdr LXD-Image-URL)" = "$URL/images/$FP_AMD/image.tar.gz"
check "... varying with the client's architectures (for caches)" test "$(hdr Vary)" = "LXD-Server-Architectures, Incus-Server-Architectures"
check "... and Incus's headers as well" test "$(hdr Incus-Image-Hash)" = "$FP_AMD" -a "$(hdr Incus-Image-URL)" = "$URL/images/$FP_AMD/image.tar.gz"
run $C -I -H "Incus-Server-Architectures: aarch64" -H "Incus-Server-Version: 6.0" "$URL/import/alpine/3.17"
check "an Incus client (Incus-Server-Architectures) gets its architecture's image" test "$(hdr Incus-Image-Hash)" = "$FP_ARM"
head_req "aarch64" alpine/3.17
check "aarch64 host: the arm64 image" test "$(hdr LXD-Image-Hash)" = "$FP_ARM"
head_req "riscv64, aarch64, x86_64" alpine/3.17
check "the first architecture the client lists that has an image wins" test "$(hdr LXD-Image-Hash)" = "$FP_ARM"
head_req "i686, x86_64" alpine/3.17/default
check "... in the client's order (i686 has none, x86_64 next)" test "$(hdr LXD-Image-Hash)" = "$FP_AMD"
head_req "x86_64, i686" "$FP_ARM"
check "by fingerprint: that image" test "$(hdr LXD-Image-Hash)" = "$FP_ARM"
expect 0 "an alias with no image for the client" $C -H "LXD-Server-Architectures: x86_64, i686" -D "$T/hdrs" "$URL/import/armonly"
check "... a plain-text body saying why" out_has "no unified image of 'armonly' fits the architectures 'x86_64, i686'; it has: arm64"
check "... without LXD headers" sh -c "! grep -qi '^lxd-image' '$T/hdrs' && grep -q '^HTTP/[0-9.]* 404' '$T/hdrs'"
check "... as plain text" grep -qi '^content-type: text/plain' "$T/hdrs"
expect 0 "a split-only alias" $C -H "LXD-Server-Architectures: x86_64" "$URL/import/splitos/1"
check "... says only unified images import by URL" out_has "'splitos/1' has no unified image"
expect 0 "the image, asked for with Accept-Encoding: gzip as LXD does" $C -H 'Accept-Encoding: gzip' -D "$T/hdrs" -o "$T/got" "$URL/images/$FP_AMD/image.tar.gz"
check "... comes without Content-Encoding" sh -c "! grep -qi '^content-encoding' '$T/hdrs'"
check "... byte for byte" test "$(sha256sum <"$T/got" | cut -d' ' -f1)" = "$FP_AMD"

# ---- the Apache snippet, with Debian's apache2 (plain HTTP: TLS is nginx's test above) ----------
if command -v apache2 >/dev/null; then
	APORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	AURL=http://127.0.0.1:$APORT
	expect 0 "webconf --server apache" "$P" webconf "$D" --base-url "$AURL" --server apache
	check "... kept in the tree" cmp -s "$T/out" "$D/.sstream/import-apache.conf"
	check "the nginx snippet is still there" test -s "$D/.sstream/import-nginx.conf"
	A=$T/apache
	M=/usr/lib/apache2/modules
	mkdir -p "$A"
	chmod 755 "$T" "$T/www" # the workers run as nobody
	cat >"$A/apache.conf" <<EOF
ServerName 127.0.0.1
LoadModule mpm_event_module $M/mod_mpm_event.so
LoadModule authz_core_module $M/mod_authz_core.so
LoadModule mime_module $M/mod_mime.so
LoadModule rewrite_module $M/mod_rewrite.so
LoadModule headers_module $M/mod_headers.so
TypesConfig /etc/mime.types
Listen 127.0.0.1:$APORT
PidFile $A/apache.pid
ErrorLog $A/error.log
DefaultRuntimeDir $A
<VirtualHost 127.0.0.1:$APORT>
	DocumentRoot $D
	<Directory $D>
		Require all granted
	</Directory>
	Include $D/.sstream/import-apache.conf
</VirtualHost>
EOF
	expect 0 "apache2 accepts the snippet" apache2 -t -f "$A/apache.conf"
	apache2 -f "$A/apache.conf" -DFOREGROUND &
	HTTPD_PIDS="$HTTPD_PIDS $!"
	i=0
	until curl -s -o /dev/null "$AURL/streams/v1/index.json" || [ $i -ge 200 ]; do sleep 0.05; i=$((i + 1)); done
	ahead() { run curl -sS -I -H "LXD-Server-Architectures: $1" "$AURL/import/$2"; }
	ahead "x86_64, i686" alpine/3.17
	check "apache: x86_64 host, the amd64 image" test "$(hdr LXD-Image-Hash)" = "$FP_AMD"
	check "apache: ... and its URL" test "$(hdr LXD-Image-URL)" = "$AURL/images/$FP_AMD/image.tar.gz"
	ahead "riscv64, aarch64, x86_64" alpine/3.17
	check "apache: the client's order" test "$(hdr LXD-Image-Hash)" = "$FP_ARM"
	run curl -sS -I -H "Incus-Server-Architectures: aarch64" "$AURL/import/alpine/3.17"
	check "apache: an Incus client" test "$(hdr Incus-Image-Hash)" = "$FP_ARM"
	ahead "x86_64" "$FP_ARMONLY"
	check "apache: by fingerprint" test "$(hdr LXD-Image-Hash)" = "$FP_ARMONLY"
	expect 0 "apache: an alias with no image for the client" curl -sS -H "LXD-Server-Architectures: x86_64, i686" -D "$T/hdrs" "$AURL/import/armonly"
	check "apache: ... a body saying why" out_has "no unified image of 'armonly' fits the architectures 'x86_64, i686'; it has: arm64"
	check "apache: ... without LXD headers" sh -c "! grep -qi '^lxd-image' '$T/hdrs' && grep -q '^HTTP/[0-9.]* 404' '$T/hdrs'"
	check "apache: ... as plain text" grep -qi '^content-type: text/plain' "$T/hdrs"
	expect 0 "apache: an alias that is the start of another" curl -sS -H "LXD-Server-Architectures: riscv64" "$AURL/import/alpine/3.17"
	check "apache: ... its own body" out_has "no unified image of 'alpine/3.17' fits the architectures 'riscv64'; it has: amd64, arm64"
	expect 0 "apache: the longer alias" curl -sS -H "LXD-Server-Architectures: riscv64" "$AURL/import/alpine/3.17/default"
	check "apache: ... its own body" out_has "no unified image of 'alpine/3.17/default' fits"
else
	fail "the Apache snippet test needs apache2 (scripts/install-deps.sh installs it)"
fi

# ---- the real daemon -----------------------------------------------------------------------
export SSL_CERT_FILE=$T/ca.pem  # the daemon (and lxc) trust the test CA as the system store
lxd_start
# requests the daemon sent since mark(): HEADs of the alias, GETs of the image
count() { grep -c "^$1 " "$N/access.log"; }
mark() { H0=$(count "HEAD /import/alpine/3.17"); G0=$(count "GET /images/$FP_AMD/image.tar.gz"); }
sent() { test $(($(count "HEAD /import/alpine/3.17") - H0)) -eq "$1" && test $(($(count "GET /images/$FP_AMD/image.tar.gz") - G0)) -eq "$2"; }
mark
expect 0 "lxc image import URL/import/ALIAS" lxc image import "$URL/import/alpine/3.17" --alias by-alias
expect 0 "lxc image list" lxc image list local: --format csv -c lf
check "the amd64 image is in the store, with the fingerprint build printed" out_has "^by-alias,$(printf %.12s "$FP_AMD")$"
check "the daemon sent HEAD then one GET" sent 1 1
check "... with its architectures (kernel names) and version" grep -q '^HEAD /import/alpine/3.17 HTTP/1.1 "x86_64, i686" "5.0.2"' "$N/access.log"
mark
expect 0 "import the same alias again" lxc image import "$URL/import/alpine/3.17"
check "... only a HEAD this time (the fingerprint is in the store)" sent 1 0
expect 0 "lxc image import URL/import/FINGERPRINT" lxc image import "$URL/import/$FP_ARM"
expect 0 "lxc image info" lxc image info "$FP_ARM"
check "the arm64 image is in the store" out_has "Fingerprint: $FP_ARM"
expect 1 "an arm64-only alias on an x86_64 host is refused" lxc image import "$URL/import/armonly"
check "... for want of the LXD headers" err_has "Missing LXD-Image-Hash header"
expect 1 "the arm64-only image is not in the store" lxc image info "$FP_ARMONLY"

# ---- a new version: the snippet is rewritten by add, nginx reloaded -------------------------
echo two >"$R/etc/version"
meta "$T/amd2.yaml" x86_64 Alpine 3.17 $((1795910400 + 86400))
expect 0 "build version 2" "$P" build "$R" --metadata "$T/amd2.yaml" --unified --compression gzip -o "$T/amd2"
FP_AMD2=$(cut -d' ' -f1 "$T/out")
expect 0 "add version 2" "$P" add "$D" "$T/amd2/image.tar.gz"
check "the snippet was rewritten with it" grep -q "LXD-Image-Hash $FP_AMD2" "$D/.sstream/import-nginx.conf"
OLD_WORKERS=$(pgrep -P "$(cat "$N/nginx.pid")")
expect 0 "nginx -s reload" nginx -e "$N/error.log" -c "$N/nginx.conf" -p "$N" -s reload
# the reload is done when the old workers (which still accept with the old
# snippet until they leave) are gone
alive() { for w in $OLD_WORKERS; do kill -0 "$w" 2>/dev/null && return 0; done; return 1; }
i=0
while [ $i -lt 400 ] && alive; do sleep 0.05; i=$((i + 1)); done
gone() { ! alive; }
check "the old nginx workers left" gone
head_req "x86_64, i686" alpine/3.17
check "after the reload the alias names version 2" test "$(hdr LXD-Image-Hash)" = "$FP_AMD2"
expect 0 "lxc image import the alias again" lxc image import "$URL/import/alpine/3.17" --alias v2
expect 0 "lxc image list" lxc image list local: --format csv -c lf
check "version 2 is in the store" out_has "^v2,$(printf %.12s "$FP_AMD2")$"
expect 0 "remove version 2" "$P" remove "$D" "$FP_AMD2"
check "remove rewrites the snippet too" sh -c "! grep -q '$FP_AMD2' '$D/.sstream/import-nginx.conf'"

# ---- the tree as a simplestreams remote: lxc image info REMOTE:os/release ---------------------
expect 0 "remote add" lxc remote add site "$URL" --protocol=simplestreams --public
expect 0 "lxc image info site:alpine/3.17 (os/release of the default variant)" lxc image info site:alpine/3.17
check "... the amd64 image" out_has "Fingerprint: $FP_AMD"
expect 0 "lxc image info site:alpine/3.17/default" lxc image info site:alpine/3.17/default
check "... the same image" out_has "Fingerprint: $FP_AMD"

# ---- rollback and prune rewrite the snippet too --------------------------------------------------
expect 0 "rollback the removal of version 2" "$P" rollback "$D" HEAD~1
check "rollback rewrites the snippet (version 2 back)" grep -q "LXD-Image-Hash $FP_AMD2" "$D/.sstream/import-nginx.conf"
check "... the Apache one as well" grep -q "SSTREAM_IMAGE_HASH:$FP_AMD2" "$D/.sstream/import-apache.conf"
expect 0 "prune --keep 1" "$P" prune "$D" --keep 1
check "prune rewrites the snippet (version 1 gone)" sh -c "! grep -q '$FP_AMD' '$D/.sstream/import-nginx.conf'"
expect 0 "nginx accepts the rewritten snippet" nginx -t -q -e "$N/error.log" -c "$N/nginx.conf" -p "$N"

finish
