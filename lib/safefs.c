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

int ssi_dir_open(const char *root, const char *rel, size_t rel_len, int create, struct ss_error *err)
{
	/* one walk, the same syscalls as by hand: each name opened once */
	struct ssi_dirs d;
	ssi_dirs_init(&d, root);
	int fd = ssi_dirs_open(&d, rel, rel_len, create, err);
	if (fd >= 0)
		fd = ssi_dirs_take(&d, fd);
	ssi_dirs_close(&d);
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

int ssi_write_all(int fd, const void *data, size_t len)
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

ssize_t ssi_read_full(int fd, void *buf, size_t n, off_t off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, (char *)buf + got, n - got, off + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
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
			if (ssi_read_full(fd, buf, want, (off_t)got) != (ssize_t)want ||
			    memcmp(buf, (const char *)data + got, want) != 0)
				same = 0;
			else
				got += want;
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
	if (fd < 0 || ssi_write_all(fd, data, len) < 0 || fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
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

int ssi_dirs_rename(struct ssi_dirs *d, const char *from, const char *to, struct ss_error *err)
{
	const char *fb, *tb;
	int fd = ssi_dirs_parent(d, from, 0, &fb, err);
	int td = fd >= 0 ? ssi_dirs_parent(d, to, 1, &tb, err) : -1;
	if (td < 0)
		return SS_FATAL;
	if (renameat(fd, fb, td, tb) < 0)
		return ssi_err_sys(err, SS_FATAL, errno, "cannot place '%s/%s'", d->root, to);
	/* either may have been a directory: what D knows there is stale */
	ssi_dirs_forget(d, from, strlen(from));
	ssi_dirs_forget(d, to, strlen(to));
	return SS_OK;
}

int ssi_safe_rename(const char *root, const char *from, const char *to, struct ss_error *err)
{
	struct ssi_dirs d;
	ssi_dirs_init(&d, root);
	int rc = ssi_dirs_rename(&d, from, to, err);
	ssi_dirs_close(&d);
	return rc;
}

int ssi_dirs_unlink(struct ssi_dirs *d, const char *rel, int prune_dirs, struct stat *st, struct ss_error *err)
{
	const char *base;
	int dfd = ssi_dirs_parent(d, rel, 0, &base, err);
	if (dfd < 0)
		return SS_FATAL;
	struct stat local;
	if (!st)
		st = &local;
	if (fstatat(dfd, base, st, AT_SYMLINK_NOFOLLOW) < 0)
		return ssi_err_sys(err, SS_FATAL, errno, "cannot remove '%s/%s'", d->root, rel);
	if (S_ISDIR(st->st_mode))
		return ssi_err(err, SS_FATAL, "refusing to remove '%s/%s': a directory", d->root, rel);
	if (unlinkat(dfd, base, 0) < 0) /* a symlink goes itself, its target stays */
		return ssi_err_sys(err, SS_FATAL, errno, "cannot remove '%s/%s'", d->root, rel);
	/* the directories REL leaves empty, deepest first, each through the
	 * (not followed, cached from the walk above) fd of its parent */
	for (size_t len = strlen(rel); prune_dirs;) {
		while (len > 0 && rel[len - 1] != '/')
			len--;
		if (len-- == 0)
			break;
		size_t plen = len;
		while (plen > 0 && rel[plen - 1] != '/')
			plen--;
		struct ss_error e;
		int pfd = ssi_dirs_open(d, rel, plen ? plen - 1 : 0, 0, &e);
		char name[NAME_MAX + 1];
		snprintf(name, sizeof(name), "%.*s", (int)(len - plen), rel + plen);
		if (pfd < 0 || unlinkat(pfd, name, AT_REMOVEDIR) < 0)
			break;
		ssi_dirs_forget(d, rel, len);
	}
	return SS_OK;
}

int ssi_safe_unlink(const char *root, const char *rel, int prune_dirs, struct stat *st, struct ss_error *err)
{
	struct ssi_dirs d;
	ssi_dirs_init(&d, root);
	int rc = ssi_dirs_unlink(&d, rel, prune_dirs, st, err);
	ssi_dirs_close(&d);
	return rc;
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
