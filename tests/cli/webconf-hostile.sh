# SPDX-License-Identifier: Apache-2.0
# webconf against a hostile tree: version names, architectures, fingerprints,
# paths, aliases and product names that carry nginx and Apache syntax
# (quotes, braces, semicolons, '$', newlines, '%{...}', commas).  Every such
# image or alias is left out with a warning naming it; the snippets pass
# `nginx -t` and `apache2 -t`, hold nothing of the hostile strings, and the
# served site answers its own requests (no redirect off-site), while the
# clean image of the same tree is still served.
. tests/lib.sh
P=$BIN/sstream-publish
for b in nginx apache2; do
	command -v $b >/dev/null || { fail "this test needs $b (scripts/install-deps.sh installs it)"; finish; exit 1; }
done
D=$T/www/tree
mkdir -p "$D/streams/v1" "$D/images"
"$PY" - "$D" <<'EOF'
import hashlib, json, os, sys
d = sys.argv[1]
EVIL_NGINX = '"; } location ~ ^/ { return 302 https://evil.example$request_uri; #'
EVIL_APACHE = '\nRedirect 302 / https://evil.example/\n#'
good = b"a clean unified image\n"
fp = hashlib.sha256(good).hexdigest()
os.makedirs(f"{d}/images/{fp}", exist_ok=True)
open(f"{d}/images/{fp}/image.tar.gz", "wb").write(good)
def item(path, sha=fp, **kw):
    return dict(ftype="lxd_combined.tar.gz", path=path, sha256=sha, size=len(good), **kw)
ok_path = f"images/{fp}/image.tar.gz"
prods = {
    "good:1:amd64:default": dict(arch="amd64", aliases="good/1", versions={"20260101_0000": {"items": {"u": item(ok_path)}}}),
    # the version name (nginx's return string; the snippet's comments)
    "evil:1:amd64:default": dict(arch="amd64", aliases="evil/1", versions={"20260102" + EVIL_NGINX: {"items": {"u": item(ok_path)}}}),
    # an architecture with newlines (Apache's ErrorDocument / RewriteCond)
    "evil:2:amd64:default": dict(arch="amd64" + EVIL_APACHE, aliases="evil/2", versions={"20260102_0000": {"items": {"u": item(ok_path)}}}),
    # a fingerprint with syntax in it
    "evil:3:amd64:default": dict(arch="amd64", aliases="evil/3", versions={"20260102_0000": {"items": {"u": item(ok_path, sha="0" * 63 + EVIL_NGINX)}}}),
    # paths: nginx variables, Apache back-references and flags
    "evil:4:amd64:default": dict(arch="amd64", aliases="evil/4", versions={"20260102_0000": {"items": {"u": item("images/$request_uri/%{HTTP_HOST}/x,R=302.tar.gz")}}}),
    "evil:5:amd64:default": dict(arch="amd64", aliases="evil/5", versions={"20260102_0000": {"items": {"u": item('images/a"b;}/x.tar.gz')}}}),
    # aliases carrying syntax; a product name with a newline
    "evil:6:amd64:default": dict(arch="amd64", aliases='x" { return 302 https://evil.example; } #,y$z,a%{HTTP_HOST}b,c\nRedirect 302 / https://evil.example/',
                                 versions={"20260102_0000": {"items": {"u": item(ok_path)}}}),
    "evil\n:7:amd64:default": dict(arch="amd64", aliases="evil/7", versions={"20260102_0000": {"items": {"u": item(ok_path)}}}),
}
doc = {"format": "products:1.0", "content_id": "images", "datatype": "image-downloads", "products": prods}
json.dump(doc, open(f"{d}/streams/v1/images.json", "w"), indent=1, sort_keys=True)
idx = {"format": "index:1.0", "index": {"images": {"datatype": "image-downloads", "format": "products:1.0",
       "path": "streams/v1/images.json", "products": sorted(prods)}}}
