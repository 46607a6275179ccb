/* SPDX-License-Identifier: Apache-2.0 */
/* sstream-mirror's output: event lines, progress, the dry-run plan. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mirror.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* On a terminal, one line redrawn in place (files, bytes of total, rate,
 * time left); elsewhere, with --progress or -v, lines; else nothing. */
static void progress_line(struct ui *u, const struct ss_mirror_event *ev)
{
	if (u->quiet || (!u->tty && !u->verbose && !u->progress))
		return;
	double t = now();
	if (!u->t0)
		u->t0 = t;
	/* off a terminal: with --progress a line per finished file (or
	 * second), with -v one every 10 s */
	if (!u->tty && ev->done < ev->total &&
	    (u->progress ? ev->done == u->last_done && t - u->last < 1 : t - u->last < 10))
		return;
	u->last = t;
	u->last_done = ev->done;
	double mib = (double)ev->bytes / 1048576.0, total = (double)ev->bytes_total / 1048576.0;
	double rate = t > u->t0 ? mib / (t - u->t0) : 0;
	char eta[32] = "--:--";
	if (rate > 0 && total > mib) {
		long s = (long)((total - mib) / rate);
		snprintf(eta, sizeof(eta), "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
	}
	fprintf(stderr, "%s%zu/%zu files  %.1f/%.1f MiB  %.1f MiB/s  ETA %s%s", u->tty ? "\r" : "",
		ev->done, ev->total, mib, total, rate, eta, u->tty ? "\033[K" : "\n");
}

void mirror_on_event(void *ud, const struct ss_mirror_event *ev)
{
	struct ui *u = ud;
	switch (ev->type) {
	case SS_EV_ADD:
		if (u->verbose)
			printf("+ %s (%lld bytes)\n", ev->path, ev->size);
		break;
	case SS_EV_REUSE:
		if (u->verbose)
			printf("= %s (from %s)\n", ev->path, ev->msg);
		break;
	case SS_EV_REMOVE:
		if (u->verbose)
			printf("- %s\n", ev->path);
		break;
	case SS_EV_FAIL: {
		fprintf(stderr, "sstream-mirror: FAIL %s: %s\n", ev->path ? ev->path : "", ev->msg);
		char **nf = realloc(u->fails, (size_t)(u->nfail + 1) * sizeof(*nf));
		if (nf) {
			u->fails = nf;
			size_t n = strlen(ev->path ? ev->path : "") + strlen(ev->msg) + 3;
			if ((nf[u->nfail] = malloc(n)))
				snprintf(nf[u->nfail++], n, "%s: %s", ev->path ? ev->path : "", ev->msg);
		}
		break;
	}
	case SS_EV_WARN:
		if (!u->quiet)
			fprintf(stderr, "sstream-mirror: warning: %s\n", ev->msg);
		break;
	case SS_EV_PROGRESS:
		progress_line(u, ev);
		break;
	}
}

static void s3_warn(const struct ss_mirror_event *ev)
{
	fprintf(stderr, "sstream-mirror: warning: %s%s%s\n", ev->path ? ev->path : "", ev->path ? ": " : "",
		ev->msg);
}

/* What happens in the bucket. */
void mirror_on_s3_event(void *ud, const struct ss_mirror_event *ev)
{
	struct ui *u = ud;
	if (ev->type == SS_EV_ADD && u->verbose)
		printf("> %s (%lld bytes)\n", ev->path, ev->size);
	else if (ev->type == SS_EV_REMOVE && u->verbose)
		printf("x %s\n", ev->path);
	else if (ev->type == SS_EV_WARN && !u->quiet)
		s3_warn(ev);
}

void mirror_on_s3_plan(void *ud, const struct ss_mirror_event *ev)
{
	(void)ud;
	if (ev->type == SS_EV_ADD)
		printf("put    %12lld  %s\n", ev->size, ev->path);
	else if (ev->type == SS_EV_REMOVE)
		printf("delete %12lld  %s\n", ev->size, ev->path);
	else if (ev->type == SS_EV_WARN)
		s3_warn(ev);
}

/* The dry-run plan: each added and removed item with its size, and totals. */
void mirror_on_plan(void *ud, const struct ss_mirror_event *ev)
{
	(void)ud;
	if (ev->type == SS_EV_ADD)
		printf("add    %12lld  %s\n", ev->size, ev->path);
	else if (ev->type == SS_EV_REUSE)
		printf("reuse  %12lld  %s (from %s)\n", ev->size, ev->path, ev->msg);
	else if (ev->type == SS_EV_REMOVE)
		printf("remove %12lld  %s\n", ev->size, ev->path);
	else if (ev->type == SS_EV_WARN || ev->type == SS_EV_FAIL)
		fprintf(stderr, "sstream-mirror: %s%s%s\n", ev->path ? ev->path : "", ev->path ? ": " : "",
			ev->msg);
}

void mirror_ui_free(struct ui *u)
{
	for (int i = 0; i < u->nfail; i++)
		free(u->fails[i]);
	free(u->fails);
	u->fails = NULL;
	u->nfail = 0;
}
