/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The products:1.0 model: the flattened view of items (FORMAT.md section
 * 3: inheritance of scalars, _aliases), deterministic writing and
 * condensing.  Reading is model_scan.c's, the items' records model_rec.c's.
 * Flattening is a view, not a copy: an item points to its version (and so
 * its product) and a lookup walks its record, then the levels above.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

const char *ss_products_content_id(const struct ss_products *p)
{
	return p->content_id;
}

const char *ss_products_path(const struct ss_products *p)
{
	return p->relpath;
}

size_t ss_products_count(const struct ss_products *p)
{
	return p->nitems;
}

const struct ss_item *ss_products_item(const struct ss_products *p, size_t i)
{
	return i < p->nitems ? &p->items[i] : NULL;
}

const char *ss_item_content_id(const struct ss_item *it) { return it->v->p->content_id; }
const char *ss_item_product(const struct ss_item *it) { return it->v->pname; }
const char *ss_item_version(const struct ss_item *it) { return it->v->vname; }
const char *ss_item_name(const struct ss_item *it) { return it->rec; }
const struct ss_products *ss_item_products(const struct ss_item *it) { return it->v->p; }

static int is_scalar(const json_t *v)
{
	return json_is_string(v) || json_is_number(v) || json_is_boolean(v) || json_is_null(v);
}

/*
 * A value found for a key: in the item's record (F.type set) or in a JSON
 * level above it, or in an alias table (J).
 */
struct val {
	struct ssi_recf f;
	json_t *j;
};

/* The string value of AKEY at level I of IT (0: the item itself). */
static const char *level_str(const struct ss_item *it, int i, const char *akey)
{
	struct ssi_recf f;
	if (i == 0)
		return ssi_rec_find(it->rec, akey, &f) && f.type == 's' ? f.val : NULL;
	json_t *levels[4] = { NULL, it->v->ver, it->v->prod, it->v->p->root };
	return json_string_value(json_object_get(levels[i], akey));
}

/* KEY as contributed by _aliases to level I of IT, or NULL. */
static json_t *alias_get(const struct ss_item *it, int i, const char *key)
{
	const struct ss_products *p = it->v->p;
	if (!p->aliases)
		return NULL;
	const char *akey;
	json_t *table, *found = NULL;
	/* When several tables supply KEY the last one wins, as in item_flatten. */
	json_object_foreach(p->aliases, akey, table) {
		const char *v = level_str(it, i, akey);
		if (!v)
			continue;
		json_t *hit = json_object_get(json_object_get(table, v), key);
		if (hit)
			found = hit;
	}
	return found;
}

/* The flattened value of KEY into *OUT; 0 when there is none. */
static int item_lookup(const struct ss_item *it, const char *key, struct val *out)
{
	json_t *levels[4] = { NULL, it->v->ver, it->v->prod, it->v->p->root };
	*out = (struct val){ 0 };
	for (int i = 0; i < 4; i++) {
		if (i == 0 && ssi_rec_find(it->rec, key, &out->f))
			return 1;
		json_t *v = i ? json_object_get(levels[i], key) : NULL;
		if (!v)
			v = alias_get(it, i, key);
		/* Below the item itself only scalars are inherited. */
		if (v && (i == 0 || is_scalar(v))) {
			out->f.type = 0;
			out->j = v;
			return 1;
		}
	}
	return 0;
}

static const char *val_string(const struct val *v)
{
	return v->f.type ? (v->f.type == 's' ? v->f.val : NULL) : json_string_value(v->j);
}

/* item_lookup of each of the N (at most 16) KEYS of IT into OUT (FOUND:
 * a bit for each found), each level's fields read once. */
