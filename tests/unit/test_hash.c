/* SPDX-License-Identifier: Apache-2.0 */
/* Hashing: known digests, streaming in pieces, item checks naming the cause. */
#include "sstream.h"
#include "harness.h"

static void test_known(void)
{
	struct ss_hasher *h = ss_hasher_new(SS_HASH_SHA256 | SS_HASH_SHA512 | SS_HASH_MD5);
	CHECK(h != NULL);
	/* fed in pieces of every size, the result is the one-shot digest */
	const char *abc = "abc";
	for (int i = 0; i < 3; i++)
		ss_hasher_update(h, abc + i, 1);
	struct ss_digest d;
	ss_hasher_final(h, &d);
	CHECK(d.size == 3);
	CHECK_STR(d.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	CHECK_STR(d.md5, "900150983cd24fb0d6963f7d28e17f72");
	CHECK(strncmp(d.sha512, "ddaf35a193617abacc417349ae204131", 32) == 0 && strlen(d.sha512) == 128);
	CHECK(ss_hasher_reset(h) == SS_OK);
	ss_hasher_final(h, &d);
	CHECK_STR(d.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ss_hasher_free(h);
	h = ss_hasher_new(SS_HASH_MD5);
	ss_hasher_final(h, &d);
	CHECK(d.sha256[0] == '\0' && d.kinds == SS_HASH_MD5);
	ss_hasher_free(h);
}

static void test_items(void)
{
	struct ss_error err;
	struct ss_tree *t = ss_tree_load(SHARED("examples/minimal"), &err);
	CHECK(t != NULL);
	if (!t)
		return;
	const struct ss_products *p = ss_tree_products(t, 0);
	for (size_t i = 0; i < ss_products_count(p); i++) {
		const struct ss_item *it = ss_products_item(p, i);
		char *file = ss_join(ss_tree_root(t), ss_item_str(it, "path"));
		struct ss_digest d;
		CHECK(ss_item_hash_kinds(it) == SS_HASH_SHA256);
		CHECK(ss_hash_file(file, ss_item_hash_kinds(it), &d, &err) == SS_OK);
		CHECK(ss_item_check(it, &d, &err) == SS_OK);
		/* a flipped digit and a wrong size are named */
		d.sha256[0] = d.sha256[0] == '0' ? '1' : '0';
		ss_error_clear(&err);
		CHECK(ss_item_check(it, &d, &err) == SS_INTEGRITY && strstr(err.msg, "sha256"));
		d.size++;
		CHECK(ss_item_check(it, &d, &err) == SS_INTEGRITY && strstr(err.msg, "size"));
		free(file);
	}
	struct ss_digest d;
	CHECK(ss_hash_file(TESTDATA("no-such-file"), SS_HASH_SHA256, &d, &err) == SS_FATAL);
	CHECK(strstr(err.msg, "no-such-file") != NULL);
	ss_tree_free(t);
}

TEST_MAIN(test_known, test_items)
