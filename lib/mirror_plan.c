/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mirror planning: what TARGET lists now (parsed once, or taken to be the
 * source when it holds the same bytes), the versions --keep retains, and
 * for each wanted item whether it is present, reusable from another path
 * of the tree, or to be fetched.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "itemcheck.h"
#include "mirror_internal.h"

/* ---- planning ---------------------------------------------------------------- */

int ssm_load_old(struct run *r)
{
	char *idx = ssm_tpath(r, "streams/v1/index.json");
	struct stat st;
	int exists = idx && stat(idx, &st) == 0;
	free(idx);
	if (!exists)
		return SS_OK;
	struct ss_error e;
	/* A tree that holds upstream's documents byte for byte (an unchanged
	 * full mirror, the usual cron rerun) is the source tree: no need to
	 * parse it twice. */
	r->old_is_src = 1;
	int found_index = 0;
	for (size_t i = 0; r->old_is_src && i < ss_tree_ndocs(r->src); i++) {
		const char *d;
		char *data;
		size_t len;
		const char *rel = ss_tree_doc(r->src, i, &d, &len);
		if (ssi_tree_doc_read(r->src, i, &data, &len, r->err) != SS_OK)
			return SS_FATAL;
		if (!ssi_safe_holds(r->o->target, rel, data, len))
			r->old_is_src = 0;
		free(data);
		found_index |= strcmp(rel, "streams/v1/index.json") == 0;
	}
	if (r->old_is_src && found_index) {
		r->old = r->src;
	} else {
		/* its items are what counts: its bytes are never written */
		r->old_is_src = 0, r->old = ssi_tree_load_items(r->o->target, &e);
	}
	if (!r->old) {
		/* Not fatal: the run rewrites it.  Nothing is pruned this time. */
		ssm_event(r, SS_EV_WARN, NULL, -1, e.msg);
		return SS_OK;
	}
	size_t n = 0;
	for (size_t i = 0; i < ss_tree_nproducts(r->old); i++)
		n += ss_products_count(ss_tree_products(r->old, i));
	if (!(r->old_by_path = calloc(n ? n : 1, sizeof(*r->old_by_path))))
		return ssi_err(r->err, SS_FATAL, "out of memory");
	size_t np = 0;
	int rc = SS_OK;
	for (size_t i = 0; rc == SS_OK && i < ss_tree_nproducts(r->old); i++) {
		const struct ss_products *p = ss_tree_products(r->old, i);
		rc = ssm_ref(r, &r->old_refs, ss_products_path(p), 0);
		for (size_t j = 0; rc == SS_OK && j < ss_products_count(p); j++) {
			const struct ss_item *it = ss_products_item(p, j);
			const char *path = ss_item_str(it, "path");
			if (!path)
				continue;
			r->old_by_path[np++] = (struct keyed){ path, it };
			rc = ssm_ref(r, &r->old_refs, path, 0);
		}
	}
	for (size_t i = 0; rc == SS_OK && i < ss_tree_ndocs(r->old); i++) {
		const char *d;
		size_t l;
		rc = ssm_ref(r, &r->old_refs, ss_tree_doc(r->old, i, &d, &l), 0);
	}
	qsort(r->old_by_path, np, sizeof(*r->old_by_path), ssm_cmp_keyed);
	r->nold = np;
	return rc;
}

/* The old tree's item with sha256 SHA, or NULL.  Its items by sha256 are
 * sorted at the first question: a rerun whose files are all in place
 * asks none (a million items, 16 MB). */
static const struct ss_item *old_by_sha(struct run *r, const char *sha)
{
	if (!r->old_by_sha) {
		if (!(r->old_by_sha = calloc(r->nold ? r->nold : 1, sizeof(*r->old_by_sha))))
			return NULL; /* (then fetched: no reuse is no harm) */
		for (size_t i = 0; i < r->nold; i++) {
			const char *s = ss_item_str(r->old_by_path[i].it, "sha256");
			if (s)
				r->old_by_sha[r->nsha++] = (struct keyed){ s, r->old_by_path[i].it };
		}
		qsort(r->old_by_sha, r->nsha, sizeof(*r->old_by_sha), ssm_cmp_keyed);
	}
	return ssm_keyed_find(r->old_by_sha, r->nsha, sha);
}

/* Items of the old tree whose version vanished upstream, kept (--keep)
 * while their product has fewer than MAX versions. */
