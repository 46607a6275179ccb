/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Adding an LXD/Incus image to a tree.  Each image file is read exactly
 * once: copied into the tree while its own sha256 and the image's
 * fingerprint are computed.  Payload files first, images.json next,
 * index.json last, each atomically, under the tree's lock.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "publish_internal.h"

/* A value that becomes part of a product name ("os:release:arch:variant"),
 * an alias ("os/release/variant", the list comma-separated) or a path:
 * none of those separators, no space or control character. */
static const char *name_problem(const char *v)
{
	if (!*v)
		return "empty";
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == ',' || *p == ':' || *p == '/' || *p == '\\')
			return "',', ':', '/' or '\\' in it";
		if (*p <= 0x20 || *p == 0x7f)
			return "a space or control character in it";
	}
	return strlen(v) > 100 ? "longer than 100 characters" : NULL;
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

struct input {
	const char *path;
	char sha256[65];
	long long size;
	char *tmp;              /* its copy in TREE/.sstream/tmp */
};

/* Reads SRC to its end into H and, when not NULL, FP, writing it to OUT
 * when OUT >= 0.  SS_OK, or SS_FATAL naming IN or DEST. */
static int pump(int src, int out, struct ss_hasher *h, struct ss_hasher *fp, char *buf, const char *in,
		const char *dest, struct ss_error *err)
{
	for (;;) {
		ssize_t n = read(src, buf, 1 << 20);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ssi_err_sys(err, SS_FATAL, errno, "cannot read '%s'", in);
		if (n == 0)
			return SS_OK;
		ss_hasher_update(h, buf, (size_t)n);
		if (fp)
			ss_hasher_update(fp, buf, (size_t)n);
		for (ssize_t off = 0; out >= 0 && off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return ssi_err_sys(err, SS_FATAL, errno, "cannot write '%s'", dest);
			off += w;
		}
	}
}

/*
 * Copies IN into a temporary file under TREE/.sstream/tmp (with DRY_RUN
 * only reads it), hashing it on the way into its own hasher and, when
 * not NULL, into FP (the fingerprint).
 */
static int copy_hash(const char *tree, struct input *in, struct ss_hasher *fp, int dry_run, struct ss_error *err)
{
	char tmpl[PATH_MAX], dest[2 * PATH_MAX], name[64] = "";
	int dfd = dry_run ? -1 : ssi_dir_open(tree, SSI_PRIVATE_DIR "/tmp", strlen(SSI_PRIVATE_DIR "/tmp"), 1, err);
	if (!dry_run && dfd < 0)
		return SS_FATAL;
	int out = dfd >= 0 ? ssi_tmpfile_at(dfd, "add.", name, sizeof(name)) : -1;
	int src = open(in->path, O_RDONLY | O_CLOEXEC);
	snprintf(tmpl, sizeof(tmpl), SSI_PRIVATE_DIR "/tmp/%s", name);
	snprintf(dest, sizeof(dest), "%s/%s", tree, tmpl);
	struct ss_hasher *h = ss_hasher_new(SS_HASH_SHA256);
	char *buf = malloc(1 << 20);
	int rc = SS_OK;
	if ((!dry_run && out < 0) || src < 0 || !h || !buf)
		rc = ssi_err_sys(err, SS_FATAL, errno ? errno : ENOMEM, "cannot copy '%s'", in->path);
	else
		rc = pump(src, out, h, fp, buf, in->path, dest, err);
	if (rc == SS_OK && out >= 0 && (fchmod(out, 0644) < 0 || fsync(out) < 0))
		rc = ssi_err_sys(err, SS_FATAL, errno, "cannot write '%s'", dest);
	if (rc == SS_OK) {
		struct ss_digest d;
		ss_hasher_final(h, &d);
		memcpy(in->sha256, d.sha256, 65);
		in->size = d.size;
		if (!dry_run && !(in->tmp = strdup(tmpl)))
			rc = ssi_err(err, SS_FATAL, "out of memory");
	}
	if (out >= 0) {
		close(out);
		if (rc != SS_OK)
			unlinkat(dfd, name, 0);
	}
	if (dfd >= 0)
		close(dfd);
	if (src >= 0)
		close(src);
	ss_hasher_free(h);
	free(buf);
	return rc;
}

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

