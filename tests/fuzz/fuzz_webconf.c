/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The webconf writer against hostile products.  The input is a products
 * document (written as streams/v1/images.json with an index naming every
 * product it holds); the nginx and the Apache snippet are generated from it.
 * Invariants: every line of a snippet is a directive webconf writes (no
 * other directive, nothing a tree could inject), double quotes pair up on
 * each line, nginx's braces balance with no block left open, Apache's
 * <LocationMatch> / <IfModule> sections open and close in order, and no
 * byte is a control character other than the tab and the line break.
 */
#include <string.h>

#include "fuzz.h"
#include "sstream.h"

static int starts(const char *line, const char *const *words)
{
	for (const char *const *w = words; *w; w++)
		if (strncmp(line, *w, strlen(*w)) == 0)
			return 1;
	return 0;
}

/* Quotes on LINE (a backslash escapes the next character) pair up. */
static int quotes_pair(const char *line, size_t n)
{
	int in = 0;
	for (size_t i = 0; i < n; i++) {
		if (line[i] == '\\' && i + 1 < n)
			i++;
		else if (line[i] == '"')
			in = !in;
	}
	return !in;
}

/* Braces outside quotes on LINE, added to *DEPTH; -1 when it goes below 0. */
static int braces(const char *line, size_t n, int *depth)
{
	int in = 0;
	for (size_t i = 0; i < n; i++) {
		if (line[i] == '\\' && i + 1 < n)
			i++;
		else if (line[i] == '"')
			in = !in;
		else if (!in && line[i] == '{')
			(*depth)++;
		else if (!in && line[i] == '}' && --*depth < 0)
			return -1;
	}
	return 0;
}

static void check_snippet(const char *text, int apache)
{
	static const char *const nginx_words[] = { "#", "location = ", "default_type ", "add_header ", "return ",
						   "set $sstream_arches ", "if ($sstream_arches ~* \"", "}", NULL };
	static const char *const apache_words[] = { "#", "RewriteEngine On", "<IfModule mime_module>", "RemoveEncoding ",
						    "</IfModule>", "Header always set ", "RewriteRule \"^",
						    "RewriteCond \"", "<LocationMatch \"^", "</LocationMatch>",
						    "ErrorDocument 404 \"", NULL };
	int depth = 0, section = 0;
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		for (size_t i = 0; i < n; i++)
			FUZZ_ASSERT((unsigned char)p[i] >= 0x20 || p[i] == '\t');
		const char *line = p;
		while (*line == '\t')
			line++;
		size_t ln = n - (size_t)(line - p);
		FUZZ_ASSERT(ln > 0 && starts(line, apache ? apache_words : nginx_words));
		FUZZ_ASSERT(quotes_pair(line, ln));
		if (apache) {
			if (line[0] == '<')
				section += line[1] == '/' ? -1 : 1;
			FUZZ_ASSERT(section == 0 || section == 1);
		} else if (line[0] != '#') {
			FUZZ_ASSERT(braces(line, ln, &depth) == 0);
			FUZZ_ASSERT(depth <= 2);
		}
		p = nl ? nl + 1 : p + n;
	}
	FUZZ_ASSERT(depth == 0 && section == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *dir = fuzz_tmpdir();
	FUZZ_ASSERT(dir);
	fuzz_empty_dir(dir);
	if (fuzz_write_products_tree(dir, data, size) != 0)
		return 0;
	static const char *const servers[] = { "nginx", "apache" };
	for (int i = 0; i < 2; i++) {
		char *text = NULL;
		struct ss_error e;
		if (ss_webconf_write(dir, "https://images.example/sub", servers[i], &text, NULL, NULL, &e) == SS_OK) {
			FUZZ_ASSERT(text);
			check_snippet(text, i);
		}
		free(text);
	}
	return 0;
}
