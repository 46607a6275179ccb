#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Validates JSON documents against the project's schemas with Debian's
python3-jsonschema, an implementation independent of ours.

usage: validate.py SCHEMA FILE...   (a clearsigned .sjson is unwrapped first)
Prints "FILE: OK" or "FILE: FAIL reason"; exit 1 when any file fails.
"""
import json
import os
import sys

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = os.path.join(HERE, "..", "schemas")


def load_doc(path):
    text = open(path, encoding="utf-8").read()
    if text.lstrip().startswith("-----BEGIN PGP SIGNED MESSAGE-----"):
        body = text.split("\n\n", 1)[1].split("\n-----BEGIN PGP SIGNATURE-----", 1)[0]
        text = "\n".join(l[2:] if l.startswith("- ") else l for l in body.split("\n"))
    return json.loads(text)


def main():
    schema_name, files = sys.argv[1], sys.argv[2:]
    store = {}
    for name in os.listdir(SCHEMAS):
        if name.endswith(".json"):
            s = json.load(open(os.path.join(SCHEMAS, name)))
            store[name] = s
            store[s["$id"]] = s
    schema = store[os.path.basename(schema_name)]
    resolver = jsonschema.RefResolver(base_uri="", referrer=schema, store=store)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema, resolver=resolver)
    bad = 0
    for f in files:
        try:
            err = jsonschema.exceptions.best_match(validator.iter_errors(load_doc(f)))
        except ValueError as e:
            err = e
        if err is None:
            print("%s: OK" % f)
        else:
            bad += 1
            where = "/".join(str(p) for p in getattr(err, "absolute_path", []))
            msg = str(getattr(err, "message", err))
            if len(msg) > 240:  # the offending instance leads; the reason ends it
                msg = msg[:100] + " ... " + msg[-120:]
            print("%s: FAIL %s: %s" % (f, where, msg))
    return 1 if bad else 0


sys.exit(main())