/* The items of one version, as LXD and Incus want them; the files are
 * named as images.linuxcontainers.org names them (lxd.tar.xz,
 * rootfs.squashfs, rootfs.tar.zst, disk.qcow2), by their content. */
static json_t *image_items(int kind, int unified, const struct input *meta, const struct input *root,
			   const char *fp, const char *dir)
{
	char mpath[PATH_MAX], rpath[PATH_MAX];
	json_t *items = json_object();
	if (unified) {
		snprintf(mpath, sizeof(mpath), "%s/image.tar%s", dir, comp_ext(meta->path));
		json_t *it = json_pack("{s:s, s:s, s:I, s:s}", "ftype", "lxd_combined.tar.gz", "path", mpath,
				       "size", (json_int_t)meta->size, "sha256", meta->sha256);
		json_object_set_new(items, "lxd_combined.tar.gz", it);
		json_t *inc = json_deep_copy(it);
		json_object_set_new(inc, "ftype", json_string("incus_combined.tar.gz"));
		json_object_set_new(items, "incus_combined.tar.gz", inc);
		return items;
	}
	static const struct {
		const char *item, *ftype, *file;
	} kinds[] = {
		[SS_ROOT_SQUASHFS] = { "root.squashfs", "squashfs", "rootfs.squashfs" },
		[SS_ROOT_TARBALL] = { "root.tar.xz", "root.tar.xz", "rootfs.tar" },
		[SS_ROOT_QCOW2] = { "disk.qcow2", "disk-kvm.img", "disk.qcow2" },
	};
	snprintf(mpath, sizeof(mpath), "%s/lxd.tar%s", dir, comp_ext(meta->path));
	snprintf(rpath, sizeof(rpath), "%s/%s%s", dir, kinds[kind].file,
		 kind == SS_ROOT_TARBALL ? comp_ext(root->path) : "");
	json_t *m = json_pack("{s:s, s:s, s:I, s:s}", "ftype", "lxd.tar.xz", "path", mpath, "size",
			      (json_int_t)meta->size, "sha256", meta->sha256);
	/* every combined field of the root's ftype (a tarball's also the one
	 * LXD before 4.x reads) */
	const struct ssi_lxd_combined *c;
	for (size_t i = 0; (c = ssi_lxd_combined_at(i)); i++)
		if (strcmp(c->ftype, kinds[kind].ftype) == 0)
			json_object_set_new(m, c->field, json_string(fp));
	json_t *inc = json_deep_copy(m);
	json_object_set_new(inc, "ftype", json_string("incus.tar.xz"));
	json_object_set_new(items, "lxd.tar.xz", m);
	json_object_set_new(items, "incus.tar.xz", inc);
	json_object_set_new(items, kinds[kind].item,
			    json_pack("{s:s, s:s, s:I, s:s}", "ftype", kinds[kind].ftype, "path", rpath, "size",
				      (json_int_t)root->size, "sha256", root->sha256));
	return items;
}

/* Whether OLD holds the items of NEW with the same content, whatever the
 * paths (a tree published before files were named by compression). */
static int same_content(json_t *old, json_t *new_items)
{
	const char *k;
	json_t *it;
	json_object_foreach(new_items, k, it) {
		json_t *o = json_object_get(old, k);
		if (!o || !json_equal(json_object_get(o, "sha256"), json_object_get(it, "sha256")) ||
		    !json_equal(json_object_get(o, "ftype"), json_object_get(it, "ftype")))
			return 0;
	}
	return 1;
}

/* One add: the image's files, what its metadata names, what is written. */
struct add {
	const char *tree;
	const struct ss_publish_opts *po;
	int nfiles, unified, kind;
	struct input in[2];
	struct ss_image_meta *meta;
	const char *arch;
	char version[32], os[128], release[128], variant[128], product[512], dir[128], alias[1024];
	char fp[65];
	const char *const *aliases;
	int naliases;
	json_t *products, *items; /* owned */
	int republished, placed;
};

