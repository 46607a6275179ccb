/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The products:1.0 model: parsing, the flattened view of items (FORMAT.md
 * section 3: inheritance of scalars, _aliases), deterministic writing and
 * condensing.  Flattening is a view, not a copy: an item keeps pointers to
 * its product, version and item objects and a lookup walks the levels, so
 * loading a 5000-item stream costs little more than parsing it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

json_t *ssi_json_parse(const char *data, size_t len, const char *name, struct ss_error *err)
{
	char *body = NULL;
	if (ss_is_clearsigned(data, len)) {
		size_t blen;
		struct ss_error e;
		ss_error_clear(&e);
		if (ss_clearsign_body(data, len, &body, &blen, &e) != SS_OK) {
			ssi_err(err, SS_FATAL, "cannot parse '%s': %s", name, e.msg);
			return NULL;
		}
		data = body;
		len = blen;
	}
	json_error_t je;
	json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	free(body);
	if (!root) {
		ssi_err(err, SS_FATAL, "cannot parse '%s': line %d column %d: %s", name, je.line,
			je.column, je.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		ssi_err(err, SS_FATAL, "cannot parse '%s': not a JSON object", name);
		return NULL;
	}
	return root;
}

void ss_products_free(struct ss_products *p)
{
	if (!p)
		return;
	json_decref(p->root);
	free(p->name);
	free(p->content_id);
	free(p->relpath);
	json_decref(p->entry);
	free(p->index_key);
	free(p->items);
	free(p);
}

/* Counts the items, checking the shape on the way; fills ITEMS when not NULL. */
static int walk_items(struct ss_products *p, struct ss_item *items, size_t *count,
		      struct ss_error *err)
{
	json_t *products = json_object_get(p->root, "products");
	const char *pname, *vname, *iname;
	json_t *prod, *ver, *item;
	size_t n = 0;
	json_object_foreach(products, pname, prod) {
		if (!json_is_object(prod))
			return ssi_err(err, SS_FATAL, "invalid products '%s': product '%s' is not an object",
				       p->name, pname);
		json_t *versions = json_object_get(prod, "versions");
		if (!versions)
			continue;
		if (!json_is_object(versions))
			return ssi_err(err, SS_FATAL,
				       "invalid products '%s': product '%s': versions is not an object",
				       p->name, pname);
		json_object_foreach(versions, vname, ver) {
			if (!json_is_object(ver))
				return ssi_err(err, SS_FATAL,
					       "invalid products '%s': version '%s/%s' is not an object",
					       p->name, pname, vname);
			json_t *its = json_object_get(ver, "items");
			if (!its)
				continue;
			if (!json_is_object(its))
				return ssi_err(err, SS_FATAL,
					       "invalid products '%s': version '%s/%s': items is not an object",
					       p->name, pname, vname);
			json_object_foreach(its, iname, item) {
				if (!json_is_object(item))
					return ssi_err(err, SS_FATAL,
						       "invalid products '%s': item '%s/%s/%s' is not an object",
						       p->name, pname, vname, iname);
				if (items)
					items[n] = (struct ss_item){ p, prod, ver, item, pname, vname, iname };
				n++;
			}
		}
	}
	*count = n;
	return SS_OK;
}

struct ss_products *ssi_products_from_json(json_t *root, const char *name,
					   const char *default_content_id,
					   struct ss_error *err)
{
	struct ss_products *p = calloc(1, sizeof(*p));
	if (!p) {
		json_decref(root);
		ssi_err(err, SS_FATAL, "cannot load '%s': out of memory", name);
		return NULL;
	}
	p->root = root;
	p->name = strdup(name);
	const char *format = json_string_value(json_object_get(root, "format"));
	if (!format || strcmp(format, "products:1.0") != 0) {
		ssi_err(err, SS_FATAL, "invalid products '%s': format is not \"products:1.0\"", name);
		goto fail;
	}
	json_t *products = json_object_get(root, "products");
	if (!json_is_object(products)) {
		ssi_err(err, SS_FATAL, "invalid products '%s': no \"products\" object", name);
		goto fail;
	}
	const char *cid = json_string_value(json_object_get(root, "content_id"));
	if (!cid)
		cid = default_content_id ? default_content_id : "";
	p->content_id = strdup(cid);
	json_t *aliases = json_object_get(root, "_aliases");
	p->aliases = json_is_object(aliases) ? aliases : NULL;
	size_t n;
	if (walk_items(p, NULL, &n, err) != SS_OK)
		goto fail;
	p->items = calloc(n ? n : 1, sizeof(*p->items));
	if (!p->items || !p->name || !p->content_id) {
		ssi_err(err, SS_FATAL, "cannot load '%s': out of memory", name);
		goto fail;
	}
	walk_items(p, p->items, &p->nitems, err);
	return p;
fail:
	ss_products_free(p);
	return NULL;
}

struct ss_products *ss_products_parse(const char *data, size_t len, const char *name,
				      const char *default_content_id, struct ss_error *err)
{
	json_t *root = ssi_json_parse(data, len, name, err);
	if (!root)
		return NULL;
	return ssi_products_from_json(root, name, default_content_id, err);
}

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

const char *ss_item_content_id(const struct ss_item *it) { return it->p->content_id; }
const char *ss_item_product(const struct ss_item *it) { return it->pname; }
const char *ss_item_version(const struct ss_item *it) { return it->vname; }
const char *ss_item_name(const struct ss_item *it) { return it->iname; }
const struct ss_products *ss_item_products(const struct ss_item *it) { return it->p; }

static int is_scalar(const json_t *v)
{
	return json_is_string(v) || json_is_number(v) || json_is_boolean(v) || json_is_null(v);
}

/* KEY as contributed by _aliases to OBJ, or NULL. */
static json_t *alias_get(const struct ss_products *p, json_t *obj, const char *key)
{
	if (!p->aliases)
		return NULL;
	const char *akey;
	json_t *table, *found = NULL;
	/* When several tables supply KEY the last one wins, as in item_flatten. */
	json_object_foreach(p->aliases, akey, table) {
		const char *v = json_string_value(json_object_get(obj, akey));
		if (!v)
			continue;
		json_t *hit = json_object_get(json_object_get(table, v), key);
		if (hit)
			found = hit;
	}
	return found;
}

/* The flattened value of KEY (borrowed), or NULL. */
static json_t *item_lookup(const struct ss_item *it, const char *key)
{
	json_t *levels[4] = { it->item, it->ver, it->prod, it->p->root };
	for (int i = 0; i < 4; i++) {
		json_t *v = json_object_get(levels[i], key);
		if (!v)
			v = alias_get(it->p, levels[i], key);
		/* Below the item itself only scalars are inherited. */
		if (v && (i == 0 || is_scalar(v)))
			return v;
	}
	return NULL;
}

void ssi_item_strs(const struct ss_item *it, const char *const *keys, size_t n, const char **out)
{
	json_t *levels[4] = { it->item, it->ver, it->prod, it->p->root }, *v;
	unsigned left = (1u << n) - 1, seen;
	const char *key;
	for (size_t k = 0; k < n; k++)
		out[k] = NULL;
	/* as item_lookup, a level at a time, each level's fields read once */
	for (int i = 0; i < 4 && left; i++) {
		seen = 0;
		json_object_foreach(levels[i], key, v)
			for (size_t k = 0; k < n; k++)
				if ((left >> k & 1) && key[0] == keys[k][0] && strcmp(key, keys[k]) == 0) {
					seen |= 1u << k;
					if (i == 0 || is_scalar(v))
						out[k] = json_string_value(v), left &= ~(1u << k);
					break;
				}
		for (size_t k = 0; it->p->aliases && k < n; k++)
			if ((left >> k & 1) && !(seen >> k & 1) && (v = alias_get(it->p, levels[i], keys[k])) &&
			    (i == 0 || is_scalar(v)))
				out[k] = json_string_value(v), left &= ~(1u << k);
	}
}

/* The synthetic name fields: they win over stored fields of the same name. */
static const char *name_field(const struct ss_item *it, const char *key)
{
	/* by the first letter: this is asked before every field lookup */
	switch (key[0]) {
	case 'i': return strcmp(key, "item_name") == 0 ? it->iname : NULL;
	case 'v': return strcmp(key, "version_name") == 0 ? it->vname : NULL;
	case 'p': return strcmp(key, "product_name") == 0 ? it->pname : NULL;
	case 'c': return strcmp(key, "content_id") == 0 ? it->p->content_id : NULL;
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

const char *ss_item_get(const struct ss_item *it, const char *key, char *buf, size_t bufsz)
{
	const char *name = name_field(it, key);
	if (name)
		return name;
	json_t *v = item_lookup(it, key);
	return v ? value_str(v, buf, bufsz) : NULL;
}

const char *ss_item_str(const struct ss_item *it, const char *key)
{
	const char *name = name_field(it, key);
	return name ? name : json_string_value(item_lookup(it, key));
}

long long ss_item_get_int(const struct ss_item *it, const char *key)
{
	json_t *v = item_lookup(it, key);
	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_string(v)) {
		/* Some streams write sizes as strings. */
		char *end;
		const char *s = json_string_value(v);
		long long n = strtoll(s, &end, 10);
		if (*s && !*end && n >= 0)
			return n;
	}
	return -1;
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
	json_t *o = json_object();
	if (!o)
		return NULL;
	merge_level(o, it->p, it->p->root, 0);
	merge_level(o, it->p, it->prod, 0);
	merge_level(o, it->p, it->ver, 0);
	merge_level(o, it->p, it->item, 1);
	/* The synthetic name fields win over stored fields of the same name,
	 * as in ss_item_get. */
	json_object_set_new(o, "content_id", json_string(it->p->content_id));
	json_object_set_new(o, "product_name", json_string(it->pname));
	json_object_set_new(o, "version_name", json_string(it->vname));
	json_object_set_new(o, "item_name", json_string(it->iname));
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
		json_t *path = item_lookup(it, "path");
		if (!path)
			continue;
		if (!json_is_string(path))
			return ssi_err(err, SS_FATAL, "invalid products '%s': item '%s/%s/%s': path is not a string",
				       p->name, it->pname, it->vname, it->iname);
		struct ss_error e;
		ss_error_clear(&e);
		if (ss_path_check(json_string_value(path), &e) != SS_OK)
			return ssi_err(err, SS_FATAL, "invalid products '%s': item '%s/%s/%s': %s", p->name,
				       it->pname, it->vname, it->iname, e.msg);
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

char *ss_products_dump(const struct ss_products *p, int flags, size_t *len)
{
	if (!(flags & SS_WRITE_CONDENSE))
		return ssi_json_dump(p->root, len);
	json_t *root = json_deep_copy(p->root);
	if (!root)
		return NULL;
	condense(root);
	char *out = ssi_json_dump(root, len);
	json_decref(root);
	return out;
}

int ss_products_same(const struct ss_products *a, const struct ss_products *b)
{
	if (a->nitems != b->nitems || strcmp(a->content_id, b->content_id) != 0)
		return 0;
	for (size_t i = 0; i < a->nitems; i++) {
		const struct ss_item *ia = &a->items[i];
		const struct ss_item *ib = NULL;
		json_t *prod = json_object_get(json_object_get(b->root, "products"), ia->pname);
		json_t *ver = json_object_get(json_object_get(prod, "versions"), ia->vname);
		json_t *item = json_object_get(json_object_get(ver, "items"), ia->iname);
		for (size_t j = 0; item && !ib && j < b->nitems; j++)
			if (b->items[(i + j) % b->nitems].item == item)
				ib = &b->items[(i + j) % b->nitems];
		if (!ib)
			return 0;
		json_t *fa = item_flatten(ia), *fb = item_flatten(ib);
		int eq = fa && fb && json_equal(fa, fb);
		json_decref(fa);
		json_decref(fb);
		if (!eq)
			return 0;
	}
	return 1;
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
