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
 * State lives in TARGET/.sstream/: "lock", "tmp/", "state" (plain text).
 * Steps 1-2 are in mirror_plan.c, 4 in mirror_publish.c, the state file
 * and step 5 in mirror_state.c; this file runs them and does step 3.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mirror_internal.h"
#include "treelock.h"

void ssm_event(struct run *r, enum ss_mirror_event_type t, const char *path, long long size,
	       const char *msg)
{
	if (!r->o->event)
		return;
	struct ss_mirror_event ev = { .type = t, .path = path, .size = size, .msg = msg };
	r->o->event(r->o->ud, &ev);
}

static void progress(void *ud, long long bytes, long long bytes_total, size_t done, size_t total)
{
	struct run *r = ud;
	if (!r->o->event)
		return;
	struct ss_mirror_event ev = { .type = SS_EV_PROGRESS, .bytes = bytes, .bytes_total = bytes_total,
				      .done = done, .total = total };
	r->o->event(r->o->ud, &ev);
}

char *ssm_tpath(const struct run *r, const char *rel)
{
	return ss_join(r->o->target, rel);
}

/* Locks TARGET and removes what killed runs left; transfers (".part")
 * stay for resume, the end of this run removes those it does not resume. */
static int lock_target(struct run *r)
{
	int rc = ssi_treelock_take(r->o->target, SSI_TL_KEEP_PARTS, &r->lock_fd, r->err);
	if (rc == SS_TEMPFAIL)
		ssi_err(r->err, SS_TEMPFAIL, "target '%s': another run holds its lock", r->o->target);
	return rc;
}

/* ".sstream/tmp/NAME" of the absolute temporary file PART. */
static const char *part_rel(const char *part, char *buf, size_t bufsz)
{
	const char *b = strrchr(part, '/');
	snprintf(buf, bufsz, SSI_PRIVATE_DIR "/tmp/%s", b ? b + 1 : part);
	return buf;
}

/* ---- fetching ------------------------------------------------------------------ */

/* The temporary name of PATH's transfer: stable across runs, for resume. */
static char *part_name(const struct run *r, const char *path)
{
	struct ss_hasher *h = ss_hasher_new(SS_HASH_SHA256);
	if (!h)
		return NULL;
	ss_hasher_update(h, path, strlen(path));
	struct ss_digest d;
	ss_hasher_final(h, &d);
	ss_hasher_free(h);
	char *out = malloc(strlen(r->dot) + 80);
	if (out)
		sprintf(out, "%s/tmp/%.32s.part", r->dot, d.sha256);
	return out;
}

/* Hard-links a file the tree already holds (same content, other path),
 * through directory fds: no symlink inside the tree is followed. */
static int reuse(struct run *r, struct want *w)
{
	char *part = part_name(r, w->path), rel[PATH_MAX];
	if (!part)
		return 0;
	part_rel(part, rel, sizeof(rel));
	const char *sb, *pb;
	struct ss_error e;
	int sfd = ssi_parent_open(r->o->target, w->reuse_from, 0, &sb, &e);
	int pfd = sfd >= 0 ? ssi_parent_open(r->o->target, rel, 0, &pb, &e) : -1;
	int ok = 0;
	if (pfd >= 0) {
		unlinkat(pfd, pb, 0);
		ok = linkat(sfd, sb, pfd, pb, 0) == 0 && ssi_safe_rename(r->o->target, rel, w->path, &e) == SS_OK;
		if (!ok)
			unlinkat(pfd, pb, 0);
	}
	if (sfd >= 0)
		close(sfd);
	if (pfd >= 0)
		close(pfd);
	free(part);
	return ok;
}

