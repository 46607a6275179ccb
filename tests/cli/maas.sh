# SPDX-License-Identifier: Apache-2.0
# MAAS's documented local-mirror commands, verbatim, against a signed
# ephemeral-v3-shaped tree (tests/mkmaas.py) served by nginx: in both
# orders, rerun, the target lists exactly both selections (checked with the
# Python reference flattener), every listed file is there once, the paths
# the ga- and hwe- kernels share are fetched once and kept while any
# product names them; a filter that selects nothing changes nothing;
# --delete-excluded and --max-delete; a whole mirror keeps upstream's
# signed documents; the two commands with --sign-key give a filtered
# mirror signed with a local key that verifies and lists both selections.
. tests/lib.sh
command -v nginx >/dev/null || { fail "this test needs nginx (scripts/install-deps.sh installs it)"; finish; exit 1; }
M=$BIN/sstream-mirror
V=$BIN/sstream-verify
export GNUPGHOME=$T/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key 'MAAS test <maas@example.invalid>' rsa2048 sign never 2>/dev/null
gpg --batch --quiet --export maas@example.invalid >"$T/maas.gpg"
W=$T/www
"$PY" tests/mkmaas.py "$W/ephemeral-v3/stable" --sign maas@example.invalid
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
N=$T/nginx
nginx_conf "$N" "	access_log $N/access.log;
	server { listen 127.0.0.1:$PORT; root $W; }"
nginx_run "$N" "http://127.0.0.1:$PORT/ephemeral-v3/stable/streams/v1/index.json"

KEYRING_FILE=$T/maas.gpg
IMAGE_SRC=http://127.0.0.1:$PORT/ephemeral-v3/stable

# listed DIR: "product version item path" of every item the target lists,
# by the Python reference flattener.
listed() {
	for f in "$1"/streams/v1/*.json; do
		case $f in */index.json) continue ;; esac
		"$PY" tests/refquery.py "$f"
	done | sort
}
# expected FILTER...: what the source lists for those filters, newest version only
expected() {
	for f in "$W"/ephemeral-v3/stable/streams/v1/*.json; do
		case $f in */index.json) continue ;; esac
		"$PY" tests/refquery.py "$f" --max 1 "$@"
	done
}
gets() { grep -c "GET /ephemeral-v3/stable/$1 " "$N/access.log"; }

for order in boot-first loaders-first; do
	IMAGE_DIR=$T/$order/maas/images/ephemeral-v3/stable
	boot() { sstream-mirror --keyring=$KEYRING_FILE $IMAGE_SRC $IMAGE_DIR 'arch=amd64' 'release~(bionic|focal)' --max=1 --progress; }
	loaders() { sstream-mirror --keyring=$KEYRING_FILE $IMAGE_SRC $IMAGE_DIR 'os~(grub*|pxelinux)' --max=1 --progress; }
	sstream-mirror() { "$M" "$@"; }
	: >"$N/access.log"
	if [ $order = boot-first ]; then
		expect 0 "$order: the boot images command" boot
		expect 0 "$order: the bootloaders command" loaders
	else
		expect 0 "$order: the bootloaders command" loaders
		expect 0 "$order: the boot images command" boot
	fi
	{ expected 'arch=amd64' 'release~(bionic|focal)'; expected 'os~(grub*|pxelinux)'; } | sort >"$T/want"
	listed "$IMAGE_DIR" >"$T/have"
	check "$order: the target lists exactly both selections" cmp -s "$T/want" "$T/have"
	check "$order: ... which is not nothing" test "$(wc -l <"$T/have")" -ge 20
	check "$order: every listed file is there" "$PY" tests/treecheck.py "$IMAGE_DIR"
	check "$order: a shared squashfs fetched once" test "$(gets 'focal/amd64/20230102/squashfs')" -eq 1
	check "$order: --progress printed progress lines off a terminal" err_has '[0-9]/[0-9]* files'
	for rerun in 1 2; do
		expect 0 "$order: rerun $rerun of the boot images command" boot
		expect 0 "$order: rerun $rerun of the bootloaders command" loaders
	done
	listed "$IMAGE_DIR" >"$T/have"
	check "$order: after the reruns both selections are still listed" cmp -s "$T/want" "$T/have"
	check "$order: reruns fetch no item again" test "$(gets 'focal/amd64/20230102/squashfs')" -eq 1
	check "$order: nothing is waiting to be deleted" sh -c "! grep -q '^P' '$IMAGE_DIR/.sstream/state'"
done

# ---- a filter that selects nothing ---------------------------------------------
D=$T/boot-first/maas/images/ephemeral-v3/stable
(cd "$D" && find . -type f ! -path './.sstream/*' ! -name index.html | sort | xargs sha256sum) >"$T/before"
expect 2 "a typo'd value selects nothing: exit 2" "$M" --keyring="$KEYRING_FILE" "$IMAGE_SRC" "$D" 'arch=amd46'
check "... naming the filter" err_has "arch=amd46"
expect 2 "an unknown key: exit 2" "$M" --keyring="$KEYRING_FILE" "$IMAGE_SRC" "$D" 'architecture=amd64'
check "... saying the key is unknown and which there are" err_has "no product has 'architecture'; keys are .*arch"
(cd "$D" && find . -type f ! -path './.sstream/*' ! -name index.html | sort | xargs sha256sum) >"$T/after"
check "... and the target is unchanged" cmp -s "$T/before" "$T/after"

