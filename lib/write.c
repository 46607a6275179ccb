/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing trees: products documents holding a chosen subset of items, and
 * the index that lists them.  Output is deterministic (sorted keys, fixed
 * indentation), so an unchanged selection gives byte-identical files.
 */
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

/* An item chosen, and when: the first of two with one place wins. */
struct chosen {
	const struct ss_item *it;
	size_t seq;
};

struct ss_subset {
	const struct ss_products *base;
	json_t *root;            /* base's fields but its products */
	struct chosen *c;
	size_t n, alloc, added;
	int sorted;
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
	free(s->c);
	free(s);
}

static int cmp_chosen(const void *a, const void *b)
{
	const struct chosen *x = a, *y = b;
	int c = ssi_item_cmp_place(x->it, y->it);
	return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* Sorts by place and drops the later of two items at one place. */
static void settle(struct ss_subset *s)
{
	if (s->sorted)
		return;
	if (s->n)
		qsort(s->c, s->n, sizeof(*s->c), cmp_chosen);
	size_t w = 0;
	for (size_t i = 0; i < s->n; i++)
		if (!w || ssi_item_cmp_place(s->c[w - 1].it, s->c[i].it) != 0)
			s->c[w++] = s->c[i];
	s->n = w;
	s->sorted = 1;
}

int ss_subset_add(struct ss_subset *s, const struct ss_item *it)
{
	if (s->n == s->alloc) {
		size_t na = s->alloc ? 2 * s->alloc : 64;
		struct chosen *nc = realloc(s->c, na * sizeof(*nc));
		if (!nc)
			return SS_FATAL;
		s->c = nc;
		s->alloc = na;
	}
	s->c[s->n++] = (struct chosen){ it, s->added++ };
	s->sorted = 0;
	return SS_OK;
}

size_t ss_subset_count(const struct ss_subset *s)
{
	settle((struct ss_subset *)s);
	return s->n;
}

const struct ss_item *ssi_subset_item(const struct ss_subset *s, size_t i)
{
	settle((struct ss_subset *)s);
	return s->c[i].it;
}

/* ---- Writing a subset as jansson would write it whole ---- */

struct out {
	char *d;
	size_t n, cap;
	int oom;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->oom)
		return;
	if (o->n + n + 1 > o->cap) {
		size_t nc = o->cap ? o->cap : 4096;
		while (nc < o->n + n + 1)
			nc *= 2;
		char *nd = realloc(o->d, nc);
		if (!nd) {
			o->oom = 1;
			return;
		}
		o->d = nd;
		o->cap = nc;
	}
	memcpy(o->d + o->n, s, n);
	o->n += n;
}

static void indent(struct out *o, int depth)
{
	static const char spaces[] = "                ";
	for (; depth > 0; depth -= 16)
		put(o, spaces, depth < 16 ? (size_t)depth : 16);
}

/* V as jansson writes it (JSON_INDENT(1), sorted keys) at DEPTH; steals V. */
static void put_json(struct out *o, json_t *v, int depth)
{
	char *t = v ? json_dumps(v, JSON_INDENT(1) | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
	json_decref(v);
	if (!t) {
		o->oom = 1;
		return;
	}
	/* a string's newlines are escaped: every newline is jansson's */
	for (char *a = t, *nl;; a = nl + 1) {
		nl = strchr(a, '\n');
		put(o, a, nl ? (size_t)(nl - a + 1) : strlen(a));
		if (!nl)
			break;
		indent(o, depth);
	}
	free(t);
}

static void put_groups(struct out *o, const struct chosen *c, size_t a, size_t b, int level, int depth);

/* The start of a member KEY of the object at DEPTH (FIRST: its first). */
static void put_key(struct out *o, int first, const char *key, int depth)
{
	put(o, first ? "\n" : ",\n", first ? 1 : 2);
	indent(o, depth + 1);
	put_json(o, json_string(key), 0);
	put(o, ": ", 2);
}

/* The end of the object at DEPTH (ANY: it has members). */
static void put_end(struct out *o, int any, int depth)
{
	if (any) {
		put(o, "\n", 1);
		indent(o, depth);
	}
	put(o, "}", 1);
}

/* OBJ at DEPTH, its member CHILD being the chosen items C[A..B) one level down. */
static void put_level(struct out *o, json_t *obj, const char *child, const struct chosen *c, size_t a,
		      size_t b, int level, int depth)
{
	size_t n = 0, i = 0;
	const char *k;
	json_t *v;
	const char **keys = malloc((json_object_size(obj) + 1) * sizeof(*keys));
	if (!keys) {
		o->oom = 1;
		return;
	}
	json_object_foreach(obj, k, v)
		if (strcmp(k, child) != 0)
			keys[n++] = k;
	keys[n++] = child;
	qsort(keys, n, sizeof(*keys), ssi_cmp_str);
	put(o, "{", 1);
	for (i = 0; i < n; i++) {
		put_key(o, i == 0, keys[i], depth);
		if (keys[i] == child)
			put_groups(o, c, a, b, level, depth + 1);
		else
			put_json(o, json_incref(json_object_get(obj, keys[i])), depth + 1);
	}
	put_end(o, 1, depth);
	free(keys);
}

/* The name of IT at LEVEL: 0 its product, 1 its version, 2 itself. */
static const char *place_name(const struct ss_item *it, int level)
{
	return level == 0 ? it->v->pname : level == 1 ? it->v->vname : it->rec;
}

/* C[A..B) as the members of the object at DEPTH that holds LEVEL. */
static void put_groups(struct out *o, const struct chosen *c, size_t a, size_t b, int level, int depth)
{
	put(o, "{", 1);
	for (size_t i = a, j; i < b; i = j) {
		const char *name = place_name(c[i].it, level);
		for (j = i + 1; level < 2 && j < b && strcmp(place_name(c[j].it, level), name) == 0; j++)
			;
		put_key(o, i == a, name, depth);
		if (level == 0)
			put_level(o, c[i].it->v->prod, "versions", c, i, j, 1, depth + 1);
		else if (level == 1)
			put_level(o, c[i].it->v->ver, "items", c, i, j, 2, depth + 1);
		else
			put_json(o, ssi_item_object(c[i].it), depth + 1);
	}
	put_end(o, a < b, depth);
}

char *ss_subset_dump(const struct ss_subset *s, size_t *len)
{
	struct out o = { 0 };
	settle((struct ss_subset *)s);
	put_level(&o, s->root, "products", s->c, 0, s->n, 0, 0);
	put(&o, "\n", 1);
	if (o.oom) {
		free(o.d);
		return NULL;
	}
	o.d[o.n] = '\0';
	if (len)
		*len = o.n;
	return o.d;
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
	/* the products it lists, in order (one name per run of items) */
	settle((struct ss_subset *)s);
	json_t *names = json_array();
	for (size_t i = 0; names && i < s->n; i++)
		if (!i || strcmp(s->c[i - 1].it->v->pname, s->c[i].it->v->pname) != 0)
			json_array_append_new(names, json_string(s->c[i].it->v->pname));
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
