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

/* At most one root of each kind: squashfs, rootfs tarball, qcow2 disk. */
#define MAX_ROOTS 3

struct input {
	const char *path;
	char sha256[65];
	long long size;
	char *tmp;              /* its copy in TREE/.sstream/tmp */
};

/* Reads SRC to its end into H and the NFP hashers FPS, writing it to OUT
 * when OUT >= 0.  SS_OK, or SS_FATAL naming IN or DEST. */
static int pump(int src, int out, struct ss_hasher *h, struct ss_hasher **fps, int nfp, char *buf, const char *in,
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
		for (int i = 0; i < nfp; i++)
			ss_hasher_update(fps[i], buf, (size_t)n);
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
 * only reads it), hashing it on the way into its own hasher and into the
 * NFP fingerprints FPS (a metadata file goes into each root's).
 */
static int copy_hash(const char *tree, struct input *in, struct ss_hasher **fps, int nfp, int dry_run,
		     struct ss_error *err)
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
		rc = pump(src, out, h, fps, nfp, buf, in->path, dest, err);
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

/* One add: the image's files, what its metadata names, what is written. */
struct add {
	const char *tree;
	const struct ss_publish_opts *po;
	int nfiles, unified;
	struct input in[MAX_ROOTS + 1];  /* the metadata (or unified image) first, then the roots */
	int kind[MAX_ROOTS + 1];
	char fp[MAX_ROOTS][65];          /* one per root; a unified image's in fp[0] */
	struct ss_image_meta *meta;
	const char *arch;
	char version[32], os[128], release[128], variant[128], product[512], alias[1024];
	const char *const *aliases;
	int naliases;
	json_t *products, *items; /* owned; ITEMS: the version's items after the add */
	int republished;
	char *placed[MAX_ROOTS + 2];     /* files this add put in the tree */
	int nplaced;
};

static int nroots(const struct add *a)
{
	return a->unified ? 0 : a->nfiles - 1;
}

/* Which file holds metadata.yaml (the first that does, moved to the
 * front), and what each other one is: at most one root of each kind. */
static int read_image(struct add *a, const char *const *files, struct ss_error *err)
{
	for (int i = 0; i < a->nfiles; i++)
		a->in[i].path = files[i];
	a->meta = ss_image_meta_read(a->in[0].path, a->nfiles == 1 ? &a->unified : NULL, err);
	for (int i = 1; !a->meta && i < a->nfiles; i++) {
		struct ss_error e2;
		ss_error_clear(&e2);
		a->meta = ss_image_meta_read(a->in[i].path, NULL, &e2);
		if (a->meta) { /* to the front, the roots in the order given */
			struct input t = a->in[i];
			memmove(&a->in[1], &a->in[0], sizeof(a->in[0]) * (size_t)i);
			a->in[0] = t;
		}
	}
	if (!a->meta)
		return err->code ? err->code : SS_FATAL;
	ss_error_clear(err);
	if (a->nfiles == 1 && !a->unified)
		return ssi_err(err, SS_FATAL, "invalid image '%s': no rootfs/ (a split image needs its root file too)",
			       a->in[0].path);
	for (int i = 1; i < a->nfiles; i++) {
		if ((a->kind[i] = ss_image_root_kind(a->in[i].path, err)) == SS_ROOT_UNKNOWN)
			return SS_FATAL;
		for (int j = 1; j < i; j++)
			if (a->kind[j] == a->kind[i])
				return ssi_err(err, SS_USAGE, "'%s' and '%s' are both a %s: one root of each kind",
					       a->in[j].path, a->in[i].path, ssp_root_item(a->kind[i]));
	}
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
	if (ssi_image_meta_require(a->meta, path, 1, err) != SS_OK)
		return SS_FATAL;
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

/* Product and aliases from metadata.yaml (os and release are there:
 * check_image saw them). */
static void name_image(struct add *a)
{
	const char *const *aliases = a->aliases;
	int naliases = a->naliases;
	a->arch = ssi_lxd_arch(ss_image_meta_architecture(a->meta));
	snprintf(a->os, sizeof(a->os), "%s", prop_or(a->meta, "os", ""));
	snprintf(a->release, sizeof(a->release), "%s", prop_or(a->meta, "release", ""));
	snprintf(a->variant, sizeof(a->variant), "%s", prop_or(a->meta, "variant", "default"));
	snprintf(a->product, sizeof(a->product), "%s:%s:%s:%s", a->os, a->release, a->arch, a->variant);
	lower(a->product);
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
 * and the fingerprint of each root with the metadata (of a unified image,
 * of its file).  A key that cannot sign is found first. */
static int hash_image(struct add *a, struct ss_error *err)
{
	struct ss_hasher *fph[MAX_ROOTS] = { NULL };
	int nfp = a->unified ? 1 : a->nfiles - 1, rc = SS_OK;
	for (int i = 0; i < nfp; i++)
		if (!(fph[i] = ss_hasher_new(SS_HASH_SHA256)))
			rc = ssi_err(err, SS_FATAL, "out of memory");
	if (rc == SS_OK && a->po->sign_key) {
		char *probe;
		size_t plen;
		if ((rc = ss_clearsign(a->po->sign_key, "{}\n", 3, &probe, &plen, err)) == SS_OK)
			free(probe);
	}
	/* the metadata into every fingerprint, each root into its own */
	for (int i = 0; rc == SS_OK && i < a->nfiles; i++)
		rc = copy_hash(a->tree, &a->in[i], i ? &fph[i - 1] : fph, i ? 1 : nfp, a->po->dry_run, err);
	for (int i = 0; i < nfp; i++) {
		struct ss_digest fpd;
		if (rc == SS_OK) {
			ss_hasher_final(fph[i], &fpd);
			memcpy(a->fp[i], fpd.sha256, 65);
		}
		ss_hasher_free(fph[i]);
	}
	return rc;
}

/* The version's items after the add (A->items), checked against what
 * the version holds before any file is placed. */
static int plan_items(struct add *a, json_t *old, struct ss_error *err)
{
	struct ssp_file meta = { a->in[0].path, a->in[0].sha256, a->in[0].size, SS_ROOT_UNKNOWN, a->fp[0] };
	struct ssp_file roots[MAX_ROOTS];
	for (int r = 0; r < nroots(a); r++)
		roots[r] = (struct ssp_file){ a->in[r + 1].path, a->in[r + 1].sha256, a->in[r + 1].size, a->kind[r + 1],
					      a->fp[r] };
	char dir[128];
	snprintf(dir, sizeof(dir), "images/%s", a->fp[0]);
	if (!(a->items = ssp_version_items(old, &meta, roots, nroots(a), dir, a->product, a->version, err)))
		return err->code ? err->code : SS_FATAL;
	a->republished = old && json_equal(old, a->items);
	return SS_OK;
}

/* The copies into place, under the names the items give them; those the
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
		else if ((rc = ssi_safe_rename(a->tree, a->in[i].tmp, name, err)) == SS_OK &&
			 !(a->placed[a->nplaced++] = strdup(name)))
			rc = ssi_err(err, SS_FATAL, "out of memory");
		free(dest);
		if (rc != SS_OK)
			return rc;
		free(a->in[i].tmp);
		a->in[i].tmp = NULL;
	}
	return SS_OK;
}

/* Removes what place_files (and a delta) put in the tree, and the
 * directories that leaves empty: a refused add leaves nothing behind. */
static void unplace_files(struct add *a)
{
	for (int i = 0; i < a->nplaced; i++) {
		struct ss_error ue;
		if (a->placed[i])
			ssi_safe_unlink(a->tree, a->placed[i], 1, NULL, &ue);
	}
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
	char title[256];
	ssp_release_title(a->meta, a->os, a->release, a->arch, a->variant, title, sizeof(title));
	json_object_set_new(prod, "arch", json_string(a->arch));
	json_object_set_new(prod, "os", json_string(a->os));
	json_object_set_new(prod, "release", json_string(a->release));
	json_object_set_new(prod, "release_title", json_string(title));
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

/* The version's items in place (with a delta from the previous version
 * when asked, a squashfs is new and not a dry run). */
static int put_version(struct add *a, json_t *versions, json_t *old, struct ss_error *err)
{
	int rc = SS_OK;
	if (a->po->delta && !a->po->dry_run && !json_object_get(old, "root.squashfs") &&
	    json_object_get(a->items, "root.squashfs")) {
		/* the delta beside the squashfs */
		const char *path = json_string_value(json_object_get(json_object_get(a->items, "root.squashfs"), "path"));
		const char *slash = path ? strrchr(path, '/') : NULL;
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 6, slash ? path : "images");
		if ((rc = ssp_add_delta(a->tree, versions, a->version, a->items, dir, err)) != SS_OK)
			return rc;
		const char *k;
		json_t *it;
		json_object_foreach(a->items, k, it) {
			const char *ft = json_string_value(json_object_get(it, "ftype"));
			if (ft && strcmp(ft, "squashfs.vcdiff") == 0 && !json_object_get(old, k) && a->nplaced < MAX_ROOTS + 2)
				a->placed[a->nplaced++] = strdup(json_string_value(json_object_get(it, "path")));
		}
	}
	json_t *v = json_object_get(versions, a->version);
	if (!v)
		json_object_set_new(versions, a->version, json_pack("{s:O}", "items", a->items));
	else
		json_object_set(v, "items", a->items);
	return SS_OK;
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
	json_t *prod = update_product(a), *versions = json_object_get(prod, "versions");
	json_t *old = json_object_get(json_object_get(versions, a->version), "items");
	if ((rc = plan_items(a, old, err)) != SS_OK)
		return rc;
	if (!a->po->dry_run)
		rc = place_files(a, err);
	if (rc == SS_OK)
		rc = put_version(a, versions, old, err);
	int writing = rc == SS_OK;
	if (writing)
		rc = ssp_write_streams(a->po, a->tree, a->products, changed, err);
	if (writing && rc == SS_FATAL && a->nplaced && err->sys_errno) { /* an I/O error, not a refusal */
		/* the files are in place, not named by any document: the tree
		 * is consistent but not untouched (disk full, say) */
		char why[sizeof(err->msg)];
		snprintf(why, sizeof(why), "%s", err->msg);
		rc = ssi_err(err, SS_PARTIAL,
			     "the image's files are in place, but the streams were not written (they still list what they listed before): %s",
			     why);
	} else if (rc != SS_OK) {
		unplace_files(a);
	}
	return rc;
}

int ss_publish_add_image(const char *tree, const char *const *files, int nfiles, const char *const *aliases,
			 int naliases, const struct ss_publish_opts *po, char fps[][65], int *nfps, int *changed,
			 struct ss_error *err)
{
	struct ss_error local;
	po = ssp_begin(po, &err, &local);
	*changed = 0;
	*nfps = 0;
	if (nfiles < 1 || nfiles > MAX_ROOTS + 1)
		return ssi_err(err, SS_USAGE,
			       "an image is one unified tarball, or a metadata tarball and up to %d root files", MAX_ROOTS);
	struct add a = { .tree = tree, .po = po, .nfiles = nfiles, .aliases = aliases, .naliases = naliases };
	int lock_fd = -1, rc = read_image(&a, files, err);
	if (rc == SS_OK)
		rc = check_image(&a, err);
	/* a dry run takes no lock: it would create .sstream/ */
	if (rc == SS_OK && !a.po->dry_run)
		rc = ssi_treelock_take(tree, SSI_TL_KEEP_NONE, &lock_fd, err);
	if (rc == SS_OK && (rc = add_locked(&a, changed, err)) == SS_OK) {
		*nfps = a.unified ? 1 : nfiles - 1;
		memcpy(fps, a.fp, sizeof(a.fp[0]) * (size_t)*nfps);
	}
	for (int i = 0; i < nfiles; i++) {
		struct ss_error ue;
		if (a.in[i].tmp)
			ssi_safe_unlink(tree, a.in[i].tmp, 0, NULL, &ue);
		free(a.in[i].tmp);
	}
	for (int i = 0; i < a.nplaced; i++)
		free(a.placed[i]);
	rc = ssp_page(po, tree, a.products, rc, *changed, err);
	json_decref(a.items);
	json_decref(a.products);
	ss_image_meta_free(a.meta);
	if (lock_fd >= 0)
		close(lock_fd);
	return rc;
}

int ss_publish_add(const char *tree, const char *const *files, int nfiles, const char *const *aliases,
		   int naliases, const struct ss_publish_opts *po, char fp_out[65], int *changed,
		   struct ss_error *err)
{
	char fps[MAX_ROOTS][65];
	int n = 0, rc = ss_publish_add_image(tree, files, nfiles, aliases, naliases, po, fps, &n, changed, err);
	if (rc == SS_OK && n > 0)
		memcpy(fp_out, fps[0], 65);
	return rc;
}
