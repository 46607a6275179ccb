/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The transfer loop of the download engine: a feed hands over transfers
 * one at a time, up to JOBS run at once over one curl multi handle, and
 * each is handed back as soon as the next requests are out.  Only the
 * transfers running, just ended or waiting to retry exist here: a run of
 * a million items holds a few dozen, not a million (each with its error
 * buffer, about 1.5 KiB).
 */
#include <stdlib.h>
#include <string.h>

#include "download_internal.h"

/* A transfer the loop holds: the engine's state and the caller's DL. */
struct slot {
	struct xfer x;
	struct ssi_dl dl;
};

/* One ssi_download_feed call. */
struct loop {
	struct slot **xs;        /* held transfers, in the order they came */
	size_t n, cap;
	const struct ssi_dl_feed *f;
	int fed_all;             /* the feed has nothing more */
	int oom;                 /* the feed ran out of memory */
	CURLM *m;
	const struct ssi_dl_opts *o;
	struct engine g;
	int jobs, active;
	size_t done;             /* transfers handed back */
	long long bytes_done;    /* bytes received by those */
	double last_progress;
};

/* Hands every ended transfer back to the feed and forgets it. */
static void reap(struct loop *L)
{
	size_t k = 0;
	for (size_t i = 0; i < L->n; i++) {
		struct slot *s = L->xs[i];
		if (s->x.state != ST_DONE) {
			L->xs[k++] = s;
			continue;
		}
		L->bytes_done += s->dl.bytes;
		L->done++;
		L->f->done(L->f->ud, &s->dl);
		free(s);
	}
	L->n = k;
}

/* The feed's next transfer, queued (NULL when there is none or no memory). */
static struct slot *take(struct loop *L)
{
	if (L->fed_all)
		return NULL;
	if (L->n == L->cap) {
		size_t nc = L->cap ? 2 * L->cap : 16;
		struct slot **nx = realloc(L->xs, nc * sizeof(*nx));
		if (!nx) {
			L->oom = L->fed_all = 1;
			return NULL;
		}
		L->xs = nx;
		L->cap = nc;
	}
	struct slot *s = calloc(1, sizeof(*s));
	int got = s ? L->f->next(L->f->ud, &s->dl) : -1;
	if (got != 0) {
		free(s);
		L->fed_all = 1;
		L->oom |= got < 0;
		return NULL;
	}
	s->x.dl = &s->dl;
	s->x.eng = &L->g;
	s->x.fd = -1;
	s->x.state = ST_QUEUED;
	s->dl.result = SS_OK;
	ss_error_clear(&s->dl.err);
	L->xs[L->n++] = s;
	return s;
}

/* Every transfer held or still to come ends as a temporary failure: the
 * run's deadline passed.  Partial files stay for the next run. */
static void expire_all(struct loop *L)
{
	for (;;) {
		for (size_t i = 0; i < L->n; i++) {
			struct xfer *x = &L->xs[i]->x;
			if (x->state == ST_DONE)
				continue;
			if (x->easy) {
				curl_multi_remove_handle(L->m, x->easy);
				curl_easy_cleanup(x->easy);
				x->easy = NULL;
				if (x->abort_why == ABORT_NONE)
					ssi_dlw_flush(x);
			}
			ssi_err(&x->dl->err, SS_TEMPFAIL, "'%s': the run's time limit was reached", x->dl->path);
			ssi_dlx_finish(x, SS_TEMPFAIL);
		}
		reap(L);
		if (!take(L))
			break;
	}
}

/* Paused transfers go on as soon as the bucket has tokens. */
static void resume_paused(struct loop *L, double t)
{
	struct engine *g = &L->g;
	ssi_rate_refill(&g->bucket, t);
	for (size_t k = 0; g->npaused && ssi_rate_ready(&g->bucket) && k < L->n; k++) {
		struct xfer *x = &L->xs[k]->x;
		if (x->paused) {
			x->paused = 0;
			g->npaused--;
			curl_easy_pause(x->easy, CURLPAUSE_CONT);
		}
	}
}

/* Fills free slots: first the held transfers whose wait is over, then new
 * ones from the feed.  Returns when the next waiting one may start (0:
 * none waits). */
static double fill_slots(struct loop *L, double t)
{
	double soonest = 0;
	for (size_t k = 0; k < L->n && L->active < L->jobs; k++) {
		struct xfer *x = &L->xs[k]->x;
		if (x->state != ST_QUEUED)
			continue;
		if (x->not_before > t) {
			if (soonest == 0 || x->not_before < soonest)
				soonest = x->not_before;
			continue;
		}
		if (ssi_dlx_start(x, L->m, L->o))
			L->active++;
	}
	struct slot *s;
	while (L->active < L->jobs && (s = take(L))) {
		if (ssi_dlx_start(&s->x, L->m, L->o))
			L->active++;
		else if (s->x.state == ST_DONE)
			reap(L); /* a local copy: ended at once */
	}
	return soonest;
}

/* Runs the transfers a while and handles those that ended (handed back
 * by reap); returns how many did. */
