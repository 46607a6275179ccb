/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP response header fields the transfers read, parsed from the
 * bytes libcurl hands over: a header line is not NUL-terminated, its
 * name is in any case, and a hostile server chooses every byte.
 */
#include <string.h>
#include <strings.h>

#include "internal.h"

/* Digits at *P (before END) as a non-negative long long; -1 when there
 * are none or too many. */
static long long number(const char **p, const char *end)
{
	long long n = 0;
	const char *s = *p;
	while (s < end && *s >= '0' && *s <= '9') {
		int d = *s - '0';
		if (n > (0x7fffffffffffffffLL - d) / 10)
			return -1;
		n = n * 10 + d;
		s++;
	}
	if (s == *p)
		return -1;
	*p = s;
	return n;
}

static const char *skip_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

int ssi_http_content_range(const char *buf, size_t len, long long *start)
{
	static const char name[] = "content-range:";
	const char *p = buf, *end = buf + len;
	if (len < sizeof(name) - 1 || strncasecmp(buf, name, sizeof(name) - 1) != 0)
		return 0;
	*start = -1;
	p = skip_space(p + sizeof(name) - 1, end);
	if (end - p < 6 || strncasecmp(p, "bytes ", 6) != 0)
		return -1;
	p = skip_space(p + 6, end);
	long long first = number(&p, end);
	if (first < 0 || p == end || *p++ != '-')
		return -1;
	long long last = number(&p, end);
	if (last < first || p == end || *p++ != '/')
		return -1;
	if (p < end && *p == '*') {
		p++;
	} else {
		long long total = number(&p, end);
		if (total <= last)
			return -1;
	}
	p = skip_space(p, end);
	if (p < end && *p == '\r')
		p++;
	if (p < end && *p == '\n')
		p++;
	if (p != end)
		return -1;
	*start = first;
	return 1;
}
