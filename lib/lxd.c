/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the LXD and Incus clients accept, written once: architecture names
 * and the characters each field of a tree may hold before it reaches a
 * web server's configuration, an HTTP header, a URL or a path.
 */
#include <string.h>

#include "internal.h"

static const struct {
	const char *kernel, *lxd;
} arch_names[] = {
	{ "x86_64", "amd64" }, { "aarch64", "arm64" }, { "i686", "i386" }, { "armv7l", "armhf" },
	{ "armv6l", "armel" }, { "ppc64le", "ppc64el" }, { "s390x", "s390x" }, { "riscv64", "riscv64" },
	{ "loongarch64", "loong64" },
};

const char *ssi_lxd_arch(const char *arch)
{
	for (size_t i = 0; i < sizeof(arch_names) / sizeof(arch_names[0]); i++)
		if (strcmp(arch, arch_names[i].kernel) == 0)
			return arch_names[i].lxd;
	return arch;
}

const char *ssi_kernel_arch(const char *arch)
{
	for (size_t i = 0; i < sizeof(arch_names) / sizeof(arch_names[0]); i++)
		if (strcmp(arch, arch_names[i].lxd) == 0)
			return arch_names[i].kernel;
	return arch;
}

int ssi_lxd_arch_known(const char *arch)
{
	static const char *const known[] = {
		"amd64", "arm64", "i386", "armhf", "armel", "ppc64el", "s390x", "riscv64", "powerpc", "mips",
		"mipsel", "mips64el", "loong64", "x86_64", "aarch64", "i686", "armv6l", "armv7l", "armv8l",
		"ppc", "ppc64", "ppc64le", "mips64", "riscv32", "loongarch64", NULL,
	};
	for (int i = 0; arch && known[i]; i++)
		if (strcmp(arch, known[i]) == 0)
			return 1;
	return 0;
}

static int alnum(char c)
{
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9');
}

/* Every character of S is alphanumeric or in EXTRA; S is 1..MAX long. */
static int only(const char *s, const char *extra, size_t max)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (n >= max || !(alnum(s[n]) || strchr(extra, s[n])))
			return 0;
	return n > 0;
}

const char *ssi_field_problem(enum ssi_field f, const char *s)
{
	if (!s)
		return "missing";
	switch (f) {
	case SSI_F_ARCH:
		return ssi_lxd_arch_known(s) ? NULL : "not an architecture LXD or Incus knows";
	case SSI_F_FINGERPRINT:
		return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64 ? NULL
									      : "not 64 lowercase hex digits";
	case SSI_F_VERSION:
		/* images: "20230424_07:42"; cloud images "20240423.1" */
		return only(s, "._:+~-", 128) ? NULL : "characters beyond A-Z a-z 0-9 . _ : + ~ -";
	case SSI_F_ALIAS:
		if (strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64)
			return "a fingerprint's shape (/import/FINGERPRINT is the image's own URL)";
		if (*s == '/' || s[strlen(s) - 1] == '/' || strstr(s, "//") || strstr(s, "/./") ||
		    strstr(s, "/../") || strncmp(s, "../", 3) == 0 || strncmp(s, "./", 2) == 0)
			return "an empty, '.' or '..' segment";
		return only(s, "._:+@/-", 256) ? NULL : "characters beyond A-Z a-z 0-9 . _ : + @ / -";
	case SSI_F_PATH: {
		struct ss_error e;
		if (ss_path_check(s, &e) != SS_OK)
			return "not a safe relative path";
		return only(s, "._:+~@/-", 4096) ? NULL : "characters beyond A-Z a-z 0-9 . _ : + ~ @ / -";
	}
	case SSI_F_URL: {
		const char *rest = strncmp(s, "https://", 8) == 0 ? s + 8 : strncmp(s, "http://", 7) == 0 ? s + 7 : NULL;
		if (!rest || !*rest || *rest == '/')
			return "not an http(s) URL";
		return only(rest, "._:+~@/-[]", 4096) ? NULL : "characters beyond A-Z a-z 0-9 . _ : + ~ @ / - [ ]";
	}
	}
	return "unknown field";
}

/* Root ftype -> the field on the metadata item holding sha256(meta ||
 * root), the image's fingerprint for that root (FORMAT.md section 7). */
static const struct ssi_lxd_combined combined[SSI_LXD_NCOMBINED] = {
	{ "squashfs", "combined_squashfs_sha256", 0, 0 },
	{ "root.tar.xz", "combined_rootxz_sha256", 0, 0 },
	{ "root.tar.xz", "combined_sha256", 0, 1 }, /* what LXD before 4.x reads */
	{ "disk-kvm.img", "combined_disk-kvm-img_sha256", 1, 0 },
	{ "disk1.img", "combined_disk1-img_sha256", 1, 0 },
	{ "uefi1.img", "combined_uefi1-img_sha256", 1, 0 },
};

const struct ssi_lxd_combined *ssi_lxd_combined_at(size_t i)
{
	return i < SSI_LXD_NCOMBINED ? &combined[i] : NULL;
}

const struct ssi_lxd_combined *ssi_lxd_combined_for(const char *root_ftype)
{
	for (size_t i = 0; root_ftype && i < SSI_LXD_NCOMBINED; i++)
		if (strcmp(combined[i].ftype, root_ftype) == 0)
			return &combined[i];
	return NULL;
}

int ssi_lxd_is_metadata(const char *ftype)
{
	return ftype && (strcmp(ftype, "lxd.tar.xz") == 0 || strcmp(ftype, "incus.tar.xz") == 0);
}

int ssi_lxd_version_ok(const char *v)
{
	for (int i = 0; i < 8; i++)
		if (!v || v[i] < '0' || v[i] > '9')
			return 0;
	int month = (v[4] - '0') * 10 + (v[5] - '0'), day = (v[6] - '0') * 10 + (v[7] - '0');
	return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}
