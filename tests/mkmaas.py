#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes a tree shaped like MAAS's images.maas.io/ephemeral-v3/stable.

    mkmaas.py DIR [--versions N] [--sign KEYID]

Two products files under DIR/streams/v1, as the real stream has them:

- com.ubuntu.maas:stable:v3:download.json: one product per release, arch
  and kernel (ga-XX.YY and hwe-XX.YY of one release), each version holding
  boot-kernel and boot-initrd under the kernel's directory plus the
  version's squashfs and squashfs.manifest, whose paths the ga- and hwe-
  products of one release and arch share;
- com.ubuntu.maas:stable:1:bootloader-download.json: the bootloaders
  (grub-efi-signed, grub-efi, pxelinux) by bootloader-type and arch, with
  no release key.

The payload files are small and deterministic.  With --sign KEYID every
document is also written clearsigned (.sjson, gpg from $GNUPGHOME) and the
index names the .sjson paths, as images.maas.io does.
"""
import argparse
import hashlib
import json
import os
import subprocess

RELEASES = [("bionic", "18.04", "Bionic Beaver"), ("focal", "20.04", "Focal Fossa"),
            ("jammy", "22.04", "Jammy Jellyfish")]
ARCHES = ["amd64", "arm64"]
BOOTLOADERS = [("grub-efi-signed", "uefi", "amd64", ["grub2-signed", "shim-signed"]),
               ("grub-efi", "uefi", "arm64", ["grub2"]),
               ("pxelinux", "pxe", "i386", ["syslinux"])]


def payload(d, rel, seed):
    data = ("%s\n" % seed).encode() * 16
    path = os.path.join(d, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
    return {"path": rel, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def boot_products(d, nversions):
    prods = {}
    for rel, num, codename in RELEASES:
        for arch in ARCHES:
            for kind in ("ga", "hwe"):
                sub = "%s-%s" % (kind, num)
                name = "com.ubuntu.maas.stable:v3:boot:%s:%s:%s" % (num, arch, sub)
                versions = {}
                for v in range(nversions):
                    ver = "2023010%d" % (v + 1)
                    base = "%s/%s/%s" % (rel, arch, ver)
                    items = {
                        "boot-kernel": dict(ftype="boot-kernel", kpackage="linux-generic",
                                            **payload(d, "%s/%s/generic/boot-kernel" % (base, sub),
                                                      "kernel %s %s" % (base, sub))),
                        "boot-initrd": dict(ftype="boot-initrd", kpackage="linux-generic",
                                            **payload(d, "%s/%s/generic/boot-initrd" % (base, sub),
                                                      "initrd %s %s" % (base, sub))),
                        # shared by the ga- and hwe- products of the release
                        "squashfs": dict(ftype="squashfs", **payload(d, base + "/squashfs", "squashfs " + base)),
                        "manifest": dict(ftype="manifest",
                                         **payload(d, base + "/squashfs.manifest", "manifest " + base)),
                    }
                    versions[ver] = {"items": items}
                prods[name] = {"arch": arch, "kflavor": "generic", "krel": rel, "label": "stable",
                               "os": "ubuntu", "release": rel, "release_codename": codename,
                               "release_title": num + " LTS", "subarch": sub, "subarches": "generic," + sub,
                               "support_eol": "2030-04-01", "version": num, "versions": versions}
    return prods


def bootloader_products(d, nversions):
    prods = {}
    for os_name, btype, arch, pkgs in BOOTLOADERS:
        name = "com.ubuntu.maas.stable:1:%s:%s:%s" % (os_name, btype, arch)
        versions = {}
        for v in range(nversions):
            ver = "2021081%d.0" % v
            items = {}
            for pkg in pkgs:
                rel = "bootloaders/%s/%s/%s/%s.tar.xz" % (btype, arch, ver, pkg)
                items[pkg] = dict(ftype="archive.tar.xz", src_package=pkg, src_release="focal",
                                  src_version="1." + str(v), **payload(d, rel, rel))
            versions[ver] = {"items": items}
        prods[name] = {"arch": arch, "arches": arch, "bootloader-type": btype, "label": "stable",
                       "os": os_name, "versions": versions}
    return prods


def dump(d, rel, doc, key):
    text = json.dumps(doc, indent=1, sort_keys=True) + "\n"
    with open(os.path.join(d, rel), "w") as f:
        f.write(text)
    if key:
        signed = subprocess.run(["gpg", "--batch", "--quiet", "--local-user", key, "--clearsign"],
                                input=text.encode(), stdout=subprocess.PIPE, check=True).stdout
        with open(os.path.join(d, rel[:-len(".json")] + ".sjson"), "wb") as f:
            f.write(signed)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--versions", type=int, default=2)
    ap.add_argument("--sign")
    a = ap.parse_args()
    os.makedirs(os.path.join(a.dir, "streams", "v1"), exist_ok=True)
    updated = "Mon, 02 Jan 2023 00:00:00 +0000"
    docs = [("com.ubuntu.maas:stable:v3:download", boot_products(a.dir, a.versions)),
            ("com.ubuntu.maas:stable:1:bootloader-download", bootloader_products(a.dir, a.versions))]
    index = {}
    ext = ".sjson" if a.sign else ".json"
    for cid, prods in docs:
        rel = "streams/v1/%s.json" % cid
        dump(a.dir, rel, {"content_id": cid, "datatype": "image-downloads", "format": "products:1.0",
                          "updated": updated, "products": prods}, a.sign)
        index[cid] = {"datatype": "image-downloads", "format": "products:1.0", "updated": updated,
                      "path": rel[:-len(".json")] + ext, "products": sorted(prods)}
    dump(a.dir, "streams/v1/index.json", {"format": "index:1.0", "updated": updated, "index": index}, a.sign)


if __name__ == "__main__":
    main()