/* Which file holds metadata.yaml, and what the other one is. */
static int read_image(struct add *a, const char *const *files, struct ss_error *err)
{
	a->in[0].path = files[0];
	a->in[1].path = a->nfiles > 1 ? files[1] : NULL;
	a->meta = ss_image_meta_read(a->in[0].path, a->nfiles == 1 ? &a->unified : NULL, err);
	if (!a->meta && a->nfiles == 2) {
		struct ss_error e2;
		ss_error_clear(&e2);
		a->meta = ss_image_meta_read(a->in[1].path, NULL, &e2);
		if (a->meta) {
			struct input t = a->in[0];
			a->in[0] = a->in[1];
			a->in[1] = t;
		}
	}
	if (!a->meta)
		return err->code ? err->code : SS_FATAL;
	ss_error_clear(err);
	if (a->nfiles == 1 && !a->unified)
		return ssi_err(err, SS_FATAL, "invalid image '%s': no rootfs/ (a split image needs its root file too)",
			       a->in[0].path);
	if (a->nfiles == 2 && (a->kind = ss_image_root_kind(a->in[1].path, err)) == SS_ROOT_UNKNOWN)
		return SS_FATAL;
	return SS_OK;
}

/* What metadata.yaml says becomes names, keys and paths: checked before
 * anything is copied, so that what we write passes sstream-verify and the
 * clients list it.  The version key comes from the creation date. */
static int check_image(struct add *a, struct ss_error *err)
{
	const char *const *aliases = a->aliases;
	int naliases = a->naliases;
	const char *raw_arch = ss_image_meta_architecture(a->meta), *path = a->in[0].path;
	if (!ssi_lxd_arch_known(raw_arch))
		return ssi_err(err, SS_FATAL, "invalid image '%s': architecture '%s' is unknown to LXD and Incus", path,
			       raw_arch ? raw_arch : "");
	static const char *const named[] = { "os", "release", "variant" };
	for (int i = 0; i < 3; i++) {
		const char *v = ss_image_meta_property(a->meta, named[i]), *why = v ? name_problem(v) : NULL;
		if (why)
			return ssi_err(err, SS_FATAL, "invalid image '%s': properties.%s '%s': %s", path, named[i], v, why);
	}
	for (int i = 0; i < naliases; i++) {
		/* the product's aliases are one comma-separated list */
		int bad = !*aliases[i];
		for (const unsigned char *p = (const unsigned char *)aliases[i]; *p; p++)
			bad |= *p == ',' || *p <= 0x20 || *p == 0x7f;
		if (bad)
			return ssi_err(err, SS_USAGE, "alias '%s': empty, or a ',', space or control character in it",
				       aliases[i]);
	}
	long long cdate = ss_image_meta_creation_date(a->meta);
	time_t created = (time_t)cdate;
	struct tm tm;
	/* the version key's first 8 characters must be a date YYYYMMDD */
	if (cdate < 0 || cdate > 253402300799LL || !gmtime_r(&created, &tm) ||
	    strftime(a->version, sizeof(a->version), "%Y%m%d_%H%M", &tm) != 13 || !ssi_lxd_version_ok(a->version))
		return ssi_err(err, SS_FATAL, "invalid image '%s': creation_date %lld is not a time between 1970 and 9999",
			       path, cdate);
	return SS_OK;
}

static const char *prop_or(const struct ss_image_meta *meta, const char *name, const char *dflt)
{
	const char *v = ss_image_meta_property(meta, name);
	return v ? v : dflt;
}

/* Product, directory and aliases from metadata.yaml and the fingerprint. */
static void name_image(struct add *a)
{
	const char *const *aliases = a->aliases;
	int naliases = a->naliases;
	a->arch = ssi_lxd_arch(ss_image_meta_architecture(a->meta));
	snprintf(a->os, sizeof(a->os), "%s", prop_or(a->meta, "os", "unknown"));
	snprintf(a->release, sizeof(a->release), "%s", prop_or(a->meta, "release", "unknown"));
	snprintf(a->variant, sizeof(a->variant), "%s", prop_or(a->meta, "variant", "default"));
	snprintf(a->product, sizeof(a->product), "%s:%s:%s:%s", a->os, a->release, a->arch, a->variant);
	lower(a->product);
	snprintf(a->dir, sizeof(a->dir), "images/%s", a->fp);
	/* as images.linuxcontainers.org: the default variant is also
	 * {os}/{release} ("alpine/3.17/default,alpine/3.17") */
	char *al = a->alias;
	int n = snprintf(al, sizeof(a->alias), "%s/%s/%s", a->os, a->release, a->variant);
	if (strcasecmp(a->variant, "default") == 0)
		n += snprintf(al + n, sizeof(a->alias) - (size_t)n, ",%s/%s", a->os, a->release);
	lower(al);
	for (int i = 0; i < naliases && n < (int)sizeof(a->alias); i++)
		n += snprintf(al + n, sizeof(a->alias) - (size_t)n, ",%s", aliases[i]);
}

