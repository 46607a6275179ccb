/* SPDX-License-Identifier: Apache-2.0 */
/*
 * S3 object storage: a products file whose product list changes, put the
 * way treedocs.c writes it on disk, so that the bucket's index never
 * lists a product its file lacks, even across kill -9 between the two
 * PUTs.  The new bytes go up at an alternate key first, an index naming
 * them there (the bucket's, with the file's entries of the new index)
 * replaces the bucket's, and only then the file is put at its own name;
 * the final index follows as usual, and the alternate, named by no index
 * any more, is pruned as any object (after the grace period).  The
 * unsigned view only: a signed one (index.sjson) cannot be switched
 * without the key, as on disk.
 */
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "s3_client.h"
#include "treedocs.h"

#define INDEX_REL "streams/v1/index.json"

/* Whether two "products" lists name the same products. */
static int same_list(json_t *a, json_t *b)
{
	if (!json_is_array(a) || !json_is_array(b) || json_array_size(a) != json_array_size(b))
		return 0;
	size_t i, j;
	json_t *x, *y;
	json_array_foreach(a, i, x) {
		int found = 0;
		json_array_foreach(b, j, y)
			if (json_equal(x, y)) {
				found = 1;
				break;
			}
		if (!found)
			return 0;
	}
	return 1;
}

static const char *entry_path(json_t *e)
{
	const char *p = json_string_value(json_object_get(e, "path"));
	return p ? p : "";
}

/* Whether LIVE names REL with a product list NEXT does not give it. */
static int must_switch(json_t *live, json_t *next, const char *rel)
{
	const char *cid;
	json_t *e;
	json_object_foreach(json_object_get(live, "index"), cid, e) {
		if (strcmp(entry_path(e), rel) != 0)
			continue;
		json_t *n = json_object_get(json_object_get(next, "index"), cid);
		if (!n || strcmp(entry_path(n), rel) != 0 ||
		    !same_list(json_object_get(e, "products"), json_object_get(n, "products")))
			return 1;
	}
	return 0;
}

/* LIVE becomes the index naming ALT for REL: its entries naming REL go,
 * NEXT's entries naming REL come, with ALT as their path.  0 or -1. */
static int switch_view(json_t *live, json_t *next, const char *rel, const char *alt)
{
	json_t *idx = json_object_get(live, "index");
	const char *cid;
	json_t *e, *tmp;
	json_object_foreach_safe(idx, tmp, cid, e)
		if (strcmp(entry_path(e), rel) == 0)
			json_object_del(idx, cid);
	json_object_foreach(json_object_get(next, "index"), cid, e) {
		if (strcmp(entry_path(e), rel) != 0)
			continue;
		json_t *c = json_deep_copy(e);
		if (!c || json_object_set_new(c, "path", json_string(alt)) != 0 || json_object_set_new(idx, cid, c) != 0)
			return -1;
	}
	return 0;
}

static int put_json_doc(struct ss_s3 *s, const char *rel, const char *data, size_t len, struct ss_error *err)
{
	char *key = ssi_s3_full_key(s, rel);
	if (!key)
		return ssi_err(err, SS_FATAL, "out of memory");
	int rc = ssi_s3_put(s, key, data, len, "application/json", CC_DOCS, s->o->acl, NULL, NULL, err);
	free(key);
	return rc;
}

/* The bucket's index into *LIVE (json_null() when it has none, or none
 * that reads as an index). */
static int read_live(struct ss_s3 *s, const struct ssi_s3_list *l, json_t **live, struct ss_error *err)
{
	char *key = ssi_s3_full_key(s, INDEX_REL), *data = NULL;
	size_t len = 0;
	if (!key)
		return ssi_err(err, SS_FATAL, "out of memory");
	int rc = ssi_s3_list_find(l, key) ? ssi_s3_get(s, key, &data, &len, NULL, err) : SS_OK;
	free(key);
	if (rc != SS_OK)
		return rc;
	json_t *v = ssi_treedocs_view_parse(data, len, INDEX_REL);
	free(data);
	*live = v ? v : json_null();
	return SS_OK;
}

int ssi_s3_switch(struct ss_s3 *s, const struct ssi_s3_list *l, json_t **live, const char *tree, const char *rel,
		  const char *data, size_t len, struct ss_error *err)
{
	if (!*live && read_live(s, l, live, err) != SS_OK)
		return err->code;
	if (json_is_null(*live))
		return SS_OK;
	json_t *next = ssi_treedocs_view(tree, INDEX_REL);
	if (!next || !must_switch(*live, next, rel)) {
		json_decref(next);
		return SS_OK;
	}
	char alt[PATH_MAX];
	ssi_treedocs_alt_name(rel, 0, alt, sizeof(alt));
	if (ssi_treedocs_view_names(*live, alt))
		ssi_treedocs_alt_name(rel, 1, alt, sizeof(alt));
	int rc = switch_view(*live, next, rel, alt) == 0 ? SS_OK : ssi_err(err, SS_FATAL, "out of memory");
	json_decref(next);
	size_t ilen = 0;
	char *itext = rc == SS_OK ? ssi_json_dump(*live, &ilen) : NULL;
	if (rc == SS_OK && !itext)
		rc = ssi_err(err, SS_FATAL, "out of memory");
	if (rc == SS_OK && (rc = put_json_doc(s, alt, data, len, err)) == SS_OK)
		rc = put_json_doc(s, INDEX_REL, itext, ilen, err);
	free(itext);
	return rc;
}
