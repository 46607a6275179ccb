/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parsers for the XML replies of an S3 server and for listed keys (the
 * state, lock and credentials parsers are in s3state.c).  Pure functions
 * over (pointer, length): nothing here reads beyond LEN, assumes a NUL, or
 * does I/O, so each one is a fuzz target as it is.
 *
 * The XML replies of S3 are flat and machine-written; a full XML parser is
 * not needed to take the few elements we use, only care with bounds and
 * entities.  Anything unexpected is "malformed", never a crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "s3_internal.h"

static const char *memfind(const char *p, const char *end, const char *needle)
{
	size_t n = strlen(needle);
	while ((size_t)(end - p) >= n) {
		const char *q = memchr(p, needle[0], (size_t)(end - p) - n + 1);
		if (!q)
			return NULL;
		if (memcmp(q, needle, n) == 0)
			return q;
		p = q + 1;
	}
	return NULL;
}

/*
 * Finds the first element NAME in [P, END): sets [*CS, *CE) to its content
 * and returns the position after its end tag; NULL when there is none.
 * <NAME/> has empty content.  Attributes are skipped.
 */
static const char *elem(const char *p, const char *end, const char *name, const char **cs,
			const char **ce)
{
	size_t n = strlen(name);
	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		if (!lt)
			return NULL;
		const char *q = lt + 1;
		if ((size_t)(end - q) > n && memcmp(q, name, n) == 0 &&
		    (q[n] == '>' || q[n] == ' ' || q[n] == '/' || q[n] == '\t' || q[n] == '\n' ||
		     q[n] == '\r')) {
			const char *gt = memchr(q + n, '>', (size_t)(end - q - n));
			if (!gt)
				return NULL;
			if (gt[-1] == '/') {
				*cs = *ce = gt + 1;
				return gt + 1;
			}
			char close[80];
			if (n + 4 > sizeof(close))
				return NULL;
			close[0] = '<';
			close[1] = '/';
			memcpy(close + 2, name, n);
			close[n + 2] = '>';
			close[n + 3] = '\0';
			const char *c = memfind(gt + 1, end, close);
			if (!c)
				return NULL;
			*cs = gt + 1;
			*ce = c;
			return c + n + 3;
		}
		p = lt + 1;
	}
	return NULL;
}

/* Writes code point CP as UTF-8 at O (room for 4); returns bytes written. */
static size_t utf8(unsigned long cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * The text [S, E) with XML entities decoded, malloc'd and NUL-terminated;
 * NULL when out of memory or when it holds a NUL, a bad entity or a
 * character reference outside Unicode (keys must round-trip exactly).
 */
static char *xml_text(const char *s, const char *e)
{
	char *out = malloc((size_t)(e - s) + 1), *o = out;
	if (!out)
		return NULL;
	while (s < e) {
		if (*s == '\0')
			goto bad;
		if (*s != '&') {
			*o++ = *s++;
			continue;
		}
		const char *semi = memchr(s, ';', (size_t)(e - s));
		if (!semi || semi - s > 12)
			goto bad;
		size_t n = (size_t)(semi - s - 1);
		const char *ent = s + 1;
		if (n == 3 && memcmp(ent, "amp", 3) == 0)
			*o++ = '&';
		else if (n == 2 && memcmp(ent, "lt", 2) == 0)
			*o++ = '<';
		else if (n == 2 && memcmp(ent, "gt", 2) == 0)
			*o++ = '>';
		else if (n == 4 && memcmp(ent, "quot", 4) == 0)
			*o++ = '"';
		else if (n == 4 && memcmp(ent, "apos", 4) == 0)
			*o++ = '\'';
		else if (n >= 2 && ent[0] == '#') {
			unsigned long cp = 0;
			int hex = ent[1] == 'x' || ent[1] == 'X';
			size_t i = hex ? 2 : 1;
			if (i >= n)
				goto bad;
			for (; i < n; i++) {
				int v = hex ? ssi_hexval(ent[i]) : (ent[i] >= '0' && ent[i] <= '9' ? ent[i] - '0' : -1);
				if (v < 0)
					goto bad;
				cp = cp * (hex ? 16 : 10) + (unsigned long)v;
				if (cp > 0x10ffff)
					goto bad;
			}
			if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff))
				goto bad;
			o += utf8(cp, o); /* never longer than the reference it replaces */
		} else {
			goto bad;
		}
		s = semi + 1;
	}
	*o = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

/* Copies the text of [S, E) decoded into BUF (truncated); control
 * characters become spaces so it fits in a one-line message. */
static void text_into(const char *s, const char *e, char *buf, size_t bufsz)
{
	if (!bufsz)
		return;
	buf[0] = '\0';
	char *t = xml_text(s, e);
	if (!t)
		return;
	size_t i = 0;
	for (const char *p = t; *p && i + 1 < bufsz; p++)
		buf[i++] = (unsigned char)*p < 0x20 ? ' ' : *p;
	buf[i] = '\0';
	free(t);
}

void ssi_s3_etag_set(char *out, const char *s, const char *e)
{
	out[0] = '\0';
	if (e - s >= 2 && s[0] == '"' && e[-1] == '"') {
		s++;
		e--;
	}
	if (e - s >= SSI_S3_ETAG)
		return;
	for (const char *p = s; p < e; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '-'))
			return;
	memcpy(out, s, (size_t)(e - s));
	out[e - s] = '\0';
}

