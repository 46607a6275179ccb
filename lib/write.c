/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing trees: products documents holding a chosen subset of items, and
 * the index that lists them.  Output is deterministic (sorted keys, fixed
 * indentation), so an unchanged selection gives byte-identical files.
 */
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

struct ss_subset {
	const struct ss_products *base;
	json_t *root;
	size_t count;
};

struct ss_subset *ss_subset_new(const struct ss_products *base)
{
	struct ss_subset *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->base = base;
	s->root = json_object();
	const char *k;
	json_t *v;
	json_object_foreach(base->root, k, v)
		if (strcmp(k, "products") != 0)
			json_object_set(s->root, k, v);
	json_object_set_new(s->root, "products", json_object());
	/* A products file read without content_id (its index named it)
	 * states it when we write it. */
	json_object_set_new(s->root, "content_id", json_string(base->content_id));
	return s;
}

void ss_subset_free(struct ss_subset *s)
{
	if (!s)
		return;
	json_decref(s->root);
	free(s);
}

size_t ss_subset_count(const struct ss_subset *s)
{
	return s->count;
}

/* PARENT[KEY], created as a copy of SRC without its CHILD member when missing. */
static json_t *level(json_t *parent, const char *key, json_t *src, const char *child)
{
	json_t *o = json_object_get(parent, key);
	if (o)
		return o;
	o = json_object();
	const char *k;
	json_t *v;
	json_object_foreach(src, k, v)
		if (strcmp(k, child) != 0)
			json_object_set(o, k, v);
	json_object_set_new(o, child, json_object());
	json_object_set_new(parent, key, o);
	return o;
}

int ss_subset_add(struct ss_subset *s, const struct ss_item *it)
{
	json_t *prod = level(json_object_get(s->root, "products"), it->pname, it->prod, "versions");
	json_t *ver = level(json_object_get(prod, "versions"), it->vname, it->ver, "items");
	json_t *items = json_object_get(ver, "items");
	if (json_object_get(items, it->iname))
		return SS_OK;
	if (json_object_set(items, it->iname, it->item))
		return SS_FATAL;
	s->count++;
	return SS_OK;
}

char *ss_subset_dump(const struct ss_subset *s, size_t *len)
{
	return ssi_json_dump(s->root, len);
}

struct ss_index_writer {
	json_t *root;
};

struct ss_index_writer *ss_index_new(void)
{
	struct ss_index_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->root = json_pack("{s:s, s:{}}", "format", "index:1.0", "index");
	if (!w->root) {
		free(w);
		return NULL;
	}
	return w;
}

void ss_index_free(struct ss_index_writer *w)
{
	if (!w)
		return;
	json_decref(w->root);
	free(w);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int ss_index_add(struct ss_index_writer *w, const struct ss_subset *s, const char *path)
{
	const struct ss_products *p = s->base;
	json_t *e = json_object();
	const char *k;
	json_t *v;
	json_object_foreach(p->entry, k, v)
		json_object_set(e, k, v);
	/* What the entry says about the products file comes from the file. */
	static const char *const from_doc[] = { "datatype", "updated", NULL };
	for (int i = 0; from_doc[i]; i++) {
		json_t *dv = json_object_get(p->root, from_doc[i]);
		if (json_is_string(dv))
			json_object_set(e, from_doc[i], dv);
	}
	json_object_set_new(e, "format", json_string("products:1.0"));
	json_object_set_new(e, "path", json_string(path));
	json_t *prods = json_object_get(s->root, "products");
	size_t n = json_object_size(prods), i = 0;
	const char **sorted = calloc(n ? n : 1, sizeof(*sorted));
	if (!sorted) {
		json_decref(e);
		return SS_FATAL;
	}
	const char *pn;
	json_t *prod;
	json_object_foreach(prods, pn, prod)
		sorted[i++] = pn;
	qsort(sorted, n, sizeof(*sorted), cmp_str);
	json_t *names = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(names, json_string(sorted[i]));
	free(sorted);
	json_object_set_new(e, "products", names);
	/* RFC 2822 dates do not sort as strings: the index takes the first
	 * entry's date, which is stable from run to run. */
	const char *upd = json_string_value(json_object_get(e, "updated"));
	if (upd && !json_object_get(w->root, "updated"))
		json_object_set_new(w->root, "updated", json_string(upd));
	return json_object_set_new(json_object_get(w->root, "index"), p->content_id, e) ? SS_FATAL : SS_OK;
}

char *ss_index_dump(const struct ss_index_writer *w, size_t *len)
{
	return ssi_json_dump(w->root, len);
}
