# SPDX-License-Identifier: Apache-2.0
# Defects of issue 17 in publish, history and tree loading: an error
# message is formatted once (not into itself), an alias naming several
# versions removes none of them without --all-versions.
. tests/lib.sh
P=$BIN/sstream-publish
V=$BIN/sstream-verify
KR=$FIXTURES/signed/test.gpg

# ---- "no signed index" reads once, with the whole path ----------------------------------
cp -r "$FIXTURES/examples/foocloud" "$T/unsigned"
expect 3 "an unsigned tree under --keyring" "$V" --keyring "$KR" "$T/unsigned"
check "the reason once" test "$(grep -o 'no signed index' "$T/err" | wc -l)" -eq 1
check "the whole path named" err_has "cannot open '$T/unsigned/streams/v1/index.sjson': No such file or directory"

# ---- remove: an alias naming several versions ---------------------------------------------
I=$T/img
for day in 1 2; do
	mkdir -p "$I/u$day/rootfs/bin"
	echo "hello $day" >"$I/u$day/rootfs/bin/hello"
	printf 'architecture: x86_64\ncreation_date: %s\nproperties:\n  os: TestOS\n  release: two\n  variant: default\n' \
		$((1795910400 + day * 86400)) >"$I/u$day/metadata.yaml"
	tar -C "$I/u$day" -czf "$I/u$day.tar.gz" metadata.yaml rootfs
done
D=$T/site
expect 0 "add version 1" "$P" add "$D" "$I/u1.tar.gz"
expect 0 "add version 2" "$P" add "$D" "$I/u2.tar.gz"
cp "$D/streams/v1/images.json" "$T/before.json"
expect 64 "remove by an alias naming two versions" "$P" remove "$D" testos/two
check "... names the product" err_has "testos:two:amd64:default"
check "... says how to go on" err_has "name one fully (its fingerprint) or pass --all-versions"
check "... and removed nothing" cmp -s "$D/streams/v1/images.json" "$T/before.json"
FP=$(sha256sum "$I/u1.tar.gz" | cut -d' ' -f1)
expect 0 "remove one version by its fingerprint" "$P" remove "$D" "$FP"
expect 0 "the alias now names one version: removed" "$P" remove "$D" testos/two

finish
