#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Generates a benchmark tree: COUNT files of SIZE bytes (random, or sparse
zeros with --sparse) listed in streams/v1/images.json with size and sha256.
With --products N the items are spread over N products of versions of ten
items each (the shape of an image server's tree); with --no-files only the
documents are written (sizes as given, each item's sha256 that of its path).
With --links every file is a hard link to one random file (a million-item
tree in seconds, for memory measurements).

usage: mktree.py OUTDIR COUNT SIZE [--sparse] [--links] [--products N] [--no-files]
"""
import hashlib
import json
import os
import sys


def main():
    out, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sparse = "--sparse" in sys.argv
    if "--products" in sys.argv or "--no-files" in sys.argv:
        return shaped(out, count, size, sys.argv)
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


def shaped(out, count, size, argv):
    nprod = int(argv[argv.index("--products") + 1]) if "--products" in argv else 1
    files = "--no-files" not in argv
    os.makedirs(os.path.join(out, "streams/v1"), exist_ok=True)
    products = {}
    for i in range(count):
        p, v = i % nprod, (i // nprod) // 10
        rel = "files/p%04d/v%05d/blob-%06d.img" % (p, v, i)
        data = os.urandom(size) if files else rel.encode()
        if files:
            os.makedirs(os.path.join(out, os.path.dirname(rel)), exist_ok=True)
            open(os.path.join(out, rel), "wb").write(data)
        prod = products.setdefault("bench:p%04d:amd64" % p, {"arch": "amd64", "os": "Bench", "release": str(p),
                                                              "versions": {}})
        ver = prod["versions"].setdefault("2026%04d" % (v + 101), {"items": {}})
        ver["items"]["f%06d" % i] = {"ftype": "blob", "path": rel, "size": size,
                                     "sha256": hashlib.sha256(data).hexdigest()}
    json.dump({"format": "products:1.0", "content_id": "bench", "datatype": "image-downloads",
               "products": products}, open(os.path.join(out, "streams/v1/images.json"), "w"))
    json.dump({"format": "index:1.0", "index": {"bench": {
        "format": "products:1.0", "datatype": "image-downloads", "path": "streams/v1/images.json",
        "products": sorted(products)}}}, open(os.path.join(out, "streams/v1/index.json"), "w"))


main()
