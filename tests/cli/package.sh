# SPDX-License-Identifier: Apache-2.0
# The Debian packages: make deb builds sstream and libsstream-dev, lintian
# finds no error, apt can install them (simulated), and the tools unpacked
# into a scratch root (dpkg -x) run from the installed paths: --version, a
# mirror of examples/foocloud, its verification; the man pages lint clean;
# a program builds against the -dev package.
. tests/lib.sh
DEB=$TOP/$BUILD/deb
expect 0 "make deb" env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$TOP" deb BUILD="$BUILD"
[ "$RC" -eq 0 ] || tail -n 20 "$T/out" "$T/err" >&2
PKG=$(ls "$DEB"/sstream_*.deb 2>/dev/null | head -n 1)
DEV=$(ls "$DEB"/libsstream-dev_*.deb 2>/dev/null | head -n 1)
check "the sstream package" test -s "$PKG"
check "the libsstream-dev package" test -s "$DEV"
check "the build left the source tree clean" sh -c "cd '$TOP' && test ! -e debian/.debhelper -a ! -e debian/files -a ! -e debian/sstream -a ! -e debian/tmp"
check "nothing written beside the tree" sh -c "! ls '$TOP'/../sstream_* '$TOP'/../libsstream-dev_* >/dev/null 2>&1"

expect 0 "lintian: no errors" lintian --fail-on error "$DEB"/*.changes
[ "$RC" -eq 0 ] || grep '^E:' "$T/out" >&2
expect 0 "apt can install sstream with its dependencies from the archive (simulated)" \
	apt-get -s -o Debug::NoLocking=1 install "$PKG"
check "the dependencies come from shlibs" sh -c "dpkg-deb -f '$PKG' Depends | grep -q 'libcurl4.*libgit2.*libssl3'"
check "depends on adduser (postinst creates the user)" sh -c "dpkg-deb -f '$PKG' Depends | grep -qw adduser"
dpkg-deb -e "$PKG" "$T/ctl"
check "postinst creates the system user sstream" grep -q 'adduser --system .*sstream' "$T/ctl/postinst"

R=$T/root
dpkg -x "$PKG" "$R"
dpkg -x "$DEV" "$R"
for t in mirror publish verify query; do
	expect 0 "installed sstream-$t --version" "$R/usr/bin/sstream-$t" --version
	check "sstream-$t --version names itself and libcurl" sh -c "grep -q '^sstream-$t [0-9]' '$T/out' && grep -q '^libcurl ' '$T/out'"
	check "sstream-$t(1) installed and lints clean" sh -c "mandoc -T lint -W warning '$R/usr/share/man/man1/sstream-$t.1.gz' && test -z \"\$(mandoc -T lint -W warning '$R/usr/share/man/man1/sstream-$t.1.gz' 2>&1)\""
	check "completion for sstream-$t" test -e "$R/usr/share/bash-completion/completions/sstream-$t"
done
check "sstream-filters(7) installed" test -s "$R/usr/share/man/man7/sstream-filters.7.gz"
check "the schemas under /usr/share/sstream" test -s "$R/usr/share/sstream/schemas/products.schema.json"
expect 0 "installed mirror of examples/foocloud" "$R/usr/bin/sstream-mirror" --metrics "$T/m.prom" "$TOP/examples/foocloud" "$T/mirror"
expect 0 "installed verify of the mirror" "$R/usr/bin/sstream-verify" "$T/mirror"
expect 0 "installed query of the mirror" "$R/usr/bin/sstream-query" -f '%(item_name)s' "$T/mirror"
check "every item of the example mirrored" test "$(out_lines)" -eq "$("$BIN/sstream-query" -f '%(item_name)s' "$TOP/examples/foocloud" | wc -l)"

U=$R/lib/systemd/system
for u in sstream-mirror@.service sstream-mirror@.timer sstream-verify@.service sstream-verify@.timer; do
	check "unit $u installed" test -s "$U/$u"
done
check "the mirror unit runs as sstream" grep -qx 'User=sstream' "$U/sstream-mirror@.service"
check "the mirror unit writes metrics under /var/lib/sstream" grep -q -- '--metrics /var/lib/sstream/' "$U/sstream-mirror@.service"
check "the mirror unit may write its target" grep -q '^ReadWritePaths=' "$U/sstream-mirror@.service"
# systemd-analyze verify: the instance units, pointed at the unpacked binaries
mkdir -p "$T/units"
for u in sstream-mirror@ sstream-verify@; do
	for k in service timer; do sed "s|/usr/bin/|$R/usr/bin/|" "$U/$u.$k" >"$T/units/${u}t.$k"; done
done
expect 0 "systemd-analyze verify of the units" systemd-analyze verify --man=no "$T"/units/*
check "systemd-analyze has nothing to say" test ! -s "$T/err"
# systemd-analyze security: each service's exposure at most 3.0 ("OK")
for u in sstream-mirror@ sstream-verify@; do
	run systemd-analyze security --offline=true --no-pager "$T/units/${u}t.service"
	score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p' "$T/out")
	check "$u.service: exposure $score is at most 3.0" awk -v s="${score:-99}" 'BEGIN { exit !(s <= 3.0) }'
	check "$u.service: filters system calls and address families" sh -c "grep -q '^SystemCallFilter=@system-service' '$U/$u.service' && grep -q '^RestrictAddressFamilies=' '$U/$u.service' && grep -q '^CapabilityBoundingSet=\$' '$U/$u.service'"
done
check "the units name the installed binaries" sh -c "grep -h '^ExecStart=' '$U'/*.service | grep -v -q /usr/local/ && grep -q 'ExecStart=/usr/bin/' '$U/sstream-verify@.service'"

cat >"$T/v.c" <<'C'
#include <stdio.h>
#include <sstream.h>
int main(void)
{
	struct ss_versions v;
	ss_versions_get(&v);
	printf("%s\n", v.sstream);
	return 0;
}
C
PC=$(ls -d "$R"/usr/lib/*/pkgconfig)
# the scratch root stands in for /usr: its -L first
LIBS="-L$(dirname "$PC") $(PKG_CONFIG_PATH=$PC pkg-config --libs sstream)"
check "sstream.pc: cflags" sh -c "PKG_CONFIG_PATH='$PC' pkg-config --cflags sstream | grep -q -- -I/usr/include"
expect 0 "a program builds against libsstream-dev (static)" sh -c "cc -I'$R/usr/include' -o '$T/v' '$T/v.c' $LIBS"
expect 0 "and runs" "$T/v"
check "it prints the version" out_has '^[0-9][0-9.]*$'
finish
