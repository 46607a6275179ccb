/* SPDX-License-Identifier: Apache-2.0 */
/* Building images from a directory (build.c, squashfs.c, walk.c): files,
 * symlinks, hard links, a socket, long names, deep nesting and paths past
 * PATH_MAX, read back with libarchive and unsquashfs; a file changing while
 * it is read; nothing left behind by a failed build. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"
#include "harness.h"

static char dir[] = "/tmp/ss-build-XXXXXX";
static char rootfs[600], meta[600];
static char deep_path[8192], far_path[8192]; /* below the rootfs */

#define DEEP 1500
#define FAR 20

static void write_at(int dfd, const char *name, const char *text)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		if (write(fd, text, strlen(text)) < 0)
			perror(name);
		close(fd);
	}
}

/* A chain of N directories named NAME below DFD, FILE with TEXT at the
 * bottom; its path below DFD into OUT. */
static void chain(int dfd, const char *name, int n, const char *file, const char *text, char *out, size_t outsz)
{
	int fd = dup(dfd);
	size_t len = 0;
	for (int i = 0; i < n && fd >= 0; i++) {
		mkdirat(fd, name, 0755);
		int next = openat(fd, name, O_RDONLY | O_DIRECTORY);
		close(fd);
		fd = next;
		len += (size_t)snprintf(out + len, outsz - len, "%s/", name);
	}
	snprintf(out + len, outsz - len, "%s", file);
	write_at(fd, file, text);
	close(fd);
}

static void make_tree(void)
{
	snprintf(rootfs, sizeof(rootfs), "%s/root", dir);
	snprintf(meta, sizeof(meta), "%s/metadata.yaml", dir);
	write_at(AT_FDCWD, meta, "architecture: x86_64\ncreation_date: 1700000000\nproperties:\n  os: t\n  release: r\n");
	mkdir(rootfs, 0755);
	int r = open(rootfs, O_RDONLY | O_DIRECTORY);
	write_at(r, "a", "alpha\n");
	mkdirat(r, "b", 0755);
	write_at(r, "b/c", "charlie\n");
	symlinkat("a", r, "l");
	linkat(r, "a", r, "h", 0);
	char longname[256];
	memset(longname, 'n', 255);
	longname[255] = '\0';
	write_at(r, longname, "long\n");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%.90s/s", rootfs) >= (int)sizeof(sa.sun_path))
		fprintf(stderr, "socket path too long\n");
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		perror("socket");
	close(s);
	chain(r, "d", DEEP, "bottom", "deep\n", deep_path, sizeof(deep_path));
	char far[251];
	memset(far, 'f', 250);
	far[250] = '\0';
	chain(r, far, FAR, "end", "far\n", far_path, sizeof(far_path));
	close(r);
}

static int nwarn;
static void on_warn(void *ctx, const char *msg)
{
	(void)ctx;
	nwarn++;
	CHECK(strstr(msg, "/s'") != NULL && strstr(msg, "socket") != NULL);
}

struct seen {
	int a, c, l, h, s, longname, deep, far, order_ok, n;
	char prev_top[300];
};

/* Checks one entry of the rootfs tarball. */
static void tar_entry(struct archive *ar, struct archive_entry *e, struct seen *sn)
{
	const char *name = archive_entry_pathname(e);
	char buf[64] = "";
	ssize_t n = 0;
	sn->n++;
	if (!strcmp(name, "a")) {
		n = archive_read_data(ar, buf, sizeof(buf) - 1);
		sn->a = n == 6 && !memcmp(buf, "alpha\n", 6) && archive_entry_uid(e) == 0;
	} else if (!strcmp(name, "b/c")) {
		sn->c = archive_entry_filetype(e) == AE_IFREG;
	} else if (!strcmp(name, "l")) {
		sn->l = archive_entry_filetype(e) == AE_IFLNK && !strcmp(archive_entry_symlink(e), "a");
	} else if (!strcmp(name, "h")) {
		sn->h = archive_entry_hardlink(e) && !strcmp(archive_entry_hardlink(e), "a");
	} else if (!strcmp(name, "s")) {
		sn->s = 1;
	} else if (strlen(name) == 255) {
		sn->longname = 1;
	} else if (!strcmp(name, deep_path)) {
		n = archive_read_data(ar, buf, sizeof(buf) - 1);
		sn->deep = n == 5 && !memcmp(buf, "deep\n", 5);
	} else if (!strcmp(name, far_path)) {
		n = archive_read_data(ar, buf, sizeof(buf) - 1);
		sn->far = n == 4 && !memcmp(buf, "far\n", 4);
	}
	/* the top-level names come in byte order */
	char top[300];
	snprintf(top, sizeof(top), "%.*s", (int)strcspn(name, "/"), name);
	if (strcmp(top, sn->prev_top) < 0)
		sn->order_ok = 0;
	snprintf(sn->prev_top, sizeof(sn->prev_top), "%s", top);
}

