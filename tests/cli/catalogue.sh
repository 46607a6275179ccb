# SPDX-License-Identifier: Apache-2.0
# The catalogue page (TREE/index.html, lib/catalogue.c) for the example
# trees, an LXD tree of unified and split images, the lxc-images fixture
# (5435 items), a hostile tree and a tree of 100 000 items: valid HTML5 (tidy),
# deterministic, small enough; then served by nginx on 127.0.0.1 and driven
# in Debian's chromium (tests/browser/catalogue.js): rows, filter, sorting,
# file links that answer 200, axe-core, a phone-sized screen, and no script
# or element of a hostile tree.
# CATALOGUE_SCREENSHOT=PATH also writes a picture of the fixture's page
# (for docs/).
. tests/lib.sh
G="$TOP/$BUILD/tests/test_catalogue"
P=$BIN/sstream-publish
W=$T/www
mkdir -p "$W"

# products TREE [REGEX...]: products the tree lists (whose name matches every REGEX)
products() {
	"$PY" - "$@" <<'EOF'
import json, os, re, sys
root, pats = sys.argv[1], sys.argv[2:]
idx = json.load(open(os.path.join(root, "streams/v1/index.json")))
n = 0
for e in idx["index"].values():
    doc = json.load(open(os.path.join(root, e["path"])))
    n += sum(1 for p in doc["products"] if all(re.search(x, p) for x in pats))
print(n)
EOF
}

# ---- the trees ----------------------------------------------------------------------
cp -r "$FIXTURES/examples/foocloud" "$W/foo"
"$PY" tests/mklxdtree.py "$W/lxd" >/dev/null
"$PY" tests/mkpayload.py "$FIXTURES/real/lxc-images-20230424.json" "$W/lxc" . --index
# unified and split images published by sstream-publish, with a webconf base URL
R=$T/rootfs
mkdir -p "$R/etc"
echo one >"$R/etc/version"
printf 'architecture: x86_64\ncreation_date: 1795910400\nproperties:\n  os: Alpine\n  release: "3.17"\n  variant: default\n  description: Alpine 3.17\n' >"$T/amd.yaml"
printf 'architecture: x86_64\ncreation_date: 1795910400\nproperties:\n  os: Splitos\n  release: "1"\n  variant: default\n  description: Splitos 1\n' >"$T/split.yaml"
export SOURCE_DATE_EPOCH=1795910400
expect 0 "build a unified image" "$P" build "$R" --metadata "$T/amd.yaml" --unified --compression gzip -o "$T/amd"
expect 0 "build a split image" "$P" build "$R" --metadata "$T/split.yaml" -o "$T/split"
expect 0 "publish the unified image" "$P" add "$W/pub" "$T/amd/image.tar.gz"
expect 0 "publish the split image" "$P" add "$W/pub" "$T/split/meta.tar.xz" "$T/split/rootfs.tar.xz"
expect 0 "webconf remembers the base URL" "$P" webconf "$W/pub" --base-url "https://images.example.org/lxd/"
# hostile: names, aliases, descriptions and paths that are markup and script
mkdir -p "$W/hostile/streams/v1"
"$PY" - "$W/hostile" <<'EOF'
import hashlib, json, os, sys
root = sys.argv[1]
evil = {
    "<script>window.pwned=1</script>:1:amd64:default": "images/<script>alert(1)</script>.tar.xz",
    'x"onmouseover="window.pwned=2" y:1:amd64:default': "javascript:alert(2)",
    "</script><script>window.pwned=3</script>:1:amd64:default": 'images/"onclick=alert(3) a=".squashfs',
}
products = {}
for i, (name, path) in enumerate(sorted(evil.items())):
    data = path.encode()
    os.makedirs(os.path.dirname(os.path.join(root, path)) or root, exist_ok=True)
    open(os.path.join(root, path), "wb").write(data)
    products[name] = {
        "arch": "amd64", "os": "<img src=x onerror=window.pwned=4>", "release": "1",
        "release_title": "</script><script>alert(5)</script>", "variant": "default",
        "aliases": 'ok%d,"onmouseover=window.pwned=6 x,<b onclick=alert(7)>' % i,
        "versions": {"20260101_00:00": {"items": {"lxd.tar.xz": {
            "ftype": "lxd.tar.xz", "path": path, "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "combined_squashfs_sha256": "\"><script>alert(8)</script>"}}}},
    }
doc = {"format": "products:1.0", "content_id": "images", "datatype": "image-downloads", "products": products}
json.dump(doc, open(os.path.join(root, "streams/v1/images.json"), "w"))
idx = {"format": "index:1.0", "index": {"images": {"datatype": "image-downloads", "format": "products:1.0",
       "path": "streams/v1/images.json", "products": sorted(products)}}}
json.dump(idx, open(os.path.join(root, "streams/v1/index.json"), "w"))
EOF

# ---- pages ----------------------------------------------------------------------------------
for d in foo lxd pub hostile; do
	expect 0 "write the page of $d" "$G" --write "$W/$d"
done
expect 0 "write the page of the lxc-images fixture (5435 items)" "$G" --write "$W/lxc" --status
cat "$T/out"
SIZE=$(stat -c %s "$W/lxc/index.html")
echo "catalogue: lxc-images-20230424 page: $SIZE bytes"
check "... under 2 MB" test "$SIZE" -lt 2000000
cp "$W/lxc/index.html" "$T/lxc-first.html"
expect 0 "write it again" "$G" --write "$W/lxc" --status
check "... the same bytes" cmp -s "$T/lxc-first.html" "$W/lxc/index.html"
if command -v tidy >/dev/null; then
	for d in foo lxd pub lxc hostile; do
		run tidy -errors -q "$W/$d/index.html"
		check "tidy finds no error in the page of $d" test "$RC" -ne 2 -a ! -s "$T/err"
		[ ! -s "$T/err" ] || head -5 "$T/err" >&2
	done
