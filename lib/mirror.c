/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mirroring a tree into a local directory, incrementally and crash-safely.
 *
 * Order of a run, so that a reader (a web server serving TARGET while we
 * work) never sees a document naming a file that is not there, and a crash
 * at any point leaves a consistent tree:
 *   1. lock TARGET; load (and verify) the source; load what TARGET lists now
 *   2. plan: every wanted item is present, reusable from a local file with
 *      the same content, or to be fetched
 *   3. fetch into TARGET/.sstream/tmp, verify, rename into place; syncfs
 *   4. write products files, then the state file (what became unreferenced
 *      and when), then the index - each atomically, and only when changed
 *   5. delete files unreferenced for longer than the grace period, and the
 *      directories they leave empty
 *   6. with o->catalogue, the page TARGET/index.html from the items listed
 * State lives in TARGET/.sstream/: "lock", "tmp/", "state" (plain text),
 * and "last-success" (the time of the last run that returned SS_OK).
 * Step 2 is in mirror_plan.c, 3 in mirror_fetch.c, 4 in mirror_publish.c
 * (the documents) and mirror_state.c (the state file), 5 in
 * mirror_prune.c, 6 in mirror_page.c; this file runs them, in order, and
 * nothing else calls them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mirror_internal.h"
#include "treelock.h"

/* Locks TARGET and removes what killed runs left; transfers (".part")
 * stay for resume, the end of this run removes those it does not resume. */
static int lock_target(struct run *r)
{
	int rc = ssi_treelock_take(r->o->target, SSI_TL_KEEP_PARTS, &r->lock_fd, r->err);
	if (rc == SS_TEMPFAIL)
		ssi_err(r->err, SS_TEMPFAIL, "target '%s': another run holds its lock", r->o->target);
	return rc;
}

/* What the options select, as a hex digest: a complete run's record is
 * only good for a later run that asks for the same. */
static void options_key(struct run *r)
{
	const struct ss_mirror_opts *o = r->o;
	struct ss_hasher *h = ss_hasher_new(SS_HASH_SHA256);
	if (!h)
		return;
	char buf[64];
	ss_hasher_update(h, o->source, strlen(o->source) + 1);
	ss_hasher_update(h, o->keyring ? o->keyring : "", strlen(o->keyring ? o->keyring : "") + 1);
	/* (delete_excluded only when set: the keys earlier runs saved stay valid) */
	snprintf(buf, sizeof(buf), "%d %d %d%s", o->max, o->keep, o->no_items, o->delete_excluded ? " de" : "");
	ss_hasher_update(h, buf, strlen(buf) + 1);
	/* (the signing key only when set, likewise) */
	if (o->sign_key)
		ss_hasher_update(h, o->sign_key, strlen(o->sign_key) + 1);
	ssi_filter_hash(o->filter, h);
	struct ss_digest d;
	ss_hasher_final(h, &d);
	ss_hasher_free(h);
	snprintf(r->valid.key, sizeof(r->valid.key), "%s", d.sha256);
}


/* The usual cron rerun: the source says nothing changed since a complete
 * run with the same options, so nothing is read or parsed; only the files
 * whose grace period is over go. */
static int run_unchanged(struct run *r)
{
	int rc = ssm_prune_keep(r);
	if (rc != SS_OK)
		return rc;
	ssm_prune_expire(r, (long long)time(NULL));
	/* the documents and what they were read with stay as they are */
	r->st->items = r->valid.old_items;
	rc = ssm_state_save(r, &r->old_meta, &r->valid.old);
	if (rc == SS_OK && r->prune.refused)
		rc = ssi_err(r->err, SS_PARTIAL, "%d expired files were not removed (a symbolic link inside the tree)",
			     r->prune.refused);
	else if (rc == SS_OK && r->prune.held)
		rc = ssi_err(r->err, SS_PARTIAL, "%d expired files were not deleted (more than --max-delete)", r->prune.held);
	return rc;
}

