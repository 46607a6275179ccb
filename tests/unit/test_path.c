/* SPDX-License-Identifier: Apache-2.0 */
/* Path safety and joining roots with paths. */
#include "sstream.h"
#include "harness.h"

static void test_check(void)
{
	static const char *good[] = { "a", "images/almalinux/8/amd64/cloud/20230421_23:27/rootfs.squashfs",
				      "files/a b+c~d.img", "x/.hidden", "x/..y", "x/y..", "ünïcode/ok",
				      ".sstreams/a", "x/.sstream/state", ".sstream.json" };
	static const char *bad[] = { "", "/etc/passwd", "../x", "a/../b", "a/..", "..", ".", "./a", "a/./b",
				     "a//b", "a/", "a\\b", "a\tb", "a\nb", "a\x7f",
				     ".sstream", ".sstream/state", ".sstream/history.git/HEAD", ".sstream/tmp/x" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct ss_error err;
		CHECK(ss_path_check(good[i], &err) == SS_OK);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ss_error err;
		ss_error_clear(&err);
		CHECK(ss_path_check(bad[i], &err) == SS_FATAL);
		CHECK(strstr(err.msg, "unsafe path") != NULL);
	}
}

static void test_join(void)
{
	char *s;
	CHECK_STR(s = ss_join("/srv/tree", "a/b:c d"), "/srv/tree/a/b:c d");
	free(s);
	CHECK_STR(s = ss_join("/srv/tree/", "a"), "/srv/tree/a");
	free(s);
	CHECK_STR(s = ss_join("https://h/x/", "i/20230421_23:27/a b%#?.img"),
		  "https://h/x/i/20230421_23:27/a%20b%25%23%3F.img");
	free(s);
	CHECK_STR(s = ss_join("http://h", "a+b~c"), "http://h/a+b~c");
	free(s);
	CHECK(ss_is_url("https://x") && ss_is_url("http://x") && ss_is_url("file:///x"));
	CHECK(!ss_is_url("/x") && !ss_is_url("ftp://x") && !ss_is_url("x.json"));
}

static void test_file_url(void)
{
	char *d = NULL;
	size_t n = 0;
	struct ss_error err;
	char url[4200];
	const char *path = TESTDATA("nested/streams/v1/index.json");
	char abs[4096];
	if (!realpath(path, abs)) {
		CHECK(0);
		return;
	}
	snprintf(url, sizeof(url), "file://%s", abs);
	CHECK(ss_fetch(url, SS_METADATA_CAP, &d, &n, &err) == SS_OK);
	CHECK(d && n > 10 && strstr(d, "index:1.0"));
	free(d);
	CHECK(ss_fetch("file://otherhost/etc/passwd", 100, &d, &n, &err) == SS_FATAL);
}

TEST_MAIN(test_check, test_join, test_file_url)
