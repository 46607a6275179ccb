# SPDX-License-Identifier: Apache-2.0
# kill -9 at random moments of every publish subcommand that writes (add,
# remove, prune, rollback, import) and of a mirror update that changes a
# products file's product list: right after each kill the tree verifies
# with sstream-verify (every index names products files that list exactly
# its products, every listed file is there); a rerun completes, and leaves
# a tree that verifies and no temporary file.
. tests/lib.sh
P=$BIN/sstream-publish
V=$BIN/sstream-verify
KILLS=${SS_KILLS:-50}
I=$T/img
mkdir -p "$I/root"
echo hello >"$I/root/hello"
tar -C "$I/root" -cf "$I/root.tar" .
# meta_tar NAME RELEASE DATE: a metadata tarball
meta_tar() {
	mkdir -p "$I/$1"
	printf 'architecture: x86_64\ncreation_date: %s\nproperties:\n  os: KillOS\n  release: %s\n  variant: default\n' \
		"$3" "$2" >"$I/$1/metadata.yaml"
	tar -C "$I/$1" -cf "$I/$1.tar" metadata.yaml
}
meta_tar one-old one 1795910400
meta_tar one-new one 1795996800
meta_tar two two 1795910400
meta_tar three three 1795910400

# The tree every campaign starts from: product one with two versions,
# product two; its history has three records.
B=$T/base
expect 0 "base: add one (old)" "$P" add "$B" "$I/one-old.tar" "$I/root.tar"
expect 0 "base: add one (new)" "$P" add "$B" "$I/one-new.tar" "$I/root.tar"
REV_ONE=$("$P" history "$B" --count 1 | cut -d' ' -f1)
expect 0 "base: add two" "$P" add "$B" "$I/two.tar" "$I/root.tar"
FP_TWO=$(cut -d' ' -f1 "$T/out")
expect 0 "base verifies" "$V" "$B"
check "a record to roll back to" test -n "$REV_ONE"
cat >"$T/items.json" <<'JSON'
[{"content_id": "org.example:k", "product_name": "p", "version_name": "1", "item_name": "x",
  "path": "files/x", "size": 0, "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}]
JSON
mkdir -p "$B/files" && touch "$B/files/x"

# Nothing a killed run may leave once a rerun is done: copies in
# .sstream/tmp, temporary files of atomic writes, alternates of a switch.
leftovers() { find "$1/.sstream/tmp" "$1/streams" -name '.*' -o -path "$1/.sstream/tmp/*" -type f; }

# cmd OP TREE: the command line of OP on TREE, in CMD (run directly, so
# that kill -9 hits sstream-publish itself)
cmd() {
	case $1 in
	add) CMD=("$P" add -q "$2" "$I/three.tar" "$I/root.tar") ;;
	signed-add) CMD=("$P" add -q "${K[@]}" "$2" "$I/three.tar" "$I/root.tar") ;;
	signed-remove) CMD=("$P" remove "${K[@]}" "$2" "$FP_TWO") ;;
	mirror) CMD=("$BIN/sstream-mirror" --no-history --grace 0 "$T/msrc2" "$2" arch=amd64) ;;
	mirror-verbatim) CMD=("$BIN/sstream-mirror" --no-history --grace 0 "$T/msrc2" "$2") ;;
	remove) CMD=("$P" remove "$2" "$FP_TWO") ;;
	prune) CMD=("$P" prune "$2" --keep 1 --grace 0s) ;;
	rollback) CMD=("$P" rollback "$2" "$REV_ONE") ;;
	import) CMD=("$P" import "$2" "$T/items.json") ;;
	esac
}

# signed: the same, with .sjson files beside (verified with the keyring)
export GNUPGHOME=$T/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key 'Publisher <pub@example.invalid>' rsa2048 sign never 2>/dev/null
gpg --batch --quiet --export pub@example.invalid >"$T/pub.gpg"
K=(--sign-key pub@example.invalid)
SB=$T/signed-base
expect 0 "signed base: add one" "$P" add "${K[@]}" "$SB" "$I/one-old.tar" "$I/root.tar"
expect 0 "signed base: add two" "$P" add "${K[@]}" "$SB" "$I/two.tar" "$I/root.tar"
expect 0 "signed base verifies with the keyring" "$V" --keyring "$T/pub.gpg" "$SB"

