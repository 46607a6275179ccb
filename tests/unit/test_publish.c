/* SPDX-License-Identifier: Apache-2.0 */
/* publish: a dry run of each tree-changing operation (add, remove, prune,
 * import, rollback) reports what a real run reports and leaves every byte
 * of the tree, .sstream/ included, as it was; an alias naming several
 * versions removes nothing without all_versions. */
#include <dlfcn.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sstream.h"
#include "harness.h"

static char top[] = "/tmp/ss-publish-XXXXXX";
static char tree[400];

/* ---- a snapshot of every file and directory below the tree ---------------- */

static char *snap;
static size_t snap_len;
static size_t snap_root;

static int snap_visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)flag;
	(void)ftw;
	char line[1200];
	struct ss_digest d = { 0 };
	struct ss_error e;
	if (S_ISREG(st->st_mode))
		ss_hash_file(path, SS_HASH_SHA256, &d, &e);
	int n = snprintf(line, sizeof(line), "%s %o %lld %lld.%09ld %s\n", path + snap_root, (unsigned)st->st_mode,
			 (long long)st->st_size, (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
			 S_ISREG(st->st_mode) ? d.sha256 : "-");
	char *g = realloc(snap, snap_len + (size_t)n + 1);
	if (!g)
		return 1;
	snap = g;
	memcpy(snap + snap_len, line, (size_t)n + 1);
	snap_len += (size_t)n;
	return 0;
}

/* Every path, mode, size, mtime and sha256 below TREE, sorted by nftw's
 * order (stable for an unchanged tree); malloc'd. */
static char *snapshot(void)
{
	snap = NULL;
	snap_len = 0;
	snap_root = strlen(tree);
	nftw(tree, snap_visit, 16, FTW_PHYS);
	return snap;
}

static int unchanged(const char *before)
{
	char *now = snapshot();
	int same = now && before && strcmp(now, before) == 0;
	if (!same)
		fprintf(stderr, "--- before\n%s--- after\n%s", before ? before : "", now ? now : "");
	free(now);
	return same;
}

/* ---- a hasher that cannot be had ------------------------------------------ */

/* While set, OpenSSL's digest contexts cannot be allocated: this
 * definition comes before libcrypto's for the library linked in. */
static int no_digests;

EVP_MD_CTX *EVP_MD_CTX_new(void)
{
	if (no_digests)
		return NULL;
	EVP_MD_CTX *(*real)(void) = (EVP_MD_CTX * (*)(void)) dlsym(RTLD_NEXT, "EVP_MD_CTX_new");
	return real ? real() : NULL;
}

/* ---- images ------------------------------------------------------------- */

/* A unified image tarball at DIR/NAME.tar.gz created at CDATE. */
static void make_image(const char *name, long long cdate, char *out, size_t outsz)
{
	char cmd[2048];
	snprintf(out, outsz, "%s/%s.tar.gz", top, name);
	snprintf(cmd, sizeof(cmd),
		 "set -e; d='%s/%s'; mkdir -p \"$d/rootfs/bin\"; echo '%s' >\"$d/rootfs/bin/hello\";"
		 "printf 'architecture: x86_64\\ncreation_date: %lld\\nproperties:\\n  os: TestOS\\n  release: two\\n"
		 "  variant: default\\n' >\"$d/metadata.yaml\"; tar -C \"$d\" -czf '%s' metadata.yaml rootfs",
		 top, name, name, cdate, out);
	CHECK(system(cmd) == 0);
}

struct seen {
	char text[4096];
};

static void on_prune(void *ud, const char *what, const char *path)
{
	struct seen *s = ud;
	size_t n = strlen(s->text);
	snprintf(s->text + n, sizeof(s->text) - n, "%s %s\n", what, path);
}

static void on_missing(void *ud, const char *path, const char *why)
{
	struct seen *s = ud;
	size_t n = strlen(s->text);
	snprintf(s->text + n, sizeof(s->text) - n, "%s: %s\n", path, why);
}

static char img1[600], img2[600], img3[600];

static void test_setup(void)
{
	CHECK(mkdtemp(top) != NULL);
	snprintf(tree, sizeof(tree), "%s/tree", top);
	make_image("one", 1795910400LL, img1, sizeof(img1));
	make_image("two", 1795996800LL, img2, sizeof(img2));
	make_image("three", 1796083200LL, img3, sizeof(img3));
	const char *f1[] = { img1 }, *f2[] = { img2 };
	char fp[65];
	int changed = 0, committed = 0;
	struct ss_error err;
	CHECK(ss_publish_add(tree, f1, 1, NULL, 0, NULL, fp, &changed, &err) == SS_OK && changed);
	CHECK(ss_history_record(tree, "test", &committed, &err) == SS_OK && committed);
	CHECK(ss_publish_add(tree, f2, 1, NULL, 0, NULL, fp, &changed, &err) == SS_OK && changed);
	CHECK(ss_history_record(tree, "test", &committed, &err) == SS_OK && committed);
}

