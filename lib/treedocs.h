/* SPDX-License-Identifier: Apache-2.0 */
/* Tree documents (treedocs.c): the crash-safe writing of products files
 * and indexes, and the reader's view of them.  Calls neither publish nor
 * history; both, and the mirror, write through it. */
#ifndef SSTREAM_TREEDOCS_H
#define SSTREAM_TREEDOCS_H

#include "model_internal.h"

/*
 * Writes documents (tree-relative RELS -> bytes, streams/v1/index.json
 * among them) so that each index, at every instant, names files listing
 * exactly its products (a file whose product list changes goes through an
 * alternate name and one index switch), the other documents before the
 * indexes, index.sjson then index.json last.  Files holding their bytes
 * already are left alone; *CHANGED (may be NULL) is set when anything was
 * written.  Used by the mirror and by history rollback; a signed view
 * (index.sjson) cannot be switched without a key: it changes when the
 * indexes are written.  SS_OK or SS_FATAL.
 */
int ssi_treedocs_put(const char *tree, size_t n, const char *const *rels, const char *const *data,
		     const size_t *lens, int *changed, struct ss_error *err);

/*
 * The same for generated documents: DOCS (tree-relative path -> products
 * document, borrowed) and the final INDEX (borrowed), signed with KEY
 * (may be NULL) into .sjson twins and index.sjson.  *CHANGED is set when
 * anything was written.  SS_OK or SS_FATAL.
 */
int ssi_treedocs_publish(const char *key, const char *tree, json_t *docs, json_t *index, int *changed,
			 struct ss_error *err);

/* Whether ssi_treedocs_publish would write anything (1) or finds every
 * document as it would write it (0): what a dry run reports. */
int ssi_treedocs_differ(const char *key, const char *tree, json_t *docs, json_t *index);

/* The reader-visible index at TREE/REL (the signed body of a clearsigned
 * one), parsed: a new reference, NULL when none or unreadable. */
json_t *ssi_treedocs_view(const char *tree, const char *rel);
/* The same from BODY (LEN bytes, REL naming it; NULL: none). */
json_t *ssi_treedocs_view_parse(const char *body, size_t len, const char *rel);
/* Whether an entry of the index VIEW names PATH. */
int ssi_treedocs_view_names(json_t *view, const char *path);

/* The tree-relative path of the products file REL of content id CID
 * that readers see now: REL, or the alternate the index names while a
 * change of its product list is under way (a run killed then leaves it
 * so). */
void ssi_treedocs_visible(const char *tree, const char *cid, const char *rel, char *out, size_t outsz);

/* ssi_treedocs_put, with KEY (may be NULL) signing every products file
 * and the index that come without their .sjson bytes; RESIGN: the .sjson
 * bytes given are ignored (a rollback signs with the tree's key of now,
 * or restores an unsigned tree without the record's old signed view). */
int ssi_treedocs_put_signed(const char *key, int resign, const char *tree, size_t n, const char *const *rels,
			    const char *const *data, const size_t *lens, int *changed, struct ss_error *err);

/* "streams/v1/x.json" -> "streams/v1/x.sjson": the signed twin's name. */
void ssi_treedocs_sjson_name(const char *rel, char *out, size_t outsz);

/* The two alternate names of REL ("streams/v1/x.json" ->
 * "streams/v1/.x.a.json", ".x.b.json", WHICH 0 or 1) a products file is
 * staged at when its product list changes. */
void ssi_treedocs_alt_name(const char *rel, int which, char *out, size_t outsz);

/* Adds to OUT (not sealed) what TREE's signed view names now: the signed
 * products files streams/v1/index.sjson names and every item path they
 * list.  Nothing when there is no signed index.  0, or -1 out of memory. */
int ssi_treedocs_signed_names(const char *tree, struct ssi_strset *out);

#endif
