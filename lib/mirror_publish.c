/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Publishing a mirror's documents: every products file (upstream's bytes
 * when mirroring everything, else our view listing exactly the items
 * present) and the index, built in memory (ssm_publish), then written
 * (ssm_publish_write) once the state file names what they drop.
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

#include "mirror_internal.h"
#include "treedocs.h"

/* ---- publishing -------------------------------------------------------------- */

static int published(const struct want *w)
{
	return !w->held && (w->status == W_PRESENT || w->status == W_NOPATH || w->status == W_SKIPPED);
}

/* "content id \n product \n version" of IT, in BUF. */
static const char *version_key(const struct ss_item *it, char *buf, size_t len)
{
	snprintf(buf, len, "%s\n%s\n%s", ss_item_content_id(it), ss_item_product(it), ss_item_version(it));
	return buf;
}

/* 1 when the old tree's IT can be listed again: its file is there, and
 * this run did not put other content at its path. */
static int old_item_usable(struct run *r, const struct ss_item *it)
{
	const char *path = ss_item_str(it, "path");
	if (!path)
		return 1;
	for (size_t i = 0; i < r->nw; i++)
		if (r->w[i].path && r->w[i].status == W_PRESENT && strcmp(r->w[i].path, path) == 0 &&
		    !ssm_same_content(r->w[i].it, it))
			return 0;
	char *file = ssm_tpath(r, path);
	struct stat st;
	int ok = file && stat(file, &st) == 0 && S_ISREG(st.st_mode);
	free(file);
	return ok;
}

/* The old tree's listing of each version in FAILED, where all of it can
 * be listed again. */
static int old_listing(struct run *r, const struct ssi_strset *failed)
{
	struct ssi_strset broken = { 0 };
	char key[4096];
	size_t n = 0;
	int rc = SS_OK;
	for (size_t i = 0; r->old && failed->n && i < ss_tree_nproducts(r->old); i++)
		n += ss_products_count(ss_tree_products(r->old, i));
	if (n && !(r->docs.fallback = calloc(n, sizeof(*r->docs.fallback))))
		return ssm_oom(r);
	for (int pass = 0; rc == SS_OK && n && pass < 2; pass++) {
		if (pass == 1)
			ssi_strset_seal(&broken);
		for (size_t i = 0; rc == SS_OK && i < ss_tree_nproducts(r->old); i++) {
			const struct ss_products *p = ss_tree_products(r->old, i);
			for (size_t j = 0; rc == SS_OK && j < ss_products_count(p); j++) {
				const struct ss_item *it = ss_products_item(p, j);
				if (!ssi_strset_has(failed, version_key(it, key, sizeof(key))))
					continue;
				if (pass == 0 && !old_item_usable(r, it))
					rc = ssm_add(r, &broken, key);
				else if (pass == 1 && !ssi_strset_has(&broken, key))
					r->docs.fallback[r->docs.nfallback++] = it;
			}
		}
	}
	ssi_strset_free(&broken);
	return rc;
}

/*
 * A version is published whole or not at all: when an item of it failed
 * (its root image, say), its other items are held back - a version listing
 * only its metadata is one no client can use, and sstream-verify refuses
 * it.  What the old tree listed for such a version stays listed, where
 * its files are there.  Held files stay referenced: nothing is deleted
 * while the version waits for the next run.
 */
static int hold_failed_versions(struct run *r)
{
	struct ssi_strset failed = { 0 };
	char key[4096];
	int rc = SS_OK;
	for (size_t i = 0; rc == SS_OK && i < r->nw; i++)
		if (r->w[i].status == W_FAILED)
			rc = ssm_add(r, &failed, version_key(r->w[i].it, key, sizeof(key)));
	ssi_strset_seal(&failed);
	for (size_t i = 0; rc == SS_OK && failed.n && i < r->nw; i++)
		r->w[i].held = ssi_strset_has(&failed, version_key(r->w[i].it, key, sizeof(key)));
	if (rc == SS_OK)
		rc = old_listing(r, &failed);
	ssi_strset_free(&failed);
	return rc;
}

