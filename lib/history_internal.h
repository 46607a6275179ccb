/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the history files (prefix ssh_); libgit2 types. */
#ifndef SSTREAM_HISTORY_INTERNAL_H
#define SSTREAM_HISTORY_INTERNAL_H

#include <git2.h>

#include "internal.h"

/* The state of TREE's products files as they are on disk, being read on a
 * thread of its own from now on (or, when no thread starts, when it is
 * asked for).  NULL when out of memory. */
struct ssh_after *ssh_after_start(const char *tree);
void ssh_after_free(struct ssh_after *a);

/* The message of a commit from OLD_TREE (NULL: the first) to NEW_STATE
 * (waited for): a one-line summary ("TOOL: NOTE; +N -N versions, ..."),
 * then the versions added and removed.  malloc'd; NULL when out of
 * memory. */
char *ssh_commit_message(git_repository *repo, const git_tree *old_tree, struct ssh_after *new_state,
			 const char *tool, const char *note);

/* Calls CB for what is in B and not in A ('+') and in A and not in B
 * ('-'): "version" ("product version") and "item" ("product version
 * item") keys. */
void ssh_diff(git_repository *repo, const git_tree *a, const git_tree *b,
	      void (*cb)(void *ud, char sign, const char *what, const char *key), void *ud);

#endif
