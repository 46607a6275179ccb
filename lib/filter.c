/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Filters: KEY=V, KEY!=V, KEY~RE, KEY!~RE, ANDed, matched against the
 * flattened item.  Regexes are the ones users copy from the upstream
 * (Python re) documentation, so they go to PCRE2 in Unicode mode, where
 * \d, \w, (?i) and (?P<name>...) mean what Python means by them.
 */
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "internal.h"

enum op { OP_EQ, OP_NE, OP_RE, OP_NRE };

struct expr {
	char *text;  /* as written */
	char *key;
	char *value;
	enum op op;
	pcre2_code *re;
	pcre2_match_data *md;
};

struct ss_filter {
	struct expr *e;
	int n;
};

void ss_filter_free(struct ss_filter *f)
{
	if (!f)
		return;
	for (int i = 0; i < f->n; i++) {
		free(f->e[i].text);
		free(f->e[i].key);
		free(f->e[i].value);
		pcre2_match_data_free(f->e[i].md);
		pcre2_code_free(f->e[i].re);
	}
	free(f->e);
	free(f);
}

static int key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '|' || c == '-';
}

/* Python's \Z is PCRE's \z (end of subject, no newline allowance). */
static char *python_to_pcre(const char *re)
{
	size_t n = strlen(re);
	char *out = malloc(n + 1);
	if (!out)
		return NULL;
	for (size_t i = 0; i <= n; i++) {
		out[i] = re[i];
		if (re[i] == '\\' && i + 1 < n) {
			out[i + 1] = re[i + 1] == 'Z' ? 'z' : re[i + 1];
			i++;
		}
	}
	return out;
}

static int parse_one(struct expr *x, const char *s, struct ss_error *err)
{
	const char *p = s;
	while (key_char(*p))
		p++;
	size_t klen = (size_t)(p - s);
	while (*p == ' ')
		p++;
	if (klen == 0)
		return ssi_err(err, SS_USAGE, "bad filter '%s': no key (expected KEY=V, KEY!=V, KEY~RE or KEY!~RE)", s);
	if (p[0] == '!' && p[1] == '=')
		x->op = OP_NE, p += 2;
	else if (p[0] == '!' && p[1] == '~')
		x->op = OP_NRE, p += 2;
	else if (p[0] == '=')
		x->op = OP_EQ, p += 1;
	else if (p[0] == '~')
		x->op = OP_RE, p += 1;
	else
		return ssi_err(err, SS_USAGE, "bad filter '%s': expected KEY=V, KEY!=V, KEY~RE or KEY!~RE", s);
	while (*p == ' ')
		p++;
	x->key = ssi_strndup(s, klen);
	x->value = strdup(p);
	x->text = strdup(s);
	if (!x->key || !x->value || !x->text)
		return ssi_err(err, SS_FATAL, "out of memory");
	if (x->op == OP_EQ || x->op == OP_NE)
		return SS_OK;
	char *pat = python_to_pcre(x->value);
	if (!pat)
		return ssi_err(err, SS_FATAL, "out of memory");
	int ecode;
	PCRE2_SIZE eoff;
	x->re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ecode,
			      &eoff, NULL);
	free(pat);
	if (!x->re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(ecode, msg, sizeof(msg));
		return ssi_err(err, SS_USAGE, "bad filter '%s': regex error at offset %zu: %s", s,
			       (size_t)eoff, (const char *)msg);
	}
	pcre2_jit_compile(x->re, PCRE2_JIT_COMPLETE); /* an optimisation: failure is fine */
	x->md = pcre2_match_data_create_from_pattern(x->re, NULL);
	if (!x->md)
		return ssi_err(err, SS_FATAL, "out of memory");
	return SS_OK;
}

struct ss_filter *ss_filter_parse(const char *const *exprs, int n, struct ss_error *err)
{
	struct ss_filter *f = calloc(1, sizeof(*f));
	if (!f || !(f->e = calloc(n > 0 ? (size_t)n : 1, sizeof(*f->e)))) {
		free(f);
		ssi_err(err, SS_FATAL, "out of memory");
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		f->n = i + 1;
		if (parse_one(&f->e[i], exprs[i], err) != SS_OK) {
			ss_filter_free(f);
			return NULL;
		}
	}
	f->n = n;
	return f;
}

void ssi_filter_hash(const struct ss_filter *f, struct ss_hasher *h)
{
	for (int i = 0; f && i < f->n; i++) {
		char op = (char)('0' + f->e[i].op);
		ss_hasher_update(h, f->e[i].key, strlen(f->e[i].key) + 1);
		ss_hasher_update(h, &op, 1);
		ss_hasher_update(h, f->e[i].value, strlen(f->e[i].value) + 1);
	}
}

int ss_filter_match(const struct ss_filter *f, const struct ss_item *it)
{
	if (!f)
		return 1;
	char buf[128];
	for (int i = 0; i < f->n; i++) {
		const struct expr *x = &f->e[i];
		const char *v = ss_item_get(it, x->key, buf, sizeof(buf));
		if (!v)
			v = "";
		int hit;
		if (x->op == OP_EQ || x->op == OP_NE)
			hit = strcmp(v, x->value) == 0;
		else
			hit = pcre2_match(x->re, (PCRE2_SPTR)v, strlen(v), 0, 0, x->md, NULL) >= 0;
		if (hit != (x->op == OP_EQ || x->op == OP_RE))
			return 0;
	}
	return 1;
}

int ss_filter_count(const struct ss_filter *f)
{
	return f ? f->n : 0;
}

const char *ss_filter_key(const struct ss_filter *f, int i)
{
	return f && i >= 0 && i < f->n ? f->e[i].key : NULL;
}

const char *ss_filter_text(const struct ss_filter *f, int i)
{
	return f && i >= 0 && i < f->n ? f->e[i].text : NULL;
}
