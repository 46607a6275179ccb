/* SPDX-License-Identifier: Apache-2.0 */
/*
 * S3 object storage: publishing a local tree into a bucket prefix in the
 * order that keeps it consistent for readers at every moment: items, then
 * products files, then indexes; what the documents no longer name goes
 * after a grace period.  Sits on the client, the uploader and the lock;
 * what the bucket should hold comes from s3_wants.c.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "s3_wants.h"

static int save_state(struct ss_s3 *s, const char *key, struct ssi_s3_state *st,
		      struct ss_error *err)
{
	size_t len;
	char *data = ssi_s3_state_dump(st, &len);
	if (!data)
		return ssi_err(err, SS_FATAL, "out of memory");
	int rc = ssi_s3_put(s, key, data, len, "text/plain", "no-store", NULL, NULL, NULL, err);
	free(data);
	return rc;
}

/* Is the object already in the bucket with these bytes?  The state says
 * what the last run that saved it had sent, and a run killed after it
 * put an object but before it saved the state leaves it saying the old
 * bytes, which an object going back to them (of the same size, as an
 * index whose dates alone changed) would match.  So the store's word
 * decides too: a document's ETag must be its MD5 (that of a single PUT's
 * body; an ETag that is not one, as another store's encryption gives,
 * only costs the document a PUT), and an item's the ETag the store gave
 * the bytes the state names when they were put (states written before
 * it was kept have none: the item is taken on the state's word, and its
 * ETag kept from now on).  An ETag that is not an MD5 but looks like one
 * (a store's encryption) costs an item the stream gives only an md5 a
 * PUT each run.  *LEARNED (may be NULL): an item's ETag the state lacked
 * is in W now, for the next state. */
static int have(const struct ssi_s3_list *l, const struct ssi_s3_state *st, struct want *w, int *learned)
{
	const struct ssi_s3_obj *o = ssi_s3_list_find(l, w->key);
	if (!o || o->size != w->size)
		return 0;
	if (w->doc) {
		if (strcasecmp(o->etag, w->md5) != 0)
			return 0;
		memcpy(w->etag, o->etag, sizeof(w->etag));
		return 1;
	}
	const struct ssi_s3_sent *e = ssi_s3_state_sent(st, w->key);
	if (!e || e->size != w->size || (e->etag[0] && o->etag[0] && strcasecmp(e->etag, o->etag) != 0))
		return 0;
	if (!w->sha256[0]) {
		/* An item the stream gives no sha256: the one its upload
		 * computed, when the bytes are still the stream's by its md5
		 * (a single PUT's ETag; upstream may change an item in place) */
		char mb[40];
		const char *md5 = w->it ? ss_item_get(w->it, "md5", mb, sizeof(mb)) : NULL;
		if (md5 && strlen(o->etag) == 32 && strcasecmp(md5, o->etag) != 0)
			return 0;
		memcpy(w->sha256, e->sha256, 65);
	} else if (strcmp(e->sha256, w->sha256) != 0) {
		return 0;
	}
	memcpy(w->etag, e->etag[0] ? e->etag : o->etag, sizeof(w->etag));
	if (learned)
		*learned = !e->etag[0] && w->etag[0];
	return 1;
}

/* The items to put, shared by the upload workers. */
struct pool {
	struct ss_s3 *s;
	const char *tree, *skey;
	const char *source;     /* where items come from, NULL: the tree */
	struct want **todo;
	size_t n, next;
	struct ssi_s3_state *st;
	struct ss_s3_stats *stats;
	pthread_mutex_t mu;
	int rc;                 /* the first failure stops every worker */
	struct ss_error err;
	double last_save;
};

