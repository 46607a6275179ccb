/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What changed between two records of a tree's history, read from their
 * products files: the versions and items added and removed, for commit
 * messages and for ss_history_diff.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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
	unsigned char full[32];
	ssi_sha256(key, strlen(key), full);
	memcpy(s->digests[s->ndigests++].d, full, sizeof(struct digest));
}

static void state_free(struct state *s)
{
	keys_free(&s->items);
	keys_free(&s->versions);
	free(s->digests);
}

/* A products document of streams/v1 by its name: NAME.json, not the index. */
static int is_products(const char *name)
{
	size_t nl = strlen(name);
	return nl >= 5 && strcmp(name + nl - 5, ".json") == 0 && strcmp(name, "index.json") != 0;
}

/* Item IT (its product, version and name, its sha256 and size) added to
 * S: by name with NAMES, else by digest. */
static void state_add_item(struct state *s, const struct ss_item *it, int names)
{
	char key[2048];
	snprintf(key, sizeof(key), "%s %s", ss_item_product(it), ss_item_version(it));
	/* (a version's items come together: its key once, not once each) */
	if (!s->versions.n || strcmp(s->versions.v[s->versions.n - 1], key) != 0)
		keys_add(&s->versions, key);
	const char *sha = ss_item_str(it, "sha256");
	snprintf(key, sizeof(key), "%s %s %s\t%s", ss_item_product(it), ss_item_version(it), ss_item_name(it),
		 sha ? sha : "");
	if (names)
		keys_add(&s->items, key);
	else
		digest_add(s, key);
	s->nitems++;
	long long size = ss_item_get_int(it, "size");
	s->bytes += size > 0 ? size : 0;
}

/* The items and versions of the products document DATA (LEN bytes, named
 * NAME) added to S: by name with NAMES, else by digest. */
static void state_add_doc(struct state *s, const char *data, size_t len, const char *name, int names)
{
	struct ss_error err;
	struct ss_products *p = ss_products_parse(data, len, name, NULL, &err);
	for (size_t k = 0; p && k < ss_products_count(p); k++)
		state_add_item(s, ss_products_item(p, k), names);
	ss_products_free(p);
}

/* S's versions sorted without duplicates, its items and digests sorted. */
static void state_finish(struct state *s)
{
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
}

/* The state of the git tree ROOT (NULL: empty). */
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
		git_blob *blob;
		if (!is_products(git_tree_entry_name(e)) || git_blob_lookup(&blob, repo, git_tree_entry_id(e)) != 0)
			continue;
		state_add_doc(s, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob), git_tree_entry_name(e),
			      names);
		git_blob_free(blob);
	}
	state_finish(s);
out:
	git_tree_free(v1);
	git_tree_entry_free(v1e);
}

/* Calls FN for each products file of TREE's streams/v1 as it is on disk:
 * those a record takes (regular files, not named with a dot), open. */
static void each_products_file(const char *tree, void (*fn)(void *ud, const char *name, int fd, size_t size),
			       void *ud)
{
	struct ss_error e;
	static const char rel[] = "streams/v1";
	int dfd = ssi_dir_open(tree, rel, strlen(rel), 0, &e);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !is_products(de->d_name))
			continue;
		int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;
		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
			fn(ud, de->d_name, fd, (size_t)st.st_size);
		if (fd >= 0)
			close(fd);
	}
	closedir(d);
}

static void add_file(void *ud, const char *name, int fd, size_t size)
{
	void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m != MAP_FAILED) {
		state_add_doc(ud, m, size, name, 0);
		munmap(m, size);
	}
}

static void add_size(void *ud, const char *name, int fd, size_t size)
{
	(void)name, (void)fd;
	*(size_t *)ud += size;
}

static void read_state_dir(const char *tree, struct state *s)
{
	memset(s, 0, sizeof(*s));
	each_products_file(tree, add_file, s);
	state_finish(s);
}

/* The new state of a record, read on a thread of its own: from the files
 * on disk while the record writes its objects and reads the old state
 * (two products files parsed at once, one per core); or, prepared, from
 * the products documents a run is about to write, while it syncs the
 * items and writes them (their objects are written then too).  A
 * prepared state stands only for the documents it was given: the record
 * checks that the new tree's products files are exactly those (names and
 * object ids), and reads the tree otherwise. */
