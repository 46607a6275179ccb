/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The items of an LXD version after an add, laid out as
 * images.linuxcontainers.org lays them out: one metadata item (lxd.tar.xz,
 * and incus.tar.xz for Incus, both naming one file) carrying a
 * combined_*_sha256 field for every root of the version (the fields of
 * lxd.c's table), and one item per root (root.tar.xz, root.squashfs,
 * disk.qcow2).  A root added later to a version whose metadata has the
 * same sha256 joins it; an add that would replace an item with different
 * content is refused here, before any file is touched.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "publish_internal.h"

/* ".xz", ".zst", ".gz", ".bz2" or "" after a tarball's name: what its
 * first bytes say, so a stored file is named for what it is. */
static const char *comp_ext(const char *path)
{
	unsigned char m[6] = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, m, sizeof(m)) : -1;
	if (fd >= 0)
		close(fd);
	if (n == 6 && memcmp(m, "\xfd" "7zXZ\0", 6) == 0)
		return ".xz";
	if (n >= 4 && memcmp(m, "\x28\xb5\x2f\xfd", 4) == 0)
		return ".zst";
	if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b)
		return ".gz";
	if (n >= 3 && memcmp(m, "BZh", 3) == 0)
		return ".bz2";
	return "";
}

/* Each root kind's item name, ftype (the key of lxd.c's combined table)
 * and stored file name, as images.linuxcontainers.org names them. */
static const struct {
	const char *item, *ftype, *file;
} kinds[] = {
	[SS_ROOT_SQUASHFS] = { "root.squashfs", "squashfs", "rootfs.squashfs" },
	[SS_ROOT_TARBALL] = { "root.tar.xz", "root.tar.xz", "rootfs.tar" },
	[SS_ROOT_QCOW2] = { "disk.qcow2", "disk-kvm.img", "disk.qcow2" },
};

const char *ssp_root_item(int kind)
{
	return kind > SS_ROOT_UNKNOWN && kind <= SS_ROOT_TARBALL ? kinds[kind].item : NULL;
}

static int same_str(json_t *j, const char *s)
{
	const char *v = json_string_value(j);
	return v && strcmp(v, s) == 0;
}

/* The item NAME for the file F (ftype FTYPE): a copy of the one OLD holds
 * when it has the same content (its path kept), a new one at DIR/FILE when
 * OLD has none; NULL with ERR when OLD holds another content. */
static json_t *item_for(json_t *old, const char *name, const char *ftype, const char *dir, const char *file,
			const struct ssp_file *f, const char *const where[2], struct ss_error *err)
{
	json_t *o = json_object_get(old, name);
	if (o && (!same_str(json_object_get(o, "ftype"), ftype) || !same_str(json_object_get(o, "sha256"), f->sha256))) {
		ssi_err(err, SS_FATAL, "version %s of %s already holds a different '%s'", where[1], where[0], name);
		return NULL;
	}
	if (o)
		return json_deep_copy(o);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return json_pack("{s:s, s:s, s:I, s:s}", "ftype", ftype, "path", path, "size", (json_int_t)f->size, "sha256",
			 f->sha256);
}

/* A unified image: its file as lxd_combined and incus_combined items. */
static int unified_items(json_t *items, json_t *old, const struct ssp_file *img, const char *dir,
			 const char *const where[2], struct ss_error *err)
{
	char file[64];
	snprintf(file, sizeof(file), "image.tar%s", comp_ext(img->path));
	static const char *const names[] = { "lxd_combined.tar.gz", "incus_combined.tar.gz" };
	for (int i = 0; i < 2; i++) {
		json_t *it = item_for(old, names[i], names[i], dir, file, img, where, err);
		if (!it)
			return SS_FATAL;
		json_object_set_new(items, names[i], it);
	}
	return SS_OK;
}

/* The directory of the item PATH ("images/<fp>"), into DIR. */
static void dir_of(const char *path, char *dir, size_t sz)
{
	const char *slash = strrchr(path, '/');
	snprintf(dir, sz, "%.*s", slash ? (int)(slash - path) : 0, path);
}

/* A split image: the metadata item with every root's combined field, the
 * roots, and the metadata item again as Incus's. */
