# SPDX-License-Identifier: Apache-2.0
# The real client and the images: layout: a version published with
# `sstream-publish add TREE META ROOT...` (a rootfs tarball, then the
# squashfs and a VM disk of the same metadata added later) is listed by
# the LXD daemon (Debian's lxd and lxd-client, as root, in its own
# temporary LXD_DIR: no network, bridge or port of its own) as one image
# per root, and copied by alias and by each fingerprint (the daemon
# re-checks each fingerprint), over HTTPS with a pinned certificate.
. tests/lib.sh
P=$BIN/sstream-publish
lxd_start

I=$T/img
mkdir -p "$I/m" "$I/r/bin"
printf 'architecture: x86_64\ncreation_date: 1795910400\nproperties:\n  os: Layoutos\n  release: "1"\n  variant: default\n  description: Layoutos 1 amd64 (20261129_0000)\n' >"$I/m/metadata.yaml"
printf '#!/bin/sh\necho hello\n' >"$I/r/bin/hello"
chmod 755 "$I/r/bin/hello"
tar -C "$I/m" -cJf "$I/meta.tar.xz" metadata.yaml
tar -C "$I/r" -cJf "$I/root.tar.xz" .
mksquashfs "$I/r" "$I/root.squashfs" -quiet -noappend -all-root >/dev/null
{ printf 'QFI\373'; head -c 65536 /dev/zero; } >"$I/disk.qcow2"
fp() { cat "$1" "$2" | sha256sum | cut -c1-64; }
FP_TAR=$(fp "$I/meta.tar.xz" "$I/root.tar.xz")
FP_SQ=$(fp "$I/meta.tar.xz" "$I/root.squashfs")
FP_VM=$(fp "$I/meta.tar.xz" "$I/disk.qcow2")
short() { echo "$1" | cut -c1-12; }
D=$T/www/site
expect 0 "publish the rootfs tarball" "$P" add -q "$D" "$I/meta.tar.xz" "$I/root.tar.xz"
expect 0 "... then the squashfs and the VM disk of the same metadata" "$P" add -q "$D" "$I/meta.tar.xz" "$I/root.squashfs" "$I/disk.qcow2"
tls_cert
httpd_start "$D" --tls "$T/cert.pem" "$T/key.pem"
cp "$T/cert.pem" "$LXD_CONF/servercerts/site.crt"
expect 0 "lxc remote add" lxc remote add site "https://127.0.0.1:$HTTP_PORT" --protocol=simplestreams --public
expect 0 "lxc image list site:" lxc image list site: --format csv -c lfdt
cp "$T/out" "$T/remote"
for f in "$FP_TAR" "$FP_SQ" "$FP_VM"; do
	check "listed: $(short "$f")" grep -q ",$(short "$f")," "$T/remote"
done
check "the container images carry the alias" grep -q "^layoutos/1 .*,CONTAINER" "$T/remote"
check "the VM image is listed as one" grep -q ",$(short "$FP_VM"),.*VIRTUAL-MACHINE" "$T/remote"
check "the description LXD shows is metadata.yaml's" grep -q ",Layoutos 1 amd64 (20261129_0000)," "$T/remote"
expect 0 "lxc image copy by alias (the daemon re-checks the fingerprint)" lxc image copy site:layoutos/1 local:
expect 0 "lxc image list local:" lxc image list local: --format csv -c f
check "... a container image of the version arrived" sh -c "grep -qx '$(short "$FP_SQ")' '$T/out' || grep -qx '$(short "$FP_TAR")' '$T/out'"
for f in "$FP_TAR" "$FP_SQ" "$FP_VM"; do
	lxc image delete "$f" >/dev/null 2>&1
	expect 0 "lxc image copy by fingerprint $(short "$f")" lxc image copy "site:$f" local:
	expect 0 "lxc image info $(short "$f")" lxc image info "$f"
	check "... the daemon holds it under its full fingerprint" out_has "Fingerprint: $f"
done

finish
