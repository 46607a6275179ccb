/* SPDX-License-Identifier: Apache-2.0 */
/* Small sorted sets of strings, and growing arrays (internal). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int ssi_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ssi_grow(void **arr, size_t *alloc, size_t n, size_t elem)
{
	if (n < *alloc)
		return 0;
	size_t na = *alloc ? 2 * *alloc : 8;
	while (na <= n)
		na *= 2;
	void *p = realloc(*arr, na * elem);
	if (!p)
		return -1;
	*arr = p;
	*alloc = na;
	return 0;
}

static long fail_countdown;

void ssi_strset_fail_after(long n)
{
	fail_countdown = n;
}

int ssi_fail_injected(void)
{
	return fail_countdown > 0 && --fail_countdown == 0;
}

int ssi_strset_add(struct ssi_strset *s, const char *str)
{
	if (ssi_fail_injected())
		return -1;
	if (s->n == s->alloc) {
		size_t na = s->alloc ? 2 * s->alloc : 64;
		char **nv = realloc(s->v, na * sizeof(*nv));
		if (!nv)
			return -1;
		s->v = nv;
		s->alloc = na;
	}
	if (!(s->v[s->n] = s->borrowed ? (char *)str : strdup(str)))
		return -1;
	s->n++;
	return 0;
}

/* Sorts and drops duplicates; call before ssi_strset_has. */
void ssi_strset_seal(struct ssi_strset *s)
{
	if (!s->n)
		return;
	qsort(s->v, s->n, sizeof(*s->v), ssi_cmp_str);
	size_t o = 1;
	for (size_t i = 1; i < s->n; i++) {
		if (strcmp(s->v[i], s->v[o - 1]) == 0) {
			if (!s->borrowed)
				free(s->v[i]);
		} else
			s->v[o++] = s->v[i];
	}
	s->n = o;
}

int ssi_strset_has(const struct ssi_strset *s, const char *str)
{
	return s->n && bsearch(&str, s->v, s->n, sizeof(*s->v), ssi_cmp_str) != NULL;
}

void ssi_strset_free(struct ssi_strset *s)
{
	int borrowed = s->borrowed;
	for (size_t i = 0; !borrowed && i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
	s->borrowed = borrowed;
}

int ssi_list_has(const char *list, const char *alias)
{
	size_t n = strlen(alias);
	for (const char *p = list; p && *p;) {
		const char *c = strchr(p, ',');
		size_t len = c ? (size_t)(c - p) : strlen(p);
		if (len == n && strncmp(p, alias, n) == 0)
			return 1;
		p = c ? c + 1 : NULL;
	}
	return 0;
}
