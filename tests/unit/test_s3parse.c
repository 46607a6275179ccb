/* SPDX-License-Identifier: Apache-2.0 */
/* The S3 reply, state, lock and credentials parsers (lib/s3parse.c, lib/s3state.c). */
#include "harness.h"
#include "s3_internal.h"

#define S(lit) lit, sizeof(lit) - 1

static void test_list(void)
{
	struct ssi_s3_list l = { 0 };
	CHECK(ssi_s3_parse_list(S("<?xml version=\"1.0\"?><ListBucketResult xmlns=\"x\"><Name>b</Name>"
				  "<IsTruncated>true</IsTruncated>"
				  "<Contents><Key>p/a:b c&amp;d</Key><Size>3</Size>"
				  "<ETag>&quot;764efa883dda1e11db47671c4a3bbd9e&quot;</ETag></Contents>"
				  "<Contents><Key>p/&#233;&#x41;</Key><Size>0</Size></Contents>"
				  "<NextContinuationToken>tok/1+=</NextContinuationToken>"
				  "</ListBucketResult>"), &l) == 0);
	CHECK(l.n == 2);
	CHECK(l.truncated == 1);
	CHECK_STR(l.next_token, "tok/1+=");
	CHECK_STR(l.objs[0].key, "p/a:b c&d");
	CHECK(l.objs[0].size == 3);
	CHECK_STR(l.objs[0].etag, "764efa883dda1e11db47671c4a3bbd9e");
	CHECK_STR(l.objs[1].key, "p/\xc3\xa9" "A");
	CHECK(l.objs[1].etag[0] == '\0');
	/* A second page appends and clears the flags. */
	CHECK(ssi_s3_parse_list(S("<ListBucketResult><IsTruncated>false</IsTruncated>"
				  "<Contents><Key>p/0</Key><Size>12</Size></Contents></ListBucketResult>"), &l) == 0);
	CHECK(l.n == 3 && !l.truncated && !l.next_token);
	ssi_s3_list_sort(&l);
	CHECK_STR(l.objs[0].key, "p/0");
	CHECK(ssi_s3_list_find(&l, "p/a:b c&d") && ssi_s3_list_find(&l, "p/a:b c&d")->size == 3);
	CHECK(ssi_s3_list_find(&l, "p/zz") == NULL);
	ssi_s3_list_free(&l);

	/* Empty bucket; and what is refused. */
	CHECK(ssi_s3_parse_list(S("<ListBucketResult><KeyCount>0</KeyCount></ListBucketResult>"), &l) == 0 && l.n == 0);
	CHECK(ssi_s3_parse_list(S("<Error><Code>NoSuchBucket</Code></Error>"), &l) == -1);
	CHECK(ssi_s3_parse_list(S("<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>"), &l) == -1);
	CHECK(ssi_s3_parse_list(S("<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>"), &l) == -1);
	CHECK(ssi_s3_parse_list(S("<ListBucketResult><Contents><Key>k&bogus;</Key><Size>1</Size></Contents></ListBucketResult>"), &l) == -1);
	CHECK(ssi_s3_parse_list(S("<ListBucketResult><Contents><Key>k&#0;</Key><Size>1</Size></Contents></ListBucketResult>"), &l) == -1);
	CHECK(ssi_s3_parse_list(S("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>"), &l) == -1);
	CHECK(ssi_s3_parse_list(S("<ListBucketResult><Contents><Key>k</Key>"), &l) == -1);
	ssi_s3_list_free(&l);
}