static int add_kept(struct run *r, const struct ss_item ***out, size_t *nout)
{
	*nout = 0;
	*out = NULL;
	if (!r->o->keep || !r->old)
		return SS_OK;
	struct ssi_strset upstream = { 0 }, chosen = { 0 };
	char key[4096];
	int rc = SS_OK;
	for (size_t i = 0; i < ss_tree_nproducts(r->src); i++) {
		const struct ss_products *p = ss_tree_products(r->src, i);
		for (size_t j = 0; rc == SS_OK && j < ss_products_count(p); j++) {
			const struct ss_item *it = ss_products_item(p, j);
			snprintf(key, sizeof(key), "%s\n%s\n%s", ss_item_content_id(it), ss_item_product(it),
				 ss_item_version(it));
			rc = ssm_add(r, &upstream, key);
		}
	}
	ssi_strset_seal(&upstream);
	/* versions per product already chosen */
	for (size_t i = 0; rc == SS_OK && i < r->sel.count; i++) {
		const struct ss_item *it = r->sel.items[i];
		snprintf(key, sizeof(key), "%s\n%s\n%s", ss_item_content_id(it), ss_item_product(it),
			 ss_item_version(it));
		rc = ssm_add(r, &chosen, key);
	}
	struct ss_selection old;
	if (rc != SS_OK || ss_select(r->old, r->o->filter, 0, &old, r->err) != SS_OK) {
		ssi_strset_free(&upstream);
		ssi_strset_free(&chosen);
		return SS_FATAL;
	}
	const struct ss_item **kept = calloc(old.count ? old.count : 1, sizeof(*kept));
	size_t nk = 0;
	for (size_t i = 0; kept && rc == SS_OK && i < old.count; i++) {
		const struct ss_item *it = old.items[i];
		snprintf(key, sizeof(key), "%s\n%s\n%s", ss_item_content_id(it), ss_item_product(it),
			 ss_item_version(it));
		if (ssi_strset_has(&upstream, key))
			continue;
		/* count the product's chosen versions (chosen is unsorted while growing) */
		size_t versions = 0, plen = strlen(ss_item_content_id(it)) + strlen(ss_item_product(it)) + 2;
		int already = 0;
		for (size_t k = 0; k < chosen.n; k++) {
			if (strncmp(chosen.v[k], key, plen) == 0) {
				versions++;
				if (strcmp(chosen.v[k], key) == 0)
					already = 1;
			}
		}
		if (!already && r->o->max > 0 && (int)versions >= r->o->max)
			continue;
		if (!already && (rc = ssm_add(r, &chosen, key)) != SS_OK)
			break;
		kept[nk++] = it;
	}
	ss_selection_free(&old);
	ssi_strset_free(&upstream);
	ssi_strset_free(&chosen);
	if (!kept)
		return ssm_oom(r);
	if (rc != SS_OK) {
		free(kept);
		return rc;
	}
	*out = kept;
	*nout = nk;
	return SS_OK;
}

static int file_matches(const char *file, const struct ss_item *it)
{
	struct ss_digest d;
	struct ss_error e;
	if (ss_hash_file(file, ss_item_hash_kinds(it), &d, &e) != SS_OK)
		return 0;
	return ss_item_check(it, &d, &e) == SS_OK;
}

/* Whether DEST is a regular file.  MISSING (PATH_MAX bytes): the
 * shallowest directory above the last file found missing that is missing
 * too: the items come in path order, and those below it (a new version's,
 * all of a new tree's) then cost no stat. */
static int have_file(const char *dest, char *missing, struct stat *st)
{
	size_t ml = strlen(missing);
	if (ml && strncmp(dest, missing, ml) == 0 && dest[ml] == '/')
		return 0;
	if (stat(dest, st) == 0)
		return S_ISREG(st->st_mode);
	char dir[PATH_MAX];
	if (errno != ENOENT || strlen(dest) >= sizeof(dir))
		return 0;
	memcpy(dir, dest, strlen(dest) + 1);
	missing[0] = '\0';
	char *slash;
	while ((slash = strrchr(dir, '/')) && slash != dir) {
		*slash = '\0';
		struct stat ds;
		if (stat(dir, &ds) == 0 || errno != ENOENT)
			break;
		memcpy(missing, dir, (size_t)(slash - dir) + 1);
	}
	return 0;
}

static int plan_one(struct run *r, struct want *w, char *missing)
{
	const struct ss_item *it = w->it;
	char *dest = ssm_tpath(r, w->path);
	if (!dest)
		return ssi_err(r->err, SS_FATAL, "out of memory");
	struct stat st;
	int have = have_file(dest, missing, &st);
	const struct ss_item *old = r->old ? ssm_keyed_find(r->old_by_path, r->nold, w->path) : NULL;
	if (have) {
		if (r->o->check_existing || !old)
			w->status = file_matches(dest, it) ? W_PRESENT : W_FETCH;
		else
			w->status = ssm_same_content(it, old) ? W_PRESENT : W_FETCH;
	} else {
		w->status = W_FETCH;
		const char *sha = ss_item_str(it, "sha256");
		const struct ss_item *twin = sha && r->old ? old_by_sha(r, sha) : NULL;
		if (twin && ssm_same_content(it, twin)) {
			const char *tp = ss_item_str(twin, "path");
			char *src = ssm_tpath(r, tp);
			if (src && stat(src, &st) == 0 && S_ISREG(st.st_mode)) {
				w->status = W_REUSE;
				w->reuse_from = tp;
			}
			free(src);
		}
	}
	free(dest);
	return SS_OK;
}

