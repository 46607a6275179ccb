/* SPDX-License-Identifier: Apache-2.0 */
/* ss_tree_source_root: the root a SOURCE's item paths are read against,
 * as ss_tree_load takes it (a root as is; a document: what precedes its
 * streams/v1/, else its directory), checked against ss_tree_root. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sstream.h"
#include "harness.h"

static void test_urls(void)
{
	char *r;
	CHECK_STR(r = ss_tree_source_root("https://h/x/"), "https://h/x/");
	free(r);
	CHECK_STR(r = ss_tree_source_root("https://h/x/streams/v1/index.json"), "https://h/x/");
	free(r);
	CHECK_STR(r = ss_tree_source_root("http://h/streams/v1/index.sjson"), "http://h/");
	free(r);
	/* "streams/v1/" only counts as a whole path segment */
	CHECK_STR(r = ss_tree_source_root("http://h/mystreams/v1/index.json"), "http://h/mystreams/v1/");
	free(r);
	CHECK_STR(r = ss_tree_source_root("http://h/a/products.json"), "http://h/a/");
	free(r);
}

/* A local tree: the root ss_tree_load reports for the same SOURCE. */
static void test_local(void)
{
	const char *root = TESTDATA("nested");
	char doc[4096];
	snprintf(doc, sizeof(doc), "%s/streams/v1/index.json", root);
	const char *sources[] = { root, doc };
	for (size_t i = 0; i < 2; i++) {
		struct ss_error err;
		struct ss_tree *t = ss_tree_load(sources[i], &err);
		char *r = ss_tree_source_root(sources[i]);
		CHECK(t != NULL);
		if (t)
			CHECK_STR(r, ss_tree_root(t));
		free(r);
		ss_tree_free(t);
	}
}

TEST_MAIN(test_urls, test_local)
