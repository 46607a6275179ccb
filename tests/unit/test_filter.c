/* SPDX-License-Identifier: Apache-2.0 */
/* Filters: every operator, missing keys, Python-style regexes, bad input. */
#include "sstream.h"
#include "harness.h"

static struct ss_products *aliases(void)
{
	char *data;
	size_t len;
	struct ss_error err;
	if (ss_fetch(TESTDATA("aliases.json"), SS_METADATA_CAP, &data, &len, &err) != SS_OK)
		return NULL;
	struct ss_products *p = ss_products_parse(data, len, "aliases.json", NULL, &err);
	free(data);
	return p;
}

/* How many items of P match the filter expressions. */
static int matches(const struct ss_products *p, int n, const char *const *exprs)
{
	struct ss_error err;
	struct ss_filter *f = ss_filter_parse(exprs, n, &err);
	if (!f)
		return -1;
	int hits = 0;
	for (size_t i = 0; i < ss_products_count(p); i++)
		hits += ss_filter_match(f, ss_products_item(p, i));
	ss_filter_free(f);
	return hits;
}

#define M(...) matches(p, (int)(sizeof((const char *[]){ __VA_ARGS__ }) / sizeof(char *)), \
		       (const char *const[]){ __VA_ARGS__ })

static void test_operators(void)
{
	struct ss_products *p = aliases();
	CHECK(p != NULL);
	if (!p)
		return;
	CHECK(matches(p, 0, NULL) == 3);
	CHECK(M("arch=amd64") == 3);
	CHECK(M("arch!=amd64") == 0);
	CHECK(M("id=ami-1") == 1);
	CHECK(M("id!=ami-1") == 2);
	CHECK(M("id~ami-[12]") == 2);
	CHECK(M("id!~ami-[12]") == 1);
	CHECK(M("id~1") == 1);                         /* unanchored search */
	CHECK(M("id~^1") == 0);
	CHECK(M("region=eu-west-1") == 1);             /* from _aliases */
	CHECK(M("label=release") == 2);                /* inherited from the version */
	CHECK(M("item_name=other", "label=daily") == 1); /* ANDed */
	CHECK(M("item_name=other", "label=release") == 0);
	CHECK(M("missing=") == 3);                     /* a missing key is "" */
	CHECK(M("missing!=") == 0);
	CHECK(M("missing~.") == 0);
	CHECK(M("supported=True") == 3);               /* booleans as Python prints them */
	CHECK(M("build_count=7") == 3);
	CHECK(M("release_num~^24\\.04$") == 3);
	CHECK(M("version_name~\\d{8}") == 3);          /* Python-style classes */
	CHECK(M("version_name~^\\w+$") == 3);
	CHECK(M("id~(?i)AMI-3") == 1);
	CHECK(M("id~(?P<x>ami)-(?P=x)") == 0);
	CHECK(M("id~ami-3\\Z") == 1);
	CHECK(M("content_id=com.example:aliases") == 3);
	CHECK(M("product_name~server") == 3);
	CHECK(M("arch = amd64") == 3);                 /* spaces around the operator */
	CHECK(M("a|b-c_d=") == 3);                     /* every legal key character */
	ss_products_free(p);
}

static void test_bad_filters(void)
{
	static const char *bad[] = { "arch", "=amd64", "arch:amd64", "ar ch=x", "id~(unclosed", "id~[z-a]",
				     "~x", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ss_error err;
		ss_error_clear(&err);
		struct ss_filter *f = ss_filter_parse(&bad[i], 1, &err);
		CHECK(f == NULL);
		CHECK(err.code == SS_USAGE);
		char quoted[64];
		snprintf(quoted, sizeof(quoted), "'%s'", bad[i]);
		CHECK(strstr(err.msg, quoted) != NULL); /* names the filter */
		ss_filter_free(f);
	}
	struct ss_error err;
	const char *two[] = { "arch=amd64", "release~(" };
	CHECK(ss_filter_parse(two, 2, &err) == NULL && strstr(err.msg, "'release~('"));
}

TEST_MAIN(test_operators, test_bad_filters)
