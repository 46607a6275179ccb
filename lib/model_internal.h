/* SPDX-License-Identifier: Apache-2.0 */
/* The JSON model's internals, shared by the files that use jansson. */
#ifndef SSTREAM_MODEL_INTERNAL_H
#define SSTREAM_MODEL_INTERNAL_H

#include <jansson.h>

#include "internal.h"

struct ss_item {
	const struct ss_products *p;
	json_t *prod, *ver, *item;       /* borrowed from p->root */
	const char *pname, *vname, *iname;
};

struct ss_products {
	json_t *root;
	json_t *aliases;                 /* root "_aliases" object or NULL */
	char *name;                      /* where it came from, for messages */
	char *content_id;
	char *relpath;                   /* tree-relative path, set by the tree loader */
	json_t *entry;                   /* its index entry (a reference), or NULL */
	char *index_key;                 /* that entry's key (a content id), or NULL */
	struct ss_item *items;
	size_t nitems;
};

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