/* Grows the list of documents to write by one; SS_FATAL when out of memory. */
static int doc_grow(struct run *r)
{
	if (r->docs.n < r->docs.alloc)
		return SS_OK;
	size_t na = r->docs.alloc ? 2 * r->docs.alloc : 16;
	char **nr = realloc(r->docs.rel, na * sizeof(*nr));
	if (nr)
		r->docs.rel = nr;
	char **nd = nr ? realloc(r->docs.data, na * sizeof(*nd)) : NULL;
	if (nd)
		r->docs.data = nd;
	size_t *nl = nd ? realloc(r->docs.len, na * sizeof(*nl)) : NULL;
	if (nl)
		r->docs.len = nl;
	struct ssi_prepdoc *np = nl ? realloc(r->docs.prep, na * sizeof(*np)) : NULL;
	if (!np)
		return ssi_err(r->err, SS_FATAL, "out of memory");
	memset(np + r->docs.alloc, 0, (na - r->docs.alloc) * sizeof(*np));
	r->docs.prep = np;
	r->docs.alloc = na;
	return SS_OK;
}

/* The document just added lists the items of P (upstream's bytes), or
 * those of S: what the history will say of it needs no reading then. */
static void doc_lists(struct run *r, const struct ss_products *p, const struct ss_subset *s)
{
	if (r->o->dry_run || r->o->no_history || !r->docs.n)
		return;
	struct ssi_prepdoc *d = &r->docs.prep[r->docs.n - 1];
	d->products = p;
	size_t n = s ? ss_subset_count(s) : 0;
	if (s && (d->items = malloc((n ? n : 1) * sizeof(*d->items)))) {
		for (size_t i = 0; i < n; i++)
			d->items[i] = ssi_subset_item(s, i);
		d->nitems = n;
	}
}

/* Adds REL with DATA (malloc'd, taken even on failure) to the documents
 * to write; DATA NULL: upstream's bytes for REL, read back from the source
 * tree only when written (upstream's products file of a 1 000 000-item
 * tree is 150 MB). */
static int write_doc(struct run *r, const char *rel, char *data, size_t len)
{
	char *rc = NULL;
	if (ssm_add(r, &r->new_meta, rel) != SS_OK || ssm_ref(r, &r->new_refs, rel, 1) != SS_OK)
		goto fail;
	if (r->o->dry_run) {
		free(data);
		return SS_OK;
	}
	/* written with the index, by ssm_publish_write */
	if (doc_grow(r) != SS_OK)
		goto fail;
	if (!(rc = strdup(rel))) {
		ssi_err(r->err, SS_FATAL, "out of memory");
		goto fail;
	}
	r->docs.rel[r->docs.n] = rc;
	r->docs.data[r->docs.n] = data;
	r->docs.len[r->docs.n++] = len;
	return SS_OK;
fail:
	free(data);
	return SS_FATAL;
}

void ssm_docs_free(struct run *r)
{
	for (size_t i = 0; i < r->docs.n; i++) {
		free(r->docs.rel[i]);
		free(r->docs.data[i]);
		free(r->docs.prep[i].items);
	}
	free(r->docs.prep);
	r->docs.prep = NULL;
	free(r->docs.rel);
	free(r->docs.data);
	free(r->docs.len);
	free(r->docs.index);
	free(r->docs.fallback);
	r->docs.rel = r->docs.data = NULL;
	r->docs.len = NULL;
	r->docs.fallback = NULL;
	r->docs.nfallback = 0;
	r->docs.index = NULL;
	r->docs.n = r->docs.alloc = 0;
}

/* The index of the document upstream served at REL, or -1. */
static long src_index(const struct run *r, const char *rel)
{
	for (size_t i = 0; i < ss_tree_ndocs(r->src); i++) {
		const char *d;
		size_t l;
		if (strcmp(ss_tree_doc(r->src, i, &d, &l), rel) == 0)
			return (long)i;
	}
	return -1;
}

/* Upstream's bytes for REL, malloc'd into *DATA: SS_OK, or SS_FATAL
 * (R's error; *DATA NULL). */
