#!/bin/bash
# The mirror's transfer engine: liveness on many tiny files at every -j,
# the total --limit-rate cap, stall limit and run deadline, conditional
# requests for the metadata.  Bounds are generous: they catch a scheduler
# that sleeps or a transfer that never ends, not a slow machine.
. tests/lib.sh

SRV=$T/srv
mkdir -p "$SRV"
LOG=$T/httpd.log
"$PY" tests/mkmany.py "$SRV/many" 3000 3 1048576
httpd_start "$SRV"

# ---- liveness: 3000 files of 1-100 bytes and 3 of 1 MiB ----------------
for j in 1 4 16; do
	rm -rf "$T/m$j"
	expect 0 "-j $j: 3003 files mirrored within 120 s" \
		timeout 120 "$BIN/sstream-mirror" -j "$j" --report "$T/r$j.json" "$HTTP_URL/many" "$T/m$j"
	check "-j $j: every file present" test "$(find "$T/m$j/files" -type f | wc -l)" -eq 3003
	check "-j $j: 3003 added" grep -q '"added": 3003' "$T/r$j.json"
done
expect 0 "the -j 16 tree verifies" "$BIN/sstream-verify" "$T/m16"

# ---- --limit-rate caps the total, and nothing stalls under it -----------
# 3 MiB at 1 MiB/s: at least ~2.5 s (unlimited it takes a fraction of a
# second on loopback); the bound of 120 s only catches a stall.
rm -rf "$T/lim"
start=$(date +%s.%N)
expect 0 "--limit-rate 1m with -j 4 completes" \
	timeout 120 "$BIN/sstream-mirror" -j 4 --limit-rate 1m "$HTTP_URL/many" "$T/lim"
secs=$(echo "$(date +%s.%N) - $start" | bc)
check "--limit-rate 1m: 3 MiB took at least 2.5 s (took $secs s)" test "$(echo "$secs >= 2.5" | bc)" -eq 1
check "--limit-rate: every file present" test "$(find "$T/lim/files" -type f | wc -l)" -eq 3003

# ---- stall limit and run deadline ----------------------------------------
mkdir -p "$SRV/slow"
"$PY" tests/mkmany.py "$SRV/slow" 2 1 65536
echo "trickle 2.bin" >"$T/faults"
expect 1 "a server trickling 8 bytes/s is a stall (--timeout 3 --retries 0): partial" \
	timeout 60 "$BIN/sstream-mirror" --timeout 3 --retries 0 "$HTTP_URL/slow" "$T/slow"
check "the stalled item is named" err_has "2.bin"
echo "drip 2.bin" >"$T/faults"
expect 75 "a slow but steady transfer stops at --max-time 4s" \
	timeout 60 "$BIN/sstream-mirror" --max-time 4s --retries 0 "$HTTP_URL/slow" "$T/slow"
check "the time limit is named" err_has "time limit"
: >"$T/faults"
expect 0 "the next run completes the tree" "$BIN/sstream-mirror" "$HTTP_URL/slow" "$T/slow"
expect 0 "and it verifies" "$BIN/sstream-verify" "$T/slow"

finish