static int collect(struct loop *L)
{
	int finished = 0, running = 0, left;
	if (L->active == 0)
		return 0;
	curl_multi_perform(L->m, &running);
	CURLMsg *msg;
	while ((msg = curl_multi_info_read(L->m, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct xfer *x;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		CURLcode c = msg->data.result;
		curl_multi_remove_handle(L->m, msg->easy_handle);
		L->active--;
		finished++;
		if (x->paused) {
			x->paused = 0;
			L->g.npaused--;
		}
		ssi_dlx_done(x, c, L->o);
		curl_easy_cleanup(x->easy);
		x->easy = NULL;
	}
	return finished;
}

static void report(struct loop *L, double t)
{
	size_t total = L->f->total;
	if (!L->o->progress || (t - L->last_progress < 0.25 && L->done < total))
		return;
	long long bytes = L->bytes_done;
	for (size_t i = 0; i < L->n; i++)
		bytes += L->xs[i]->dl.bytes;
	L->o->progress(L->o->ud, bytes, L->f->total_bytes, L->done, total);
	L->last_progress = t;
}

/* Waits for the sockets, the next retry (SOONEST), a refill or the deadline. */
static void wait_next(struct loop *L, double t, double soonest)
{
	double until = t + 1;
	if (soonest > 0 && soonest < until)
		until = soonest;
	if (L->g.npaused) {
		double refill_at = ssi_rate_ready_at(&L->g.bucket, t);
		if (refill_at < until)
			until = refill_at;
	}
	if (L->o->deadline > 0 && L->o->deadline < until)
		until = L->o->deadline;
	int wait_ms = (int)((until - t) * 1000) + 1;
	if (L->active > 0)
		curl_multi_poll(L->m, NULL, 0, wait_ms, NULL);
	else if (wait_ms > 0)
		ssi_sleep_ms((unsigned)wait_ms);
}

static int all_done(const struct loop *L)
{
	return L->fed_all && L->n == 0;
}

static void run_loop(struct loop *L)
{
	while (!all_done(L)) {
		double t = ssi_now();
		if (L->o->deadline > 0 && t >= L->o->deadline) {
			expire_all(L);
			break;
		}
		resume_paused(L, t);
		double soonest = fill_slots(L, t);
		if (all_done(L))
			break;
		int finished = collect(L);
		if (finished) {
			/* The next requests go out before the files of those that
			 * ended are handed back (renamed into place, a directory
			 * made): the server answers meanwhile.  On a tree of small
			 * files that is a fifth of this side's time a file. */
			fill_slots(L, t);
			int running;
			if (L->active)
				curl_multi_perform(L->m, &running);
		}
		reap(L);
		t = ssi_now();
		report(L, t);
		if (all_done(L))
			break;
		/* A slot came free: start the next transfer now, not after a wait. */
		if (!finished)
			wait_next(L, t, soonest);
	}
}

/* Stops what still runs (only after running out of memory) and hands
 * back every transfer held. */
static void teardown(struct loop *L)
{
	for (size_t i = 0; i < L->n; i++) {
		struct xfer *x = &L->xs[i]->x;
		if (x->easy) {
			curl_multi_remove_handle(L->m, x->easy);
			curl_easy_cleanup(x->easy);
			x->easy = NULL;
		}
		if (x->state != ST_DONE) {
			ssi_err(&x->dl->err, SS_FATAL, "'%s': not fetched (out of memory)", x->dl->path);
			ssi_dlx_finish(x, SS_FATAL);
		}
	}
	reap(L);
	ssi_dlw_stop(&L->g.w);
	curl_multi_cleanup(L->m);
	free(L->xs);
}

int ssi_download_feed(const struct ssi_dl_feed *feed, const struct ssi_dl_opts *o, struct ss_error *err)
{
	if (feed->total == 0)
		return SS_OK;
	if (ssi_curl_init() != 0)
		return ssi_err(err, SS_FATAL, "libcurl initialisation failed");
	struct loop L = { .f = feed, .o = o, .jobs = o->jobs > 0 ? o->jobs : 4 };
	if (!(L.m = curl_multi_init()))
		return ssi_err(err, SS_FATAL, "out of memory");
	ssi_rate_init(&L.g.bucket, o->limit_rate, ssi_now());
	ssi_dlw_init(&L.g.w, (size_t)L.jobs + 4);
	curl_multi_setopt(L.m, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	curl_multi_setopt(L.m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)L.jobs);
	curl_multi_setopt(L.m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)L.jobs);
	run_loop(&L);
	teardown(&L);
	if (L.oom)
		return ssi_err(err, SS_FATAL, "out of memory");
	return SS_OK;
}

/* ssi_download_all over an array: the feed of its elements, in order. */
struct array_feed {
	struct ssi_dl *dls;
	size_t n, next;
};

static int array_next(void *ud, struct ssi_dl *dl)
{
	struct array_feed *a = ud;
	if (a->next == a->n)
		return 1;
	*dl = a->dls[a->next];
	dl->tag = a->next++;
	return 0;
}

static void array_done(void *ud, struct ssi_dl *dl)
{
	struct array_feed *a = ud;
	struct ssi_dl *orig = &a->dls[dl->tag];
	orig->result = dl->result;
	orig->err = dl->err;
	orig->bytes = dl->bytes;
}

int ssi_download_all(struct ssi_dl *dls, size_t n, const struct ssi_dl_opts *o, struct ss_error *err)
{
	struct array_feed a = { .dls = dls, .n = n };
	struct ssi_dl_feed f = { .total = n, .next = array_next, .done = array_done, .ud = &a };
	for (size_t i = 0; i < n; i++)
		f.total_bytes += dls[i].size > 0 ? dls[i].size : 0;
	return ssi_download_feed(&f, o, err);
}