/* Loads (and verifies) the source, what TARGET lists now, and plans. */
static int load_and_plan(struct run *r, struct ss_verifier *v, const struct ss_fetch_opts *fo)
{
	int rc;
	/* (upstream's bytes wait on disk for the documents, while its text
	 * becomes the items: a dry run, which writes none, keeps them) */
	char *spool = r->o->dry_run ? NULL : ss_join(r->dot, "tmp");
	if (!r->o->dry_run && !spool)
		return ssm_oom(r);
	r->src = spool ? ssi_tree_load_spooled(r->o->source, v, fo, spool, r->err)
		       : ss_tree_load_ex(r->o->source, v, fo, r->err);
	free(spool);
	ssm_phase(r, &r->st->phases.load);
	if (!r->src)
		return r->err->code;
	/* upstream's date; a tree that states none (sstream-publish writes
	 * none) is as new as its newest version */
	r->st->updated = ss_tree_updated(r->src);
	if (r->st->updated < 0)
		r->st->updated = ss_tree_version_date(r->src);
	ssi_strset_seal(&r->valid.new);
	if ((rc = ssm_check_docs(r)) != SS_OK || (rc = ss_select(r->src, r->o->filter, r->o->max, &r->sel, r->err)) != SS_OK)
		return rc;
	if ((rc = ssm_load_old(r)) != SS_OK)
		return rc;
	ssi_strset_seal(&r->old_refs);
	rc = ssm_plan(r);
	ssm_phase(r, &r->st->phases.plan);
	return rc;
}

/* The documents and the state, in the order that keeps the tree
 * consistent at every instant, then the deletions. */
static int commit(struct run *r)
{
	long long now = (long long)time(NULL);
	int rc = ssm_prune_plan(r, now);
	/* the state is saved before the index so that a crash loses no deadline */
	if (rc == SS_OK)
		rc = ssm_state_save(r, &r->new_meta, NULL);
	if (rc == SS_OK)
		rc = ssm_publish_write(r);
	if (rc != SS_OK)
		return rc;
	/* The new index is in place: what has been unreferenced long enough goes. */
	ssm_prune_expire(r, now);
	return ssm_state_save(r, &r->new_meta, r->complete ? &r->valid.new : NULL);
}

/* Items are in place but a document could not be written (disk full,
 * say): not "nothing done" - the tree changed, and it is consistent
 * (readers still see the previous documents, which name only files that
 * are there).  Partial: the next run finishes. */
static int publish_failed(struct run *r, int rc)
{
	struct ss_error *err = r->err;
	/* the page then shows what the documents on disk list, read back */
	ssm_page_unlist(r);
	if (rc == SS_FATAL && (r->st->added || r->st->reused) && err->sys_errno) { /* I/O, not a refusal */
		char why[sizeof(err->msg)];
		snprintf(why, sizeof(why), "%s", err->msg);
		rc = ssi_err(err, SS_PARTIAL,
			     "%zu items placed, but the documents were not all written (the tree still shows what it showed before): %s",
			     r->st->added + r->st->reused, why);
	}
	return rc;
}

/* Once the documents are written, what the page does not need goes
 * first: the page's rows are then the only memory added to the items. */
static void free_before_page(struct run *r)
{
	ssm_docs_free(r); /* (the items they list stay: the page's) */
	ssm_fetch_free(r);
	free(r->w);
	r->w = NULL;
	ssm_keyed_free(r);
	ssi_strset_free(&r->new_refs);
	ssi_strset_free(&r->old_refs);
	ss_selection_free(&r->sel);
	ssi_tree_drop_texts(r->src);
}

/* The trees, the plan and the documents, once written: the history that
 * follows reads the tree again, and a second copy of a 100 000-item
 * tree would double the run's peak memory.  Safe to call twice. */
static void free_plan(struct run *r)
{
	free_before_page(r);
	ssm_page_unlist(r);
	if (!r->old_is_src)
		ss_tree_free(r->old);
	ss_tree_free(r->src);
	r->old = r->src = NULL;
	r->old_is_src = 0;
}

/* The history's record of a run, on a thread of its own beside the page. */
struct record {
	pthread_t th;
	int started;
	const char *target;
	struct ssh_after *prep;
	int rc, committed;
	struct ss_error err;
};

