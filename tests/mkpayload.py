#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Turns a real products file into a small servable tree with stand-in
payloads: keeps the products matching PRODUCT_REGEX, writes a small file
for every item path, and rewrites sizes, sha256 and the combined_*
fingerprints (sha256 of metadata bytes followed by root bytes) to match.

usage: mkpayload.py PRODUCTS.json OUTDIR PRODUCT_REGEX [--index]
With --index, also writes OUTDIR/streams/v1/index.json naming
streams/v1/images.json (the products file is written there).
"""
import hashlib
import json
import os
import re
import sys

COMBINED = {
    "squashfs": ["combined_squashfs_sha256"],
    "root.tar.xz": ["combined_rootxz_sha256", "combined_sha256"],
    "disk-kvm.img": ["combined_disk-kvm-img_sha256"],
}


def payload(path):
    # deterministic, distinct per path, a few KiB
    seed = hashlib.sha256(path.encode()).digest()
    return (seed * 128)[: 1000 + seed[0] * 16]


def main():
    src, out, pattern = sys.argv[1], sys.argv[2], sys.argv[3]
    with_index = "--index" in sys.argv
    tree = json.load(open(src))
    tree["products"] = {k: v for k, v in tree["products"].items() if re.search(pattern, k)}
    for pn, prod in tree["products"].items():
        for vn, ver in prod.get("versions", {}).items():
            blobs = {}
            for iname, item in ver.get("items", {}).items():
                data = payload(item["path"])
                f = os.path.join(out, item["path"])
                os.makedirs(os.path.dirname(f), exist_ok=True)
                with open(f, "wb") as fh:
                    fh.write(data)
                item["size"] = len(data)
                item["sha256"] = hashlib.sha256(data).hexdigest()
                item.pop("md5", None)
                blobs[item["ftype"]] = data
            meta = blobs.get("lxd.tar.xz") or blobs.get("incus.tar.xz")
            for iname, item in ver.get("items", {}).items():
                if item["ftype"] not in ("lxd.tar.xz", "incus.tar.xz"):
                    continue
                for k in list(item):
                    if k.startswith("combined_"):
                        del item[k]
                for ftype, fields in COMBINED.items():
                    if ftype in blobs:
                        for field in fields:
                            item[field] = hashlib.sha256(meta + blobs[ftype]).hexdigest()
    dest = os.path.join(out, "streams/v1/images.json") if with_index else os.path.join(out, "images.json")
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    json.dump(tree, open(dest, "w"), indent=1, sort_keys=True)
    if with_index:
        index = {"format": "index:1.0", "index": {"images": {
            "datatype": "image-downloads", "format": "products:1.0", "path": "streams/v1/images.json",
            "products": sorted(tree["products"])}}}
        json.dump(index, open(os.path.join(out, "streams/v1/index.json"), "w"), indent=1, sort_keys=True)


main()