# the mirror writes its documents the same way: an update that changes the
# product list of a products file, filtered and verbatim
"$PY" tests/mkhostile.py "$T/msrc1" '{"docs": [{"key": "a", "path": "streams/v1/a.json", "items": {"p1/1/x": "files/1", "p2/1/x": "files/2"}}]}'
"$PY" tests/mkhostile.py "$T/msrc2" '{"docs": [{"key": "a", "path": "streams/v1/a.json", "items": {"p1/1/x": "files/1", "p3/1/x": "files/3"}}]}'
expect 0 "mirror base (filtered)" "$BIN/sstream-mirror" --no-history "$T/msrc1" "$T/mbase" arch=amd64
expect 0 "mirror base (verbatim)" "$BIN/sstream-mirror" --no-history "$T/msrc1" "$T/mbase-verbatim"

# campaign OP: KILLS kills of OP at random moments in fresh copies of the base.
campaign() {
	op=$1 base=$2 spread=$3 kills=$4 bad_verify=0 bad_rerun=0 bad_after=0 left=0 landed=0
	shift 4
	W=$T/work
	for i in $(seq "$kills"); do
		rm -rf "$W"
		cp -a "$base" "$W"
		cmd "$op" "$W"
		"${CMD[@]}" >/dev/null 2>&1 &
		pid=$!
		sleep "$((RANDOM % spread / 1000)).$(printf %03d $((RANDOM % spread % 1000)))"
		kill -9 "$pid" 2>/dev/null && landed=$((landed + 1))
		wait "$pid" 2>/dev/null
		# A kill between a document's plain and signed view leaves the
		# views apart until the rerun (each view is whole in itself):
		# verify names it, and nothing else may fail.
		if ! "$V" "$@" "$W" >"$T/verify.out" 2>&1 &&
			{ ! grep -q 'the signed view differs from the plain one' "$T/verify.out" ||
			  grep ': FAIL ' "$T/verify.out" | grep -qv 'the signed view differs from the plain one'; }; then
			bad_verify=$((bad_verify + 1))
			[ "$bad_verify" -gt 1 ] || sed "s/^/    $op kill $i: /" "$T/verify.out" | head -3 >&2
		fi
		"${CMD[@]}" >"$T/rerun.out" 2>&1
		rc=$?
		# a remove that the killed run completed has nothing left to remove
		if [ "$rc" -ne 0 ] && ! { [ "${op#signed-}" = remove ] && [ "$rc" -eq 2 ] && grep -q 'no image' "$T/rerun.out"; }; then
			bad_rerun=$((bad_rerun + 1))
			[ "$bad_rerun" -gt 1 ] || sed "s/^/    $op rerun $i (exit $rc): /" "$T/rerun.out" | head -3 >&2
		fi
		"$V" "$@" "$W" >/dev/null 2>&1 || bad_after=$((bad_after + 1))
		[ -z "$(leftovers "$W")" ] || { left=$((left + 1)); [ "$left" -gt 1 ] || leftovers "$W" | sed "s/^/    $op leftover: /" >&2; }
	done
	# a kill sent after the run had finished tests nothing
	check "$op: kills landed in running processes ($landed of $kills)" test "$landed" -gt 0
	check "$op: the tree verifies after each of $kills kills ($bad_verify did not)" test "$bad_verify" -eq 0
	check "$op: each rerun completes ($bad_rerun did not)" test "$bad_rerun" -eq 0
	check "$op: the tree verifies after each rerun ($bad_after did not)" test "$bad_after" -eq 0
	check "$op: no temporary file after a rerun ($left left some)" test "$left" -eq 0
}

# what each operation does without a kill, so that the campaigns test something
X=$T/plain
cp -a "$B" "$X"
cmd add "$X" && expect 0 "add a new product" "${CMD[@]}"
check "... in the index" grep -q 'killos:three' "$X/streams/v1/index.json"
cmd remove "$X" && expect 0 "remove a whole product" "${CMD[@]}"
check "... gone from the index" sh -c "! grep -q 'killos:two' '$X/streams/v1/index.json'"
cmd rollback "$X" && expect 0 "roll back to an older product list" "${CMD[@]}"
check "... product three gone again" sh -c "! grep -q 'killos:three' '$X/streams/v1/index.json'"
cmd prune "$X" && expect 0 "prune a version" "${CMD[@]}"
check "... its files deleted" test "$(find "$X/images" -type f | wc -l)" -eq 2
cmd import "$X" && expect 0 "import a second content id" "${CMD[@]}"
expect 0 "all of that verifies" "$V" "$X"

# kills at random moments over the first 40 ms (an unsigned operation
# takes 20-35 ms); signing takes longer: 300 ms
for op in add remove prune rollback import; do
	campaign "$op" "$B" 40 "$KILLS"
done
campaign mirror "$T/mbase" 40 "$KILLS"
campaign mirror-verbatim "$T/mbase-verbatim" 40 "$KILLS"
for op in signed-add signed-remove; do
	campaign "$op" "$SB" 300 $((KILLS / 2)) --keyring "$T/pub.gpg"
done
finish
