# SPDX-License-Identifier: Apache-2.0
# What the benchmark scripts share (sourced): now, and best - the best wall
# time in seconds of BEST_OF (default 3) runs of a command, its output
# discarded.
now() { date +%s.%N; }
best() {
	local b=999999 t t0
	for _ in $(seq "${BEST_OF:-3}"); do
		t0=$(now)
		"$@" >/dev/null 2>&1
		t=$(echo "$(now) - $t0" | bc -l)
		b=$(echo "if ($t < $b) $t else $b" | bc -l)
	done
	printf '%.3f' "$b"
}