# ---- --max-delete and --delete-excluded ------------------------------------------
expect 1 "--delete-excluded over --max-delete: nothing deleted" "$M" --keyring="$KEYRING_FILE" --grace 0 --delete-excluded --max-delete 3 "$IMAGE_SRC" "$D" 'os~(grub*|pxelinux)' --max=1
check "... said so" err_has "more than --max-delete 3: none deleted"
(cd "$D" && find . -type f ! -path './.sstream/*' ! -path './streams/*' ! -name index.html | sort | xargs sha256sum) >"$T/after"
check "... every item file is still there (the listing moved on; deletions wait)" sh -c "grep -v ' ./streams/' '$T/before' | cmp -s - '$T/after'"
expect 0 "--delete-excluded drops the other selection" "$M" --keyring="$KEYRING_FILE" --grace 0 --delete-excluded "$IMAGE_SRC" "$D" 'os~(grub*|pxelinux)' --max=1
expected 'os~(grub*|pxelinux)' | sort >"$T/want"
listed "$D" >"$T/have"
check "... the target lists only the bootloaders" cmp -s "$T/want" "$T/have"
check "... and the boot files are gone" test ! -e "$D/focal/amd64/20230102/squashfs"
check "... consistent" "$PY" tests/treecheck.py "$D"

# ---- the documented commands with --sign-key: a signed filtered mirror ---------------
# (MAAS's boot source then uses the local keyring: see the README)
gpg --batch --quiet --passphrase '' --quick-gen-key 'Local mirror <mirror@example.invalid>' rsa2048 sign never 2>/dev/null
gpg --batch --quiet --export mirror@example.invalid >"$T/local.gpg"
IMAGE_DIR=$T/signed/maas/images/ephemeral-v3/stable
boot() { sstream-mirror --keyring=$KEYRING_FILE $IMAGE_SRC $IMAGE_DIR 'arch=amd64' 'release~(bionic|focal)' --max=1 --progress --sign-key mirror@example.invalid; }
loaders() { sstream-mirror --keyring=$KEYRING_FILE $IMAGE_SRC $IMAGE_DIR 'os~(grub*|pxelinux)' --max=1 --progress --sign-key mirror@example.invalid; }
expect 0 "signed: the boot images command with --sign-key" boot
expect 0 "signed: the bootloaders command with --sign-key" loaders
expect 0 "signed: sstream-verify --keyring (the local key) passes" "$V" --keyring "$T/local.gpg" "$IMAGE_DIR"
expect 3 "signed: ... and upstream's keyring does not (it is our view, not theirs)" "$V" --keyring "$T/maas.gpg" "$IMAGE_DIR"
# signed_listed DIR: what the signed products files list (gpg reads them)
signed_listed() {
	for f in "$1"/streams/v1/*.sjson; do
		case $f in */index.sjson) continue ;; esac
		gpg --batch --quiet --decrypt "$f" 2>/dev/null >"$T/body.json"
		"$PY" tests/refquery.py "$T/body.json"
	done | sort
}
{ expected 'arch=amd64' 'release~(bionic|focal)'; expected 'os~(grub*|pxelinux)'; } | sort >"$T/want"
signed_listed "$IMAGE_DIR" >"$T/have"
check "signed: the .sjson list exactly both selections" cmp -s "$T/want" "$T/have"
check "signed: ... which is not nothing" test "$(wc -l <"$T/have")" -ge 20
expect 0 "signed: a rerun without --sign-key (the key is remembered)" "$M" --keyring="$KEYRING_FILE" "$IMAGE_SRC" "$IMAGE_DIR" 'os~(grub*|pxelinux)' --max=1
expect 0 "signed: ... still verifies" "$V" --keyring "$T/local.gpg" "$IMAGE_DIR"

# ---- a whole mirror of the signed tree ---------------------------------------------
U=$T/whole
expect 0 "a whole mirror keeps upstream's signed documents" "$M" --keyring="$KEYRING_FILE" "$IMAGE_SRC" "$U"
check "... byte for byte" cmp -s "$U/streams/v1/index.sjson" "$W/ephemeral-v3/stable/streams/v1/index.sjson"
expect 0 "... verifying with upstream's keyring" "$V" --keyring "$T/maas.gpg" "$U"
expect 0 "a whole mirror with --sign-key" "$M" --keyring="$KEYRING_FILE" "$IMAGE_SRC" "$T/whole-signed" --sign-key mirror@example.invalid
for f in "$W"/ephemeral-v3/stable/streams/v1/*.sjson; do
	check "... keeps upstream's ${f##*/} byte for byte" cmp -s "$f" "$T/whole-signed/streams/v1/${f##*/}"
done
finish
