/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Items as compact records (model_internal.h): a document's items are most
 * of its size, and a jansson object per item costs about ten times its
 * text.  A record is the item's name and its fields, NUL-separated, in an
 * arena of large blocks that the products object frees at once.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

#define BLOCK_SIZE ((size_t)1 << 20)

struct ssi_arena_block {
	struct ssi_arena_block *next;
	size_t used, size;
	char data[];
};

void ssi_arena_free(struct ssi_arena_block *a)
{
	while (a) {
		struct ssi_arena_block *next = a->next;
		free(a);
		a = next;
	}
}

/* N bytes from P's arena, or NULL. */
static char *arena_alloc(struct ss_products *p, size_t n)
{
	struct ssi_arena_block *b = p->arena;
	if (!b || b->size - b->used < n) {
		size_t size = n > BLOCK_SIZE / 4 ? n : BLOCK_SIZE;
		if (!(b = malloc(sizeof(*b) + size)))
			return NULL;
		b->used = 0;
		b->size = size;
		/* a large record gets a block of its own, behind the current one */
		if (size != BLOCK_SIZE && p->arena) {
			b->next = p->arena->next;
			p->arena->next = b;
		} else {
			b->next = p->arena;
			p->arena = b;
		}
	}
	char *out = b->data + b->used;
	b->used += n;
	return out;
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
	for (size_t i = 0; i < p->nvers; i++)
		free(p->vers[i]);
	free(p->vers);
	ssi_arena_free(p->arena);
	free(p->bad);
	free(p->text);
	free(p);
}

struct ssi_ver *ssi_ver_add(struct ss_products *p, json_t *prod, json_t *ver, const char *pname,
			    const char *vname)
{
	if (p->nvers == p->vers_alloc) {
		size_t na = p->vers_alloc ? 2 * p->vers_alloc : 16;
		struct ssi_ver **nv = realloc(p->vers, na * sizeof(*nv));
		if (!nv)
			return NULL;
		p->vers = nv;
		p->vers_alloc = na;
	}
	struct ssi_ver *v = malloc(sizeof(*v));
	if (!v)
		return NULL;
	*v = (struct ssi_ver){ p, prod, ver, pname, vname };
	p->vers[p->nvers++] = v;
	return v;
}

/* The type byte and the text of a field's value; *DUMPED is a malloc'd
 * text to free (lists and objects, reals). */
