/*
 * Mirroring a tree into a local directory, incrementally and crash-safely.
 *
 * Order of a run, so that a reader (a web server serving TARGET while we
 * work) never sees a document naming a file that is not there, and a crash
 * at any point leaves a consistent tree:
 *   1. lock TARGET; load (and verify) the source; load what TARGET lists now
 *   2. plan: every wanted item is present, reusable from a local file with
 *      the same content, or to be fetched
 *   3. fetch into TARGET/.sstream/tmp, verify, rename into place; syncfs
 *   4. write products files, then the state file (what became unreferenced
 *      and when), then the index - each atomically, and only when changed
 *   5. delete files unreferenced for longer than the grace period, and the
 *      directories they leave empty
 * State lives in TARGET/.sstream/: "lock", "tmp/", "state" (plain text).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "download.h"

/* ---- small sets of strings ------------------------------------------------ */

struct strset {
	char **v;
	size_t n, alloc;
};

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int strset_add(struct strset *s, const char *str)
{
	if (s->n == s->alloc) {
		size_t na = s->alloc ? 2 * s->alloc : 64;
		char **nv = realloc(s->v, na * sizeof(*nv));
		if (!nv)
			return -1;
		s->v = nv;
		s->alloc = na;
	}
	if (!(s->v[s->n] = strdup(str)))
		return -1;
	s->n++;
	return 0;
}

/* Sorts and drops duplicates; call before strset_has. */
static void strset_seal(struct strset *s)
{
	if (!s->n)
		return;
	qsort(s->v, s->n, sizeof(*s->v), cmp_strp);
	size_t o = 1;
	for (size_t i = 1; i < s->n; i++) {
		if (strcmp(s->v[i], s->v[o - 1]) == 0)
			free(s->v[i]);
		else
			s->v[o++] = s->v[i];
	}
	s->n = o;
}

static int strset_has(const struct strset *s, const char *str)
{
	return s->n && bsearch(&str, s->v, s->n, sizeof(*s->v), cmp_strp) != NULL;
}

