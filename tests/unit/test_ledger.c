/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ledger of files waiting out their grace period (lib/ledger.c): the
 * strict parse of "P SINCE PATH", the old formats it migrates, add and
 * update, expiry, and the text written back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ledger.h"

#define S(s) s, strlen(s)

static char *text(const struct ssi_ledger *l)
{
	static char buf[8192];
	CHECK(ssi_ledger_text_len(l) < sizeof(buf));
	ssi_ledger_text(l, buf);
	return buf;
}

static void test_parse_strict(void)
{
	struct ssi_ledger l = { 0 };
	struct ss_error why;
	CHECK(ssi_ledger_parse_line(&l, S("P 100 files/a"), 0, &why) == 1);
	CHECK(ssi_ledger_parse_line(&l, S("M streams/v1/index.json"), 0, &why) == 0);
	CHECK(ssi_ledger_parse_line(&l, S("P -5 files/neg"), 0, &why) == -2);
	CHECK(ssi_ledger_parse_line(&l, S("P +5 files/plus"), 0, &why) == -2);
	CHECK(ssi_ledger_parse_line(&l, S("P 5x files/x"), 0, &why) == -2);
	CHECK(ssi_ledger_parse_line(&l, S("P 1000000000000000000 files/big"), 0, &why) == -2);
	CHECK(ssi_ledger_parse_line(&l, S("P 999999999999999999 files/max"), 0, &why) == 1);
	CHECK(ssi_ledger_parse_line(&l, S("P 5"), 0, &why) == -2);
	CHECK(ssi_ledger_parse_line(&l, S("P 5 "), 0, &why) == -2);
	CHECK(ssi_ledger_parse_line(&l, S("P 5 ../outside"), 0, &why) == -2);
	CHECK(strstr(why.msg, "'..' segment") != NULL);
	CHECK(ssi_ledger_parse_line(&l, S("P 5 /etc/passwd"), 0, &why) == -2);
	CHECK(ssi_ledger_parse_line(&l, S("P 5 .sstream/state"), 0, &why) == -2);
	CHECK(ssi_ledger_parse_line(&l, S("P 5 a//b"), 0, &why) == -2);
	CHECK(ssi_ledger_parse_line(&l, S("P 5 a\\b"), 0, &why) == -2);
	CHECK(ssi_ledger_parse_line(&l, S("P 5 a\rb"), 0, &why) == -2);
	CHECK(ssi_ledger_parse_line(&l, "P 5 a\0b", 7, 0, &why) == -2);
	CHECK(ssi_ledger_parse_line(&l, S("P 5 with space/ok"), 0, &why) == 1);
	/* bounded: a path longer than SSI_LEDGER_PATH_MAX is refused */
	char *longl = malloc(SSI_LEDGER_PATH_MAX + 16);
	memcpy(longl, "P 5 ", 4);
	memset(longl + 4, 'a', SSI_LEDGER_PATH_MAX + 1);
	CHECK(ssi_ledger_parse_line(&l, longl, 4 + SSI_LEDGER_PATH_MAX + 1, 0, &why) == -2);
	CHECK(ssi_ledger_parse_line(&l, longl, 4 + SSI_LEDGER_PATH_MAX, 0, &why) == 1);
	free(longl);
	/* the old formats only when asked for */
	CHECK(ssi_ledger_parse_line(&l, S("7 files/bare"), 0, &why) == 0);
	CHECK(ssi_ledger_parse_line(&l, S("d 7 files/s3"), 0, &why) == 0);
	CHECK(ssi_ledger_parse_line(&l, S("7 files/bare"), SSI_LEDGER_OLD_BARE, &why) == 1);
	CHECK(ssi_ledger_parse_line(&l, S("d 8 files/s3"), SSI_LEDGER_OLD_S3, &why) == 1);
	CHECK(ssi_ledger_parse_line(&l, S("abc files/bare"), SSI_LEDGER_OLD_BARE, &why) == 0);
	CHECK(ssi_ledger_parse_line(&l, S("7 ../x"), SSI_LEDGER_OLD_BARE, &why) == -2);
	CHECK(l.n == 6);
	ssi_ledger_free(&l);
}

/* The migration: old lines read, the new format written, and read back
 * the same. */
