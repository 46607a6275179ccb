# SPDX-License-Identifier: Apache-2.0
# A signed tree stays signed and consistent (issue 19): the tree remembers
# its key in .sstream/config and every later write (publish add, remove,
# prune, rollback; the mirror) re-signs with it; a write that cannot sign
# refuses before it changes a byte (exit 2, naming the key and --unsign);
# --unsign drops the signed view on purpose; a prune keeps what either
# view names.  And signed mirrors (issue 18): a filtered mirror signed
# with a local key, a whole one keeping upstream's signatures verbatim.
. tests/lib.sh
P=$BIN/sstream-publish
V=$BIN/sstream-verify
M=$BIN/sstream-mirror
export GNUPGHOME=$T/gnupg
mkdir -m 700 "$GNUPGHOME" "$T/nokeys"
chmod 700 "$T/nokeys"
gpg --batch --quiet --passphrase '' --quick-gen-key 'Site <site@example.invalid>' rsa2048 sign never 2>/dev/null
gpg --batch --quiet --passphrase '' --quick-gen-key 'Local <local@example.invalid>' rsa2048 sign never 2>/dev/null
gpg --batch --quiet --export site@example.invalid >"$T/site.gpg" 2>/dev/null
gpg --batch --quiet --export local@example.invalid >"$T/local.gpg"
FPR=$(gpg --batch --with-colons --list-secret-keys site@example.invalid 2>/dev/null | awk -F: '$1 == "fpr" { print $10; exit }')
mk() { # mk NAME RELEASE DATE
	mkdir -p "$T/$1/meta" "$T/$1/root/bin"
	printf 'architecture: x86_64\ncreation_date: %s\nproperties:\n  os: Signos\n  release: "%s"\n' "$3" "$2" >"$T/$1/meta/metadata.yaml"
	echo "$1" >"$T/$1/root/bin/x"
	tar -C "$T/$1/meta" -cJf "$T/$1/meta.tar.xz" metadata.yaml
	tar -C "$T/$1/root" -cJf "$T/$1/root.tar.xz" .
}
mk a 1 1795910400
mk b 2 1795910400
mk c 3 1795910400
mk a2 1 1795996800
# the signed text of a clearsigned file is exactly the plain file (gpg reads it)
same_body() { gpg --batch --quiet --decrypt "$1/streams/v1/$2.sjson" 2>/dev/null | cmp -s - "$1/streams/v1/$2.json"; }
# every byte of a tree (.sstream/ included): names, modes, sizes, mtimes, contents
snap() { (cd "$1" && find . -printf '%p %y %m %s %T@\n' | LC_ALL=C sort && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }

# ---- a write without --sign-key re-signs with the remembered key ----------
D=$T/site
expect 0 "a signed add" "$P" add "$D" "$T/a/meta.tar.xz" "$T/a/root.tar.xz" --sign-key site@example.invalid
check "the tree remembers the key's fingerprint" grep -qx "sign-key = $FPR" "$D/.sstream/config"
expect 0 "an add without --sign-key" "$P" add "$D" "$T/b/meta.tar.xz" "$T/b/root.tar.xz"
expect 0 "... re-signed: verify --keyring passes" "$V" --keyring "$T/site.gpg" "$D"
check "... images.sjson signs exactly images.json" same_body "$D" images
check "... and lists the new image" grep -q '"2"' "$D/streams/v1/images.sjson"
# a no-op stays a no-op: a signature is not redone (it would rewrite the
# .sjson, and record an empty change)
sha256sum "$D"/streams/v1/*.sjson >"$T/sums"
NREC=$(git --git-dir="$D/.sstream/history.git" rev-list --count HEAD)
sleep 1 # (an RSA signature of the same text in the same second has the same bytes)
expect 0 "adding the same image again, with --sign-key" "$P" add "$D" "$T/b/meta.tar.xz" "$T/b/root.tar.xz" --sign-key site@example.invalid
check "... says it was there" out_has "already published"
check "... the .sjson bytes are kept" sha256sum -c --quiet "$T/sums"
check "... no history record" test "$(git --git-dir="$D/.sstream/history.git" rev-list --count HEAD)" = "$NREC"
expect 0 "an add of a second version, unsigned on the command line" "$P" add "$D" "$T/a2/meta.tar.xz" "$T/a2/root.tar.xz"
expect 0 "a remove without --sign-key" "$P" remove "$D" signos/2/default
expect 0 "... verify --keyring passes" "$V" --keyring "$T/site.gpg" "$D"
check "... images.sjson follows" same_body "$D" images

# the webconf base URL lives in the same file, beside the key
expect 0 "webconf --base-url" "$P" webconf "$D" --base-url https://images.example.org/
check "... remembered in .sstream/config" grep -qx "webconf-nginx = https://images.example.org/" "$D/.sstream/config"
check "... the key kept" grep -qx "sign-key = $FPR" "$D/.sstream/config"
check "... no other settings file" test ! -e "$D/.sstream/webconf"
# (a tree of an earlier version keeps its .sstream/webconf, still read)
O=$T/oldconf
cp -a "$D" "$O"
grep -v '^webconf-' "$D/.sstream/config" >"$O/.sstream/config"
echo 'nginx https://legacy.example.org/' >"$O/.sstream/webconf"
expect 0 "an add on a tree with the old settings file" "$P" add "$O" "$T/c/meta.tar.xz" "$T/c/root.tar.xz"
check "... its snippet follows the old base URL" grep -q 'legacy.example.org' "$O/.sstream/import-nginx.conf"

# import: a non-LXD products file beside images.json, signed too
I=$T/imported
mkdir -p "$I/files"
echo one >"$I/files/one.txt"
printf '[{"content_id": "com.example:files", "product_name": "com.example:files:amd64", "version_name": "20261101", "item_name": "one.txt", "path": "files/one.txt", "size": 4, "sha256": "%s"}]\n' \
	"$(sha256sum "$I/files/one.txt" | cut -d' ' -f1)" >"$T/items.json"
expect 0 "a signed import" "$P" import "$I" "$T/items.json" --sign-key site@example.invalid
echo two >"$I/files/two.txt"
sed "s/one.txt/two.txt/g; s/20261101/20261102/; s/\"sha256\": \"[0-9a-f]*\"/\"sha256\": \"$(sha256sum "$I/files/two.txt" | cut -d' ' -f1)\"/" "$T/items.json" >"$T/items2.json"
expect 0 "an import without --sign-key" "$P" import "$I" "$T/items2.json"
expect 0 "... verify --keyring passes" "$V" --keyring "$T/site.gpg" "$I"
check "... the signed products file lists the new record" grep -q 20261102 "$I/streams/v1/com.example:files.sjson"

# ---- cannot sign: refused before anything changes ------------------------
snap "$D" >"$T/before"
expect 2 "add with the secret key missing" env GNUPGHOME="$T/nokeys" "$P" add "$D" "$T/c/meta.tar.xz" "$T/c/root.tar.xz"
check "... one line" test "$(err_lines)" -eq 1
check "... naming the key" err_has "$FPR"
check "... and --unsign" err_has "--unsign"
snap "$D" >"$T/after"
check "... the tree is byte-identical (.sstream/ included)" cmp -s "$T/before" "$T/after"
for c in "remove $D signos/1/default --all-versions" "prune $D --keep 1 --grace 0s" "add $D $T/c/meta.tar.xz $T/c/root.tar.xz --dry-run"; do
	# shellcheck disable=SC2086
	expect 2 "${c%% *} with the secret key missing" env GNUPGHOME="$T/nokeys" "$P" $c
	snap "$D" >"$T/after"
	check "... ${c%% *}: the tree is byte-identical" cmp -s "$T/before" "$T/after"
done
expect 2 "a key given that cannot sign" "$P" add "$D" "$T/c/meta.tar.xz" "$T/c/root.tar.xz" --sign-key nobody@example.invalid
snap "$D" >"$T/after"
check "... the tree is byte-identical" cmp -s "$T/before" "$T/after"

# a locked agent: a key with a passphrase, unlocked for the first add, then
# forgotten by the agent (no pinentry can ask: no terminal, no display)
LG=$T/locked-gnupg
mkdir -m 700 "$LG"
EXTRA_CLEANUP="gpgconf --homedir $LG --kill gpg-agent"
GNUPGHOME=$LG gpg --batch --quiet --pinentry-mode loopback --passphrase secret --quick-gen-key 'Locked <locked@example.invalid>' rsa2048 sign never 2>/dev/null
echo unlock | GNUPGHOME=$LG gpg --batch --quiet --pinentry-mode loopback --passphrase secret --clearsign -u locked@example.invalid >/dev/null 2>&1
LT=$T/locked
expect 0 "a signed add while the agent holds the passphrase" env GNUPGHOME="$LG" "$P" add "$LT" "$T/a/meta.tar.xz" "$T/a/root.tar.xz" --sign-key locked@example.invalid
gpgconf --homedir "$LG" --kill gpg-agent
snap "$LT" >"$T/before"
expect 2 "the agent locked: add refuses" env -u DISPLAY -u GPG_TTY GNUPGHOME="$LG" timeout 60 "$P" add "$LT" "$T/b/meta.tar.xz" "$T/b/root.tar.xz" </dev/null
check "... one line naming the key and --unsign" sh -c "test \$(wc -l <'$T/err') -eq 1 && grep -q 'locked@example.invalid\|$(GNUPGHOME=$LG gpg --batch --with-colons --list-secret-keys 2>/dev/null | awk -F: '$1 == "fpr" { print $10; exit }')' '$T/err' && grep -q -- '--unsign' '$T/err'"
snap "$LT" >"$T/after"
check "... the tree is byte-identical" cmp -s "$T/before" "$T/after"

# a tree signed before keys were remembered: no silent stale view
L=$T/legacy
cp -a "$D" "$L"
rm "$L/.sstream/config"
snap "$L" >"$T/before"
expect 2 "a signed tree that remembers no key, add without --sign-key" "$P" add "$L" "$T/c/meta.tar.xz" "$T/c/root.tar.xz"
check "... names --sign-key and --unsign" sh -c "grep -q -- '--sign-key' '$T/err' && grep -q -- '--unsign' '$T/err'"
snap "$L" >"$T/after"
check "... the tree is byte-identical" cmp -s "$T/before" "$T/after"

# ---- prune keeps what either view names ----------------------------------
# v1 and v2 of signos/1 signed; the signed view of before a remove of v1 is
# put back (as a kill between the plain and the signed write leaves it)
S=$T/stale
cp -a "$D" "$S"
cp "$S/streams/v1/images.sjson" "$T/old-images.sjson"
cp "$S/streams/v1/index.sjson" "$T/old-index.sjson"
V1=$("$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
vs = d["products"]["signos:1:amd64:default"]["versions"]
print(" ".join(sorted(set(i["path"] for i in vs[min(vs)]["items"].values()))))' "$S/streams/v1/images.json")
FP1=$("$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
vs = d["products"]["signos:1:amd64:default"]["versions"]
print([i["combined_sha256"] for i in vs[min(vs)]["items"].values() if "combined_sha256" in i][0])' "$S/streams/v1/images.json")
expect 0 "remove v1 (re-signed)" "$P" remove "$S" "$FP1"
cp "$T/old-images.sjson" "$S/streams/v1/images.sjson"
cp "$T/old-index.sjson" "$S/streams/v1/index.sjson"
expect 3 "the stale signed view fails verify" "$V" "$S"
expect 0 "prune --grace 0s --unsign" "$P" prune "$S" --keep 1 --grace 0s --unsign
for f in $V1; do
	check "... keeps $f, which the signed view named" test -f "$S/$f"
done
check "... the signed view is gone" sh -c "! ls '$S'/streams/v1/*.sjson 2>/dev/null | grep -q ."
check "... and the key forgotten (the other settings kept)" sh -c "grep -q webconf-nginx '$S/.sstream/config' && ! grep -q sign-key '$S/.sstream/config'"
expect 0 "a second prune --grace 0s" "$P" prune "$S" --keep 1 --grace 0s
for f in $V1; do
	check "... now removes $f" test ! -e "$S/$f"
done

# ---- --unsign -----------------------------------------------------------------
U=$T/unsign
cp -a "$D" "$U"
snap "$U" >"$T/u.before"
expect 0 "add --dry-run --unsign" env GNUPGHOME="$T/nokeys" "$P" add "$U" "$T/c/meta.tar.xz" "$T/c/root.tar.xz" --unsign --dry-run
check "... says it would remove the signed view" out_has "would remove the signed view"
snap "$U" >"$T/u.after"
check "... changes nothing (every byte, .sstream/ included)" cmp -s "$T/u.before" "$T/u.after"
expect 0 "add --unsign, the secret key missing (the way out)" env GNUPGHOME="$T/nokeys" "$P" add "$U" "$T/c/meta.tar.xz" "$T/c/root.tar.xz" --unsign
check "... no .sjson left" test -z "$(find "$U/streams" -name '*.sjson')"
check "... the key forgotten (the other settings kept)" sh -c "grep -q webconf-nginx '$U/.sstream/config' && ! grep -q sign-key '$U/.sstream/config'"
expect 0 "... the plain tree verifies" "$V" "$U"
expect 0 "a later add on the unsigned tree needs no key" env GNUPGHOME="$T/nokeys" "$P" remove "$U" signos/3/default
expect 0 "a rollback of the unsigned tree to a signed record" "$P" rollback "$U" HEAD~2
check "... does not bring the old signed view back" test -z "$(find "$U/streams" -name '*.sjson')"
expect 0 "... the plain tree verifies" "$V" "$U"
expect 64 "--unsign with --sign-key" "$P" add "$U" "$T/c/meta.tar.xz" "$T/c/root.tar.xz" --unsign --sign-key site@example.invalid

# ---- rollback re-signs ------------------------------------------------------
expect 0 "history of the signed tree" "$P" history "$D" --format json
expect 0 "rollback one record, without --sign-key" "$P" rollback "$D" HEAD~1
expect 0 "... verify --keyring passes" "$V" --keyring "$T/site.gpg" "$D"
check "... images.sjson follows" same_body "$D" images

# ---- mirrors: filtered and signed with a local key; whole and verbatim ------
F=$T/filtered
expect 0 "a filtered mirror of the signed tree, --sign-key local" "$M" --no-history --keyring "$T/site.gpg" "$D" "$F" release=1 --sign-key local@example.invalid
expect 0 "... verify --keyring local passes" "$V" --keyring "$T/local.gpg" "$F"
check "... images.sjson signs exactly images.json" same_body "$F" images
expect 3 "... upstream's keyring does not verify it" "$V" --keyring "$T/site.gpg" "$F"
expect 0 "a second selection, without --sign-key (remembered)" "$M" --no-history --keyring "$T/site.gpg" "$D" "$F" release=2
expect 0 "... verify --keyring local passes" "$V" --keyring "$T/local.gpg" "$F"
check "... the signed view lists both selections" sh -c "grep -q 'signos:1:amd64:default' '$F/streams/v1/images.sjson' && grep -q 'signos:2:amd64:default' '$F/streams/v1/images.sjson'"
sha256sum "$F"/streams/v1/*.sjson >"$T/sums"
sleep 1
expect 0 "a rerun of the second selection (--max 9: other options, no short-cut)" "$M" --no-history --max 9 --keyring "$T/site.gpg" "$D" "$F" release=2
check "... a no-op: the .sjson bytes are kept" sha256sum -c --quiet "$T/sums"
snap "$F" >"$T/before"
expect 2 "a mirror run whose remembered key cannot sign" env GNUPGHOME="$T/nokeys" "$M" --no-history --keyring "$T/site.gpg" "$D" "$F" release=1
check "... names the key and --unsign" sh -c "grep -q '$(gpg --batch --with-colons --list-secret-keys local@example.invalid | awk -F: '$1 == "fpr" { print $10; exit }')' '$T/err' && grep -q -- '--unsign' '$T/err'"
snap "$F" >"$T/after"
check "... the target is byte-identical" cmp -s "$T/before" "$T/after"
# the mirror's grace expiry keeps what the target's signed view names: with
# --unsign the view goes after the run, so a dropped version's files wait
G=$T/grace
expect 0 "a signed filtered mirror of both versions" "$M" --no-history --keyring "$T/site.gpg" "$D" "$G" release=1 --sign-key local@example.invalid
OLD=$("$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
vs = d["products"]["signos:1:amd64:default"]["versions"]
print(" ".join(sorted(set(i["path"] for i in vs[min(vs)]["items"].values()))))' "$G/streams/v1/images.json")
check "... two versions" test -n "$OLD"
check "... signed" test -f "$G/streams/v1/index.sjson"
expect 0 "--max 1 --grace 0 --unsign" "$M" --no-history --keyring "$T/site.gpg" "$D" "$G" release=1 --max 1 --grace 0 --unsign
for f in $OLD; do
	check "... keeps $f, which the signed view named when the run expired files" test -f "$G/$f"
done
check "... the target's signed view is gone" test -z "$(find "$G/streams" -name '*.sjson')"
expect 0 "... verifies unsigned" "$V" "$G"
expect 0 "the next run --max 1 --grace 0" "$M" --no-history --keyring "$T/site.gpg" "$D" "$G" release=1 --max 1 --grace 0
for f in $OLD; do
	check "... removes $f" test ! -e "$G/$f"
done
expect 64 "--sign-key with an S3 target" "$M" "$D" s3://bucket/prefix --sign-key local@example.invalid
W=$T/whole
expect 0 "a whole mirror of the signed tree, with --sign-key local" "$M" --no-history --keyring "$T/site.gpg" "$D" "$W" --sign-key local@example.invalid
for f in index.sjson images.sjson; do
	check "... upstream's $f kept byte for byte" cmp -s "$D/streams/v1/$f" "$W/streams/v1/$f"
done
expect 0 "... verify --keyring upstream passes" "$V" --keyring "$T/site.gpg" "$W"
finish
