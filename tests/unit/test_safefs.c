/* SPDX-License-Identifier: Apache-2.0 */
/* safefs: writes, renames and deletions below a tree root never follow a
 * symlink inside the tree; the root itself may be one. */
#include <dirent.h>
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

/* fds this process holds */
static int open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static ino_t ino_of(const char *base, const char *rel)
{
	char p[600];
	struct stat st;
	path_of(p, sizeof(p), base, rel);
	return lstat(p, &st) == 0 ? st.st_ino : 0;
}

static ino_t fd_ino(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

/* the cache: each directory opened once, then reused */
static void test_dirs_reuse(void)
{
	struct ssi_dirs d;
	struct ss_error err;
	ssi_dirs_init(&d, tree);
	int base = open_fds();
	int fd = ssi_dirs_open(&d, "c/a/b", 5, 1, &err);
	CHECK(fd >= 0 && fd_ino(fd) == ino_of(tree, "c/a/b"));
	CHECK(ssi_dirs_count(&d) == 4); /* the root, c, c/a, c/a/b */
	CHECK(ssi_dirs_open(&d, "c/a/b", 5, 0, &err) == fd);
	/* a sibling: one more open, from the cached parent */
	int fd2 = ssi_dirs_open(&d, "c/a/x", 5, 1, &err);
	CHECK(fd2 >= 0 && fd2 != fd && ssi_dirs_count(&d) == 5);
	CHECK(open_fds() - base == 5);
	const char *b;
	CHECK(ssi_dirs_parent(&d, "c/a/b/file", 0, &b, &err) == fd && strcmp(b, "file") == 0);
	/* unsafe names are refused before any lookup */
	static const char *bad[] = { "c/../c", "c//a", "c/a/", "./c", "/c" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ss_error_clear(&err);
		CHECK(ssi_dirs_open(&d, bad[i], strlen(bad[i]), 1, &err) < 0 && strstr(err.msg, "unsafe path"));
	}
	ssi_dirs_close(&d);
	CHECK(ssi_dirs_count(&d) == 0 && open_fds() == base);
}

/* what is removed or renamed through the cache is forgotten: a symlink
 * put in its place afterwards is refused, never followed */
static void test_dirs_invalidate(void)
{
	struct ssi_dirs d;
	struct ss_error err;
	ssi_dirs_init(&d, tree);
	put_file(tree, "f1");
	CHECK(ssi_dirs_rename(&d, "f1", "r/s/t/f1", &err) == SS_OK && exists(tree, "r/s/t/f1"));
	CHECK(ssi_dirs_count(&d) == 4);
	CHECK(ssi_dirs_unlink(&d, "r/s/t/f1", 1, NULL, &err) == SS_OK && !exists(tree, "r"));
	CHECK(ssi_dirs_count(&d) == 1); /* the root only */
	char link[600];
	path_of(link, sizeof(link), tree, "r");
	CHECK(symlink(outside, link) == 0);
	put_file(tree, "f2");
	ss_error_clear(&err);
	CHECK(ssi_dirs_rename(&d, "f2", "r/s/t/f2", &err) == SS_FATAL);
	CHECK(strstr(err.msg, "'r' is a symbolic link inside the tree") || strstr(err.msg, "/r' is a symbolic link"));
	CHECK(!exists(outside, "s") && exists(tree, "f2"));
	unlink(link);
	/* a directory renamed through it: forgotten at and below */
	CHECK(ssi_dirs_rename(&d, "f2", "m/n/f2", &err) == SS_OK);
	CHECK(ssi_dirs_rename(&d, "m", "m2", &err) == SS_OK && exists(tree, "m2/n/f2"));
	path_of(link, sizeof(link), tree, "m");
	CHECK(symlink(outside, link) == 0);
	ss_error_clear(&err);
	CHECK(ssi_dirs_rename(&d, "m2/n/f2", "m/n/f2", &err) == SS_FATAL && strstr(err.msg, "symbolic link"));
	CHECK(!exists(outside, "n") && exists(tree, "m2/n/f2"));
	unlink(link);
	ssi_dirs_close(&d);
}

/* a directory something else replaces while cached: the write lands in
 * the directory that was opened, not through the symlink now there */
static void test_dirs_replaced(void)
{
	struct ssi_dirs d;
	struct ss_error err;
	ssi_dirs_init(&d, tree);
	CHECK(ssi_dirs_open(&d, "p/q", 3, 1, &err) >= 0);
	char q[600], old[600];
	path_of(q, sizeof(q), tree, "p/q");
	path_of(old, sizeof(old), tree, "p/old");
	CHECK(rename(q, old) == 0 && symlink(outside, q) == 0);
	put_file(tree, "f3");
	CHECK(ssi_dirs_rename(&d, "f3", "p/q/f3", &err) == SS_OK);
	CHECK(exists(tree, "p/old/f3") && !exists(outside, "f3"));
	ssi_dirs_close(&d);
	/* a fresh walk refuses it */
	put_file(tree, "f4");
	ss_error_clear(&err);
	CHECK(ssi_safe_rename(tree, "f4", "p/q/f4", &err) == SS_FATAL && !exists(outside, "f4"));
}

/* at most SSI_DIRS_MAX fds; the last lookup's survives the next one */
static void test_dirs_bound(void)
{
	struct ssi_dirs d;
	struct ss_error err;
	ssi_dirs_init(&d, tree);
	int base = open_fds();
	char rel[1024];
	for (int i = 0; i < 100; i++) {
		snprintf(rel, sizeof(rel), "many/d%d", i);
		CHECK(ssi_dirs_open(&d, rel, strlen(rel), 1, &err) >= 0);
	}
	CHECK(ssi_dirs_count(&d) == SSI_DIRS_MAX && open_fds() - base == SSI_DIRS_MAX);
	/* the most recent is still there */
	int fd = ssi_dirs_open(&d, "many/d99", 8, 0, &err);
	CHECK(ssi_dirs_open(&d, "many/d99", 8, 0, &err) == fd);
	/* a path deeper than the cache: FD stays open through it */
	size_t n = 0;
	for (int i = 0; i < SSI_DIRS_MAX + 10; i++)
		n += (size_t)snprintf(rel + n, sizeof(rel) - n, "%s%d", i ? "/" : "deep/", i % 10);
	int deep = ssi_dirs_open(&d, rel, n, 1, &err);
	CHECK(deep >= 0 && fd_ino(fd) == ino_of(tree, "many/d99"));
	CHECK(ssi_dirs_count(&d) == SSI_DIRS_MAX && open_fds() - base == SSI_DIRS_MAX);
	ssi_dirs_close(&d);
	CHECK(open_fds() == base);
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

TEST_MAIN(setup, test_write, test_unlink, test_root_link, test_private_link, test_dirs_reuse, test_dirs_invalidate,
	  test_dirs_replaced, test_dirs_bound, teardown)
