#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Builds a tiny but real LXD container image (a metadata tarball with
metadata.yaml and a rootfs tarball, both xz) and a simplestreams tree
serving it, as the LXD client expects it.  Prints the fingerprint.

usage: mklxdtree.py OUTDIR
"""
import hashlib
import io
import json
import os
import sys
import tarfile

VERSION = "20261129_0000"


def tarball(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:xz") as tar:
        for name, data, mode in members:
            info = tarfile.TarInfo(name)
            info.mtime = 1795910400
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = mode
                tar.addfile(info)
            else:
                info.size = len(data)
                info.mode = mode
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def main():
    out = sys.argv[1]
    meta = tarball([("metadata.yaml", b"architecture: x86_64\ncreation_date: 1795910400\n"
                     b"properties:\n  os: testos\n  release: one\n  description: testos one\n", 0o644)])
    # a split image's rootfs tarball holds the filesystem at its root
    root = tarball([("bin", None, 0o755), ("bin/hello", b"#!/bin/sh\necho hello\n", 0o755)])
    rel = "images/testos/one/amd64/default/%s/" % VERSION
    os.makedirs(os.path.join(out, rel), exist_ok=True)
    os.makedirs(os.path.join(out, "streams/v1"), exist_ok=True)
    open(os.path.join(out, rel, "lxd.tar.xz"), "wb").write(meta)
    open(os.path.join(out, rel, "rootfs.tar.xz"), "wb").write(root)
    fp = hashlib.sha256(meta + root).hexdigest()
    meta_item = {"ftype": "lxd.tar.xz", "path": rel + "lxd.tar.xz", "size": len(meta),
                 "sha256": hashlib.sha256(meta).hexdigest(),
                 "combined_rootxz_sha256": fp, "combined_sha256": fp}
    products = {"format": "products:1.0", "content_id": "images", "datatype": "image-downloads",
                "products": {"testos:one:amd64:default": {
                    "arch": "amd64", "os": "testos", "release": "one", "release_title": "One",
                    "variant": "default", "aliases": "testos/one/default,testos/one",
                    "requirements": {}, "lxd_requirements": {},
                    "versions": {VERSION: {"items": {
                        "lxd.tar.xz": meta_item,
                        "incus.tar.xz": dict(meta_item, ftype="incus.tar.xz"),
                        "root.tar.xz": {"ftype": "root.tar.xz", "path": rel + "rootfs.tar.xz",
                                        "size": len(root), "sha256": hashlib.sha256(root).hexdigest()},
                    }}}}}}
    json.dump(products, open(os.path.join(out, "streams/v1/images.json"), "w"), indent=1, sort_keys=True)
    index = {"format": "index:1.0", "index": {"images": {
        "datatype": "image-downloads", "format": "products:1.0", "path": "streams/v1/images.json",
        "products": ["testos:one:amd64:default"]}}}
    json.dump(index, open(os.path.join(out, "streams/v1/index.json"), "w"), indent=1, sort_keys=True)
    print(fp)


main()