static void strset_free(struct strset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* ---- items by path and by sha256 ----------------------------------------- */

struct keyed {
	const char *key;
	const struct ss_item *it;
};

static int cmp_keyed(const void *a, const void *b)
{
	return strcmp(((const struct keyed *)a)->key, ((const struct keyed *)b)->key);
}

static const struct ss_item *keyed_find(const struct keyed *k, size_t n, const char *key)
{
	struct keyed probe = { key, NULL };
	const struct keyed *hit = n ? bsearch(&probe, k, n, sizeof(*k), cmp_keyed) : NULL;
	return hit ? hit->it : NULL;
}

/* Same content: equal sizes where both give one, equal hashes where both
 * give one, and at least one hash (or the size) compared. */
static int same_content(const struct ss_item *a, const struct ss_item *b)
{
	long long sa = ss_item_get_int(a, "size"), sb = ss_item_get_int(b, "size");
	if (sa >= 0 && sb >= 0 && sa != sb)
		return 0;
	int compared = sa >= 0 && sb >= 0;
	static const char *const hashes[] = { "sha256", "sha512", "md5" };
	for (int i = 0; i < 3; i++) {
		char ba[160], bb[160];
		const char *ha = ss_item_get(a, hashes[i], ba, sizeof(ba));
		const char *hb = ss_item_get(b, hashes[i], bb, sizeof(bb));
		if (!ha || !hb)
			continue;
		if (strcasecmp(ha, hb) != 0)
			return 0;
		compared = 2;
	}
	return compared == 2 || (compared && !ss_item_hash_kinds(a));
}

/* ---- the run ---------------------------------------------------------------- */

enum { W_PRESENT, W_FETCH, W_REUSE, W_FAILED, W_NOPATH, W_SKIPPED };

struct want {
	const struct ss_item *it;
	const char *path;
	int status;
	size_t dl;              /* its transfer, for W_FETCH */
	const char *reuse_from; /* a tree-relative path, for W_REUSE */
	const struct want *same;/* an earlier want with the same path */
};

struct run {
	const struct ss_mirror_opts *o;
	struct ss_mirror_stats *st;
	struct ss_error *err;
	char *dot;               /* TARGET/.sstream */
	int lock_fd;
	struct ss_tree *src, *old;
	int old_is_src;          /* the target holds the source's documents */
	struct ss_selection sel;
	struct want *w;
	size_t nw;
	struct ssi_dl *dls;
	size_t ndl;
	char **parts;            /* temp file of each transfer */
	char ***urls;
	struct keyed *old_by_path, *old_by_sha;
	size_t nold, nsha;
	struct strset new_refs, old_refs;
	/* state: unreferenced files and since when */
	struct strset pend_path;
	long long *pend_time;    /* parallel to pend_path.v after loading */
	struct strset old_meta, new_meta;
	int failed_temp, failed_other;
};

static void event(struct run *r, enum ss_mirror_event_type t, const char *path, long long size,
		  const char *msg)
{
	if (!r->o->event)
		return;
	struct ss_mirror_event ev = { .type = t, .path = path, .size = size, .msg = msg };
	r->o->event(r->o->ud, &ev);
}

static void progress(void *ud, long long bytes, size_t done, size_t total)
{
	struct run *r = ud;
	if (!r->o->event)
		return;
	struct ss_mirror_event ev = { .type = SS_EV_PROGRESS, .bytes = bytes, .done = done, .total = total };
	r->o->event(r->o->ud, &ev);
}

static char *tpath(const struct run *r, const char *rel)
{
	return ss_join(r->o->target, rel);
}

static int lock_target(struct run *r)
{
	int rc = ssi_lock_dir(r->dot, &r->lock_fd, r->err);
	if (rc == SS_TEMPFAIL)
		ssi_err(r->err, SS_TEMPFAIL, "target '%s': another run holds its lock", r->o->target);
	return rc;
}

/* ---- state file: "P <epoch> <path>" (pending removal), "M <path>" (metadata) */

static int load_state(struct run *r)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/state", r->dot);
	char *data;
	size_t len;
	struct ss_error e;
	if (ss_fetch(path, SS_METADATA_CAP, &data, &len, &e) != SS_OK)
		return e.sys_errno == ENOENT ? SS_OK : ssi_err(r->err, SS_FATAL, "%s", e.msg);
	size_t cap = 0;
	for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
		if (line[0] == 'M' && line[1] == ' ') {
			strset_add(&r->old_meta, line + 2);
		} else if (line[0] == 'P' && line[1] == ' ') {
			char *end;
			long long t = strtoll(line + 2, &end, 10);
			if (*end != ' ')
				continue;
			if (r->pend_path.n == cap) {
				cap = cap ? 2 * cap : 64;
				long long *nt = realloc(r->pend_time, cap * sizeof(*nt));
				if (!nt)
					break;
				r->pend_time = nt;
			}
			r->pend_time[r->pend_path.n] = t;
			strset_add(&r->pend_path, end + 1);
		}
	}
	free(data);
	strset_seal(&r->old_meta);
	return SS_OK;
}

static int save_state(struct run *r, const struct strset *meta, const char *const *pp,
		      const long long *pt, size_t np)
{
	size_t cap = 64;
	for (size_t i = 0; i < meta->n; i++)
		cap += strlen(meta->v[i]) + 4;
	for (size_t i = 0; i < np; i++)
		cap += strlen(pp[i]) + 32;
	char *buf = malloc(cap), *p = buf;
	if (!buf)
		return ssi_err(r->err, SS_FATAL, "out of memory");
	p += sprintf(p, "# sstream-mirror state\n");
	for (size_t i = 0; i < meta->n; i++)
		p += sprintf(p, "M %s\n", meta->v[i]);
	for (size_t i = 0; i < np; i++)
		p += sprintf(p, "P %lld %s\n", pt[i], pp[i]);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/state", r->dot);
	int rc = ssi_write_if_changed(path, buf, (size_t)(p - buf), NULL, r->err);
	free(buf);
	return rc;
}

/* ---- planning ---------------------------------------------------------------- */

