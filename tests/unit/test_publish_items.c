/* SPDX-License-Identifier: Apache-2.0 */
/* publish_items: a version's items after an add, as images: lays them out
 * (one metadata item with every root's combined field; a root joining the
 * version of the same metadata; another content under a name refused),
 * and the release_title taken from metadata.yaml's description. */
#include <string.h>

#include "publish_internal.h"
#include "harness.h"

static const char *const M = "1111111111111111111111111111111111111111111111111111111111111111";
static const char *const SQ = "2222222222222222222222222222222222222222222222222222222222222222";
static const char *const TAR = "3333333333333333333333333333333333333333333333333333333333333333";
static const char *const FP1 = "aaaa111111111111111111111111111111111111111111111111111111111111";
static const char *const FP2 = "bbbb222222222222222222222222222222222222222222222222222222222222";

static const char *field(json_t *items, const char *item, const char *key)
{
	return json_string_value(json_object_get(json_object_get(items, item), key));
}

static void test_items(void)
{
	struct ss_error err;
	struct ssp_file meta = { "/nonexistent/meta", M, 10, SS_ROOT_UNKNOWN, NULL };
	struct ssp_file tar = { "/nonexistent/root", TAR, 20, SS_ROOT_TARBALL, FP1 };
	struct ssp_file sq = { "/nonexistent/sq", SQ, 30, SS_ROOT_SQUASHFS, FP2 };
	json_t *v1 = ssp_version_items(NULL, &meta, &tar, 1, "images/d1", "p", "v", &err);
	CHECK(v1 != NULL);
	CHECK_STR(field(v1, "lxd.tar.xz", "combined_rootxz_sha256"), FP1);
	CHECK_STR(field(v1, "lxd.tar.xz", "combined_sha256"), FP1);
	CHECK_STR(field(v1, "root.tar.xz", "path"), "images/d1/rootfs.tar");
	/* the squashfs of the same metadata joins the version, in its directory */
	json_t *v2 = ssp_version_items(v1, &meta, &sq, 1, "images/d2", "p", "v", &err);
	CHECK(v2 != NULL);
	CHECK_STR(field(v2, "lxd.tar.xz", "combined_rootxz_sha256"), FP1);
	CHECK_STR(field(v2, "lxd.tar.xz", "combined_squashfs_sha256"), FP2);
	CHECK_STR(field(v2, "incus.tar.xz", "combined_squashfs_sha256"), FP2);
	CHECK_STR(field(v2, "root.squashfs", "path"), "images/d1/rootfs.squashfs");
	CHECK_STR(field(v2, "lxd.tar.xz", "path"), "images/d1/lxd.tar");
	/* both at once: the same items */
	struct ssp_file roots[2] = { tar, sq };
	json_t *both = ssp_version_items(NULL, &meta, roots, 2, "images/d1", "p", "v", &err);
	CHECK(both && json_equal(both, v2));
	/* another metadata, another root under a held name: refused */
	struct ssp_file other = meta;
	other.sha256 = SQ;
	CHECK(ssp_version_items(v2, &other, &sq, 1, "images/d3", "p", "v", &err) == NULL);
	CHECK(strstr(err.msg, "version v of p already holds a different 'lxd.tar.xz'") != NULL);
	struct ssp_file sq2 = sq;
	sq2.sha256 = TAR;
	CHECK(ssp_version_items(v2, &meta, &sq2, 1, "images/d3", "p", "v", &err) == NULL);
	CHECK(strstr(err.msg, "'root.squashfs'") != NULL);
	json_decref(v1);
	json_decref(v2);
	json_decref(both);
}

static void title(const char *props, const char *want)
{
	char yaml[512], out[256];
	snprintf(yaml, sizeof(yaml), "architecture: x86_64\ncreation_date: 1\nproperties:\n  os: Alpine\n  release: \"3.17\"\n%s",
		 props);
	struct ss_error err;
	struct ss_image_meta *m = ssi_image_meta_parse(yaml, strlen(yaml), "t", 0, &err);
	CHECK(m != NULL);
	if (!m)
		return;
	ssp_release_title(m, "Alpine", "3.17", "amd64", "default", out, sizeof(out));
	CHECK_STR(out, want);
	ss_image_meta_free(m);
}

static void test_release_title(void)
{
	title("", "3.17");
	title("  description: Alpine 3.17 amd64 (20261129_00:00)\n", "3.17");
	title("  description: Alpine 3.17 x86_64 (default) (20261129_00:00)\n", "3.17");
	title("  description: alpine Edge Nightly\n", "Edge Nightly");
	title("  description: My own image\n", "My own image");
	title("  description: Alpine\n", "3.17");
	title("  description: Alpine 3.17\n  release_title: Three\n", "Three");
	title("  description: \"Alpine 3.17\\tbeta\"\n", "3.17 beta");
}

TEST_MAIN(test_items, test_release_title)