static int fetch(struct run *r)
{
	/* Local copies first; one that cannot be linked is fetched instead. */
	for (size_t i = 0; i < r->nw; i++) {
		struct want *w = &r->w[i];
		if (w->status != W_REUSE || w->same)
			continue;
		if (reuse(r, w)) {
			r->st->reused++;
			ssm_event(r, SS_EV_REUSE, w->path, ss_item_get_int(w->it, "size"), w->reuse_from);
			w->status = W_PRESENT;
		} else {
			w->status = W_FETCH;
		}
	}
	size_t n = 0;
	for (size_t i = 0; i < r->nw; i++)
		if (r->w[i].status == W_FETCH && !r->w[i].same)
			n++;
	if (n == 0)
		return SS_OK;
	static const char tmp[] = SSI_PRIVATE_DIR "/tmp";
	int tfd = ssi_dir_open(r->o->target, tmp, strlen(tmp), 1, r->err);
	if (tfd < 0)
		return SS_FATAL;
	close(tfd);
	r->dls = calloc(n, sizeof(*r->dls));
	r->parts = calloc(n, sizeof(*r->parts));
	r->urls = calloc(n, sizeof(*r->urls));
	if (!r->dls || !r->parts || !r->urls)
		return ssi_err(r->err, SS_FATAL, "out of memory");
	const char *root = ss_tree_root(r->src);
	for (size_t i = 0; i < r->nw; i++) {
		struct want *w = &r->w[i];
		if (w->status != W_FETCH || w->same)
			continue;
		size_t k = r->ndl++;
		w->dl = k;
		char **urls = calloc((size_t)r->o->nmirrors + 1, sizeof(*urls));
		r->urls[k] = urls;
		r->parts[k] = part_name(r, w->path);
		if (!urls || !r->parts[k] || !(urls[0] = ss_join(root, w->path)))
			return ssi_err(r->err, SS_FATAL, "out of memory");
		for (int m = 0; m < r->o->nmirrors; m++)
			if (!(urls[m + 1] = ss_join(r->o->mirrors[m], w->path)))
				return ssi_err(r->err, SS_FATAL, "out of memory");
		r->dls[k] = (struct ssi_dl){
			.urls = (const char *const *)urls,
			.nurls = r->o->nmirrors + 1,
			.path = w->path,
			.part = r->parts[k],
			.size = ss_item_get_int(w->it, "size"),
			.kinds = ss_item_hash_kinds(w->it),
			.item = w->it,
		};
	}
	struct ssi_dl_opts dopts = {
		.jobs = r->o->jobs, .retries = r->o->retries, .timeout = r->o->timeout,
		.limit_rate = r->o->limit_rate, .ca_file = r->o->ca_file,
		.deadline = r->deadline ? ssi_now() + (double)(r->deadline - time(NULL)) : 0,
		.progress = progress, .ud = r,
	};
	return ssi_download_all(r->dls, r->ndl, &dopts, r->err);
}

/* Moves verified files into place; records failures. */
static int place(struct run *r)
{
	for (size_t i = 0; i < r->nw; i++) {
		struct want *w = &r->w[i];
		if (w->same || w->status != W_FETCH)
			continue;
		long long size = ss_item_get_int(w->it, "size");
		struct ssi_dl *dl = &r->dls[w->dl];
		r->st->bytes_fetched += dl->bytes;
		char rel[PATH_MAX];
		struct ss_error pe;
		ss_error_clear(&pe);
		if (dl->result == SS_OK &&
		    ssi_safe_rename(r->o->target, part_rel(dl->part, rel, sizeof(rel)), w->path, &pe) == SS_OK) {
			w->status = W_PRESENT;
			r->st->added++;
			r->st->bytes_added += size > 0 ? size : 0;
			ssm_event(r, SS_EV_ADD, w->path, size, NULL);
		} else {
			if (dl->result == SS_OK)
				dl->err = pe;
			w->status = W_FAILED;
			if (dl->result == SS_TEMPFAIL)
				r->failed_temp++;
			else
				r->failed_other++;
			/* Keep a partial file only where a later run can resume it. */
			if (dl->result != SS_TEMPFAIL)
				unlink(dl->part);
			ssm_event(r, SS_EV_FAIL, w->path, size, dl->err.msg);
		}
	}
	/* Items sharing a file share its fate. */
	for (size_t i = 0; i < r->nw; i++)
		if (r->w[i].same && r->w[i].status != W_FAILED)
			r->w[i].status = r->w[i].same->status;
	for (size_t i = 0; i < r->nw; i++)
		if (r->w[i].status == W_FAILED)
			r->st->failed++;
	return SS_OK;
}

