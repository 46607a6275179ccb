/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing, renaming and deleting below a tree root without following a
 * symbolic link that is inside the tree.  Every writer and deleter of the
 * library (mirror, publish, prune, history rollback, cleaning of temporary
 * files) goes through here: a symlink planted at TREE/images, TREE/files,
 * TREE/streams/v1 or TREE/.sstream/tmp must not turn a write or a deletion
 * into one outside the tree.
 *
 * The root itself is opened normally (it may be a symlink: the operator's
 * choice); every component below it is opened with openat(O_NOFOLLOW) on
 * the directory fd of its parent, so the check and the use are the same
 * operation and cannot race.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

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

int ssi_dir_open(const char *root, const char *rel, size_t rel_len, int create, struct ss_error *err)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && create && errno == ENOENT) {
		/* the root and what is above it are the operator's */
		char buf[PATH_MAX];
		if (snprintf(buf, sizeof(buf), "%s/x", root) >= (int)sizeof(buf))
			return ssi_err(err, SS_FATAL, "cannot open '%s': path too long", root), -1;
		if (ssi_mkparents(buf) < 0)
			return ssi_err_sys(err, SS_FATAL, errno, "cannot create '%s'", root), -1;
		fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0)
		return ssi_err_sys(err, SS_FATAL, errno, "cannot open '%s'", root), -1;
	size_t i = 0;
	while (i < rel_len) {
		size_t n = 0;
		while (i + n < rel_len && rel[i + n] != '/')
			n++;
		char comp[NAME_MAX + 1];
		if (n == 0 || n > NAME_MAX || (n == 1 && rel[i] == '.') || (n == 2 && rel[i] == '.' && rel[i + 1] == '.')) {
			close(fd);
			return ssi_err(err, SS_FATAL, "unsafe path '%.*s' below '%s'", (int)rel_len, rel, root), -1;
		}
		memcpy(comp, rel + i, n);
		comp[n] = '\0';
		int sub = sub_open(fd, comp, create);
		if (sub < 0) {
			int e = errno;
			component_err(err, fd, root, rel, i + n, comp, e);
			close(fd);
			return -1;
		}
		close(fd);
		fd = sub;
		i += n + 1;
	}
	return fd;
}

int ssi_parent_open(const char *root, const char *rel, int create, const char **base, struct ss_error *err)
{
	const char *slash = strrchr(rel, '/');
	*base = slash ? slash + 1 : rel;
	if (!**base)
		return ssi_err(err, SS_FATAL, "unsafe path '%s' below '%s'", rel, root), -1;
	return ssi_dir_open(root, rel, slash ? (size_t)(slash - rel) : 0, create, err);
}

int ssi_tmpfile_at(int dfd, const char *prefix, char *name, size_t namesz)
{
	static unsigned counter;
	for (int tries = 0; tries < 100; tries++) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		unsigned long r = (unsigned long)ts.tv_nsec ^ ((unsigned long)getpid() << 16) ^ (++counter * 2654435761u);
		if (snprintf(name, namesz, "%s%06lx", prefix, r & 0xffffff) >= (int)namesz) {
			errno = ENAMETOOLONG;
			return -1;
		}
		int fd = openat(dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Whether BASE in DFD (not followed) holds exactly DATA: compared a
 * piece at a time, not read whole (a products file may be 150 MB). */
static int holds(int dfd, const char *base, const void *data, size_t len)
{
	int fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	struct stat st;
	int same = 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == len) {
		enum { PIECE = 1 << 16 };
		char *buf = malloc(PIECE);
		size_t got = 0;
		same = buf != NULL;
		while (same && got < len) {
			size_t want = len - got < PIECE ? len - got : PIECE;
			ssize_t n = read(fd, buf, want);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0 || memcmp(buf, (const char *)data + got, (size_t)n) != 0)
				same = 0;
			else
				got += (size_t)n;
		}
		free(buf);
	}
	close(fd);
	return same;
}

int ssi_safe_holds(const char *root, const char *rel, const void *data, size_t len)
{
	const char *base;
	struct ss_error e;
	int dfd = ssi_parent_open(root, rel, 0, &base, &e);
	if (dfd < 0)
		return 0;
	int same = holds(dfd, base, data, len);
	close(dfd);
	return same;
}

int ssi_safe_write(const char *root, const char *rel, const void *data, size_t len, int *changed,
		   struct ss_error *err)
{
	const char *base;
	int dfd = ssi_parent_open(root, rel, 1, &base, err);
	if (dfd < 0)
		return SS_FATAL;
	if (changed && holds(dfd, base, data, len)) {
		close(dfd);
		return SS_OK;
	}
	char prefix[NAME_MAX + 1], tmp[NAME_MAX + 16];
	snprintf(prefix, sizeof(prefix), ".%.200s.tmp.", base);
	int fd = ssi_tmpfile_at(dfd, prefix, tmp, sizeof(tmp));
	int rc = SS_OK;
	if (fd < 0 || write_all(fd, data, len) < 0 || fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
		rc = ssi_err_sys(err, SS_FATAL, errno, "cannot write '%s/%s'", root, rel);
	} else if (close(fd) < 0) {
		fd = -1;
		rc = ssi_err_sys(err, SS_FATAL, errno, "cannot write '%s/%s'", root, rel);
	} else {
		fd = -1;
		/* renameat replaces a symlink at BASE itself, never its target */
		if (renameat(dfd, tmp, dfd, base) < 0)
			rc = ssi_err_sys(err, SS_FATAL, errno, "cannot write '%s/%s'", root, rel);
		else
			fsync(dfd);
	}
	if (fd >= 0)
		close(fd);
	if (rc != SS_OK && tmp[0])
		unlinkat(dfd, tmp, 0);
	else if (changed)
		*changed = 1;
	close(dfd);
	return rc;
}

