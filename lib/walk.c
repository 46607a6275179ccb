/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Walking a directory tree for the image builders (tar and squashfs):
 * iteratively, from directory file descriptors (openat, fstatat), so that
 * neither the depth of the tree nor the length of its paths is limited by
 * the C stack or PATH_MAX; each directory's entries in byte order (qsort).
 * At most WINDOW directory descriptors are held: an ancestor whose
 * descriptor was closed is reopened through ".." when the walk climbs back
 * to it, and checked to be the same directory.
 *
 * A file's data is read through ssi_walk_read, which fails when the file
 * shrank, grew or was modified while it was read (GNU tar's "file changed
 * as we read it"), instead of packing a copy that matches no moment.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define WINDOW 32

struct frame {
	int fd;                 /* -1: closed, reopen through ".." */
	char **names;           /* entries in byte order */
	size_t n, i;
	size_t plen;            /* length of the directory's path */
	struct stat st;
};

struct walker {
	const char *root;
	ssi_walk_fn visit, leave;
	void *ctx;
	struct ss_error *err;
	struct frame *f;
	size_t depth, cap;      /* frames in use, allocated */
	char *path;             /* path of the current entry below the root */
	size_t pcap;
	char src[PATH_MAX];
};

int ssi_walk_changed(struct ss_error *err, const char *root, const char *path, const char *how)
{
	return ssi_err(err, SS_PARTIAL, "'%s%s%s' changed while the image was built (%s)", root,
		       *path ? "/" : "", path, how);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(struct frame *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->names[i]);
	free(f->names);
	f->names = NULL;
	f->n = f->i = 0;
}

/* F's entries (not "." and ".."), sorted. */
static int list_dir(struct walker *w, struct frame *f)
{
	int dfd = dup(f->fd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return ssi_err_sys(w->err, SS_FATAL, errno, "cannot list '%s/%s'", w->root, w->path);
	}
	size_t cap = 0;
	int rc = SS_OK;
	struct dirent *de;
	errno = 0;
	while (rc == SS_OK && (de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (f->n == cap) {
			cap = cap ? 2 * cap : 16;
			char **nv = realloc(f->names, cap * sizeof(*nv));
			if (!nv) {
				rc = ssi_err(w->err, SS_FATAL, "out of memory");
				break;
			}
			f->names = nv;
		}
		if (!(f->names[f->n] = strdup(de->d_name)))
			rc = ssi_err(w->err, SS_FATAL, "out of memory");
		else
			f->n++;
		errno = 0;
	}
	if (rc == SS_OK && errno)
		rc = ssi_err_sys(w->err, SS_FATAL, errno, "cannot list '%s/%s'", w->root, w->path);
	closedir(d);
	if (rc == SS_OK && f->n > 1)
		qsort(f->names, f->n, sizeof(*f->names), cmp_name);
	return rc;
}

/* Sets the current path to the directory's path plus "/NAME". */
static int set_path(struct walker *w, size_t plen, const char *name)
{
	size_t need = plen + strlen(name) + 2;
	if (need > w->pcap) {
		size_t cap = w->pcap ? w->pcap : 256;
		while (cap < need)
			cap *= 2;
		char *np = realloc(w->path, cap);
		if (!np)
			return ssi_err(w->err, SS_FATAL, "out of memory");
		w->path = np;
		w->pcap = cap;
	}
	if (plen)
		w->path[plen++] = '/';
	strcpy(w->path + plen, name);
	return SS_OK;
}

const char *ssi_walk_srcpath(char *buf, size_t size, int dirfd, const char *name, const char *root,
			     const char *path)
{
	if (dirfd == AT_FDCWD)
		return name;
	/* without /proc, the path from the root, as long as it fits */
	if (access("/proc/self/fd", X_OK) < 0 &&
	    (size_t)snprintf(buf, size, "%s/%s", root, path) < size)
		return buf;
	snprintf(buf, size, "/proc/self/fd/%d/%s", dirfd, name);
	return buf;
}

/* Enters the directory E (just visited): a new frame with its entries. */
static int push(struct walker *w, const struct ssi_walk_entry *e)
{
	if (w->depth == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 64;
		struct frame *nf = realloc(w->f, cap * sizeof(*nf));
		if (!nf)
			return ssi_err(w->err, SS_FATAL, "out of memory");
		w->f = nf;
		w->cap = cap;
	}
	struct frame *f = &w->f[w->depth];
	memset(f, 0, sizeof(*f));
	f->plen = strlen(w->path);
	f->fd = openat(e->dirfd, e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (f->fd < 0)
		return errno == ENOENT || errno == ENOTDIR || errno == ELOOP
			       ? ssi_walk_changed(w->err, w->root, w->path, "removed or replaced")
			       : ssi_err_sys(w->err, SS_FATAL, errno, "cannot open '%s/%s'", w->root, w->path);
	w->depth++;
	if (fstat(f->fd, &f->st) < 0)
		return ssi_err_sys(w->err, SS_FATAL, errno, "cannot read '%s/%s'", w->root, w->path);
	if (f->st.st_dev != e->st.st_dev || f->st.st_ino != e->st.st_ino)
		return ssi_walk_changed(w->err, w->root, w->path, "replaced");
	if (w->depth > WINDOW && w->f[w->depth - 1 - WINDOW].fd >= 0) {
		close(w->f[w->depth - 1 - WINDOW].fd);
		w->f[w->depth - 1 - WINDOW].fd = -1;
	}
	return list_dir(w, f);
}

/* Leaves the innermost directory, reopening its parent when needed. */
static int pop(struct walker *w)
{
	struct frame *f = &w->f[w->depth - 1];
	w->path[f->plen] = '\0';
	int rc = SS_OK;
	if (w->leave) {
		struct ssi_walk_entry e = { .dirfd = -1, .name = "", .path = w->path, .depth = w->depth - 1,
					    .st = f->st };
		rc = w->leave(w->ctx, &e);
	}
	struct frame *up = w->depth > 1 ? &w->f[w->depth - 2] : NULL;
	if (rc == SS_OK && up && up->fd < 0) {
		size_t cut = up->plen;
		up->fd = openat(f->fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		struct stat st;
		w->path[cut] = '\0';
		if (up->fd < 0 || fstat(up->fd, &st) < 0)
			rc = ssi_err_sys(w->err, SS_FATAL, errno, "cannot open '%s/%s'", w->root, w->path);
		else if (st.st_dev != up->st.st_dev || st.st_ino != up->st.st_ino)
			rc = ssi_walk_changed(w->err, w->root, w->path, "moved");
	}
	close(f->fd);
	free_names(f);
	w->depth--;
	return rc;
}

/* Visits the next entry of the innermost directory. */
static int step(struct walker *w)
{
	struct frame *f = &w->f[w->depth - 1];
	const char *name = f->names[f->i++];
	int rc = set_path(w, f->plen, name);
	if (rc != SS_OK)
		return rc;
	struct ssi_walk_entry e = { .dirfd = f->fd, .name = name, .path = w->path, .depth = w->depth };
	if (fstatat(f->fd, name, &e.st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? ssi_walk_changed(w->err, w->root, w->path, "removed")
				       : ssi_err_sys(w->err, SS_FATAL, errno, "cannot read '%s/%s'", w->root, w->path);
	e.src = ssi_walk_srcpath(w->src, sizeof(w->src), f->fd, name, w->root, w->path);
	e.descend = S_ISDIR(e.st.st_mode);
	rc = w->visit(w->ctx, &e);
	if (rc == SS_OK && e.descend)
		return push(w, &e);
	w->path[f->plen] = '\0';
	return rc;
}

int ssi_walk(const char *root, ssi_walk_fn visit, ssi_walk_fn leave, void *ctx, struct ss_error *err)
{
	struct walker w = { .root = root, .visit = visit, .leave = leave, .ctx = ctx, .err = err };
	struct ssi_walk_entry e = { .dirfd = AT_FDCWD, .name = root, .src = root, .path = "" };
	if (lstat(root, &e.st) < 0)
		return ssi_err_sys(err, SS_FATAL, errno, "cannot read '%s'", root);
	int rc = set_path(&w, 0, "");
	e.descend = S_ISDIR(e.st.st_mode);
	if (rc == SS_OK)
		rc = visit(ctx, &e);
	if (rc == SS_OK && e.descend)
		rc = push(&w, &e);
	while (rc == SS_OK && w.depth > 0) {
		struct frame *f = &w.f[w.depth - 1];
		rc = f->i < f->n ? step(&w) : pop(&w);
	}
	for (size_t i = 0; i < w.depth; i++) {
		if (w.f[i].fd >= 0)
			close(w.f[i].fd);
		free_names(&w.f[i]);
	}
	free(w.f);
	free(w.path);
	return rc;
}

int ssi_walk_read(int fd, const struct stat *st, const char *root, const char *path, ssi_sink_fn sink,
		  void *ctx, struct ss_error *err)
{
	struct stat now;
	if (fstat(fd, &now) < 0)
		return ssi_err_sys(err, SS_FATAL, errno, "cannot read '%s/%s'", root, path);
	if (now.st_dev != st->st_dev || now.st_ino != st->st_ino)
		return ssi_walk_changed(err, root, path, "replaced");
	long long done;
	int rc = ssi_read_fd(fd, (long long)st->st_size, path, sink, ctx, &done, err);
	if (rc != SS_OK)
		return rc;
	if (done < (long long)st->st_size)
		return ssi_walk_changed(err, root, path, "file shrank");
	char c;
	ssize_t more;
	while ((more = read(fd, &c, 1)) < 0 && errno == EINTR)
		;
	if (more > 0)
		return ssi_walk_changed(err, root, path, "file grew");
	if (fstat(fd, &now) < 0)
		return ssi_err_sys(err, SS_FATAL, errno, "cannot read '%s/%s'", root, path);
	if (now.st_size != st->st_size || now.st_mtim.tv_sec != st->st_mtim.tv_sec ||
	    now.st_mtim.tv_nsec != st->st_mtim.tv_nsec)
		return ssi_walk_changed(err, root, path, "modified");
	return SS_OK;
}

int ssi_walk_opendir(int rootfd, const char *path)
{
	/* a path longer than the kernel takes is opened a few thousand bytes
	 * at a time, each part ending at a '/' */
	int fd = dup(rootfd);
	while (fd >= 0 && *path) {
		size_t len = strlen(path);
		if (len >= PATH_MAX / 2) {
			len = PATH_MAX / 2;
			while (len > 0 && path[len] != '/')
				len--;
			if (len == 0) {
				close(fd);
				errno = ENAMETOOLONG;
				return -1;
			}
		}
		char part[PATH_MAX];
		memcpy(part, path, len);
		part[len] = '\0';
		int next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int saved = errno;
		close(fd);
		errno = saved;
		fd = next;
		path += len;
		while (*path == '/')
			path++;
	}
	return fd;
}