/* Dry run: what would be added and removed. */
static void report_plan(struct run *r)
{
	for (size_t i = 0; i < r->nw; i++) {
		const struct want *w = &r->w[i];
		if (w->same)
			continue;
		long long size = ss_item_get_int(w->it, "size");
		if (w->status == W_FETCH) {
			r->st->added++;
			r->st->bytes_added += size > 0 ? size : 0;
			ssm_event(r, SS_EV_ADD, w->path, size, NULL);
		} else if (w->status == W_REUSE) {
			r->st->reused++;
			ssm_event(r, SS_EV_REUSE, w->path, size, w->reuse_from);
		}
	}
	for (size_t i = 0; i < r->old_refs.n; i++) {
		const char *p = r->old_refs.v[i];
		if (ssi_strset_has(&r->new_refs, p) || strncmp(p, "streams/", 8) == 0)
			continue;
		const struct ss_item *it = ssm_keyed_find(r->old_by_path, r->nold, p);
		long long size = it ? ss_item_get_int(it, "size") : -1;
		r->st->removed++;
		r->st->bytes_removed += size > 0 ? size : 0;
		ssm_event(r, SS_EV_REMOVE, p, size, NULL);
	}
}

/* Partial files of transfers that are not worth resuming. */
struct keep_parts {
	struct ssi_strset names;
};

static int keep_part(void *ud, const char *name)
{
	return ssi_strset_has(&((struct keep_parts *)ud)->names, name);
}