static void test_migrate(void)
{
	struct ssi_ledger l = { 0 }, back = { 0 };
	const char *old = "300 images/b.tar.xz\n100 images/a.tar.xz\nnonsense\n200 ../up\n"
			  "P 400 images/c.tar.xz\n";
	size_t bad = 0;
	CHECK(ssi_ledger_parse(&l, S(old), SSI_LEDGER_OLD_BARE, &bad) == 0);
	CHECK(bad == 1);
	CHECK_STR(text(&l), "P 100 images/a.tar.xz\nP 300 images/b.tar.xz\nP 400 images/c.tar.xz\n");
	const char *s3 = "o e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 1 k\n"
			 "d 9 site/x\nd 8 site/x\nd zz site/y";
	ssi_ledger_free(&l);
	CHECK(ssi_ledger_parse(&l, S(s3), SSI_LEDGER_OLD_S3, &bad) == 0);
	CHECK(l.n == 1 && l.v[0].since == 8); /* the last of one path wins */
	char *t = strdup(text(&l));
	CHECK_STR(t, "P 8 site/x\n");
	CHECK(ssi_ledger_parse(&back, t, strlen(t), 0, NULL) == 0);
	CHECK_STR(text(&back), t);
	free(t);
	ssi_ledger_free(&l);
	ssi_ledger_free(&back);
}

static void test_add_find(void)
{
	struct ssi_ledger l = { 0 };
	CHECK(ssi_ledger_add(&l, "b", 2) == 0);
	CHECK(ssi_ledger_add(&l, "c", 3) == 0);
	CHECK(!l.unsorted); /* in order: still sealed */
	CHECK(ssi_ledger_find(&l, "c") && ssi_ledger_find(&l, "c")->since == 3);
	CHECK(ssi_ledger_add(&l, "b", 20) == 0); /* update in place */
	CHECK(l.n == 2 && ssi_ledger_find(&l, "b")->since == 20);
	CHECK(ssi_ledger_add(&l, "a", 1) == 0); /* out of order */
	CHECK(ssi_ledger_add(&l, "c", 30) == 0);
	CHECK(ssi_ledger_find(&l, "a") == NULL); /* not sealed yet: found nothing */
	ssi_ledger_seal(&l);
	CHECK_STR(text(&l), "P 1 a\nP 20 b\nP 30 c\n");
	CHECK(ssi_ledger_add(&l, "../x", 1) == -2);
	CHECK(ssi_ledger_add(&l, "x", -1) == -2);
	CHECK(ssi_ledger_add(&l, "x\ny", 1) == -2);
	CHECK(ssi_ledger_add(&l, ".sstream/state", 1) == -2);
	CHECK(l.n == 3);
	/* out of memory is said, never an entry silently lost */
	ssi_strset_fail_after(1);
	CHECK(ssi_ledger_add(&l, "z", 1) == -1);
	ssi_strset_fail_after(0);
	CHECK(l.n == 3);
	ssi_ledger_free(&l);
}

struct dels {
	char seen[8][16];
	int n;
	const char *refuse;
};

static int del(void *ud, const char *path)
{
	struct dels *d = ud;
	if (d->n < 8)
		snprintf(d->seen[d->n++], sizeof(d->seen[0]), "%s", path);
	return d->refuse && strcmp(path, d->refuse) == 0;
}

static void test_expire(void)
{
	struct ssi_ledger l = { 0 };
	CHECK(ssi_ledger_add(&l, "young", 950) == 0);
	CHECK(ssi_ledger_add(&l, "old", 800) == 0);
	CHECK(ssi_ledger_add(&l, "edge", 900) == 0);
	CHECK(ssi_ledger_add(&l, "stuck", 1) == 0);
	ssi_ledger_seal(&l);
	CHECK(ssi_ledger_count_due(&l, 1000, 100) == 3); /* 1000 - 900 >= 100: due */
	CHECK(ssi_ledger_due(900, 1000, 100) && !ssi_ledger_due(901, 1000, 100));
	struct dels d = { .refuse = "stuck" };
	ssi_ledger_expire(&l, 1000, 100, del, &d);
	CHECK(d.n == 3);
	CHECK_STR(d.seen[0], "edge"); /* in order of path */
	CHECK_STR(d.seen[1], "old");
	CHECK_STR(d.seen[2], "stuck");
	CHECK_STR(text(&l), "P 1 stuck\nP 950 young\n"); /* refused: kept with its time */
	ssi_ledger_free(&l);
	CHECK(l.n == 0 && l.v == NULL);
	ssi_ledger_free(NULL);
}

TEST_MAIN(test_parse_strict, test_migrate, test_add_find, test_expire)