struct ssh_after {
	pthread_t th, objects_th;
	int started, objects_started, done;
	char *tree;
	/* prepared: the documents (copies), their object ids, the items
	 * each lists when given (borrowed until ssi_history_prepared) */
	size_t n;
	char **name, **data;
	size_t *len;
	git_oid *oid;
	struct ssi_prepdoc *given;
	int written; /* every object written */
	struct state s;
};

/* The prepared documents' objects written into the history. */
static void prepared_objects(struct ssh_after *a)
{
	git_repository *repo = NULL;
	struct ss_error e;
	a->written = ssh_open_repo(a->tree, 1, &repo, &e) == SS_OK;
	for (size_t i = 0; a->written && i < a->n; i++)
		a->written = git_blob_create_from_buffer(&a->oid[i], repo, a->data[i], a->len[i]) == 0;
	git_repository_free(repo);
}

static void *objects_main(void *ud)
{
	prepared_objects(ud);
	return NULL;
}

static void after_read(struct ssh_after *a)
{
	if (!a->name) {
		read_state_dir(a->tree, &a->s);
		return;
	}
	if (!a->objects_started) /* (no thread of their own) */
		prepared_objects(a);
	for (size_t i = 0; i < a->n; i++) {
		const struct ssi_prepdoc *g = &a->given[i];
		for (size_t k = 0; g->products && k < ss_products_count(g->products); k++)
			state_add_item(&a->s, ss_products_item(g->products, k), 0);
		for (size_t k = 0; g->items && k < g->nitems; k++)
			state_add_item(&a->s, g->items[k], 0);
		if (!g->products && !g->items)
			state_add_doc(&a->s, a->data[i], a->len[i], a->name[i], 0);
	}
	state_finish(&a->s);
}

static void *after_main(void *ud)
{
	after_read(ud);
	return NULL;
}

/* A's threads joined. */
static void after_threads_join(struct ssh_after *a)
{
	if (a->objects_started)
		pthread_join(a->objects_th, NULL);
	if (a->started)
		pthread_join(a->th, NULL);
	a->objects_started = a->started = 0;
}

/* Products files larger than this in all are read after the old state,
 * as before, and none is prepared: two models at once cost memory
 * (bench/memory.sh, 100 000 items, 15 MiB of products: a changed rerun's
 * peak 83 MiB instead of 58 MiB), which a tree of a million items
 * (150 MiB) cannot spare. */
#define AFTER_PARALLEL_MAX (32u << 20)

static struct ssh_after *after_new(const char *tree)
{
	struct ssh_after *a = calloc(1, sizeof(*a));
	if (a && !(a->tree = strdup(tree))) {
		free(a);
		return NULL;
	}
	return a;
}

struct ssh_after *ssh_after_start(const char *tree)
{
	struct ssh_after *a = after_new(tree);
	size_t bytes = 0;
	if (a)
		each_products_file(tree, add_size, &bytes);
	if (a && bytes <= AFTER_PARALLEL_MAX)
		a->started = pthread_create(&a->th, NULL, after_main, a) == 0;
	return a;
}

struct ssh_after *ssi_history_prepare(const char *tree, size_t n, const struct ssi_prepdoc *docs)
{
	struct ssh_after *a = after_new(tree);
	size_t bytes = 0;
	if (!a || !(a->name = calloc(n + 1, sizeof(char *))) || !(a->data = calloc(n + 1, sizeof(char *))) ||
	    !(a->len = calloc(n + 1, sizeof(size_t))) || !(a->oid = calloc(n + 1, sizeof(git_oid))) ||
	    !(a->given = calloc(n + 1, sizeof(*a->given))))
		goto fail;
	for (size_t i = 0; i < n; i++) {
		const struct ssi_prepdoc *d = &docs[i];
		const char *name = strncmp(d->rel, "streams/v1/", 11) == 0 ? d->rel + 11 : NULL;
		if (!name || strchr(name, '/') || name[0] == '.' || !is_products(name))
			continue;
		if (!d->data || (bytes += d->len) > AFTER_PARALLEL_MAX) /* (upstream's, spooled: not at hand) */
			goto fail;
		if (!(a->name[a->n] = strdup(name)) || !(a->data[a->n] = malloc(d->len ? d->len : 1)))
			goto fail;
		memcpy(a->data[a->n], d->data, d->len);
		a->given[a->n] = *d;
		a->len[a->n++] = d->len;
	}
	/* the objects and the state, each on a thread of its own */
	a->objects_started = pthread_create(&a->objects_th, NULL, objects_main, a) == 0;
	if ((a->started = pthread_create(&a->th, NULL, after_main, a) == 0))
		return a;
fail:
	ssh_after_free(a);
	return NULL;
}

