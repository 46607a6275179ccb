/* SPDX-License-Identifier: Apache-2.0 */
/* Trees: roots, direct index and products files, nested indexes, selection. */
#include <dirent.h>
#include <sys/stat.h>

#include "sstream.h"
#include "harness.h"
#include "model_internal.h"

static size_t total_items(const struct ss_tree *t)
{
	size_t n = 0;
	for (size_t i = 0; i < ss_tree_nproducts(t); i++)
		n += ss_products_count(ss_tree_products(t, i));
	return n;
}

static void test_sources(void)
{
	struct ss_error err;
	struct ss_tree *t = ss_tree_load(SHARED("examples/foocloud"), &err);
	CHECK(t != NULL);
	if (t) {
		CHECK(ss_tree_nproducts(t) == 2);
		CHECK(strstr(ss_tree_root(t), "examples/foocloud") != NULL);
	}
	ss_tree_free(t);
	/* a direct index: the root is what precedes streams/v1/ */
	t = ss_tree_load(SHARED("examples/cirros/streams/v1/index.json"), &err);
	CHECK(t && ss_tree_nproducts(t) == 2);
	if (t) {
		const char *r = ss_tree_root(t);
		CHECK(strlen(r) > 7 && strcmp(r + strlen(r) - 7, "cirros/") == 0);
	}
	ss_tree_free(t);
	/* a direct products file outside streams/v1: the root is its directory */
	t = ss_tree_load(SHARED("real/lxc-images-20230424.json"), &err);
	CHECK(t && ss_tree_nproducts(t) == 1 && total_items(t) == 5435);
	ss_tree_free(t);
	/* a signed tree root: no index.json, so index.sjson */
	t = ss_tree_load(SHARED("signed/examples/minimal"), &err);
	CHECK(t && ss_tree_nproducts(t) == 1 && total_items(t) == 2);
	ss_tree_free(t);
	/* nested index */
	t = ss_tree_load(TESTDATA("nested"), &err);
	CHECK(t && ss_tree_nproducts(t) == 1 && total_items(t) == 3);
	if (t) /* no content_id in the file: the index key names it */
		CHECK_STR(ss_products_content_id(ss_tree_products(t, 0)), "com.example:leaf");
	ss_tree_free(t);
	/* errors name the file */
	ss_error_clear(&err);
	t = ss_tree_load(TESTDATA("no-such-tree"), &err);
	CHECK(t == NULL && err.code == SS_FATAL && strstr(err.msg, "no-such-tree/streams/v1/index.json") &&
	      !strstr(err.msg, "index.sjson"));
	t = ss_tree_load(TESTDATA("bad/truncated.json"), &err);
	CHECK(t == NULL && err.code == SS_FATAL && strstr(err.msg, "truncated.json"));
	/* an index naming a products file that is missing */
	t = ss_tree_load(SHARED("real/juju-otc-index.json"), &err);
	CHECK(t == NULL && strstr(err.msg, "com.ubuntu.cloud-released-otc.sjson"));
}

