/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parsers for what the mirror keeps in a bucket (the state object, the
 * lock object) and for the user's ~/.aws/credentials.  Pure functions over
 * (pointer, length) as in s3parse.c: nothing here reads beyond LEN,
 * assumes a NUL, or does I/O.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "s3_internal.h"

/* ---- The state object ---------------------------------------------------- */

static int is_hex64(const char *s, size_t n)
{
	if (n != 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (ssi_hexval(s[i]) < 0 || (s[i] >= 'A' && s[i] <= 'F'))
			return 0;
	return 1;
}

/* Splits the next whitespace-free field of [*P, E) off; NULL at the end. */
static const char *field(const char **p, const char *e, size_t *n)
{
	const char *s = *p;
	const char *sp = memchr(s, ' ', (size_t)(e - s));
	if (!sp)
		return NULL;
	*n = (size_t)(sp - s);
	*p = sp + 1;
	return s;
}

static char *dupn(const char *s, const char *e)
{
	char *k = malloc((size_t)(e - s) + 1);
	if (k) {
		memcpy(k, s, (size_t)(e - s));
		k[e - s] = '\0';
	}
	return k;
}

static int push_sent(struct ssi_s3_state *st, char *key, const char *sha256, long long size,
		     const char *etag)
{
	if (st->nsent == st->asent) {
		size_t na = st->asent ? st->asent * 2 : 64;
		struct ssi_s3_sent *ns = realloc(st->sent, na * sizeof(*ns));
		if (!ns)
			return -1;
		st->sent = ns;
		st->asent = na;
	}
	struct ssi_s3_sent *e = &st->sent[st->nsent++];
	e->key = key;
	memcpy(e->sha256, sha256, 64);
	e->sha256[64] = '\0';
	e->size = size;
	ssi_s3_etag_set(e->etag, etag, etag + strlen(etag));
	return 0;
}

int ssi_s3_state_parse(const char *data, size_t len, struct ssi_s3_state *st)
{
	const char *p = data, *end = data + len;
	int after_o = 0; /* the line before was an entry, kept */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *line = p;
		p = nl ? nl + 1 : end;
		int was_o = after_o;
		after_o = 0;
		if (le - line < 3 || line[1] != ' ')
			continue;
		if (line[0] == 'e') { /* the ETag of the entry above */
			if (was_o)
				ssi_s3_etag_set(st->sent[st->nsent - 1].etag, line + 2, le);
			continue;
		}
		/* "P" of the ledger, or the "d" it replaced */
		int lr = ssi_ledger_parse_line(&st->gone, line, (size_t)(le - line), SSI_LEDGER_OLD_S3, NULL);
		if (lr == -1)
			return -1;
		if (line[0] != 'o')
			continue;
		const char *q = line + 2;
		size_t n1, n2 = 0;
		const char *f1 = field(&q, le, &n1);
		const char *f2 = f1 ? field(&q, le, &n2) : NULL;
		/* What is left is the key: not empty, no NUL. */
		if (!f1 || q >= le || memchr(q, '\0', (size_t)(le - q)))
			continue;
		long long v;
		char *k;
		if (!f2 || !is_hex64(f1, n1) || ssi_s3_parse_num(f2, f2 + n2, &v) != 0)
			continue;
		if (!(k = dupn(q, le)) || push_sent(st, k, f1, v, "") != 0) {
			free(k);
			return -1;
		}
		after_o = 1;
	}
	ssi_s3_state_sort(st);
	return 0;
}

static int sent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ssi_s3_sent *)a)->key, ((const struct ssi_s3_sent *)b)->key);
}

/* Sorts, keeping one entry of each key. */
void ssi_s3_state_sort(struct ssi_s3_state *st)
{
	if (st->nsent) {
		size_t w = 0;
		qsort(st->sent, st->nsent, sizeof(*st->sent), sent_cmp);
		for (size_t i = 0; i < st->nsent; i++) {
			if (w && strcmp(st->sent[w - 1].key, st->sent[i].key) == 0) {
				free(st->sent[w - 1].key);
				st->sent[w - 1] = st->sent[i];
			} else {
				st->sent[w++] = st->sent[i];
			}
		}
		st->nsent = w;
	}
	ssi_ledger_seal(&st->gone);
}

const struct ssi_s3_sent *ssi_s3_state_sent(const struct ssi_s3_state *st, const char *key)
{
	if (!st->nsent)
		return NULL;
	struct ssi_s3_sent k = { .key = (char *)key };
	return bsearch(&k, st->sent, st->nsent, sizeof(k), sent_cmp);
}

const struct ssi_ledger_entry *ssi_s3_state_gone(const struct ssi_s3_state *st, const char *key)
{
	return ssi_ledger_find(&st->gone, key);
}

