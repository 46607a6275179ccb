/*
 * Parsers for what comes back from an S3 server or sits in the user's AWS
 * files.  Pure functions over (pointer, length): nothing here reads beyond
 * LEN, assumes a NUL, or does I/O, so each one is a fuzz target as it is.
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

static int parse_size(const char *s, const char *e, long long *out)
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
		if (parse_size(ss, se, &o.size) != 0)
			return -1;
		if (elem(s, e, "ETag", &es, &ee)) {
			char tag[sizeof(o.etag) + 16];
			text_into(es, ee, tag, sizeof(tag));
			const char *t = tag;
			size_t tl = strlen(t);
			if (tl >= 2 && t[0] == '"' && t[tl - 1] == '"') {
				t++;
				tl -= 2;
			}
			if (tl < sizeof(o.etag)) {
				memcpy(o.etag, t, tl);
				o.etag[tl] = '\0';
			}
		}
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

char *ssi_s3_parse_upload_id(const char *xml, size_t len)
{
	const char *end = xml + len, *s, *e, *fs, *fe;
	if (!elem(xml, end, "InitiateMultipartUploadResult", &s, &e) ||
	    !elem(s, e, "UploadId", &fs, &fe) || fs == fe)
		return NULL;
	return xml_text(fs, fe);
}

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

static int push_sent(struct ssi_s3_state *st, char *key, const char *sha256, long long size)
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
	return 0;
}

static int push_gone(struct ssi_s3_state *st, char *key, long long since)
{
	if (st->ngone == st->agone) {
		size_t na = st->agone ? st->agone * 2 : 16;
		struct ssi_s3_gone *ng = realloc(st->gone, na * sizeof(*ng));
		if (!ng)
			return -1;
		st->gone = ng;
		st->agone = na;
	}
	st->gone[st->ngone].key = key;
	st->gone[st->ngone++].since = since;
	return 0;
}

int ssi_s3_state_parse(const char *data, size_t len, struct ssi_s3_state *st)
{
	const char *p = data, *end = data + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *line = p;
		p = nl ? nl + 1 : end;
		if (le - line < 3 || line[1] != ' ' || (line[0] != 'o' && line[0] != 'd'))
			continue;
		const char *q = line + 2;
		size_t n1, n2 = 0;
		const char *f1 = field(&q, le, &n1);
		const char *f2 = f1 && line[0] == 'o' ? field(&q, le, &n2) : NULL;
		/* What is left is the key: not empty, no NUL. */
		if (!f1 || q >= le || memchr(q, '\0', (size_t)(le - q)))
			continue;
		long long v;
		char *k;
		if (line[0] == 'o') {
			if (!f2 || !is_hex64(f1, n1) || parse_size(f2, f2 + n2, &v) != 0)
				continue;
			if (!(k = dupn(q, le)) || push_sent(st, k, f1, v) != 0) {
				free(k);
				return -1;
			}
		} else {
			if (parse_size(f1, f1 + n1, &v) != 0)
				continue;
			if (!(k = dupn(q, le)) || push_gone(st, k, v) != 0) {
				free(k);
				return -1;
			}
		}
	}
	ssi_s3_state_sort(st);
	return 0;
}

static int sent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ssi_s3_sent *)a)->key, ((const struct ssi_s3_sent *)b)->key);
}

static int gone_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ssi_s3_gone *)a)->key, ((const struct ssi_s3_gone *)b)->key);
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
	if (st->ngone) {
		size_t w = 0;
		qsort(st->gone, st->ngone, sizeof(*st->gone), gone_cmp);
		for (size_t i = 0; i < st->ngone; i++) {
			if (w && strcmp(st->gone[w - 1].key, st->gone[i].key) == 0) {
				free(st->gone[w - 1].key);
				st->gone[w - 1] = st->gone[i];
			} else {
				st->gone[w++] = st->gone[i];
			}
		}
		st->ngone = w;
	}
}

const struct ssi_s3_sent *ssi_s3_state_sent(const struct ssi_s3_state *st, const char *key)
{
	if (!st->nsent)
		return NULL;
	struct ssi_s3_sent k = { .key = (char *)key };
	return bsearch(&k, st->sent, st->nsent, sizeof(k), sent_cmp);
}

const struct ssi_s3_gone *ssi_s3_state_gone(const struct ssi_s3_state *st, const char *key)
{
	if (!st->ngone)
		return NULL;
	struct ssi_s3_gone k = { .key = (char *)key };
	return bsearch(&k, st->gone, st->ngone, sizeof(k), gone_cmp);
}

int ssi_s3_state_add_sent(struct ssi_s3_state *st, const char *key, const char *sha256,
			  long long size)
{
	if (strchr(key, '\n') || strlen(sha256) != 64)
		return -1;
	struct ssi_s3_sent *found = (struct ssi_s3_sent *)ssi_s3_state_sent(st, key);
	if (found) {
		memcpy(found->sha256, sha256, 65);
		found->size = size;
		return 0;
	}
	char *k = strdup(key);
	if (!k || push_sent(st, k, sha256, size) != 0) {
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
	if (strchr(key, '\n'))
		return -1;
	struct ssi_s3_gone *found = (struct ssi_s3_gone *)ssi_s3_state_gone(st, key);
	if (found) {
		found->since = since;
		return 0;
	}
	char *k = strdup(key);
	if (!k || push_gone(st, k, since) != 0) {
		free(k);
		return -1;
	}
	for (size_t i = st->ngone - 1; i > 0 && strcmp(st->gone[i - 1].key, st->gone[i].key) > 0; i--) {
		struct ssi_s3_gone t = st->gone[i - 1];
		st->gone[i - 1] = st->gone[i];
		st->gone[i] = t;
	}
	return 0;
}

char *ssi_s3_state_dump(const struct ssi_s3_state *st, size_t *len)
{
	size_t n = 1;
	for (size_t i = 0; i < st->nsent; i++)
		n += strlen(st->sent[i].key) + 64 + 25 + 4;
	for (size_t i = 0; i < st->ngone; i++)
		n += strlen(st->gone[i].key) + 25 + 4;
	char *out = malloc(n), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < st->nsent; i++) {
		size_t room = n - (size_t)(o - out);
		int w = snprintf(o, room, "o %s %lld %s\n", st->sent[i].sha256, st->sent[i].size,
				 st->sent[i].key);
		if (w < 0 || (size_t)w >= room) {
			free(out);
			return NULL;
		}
		o += w;
	}
	for (size_t i = 0; i < st->ngone; i++) {
		size_t room = n - (size_t)(o - out);
		int w = snprintf(o, room, "d %lld %s\n", st->gone[i].since, st->gone[i].key);
		if (w < 0 || (size_t)w >= room) {
			free(out);
			return NULL;
		}
		o += w;
	}
	*o = '\0';
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
	for (size_t i = 0; i < st->ngone; i++)
		free(st->gone[i].key);
	free(st->sent);
	free(st->gone);
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
			size_t i = 0;
			for (const char *q = p + 6; q < le && i + 1 < ownersz; q++)
				owner[i++] = (unsigned char)*q < 0x20 ? '?' : *q;
			owner[i] = '\0';
			have_owner = 1;
		} else if (le - p > 8 && memcmp(p, "expires ", 8) == 0) {
			if (parse_size(p + 8, le, expires) == 0)
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
