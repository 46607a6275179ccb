/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What changed between two records of a tree's history, read from their
 * products files: the versions and items added and removed, for commit
 * messages and for ss_history_diff.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "history_internal.h"

/* ---- what changed between two states, from their products files ---------- */

struct keys {
	char **v;
	size_t n, a;
};

static void keys_add(struct keys *k, const char *s)
{
	if (k->n == k->a) {
		size_t na = k->a ? 2 * k->a : 64;
		char **nv = realloc(k->v, na * sizeof(*nv));
		if (!nv)
			return;
		k->v = nv;
		k->a = na;
	}
	if ((k->v[k->n] = strdup(s)))
		k->n++;
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void keys_free(struct keys *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->v[i]);
	free(k->v);
	memset(k, 0, sizeof(*k));
}

/* An item ("product version item<TAB>sha256") as 16 bytes of its sha256:
 * a commit message counts the items of two records of a tree of a million
 * items, and their names would cost 250 MB. */
struct digest {
	unsigned char d[16];
};

static int cmp_digest(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct digest));
}

/* Items and versions of the products files (the .json files of
 * streams/v1) of a git tree; items and bytes counted.  The items by name
 * (ITEMS) when the state was read with names, else by digest (DIGESTS). */
struct state {
	struct keys items, versions;
	struct digest *digests;
	size_t ndigests, adigests;
	size_t nitems;
	long long bytes;
};

static void digest_add(struct state *s, const char *key)
{
	if (s->ndigests == s->adigests) {
		size_t na = s->adigests ? 2 * s->adigests : 1024;
		struct digest *nd = realloc(s->digests, na * sizeof(*nd));
		if (!nd)
			return;
		s->digests = nd;
		s->adigests = na;
	}
	unsigned char full[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)key, strlen(key), full);
	memcpy(s->digests[s->ndigests++].d, full, sizeof(struct digest));
}

static void state_free(struct state *s)
{
	keys_free(&s->items);
	keys_free(&s->versions);
	free(s->digests);
}

static void read_state(git_repository *repo, const git_tree *root, int names, struct state *s)
{
	memset(s, 0, sizeof(*s));
	git_tree_entry *v1e = NULL;
	git_tree *v1 = NULL;
	if (!root || git_tree_entry_bypath(&v1e, root, "streams/v1") != 0 ||
	    git_tree_lookup(&v1, repo, git_tree_entry_id(v1e)) != 0)
		goto out;
	for (size_t i = 0; i < git_tree_entrycount(v1); i++) {
		const git_tree_entry *e = git_tree_entry_byindex(v1, i);
		const char *name = git_tree_entry_name(e);
		size_t nl = strlen(name);
		if (nl < 5 || strcmp(name + nl - 5, ".json") != 0 || strcmp(name, "index.json") == 0)
			continue;
		git_blob *blob;
		if (git_blob_lookup(&blob, repo, git_tree_entry_id(e)) != 0)
			continue;
		struct ss_error err;
		struct ss_products *p = ss_products_parse(git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob),
							  name, NULL, &err);
		for (size_t k = 0; p && k < ss_products_count(p); k++) {
			const struct ss_item *it = ss_products_item(p, k);
			char key[2048];
			snprintf(key, sizeof(key), "%s %s", ss_item_product(it), ss_item_version(it));
			keys_add(&s->versions, key);
			const char *sha = ss_item_str(it, "sha256");
			snprintf(key, sizeof(key), "%s %s %s\t%s", ss_item_product(it), ss_item_version(it),
				 ss_item_name(it), sha ? sha : "");
			if (names)
				keys_add(&s->items, key);
			else
				digest_add(s, key);
			s->nitems++;
			long long size = ss_item_get_int(it, "size");
			s->bytes += size > 0 ? size : 0;
		}
		ss_products_free(p);
		git_blob_free(blob);
	}
	if (s->versions.n)
		qsort(s->versions.v, s->versions.n, sizeof(char *), cmp_key);
	size_t o = 0;
	for (size_t i = 0; i < s->versions.n; i++) {
		if (o && strcmp(s->versions.v[o - 1], s->versions.v[i]) == 0)
			free(s->versions.v[i]);
		else
			s->versions.v[o++] = s->versions.v[i];
	}
	s->versions.n = o;
	if (s->items.n)
		qsort(s->items.v, s->items.n, sizeof(char *), cmp_key);
	if (s->ndigests)
		qsort(s->digests, s->ndigests, sizeof(*s->digests), cmp_digest);
