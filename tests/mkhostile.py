#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Builds a small simplestreams tree from a JSON spec, for hostile-input tests.

mkhostile.py DIR SPEC

SPEC: {"index": "streams/v1/index.json",          (where the index goes; default)
       "docs": [{"key": "a",                       (index key; default: cid)
                 "path": "streams/v1/a.json",      (products file)
                 "cid": "a",                       (content_id written in the file)
                 "items": {"prod/ver/item": "files/x.img", ...},
                 "fields": {"prod/ver/item": {"size": "x"}}}]}   (field overrides)
Each item file holds its own path as content, so every file differs.
"""
import hashlib
import json
import os
import sys


def main():
    root, spec = sys.argv[1], json.loads(sys.argv[2])
    index = {"format": "index:1.0", "updated": "Sun, 29 Nov 2026 00:00:00 +0000", "index": {}}
    for doc in spec["docs"]:
        cid = doc.get("cid", doc.get("key"))
        products = {}
        for key, path in doc["items"].items():
            prod, ver, item = key.split("/")
            data = path.encode()
            fields = {"ftype": "raw", "path": path, "size": len(data),
                      "sha256": hashlib.sha256(data).hexdigest()}
            fields.update(doc.get("fields", {}).get(key, {}))
            full = os.path.join(root, path)
            if ".sstream" not in path.split("/") or os.environ.get("MKHOSTILE_PRIVATE"):
                os.makedirs(os.path.dirname(full), exist_ok=True)
                with open(full, "wb") as f:
                    f.write(data)
            v = products.setdefault(prod, {"arch": "amd64", "versions": {}})["versions"]
            v.setdefault(ver, {"items": {}})["items"][item] = fields
        pdoc = {"format": "products:1.0", "content_id": cid, "datatype": "image-downloads",
                "updated": "Sun, 29 Nov 2026 00:00:00 +0000", "products": products}
        full = os.path.join(root, doc["path"])
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            json.dump(pdoc, f, indent=1)
        index["index"][doc.get("key", cid)] = {"format": "products:1.0", "datatype": "image-downloads",
                                                "path": doc["path"], "products": sorted(products)}
    full = os.path.join(root, spec.get("index", "streams/v1/index.json"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        json.dump(index, f, indent=1)


main()
