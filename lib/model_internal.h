/* SPDX-License-Identifier: Apache-2.0 */
/* The JSON model's internals, shared by the files that use jansson. */
#ifndef SSTREAM_MODEL_INTERNAL_H
#define SSTREAM_MODEL_INTERNAL_H

#include <jansson.h>

#include "internal.h"

/*
 * A products document in memory.  Its levels above the items (the root, the
 * products, their versions) are jansson objects in ROOT, where a version's
 * "items" (and a product's "versions", the root's "products") are there but
 * hold no members: the items themselves are compact records (model_rec.c)
 * in an arena, so that a document of a million items costs little more
 * than its text.  Items are in document order, a version's together.
 */
struct ssi_ver {
	const struct ss_products *p;
	json_t *prod, *ver;              /* borrowed from p->root */
	const char *pname, *vname;       /* their keys in p->root */
};

struct ss_item {
	const struct ssi_ver *v;
	const char *rec;                 /* its name, then its fields (model_rec.c) */
};

struct ssi_arena_block;

struct ss_products {
	json_t *root;
	json_t *aliases;                 /* root "_aliases" object or NULL */
	char *name;                      /* where it came from, for messages */
	char *content_id;
	char *relpath;                   /* tree-relative path, set by the tree loader */
	json_t *entry;                   /* its index entry (a reference), or NULL */
	char *index_key;                 /* that entry's key (a content id), or NULL */
	struct ss_item *items;
	size_t nitems, items_alloc;
	struct ssi_ver **vers;
	size_t nvers, vers_alloc;
	struct ssi_arena_block *arena;
	char *bad;                       /* the first shape error found while reading */
	char *text;                      /* read in place: records in its own text */
};

/* Items in order of product, version and name (strcmp). */
int ssi_item_cmp_place(const struct ss_item *a, const struct ss_item *b);
/* Whether A and B hold the same items (by place), VIEW of each pair
 * json_equal (VIEW returns a new reference: the flattened item, or its own
 * fields, ssi_item_object). */
int ssi_items_same(const struct ss_products *a, const struct ss_products *b,
		   json_t *(*view)(const struct ss_item *it));

/* ---- model_rec.c: an item's fields as one compact record ---- */
/* A record: the item's name, NUL, then per field a type byte ('s'tring,
 * 'i'nteger, 'r'eal, 't'rue, 'f'alse, 'n'ull, 'j'son: a list or object as
 * compact JSON with sorted keys), the key, NUL, the value's text, NUL; a
 * NUL type ends it. */
struct ssi_recf {
	char type;
	const char *key, *val;
};
/* Adds item INAME (the object ITEM) of version V to P; SS_FATAL when out
 * of memory.  With AT, the record goes there when it takes at most *ROOM
 * bytes, and *ROOM is set to what it took (0: it went to the arena). */
int ssi_rec_add(struct ss_products *p, const struct ssi_ver *v, const char *iname, json_t *item, char *at,
		size_t *room);
/* The same from the item's text (LEN bytes): read directly when it is a
 * flat object of plain fields, else by jansson as model_scan.c reads a
 * value.  A value that is not an object gets no record.  SS_OK, SS_FATAL
 * when out of memory, SSI_REC_INVALID when jansson refuses the text. */
#define SSI_REC_INVALID (-1)
int ssi_rec_add_text(struct ss_products *p, const struct ssi_ver *v, const char *iname, const char *text,
		     size_t len, char *at, size_t *room);
/* An item whose record is made later, by ssi_rec_add_many: its version,
 * its name (at NAME in a buffer of names), its text (FROM to END). */
struct ssi_pend {
	const struct ssi_ver *v;
	size_t name, from, end;
};
/* Adds the records of the N items PEND (texts in TEXT, names in NAMES) to
 * P, in their order, reading them in two halves of about the same text
 * at once (the second on a thread of its own); with OWN (TEXT itself,
 * writable) records go over the text of the items read, as
 * ssi_rec_add's AT.  An item that is not an object gets none.  SS_FATAL
 * when one is not valid JSON (read_value's rules) or when out of memory:
 * *FAILED is then the index of the first item refused and *WHY why ("invalid
 * value", "out of memory"), and P is to be freed. */