static void *upload_worker(void *arg)
{
	struct pool *p = arg;
	struct ss_s3 *s = p->s;
	void *saved = ssi_s3_worker_begin();
	for (;;) {
		pthread_mutex_lock(&p->mu);
		if (p->rc != SS_OK || p->next >= p->n) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		struct want *e = p->todo[p->next++];
		ssi_s3_emit(s, SS_EV_ADD, e->rel, e->size, NULL);
		pthread_mutex_unlock(&p->mu);
		struct ss_error err;
		ss_error_clear(&err);
		int rc = ssi_s3_lock_check(s, &err);
		if (rc == SS_OK)  /* fills an empty sha256 */
			rc = ssi_s3_put_item(s, e->key, e->rel, p->tree, p->source, e->it, e->size, e->sha256,
					     e->etag, &err);
		pthread_mutex_lock(&p->mu);
		if (rc == SS_OK && ssi_s3_state_add_sent(p->st, e->key, e->sha256, e->size, e->etag) != 0)
			rc = ssi_err(&err, SS_FATAL, "out of memory");
		if (rc == SS_OK) {
			p->stats->uploaded++;
			p->stats->bytes_uploaded += e->size;
			/* Now and then, the state: a run killed midway does not
			 * put everything again. */
			if (ssi_now() - p->last_save > 30) {
				p->last_save = ssi_now();
				rc = save_state(s, p->skey, p->st, &err);
			}
		}
		if (rc != SS_OK && p->rc == SS_OK) {
			p->rc = rc;
			p->err = err;
		}
		pthread_mutex_unlock(&p->mu);
	}
	ssi_s3_worker_end(saved);
	return NULL;
}

/* Puts TODO with up to JOBS workers; the first failure (in ERR) wins. */
static int upload_items(struct ss_s3 *s, const char *tree, const char *source, const char *skey,
			struct want **todo, size_t n, struct ssi_s3_state *st, struct ss_s3_stats *stats,
			struct ss_error *err)
{
	struct pool p = { .s = s, .tree = tree, .source = source, .skey = skey, .todo = todo, .n = n, .st = st,
			  .stats = stats, .rc = SS_OK, .last_save = ssi_now() };
	pthread_mutex_init(&p.mu, NULL);
	int jobs = s->o->jobs > 0 ? s->o->jobs : 4;
	if ((size_t)jobs > n)
		jobs = (int)n;
	if (n)
		ssi_pool_run(jobs, upload_worker, &p);
	pthread_mutex_destroy(&p.mu);
	if (p.rc != SS_OK && err)
		*err = p.err;
	return p.rc;
}

/* One publishing run: what the tree wants, what the bucket has. */
struct run {
	struct ss_s3 *s;
	const char *tree;
	const char *source;       /* where items come from, NULL: the tree */
	char *skey;               /* the state object's key */
	struct wants w;
	struct ssi_s3_list l;
	struct ssi_s3_state st;   /* as read, plus what this run put */
	struct ssi_s3_state next; /* what the next run reads */
	struct ss_s3_stats *stats;
	int state_dirty;
	json_t *live;             /* the bucket's index, once read (s3_switch.c) */
};

static void count_up(struct run *r, const struct want *e)
{
	r->stats->uploaded++;
	r->stats->bytes_uploaded += e->size;
}

/* The items not in the bucket yet, with up to -j workers.  The first
 * failure stops the run before any document goes up. */
static int put_items(struct run *r, struct ss_error *err)
{
	struct want **todo = calloc(r->w.n ? r->w.n : 1, sizeof(*todo));
	size_t ntodo = 0;
	int rc = SS_OK;
	if (!todo)
		return ssi_err(err, SS_FATAL, "out of memory");
	for (size_t i = 0; i < r->w.n && !r->w.v[i].doc; i++) {
		struct want *w = &r->w.v[i];
		int learned = 0;
		if (!have(&r->l, &r->st, w, &learned)) {
			todo[ntodo++] = w;
			continue;
		}
		r->stats->kept++;
		/* an ETag the state lacked (an older version's): kept from now on */
		r->state_dirty |= learned;
	}
	if (r->s->o->dry_run) {
		for (size_t i = 0; i < ntodo; i++) {
			ssi_s3_emit(r->s, SS_EV_ADD, todo[i]->rel, todo[i]->size, NULL);
			count_up(r, todo[i]);
		}
	} else if (ntodo) {
		rc = upload_items(r->s, r->tree, r->source, r->skey, todo, ntodo, &r->st, r->stats, err);
		r->state_dirty = 1;
		if (rc != SS_OK && r->stats->uploaded) {
			/* What did go up need not go again (best effort: the
			 * store may be what failed). */
			struct ss_error ignored;
			save_state(r->s, r->skey, &r->st, &ignored);
		}
	}
	free(todo);
	return rc;
}