static void test_dry_add(void)
{
	struct ss_publish_opts dry = { .dry_run = 1 };
	const char *f3[] = { img3 }, *f1[] = { img1 };
	char fp_dry[65] = "", fp[65] = "";
	int changed = 0;
	struct ss_error err;
	char *before = snapshot();
	CHECK(ss_publish_add(tree, f3, 1, NULL, 0, &dry, fp_dry, &changed, &err) == SS_OK);
	CHECK(changed == 1);
	CHECK(unchanged(before));
	/* an image the tree holds: nothing would change */
	CHECK(ss_publish_add(tree, f1, 1, NULL, 0, &dry, fp, &changed, &err) == SS_OK);
	CHECK(changed == 0);
	CHECK(unchanged(before));
	free(before);
	/* the real run gives the fingerprint the dry run gave */
	struct ss_digest d;
	CHECK(ss_hash_file(img3, SS_HASH_SHA256, &d, &err) == SS_OK);
	CHECK_STR(fp_dry, d.sha256);
}

static void test_remove(void)
{
	struct ss_publish_opts dry = { .dry_run = 1 }, dry_all = { .dry_run = 1, .all_versions = 1 };
	int removed = -1;
	struct ss_error err;
	char *before = snapshot();
	/* the alias names both versions: refused, real or dry, unless all */
	CHECK(ss_publish_remove(tree, "testos/two", NULL, &removed, &err) == SS_USAGE);
	CHECK(removed == 0);
	CHECK(strstr(err.msg, "testos:two:amd64:default") != NULL);
	CHECK(strstr(err.msg, "--all-versions") != NULL);
	CHECK(unchanged(before));
	CHECK(ss_publish_remove(tree, "testos/two", &dry, &removed, &err) == SS_USAGE);
	CHECK(ss_publish_remove(tree, "testos/two", &dry_all, &removed, &err) == SS_OK);
	CHECK(removed == 2);
	CHECK(ss_publish_remove(tree, "nothing-like-this", &dry, &removed, &err) == SS_FATAL);
	CHECK(unchanged(before));
	free(before);
}

static void test_dry_prune(void)
{
	struct ss_publish_opts dry = { .dry_run = 1 };
	struct seen s = { "" };
	struct ss_error err;
	char *before = snapshot();
	CHECK(ss_publish_prune(tree, 1, 0, 0, &dry, on_prune, &s, &err) == SS_OK);
	CHECK(strstr(s.text, "version testos:two:amd64:default/20261129_0000") != NULL);
	CHECK(strstr(s.text, "file images/") != NULL);
	CHECK(unchanged(before));
	free(before);
}

static void test_dry_import(void)
{
	char items[600];
	snprintf(items, sizeof(items), "%s/items.json", top);
	FILE *f = fopen(items, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs("[{\"content_id\": \"com.example:ids\", \"product_name\": \"p\", \"version_name\": \"1\","
	      " \"item_name\": \"i\", \"id\": \"ami-1\"}]\n", f);
	fclose(f);
	struct ss_publish_opts dry = { .dry_run = 1 };
	int changed = 0;
	struct ss_error err;
	char *before = snapshot();
	CHECK(ss_publish_import(tree, items, &dry, &changed, &err) == SS_OK);
	CHECK(changed == 1);
	CHECK(unchanged(before));
	free(before);
}

static void test_dry_rollback(void)
{
	struct ss_publish_opts dry = { .dry_run = 1 };
	struct seen s = { "" };
	struct ss_error err;
	char *before = snapshot();
	CHECK(ss_history_rollback_ex(tree, "HEAD~1", &dry, on_missing, &s, &err) == SS_OK);
	CHECK(s.text[0] == '\0');
	CHECK(ss_history_rollback_ex(tree, "no-such-record", &dry, on_missing, &s, &err) == SS_USAGE);
	CHECK(unchanged(before));
	free(before);
	/* the real one changes the tree */
	CHECK(ss_history_rollback(tree, "HEAD~1", on_missing, &s, &err) == SS_OK);
	char *after = snapshot();
	CHECK(after && strstr(after, "/streams/v1/images.json") != NULL);
	free(after);
}

/* No hasher, no image: an error, not a success without a fingerprint. */
static void test_no_hasher(void)
{
	const char *f3[] = { img3 };
	char fp[65] = "unset";
	int changed = 0;
	struct ss_error err;
	char *before = snapshot();
	no_digests = 1;
	int rc = ss_publish_add(tree, f3, 1, NULL, 0, NULL, fp, &changed, &err);
	no_digests = 0;
	CHECK(rc == SS_FATAL);
	CHECK(strstr(err.msg, "out of memory") != NULL);
	CHECK_STR(fp, "unset");
	CHECK(!changed);
	CHECK(unchanged(before));
	free(before);
}

/* A tree with no .sstream/ yet gets none from a dry run. */
static void test_dry_fresh_tree(void)
{
	struct ss_publish_opts dry = { .dry_run = 1 };
	const char *f1[] = { img1 };
	char fp[65], fresh[600];
	int changed = 0;
	struct ss_error err;
	snprintf(fresh, sizeof(fresh), "%s/fresh", top);
	CHECK(mkdir(fresh, 0755) == 0);
	CHECK(ss_publish_add(fresh, f1, 1, NULL, 0, &dry, fp, &changed, &err) == SS_OK && changed == 1);
	struct stat st;
	char dot[700];
	snprintf(dot, sizeof(dot), "%s/.sstream", fresh);
	CHECK(lstat(dot, &st) != 0);
	snprintf(dot, sizeof(dot), "%s/streams", fresh);
	CHECK(lstat(dot, &st) != 0);
}

static void test_cleanup(void)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	CHECK(system(cmd) == 0);
}

TEST_MAIN(test_setup, test_no_hasher, test_dry_add, test_remove, test_dry_prune, test_dry_import, test_dry_rollback,
	  test_dry_fresh_tree, test_cleanup)
