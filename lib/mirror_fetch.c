/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fetch phase of a mirror run: every wanted item not present is
 * linked from a local file with the same content or transferred into
 * TARGET/.sstream/tmp (download.c), verified, and renamed into place as
 * soon as its transfer ends (while the others go on).
 * Failures are recorded on the wants; the rest of the run goes on.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mirror_internal.h"

/* ".sstream/tmp/NAME" of the absolute temporary file PART. */
static const char *part_rel(const char *part, char *buf, size_t bufsz)
{
	const char *b = strrchr(part, '/');
	snprintf(buf, bufsz, SSI_PRIVATE_DIR "/tmp/%s", b ? b + 1 : part);
	return buf;
}


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
	free(part);
	const char *sb, *pb;
	struct ss_error e;
	/* both fds stay open through the second lookup */
	int sfd = ssi_dirs_parent(&r->dirs, w->reuse_from, 0, &sb, &e);
	int pfd = sfd >= 0 ? ssi_dirs_parent(&r->dirs, rel, 0, &pb, &e) : -1;
	if (pfd < 0)
		return 0;
	unlinkat(pfd, pb, 0);
	if (linkat(sfd, sb, pfd, pb, 0) < 0)
		return 0;
	if (ssi_dirs_rename(&r->dirs, rel, w->path, &e) == SS_OK)
		return 1;
	/* the rename's lookups may have closed PFD */
	if ((pfd = ssi_dirs_parent(&r->dirs, rel, 0, &pb, &e)) >= 0)
		unlinkat(pfd, pb, 0);
	return 0;
}

/* Local copies first; one that cannot be linked is fetched instead.
 * Returns how many transfers remain. */
static size_t reuse_all(struct run *r)
{
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
	return n;
}

/* The transfers, handed to the download engine one at a time: a
 * transfer's URLs and temporary file exist only while it runs. */
struct feed {
	struct run *r;
	size_t next;             /* the next want to look at */
};

static void free_urls(char **urls, int n)
{
	for (int m = 0; urls && m < n; m++)
		free(urls[m]);
	free(urls);
}

/* The next transfer: the next want to fetch, its URLs (the source, then
 * each mirror) and its temporary file. */
static int feed_next(void *ud, struct ssi_dl *dl)
{
	struct feed *f = ud;
	struct run *r = f->r;
	while (f->next < r->nw && (r->w[f->next].status != W_FETCH || r->w[f->next].same))
		f->next++;
	if (f->next == r->nw)
		return 1;
	size_t k = f->next++;
	const struct want *w = &r->w[k];
	int nurls = r->o->nmirrors + 1;
	char **urls = calloc((size_t)nurls, sizeof(*urls));
	char *part = part_name(r, w->path);
	int ok = urls && part && (urls[0] = ss_join(ss_tree_root(r->src), w->path));
	for (int m = 0; ok && m < r->o->nmirrors; m++)
		ok = (urls[m + 1] = ss_join(r->o->mirrors[m], w->path)) != NULL;
	if (!ok) {
		free_urls(urls, nurls);
		free(part);
		ssm_oom(r);
		return -1;
	}
	*dl = (struct ssi_dl){
		.urls = (const char *const *)urls,
		.nurls = nurls,
		.path = w->path,
		.part = part,
		.size = ss_item_get_int(w->it, "size"),
		.max_size = r->o->max_item_size,
		.kinds = ss_item_hash_kinds(w->it),
		.item = w->it,
		.tag = k,
	};
	return 0;
}

static void place_one(struct run *r, struct want *w, const char *part);

/* A transfer ended (its file closed): placed at once, while the others
 * still transfer, rather than in a serial pass after the last one. */
static void feed_done(void *ud, struct ssi_dl *dl)
{
	struct feed *f = ud;
	struct want *w = &f->r->w[dl->tag];
	w->result = dl->result;
	w->bytes = dl->bytes;
	if (dl->result != SS_OK)
		w->why = strdup(dl->err.msg); /* NULL: said as "out of memory" */
	free_urls((char **)dl->urls, dl->nurls);
	place_one(f->r, w, dl->part);
	free((char *)dl->part);
}

