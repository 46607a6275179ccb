#!/bin/bash
# Mirror benchmarks, each side by side with its reference in one run:
#  1. a no-op rerun over 5435 items vs a plain load of the same metadata
#  2. a full mirror of 1 GiB in 64 files over loopback vs curl fetching the
#     same files with the same parallelism
#  3. peak memory while mirroring one 2 GiB item
set -eu
: "${BUILD:=build}"
TOP=$(pwd)
BIN=$TOP/$BUILD/bin
PY=/usr/bin/python3
FIX=${SS_FIXTURES:-$TOP/tests/fixtures/upstream}
B=$(mktemp -d /var/tmp/ssbench.XXXXXX)
HTTPD=""
trap '[ -z "$HTTPD" ] || kill $HTTPD 2>/dev/null; rm -rf "$B"' EXIT

now() { date +%s.%N; }
# best of N runs of a command, in seconds
best() {
	n=$1
	shift
	b=999999
	for _ in $(seq "$n"); do
		t0=$(now)
		"$@" >/dev/null 2>&1
		t=$(echo "$(now) - $t0" | bc -l)
		b=$(echo "if ($t < $b) $t else $b" | bc -l)
	done
	printf '%.3f' "$b"
}
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }

echo "== no-op rerun (lxc-images-20230424: every product, stand-in payloads)"
"$PY" tests/mkpayload.py "$FIX/real/lxc-images-20230424.json" "$B/lxc" '.' --index
"$BIN/sstream-mirror" "$B/lxc" "$B/lxc-mirror"
items=$("$BIN/sstream-query" -f csv "$B/lxc-mirror" | tail -n +2 | wc -l)
ref=$(best 5 "$BIN/sstream-query" -f csv "$B/lxc" ftype=none)
ours=$(best 5 "$BIN/sstream-mirror" "$B/lxc" "$B/lxc-mirror")
echo "  items                              $items"
echo "  plain load of the metadata (query) ${ref} s"
echo "  sstream-mirror no-op rerun         ${ours} s"
echo "  ratio                              $(ratio "$ours" "$ref")x   (target: within 2x)"

echo "== full mirror over loopback: 64 files x 16 MiB (1 GiB), 4 parallel transfers"
"$PY" bench/mktree.py "$B/big" 64 16777216
mkdir -p "$B/www"
ln -s "$B/big" "$B/www/big"
port="$B/port"
"$PY" tests/httpd.py "$B/www" "$port" &
HTTPD=$!
while [ ! -s "$port" ]; do sleep 0.05; done
U=http://127.0.0.1:$(cat "$port")/big
: >"$B/curl.cfg"
(cd "$B/big" && find files -type f | sort) | while read -r f; do
	printf 'url = "%s/%s"\noutput = "%s/curl/%s"\n' "$U" "$f" "$B" "$f" >>"$B/curl.cfg"
done
curl_run() { rm -rf "$B/curl"; curl -sS --create-dirs -Z --parallel-max 4 -K "$B/curl.cfg"; }
# curl leaves the data in the page cache; the mirror makes it durable before
# publishing (one syncfs): the second reference pays the same.
curl_sync_run() { curl_run && sync -f "$B/curl"; }
mirror_run() { rm -rf "$B/m"; "$BIN/sstream-mirror" -j 4 "$U" "$B/m"; }
c1=$(best 3 curl_run)
c2=$(best 3 curl_sync_run)
m1=$(best 3 mirror_run)
"$PY" tests/treecheck.py "$B/m" >/dev/null
echo "  curl -Z --parallel-max 4           ${c1} s ($(printf '%.0f' "$(echo "1024 / $c1" | bc -l)") MiB/s)"
echo "  curl ... && sync -f               ${c2} s"
echo "  sstream-mirror -j 4 (hash + sync)  ${m1} s ($(printf '%.0f' "$(echo "1024 / $m1" | bc -l)") MiB/s)"
echo "  ratio vs curl                      $(ratio "$m1" "$c1")x   (target: within 1.2x)"
echo "  ratio vs curl + sync               $(ratio "$m1" "$c2")x"
rm -rf "$B/curl" "$B/m" "$B/big"

echo "== peak memory: one 2 GiB item"
"$PY" bench/mktree.py "$B/huge" 1 2147483648 --sparse
ln -s "$B/huge" "$B/www/huge"
/usr/bin/time -f '%M %e' -o "$B/time" "$BIN/sstream-mirror" "http://127.0.0.1:$(cat "$port")/huge" "$B/hm"
read -r kb secs <"$B/time"
echo "  peak RSS of sstream-mirror         $((kb / 1024)) MiB ($secs s for 2 GiB)"