/* Copies (hashes only, on a dry run) the image's files: their sha256
 * and the image's fingerprint.  A key that cannot sign is found first. */
static int hash_image(struct add *a, struct ss_error *err)
{
	struct ss_hasher *fph = ss_hasher_new(SS_HASH_SHA256);
	if (!fph)
		return ssi_err(err, SS_FATAL, "out of memory");
	int rc = SS_OK;
	if (a->po->sign_key) {
		char *probe;
		size_t plen;
		if ((rc = ss_clearsign(a->po->sign_key, "{}\n", 3, &probe, &plen, err)) == SS_OK)
			free(probe);
	}
	for (int i = 0; rc == SS_OK && i < a->nfiles; i++)
		rc = copy_hash(a->tree, &a->in[i], fph, a->po->dry_run, err);
	if (rc == SS_OK) {
		struct ss_digest fpd;
		ss_hasher_final(fph, &fpd);
		memcpy(a->fp, fpd.sha256, 65);
	}
	ss_hasher_free(fph);
	return rc;
}

/* The copies into place, under their content-derived names; those the
 * tree already holds with this content stay as they are. */
static int place_files(struct add *a, struct ss_error *err)
{
	for (int i = 0; i < a->nfiles; i++) {
		const char *name = NULL, *k;
		json_t *it;
		json_object_foreach(a->items, k, it) {
			const char *sha = json_string_value(json_object_get(it, "sha256"));
			if (sha && strcmp(sha, a->in[i].sha256) == 0)
				name = json_string_value(json_object_get(it, "path"));
		}
		char *dest = name ? ss_join(a->tree, name) : NULL;
		struct stat st;
		struct ss_error ue;
		int rc = SS_OK;
		if (!dest)
			rc = ssi_err(err, SS_FATAL, "cannot place '%s'", a->in[i].path);
		else if (a->republished || (lstat(dest, &st) == 0 && S_ISREG(st.st_mode) &&
					    ssp_names_file(a->products, name, a->in[i].sha256)))
			ssi_safe_unlink(a->tree, a->in[i].tmp, 0, NULL, &ue); /* already published: untouched */
		else if ((rc = ssi_safe_rename(a->tree, a->in[i].tmp, name, err)) == SS_OK)
			a->placed++;
		free(dest);
		if (rc != SS_OK)
			return rc;
		free(a->in[i].tmp);
		a->in[i].tmp = NULL;
	}
	return SS_OK;
}

/* The product's fields from metadata.yaml; its aliases accumulate: the
 * ones it had, then the new ones. */
static json_t *update_product(struct add *a)
{
	json_t *prods = json_object_get(a->products, "products"), *prod = json_object_get(prods, a->product);
	if (!prod) {
		prod = json_object();
		json_object_set_new(prods, a->product, prod);
		json_object_set_new(prod, "versions", json_object());
	}
	json_object_set_new(prod, "arch", json_string(a->arch));
	json_object_set_new(prod, "os", json_string(a->os));
	json_object_set_new(prod, "release", json_string(a->release));
	json_object_set_new(prod, "release_title", json_string(prop_or(a->meta, "release_title", a->release)));
	json_object_set_new(prod, "variant", json_string(a->variant));
	const char *had = json_string_value(json_object_get(prod, "aliases"));
	char merged[2048], *save = NULL;
	snprintf(merged, sizeof(merged), "%s", had ? had : "");
	for (char *al = strtok_r(a->alias, ",", &save); al; al = strtok_r(NULL, ",", &save)) {
		if (ssi_list_has(merged, al))
			continue;
		size_t ml = strlen(merged);
		snprintf(merged + ml, sizeof(merged) - ml, "%s%s", ml ? "," : "", al);
	}
	json_object_set_new(prod, "aliases", json_string(merged));
	if (!json_object_get(prod, "requirements"))
		json_object_set_new(prod, "requirements", json_object());
	if (!json_object_get(prod, "lxd_requirements"))
		json_object_set_new(prod, "lxd_requirements", json_object());
	return prod;
}

/* The image's items into its version (with a delta from the previous
 * one, when asked and not a dry run); A->items is given away. */
