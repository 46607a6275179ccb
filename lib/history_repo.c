/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tree's history repository (TREE/.sstream/history.git) opened or
 * created, for the record and its readers.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <git2.h>
#include <git2/sys/odb_backend.h>

#include "history_internal.h"

static pthread_once_t git_once = PTHREAD_ONCE_INIT;

static void git_init(void)
{
	git_libgit2_init();
}

int ssh_git_fail(struct ss_error *err, const char *what, const char *tree)
{
	const git_error *e = git_error_last();
	return ssi_err(err, SS_FATAL, "history of '%s': %s: %s", tree, what, e && e->message ? e->message : "failed");
}

/* Objects are written at zlib's fastest level: a products file of a large
 * tree is tens of MB, which the default level deflates about 2.5 times
 * slower for an object a fifth smaller (lxc-images' 2 MB products: 424 KB
 * against 524 KB).  The default backend stays, behind it, for reading. */
static int fast_writes(git_repository *repo)
{
	git_odb *odb = NULL;
	git_odb_backend *b = NULL;
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%sobjects", git_repository_path(repo));
	int rc = git_repository_odb(&odb, repo);
	if (rc == 0 && (rc = git_odb_backend_loose(&b, dir, 1, 0, 0, 0)) == 0 && (rc = git_odb_add_backend(odb, b, 10)) != 0)
		b->free(b);
	git_odb_free(odb);
	return rc;
}

int ssh_open_repo(const char *tree, int create, git_repository **repo, struct ss_error *err)
{
	pthread_once(&git_once, git_init);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/" SSI_PRIVATE_DIR "/history.git", tree);
	/* libgit2 writes below it by path: neither .sstream nor history.git
	 * may be a symlink */
	static const char rel[] = SSI_PRIVATE_DIR "/history.git";
	struct ss_error e;
	int fd = ssi_dir_open(tree, rel, strlen(rel), 0, &e);
	if (fd >= 0) {
		close(fd);
		return git_repository_open_bare(repo, path) == 0 && fast_writes(*repo) == 0 ? SS_OK
										       : ssh_git_fail(err, "cannot open", tree);
	}
	if (e.sys_errno != ENOENT)
		return ssi_err(err, SS_FATAL, "history of '%s': %s", tree, e.msg);
	if (!create)
		return ssi_err(err, SS_FATAL, "history of '%s': none recorded", tree);
	if ((fd = ssi_dir_open(tree, SSI_PRIVATE_DIR, strlen(SSI_PRIVATE_DIR), 1, &e)) < 0)
		return ssi_err(err, SS_FATAL, "history of '%s': %s", tree, e.msg);
	close(fd);
	return git_repository_init(repo, path, 1) == 0 && fast_writes(*repo) == 0 ? SS_OK
										  : ssh_git_fail(err, "cannot create", tree);
}
