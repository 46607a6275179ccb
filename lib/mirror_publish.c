/*
 * Publishing a mirror's documents: every products file (upstream's bytes
 * when mirroring everything, else our view listing exactly the items
 * present), then the index, through the state commit.
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

/* ---- publishing -------------------------------------------------------------- */

static int published(const struct want *w)
{
	return w->status == W_PRESENT || w->status == W_NOPATH || w->status == W_SKIPPED;
}

static int write_doc(struct run *r, const char *rel, const char *data, size_t len)
{
	ssi_strset_add(&r->new_meta, rel);
	ssi_strset_add(&r->new_refs, rel);
	if (r->o->dry_run)
		return SS_OK;
	char *file = ssm_tpath(r, rel);
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

int ssm_publish(struct run *r)
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
			ssi_strset_add(&r->new_refs, w->path);
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
	ssi_strset_add(&r->new_refs, "streams/v1/index.json");
	ssi_strset_add(&r->new_meta, "streams/v1/index.json");
	ssi_strset_seal(&r->new_refs);
	ssi_strset_seal(&r->new_meta);
	if (rc != SS_OK || r->o->dry_run) {
		free(index);
		return rc;
	}
	rc = ssm_state_commit(r, index, index_len);
	free(index);
	return rc;
}