static int src_doc_copy(const struct run *r, const char *rel, char **data, size_t *len)
{
	long i = src_index(r, rel);
	*data = NULL;
	if (i < 0)
		return ssi_err(r->err, SS_FATAL, "source '%s': no document '%s'", r->o->source, rel);
	return ssi_tree_doc_read(r->src, (size_t)i, data, len, r->err);
}

/* The same in *DATA, without a copy when the tree holds them in memory
 * (else the copy is *COPY, malloc'd). */
static int src_doc(const struct run *r, const char *rel, const char **data, char **copy, size_t *len)
{
	long i = src_index(r, rel);
	*copy = NULL;
	if (i >= 0 && ss_tree_doc(r->src, (size_t)i, data, len) && *data)
		return SS_OK;
	int rc = src_doc_copy(r, rel, copy, len);
	*data = *copy;
	return rc;
}

/* Where our JSON view keeps the products file read from REL: the same
 * name with .json for .sjson; a file outside streams/ keeps its whole path
 * below streams/v1/ (so that a/p.json and b/p.json stay two files).
 * malloc'd.  ssm_check_docs makes sure no two documents land on one path. */
static char *json_path(const char *rel)
{
	int inside = strncmp(rel, "streams/", 8) == 0;
	size_t n = strlen(rel);
	char *out = malloc(n + 16);
	if (!out)
		return NULL;
	sprintf(out, "%s%s", inside ? "" : "streams/v1/", rel);
	n = strlen(out);
	if (n > 6 && strcmp(out + n - 6, ".sjson") == 0)
		strcpy(out + n - 6, ".json");
	return out;
}

int ssm_check_docs(struct run *r)
{
	struct ssi_strset items = { 0 }, seen = { 0 };
	int rc = SS_OK;
	for (size_t i = 0; i < ss_tree_nproducts(r->src); i++) {
		const struct ss_products *p = ss_tree_products(r->src, i);
		for (size_t k = 0; k < ss_products_count(p); k++) {
			const char *path = ss_item_str(ss_products_item(p, k), "path");
			if (path && rc == SS_OK)
				rc = ssm_add(r, &items, path);
		}
	}
	ssi_strset_seal(&items);
	/* upstream's documents (kept verbatim) and our views: one path each,
	 * never an item's */
	for (size_t i = 0; rc == SS_OK && i < ss_tree_ndocs(r->src); i++) {
		const char *d;
		size_t l;
		const char *rel = ss_tree_doc(r->src, i, &d, &l);
		if (ssi_strset_has(&items, rel))
			rc = ssi_err(r->err, SS_FATAL, "source '%s': '%s' is both a document and an item", r->o->source, rel);
		else
			rc = ssm_add(r, &seen, rel);
	}
	ssi_strset_seal(&seen);
	struct ssi_strset views = { 0 };
	for (size_t i = 0; rc == SS_OK && i < ss_tree_nproducts(r->src); i++) {
		const struct ss_products *p = ss_tree_products(r->src, i);
		const char *rel = ss_products_path(p), *cid = ss_products_content_id(p);
		for (size_t k = 0; rc == SS_OK && k < i; k++)
			if (strcmp(ss_products_content_id(ss_tree_products(r->src, k)), cid) == 0)
				rc = ssi_err(r->err, SS_FATAL, "source '%s': '%s' and '%s' both hold content id '%s'",
					     r->o->source, ss_products_path(ss_tree_products(r->src, k)), rel, cid);
		char *jrel = json_path(rel);
		if (!jrel) {
			rc = ssi_err(r->err, SS_FATAL, "out of memory");
			break;
		}
		if (rc == SS_OK && (ssi_strset_has(&items, jrel) || (strcmp(jrel, rel) != 0 && ssi_strset_has(&seen, jrel)) ||
				    ssi_strset_has(&views, jrel) || strcmp(jrel, "streams/v1/index.json") == 0))
			rc = ssi_err(r->err, SS_FATAL, "source '%s': the JSON view of '%s' would be '%s', where another file is",
				     r->o->source, rel, jrel);
		if (rc == SS_OK)
			rc = ssm_add(r, &views, jrel);
		ssi_strset_seal(&views);
		free(jrel);
	}
	ssi_strset_free(&views);
	ssi_strset_free(&seen);
	ssi_strset_free(&items);
	return rc;
}