/* Puts the document E, which must still be what was hashed. */
static int put_doc(struct run *r, struct want *e, struct ss_error *err)
{
	char *full = ssi_s3_asprintf("%s/%s", r->tree, e->rel), *data = NULL;
	size_t len = 0;
	if (!full)
		return ssi_err(err, SS_FATAL, "out of memory");
	int rc = ss_fetch(full, 256u << 20, &data, &len, err);
	free(full);
	if (rc != SS_OK)
		return rc;
	char sha[65];
	ssi_s3_sha256_hex(data, len, sha);
	if (strcmp(sha, e->sha256) != 0 || (long long)len != e->size) {
		free(data);
		return ssi_err(err, SS_TEMPFAIL, "'%s/%s' changed while it was published", r->tree, e->rel);
	}
	if (e->doc == 1 && (rc = ssi_s3_switch(r->s, &r->l, &r->live, r->tree, e->rel, data, len, err)) != SS_OK) {
		free(data);
		return rc;
	}
	size_t nl = strlen(e->rel);
	const char *ctype = nl > 5 && strcmp(e->rel + nl - 5, ".json") == 0 ? "application/json"
									  : "text/plain; charset=utf-8";
	char etag[80];
	rc = ssi_s3_put(r->s, e->key, data, len, ctype, CC_DOCS, r->s->o->acl, NULL, etag, err);
	if (rc == SS_OK)
		ssi_s3_etag_set(e->etag, etag, etag + strlen(etag));
	free(data);
	return rc;
}

/* The products files, then the indexes (after the state that records the
 * items they name). */
static int put_docs(struct run *r, struct ss_error *err)
{
	for (size_t i = 0; i < r->w.n; i++) {
		struct want *e = &r->w.v[i];
		if (!e->doc)
			continue;
		if (have(&r->l, &r->st, e, NULL)) {
			r->stats->kept++;
			continue;
		}
		ssi_s3_emit(r->s, SS_EV_ADD, e->rel, e->size, NULL);
		if (r->s->o->dry_run) {
			count_up(r, e);
			continue;
		}
		int rc = ssi_s3_lock_check(r->s, err);
		if (rc == SS_OK && e->doc == 2 && r->state_dirty) {
			/* Record the items before the index names them. */
			rc = save_state(r->s, r->skey, &r->st, err);
			r->state_dirty = rc != SS_OK;
		}
		if (rc == SS_OK)
			rc = put_doc(r, e, err);
		if (rc != SS_OK)
			return rc;
		count_up(r, e);
		if (ssi_s3_state_add_sent(&r->st, e->key, e->sha256, e->size, e->etag) != 0)
			return ssi_err(err, SS_FATAL, "out of memory");
		r->state_dirty = 1;
	}
	return SS_OK;
}

/* The listed object O the documents no longer name: deleted once the
 * grace period, counted from the first run that saw it unnamed, is over;
 * else remembered in the next state. */
static int prune_one(struct run *r, const struct ssi_s3_obj *o, long long now, struct ss_error *err)
{
	struct ss_s3 *s = r->s;
	size_t plen = strlen(s->prefix);
	const struct ssi_ledger_entry *g = ssi_s3_state_gone(&r->st, o->key);
	long long since = g ? g->since : now;
	if (now - since >= s->o->grace) {
		ssi_s3_emit(s, SS_EV_REMOVE, o->key + plen, o->size, NULL);
		r->stats->deleted++;
		r->stats->bytes_deleted += o->size;
		if (s->o->dry_run)
			return SS_OK;
		int rc = ssi_s3_lock_check(s, err);
		if (rc == SS_OK)
			rc = ssi_s3_delete(s, o->key, err);
		r->state_dirty |= rc == SS_OK;
		return rc;
	}
	const struct ssi_s3_sent *e = ssi_s3_state_sent(&r->st, o->key);
	int grc = ssi_s3_state_add_gone(&r->next, o->key, since);
	if (grc == -2) {
		/* not a path the ledger keeps (a backslash): no document of ours
		 * named it, and it is left alone */
		ssi_s3_emit(s, SS_EV_WARN, o->key + plen, -1, "not a plain path: never deleted");
		return SS_OK;
	}
	if ((e && ssi_s3_state_add_sent(&r->next, o->key, e->sha256, e->size, e->etag) != 0) || grc != 0)
		return ssi_err(err, SS_FATAL, "out of memory");
	if (!g)
		r->state_dirty = 1;
	return SS_OK;
}

