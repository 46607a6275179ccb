/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the history files (prefix ssh_); libgit2 types. */
#ifndef SSTREAM_HISTORY_INTERNAL_H
#define SSTREAM_HISTORY_INTERNAL_H

#include <git2.h>

#include "internal.h"

/* libgit2 initialised, TREE's history opened (CREATE: created when there
 * is none), its objects written at zlib's fastest level (history_repo.c). */
int ssh_open_repo(const char *tree, int create, git_repository **repo, struct ss_error *err);
/* SS_FATAL, with ERR "history of 'TREE': WHAT: libgit2's last error". */
int ssh_git_fail(struct ss_error *err, const char *what, const char *tree);

/* The state of TREE's products files as they are on disk, being read on a
 * thread of its own from now on (or, when no thread starts, when it is
 * asked for).  NULL when out of memory.  ssi_history_prepare (internal.h)
 * makes one from documents not yet written. */
struct ssh_after *ssh_after_start(const char *tree);
/* A prepared state's thread, which writes objects into the history,
 * joined: the record then opens the history alone. */
void ssh_after_wait(struct ssh_after *a);
/* 1 when PATH is a prepared document of A whose object A wrote, with
 * exactly its bytes: its id then in *OID. */
int ssh_after_blob(const struct ssh_after *a, const char *path, git_oid *oid);

/* The message of a commit from OLD_TREE (NULL: the first) to NEW_TREE,
 * whose state NEW_STATE has (waited for): a one-line summary ("TOOL:
 * NOTE; +N -N versions, ..."), then the versions added and removed.
 * malloc'd; NULL when out of memory. */
char *ssh_commit_message(git_repository *repo, const git_tree *old_tree, const git_tree *new_tree,
			 struct ssh_after *new_state, const char *tool, const char *note);

/* Calls CB for what is in B and not in A ('+') and in A and not in B
 * ('-'): "version" ("product version") and "item" ("product version
 * item") keys. */
void ssh_diff(git_repository *repo, const git_tree *a, const git_tree *b,
	      void (*cb)(void *ud, char sign, const char *what, const char *key), void *ud);

#endif