static void test_tar(void)
{
	struct ss_build_opts o = { .rootfs = rootfs, .metadata = meta, .compression = "none",
				   .warn = on_warn };
	char out[600], mo[4096], ro[4096], fp[65];
	snprintf(out, sizeof(out), "%s/out-tar", dir);
	o.outdir = out;
	struct ss_error err;
	nwarn = 0;
	CHECK(ss_image_build(&o, mo, ro, sizeof(mo), fp, &err) == SS_OK);
	CHECK(nwarn == 1);
	CHECK(strlen(fp) == 64);
	struct archive *ar = archive_read_new();
	archive_read_support_format_all(ar);
	archive_read_support_filter_all(ar);
	struct seen sn = { .order_ok = 1 };
	struct archive_entry *e;
	if (archive_read_open_filename(ar, ro, 65536) == ARCHIVE_OK)
		while (archive_read_next_header(ar, &e) == ARCHIVE_OK)
			tar_entry(ar, e, &sn);
	archive_read_free(ar);
	CHECK(sn.a && sn.c && sn.l && sn.h);
	CHECK(!sn.s);
	CHECK(sn.longname);
	CHECK(sn.deep);
	CHECK(sn.far);
	CHECK(sn.order_ok);
	/* a, b, b/c, h, l, the long name, d (DEEP directories and a file),
	 * the FAR directories and their file */
	CHECK(sn.n == 6 + DEEP + 1 + FAR + 1);
	DIR *d = opendir(out);
	int nfiles = 0;
	for (struct dirent *de; d && (de = readdir(d));)
		nfiles += de->d_name[0] != '.';
	if (d)
		closedir(d);
	CHECK(nfiles == 2); /* meta.tar and rootfs.tar, no .tmp */
}

static int ends_with(const char *s, const char *tail)
{
	size_t ls = strlen(s), lt = strlen(tail);
	return ls >= lt && strcmp(s + ls - lt, tail) == 0;
}

static void test_squashfs(void)
{
	struct ss_build_opts o = { .rootfs = rootfs, .metadata = meta, .compression = "gzip", .squashfs = 1 };
	char out[600], mo[4096], ro[4096], fp[65], cmd[4200];
	snprintf(out, sizeof(out), "%s/out-sq", dir);
	o.outdir = out;
	struct ss_error err;
	CHECK(ss_image_build(&o, mo, ro, sizeof(mo), fp, &err) == SS_OK);
	snprintf(cmd, sizeof(cmd), "unsquashfs -lln '%s' 2>/dev/null", ro);
	FILE *p = popen(cmd, "r");
	int a = 0, l = 0, h = 0, s = 0, deep = 0, far = 0, lines = 0;
	static char line[16384];
	while (p && fgets(line, sizeof(line), p)) {
		lines++;
		line[strcspn(line, "\n")] = '\0';
		a += line[0] == '-' && ends_with(line, " squashfs-root/a");
		l += line[0] == 'l' && ends_with(line, " squashfs-root/l -> a");
		h += line[0] == '-' && ends_with(line, " squashfs-root/h");
		s += line[0] == 's' && ends_with(line, " squashfs-root/s");
		deep += strstr(line, deep_path) != NULL;
		far += strstr(line, far_path) != NULL;
	}
	if (p)
		pclose(p);
	CHECK(a == 1 && l == 1 && h == 1);
	CHECK(s == 1); /* squashfs keeps sockets */
	CHECK(deep == 1);
	CHECK(far == 1);
	/* the root, a, b, b/c, h, l, s, the long name, DEEP + 1, FAR + 1 */
	CHECK(lines >= 8 + DEEP + 1 + FAR + 1);
}

/* The walk: every entry once, pre-order, no descriptor left open. */
struct counts {
	size_t visits, leaves, maxdepth;
};

static int count_visit(void *ctx, struct ssi_walk_entry *e)
{
	struct counts *c = ctx;
	c->visits++;
	if (e->depth > c->maxdepth)
		c->maxdepth = e->depth;
	return SS_OK;
}

