#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""An independent reference for sstream-query, written from FORMAT.md in
Python: flattens a products file and applies filters the way the upstream
Python tools do (str() of the value, re.search).

usage: refquery.py PRODUCTS.json [--max N] [FILTER...]
prints product,version,item lines, ordered like sstream-query.
"""
import json
import re
import sys

SCALAR = (str, int, float, bool, type(None))


def flat(tree):
    aliases = tree.get("_aliases", {})

    def level(obj, scalars_only=True):
        out = {}
        for akey, table in aliases.items():
            v = obj.get(akey)
            if isinstance(v, str) and isinstance(table.get(v), dict):
                out.update({k: x for k, x in table[v].items() if not scalars_only or isinstance(x, SCALAR)})
        out.update({k: x for k, x in obj.items() if not scalars_only or isinstance(x, SCALAR)})
        return out

    for pn, prod in tree["products"].items():
        for vn, ver in prod.get("versions", {}).items():
            for iname, item in ver.get("items", {}).items():
                d = level(tree)
                d["content_id"] = tree.get("content_id", "")
                d.update(level(prod))
                d["product_name"] = pn
                d.update(level(ver))
                d["version_name"] = vn
                d.update(level(item, False))
                d["item_name"] = iname
                yield d


def pystr(v):
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"), sort_keys=True)
    return str(v)


def main():
    args = sys.argv[1:]
    path = args.pop(0)
    mx = 0
    if args and args[0] == "--max":
        mx = int(args[1])
        args = args[2:]
    filters = []
    for f in args:
        m = re.match(r"([\w|\-]+)[ ]*(!?[=~])[ ]*(.*)$", f)
        filters.append(m.groups())
    items = []
    for d in flat(json.load(open(path))):
        ok = True
        for key, op, val in filters:
            v = pystr(d.get(key, ""))
            hit = (v == val) if op.endswith("=") else (re.search(val, v) is not None)
            if hit == op.startswith("!"):
                ok = False
        if ok:
            items.append(d)
    items.sort(key=lambda d: d["item_name"].encode())
    items.sort(key=lambda d: d["version_name"].encode(), reverse=True)
    items.sort(key=lambda d: (d["content_id"].encode(), d["product_name"].encode()))
    seen = {}
    for d in items:
        key = (d["content_id"], d["product_name"])
        vs = seen.setdefault(key, [])
        if d["version_name"] not in vs:
            vs.append(d["version_name"])
        if mx and len(vs) > mx:
            continue
        print("%s,%s,%s" % (d["product_name"], d["version_name"], d["item_name"]))


main()
