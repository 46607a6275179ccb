/* SPDX-License-Identifier: Apache-2.0 */
/* Verifying a tree: the plan (verify.c), the workers that hash each file
 * (verify_work.c) and the search for files nothing names (verify_orphans.c). */
#ifndef SSTREAM_VERIFY_INTERNAL_H
#define SSTREAM_VERIFY_INTERNAL_H

#include "internal.h"

struct combo {
	struct ss_hasher *h;
	const char *field, *expect, *meta_path;
};

struct vjob {
	const char *path;             /* tree-relative */
	char *loc;                    /* local file or URL */
	const struct ss_item **items; /* every item naming this path */
	size_t nitems;
	int kinds;
	struct combo *combos;
	size_t ncombos;
	/* results */
	int failed;
	int has_problem;              /* a problem names its path */
	char reason[1024];
	long long bytes;
};

struct vrun {
	const struct ss_verify_opts *o;
	struct ss_verify_stats *st;
	struct ss_error *err;
	struct ss_tree *t;
	int remote;
	struct vjob *jobs;
	size_t njobs;
	size_t next;                  /* next job for a worker (atomic) */
	/* problems found while planning, reported with the rest */
	struct problem {
		char *path, *reason;
		size_t seq;
	} *probs;
	size_t nprobs, aprobs;
};

/* Runs every job of R on the worker pool (r->o->jobs threads, or one per
 * core; 8 for a remote tree): each file hashed or, remote and not deep,
 * checked for existence and size.  SS_OK, or SS_FATAL when libcurl cannot
 * start. */
int ssi_verify_run_all(struct vrun *r);

/* The regular files of tree T (local) that are neither named by an item
 * (REFERENCED(CTX, path) true) nor one of its documents, their signatures,
 * or streams/v1/ views of them, into OUT, sorted; .sstream/ and .git/ are
 * left out.  SS_OK, or the walk's error (what was found so far is kept). */
int ssi_verify_orphans(const struct ss_tree *t, int (*referenced)(void *ctx, const char *rel), void *ctx,
		       struct ssi_strset *out);

#endif
