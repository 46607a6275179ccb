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
finish
