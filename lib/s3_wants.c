/* SPDX-License-Identifier: Apache-2.0 */
/*
 * S3 object storage: what a sync wants in the bucket (s3_wants.h), read
 * from the tree it publishes.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "s3_wants.h"

int ssi_s3_want_cmp_key(const void *a, const void *b)
{
	return strcmp(((const struct want *)a)->key, ((const struct want *)b)->key);
}

/* Items before products files before indexes; paths in order within each. */
int ssi_s3_want_cmp_order(const void *a, const void *b)
{
	const struct want *x = a, *y = b;
	if (x->doc != y->doc)
		return x->doc - y->doc;
	return strcmp(x->rel, y->rel);
}

static struct want *want_add(struct ss_s3 *s, struct wants *w, const char *rel)
{
	if (w->n == w->alloc) {
		size_t na = w->alloc ? w->alloc * 2 : 256;
		struct want *nv = realloc(w->v, na * sizeof(*nv));
		if (!nv)
			return NULL;
		w->v = nv;
		w->alloc = na;
	}
	struct want *e = &w->v[w->n];
	memset(e, 0, sizeof(*e));
	e->rel = strdup(rel);
	e->key = ssi_s3_full_key(s, rel);
	if (!e->rel || !e->key) {
		free(e->rel);
		free(e->key);
		return NULL;
	}
	w->n++;
	return e;
}

void ssi_s3_wants_free(struct wants *w)
{
	for (size_t i = 0; i < w->n; i++) {
		free(w->v[i].rel);
		free(w->v[i].key);
	}
	free(w->v);
}

/* Every regular file under DIR/REL (the documents under streams/). */
int ssi_s3_add_docs(struct ss_s3 *s, struct wants *w, const char *root, const char *rel,
		    struct ss_error *err)
{
	char *dir = ssi_s3_asprintf("%s/%s", root, rel);
	if (!dir)
		return ssi_err(err, SS_FATAL, "out of memory");
	DIR *d = opendir(dir);
	if (!d) {
		int e = errno;
		free(dir);
		if (e == ENOENT && strcmp(rel, "streams") == 0)
			return ssi_err(err, SS_FATAL, "cannot publish '%s': no streams/ directory", root);
		return ssi_err_sys(err, SS_FATAL, e, "cannot read '%s/%s'", root, rel);
	}
	int rc = SS_OK;
	struct dirent *de;
	while (rc == SS_OK && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue; /* ., .., and temporary files */
		char *sub = ssi_s3_asprintf("%s/%s", rel, de->d_name);
		char *full = sub ? ssi_s3_asprintf("%s/%s", root, sub) : NULL;
		struct stat st;
		if (!full) {
			rc = ssi_err(err, SS_FATAL, "out of memory");
		} else if (lstat(full, &st) != 0) {
			rc = ssi_err_sys(err, SS_FATAL, errno, "cannot stat '%s'", full);
		} else if (S_ISDIR(st.st_mode)) {
			rc = ssi_s3_add_docs(s, w, root, sub, err);
		} else if (S_ISREG(st.st_mode)) {
			struct ss_digest dg;
			struct want *e = NULL;
			if (ss_hash_file(full, SS_HASH_SHA256 | SS_HASH_MD5, &dg, err) != SS_OK)
				rc = SS_FATAL;
			else if (!(e = want_add(s, w, sub)))
				rc = ssi_err(err, SS_FATAL, "out of memory");
			if (e) {
				e->size = (long long)st.st_size;
				memcpy(e->sha256, dg.sha256, 65);
				memcpy(e->md5, dg.md5, 33);
				e->doc = strncmp(de->d_name, "index.", 6) == 0 ? 2 : 1;
			}
		}
		free(sub);
		free(full);
	}
	closedir(d);
	free(dir);
	return rc;
}

/* Wants in path order. */
static int want_cmp_rel(const void *a, const void *b)
{
	return strcmp(((const struct want *)a)->rel, ((const struct want *)b)->rel);
}

