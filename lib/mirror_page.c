/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mirror's catalogue page, TARGET/index.html: after a run that read
 * the source, from the items its documents list (nothing is read back);
 * after a run the source answered "not modified", only the status block
 * (when, the result, what waits out its grace period) changes in the page
 * there is - the tree is not read at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "catalogue_internal.h"
#include "mirror_internal.h"

#define UTC_FORMAT "%Y-%m-%d %H:%M:%S UTC"
/* The most items whose page is rendered ahead: about 16 MiB of page,
 * held from the documents to the page's write. */
#define AHEAD_MAX 50000

/* The files waiting out their grace period and when each goes, into
 * *W; the times' text in *WHEN.  -1 when out of memory. */
static int waiting(struct run *r, struct ss_catalogue_wait **w, char (**when)[32])
{
	size_t n = r->prune.pend.n;
	*w = calloc(n + 1, sizeof(**w));
	*when = calloc(n + 1, sizeof(**when));
	if (!*w || !*when)
		return -1;
	for (size_t i = 0; i < n; i++) {
		time_t t = (time_t)(r->prune.pend.v[i].since + r->o->grace);
		struct tm tm;
		strftime((*when)[i], sizeof((*when)[i]), UTC_FORMAT, gmtime_r(&t, &tm));
		(*w)[i].path = r->prune.pend.v[i].path;
		(*w)[i].until = (*when)[i];
	}
	return 0;
}

/* 1 when TARGET/index.html was written after every document the state
 * names (a page older than one was left by a run that did not write it,
 * --no-html say: its products may be stale). */
static int page_fresh(struct run *r)
{
	char *page = ssm_tpath(r, "index.html");
	struct stat ps, ds;
	int fresh = page && stat(page, &ps) == 0 && r->old_meta.n > 0;
	free(page);
	for (size_t i = 0; fresh && i < r->old_meta.n; i++) {
		char *doc = ssm_tpath(r, r->old_meta.v[i]);
		fresh = doc && stat(doc, &ds) == 0 &&
			(ps.st_mtim.tv_sec > ds.st_mtim.tv_sec ||
			 (ps.st_mtim.tv_sec == ds.st_mtim.tv_sec && ps.st_mtim.tv_nsec >= ds.st_mtim.tv_nsec));
		free(doc);
	}
	return fresh;
}

/* The page with status S: the status block only when nothing changed and
 * the page there is up to date, else from the run's items (or the tree,
 * should the list be missing). */
static int write_page(struct run *r, const struct ss_catalogue_opts *co, struct ss_error *e)
{
	int changed = 0, rc = SS_PARTIAL;
	const char *target = r->o->target;
	if (r->unchanged && page_fresh(r))
		rc = ssi_catalogue_status_update(target, co->status, &changed, e);
	if (rc != SS_PARTIAL)
		return rc;
	if (r->unchanged || !r->docs.listed)
		return ss_catalogue_write(target, co, NULL, e);
	if (r->docs.page)
		return ssi_catalogue_write_rendered(target, r->docs.page, r->docs.page_len, co->status, &changed, e);
	return ssi_catalogue_write_items(target, r->docs.listed, r->docs.nlisted, co, NULL, e);
}

int ssm_page(struct run *r, int rc)
{
	const struct ss_mirror_opts *o = r->o;
	if (!o->catalogue || o->dry_run || (rc != SS_OK && rc != SS_PARTIAL))
		return rc;
	struct ss_catalogue_status st = { 0 };
	if (o->catalogue->status)
		st = *o->catalogue->status;
	struct ss_catalogue_opts co = *o->catalogue;
	co.status = &st;
	char when[40], result[128];
	time_t now = time(NULL);
	struct tm tm;
	strftime(when, sizeof(when), UTC_FORMAT, gmtime_r(&now, &tm));
	snprintf(result, sizeof(result), "%s: %zu added, %zu removed, %zu failed", rc == SS_OK ? "ok" : "partial",
		 r->st->added, r->st->removed, r->st->failed);
	st.last_run = when;
	st.result = result;
	st.items = (long long)r->st->items;
	st.bytes = -1;
	struct ss_catalogue_wait *w = NULL;
	char(*until)[32] = NULL;
	struct ss_error e;
	ss_error_clear(&e);
	int prc = waiting(r, &w, &until) < 0 ? ssi_err(&e, SS_FATAL, "catalogue: out of memory") : SS_OK;
	st.waiting = w;
	st.nwaiting = r->prune.pend.n;
	if (prc == SS_OK)
		prc = write_page(r, &co, &e);
	free(w);
	free(until);
	if (prc == SS_OK)
		return rc;
	ssm_event(r, SS_EV_WARN, NULL, -1, e.msg);
	if (rc == SS_OK)
		rc = ssi_err(r->err, SS_PARTIAL, "the tree is complete, but its catalogue page was not written");
	return rc;
}

void ssm_page_render(struct run *r)
{
	const struct ss_mirror_opts *o = r->o;
	if (!o->catalogue || o->dry_run || !r->docs.listed || r->docs.nlisted > AHEAD_MAX)
		return;
	/* any status: ssm_page writes the run's in its place */
	struct ss_catalogue_status st = { 0 };
	struct ss_catalogue_opts co = *o->catalogue;
	co.status = &st;
	struct ss_error e;
	ss_error_clear(&e);
	/* (not rendered: it is when written, and says why then) */
	r->docs.page = ssi_catalogue_render_items(o->target, r->docs.listed, r->docs.nlisted, &co,
						  &r->docs.page_len, &e);
}

void ssm_page_unlist(struct run *r)
{
	free(r->docs.listed);
	r->docs.listed = NULL;
	r->docs.nlisted = 0;
	free(r->docs.page);
	r->docs.page = NULL;
}
