/* SPDX-License-Identifier: Apache-2.0 */
/* Image files: metadata.yaml out of tarballs of every compression, bad
 * metadata named, root files recognised by content, fingerprints. */
#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include "sstream.h"
#include "harness.h"

static char dir[] = "/tmp/ss-image-XXXXXX";

/* Writes a tar archive at PATH with FILTER holding metadata.yaml = YAML
 * (unless NULL) and, when ROOTFS, a rootfs/ directory. */
static const char *make_tar(const char *name, int filter, const char *yaml, int rootfs)
{
	static char path[8][512];
	static int slot;
	char *p = path[slot++ % 8];
	snprintf(p, sizeof(path[0]), "%s/%s", dir, name);
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_add_filter(a, filter);
	archive_write_open_filename(a, p);
	struct archive_entry *e = archive_entry_new();
	if (yaml) {
		archive_entry_set_pathname(e, "metadata.yaml");
		archive_entry_set_size(e, (la_int64_t)strlen(yaml));
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_write_header(a, e);
		archive_write_data(a, yaml, strlen(yaml));
	}
	if (rootfs) {
		archive_entry_clear(e);
		archive_entry_set_pathname(e, "rootfs/");
		archive_entry_set_filetype(e, AE_IFDIR);
		archive_entry_set_perm(e, 0755);
		archive_write_header(a, e);
	}
	archive_entry_free(e);
	archive_write_close(a);
	archive_write_free(a);
	return p;
}

static const char good[] = "architecture: x86_64\ncreation_date: 1795910400\nexpiry_date: 1800000000\n"
			   "properties:\n  os: Ubuntu\n  release: noble\n  variant: default\n"
			   "templates:\n  /etc/hostname:\n    when: [create, copy]\n    template: hostname.tpl\n";

static void test_compressions(void)
{
	static const struct {
		const char *name;
		int filter;
	} f[] = {
		{ "none.tar", ARCHIVE_FILTER_NONE }, { "x.tar.xz", ARCHIVE_FILTER_XZ },
		{ "x.tar.gz", ARCHIVE_FILTER_GZIP }, { "x.tar.zst", ARCHIVE_FILTER_ZSTD },
		{ "x.tar.bz2", ARCHIVE_FILTER_BZIP2 },
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		struct ss_error err;
		const char *p = make_tar(f[i].name, f[i].filter, good, 0);
		int unified = -1;
		struct ss_image_meta *m = ss_image_meta_read(p, &unified, &err);
		CHECK(m != NULL);
		if (!m) {
			fprintf(stderr, "  %s: %s\n", f[i].name, err.msg);
			continue;
		}
		CHECK_STR(ss_image_meta_architecture(m), "x86_64");
		CHECK(ss_image_meta_creation_date(m) == 1795910400);
		CHECK(ss_image_meta_expiry_date(m) == 1800000000);
		CHECK_STR(ss_image_meta_property(m, "os"), "Ubuntu");
		CHECK_STR(ss_image_meta_property(m, "variant"), "default");
		CHECK(ss_image_meta_property(m, "nothing") == NULL);
		CHECK(unified == 0);
		ss_image_meta_free(m);
		CHECK(ss_image_root_kind(p, &err) == SS_ROOT_TARBALL);
	}
	struct ss_error err;
	int unified = 0;
	struct ss_image_meta *m = ss_image_meta_read(make_tar("u.tar.xz", ARCHIVE_FILTER_XZ, good, 1), &unified, &err);
	CHECK(m && unified == 1);
	ss_image_meta_free(m);
}

/* 65 levels of balanced flow sequences under a valid document, and
 * 500 000 unclosed ones (which took libyaml minutes). */
static char deep_yaml[256], deep_open_yaml[500100];

static void fill_deep(void)
{
	char *p = deep_yaml + sprintf(deep_yaml, "architecture: x86_64\ncreation_date: 5\nx: ");
	for (int i = 0; i < 65; i++)
		*p++ = '[';
	for (int i = 0; i < 65; i++)
		*p++ = ']';
	strcpy(p, "\n");
	p = deep_open_yaml + sprintf(deep_open_yaml, "architecture: x86_64\ncreation_date: 5\nx: ");
	memset(p, '[', 500000);
	strcpy(p + 500000, "\n");
}