/* IT goes into the products file S; the run remembers it (R->listed, for
 * the catalogue page: what the documents list, with no need to read them
 * back). */
static void listed_add(struct run *r, struct ss_subset *s, const struct ss_item *it)
{
	ss_subset_add(s, it);
	if (r->docs.listed && r->docs.nlisted < r->nw + r->docs.nfallback)
		r->docs.listed[r->docs.nlisted++] = it;
}

/* With --sign-key, the .sjson twin of our view REL is one of the
 * documents this run writes (so no prune takes it). */
static int add_signed_twin(struct run *r, const char *rel)
{
	char srel[PATH_MAX];
	ssi_treedocs_sjson_name(rel, srel, sizeof(srel));
	return ssm_add(r, &r->new_meta, srel) != SS_OK ? SS_FATAL : ssm_ref(r, &r->new_refs, srel, 1);
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
	/* (no list, no page: ssm_page then says so) */
	free(r->docs.listed);
	r->docs.nlisted = 0;
	r->docs.listed = r->o->catalogue ? malloc((r->nw + r->docs.nfallback + 1) * sizeof(*r->docs.listed)) : NULL;
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
					listed_add(r, s, w->it);
			}
			/* kept items come from the old tree's documents */
			for (size_t k = r->sel.count; k < r->nw; k++) {
				const struct want *w = &r->w[k];
				if (published(w) && strcmp(ss_item_content_id(w->it), ss_products_content_id(p)) == 0)
					listed_add(r, s, w->it);
			}
			for (size_t k = 0; k < r->docs.nfallback; k++)
				if (strcmp(ss_item_content_id(r->docs.fallback[k]), ss_products_content_id(p)) == 0)
					listed_add(r, s, r->docs.fallback[k]);
		}
		size_t len;
		int raw = rc == SS_OK && verbatim && src_index(r, rel) >= 0;
		if (raw && (rc = write_doc(r, rel, NULL, 0)) == SS_OK) /* upstream's index names it there (ssm_check_docs: no clash) */
			doc_lists(r, p, NULL);
		int raw_is_view = raw && strcmp(rel, jrel) == 0;
		if (rc == SS_OK && ss_subset_count(s) > 0 && !raw_is_view) {
			char *doc = ss_subset_dump(s, &len);
			rc = doc ? write_doc(r, jrel, doc, len) : ssi_err(r->err, SS_FATAL, "out of memory");
			if (rc == SS_OK)
				doc_lists(r, NULL, s);
		}
		if (rc == SS_OK && (ss_subset_count(s) > 0 || raw_is_view))
			rc = ss_index_add(iw, s, jrel);
		if (rc == SS_OK && r->o->sign_key && (ss_subset_count(s) > 0 || raw_is_view))
			rc = add_signed_twin(r, jrel);
		ss_subset_free(s);
		free(jrel);
	}
	if (rc == SS_OK && !(*index = ss_index_dump(iw, index_len)))
		rc = ssi_err(r->err, SS_FATAL, "out of memory");
	ss_index_free(iw);
	return rc;
}

/* A verbatim run needs no more of the old tree than the paths it named
 * that the new documents do not (R's new_refs so far: every item's): those
 * are copied, and the old tree, as big as the new one, goes before
 * upstream's documents are read back to be written. */
static int let_old_go(struct run *r)
{
	struct ssi_strset gone = { .borrowed = 1 };
	int rc = SS_OK;
	ssi_strset_seal(&r->new_refs);
	for (size_t i = 0; rc == SS_OK && i < r->old_refs.n; i++)
		if (!ssi_strset_has(&r->new_refs, r->old_refs.v[i]))
			rc = ssm_ref(r, &gone, r->old_refs.v[i], 1);
	ssi_strset_seal(&gone);
	ssi_strset_free(&r->old_refs);
	r->old_refs = gone;
	ssm_keyed_free(r);
	ss_tree_free(r->old);
	r->old = NULL;
	return rc;
}

