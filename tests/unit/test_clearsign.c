/* SPDX-License-Identifier: Apache-2.0 */
/* Clearsigned documents: the signed body is the JSON file, byte for byte. */
#include "sstream.h"
#include "harness.h"

static void compare(const char *sjson, const char *json)
{
	char *a, *b, *body;
	size_t al, bl, bodyl;
	struct ss_error err;
	CHECK(ss_fetch(sjson, SS_METADATA_CAP, &a, &al, &err) == SS_OK);
	CHECK(ss_fetch(json, SS_METADATA_CAP, &b, &bl, &err) == SS_OK);
	CHECK(ss_is_clearsigned(a, al));
	CHECK(!ss_is_clearsigned(b, bl));
	CHECK(ss_clearsign_body(a, al, &body, &bodyl, &err) == SS_OK);
	/* the line ending before the signature is not part of the text */
	while (bl && b[bl - 1] == '\n')
		bl--;
	CHECK(bodyl == bl && memcmp(body, b, bl) == 0);
	free(body);
	free(a);
	free(b);
}

static void test_bodies(void)
{
	compare(SHARED("signed/examples/minimal/streams/v1/download.sjson"),
		SHARED("examples/minimal/streams/v1/download.json"));
	compare(SHARED("signed/examples/foocloud/streams/v1/com.example.foovendor:released:aws.sjson"),
		SHARED("examples/foocloud/streams/v1/com.example.foovendor:released:aws.json"));
	compare(SHARED("signed/examples/cirros/streams/v1/net.cirros-cloud:released:download.sjson"),
		SHARED("examples/cirros/streams/v1/net.cirros-cloud:released:download.json"));
	/* the signed index names the signed products files */
	char *d, *body;
	size_t n, bn;
	struct ss_error err;
	CHECK(ss_fetch(SHARED("signed/examples/minimal/streams/v1/index.sjson"), SS_METADATA_CAP, &d, &n,
		       &err) == SS_OK);
	CHECK(ss_clearsign_body(d, n, &body, &bn, &err) == SS_OK);
	CHECK(strstr(body, "\"streams/v1/download.sjson\"") && body[0] == '{' && body[bn - 1] == '}');
	free(body);
	free(d);
}

static void test_dash_escape_and_errors(void)
{
	const char msg[] = "-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\n"
			   "- -----not armor\r\n{\"a\": 1}\r\n"
			   "-----BEGIN PGP SIGNATURE-----\r\n\r\nxx\r\n-----END PGP SIGNATURE-----\r\n";
	char *body;
	size_t n;
	struct ss_error err;
	CHECK(ss_clearsign_body(msg, sizeof(msg) - 1, &body, &n, &err) == SS_OK);
	CHECK_STR(body, "-----not armor\n{\"a\": 1}");
	free(body);
	const char nosig[] = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n{}\n";
	CHECK(ss_clearsign_body(nosig, sizeof(nosig) - 1, &body, &n, &err) == SS_FATAL);
	CHECK(strstr(err.msg, "signature") != NULL);
	const char noheader[] = "{\"a\": 1}";
	CHECK(ss_clearsign_body(noheader, sizeof(noheader) - 1, &body, &n, &err) == SS_FATAL);
	const char trunc[] = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n";
	CHECK(ss_clearsign_body(trunc, sizeof(trunc) - 1, &body, &n, &err) == SS_FATAL);
	/* a clearsigned products file parses like the plain one */
	char *d;
	CHECK(ss_fetch(SHARED("signed/tampered-aws.sjson"), SS_METADATA_CAP, &d, &n, &err) == SS_OK);
	struct ss_products *p = ss_products_parse(d, n, "tampered", NULL, &err);
	CHECK(p && ss_products_count(p) == 12);
	ss_products_free(p);
	free(d);
}

TEST_MAIN(test_bodies, test_dash_escape_and_errors)