int ssm_fetch(struct run *r)
{
	ssi_dirs_init(&r->dirs, r->o->target);
	size_t n = reuse_all(r);
	if (n == 0)
		return SS_OK;
	static const char tmp[] = SSI_PRIVATE_DIR "/tmp";
	if (ssi_dirs_open(&r->dirs, tmp, strlen(tmp), 1, r->err) < 0)
		return SS_FATAL;
	struct feed f = { .r = r };
	struct ssi_dl_feed feed = { .total = n, .next = feed_next, .done = feed_done, .ud = &f };
	for (size_t i = 0; i < r->nw; i++) {
		const struct want *w = &r->w[i];
		long long size = w->status == W_FETCH && !w->same ? ss_item_get_int(w->it, "size") : 0;
		feed.total_bytes += size > 0 ? size : 0;
	}
	struct ssi_dl_opts dopts = {
		.jobs = r->o->jobs, .retries = r->o->retries, .timeout = r->o->timeout,
		.limit_rate = r->o->limit_rate, .ca_file = r->o->ca_file,
		.deadline = r->deadline ? ssi_now() + (double)(r->deadline - time(NULL)) : 0,
		.progress = ssm_progress, .ud = r,
	};
	return ssi_download_feed(&feed, &dopts, r->err);
}

/* Moves W's verified file PART into place (W_PRESENT), or records its
 * failure (W_FAILED). */
static void place_one(struct run *r, struct want *w, const char *part)
{
	long long size = ss_item_get_int(w->it, "size");
	char rel[PATH_MAX];
	r->st->bytes_fetched += w->bytes;
	struct ss_error pe;
	ss_error_clear(&pe);
	if (w->result == SS_OK &&
	    ssi_dirs_rename(&r->dirs, part_rel(part, rel, sizeof(rel)), w->path, &pe) == SS_OK) {
		w->status = W_PRESENT;
		r->st->added++;
		r->st->bytes_added += size > 0 ? size : 0;
		ssm_event(r, SS_EV_ADD, w->path, size, NULL);
	} else {
		w->status = W_FAILED;
		if (w->result == SS_TEMPFAIL)
			r->failed_temp++;
		else
			r->failed_other++;
		/* Keep a partial file only where a later run can resume it. */
		if (w->result != SS_TEMPFAIL)
			unlink(part);
		ssm_event(r, SS_EV_FAIL, w->path, size,
			  w->result == SS_OK ? pe.msg : w->why ? w->why : "out of memory");
	}
}

/* Records what the fetch left (each transfer's file is placed as it
 * ends); items sharing a file share its fate. */
int ssm_place(struct run *r)
{
	/* what comes next (documents, prune) removes directories by path */
	ssi_dirs_close(&r->dirs);
	/* every transfer ends before a fetch returns SS_OK; never say a
	 * want that did not is present */
	for (size_t i = 0; i < r->nw; i++) {
		struct want *w = &r->w[i];
		if (!w->same && w->status == W_FETCH) {
			w->status = W_FAILED;
			r->failed_other++;
			ssm_event(r, SS_EV_FAIL, w->path, ss_item_get_int(w->it, "size"), "not fetched");
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


/* Partial files of transfers that are not worth resuming. */
struct keep_parts {
	struct ssi_strset names;
};

static int keep_part(void *ud, const char *name)
{
	return ssi_strset_has(&((struct keep_parts *)ud)->names, name);
}

void ssm_clean_tmp(struct run *r)
{
	struct keep_parts keep = { { 0 } };
	int oom = 0;
	for (size_t i = 0; i < r->nw && !oom; i++) {
		if (r->w[i].result != SS_TEMPFAIL)
			continue;
		char *part = part_name(r, r->w[i].path);
		const char *b = part ? strrchr(part, '/') : NULL;
		oom = !b || ssi_strset_add(&keep.names, b + 1) < 0;
		free(part);
	}
	ssi_strset_seal(&keep.names);
	struct ss_error e;
	/* out of memory: better a stale partial file than a lost resume */
	if (!oom && ssi_clean_dir(r->o->target, SSI_PRIVATE_DIR "/tmp", keep_part, &keep, &e) != SS_OK)
		ssm_event(r, SS_EV_WARN, NULL, -1, e.msg);
	ssi_strset_free(&keep.names);
}

void ssm_fetch_free(struct run *r)
{
	for (size_t i = 0; r->w && i < r->nw; i++) {
		free(r->w[i].why);
		r->w[i].why = NULL;
	}
}