static void *record_main(void *ud)
{
	struct record *h = ud;
	h->rc = ssi_history_record(h->target, "sstream-mirror", h->prep, &h->committed, &h->err);
	return NULL;
}

/* After the documents: the page (from the items they list, before those
 * are freed), the history, and the run's result.  A prepared record
 * (ssm_history_prepare: products of a bounded size) is written while the
 * page is; any other after the plan is freed, so that the two do not
 * add up. */
static int conclude(struct run *r)
{
	struct ss_mirror_stats *stats = r->st;
	int rc = SS_OK;
	ssm_clean_tmp(r);
	if (stats->failed)
		rc = r->failed_temp && !r->failed_other && stats->added == 0 && stats->reused == 0 ? SS_TEMPFAIL
											     : SS_PARTIAL;
	if (rc != SS_OK)
		ssi_err(r->err, rc, "%zu of %zu items failed", stats->failed, r->nw);
	else if (r->prune.refused)
		rc = ssi_err(r->err, SS_PARTIAL, "the tree is complete, but %d expired files were not removed (a symbolic link inside the tree)",
			     r->prune.refused);
	else if (r->prune.held)
		rc = ssi_err(r->err, SS_PARTIAL, "the tree is complete, but %d expired files were not deleted (more than --max-delete)",
			     r->prune.held);
	/* The history never fails a run: a damaged repository is a warning. */
	int record = !r->o->no_history && stats->metadata_written;
	struct record h = { .target = r->o->target, .prep = r->history };
	r->history = NULL;
	ssi_history_prepared(h.prep); /* (it read the items the plan holds) */
	if (record && h.prep)
		h.started = pthread_create(&h.th, NULL, record_main, &h) == 0;
	/* (a page not written is a warning: the run's success stands) */
	free_before_page(r);
	rc = ssm_page(r, rc);
	r->docs.paged = 1;
	free_plan(r);
	ssm_phase(r, &r->st->phases.page);
	if (record) {
		if (h.started)
			pthread_join(h.th, NULL);
		else
			record_main(&h);
		if (h.rc != SS_OK) {
			ssm_event(r, SS_EV_WARN, NULL, -1, h.err.msg);
			if (rc == SS_OK)
				rc = ssi_err(r->err, SS_PARTIAL, "the tree is complete, but its history could not be recorded");
		}
		ssm_phase(r, &r->st->phases.history);
	} else {
		ssh_after_free(h.prep);
	}
	return rc;
}

/* The target's filesystem flushed (syncfs) on a thread of its own. */
struct flush {
	pthread_t th;
	int fd, started;
};

static void *flush_main(void *ud)
{
	syncfs(((struct flush *)ud)->fd);
	return NULL;
}

