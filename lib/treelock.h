/* SPDX-License-Identifier: Apache-2.0 */
/* The tree lock (treelock.c): one writer at a time per tree, and the
 * cleanup of what a killed writer left.  Used by publish, mirror and
 * history; it calls neither. */
#ifndef SSTREAM_TREELOCK_H
#define SSTREAM_TREELOCK_H

#include "internal.h"

/* What survives in TREE/.sstream/tmp when the lock is taken. */
enum ssi_treelock_keep {
	SSI_TL_KEEP_NONE,  /* publish: nothing in it survives a run */
	SSI_TL_KEEP_PARTS, /* mirror: transfers (".part") stay for resume */
};

/*
 * Locks TREE (.sstream/lock, without waiting; .sstream and .sstream/tmp
 * created, neither followed if a symlink) and removes what killed runs
 * left: the files of .sstream/tmp but those KEEP keeps, the temporary
 * files of atomic writes in streams/v1 (".NAME.tmp.XXXXXX"), and the lock
 * files of the history repository.  *FD keeps the lock until closed; on
 * failure it is -1.  SS_OK, SS_TEMPFAIL (another run holds the lock) or
 * SS_FATAL.
 */
int ssi_treelock_take(const char *tree, enum ssi_treelock_keep keep, int *fd, struct ss_error *err);

/* Removes the lock files ("NAME.lock") of TREE's history repository a
 * killed run left; call only while holding the tree's lock. */
void ssi_treelock_clean_history(const char *tree);

#endif
