# SPDX-License-Identifier: Apache-2.0
# Metadata history (libgit2): records across mirror runs shaped like
# lxc-images 20230424 -> 20230703, history and diff output, rollback that
# works and rollback refused, a damaged history, no record on a no-op run.
. tests/lib.sh
M=$BIN/sstream-mirror
P=$BIN/sstream-publish
V=$BIN/sstream-verify
W=$T/www
"$PY" tests/mkpayload.py "$FIXTURES/real/lxc-images-20230424.json" "$W/up1" '^(alpine|ubuntu):[^:]*:amd64:' --index
"$PY" tests/mkpayload.py "$FIXTURES/real/lxc-images-20230703.json" "$W/up2" '^(alpine|ubuntu):[^:]*:amd64:' --index
ln -s up1 "$W/current"
count() { "$P" history "$1" | wc -l | tr -d ' '; }

D=$T/mirror
expect 0 "first mirror" "$M" --max 2 "$W/current" "$D"
check "one record" test "$(count "$D")" -eq 1
expect 0 "no-op rerun" "$M" --max 2 "$W/current" "$D"
check "no record for a no-op run" test "$(count "$D")" -eq 1
rm "$W/current"; ln -s up2 "$W/current"
expect 0 "upstream update" "$M" --max 2 "$W/current" "$D"
check "two records" test "$(count "$D")" -eq 2
expect 0 "history" "$P" history "$D"
check "newest first, with the tool and what changed" sh -c "head -n 1 '$T/out' | grep -q 'sstream-mirror: +[0-9]* -[0-9]* versions'"
expect 0 "history --count 1 --format json" "$P" history "$D" --count 1 --format json
check "json: one record with its versions" "$PY" -c '
import json, sys
l = json.load(open(sys.argv[1]))
assert len(l) == 1 and l[0]["tool"] == "sstream-mirror", l
assert "+ ubuntu:mantic:amd64:default" in l[0]["message"] and "- ubuntu:kinetic:amd64:default" in l[0]["message"], l[0]["message"]
' "$T/out"
expect 0 "diff of the last change" "$P" diff "$D"
check "diff: a version added" out_has "^+ version ubuntu:mantic:amd64:default 20230"
check "diff: a version removed" out_has "^- version ubuntu:kinetic:amd64:default 20230"
check "diff: items too" out_has "^+ item  *ubuntu:mantic:amd64:default 20230.* root.squashfs$"
expect 0 "diff between named records" "$P" diff "$D" HEAD HEAD~1
check "diff reversed" out_has "^- version ubuntu:mantic:amd64:default"
expect 64 "diff of a record that does not exist" "$P" diff "$D" nosuchrev HEAD

# rollback: files still here (grace period) -> works, and is recorded
FIRST=$("$P" history "$D" | tail -n 1 | cut -d' ' -f1)
expect 0 "rollback to the first record" "$P" rollback "$D" HEAD~1
check "rollback recorded" test "$(count "$D")" -eq 3
expect 0 "history after the rollback" "$P" history "$D"
check "the rollback names the record it restored" sh -c "head -n 1 '$T/out' | grep -q '^[0-9a-f]\{12\} .* sstream-publish: rollback to $FIRST (HEAD~1); '"
check "dates in ISO 8601 with the zone" sh -c "! grep -v '^[0-9a-f]\{12\} [0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9][+-][0-9][0-9]:[0-9][0-9] ' '$T/out'"
check "each line names versions added and removed" sh -c "sed -n 2p '$T/out' | grep -q '; +ubuntu:[^ ]* 20230[0-9_:]*, .*; -ubuntu:\|; +[a-z]*:[^ ]* 20230.*; -[a-z]*:[^ ]* 20230'"
check "many versions: three named, the rest counted" sh -c "sed -n 2p '$T/out' | grep -q ' (+[0-9]* more); .* (-[0-9]* more)$'"
expect 0 "the rolled-back tree verifies" "$V" "$D"
expect 0 "the rolled-back tree lists the old versions" "$BIN/sstream-query" -f '%(version_name)s' "$D" product_name=ubuntu:kinetic:amd64:default ftype=squashfs
check "kinetic is back" test "$(out_lines)" -eq 2

# rollback refused: the files of the old record were pruned
D2=$T/pruned
rm "$W/current"; ln -s up1 "$W/current"
expect 0 "mirror (grace 0)" "$M" --max 1 --grace 0 "$W/current" "$D2" 'release~^(jammy|3.17)$'
rm "$W/current"; ln -s up2 "$W/current"
expect 0 "update (grace 0): old files deleted" "$M" --max 1 --grace 0 "$W/current" "$D2" 'release~^(jammy|3.17)$'
snap() { (cd "$1" && find . -path ./.sstream -prune -o -type f -printf '%p %s %T@\n' | sort); }
snap "$D2" >"$T/s1"
expect 2 "rollback refused" "$P" rollback "$D2" HEAD~1
check "the missing files are listed" err_has "images/ubuntu/jammy/amd64/.*: missing"
check "refused: nothing changed" sh -c "snap() { (cd '$D2' && find . -path ./.sstream -prune -o -type f -printf '%p %s %T@\n' | sort); }; snap | cmp -s - '$T/s1'"
check "refused: not recorded" test "$(count "$D2")" -eq 2