static void test_error(void)
{
	char code[64], msg[64];
	CHECK(ssi_s3_parse_error(S("<?xml version=\"1.0\"?><Error><Code>RequestTimeTooSkewed</Code>"
				   "<Message>The difference\nis &lt;too&gt; large</Message></Error>"),
				 code, sizeof(code), msg, sizeof(msg)) == 0);
	CHECK_STR(code, "RequestTimeTooSkewed");
	CHECK_STR(msg, "The difference is <too> large");
	CHECK(ssi_s3_parse_error(S("<Error><Code>AccessDenied</Code><Message/></Error>"), code, 7, msg,
				 sizeof(msg)) == 0);
	CHECK_STR(code, "Access");
	CHECK_STR(msg, "");
	CHECK(ssi_s3_parse_error(S("<html>502 Bad Gateway</html>"), code, sizeof(code), msg, sizeof(msg)) == -1);
	CHECK_STR(code, "");
	char *id = ssi_s3_parse_upload_id(S("<InitiateMultipartUploadResult><Bucket>b</Bucket>"
					    "<UploadId>2~abc</UploadId></InitiateMultipartUploadResult>"));
	CHECK_STR(id, "2~abc");
	free(id);
	CHECK(ssi_s3_parse_upload_id(S("<InitiateMultipartUploadResult><UploadId></UploadId>")) == NULL);
	char etag[SSI_S3_ETAG];
	CHECK(ssi_s3_parse_complete_etag(S("<CompleteMultipartUploadResult><Key>k</Key>"
					   "<ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag>"
					   "</CompleteMultipartUploadResult>"), etag) == 0);
	CHECK_STR(etag, "3858f62230ac3c915f300c664312c11f-9");
	CHECK(ssi_s3_parse_complete_etag(S("<CompleteMultipartUploadResult><ETag>\"a b\"</ETag>"
					   "</CompleteMultipartUploadResult>"), etag) == -1);
	CHECK_STR(etag, "");
	CHECK(ssi_s3_parse_complete_etag(S("<Error><ETag>abc</ETag></Error>"), etag) == -1);
}

static void test_state(void)
{
	struct ssi_s3_state st = { 0 };
	const char *sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	char text[600];
	snprintf(text, sizeof(text),
		 "o %s 10 b/with space\n"
		 "e 9e107d9d372bb6826bd81d3542a419d6-3\n"
		 "o %s 11 a\n"
		 "e \"d41d8cd98f00b204e9800998ecf8427e\"\n"
		 "o NOTHEX 1 bad\n"
		 "e 0123456789abcdef0123456789abcdef\n"
		 "x junk\n"
		 "o %s 12 a\n"
		 "e not an etag\n"
		 "e 0123\n"
		 "d 1700000000 gone/x\n"
		 "e 4567\n"
		 "d abc gone/bad\n"
		 "d 5",
		 sha, sha, sha);
	CHECK(ssi_s3_state_parse(text, strlen(text), &st) == 0);
	CHECK(st.nsent == 2);
	const struct ssi_s3_sent *b = ssi_s3_state_sent(&st, "b/with space");
	CHECK(b && b->size == 10);
	CHECK_STR(b ? b->etag : "", "9e107d9d372bb6826bd81d3542a419d6-3");
	/* the last entry of a key wins, with the ETag after it (one that is
	 * not made of letters, digits and '-' is none; an "e" line after
	 * anything but an entry is passed over) */
	CHECK(ssi_s3_state_sent(&st, "a") && ssi_s3_state_sent(&st, "a")->size == 12);
	CHECK_STR(ssi_s3_state_sent(&st, "a") ? ssi_s3_state_sent(&st, "a")->etag : "x", "");
	CHECK(ssi_s3_state_sent(&st, "bad") == NULL);
	CHECK(st.gone.n == 1 && ssi_s3_state_gone(&st, "gone/x")->since == 1700000000);
	CHECK(ssi_s3_state_add_sent(&st, "0first", sha, 5, "\"abc-2\"") == 0);
	CHECK(ssi_s3_state_add_sent(&st, "a", sha, 99, NULL) == 0);
	CHECK(ssi_s3_state_add_sent(&st, "new\nline", sha, 1, "") == -1);
	CHECK_STR(ssi_s3_state_sent(&st, "0first") ? ssi_s3_state_sent(&st, "0first")->etag : "", "abc-2");
	CHECK(ssi_s3_state_add_gone(&st, "gone/y", 7) == 0);
	size_t len;
	char *d = ssi_s3_state_dump(&st, &len);
	CHECK(d && len == strlen(d));
	struct ssi_s3_state st2 = { 0 };
	CHECK(d && ssi_s3_state_parse(d, len, &st2) == 0);
	CHECK(st2.nsent == 3 && st2.gone.n == 2);
	CHECK(ssi_s3_state_sent(&st2, "a") && ssi_s3_state_sent(&st2, "a")->size == 99);
	CHECK(ssi_s3_state_sent(&st2, "0first") != NULL);
	CHECK_STR(ssi_s3_state_sent(&st2, "0first") ? ssi_s3_state_sent(&st2, "0first")->etag : "", "abc-2");
	CHECK_STR(ssi_s3_state_sent(&st2, "b/with space") ? ssi_s3_state_sent(&st2, "b/with space")->etag : "",
		  "9e107d9d372bb6826bd81d3542a419d6-3");
	CHECK(d && strstr(d, "o " "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
			     " 5 0first\ne abc-2\n"));
	CHECK(ssi_s3_state_gone(&st2, "gone/y") && ssi_s3_state_gone(&st2, "gone/y")->since == 7);
	char *d2 = ssi_s3_state_dump(&st2, NULL);
	CHECK_STR(d2, d);
	free(d);
	free(d2);
	ssi_s3_state_free(&st);
	ssi_s3_state_free(&st2);
}

