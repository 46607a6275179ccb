/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tools' output files (--report, --metrics): written whole or not at
 * all, next to the target, and never into a directory that is not there.
 * The library's ss_write_atomic creates missing parents, which an output
 * option given a mistyped path must not do.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sstream.h"
#include "tool.h"

static int fail(struct ss_error *err, const char *path, const char *tmp, int fd)
{
	int e = errno;
	if (fd >= 0)
		close(fd);
	if (tmp)
		unlink(tmp);
	err->code = SS_PARTIAL;
	err->sys_errno = e;
	snprintf(err->msg, sizeof(err->msg), "cannot write '%s': %s", path, strerror(e));
	return -1;
}

int tool_write_atomic(const char *path, const char *data, size_t len, struct ss_error *err)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int dl = slash ? (int)(slash - path + 1) : 0;
	errno = ENAMETOOLONG;
	if (snprintf(tmp, sizeof(tmp), "%.*s.%s.XXXXXX", dl, path, path + dl) >= (int)sizeof(tmp))
		return fail(err, path, NULL, -1);
	snprintf(dir, sizeof(dir), "%.*s", dl ? dl : 1, dl ? path : ".");
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return fail(err, path, NULL, -1);
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(err, path, tmp, fd);
		off += (size_t)n;
	}
	if (fchmod(fd, 0644) < 0 || fsync(fd) < 0)
		return fail(err, path, tmp, fd);
	if (close(fd) < 0)
		return fail(err, path, tmp, -1);
	if (rename(tmp, path) < 0)
		return fail(err, path, tmp, -1);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}
