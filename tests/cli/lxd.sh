# SPDX-License-Identifier: Apache-2.0
# The real client: the LXD daemon (Debian's lxd and lxd-client, as root, in
# a temporary LXD_DIR) lists and copies an image from a tree that
# sstream-mirror wrote, served over HTTPS with a pinned self-signed
# certificate.
. tests/lib.sh
M=$BIN/sstream-mirror
lxd_start

FP=$("$PY" tests/mklxdtree.py "$T/upstream")
mkdir -p "$T/www"
# upstream over plain HTTP, the mirror over HTTPS
httpd_start "$T/upstream"
UP=$HTTP_URL
expect 0 "mirror the image tree" "$M" "$UP" "$T/www/mirror" arch=amd64
tls_cert
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
