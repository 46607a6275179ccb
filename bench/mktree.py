#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Generates a benchmark tree: COUNT files of SIZE bytes (random, or sparse
zeros with --sparse) listed in streams/v1/images.json with size and sha256.
With --links every file is a hard link to one random file (a million-item
tree in seconds, for memory measurements).

usage: mktree.py OUTDIR COUNT SIZE [--sparse] [--links]
"""
import hashlib
import json
import os
import sys


def main():
    out, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sparse = "--sparse" in sys.argv
    links = "--links" in sys.argv
    first = None
    os.makedirs(os.path.join(out, "streams/v1"), exist_ok=True)
    items = {}
    for i in range(count):
        rel = "files/%03d/blob-%05d.img" % (i % 100, i)
        f = os.path.join(out, rel)
        os.makedirs(os.path.dirname(f), exist_ok=True)
        if links and first and i % 50000:  # ext4 allows 65000 links
            os.link(first[0], f)
            items["f%05d" % i] = dict(first[1], path=rel)
            continue
        h = hashlib.sha256()
        with open(f, "wb") as fh:
            if sparse:
                fh.truncate(size)
                zero = bytes(1 << 20)
                left = size
                while left:
                    n = min(left, len(zero))
                    h.update(zero[:n])
                    left -= n
            else:
                left = size
                while left:
                    chunk = os.urandom(min(left, 1 << 20))
                    fh.write(chunk)
                    h.update(chunk)
                    left -= len(chunk)
        items["f%05d" % i] = {"ftype": "blob", "path": rel, "size": size, "sha256": h.hexdigest()}
        first = (f, items["f%05d" % i])
    prod = {"format": "products:1.0", "content_id": "bench", "datatype": "image-downloads",
            "products": {"bench:blobs:amd64": {"arch": "amd64",
                                               "versions": {"20261129": {"items": items}}}}}
    json.dump(prod, open(os.path.join(out, "streams/v1/images.json"), "w"))
    json.dump({"format": "index:1.0", "index": {"bench": {
        "format": "products:1.0", "datatype": "image-downloads", "path": "streams/v1/images.json",
        "products": ["bench:blobs:amd64"]}}}, open(os.path.join(out, "streams/v1/index.json"), "w"))


main()
