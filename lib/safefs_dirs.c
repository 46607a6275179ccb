/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The directories below a tree root, opened the safe way (see safefs.c:
 * the root normally, every component below it with openat(O_NOFOLLOW) on
 * its parent's fd) and kept open for reuse.  A mirror places thousands of
 * files into a few hundred directories: walking every file's chain from
 * the root again cost 12 openat and 12 close per file, most of the run's
 * kernel time.  A directory is reached from its nearest cached ancestor,
 * so a file's chain is opened once per run, and a symlink is still refused
 * at the moment a component is first opened.
 *
 * At most SSI_DIRS_MAX fds are held; the least recently used goes first,
 * never one of the last two lookups' (a rename needs both parents).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

void ssi_dirs_init(struct ssi_dirs *d, const char *root)
{
	memset(d, 0, sizeof(*d));
	d->root = root;
	d->recent[0] = d->recent[1] = -1;
}

static void drop(struct ssi_dirs *d, int k)
{
	close(d->e[k].fd);
	free(d->e[k].rel);
	d->e[k].rel = NULL;
	d->e[k].fd = -1;
}

void ssi_dirs_close(struct ssi_dirs *d)
{
	for (int k = 0; k < SSI_DIRS_MAX; k++)
		if (d->e[k].rel)
			drop(d, k);
}

int ssi_dirs_count(const struct ssi_dirs *d)
{
	int n = 0;
	for (int k = 0; k < SSI_DIRS_MAX; k++)
		n += d->e[k].rel != NULL;
	return n;
}

void ssi_dirs_forget(struct ssi_dirs *d, const char *rel, size_t rel_len)
{
	for (int k = 0; k < SSI_DIRS_MAX; k++) {
		const struct ssi_dir_ent *e = &d->e[k];
		if (e->rel && e->len >= rel_len && memcmp(e->rel, rel, rel_len) == 0 &&
		    (e->len == rel_len || rel_len == 0 || e->rel[rel_len] == '/'))
			drop(d, k);
	}
}

static int find(const struct ssi_dirs *d, const char *rel, size_t len)
{
	for (int k = 0; k < SSI_DIRS_MAX; k++)
		if (d->e[k].rel && d->e[k].len == len && memcmp(d->e[k].rel, rel, len) == 0)
			return k;
	return -1;
}

/* K was used now; a lookup that returns it remembers it as recent. */
static int touch(struct ssi_dirs *d, int k, int returned)
{
	d->e[k].used = ++d->clock;
	if (returned && d->recent[0] != k) {
		d->recent[1] = d->recent[0];
		d->recent[0] = k;
	}
	return d->e[k].fd;
}

/* A slot for a new entry: a free one, or the least recently used that
 * no recent lookup returned (closed). */
static int slot(struct ssi_dirs *d)
{
	int lru = -1;
	for (int k = 0; k < SSI_DIRS_MAX; k++) {
		if (!d->e[k].rel)
			return k;
		if (k != d->recent[0] && k != d->recent[1] && (lru < 0 || d->e[k].used < d->e[lru].used))
			lru = k;
	}
	drop(d, lru);
	return lru;
}

/* Keeps FD as the directory of REL's first LEN bytes: its slot, or -1
 * (FD closed) when out of memory. */
static int insert(struct ssi_dirs *d, const char *rel, size_t len, int fd)
{
	char *copy = malloc(len + 1);
	if (!copy) {
		close(fd);
		return -1;
	}
	memcpy(copy, rel, len);
	copy[len] = '\0';
	int k = slot(d);
	d->e[k] = (struct ssi_dir_ent){ .rel = copy, .len = len, .fd = fd };
	touch(d, k, 0);
	return k;
}

/* The root, opened normally (it and what is above it are the
 * operator's), created when CREATE and missing: its slot or -1. */
static int open_root(struct ssi_dirs *d, int create, struct ss_error *err)
{
	const char *root = d->root;
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && create && errno == ENOENT) {
		char buf[PATH_MAX];
		if (snprintf(buf, sizeof(buf), "%s/x", root) >= (int)sizeof(buf))
			return ssi_err(err, SS_FATAL, "cannot open '%s': path too long", root), -1;
		if (ssi_mkparents(buf) < 0)
			return ssi_err_sys(err, SS_FATAL, errno, "cannot create '%s'", root), -1;
		fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0)
		return ssi_err_sys(err, SS_FATAL, errno, "cannot open '%s'", root), -1;
	int k = insert(d, "", 0, fd);
	if (k < 0)
		ssi_err(err, SS_FATAL, "out of memory");
	return k;
}

