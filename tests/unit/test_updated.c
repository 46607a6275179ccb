/* SPDX-License-Identifier: Apache-2.0 */
/* Dates of simplestreams documents, a tree's newest one, and the versions
 * the library reports. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* A tree whose products file names these versions of one product. */
static int version_tree(char *dir, const char *const *versions, size_t n)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/streams", dir);
	if (mkdir(path, 0755) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/streams/v1", dir);
	if (mkdir(path, 0755) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/streams/v1/index.json", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs("{\"format\": \"index:1.0\", \"index\": {\"p\": {\"datatype\": \"image-downloads\", "
	      "\"format\": \"products:1.0\", \"path\": \"streams/v1/p.json\", \"products\": [\"p:1\"]}}}",
	      f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/streams/v1/p.json", dir);
	if (!(f = fopen(path, "w")))
		return -1;
	fputs("{\"format\": \"products:1.0\", \"content_id\": \"p\", \"datatype\": \"image-downloads\", "
	      "\"products\": {\"p:1\": {\"arch\": \"amd64\", \"versions\": {",
	      f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\"%s\": {\"items\": {\"f\": {\"ftype\": \"root.tar.xz\", \"path\": \"f%zu\", "
			   "\"size\": 1, \"sha256\": \"%064d\"}}}",
			i ? ", " : "", versions[i], i, 0);
	fputs("}}}}", f);
	fclose(f);
	return 0;
}

static long long version_date_of(const char *const *versions, size_t n)
{
	char dir[] = "/tmp/ssupdated.XXXXXX";
	long long d = -2;
	struct ss_error err;
	if (mkdtemp(dir) && version_tree(dir, versions, n) == 0) {
		struct ss_tree *t = ss_tree_load(dir, &err);
		d = t ? ss_tree_version_date(t) : -3;
		ss_tree_free(t);
	}
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	return d;
}

static void test_version_date(void)
{
	const char *images[] = { "20230423_07:42", "20230424_07:42", "20230101" };
	CHECK(version_date_of(images, 3) == 1682322120); /* 2023-04-24T07:42:00Z */
	const char *publish[] = { "20261101_0000", "20261102_1230" };
	CHECK(version_date_of(publish, 2) == 1793622600); /* 2026-11-02T12:30:00Z */
	const char *ubuntu[] = { "20121026.1", "20120929" };
	CHECK(version_date_of(ubuntu, 2) == 1351209600); /* 2012-10-26T00:00:00Z */
	const char *no_time[] = { "20230424_7", "20230424_07" }; /* no time: the day */
	CHECK(version_date_of(no_time, 2) == 1682294400);
	const char *none[] = { "1.0", "202301", "202301011", "20231301", "v20230101" };
	CHECK(version_date_of(none, 5) == -1);
	struct ss_error err;
	struct ss_tree *t = ss_tree_load(TESTDATA("../../examples/foocloud"), &err);
	CHECK(t && ss_tree_version_date(t) == 1351209600);
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

TEST_MAIN(test_date_parse, test_tree_updated, test_version_date, test_versions)
