#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# make bench: every benchmark, each a ratio against a reference measured
# side by side in the same run.
: "${BUILD:=build}"
FIX=${SS_FIXTURES:-$(pwd)/tests/fixtures/upstream}
set -e
echo "== stream model"
"$BUILD/bench/bench_load" "$FIX/real/lxc-images-20230424.json" 30
bash bench/mirror.sh
bash bench/memory.sh
bash bench/verify.sh
bash bench/publish.sh
bash bench/s3.sh
bash bench/squashfs.sh
bash bench/catalogue.sh
