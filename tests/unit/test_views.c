/* SPDX-License-Identifier: Apache-2.0 */
/* The plain and signed views of a tree: equal documents (an index naming
 * .sjson against one naming .json) pass; a .json rewritten without its
 * .sjson, or an unreadable signed body, is named. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"
#include "harness.h"

static void put(const char *dir, const char *rel, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* A clearsigned wrapper (the signature is not checked here). */
static void put_signed(const char *dir, const char *rel, const char *body)
{
	char buf[4096];
	snprintf(buf, sizeof(buf),
		 "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n%s\n-----BEGIN PGP SIGNATURE-----\n\n"
		 "iQEzBAEBCgAdFiEE\n=abcd\n-----END PGP SIGNATURE-----\n", body);
	put(dir, rel, buf);
}

struct seen {
	int n;
	char last[256];
};

static void on_differ(void *ud, const char *rel)
{
	struct seen *s = ud;
	s->n++;
	snprintf(s->last, sizeof(s->last), "%s", rel);
}

static const char IDX_J[] = "{\"format\": \"index:1.0\", \"index\": {\"a\": {\"path\": \"streams/v1/a.json\", "
			    "\"products\": [\"p\"]}}}";
static const char IDX_S[] = "{\"format\": \"index:1.0\", \"index\": {\"a\": {\"path\": \"streams/v1/a.sjson\", "
			    "\"products\": [\"p\"]}}}";
static const char PROD1[] = "{\"format\": \"products:1.0\", \"content_id\": \"a\", \"products\": {\"p\": {}}}";
static const char PROD2[] = "{\"format\": \"products:1.0\", \"content_id\": \"a\", \"products\": {\"p\": {}, \"q\": {}}}";

static void test_views(void)
{
	char dir[] = "/tmp/ssviews.XXXXXX", cmd[300];
	if (!mkdtemp(dir)) {
		CHECK(0);
		return;
	}
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/streams/v1'", dir);
	CHECK(system(cmd) == 0);
	struct seen s = { 0, "" };
	CHECK(ssi_views_compare(dir, on_differ, &s) == 0); /* no signed view at all */
	put(dir, "streams/v1/index.json", IDX_J);
	put_signed(dir, "streams/v1/index.sjson", IDX_S);
	put(dir, "streams/v1/a.json", PROD1);
	put_signed(dir, "streams/v1/a.sjson", PROD1);
	CHECK(ssi_views_compare(dir, on_differ, &s) == 0 && s.n == 0);
	/* the plain view moves on, the signed one stays */
	put(dir, "streams/v1/a.json", PROD2);
	CHECK(ssi_views_compare(dir, on_differ, &s) == 1 && s.n == 1);
	CHECK_STR(s.last, "streams/v1/a.sjson");
	put_signed(dir, "streams/v1/a.sjson", PROD2);
	s.n = 0;
	CHECK(ssi_views_compare(dir, on_differ, &s) == 0);
	/* an index whose entries differ beyond the extension */
	put_signed(dir, "streams/v1/index.sjson", IDX_J);
	put(dir, "streams/v1/index.json", "{\"format\": \"index:1.0\", \"index\": {}}");
	CHECK(ssi_views_compare(dir, on_differ, &s) == 1);
	CHECK_STR(s.last, "streams/v1/index.sjson");
	/* a signed file that is not clearsigned JSON */
	put(dir, "streams/v1/index.json", IDX_J);
	put(dir, "streams/v1/a.sjson", "garbage");
	CHECK(ssi_views_compare(dir, NULL, NULL) == 1);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

TEST_MAIN(test_views)
