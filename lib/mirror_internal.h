/*
 * The parts of a mirror run (internal): planning (mirror_plan.c), the
 * state file and grace bookkeeping (mirror_state.c), publishing of the
 * documents (mirror_publish.c), and the run itself with its transfers
 * (mirror.c).  Prefix ssm_.
 */
#ifndef SSTREAM_MIRROR_INTERNAL_H
#define SSTREAM_MIRROR_INTERNAL_H

#include "download.h"

/* An item by path or by sha256, in a sorted array. */
struct keyed {
	const char *key;
	const struct ss_item *it;
};

int ssm_cmp_keyed(const void *a, const void *b);
const struct ss_item *ssm_keyed_find(const struct keyed *k, size_t n, const char *key);

enum { W_PRESENT, W_FETCH, W_REUSE, W_FAILED, W_NOPATH, W_SKIPPED };

struct want {
	const struct ss_item *it;
	const char *path;
	int status;
	size_t dl;              /* its transfer, for W_FETCH */
	const char *reuse_from; /* a tree-relative path, for W_REUSE */
	const struct want *same;/* an earlier want with the same path */
};

struct run {
	const struct ss_mirror_opts *o;
	struct ss_mirror_stats *st;
	struct ss_error *err;
	char *dot;               /* TARGET/.sstream */
	int lock_fd;
	struct ss_tree *src, *old;
	int old_is_src;          /* the target holds the source's documents */
	struct ss_selection sel;
	struct want *w;
	size_t nw;
	struct ssi_dl *dls;
	size_t ndl;
	char **parts;            /* temp file of each transfer */
	char ***urls;
	struct keyed *old_by_path, *old_by_sha;
	size_t nold, nsha;
	struct ssi_strset new_refs, old_refs;
	/* state: unreferenced files and since when */
	struct ssi_strset pend_path;
	long long *pend_time;    /* parallel to pend_path.v after loading */
	struct ssi_strset old_meta, new_meta;
	int failed_temp, failed_other;
	int refused;             /* deletions refused (a symlink inside the tree) */
	/* the documents to write, tree-relative path -> bytes (owned) */
	char **doc_rel, **doc_data;
	size_t *doc_len, ndocs, adocs;
	time_t deadline;         /* when the run gives up (--max-time), 0: never */
	/* Conditional requests: "URL\tETAG\tLAST-MODIFIED" of each document
	 * as the last complete run fetched it, and as this run did. */
	struct ssi_strset valid_old, valid_new;
	int valid_missing;       /* a document came without validators */
	char key[72], old_key[72]; /* what the options select (source, filters...) */
	size_t old_items;
	int complete;            /* every wanted item is in place: save key and validators */
};

void ssm_event(struct run *r, enum ss_mirror_event_type t, const char *path, long long size,
	       const char *msg);
/* TARGET/REL, malloc'd. */
char *ssm_tpath(const struct run *r, const char *rel);

/* Planning: what TARGET lists now, then what each wanted item needs. */
int ssm_load_old(struct run *r);
int ssm_plan(struct run *r);
int ssm_same_content(const struct ss_item *a, const struct ss_item *b);

/* State file: pending removals and the documents we wrote. */
int ssm_state_load(struct run *r);
/* Reads the lines of a state file in DATA (NUL-terminated, modified)
 * into R's old_meta, pend_path and pend_time. */
int ssm_state_parse(struct run *r, char *data);
/* After the documents: starts grace periods, writes the state then
 * INDEX, then deletes what has been unreferenced long enough. */
int ssm_state_commit(struct run *r, const char *index, size_t index_len);
/* Nothing changed upstream: only the files whose grace period is over go. */
int ssm_state_expire(struct run *r);
/* Records a fetched document's validators (a ss_fetch_opts callback). */
void ssm_state_validators(void *ud, const char *url, const char *etag, const char *last_modified);
/* 1 when the last run was complete with the same options and the source
 * answers 304 Not Modified for every document it read. */
int ssm_state_unchanged(struct run *r, const struct ss_fetch_opts *fo);

/* Refuses (SS_FATAL, R's error) a source whose documents would not each
 * have a path of their own in TARGET: two products files with one content
 * id, a document at an item's path, two JSON views at one path. */
int ssm_check_docs(struct run *r);

/* Writes the products files and the index (or, dry run, only computes
 * what they would reference). */
int ssm_publish(struct run *r);
void ssm_docs_free(struct run *r);

#endif
