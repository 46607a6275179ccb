#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs every unit test binary and command-line test script; ends with the
# total "N passed, N failed" line.  Exit 1 when anything failed or a test
# program died before printing its summary.
: "${BUILD:=build}"
SS_FIXTURES=${SS_FIXTURES:-$(pwd)/tests/fixtures/upstream}
SS_TESTDATA=$(pwd)/tests/fixtures
export BUILD SS_FIXTURES SS_TESTDATA
if [ ! -d "$SS_FIXTURES/real" ]; then
	echo "run.sh: shared fixtures not found at $SS_FIXTURES (set SS_FIXTURES)" >&2
	exit 2
fi
passed=0 failed=0 broken=""
log=$(mktemp)
for t in "$BUILD"/tests/test_* tests/cli/*.sh; do
	[ -e "$t" ] || continue
	case $t in
	*.sh) cmd="bash $t" ;;
	*) cmd="$t" ;;
	esac
	$cmd >"$log" 2>&1
	rc=$?
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -z "$line" ]; then
		cat "$log"
		echo "$t: no summary (exit $rc)"
		broken="$broken $t"
		continue
	fi
	p=${line%% passed*}
	f=${line#*passed, }
	f=${f%% failed*}
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		# a program that ran no check proves nothing
		cat "$log"
		echo "$t: ran no check (exit $rc)"
		broken="$broken $t"
		continue
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -ne 0 ] || [ "$rc" -ne 0 ]; then
		grep -v -E '^[0-9]+ passed, [0-9]+ failed' "$log"
		[ "$f" -ne 0 ] || broken="$broken $t"
	fi
	printf '%-40s %s\n' "$t" "$line"
done
rm -f "$log"
if [ -n "$broken" ]; then
	echo "broken:$broken"
	failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