else
	fail "this test needs tidy (scripts/install-deps.sh installs it)"
fi
check "the page of pub names the webconf base URL" grep -q 'lxc remote add mysite https://images.example.org/lxd --protocol simplestreams --public' "$W/pub/index.html"
check "... and the unified image's direct-import URL" grep -q 'lxc image import https://images.example.org/lxd/import/alpine/3.17/default' "$W/pub/index.html"
check "... and no import URL for the split image" sh -c "! grep -q 'import/splitos' '$W/pub/index.html'"
check "the hostile page has one script, the page's own" test "$(grep -o '<script' "$W/hostile/index.html" | wc -l)" -eq 1
check "... no attribute of the tree" sh -c "! grep -Eqi '<[^>]* on[a-z]+=' '$W/hostile/index.html'"
check "... no javascript: link" sh -c "! grep -qi 'href=\"javascript:' '$W/hostile/index.html'"

# 100 000 items in 500 products (files only for the first: writing them all takes long)
"$PY" - "$W/many" <<'EOF'
import hashlib, json, os, sys
root = sys.argv[1]
products = {}
for p in range(500):
    versions = {}
    for v in range(20):
        items = {}
        for i in range(10):
            rel = "files/p%03d/%02d/%d.bin" % (p, v, i)
            data = rel.encode()
            if p == 0:
                os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
                open(os.path.join(root, rel), "wb").write(data)
            items["f%d" % i] = {"ftype": "bin", "path": rel, "size": len(data),
                                "sha256": hashlib.sha256(data).hexdigest()}
        versions["2026%02d%02d" % (v // 28 + 1, v % 28 + 1)] = {"items": items}
    products["com.example:many:p%03d" % p] = {"arch": "amd64", "os": "Many", "release": str(p),
                                             "versions": versions}
os.makedirs(os.path.join(root, "streams/v1"), exist_ok=True)
doc = {"format": "products:1.0", "content_id": "many", "datatype": "image-downloads", "products": products}
json.dump(doc, open(os.path.join(root, "streams/v1/many.json"), "w"))
idx = {"format": "index:1.0", "index": {"many": {"datatype": "image-downloads", "format": "products:1.0",
       "path": "streams/v1/many.json", "products": sorted(products)}}}
json.dump(idx, open(os.path.join(root, "streams/v1/index.json"), "w"))
EOF
expect 0 "write the page of a 100 000-item tree" "$G" --write "$W/many"
cat "$T/out"
echo "catalogue: 100 000-item page: $(stat -c %s "$W/many/index.html") bytes"
check "... products collapsed" sh -c "! grep -q '<details open' '$W/many/index.html'"

# ---- served by nginx, driven by chromium ------------------------------------------------------
if ! command -v nginx >/dev/null || ! command -v chromium >/dev/null || ! command -v npm >/dev/null; then
	fail "this test needs nginx, chromium and npm (scripts/install-deps.sh installs them)"
	finish
	exit 1
fi
if [ ! -d tests/browser/node_modules/puppeteer-core ] || [ ! -d tests/browser/node_modules/axe-core ]; then
	expect 0 "npm ci in tests/browser" sh -c 'cd tests/browser && npm ci --no-audit --no-fund --loglevel=error'
fi
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
N=$T/nginx
nginx_conf "$N" "	access_log off;
	types { text/html html; application/json json; }
	default_type application/octet-stream;
	server {
		listen 127.0.0.1:$PORT;
		root $W;
		location ~ /\.sstream/ { deny all; }
	}"
URL=http://127.0.0.1:$PORT
nginx_run "$N" "$URL/foo/index.html"
check "nginx serves the pages as text/html" sh -c "curl -fsSI '$URL/foo/' | grep -qi '^content-type: text/html'"

# browser DESC ARGS...: runs the browser script, one check per line it prints
browser() {
	desc=$1
	shift
	(cd tests/browser && node catalogue.js "$@") >"$T/bout" 2>&1
	brc=$?
	while IFS= read -r line; do
		case $line in
		"ok - "*) pass ;;
		"not ok - "*) fail "$desc: ${line#not ok - }" ;;
		esac
	done <"$T/bout"
	sed -n 's/^# /catalogue: '"$desc"': /p' "$T/bout"
	check "$desc: the browser run ended well" test "$brc" -eq 0
	grep -q '^ok - ' "$T/bout" || sed 's/^/    /' "$T/bout" | head -20 >&2
}
browser foocloud --url "$URL/foo/" --rows "$(products "$W/foo")" \
	--filter "i386" --filtered "$(products "$W/foo" i386)" --links 10
browser "LXD tree" --url "$URL/lxd/" --rows "$(products "$W/lxd")" --links 1
browser "published tree" --url "$URL/pub/" --rows "$(products "$W/pub")" \
	--filter "splitos" --filtered 1 --links 2
SHOT=${CATALOGUE_SCREENSHOT:-$T/catalogue.png}
browser "lxc-images fixture" --url "$URL/lxc/" --rows "$(products "$W/lxc")" \
	--filter "alpine amd64" --filtered "$(products "$W/lxc" alpine amd64)" --links 5 --screenshot "$SHOT"
browser "hostile tree" --url "$URL/hostile/" --rows 3 --filter "ok1" --filtered 1 --links 3 --hostile
browser "100 000-item tree" --url "$URL/many/" --rows "$(products "$W/many")" --links 1 --no-axe
finish
