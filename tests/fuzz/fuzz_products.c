/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Products documents: parsing (plain and clearsigned), the flattened view,
 * writing and condensing.  Invariants:
 *   load -> dump -> load -> dump gives the same bytes twice;
 *   flatten(condense(d)) == flatten(d);
 *   a subset of all items, written and read back, flattens the same;
 *   every key of an item's flattened JSON reads back the same through
 *   ss_item_get (the two views of inheritance agree);
 * and, against jansson reading the whole text (the reader reads a level at
 * a time and keeps items as records):
 *   a plain text is accepted exactly when jansson parses it into a
 *   well-shaped products document;
 *   it is then written as jansson writes that tree, byte for byte, and a
 *   subset of all its items as jansson writes the same subset built from
 *   that tree;
 * and the reader's two ways with items (read as they come, or after the
 * walk in two halves at once, as for a big document), with the records
 * apart or over the text, agree: the same items, or the same message;
 * and the whole input read as one item makes the record jansson's object
 * of it makes, byte for byte, or is refused exactly when jansson refuses
 * it (the direct reader of flat items, model_rec.c).
 */
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "sstream.h"
#include "model_internal.h"

static struct ss_products *reparse(const char *text, size_t len)
{
	struct ss_error e;
	ss_error_clear(&e);
	struct ss_products *p = ss_products_parse(text, len, "fuzz-out", "fuzz:cid", &e);
	if (!p)
		fprintf(stderr, "written document does not parse: %s\n", e.msg);
	FUZZ_ASSERT(p);
	return p;
}

/* Whether every member of O (absent: yes) is an object. */
static int members_objects(json_t *o)
{
	const char *k;
	json_t *v;
	if (!o)
		return 1;
	if (!json_is_object(o))
		return 0;
	json_object_foreach(o, k, v)
		if (!json_is_object(v))
			return 0;
	return 1;
}

/* The text as jansson reads it whole, when that is a well-shaped products
 * document; else NULL. */
static json_t *whole(const char *text, size_t len)
{
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL), *prod, *ver;
	const char *format = json_string_value(json_object_get(j, "format"));
	int ok = format && strcmp(format, "products:1.0") == 0 && json_is_object(json_object_get(j, "products")) &&
		 members_objects(json_object_get(j, "products"));
	const char *k;
	json_object_foreach(json_object_get(j, "products"), k, prod) {
		ok = ok && members_objects(json_object_get(prod, "versions"));
		const char *vk;
		json_object_foreach(json_object_get(prod, "versions"), vk, ver)
			ok = ok && members_objects(json_object_get(ver, "items"));
	}
	if (!ok) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* PARENT[KEY]: a copy of SRC without its member CHILD, which is empty. */
static json_t *level(json_t *parent, const char *key, json_t *src, const char *child)
{
	json_t *o = json_object_get(parent, key), *v;
	if (o)
		return o;
	o = json_object();
	const char *k;
	json_object_foreach(src, k, v)
		if (strcmp(k, child) != 0)
			json_object_set(o, k, v);
	json_object_set_new(o, child, json_object());
	json_object_set_new(parent, key, o);
	return o;
}

/* J's every item as a subset document, built the way jansson trees are. */
static json_t *subset_of(json_t *j, const char *cid)
{
	json_t *root = json_object(), *v, *prod, *ver, *item;
	const char *k, *pn, *vn, *in;
	json_object_foreach(j, k, v)
		if (strcmp(k, "products") != 0)
			json_object_set(root, k, v);
	json_object_set_new(root, "content_id", json_string(cid));
	json_object_set_new(root, "products", json_object());
	json_object_foreach(json_object_get(j, "products"), pn, prod)
		json_object_foreach(json_object_get(prod, "versions"), vn, ver)
			json_object_foreach(json_object_get(ver, "items"), in, item) {
				json_t *pc = level(json_object_get(root, "products"), pn, prod, "versions");
				json_t *vc = level(json_object_get(pc, "versions"), vn, ver, "items");
				json_object_set(json_object_get(vc, "items"), in, item);
			}
	return root;
}

