/* SPDX-License-Identifier: Apache-2.0 */
/* sstream-mirror's parts: printing events, the S3 target, the JSON report. */
#ifndef SSTREAM_MIRROR_TOOL_H
#define SSTREAM_MIRROR_TOOL_H

#include "sstream.h"

struct ui {
	int verbose, quiet, tty;
	int progress;           /* --progress: progress lines even off a terminal */
	double t0, last;        /* progress: start, last line printed */
	size_t last_done;       /* progress: files finished at the last line */
	int nfail;
	char **fails;
};

/* Event callbacks (UD is a struct ui): a run, a dry run's plan, and the
 * same for the bucket of an S3 target. */
void mirror_on_event(void *ud, const struct ss_mirror_event *ev);
void mirror_on_plan(void *ud, const struct ss_mirror_event *ev);
void mirror_on_s3_event(void *ud, const struct ss_mirror_event *ev);
void mirror_on_s3_plan(void *ud, const struct ss_mirror_event *ev);
void mirror_ui_free(struct ui *u);

/*
 * A mirror into S3 (see s3.c).  O is not changed: the staging run uses a
 * copy.  Returns the exit code; ERR holds the message.
 */
int mirror_s3(const struct ss_mirror_opts *o, struct ss_s3_opts *so, const char *state_dir,
	      struct ss_mirror_stats *st, struct ss_s3_stats *s3st, struct ss_error *err);

/* What --report FILE records of a run. */
struct mirror_report {
	int rc, dry_run, s3;
	const struct ss_mirror_stats *st;
	const struct ss_s3_stats *s3st;
	const struct ui *u;
	const char *error;      /* the message when rc != 0 */
};

/* Writes R to FILE as JSON, atomically.  Returns 0, or -1 with ERR. */
int mirror_report_write(const char *file, const struct mirror_report *r, struct ss_error *err);

#endif