out:
	git_tree_free(v1);
	git_tree_entry_free(v1e);
}

/* Calls CB for what is in B and not in A (+) and in A and not in B (-). */
static void compare(const struct keys *a, const struct keys *b, const char *what,
		    void (*cb)(void *ud, char sign, const char *what, const char *key), void *ud,
		    size_t *added, size_t *removed)
{
	size_t i = 0, j = 0;
	while (i < a->n || j < b->n) {
		int c = i >= a->n ? 1 : j >= b->n ? -1 : strcmp(a->v[i], b->v[j]);
		if (c == 0) {
			i++, j++;
			continue;
		}
		char key[2048];
		snprintf(key, sizeof(key), "%s", c < 0 ? a->v[i] : b->v[j]);
		char *tab = strchr(key, '\t');
		if (tab)
			*tab = '\0';
		if (cb)
			cb(ud, c < 0 ? '-' : '+', what, key);
		if (c < 0)
			(*removed)++, i++;
		else
			(*added)++, j++;
	}
}

/* How many digests are in A and not in B (*GONE), in B and not in A (*NEW). */
static void compare_digests(const struct state *a, const struct state *b, size_t *gone, size_t *added)
{
	size_t i = 0, j = 0;
	while (i < a->ndigests || j < b->ndigests) {
		int c = i >= a->ndigests ? 1 : j >= b->ndigests ? -1 : cmp_digest(&a->digests[i], &b->digests[j]);
		if (c == 0)
			i++, j++;
		else if (c < 0)
			(*gone)++, i++;
		else
			(*added)++, j++;
	}
}

/* The message of a commit from OLD_TREE to NEW_TREE: a one-line summary,
 * then the versions added and removed.  malloc'd; NULL when out of memory. */
char *ssh_commit_message(git_repository *repo, const git_tree *old_tree, const git_tree *new_tree, const char *tool,
			 const char *note)
{
	struct state before, after;
	read_state(repo, old_tree, 0, &before);
	read_state(repo, new_tree, 0, &after);
	size_t va = 0, vr = 0, ia = 0, ir = 0;
	compare(&before.versions, &after.versions, "version", NULL, NULL, &va, &vr);
	compare_digests(&before, &after, &ir, &ia);
	size_t cap = 512 + (note ? strlen(note) : 0) + 64 * (va + vr), len;
	char *msg = malloc(cap);
	if (msg) {
		len = (size_t)snprintf(msg, cap, "%s: %s%s+%zu -%zu versions, +%zu -%zu items; %zu items, %lld bytes\n\n",
				       tool, note ? note : "", note ? "; " : "", va, vr, ia, ir, after.nitems,
				       after.bytes);
		size_t i = 0, j = 0;
		const struct keys *a = &before.versions, *bv = &after.versions;
		while ((i < a->n || j < bv->n) && len < cap) {
			int c = i >= a->n ? 1 : j >= bv->n ? -1 : strcmp(a->v[i], bv->v[j]);
			if (c == 0) {
				i++, j++;
				continue;
			}
			len += (size_t)snprintf(msg + len, cap - len, "%c %s\n", c < 0 ? '-' : '+',
						c < 0 ? a->v[i++] : bv->v[j++]);
		}
	}
	state_free(&before);
	state_free(&after);
	return msg;
}

void ssh_diff(git_repository *repo, const git_tree *a, const git_tree *b,
	      void (*cb)(void *ud, char sign, const char *what, const char *key), void *ud)
{
	struct state sa, sb;
	read_state(repo, a, 1, &sa);
	read_state(repo, b, 1, &sb);
	size_t add = 0, rem = 0;
	compare(&sa.versions, &sb.versions, "version", cb, ud, &add, &rem);
	compare(&sa.items, &sb.items, "item", cb, ud, &add, &rem);
	state_free(&sa);
	state_free(&sb);
}
