/* SPDX-License-Identifier: Apache-2.0 */
/* safefs: writes, renames and deletions below a tree root never follow a
 * symlink inside the tree; the root itself may be one. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "harness.h"

static char top[] = "/tmp/ss-safefs-XXXXXX";
static char tree[300], outside[300];

static void path_of(char *out, size_t n, const char *base, const char *rel)
{
	snprintf(out, n, "%s/%s", base, rel);
}

static int exists(const char *base, const char *rel)
{
	char p[600];
	struct stat st;
	path_of(p, sizeof(p), base, rel);
	return lstat(p, &st) == 0;
}

static void put_file(const char *base, const char *rel)
{
	char p[600];
	path_of(p, sizeof(p), base, rel);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs("x\n", f);
		fclose(f);
	}
}

static void test_write(void)
{
	struct ss_error err;
	int changed = 0;
	CHECK(ssi_safe_write(tree, "streams/v1/index.json", "{}\n", 3, &changed, &err) == SS_OK && changed);
	changed = 0;
	CHECK(ssi_safe_write(tree, "streams/v1/index.json", "{}\n", 3, &changed, &err) == SS_OK && !changed);
	/* a symlinked directory inside the tree: refused, nothing written there */
	char link[600];
	path_of(link, sizeof(link), tree, "images");
	CHECK(symlink(outside, link) == 0);
	ss_error_clear(&err);
	CHECK(ssi_safe_write(tree, "images/a/b", "x", 1, NULL, &err) == SS_FATAL);
	CHECK(strstr(err.msg, "is a symbolic link inside the tree") != NULL);
	CHECK(!exists(outside, "a"));
	/* a symlink as the file itself is replaced, its target untouched */
	put_file(outside, "target");
	char flink[600], target[600];
	path_of(flink, sizeof(flink), tree, "streams/v1/x.json");
	path_of(target, sizeof(target), outside, "target");
	CHECK(symlink(target, flink) == 0);
	CHECK(ssi_safe_write(tree, "streams/v1/x.json", "new\n", 4, NULL, &err) == SS_OK);
	struct stat st;
	CHECK(lstat(flink, &st) == 0 && S_ISREG(st.st_mode));
	CHECK(stat(target, &st) == 0 && st.st_size == 2);
}

static void test_unlink(void)
{
	struct ss_error err;
	/* through a symlinked directory: refused, the outside file stays */
	put_file(outside, "victim");
	ss_error_clear(&err);
	CHECK(ssi_safe_unlink(tree, "images/victim", 1, NULL, &err) == SS_FATAL);
	CHECK(strstr(err.msg, "images' is a symbolic link inside the tree") != NULL);
	CHECK(exists(outside, "victim"));
	/* a file, and the directories it leaves empty, up to the root */
	CHECK(ssi_safe_write(tree, "files/a/b/c", "x", 1, NULL, &err) == SS_OK);
	CHECK(ssi_safe_unlink(tree, "files/a/b/c", 1, NULL, &err) == SS_OK);
	CHECK(!exists(tree, "files"));
	/* a symlink goes itself */
	CHECK(ssi_safe_unlink(tree, "images", 0, NULL, &err) == SS_OK);
	CHECK(!exists(tree, "images") && exists(outside, "victim"));
	/* a missing file: ENOENT */
	ss_error_clear(&err);
	CHECK(ssi_safe_unlink(tree, "nothing/here", 0, NULL, &err) == SS_FATAL && err.sys_errno == ENOENT);
}

static void test_root_link(void)
{
	/* the root may be a symlink: the operator's choice */
	char rlink[600];
	path_of(rlink, sizeof(rlink), top, "rootlink");
	CHECK(symlink(tree, rlink) == 0);
	struct ss_error err;
	CHECK(ssi_safe_write(rlink, "streams/v1/y.json", "y", 1, NULL, &err) == SS_OK);
	CHECK(exists(tree, "streams/v1/y.json"));
	int fd = -1;
	CHECK(ssi_lock_tree(rlink, &fd, &err) == SS_OK && fd >= 0);
	int fd2 = -1;
	CHECK(ssi_lock_tree(tree, &fd2, &err) == SS_TEMPFAIL && fd2 < 0);
	if (fd >= 0)
		close(fd);
}

static void test_private_link(void)
{
	/* a symlinked .sstream/tmp: cleaning refuses, the outside stays */
	char p[600];
	path_of(p, sizeof(p), tree, ".sstream/tmp");
	rmdir(p);
	CHECK(symlink(outside, p) == 0);
	struct ss_error err;
	ss_error_clear(&err);
	CHECK(ssi_clean_dir(tree, ".sstream/tmp", NULL, NULL, &err) == SS_FATAL);
	CHECK(exists(outside, "victim") && exists(outside, "target"));
	/* and a missing directory is fine */
	CHECK(ssi_clean_dir(tree, "no/such", NULL, NULL, &err) == SS_OK);
}

static void setup(void)
{
	CHECK(mkdtemp(top) != NULL);
	path_of(tree, sizeof(tree), top, "tree");
	path_of(outside, sizeof(outside), top, "outside");
	CHECK(mkdir(tree, 0755) == 0 && mkdir(outside, 0755) == 0);
}

static void teardown(void)
{
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	CHECK(system(cmd) == 0);
}

TEST_MAIN(setup, test_write, test_unlink, test_root_link, test_private_link, teardown)
