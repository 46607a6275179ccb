#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Verify benchmark: a 2 GiB tree of mixed file sizes, checked by
# sstream-verify (every core) against sha256sum of the same files run
# serially, and against openssl's single-core sha256 rate times the cores.
# The files are read once beforehand so that every side hashes from the
# page cache.
set -eu
: "${BUILD:=build}"
TOP=$(pwd)
PY=/usr/bin/python3
B=$(mktemp -d /var/tmp/ssvbench.XXXXXX)
trap 'rm -rf "$B"' EXIT
. bench/lib.sh
echo "== verify: 2 GiB in 8 x 128 MiB + 64 x 8 MiB + 512 x 1 MiB"
"$PY" bench/mktree.py "$B/a" 8 134217728
"$PY" bench/mktree.py "$B/b" 64 8388608
"$PY" bench/mktree.py "$B/c" 512 1048576
# one tree: merge the three products files
mkdir -p "$B/t/streams/v1"
"$PY" - "$B" <<'PY'
import json, os, shutil, sys
b = sys.argv[1]
items = {}
for part in "abc":
    d = json.load(open(os.path.join(b, part, "streams/v1/images.json")))
    for name, it in d["products"]["bench:blobs:amd64"]["versions"]["20261129"]["items"].items():
        it["path"] = part + "/" + it["path"]
        items[part + name] = it
    shutil.move(os.path.join(b, part), os.path.join(b, "t", part))
d["products"]["bench:blobs:amd64"]["versions"]["20261129"]["items"] = items
json.dump(d, open(os.path.join(b, "t/streams/v1/images.json"), "w"))
json.dump({"format": "index:1.0", "index": {"bench": {"format": "products:1.0", "datatype": "image-downloads",
    "path": "streams/v1/images.json", "products": ["bench:blobs:amd64"]}}},
    open(os.path.join(b, "t/streams/v1/index.json"), "w"))
PY
(cd "$B/t" && find a b c -type f -name '*.img' | sort) >"$B/list"
(cd "$B/t" && xargs cat <"$B/list" >/dev/null)
cores=$(nproc)
serial() { (cd "$B/t" && xargs sha256sum <"$B/list"); }
ours() { "$TOP/$BUILD/bin/sstream-verify" "$B/t"; }
s=$(best serial)
o=$(best ours)
"$TOP/$BUILD/bin/sstream-verify" "$B/t"
rate=$(openssl speed -evp sha256 -bytes 1048576 -seconds 2 2>/dev/null | awk '/^sha256/ {print $2}' | tr -d k)
ideal=$(echo "2048 * 1048576 / ($rate * 1000 * $cores)" | bc -l)
echo "  sha256sum, serial                  ${s} s"
echo "  sstream-verify ($cores threads)          ${o} s ($(printf '%.0f' "$(echo "2048 / $o" | bc -l)") MiB/s)"
echo "  openssl speed x $cores cores (ideal)     $(printf '%.3f' "$ideal") s"
echo "  speed-up over serial sha256sum     $(printf '%.2f' "$(echo "$s / $o" | bc -l)")x   (target: at least 1.7x on 2 cores)"