static int load_old(struct run *r)
{
	char *idx = tpath(r, "streams/v1/index.json");
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
		const char *data;
		size_t len;
		const char *rel = ss_tree_doc(r->src, i, &data, &len);
		char *file = tpath(r, rel), *have = NULL;
		size_t hlen;
		if (!file || ss_fetch(file, SS_METADATA_CAP, &have, &hlen, &e) != SS_OK || hlen != len ||
		    memcmp(have, data, len) != 0)
			r->old_is_src = 0;
		found_index |= strcmp(rel, "streams/v1/index.json") == 0;
		free(file);
		free(have);
	}
	if (r->old_is_src && found_index)
		r->old = r->src;
	else
		r->old_is_src = 0, r->old = ss_tree_load(r->o->target, &e);
	if (!r->old) {
		/* Not fatal: the run rewrites it.  Nothing is pruned this time. */
		event(r, SS_EV_WARN, NULL, -1, e.msg);
		return SS_OK;
	}
	size_t n = 0;
	for (size_t i = 0; i < ss_tree_nproducts(r->old); i++)
		n += ss_products_count(ss_tree_products(r->old, i));
	r->old_by_path = calloc(n ? n : 1, sizeof(*r->old_by_path));
	r->old_by_sha = calloc(n ? n : 1, sizeof(*r->old_by_sha));
	if (!r->old_by_path || !r->old_by_sha)
		return ssi_err(r->err, SS_FATAL, "out of memory");
	size_t np = 0, ns = 0;
	for (size_t i = 0; i < ss_tree_nproducts(r->old); i++) {
		const struct ss_products *p = ss_tree_products(r->old, i);
		strset_add(&r->old_refs, ss_products_path(p));
		for (size_t j = 0; j < ss_products_count(p); j++) {
			const struct ss_item *it = ss_products_item(p, j);
			const char *path = ss_item_str(it, "path");
			if (!path)
				continue;
			r->old_by_path[np++] = (struct keyed){ path, it };
			strset_add(&r->old_refs, path);
			const char *sha = ss_item_str(it, "sha256");
			if (sha)
				r->old_by_sha[ns++] = (struct keyed){ sha, it };
		}
	}
	for (size_t i = 0; i < ss_tree_ndocs(r->old); i++) {
		const char *d;
		size_t l;
		strset_add(&r->old_refs, ss_tree_doc(r->old, i, &d, &l));
	}
	qsort(r->old_by_path, np, sizeof(*r->old_by_path), cmp_keyed);
	qsort(r->old_by_sha, ns, sizeof(*r->old_by_sha), cmp_keyed);
	r->nold = np;
	r->nsha = ns;
	return SS_OK;
}

/* Items of the old tree whose version vanished upstream, kept (--keep)
 * while their product has fewer than MAX versions. */
