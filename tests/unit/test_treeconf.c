/* SPDX-License-Identifier: Apache-2.0 */
/* treeconf: a tree's settings file (TREE/.sstream/config) parsed strictly,
 * written atomically and only when it changes; the signed view's names
 * (treedocs) that a prune keeps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "treeconf.h"
#include "treedocs.h"
#include "harness.h"

static char top[] = "/tmp/ss-treeconf-XXXXXX";

static int parses(const char *text)
{
	struct ssi_treeconf c;
	struct ss_error e;
	ss_error_clear(&e);
	int rc = ssi_treeconf_parse(text, strlen(text), "cfg", &c, &e);
	ssi_treeconf_free(&c);
	return rc == SS_OK;
}

static void test_parse(void)
{
	CHECK(parses(""));
	CHECK(parses("# a comment\n\nsign-key = ABCDEF\n"));
	CHECK(parses("sign-key = ABCDEF\nwebconf-nginx = https://x.example/\nwebconf-apache = http://y/\n"));
	CHECK(!parses("sign-key = ABCDEF"));            /* no final newline */
	CHECK(!parses("sign-key=ABCDEF\n"));            /* not KEY = VALUE */
	CHECK(!parses("sign-key  = ABCDEF\n"));
	CHECK(!parses("sign-key = \n"));                /* empty */
	CHECK(!parses("sign-key = A B\n"));             /* a space */
	CHECK(!parses("sign-key = A\nsign-key = B\n")); /* twice */
	CHECK(!parses("colour = blue\n"));              /* unknown */
	CHECK(!parses(" # indented comment\n"));
	CHECK(!parses("sign-key = A\r\n"));             /* a control character */
	struct ssi_treeconf c;
	struct ss_error e;
	CHECK(ssi_treeconf_parse("x\n", 2, "T/.sstream/config", &c, &e) == SS_FATAL);
	CHECK(strstr(e.msg, "T/.sstream/config") && strstr(e.msg, "line 1"));
	const char nul[] = "sign-key = A\0B\n";
	CHECK(ssi_treeconf_parse(nul, sizeof(nul) - 1, "cfg", &c, &e) == SS_FATAL);
	ssi_treeconf_free(&c);
}

static void test_dump_roundtrip(void)
{
	struct ssi_treeconf c, d;
	struct ss_error e;
	const char *text = "webconf-apache = http://y/\nsign-key = K\n";
	CHECK(ssi_treeconf_parse(text, strlen(text), "cfg", &c, &e) == SS_OK);
	size_t n, m;
	char *a = ssi_treeconf_dump(&c, &n);
	CHECK(a && ssi_treeconf_parse(a, n, "dump", &d, &e) == SS_OK);
	char *b = ssi_treeconf_dump(&d, &m);
	CHECK(b && n == m && memcmp(a, b, n) == 0);
	CHECK(a && strstr(a, "sign-key = K\n") < strstr(a, "webconf-apache = http://y/\n"));
	free(a);
	free(b);
	ssi_treeconf_free(&c);
	ssi_treeconf_free(&d);
}

