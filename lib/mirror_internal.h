/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The parts of a mirror run (internal), prefix ssm_.  The orchestrator
 * (mirror.c) runs the phases in order: planning (mirror_plan.c), fetching
 * (mirror_fetch.c), publishing the documents (mirror_publish.c), pruning
 * what they no longer name (mirror_prune.c), with the state file
 * (mirror_state.c) between runs.  The phases share the run's state and
 * its helpers (mirror_run.c) and never call one another.
 */
#ifndef SSTREAM_MIRROR_INTERNAL_H
#define SSTREAM_MIRROR_INTERNAL_H

#include "download.h"
#include "ledger.h"

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
	/* how its transfer ended, for W_FETCH: the transfers themselves
	 * exist only while they run (download_loop.c) */
	int result;
	long long bytes;        /* received */
	char *why;              /* the reason it failed (malloc'd), or NULL */
	const char *reuse_from; /* a tree-relative path, for W_REUSE */
	const struct want *same;/* an earlier want with the same path */
	int held;               /* in place, but another item of its version failed */
};

/* The documents this run writes (mirror_publish.c), tree-relative path
 * -> bytes (malloc'd; NULL: upstream's, read back from the source tree
 * when written), and what the page needs of them (mirror_page.c). */
struct ssm_docs {
	char **rel, **data;
	size_t *len, n, alloc;
	struct ssi_prepdoc *prep; /* the items each lists, for the history */
	/* versions with a failed item are not listed; the old tree's items
	 * of such a version are, when their files are there */
	const struct ss_item **fallback;
	size_t nfallback;
	/* the items the products files list (for the catalogue page) */
	const struct ss_item **listed;
	size_t nlisted;
	char *page;              /* their page, rendered ahead (ssm_page_render) */
	size_t page_len;
	int paged;               /* the page was written (or tried) by conclude() */
	char *index;             /* streams/v1/index.json to write */
	size_t index_len;
};

/* Files waiting out their grace period (mirror_prune.c, ledger.h). */
struct ssm_prune {
	struct ssi_ledger old;   /* as the state file lists them */
	struct ssi_ledger pend;  /* what the state file will list as pending */
	struct ssi_strset dropped; /* referenced before, not now */
	int refused;             /* deletions refused (a symlink inside the tree) */
	int held;                /* expired files kept: more than max_delete */
};

/* Conditional requests (mirror_state.c): "URL\tETAG\tLAST-MODIFIED" of
 * each document as the last complete run fetched it, and as this run did,
 * and the key of what the options select. */
struct ssm_valid {
	struct ssi_strset old, new;
	int missing;             /* a document came without validators */
	char key[72], old_key[72]; /* what the options select (source, filters...) */
	size_t old_items;
};

struct run {
	const struct ss_mirror_opts *o;
	struct ss_mirror_stats *st;
	struct ss_error *err;
	char *dot;               /* TARGET/.sstream */
	int lock_fd;
	time_t deadline;         /* when the run gives up (--max-time), 0: never */
	/* what was read and what this run manages (mirror_select.c) */
	struct ss_tree *src, *old;
	int old_is_src;          /* the target holds the source's documents */
	int unchanged;           /* the source said nothing changed: nothing was read */
	struct ss_selection sel;
	/* the plan (mirror_plan.c) and how its fetch went (mirror_fetch.c) */
	struct want *w;
	size_t nw;
	struct keyed *old_by_path, *old_by_sha;
	size_t nold, nsha;
	int failed_temp, failed_other;
	int complete;            /* every wanted item is in place: save key and validators */
	/* paths the old and the new documents reference (borrowed from the
	 * trees, or from NAMES: a million paths are not copied twice), and the
	 * documents */
	struct ssi_strset new_refs, old_refs, old_meta, new_meta, names;
	struct ssm_docs docs;
	struct ssm_prune prune;
	struct ssm_valid valid;
	/* the target's directories, open from the fetch to the last placed
	 * file (the thread that runs the phases; the download writer thread
	 * only writes the files the engine opened) */
	struct ssi_dirs dirs;
	/* what the history will say of the documents (ssm_history_prepare) */
	struct ssh_after *history;
	double mark;             /* when the phase being timed began (ssm_phase) */
};

/* ---- mirror_run.c: shared by every phase ---- */
/* Frees the old tree's items by path and by sha256 (R's keyed arrays). */
void ssm_keyed_free(struct run *r);
void ssm_event(struct run *r, enum ss_mirror_event_type t, const char *path, long long size,
	       const char *msg);
/* A ssi_dl_opts progress callback; UD is the run. */
void ssm_progress(void *ud, long long bytes, long long bytes_total, size_t done, size_t total);
/* The time since the last call (or the run's start) added to R's phase
 * *PHASE (one of R->st->phases). */