int ssi_safe_rename(const char *root, const char *from, const char *to, struct ss_error *err)
{
	const char *fb, *tb;
	int fd = ssi_parent_open(root, from, 0, &fb, err);
	if (fd < 0)
		return SS_FATAL;
	int td = ssi_parent_open(root, to, 1, &tb, err);
	int rc = SS_OK;
	if (td < 0)
		rc = SS_FATAL;
	else if (renameat(fd, fb, td, tb) < 0)
		rc = ssi_err_sys(err, SS_FATAL, errno, "cannot place '%s/%s'", root, to);
	if (td >= 0)
		close(td);
	close(fd);
	return rc;
}

int ssi_safe_unlink(const char *root, const char *rel, int prune_dirs, struct stat *st, struct ss_error *err)
{
	const char *base;
	int dfd = ssi_parent_open(root, rel, 0, &base, err);
	if (dfd < 0)
		return SS_FATAL;
	struct stat local;
	if (!st)
		st = &local;
	int rc = SS_OK;
	if (fstatat(dfd, base, st, AT_SYMLINK_NOFOLLOW) < 0)
		rc = ssi_err_sys(err, SS_FATAL, errno, "cannot remove '%s/%s'", root, rel);
	else if (S_ISDIR(st->st_mode))
		rc = ssi_err(err, SS_FATAL, "refusing to remove '%s/%s': a directory", root, rel);
	else if (unlinkat(dfd, base, 0) < 0) /* a symlink goes itself, its target stays */
		rc = ssi_err_sys(err, SS_FATAL, errno, "cannot remove '%s/%s'", root, rel);
	close(dfd);
	if (rc != SS_OK || !prune_dirs)
		return rc;
	/* the directories REL leaves empty, deepest first, each through the
	 * (not followed) fd of its parent */
	char *buf = strdup(rel);
	while (buf) {
		char *slash = strrchr(buf, '/');
		if (!slash)
			break;
		*slash = '\0';
		const char *dir_base;
		struct ss_error e;
		int pfd = ssi_parent_open(root, buf, 0, &dir_base, &e);
		if (pfd < 0)
			break;
		int gone = unlinkat(pfd, dir_base, AT_REMOVEDIR) == 0;
		close(pfd);
		if (!gone)
			break;
	}
	free(buf);
	return SS_OK;
}

int ssi_clean_dir(const char *root, const char *rel, int (*keep)(void *ud, const char *name), void *ud,
		  struct ss_error *err)
{
	struct ss_error e;
	int dfd = ssi_dir_open(root, rel, strlen(rel), 0, &e);
	if (dfd < 0) {
		if (e.sys_errno == ENOENT)
			return SS_OK;
		if (err)
			*err = e;
		return SS_FATAL;
	}
	int dup_fd = dup(dfd);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	if (!d) {
		if (dup_fd >= 0)
			close(dup_fd);
		close(dfd);
		return ssi_err_sys(err, SS_FATAL, errno, "cannot read '%s/%s'", root, rel);
	}
	struct dirent *ent;
	while ((ent = readdir(d))) {
		if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, ".."))
			continue;
		if (keep && keep(ud, ent->d_name))
			continue;
		/* temporary files only; a directory here is not ours to empty */
		unlinkat(dfd, ent->d_name, 0);
	}
	closedir(d);
	close(dfd);
	return SS_OK;
}

int ssi_lock_tree(const char *root, int *fd, struct ss_error *err)
{
	*fd = -1;
	int dfd = ssi_dir_open(root, SSI_PRIVATE_DIR, strlen(SSI_PRIVATE_DIR), 1, err);
	if (dfd < 0)
		return SS_FATAL;
	*fd = openat(dfd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	int e = errno;
	close(dfd);
	if (*fd < 0)
		return ssi_err_sys(err, SS_FATAL, e, "cannot open '%s/" SSI_PRIVATE_DIR "/lock'", root);
	if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		e = errno;
		close(*fd);
		*fd = -1;
		if (e == EWOULDBLOCK)
			return ssi_err(err, SS_TEMPFAIL, "'%s/" SSI_PRIVATE_DIR "': another run holds its lock", root);
		return ssi_err_sys(err, SS_FATAL, e, "cannot lock '%s/" SSI_PRIVATE_DIR "/lock'", root);
	}
	return SS_OK;
}