/* What the documents no longer name, and the state the next run reads. */
static int prune(struct run *r, struct ss_error *err)
{
	struct wants *w = &r->w;
	qsort(w->v, w->n, sizeof(*w->v), ssi_s3_want_cmp_key);
	long long now = (long long)time(NULL);
	size_t plen = strlen(r->s->prefix);
	for (size_t i = 0; i < w->n; i++)
		if (ssi_s3_state_add_sent(&r->next, w->v[i].key, w->v[i].sha256, w->v[i].size, w->v[i].etag) != 0)
			return ssi_err(err, SS_FATAL, "out of memory");
	for (size_t i = 0; i < r->l.n; i++) {
		const struct ssi_s3_obj *o = &r->l.objs[i];
		if (strncmp(o->key + plen, ".sstream/", 9) == 0)
			continue;
		struct want k = { .key = o->key };
		if (w->n && bsearch(&k, w->v, w->n, sizeof(k), ssi_s3_want_cmp_key))
			continue;
		int rc = prune_one(r, o, now, err);
		if (rc != SS_OK)
			return rc;
	}
	/* Entries for objects gone from the bucket are dropped too. */
	if (r->next.nsent != r->st.nsent || r->next.gone.n != r->st.gone.n)
		r->state_dirty = 1;
	if (r->state_dirty && !r->s->o->dry_run)
		return save_state(r->s, r->skey, &r->next, err);
	return SS_OK;
}

/* The tree's wants in publishing order, the listing and the state. */
static int plan(struct run *r, struct ss_tree **tp, struct ss_error *err)
{
	char *sdata = NULL;
	size_t slen = 0;
	int rc;
	if ((rc = ssi_s3_add_items(r->s, &r->w, r->tree, r->source != NULL, tp, err)) != SS_OK ||
	    (rc = ssi_s3_add_docs(r->s, &r->w, r->tree, "streams", err)) != SS_OK)
		return rc;
	qsort(r->w.v, r->w.n, sizeof(*r->w.v), ssi_s3_want_cmp_order);
	/* The state only when the listing has it (taken under the lock: no
	 * other run writes it meanwhile).  A store whose listing lagged would
	 * cost uploads again and restart grace periods, never lose an object;
	 * a fresh prefix saves a GET whose 404 RGW sends late (its body
	 * behind Nagle and a delayed ACK, 40 ms). */
	if ((rc = ssi_s3_list_prefix(r->s, &r->l, err)) != SS_OK ||
	    (ssi_s3_list_find(&r->l, r->skey) &&
	     (rc = ssi_s3_get(r->s, r->skey, &sdata, &slen, NULL, err)) != SS_OK))
		return rc;
	if (sdata && ssi_s3_state_parse(sdata, slen, &r->st) != 0)
		rc = ssi_err(err, SS_FATAL, "out of memory");
	free(sdata);
	return rc;
}

int ss_s3_sync(struct ss_s3 *s, const char *tree, struct ss_s3_stats *stats, struct ss_error *err)
{
	return ss_s3_sync_from(s, tree, NULL, stats, err);
}

int ss_s3_sync_from(struct ss_s3 *s, const char *tree, const char *source, struct ss_s3_stats *stats,
		    struct ss_error *err)
{
	struct ss_s3_stats dummy;
	if (!stats)
		stats = &dummy;
	memset(stats, 0, sizeof(*stats));
	size_t req0 = s->requests;
	struct ss_tree *t = NULL;
	/* SOURCE as given to the mirror may name its index document. */
	char *root = source ? ss_tree_source_root(source) : NULL;
	if (source && !root)
		return ssi_err(err, SS_FATAL, "out of memory");
	struct run r = { .s = s, .tree = tree, .source = root, .stats = stats };
	r.skey = ssi_s3_full_key(s, ".sstream/state");
	int rc;
	/* Items, then products files, then indexes: a reader never finds a
	 * name whose object is not there yet. */
	if (!r.skey)
		rc = ssi_err(err, SS_FATAL, "out of memory");
	else if ((rc = plan(&r, &t, err)) == SS_OK && (rc = put_items(&r, err)) == SS_OK &&
		 (rc = put_docs(&r, err)) == SS_OK)
		rc = prune(&r, err);
	stats->requests = s->requests - req0;
	ssi_s3_wants_free(&r.w);
	ss_tree_free(t);
	ssi_s3_list_free(&r.l);
	ssi_s3_state_free(&r.st);
	ssi_s3_state_free(&r.next);
	json_decref(r.live);
	free(r.skey);
	free(root);
	return rc;
}
