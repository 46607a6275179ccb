#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Mirror benchmarks, each side by side with its reference in one run:
#  1. a full mirror of 5435 small files (lxc-images shape) from nginx on
#     loopback vs curl fetching the same files with the same parallelism
#     (then sync -f, as the mirror syncs), and lftp mirror -P 5 and rclone
#     sync from an HTTP remote as public mirror sites run them: median and
#     max of BENCH_ROUNDS (default 5) interleaved runs each
#  2. a no-op rerun: wall time vs a plain load of the same metadata, and
#     bytes on the wire (nginx's access log)
#  3. the same as 1 for 1 GiB in 64 files
#  4. peak memory while mirroring one 2 GiB item
# BENCH_CASES picks some: lxc (1 and 2), big (3), huge (4); all by default.
# BENCH_PEERS="" leaves lftp and rclone out (curl stays).
set -eu
: "${BUILD:=build}"
TOP=$(pwd)
BIN=$TOP/$BUILD/bin
PY=/usr/bin/python3
FIX=${SS_FIXTURES:-$TOP/tests/fixtures/upstream}
# BENCH_TMP: where the trees go (default /var/tmp; /dev/shm takes the
# disk, and its stalls, out of both sides)
B=$(mktemp -d "${BENCH_TMP:-/var/tmp}/ssbench.XXXXXX")
HTTPD=""
trap '[ -z "$HTTPD" ] || kill $HTTPD 2>/dev/null; sleep 0.2; rm -rf "$B"' EXIT

. bench/lib.sh
: "${BENCH_CASES:=lxc big huge}"
want() { case " $BENCH_CASES " in *" $1 "*) return 0 ;; esac; return 1; }
want_peer() { case " $BENCH_PEERS " in *" $1 "*) return 0 ;; esac; return 1; }