/* The ETag element [S, E) (XML text) into OUT (SSI_S3_ETAG bytes). */
static void etag_into(const char *s, const char *e, char *out)
{
	char *t = xml_text(s, e);
	out[0] = '\0';
	if (t)
		ssi_s3_etag_set(out, t, t + strlen(t));
	free(t);
}

int ssi_s3_parse_num(const char *s, const char *e, long long *out)
{
	long long v = 0;
	if (s == e)
		return -1;
	for (; s < e; s++) {
		if (*s < '0' || *s > '9' || v > (1LL << 53))
			return -1;
		v = v * 10 + (*s - '0');
	}
	*out = v;
	return 0;
}

int ssi_s3_parse_list(const char *xml, size_t len, struct ssi_s3_list *l)
{
	const char *end = xml + len, *cs, *ce;
	const char *body = elem(xml, end, "ListBucketResult", &cs, &ce) ? cs : NULL;
	if (!body)
		return -1;
	const char *bend = ce;
	/* The flags are children of the result, not of an entry: read them
	 * from the text outside the <Contents> elements. */
	l->truncated = 0;
	free(l->next_token);
	l->next_token = NULL;
	const char *p = body;
	for (;;) {
		const char *s, *e;
		const char *next = elem(p, bend, "Contents", &s, &e);
		const char *stop = next ? s : bend;
		const char *fs, *fe;
		if (elem(p, stop, "IsTruncated", &fs, &fe) && fe - fs == 4 && memcmp(fs, "true", 4) == 0)
			l->truncated = 1;
		if (elem(p, stop, "NextContinuationToken", &fs, &fe)) {
			free(l->next_token);
			if (!(l->next_token = xml_text(fs, fe)))
				return -1;
		}
		if (!next)
			break;
		const char *ks, *ke, *ss, *se, *es, *ee;
		if (!elem(s, e, "Key", &ks, &ke) || !elem(s, e, "Size", &ss, &se))
			return -1;
		struct ssi_s3_obj o = { 0 };
		if (ssi_s3_parse_num(ss, se, &o.size) != 0)
			return -1;
		if (elem(s, e, "ETag", &es, &ee))
			etag_into(es, ee, o.etag);
		if (!(o.key = xml_text(ks, ke)))
			return -1;
		if (l->n == l->alloc) {
			size_t na = l->alloc ? l->alloc * 2 : 64;
			struct ssi_s3_obj *no = realloc(l->objs, na * sizeof(*no));
			if (!no) {
				free(o.key);
				return -1;
			}
			l->objs = no;
			l->alloc = na;
		}
		l->objs[l->n++] = o;
		p = next;
	}
	if (l->truncated && !l->next_token)
		return -1; /* would list the same page forever */
	return 0;
}

const char *ssi_s3_key_rel(const char *prefix, const char *key)
{
	size_t plen = strlen(prefix);
	if (strncmp(key, prefix, plen) != 0 || !key[plen])
		return NULL;
	const char *rel = key + plen;
	for (const char *seg = rel;;) {
		const char *e = strchr(seg, '/');
		size_t n = e ? (size_t)(e - seg) : strlen(seg);
		if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return NULL;
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)seg[i] < 0x20 || seg[i] == 0x7f)
				return NULL;
		if (!e)
			return rel;
		seg = e + 1;
	}
}

void ssi_s3_list_free(struct ssi_s3_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->objs[i].key);
	free(l->objs);
	free(l->next_token);
	memset(l, 0, sizeof(*l));
}

static int obj_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ssi_s3_obj *)a)->key, ((const struct ssi_s3_obj *)b)->key);
}

void ssi_s3_list_sort(struct ssi_s3_list *l)
{
	if (l->n)
		qsort(l->objs, l->n, sizeof(*l->objs), obj_cmp);
}

const struct ssi_s3_obj *ssi_s3_list_find(const struct ssi_s3_list *l, const char *key)
{
	if (!l->n)
		return NULL;
	struct ssi_s3_obj k = { .key = (char *)key };
	return bsearch(&k, l->objs, l->n, sizeof(*l->objs), obj_cmp);
}

int ssi_s3_parse_error(const char *xml, size_t len, char *code, size_t codesz, char *msg,
		       size_t msgsz)
{
	const char *end = xml + len, *s, *e, *fs, *fe;
	if (codesz)
		code[0] = '\0';
	if (msgsz)
		msg[0] = '\0';
	if (!elem(xml, end, "Error", &s, &e))
		return -1;
	if (elem(s, e, "Code", &fs, &fe))
		text_into(fs, fe, code, codesz);
	if (elem(s, e, "Message", &fs, &fe))
		text_into(fs, fe, msg, msgsz);
	return 0;
}

int ssi_s3_parse_complete_etag(const char *xml, size_t len, char *out)
{
	const char *end = xml + len, *s, *e, *fs, *fe;
	out[0] = '\0';
	if (!elem(xml, end, "CompleteMultipartUploadResult", &s, &e) || !elem(s, e, "ETag", &fs, &fe))
		return -1;
	etag_into(fs, fe, out);
	return out[0] ? 0 : -1;
}

char *ssi_s3_parse_upload_id(const char *xml, size_t len)
{
	const char *end = xml + len, *s, *e, *fs, *fe;
	if (!elem(xml, end, "InitiateMultipartUploadResult", &s, &e) ||
	    !elem(s, e, "UploadId", &fs, &fe) || fs == fe)
		return NULL;
	return xml_text(fs, fe);
}
