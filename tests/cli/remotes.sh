# SPDX-License-Identifier: Apache-2.0
# LXD remote names as the mirror's SOURCE (ubuntu:, images:, ...): the
# table, the signed-index default, and that the mirror goes where the name
# says -- seen by a local proxy that records what it is asked to CONNECT
# to and refuses it (no internet needed).
. tests/lib.sh
M=$BIN/sstream-mirror

expect 0 "--list-remotes" "$M" --list-remotes
check "images:" out_has "^images: *https://images.linuxcontainers.org/ *-$"
check "ubuntu: (signed)" out_has "^ubuntu: *https://cloud-images.ubuntu.com/releases/ */usr/share/keyrings/ubuntu-cloudimage-keyring.gpg$"
check "ubuntu-daily:" out_has "^ubuntu-daily: *https://cloud-images.ubuntu.com/daily/ "
check "ubuntu-minimal:" out_has "^ubuntu-minimal: *https://cloud-images.ubuntu.com/minimal/releases/ "
check "ubuntu-minimal-daily:" out_has "^ubuntu-minimal-daily: *https://cloud-images.ubuntu.com/minimal/daily/ "
expect 64 "an unknown remote" "$M" nosuch: "$T/m"
check "... named" err_has "unknown remote 'nosuch:'"
if [ ! -r /usr/share/keyrings/ubuntu-cloudimage-keyring.gpg ]; then
	expect 2 "ubuntu: verifies its signed index by default: no keyring, no run" "$M" ubuntu: "$T/m"
	check "... the keyring and the ways out named" err_has "keyring '/usr/share/keyrings/ubuntu-cloudimage-keyring.gpg' cannot be read (install Ubuntu's ubuntu-cloudimage-keyring, or give --keyring FILE or --no-verify)"
	check "... the target untouched" test ! -e "$T/m"
fi

# a proxy that writes down each CONNECT line and answers 403
"$PY" - "$T/proxy.port" "$T/proxy.log" <<'PY' &
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    c, _ = s.accept()
    line = c.makefile("rb").readline().decode(errors="replace").strip()
    with open(sys.argv[2], "a") as f:
        f.write(line + "\n")
    c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
    c.close()
PY
HTTPD_PIDS="$HTTPD_PIDS $!"
i=0
while [ ! -s "$T/proxy.port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
PROXY=http://127.0.0.1:$(cat "$T/proxy.port")
unset no_proxy NO_PROXY
via_proxy() { https_proxy=$PROXY HTTPS_PROXY=$PROXY run "$M" --retries 0 "$@"; }
via_proxy --no-verify ubuntu-minimal: "$T/m1"
check "ubuntu-minimal: --no-verify fails only at the (refusing) proxy: temporary, exit 75 ($RC)" test "$RC" -eq 75
check "... naming the proxy's refusal" err_has "403"
check "... having asked for cloud-images.ubuntu.com" grep -q '^CONNECT cloud-images.ubuntu.com:443 ' "$T/proxy.log"
via_proxy images: "$T/m2"
check "images: (unsigned, no keyring needed) asks for images.linuxcontainers.org" grep -q '^CONNECT images.linuxcontainers.org:443 ' "$T/proxy.log"
https_proxy=$PROXY HTTPS_PROXY=$PROXY run "$BIN/sstream-query" ubuntu-daily:
check "sstream-query ubuntu-daily: asks for cloud-images.ubuntu.com too" test "$(grep -c '^CONNECT cloud-images.ubuntu.com:443 ' "$T/proxy.log")" -ge 2
expect 64 "sstream-query: an unknown remote" "$BIN/sstream-query" nosuch:
check "a directory still works as SOURCE" sh -c "'$M' -q --no-item-download '$TESTDATA/nested' '$T/m3' && test -f '$T/m3/streams/v1/index.json'"

finish
