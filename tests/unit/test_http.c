/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP response header lines as libcurl hands them over: not
 * NUL-terminated, in any case, written by a server we do not trust. */
#include "internal.h"
#include "harness.h"

/* Parses LINE from a buffer of exactly its length (no NUL after it, so a
 * read past the end is an ASan error under SANITIZE=1). */
static int parse(const char *line, long long *start)
{
	size_t len = strlen(line);
	char *exact = malloc(len ? len : 1);
	memcpy(exact, line, len);
	*start = -7;
	int rc = ssi_http_content_range(exact, len, start);
	free(exact);
	return rc;
}

static void test_content_range(void)
{
	long long s;
	CHECK(parse("Content-Range: bytes 100-199/200\r\n", &s) == 1 && s == 100);
	CHECK(parse("content-range:bytes 0-0/*\r\n", &s) == 1 && s == 0);
	CHECK(parse("CONTENT-RANGE: \tBYTES 5-9/10", &s) == 1 && s == 5);
	CHECK(parse("Content-Range: bytes 9223372036854775806-9223372036854775806/9223372036854775807\r\n", &s) == 1 &&
	      s == 9223372036854775806LL);
	/* other headers are not ours */
	CHECK(parse("Content-Length: 5\r\n", &s) == 0 && s == -7);
	CHECK(parse("Content-Rang", &s) == 0);
	CHECK(parse("", &s) == 0);
	/* a Content-Range in any other form is no range we asked for */
	static const char *const bad[] = {
		"Content-Range: bytes -5-10/20\r\n",        /* negative (strtoll took it) */
		"Content-Range: bytes +5-10/20\r\n",
		"Content-Range: bytes 99999999999999999999-1/2\r\n", /* overflow */
		"Content-Range: bytes 10-5/20\r\n",         /* last before first */
		"Content-Range: bytes 0-19/20x\r\n",
		"Content-Range: bytes 0-20/20\r\n",         /* past the total */
		"Content-Range: bytes */20\r\n",            /* what a 416 says */
		"Content-Range: items 0-1/2\r\n",
		"Content-Range: bytes 5",                   /* cut short: nothing after the digits */
		"Content-Range: bytes ",
		"Content-Range:",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i], &s);
		if (rc != -1 || s != -1)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CHECK(rc == -1 && s == -1);
	}
}

TEST_MAIN(test_content_range)
