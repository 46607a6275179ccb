/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The catalogue page against hostile products.  The input is a products
 * document (written as streams/v1/images.json with an index naming every
 * product it holds; its first line is also every string of the mirror
 * status block); the page is rendered from it.  Invariants: the page's
 * markup is only the page's own - every tag is one of the elements it
 * writes, every attribute one of the attributes it writes with a quoted
 * value holding no quote, no href is absolute or a scheme (no ':'), the one
 * <style> and the one <script> are the page's own, and text holds no '>'
 * or '"' (so no '<' of the input reached the page unescaped).
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "sstream.h"

static int in_list(const char *s, size_t n, const char *const *list)
{
	for (const char *const *w = list; *w; w++)
		if (strlen(*w) == n && strncmp(s, *w, n) == 0)
			return 1;
	return 0;
}

/* Checks the tag at P (just after '<'); returns the position after '>'. */
static const char *check_tag(const char *p)
{
	static const char *const tags[] = { "html", "head", "meta", "title", "style", "body", "main", "h1", "h2",
					    "section", "p", "pre", "code", "dl", "dt", "dd", "div", "label", "input",
					    "span", "table", "caption", "thead", "tbody", "tr", "th", "td", "details",
					    "summary", "a", NULL };
	static const char *const attrs[] = { "lang", "charset", "name", "content", "aria-labelledby", "id", "hidden",
					     "for", "type", "autocomplete", "aria-live", "class", "data-l", "data-k",
					     "colspan", "scope", "href", NULL };
	if (*p == '/')
		p++;
	size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789");
	FUZZ_ASSERT(in_list(p, n, tags));
	p += n;
	while (*p == ' ') {
		p++;
		n = strspn(p, "abcdefghijklmnopqrstuvwxyz-");
		FUZZ_ASSERT(in_list(p, n, attrs));
		int href = n == 4 && strncmp(p, "href", 4) == 0;
		p += n;
		if (*p != '=')
			continue;
		FUZZ_ASSERT(p[1] == '"');
		const char *end = strchr(p + 2, '"');
		FUZZ_ASSERT(end && !memchr(p + 2, '<', (size_t)(end - p - 2)) && !memchr(p + 2, '>', (size_t)(end - p - 2)));
		if (href)
			FUZZ_ASSERT(!memchr(p + 2, ':', (size_t)(end - p - 2)) && p[2] != '/');
		p = end + 1;
	}
	FUZZ_ASSERT(*p == '>');
	return p + 1;
}

/* The page's own element NAME ("style", "script") at P: skipped whole. */
static const char *skip_own(const char *p, const char *name, int *seen)
{
	char open[16], close[16];
	snprintf(open, sizeof(open), "<%s>", name);
	snprintf(close, sizeof(close), "</%s>", name);
	if (strncmp(p, open, strlen(open)) != 0)
		return NULL;
	FUZZ_ASSERT(!*seen);
	*seen = 1;
	const char *end = strstr(p, close);
	FUZZ_ASSERT(end);
	return end + strlen(close);
}

static void check_page(const char *html)
{
	const char *p = html;
	int style = 0, script = 0;
	FUZZ_ASSERT(strncmp(p, "<!DOCTYPE html>\n", 16) == 0);
	p += 16;
	while (*p) {
		const char *q;
		if ((q = skip_own(p, "style", &style)) || (q = skip_own(p, "script", &script))) {
			p = q;
		} else if (*p == '<') {
			p = check_tag(p + 1);
		} else {
			FUZZ_ASSERT(*p != '>' && *p != '"');
			p++;
		}
	}
	FUZZ_ASSERT(style && script);
	/* case-insensitively, too: one script in all */
	size_t n = 0;
	for (const char *s = html; *s; s++)
		if (*s == '<' && strncasecmp(s, "<script", 7) == 0)
			n++;
	FUZZ_ASSERT(n == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *dir = fuzz_tmpdir();
	FUZZ_ASSERT(dir);
	fuzz_empty_dir(dir);
	if (fuzz_write_products_tree(dir, data, size) != 0)
		return 0;
	char line[256];
	size_t n = 0;
	while (n < size && n < sizeof(line) - 1 && data[n] != '\n' && data[n])
		n++;
	memcpy(line, data, n);
	line[n] = '\0';
	struct ss_catalogue_wait w = { line, line };
	struct ss_catalogue_status st = { line, line, line, line, (long long)size, -1, &w, 1 };
	struct ss_catalogue_opts o = { .base_url = line, .remote = "r", .title = line, .status = &st };
	struct ss_error e;
	struct ss_tree *t = ss_tree_load(dir, &e);
	if (!t)
		return 0;
	char *html = ss_catalogue_render(t, &o, NULL, &e);
	FUZZ_ASSERT(html);
	check_page(html);
	free(html);
	ss_tree_free(t);
	return 0;
}
