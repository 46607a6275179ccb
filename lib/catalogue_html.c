/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Escaping for the catalogue page.  Strings from a tree are data: in text
 * and attribute values every character HTML reads as syntax becomes a
 * character reference, and the characters HTML5 calls parse errors
 * (controls) are replaced, so that the page stays valid whatever the tree
 * holds.  Links come only from item paths, percent-encoded.
 */
#include <string.h>

#include "catalogue_internal.h"

/* Length of the valid UTF-8 sequence at S (1 for a stray byte). */
static size_t seq_len(const unsigned char *s)
{
	size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 1;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 1;
	return n;
}

void ssi_html_textn(FILE *f, const char *str, size_t max)
{
	const unsigned char *s = (const unsigned char *)str;
	for (size_t i = 0; s && s[i] && i < max;) {
		unsigned char c = s[i];
		size_t n = seq_len(s + i);
		if (i + n > max)
			break;
		switch (c) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default:
			if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f || (c >= 0x80 && n == 1) ||
			    (c == 0xc2 && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f))
				fputs("\xef\xbf\xbd", f);
			else
				fwrite(s + i, 1, n, f);
		}
		i += n;
	}
}

void ssi_html_text(FILE *f, const char *s)
{
	ssi_html_textn(f, s, s ? strlen(s) : 0);
}

void ssi_html_href(FILE *f, const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *s = (const unsigned char *)path; *s; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		    strchr("-._~/", *s))
			fputc(*s, f);
		else
			fprintf(f, "%%%c%c", hex[*s >> 4], hex[*s & 15]);
	}
}

void ssi_html_size(FILE *f, long long bytes)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
	if (bytes < 0) {
		fputs("-", f);
		return;
	}
	if (bytes < 1024) {
		fprintf(f, "%lld B", bytes);
		return;
	}
	double v = (double)bytes / 1024;
	int u = 0;
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	fprintf(f, "%.1f %s", v, unit[u]);
}
