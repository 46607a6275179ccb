/* SPDX-License-Identifier: Apache-2.0 */
/*
 * S3 object storage (internal): what a sync wants in the bucket (s3_wants.c):
 * the documents of a staged or local tree and the items they name, each
 * path once, with the size and hashes its object must have.
 */
#ifndef SSTREAM_S3_WANTS_H
#define SSTREAM_S3_WANTS_H

#include "s3_client.h"

struct want {
	char *rel;         /* tree-relative path */
	char *key;         /* full key */
	long long size;
	char sha256[65];
	char md5[33];      /* a document's: what the store's ETag of it is */
	char etag[SSI_S3_ETAG]; /* the object's in the bucket, once known */
	const struct ss_item *it; /* an item naming it (borrowed from the tree), or NULL */
	int doc;           /* 0 item, 1 products file, 2 index */
};

struct wants {
	struct want *v;
	size_t n, alloc;
};

/* By key; items before products files before indexes, by path in each. */
int ssi_s3_want_cmp_key(const void *a, const void *b);
int ssi_s3_want_cmp_order(const void *a, const void *b);
void ssi_s3_wants_free(struct wants *w);
/* Every regular file under ROOT/REL (the documents under streams/),
 * hashed (sha256 and MD5). */
int ssi_s3_add_docs(struct ss_s3 *s, struct wants *w, const char *root, const char *rel,
		    struct ss_error *err);
/* The items the documents of the tree ROOT name, each path once; *TP
 * keeps the tree (the wants point into it).  STREAMED: the items are not
 * in the tree (their size and hashes come from the stream). */
int ssi_s3_add_items(struct ss_s3 *s, struct wants *w, const char *root, int streamed,
		     struct ss_tree **tp, struct ss_error *err);

#endif