. bench/nginx.sh
nginx_serve_tmp "$B"
timed() { t0=$(now); "$@" >/dev/null 2>"$B/timed.err" || { echo "FAILED: $*" >&2; head -3 "$B/timed.err" >&2; }; echo "$(now) - $t0" | bc -l; }
# (each tool's process under /usr/bin/time, its page faults (%R) into
# $B/faults: on this VM a fresh page costs some 15 us)
faults() { /usr/bin/time -a -o "$B/faults" -f '%R' "$@"; }
# curl fetching every item of TREE (as listed by the mirror's own query),
# into the directory it runs in
curl_cfg() {
	: >"$B/curl.cfg"
	(cd "$B/www/$1" && find . -type f ! -path './streams/*' | sed 's|^\./||' | sort) | while read -r f; do
		printf 'url = "%s/%s/%s"\noutput = "%s"\n' "$U" "$1" "$f" "$f" >>"$B/curl.cfg"
	done
}
# Each tool is called as TOOL TREE DIR.
# curl leaves the data in the page cache; the mirror makes it durable before
# publishing (one syncfs): the reference pays the same.
curl_run() {
	mkdir "$2" && (cd "$2" && faults curl -sS --fail --create-dirs --parallel --parallel-max 4 -K "$B/curl.cfg") && sync -f "$2"
}
# (each run's --report kept as $B/reports/N.json: where its time went)
mirror_run() { faults "$BIN/sstream-mirror" -j 4 --report "$B/reports/$nrun.json" "$U/$1" "$2"; }
# the mirror tools public mirror sites run, over the same nginx: lftp's
# mirror with 5 connections, rclone sync from an HTTP remote with 4; each
# then flushes as the others do
lftp_run() { faults lftp -c "set cmd:fail-exit yes; mirror -P 5 $U/$1/ $2" && sync -f "$2"; }
rclone_run() { faults rclone sync -q --transfers 4 --http-url "$U/$1" :http: "$2" && sync -f "$2"; }
# BENCH_PEERS: which of them run beside curl (default both)
: "${BENCH_PEERS=lftp rclone}"
HAVE_LFTP=$(want_peer lftp && command -v lftp || true)
HAVE_RCLONE=$(want_peer rclone && command -v rclone || true)
# Every timed run writes a directory of its own, which ext4 places as it
# places a top-level one (chattr +T on the parent: Orlov spreads such
# directories over the block groups).  A copy wiped just before the next
# run used to be the largest cost of that run: without a journal (this
# machine's root file system) ext4 skips inodes deleted less than a minute
# ago (five, while their table block is dirty) when it allocates one, so
# each of the 5435 files created paid a scan over the thousands a wipe had
# just freed (perf: recently_deleted and find_get_block_common, 20-60 % of
# a run's CPU, for curl as for us; an emptier group draws the allocator
# there).  So a case of many files (KEEP_RUNS=1) keeps every copy until
# its last round, and deletes them after its figures; a case of a few
# large files deletes each copy as soon as its clock stops.
RUNS=$B/runs
mkdir -p "$RUNS"
chattr +T "$RUNS" 2>/dev/null || true
nrun=0
last_mirror=""
KEEP_RUNS=""
# timed_into OUT TOOL TREE: TOOL's time into a fresh directory (appended
# to OUT); the mirror's last copy is kept (last_mirror) for the checks
# that follow
timed_into() {
	nrun=$((nrun + 1))
	# a name of this invocation's own: ext4 starts its search for a
	# top-level directory's group from a hash of the name, and the same
	# name would land where the previous invocation just deleted its copy
	local dir=$RUNS/$2.${B##*.}.$nrun
	timed "$2" "$3" "$dir" >>"$1"
	tail -1 "$B/faults" >>"$1.faults"
	if [ "$2" = mirror_run ]; then
		[ -n "$KEEP_RUNS" ] || [ -z "$last_mirror" ] || rm -rf "$last_mirror"
		last_mirror=$dir
	elif [ -z "$KEEP_RUNS" ]; then
		rm -rf "$dir"
	fi
	sync -f "$B"
	sleep 1
}
# the mirror's last copy as $B/m, every other copy deleted
runs_done() {
	rm -rf "${B:?}/m"
	mv "$last_mirror" "$B/m"
	last_mirror=""
	rm -rf "${RUNS:?}"/*
}
# BENCH_ROUNDS runs of each, alternating, so that all see the same machine;
# curl and the mirror swap places every round, so that neither always runs
# right after the other (in one experiment of the 1 GiB case, our fetch
# took 2.7 s right after curl's run, 1.7-1.8 s after one of ours)
side_by_side() {
	: >"$B/tc"; : >"$B/tm"; : >"$B/tl"; : >"$B/tr"; : >"$B/faults"
	rm -f "$B"/t?.faults
	rm -rf "$B/reports"; mkdir "$B/reports"
	for round in $(seq "${BENCH_ROUNDS:-5}"); do
		if [ $((round % 2)) = 1 ]; then
			timed_into "$B/tc" curl_run "$1"
			timed_into "$B/tm" mirror_run "$1"
		else
			timed_into "$B/tm" mirror_run "$1"
			timed_into "$B/tc" curl_run "$1"
		fi
		[ -z "$HAVE_LFTP" ] || timed_into "$B/tl" lftp_run "$1"
		[ -z "$HAVE_RCLONE" ] || timed_into "$B/tr" rclone_run "$1"
	done
	read -r cmed cmax < <(stats <"$B/tc")
	read -r mmed mmax < <(stats <"$B/tm")
	echo "  curl --parallel-max 4 + sync -f    median ${cmed} s, max ${cmax} s"
	echo "  sstream-mirror -j 4                median ${mmed} s, max ${mmax} s"
	echo "  ratio (median)                     $(ratio "$mmed" "$cmed")x   (target: within $2x)"
	echo "  ratio (max)                        $(ratio "$mmax" "$cmax")x"
	# each round's two runs side by side, one after the other: the median
	# of those ratios is the least moved by a machine whose speed drifts
	# from one round to the next
	echo "  page faults (median)               ours $(stats <"$B/tm.faults" | cut -d' ' -f1 | xargs printf '%.0f'), curl $(stats <"$B/tc.faults" | cut -d' ' -f1 | xargs printf '%.0f')"
	echo "  ratio per round (median)           $(paste -d' ' "$B/tm" "$B/tc" | awk '{ printf "%.4f\n", $1 / $2 }' |
		stats | cut -d' ' -f1 | xargs printf '%.2f')x"
	# BENCH_VERBOSE=1: every round's two times (ours, curl)
	# and where our runs' time went
	if [ -n "${BENCH_VERBOSE:-}" ]; then
		paste -d' ' "$B/tm" "$B/tc" | awk '{ printf "  round %2d: ours %.3f s, curl %.3f s\n", NR, $1, $2 }'
		for f in $(ls "$B/reports" | sort -n); do
			"$PY" -c 'import json, sys; print("   ", sys.argv[1], json.load(open(sys.argv[1]))["phases"])' "$B/reports/$f"
		done
	fi
	phases "$B/reports"
	peer "lftp mirror -P 5 + sync -f" "$B/tl" "$mmed" lftp
	peer "rclone sync --transfers 4 + sync" "$B/tr" "$mmed" rclone
	runs_done
}
# phases DIR: the median of each phase of our runs' reports in DIR
# (--report: where a run's seconds went); before the fetch and after it:
# the reference does nothing before and only its sync -f after (ours
# builds the documents and the page while its sync runs: sync is what is
# left of that wait)
phases() {
	"$PY" - "$1" <<'PY'
import glob, json, statistics, sys
runs = [r["phases"] for r in (json.load(open(f)) for f in glob.glob(sys.argv[1] + "/*.json")) if "phases" in r]
if runs:
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    before = med["load"] + med["plan"]
    after = sum(v for k, v in med.items() if k not in ("load", "plan", "fetch"))
    print("  ours, phase medians (s)           ", ", ".join("%s %.3f" % kv for kv in med.items()),
          "; before the fetch %.3f, after it %.3f" % (before, after))
PY
}
# peer NAME FILE OURS TOOL: a peer's median and ours against it, when it ran
peer() {
	if ! want_peer "$4"; then
		printf '  %-34s left out (BENCH_PEERS)\n' "$1"
		return
	elif [ ! -s "$2" ]; then
		printf '  %-34s not installed\n' "$1"
		return
	fi
	read -r med max < <(stats <"$2")
	printf '  %-34s median %s s, max %s s; ours %sx\n' "$1" "$med" "$max" "$(ratio "$3" "$med")"
}

if want lxc; then
	echo "== full mirror from nginx on loopback: lxc-images-20230424 shape (5435 items, stand-in payloads)"
	"$PY" tests/mkpayload.py "$FIX/real/lxc-images-20230424.json" "$B/www/lxc" '.' --index
	curl_cfg lxc
	echo "  files                              $(grep -c '^url' "$B/curl.cfg")"
	# Whatever ran just before (another bench's copies deleted on its
	# exit) must not weigh on the first rounds: ext4 without a journal
	# passes over inodes deleted less than a minute ago (once flushed)
	# when it allocates one, and a run of 5435 files that lands among
	# them took 2-8 s instead of 1 (perf: recently_deleted,
	# find_get_block_common), for whichever side it happened to.
	# BENCH_SETTLE seconds (default 61) after a flush let that pass.
	sync -f "$B"
	sleep "${BENCH_SETTLE:-61}"
	KEEP_RUNS=1 side_by_side lxc 1.05
	"$PY" tests/treecheck.py "$B/m" >/dev/null

	echo "== no-op rerun of the same tree (conditional requests)"
	"$BIN/sstream-mirror" "$U/lxc" "$B/m"
	ref=$(BEST_OF=5 best "$BIN/sstream-query" -f csv "$B/www/lxc" ftype=none)
	ours=$(BEST_OF=5 best "$BIN/sstream-mirror" "$U/lxc" "$B/m")
	: >"$B/nginx/access.log"
	"$BIN/sstream-mirror" "$U/lxc" "$B/m"
	sleep 0.2
	wire=$(awk '{ s += $4 + $5 } END { print s + 0 }' "$B/nginx/access.log")
	reqs=$(wc -l <"$B/nginx/access.log")
	echo "  plain load of the metadata (query) ${ref} s"
	echo "  sstream-mirror no-op rerun         ${ours} s"
	echo "  ratio                              $(ratio "$ours" "$ref")x"
	echo "  on the wire                        ${wire} bytes in ${reqs} requests (target: under 4 KB)"
	rm -rf "$B/m"
fi

if want big; then
	echo "== full mirror from nginx on loopback: 64 files x 16 MiB (1 GiB)"
	"$PY" bench/mktree.py "$B/www/big" 64 16777216
	curl_cfg big
	side_by_side big 1.1
	"$PY" tests/treecheck.py "$B/m" >/dev/null
	rm -rf "$B/m" "$B/www/big"
fi

if want huge; then
	echo "== peak memory: one 2 GiB item"
	"$PY" bench/mktree.py "$B/huge" 1 2147483648 --sparse
	mv "$B/huge" "$B/www/huge"
	/usr/bin/time -f '%M %e' -o "$B/time" "$BIN/sstream-mirror" "$U/huge" "$B/hm"
	read -r kb secs <"$B/time"
	echo "  peak RSS of sstream-mirror         $((kb / 1024)) MiB ($secs s for 2 GiB)"
fi
