/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Verifying trees, downloads and images against what the streams say.
 *
 * Every file is read once, on one of JOBS threads, through all the hashes
 * its items give; a root file of an LXD image is also fed to the hashers of
 * the combined fingerprints that pair it with its metadata file (seeded
 * with the metadata bytes), so that checking a fingerprint costs no second
 * read of the large file.  Remote trees are checked by HEAD requests, or
 * streamed through the hashes without being stored (deep).
 */
#define _XOPEN_SOURCE 700
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "itemcheck.h"
#include "verify_internal.h"

static void problem(struct vrun *r, const char *path, const char *fmt, ...) SSI_PRINTF(3, 4);
static void problem(struct vrun *r, const char *path, const char *fmt, ...)
{
	if (r->nprobs == r->aprobs) {
		size_t na = r->aprobs ? 2 * r->aprobs : 16;
		struct problem *np = realloc(r->probs, na * sizeof(*np));
		if (!np)
			return;
		r->probs = np;
		r->aprobs = na;
	}
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	r->probs[r->nprobs].path = strdup(path);
	r->probs[r->nprobs].reason = strdup(buf);
	r->nprobs++;
}

static void report(const struct vrun *r, enum ss_verify_status s, const char *path, const char *reason)
{
	if (!r->o->result)
		return;
	struct ss_verify_result res = { s, path, reason };
	r->o->result(r->o->ud, &res);
}

/* ---- planning -------------------------------------------------------------- */

struct bypath {
	const char *path;
	const struct ss_item *it;
};

static int cmp_bypath(const void *a, const void *b)
{
	const struct bypath *x = a, *y = b;
	int c = strcmp(x->path, y->path);
	return c ? c : (x->it < y->it ? -1 : x->it > y->it);
}

