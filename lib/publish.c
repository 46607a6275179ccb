/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Publishing LXD/Incus images as a static simplestreams tree (FORMAT.md
 * sections 7-8): what the publish operations share, the LXD products file
 * (streams/v1/images.json) and its index.  The operations are in
 * publish_add.c, publish_import.c, publish_remove.c, publish_prune.c;
 * listing in publish_list.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue_internal.h"
#include "model_internal.h"
#include "publish_internal.h"

const struct ss_publish_opts ssp_no_opts = { 0 };

const struct ss_publish_opts *ssp_begin(const struct ss_publish_opts *po, struct ss_error **err,
					struct ss_error *local)
{
	if (!*err)
		*err = local;
	ss_error_clear(*err);
	return po ? po : &ssp_no_opts;
}

int ssp_names_file(json_t *products, const char *path, const char *sha256)
{
	const char *pn, *vn, *in;
	json_t *p, *v, *it;
	json_object_foreach(json_object_get(products, "products"), pn, p)
		json_object_foreach(json_object_get(p, "versions"), vn, v)
			json_object_foreach(json_object_get(v, "items"), in, it) {
				const char *ip = json_string_value(json_object_get(it, "path"));
				const char *is = json_string_value(json_object_get(it, "sha256"));
				if (ip && strcmp(ip, path) == 0 && (!sha256 || (is && strcmp(is, sha256) == 0)))
					return 1;
			}
	return 0;
}

/* The products file readers see now: streams/v1/images.json, or the
 * alternate the index names while a change of its product list is under
 * way (a run killed then leaves it so); an empty one when there is none. */
json_t *ssp_load_products(const char *tree, struct ss_error *err)
{
	char rel[PATH_MAX];
	ssi_treedocs_visible(tree, "images", "streams/v1/images.json", rel, sizeof(rel));
	char *data, *file = ss_join(tree, rel);
	size_t len;
	struct ss_error e;
	if (!file) {
		ssi_err(err, SS_FATAL, "out of memory");
		return NULL;
	}
	json_t *root = NULL;
	if (ss_fetch(file, SS_METADATA_CAP, &data, &len, &e) != SS_OK) {
		if (e.sys_errno == ENOENT)
			root = json_pack("{s:s, s:s, s:s, s:{}}", "format", "products:1.0", "content_id", "images",
					 "datatype", "image-downloads", "products");
		else
			ssi_err(err, SS_FATAL, "%s", e.msg);
		free(file);
		return root;
	}
	root = ssi_json_parse(data, len, file, err);
	free(data);
	if (root && !json_is_object(json_object_get(root, "products"))) {
		json_decref(root);
		root = NULL;
		ssi_err(err, SS_FATAL, "invalid products '%s': no \"products\" object", file);
	}
	free(file);
	return root;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The product names of a products document, sorted: an index lists them
 * in the same order whatever order the products were added in (jansson's
 * object order is not stable across insertions). */
json_t *ssp_product_names(json_t *doc)
{
	json_t *prods = json_object_get(doc, "products"), *names = json_array(), *p;
	size_t n = json_object_size(prods), i = 0;
	const char **v = calloc(n ? n : 1, sizeof(*v)), *pn;
	if (!v || !names) {
		free(v);
		json_decref(names);
		return NULL;
	}
	json_object_foreach(prods, pn, p)
		v[i++] = pn;
	qsort(v, n, sizeof(*v), cmp_name);
	for (i = 0; i < n; i++)
		json_array_append_new(names, json_string(v[i]));
	free(v);
	return names;
}

static json_t *index_for(json_t *products)
{
	json_t *names = ssp_product_names(products);
	if (!names)
		return NULL;
	return json_pack("{s:s, s:{s:{s:s, s:s, s:s, s:o}}}", "format", "index:1.0", "index", "images",
			 "datatype", "image-downloads", "format", "products:1.0", "path",
			 "streams/v1/images.json", "products", names);
}


/* Writes images.json, then the index. */
int ssp_write_streams(const struct ss_publish_opts *po, const char *tree, json_t *products, int *changed,
		      struct ss_error *err)
{
	json_t *index = index_for(products), *docs = json_object();
	json_object_set(docs, "streams/v1/images.json", products);
	int rc = index ? SS_OK : ssi_err(err, SS_FATAL, "out of memory");
	if (rc == SS_OK && po->dry_run)
		*changed |= ssi_treedocs_differ(po->sign_key, tree, docs, index);
	else if (rc == SS_OK)
		rc = ssi_treedocs_publish(po->sign_key, tree, docs, index, changed, err);
	json_decref(docs);
	json_decref(index);
	return rc;
}

int ssp_page(const struct ss_publish_opts *po, const char *tree, json_t *products, int rc, int changed,
	     struct ss_error *err)
{
	if (!po->catalogue || po->dry_run || rc != SS_OK || !changed)
		return rc;
	struct ss_error e;
	ss_error_clear(&e);
	struct ss_products *p = ssi_products_from_json(json_incref(products), "streams/v1/images.json", "images", &e);
	size_t n = p ? ss_products_count(p) : 0;
	const struct ss_item **items = p ? malloc((n + 1) * sizeof(*items)) : NULL;
	int prc = items ? SS_OK : ssi_err(&e, SS_FATAL, "catalogue: %s", p ? "out of memory" : e.msg);
	for (size_t i = 0; items && i < n; i++)
		items[i] = ss_products_item(p, i);
	if (prc == SS_OK)
		prc = ssi_catalogue_write_items(tree, items, n, po->catalogue, NULL, &e);
	free(items);
	ss_products_free(p);
	return prc == SS_OK ? rc : ssi_err(err, SS_PARTIAL, "%s", e.msg);
}