static void test_lock(void)
{
	char owner[16];
	long long exp = 0;
	CHECK(ssi_s3_lock_parse(S("owner host1:42 since x\nexpires 1800000000\n"), owner, sizeof(owner), &exp) == 0);
	CHECK_STR(owner, "host1:42 since ");
	CHECK(exp == 1800000000);
	CHECK(ssi_s3_lock_parse(S("owner x\n"), owner, sizeof(owner), &exp) == -1);
	CHECK(ssi_s3_lock_parse(S("expires 12x\nowner y"), owner, sizeof(owner), &exp) == -1);
}

static void test_credentials(void)
{
	const char *ini = "# comment\n[default]\naws_access_key_id = AK1\naws_secret_access_key=SK1\r\n"
			  "\n[ other ]\n  aws_access_key_id =AK2  \naws_secret_access_key = SK2\n"
			  "aws_session_token = TOK\nregion = x\n";
	char *ak = NULL, *sk = NULL, *tok = NULL;
	CHECK(ssi_s3_parse_credentials(ini, strlen(ini), "default", &ak, &sk, &tok) == 0);
	CHECK_STR(ak, "AK1");
	CHECK_STR(sk, "SK1");
	CHECK(tok == NULL);
	free(ak);
	free(sk);
	ak = sk = NULL;
	CHECK(ssi_s3_parse_credentials(ini, strlen(ini), "other", &ak, &sk, &tok) == 0);
	CHECK_STR(ak, "AK2");
	CHECK_STR(sk, "SK2");
	CHECK_STR(tok, "TOK");
	free(ak);
	free(sk);
	free(tok);
	ak = sk = NULL;
	/* A control character inside a value: the value is ignored. */
	const char *bad = "[default]\naws_access_key_id = A\rB\naws_secret_access_key = S\n";
	CHECK(ssi_s3_parse_credentials(bad, strlen(bad), "default", &ak, &sk, NULL) == 0);
	CHECK(ak == NULL);
	CHECK_STR(sk, "S");
	free(sk);
	CHECK(ssi_s3_parse_credentials(ini, strlen(ini), "missing", &ak, NULL, NULL) == -1);
	CHECK(ak == NULL);
}

/* Listed ETags: a multipart one fits; a longer one is left empty (the
 * entry is kept: a listing holds up to 4M of them, so the field is small). */
static void test_etag(void)
{
	struct ssi_s3_list l = { 0 };
	CHECK(ssi_s3_parse_list(S("<ListBucketResult><IsTruncated>false</IsTruncated>"
				  "<Contents><Key>a</Key><Size>1</Size>"
				  "<ETag>\"764efa883dda1e11db47671c4a3bbd9e-10000\"</ETag></Contents>"
				  "<Contents><Key>b</Key><Size>2</Size>"
				  "<ETag>\"764efa883dda1e11db47671c4a3bbd9e764efa883dda1e11db47671c4a3bbd9e\"</ETag>"
				  "</Contents></ListBucketResult>"), &l) == 0);
	CHECK(l.n == 2);
	CHECK_STR(l.objs[0].etag, "764efa883dda1e11db47671c4a3bbd9e-10000");
	CHECK_STR(l.objs[1].key, "b");
	CHECK(l.objs[1].size == 2 && l.objs[1].etag[0] == '\0');
	ssi_s3_list_free(&l);
}

static void test_num(void)
{
	long long v = -1;
	const char *n = "90071992547409930000", *z = "0", *bad = "12a", *neg = "-1";
	CHECK(ssi_s3_parse_num(z, z + 1, &v) == 0 && v == 0);
	CHECK(ssi_s3_parse_num(n, n + 4, &v) == 0 && v == 9007);
	CHECK(ssi_s3_parse_num(bad, bad + 3, &v) == -1);
	CHECK(ssi_s3_parse_num(neg, neg + 2, &v) == -1);
	CHECK(ssi_s3_parse_num(z, z, &v) == -1);
	CHECK(ssi_s3_parse_num(n, n + strlen(n), &v) == -1); /* far over 2^53: no overflow */
}

TEST_MAIN(test_list, test_etag, test_num, test_error, test_state, test_lock, test_credentials)
