/* SPDX-License-Identifier: Apache-2.0 */
/*
 * When a tree's metadata was last updated, as its documents say: the
 * "updated" field of the index (its own and its entries') and of each
 * products file, upstream's RFC 2822 dates ("Wed, 20 Mar 2013 17:56:57
 * +0000") or ISO 8601 ones.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "model_internal.h"
#include "sstream.h"

/* Seconds since the epoch of S, or -1 when it is not a date we know. */
long long ss_date_parse(const char *s)
{
	static const char *const fmts[] = { "%a, %d %b %Y %H:%M:%S %z", "%d %b %Y %H:%M:%S %z",
					    "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z" };
	if (!s)
		return -1;
	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		struct tm tm;
		memset(&tm, 0, sizeof(tm));
		const char *end = strptime(s, fmts[i], &tm);
		if (!end) {
			/* ISO 8601 in UTC written with a Z */
			if (i < 2)
				continue;
			char fmt[32];
			snprintf(fmt, sizeof(fmt), "%.17sZ", fmts[i]);
			memset(&tm, 0, sizeof(tm));
			if (!(end = strptime(s, fmt, &tm)))
				continue;
		}
		while (*end == ' ')
			end++;
		if (*end)
			continue;
		long off = tm.tm_gmtoff; /* timegm normalises tm, zeroing it */
		return (long long)timegm(&tm) - off;
	}
	return -1;
}

/* A version name that starts with a date, as the upstreams write them:
 * "20240423", "20121026.1", "20230424_07:42". */
long long ssi_version_date(const char *v)
{
	if (!v || strspn(v, "0123456789") < 8 || (v[8] >= '0' && v[8] <= '9'))
		return -1;
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	/* (eight digits: YYYYMMDD) */
	tm.tm_year = (v[0] - '0') * 1000 + (v[1] - '0') * 100 + (v[2] - '0') * 10 + v[3] - '0';
	tm.tm_mon = (v[4] - '0') * 10 + v[5] - '0';
	tm.tm_mday = (v[6] - '0') * 10 + v[7] - '0';
	if (tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31)
		return -1;
	if (v[8] && !strchr("._-T", v[8]))
		return -1;
	/* a time after the date: HH:MM (images:) or HHMM (sstream-publish) */
	const char *t = v + 9, *d = "0123456789";
	if ((v[8] == '_' || v[8] == 'T') && strspn(t, d) >= 2) {
		const char *mm = t[2] == ':' ? t + 3 : t + 2;
		int h = (t[0] - '0') * 10 + t[1] - '0', m = strspn(mm, d) >= 2 ? (mm[0] - '0') * 10 + mm[1] - '0' : 99;
		if (h < 24 && m < 60) {
			tm.tm_hour = h;
			tm.tm_min = m;
		}
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (long long)timegm(&tm);
}