static int split_items(json_t *items, json_t *old, const struct ssp_file *meta, const struct ssp_file *roots,
		       int nroots, const char *dir_new, const char *const where[2], struct ss_error *err)
{
	char dir[PATH_MAX], file[64];
	json_t *om = json_object_get(old, "lxd.tar.xz");
	const char *opath = json_string_value(json_object_get(om, "path"));
	/* the version's own directory when the metadata is the one it has */
	if (opath && same_str(json_object_get(om, "sha256"), meta->sha256))
		dir_of(opath, dir, sizeof(dir));
	else
		snprintf(dir, sizeof(dir), "%s", dir_new);
	snprintf(file, sizeof(file), "lxd.tar%s", comp_ext(meta->path));
	json_t *m = item_for(old, "lxd.tar.xz", "lxd.tar.xz", dir, file, meta, where, err);
	if (!m)
		return SS_FATAL;
	json_object_set_new(items, "lxd.tar.xz", m);
	for (int r = 0; r < nroots; r++) {
		int k = roots[r].kind;
		snprintf(file, sizeof(file), "%s%s", kinds[k].file, k == SS_ROOT_TARBALL ? comp_ext(roots[r].path) : "");
		json_t *it = item_for(old, kinds[k].item, kinds[k].ftype, dir, file, &roots[r], where, err);
		if (!it)
			return SS_FATAL;
		json_object_set_new(items, kinds[k].item, it);
		/* every combined field of the root's ftype (a tarball's also
		 * the one LXD before 4.x reads) */
		const struct ssi_lxd_combined *c;
		for (size_t i = 0; (c = ssi_lxd_combined_at(i)); i++)
			if (strcmp(c->ftype, kinds[k].ftype) == 0)
				json_object_set_new(m, c->field, json_string(roots[r].fp));
	}
	json_t *oi = json_object_get(old, "incus.tar.xz");
	if (oi && !same_str(json_object_get(oi, "sha256"), meta->sha256))
		return ssi_err(err, SS_FATAL, "version %s of %s already holds a different '%s'", where[1], where[0],
			       "incus.tar.xz");
	json_t *inc = json_deep_copy(m);
	json_object_set_new(inc, "ftype", json_string("incus.tar.xz"));
	json_object_set_new(items, "incus.tar.xz", inc);
	return SS_OK;
}

json_t *ssp_version_items(json_t *old, const struct ssp_file *meta, const struct ssp_file *roots, int nroots,
			  const char *dir_new, const char *product, const char *version, struct ss_error *err)
{
	const char *const where[2] = { product, version };
	json_t *items = old ? json_deep_copy(old) : json_object();
	if (!items) {
		ssi_err(err, SS_FATAL, "out of memory");
		return NULL;
	}
	int rc = nroots ? split_items(items, old, meta, roots, nroots, dir_new, where, err)
			: unified_items(items, old, meta, dir_new, where, err);
	if (rc != SS_OK) {
		json_decref(items);
		return NULL;
	}
	return items;
}

/* Drops " WORD" from the end of S when there (case-insensitively). */
static void drop_tail(char *s, const char *word)
{
	size_t n = strlen(s), w = strlen(word);
	if (w && n > w && s[n - w - 1] == ' ' && strcasecmp(s + n - w, word) == 0)
		s[n - w - 1] = '\0';
}

void ssp_release_title(const struct ss_image_meta *m, const char *os, const char *release, const char *arch,
		       const char *variant, char *out, size_t sz)
{
	const char *t = ss_image_meta_property(m, "release_title"), *d = ss_image_meta_property(m, "description");
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", t ? t : d ? d : "");
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	char *s = buf;
	if (!t) {
		/* "Alpine 3.17 amd64 (default) (20230424_13:00)" -> "3.17" */
		size_t ol = strlen(os);
		if (strncasecmp(s, os, ol) == 0 && (s[ol] == ' ' || !s[ol]))
			s += ol + !!s[ol];
		for (int i = 0; i < 2; i++) {
			size_t n = strlen(s);
			char *open = strrchr(s, '(');
			if (n && s[n - 1] == ')' && open && open > s && open[-1] == ' ')
				open[-1] = '\0';
		}
		drop_tail(s, variant);
		drop_tail(s, arch);
		drop_tail(s, ssi_kernel_arch(arch));
	}
	while (*s == ' ')
		s++;
	for (size_t n = strlen(s); n && s[n - 1] == ' ';)
		s[--n] = '\0';
	snprintf(out, sz, "%s", *s ? s : release);
}