int ssi_s3_state_add_sent(struct ssi_s3_state *st, const char *key, const char *sha256,
			  long long size, const char *etag)
{
	if (strchr(key, '\n') || strlen(sha256) != 64)
		return -1;
	if (!etag)
		etag = "";
	struct ssi_s3_sent *found = (struct ssi_s3_sent *)ssi_s3_state_sent(st, key);
	if (found) {
		memcpy(found->sha256, sha256, 65);
		found->size = size;
		ssi_s3_etag_set(found->etag, etag, etag + strlen(etag));
		return 0;
	}
	char *k = strdup(key);
	if (!k || push_sent(st, k, sha256, size, etag) != 0) {
		free(k);
		return -1;
	}
	/* Keep the array sorted: move the new entry into place. */
	for (size_t i = st->nsent - 1; i > 0 && strcmp(st->sent[i - 1].key, st->sent[i].key) > 0; i--) {
		struct ssi_s3_sent t = st->sent[i - 1];
		st->sent[i - 1] = st->sent[i];
		st->sent[i] = t;
	}
	return 0;
}

int ssi_s3_state_add_gone(struct ssi_s3_state *st, const char *key, long long since)
{
	return ssi_ledger_add(&st->gone, key, since);
}

char *ssi_s3_state_dump(struct ssi_s3_state *st, size_t *len)
{
	ssi_ledger_seal(&st->gone);
	size_t n = 1;
	for (size_t i = 0; i < st->nsent; i++)
		n += strlen(st->sent[i].key) + 64 + 25 + 4 + 3 + SSI_S3_ETAG;
	n += ssi_ledger_text_len(&st->gone);
	char *out = malloc(n), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < st->nsent; i++) {
		size_t room = n - (size_t)(o - out);
		const struct ssi_s3_sent *e = &st->sent[i];
		int w = snprintf(o, room, "o %s %lld %s\n%s%s%s", e->sha256, e->size, e->key,
				 e->etag[0] ? "e " : "", e->etag, e->etag[0] ? "\n" : "");
		if (w < 0 || (size_t)w >= room) {
			free(out);
			return NULL;
		}
		o += w;
	}
	o = ssi_ledger_text(&st->gone, o);
	if (len)
		*len = (size_t)(o - out);
	return out;
}

void ssi_s3_state_free(struct ssi_s3_state *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->nsent; i++)
		free(st->sent[i].key);
	free(st->sent);
	ssi_ledger_free(&st->gone);
	memset(st, 0, sizeof(*st));
}

/* ---- The lock object ------------------------------------------------------ */

int ssi_s3_lock_parse(const char *data, size_t len, char *owner, size_t ownersz,
		      long long *expires)
{
	const char *p = data, *end = data + len;
	int have_owner = 0, have_exp = 0;
	if (!ownersz)
		return -1;
	owner[0] = '\0';
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if (le - p > 6 && memcmp(p, "owner ", 6) == 0) {
			ssi_printable(owner, ownersz, p + 6, (size_t)(le - p - 6));
			have_owner = 1;
		} else if (le - p > 8 && memcmp(p, "expires ", 8) == 0) {
			if (ssi_s3_parse_num(p + 8, le, expires) == 0)
				have_exp = 1;
		}
		p = nl ? nl + 1 : end;
	}
	return have_owner && have_exp ? 0 : -1;
}

/* ---- ~/.aws/credentials --------------------------------------------------- */

static void trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r'))
		(*e)--;
}

int ssi_s3_parse_credentials(const char *data, size_t len, const char *profile, char **ak,
			     char **sk, char **token)
{
	const char *p = data, *end = data + len;
	int in = 0, found = 0;
	size_t pl = strlen(profile);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *s = p, *e = nl ? nl : end;
		p = nl ? nl + 1 : end;
		trim(&s, &e);
		if (s == e || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			const char *ns = s + 1, *ne = e;
			if (ne > ns && ne[-1] == ']')
				ne--;
			trim(&ns, &ne);
			in = (size_t)(ne - ns) == pl && memcmp(ns, profile, pl) == 0;
			found |= in;
			continue;
		}
		if (!in)
			continue;
		const char *eq = memchr(s, '=', (size_t)(e - s));
		if (!eq)
			continue;
		const char *ks = s, *ke = eq, *vs = eq + 1, *ve = e;
		trim(&ks, &ke);
		trim(&vs, &ve);
		char **dst = NULL;
		size_t kl = (size_t)(ke - ks);
		if (kl == 17 && memcmp(ks, "aws_access_key_id", 17) == 0)
			dst = ak;
		else if (kl == 21 && memcmp(ks, "aws_secret_access_key", 21) == 0)
			dst = sk;
		else if (kl == 17 && memcmp(ks, "aws_session_token", 17) == 0)
			dst = token;
		if (!dst)
			continue;
		/* Keys go into an Authorization header: no control character. */
		int bad = 0;
		for (const char *c = vs; c < ve; c++)
			bad |= (unsigned char)*c < 0x20 || *c == 0x7f;
		if (bad)
			continue;
		char *v = malloc((size_t)(ve - vs) + 1);
		if (!v)
			return -1;
		memcpy(v, vs, (size_t)(ve - vs));
		v[ve - vs] = '\0';
		free(*dst);
		*dst = v;
	}
	return found ? 0 : -1;
}