json.dump(idx, open(f"{d}/streams/v1/index.json", "w"), indent=1, sort_keys=True)
print(fp)
EOF
FP=$(sha256sum "$D"/images/*/image.tar.gz | cut -c1-64)
NPORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
APORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
NURL=http://127.0.0.1:$NPORT AURL=http://127.0.0.1:$APORT

expect 0 "webconf nginx on a hostile tree" "$P" webconf "$D" --base-url "$NURL/"
check "no hostile string in the nginx snippet" sh -c "! grep -q -e evil.example -e request_uri -e HTTP_HOST -e R=302 -e 'y\$z' '$D/.sstream/import-nginx.conf'"
check "the version name is named in a warning" err_has "product 'evil:1:amd64:default': unified image left out: its version"
check "the architecture is named" err_has "product 'evil:2:amd64:default': unified image left out: its arch 'amd64?Redirect"
check "the fingerprint is named" err_has "product 'evil:3:amd64:default': unified image left out: its sha256"
check "the path with variables is named" err_has "product 'evil:4:amd64:default': unified image left out: its path"
check "the path with quotes is named" err_has "product 'evil:5:amd64:default': unified image left out: its path"
check "hostile aliases are named" err_has "alias 'y\$z': not served"
check "an alias with a newline is named, printable" err_has "alias 'c?Redirect 302 / https://evil.example/': not served"
check "warnings are one line each" test "$(grep -c . "$T/err")" -eq "$(grep -c '^sstream-publish: ' "$T/err")"
check "the clean image is still served" grep -q "location = /import/good/1 {" "$D/.sstream/import-nginx.conf"
expect 0 "webconf apache on a hostile tree" "$P" webconf "$D" --base-url "$AURL" --server apache
check "no hostile string in the apache snippet" sh -c "! grep -q -e evil.example -e Redirect -e request_uri -e HTTP_HOST}b '$D/.sstream/import-apache.conf'"
expect 64 "a base URL with nginx syntax is refused" "$P" webconf "$D" --base-url 'http://h/x";return 302 http://e/;#'
expect 64 "a base URL with Apache back-references is refused" "$P" webconf "$D" --base-url 'http://h/%1/$1' --server apache

# ---- nginx: -t, then served ----------------------------------------------------------------
N=$T/nginx
nginx_conf "$N" "	access_log off;
	server {
		listen 127.0.0.1:$NPORT;
		root $D;
		location ~ /\.sstream/ { deny all; }
		include $D/.sstream/import-nginx.conf;
	}"
expect 0 "nginx -t accepts the snippet" nginx -t -q -e "$N/error.log" -c "$N/nginx.conf" -p "$N"
nginx_run "$N" "$NURL/streams/v1/index.json"
expect 0 "nginx: the index" curl -sS -o /dev/null -w '%{http_code}' "$NURL/streams/v1/index.json"
check "... is served, not redirected" out_has '^200$'
expect 0 "nginx: the clean alias" curl -sS -I -H "LXD-Server-Architectures: x86_64" "$NURL/import/good/1"
check "... names the clean image" sh -c "tr -d '\r' <'$T/out' | grep -qi '^LXD-Image-Hash: $FP'"
expect 0 "nginx: a hostile alias" curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "$NURL/import/evil/1"
check "... has no location: 404, no redirect" out_has '^404 $'

# ---- apache: -t, then served ---------------------------------------------------------------
A=$T/apache
M=/usr/lib/apache2/modules
mkdir -p "$A"
chmod 755 "$T" "$T/www"
cat >"$A/apache.conf" <<EOF
ServerName 127.0.0.1
LoadModule mpm_event_module $M/mod_mpm_event.so
LoadModule authz_core_module $M/mod_authz_core.so
LoadModule mime_module $M/mod_mime.so
LoadModule rewrite_module $M/mod_rewrite.so
LoadModule headers_module $M/mod_headers.so
LoadModule alias_module $M/mod_alias.so
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
expect 0 "apache2 -t accepts the snippet" apache2 -t -f "$A/apache.conf"
apache2 -f "$A/apache.conf" -DFOREGROUND &
HTTPD_PIDS="$HTTPD_PIDS $!"
i=0
until curl -s -o /dev/null "$AURL/streams/v1/index.json" || [ $i -ge 200 ]; do sleep 0.05; i=$((i + 1)); done
expect 0 "apache: the index" curl -sS -o /dev/null -w '%{http_code}' "$AURL/streams/v1/index.json"
check "... is served, not redirected" out_has '^200$'
expect 0 "apache: the clean alias" curl -sS -I -H "LXD-Server-Architectures: x86_64" "$AURL/import/good/1"
check "... names the clean image" sh -c "tr -d '\r' <'$T/out' | grep -qi '^LXD-Image-Hash: $FP'"
finish