static void test_select(void)
{
	struct ss_error err;
	struct ss_tree *t = ss_tree_load(SHARED("real/lxc-images-20230424.json"), &err);
	CHECK(t != NULL);
	if (!t)
		return;
	struct ss_selection sel;
	CHECK(ss_select(t, NULL, 0, &sel, &err) == SS_OK);
	CHECK(sel.count == 5435);
	int ordered = 1;
	for (size_t i = 1; i < sel.count; i++) {
		const struct ss_item *a = sel.items[i - 1], *b = sel.items[i];
		int pc = strcmp(ss_item_product(a), ss_item_product(b));
		if (pc > 0 || (pc == 0 && ss_version_cmp(ss_item_version(a), ss_item_version(b)) < 0))
			ordered = 0;
	}
	CHECK(ordered);
	ss_selection_free(&sel);

	const char *exprs[] = { "arch=amd64", "release~(jammy|noble)", "ftype=squashfs" };
	struct ss_filter *f = ss_filter_parse(exprs, 3, &err);
	CHECK(ss_select(t, f, 1, &sel, &err) == SS_OK);
	CHECK(sel.count > 0);
	for (size_t i = 0; i < sel.count; i++) {
		char buf[64];
		CHECK_STR(ss_item_get(sel.items[i], "arch", buf, sizeof(buf)), "amd64");
		CHECK_STR(ss_item_get(sel.items[i], "ftype", buf, sizeof(buf)), "squashfs");
		/* one version per product */
		if (i)
			CHECK(strcmp(ss_item_product(sel.items[i - 1]), ss_item_product(sel.items[i])) != 0);
	}
	ss_selection_free(&sel);
	ss_filter_free(f);
	ss_tree_free(t);

	/* --max counts only versions with a matching item */
	t = ss_tree_load(SHARED("examples/foocloud"), &err);
	const char *beta[] = { "label=beta2", "arch=amd64", "ftype=disk1.img" };
	f = ss_filter_parse(beta, 3, &err);
	CHECK(ss_select(t, f, 1, &sel, &err) == SS_OK);
	CHECK(sel.count == 1);
	if (sel.count)
		CHECK_STR(ss_item_version(sel.items[0]), "20120328");
	ss_selection_free(&sel);
	ss_filter_free(f);
	CHECK(ss_select(t, NULL, 2, &sel, &err) == SS_OK);
	for (size_t i = 0; i < sel.count; i++)
		CHECK(strcmp(ss_item_version(sel.items[i]), "20120328") != 0); /* third newest */
	ss_selection_free(&sel);
	ss_tree_free(t);

	CHECK(ss_version_cmp("20230421_23:27", "20230421") > 0);
	CHECK(ss_version_cmp("a", "b") < 0 && ss_version_cmp("b", "b") == 0);
	CHECK(ss_version_cmp("\xc3\xa9", "z") > 0); /* bytes, unsigned */
}

/* An index listing many products against a products file holding them
 * and one more: the one more is named.  (Checking this used to take time
 * quadratic in the number of products: 28 s for 40 000.) */
static void test_many_products(void)
{
	char dir[] = "/tmp/ss-tree-XXXXXX", path[512];
	if (!mkdtemp(dir)) {
		CHECK(0);
		return;
	}
	enum { N = 20000 };
	snprintf(path, sizeof(path), "%s/streams", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/streams/v1", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/streams/v1/c.json", dir);
	FILE *f = fopen(path, "w");
	fprintf(f, "{\"format\": \"products:1.0\", \"content_id\": \"c\", \"products\": {");
	for (int i = 0; i <= N; i++)
		fprintf(f, "%s\"p%05d\": {\"versions\": {\"v\": {\"items\": {\"i\": {\"ftype\": \"x\"}}}}}", i ? ", " : "", i);
	fprintf(f, "}}\n");
	fclose(f);
	snprintf(path, sizeof(path), "%s/streams/v1/index.json", dir);
	f = fopen(path, "w");
	fprintf(f, "{\"format\": \"index:1.0\", \"index\": {\"c\": {\"path\": \"streams/v1/c.json\", \"products\": [");
	for (int i = 0; i < N; i++)
		fprintf(f, "%s\"p%05d\"", i ? ", " : "", i);
	fprintf(f, "]}}}\n");
	fclose(f);
	struct ss_error err;
	struct ss_tree *t = ss_tree_load(dir, &err);
	CHECK(t && ss_tree_nproducts(t) == 1);
	if (t) {
		ss_error_clear(&err);
		CHECK(ss_products_check_index(ss_tree_products(t, 0), &err) == SS_INTEGRITY);
		CHECK(strstr(err.msg, "product 'p20000'") != NULL);
	}
	ss_tree_free(t);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	CHECK(system(path) == 0);
}

/* Entries of DIR besides . and .. */
static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	if (d)
		closedir(d);
	return d ? n : -1;
}

/* DIR/streams/v1/{index,big}.json: an index, and a products file of
 * more than 4 MiB (spooled) with BAD, when not NULL, as one item's ftype. */