static int put_version(struct add *a, json_t *versions, struct ss_error *err)
{
	json_t *items = a->items, *olditems = json_object_get(json_object_get(versions, a->version), "items");
	a->items = NULL;
	int rc = SS_OK;
	if (a->po->delta && !a->po->dry_run && a->kind == SS_ROOT_SQUASHFS && !olditems &&
	    (rc = ssp_add_delta(a->tree, versions, a->version, items, a->dir, err)) != SS_OK) {
		json_decref(items);
		return rc;
	}
	if (!olditems) {
		json_object_set_new(versions, a->version, json_pack("{s:o}", "items", items));
		return SS_OK;
	}
	if (!json_equal(olditems, items) && !a->republished) {
		/* another image of the same minute: a VM beside a container, say */
		const char *k;
		json_t *it;
		json_object_foreach(items, k, it) {
			json_t *same = json_object_get(olditems, k);
			if (same && !json_equal(same, it)) {
				rc = ssi_err(err, SS_FATAL, "version %s of %s already holds a different '%s'", a->version,
					     a->product, k);
				break;
			}
			json_object_set(olditems, k, it);
		}
	}
	json_decref(items);
	return rc;
}

/* The image's files and documents, under the lock. */
static int add_locked(struct add *a, int *changed, struct ss_error *err)
{
	int rc = hash_image(a, err);
	if (rc != SS_OK)
		return rc;
	name_image(a);
	if (!(a->products = ssp_load_products(a->tree, err)))
		return err->code ? err->code : SS_FATAL;
	a->items = image_items(a->kind, a->unified, &a->in[0], &a->in[1], a->fp, a->dir);
	json_t *prev = json_object_get(json_object_get(json_object_get(json_object_get(json_object_get(a->products, "products"),
											      a->product), "versions"), a->version), "items");
	a->republished = prev && same_content(prev, a->items);
	if (!a->items)
		return ssi_err(err, SS_FATAL, "out of memory");
	if (!a->po->dry_run && (rc = place_files(a, err)) != SS_OK)
		return rc;
	json_t *prod = update_product(a);
	if ((rc = put_version(a, json_object_get(prod, "versions"), err)) != SS_OK)
		return rc;
	rc = ssp_write_streams(a->po, a->tree, a->products, changed, err);
	if (rc == SS_FATAL && a->placed && err->sys_errno) { /* an I/O error, not a refusal */
		/* the files are in place, not named by any document: the tree
		 * is consistent but not untouched (disk full, say) */
		char why[sizeof(err->msg)];
		snprintf(why, sizeof(why), "%s", err->msg);
		rc = ssi_err(err, SS_PARTIAL,
			     "the image's files are in place, but the streams were not written (they still list what they listed before): %s",
			     why);
	}
	return rc;
}

int ss_publish_add(const char *tree, const char *const *files, int nfiles, const char *const *aliases,
		   int naliases, const struct ss_publish_opts *po, char fp_out[65], int *changed,
		   struct ss_error *err)
{
	struct ss_error local;
	po = ssp_begin(po, &err, &local);
	*changed = 0;
	if (nfiles < 1 || nfiles > 2)
		return ssi_err(err, SS_USAGE, "an image is one unified tarball, or a metadata tarball and a root file");
	struct add a = { .tree = tree, .po = po, .nfiles = nfiles, .kind = SS_ROOT_UNKNOWN,
			 .aliases = aliases, .naliases = naliases };
	int lock_fd = -1, rc = read_image(&a, files, err);
	if (rc == SS_OK)
		rc = check_image(&a, err);
	/* a dry run takes no lock: it would create .sstream/ */
	if (rc == SS_OK && !a.po->dry_run)
		rc = ssi_treelock_take(tree, SSI_TL_KEEP_NONE, &lock_fd, err);
	if (rc == SS_OK && (rc = add_locked(&a, changed, err)) == SS_OK)
		memcpy(fp_out, a.fp, 65);
	for (int i = 0; i < 2; i++) {
		struct ss_error ue;
		if (a.in[i].tmp)
			ssi_safe_unlink(tree, a.in[i].tmp, 0, NULL, &ue);
		free(a.in[i].tmp);
	}
	rc = ssp_page(po, tree, a.products, rc, *changed, err);
	json_decref(a.items);
	json_decref(a.products);
	ss_image_meta_free(a.meta);
	if (lock_fd >= 0)
		close(lock_fd);
	return rc;
}
