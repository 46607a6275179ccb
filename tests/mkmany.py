#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Writes a simplestreams tree of many small items and a few larger ones,
for liveness tests and benchmarks of the transfer engine.

usage: mkmany.py OUTDIR NSMALL [NLARGE LARGE_BYTES]
Small items are 1-100 bytes; each large item is LARGE_BYTES.  Item files go
under OUTDIR/files/, the index and one products file under
OUTDIR/streams/v1/.
"""
import hashlib
import json
import os
import sys


def main():
    out, nsmall = sys.argv[1], int(sys.argv[2])
    nlarge = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    large = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    products = {}
    for i in range(nsmall + nlarge):
        if i < nsmall:
            data = hashlib.sha256(b"%d" % i).digest() * 4
            data = data[: 1 + i % 100]
        else:
            block = hashlib.sha256(b"large%d" % i).digest() * 2048
            data = (block * (large // len(block) + 1))[:large]
        rel = "files/p%03d/%d.bin" % (i % 500, i)
        path = os.path.join(out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        prod = products.setdefault("com.example:p%03d" % (i % 500), {
            "arch": "amd64", "release": "r%d" % (i % 500), "versions": {}})
        prod["versions"].setdefault("20260101", {"items": {}})["items"]["i%d" % i] = {
            "ftype": "bin", "path": rel, "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}
    doc = {"content_id": "com.example:many", "datatype": "image-downloads",
           "format": "products:1.0", "updated": "Thu, 01 Jan 2026 00:00:00 +0000",
           "products": products}
    os.makedirs(os.path.join(out, "streams/v1"), exist_ok=True)
    with open(os.path.join(out, "streams/v1/many.json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
    index = {"format": "index:1.0", "updated": doc["updated"], "index": {
        "com.example:many": {"datatype": "image-downloads", "format": "products:1.0",
                             "path": "streams/v1/many.json", "products": sorted(products),
                             "updated": doc["updated"]}}}
    with open(os.path.join(out, "streams/v1/index.json"), "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)


main()