/* TEXT (LEN bytes) is what jansson writes of J, with a final newline. */
static void same_as_jansson(const char *text, size_t len, json_t *j)
{
	char *want = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
	FUZZ_ASSERT(want);
	size_t wl = strlen(want);
	if (!(len == wl + 1 && memcmp(text, want, wl) == 0 && text[wl] == '\n'))
		fprintf(stderr, "written:\n%.*s\njansson:\n%s\n", (int)len, text, want);
	FUZZ_ASSERT(len == wl + 1 && memcmp(text, want, wl) == 0 && text[wl] == '\n');
	free(want);
}

/* The two ways of reading an item agree on every key. */
static void check_views(const struct ss_item *it)
{
	char *js = ss_item_json(it, NULL);
	FUZZ_ASSERT(js);
	json_t *o = json_loads(js, JSON_DECODE_ANY, NULL);
	FUZZ_ASSERT(json_is_object(o));
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		char buf[64];
		const char *got = ss_item_get(it, k, buf, sizeof(buf));
		FUZZ_ASSERT(got);
		if (json_is_string(v)) {
			if (strcmp(got, json_string_value(v)) != 0)
				fprintf(stderr, "key '%s': ss_item_get '%s', flattened '%s'\n", k, got,
					json_string_value(v));
			FUZZ_ASSERT(strcmp(got, json_string_value(v)) == 0);
		}
	}
	ss_item_get_int(it, "size");
	ss_item_hash_kinds(it);
	char buf[16];
	ss_item_get(it, "no-such-key", buf, sizeof(buf));
	json_decref(o);
	free(js);
}

/* TEXT read with its items as they come and after the walk (with OWN, as
 * records over a copy of the text): both refuse it with one message, or
 * both read the same items and shape. */
static void same_either_way(const char *text, size_t len, int own)
{
	struct ss_error e1, e2;
	ss_error_clear(&e1);
	ss_error_clear(&e2);
	struct ss_products *a = ssi_products_scan_how(text, len, "fuzz", 0, own, &e1);
	struct ss_products *b = ssi_products_scan_how(text, len, "fuzz", 1, own, &e2);
	if (!a != !b || (!a && strcmp(e1.msg, e2.msg) != 0))
		fprintf(stderr, "as they come: %s; after the walk: %s\n", a ? "read" : e1.msg, b ? "read" : e2.msg);
	FUZZ_ASSERT(!a == !b && (a || strcmp(e1.msg, e2.msg) == 0));
	FUZZ_ASSERT(!a || (a->nitems == b->nitems && !a->bad == !b->bad && (!a->bad || !strcmp(a->bad, b->bad))));
	for (size_t i = 0; a && i < a->nitems; i++) {
		const struct ss_item *x = &a->items[i], *y = &b->items[i];
		char *jx = ss_item_json(x, NULL), *jy = ss_item_json(y, NULL);
		FUZZ_ASSERT(jx && jy && strcmp(jx, jy) == 0);
		FUZZ_ASSERT(!strcmp(ss_item_name(x), ss_item_name(y)) && !strcmp(ss_item_product(x), ss_item_product(y)) &&
			    !strcmp(ss_item_version(x), ss_item_version(y)));
		free(jx);
		free(jy);
	}
	ss_products_free(a);
	ss_products_free(b);
}

/* Record size: up to the NUL type byte that ends it. */
static size_t rec_size(const char *rec)
{
	const char *pos = rec;
	struct ssi_recf f = { 0 };
	while (ssi_rec_next(&pos, &f))
		;
	return (size_t)(pos - rec) + (f.type ? 0 : strlen(rec) + 1) + 1;
}

