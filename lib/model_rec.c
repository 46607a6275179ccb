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

/* Room in P's items for one more; SS_FATAL when out of memory. */
static int items_room(struct ss_products *p)
{
	if (p->nitems == p->items_alloc) {
		size_t na = p->items_alloc ? p->items_alloc + p->items_alloc / 2 : 64;
		struct ss_item *ni = realloc(p->items, na * sizeof(*ni));
		if (!ni)
			return SS_FATAL;
		p->items = ni;
		p->items_alloc = na;
	}
	return SS_OK;
}

/* Where a record of SIZE bytes goes: AT when it fits in *ROOM (then *ROOM
 * is SIZE, else 0), or P's arena; NULL when out of memory. */
static char *rec_place(struct ss_products *p, size_t size, char *at, size_t *room)
{
	char *rec = at && size <= *room ? at : arena_alloc(p, size);
	if (rec && at)
		*room = rec == at ? size : 0;
	return rec;
}

int ssi_rec_add(struct ss_products *p, const struct ssi_ver *v, const char *iname, json_t *item, char *at,
		size_t *room)
{
	if (items_room(p) != SS_OK)
		return SS_FATAL;
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
	char *rec = rec_place(p, size, at, room), *w = rec;
	if (!rec)
		return SS_FATAL;
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

/* ---- Items of plain fields, read without jansson ---- */

/* Most items are flat objects of short strings and integers, and a
 * record is made from such text directly, about ten times faster than
 * through a jansson object.  Only text that jansson reads into the very
 * same record is taken here: member names and strings of printable ASCII
 * without escapes, integers of at most 18 digits other than -0, true,
 * false and null, each member name once.  Anything else, an item of more
 * fields or bytes than below included, goes to jansson (and its refusals
 * are jansson's).  tests/fuzz/fuzz_products.c holds the two to the same
 * record. */
#define FLAT_FIELDS 32
#define FLAT_MAX 4096

struct flat {
	const char *s;
	size_t n, i;
	char *w, *end; /* the record, and the end of its buffer */
};

static void flat_ws(struct flat *f)
{
	while (f->i < f->n && (f->s[f->i] == ' ' || f->s[f->i] == '\n' || f->s[f->i] == '\r' || f->s[f->i] == '\t'))
		f->i++;
}

/* The plain string at f->i into *FROM and *LEN; -1 when it is none. */
static int flat_string(struct flat *f, const char **from, size_t *len)
{
	if (f->i >= f->n || f->s[f->i] != '"')
		return -1;
	size_t j = f->i + 1;
	for (; j < f->n && f->s[j] != '"'; j++)
		if ((unsigned char)f->s[j] < 0x20 || (unsigned char)f->s[j] > 0x7e || f->s[j] == '\\')
			return -1;
	if (j >= f->n)
		return -1;
	*from = f->s + f->i + 1;
	*len = j - f->i - 1;
	f->i = j + 1;
	return 0;
}

/* The scalar at f->i into *FROM and *LEN: its type byte, or 0. */
static char flat_scalar(struct flat *f, const char **from, size_t *len)
{
	static const char *const words[] = { "true", "false", "null" };
	if (f->i >= f->n)
		return 0;
	char c = f->s[f->i];
	if (c == '"')
		return flat_string(f, from, len) == 0 ? 's' : 0;
	for (int k = 0; k < 3; k++) {
		size_t wl = strlen(words[k]);
		if (c == words[k][0] && f->n - f->i >= wl && memcmp(f->s + f->i, words[k], wl) == 0) {
			f->i += wl;
			*from = "";
			*len = 0;
			return "tfn"[k];
		}
	}
	/* -?(0|[1-9][0-9]*): whatever follows is for the caller to refuse */
	size_t j = f->i + (c == '-');
	if (j >= f->n || f->s[j] < '0' || f->s[j] > '9')
		return 0;
	if (f->s[j] == '0')
		j++;
	else
		while (j < f->n && f->s[j] >= '0' && f->s[j] <= '9')
			j++;
	/* (jansson writes -0 as 0; 18 digits never overflow) */
	if (j - f->i > 18 + (c == '-') || (c == '-' && f->s[f->i + 1] == '0'))
		return 0;
	*from = f->s + f->i;
	*len = j - f->i;
	f->i = j;
	return 'i';
}

/* Appends LEN bytes and a NUL to the record; -1 when they do not fit. */
static int flat_put(struct flat *f, const char *from, size_t len)
{
	if ((size_t)(f->end - f->w) < len + 1)
		return -1;
	memcpy(f->w, from, len);
	f->w[len] = '\0';
	f->w += len + 1;
	return 0;
}

/* The record of item INAME from its text into BUF: its size, or 0 when
 * the text is not a flat object as above. */
static size_t flat_record(const char *iname, const char *text, size_t len, char *buf, size_t cap)
{
	struct flat f = { text, len, 0, buf, buf + cap - 1 }; /* (room for the end) */
	const char *keys[FLAT_FIELDS];
	size_t klen[FLAT_FIELDS], nk = 0;
	if (flat_put(&f, iname, strlen(iname)) < 0)
		return 0;
	flat_ws(&f);
	if (f.i >= f.n || text[f.i++] != '{')
		return 0;
	flat_ws(&f);
	int more = f.i < f.n && text[f.i] != '}';
	while (more) {
		const char *k, *val;
		size_t kl, vl;
		if (nk == FLAT_FIELDS || flat_string(&f, &k, &kl) < 0)
			return 0;
		for (size_t j = 0; j < nk; j++)
			if (klen[j] == kl && memcmp(keys[j], k, kl) == 0)
				return 0;
		keys[nk] = k;
		klen[nk++] = kl;
		flat_ws(&f);
		if (f.i >= f.n || text[f.i++] != ':')
			return 0;
		flat_ws(&f);
		char type = flat_scalar(&f, &val, &vl);
		if (!type || f.w == f.end)
			return 0;
		*f.w++ = type;
		if (flat_put(&f, k, kl) < 0 || flat_put(&f, val, vl) < 0)
			return 0;
		flat_ws(&f);
		more = f.i < f.n && text[f.i] == ',';
		if (more) {
			f.i++;
			flat_ws(&f);
		}
	}
	if (f.i >= f.n || text[f.i++] != '}')
		return 0;
	flat_ws(&f);
	if (f.i != f.n)
		return 0;
	*f.w++ = '\0';
	return (size_t)(f.w - buf);
}

int ssi_rec_add_text(struct ss_products *p, const struct ssi_ver *v, const char *iname, const char *text,
		     size_t len, char *at, size_t *room)
{
	char buf[FLAT_MAX];
	size_t size = flat_record(iname, text, len, buf, sizeof(buf));
	if (size) {
		char *rec = items_room(p) == SS_OK ? rec_place(p, size, at, room) : NULL;
		if (!rec)
			return SS_FATAL;
		memcpy(rec, buf, size);
		p->items[p->nitems++] = (struct ss_item){ v, rec };
		return SS_OK;
	}
	json_t *item = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
	if (!item)
		return SSI_REC_INVALID;
	int rc = json_is_object(item) ? ssi_rec_add(p, v, iname, item, at, room) : SS_OK;
	json_decref(item);
	return rc;
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
		size_t room = e->end - w;
		int rc = ssi_rec_add_text(&h->shell, e->v, h->names + e->name, h->text + e->from, e->end - e->from,
					  h->own ? h->own + w : NULL, &room);
		h->why = rc == SSI_REC_INVALID ? "invalid value" : "out of memory";
		h->rc = rc == SS_OK ? SS_OK : SS_FATAL;
		if (h->own && h->rc == SS_OK) /* (past a value that is no object, too) */
			w += room;
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
