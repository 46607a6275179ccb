# The real client: the LXD daemon (Debian's lxd and lxd-client, as root, in
# a temporary LXD_DIR) lists and copies an image from a tree that
# sstream-mirror wrote, served over HTTPS with a pinned self-signed
# certificate.
. tests/lib.sh
M=$BIN/sstream-mirror
if [ "$(id -u)" -ne 0 ] || ! command -v lxd >/dev/null; then
	fail "the LXD test needs root and the lxd package (scripts/install-deps.sh installs it)"
	finish
	exit 1
fi
export LXD_DIR=$T/lxd LXD_CONF=$T/lxdconf HOME=$T
mkdir -p "$LXD_DIR" "$LXD_CONF/servercerts"
stop_lxd() {
	timeout 30 lxd shutdown >/dev/null 2>&1 || kill "$LXD_PID" 2>/dev/null
	wait "$LXD_PID" 2>/dev/null
}
lxd --group root --logfile "$LXD_DIR/lxd.log" >"$LXD_DIR/out" 2>&1 &
LXD_PID=$!
EXTRA_CLEANUP=stop_lxd
expect 0 "the LXD daemon starts" timeout 60 lxd waitready

FP=$("$PY" tests/mklxdtree.py "$T/upstream")
mkdir -p "$T/www"
# upstream over plain HTTP, the mirror over HTTPS
httpd_start "$T/upstream"
UP=$HTTP_URL
expect 0 "mirror the image tree" "$M" "$UP" "$T/www/mirror" arch=amd64
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
httpd_start "$T/www/mirror" --tls "$T/cert.pem" "$T/key.pem"
cp "$T/cert.pem" "$LXD_CONF/servercerts/mirror.crt"
expect 0 "lxc remote add" lxc remote add mirror "https://127.0.0.1:$HTTP_PORT" --protocol=simplestreams --public
expect 0 "lxc image list mirror:" lxc image list mirror: --format csv -c lfd
check "the image is listed with its alias" out_has "^testos/one"
check "... and its fingerprint" out_has ",${FP%"${FP#????????????}"},"
expect 0 "lxc image copy (the daemon re-checks the fingerprint)" lxc image copy mirror:testos/one local:
expect 0 "lxc image list local:" lxc image list local: --format csv -c f
check "the local image has the fingerprint" out_has "^${FP%"${FP#????????????}"}$"
expect 0 "lxc image info" lxc image info "$FP"
check "full fingerprint" out_has "Fingerprint: $FP"

finish