static int count_leave(void *ctx, struct ssi_walk_entry *e)
{
	(void)e;
	((struct counts *)ctx)->leaves++;
	return SS_OK;
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	for (struct dirent *de; d && (de = readdir(d));)
		n++;
	if (d)
		closedir(d);
	return n;
}

static void test_walk(void)
{
	struct counts c = { 0 };
	struct ss_error err;
	int before = open_fds();
	CHECK(ssi_walk(rootfs, count_visit, count_leave, &c, &err) == SS_OK);
	CHECK(open_fds() == before);
	/* root, a, b, b/c, h, l, s, long name, DEEP dirs + file, FAR dirs + file */
	CHECK(c.visits == 8 + DEEP + 1 + FAR + 1);
	CHECK(c.leaves == 1 + 1 + DEEP + FAR); /* root, b, the chains */
	CHECK(c.maxdepth == DEEP + 1);
}

/* ssi_walk_read with a sink that changes the file after the first MiB. */
enum change { NONE, SHRINK, GROW, TOUCH };
struct hook {
	const char *path;
	enum change how;
	int calls;
	long long bytes;
};

static int hook_sink(void *ctx, const void *buf, size_t len)
{
	(void)buf;
	struct hook *h = ctx;
	h->bytes += (long long)len;
	if (h->calls++ == 0) {
		if (h->how == SHRINK && truncate(h->path, 1 << 20) < 0)
			return SS_FATAL;
		if (h->how == GROW && truncate(h->path, 4 << 20) < 0)
			return SS_FATAL;
		struct timespec t[2] = { { 0, UTIME_OMIT }, { 1234567, 0 } };
		if (h->how == TOUCH && utimensat(AT_FDCWD, h->path, t, 0) < 0)
			return SS_FATAL;
	}
	return SS_OK;
}

static int read_with(enum change how, struct ss_error *err, long long *bytes)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/changing", dir);
	unlink(path);
	int fd = open(path, O_RDWR | O_CREAT, 0644);
	if (fd < 0 || ftruncate(fd, 3 << 20) < 0)
		return -1;
	struct stat st;
	fstat(fd, &st);
	struct hook h = { .path = path, .how = how };
	int rc = ssi_walk_read(fd, &st, dir, "changing", hook_sink, &h, err);
	close(fd);
	*bytes = h.bytes;
	return rc;
}

static void test_changing(void)
{
	struct ss_error err;
	long long n;
	CHECK(read_with(NONE, &err, &n) == SS_OK && n == 3 << 20);
	CHECK(read_with(SHRINK, &err, &n) == SS_PARTIAL);
	CHECK(strstr(err.msg, "changing' changed while the image was built (file shrank)") != NULL);
	CHECK(read_with(GROW, &err, &n) == SS_PARTIAL);
	CHECK(strstr(err.msg, "(file grew)") != NULL);
	CHECK(read_with(TOUCH, &err, &n) == SS_PARTIAL);
	CHECK(strstr(err.msg, "(modified)") != NULL);
}

/* A failed build removes what it made: the tarballs and the directory. */
static void test_nothing_left(void)
{
	char out[600], mo[4096], ro[4096], fp[65];
	snprintf(out, sizeof(out), "%s/fail/out", dir);
	struct ss_error err;
	struct ss_build_opts o = { .rootfs = rootfs, .metadata = meta, .outdir = out, .compression = "lz4" };
	CHECK(ss_image_build(&o, mo, ro, sizeof(mo), fp, &err) == SS_USAGE);
	CHECK(access(out, F_OK) < 0 && errno == ENOENT);
	/* the metadata tarball is written before squashfs refuses "none" */
	o.compression = "none";
	o.squashfs = 1;
	CHECK(ss_image_build(&o, mo, ro, sizeof(mo), fp, &err) == SS_USAGE);
	CHECK(access(out, F_OK) < 0 && errno == ENOENT);
	/* a directory that was there stays, empty */
	mkdir(out, 0755);
	CHECK(ss_image_build(&o, mo, ro, sizeof(mo), fp, &err) == SS_USAGE);
	CHECK(access(out, F_OK) == 0);
	CHECK(access(mo, F_OK) < 0);
}

static void setup(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	make_tree();
}

static void teardown(void)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

TEST_MAIN(setup, test_walk, test_tar, test_squashfs, test_changing, test_nothing_left, teardown)