static char value_text(json_t *v, const char **text, char **dumped, char *num, size_t numsz)
{
	*dumped = NULL;
	switch (json_typeof(v)) {
	case JSON_STRING:
		*text = json_string_value(v);
		return 's';
	case JSON_INTEGER:
		snprintf(num, numsz, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		*text = num;
		return 'i';
	case JSON_REAL:
		*text = *dumped = json_dumps(v, JSON_ENCODE_ANY);
		return 'r';
	case JSON_TRUE:
		*text = "";
		return 't';
	case JSON_FALSE:
		*text = "";
		return 'f';
	case JSON_NULL:
		*text = "";
		return 'n';
	default:
		*text = *dumped = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
		return 'j';
	}
}

int ssi_rec_add(struct ss_products *p, const struct ssi_ver *v, const char *iname, json_t *item, char *at,
		size_t *room)
{
	if (p->nitems == p->items_alloc) {
		size_t na = p->items_alloc ? p->items_alloc + p->items_alloc / 2 : 64;
		struct ss_item *ni = realloc(p->items, na * sizeof(*ni));
		if (!ni)
			return SS_FATAL;
		p->items = ni;
		p->items_alloc = na;
	}
	const char *k, *text;
	json_t *val;
	char *dumped, num[32];
	size_t size = strlen(iname) + 2;
	json_object_foreach(item, k, val) {
		value_text(val, &text, &dumped, num, sizeof(num));
		if (!text)
			return SS_FATAL;
		size += 1 + strlen(k) + 1 + strlen(text) + 1;
		free(dumped);
	}
	/* in place of the item's text when it fits, else in the arena */
	char *rec = at && size <= *room ? at : arena_alloc(p, size), *w = rec;
	if (!rec)
		return SS_FATAL;
	if (at)
		*room = rec == at ? size : 0;
	w = stpcpy(w, iname) + 1;
	json_object_foreach(item, k, val) {
		*w++ = value_text(val, &text, &dumped, num, sizeof(num));
		if (!text)
			return SS_FATAL;
		w = stpcpy(w, k) + 1;
		w = stpcpy(w, text) + 1;
		free(dumped);
	}
	*w = '\0';
	p->items[p->nitems++] = (struct ss_item){ v, rec };
	return SS_OK;
}

/* ---- Items read in two halves, one on a thread of its own ---- */

struct half {
	struct ss_products shell; /* its items and arena only */
	const char *text, *names;
	char *own;                /* records over the text read (else NULL) */
	const struct ssi_pend *pend;
	size_t n;
	size_t failed;            /* the first item refused (N: none) */
	const char *why;          /* and why */
	int rc;
};

static void *half_main(void *ud)
{
	struct half *h = ud;
	h->rc = SS_OK;
	size_t w = h->n ? h->pend[0].from : 0; /* (where the next record may go) */
	for (h->failed = 0; h->rc == SS_OK && h->failed < h->n; h->failed++) {
		const struct ssi_pend *e = &h->pend[h->failed];
		/* (as the reader reads a value: model_scan.c read_value) */
		json_t *item = json_loadb(h->text + e->from, e->end - e->from, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
					  NULL);
		size_t room = e->end - w;
		h->why = item ? "out of memory" : "invalid value";
		if (!item)
			h->rc = SS_FATAL;
		else if (json_is_object(item))
			h->rc = ssi_rec_add(&h->shell, e->v, h->names + e->name, item, h->own ? h->own + w : NULL, &room);
		if (h->own && item && h->rc == SS_OK) /* (past a value that is no object) */
			w += room;
		json_decref(item);
	}
	if (h->rc != SS_OK)
		h->failed--;
	return NULL;
}

/* H's records into P, after P's own; *RC SS_FATAL when out of memory or H
 * failed (then H's records are freed). */
static void half_join(struct ss_products *p, struct half *h, int *rc)
{
	if (*rc == SS_OK && h->rc != SS_OK)
		*rc = SS_FATAL;
	if (*rc == SS_OK && h->shell.nitems) {
		struct ss_item *items = realloc(p->items, (p->nitems + h->shell.nitems) * sizeof(*items));
		if (items) {
			memcpy(items + p->nitems, h->shell.items, h->shell.nitems * sizeof(*items));
			p->items = items;
			p->nitems = p->items_alloc = p->nitems + h->shell.nitems;
		} else {
			*rc = SS_FATAL;
		}
	}
	struct ssi_arena_block *tail = h->shell.arena;
	while (*rc == SS_OK && tail && tail->next)
		tail = tail->next;
	if (*rc == SS_OK && tail) { /* (the blocks go to P, the new ones first) */
		tail->next = p->arena;
		p->arena = h->shell.arena;
	} else if (*rc != SS_OK) {
		ssi_arena_free(h->shell.arena);
	}
	free(h->shell.items);
}

int ssi_rec_add_many(struct ss_products *p, const char *text, char *own, const char *names,
		     const struct ssi_pend *pend, size_t n, size_t *failed, const char **why)
{
	*failed = n;
	*why = NULL;
	if (!n)
		return SS_OK;
	/* halves of about the same text */
	size_t mid = 0, half = (pend[n - 1].end - pend[0].from) / 2;
	while (mid < n && pend[mid].from - pend[0].from < half)
		mid++;
	struct half h[2] = { { .text = text, .own = own, .names = names, .pend = pend, .n = mid },
			     { .text = text, .own = own, .names = names, .pend = pend + mid, .n = n - mid } };
	pthread_t th;
	int threaded = pthread_create(&th, NULL, half_main, &h[1]) == 0;
	half_main(&h[0]);
	if (threaded)
		pthread_join(th, NULL);
	else
		half_main(&h[1]);
	/* the first refusal in the text's order, and why */
	int rc = h[0].rc != SS_OK ? h[0].rc : h[1].rc;
	if (rc != SS_OK) {
		*failed = h[0].rc != SS_OK ? h[0].failed : mid + h[1].failed;
		*why = h[0].rc != SS_OK ? h[0].why : h[1].why;
	}
	half_join(p, &h[0], &rc);
	half_join(p, &h[1], &rc);
	return rc;
}

int ssi_rec_next(const char **pos, struct ssi_recf *f)
{
	const char *s = *pos;
	/* from the record itself: past its name */
	if (f->type == 0 && f->key == NULL)
		s += strlen(s) + 1;
	if (!*s)
		return 0;
	f->type = *s++;
	f->key = s;
	s += strlen(s) + 1;
	f->val = s;
	*pos = s + strlen(s) + 1;
	return 1;
}

int ssi_rec_find(const char *rec, const char *key, struct ssi_recf *f)
{
	const char *pos = rec;
	*f = (struct ssi_recf){ 0 };
	while (ssi_rec_next(&pos, f))
		if (f->key[0] == key[0] && strcmp(f->key, key) == 0)
			return 1;
	return 0;
}

json_t *ssi_recf_json(const struct ssi_recf *f)
{
	switch (f->type) {
	case 's': return json_string(f->val);
	case 'i': return json_integer(strtoll(f->val, NULL, 10));
	case 'r': return json_real(strtod(f->val, NULL));
	case 't': return json_true();
	case 'f': return json_false();
	case 'n': return json_null();
	default: return json_loads(f->val, JSON_DECODE_ANY, NULL);
	}
}

json_t *ssi_item_object(const struct ss_item *it)
{
	json_t *o = json_object();
	const char *pos = it->rec;
	struct ssi_recf f = { 0 };
	while (o && ssi_rec_next(&pos, &f)) {
		json_t *v = ssi_recf_json(&f);
		if (!v || json_object_set_new(o, f.key, v)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

const char *ssi_item_own_str(const struct ss_item *it, const char *key)
{
	struct ssi_recf f;
	return ssi_rec_find(it->rec, key, &f) && f.type == 's' ? f.val : NULL;
}

long long ssi_item_own_int(const struct ss_item *it, const char *key)
{
	struct ssi_recf f;
	return ssi_rec_find(it->rec, key, &f) && f.type == 'i' ? strtoll(f.val, NULL, 10) : 0;
}
