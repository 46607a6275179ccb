/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Filters (lib/filter.c).  The input's lines up to the first empty one are
 * filter expressions (at most 8); the rest is a products document, or,
 * when that does not parse, a built-in one with aliases and every value
 * type.  Every item is matched against the parsed filter.
 */
#include <string.h>

#include "fuzz.h"
#include "sstream.h"

static const char builtin[] =
	"{\"format\": \"products:1.0\", \"content_id\": \"c\", \"arch\": \"amd64\","
	" \"_aliases\": {\"region\": {\"r1\": {\"endpoint\": \"https://e\", \"n\": 3}}},"
	" \"products\": {\"p:1\": {\"release\": \"noble\", \"region\": \"r1\", \"versions\": {"
	"  \"20240101\": {\"label\": \"release\", \"items\": {"
	"   \"disk\": {\"ftype\": \"disk1.img\", \"size\": 10, \"path\": \"a/b\", \"f\": 1.5, \"t\": true,"
	"             \"z\": null, \"l\": [1, \"x\"], \"o\": {\"k\": \"v\"}, \"u\": \"\\u00e9\\u4e2d\"},"
	"   \"tar\": {\"ftype\": \"root.tar.xz\", \"size\": \"12\", \"path\": \"a/c\"}}}}}}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *end = s + size;
	char *exprs[8];
	int n = 0;
	while (s < end && n < 8) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *le = nl ? nl : end;
		if (le == s) {
			s++;
			break;
		}
		exprs[n] = malloc((size_t)(le - s) + 1);
		FUZZ_ASSERT(exprs[n]);
		memcpy(exprs[n], s, (size_t)(le - s));
		exprs[n][le - s] = '\0';
		n++;
		s = nl ? nl + 1 : end;
	}
	struct ss_error e;
	ss_error_clear(&e);
	struct ss_products *p = ss_products_parse(s, (size_t)(end - s), "fuzz", NULL, &e);
	if (!p)
		p = ss_products_parse(builtin, sizeof(builtin) - 1, "builtin", NULL, &e);
	FUZZ_ASSERT(p);
	ss_error_clear(&e);
	struct ss_filter *f = ss_filter_parse((const char *const *)exprs, n, &e);
	if (f) {
		FUZZ_ASSERT(ss_filter_count(f) == n);
		for (size_t i = 0; i < ss_products_count(p); i++)
			ss_filter_match(f, ss_products_item(p, i));
	} else {
		FUZZ_ASSERT((e.code == SS_USAGE || e.code == SS_FATAL) && e.msg[0]);
	}
	ss_filter_free(f);
	ss_products_free(p);
	for (int i = 0; i < n; i++)
		free(exprs[i]);
	return 0;
}