# publish records too
D3=$T/site
FP=$("$PY" tests/mklxdtree.py "$T/img")
MD=$(find "$T/img" -name lxd.tar.xz)
RT=$(find "$T/img" -name rootfs.tar.xz)
expect 0 "publish add" "$P" add "$D3" "$MD" "$RT"
check "publish recorded" sh -c "'$P' history '$D3' | grep -q 'sstream-publish: +1 -0 versions'"
expect 0 "publish add again" "$P" add "$D3" "$MD" "$RT"
check "no record for nothing" test "$(count "$D3")" -eq 1
check "few versions: all named, UTC as +00:00" sh -c "TZ=UTC '$P' history '$D3' | grep -q 'T[0-9:]*+00:00 sstream-publish: .*; +testos:one:amd64:default [0-9_]*$'"
expect 0 "--no-history" "$P" add --no-history "$T/nohist" "$MD" "$RT"
check "no history repository" test ! -e "$T/nohist/.sstream/history.git"
expect 0 "mirror --no-history" "$M" --no-history "$W/current" "$T/nohist2" --max 1 'release=3.17'
check "no history repository for the mirror" test ! -e "$T/nohist2/.sstream/history.git"

# a damaged history never breaks a run: exit 1 with a warning, the tree complete
D4=$T/damaged
expect 0 "mirror" "$M" --max 1 "$W/up1" "$D4" 'release=3.17'
echo "garbage" >"$D4/.sstream/history.git/HEAD"
expect 1 "a run with a damaged history" "$M" --max 1 "$W/up2" "$D4" 'release=3.17'
check "warned" err_has "warning: history of"
expect 0 "the tree is complete all the same" "$V" "$D4"
expect 2 "history of a damaged repository" "$P" history "$D4"

# What each record says, against the documents themselves (read here, in
# Python): a mirror's record takes what it says of the documents from the
# items it wrote (upstream's model, or our view's items), not from their
# bytes; the two must agree.  Verbatim (no filter) and a view (--max 2
# over a filter), each over two upstream generations.
summary() {
	"$PY" - "$@" <<'PY'
import collections, glob, json, os, sys
def state(d):
    vers, items, n, b = set(), collections.Counter(), 0, 0
    for f in sorted(glob.glob(d + "/*.json")):
        name = os.path.basename(f)
        if name == "index.json" or name.startswith("."):
            continue
        doc = json.load(open(f))
        for pn, p in doc["products"].items():
            for vn, v in p["versions"].items():
                for iname, it in v["items"].items():
                    get = lambda k: next((l[k] for l in (it, v, p, doc) if k in l), None)
                    vers.add(pn + " " + vn)
                    items["%s %s %s\t%s" % (pn, vn, iname, get("sha256") or "")] += 1
                    n += 1
                    size = get("size")
                    b += size if isinstance(size, int) and size > 0 else 0
    return vers, items, n, b
ov, oi, _, _ = state(sys.argv[1]) if sys.argv[1] != "-" else (set(), collections.Counter(), 0, 0)
nv, ni, n, b = state(sys.argv[2])
print("+%d -%d versions, +%d -%d items; %d items, %d bytes" % (len(nv - ov), len(ov - nv), sum((ni - oi).values()),
      sum((oi - ni).values()), n, b))
PY
}
for how in verbatim view; do
	D5=$T/said-$how
	filter=()
	[ $how = view ] && filter=(--max 2 "$D5" 'release~^(3.17|jammy|focal)$')
	[ $how = view ] || filter=("$D5")
	expect 0 "$how: first mirror" "$M" "$W/up1" "${filter[@]}"
	cp -r "$D5/streams/v1" "$T/said-$how.1"
	expect 0 "$how: upstream update" "$M" "$W/up2" "${filter[@]}"
	first=$(summary - "$T/said-$how.1")
	second=$(summary "$T/said-$how.1" "$D5/streams/v1")
	"$P" history "$D5" >"$T/said" 2>&1
	check "$how: the first record says what the documents hold ($first)" \
		sh -c "tail -n 1 '$T/said' | grep -qF '$first'"
	check "$how: the second too ($second)" sh -c "head -n 1 '$T/said' | grep -qF '$second'"
done

finish
