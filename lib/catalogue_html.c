/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The page's output buffer and escaping.  Strings from a tree are data: in
 * text and attribute values every character HTML reads as syntax becomes a
 * character reference, and the characters HTML5 calls parse errors
 * (controls) are replaced, so that the page stays valid whatever the tree
 * holds.  Links come only from item paths, percent-encoded.  The page is
 * built in one growing buffer: runs of plain bytes are copied whole, which
 * is what keeps a 100 000-item page cheap (stdio's per-call locking cost
 * more than all the rest of the rendering).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue_internal.h"

int ssi_hb_reserve(struct ssi_hbuf *b, size_t n)
{
	if (b->flush && b->len >= SSI_HB_PIECE)
		b->flush(b);
	if (b->oom)
		return -1;
	if (b->cap - b->len > n)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap - b->len <= n) {
		if (cap > ((size_t)-1) / 2) {
			b->oom = 1;
			return -1;
		}
		cap *= 2;
	}
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void ssi_hb_put_slow(struct ssi_hbuf *b, const char *s, size_t n)
{
	if (ssi_hb_reserve(b, n) < 0)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void ssi_hb_puts(struct ssi_hbuf *b, const char *s)
{
	ssi_hb_put(b, s, strlen(s));
}

void ssi_hb_putc(struct ssi_hbuf *b, char c)
{
	ssi_hb_put(b, &c, 1);
}

void ssi_hb_int(struct ssi_hbuf *b, long long v)
{
	char tmp[24], *e = tmp + sizeof(tmp), *p = e;
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	ssi_hb_put(b, p, (size_t)(e - p));
}

/* Bytes that go out as they are: printable ASCII but the five HTML
 * reads as syntax, tab and line feed.  1 for each. */
static const unsigned char plain[256] = {
	['\t'] = 1, ['\n'] = 1, [' '] = 1, ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['('] = 1, [')'] = 1,
	['*'] = 1, ['+'] = 1, [','] = 1, ['-'] = 1, ['.'] = 1, ['/'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1,
	['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, [':'] = 1, [';'] = 1,
	['='] = 1, ['?'] = 1, ['@'] = 1, ['['] = 1, ['\\'] = 1, [']'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1,
	['{'] = 1, ['|'] = 1, ['}'] = 1, ['~'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1,
	['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
	['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,
	['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
	['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

/* Length of the valid UTF-8 sequence at S (1 for a stray byte); never
 * reads past MAX bytes. */
static size_t seq_len(const unsigned char *s, size_t max)
{
	size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 1;
	for (size_t i = 1; i < n; i++)
		if (i >= max || (s[i] & 0xc0) != 0x80)
			return i >= max ? n : 1;
	return n;
}

/* The byte (or sequence of N) at S that is not plain. */
static void special(struct ssi_hbuf *b, const unsigned char *s, size_t n)
{
	switch (s[0]) {
	case '&': ssi_hb_put(b, "&amp;", 5); return;
	case '<': ssi_hb_put(b, "&lt;", 4); return;
	case '>': ssi_hb_put(b, "&gt;", 4); return;
	case '"': ssi_hb_put(b, "&quot;", 6); return;
	case '\'': ssi_hb_put(b, "&#39;", 5); return;
	}
	if (s[0] < 0x80 || n == 1 || (s[0] == 0xc2 && s[1] <= 0x9f)) /* C0, DEL, stray, C1 */
		ssi_hb_put(b, "\xef\xbf\xbd", 3);
	else
		ssi_hb_put(b, (const char *)s, n);
}

void ssi_html_textn(struct ssi_hbuf *b, const char *str, size_t max)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (s && i < max && s[i]) {
		size_t run = i;
		while (run < max && plain[s[run]])
			run++;
		ssi_hb_put(b, str + i, run - i);
		if (run >= max || !s[run])
			return;
		size_t n = seq_len(s + run, max - run);
		if (run + n > max) /* a sequence cut by MAX: not written */
			return;
		special(b, s + run, n);
		i = run + n;
	}
}

void ssi_html_text(struct ssi_hbuf *b, const char *s)
{
	ssi_html_textn(b, s, s ? strlen(s) : 0);
}

void ssi_html_href(struct ssi_hbuf *b, const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)path;
	for (size_t i = 0; s[i];) {
		size_t run = i;
		while ((s[run] >= 'a' && s[run] <= 'z') || (s[run] >= 'A' && s[run] <= 'Z') ||
		       (s[run] >= '0' && s[run] <= '9') || (s[run] && strchr("-._~/", s[run])))
			run++;
		ssi_hb_put(b, path + i, run - i);
		if (!s[run])
			return;
		char esc[3] = { '%', hex[s[run] >> 4], hex[s[run] & 15] };
		ssi_hb_put(b, esc, 3);
		i = run + 1;
	}
}

/* BYTES / 1024^U to one decimal, rounded to nearest (ties to even) as
 * printf's "%.1f" rounds the exact quotient; computed in integers. */
static void tenths(struct ssi_hbuf *b, long long bytes, int u)
{
	unsigned shift = 10u * (unsigned)u;
	unsigned long long x = (unsigned long long)bytes * 10, half = 1ULL << (shift - 1);
	unsigned long long q = x >> shift, r = x & ((1ULL << shift) - 1);
	if (r > half || (r == half && (q & 1)))
		q++;
	ssi_hb_int(b, (long long)(q / 10));
	char frac[2] = { '.', (char)('0' + q % 10) };
	ssi_hb_put(b, frac, 2);
}

void ssi_html_size(struct ssi_hbuf *b, long long bytes)
{
	static const char *const unit[] = { " KiB", " MiB", " GiB", " TiB" };
	if (bytes < 0) {
		ssi_hb_putc(b, '-');
		return;
	}
	if (bytes < 1024) {
		ssi_hb_int(b, bytes);
		ssi_hb_put(b, " B", 2);
		return;
	}
	int u = 0;
	while (u < 3 && bytes >= 1024LL << (10 * (u + 1)))
		u++;
	if (bytes > (long long)(((unsigned long long)-1 >> 1) / 10)) { /* past 800 PiB: in floating point */
		char tmp[64];
		double v = (double)bytes;
		for (int k = 0; k <= u; k++)
			v /= 1024;
		int n = snprintf(tmp, sizeof(tmp), "%.1f", v);
		ssi_hb_put(b, tmp, (size_t)n);
	} else {
		tenths(b, bytes, u + 1);
	}
	ssi_hb_puts(b, unit[u]);
}