static void test_bad(void)
{
	static const struct {
		const char *name, *yaml, *needle;
	} bad[] = {
		{ "nodate.tar", "architecture: x86_64\n", "has no creation_date" },
		{ "noarch.tar", "creation_date: 5\n", "has no architecture" },
		{ "baddate.tar", "architecture: x86_64\ncreation_date: yesterday\n", "creation_date is not a UNIX time" },
		{ "notmap.tar", "- a\n- b\n", "is not a mapping" },
		{ "badyaml.tar", "architecture: [x86_64\n", "metadata.yaml line" },
		{ "nometa.tar", NULL, "no metadata.yaml" },
		/* go-yaml (LXD, Incus) refuses repeated keys; the first value
		 * used to leak */
		{ "duparch.tar", "architecture: x86_64\narchitecture: aarch64\ncreation_date: 5\n", "duplicate key 'architecture'" },
		{ "dupdate.tar", "architecture: x86_64\ncreation_date: 5\ncreation_date: 6\n", "duplicate key 'creation_date'" },
		{ "dupprop.tar", "architecture: x86_64\ncreation_date: 5\nproperties: {os: a, os: b}\n", "duplicate property 'os'" },
		/* nesting is capped: libyaml takes time quadratic in the depth */
		{ "deep.tar", deep_yaml, "nested deeper than 64 levels" },
		{ "deepopen.tar", deep_open_yaml, "nested deeper than 64 levels" },
	};
	fill_deep();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ss_error err;
		ss_error_clear(&err);
		const char *p = make_tar(bad[i].name, ARCHIVE_FILTER_NONE, bad[i].yaml, 0);
		struct ss_image_meta *m = ss_image_meta_read(p, NULL, &err);
		CHECK(m == NULL && err.code == SS_FATAL);
		CHECK(strstr(err.msg, bad[i].needle) != NULL);
		CHECK(strstr(err.msg, bad[i].name) != NULL); /* names the file */
		ss_image_meta_free(m);
	}
	char path[512];
	snprintf(path, sizeof(path), "%s/plain.txt", dir);
	FILE *f = fopen(path, "w");
	fputs("not an archive at all\n", f);
	fclose(f);
	struct ss_error err;
	CHECK(ss_image_meta_read(path, NULL, &err) == NULL && strstr(err.msg, "plain.txt"));
	CHECK(ss_image_root_kind(path, &err) == SS_ROOT_UNKNOWN && strstr(err.msg, "plain.txt"));
	snprintf(path, sizeof(path), "%s/sq", dir);
	f = fopen(path, "w");
	fputs("hsqs and more", f);
	fclose(f);
	CHECK(ss_image_root_kind(path, &err) == SS_ROOT_SQUASHFS);
	snprintf(path, sizeof(path), "%s/q", dir);
	f = fopen(path, "w");
	fputs("QFI\xfb and more", f);
	fclose(f);
	CHECK(ss_image_root_kind(path, &err) == SS_ROOT_QCOW2);
}

static void test_fingerprint(void)
{
	char a[512], b[512], fp[65];
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	FILE *f = fopen(a, "w");
	fputs("a", f);
	fclose(f);
	f = fopen(b, "w");
	fputs("bc", f);
	fclose(f);
	struct ss_error err;
	/* sha256("abc"): the fingerprint is over the concatenation */
	CHECK(ss_image_fingerprint(a, b, fp, &err) == SS_OK);
	CHECK_STR(fp, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	CHECK(ss_image_fingerprint(a, NULL, fp, &err) == SS_OK);
	CHECK_STR(fp, "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb");
}

static void setup(void)
{
	CHECK(mkdtemp(dir) != NULL);
}

static void teardown(void)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

TEST_MAIN(setup, test_compressions, test_bad, test_fingerprint, teardown)