/* An item without a size has no end: a server sending an endless body
 * would fill the disk.  Unless max_item_size caps such transfers, one to
 * be fetched fails before any transfer (the rest of the run goes on). */
static void refuse_unsized(struct run *r, struct want *w)
{
	char buf[160];
	if (w->status != W_FETCH || r->o->max_item_size > 0 || ss_item_get(w->it, "size", buf, sizeof(buf)))
		return;
	w->status = W_FAILED;
	ssm_event(r, SS_EV_FAIL, w->path, -1, "the item gives no size: refused (max_item_size would allow it up to a cap)");
}

static int want_cmp_path(const void *a, const void *b)
{
	const struct want *x = *(const struct want *const *)a, *y = *(const struct want *const *)b;
	int c = strcmp(x->path, y->path);
	return c ? c : (x < y ? -1 : x > y);
}

int ssm_plan(struct run *r)
{
	const struct ss_item **kept, **outside;
	size_t nk, no;
	if (add_kept(r, &kept, &nk) != SS_OK)
		return SS_FATAL;
	int orc = ssm_select_outside(r, &outside, &no);
	if (orc != SS_OK) {
		free(kept);
		return orc;
	}
	if (no) {
		const struct ss_item **all = realloc(kept, (nk + no) * sizeof(*all));
		if (!all) {
			free(kept);
			free(outside);
			return ssm_oom(r);
		}
		memcpy(all + nk, outside, no * sizeof(*all));
		kept = all;
		nk += no;
	}
	free(outside);
	r->nw = r->sel.count + nk;
	r->w = calloc(r->nw ? r->nw : 1, sizeof(*r->w));
	struct want **byp = calloc(r->nw ? r->nw : 1, sizeof(*byp));
	if (!r->w || !byp) {
		free(kept);
		free(byp);
		return ssi_err(r->err, SS_FATAL, "out of memory");
	}
	size_t nb = 0;
	for (size_t i = 0; i < r->nw; i++) {
		struct want *w = &r->w[i];
		w->it = i < r->sel.count ? r->sel.items[i] : kept[i - r->sel.count];
		w->path = ss_item_str(w->it, "path");
		const char *bad = ssi_item_problem(w->it);
		if (bad) {
			/* what we publish must pass sstream-verify: such an item
			 * fails, the rest of the run goes on */
			w->status = W_FAILED;
			ssm_event(r, SS_EV_FAIL, w->path ? w->path : ss_item_name(w->it), -1, bad);
		} else if (!w->path) {
			w->status = W_NOPATH;
		} else {
			byp[nb++] = w;
		}
	}
	free(kept);
	/* Several items may share one file (same path): plan it once. */
	qsort(byp, nb, sizeof(*byp), want_cmp_path);
	int rc = SS_OK;
	char missing[PATH_MAX] = "";
	for (size_t i = 0; i < nb && rc == SS_OK; i++) {
		struct want *w = byp[i];
		if (i && strcmp(byp[i - 1]->path, w->path) == 0) {
			const struct want *first = byp[i - 1]->same ? byp[i - 1]->same : byp[i - 1];
			w->same = first;
			w->status = first->status;
			if (!ssm_same_content(w->it, first->it)) {
				w->status = W_FAILED;
				ssm_event(r, SS_EV_FAIL, w->path, -1, "two items name this path with different content");
			}
			continue;
		}
		if (r->o->no_items) {
			w->status = W_SKIPPED;
			continue;
		}
		rc = plan_one(r, w, missing);
		refuse_unsized(r, w);
	}
	free(byp);
	return rc;
}

/* Dry run: what would be added and removed. */
void ssm_report_plan(struct run *r)
{
	for (size_t i = 0; i < r->nw; i++) {
		const struct want *w = &r->w[i];
		if (w->same)
			continue;
		long long size = ss_item_get_int(w->it, "size");
		if (w->status == W_FETCH) {
			r->st->added++;
			r->st->bytes_added += size > 0 ? size : 0;
			ssm_event(r, SS_EV_ADD, w->path, size, NULL);
		} else if (w->status == W_REUSE) {
			r->st->reused++;
			ssm_event(r, SS_EV_REUSE, w->path, size, w->reuse_from);
		}
	}
	for (size_t i = 0; i < r->old_refs.n; i++) {
		const char *p = r->old_refs.v[i];
		if (ssi_strset_has(&r->new_refs, p) || strncmp(p, "streams/", 8) == 0)
			continue;
		const struct ss_item *it = ssm_keyed_find(r->old_by_path, r->nold, p);
		long long size = it ? ss_item_get_int(it, "size") : -1;
		r->st->removed++;
		r->st->bytes_removed += size > 0 ? size : 0;
		ssm_event(r, SS_EV_REMOVE, p, size, NULL);
	}
}