void ssm_phase(struct run *r, double *phase);
/* TARGET/REL, malloc'd. */
char *ssm_tpath(const struct run *r, const char *rel);
/* Sets R's error to "out of memory"; returns SS_FATAL. */
int ssm_oom(struct run *r);
/* Adds STR to S; SS_FATAL (R's error) when out of memory.  The sets of a
 * run decide what is deleted: an entry lost for want of memory would make
 * a referenced file look unreferenced, so no add may fail silently. */
int ssm_add(struct run *r, struct ssi_strset *s, const char *str);
/* Adds STR to the borrowing set S (new_refs, old_refs): STR as it is when
 * it lives as long as the run's trees, else (COPY) a copy in R->names. */
int ssm_ref(struct run *r, struct ssi_strset *s, const char *str, int copy);

/* The items of TARGET's products that the run's filters do not select
 * (kept as they are unless delete_excluded; *OUT malloc'd), or SS_FATAL
 * naming the filters when they select nothing upstream or in TARGET
 * (mirror_select.c). */
int ssm_select_outside(struct run *r, const struct ss_item ***out, size_t *nout);
/* Same content: sizes and hashes agree where both give them. */
int ssm_same_content(const struct ss_item *a, const struct ss_item *b);

/* ---- mirror_plan.c: what TARGET lists now, then what each wanted item needs ---- */
int ssm_load_old(struct run *r);
int ssm_plan(struct run *r);
/* Dry run: the events and counts of what would be added and removed. */
void ssm_report_plan(struct run *r);

/* ---- mirror_fetch.c ---- */
/* Links or transfers every item to fetch, each moved into place as its
 * transfer ends; SS_FATAL only when none can start. */
int ssm_fetch(struct run *r);
/* After the fetch (which moves each verified file into place as its
 * transfer ends): the failures counted, items sharing a file given its
 * fate.  SS_OK. */
int ssm_place(struct run *r);
/* Removes the temporary files of transfers not worth resuming. */
void ssm_clean_tmp(struct run *r);
void ssm_fetch_free(struct run *r);

/* ---- mirror_publish.c ---- */
/* Refuses (SS_FATAL, R's error) a source whose documents would not each
 * have a path of their own in TARGET: two products files with one content
 * id, a document at an item's path, two JSON views at one path. */
int ssm_check_docs(struct run *r);
/* Builds the products files and the index in memory and what they
 * reference (NEW_REFS, NEW_META); writes nothing. */
int ssm_publish(struct run *r);
/* Writes what ssm_publish built, the index last. */
int ssm_publish_write(struct run *r);
/* What the history will say of the documents ssm_publish built, read on a
 * thread of the history's from now on (R->history), unless the run
 * records no history or the documents are not at hand (upstream's, too
 * big to be kept). */
void ssm_history_prepare(struct run *r);
/* Frees the documents built; not the items they list (docs.listed, the
 * page's), which the run frees after the page. */
void ssm_docs_free(struct run *r);

/* ---- mirror_prune.c ---- */
/* Builds R's pending list: what was pending and is still unreferenced,
 * and what became unreferenced, since NOW. */
int ssm_prune_plan(struct run *r, long long now);
/* The pending list is what the state file says (nothing was re-read). */
int ssm_prune_keep(struct run *r);
/* Deletes the pending files whose grace period is over at NOW. */
void ssm_prune_expire(struct run *r, long long now);
void ssm_prune_free(struct run *r);

/* ---- mirror_state.c: the state file ---- */
int ssm_state_load(struct run *r);
/* Reads the lines of a state file in DATA (NUL-terminated, modified)
 * into R's old_meta, pend_old and validators.  SS_FATAL when out of memory. */
int ssm_state_parse(struct run *r, char *data);
/* Writes META, R's pending list and (when VALID is not NULL) the options
 * key with the validators VALID. */
int ssm_state_save(struct run *r, const struct ssi_strset *meta, const struct ssi_strset *valid);
/* Records a fetched document's validators (a ss_fetch_opts callback). */
void ssm_state_validators(void *ud, const char *url, const char *etag, const char *last_modified);
/* 1 when the last run was complete with the same options and the source
 * answers 304 Not Modified for every document it read. */
int ssm_state_unchanged(struct run *r, const struct ss_fetch_opts *fo);

/* ---- mirror_page.c ---- */
/* After a run that got through (RC SS_OK or SS_PARTIAL), with
 * o->catalogue: TARGET/index.html from the items the run listed, or (the
 * source unchanged) only its status block.  A page not written is a
 * warning; returns RC, or SS_PARTIAL for an SS_OK whose page failed. */
int ssm_page(struct run *r, int rc);
/* The page of the items the documents list, rendered in memory ahead
 * (while the items reach the disk), for ssm_page to write with the run's
 * status; nothing for a large tree, whose page is written as it is
 * rendered. */
void ssm_page_render(struct run *r);
/* Forgets the items listed and their page (the page is then read back). */
void ssm_page_unlist(struct run *r);

#endif
