# SPDX-License-Identifier: Apache-2.0
# Shared helpers for the command-line tests (sourced, POSIX sh + bash).
# Each script: . tests/lib.sh; checks...; finish
set -u
: "${BUILD:=build}"
TOP=$(pwd)
BIN=$TOP/$BUILD/bin
FIXTURES=${SS_FIXTURES:-$TOP/tests/fixtures/upstream}
TESTDATA=$TOP/tests/fixtures
PY=/usr/bin/python3
PASS=0
FAIL=0
T=$(mktemp -d /tmp/sstest.XXXXXX)
HTTPD_PIDS=""

EXTRA_CLEANUP=""

cleanup() {
	[ -z "$EXTRA_CLEANUP" ] || $EXTRA_CLEANUP
	for p in $HTTPD_PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

pass() { PASS=$((PASS + 1)); }
fail() { FAIL=$((FAIL + 1)); echo "FAIL: $*" >&2; }

# run CMD...: runs it with stdout in $T/out and stderr in $T/err; sets RC.
run() {
	"$@" >"$T/out" 2>"$T/err"
	RC=$?
}

# expect RC DESC CMD...: runs CMD and checks its exit status.
expect() {
	want=$1 desc=$2
	shift 2
	run "$@"
	if [ "$RC" -eq "$want" ]; then pass; else
		fail "$desc: exit $RC, wanted $want"
		sed 's/^/    stderr: /' "$T/err" | head -5 >&2
		# (sstream-verify names what failed on stdout)
		[ -s "$T/err" ] || grep -v ': ok$' "$T/out" | sed 's/^/    stdout: /' | head -5 >&2
	fi
}

# check DESC CONDITION...: a shell condition that must hold.
check() {
	desc=$1
	shift
	if "$@"; then pass; else fail "$desc"; fi
}

out_has() { grep -q -- "$1" "$T/out"; }
err_has() { grep -q -- "$1" "$T/err"; }
out_lines() { wc -l <"$T/out" | tr -d ' '; }
err_lines() { wc -l <"$T/err" | tr -d ' '; }

# httpd_start DIR: serves DIR over http on 127.0.0.1; sets HTTP_URL.
httpd_start() {
	portfile=$T/port.$$.$RANDOM
	"$PY" "$TOP/tests/httpd.py" "$1" "$portfile" "${@:2}" &
	HTTPD_PIDS="$HTTPD_PIDS $!"
	i=0
	while [ ! -s "$portfile" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	[ -s "$portfile" ] || { echo "httpd did not start" >&2; exit 1; }
	HTTP_PORT=$(cat "$portfile")
	HTTP_URL=http://127.0.0.1:$HTTP_PORT
}

# tls_cert: a self-signed certificate for 127.0.0.1 in $T/cert.pem, $T/key.pem.
tls_cert() {
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
		-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
}

# lxd_start: the LXD daemon, as root, in a temporary LXD_DIR, LXD_CONF and
# HOME; stopped (after deleting the instances named in $LXD_INSTANCES) when
# the script ends.  Without root or the lxd package the test fails.
lxd_start() {
	if [ "$(id -u)" -ne 0 ] || ! command -v lxd >/dev/null; then
		fail "the LXD test needs root and the lxd package (scripts/install-deps.sh installs it)"
		finish
		exit 1
	fi
	export LXD_DIR=$T/lxd LXD_CONF=$T/lxdconf HOME=$T
	mkdir -p "$LXD_DIR" "$LXD_CONF/servercerts"
	lxd --group root --logfile "$LXD_DIR/lxd.log" >"$LXD_DIR/out" 2>&1 &
	LXD_PID=$!
	EXTRA_CLEANUP=lxd_stop
	expect 0 "the LXD daemon starts" timeout 60 lxd waitready
}

lxd_stop() {
	[ -z "${LXD_INSTANCES:-}" ] || lxc delete -f $LXD_INSTANCES >/dev/null 2>&1
	timeout 30 lxd shutdown >/dev/null 2>&1 || kill "$LXD_PID" 2>/dev/null
	wait "$LXD_PID" 2>/dev/null
}

finish() {
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
}

# nginx_conf DIR HTTP: writes DIR/nginx.conf, the frame the tests' nginx
# share (run as root, one worker, in the foreground, pid and error log in
# DIR) around HTTP, the body of its http {} block.
nginx_conf() {
	mkdir -p "$1"
	cat >"$1/nginx.conf" <<NGINX
user root;
worker_processes 1;
daemon off;
pid $1/nginx.pid;
error_log $1/error.log;
events { worker_connections 64; }
http {
$2
}
NGINX
}
# nginx_run DIR URL [CURL-OPTION...]: starts nginx on DIR/nginx.conf
# (stopped when the test ends) and waits until URL answers.
nginx_run() {
	local dir=$1 url=$2 i=0
	shift 2
	nginx -e "$dir/error.log" -c "$dir/nginx.conf" -p "$dir" &
	HTTPD_PIDS="$HTTPD_PIDS $!"
	until curl -fsS "$@" -o /dev/null "$url" 2>/dev/null || [ $i -ge 200 ]; do sleep 0.05; i=$((i + 1)); done
}
