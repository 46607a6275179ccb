#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Replays every fuzz corpus file and every past crash (tests/fuzz/corpus/,
# tests/fuzz/crashes/) through its target, built without libFuzzer by
# make check (tests/fuzz/replay.c): each input is one check.
. tests/lib.sh
for src in tests/fuzz/fuzz_*.c; do
	t=${src#tests/fuzz/fuzz_}
	t=${t%.c}
	bin=$TOP/$BUILD/tests/fuzz/replay-$t
	if [ ! -x "$bin" ]; then
		fail "fuzz target $t: $bin is not built (make check builds it)"
		continue
	fi
	run "$bin" "tests/fuzz/corpus/$t" "tests/fuzz/crashes/$t"
	line=$(grep -E '^[0-9]+ passed, 0 failed$' "$T/out")
	n=${line%% passed*}
	if [ "$RC" -eq 0 ] && [ -n "$line" ] && [ "$n" -gt 0 ]; then
		PASS=$((PASS + n))
	else
		fail "fuzz target $t: replay exit $RC (${line:-no summary})"
		run "$bin" -v "tests/fuzz/corpus/$t" "tests/fuzz/crashes/$t"
		grep -v '^replay: ' "$T/err" | head -20 >&2
		grep '^replay: ' "$T/err" | tail -1 >&2
	fi
done
finish
