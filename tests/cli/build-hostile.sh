# SPDX-License-Identifier: Apache-2.0
# `sstream-publish build` on hostile root filesystems: deep nesting, paths
# longer than PATH_MAX, a file that changes while it is packed, a socket,
# 100 000 files in one directory.  The builds finish (timeout bounds each),
# keep every entry, and a failed build leaves nothing behind.
. tests/lib.sh
P=$BIN/sstream-publish
M=$T/m.yaml
printf 'architecture: x86_64\ncreation_date: 1\nproperties:\n  os: t\n  release: r\n' >"$M"
names() { "$PY" -c 'import sys, tarfile; [print(m.name) for m in tarfile.open(sys.argv[1])]' "$1"; }
nothing_left() { [ ! -e "$1" ]; }

# ---- 1500 nested directories: the old recursive walk overflowed the stack
R=$T/deep
"$PY" - "$R" <<'PY'
import os, sys
os.makedirs(sys.argv[1])
fd = os.open(sys.argv[1], os.O_RDONLY)
for i in range(1500):
    os.mkdir("d", dir_fd=fd)
    nfd = os.open("d", os.O_RDONLY, dir_fd=fd); os.close(fd); fd = nfd
with open(os.open("bottom", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as f:
    f.write("deep\n")
PY
expect 0 "tar build of 1500 nested directories" timeout 120 "$P" build "$R" --metadata "$M" --compression none -o "$T/o1"
names "$T/o1/rootfs.tar" >"$T/n1" 2>/dev/null
check "... holds all 1501 entries" [ "$(wc -l <"$T/n1")" -eq 1501 ]
check "... down to the bottom file" grep -q '^\(d/\)\{1500\}bottom$' "$T/n1"
check "... and no temporary file" sh -c "! ls '$T/o1' | grep -q tmp"
expect 0 "squashfs build of 1500 nested directories" timeout 120 "$P" build "$R" --metadata "$M" --rootfs squashfs -o "$T/o2"
check "... holds the bottom file" sh -c "unsquashfs -lln '$T/o2/rootfs.squashfs' 2>/dev/null | grep -q '/bottom\$'"

# ---- a directory path far past PATH_MAX (the old code truncated and looped)
R=$T/long
"$PY" - "$R" <<'PY'
import os, sys
os.makedirs(sys.argv[1])
fd = os.open(sys.argv[1], os.O_RDONLY)
for i in range(24):
    n = ("%02d" % i) * 100
    os.mkdir(n, dir_fd=fd)
    nfd = os.open(n, os.O_RDONLY, dir_fd=fd); os.close(fd); fd = nfd
with open(os.open("f", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as f:
    f.write("far\n")
os.symlink("f", "l", dir_fd=fd)
PY
expect 0 "tar build of a 4800-byte path" timeout 60 "$P" build "$R" --metadata "$M" --compression none -o "$T/o3"
names "$T/o3/rootfs.tar" >"$T/n3" 2>/dev/null
check "... holds the file at the bottom" sh -c "grep -q \"^\\(\\([0-9]\\{2\\}\\)\\{100\\}/\\)\\{24\\}f\$\" '$T/n3'"
check "... and the symlink" grep -q '/l$' "$T/n3"
expect 0 "squashfs build of a 4800-byte path" timeout 60 "$P" build "$R" --metadata "$M" --rootfs squashfs -o "$T/o4"
unsquashfs -lln "$T/o4/rootfs.squashfs" >"$T/n4" 2>/dev/null
check "... holds the file at the bottom" awk '/\/f$/ && length($0) > 4800 { found = 1 } END { exit !found }' "$T/n4"

# ---- a file that changes while it is read: exit 1, naming it, nothing left
R=$T/changing
mkdir -p "$R"
truncate -s 256M "$R/big"
"$PY" - "$R/big" "$T/started" <<'PY' &
import os, sys
open(sys.argv[2], "w").close()
while os.path.exists(sys.argv[2]):
    os.truncate(sys.argv[1], (256 << 20) - 4096)
    os.truncate(sys.argv[1], 256 << 20)
PY
CHANGER=$!
while [ ! -e "$T/started" ]; do sleep 0.1; done
expect 1 "tar build of a file changing as it is read" timeout 120 "$P" build "$R" --metadata "$M" --compression none -o "$T/o5/sub"
check "... the error names the file" err_has "changing/big' changed while the image was built"
check "... one line" [ "$(err_lines)" -eq 1 ]
check "... nothing left behind" nothing_left "$T/o5/sub"
expect 1 "squashfs build of a file changing as it is read" timeout 120 "$P" build "$R" --metadata "$M" --rootfs squashfs --compression gzip -o "$T/o6"
check "... the error names the file" err_has "changing/big' changed while the image was built"
check "... nothing left behind" nothing_left "$T/o6"
rm -f "$T/started"
wait $CHANGER

# ---- a socket: left out of a tarball, kept in a squashfs
R=$T/sock
mkdir -p "$R"
echo x >"$R/a"
"$PY" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$R/s"
expect 0 "tar build with a socket" timeout 60 "$P" build "$R" --metadata "$M" --compression none -o "$T/o7"
names "$T/o7/rootfs.tar" >"$T/n7" 2>/dev/null
check "... the file is kept" grep -qx a "$T/n7"
check "... the socket is left out" sh -c "! grep -qx s '$T/n7'"
check "... nothing else in the output directory" [ "$(ls "$T/o7" | wc -l)" -eq 2 ]
expect 0 "squashfs build with a socket" timeout 60 "$P" build "$R" --metadata "$M" --rootfs squashfs -o "$T/o8"

# ---- 100 000 files in one directory: sorted in O(n log n)
R=$T/wide
mkdir -p "$R"
"$PY" -c '
import os, sys
for i in range(100000):
    open(os.path.join(sys.argv[1], "f%d" % ((i * 7919) % 100000)), "w").close()' "$R"
expect 0 "tar build of 100 000 files in one directory" timeout 60 "$P" build "$R" --metadata "$M" --compression none -o "$T/o9"
names "$T/o9/rootfs.tar" >"$T/n9" 2>/dev/null
check "... all of them" [ "$(wc -l <"$T/n9")" -eq 100000 ]
check "... in byte order" sh -c "LC_ALL=C sort -c '$T/n9'"
finish
