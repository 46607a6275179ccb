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
	size_t tag;                  /* the caller's, untouched */
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
 * The transfers of a run, handed to the engine one at a time: only those
 * running (or waiting to retry) take memory, however many there are.
 */
struct ssi_dl_feed {
	size_t total;                /* how many transfers NEXT gives */
	long long total_bytes;       /* the sum of their sizes, for progress */
	/* Fills DL (zeroed) with the next transfer: 0, or 1 when there is
	 * none left, or -1 when out of memory (no more are taken). */
	int (*next)(void *ud, struct ssi_dl *dl);
	/* DL ended (result, err, bytes set); the engine forgets it after. */
	void (*done)(void *ud, struct ssi_dl *dl);
	void *ud;
};

/*
 * Runs every transfer FEED gives to its end, each handed back to DONE.
 * Fails (SS_FATAL) only when it cannot start, or when NEXT ran out of
 * memory (the transfers taken still end through DONE).
 */
int ssi_download_feed(const struct ssi_dl_feed *feed, const struct ssi_dl_opts *o, struct ss_error *err);

/*
 * Runs every transfer to its end.  Each DL's result says how it went; the
 * function itself fails only when it cannot start (SS_FATAL).
 */
int ssi_download_all(struct ssi_dl *dls, size_t n, const struct ssi_dl_opts *o,
		     struct ss_error *err);

#endif