static void write_big(const char *dir, const char *bad)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/streams/v1/big.json", dir);
	FILE *f = fopen(path, "w");
	fprintf(f, "{\"format\": \"products:1.0\", \"content_id\": \"big\", \"updated\": "
		   "\"Tue, 01 Dec 2026 10:00:00 +0000\", \"products\": {\"p\": {\"arch\": \"amd64\", \"versions\": {\"1\": {\"items\": {");
	for (int i = 0; i < 40000; i++)
		fprintf(f, "%s\n \"i%05d\": {\"ftype\": %s, \"path\": \"files/%05d.img\", \"size\": %d, "
			   "\"sha256\": \"%064d\"}", i ? "," : "", i, bad && i == 30000 ? bad : "\"raw\"", i, i, i);
	fprintf(f, "}}}}}}\n");
	fclose(f);
	snprintf(path, sizeof(path), "%s/streams/v1/index.json", dir);
	f = fopen(path, "w");
	fprintf(f, "{\"format\": \"index:1.0\", \"updated\": \"Mon, 30 Nov 2026 10:00:00 +0000\", \"index\": "
		   "{\"big\": {\"path\": \"streams/v1/big.json\", \"products\": [\"p\"], "
		   "\"updated\": \"Tue, 01 Dec 2026 11:00:00 +0000\"}}}\n");
	fclose(f);
}

/* A spooled tree: the big document read in place, its bytes as served
 * read back from an unlinked file; the same items, dates and errors as a
 * tree read from memory. */
static void test_spooled(void)
{
	char dir[] = "/tmp/ss-spool-XXXXXX", path[512], spool[512];
	if (!mkdtemp(dir)) {
		CHECK(0);
		return;
	}
	snprintf(path, sizeof(path), "mkdir -p '%s/streams/v1' '%s/spool'", dir, dir);
	CHECK(system(path) == 0);
	snprintf(spool, sizeof(spool), "%s/spool", dir);
	write_big(dir, NULL);
	struct ss_error err;
	struct ss_tree *mem = ss_tree_load(dir, &err), *sp = ssi_tree_load_spooled(dir, NULL, NULL, spool, &err);
	CHECK(mem && sp);
	if (mem && sp) {
		CHECK(ss_tree_ndocs(sp) == 2 && total_items(sp) == 40000);
		CHECK(ss_products_same(ss_tree_products(mem, 0), ss_tree_products(sp, 0)));
		CHECK(ss_tree_updated(sp) == ss_tree_updated(mem) && ss_tree_updated(sp) == 1796122800);
		CHECK(ss_tree_version_date(sp) == ss_tree_version_date(mem));
		for (size_t i = 0; i < 2; i++) {
			const char *md, *sd;
			size_t ml, sl;
			char *back = NULL;
			const char *rel = ss_tree_doc(sp, i, &sd, &sl);
			ss_tree_doc(mem, i, &md, &ml);
			int big = strcmp(rel, "streams/v1/big.json") == 0;
			/* the big one is spooled, the index (small) kept */
			CHECK(big ? sd == NULL && ml > (4 << 20) : sd != NULL);
			CHECK(ssi_tree_doc_read(sp, i, &back, &sl, &err) == SS_OK);
			CHECK(back && sl == ml && memcmp(back, md, ml) == 0);
			free(back);
		}
		/* nothing named is left in the spool */
		CHECK(entries(spool) == 0);
	}
	ss_tree_free(mem);
	ss_tree_free(sp);
	/* a refused text: jansson's message, as from memory */
	write_big(dir, "\"raw\" \"x\"");
	struct ss_error e1, e2;
	mem = ss_tree_load(dir, &e1);
	sp = ssi_tree_load_spooled(dir, NULL, NULL, spool, &e2);
	CHECK(!mem && !sp && e2.code == SS_FATAL);
	CHECK_STR(e2.msg, e1.msg);
	CHECK(strstr(e2.msg, "big.json") && strstr(e2.msg, "line 30002 column 30"));
	CHECK(entries(spool) == 0);
	/* no spool directory: said, naming it */
	sp = ssi_tree_load_spooled(dir, NULL, NULL, "/nonexistent/spool", &e2);
	CHECK(!sp && strstr(e2.msg, "/nonexistent/spool"));
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	CHECK(system(path) == 0);
}

TEST_MAIN(test_sources, test_select, test_many_products, test_spooled)
