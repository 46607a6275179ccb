/* SPDX-License-Identifier: Apache-2.0 */
/* history: a record whose products file does not parse is not rolled
 * back to (rollback's check names it instead of skipping it); a record
 * with a state prepared from the documents says what the tree holds,
 * whether they are what was written or not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sstream.h"
#include "internal.h"
#include "harness.h"

static char top[] = "/tmp/ss-history-XXXXXX";

static void write_file(const char *dir, const char *rel, const char *text)
{
	char p[600];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	FILE *f = fopen(p, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void on_missing(void *ud, const char *path, const char *why)
{
	char *seen = ud;
	size_t n = strlen(seen);
	snprintf(seen + n, 2048 - n, "%s: %s\n", path, why);
}

static const char index_broken[] =
	"{\"format\": \"index:1.0\", \"index\": {\"x\": {\"format\": \"products:1.0\", \"datatype\": \"image-ids\","
	" \"path\": \"streams/v1/x.json\", \"products\": [\"p\"]}}}\n";
static const char products_ok[] =
	"{\"format\": \"products:1.0\", \"content_id\": \"x\", \"datatype\": \"image-ids\","
	" \"products\": {\"p\": {\"versions\": {\"1\": {\"items\": {\"i\": {\"id\": \"a\"}}}}}}}\n";

static void test_rollback_unparsable(void)
{
	char tree[300], dir[400], seen[2048] = "";
	int committed = 0;
	struct ss_error err;
	CHECK(mkdtemp(top) != NULL);
	snprintf(tree, sizeof(tree), "%s/tree", top);
	snprintf(dir, sizeof(dir), "%s/streams/v1", tree);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dir);
	CHECK(system(cmd) == 0);
	/* record 1: x.json is not JSON */
	write_file(tree, "streams/v1/index.json", index_broken);
	write_file(tree, "streams/v1/x.json", "{\"format\": \"products:1.0\", this is not JSON\n");
	CHECK(ss_history_record(tree, "test", &committed, &err) == SS_OK && committed);
	/* record 2: a good one */
	write_file(tree, "streams/v1/x.json", products_ok);
	CHECK(ss_history_record(tree, "test", &committed, &err) == SS_OK && committed);
	CHECK(ss_history_rollback(tree, "HEAD~1", on_missing, seen, &err) == SS_FATAL);
	CHECK(strstr(seen, "x.json") != NULL);
	CHECK(strstr(err.msg, "cannot roll back") != NULL);
	/* the tree keeps the good file */
	char file[600], *data = NULL;
	size_t len = 0;
	snprintf(file, sizeof(file), "%s/x.json", dir);
	CHECK(ss_fetch(file, 1 << 20, &data, &len, &err) == SS_OK);
	CHECK(data && len == strlen(products_ok) && memcmp(data, products_ok, len) == 0);
	free(data);
	/* the good record rolls back fine */
	seen[0] = '\0';
	CHECK(ss_history_rollback(tree, "HEAD", on_missing, seen, &err) == SS_OK);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	CHECK(system(cmd) == 0);
}

static void on_entry(void *ud, const struct ss_history_entry *e)
{
	char *msg = ud;
	if (!msg[0])
		snprintf(msg, 2048, "%s", e->message);
}

/* The newest record's message of TREE into MSG (2048 bytes). */
static void newest(const char *tree, char *msg)
{
	struct ss_error err;
	msg[0] = '\0';
	CHECK(ss_history_log(tree, 1, on_entry, msg, &err) == SS_OK);
}

static const char products_two[] =
	"{\"format\": \"products:1.0\", \"content_id\": \"x\", \"datatype\": \"image-ids\","
	" \"products\": {\"p\": {\"versions\": {\"1\": {\"items\": {\"i\": {\"id\": \"a\"}}},"
	" \"2\": {\"items\": {\"i\": {\"id\": \"b\", \"size\": 7}}}}}}}\n";

/* Prepared from index.json D0 and x.json D1; with P, x.json's items are
 * given (P's model, or with AS_ITEMS its items one by one). */
