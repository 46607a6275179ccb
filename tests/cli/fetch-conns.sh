#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A tree's documents (its index, then each products file) are read over
# one connection, http or https, not a new one (a TCP and a TLS handshake)
# each: the connections (and TLS sessions) are kept for the whole load
# (lib/fetch.c, ssi_conns); sstream-verify's workers keep theirs from one
# file to the next.  Counted with strace: connect() to the server.
. tests/lib.sh

SRV=$T/srv
mkdir -p "$SRV"
cp -r "$SS_FIXTURES/examples/cirros" "$SS_FIXTURES/examples/foocloud" "$SRV/"
httpd_start "$SRV"
expect 0 "a tree over http lists its items" "$BIN/sstream-query" -f csv "$HTTP_URL/cirros"
check "... as read from disk" test "$(out_lines)" -eq "$("$BIN/sstream-query" -f csv "$SRV/cirros" | wc -l)"
if ! command -v strace >/dev/null || ! strace -qq -e trace=none true 2>/dev/null; then
	echo "  (strace cannot run here: the connection counts left out)"
	finish
fi
# connects PORT LOG: connect() calls to 127.0.0.1:PORT in LOG
connects() { grep -c "connect(.*htons($1).*127.0.0.1" "$2"; }

for t in cirros foocloud; do
	docs=$(ls "$SRV/$t/streams/v1" | wc -l)
	strace -f -qq -e trace=connect -o "$T/q-$t.log" "$BIN/sstream-query" -f csv "$HTTP_URL/$t" >"$T/q-$t.csv"
	check "$t: http: its items listed" test "$(wc -l <"$T/q-$t.csv")" -gt 1
	check "$t: http: $docs documents over one connection ($(connects "$HTTP_PORT" "$T/q-$t.log"))" \
		test "$(connects "$HTTP_PORT" "$T/q-$t.log")" -eq 1
done

# a mirror: its documents over one connection too, its items over at
# most -j more (the transfer engine's own)
strace -f -qq -e trace=connect -o "$T/m.log" "$BIN/sstream-mirror" -q --no-history -j 2 "$HTTP_URL/foocloud" "$T/m"
expect 0 "the mirror verifies" "$BIN/sstream-verify" -q "$T/m"
n=$(connects "$HTTP_PORT" "$T/m.log")
check "the mirror: 1 + at most 2 connections ($n)" test "$n" -ge 2 -a "$n" -le 3

# sstream-verify of a URL: each of its -j workers keeps its connection
# from one file to the next, checking sizes (HEAD) or every byte (--deep)
files=$(cd "$T/m" && find . -type f ! -path './.sstream/*' ! -path './streams/*' | wc -l)
for deep in "" --deep; do
	strace -f -qq -e trace=connect -o "$T/v$deep.log" "$BIN/sstream-verify" -q -j 2 $deep "$HTTP_URL/foocloud"
	n=$(connects "$HTTP_PORT" "$T/v$deep.log")
	check "verify ${deep:-(sizes)} of a URL: $files files over at most 1 + 2 connections ($n)" test "$n" -ge 2 -a "$n" -le 3
done
expect 0 "verify --deep of the URL passes" "$BIN/sstream-verify" -q -j 2 --deep "$HTTP_URL/foocloud"

tls_cert
httpd_start "$SRV" --tls "$T/cert.pem" "$T/key.pem"
strace -f -qq -e trace=connect -o "$T/tls.log" "$BIN/sstream-query" --ca-file "$T/cert.pem" -f csv \
	"https://127.0.0.1:$HTTP_PORT/cirros" >"$T/tls.csv"
check "https: the same listing as over http" cmp -s "$T/tls.csv" "$T/q-cirros.csv"
check "https: over one connection ($(connects "$HTTP_PORT" "$T/tls.log"))" test "$(connects "$HTTP_PORT" "$T/tls.log")" -eq 1
finish
