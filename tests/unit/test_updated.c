/* SPDX-License-Identifier: Apache-2.0 */
/* Dates of simplestreams documents, a tree's newest one, and the versions
 * the library reports. */
#include <string.h>

#include "sstream.h"
#include "harness.h"

static void test_date_parse(void)
{
	CHECK(ss_date_parse("Wed, 20 Mar 2013 17:56:57 +0000") == 1363802217);
	CHECK(ss_date_parse("Tue, 15 Sep 2015 16:15:24 -0400") == 1442348124);
	CHECK(ss_date_parse("20 Mar 2013 17:56:57 +0000") == 1363802217);
	CHECK(ss_date_parse("2013-03-20T17:56:57Z") == 1363802217);
	CHECK(ss_date_parse("2013-03-20T19:56:57+0200") == 1363802217);
	CHECK(ss_date_parse("2013-03-20T19:56:57+02:00") == 1363802217);
	CHECK(ss_date_parse("Wed, 20 Mar 2013 17:56:57 +0000 trailing") == -1);
	CHECK(ss_date_parse("yesterday") == -1);
	CHECK(ss_date_parse("") == -1);
	CHECK(ss_date_parse(NULL) == -1);
}

static void test_tree_updated(void)
{
	struct ss_error err;
	struct ss_tree *t = ss_tree_load(TESTDATA("../../examples/foocloud"), &err);
	CHECK(t != NULL);
	if (t)
		CHECK(ss_tree_updated(t) == 1363802217);
	ss_tree_free(t);
}

static void test_versions(void)
{
	struct ss_versions v;
	ss_versions_get(&v);
	CHECK(v.sstream && v.curl && v.ssl && v.archive && v.git2 && v.jansson && v.pcre2 && v.gpgme && v.yaml);
	CHECK(strncmp(v.ssl, "OpenSSL ", 8) == 0);
	CHECK(strncmp(v.archive, "libarchive ", 11) == 0);
	CHECK(strcmp(v.sstream, "unknown") != 0 && strcmp(v.git2, "unknown") != 0);
}

TEST_MAIN(test_date_parse, test_tree_updated, test_versions)
