# SPDX-License-Identifier: Apache-2.0
# What the benchmark scripts share (sourced): now; best - the best wall
# time in seconds of BEST_OF (default 3) runs of a command, its output
# discarded; ratio A B; stats - the median and max of numbers on stdin.
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
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
# the median and the max of a list of numbers, one per line on stdin
stats() { sort -n | awk '{ v[NR] = $1 } END { printf "%.3f %.3f\n", v[int((NR + 1) / 2)], v[NR] }'; }