/* One want per path from FIRST on (items share files across versions). */
static void wants_dedupe(struct wants *w, size_t first)
{
	if (w->n <= first)
		return;
	qsort(w->v + first, w->n - first, sizeof(*w->v), want_cmp_rel);
	size_t k = first;
	for (size_t i = first; i < w->n; i++) {
		if (k > first && strcmp(w->v[k - 1].rel, w->v[i].rel) == 0) {
			free(w->v[i].rel);
			free(w->v[i].key);
			continue;
		}
		w->v[k++] = w->v[i];
	}
	w->n = k;
}

/* The want E of item IT from the staged documents of a streamed sync:
 * its size comes from the stream, which must give it (the buffer and a
 * multipart upload are planned before the first byte).  Without a sha256
 * in the stream E's stays empty until the upload computed it. */
static int want_from_item(struct want *e, const struct ss_item *it, struct ss_error *err)
{
	(void)it;
	e->size = ss_item_get_int(it, "size");
	if (e->size < 0)
		return ssi_err(err, SS_FATAL, "cannot stream '%s' into the bucket: the stream gives no size", e->rel);
	return SS_OK;
}

/* The want E of item IT from the local file FULL. */
static int want_from_file(struct want *e, const struct ss_item *it, const char *full, struct ss_error *err)
{
	struct stat st;
	if (stat(full, &st) != 0 || !S_ISREG(st.st_mode))
		return ssi_err(err, SS_FATAL, "cannot publish '%s': the tree names it but it is missing", full);
	e->size = (long long)st.st_size;
	const char *sha = ss_item_str(it, "sha256");
	if (!sha || strlen(sha) != 64) {
		/* No sha256 in the stream: the file's own, so the server
		 * still checks the bytes it gets. */
		struct ss_digest dg;
		if (ss_hash_file(full, SS_HASH_SHA256, &dg, err) != SS_OK)
			return SS_FATAL;
		memcpy(e->sha256, dg.sha256, 65);
	}
	long long isz = ss_item_get_int(it, "size");
	if (isz >= 0 && isz != e->size)
		return ssi_err(err, SS_INTEGRITY, "'%s': size %lld, expected %lld", full, e->size, isz);
	return SS_OK;
}

/* The items the tree's documents name, each path once; *TP keeps the tree
 * (the wants point into it).  STREAMED: the items are not in the tree. */
int ssi_s3_add_items(struct ss_s3 *s, struct wants *w, const char *root, int streamed,
		     struct ss_tree **tp, struct ss_error *err)
{
	struct ss_tree *t = *tp = ss_tree_load(root, err);
	if (!t)
		return err ? err->code : SS_FATAL;
	int rc = SS_OK;
	size_t first = w->n;
	for (size_t i = 0; rc == SS_OK && i < ss_tree_nproducts(t); i++) {
		const struct ss_products *p = ss_tree_products(t, i);
		if (ss_products_check_paths(p, err) != SS_OK) {
			rc = SS_FATAL;
			break;
		}
		for (size_t j = 0; rc == SS_OK && j < ss_products_count(p); j++) {
			const struct ss_item *it = ss_products_item(p, j);
			const char *path = ss_item_str(it, "path");
			if (!path)
				continue;
			const char *sha = ss_item_str(it, "sha256");
			char *full = ssi_s3_asprintf("%s/%s", root, path);
			struct want *e = full ? want_add(s, w, path) : NULL;
			if (!e) {
				free(full);
				rc = ssi_err(err, SS_FATAL, "out of memory");
				break;
			}
			e->it = it;
			if (sha && strlen(sha) == 64) {
				memcpy(e->sha256, sha, 65);
				for (char *c = e->sha256; *c; c++)
					if (*c >= 'A' && *c <= 'F')
						*c = (char)(*c - 'A' + 'a');
			}
			rc = streamed ? want_from_item(e, it, err) : want_from_file(e, it, full, err);
			free(full);
		}
	}
	wants_dedupe(w, first);
	return rc;
}
