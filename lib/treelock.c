/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tree lock and the stale-temporary cleaner: every run that writes a
 * tree (publish, mirror, history) takes the lock first, and then removes
 * what runs killed under it left behind.
 */
#include <string.h>
#include <unistd.h>

#include "treelock.h"

/* Keeps what is not a temporary file of an atomic write (".NAME.tmp.XXXXXX"). */
static int not_atomic_tmp(void *ud, const char *name)
{
	(void)ud;
	const char *t = strstr(name, ".tmp.");
	return !(name[0] == '.' && t && strlen(t + 5) == 6);
}

/* Keeps transfers a later mirror run resumes. */
static int is_part(void *ud, const char *name)
{
	(void)ud;
	size_t n = strlen(name);
	return n > 5 && strcmp(name + n - 5, ".part") == 0;
}

/* Keeps every entry but git's lock files ("NAME.lock"). */
static int not_git_lock(void *ud, const char *name)
{
	(void)ud;
	size_t n = strlen(name);
	return !(n > 5 && strcmp(name + n - 5, ".lock") == 0);
}

void ssi_treelock_clean_history(const char *tree)
{
	/* where libgit2 takes its locks for a commit: HEAD, the branch, the
	 * packed refs, the config */
	static const char *const dirs[] = { SSI_PRIVATE_DIR "/history.git", SSI_PRIVATE_DIR "/history.git/refs/heads" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		struct ss_error e;
		ssi_clean_dir(tree, dirs[i], not_git_lock, NULL, &e);
	}
}

int ssi_treelock_take(const char *tree, enum ssi_treelock_keep keep, int *fd, struct ss_error *err)
{
	static const char tmp[] = SSI_PRIVATE_DIR "/tmp";
	int rc = ssi_lock_tree(tree, fd, err);
	if (rc != SS_OK)
		return rc;
	int tfd = ssi_dir_open(tree, tmp, strlen(tmp), 1, err);
	if (tfd < 0) {
		rc = SS_FATAL;
	} else {
		close(tfd);
		rc = ssi_clean_dir(tree, tmp, keep == SSI_TL_KEEP_PARTS ? is_part : NULL, NULL, err);
		if (rc == SS_OK)
			rc = ssi_clean_dir(tree, "streams/v1", not_atomic_tmp, NULL, err);
		/* the catalogue page's (index.html is written beside itself) */
		if (rc == SS_OK)
			rc = ssi_clean_dir(tree, "", not_atomic_tmp, NULL, err);
		ssi_treelock_clean_history(tree);
	}
	if (rc != SS_OK) {
		close(*fd);
		*fd = -1;
	}
	return rc;
}
