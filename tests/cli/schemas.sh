# SPDX-License-Identifier: Apache-2.0
# The JSON Schemas against the fixtures (those that should pass do, the
# negative ones fail) and against what the library writes, validated by
# Debian's python3-jsonschema.
. tests/lib.sh
V="$PY -W ignore tests/validate.py"
R=$FIXTURES/real

valid() { # SCHEMA FILE...: every file must pass
	schema=$1
	shift
	for f in "$@"; do
		expect 0 "$(basename "$f") valid under $schema" $V "$schema" "$f"
	done
}
invalid() { # SCHEMA REASON FILE: the file must fail, for REASON
	expect 1 "$(basename "$3") invalid under $1" $V "$1" "$3"
	check "$(basename "$3"): $2" out_has "$2"
}

valid index.schema.json "$R"/*-index.json "$FIXTURES"/examples/*/streams/v1/index.json \
	"$FIXTURES"/signed/examples/*/streams/v1/index.sjson "$TESTDATA"/nested/streams/v1/index.json
invalid index.schema.json "should not be valid" "$TESTDATA/hostile-index.json"
invalid index.schema.json "is a required property" "$R/cirros-released-download.json"

valid products.schema.json "$R"/lxc-images-*.json "$R"/ubuntu-minimal-*.json "$R"/incus-chr-vm-images.json \
	"$R"/juju-otc-imageids.json "$R"/juju-openstack-imagemetadata.json "$R"/cirros-*-download.json \
	"$FIXTURES"/examples/foocloud/streams/v1/com.*.json "$FIXTURES"/examples/minimal/streams/v1/download.json \
	"$FIXTURES"/signed/examples/foocloud/streams/v1/com.*.sjson "$TESTDATA"/aliases.json "$TESTDATA"/lxd/*.json
invalid products.schema.json "'path' is a required property" "$R/ubuntu-released-download-trimmed.json"
for f in dotdot absolute backslash nul; do
	invalid products.schema.json "should not be valid" "$TESTDATA/hostile/$f.json"
done
invalid products.schema.json "too short" "$TESTDATA/hostile/empty.json"
invalid products.schema.json "'products:1.0' was expected" "$TESTDATA/bad/wrongformat.json"
invalid products.schema.json "is not of type 'object'" "$TESTDATA/bad/itemnotobject.json"

valid lxd-profile.schema.json "$R"/lxc-images-*.json "$R"/incus-chr-vm-images.json \
	"$R"/ubuntu-minimal-released-download-20231115.json "$TESTDATA"/lxd/good.json "$TESTDATA"/lxd/good-unified.json
invalid lxd-profile.schema.json "'vax' is not one of" "$TESTDATA/lxd/bad-arch.json"
invalid lxd-profile.schema.json "does not match" "$TESTDATA/lxd/bad-version-key.json"
invalid lxd-profile.schema.json "is not valid under any of the given schemas" "$TESTDATA/lxd/no-combined.json"
invalid lxd-profile.schema.json "is not valid under any of the given schemas" "$TESTDATA/lxd/no-root.json"
invalid lxd-profile.schema.json "is not valid under any of the given schemas" "$TESTDATA/lxd/no-metadata.json"
invalid lxd-profile.schema.json "'sha256' is a required property" "$TESTDATA/lxd/no-sha256.json"
invalid lxd-profile.schema.json "FAIL" "$R/ubuntu-released-download-trimmed.json"
invalid lxd-profile.schema.json "FAIL" "$R/juju-otc-imageids.json"
invalid lxd-profile.schema.json "'arm' is not one of" "$R/cirros-released-download.json"

# What the library writes (expanded and condensed) is valid too.
mkdir -p "$T/dump"
SS_DUMPDIR=$T/dump "$TOP/$BUILD/tests/test_model" >/dev/null 2>&1
check "the library wrote its dumps" test "$(ls "$T/dump" | wc -l)" -ge 24
for f in "$T"/dump/*.json; do
	case $f in *trimmed*) continue ;; esac
	expect 0 "written $(basename "$f") is valid products:1.0" $V products.schema.json "$f"
done
for f in "$T"/dump/*lxc-images-*.json "$T"/dump/*incus-chr*.json; do
	expect 0 "written $(basename "$f") is valid for LXD" $V lxd-profile.schema.json "$f"
done

finish