static unsigned item_lookup_many(const struct ss_item *it, const char *const *keys, size_t n, struct val *out)
{
	json_t *levels[4] = { NULL, it->v->ver, it->v->prod, it->v->p->root }, *v;
	unsigned left = (1u << n) - 1, seen;
	const char *key;
	struct ssi_recf f = { 0 };
	const char *pos = it->rec;
	for (size_t k = 0; k < n; k++)
		out[k] = (struct val){ 0 };
	/* the item's own fields first, read once */
	seen = 0;
	while (ssi_rec_next(&pos, &f))
		for (size_t k = 0; k < n; k++)
			if ((left >> k & 1) && f.key[0] == keys[k][0] && strcmp(f.key, keys[k]) == 0) {
				seen |= 1u << k;
				out[k].f = f;
				left &= ~(1u << k);
				break;
			}
	/* then as item_lookup, a level at a time, each level's fields read once */
	for (int i = 0; i < 4 && left; i++) {
		if (i > 0) {
			seen = 0;
			json_object_foreach(levels[i], key, v)
				for (size_t k = 0; k < n; k++)
					if ((left >> k & 1) && key[0] == keys[k][0] && strcmp(key, keys[k]) == 0) {
						seen |= 1u << k;
						if (is_scalar(v))
							out[k].j = v, left &= ~(1u << k);
						break;
					}
		}
		for (size_t k = 0; it->v->p->aliases && k < n; k++)
			if ((left >> k & 1) && !(seen >> k & 1) && (v = alias_get(it, i, keys[k])) &&
			    (i == 0 || is_scalar(v)))
				out[k].j = v, left &= ~(1u << k);
	}
	return ~left & ((1u << n) - 1);
}

void ssi_item_strs(const struct ss_item *it, const char *const *keys, size_t n, const char **out)
{
	struct val v[16];
	unsigned found = item_lookup_many(it, keys, n, v);
	for (size_t k = 0; k < n; k++)
		out[k] = found >> k & 1 ? val_string(&v[k]) : NULL;
}

/* The synthetic name fields: they win over stored fields of the same name. */
static const char *name_field(const struct ss_item *it, const char *key)
{
	/* by the first letter: this is asked before every field lookup */
	switch (key[0]) {
	case 'i': return strcmp(key, "item_name") == 0 ? it->rec : NULL;
	case 'v': return strcmp(key, "version_name") == 0 ? it->v->vname : NULL;
	case 'p': return strcmp(key, "product_name") == 0 ? it->v->pname : NULL;
	case 'c': return strcmp(key, "content_id") == 0 ? it->v->p->content_id : NULL;
	default: return NULL;
	}
}

/* Python's repr() of a float: the shortest form that reads back the same. */
static void format_real(double d, char *buf, size_t bufsz)
{
	if (isnan(d)) {
		snprintf(buf, bufsz, "nan");
		return;
	}
	if (isinf(d)) {
		snprintf(buf, bufsz, d < 0 ? "-inf" : "inf");
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, bufsz, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (!strpbrk(buf, ".e"))
		strncat(buf, ".0", bufsz - strlen(buf) - 1);
}

static const char *value_str(json_t *v, char *buf, size_t bufsz)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		return json_string_value(v);
	case JSON_INTEGER:
		snprintf(buf, bufsz, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	case JSON_REAL:
		format_real(json_real_value(v), buf, bufsz);
		return buf;
	case JSON_TRUE:
		return "True";
	case JSON_FALSE:
		return "False";
	case JSON_NULL:
		return "None";
	default: {
		char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
		snprintf(buf, bufsz, "%s", s ? s : "");
		free(s);
		return buf;
	}
	}
}

/* A record's field as the upstream tools print it (see value_str). */
static const char *field_str(const struct ssi_recf *f, char *buf, size_t bufsz)
{
	switch (f->type) {
	case 'r':
		format_real(strtod(f->val, NULL), buf, bufsz);
		return buf;
	case 't': return "True";
	case 'f': return "False";
	case 'n': return "None";
	case 'j':
		snprintf(buf, bufsz, "%s", f->val);
		return buf;
	default: return f->val; /* strings, and integers as jansson prints them */
	}
}

const char *ss_item_get(const struct ss_item *it, const char *key, char *buf, size_t bufsz)
{
	const char *name = name_field(it, key);
	if (name)
		return name;
	struct val v;
	if (!item_lookup(it, key, &v))
		return NULL;
	return v.f.type ? field_str(&v.f, buf, bufsz) : value_str(v.j, buf, bufsz);
}