int ssm_publish(struct run *r)
{
	int verbatim = ss_filter_count(r->o->filter) == 0 && r->o->max == 0 && r->st->failed == 0 &&
		       r->nw == r->sel.count;
	r->st->verbatim = verbatim;
	int rc = hold_failed_versions(r);
	for (size_t i = 0; rc == SS_OK && i < r->nw; i++) {
		const struct want *w = &r->w[i];
		if (!published(w) && !(w->held && w->status == W_PRESENT))
			continue;
		r->st->items += !w->held;
		if (w->path)
			rc = ssm_ref(r, &r->new_refs, w->path, 0);
	}
	for (size_t i = 0; rc == SS_OK && i < r->docs.nfallback; i++) {
		r->st->items++;
		rc = ssm_ref(r, &r->new_refs, ss_item_str(r->docs.fallback[i], "path"), 0);
	}
	/* (a dry run reports from the old tree after this) */
	if (rc == SS_OK && verbatim && r->old && !r->old_is_src && !r->docs.nfallback && !r->o->dry_run)
		rc = let_old_go(r);
	char *index = NULL;
	size_t index_len = 0;
	if (rc == SS_OK)
		rc = write_products(r, verbatim, &index, &index_len);
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
		if (is_products)
			continue;
		if (strcmp(rel, "streams/v1/index.json") == 0) {
			free(index);
			rc = src_doc_copy(r, rel, &index, &index_len);
		} else {
			rc = write_doc(r, rel, NULL, 0);
		}
	}
	if (rc == SS_OK && (rc = ssm_ref(r, &r->new_refs, "streams/v1/index.json", 0)) == SS_OK)
		rc = ssm_add(r, &r->new_meta, "streams/v1/index.json");
	if (rc == SS_OK && r->o->sign_key)
		rc = add_signed_twin(r, "streams/v1/index.json");
	ssi_strset_seal(&r->new_refs);
	ssi_strset_seal(&r->new_meta);
	if (rc != SS_OK || r->o->dry_run) {
		free(index);
		return rc;
	}
	r->docs.index = index;
	r->docs.index_len = index_len;
	return SS_OK;
}

/* The documents, then the index, so that every index a reader sees names
 * products files listing exactly its products. */
int ssm_publish_write(struct run *r)
{
	int rc = SS_OK;
	const char **rels = calloc(r->docs.n + 1, sizeof(*rels)), **data = calloc(r->docs.n + 1, sizeof(*data));
	size_t *lens = calloc(r->docs.n + 1, sizeof(*lens));
	char **upstream = calloc(r->docs.n + 1, sizeof(*upstream));
	if (!rels || !data || !lens || !upstream) {
		rc = ssm_oom(r);
	} else {
		for (size_t i = 0; rc == SS_OK && i < r->docs.n; i++) {
			rels[i] = r->docs.rel[i];
			data[i] = r->docs.data[i];
			lens[i] = r->docs.len[i];
			if (!data[i])
				rc = src_doc(r, rels[i], &data[i], &upstream[i], &lens[i]);
		}
	}
	if (rc == SS_OK) {
		rels[r->docs.n] = "streams/v1/index.json";
		data[r->docs.n] = r->docs.index;
		lens[r->docs.n] = r->docs.index_len;
		rc = ssi_treedocs_put_signed(r->o->sign_key, 0, r->o->target, r->docs.n + 1, rels, data, lens,
					     &r->st->metadata_written, r->err);
	}
	for (size_t i = 0; upstream && i < r->docs.n; i++)
		free(upstream[i]);
	free(upstream);
	free(rels);
	free(data);
	free(lens);
	return rc;
}

void ssm_history_prepare(struct run *r)
{
	if (r->o->no_history || r->o->dry_run || !r->docs.n)
		return;
	for (size_t i = 0; i < r->docs.n; i++) {
		struct ssi_prepdoc *d = &r->docs.prep[i];
		d->rel = r->docs.rel[i];
		d->data = r->docs.data[i];
		d->len = r->docs.len[i];
		long k = d->data ? -1 : src_index(r, d->rel);
		if (k >= 0) /* (NULL when spooled: then nothing is prepared) */
			ss_tree_doc(r->src, (size_t)k, &d->data, &d->len);
	}
	r->history = ssi_history_prepare(r->o->target, r->docs.n, r->docs.prep);
}