static int add_kept(struct run *r, const struct ss_item ***out, size_t *nout)
{
	*nout = 0;
	*out = NULL;
	if (!r->o->keep || !r->old)
		return SS_OK;
	struct strset upstream = { 0 }, chosen = { 0 };
	char key[4096];
	for (size_t i = 0; i < ss_tree_nproducts(r->src); i++) {
		const struct ss_products *p = ss_tree_products(r->src, i);
		for (size_t j = 0; j < ss_products_count(p); j++) {
			const struct ss_item *it = ss_products_item(p, j);
			snprintf(key, sizeof(key), "%s\n%s\n%s", ss_item_content_id(it), ss_item_product(it),
				 ss_item_version(it));
			strset_add(&upstream, key);
		}
	}
	strset_seal(&upstream);
	/* versions per product already chosen */
	for (size_t i = 0; i < r->sel.count; i++) {
		const struct ss_item *it = r->sel.items[i];
		snprintf(key, sizeof(key), "%s\n%s\n%s", ss_item_content_id(it), ss_item_product(it),
			 ss_item_version(it));
		strset_add(&chosen, key);
	}
	struct ss_selection old;
	if (ss_select(r->old, r->o->filter, 0, &old, r->err) != SS_OK) {
		strset_free(&upstream);
		strset_free(&chosen);
		return SS_FATAL;
	}
	const struct ss_item **kept = calloc(old.count ? old.count : 1, sizeof(*kept));
	size_t nk = 0;
	for (size_t i = 0; kept && i < old.count; i++) {
		const struct ss_item *it = old.items[i];
		snprintf(key, sizeof(key), "%s\n%s\n%s", ss_item_content_id(it), ss_item_product(it),
			 ss_item_version(it));
		if (strset_has(&upstream, key))
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
		if (!already)
			strset_add(&chosen, key);
		kept[nk++] = it;
	}
	ss_selection_free(&old);
	strset_free(&upstream);
	strset_free(&chosen);
	if (!kept)
		return ssi_err(r->err, SS_FATAL, "out of memory");
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

static int plan_one(struct run *r, struct want *w)
{
	const struct ss_item *it = w->it;
	char *dest = tpath(r, w->path);
	if (!dest)
		return ssi_err(r->err, SS_FATAL, "out of memory");
	struct stat st;
	int have = stat(dest, &st) == 0 && S_ISREG(st.st_mode);
	const struct ss_item *old = r->old ? keyed_find(r->old_by_path, r->nold, w->path) : NULL;
	if (have) {
		if (r->o->check_existing || !old)
			w->status = file_matches(dest, it) ? W_PRESENT : W_FETCH;
		else
			w->status = same_content(it, old) ? W_PRESENT : W_FETCH;
	} else {
		w->status = W_FETCH;
		const char *sha = ss_item_str(it, "sha256");
		const struct ss_item *twin = sha && r->old ? keyed_find(r->old_by_sha, r->nsha, sha) : NULL;
		if (twin && same_content(it, twin)) {
			const char *tp = ss_item_str(twin, "path");
			char *src = tpath(r, tp);
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

static int want_cmp_path(const void *a, const void *b)
{
	const struct want *x = *(const struct want *const *)a, *y = *(const struct want *const *)b;
	int c = strcmp(x->path, y->path);
	return c ? c : (x < y ? -1 : x > y);
}

static int plan(struct run *r)
{
	const struct ss_item **kept;
	size_t nk;
	if (add_kept(r, &kept, &nk) != SS_OK)
		return SS_FATAL;
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
		if (!w->path)
			w->status = W_NOPATH;
		else
			byp[nb++] = w;
	}
	free(kept);
	/* Several items may share one file (same path): plan it once. */
	qsort(byp, nb, sizeof(*byp), want_cmp_path);
	int rc = SS_OK;
	for (size_t i = 0; i < nb && rc == SS_OK; i++) {
		struct want *w = byp[i];
		if (i && strcmp(byp[i - 1]->path, w->path) == 0) {
			const struct want *first = byp[i - 1]->same ? byp[i - 1]->same : byp[i - 1];
			w->same = first;
			w->status = first->status;
			if (!same_content(w->it, first->it)) {
				w->status = W_FAILED;
				event(r, SS_EV_FAIL, w->path, -1, "two items name this path with different content");
			}
			continue;
		}
		if (r->o->no_items) {
			w->status = W_SKIPPED;
			continue;
		}
		rc = plan_one(r, w);
	}
	free(byp);
	return rc;
}

/* ---- fetching ------------------------------------------------------------------ */

/* The temporary name of PATH's transfer: stable across runs, for resume. */
static char *part_name(const struct run *r, const char *path)
{
	struct ss_hasher *h = ss_hasher_new(SS_HASH_SHA256);
	if (!h)
		return NULL;
	ss_hasher_update(h, path, strlen(path));
	struct ss_digest d;
	ss_hasher_final(h, &d);
	ss_hasher_free(h);
	char *out = malloc(strlen(r->dot) + 80);
	if (out)
		sprintf(out, "%s/tmp/%.32s.part", r->dot, d.sha256);
	return out;
}

/* Hard-links a file the tree already holds (same content, other path). */
static int reuse(struct run *r, struct want *w)
{
	char *src = tpath(r, w->reuse_from), *dest = tpath(r, w->path);
	char *part = part_name(r, w->path);
	int ok = src && dest && part && ssi_mkparents(dest) == 0 && ssi_mkparents(part) == 0;
	if (ok) {
		unlink(part);
		ok = link(src, part) == 0 && rename(part, dest) == 0;
		if (!ok)
			unlink(part);
	}
	free(src);
	free(dest);
	free(part);
	return ok;
}

static int fetch(struct run *r)
{
	/* Local copies first; one that cannot be linked is fetched instead. */
	for (size_t i = 0; i < r->nw; i++) {
		struct want *w = &r->w[i];
		if (w->status != W_REUSE || w->same)
			continue;
		if (reuse(r, w)) {
			r->st->reused++;
			event(r, SS_EV_REUSE, w->path, ss_item_get_int(w->it, "size"), w->reuse_from);
			w->status = W_PRESENT;
		} else {
			w->status = W_FETCH;
		}
	}
	size_t n = 0;
	for (size_t i = 0; i < r->nw; i++)
		if (r->w[i].status == W_FETCH && !r->w[i].same)
			n++;
	if (n == 0)
		return SS_OK;
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s/tmp", r->dot);
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return ssi_err_sys(r->err, SS_FATAL, errno, "cannot create '%s'", tmp);
	r->dls = calloc(n, sizeof(*r->dls));
	r->parts = calloc(n, sizeof(*r->parts));
	r->urls = calloc(n, sizeof(*r->urls));
	if (!r->dls || !r->parts || !r->urls)
		return ssi_err(r->err, SS_FATAL, "out of memory");
	const char *root = ss_tree_root(r->src);
	for (size_t i = 0; i < r->nw; i++) {
		struct want *w = &r->w[i];
		if (w->status != W_FETCH || w->same)
			continue;
		size_t k = r->ndl++;
		w->dl = k;
		char **urls = calloc((size_t)r->o->nmirrors + 1, sizeof(*urls));
		r->urls[k] = urls;
		r->parts[k] = part_name(r, w->path);
		if (!urls || !r->parts[k] || !(urls[0] = ss_join(root, w->path)))
			return ssi_err(r->err, SS_FATAL, "out of memory");
		for (int m = 0; m < r->o->nmirrors; m++)
			if (!(urls[m + 1] = ss_join(r->o->mirrors[m], w->path)))
				return ssi_err(r->err, SS_FATAL, "out of memory");
		r->dls[k] = (struct ssi_dl){
			.urls = (const char *const *)urls,
			.nurls = r->o->nmirrors + 1,
			.path = w->path,
			.part = r->parts[k],
			.size = ss_item_get_int(w->it, "size"),
			.kinds = ss_item_hash_kinds(w->it),
			.item = w->it,
		};
	}
	struct ssi_dl_opts dopts = {
		.jobs = r->o->jobs, .retries = r->o->retries, .timeout = r->o->timeout,
		.limit_rate = r->o->limit_rate, .ca_file = r->o->ca_file,
		.progress = progress, .ud = r,
	};
	return ssi_download_all(r->dls, r->ndl, &dopts, r->err);
}

/* Moves verified files into place; records failures. */
static int place(struct run *r)
{
	for (size_t i = 0; i < r->nw; i++) {
		struct want *w = &r->w[i];
		if (w->same || w->status != W_FETCH)
			continue;
		long long size = ss_item_get_int(w->it, "size");
		struct ssi_dl *dl = &r->dls[w->dl];
		r->st->bytes_fetched += dl->bytes;
		char *dest = tpath(r, w->path);
		if (dl->result == SS_OK && dest && ssi_mkparents(dest) == 0 && rename(dl->part, dest) == 0) {
			w->status = W_PRESENT;
			r->st->added++;
			r->st->bytes_added += size > 0 ? size : 0;
			event(r, SS_EV_ADD, w->path, size, NULL);
		} else {
			if (dl->result == SS_OK)
				ssi_err_sys(&dl->err, SS_FATAL, errno, "cannot place '%s'", w->path);
			w->status = W_FAILED;
			if (dl->result == SS_TEMPFAIL)
				r->failed_temp++;
			else
				r->failed_other++;
			/* Keep a partial file only where a later run can resume it. */
			if (dl->result != SS_TEMPFAIL)
				unlink(dl->part);
			event(r, SS_EV_FAIL, w->path, size, dl->err.msg);
		}
		free(dest);
	}
	/* Items sharing a file share its fate. */
	for (size_t i = 0; i < r->nw; i++)
		if (r->w[i].same && r->w[i].status != W_FAILED)
			r->w[i].status = r->w[i].same->status;
	for (size_t i = 0; i < r->nw; i++)
		if (r->w[i].status == W_FAILED)
			r->st->failed++;
	return SS_OK;
}

/* ---- publishing -------------------------------------------------------------- */

static int published(const struct want *w)
{
	return w->status == W_PRESENT || w->status == W_NOPATH || w->status == W_SKIPPED;
}

static int write_doc(struct run *r, const char *rel, const char *data, size_t len)
{
	strset_add(&r->new_meta, rel);
	strset_add(&r->new_refs, rel);
	if (r->o->dry_run)
		return SS_OK;
	char *file = tpath(r, rel);
	if (!file)
		return ssi_err(r->err, SS_FATAL, "out of memory");
	int rc = ssi_write_if_changed(file, data, len, &r->st->metadata_written, r->err);
	free(file);
	return rc;
}

/* The bytes upstream served for REL, or NULL. */
static const char *src_doc(const struct run *r, const char *rel, size_t *len)
{
	for (size_t i = 0; i < ss_tree_ndocs(r->src); i++) {
		const char *data;
		if (strcmp(ss_tree_doc(r->src, i, &data, len), rel) == 0)
			return data;
	}
	return NULL;
}

/* Where our JSON view keeps the products file read from REL: the same
 * name with .json for .sjson, under streams/v1/ (malloc'd). */
static char *json_path(const char *rel)
{
	const char *base = strrchr(rel, '/');
	int inside = strncmp(rel, "streams/", 8) == 0;
	size_t n = strlen(rel);
	char *out = malloc(n + 16);
	if (!out)
		return NULL;
	sprintf(out, "%s%s", inside ? "" : "streams/v1/", inside ? rel : (base ? base + 1 : rel));
	n = strlen(out);
	if (n > 6 && strcmp(out + n - 6, ".sjson") == 0)
		strcpy(out + n - 6, ".json");
	return out;
}

/*
 * Writes every products file - upstream's bytes when VERBATIM, and our
 * JSON view (exactly the items present) wherever upstream's bytes are not
 * plain JSON at the same place - and builds index.json into *INDEX.
 */
static int write_products(struct run *r, int verbatim, char **index, size_t *index_len)
{
	struct ss_index_writer *iw = ss_index_new();
	int rc = iw ? SS_OK : ssi_err(r->err, SS_FATAL, "out of memory");
	for (size_t i = 0; rc == SS_OK && i < ss_tree_nproducts(r->src); i++) {
		const struct ss_products *p = ss_tree_products(r->src, i);
		const char *rel = ss_products_path(p);
		char *jrel = json_path(rel);
		struct ss_subset *s = ss_subset_new(p);
		if (!jrel || !s) {
			rc = ssi_err(r->err, SS_FATAL, "out of memory");
		} else {
			for (size_t k = 0; k < r->nw; k++) {
				const struct want *w = &r->w[k];
				if (published(w) && ss_item_products(w->it) == p)
					ss_subset_add(s, w->it);
			}
			/* kept items come from the old tree's documents */
			for (size_t k = r->sel.count; k < r->nw; k++) {
				const struct want *w = &r->w[k];
				if (published(w) && strcmp(ss_item_content_id(w->it), ss_products_content_id(p)) == 0)
					ss_subset_add(s, w->it);
			}
		}
		size_t len;
		const char *raw = rc == SS_OK && verbatim ? src_doc(r, rel, &len) : NULL;
		if (raw && strncmp(rel, "streams/", 8) == 0)
			rc = write_doc(r, rel, raw, len);
		int raw_is_view = raw && strcmp(rel, jrel) == 0;
		if (rc == SS_OK && ss_subset_count(s) > 0 && !raw_is_view) {
			char *doc = ss_subset_dump(s, &len);
			rc = doc ? write_doc(r, jrel, doc, len) : ssi_err(r->err, SS_FATAL, "out of memory");
			free(doc);
		}
		if (rc == SS_OK && (ss_subset_count(s) > 0 || raw_is_view))
			rc = ss_index_add(iw, s, jrel);
		ss_subset_free(s);
		free(jrel);
	}
	if (rc == SS_OK && !(*index = ss_index_dump(iw, index_len)))
		rc = ssi_err(r->err, SS_FATAL, "out of memory");
	ss_index_free(iw);
	return rc;
}

static int publish(struct run *r)
{
	int verbatim = ss_filter_count(r->o->filter) == 0 && r->o->max == 0 && r->st->failed == 0 &&
		       r->nw == r->sel.count;
	r->st->verbatim = verbatim;
	for (size_t i = 0; i < r->nw; i++) {
		const struct want *w = &r->w[i];
		if (!published(w))
			continue;
		r->st->items++;
		if (w->path)
			strset_add(&r->new_refs, w->path);
	}
	char *index = NULL;
	size_t index_len = 0;
	int rc = write_products(r, verbatim, &index, &index_len);
	/* Verbatim: upstream's indexes too (nested ones, index.sjson), and
	 * its own index.json in place of ours. */
	for (size_t i = 0; verbatim && rc == SS_OK && i < ss_tree_ndocs(r->src); i++) {
		const char *data;
		size_t len;
		const char *rel = ss_tree_doc(r->src, i, &data, &len);
		int is_products = 0;
		for (size_t k = 0; k < ss_tree_nproducts(r->src); k++)
			if (strcmp(ss_products_path(ss_tree_products(r->src, k)), rel) == 0)
				is_products = 1;
		if (is_products || strncmp(rel, "streams/", 8) != 0)
			continue;
		if (strcmp(rel, "streams/v1/index.json") == 0) {
			char *copy = ssi_strndup(data, len);
			if (!copy) {
				rc = ssi_err(r->err, SS_FATAL, "out of memory");
				break;
			}
			free(index);
			index = copy;
			index_len = len;
		} else {
			rc = write_doc(r, rel, data, len);
		}
	}
	strset_add(&r->new_refs, "streams/v1/index.json");
	strset_add(&r->new_meta, "streams/v1/index.json");
	strset_seal(&r->new_refs);
	strset_seal(&r->new_meta);
	if (rc != SS_OK || r->o->dry_run) {
		free(index);
		return rc;
	}

	/* Files referenced before and not now start their grace period; the
	 * state is saved before the index so that a crash loses no deadline. */
	long long now = (long long)time(NULL);
	struct strset dropped = { 0 };
	for (size_t i = 0; i < r->old_refs.n; i++)
		if (!strset_has(&r->new_refs, r->old_refs.v[i]))
			strset_add(&dropped, r->old_refs.v[i]);
	for (size_t i = 0; i < r->old_meta.n; i++)
		if (!strset_has(&r->new_refs, r->old_meta.v[i]))
			strset_add(&dropped, r->old_meta.v[i]);
	strset_seal(&dropped);
	size_t np = 0;
	const char **pp = calloc(dropped.n + r->pend_path.n + 1, sizeof(*pp));
	long long *pt = calloc(dropped.n + r->pend_path.n + 1, sizeof(*pt));
	if (!pp || !pt) {
		rc = ssi_err(r->err, SS_FATAL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < r->pend_path.n; i++) {
		if (strset_has(&r->new_refs, r->pend_path.v[i]))
			continue; /* wanted again */
		pp[np] = r->pend_path.v[i];
		pt[np++] = r->pend_time[i];
	}
	struct strset pend_sorted = { 0 };
	for (size_t i = 0; i < np; i++)
		strset_add(&pend_sorted, pp[i]);
	strset_seal(&pend_sorted);
	for (size_t i = 0; i < dropped.n; i++) {
		if (strset_has(&pend_sorted, dropped.v[i]))
			continue;
		pp[np] = dropped.v[i];
		pt[np++] = now;
	}
	strset_free(&pend_sorted);
	rc = save_state(r, &r->new_meta, pp, pt, np);
	char *ifile = rc == SS_OK ? tpath(r, "streams/v1/index.json") : NULL;
	if (rc == SS_OK)
		rc = ifile ? ssi_write_if_changed(ifile, index, index_len, &r->st->metadata_written, r->err)
			   : ssi_err(r->err, SS_FATAL, "out of memory");
	free(ifile);
	if (rc != SS_OK)
		goto out;

	/* The new index is in place: what has been unreferenced long enough goes. */
	size_t keep = 0;
	for (size_t i = 0; i < np; i++) {
		if (now - pt[i] < r->o->grace) {
			pp[keep] = pp[i];
			pt[keep++] = pt[i];
			continue;
		}
		char *file = tpath(r, pp[i]);
		struct stat st;
		if (file && lstat(file, &st) == 0 && S_ISREG(st.st_mode) && unlink(file) == 0) {
			r->st->removed++;
			r->st->bytes_removed += st.st_size;
			event(r, SS_EV_REMOVE, pp[i], st.st_size, NULL);
			ssi_rmdir_parents(file, strlen(r->o->target));
		}
		free(file);
	}
	rc = save_state(r, &r->new_meta, pp, pt, keep);
out:
	free(pp);
	free(pt);
	strset_free(&dropped);
	free(index);
	return rc;
}

/* Dry run: what would be added and removed. */
static void report_plan(struct run *r)
{
	for (size_t i = 0; i < r->nw; i++) {
		const struct want *w = &r->w[i];
		if (w->same)
			continue;
		long long size = ss_item_get_int(w->it, "size");
		if (w->status == W_FETCH) {
			r->st->added++;
			r->st->bytes_added += size > 0 ? size : 0;
			event(r, SS_EV_ADD, w->path, size, NULL);
		} else if (w->status == W_REUSE) {
			r->st->reused++;
			event(r, SS_EV_REUSE, w->path, size, w->reuse_from);
		}
	}
	for (size_t i = 0; i < r->old_refs.n; i++) {
		const char *p = r->old_refs.v[i];
		if (strset_has(&r->new_refs, p) || strncmp(p, "streams/", 8) == 0)
			continue;
		const struct ss_item *it = keyed_find(r->old_by_path, r->nold, p);
		long long size = it ? ss_item_get_int(it, "size") : -1;
		r->st->removed++;
		r->st->bytes_removed += size > 0 ? size : 0;
		event(r, SS_EV_REMOVE, p, size, NULL);
	}
}

/* Partial files of transfers that are not worth resuming. */
static void clean_tmp(struct run *r)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s/tmp", r->dot);
	DIR *d = opendir(tmp);
	if (!d)
		return;
	struct strset keep = { 0 };
	for (size_t i = 0; i < r->ndl; i++)
		if (r->dls[i].result == SS_TEMPFAIL) {
			const char *b = strrchr(r->parts[i], '/');
			strset_add(&keep, b ? b + 1 : r->parts[i]);
		}
	strset_seal(&keep);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || strset_has(&keep, e->d_name))
			continue;
		char f[PATH_MAX + 256];
		snprintf(f, sizeof(f), "%s/%s", tmp, e->d_name);
		unlink(f);
	}
	closedir(d);
	strset_free(&keep);
}

int ss_mirror(const struct ss_mirror_opts *o, struct ss_mirror_stats *stats, struct ss_error *err)
{
	double t0 = ssi_now();
	struct ss_error local;
	if (!err)
		err = &local;
	ss_error_clear(err);
	memset(stats, 0, sizeof(*stats));
	stats->updated = -1;
	struct run r = { .o = o, .st = stats, .err = err, .lock_fd = -1 };
	struct ss_verifier *v = NULL;
	int rc;
	r.dot = malloc(strlen(o->target) + 16);
	if (!r.dot) {
		rc = ssi_err(err, SS_FATAL, "out of memory");
		goto out;
	}
	sprintf(r.dot, "%s/.sstream", o->target);
	if (!o->dry_run && (rc = lock_target(&r)) != SS_OK)
		goto out;
	if (o->keyring && !(v = ss_verifier_new(o->keyring, err))) {
		rc = err->code;
		goto out;
	}
	struct ss_fetch_opts fo = { .ca_file = o->ca_file, .timeout = o->timeout, .retries = o->retries };
	if (!(r.src = ss_tree_load_ex(o->source, v, &fo, err))) {
		rc = err->code;
		goto out;
	}
	stats->updated = ss_tree_updated(r.src);
	if ((rc = ss_select(r.src, o->filter, o->max, &r.sel, err)) != SS_OK)
		goto out;
	if ((rc = load_state(&r)) != SS_OK || (rc = load_old(&r)) != SS_OK)
		goto out;
	strset_seal(&r.old_refs);
	if ((rc = plan(&r)) != SS_OK)
		goto out;
	if (o->dry_run) {
		rc = publish(&r); /* computes what would be referenced; writes nothing */
		if (rc == SS_OK)
			report_plan(&r);
		goto out;
	}
	if ((rc = fetch(&r)) != SS_OK || (rc = place(&r)) != SS_OK)
		goto out;
	/* Items reach the disk before any document names them. */
	int tfd = open(o->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd >= 0) {
		syncfs(tfd);
		close(tfd);
	}
	if ((rc = publish(&r)) != SS_OK)
		goto out;
	clean_tmp(&r);
	/* The history never fails a run: a damaged repository is a warning. */
	int history_failed = 0;
	if (!o->no_history && stats->metadata_written) {
		struct ss_error he;
		int committed;
		if (ss_history_record(o->target, "sstream-mirror", &committed, &he) != SS_OK) {
			event(&r, SS_EV_WARN, NULL, -1, he.msg);
			history_failed = 1;
		}
	}
	if (stats->failed)
		rc = r.failed_temp && !r.failed_other && stats->added == 0 && stats->reused == 0 ? SS_TEMPFAIL
											   : SS_PARTIAL;
	if (rc != SS_OK)
		ssi_err(err, rc, "%zu of %zu items failed", stats->failed, r.nw);
	else if (history_failed)
		rc = ssi_err(err, SS_PARTIAL, "the tree is complete, but its history could not be recorded");
out:
	stats->seconds = ssi_now() - t0;
	for (size_t i = 0; i < r.ndl; i++) {
		for (int m = 0; r.urls && r.urls[i] && m <= o->nmirrors; m++)
			free(r.urls[i][m]);
		if (r.urls)
			free(r.urls[i]);
		if (r.parts)
			free(r.parts[i]);
	}
	free(r.urls);
	free(r.parts);
	free(r.dls);
	free(r.w);
	free(r.old_by_path);
	free(r.old_by_sha);
	free(r.pend_time);
	strset_free(&r.pend_path);
	strset_free(&r.old_meta);
	strset_free(&r.new_meta);
	strset_free(&r.new_refs);
	strset_free(&r.old_refs);
	ss_selection_free(&r.sel);
	if (!r.old_is_src)
		ss_tree_free(r.old);
	ss_tree_free(r.src);
	ss_verifier_free(v);
	if (r.lock_fd >= 0)
		close(r.lock_fd);
	free(r.dot);
	return rc;
}
