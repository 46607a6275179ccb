# SPDX-License-Identifier: Apache-2.0
# The tools' command lines, all parsed from option tables: every tool and
# sstream-publish / sstream-verify subcommand answers --help (exit 0, with
# its options), refuses an unknown option or another subcommand's option
# (exit 64, naming it), and -n, -v, -q, -V mean the same everywhere.
. tests/lib.sh
M=$BIN/sstream-mirror
P=$BIN/sstream-publish
V=$BIN/sstream-verify
Q=$BIN/sstream-query
SRC=$FIXTURES/examples/foocloud

# ---- --help lists each command's own options ---------------------------------------
# help_lists DESC OPTION...: the last --help printed each OPTION
help_lists() {
	desc=$1
	shift
	for o in "$@"; do check "$desc --help lists $o" out_has "^ *\(-[a-zA-Z], \)\?$o\b"; done
}
expect 0 "mirror --help" "$M" --help
help_lists mirror --max --keep --keyring --no-verify --dry-run --jobs --report --metrics --progress --path --verbose --quiet --help --version
expect 0 "query --help" "$Q" --help
help_lists query --max --format --fields --verbose --quiet --version
expect 0 "verify --help" "$V" --help
help_lists verify --keyring --orphans --deep --files --jobs --format --max-age --verbose --quiet --version
expect 0 "verify image --help" "$V" image --help
help_lists "verify image" --expect --quiet --help --version
check "verify image --help is about image" out_has "usage: sstream-verify image"
expect 0 "publish --help" "$P" --help
check "publish --help names every command" sh -c "for c in build add remove list import prune history diff rollback webconf; do grep -q \"^\$c \" '$T/out' || exit 1; done"
expect 0 "publish build --help" "$P" build --help
help_lists "publish build" --metadata --output --templates --unified --split --compression --level --keep-owners --rootfs --quiet
expect 0 "publish add --help" "$P" add --help
help_lists "publish add" --dry-run --alias --delta --sign-key --unsign --no-history --metrics --quiet
expect 0 "publish remove --help" "$P" remove --help
help_lists "publish remove" --dry-run --all-versions --sign-key --unsign --no-history --metrics --quiet
expect 0 "publish list --help" "$P" list --help
help_lists "publish list" --format
expect 0 "publish import --help" "$P" import --help
help_lists "publish import" --dry-run --sign-key --unsign --no-history --metrics --quiet
expect 0 "publish prune --help" "$P" prune --help
help_lists "publish prune" --keep --grace --dry-run --sign-key --unsign --no-history --metrics --quiet
expect 0 "publish history --help" "$P" history --help
help_lists "publish history" --count --format
expect 0 "publish diff --help" "$P" diff --help
help_lists "publish diff" --help --version
expect 0 "publish rollback --help" "$P" rollback --help
help_lists "publish rollback" --sign-key --unsign --no-history --metrics
expect 0 "publish webconf --help" "$P" webconf --help
help_lists "publish webconf" --base-url --server --dry-run

# ---- unknown options and other commands' options: 64, named -------------------------
# refused DESC OPTION CMD...: exit 64 with OPTION named on stderr, nothing on stdout
refused() {
	desc=$1 opt=$2
	shift 2
	expect 64 "$desc" "$@"
	check "$desc: names $opt" err_has "'$opt'"
	check "$desc: prints nothing on stdout" test ! -s "$T/out"
}
refused "mirror --bogus" --bogus "$M" --bogus "$SRC" "$T/m0"
refused "query --bogus" --bogus "$Q" "$SRC" --bogus
refused "verify --bogus" --bogus "$V" --bogus "$SRC"
refused "verify -Z" -Z "$V" -Z "$SRC"
refused "verify image --orphans (verify's, not image's)" --orphans "$V" image "$T/x" --orphans
refused "query --keep (mirror's)" --keep "$Q" "$SRC" --keep
refused "verify --grace (mirror's)" --grace "$V" --grace 1h "$SRC"
for c in build add remove list import prune history diff rollback webconf; do
	refused "publish $c --bogus" --bogus "$P" "$c" "$T/tree" --bogus
done
refused "publish list --keep 3 (prune's)" --keep "$P" list "$T/tree" --keep 3
refused "publish history --alias (add's)" --alias "$P" history "$T/tree" --alias x
refused "publish add --base-url (webconf's)" --base-url "$P" add "$T/tree" x --base-url http://x/
refused "publish webconf --sign-key" --sign-key "$P" webconf "$T/tree" --base-url http://x/ --sign-key K
refused "publish webconf --unsign" --unsign "$P" webconf "$T/tree" --base-url http://x/ --unsign
refused "publish list --unsign" --unsign "$P" list "$T/tree" --unsign
refused "publish diff --format" --format "$P" diff "$T/tree" --format json
refused "publish build --alias" --alias "$P" build "$T/r" --alias x
refused "an option's missing argument" --keep "$P" prune "$T/tree" --keep
expect 64 "publish: unknown command" "$P" frobnicate "$T/tree"
check "... named" err_has "'frobnicate'"

