# SPDX-License-Identifier: Apache-2.0
# The catalogue page as the tools write it: sstream-publish html, every
# change rewriting it (not with --no-html, not in a dry run), a site's own
# index.html never overwritten, the mirror's page with its status block,
# and sstream-verify --orphans knowing the page.
. tests/lib.sh
P=$BIN/sstream-publish
M=$BIN/sstream-mirror
I=$T/img
mkdir -p "$I/meta" "$I/root/bin"
printf 'architecture: x86_64\ncreation_date: 1795910400\nproperties:\n  os: Pageos\n  release: one\n' >"$I/meta/metadata.yaml"
echo hi >"$I/root/bin/hi"
tar -C "$I/meta" -cJf "$I/meta.tar.xz" metadata.yaml
tar -C "$I/root" -cJf "$I/root.tar.xz" .
D=$T/site
expect 0 "add" "$P" add "$D" "$I/meta.tar.xz" "$I/root.tar.xz"
check "add writes the page" grep -q 'pageos' "$D/index.html"
expect 0 "html" "$P" html "$D"
check "html: an unchanged page is left alone" out_has "(unchanged)"
expect 0 "the page is no orphan" "$BIN/sstream-verify" --orphans "$D"
rm "$D/index.html"
expect 0 "remove -n" "$P" remove "$D" pageos/one -n
check "a dry run writes no page" test ! -e "$D/index.html"
expect 0 "remove --no-html" "$P" remove "$D" pageos/one --no-html
check "--no-html writes no page" test ! -e "$D/index.html"
echo '<p>our own page</p>' >"$D/index.html"
expect 1 "add over a site's own index.html" "$P" add "$D" "$I/meta.tar.xz" "$I/root.tar.xz"
check "... is a warning naming it" err_has "index.html' was not written by sstream"
check "... and the page is left as it was" grep -qx '<p>our own page</p>' "$D/index.html"
expect 0 "a mirror of the site" "$M" "$D" "$T/m" 'os=Pageos'
check "the mirror's page lists the product" grep -q 'pageos' "$T/m/index.html"
check "... with its status: source and filters" sh -c "grep -q '$D' '$T/m/index.html' && grep -q 'os=Pageos' '$T/m/index.html'"
expect 0 "the mirror's page is no orphan" "$BIN/sstream-verify" --orphans "$T/m"
expect 0 "mirror --no-html" "$M" --no-html "$D" "$T/m2"
check "... writes no page" test ! -e "$T/m2/index.html"
# ---- the mirror's page from the items the run has loaded: the products as a
# page of the tree read back shows them ----
"$PY" tests/mkpayload.py "$FIXTURES/real/lxc-images-20230424.json" "$T/lxc" '^(alpine|debian):' --index >/dev/null
expect 0 "a filtered mirror of the lxc-images fixture" "$M" "$T/lxc" "$T/lm" 'arch=amd64'
# (its page is rendered while the items reach the disk, and written with
# the run's status once the documents are)
check "... its page has one status block, the run's" sh -c "[ \$(grep -c 'aria-labelledby=\"st\"' '$T/lm/index.html') = 1 ] && grep -q '<dd>ok: [1-9][0-9]* added, 0 removed, 0 failed</dd>' '$T/lm/index.html' && grep -q 'arch=amd64' '$T/lm/index.html'"
imgs() { sed -n '/<section aria-labelledby="imgs">/,$p' "$1"; }
imgs "$T/lm/index.html" >"$T/lm.imgs"
mkdir -p "$T/lm2" && cp -r "$T/lm/streams" "$T/lm2/"
expect 0 "the page of its tree read back" "$TOP/$BUILD/tests/test_catalogue" --write "$T/lm2"
check "... lists the same products, versions and files" sh -c "imgs() { sed -n '/<section aria-labelledby=\"imgs\">/,\$p' \"\$1\"; }; imgs '$T/lm2/index.html' | cmp -s - '$T/lm.imgs'"
check "... which are amd64 only" sh -c "grep -q ':amd64:' '$T/lm.imgs' && ! grep -q ':arm64:' '$T/lm.imgs'"

# ---- a rerun the source answers 304: only the status block changes, and
# the tree is not read for it; a page older than the documents (a run
# with --no-html) is written whole again ----
mkdir -p "$T/www"
cp -r "$D" "$T/www/site"
httpd_start "$T/www/site"
expect 0 "a mirror over http" "$M" "$HTTP_URL" "$T/hm"
check "its page lists the product" grep -q 'pageos' "$T/hm/index.html"
imgs "$T/hm/index.html" >"$T/hm.imgs"
cp "$T/hm/index.html" "$T/hm1.html"
sleep 1.1
expect 0 "a no-op rerun (304)" "$M" "$HTTP_URL" "$T/hm"
check "... rewrites the status block" sh -c "! cmp -s '$T/hm/index.html' '$T/hm1.html' && grep -q '<dd>ok: 0 added, 0 removed, 0 failed</dd>' '$T/hm/index.html'"
check "... and nothing else" sh -c "imgs() { sed -n '/<section aria-labelledby=\"imgs\">/,\$p' \"\$1\"; }; imgs '$T/hm/index.html' | cmp -s - '$T/hm.imgs'"
J=$(cd "$T/hm" && ls streams/v1/*.json | grep -v index.json | head -1)
cp -p "$T/hm/$J" "$T/saved.json"
echo '{"not": "a products file"' >"$T/hm/$J"
touch -r "$T/saved.json" "$T/hm/$J"
sleep 1.1
expect 0 "a no-op rerun reads no document for its page" "$M" "$HTTP_URL" "$T/hm"
check "... the page still lists the product" grep -q 'pageos' "$T/hm/index.html"
cp -p "$T/saved.json" "$T/hm/$J"
printf 'architecture: x86_64\ncreation_date: 1795910400\nproperties:\n  os: Pageos\n  release: two\n' >"$I/meta/metadata.yaml"
tar -C "$I/meta" -cJf "$I/meta2.tar.xz" metadata.yaml
expect 0 "upstream adds a product" "$P" add "$T/www/site" "$I/meta2.tar.xz" "$I/root.tar.xz" --no-html
expect 0 "a run with --no-html takes it" "$M" --no-html "$HTTP_URL" "$T/hm"
check "... the page does not list it yet" sh -c "! grep -q 'pageos:two' '$T/hm/index.html'"
expect 0 "the next run (304)" "$M" "$HTTP_URL" "$T/hm"
check "... writes the page whole: it lists it" grep -q 'pageos:two' "$T/hm/index.html"

# the page is written beside itself: what a killed run left of it goes
echo half >"$T/hm/.index.html.tmp.k1ll3d"
echo mine >"$T/hm/.site-note"
expect 0 "a run after a killed one" "$M" "$HTTP_URL" "$T/hm"
check "... removes the page's temporary file" test ! -e "$T/hm/.index.html.tmp.k1ll3d"
check "... keeps the root's other dot-files" test -e "$T/hm/.site-note"
check "... and leaves no temporary of its own" sh -c "! ls -a '$T/hm' | grep -q 'tmp'"
finish
