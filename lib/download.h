/* SPDX-License-Identifier: Apache-2.0 */
/* The parallel download engine (internal to the library). */
#ifndef SSTREAM_DOWNLOAD_H
#define SSTREAM_DOWNLOAD_H

#include "internal.h"

struct ssi_dl {
	/* in */
	const char *const *urls;     /* where to get it: the source, then fallbacks */
	int nurls;
	const char *path;            /* tree-relative path, for messages */
	const char *part;            /* the temporary file to fill */
	long long size;              /* expected size, or -1 */
	long long max_size;          /* without SIZE: the most it may have, 0: no cap */
	int kinds;                   /* SS_HASH_* to compute */
	const struct ss_item *item;  /* what to check the result against */
	/* out */
	int result;                  /* SS_OK, SS_FATAL, SS_TEMPFAIL, SS_INTEGRITY */
	struct ss_error err;
	long long bytes;             /* bytes received */
};

struct ssi_dl_opts {
	int jobs;                    /* parallel transfers */
	int retries;                 /* transient failures retried per URL */
	long timeout;                /* connect timeout and stall limit, seconds */
	long long limit_rate;        /* bytes/s for all transfers together, 0: none */
	double deadline;             /* ssi_now() time when everything stops, 0: none */
	const char *ca_file;
	/* BYTES received of about BYTES_TOTAL (the sizes given), DONE of TOTAL files */
	void (*progress)(void *ud, long long bytes, long long bytes_total, size_t done, size_t total);
	void *ud;
};

/*
 * Runs every transfer to its end.  Each DL's result says how it went; the
 * function itself fails only when it cannot start (SS_FATAL).
 */
int ssi_download_all(struct ssi_dl *dls, size_t n, const struct ssi_dl_opts *o,
		     struct ss_error *err);

#endif
