# SPDX-License-Identifier: Apache-2.0
# A signed tree whose plain view moved on without its signed view (a
# signed view of before, put back as a kill between the two writes or
# another tool would leave it) is caught: sstream-verify fails it (exit 3)
# naming the stale .sjson, with or without a keyring; the next write, which
# signs with the key the tree remembers, repairs it.
. tests/lib.sh
P=$BIN/sstream-publish
V=$BIN/sstream-verify
export GNUPGHOME=$T/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key 'Site <site@example.invalid>' rsa2048 sign never 2>/dev/null
gpg --batch --quiet --export site@example.invalid >"$T/site.gpg"
mk() { # mk NAME RELEASE
	mkdir -p "$T/$1/meta" "$T/$1/root/bin"
	printf 'architecture: x86_64\ncreation_date: 1795910400\nproperties:\n  os: Viewos\n  release: "%s"\n' "$2" >"$T/$1/meta/metadata.yaml"
	echo "$1" >"$T/$1/root/bin/x"
	tar -C "$T/$1/meta" -cJf "$T/$1/meta.tar.xz" metadata.yaml
	tar -C "$T/$1/root" -cJf "$T/$1/root.tar.xz" .
}
mk a 1
mk b 2
D=$T/site
expect 0 "a signed add" "$P" add "$D" "$T/a/meta.tar.xz" "$T/a/root.tar.xz" --sign-key site@example.invalid
expect 0 "the signed tree verifies" "$V" --keyring "$T/site.gpg" "$D"
expect 0 "... and without a keyring" "$V" "$D"
cp "$D/streams/v1/images.sjson" "$D/streams/v1/index.sjson" "$T/"
expect 0 "an add without --sign-key (signed with the remembered key)" "$P" add "$D" "$T/b/meta.tar.xz" "$T/b/root.tar.xz"
expect 0 "... verifies" "$V" --keyring "$T/site.gpg" "$D"
cp "$T/images.sjson" "$T/index.sjson" "$D/streams/v1/"
expect 3 "the stale signed view fails verify" "$V" "$D"
check "... naming the stale .sjson" out_has "streams/v1/images.sjson"
check "... and why" out_has "signed view differs from the plain one"
expect 3 "... with the keyring too" "$V" --keyring "$T/site.gpg" "$D"
expect 0 "signing again (a no-op add, the key remembered)" "$P" add "$D" "$T/b/meta.tar.xz" "$T/b/root.tar.xz"
expect 0 "the tree verifies again" "$V" --keyring "$T/site.gpg" "$D"
finish