/* TEXT as one item: the direct reader and jansson make the same record. */
static void same_record(const char *text, size_t len)
{
	struct ss_products a = { 0 }, b = { 0 };
	int rc = ssi_rec_add_text(&a, NULL, "item", text, len, NULL, NULL);
	json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
	FUZZ_ASSERT((rc == SSI_REC_INVALID) == !j);
	if (json_is_object(j))
		FUZZ_ASSERT(ssi_rec_add(&b, NULL, "item", j, NULL, NULL) == SS_OK);
	FUZZ_ASSERT(a.nitems == b.nitems);
	if (a.nitems) {
		size_t la = rec_size(a.items[0].rec), lb = rec_size(b.items[0].rec);
		if (la != lb || memcmp(a.items[0].rec, b.items[0].rec, la) != 0)
			fprintf(stderr, "direct and jansson records differ (%zu, %zu bytes)\n", la, lb);
		FUZZ_ASSERT(la == lb && memcmp(a.items[0].rec, b.items[0].rec, la) == 0);
	}
	json_decref(j);
	free(a.items);
	free(b.items);
	ssi_arena_free(a.arena);
	ssi_arena_free(b.arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	same_record((const char *)data, size);
	if (!ss_is_clearsigned((const char *)data, size)) {
		same_either_way((const char *)data, size, 0);
		same_either_way((const char *)data, size, 1);
	}
	struct ss_error e;
	ss_error_clear(&e);
	struct ss_products *p = ss_products_parse((const char *)data, size, "fuzz", "fuzz:cid", &e);
	json_t *j = ss_is_clearsigned((const char *)data, size) ? NULL : whole((const char *)data, size);
	if (!ss_is_clearsigned((const char *)data, size)) {
		if (!p != !j)
			fprintf(stderr, "read: %s, jansson: %s (%s)\n", p ? "yes" : "no", j ? "yes" : "no", e.msg);
		FUZZ_ASSERT(!p == !j);
	}
	if (!p) {
		FUZZ_ASSERT(e.code != SS_OK && e.msg[0]);
		FUZZ_ASSERT(!memchr(e.msg, '\n', strlen(e.msg)));
		return 0;
	}
	ss_products_check_paths(p, &e);
	ss_products_check_index(p, &e);
	size_t n = ss_products_count(p);
	for (size_t i = 0; i < n; i++)
		check_views(ss_products_item(p, i));

	/* load -> dump -> load -> dump */
	size_t l1, l2;
	char *d1 = ss_products_dump(p, 0, &l1);
	FUZZ_ASSERT(d1);
	if (j)
		same_as_jansson(d1, l1, j);
	struct ss_products *p1 = reparse(d1, l1);
	char *d2 = ss_products_dump(p1, 0, &l2);
	FUZZ_ASSERT(d2 && l1 == l2 && memcmp(d1, d2, l1) == 0);
	FUZZ_ASSERT(ss_products_same(p, p1));

	/* flatten(condense(d)) == flatten(d) */
	size_t lc;
	char *dc = ss_products_dump(p, SS_WRITE_CONDENSE, &lc);
	FUZZ_ASSERT(dc);
	struct ss_products *pc = reparse(dc, lc);
	FUZZ_ASSERT(ss_products_count(pc) == n);
	FUZZ_ASSERT(ss_products_same(p, pc));
	for (size_t i = 0; i < ss_products_count(pc); i++)
		check_views(ss_products_item(pc, i));

	/* every item through the subset and index writers */
	struct ss_subset *s = ss_subset_new(p);
	FUZZ_ASSERT(s);
	for (size_t i = 0; i < n; i++)
		FUZZ_ASSERT(ss_subset_add(s, ss_products_item(p, i)) == SS_OK);
	FUZZ_ASSERT(ss_subset_count(s) == n);
	size_t ls;
	char *ds = ss_subset_dump(s, &ls);
	FUZZ_ASSERT(ds);
	if (j) {
		json_t *sj = subset_of(j, ss_products_content_id(p));
		same_as_jansson(ds, ls, sj);
		json_decref(sj);
	}
	struct ss_products *ps = reparse(ds, ls);
	FUZZ_ASSERT(ss_products_same(p, ps));
	struct ss_index_writer *w = ss_index_new();
	FUZZ_ASSERT(w);
	FUZZ_ASSERT(ss_index_add(w, s, "streams/v1/fuzz.json") == SS_OK);
	size_t li;
	char *di = ss_index_dump(w, &li);
	FUZZ_ASSERT(di);
	json_t *idx = json_loadb(di, li, 0, NULL);
	FUZZ_ASSERT(json_is_object(idx));
	json_decref(idx);

	free(di);
	ss_index_free(w);
	free(ds);
	ss_products_free(ps);
	ss_subset_free(s);
	free(dc);
	ss_products_free(pc);
	free(d2);
	ss_products_free(p1);
	free(d1);
	ss_products_free(p);
	json_decref(j);
	return 0;
}