const char *ss_item_str(const struct ss_item *it, const char *key)
{
	const char *name = name_field(it, key);
	struct val v;
	return name ? name : item_lookup(it, key, &v) ? val_string(&v) : NULL;
}

/* A value found as an integer: ss_item_get_int's. */
static long long val_int(const struct val *v)
{
	if (v->f.type == 'i' || json_is_integer(v->j))
		return v->f.type ? strtoll(v->f.val, NULL, 10) : json_integer_value(v->j);
	const char *s = val_string(v);
	if (s) {
		/* Some streams write sizes as strings. */
		char *end;
		long long n = strtoll(s, &end, 10);
		if (*s && !*end && n >= 0)
			return n;
	}
	return -1;
}

long long ss_item_get_int(const struct ss_item *it, const char *key)
{
	struct val v;
	return item_lookup(it, key, &v) ? val_int(&v) : -1;
}

void ssi_item_gets(const struct ss_item *it, const char *const *keys, size_t n, char (*buf)[SSI_ITEM_BUF],
		   struct ssi_itemval *out)
{
	struct val v[16];
	unsigned found = item_lookup_many(it, keys, n, v);
	for (size_t k = 0; k < n; k++) {
		const char *name = name_field(it, keys[k]);
		if (name)
			out[k] = (struct ssi_itemval){ name, name, -1 };
		else if (!(found >> k & 1))
			out[k] = (struct ssi_itemval){ NULL, NULL, -1 };
		else
			out[k] = (struct ssi_itemval){ v[k].f.type ? field_str(&v[k].f, buf[k], SSI_ITEM_BUF)
								  : value_str(v[k].j, buf[k], SSI_ITEM_BUF),
						       val_string(&v[k]), val_int(&v[k]) };
	}
}

/* Adds OBJ's fields (only scalars unless ALL) to OUT, after its alias fields. */
static void merge_level(json_t *out, const struct ss_products *p, json_t *obj, int all)
{
	const char *k;
	json_t *v;
	if (p->aliases) {
		const char *akey;
		json_t *table;
		json_object_foreach(p->aliases, akey, table) {
			const char *val = json_string_value(json_object_get(obj, akey));
			json_t *fields = val ? json_object_get(table, val) : NULL;
			json_object_foreach(fields, k, v)
				if (all || is_scalar(v))
					json_object_set(out, k, v);
		}
	}
	json_object_foreach(obj, k, v)
		if (all || is_scalar(v))
			json_object_set(out, k, v);
}

/* The flattened item as a new JSON object. */
static json_t *item_flatten(const struct ss_item *it)
{
	json_t *o = json_object(), *own = ssi_item_object(it);
	const struct ss_products *p = it->v->p;
	if (!o || !own) {
		json_decref(o);
		json_decref(own);
		return NULL;
	}
	merge_level(o, p, p->root, 0);
	merge_level(o, p, it->v->prod, 0);
	merge_level(o, p, it->v->ver, 0);
	merge_level(o, p, own, 1);
	json_decref(own);
	/* The synthetic name fields win over stored fields of the same name,
	 * as in ss_item_get. */
	json_object_set_new(o, "content_id", json_string(p->content_id));
	json_object_set_new(o, "product_name", json_string(it->v->pname));
	json_object_set_new(o, "version_name", json_string(it->v->vname));
	json_object_set_new(o, "item_name", json_string(it->rec));
	return o;
}

char *ss_item_json(const struct ss_item *it, const char *const *extra)
{
	json_t *o = item_flatten(it);
	if (!o)
		return NULL;
	for (; extra && extra[0] && extra[1]; extra += 2)
		json_object_set_new(o, extra[0], json_string(extra[1]));
	char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return s;
}

int ss_products_check_paths(const struct ss_products *p, struct ss_error *err)
{
	for (size_t i = 0; i < p->nitems; i++) {
		const struct ss_item *it = &p->items[i];
		struct val v;
		if (!item_lookup(it, "path", &v))
			continue;
		const char *path = val_string(&v);
		if (!path)
			return ssi_err(err, SS_FATAL, "invalid products '%s': item '%s/%s/%s': path is not a string",
				       p->name, it->v->pname, it->v->vname, it->rec);
		struct ss_error e;
		ss_error_clear(&e);
		if (ss_path_check(path, &e) != SS_OK)
			return ssi_err(err, SS_FATAL, "invalid products '%s': item '%s/%s/%s': %s", p->name,
				       it->v->pname, it->v->vname, it->rec, e.msg);
	}
	return SS_OK;
}

