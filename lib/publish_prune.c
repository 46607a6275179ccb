/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pruning a tree: old versions leave the streams, then files nothing
 * references are deleted once unreferenced for a grace period (clients
 * cache indexes), the pending ones recorded in .sstream/unreferenced, a
 * ledger (ledger.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "publish_internal.h"

static int cmp_desc(const void *a, const void *b)
{
	return -strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Files under TREE/REL (the directory DFD, owned here), tree-relative,
 * appended to OUT.  Directories are entered through their fd, never
 * through a symlink; a symlink below is listed as a file (removing it
 * removes the link, not what it points at). */
static void list_images_at(int dfd, const char *rel, struct ssi_strset *out)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char sub[PATH_MAX];
		if (snprintf(sub, sizeof(sub), "%s/%s", rel, e->d_name) >= (int)sizeof(sub))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int sfd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sfd >= 0)
				list_images_at(sfd, sub, out);
		} else {
			ssi_strset_add(out, sub);
		}
	}
	closedir(d);
}

/* Files under TREE/images; SS_FATAL when images/ is a symlink. */
static int list_images(const char *tree, struct ssi_strset *out, struct ss_error *err)
{
	struct ss_error e;
	int dfd = ssi_dir_open(tree, "images", 6, 0, &e);
	if (dfd < 0) {
		if (e.sys_errno == ENOENT)
			return SS_OK;
		if (err)
			*err = e;
		return SS_FATAL;
	}
	list_images_at(dfd, "images", out);
	return SS_OK;
}

/* Versions beyond the newest KEEP of each product leave PRODUCTS; CB
 * hears of each. */
static void drop_versions(json_t *products, int keep, void (*cb)(void *ud, const char *what, const char *path),
			  void *ud)
{
	const char *pn;
	json_t *prod;
	void *tmp;
	json_object_foreach_safe(json_object_get(products, "products"), tmp, pn, prod) {
		json_t *versions = json_object_get(prod, "versions");
		size_t n = json_object_size(versions), i = 0;
		if (keep <= 0 || n <= (size_t)keep)
			continue;
		const char **names = calloc(n, sizeof(*names));
		const char *vn;
		json_t *v;
		if (!names)
			continue;
		json_object_foreach(versions, vn, v)
			names[i++] = vn;
		qsort(names, n, sizeof(*names), cmp_desc);
		for (i = (size_t)keep; i < n; i++) {
			char what[1024];
			snprintf(what, sizeof(what), "%s/%s", pn, names[i]);
			if (cb)
				cb(ud, "version", what);
		}
		for (i = (size_t)keep; i < n; i++)
			json_object_del(versions, names[i]);
		free(names);
	}
}

/* The files pending deletion, and since when, from TREE's state (a
 * ledger, ledger.h; the bare "SINCE PATH" lines of before are read too). */
static int read_pending(const char *tree, struct ssi_ledger *old, struct ss_error *err)
{
	char state[PATH_MAX + 32], *data;
	snprintf(state, sizeof(state), "%s/" SSI_PRIVATE_DIR "/unreferenced", tree);
	size_t len;
	struct ss_error se;
	if (ss_fetch(state, SS_METADATA_CAP, &data, &len, &se) != SS_OK)
		return SS_OK;
	/* the state is read back from disk: only safe paths count */
	int rc = ssi_ledger_parse(old, data, len, SSI_LEDGER_OLD_BARE, NULL);
	free(data);
	return rc == 0 ? SS_OK : ssi_err(err, SS_FATAL, "out of memory");
}

struct sweep {
	const char *tree;
	long long grace;
	int dry_run;
	void (*cb)(void *ud, const char *what, const char *path);
	void *ud;
	struct ssi_ledger old, next;
	struct ssi_strset files;
	struct ssi_strset signed_names; /* what the signed view names: kept too */
	int rc;
	struct ss_error *err;
};

/* A file due: said, and deleted unless a dry run; it leaves the ledger
 * either way (a failure is the run's SS_PARTIAL). */
static int sweep_unlink(void *ud, const char *path)
{
	struct sweep *s = ud;
	if (s->cb)
		s->cb(s->ud, "file", path);
	struct ss_error ue;
	if (!s->dry_run && ssi_safe_unlink(s->tree, path, 1, NULL, &ue) != SS_OK && s->rc == SS_OK)
		s->rc = ssi_err(s->err, SS_PARTIAL, "%s", ue.msg);
	return 0;
}