# ---- -n, --dry-run: a dry run where it is taken, refused elsewhere ------------------
I=$T/img
mkdir -p "$I/meta" "$I/root/bin"
cat >"$I/meta/metadata.yaml" <<'YAML'
architecture: x86_64
creation_date: 1795910400
properties:
  os: TestOS
  release: one
YAML
echo hi >"$I/root/bin/hi"
tar -C "$I/meta" -cJf "$I/meta.tar.xz" metadata.yaml
tar -C "$I/root" -cJf "$I/root.tar.xz" .
D=$T/tree
expect 0 "publish add" "$P" add -q "$D" "$I/meta.tar.xz" "$I/root.tar.xz" --alias one
check "add -q prints nothing" test ! -s "$T/out"
FP=$(cat "$I/meta.tar.xz" "$I/root.tar.xz" | sha256sum | cut -c1-64)
snap() { (cd "$D" && find . -path ./.sstream -prune -o -type f -printf '%p %s\n' | sort); }
snap >"$T/before"
# every byte of the tree, .sstream/ included, with each entry's kind and mode
full() { (cd "$D" && find . -printf '%y %m %p\n' | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
printf '[{"content_id": "com.example:files", "product_name": "com.example:files:amd64", "version_name": "20261101", "item_name": "f", "path": "imported/f", "size": 1, "sha256": "%s"}]\n' "$(printf a%.0s $(seq 64))" >"$T/items.json"
for dr in -n --dry-run; do
	full >"$T/full-before"
	expect 0 "publish remove $dr (removed for real before)" "$P" remove "$D" "$FP" "$dr"
	check "publish remove $dr: says what it would do" out_has "^would remove 1 image$"
	check "publish remove $dr: every byte as it was" sh -c "cd '$T' && (cd '$D' && find . -printf '%y %m %p\n' | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum) | cmp -s - full-before"
	expect 0 "publish add $dr of a new build" "$P" add "$D" "$I/meta.tar.xz" "$I/root.tar.xz" --alias other "$dr"
	check "publish add $dr: every byte as it was" sh -c "(cd '$D' && find . -printf '%y %m %p\n' | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum) | cmp -s - '$T/full-before'"
	expect 0 "publish import $dr" "$P" import "$D" "$T/items.json" "$dr"
	check "publish import $dr: says it would change the tree" out_has "would change the tree"
	check "publish import $dr: every byte as it was" sh -c "(cd '$D' && find . -printf '%y %m %p\n' | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum) | cmp -s - '$T/full-before'"
	expect 0 "publish rollback $dr" "$P" rollback "$D" HEAD "$dr"
	check "publish rollback $dr: every byte as it was" sh -c "(cd '$D' && find . -printf '%y %m %p\n' | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum) | cmp -s - '$T/full-before'"
	expect 0 "publish webconf $dr" "$P" webconf "$D" --base-url https://img.example.com/a "$dr"
	check "publish webconf $dr: prints the snippet" out_has "^# LXD direct-URL import for https://img.example.com/a "
	check "publish webconf $dr: every byte as it was" sh -c "(cd '$D' && find . -printf '%y %m %p\n' | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum) | cmp -s - '$T/full-before'"
	cp "$T/out" "$T/webconf$dr.out"
	refused "publish history $dr (not a count any more)" "$dr" "$P" history "$D" "$dr" 1
	refused "query $dr" "$dr" "$Q" "$SRC" "$dr"
	refused "verify $dr" "$dr" "$V" "$D" "$dr"
done
expect 0 "publish webconf (the real run)" "$P" webconf "$D" --base-url https://img.example.com/a
check "publish webconf -n printed what the real run prints" cmp -s "$T/out" "$T/webconf-n.out"
check "publish webconf --dry-run printed what the real run prints" cmp -s "$T/out" "$T/webconf--dry-run.out"
check "the real run wrote the snippet" test -s "$D/.sstream/import-nginx.conf"
full >"$T/full-before"
for s in nginx apache; do
	expect 0 "publish webconf -n --server $s, another base URL" "$P" webconf "$D" --base-url https://b.example.com -n --server $s
	check "... every byte as it was (the snippet and its settings included)" sh -c "(cd '$D' && find . -printf '%y %m %p\n' | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum) | cmp -s - '$T/full-before'"
done
expect 64 "publish webconf -n with a bad base URL: the real run's status" "$P" webconf "$D" --base-url 'http://x/"; evil' -n
snap >"$T/before"
expect 0 "publish prune -n" "$P" prune "$D" --keep 1 --grace 0 -n
check "prune -n changed nothing" sh -c "(cd '$D' && find . -path ./.sstream -prune -o -type f -printf '%p %s\n' | sort) | cmp -s - '$T/before'"
expect 0 "mirror -n" "$M" -n "$SRC" "$T/m1"
check "mirror -n: a plan" out_has "^total: add"
check "mirror -n: nothing written" test ! -e "$T/m1/streams"
expect 0 "history --count 1" "$P" history "$D" --count 1
check "history --count 1: one record" test "$(out_lines)" -eq 1
expect 0 "history -c 1" "$P" history "$D" -c 1
check "history -c 1: one record" test "$(out_lines)" -eq 1

# ---- -v, -q, -V ---------------------------------------------------------------------
expect 0 "mirror -v" "$M" -v "$SRC" "$T/m2" --max 1
check "mirror -v: each file added" out_has "^+ "
expect 0 "mirror -q" "$M" -q "$SRC" "$T/m3" --max 1
check "mirror -q: nothing printed" sh -c "test ! -s '$T/out' && test ! -s '$T/err'"
expect 0 "verify -v" "$V" -v "$T/m2"
check "verify -v: every good file" out_has ": OK$"
expect 0 "verify -q" "$V" -q "$T/m2"
check "verify -q: nothing printed" test ! -s "$T/out"
expect 0 "query -v" "$Q" -v "$SRC"
check "query -v: what was loaded, on stderr" err_has "items from"
expect 0 "query -q" "$Q" -q "$SRC"
check "query -q: the items only" test ! -s "$T/err"
expect 0 "verify -q -v: the last one wins" "$V" -q -v "$T/m2"
check "... verbose" out_has ": OK$"
for cmd in "$M" "$Q" "$V" "$V image" "$P build" "$P add" "$P remove" "$P list" "$P import" "$P prune" \
	"$P history" "$P diff" "$P rollback" "$P webconf" "$P"; do
	name=$(echo "$cmd" | sed "s|$BIN/||")
	expect 0 "$name -V" $cmd -V
	check "$name -V: the version" out_has "^sstream-[a-z]* [0-9]"
	expect 0 "$name --version" $cmd --version
done

# ---- --report and --metrics: atomic, no directories made, a failure is exit 1 --------
expect 0 "--report and --metrics" "$M" "$SRC" "$T/r1" --report "$T/r1.json" --metrics "$T/r1.prom"
check "the report parses" "$PY" -c "import json; json.load(open('$T/r1.json'))"
check "the metrics are there" grep -q '^sstream_last_run_result{' "$T/r1.prom"
check "no temporary files left" test "$(ls -a "$T" | grep -c '^\.r1\.')" -eq 0
expect 1 "--report into a missing directory" "$M" "$SRC" "$T/r2" --report "$T/nodir/sub/r.json"
check "... named" err_has "$T/nodir/sub/r.json"
check "... the mirror itself was done" test -f "$T/r2/streams/v1/index.json"
expect 1 "--metrics into a missing directory" "$M" "$SRC" "$T/r2" --metrics "$T/nodir/sub/m.prom"
check "... named" err_has "$T/nodir/sub/m.prom"
check "no directory was created" test ! -e "$T/nodir"
expect 1 "publish --metrics into a missing directory" "$P" add "$D" "$I/meta.tar.xz" "$I/root.tar.xz" --metrics "$T/nodir/p.prom"
check "... named" err_has "$T/nodir/p.prom"
check "... no directory created" test ! -e "$T/nodir"
expect 2 "a failed run's --report still tells, and exit 2 stays 2" "$M" "$T/no-such-source" "$T/r3" --report "$T/r3.json"
check "... the report says 2" grep -q '"result": 2' "$T/r3.json"
# a read-only directory, and a full file system (root: small tmpfs mounts)
RO=$T/ro FULL=$T/full
mkdir -p "$RO" "$FULL"
echo '{"old": true}' >"$RO/r.json"
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=64k,ro tmpfs "$RO" 2>/dev/null &&
	mount -t tmpfs -o size=64k tmpfs "$FULL" 2>/dev/null; then
	EXTRA_CLEANUP="umount_test_mounts"
	umount_test_mounts() { umount "$RO" "$FULL" 2>/dev/null; }
	echo '{"old": true}' >"$FULL/r.json"
	echo 'old 1' >"$FULL/m.prom"
	dd if=/dev/zero of="$FULL/fill" bs=4k 2>/dev/null
	expect 1 "--report on a full file system" "$M" "$SRC" "$T/r4" --report "$FULL/r.json"
	check "... named" err_has "$FULL/r.json"
	check "... the old report is kept whole (not a 0-byte file)" grep -qx '{"old": true}' "$FULL/r.json"
	expect 1 "--metrics on a full file system" "$M" "$SRC" "$T/r4" --metrics "$FULL/m.prom"
	check "... the old metrics kept" grep -qx 'old 1' "$FULL/m.prom"
	check "... no temporary files left" test "$(ls -a "$FULL" | wc -l)" -eq 5
else
	chmod 555 "$RO"
fi
expect 1 "--report in a read-only directory" "$M" "$SRC" "$T/r5" --report "$RO/r.json"
check "... named" err_has "$RO/r.json"
expect 1 "--metrics in a read-only directory" "$M" "$SRC" "$T/r5" --metrics "$RO/m.prom"
check "... named" err_has "$RO/m.prom"
[ "$(id -u)" -eq 0 ] || chmod 755 "$RO"
finish