static struct ssh_after *prepare(const char *tree, const char *d0, const char *d1, const struct ss_products *p,
				 int as_items)
{
	struct ssi_prepdoc docs[2] = { { "streams/v1/index.json", d0, d0 ? strlen(d0) : 0, NULL, NULL, 0 },
				       { "streams/v1/x.json", d1, d1 ? strlen(d1) : 0, NULL, NULL, 0 } };
	const struct ss_item *items[8];
	if (p && as_items) {
		for (size_t k = 0; k < ss_products_count(p) && k < 8; k++)
			items[k] = ss_products_item(p, k);
		docs[1].items = items;
		docs[1].nitems = ss_products_count(p);
	} else {
		docs[1].products = p;
	}
	struct ssh_after *a = ssi_history_prepare(tree, 2, docs);
	ssi_history_prepared(a); /* (ITEMS go now) */
	return a;
}

static void test_prepared(void)
{
	char tree[300], msg[2048], cmd[600];
	int committed = 0;
	struct ss_error err;
	snprintf(top, sizeof(top), "/tmp/ss-history-XXXXXX");
	CHECK(mkdtemp(top) != NULL);
	snprintf(tree, sizeof(tree), "%s/tree", top);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/streams/v1'", tree);
	CHECK(system(cmd) == 0);
	struct ss_products *two = ss_products_parse(products_two, strlen(products_two), "two", NULL, &err);
	struct ss_products *ok = ss_products_parse(products_ok, strlen(products_ok), "ok", NULL, &err);
	CHECK(two && ok);
	/* prepared from what is then written, its items given as its model */
	struct ssh_after *prep = prepare(tree, index_broken, products_two, two, 0);
	CHECK(prep != NULL);
	write_file(tree, "streams/v1/index.json", index_broken);
	write_file(tree, "streams/v1/x.json", products_two);
	CHECK(ssi_history_record(tree, "test", prep, &committed, &err) == SS_OK && committed);
	newest(tree, msg);
	CHECK(strstr(msg, "+2 -0 versions, +2 -0 items; 2 items, 7 bytes") != NULL);
	CHECK(strstr(msg, "+ p 2\n") != NULL);
	/* prepared from documents that are not what the tree then holds: the
	 * record reads the tree */
	prep = prepare(tree, index_broken, products_two, NULL, 0);
	CHECK(prep != NULL);
	write_file(tree, "streams/v1/x.json", products_ok);
	CHECK(ssi_history_record(tree, "test", prep, &committed, &err) == SS_OK && committed);
	newest(tree, msg);
	CHECK(strstr(msg, "+0 -1 versions, +0 -1 items; 1 items, 0 bytes") != NULL);
	CHECK(strstr(msg, "- p 2\n") != NULL);
	/* a products file the prepared documents do not have: read too */
	prep = prepare(tree, index_broken, products_two, NULL, 0);
	write_file(tree, "streams/v1/x.json", products_two);
	write_file(tree, "streams/v1/y.json", products_ok);
	CHECK(ssi_history_record(tree, "test", prep, &committed, &err) == SS_OK && committed);
	newest(tree, msg);
	CHECK(strstr(msg, "+1 -0 versions, +2 -0 items; 3 items, 7 bytes") != NULL);
	/* the items given one by one stand for the bytes: given ones that
	 * differ from them (x.json is products_two), the message follows the
	 * items (products_ok's: one version, one item) */
	snprintf(cmd, sizeof(cmd), "rm '%s/streams/v1/y.json'", tree);
	CHECK(system(cmd) == 0);
	prep = prepare(tree, index_broken, products_two, ok, 1);
	CHECK(ssi_history_record(tree, "test", prep, &committed, &err) == SS_OK && committed);
	newest(tree, msg);
	CHECK(strstr(msg, "1 items, 0 bytes") != NULL);
	/* a document not at hand: nothing is prepared */
	CHECK(prepare(tree, index_broken, NULL, NULL, 0) == NULL);
	ss_products_free(two);
	ss_products_free(ok);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	CHECK(system(cmd) == 0);
}

TEST_MAIN(test_rollback_unparsable, test_prepared)
