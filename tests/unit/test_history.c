/* SPDX-License-Identifier: Apache-2.0 */
/* history: a record whose products file does not parse is not rolled
 * back to (rollback's check names it instead of skipping it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sstream.h"
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

TEST_MAIN(test_rollback_unparsable)