static void flush_begin(struct run *r, struct flush *f)
{
	f->fd = open(r->o->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	f->started = f->fd >= 0 && pthread_create(&f->th, NULL, flush_main, f) == 0;
}

static void flush_end(struct flush *f)
{
	if (f->started)
		pthread_join(f->th, NULL);
	else if (f->fd >= 0)
		syncfs(f->fd);
	if (f->fd >= 0)
		close(f->fd);
}

/* Fetch, publish, prune: everything after the plan that changes TARGET. */
static int apply(struct run *r)
{
	int rc = ssm_fetch(r);
	if (rc == SS_OK)
		rc = ssm_place(r);
	ssm_phase(r, &r->st->phases.fetch);
	if (rc != SS_OK)
		return rc;
	r->complete = r->st->failed == 0 && !r->valid.missing;
	/* While the items reach the disk: the documents are built in memory,
	 * what the history will say of them read, and their page rendered;
	 * no document naming them is written before. */
	struct flush f;
	flush_begin(r, &f);
	if ((rc = ssm_publish(r)) == SS_OK)
		ssm_history_prepare(r);
	ssm_phase(r, &r->st->phases.documents);
	if (rc == SS_OK)
		ssm_page_render(r);
	ssm_phase(r, &r->st->phases.page);
	flush_end(&f);
	ssm_phase(r, &r->st->phases.sync);
	if (rc == SS_OK)
		rc = commit(r);
	ssm_phase(r, &r->st->phases.documents);
	if (rc != SS_OK)
		return publish_failed(r, rc);
	return conclude(r);
}

static void run_free(struct run *r)
{
	ssh_after_free(r->history);
	free_plan(r);
	ssm_prune_free(r);
	ssi_ledger_free(&r->prune.old);
	ssi_strset_free(&r->old_meta);
	ssi_strset_free(&r->new_meta);
	ssi_strset_free(&r->valid.old);
	ssi_strset_free(&r->valid.new);
	ssi_strset_free(&r->names);
	ssi_dirs_close(&r->dirs);
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	free(r->dot);
}

static int run(struct run *r)
{
	const struct ss_mirror_opts *o = r->o;
	struct ss_verifier *v = NULL;
	int rc;
	if (!(r->dot = malloc(strlen(o->target) + 16)))
		return ssm_oom(r);
	sprintf(r->dot, "%s/.sstream", o->target);
	if (!o->dry_run && (rc = lock_target(r)) != SS_OK)
		return rc;
	if (o->keyring && !(v = ss_verifier_new(o->keyring, r->err)))
		return r->err->code;
	r->deadline = o->max_time > 0 ? time(NULL) + o->max_time : 0;
	struct ss_fetch_opts fo = { .ca_file = o->ca_file, .timeout = o->timeout, .retries = o->retries,
				    .deadline = r->deadline, .validators = ssm_state_validators, .ud = r };
	if ((rc = ssm_state_load(r)) != SS_OK)
		goto out;
	options_key(r);
	if (!o->dry_run && !o->check_existing && ssm_state_unchanged(r, &fo)) {
		r->unchanged = 1;
		rc = run_unchanged(r);
		goto out;
	}
	if ((rc = load_and_plan(r, v, &fo)) != SS_OK)
		goto out;
	if (o->dry_run) {
		rc = ssm_publish(r); /* computes what would be referenced; writes nothing */
		if (rc == SS_OK)
			ssm_report_plan(r);
		goto out;
	}
	rc = apply(r);
out:
	ss_verifier_free(v);
	return rc;
}

/* The record of the last run that got everything done, no-op runs
 * included: what sstream-verify --max-age measures from (the documents of
 * a quiet upstream never change).  Apart from the state file, which says
 * what was written rather than when. */
#define LAST_SUCCESS SSI_PRIVATE_DIR "/last-success"

static int record_success(struct run *r)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "%lld\n", (long long)time(NULL)), changed = 0;
	struct ss_error e;
	if (ssi_safe_write(r->o->target, LAST_SUCCESS, line, (size_t)n, &changed, &e) == SS_OK)
		return SS_OK;
	return ssi_err(r->err, SS_PARTIAL, "the tree is complete, but the time of this run could not be recorded: %s",
		       e.msg);
}

long long ss_mirror_last_success(const char *target)
{
	char *file = ss_join(target, LAST_SUCCESS), *data = NULL, *end;
	size_t len;
	struct ss_error e;
	long long t = -1;
	if (file && !ss_is_url(target) && ss_fetch(file, 64, &data, &len, &e) == SS_OK) {
		t = strtoll(data, &end, 10);
		if (end == data || *end != '\n' || t < 0)
			t = -1;
	}
	free(file);
	free(data);
	return t;
}

int ss_mirror(const struct ss_mirror_opts *o, struct ss_mirror_stats *stats, struct ss_error *err)
{
	double t0 = ssi_now();
	struct ss_error local;
	if (!err)
		err = &local;
	ss_error_clear(err);
	memset(stats, 0, sizeof(*stats));
	stats->updated = -1;
	struct run r = { .o = o, .st = stats, .err = err, .lock_fd = -1, .mark = t0 };
	r.new_refs.borrowed = r.old_refs.borrowed = 1;
	int rc = run(&r);
	if (rc == SS_OK && !o->dry_run)
		rc = record_success(&r);
	/* a run that did not get to conclude(): the status block of a
	 * not-modified run, or the page read back from the tree */
	if (!r.docs.paged)
		rc = ssm_page(&r, rc);
	stats->seconds = ssi_now() - t0;
	run_free(&r);
	return rc;
}
