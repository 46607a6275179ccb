/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The plain and the signed view of a local tree: streams/v1/NAME.json and
 * streams/v1/NAME.sjson must say the same thing.  A tree whose .json was
 * rewritten without its .sjson serves a stale signed view to every client
 * with a keyring (LXD, MAAS, a --keyring mirror) while the plain view moves
 * on.  The bodies are compared as JSON values, with an index's "path"
 * fields read without their .json / .sjson extension (a signed index names
 * the signed products files, a plain one the plain ones).
 */
#include <dirent.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

/* A copy of an index document with every entry's path extension dropped,
 * or a new reference to DOC when it is not an index. */
static json_t *normalised(json_t *doc)
{
	json_t *idx = json_object_get(doc, "index");
	const char *fmt = json_string_value(json_object_get(doc, "format"));
	if (!idx || !fmt || strcmp(fmt, "index:1.0"))
		return json_incref(doc);
	json_t *copy = json_deep_copy(doc);
	const char *k;
	json_t *e;
	json_object_foreach(json_object_get(copy, "index"), k, e) {
		const char *p = json_string_value(json_object_get(e, "path"));
		if (!p)
			continue;
		size_t n = strlen(p);
		size_t cut = n > 6 && strcmp(p + n - 6, ".sjson") == 0 ? 6 : n > 5 && strcmp(p + n - 5, ".json") == 0 ? 5 : 0;
		json_object_set_new(e, "path", json_stringn(p, n - cut));
	}
	return copy;
}

/* The document at REL (the body of a signed one), read as the tree
 * loader reads it (items as records), or NULL. */
static struct ss_products *load(const char *root, const char *rel, int signed_view)
{
	char *file = ss_join(root, rel), *data = NULL, *body = NULL;
	size_t len = 0, blen = 0;
	struct ss_error e;
	struct ss_products *doc = NULL;
	if (file && ss_fetch(file, SS_METADATA_CAP, &data, &len, &e) == SS_OK) {
		if (!signed_view)
			doc = ssi_products_scan(data, len, rel, 0, &e);
		else if (ss_clearsign_body(data, len, &body, &blen, &e) == SS_OK)
			doc = ssi_products_scan(body, blen, rel, 0, &e);
	}
	free(file);
	free(data);
	free(body);
	return doc;
}

/* 1 when REL.json and REL.sjson (REL without extension) hold the same
 * document, 0 when they differ or one cannot be read as JSON. */
static int same_views(const char *root, const char *base)
{
	size_t n = strlen(base);
	char *pj = malloc(n + 6), *ps = malloc(n + 7);
	int same = 0;
	if (pj && ps) {
		memcpy(pj, base, n);
		memcpy(pj + n, ".json", 6);
		memcpy(ps, base, n);
		memcpy(ps + n, ".sjson", 7);
		struct ss_products *a = load(root, pj, 0), *b = load(root, ps, 1);
		/* the levels above the items (an index whole), then the items */
		json_t *na = a ? normalised(a->root) : NULL, *nb = b ? normalised(b->root) : NULL;
		same = na && nb && json_equal(na, nb) && ssi_items_same(a, b, ssi_item_object);
		ss_products_free(a);
		ss_products_free(b);
		json_decref(na);
		json_decref(nb);
	}
	free(pj);
	free(ps);
	return same;
}

int ssi_views_compare(const char *root, void (*differ)(void *ud, const char *rel), void *ud)
{
	char *dir = ss_join(root, "streams/v1");
	DIR *d = dir ? opendir(dir) : NULL;
	free(dir);
	if (!d)
		return 0;
	int n = 0;
	for (struct dirent *de; (de = readdir(d));) {
		size_t len = strlen(de->d_name);
		if (len <= 6 || strcmp(de->d_name + len - 6, ".sjson") != 0)
			continue;
		char base[512];
		if (snprintf(base, sizeof(base), "streams/v1/%.*s", (int)(len - 6), de->d_name) >= (int)sizeof(base))
			continue;
		char rel[520];
		snprintf(rel, sizeof(rel), "%s.json", base);
		char *plain = ss_join(root, rel);
		int has_plain = plain && access(plain, F_OK) == 0;
		free(plain);
		if (!has_plain)
			continue; /* a signed-only document: nothing to disagree with */
		if (!same_views(root, base)) {
			n++;
			if (differ) {
				snprintf(rel, sizeof(rel), "%s.sjson", base);
				differ(ud, rel);
			}
		}
	}
	closedir(d);
	return n;
}