void ssi_history_prepared(struct ssh_after *a)
{
	if (a && a->started) {
		pthread_join(a->th, NULL);
		a->started = 0;
		a->done = 1;
	}
	for (size_t i = 0; a && i < a->n; i++)
		a->given[i] = (struct ssi_prepdoc){ 0 };
}

int ssh_after_blob(const struct ssh_after *a, const char *path, git_oid *oid)
{
	size_t tl = strlen(a->tree);
	if (!a->written || strncmp(path, a->tree, tl) != 0 || strncmp(path + tl, "/streams/v1/", 12) != 0)
		return 0;
	size_t k = 0;
	while (k < a->n && strcmp(a->name[k], path + tl + 12) != 0)
		k++;
	int same = k < a->n && ssi_safe_holds(a->tree, path + tl + 1, a->data[k], a->len[k]);
	if (same)
		git_oid_cpy(oid, &a->oid[k]);
	return same;
}

/* Whether the products files of the git tree ROOT are exactly A's. */
static int prepared_matches(git_repository *repo, const git_tree *root, const struct ssh_after *a)
{
	git_tree_entry *v1e = NULL;
	git_tree *v1 = NULL;
	size_t seen = 0;
	int same = a->written;
	if (root && git_tree_entry_bypath(&v1e, root, "streams/v1") == 0 &&
	    git_tree_lookup(&v1, repo, git_tree_entry_id(v1e)) == 0) {
		for (size_t i = 0; same && i < git_tree_entrycount(v1); i++) {
			const git_tree_entry *e = git_tree_entry_byindex(v1, i);
			if (!is_products(git_tree_entry_name(e)))
				continue;
			size_t k = 0;
			while (k < a->n && strcmp(a->name[k], git_tree_entry_name(e)) != 0)
				k++;
			same = k < a->n && git_oid_equal(&a->oid[k], git_tree_entry_id(e));
			seen++;
		}
	}
	git_tree_free(v1);
	git_tree_entry_free(v1e);
	return same && seen == a->n;
}

void ssh_after_wait(struct ssh_after *a)
{
	if (a->name) {
		after_threads_join(a);
		a->done = 1;
	}
}

/* A's state, read on its thread or, when that did not start, here; a
 * prepared one that is not NEW_TREE's is read again from NEW_TREE. */
static const struct state *after_join(struct ssh_after *a, git_repository *repo, const git_tree *new_tree)
{
	if (a->started)
		after_threads_join(a);
	else if (!a->done)
		after_read(a);
	a->done = 1;
	if (a->name && !prepared_matches(repo, new_tree, a)) {
		state_free(&a->s);
		read_state(repo, new_tree, 0, &a->s);
	}
	return &a->s;
}

void ssh_after_free(struct ssh_after *a)
{
	if (!a)
		return;
	after_threads_join(a);
	for (size_t i = 0; i < a->n; i++) {
		free(a->name[i]);
		free(a->data[i]);
	}
	free(a->name);
	free(a->data);
	free(a->len);
	free(a->oid);
	free(a->given);
	state_free(&a->s);
	free(a->tree);
	free(a);
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
char *ssh_commit_message(git_repository *repo, const git_tree *old_tree, const git_tree *new_tree,
			 struct ssh_after *new_state, const char *tool, const char *note)
{
	struct state before;
	read_state(repo, old_tree, 0, &before);
	const struct state *after = after_join(new_state, repo, new_tree);
	size_t va = 0, vr = 0, ia = 0, ir = 0;
	compare(&before.versions, &after->versions, "version", NULL, NULL, &va, &vr);
	compare_digests(&before, after, &ir, &ia);
	size_t cap = 512 + (note ? strlen(note) : 0) + 64 * (va + vr), len;
	char *msg = malloc(cap);
	if (msg) {
		len = (size_t)snprintf(msg, cap, "%s: %s%s+%zu -%zu versions, +%zu -%zu items; %zu items, %lld bytes\n\n",
				       tool, note ? note : "", note ? "; " : "", va, vr, ia, ir, after->nitems,
				       after->bytes);
		size_t i = 0, j = 0;
		const struct keys *a = &before.versions, *bv = &after->versions;
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