/* Why a component could not be opened: a symlink, or errno. */
static int component_err(struct ss_error *err, int dfd, const char *root, const char *rel, size_t upto,
			 const char *comp, int e)
{
	struct stat st;
	if (fstatat(dfd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
		return ssi_err(err, SS_FATAL, "refusing '%s/%s': '%s/%.*s' is a symbolic link inside the tree",
			       root, rel, root, (int)upto, rel);
	if (e == ENOTDIR)
		return ssi_err(err, SS_FATAL, "refusing '%s/%s': '%s/%.*s' is not a directory", root, rel, root,
			       (int)upto, rel);
	return ssi_err_sys(err, SS_FATAL, e, "cannot open '%s/%.*s'", root, (int)upto, rel);
}

/* COMP below FD as a directory, never through a symbolic link; created
 * first when CREATE and missing (opened first: most are there). */
static int sub_open(int fd, const char *comp, int create)
{
	int sub = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub >= 0 || !create || errno != ENOENT)
		return sub;
	if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST)
		return -1;
	return openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Whether every name of REL's first LEN bytes is a plain one. */
static int safe_rel(const char *rel, size_t len)
{
	size_t i = 0;
	while (i < len) {
		size_t n = 0;
		while (i + n < len && rel[i + n] != '/')
			n++;
		if (n == 0 || n > NAME_MAX || (n == 1 && rel[i] == '.') || (n == 2 && rel[i] == '.' && rel[i + 1] == '.'))
			return 0;
		i += n + 1;
	}
	return len == 0 || rel[len - 1] != '/';
}

/* The length of the parent of REL's first LEN bytes (0: the root). */
static size_t parent_len(const char *rel, size_t len)
{
	while (len > 0 && rel[len - 1] != '/')
		len--;
	return len ? len - 1 : 0;
}

int ssi_dirs_open(struct ssi_dirs *d, const char *rel, size_t rel_len, int create, struct ss_error *err)
{
	if (!safe_rel(rel, rel_len))
		return ssi_err(err, SS_FATAL, "unsafe path '%.*s' below '%s'", (int)rel_len, rel, d->root), -1;
	/* the nearest directory on the way that is open already */
	size_t at = rel_len;
	int k;
	while ((k = find(d, rel, at)) < 0 && at > 0)
		at = parent_len(rel, at);
	if (k < 0 && (k = open_root(d, create, err)) < 0)
		return -1;
	int fd = touch(d, k, 0);
	for (size_t i = at ? at + 1 : 0; i < rel_len;) {
		size_t n = 0;
		while (i + n < rel_len && rel[i + n] != '/')
			n++;
		char comp[NAME_MAX + 1];
		memcpy(comp, rel + i, n);
		comp[n] = '\0';
		int sub = sub_open(fd, comp, create);
		if (sub < 0)
			return component_err(err, fd, d->root, rel, i + n, comp, errno), -1;
		if ((k = insert(d, rel, i + n, sub)) < 0)
			return ssi_err(err, SS_FATAL, "out of memory"), -1;
		fd = sub;
		i += n + 1;
	}
	return touch(d, k, 1);
}

int ssi_dirs_parent(struct ssi_dirs *d, const char *rel, int create, const char **base, struct ss_error *err)
{
	const char *slash = strrchr(rel, '/');
	*base = slash ? slash + 1 : rel;
	if (!**base)
		return ssi_err(err, SS_FATAL, "unsafe path '%s' below '%s'", rel, d->root), -1;
	return ssi_dirs_open(d, rel, slash ? (size_t)(slash - rel) : 0, create, err);
}

int ssi_dirs_take(struct ssi_dirs *d, int fd)
{
	for (int k = 0; k < SSI_DIRS_MAX; k++) {
		if (d->e[k].rel && d->e[k].fd == fd) {
			free(d->e[k].rel);
			d->e[k].rel = NULL;
			d->e[k].fd = -1;
			return fd;
		}
	}
	return -1;
}