int ssi_rec_add_many(struct ss_products *p, const char *text, char *own, const char *names,
		     const struct ssi_pend *pend, size_t n, size_t *failed, const char **why);
/* The next field of a record after *POS (start with the record itself);
 * 0 at its end. */
int ssi_rec_next(const char **pos, struct ssi_recf *f);
/* The field KEY of the record, or 0. */
int ssi_rec_find(const char *rec, const char *key, struct ssi_recf *f);
/* A field's value as a new JSON value (NULL when out of memory). */
json_t *ssi_recf_json(const struct ssi_recf *f);
/* The item's own fields as a new JSON object. */
json_t *ssi_item_object(const struct ss_item *it);
/* The item's own string field KEY, or NULL; its own integer, or 0. */
const char *ssi_item_own_str(const struct ss_item *it, const char *key);
long long ssi_item_own_int(const struct ss_item *it, const char *key);
/* A new version of P (PROD and VER in P's root); NULL when out of memory. */
struct ssi_ver *ssi_ver_add(struct ss_products *p, json_t *prod, json_t *ver, const char *pname,
			    const char *vname);
void ssi_arena_free(struct ssi_arena_block *a);

/* ---- model_scan.c: reading a document's text a level at a time ---- */
/* Parses TEXT (plain JSON) into a new products object whose format is not
 * yet checked (an index document too: its "index" is in the root); NULL
 * with ERR naming NAME as ssi_json_parse would.  With OUTLINE what each
 * product holds is passed over, unread and unchecked (every product an
 * empty object, no items): for text read before. */
struct ss_products *ssi_products_scan(const char *text, size_t len, const char *name, int outline,
				      struct ss_error *err);
/* As ssi_products_scan (not in outline), or with OWN as
 * ssi_products_scan_own of a copy of TEXT, its items read after the walk,
 * in two halves at once (DEFER), or as they come, whatever TEXT's size:
 * the two must agree (fuzz_products.c). */
struct ss_products *ssi_products_scan_how(const char *text, size_t len, const char *name, int defer, int own,
					 struct ss_error *err);
/* As ssi_products_scan (not in outline), taking TEXT (malloc'd, freed with
 * the result or on failure): records are written over the text of the
 * items already read, so the document costs little more than its text.
 * Messages are the reader's own (the text is gone). */
struct ss_products *ssi_products_scan_own(char *text, size_t len, const char *name, struct ss_error *err);
/* As ssi_products_scan, of plain or clearsigned DATA. */
struct ss_products *ssi_doc_scan(const char *data, size_t len, const char *name, int outline,
				 struct ss_error *err);
/* The document DATA (plain or clearsigned, read and checked before) as a
 * JSON object of its fields and the names of its products: every product
 * an empty object.  A new reference; NULL with ERR filled. */
json_t *ssi_json_outline(const char *data, size_t len, const char *name, struct ss_error *err);
/* Checks a scanned document is products:1.0 and sets its content id;
 * frees P and returns NULL (ERR filled) when it is not. */
struct ss_products *ssi_products_finish(struct ss_products *p, const char *default_content_id,
					struct ss_error *err);

/*
 * Parses DATA (plain or clearsigned JSON) into a new reference; NULL with
 * ERR filled naming NAME.
 */
json_t *ssi_json_parse(const char *data, size_t len, const char *name, struct ss_error *err);

/* Builds a products object from a parsed document (steals ROOT). */
struct ss_products *ssi_products_from_json(json_t *root, const char *name,
					   const char *default_content_id,
					   struct ss_error *err);

/* Deterministic text of ROOT: sorted keys, one-space indentation, a
 * trailing newline.  malloc'd; NULL when out of memory. */
char *ssi_json_dump(json_t *root, size_t *len);


#endif