static struct vjob *job_for(struct vrun *r, const char *path)
{
	size_t lo = 0, hi = r->njobs;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(r->jobs[mid].path, path);
		if (c == 0)
			return &r->jobs[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* One job per distinct path, with every item that names it. */
static int make_jobs(struct vrun *r)
{
	size_t n = 0;
	for (size_t i = 0; i < ss_tree_nproducts(r->t); i++)
		n += ss_products_count(ss_tree_products(r->t, i));
	struct bypath *bp = calloc(n ? n : 1, sizeof(*bp));
	r->jobs = calloc(n ? n : 1, sizeof(*r->jobs));
	if (!bp || !r->jobs) {
		free(bp);
		return ssi_err(r->err, SS_FATAL, "out of memory");
	}
	size_t m = 0;
	for (size_t i = 0; i < ss_tree_nproducts(r->t); i++) {
		const struct ss_products *p = ss_tree_products(r->t, i);
		for (size_t k = 0; k < ss_products_count(p); k++) {
			const struct ss_item *it = ss_products_item(p, k);
			const char *path = ss_item_str(it, "path");
			if (path)
				bp[m++] = (struct bypath){ path, it };
		}
	}
	qsort(bp, m, sizeof(*bp), cmp_bypath);
	int rc = SS_OK;
	for (size_t i = 0; i < m && rc == SS_OK; i++) {
		struct vjob *j = r->njobs ? &r->jobs[r->njobs - 1] : NULL;
		if (!j || strcmp(j->path, bp[i].path) != 0) {
			j = &r->jobs[r->njobs++];
			j->path = bp[i].path;
			j->loc = ss_join(ss_tree_root(r->t), j->path);
			j->items = calloc(1, sizeof(*j->items));
			if (!j->loc || !j->items) {
				rc = ssi_err(r->err, SS_FATAL, "out of memory");
				break;
			}
		} else {
			const struct ss_item **ni = realloc(j->items, (j->nitems + 1) * sizeof(*ni));
			if (!ni) {
				rc = ssi_err(r->err, SS_FATAL, "out of memory");
				break;
			}
			j->items = ni;
		}
		j->items[j->nitems++] = bp[i].it;
		j->kinds |= ss_item_hash_kinds(bp[i].it);
	}
	free(bp);
	return rc;
}

/* Reads a (small) metadata file whole, to seed combined-fingerprint hashers. */
static char *read_meta(struct vrun *r, const char *path, size_t *len)
{
	char *loc = ss_join(ss_tree_root(r->t), path), *data = NULL;
	struct ss_error e;
	struct ss_fetch_opts fo = { .ca_file = r->o->ca_file, .timeout = r->o->timeout };
	if (loc && ss_fetch_ex(loc, (size_t)64 << 20, &fo, &data, len, &e) != SS_OK)
		data = NULL;
	free(loc);
	return data;
}

static int add_combo(struct vrun *r, const struct ss_item *meta, const char *field, const struct ss_item *root)
{
	const char *mpath = ss_item_str(meta, "path"), *rpath = ss_item_str(root, "path");
	const char *expect = ss_item_str(meta, field);
	struct vjob *j = rpath ? job_for(r, rpath) : NULL;
	if (!mpath || !j || !expect)
		return SS_OK;
	struct combo *nc = realloc(j->combos, (j->ncombos + 1) * sizeof(*nc));
	if (!nc)
		return ssi_err(r->err, SS_FATAL, "out of memory");
	j->combos = nc;
	struct combo *c = &j->combos[j->ncombos++];
	*c = (struct combo){ NULL, field, expect, mpath };
	size_t len;
	char *data = read_meta(r, mpath, &len);
	if (data && (c->h = ss_hasher_new(SS_HASH_SHA256)))
		ss_hasher_update(c->h, data, len);
	free(data);
	return SS_OK;
}

/* What makes the clients skip an image silently: an unknown architecture
 * or a version key that is not a date.  Checked on versions that hold an
 * LXD/Incus metadata item. */
static void check_lxd_listing(struct vrun *r, const struct ss_item *m)
{
	const char *where = ss_item_str(m, "path") ? ss_item_str(m, "path") : ss_item_name(m);
	const char *arch = ss_item_str(m, "arch");
	if (!ssi_lxd_arch_known(arch))
		problem(r, where, "architecture '%s' of %s is unknown to LXD and Incus: the image is not listed",
			arch ? arch : "", ss_item_product(m));
	if (!ssi_lxd_version_ok(ss_item_version(m)))
		problem(r, where, "version key '%s' does not start with a date YYYYMMDD: the image is not listed",
			ss_item_version(m));
}

/* The LXD/Incus rules of one version, whose items are B..E-1 of P: every
 * metadata item pairs with a root item, every root item has its combined
 * fingerprint on each metadata item, and every fingerprint is checked. */
static int check_lxd_version(struct vrun *r, const struct ss_products *p, size_t b, size_t e)
{
	int rc = SS_OK;
	/* The first item of each root type, found once for the version: a
	 * version of many metadata items is not scanned once per item. */
	const struct ss_item *roots[SSI_LXD_NCOMBINED] = { NULL };
	for (size_t f = 0; f < SSI_LXD_NCOMBINED; f++) {
		for (size_t k = b; k < e && !roots[f]; k++) {
			const char *ft = ss_item_str(ss_products_item(p, k), "ftype");
			if (ft && strcmp(ft, ssi_lxd_combined_at(f)->ftype) == 0)
				roots[f] = ss_products_item(p, k);
		}
	}
	for (size_t i = b; i < e && rc == SS_OK; i++) {
		const struct ss_item *m = ss_products_item(p, i);
		if (!ssi_lxd_is_metadata(ss_item_str(m, "ftype")))
			continue;
		const char *mpath = ss_item_str(m, "path");
		int paired = 0;
		check_lxd_listing(r, m);
		for (size_t f = 0; f < SSI_LXD_NCOMBINED; f++) {
			const struct ssi_lxd_combined *c = ssi_lxd_combined_at(f);
			const char *field = c->field;
			const struct ss_item *root = roots[f];
			const char *value = ss_item_str(m, field);
			if (root)
				paired = 1;
			if (value && !root)
				problem(r, mpath ? mpath : ss_item_name(m), "%s names no %s item in version %s", field,
					c->ftype, ss_item_version(m));
			else if (!value && root && !c->legacy)
				problem(r, mpath ? mpath : ss_item_name(m), "no %s for the %s item '%s'", field,
					c->ftype, ss_item_name(root));
			else if (value && root)
				rc = add_combo(r, m, field, root);
		}
		if (!paired)
			problem(r, mpath ? mpath : ss_item_name(m), "metadata item without a root item in version %s",
				ss_item_version(m));
	}
	return rc;
}

/*
 * Whether a delta's base version is a problem.  Real streams keep a rolling
 * window of versions, and the oldest one's delta names a version already
 * gone (clients use a delta only when they hold its base): a base older
 * than every listed version is fine.  A missing base inside the window, or
 * a delta from a version to itself, is not.
 */
/* The version names of one product (its items are contiguous in document
 * order), sorted, and the oldest: looked up by every delta item, so a
 * product of many versions is not scanned once per delta. */
struct versions {
	const char **v;
	size_t n, end;          /* END: the item after the product's last */
	const char *oldest;
};

/* Fills VS for the product of item K; 0, or -1 when out of memory. */
static int product_versions(const struct ss_products *p, size_t k, struct versions *vs)
{
	const char *product = ss_item_product(ss_products_item(p, k));
	size_t n = ss_products_count(p), e = k;
	while (e < n && strcmp(ss_item_product(ss_products_item(p, e)), product) == 0)
		e++;
	free(vs->v);
	memset(vs, 0, sizeof(*vs));
	vs->end = e;
	if (!(vs->v = malloc((e - k) * sizeof(*vs->v))))
		return -1;
	for (size_t i = k; i < e; i++) {
		const char *ver = ss_item_version(ss_products_item(p, i));
		if (vs->n && strcmp(vs->v[vs->n - 1], ver) == 0)
			continue;
		vs->v[vs->n++] = ver;
		if (!vs->oldest || ss_version_cmp(ver, vs->oldest) < 0)
			vs->oldest = ver;
	}
	qsort(vs->v, vs->n, sizeof(*vs->v), ssi_cmp_str);
	return 0;
}

static int bad_delta_base(const struct versions *vs, const struct ss_item *it, const char *base)
{
	if (strcmp(base, ss_item_version(it)) >= 0)
		return 1;
	if (bsearch(&base, vs->v, vs->n, sizeof(*vs->v), ssi_cmp_str))
		return 0;
	return vs->oldest && ss_version_cmp(base, vs->oldest) > 0;
}

/* What schemas/products.schema.json says of an item (ssi_item_problem);
 * an item without a path is named with its product and version. */
static void check_item_fields(struct vrun *r, const struct ss_item *it)
{
	const char *why = ssi_item_problem(it), *path = ss_item_str(it, "path");
	if (why && path)
		problem(r, path, "%s", why);
	else if (why)
		problem(r, ss_item_name(it), "%s (%s %s)", why, ss_item_product(it), ss_item_version(it));
}

static int check_structure(struct vrun *r)
{
	int rc = SS_OK;
	for (size_t i = 0; i < ss_tree_nproducts(r->t) && rc == SS_OK; i++) {
		const struct ss_products *p = ss_tree_products(r->t, i);
		struct ss_error e;
		ss_error_clear(&e);
		if (ss_products_check_index(p, &e) != SS_OK)
			problem(r, ss_products_path(p), "%s", e.msg);
		size_t n = ss_products_count(p), b = 0;
		struct versions vs = { 0 };
		for (size_t k = 0; k < n && rc == SS_OK; k++) {
			const struct ss_item *it = ss_products_item(p, k);
			check_item_fields(r, it);
			if (k == vs.end && product_versions(p, k, &vs) < 0) {
				rc = ssi_err(r->err, SS_FATAL, "out of memory");
				break;
			}
			const char *base = ss_item_str(it, "delta_base");
			if (base && bad_delta_base(&vs, it, base))
				problem(r, ss_item_str(it, "path") ? ss_item_str(it, "path") : ss_item_name(it),
					"delta_base '%s' is not an older version of %s", base, ss_item_product(it));
			const struct ss_item *next = k + 1 < n ? ss_products_item(p, k + 1) : NULL;
			if (next && strcmp(ss_item_product(next), ss_item_product(it)) == 0 &&
			    strcmp(ss_item_version(next), ss_item_version(it)) == 0)
				continue;
			rc = check_lxd_version(r, p, b, k + 1);
			b = k + 1;
		}
		free(vs.v);
	}
	return rc;
}

/* ---- orphans --------------------------------------------------------------- */

static int referenced(void *ctx, const char *rel)
{
	return job_for(ctx, rel) != NULL;
}

static void find_orphans(struct vrun *r)
{
	struct ssi_strset list = { 0 };
	ssi_verify_orphans(r->t, referenced, r, &list);
	for (size_t i = 0; i < list.n; i++) {
		report(r, SS_V_ORPHAN, list.v[i], "referenced by nothing");
		r->st->orphans++;
	}
	ssi_strset_free(&list);
}

/* ---- entry points ------------------------------------------------------------ */

static void free_run(struct vrun *r)
{
	for (size_t i = 0; i < r->njobs; i++) {
		free(r->jobs[i].loc);
		free(r->jobs[i].items);
		for (size_t k = 0; k < r->jobs[i].ncombos; k++)
			ss_hasher_free(r->jobs[i].combos[k].h);
		free(r->jobs[i].combos);
	}
	free(r->jobs);
	for (size_t i = 0; i < r->nprobs; i++) {
		free(r->probs[i].path);
		free(r->probs[i].reason);
	}
	free(r->probs);
	ss_tree_free(r->t);
}

static int load(struct vrun *r)
{
	const struct ss_verify_opts *o = r->o;
	struct ss_verifier *v = NULL;
	if (o->keyring && !(v = ss_verifier_new(o->keyring, r->err)))
		return r->err->code;
	struct ss_fetch_opts fo = { .ca_file = o->ca_file, .timeout = o->timeout };
	r->t = ss_tree_load_ex(o->source, v, &fo, r->err);
	ss_verifier_free(v);
	if (!r->t)
		return r->err->code;
	const char *root = ss_tree_root(r->t);
	r->remote = ss_is_url(root) && strncmp(root, "file://", 7) != 0;
	return make_jobs(r);
}

static int cmp_prob(const void *a, const void *b)
{
	const struct problem *x = a, *y = b;
	int c = strcmp(x->path ? x->path : "", y->path ? y->path : "");
	return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static int cmp_job_path(const void *a, const void *b)
{
	return strcmp((*(const struct vjob *const *)a)->path, (*(const struct vjob *const *)b)->path);
}

/* Reports every problem and every file, counting each path once: a file
 * whose hashes match but that has a problem is one failed file, not one
 * ok and one failed. */
static void count_results(struct vrun *r)
{
	struct ss_verify_stats *st = r->st;
	for (size_t i = 0; i < r->nprobs; i++)
		r->probs[i].seq = i;
	if (r->nprobs)
		qsort(r->probs, r->nprobs, sizeof(*r->probs), cmp_prob);
	struct vjob **by_path = calloc(r->njobs ? r->njobs : 1, sizeof(*by_path));
	for (size_t i = 0; by_path && i < r->njobs; i++)
		by_path[i] = &r->jobs[i];
	if (by_path && r->njobs)
		qsort(by_path, r->njobs, sizeof(*by_path), cmp_job_path);
	for (size_t i = 0; i < r->nprobs; i++) {
		const char *path = r->probs[i].path ? r->probs[i].path : "";
		report(r, SS_V_FAIL, path, r->probs[i].reason ? r->probs[i].reason : "out of memory");
		if (i && r->probs[i - 1].path && strcmp(path, r->probs[i - 1].path) == 0)
			continue;
		struct vjob key = { .path = path }, *kp = &key, **hit = NULL;
		if (by_path && r->njobs)
			hit = bsearch(&kp, by_path, r->njobs, sizeof(*by_path), cmp_job_path);
		if (hit) {
			(*hit)->has_problem = 1;
		} else {
			st->files++;
			st->failed++;
		}
	}
	free(by_path);
	for (size_t i = 0; i < r->njobs; i++) {
		struct vjob *j = &r->jobs[i];
		st->files++;
		st->bytes += j->bytes;
		if (j->failed) {
			st->failed++;
			report(r, SS_V_FAIL, j->path, j->reason);
		} else if (j->has_problem) {
			st->failed++;
		} else {
			st->ok++;
			report(r, SS_V_OK, j->path, NULL);
		}
	}
}

/* A signed view that says something else than the plain one: a client
 * with a keyring reads a stale tree. */
static void on_views_differ(void *ud, const char *rel)
{
	struct vrun *r = ud;
	r->st->files++; /* the stale document is a file checked, and failed */
	r->st->failed++;
	report(r, SS_V_FAIL, rel,
	       "the signed view differs from the plain one (.json rewritten without its .sjson): clients with a "
	       "keyring read a stale tree");
}

int ss_verify_tree(const struct ss_verify_opts *o, struct ss_verify_stats *st, struct ss_error *err)
{
	double t0 = ssi_now();
	struct ss_error local;
	if (!err)
		err = &local;
	ss_error_clear(err);
	memset(st, 0, sizeof(*st));
	struct vrun r = { .o = o, .st = st, .err = err };
	int rc = load(&r);
	if (rc == SS_OK)
		rc = check_structure(&r);
	if (rc == SS_OK)
		rc = ssi_verify_run_all(&r);
	if (rc != SS_OK) {
		free_run(&r);
		return rc;
	}
	count_results(&r);
	if (!r.remote)
		ssi_views_compare(ss_tree_root(r.t), on_views_differ, &r);
	if (o->orphans && !r.remote)
		find_orphans(&r);
	free_run(&r);
	st->seconds = ssi_now() - t0;
	if (st->failed)
		return ssi_err(err, SS_INTEGRITY, "%zu problems", st->failed);
	return st->orphans ? SS_PARTIAL : SS_OK;
}

/* --files: each file is matched to an item by its strongest hash, then by
 * path, then by name. */
int ss_verify_files(const struct ss_verify_opts *o, const char *const *files, int n,
		    struct ss_verify_stats *st, struct ss_error *err)
{
	double t0 = ssi_now();
	struct ss_error local;
	if (!err)
		err = &local;
	ss_error_clear(err);
	memset(st, 0, sizeof(*st));
	struct vrun r = { .o = o, .st = st, .err = err };
	int rc = load(&r);
	if (rc != SS_OK) {
		free_run(&r);
		return rc;
	}
	for (int i = 0; i < n; i++) {
		struct ss_digest d;
		struct ss_error e;
		st->files++;
		if (ss_hash_file(files[i], SS_HASH_SHA256 | SS_HASH_SHA512 | SS_HASH_MD5, &d, &e) != SS_OK) {
			st->failed++;
			report(&r, SS_V_FAIL, files[i], e.msg);
			continue;
		}
		st->bytes += d.size;
		const char *base = strrchr(files[i], '/');
		base = base ? base + 1 : files[i];
		const struct ss_item *by_hash = NULL, *by_name = NULL;
		for (size_t k = 0; k < r.njobs && !by_hash; k++) {
			struct vjob *j = &r.jobs[k];
			for (size_t m = 0; m < j->nitems && !by_hash; m++) {
				const char *sha256 = ss_item_str(j->items[m], "sha256");
				const char *sha512 = ss_item_str(j->items[m], "sha512");
				const char *md5 = ss_item_str(j->items[m], "md5");
				if ((sha256 && strcasecmp(sha256, d.sha256) == 0) ||
				    (sha512 && strcasecmp(sha512, d.sha512) == 0) ||
				    (!sha256 && !sha512 && md5 && strcasecmp(md5, d.md5) == 0))
					by_hash = j->items[m];
			}
			const char *jb = strrchr(j->path, '/');
			jb = jb ? jb + 1 : j->path;
			size_t fl = strlen(files[i]), pl = strlen(j->path);
			int path_match = fl >= pl && strcmp(files[i] + fl - pl, j->path) == 0 &&
					 (fl == pl || files[i][fl - pl - 1] == '/');
			if (!by_name && (path_match || strcmp(jb, base) == 0))
				by_name = j->items[0];
		}
		const struct ss_item *it = by_hash ? by_hash : by_name;
		if (!it) {
			st->unknown++;
			report(&r, SS_V_UNKNOWN, files[i], "named by no item, and no item has its sha256");
			continue;
		}
		ss_error_clear(&e);
		if (ss_item_check(it, &d, &e) == SS_OK) {
			st->ok++;
			report(&r, SS_V_OK, files[i], ss_item_str(it, "path"));
		} else {
			st->failed++;
			const char *why = strstr(e.msg, "': ");
			report(&r, SS_V_FAIL, files[i], why ? why + 3 : e.msg);
		}
	}
	free_run(&r);
	st->seconds = ssi_now() - t0;
	if (st->failed)
		return ssi_err(err, SS_INTEGRITY, "%zu of %zu files failed", st->failed, st->files);
	return st->unknown ? SS_PARTIAL : SS_OK;
}
