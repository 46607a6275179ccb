/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Files in a tree that nothing names: every file below the root other than
 * directories and symbolic links (which are not followed) that is not named by an item, is not one
 * of the tree's documents or its detached signature, and is not a plain or
 * signed view of an index or products file in streams/v1/.  The tree's
 * own directories (.sstream/, .git/) are not looked into.  One walk
 * (ssi_walk), its state in a context rather than in globals.
 */
#include <string.h>
#include <sys/stat.h>

#include "verify_internal.h"

struct orphans {
	const struct ss_tree *t;
	int (*referenced)(void *ctx, const char *rel);
	void *ctx;
	struct ssi_strset *out;
};

static int is_document(const struct ss_tree *t, const char *rel)
{
	for (size_t i = 0; i < ss_tree_ndocs(t); i++) {
		const char *d;
		size_t l;
		const char *doc = ss_tree_doc(t, i, &d, &l);
		size_t dl = strlen(doc);
		/* the document itself, or its detached signature */
		if (strncmp(rel, doc, dl) == 0 && (rel[dl] == '\0' || strcmp(rel + dl, ".gpg") == 0))
			return 1;
	}
	/* the tree's catalogue page (sstream-publish html, the mirror) */
	if (strcmp(rel, "index.html") == 0)
		return 1;
	/* the plain and signed views of the same index and products files */
	return strncmp(rel, "streams/v1/", 11) == 0 && strchr(rel + 11, '/') == NULL &&
	       (strstr(rel, ".json") || strstr(rel, ".sjson"));
}

static int visit(void *ctx, struct ssi_walk_entry *e)
{
	struct orphans *o = ctx;
	if (S_ISDIR(e->st.st_mode) && (!strcmp(e->path, SSI_PRIVATE_DIR) || !strcmp(e->path, ".git")))
		e->descend = 0;
	if (S_ISDIR(e->st.st_mode) || S_ISLNK(e->st.st_mode) || o->referenced(o->ctx, e->path) || is_document(o->t, e->path))
		return SS_OK;
	return ssi_strset_add(o->out, e->path) < 0 ? SS_FATAL : SS_OK;
}

int ssi_verify_orphans(const struct ss_tree *t, int (*referenced)(void *ctx, const char *rel), void *ctx,
		       struct ssi_strset *out)
{
	struct orphans o = { .t = t, .referenced = referenced, .ctx = ctx, .out = out };
	struct ss_error err;
	int rc = ssi_walk(ss_tree_root(t), visit, NULL, &o, &err);
	ssi_strset_seal(out);
	return rc;
}
