#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# What one tree may make us read: each document once, and caps on the
# number of documents, with a clear error instead of minutes of work.
. tests/lib.sh

# Five nested indexes of 12 entries, each naming the next: 12^5 loads
# (248 832) before; now the second mention of a document is refused.
"$PY" - "$T/amp" <<'PY'
import json, os, sys
root = sys.argv[1]
os.makedirs(os.path.join(root, "streams/v1"))
for lvl in range(5):
    name = "streams/v1/index.json" if lvl == 0 else "streams/v1/i%d.json" % lvl
    nxt = "streams/v1/i%d.json" % (lvl + 1) if lvl < 4 else "streams/v1/p.json"
    fmt = "products:1.0" if lvl == 4 else "index:1.0"
    doc = {"format": "index:1.0",
           "index": {"c%d_%d" % (lvl, k): {"path": nxt, "format": fmt} for k in range(12)}}
    json.dump(doc, open(os.path.join(root, name), "w"))
json.dump({"format": "products:1.0", "content_id": "c4_0", "products": {}},
          open(os.path.join(root, "streams/v1/p.json"), "w"))
PY
expect 2 "index amplification is refused" timeout 60 "$BIN/sstream-query" "$T/amp"
check "the repeated document is named" err_has "'streams/v1/p.json' is named more than once"
expect 2 "the mirror refuses it too" timeout 60 "$BIN/sstream-mirror" "$T/amp" "$T/ampm"
check "the mirror wrote no document" test ! -e "$T/ampm/streams"

# More documents than a tree may have (10 000).
"$PY" - "$T/many" <<'PY'
import json, os, sys
root = sys.argv[1]
os.makedirs(os.path.join(root, "streams/v1/p"))
index = {}
for k in range(10001):
    rel = "streams/v1/p/%d.json" % k
    json.dump({"format": "products:1.0", "content_id": "c%d" % k, "products": {}},
              open(os.path.join(root, rel), "w"))
    index["c%d" % k] = {"path": rel, "format": "products:1.0"}
json.dump({"format": "index:1.0", "index": index}, open(os.path.join(root, "streams/v1/index.json"), "w"))
PY
expect 2 "a tree of more than 10 000 documents is refused" timeout 120 "$BIN/sstream-query" "$T/many"
check "the cap is named" err_has "more than 10000 documents"

finish
