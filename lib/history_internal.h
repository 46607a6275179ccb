/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the history files (prefix ssh_); libgit2 types. */
#ifndef SSTREAM_HISTORY_INTERNAL_H
#define SSTREAM_HISTORY_INTERNAL_H

#include <git2.h>

#include "internal.h"

/* The message of a commit from OLD_TREE (NULL: the first) to NEW_TREE: a
 * one-line summary ("TOOL: NOTE; +N -N versions, ..."), then the versions
 * added and removed.  malloc'd; NULL when out of memory. */
char *ssh_commit_message(git_repository *repo, const git_tree *old_tree, const git_tree *new_tree, const char *tool,
			 const char *note);

/* Calls CB for what is in B and not in A ('+') and in A and not in B
 * ('-'): "version" ("product version") and "item" ("product version
 * item") keys. */
void ssh_diff(git_repository *repo, const git_tree *a, const git_tree *b,
	      void (*cb)(void *ud, char sign, const char *what, const char *key), void *ud);

#endif