/* Deletes the FILES nothing in PRODUCTS references once unreferenced for
 * the grace period; the others go to NEXT.  SS_PARTIAL when one could not
 * be deleted. */
static int sweep(struct sweep *s, json_t *products, struct ss_error *err)
{
	long long now = (long long)time(NULL);
	ssi_strset_seal(&s->files);
	for (size_t i = 0; i < s->files.n; i++) {
		const char *path = s->files.v[i];
		if (ssp_names_file(products, path, NULL) || ssi_strset_has(&s->signed_names, path))
			continue;
		const struct ssi_ledger_entry *e = ssi_ledger_find(&s->old, path);
		int lr = ssi_ledger_add(&s->next, path, e ? e->since : now);
		if (lr == -1)
			return ssi_err(err, SS_FATAL, "out of memory");
		/* a name the ledger cannot keep (a backslash): due at once or never */
		if (lr == -2 && ssi_ledger_due(now, now, s->grace))
			sweep_unlink(s, path);
	}
	ssi_ledger_expire(&s->next, now, s->grace, sweep_unlink, s);
	return s->rc;
}

/* NEXT as TREE's state; RC (SS_PARTIAL, say) and its message kept when
 * that goes well. */
static int save_pending(const char *tree, const struct ssi_ledger *next, int rc, struct ss_error *err)
{
	char *buf = malloc(ssi_ledger_text_len(next) + 1), *p;
	if (!buf)
		return ssi_err(err, SS_FATAL, "out of memory");
	p = ssi_ledger_text(next, buf);
	struct ss_error we;
	int written = 0; /* an unchanged state is left alone */
	int wrc = ssi_safe_write(tree, SSI_PRIVATE_DIR "/unreferenced", buf, (size_t)(p - buf), &written, &we);
	free(buf);
	if (wrc != SS_OK) {
		if (err)
			*err = we;
		return wrc;
	}
	return rc;
}

int ss_publish_prune(const char *tree, int keep, long long grace, int dry_run,
		     const struct ss_publish_opts *po, void (*cb)(void *ud, const char *what, const char *path),
		     void *ud, struct ss_error *err)
{
	struct ss_error local;
	po = ssp_begin(po, &err, &local);
	struct sweep s = { .tree = tree, .grace = grace, .dry_run = dry_run || po->dry_run, .cb = cb, .ud = ud,
			   .err = err };
	int lock_fd = -1, changed = 0, rc = SS_OK;
	json_t *products = NULL;
	/* a dry run takes no lock: it would create .sstream/ */
	if (!s.dry_run && (rc = ssi_treelock_take(tree, SSI_TL_KEEP_NONE, &lock_fd, err)) != SS_OK)
		return rc;
	if (!(products = ssp_load_products(tree, err)))
		rc = err->code ? err->code : SS_FATAL;
	/* what is on disk, first: a tree whose images/ is a symlink is refused
	 * before anything changes */
	else if ((rc = list_images(tree, &s.files, err)) == SS_OK) {
		drop_versions(products, keep, cb, ud);
		if (!s.dry_run)
			rc = ssp_write_streams(po, tree, products, &changed, err);
	}
	if (rc == SS_OK) {
		if ((rc = read_pending(tree, &s.old, err)) == SS_OK) {
			/* a file either view names stays: a client with a keyring
			 * reads the signed one, which may not say what the plain
			 * one says */
			if (ssi_treedocs_signed_names(tree, &s.signed_names) < 0)
				rc = ssi_err(err, SS_FATAL, "out of memory");
			ssi_strset_seal(&s.signed_names);
		}
		if (rc == SS_OK)
			rc = sweep(&s, products, err);
		if (!s.dry_run && rc != SS_FATAL)
			rc = save_pending(tree, &s.next, rc, err);
	}
	ssi_ledger_free(&s.old);
	ssi_strset_free(&s.files);
	ssi_ledger_free(&s.next);
	ssi_strset_free(&s.signed_names);
	rc = ssp_page(po, tree, products, rc, changed, err);
	json_decref(products);
	if (lock_fd >= 0)
		close(lock_fd);
	return rc;
}
