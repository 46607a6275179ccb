/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ledger of files waiting out their grace period: parse (strict, with
 * the old formats as a migration), add or update, expire, and the text
 * form.  The format is described in ledger.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger.h"

#define SINCE_DIGITS 18 /* below LLONG_MAX: now - since cannot overflow */
#define SINCE_MAX 999999999999999999LL

/* The decimal time [S, E); -1 when it is not one we write. */
static long long since_parse(const char *s, const char *e)
{
	if (s == e || e - s > SINCE_DIGITS)
		return -1;
	long long v = 0;
	for (; s < e; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

/* 0 when PATH (LEN bytes, not NUL-terminated) may be listed, else -2 with
 * WHY filled. */
static int path_ok(const char *path, size_t len, struct ss_error *why)
{
	if (len > SSI_LEDGER_PATH_MAX) {
		ssi_err(why, SS_FATAL, "ledger path of %zu bytes: longer than %d", len, SSI_LEDGER_PATH_MAX);
		return -2;
	}
	if (memchr(path, '\0', len)) {
		ssi_err(why, SS_FATAL, "ledger path holding a NUL byte");
		return -2;
	}
	char buf[SSI_LEDGER_PATH_MAX + 1];
	memcpy(buf, path, len);
	buf[len] = '\0';
	return ss_path_check(buf, why) == SS_OK ? 0 : -2;
}

static int push(struct ssi_ledger *l, const char *path, size_t len, long long since)
{
	if (ssi_fail_injected())
		return -1;
	if (l->n == l->alloc) {
		size_t na = l->alloc ? 2 * l->alloc : 32;
		struct ssi_ledger_entry *nv = realloc(l->v, na * sizeof(*nv));
		if (!nv)
			return -1;
		l->v = nv;
		l->alloc = na;
	}
	char *p = malloc(len + 1);
	if (!p)
		return -1;
	memcpy(p, path, len);
	p[len] = '\0';
	l->v[l->n].path = p;
	l->v[l->n].since = since;
	l->v[l->n++].seq = l->seq++;
	l->unsorted = l->n > 1;
	return 0;
}

int ssi_ledger_parse_line(struct ssi_ledger *l, const char *s, size_t len, unsigned old,
			  struct ss_error *why)
{
	const char *e = s + len, *t = s;
	if (len >= 2 && s[0] == 'P' && s[1] == ' ')
		t = s + 2;
	else if ((old & SSI_LEDGER_OLD_S3) && len >= 2 && s[0] == 'd' && s[1] == ' ')
		t = s + 2;
	else if (!(old & SSI_LEDGER_OLD_BARE) || len == 0 || s[0] < '0' || s[0] > '9')
		return 0;
	const char *sp = memchr(t, ' ', (size_t)(e - t));
	long long since = sp ? since_parse(t, sp) : -1;
	if (since < 0) {
		ssi_err(why, SS_FATAL, "ledger line without a time of at most %d digits", SINCE_DIGITS);
		return -2;
	}
	int rc = path_ok(sp + 1, (size_t)(e - sp - 1), why);
	if (rc == 0 && l->n >= SSI_LEDGER_MAX) {
		ssi_err(why, SS_FATAL, "ledger of more than %zu entries", SSI_LEDGER_MAX);
		rc = -2;
	}
	if (rc == 0 && push(l, sp + 1, (size_t)(e - sp - 1), since) != 0)
		rc = -1;
	return rc == 0 ? 1 : rc;
}

int ssi_ledger_parse(struct ssi_ledger *l, const char *data, size_t len, unsigned old, size_t *bad)
{
	const char *p = data, *end = data + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		int rc = ssi_ledger_parse_line(l, p, (size_t)(le - p), old, NULL);
		if (rc == -1)
			return -1;
		if (rc == -2 && bad)
			(*bad)++;
		p = nl ? nl + 1 : end;
	}
	ssi_ledger_seal(l);
	return 0;
}

int ssi_ledger_add(struct ssi_ledger *l, const char *path, long long since)
{
	size_t len = strlen(path);
	if (since < 0 || since > SINCE_MAX || path_ok(path, len, NULL) != 0)
		return -2;
	int in_order = !l->unsorted && (!l->n || strcmp(l->v[l->n - 1].path, path) < 0);
	if (!l->unsorted && !in_order) {
		struct ssi_ledger_entry *f = (struct ssi_ledger_entry *)ssi_ledger_find(l, path);
		if (f) {
			f->since = since;
			f->seq = l->seq++;
			return 0;
		}
	}
	if (l->n >= SSI_LEDGER_MAX)
		return -2;
	int rc = push(l, path, len, since);
	/* added in order of path (as listings and sorted sets come): still sealed */
	if (rc == 0 && in_order)
		l->unsorted = 0;
	return rc;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct ssi_ledger_entry *x = a, *y = b;
	int c = strcmp(x->path, y->path);
	return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

void ssi_ledger_seal(struct ssi_ledger *l)
{
	if (!l->unsorted)
		return;
	l->unsorted = 0;
	if (!l->n)
		return;
	qsort(l->v, l->n, sizeof(*l->v), cmp_entry);
	size_t w = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (w && strcmp(l->v[w - 1].path, l->v[i].path) == 0) {
			free(l->v[w - 1].path);
			l->v[w - 1] = l->v[i];
		} else {
			l->v[w++] = l->v[i];
		}
	}
	l->n = w;
}

static int cmp_key(const void *k, const void *e)
{
	return strcmp(k, ((const struct ssi_ledger_entry *)e)->path);
}

const struct ssi_ledger_entry *ssi_ledger_find(const struct ssi_ledger *l, const char *path)
{
	if (!l->n || l->unsorted)
		return NULL;
	return bsearch(path, l->v, l->n, sizeof(*l->v), cmp_key);
}

size_t ssi_ledger_count_due(const struct ssi_ledger *l, long long now, long long grace)
{
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++)
		n += ssi_ledger_due(l->v[i].since, now, grace);
	return n;
}

void ssi_ledger_expire(struct ssi_ledger *l, long long now, long long grace,
		       int (*del)(void *ud, const char *path), void *ud)
{
	ssi_ledger_seal(l);
	size_t keep = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (ssi_ledger_due(l->v[i].since, now, grace) && del(ud, l->v[i].path) == 0)
			free(l->v[i].path);
		else
			l->v[keep++] = l->v[i];
	}
	l->n = keep;
}

size_t ssi_ledger_text_len(const struct ssi_ledger *l)
{
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++)
		n += strlen(l->v[i].path) + SINCE_DIGITS + 4;
	return n;
}

char *ssi_ledger_text(const struct ssi_ledger *l, char *p)
{
	for (size_t i = 0; i < l->n; i++)
		p += sprintf(p, "P %lld %s\n", l->v[i].since, l->v[i].path);
	*p = '\0';
	return p;
}

void ssi_ledger_free(struct ssi_ledger *l)
{
	for (size_t i = 0; l && i < l->n; i++)
		free(l->v[i].path);
	if (l) {
		free(l->v);
		memset(l, 0, sizeof(*l));
	}
}
