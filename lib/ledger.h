/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ledger of files waiting out their grace period (ledger.c), the one
 * format of the three places that keep one: the mirror's state file
 * (TARGET/.sstream/state), the S3 state object (PREFIX/.sstream/state)
 * and publish prune's TREE/.sstream/unreferenced.  One line per file:
 *
 *   P SINCE PATH
 *
 * SINCE the Unix time the file was first seen unreferenced (decimal
 * digits, at most 18), PATH as every document path (ss_path_check), at
 * most SSI_LEDGER_PATH_MAX bytes.  Lines are written sorted by PATH, one
 * per path.  The formats before this one are read too (migration), and
 * rewritten in this one by the next write:
 *   "SINCE PATH"    publish prune's .sstream/unreferenced (SSI_LEDGER_OLD_BARE)
 *   "d SINCE KEY"   the S3 state object (SSI_LEDGER_OLD_S3)
 * Pure: no I/O; the callers write the text atomically (ssi_safe_write,
 * one S3 PUT).
 */
#ifndef SSTREAM_LEDGER_H
#define SSTREAM_LEDGER_H

#include "internal.h"

#define SSI_LEDGER_PATH_MAX 4095
#define SSI_LEDGER_MAX ((size_t)1 << 24) /* entries */

/* Old line formats a parse also accepts. */
enum { SSI_LEDGER_OLD_BARE = 1, SSI_LEDGER_OLD_S3 = 2 };

struct ssi_ledger_entry {
	char *path;
	long long since;
	size_t seq; /* order of addition: the last of one path wins */
};

struct ssi_ledger {
	struct ssi_ledger_entry *v;
	size_t n, alloc, seq;
	int unsorted;
};

/* Due for deletion: unreferenced for GRACE seconds or more at NOW. */
static inline int ssi_ledger_due(long long since, long long now, long long grace)
{
	return now - since >= grace;
}

/* Reads the line [S, S+LEN) (no newline) into L when it is a ledger line
 * (or, with OLD, a line of an old format): 1 added, 0 not a ledger line,
 * -1 out of memory, -2 a ledger line refused (WHY, which may be NULL,
 * says why: bad time, unsafe path, too long). */
int ssi_ledger_parse_line(struct ssi_ledger *l, const char *s, size_t len, unsigned old,
			  struct ss_error *why);
/* Every line of [DATA, DATA+LEN) that is a ledger line (others are
 * skipped, refused ones counted in *BAD when BAD is not NULL); sealed
 * after.  0, or -1 when out of memory. */
int ssi_ledger_parse(struct ssi_ledger *l, const char *data, size_t len, unsigned old, size_t *bad);
/* Adds PATH unreferenced since SINCE, replacing an entry of PATH.  Adds
 * in order of path keep L sealed; others leave it to ssi_ledger_seal,
 * which lookups, expiry and the text need.  0; -1 when out of memory; -2 when
 * PATH or SINCE could not be read back (unsafe, too long, negative). */
int ssi_ledger_add(struct ssi_ledger *l, const char *path, long long since);
/* Sorts by path, keeping the last added of each. */
void ssi_ledger_seal(struct ssi_ledger *l);
/* The entry of PATH in sealed L, or NULL (also when L is not sealed). */
const struct ssi_ledger_entry *ssi_ledger_find(const struct ssi_ledger *l, const char *path);
/* How many entries of L are due at NOW. */
size_t ssi_ledger_count_due(const struct ssi_ledger *l, long long now, long long grace);
/* Calls DEL for each due entry, in order of path; an entry leaves L
 * unless DEL returns nonzero (not deleted: it stays, with its time). */
void ssi_ledger_expire(struct ssi_ledger *l, long long now, long long grace,
		       int (*del)(void *ud, const char *path), void *ud);
/* The lines of sealed L: their length, and written at P (which has room
 * for ssi_ledger_text_len bytes and a NUL), returning the end. */
size_t ssi_ledger_text_len(const struct ssi_ledger *l);
char *ssi_ledger_text(const struct ssi_ledger *l, char *p);
void ssi_ledger_free(struct ssi_ledger *l);

#endif
