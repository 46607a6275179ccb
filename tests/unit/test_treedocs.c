/* SPDX-License-Identifier: Apache-2.0 */
/* treedocs and treelock: documents written so that every index names
 * products files listing exactly its products; the lock and the cleanup
 * of what killed runs left. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "treedocs.h"
#include "treelock.h"
#include "harness.h"

static char top[] = "/tmp/ss-treedocs-XXXXXX";
static char tree[300];

static int exists(const char *rel)
{
	char p[600];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", tree, rel);
	return lstat(p, &st) == 0;
}

static void put_file(const char *rel, const char *text)
{
	char p[600];
	snprintf(p, sizeof(p), "%s/%s", tree, rel);
	FILE *f = fopen(p, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static json_t *products(const char *a, const char *b)
{
	json_t *doc = json_pack("{s:s, s:s, s:s, s:{}}", "format", "products:1.0", "content_id", "images", "datatype",
				"image-downloads", "products");
	json_t *prods = json_object_get(doc, "products");
	json_object_set_new(prods, a, json_pack("{s:{}}", "versions"));
	if (b)
		json_object_set_new(prods, b, json_pack("{s:{}}", "versions"));
	return doc;
}

static json_t *index_of(const char *a, const char *b)
{
	json_t *names = b ? json_pack("[s, s]", a, b) : json_pack("[s]", a);
	return json_pack("{s:s, s:{s:{s:s, s:s, s:s, s:o}}}", "format", "index:1.0", "index", "images", "format",
			 "products:1.0", "datatype", "image-downloads", "path", "streams/v1/images.json", "products",
			 names);
}

static void test_publish(void)
{
	CHECK(mkdtemp(top) != NULL);
	snprintf(tree, sizeof(tree), "%s/tree", top);
	struct ss_error err;
	json_t *docs = json_object(), *idx = index_of("a", NULL);
	json_object_set_new(docs, "streams/v1/images.json", products("a", NULL));
	int changed = 0;
	CHECK(ssi_treedocs_differ(NULL, tree, docs, idx) == 1);
	CHECK(ssi_treedocs_publish(NULL, tree, docs, idx, &changed, &err) == SS_OK && changed);
	CHECK(exists("streams/v1/images.json") && exists("streams/v1/index.json"));
	CHECK(ssi_treedocs_differ(NULL, tree, docs, idx) == 0);
	changed = 0;
	CHECK(ssi_treedocs_publish(NULL, tree, docs, idx, &changed, &err) == SS_OK && !changed);
	json_decref(idx);
	json_decref(docs);

	/* a product list change goes through an alternate that is gone after */
	docs = json_object();
	idx = index_of("a", "b");
	json_object_set_new(docs, "streams/v1/images.json", products("a", "b"));
	CHECK(ssi_treedocs_differ(NULL, tree, docs, idx) == 1);
	CHECK(ssi_treedocs_publish(NULL, tree, docs, idx, &changed, &err) == SS_OK && changed);
	CHECK(!exists("streams/v1/.images.a.json") && !exists("streams/v1/.images.b.json"));
	json_t *view = ssi_treedocs_view(tree, "streams/v1/index.json");
	CHECK(json_equal(view, idx));
	json_decref(view);
	char rel[300];
	ssi_treedocs_visible(tree, "images", "streams/v1/images.json", rel, sizeof(rel));
	CHECK_STR(rel, "streams/v1/images.json");
	json_decref(idx);
	json_decref(docs);
}

static void test_put_bytes(void)
{
	/* a killed switch: the index names an alternate; rollback's bytes
	 * bring back the plain names and remove the alternate */
	struct ss_error err;
	const char *idx_alt = "{\"format\": \"index:1.0\", \"index\": {\"images\": {\"path\": \"streams/v1/.images.a.json\","
			      " \"products\": [\"a\", \"b\"]}}}\n";
	put_file("streams/v1/index.json", idx_alt);
	put_file("streams/v1/.images.a.json", "{}\n");
	char rel[300];
	ssi_treedocs_visible(tree, "images", "streams/v1/images.json", rel, sizeof(rel));
	CHECK_STR(rel, "streams/v1/.images.a.json");
	const char *rels[] = { "streams/v1/index.json", "streams/v1/images.json" };
	const char *index = "{\"format\": \"index:1.0\", \"index\": {\"images\": {\"path\": \"streams/v1/images.json\","
			    " \"products\": [\"a\"]}}}\n";
	const char *prods = "{\"format\": \"products:1.0\", \"content_id\": \"images\", \"products\": {\"a\": {}}}\n";
	const char *data[] = { index, prods };
	size_t lens[] = { strlen(index), strlen(prods) };
	int changed = 0;
	CHECK(ssi_treedocs_put(tree, 2, rels, data, lens, &changed, &err) == SS_OK && changed);
	CHECK(!exists("streams/v1/.images.a.json"));
	ssi_treedocs_visible(tree, "images", "streams/v1/images.json", rel, sizeof(rel));
	CHECK_STR(rel, "streams/v1/images.json");
	/* no index among the bytes: refused */
	CHECK(ssi_treedocs_put(tree, 1, rels + 1, data + 1, lens + 1, NULL, &err) == SS_FATAL);
}

static void test_lock(void)
{
	struct ss_error err;
	int fd = -1, fd2 = -1;
	put_file("streams/v1/.index.json.tmp.abcdef", "stale");
	put_file("streams/v1/keep.json", "{}");
	CHECK(ssi_treelock_take(tree, SSI_TL_KEEP_NONE, &fd, &err) == SS_OK && fd >= 0);
	CHECK(!exists("streams/v1/.index.json.tmp.abcdef") && exists("streams/v1/keep.json"));
	/* held: the second one waits for nobody */
	CHECK(ssi_treelock_take(tree, SSI_TL_KEEP_NONE, &fd2, &err) == SS_TEMPFAIL && fd2 < 0);
	put_file(".sstream/tmp/x.part", "resume me");
	put_file(".sstream/tmp/add.abc123", "a copy");
	close(fd);
	CHECK(ssi_treelock_take(tree, SSI_TL_KEEP_PARTS, &fd, &err) == SS_OK);
	CHECK(exists(".sstream/tmp/x.part") && !exists(".sstream/tmp/add.abc123"));
	close(fd);
	CHECK(ssi_treelock_take(tree, SSI_TL_KEEP_NONE, &fd, &err) == SS_OK);
	CHECK(!exists(".sstream/tmp/x.part"));
	close(fd);
	/* a symlinked .sstream/tmp is refused, the lock let go */
	char p[600], q[600];
	snprintf(p, sizeof(p), "%s/.sstream/tmp", tree);
	snprintf(q, sizeof(q), "%s/elsewhere", top);
	CHECK(rmdir(p) == 0 && mkdir(q, 0755) == 0 && symlink(q, p) == 0);
	CHECK(ssi_treelock_take(tree, SSI_TL_KEEP_NONE, &fd, &err) == SS_FATAL && fd == -1);
	CHECK(ssi_treelock_take(tree, SSI_TL_KEEP_NONE, &fd2, &err) == SS_FATAL); /* not held by the failed one */
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	CHECK(system(cmd) == 0);
}

TEST_MAIN(test_publish, test_put_bytes, test_lock)