static void test_get_set(void)
{
	char tree[300], file[400];
	snprintf(tree, sizeof(tree), "%s/t", top);
	snprintf(file, sizeof(file), "%s/.sstream/config", tree);
	struct ss_error e;
	char *v = (char *)"x";
	CHECK(ss_treeconf_get(tree, "sign-key", &v, &e) == SS_OK && v == NULL); /* no file */
	CHECK(ss_treeconf_set(tree, "sign-key", NULL, &e) == SS_OK);
	struct stat st;
	CHECK(stat(file, &st) != 0); /* forgetting nothing writes nothing */
	CHECK(ss_treeconf_set(tree, "sign-key", "FPR1", &e) == SS_OK);
	CHECK(ss_treeconf_set(tree, "webconf-nginx", "https://x.example/", &e) == SS_OK);
	CHECK(ss_treeconf_get(tree, "sign-key", &v, &e) == SS_OK);
	CHECK_STR(v, "FPR1");
	free(v);
	CHECK(stat(file, &st) == 0);
	struct timespec before = st.st_mtim;
	ino_t ino = st.st_ino;
	CHECK(ss_treeconf_set(tree, "sign-key", "FPR1", &e) == SS_OK); /* unchanged: not written */
	CHECK(stat(file, &st) == 0 && st.st_ino == ino && st.st_mtim.tv_nsec == before.tv_nsec);
	CHECK(ss_treeconf_set(tree, "sign-key", NULL, &e) == SS_OK);
	CHECK(ss_treeconf_get(tree, "sign-key", &v, &e) == SS_OK && v == NULL);
	CHECK(ss_treeconf_get(tree, "webconf-nginx", &v, &e) == SS_OK);
	CHECK_STR(v, "https://x.example/");
	free(v);
	CHECK(ss_treeconf_set(tree, "colour", "blue", &e) == SS_USAGE);
	CHECK(ss_treeconf_set(tree, "sign-key", "a b", &e) == SS_USAGE);
	CHECK(ss_treeconf_get(tree, "colour", &v, &e) == SS_USAGE);
	/* a damaged file is an error naming it, never a silent default */
	FILE *f = fopen(file, "w");
	if (f) {
		fputs("sign-key = A\nbogus\n", f);
		fclose(f);
	}
	CHECK(ss_treeconf_get(tree, "sign-key", &v, &e) == SS_FATAL && v == NULL);
	CHECK(strstr(e.msg, "line 2") != NULL);
	CHECK(ss_treeconf_set(tree, "sign-key", "B", &e) == SS_FATAL);
	/* no signing key remembered, none given, no signed index: unsigned */
	char *key = (char *)"x";
	CHECK(unlink(file) == 0);
	CHECK(ss_tree_signer(tree, NULL, 0, SS_SIGNER_REQUIRE, &key, &e) == SS_OK && key == NULL);
	CHECK(ss_tree_signer(tree, "K", 1, 0, &key, &e) == SS_USAGE);
}

static void put(const char *tree, const char *rel, const char *text)
{
	struct ss_error e;
	CHECK(ssi_safe_write(tree, rel, text, strlen(text), NULL, &e) == SS_OK);
}

/* what a prune keeps besides what the plain view names */
static void test_signed_names(void)
{
	char tree[300];
	snprintf(tree, sizeof(tree), "%s/s", top);
	struct ssi_strset s = { 0 };
	CHECK(ssi_treedocs_signed_names(tree, &s) == 0 && s.n == 0);
	/* not really signed: read as a plain body, as a reader would not
	 * bother to check here (the names only ever keep files) */
	put(tree, "streams/v1/index.sjson",
	    "{\"format\": \"index:1.0\", \"index\": {\"images\": {\"path\": \"streams/v1/images.sjson\"}}}");
	put(tree, "streams/v1/images.sjson",
	    "{\"format\": \"products:1.0\", \"products\": {\"p\": {\"versions\": {\"1\": {\"items\": "
	    "{\"a\": {\"path\": \"images/old/a\"}, \"b\": {\"path\": \"images/old/b\"}}}}}}}");
	CHECK(ssi_treedocs_signed_names(tree, &s) == 0);
	ssi_strset_seal(&s);
	CHECK(ssi_strset_has(&s, "images/old/a") && ssi_strset_has(&s, "images/old/b"));
	CHECK(ssi_strset_has(&s, "streams/v1/images.sjson"));
	CHECK(!ssi_strset_has(&s, "streams/v1/index.sjson"));
	ssi_strset_free(&s);
	/* an index naming a path outside the tree names nothing */
	put(tree, "streams/v1/index.sjson",
	    "{\"format\": \"index:1.0\", \"index\": {\"x\": {\"path\": \"../../etc/passwd\"}}}");
	CHECK(ssi_treedocs_signed_names(tree, &s) == 0 && s.n == 0);
	ssi_strset_free(&s);
}

static void setup(void)
{
	CHECK(mkdtemp(top) != NULL);
}

static void teardown(void)
{
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	CHECK(system(cmd) == 0);
}

TEST_MAIN(setup, test_parse, test_dump_roundtrip, test_get_set, test_signed_names, teardown)
