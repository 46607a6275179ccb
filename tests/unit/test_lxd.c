/* SPDX-License-Identifier: Apache-2.0 */
/* lxd: the LXD rules written once - architectures, the root ftype <->
 * combined fingerprint table, the version key, metadata ftypes. */
#include <string.h>

#include "internal.h"
#include "harness.h"

static void test_combined(void)
{
	CHECK_STR(ssi_lxd_combined_for("squashfs")->field, "combined_squashfs_sha256");
	CHECK_STR(ssi_lxd_combined_for("root.tar.xz")->field, "combined_rootxz_sha256");
	CHECK(!ssi_lxd_combined_for("root.tar.xz")->legacy);
	CHECK_STR(ssi_lxd_combined_for("disk-kvm.img")->field, "combined_disk-kvm-img_sha256");
	CHECK(ssi_lxd_combined_for("disk-kvm.img")->vm && !ssi_lxd_combined_for("squashfs")->vm);
	CHECK(ssi_lxd_combined_for("lxd.tar.xz") == NULL && ssi_lxd_combined_for(NULL) == NULL);
	size_t n = 0, legacy = 0;
	const struct ssi_lxd_combined *c;
	for (; (c = ssi_lxd_combined_at(n)); n++) {
		CHECK(strncmp(c->field, "combined_", 9) == 0);
		if (c->legacy) {
			legacy++;
			CHECK_STR(c->field, "combined_sha256");
			CHECK_STR(c->ftype, "root.tar.xz");
		}
	}
	CHECK(n == SSI_LXD_NCOMBINED && legacy == 1);
}

static void test_version(void)
{
	CHECK(ssi_lxd_version_ok("20230424_07:42"));
	CHECK(ssi_lxd_version_ok("20240423.1"));
	CHECK(!ssi_lxd_version_ok("20231324_0000")); /* month 13 */
	CHECK(!ssi_lxd_version_ok("20230400"));      /* day 0 */
	CHECK(!ssi_lxd_version_ok("2023042"));
	CHECK(!ssi_lxd_version_ok("v20230424"));
	CHECK(!ssi_lxd_version_ok(NULL));
}

static void test_metadata_arch(void)
{
	CHECK(ssi_lxd_is_metadata("lxd.tar.xz") && ssi_lxd_is_metadata("incus.tar.xz"));
	CHECK(!ssi_lxd_is_metadata("squashfs") && !ssi_lxd_is_metadata(NULL));
	CHECK_STR(ssi_lxd_arch("x86_64"), "amd64");
	CHECK_STR(ssi_kernel_arch("arm64"), "aarch64");
	CHECK(ssi_lxd_arch_known("riscv64") && !ssi_lxd_arch_known("z80"));
	CHECK(ssi_field_problem(SSI_F_VERSION, "20230424_07:42") == NULL);
	CHECK(ssi_field_problem(SSI_F_VERSION, "2023 04") != NULL);
}

TEST_MAIN(test_combined, test_version, test_metadata_arch)