static void clean_tmp(struct run *r)
{
	struct keep_parts keep = { { 0 } };
	for (size_t i = 0; i < r->ndl; i++)
		if (r->dls[i].result == SS_TEMPFAIL) {
			const char *b = strrchr(r->parts[i], '/');
			ssi_strset_add(&keep.names, b ? b + 1 : r->parts[i]);
		}
	ssi_strset_seal(&keep.names);
	struct ss_error e;
	if (ssi_clean_dir(r->o->target, SSI_PRIVATE_DIR "/tmp", keep_part, &keep, &e) != SS_OK)
		ssm_event(r, SS_EV_WARN, NULL, -1, e.msg);
	ssi_strset_free(&keep.names);
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
	snprintf(buf, sizeof(buf), "%d %d %d", o->max, o->keep, o->no_items);
	ss_hasher_update(h, buf, strlen(buf) + 1);
	ssi_filter_hash(o->filter, h);
	struct ss_digest d;
	ss_hasher_final(h, &d);
	ss_hasher_free(h);
	snprintf(r->key, sizeof(r->key), "%s", d.sha256);
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
	struct run r = { .o = o, .st = stats, .err = err, .lock_fd = -1 };
	struct ss_verifier *v = NULL;
	int rc;
	r.dot = malloc(strlen(o->target) + 16);
	if (!r.dot) {
		rc = ssi_err(err, SS_FATAL, "out of memory");
		goto out;
	}
	sprintf(r.dot, "%s/.sstream", o->target);
	if (!o->dry_run && (rc = lock_target(&r)) != SS_OK)
		goto out;
	if (o->keyring && !(v = ss_verifier_new(o->keyring, err))) {
		rc = err->code;
		goto out;
	}
	r.deadline = o->max_time > 0 ? time(NULL) + o->max_time : 0;
	struct ss_fetch_opts fo = { .ca_file = o->ca_file, .timeout = o->timeout, .retries = o->retries,
				    .deadline = r.deadline, .validators = ssm_state_validators, .ud = &r };
	if ((rc = ssm_state_load(&r)) != SS_OK)
		goto out;
	options_key(&r);
	/* The usual cron rerun: the source says nothing changed since a
	 * complete run with the same options, so nothing is read or parsed. */
	if (!o->dry_run && !o->check_existing && ssm_state_unchanged(&r, &fo)) {
		rc = ssm_state_expire(&r);
		if (rc == SS_OK && r.refused)
			rc = ssi_err(err, SS_PARTIAL, "%d expired files were not removed (a symbolic link inside the tree)",
				     r.refused);
		goto out;
	}
	if (!(r.src = ss_tree_load_ex(o->source, v, &fo, err))) {
		rc = err->code;
		goto out;
	}
	stats->updated = ss_tree_updated(r.src);
	ssi_strset_seal(&r.valid_new);
	if ((rc = ssm_check_docs(&r)) != SS_OK || (rc = ss_select(r.src, o->filter, o->max, &r.sel, err)) != SS_OK)
		goto out;
	if ((rc = ssm_load_old(&r)) != SS_OK)
		goto out;
	ssi_strset_seal(&r.old_refs);
	if ((rc = ssm_plan(&r)) != SS_OK)
		goto out;
	if (o->dry_run) {
		rc = ssm_publish(&r); /* computes what would be referenced; writes nothing */
		if (rc == SS_OK)
			report_plan(&r);
		goto out;
	}
	if ((rc = fetch(&r)) != SS_OK || (rc = place(&r)) != SS_OK)
		goto out;
	r.complete = stats->failed == 0 && !r.valid_missing;
	/* Items reach the disk before any document names them. */
	int tfd = open(o->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd >= 0) {
		syncfs(tfd);
		close(tfd);
	}
	if ((rc = ssm_publish(&r)) != SS_OK) {
		/* Items are in place but a document could not be written (disk
		 * full, say): not "nothing done" - the tree changed, and it is
		 * consistent (readers still see the previous documents, which
		 * name only files that are there).  Partial: the next run
		 * finishes. */
		if (rc == SS_FATAL && (stats->added || stats->reused) && err->sys_errno) { /* I/O, not a refusal */
			char why[sizeof(err->msg)];
			snprintf(why, sizeof(why), "%s", err->msg);
			rc = ssi_err(err, SS_PARTIAL,
				     "%zu items placed, but the documents were not all written (the tree still shows what it showed before): %s",
				     stats->added + stats->reused, why);
		}
		goto out;
	}
	clean_tmp(&r);
	/* The history never fails a run: a damaged repository is a warning. */
	int history_failed = 0;
	if (!o->no_history && stats->metadata_written) {
		struct ss_error he;
		int committed;
		if (ss_history_record(o->target, "sstream-mirror", &committed, &he) != SS_OK) {
			ssm_event(&r, SS_EV_WARN, NULL, -1, he.msg);
			history_failed = 1;
		}
	}
	if (stats->failed)
		rc = r.failed_temp && !r.failed_other && stats->added == 0 && stats->reused == 0 ? SS_TEMPFAIL
											   : SS_PARTIAL;
	if (rc != SS_OK)
		ssi_err(err, rc, "%zu of %zu items failed", stats->failed, r.nw);
	else if (r.refused)
		rc = ssi_err(err, SS_PARTIAL, "the tree is complete, but %d expired files were not removed (a symbolic link inside the tree)",
			     r.refused);
	else if (history_failed)
		rc = ssi_err(err, SS_PARTIAL, "the tree is complete, but its history could not be recorded");
out:
	stats->seconds = ssi_now() - t0;
	for (size_t i = 0; i < r.ndl; i++) {
		for (int m = 0; r.urls && r.urls[i] && m <= o->nmirrors; m++)
			free(r.urls[i][m]);
		if (r.urls)
			free(r.urls[i]);
		if (r.parts)
			free(r.parts[i]);
	}
	ssm_docs_free(&r);
	free(r.urls);
	free(r.parts);
	free(r.dls);
	free(r.w);
	free(r.old_by_path);
	free(r.old_by_sha);
	free(r.pend_time);
	ssi_strset_free(&r.pend_path);
	ssi_strset_free(&r.old_meta);
	ssi_strset_free(&r.new_meta);
	ssi_strset_free(&r.new_refs);
	ssi_strset_free(&r.old_refs);
	ssi_strset_free(&r.valid_old);
	ssi_strset_free(&r.valid_new);
	ss_selection_free(&r.sel);
	if (!r.old_is_src)
		ss_tree_free(r.old);
	ss_tree_free(r.src);
	ss_verifier_free(v);
	if (r.lock_fd >= 0)
		close(r.lock_fd);
	free(r.dot);
	return rc;
}
