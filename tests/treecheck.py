#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""An independent consistency check of a local simplestreams tree, for the
tests: the index parses, every products file it names parses, and every
item path it lists exists with the listed size and sha256/sha512/md5.

usage: treecheck.py TREE        prints "OK N" or one "FAIL ..." line per problem
"""
import hashlib
import json
import os
import sys


def main():
    root = sys.argv[1]
    bad = 0
    items = 0
    index = json.load(open(os.path.join(root, "streams/v1/index.json")))
    assert index["format"] == "index:1.0"
    for cid, entry in index["index"].items():
        prods = json.load(open(os.path.join(root, entry["path"])))
        for pn, prod in prods["products"].items():
            for vn, ver in prod.get("versions", {}).items():
                for iname, item in ver.get("items", {}).items():
                    items += 1
                    path = item.get("path")
                    if path is None:
                        continue
                    f = os.path.join(root, path)
                    if not os.path.isfile(f):
                        print("FAIL %s: missing (%s/%s/%s)" % (path, pn, vn, iname))
                        bad += 1
                        continue
                    data = open(f, "rb").read()
                    if "size" in item and len(data) != int(item["size"]):
                        print("FAIL %s: size %d, listed %s" % (path, len(data), item["size"]))
                        bad += 1
                    for h in ("sha256", "sha512", "md5"):
                        if h in item and hashlib.new(h, data).hexdigest() != item[h]:
                            print("FAIL %s: %s mismatch" % (path, h))
                            bad += 1
    if not bad:
        print("OK %d" % items)
    return 1 if bad else 0


sys.exit(main())