/* ---- Writing ------------------------------------------------------------ */

/* Fields that identify a file: they always stay on the item. */
static int pinned_key(const char *k)
{
	static const char *const pinned[] = { "path", "size", "sha256", "md5", "sha512", "items",
					      "versions", NULL };
	for (int i = 0; pinned[i]; i++)
		if (strcmp(k, pinned[i]) == 0)
			return 1;
	return 0;
}

/* The keys of ALIASES and the fields its tables supply, as the keys of a
 * new object (computed once: a hostile document can have many of both). */
static json_t *alias_related(json_t *aliases)
{
	json_t *set = json_object();
	const char *ak, *vk, *fk;
	json_t *table, *fields, *v;
	json_object_foreach(aliases, ak, table) {
		json_object_set_new(set, ak, json_true());
		json_object_foreach(table, vk, fields)
			json_object_foreach(fields, fk, v)
				json_object_set_new(set, fk, json_true());
	}
	return set;
}

/*
 * Moves every string field that all children of PARENT[CHILDKEY] share, with
 * the same value, up into PARENT, as long as the flattened items stay the
 * same.  A key of _aliases stays where it is: the fields its table supplies
 * would then come from the parent, where lists and objects are not
 * inherited and the parent's own fields win over them.  So does a field
 * some alias table supplies: on the child, its own value wins over the
 * table's, which would no longer be the case on the parent.
 */
static void condense_level(json_t *parent, const char *childkey, json_t *related)
{
	json_t *children = json_object_get(parent, childkey);
	if (!json_is_object(children) || json_object_size(children) == 0)
		return;
	json_t *first = json_object_iter_value(json_object_iter(children));
	json_t *child, *v;
	const char *k;
	json_t *moved = json_object();
	json_object_foreach(first, k, v) {
		if (!json_is_string(v) || pinned_key(k) || json_object_get(related, k))
			continue;
		int shared = 1;
		const char *cn;
		json_object_foreach(children, cn, child) {
			if (!json_equal(json_object_get(child, k), v)) {
				shared = 0;
				break;
			}
		}
		if (shared)
			json_object_set(moved, k, v);
	}
	json_object_foreach(moved, k, v) {
		const char *cn;
		json_object_foreach(children, cn, child)
			json_object_del(child, k);
		json_object_set(parent, k, v);
	}
	json_decref(moved);
}

static void condense(json_t *root)
{
	const char *pn, *vn;
	json_t *prod, *ver;
	json_t *related = alias_related(json_object_get(root, "_aliases"));
	if (!related)
		return; /* out of memory: expanded is still right */
	json_object_foreach(json_object_get(root, "products"), pn, prod) {
		json_object_foreach(json_object_get(prod, "versions"), vn, ver)
			condense_level(ver, "items", related);
		condense_level(prod, "versions", related);
	}
	json_decref(related);
}

char *ssi_json_dump(json_t *root, size_t *len)
{
	char *s = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (!s)
		return NULL;
	size_t n = strlen(s);
	char *out = realloc(s, n + 2);
	if (!out) {
		free(s);
		return NULL;
	}
	out[n] = '\n';
	out[n + 1] = '\0';
	if (len)
		*len = n + 1;
	return out;
}

/* The whole document as one new JSON tree, its items in place. */
static json_t *products_json(const struct ss_products *p)
{
	json_t *root = json_deep_copy(p->root), *items = NULL;
	const struct ssi_ver *cur = NULL;
	for (size_t i = 0; root && i < p->nitems; i++) {
		const struct ss_item *it = &p->items[i];
		if (it->v != cur) {
			json_t *prod = json_object_get(json_object_get(root, "products"), it->v->pname);
			items = json_object_get(json_object_get(json_object_get(prod, "versions"), it->v->vname), "items");
			cur = it->v;
		}
		json_t *o = ssi_item_object(it);
		if (!o || json_object_set_new(items, it->rec, o)) {
			json_decref(root);
			return NULL;
		}
	}
	return root;
}

char *ss_products_dump(const struct ss_products *p, int flags, size_t *len)
{
	json_t *root = products_json(p);
	if (!root)
		return NULL;
	if (flags & SS_WRITE_CONDENSE)
		condense(root);
	char *out = ssi_json_dump(root, len);
	json_decref(root);
	return out;
}

int ssi_item_cmp_place(const struct ss_item *x, const struct ss_item *y)
{
	int c = strcmp(x->v->pname, y->v->pname);
	if (!c)
		c = strcmp(x->v->vname, y->v->vname);
	return c ? c : strcmp(x->rec, y->rec);
}

static int cmp_place(const void *a, const void *b)
{
	return ssi_item_cmp_place(*(const struct ss_item *const *)a, *(const struct ss_item *const *)b);
}

/* P's items sorted by place (malloc'd), or NULL. */
static const struct ss_item **by_place(const struct ss_products *p)
{
	const struct ss_item **v = malloc((p->nitems ? p->nitems : 1) * sizeof(*v));
	for (size_t i = 0; v && i < p->nitems; i++)
		v[i] = &p->items[i];
	if (v)
		qsort(v, p->nitems, sizeof(*v), cmp_place);
	return v;
}

int ssi_items_same(const struct ss_products *a, const struct ss_products *b,
		   json_t *(*view)(const struct ss_item *it))
{
	if (a->nitems != b->nitems)
		return 0;
	const struct ss_item **sa = by_place(a), **sb = by_place(b);
	int eq = sa && sb;
	for (size_t i = 0; eq && i < a->nitems; i++) {
		if (cmp_place(&sa[i], &sb[i]) != 0) {
			eq = 0;
			break;
		}
		json_t *fa = view(sa[i]), *fb = view(sb[i]);
		eq = fa && fb && json_equal(fa, fb);
		json_decref(fa);
		json_decref(fb);
	}
	free(sa);
	free(sb);
	return eq;
}

int ss_products_same(const struct ss_products *a, const struct ss_products *b)
{
	return strcmp(a->content_id, b->content_id) == 0 && ssi_items_same(a, b, item_flatten);
}

int ss_products_check_index(const struct ss_products *p, struct ss_error *err)
{
	json_t *listed = json_object_get(p->entry, "products");
	json_t *products = json_object_get(p->root, "products");
	if (!p->entry)
		return SS_OK;
	if (!json_is_array(listed))
		return ssi_err(err, SS_INTEGRITY, "index entry '%s' has no products list", p->content_id);
	/* the key is the content id: two entries whose files share one would
	 * be one content id to every reader, and one would be lost */
	if (p->index_key && strcmp(p->index_key, p->content_id) != 0)
		return ssi_err(err, SS_INTEGRITY, "index entry '%s' names '%s', whose content_id is '%s'", p->index_key,
			       p->relpath ? p->relpath : p->name, p->content_id);
	size_t i;
	json_t *v;
	json_array_foreach(listed, i, v) {
		const char *name = json_string_value(v);
		if (!name || !json_object_get(products, name))
			return ssi_err(err, SS_INTEGRITY, "the index lists product '%s' that '%s' lacks",
				       name ? name : "?", p->name);
	}
	/* The listed names as a set: a list and a document of many products
	 * must not cost their product. */
	json_t *set = json_object();
	if (!set)
		return ssi_err(err, SS_FATAL, "out of memory");
	json_array_foreach(listed, i, v)
		json_object_set(set, json_string_value(v), v);
	const char *pn;
	json_t *prod;
	int rc = SS_OK;
	json_object_foreach(products, pn, prod) {
		if (!json_object_get(set, pn)) {
			rc = ssi_err(err, SS_INTEGRITY, "product '%s' of '%s' is not in the index", pn, p->name);
			break;
		}
	}
	json_decref(set);
	return rc;
}
