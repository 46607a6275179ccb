/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The parts of the download engine (internal to download*.c): the
 * transfer loop (download_loop.c), one transfer's life (download.c), the
 * writer thread that writes and hashes what arrives (download_writer.c)
 * and the --limit-rate token bucket (download_rate.c).  The loop calls
 * the others, download.c calls the last two; none calls the loop.
 */
#ifndef SSTREAM_DOWNLOAD_INTERNAL_H
#define SSTREAM_DOWNLOAD_INTERNAL_H

#include <pthread.h>

#include "curl_internal.h"
#include "download.h"

enum { ST_QUEUED, ST_ACTIVE, ST_DONE };

enum { ABORT_NONE, ABORT_TOO_BIG, ABORT_WRITE, ABORT_BAD_RANGE };

struct engine;

struct xfer {
	struct ssi_dl *dl;
	struct engine *eng;
	int state;
	int paused;             /* held back by --limit-rate */
	int fd;
	struct ss_hasher *h;
	long long have;         /* bytes in the file (all hashed) */
	long long range_from;   /* what we asked for, or 0 */
	int url_idx;
	int tries;              /* transient failures on this URL */
	int restarts;           /* from-zero restarts after a bad hash */
	double not_before;
	int checked_status;
	int abort_why;          /* set by a callback that stopped the transfer */
	struct ssi_header hdr;  /* of the current response */
	CURL *easy;
	char ebuf[CURL_ERROR_SIZE];
	/* libcurl hands over at most 16 KiB at a time; writing that to the
	 * file each time costs more than the transfer itself */
	char *wbuf;
	size_t wlen;
	int pending;            /* buffers queued for the writer (under w.mu) */
	int direct;             /* the file is open O_DIRECT (see DIRECT_MIN) */
	int hash_in_loop;       /* hashed when handed over, not by the writer */
	int werr;               /* errno of a failed write by the writer (under w.mu) */
};

#define WBUF_SIZE ((size_t)1 << 20)

/*
 * A new file of at least DIRECT_MIN bytes is written O_DIRECT, from the
 * writer's full (aligned) buffers, and its last piece through the page
 * cache: an image is rarely read back soon, so its pages need not be
 * allocated, filled and flushed, which on the development VM costs from
 * 0.5 s to 4.3 s of CPU a GiB from one minute to the next, while its disk
 * takes the same GiB O_DIRECT in about 1.3 s of waiting (dd, bs=512K).
 * Only on a local disk's filesystem (ext4, XFS, btrfs: ssi_dlw_direct_fs);
 * where one refuses O_DIRECT the file is written as any other.
 */
#define DIRECT_MIN ((long long)8 << 20)
#define DIRECT_ALIGN 4096

/*
 * Writing and hashing run on a thread of their own, so that the transfers
 * (curl's multi loop, one thread) and sha256 (about 1.6 GB/s a core) use
 * two cores.  A transfer hands over its filled buffer and takes an empty
 * one; the writer takes buffers in order, so every file is written (and
 * hashed) sequentially.  Small files are written by the loop itself.  An
 * O_DIRECT file is hashed by the loop as it hands each buffer over: the
 * writer then mostly waits for the disk, and the hashing need not wait
 * with it (1 GiB tree: fetch 1.80 s against 2.16 s hashed by the writer).
 */
#define QLEN 64
struct job {
	struct xfer *x;
	char *buf;
	size_t len;
};

struct writer {
	pthread_t th;
	int started, stop;
	pthread_mutex_t mu;
	pthread_cond_t more, done;
	struct job q[QLEN];
	size_t head, n;
	char *spare[QLEN + 64];     /* empty buffers */
	size_t nspare, nbufs, maxbufs;
};

/*
 * --limit-rate is one token bucket for all transfers together: a transfer
 * that finds it empty is paused (libcurl keeps the data and stops reading
 * the socket) and resumed once it has refilled, so the total is capped
 * without giving each transfer a fixed share that a lone big file could
 * not use.
 */
struct ssi_rate {
	double rate;            /* bytes/s, 0: no cap */
	double tokens, burst;
	double refilled;        /* when tokens were last topped up */
};

/* The whole run's state. */
struct engine {
	struct ssi_rate bucket;
	int npaused;
	struct writer w;
};

/* ---- download.c: one transfer ---- */
/* Starts (or restarts) X; 1 when a transfer was added to M, 0 when X
 * ended at once (a local file, a complete partial file, a failure). */
int ssi_dlx_start(struct xfer *x, CURLM *m, const struct ssi_dl_opts *o);
/* Decides what a finished transfer means: done, retry later, next URL
 * or failed (X's state says which). */
void ssi_dlx_done(struct xfer *x, CURLcode c, const struct ssi_dl_opts *o);
/* Ends X with RESULT: its file closed, its buffers and hasher freed. */
void ssi_dlx_finish(struct xfer *x, int result);

/* ---- download_rate.c ---- */
void ssi_rate_init(struct ssi_rate *b, long long limit, double now);
void ssi_rate_refill(struct ssi_rate *b, double now);
/* 1 when LEN bytes may pass now (taken from the bucket); 0 when the
 * transfer must pause.  Always 1 without a cap. */
int ssi_rate_take(struct ssi_rate *b, size_t len);
/* 1 when the bucket has tokens (paused transfers may go on). */
int ssi_rate_ready(const struct ssi_rate *b);
/* When the bucket will have tokens again, as a ssi_now() time. */
double ssi_rate_ready_at(const struct ssi_rate *b, double now);

/* ---- download_writer.c ---- */
void ssi_dlw_init(struct writer *w, size_t maxbufs);
/* Stops the thread (after what is queued) and frees the spare buffers. */
void ssi_dlw_stop(struct writer *w);
/* An empty buffer (NULL when out of memory), and back. */
char *ssi_dlw_get_buf(struct writer *w);
void ssi_dlw_put_buf(struct writer *w, char *b);
/* Is FD's filesystem one whose O_DIRECT writes are worth it? */
int ssi_dlw_direct_fs(int fd);
/* X's file written O_DIRECT (ON) or through the page cache; 0 or an
 * errno (EINVAL: the filesystem refuses O_DIRECT). */
int ssi_dlw_direct(struct xfer *x, int on);
/* Writes LEN bytes of BUF to X's file here, and hashes them unless X is
 * hashed in the loop; 0 or an errno. */
int ssi_dlw_write_hash(struct xfer *x, const char *buf, size_t len);
/* Hands X's filled buffer to the writer and gives X an empty one; -1
 * (X's abort_why and errno set) when a write failed. */
int ssi_dlw_submit(struct xfer *x);
/* Waits until the writer has X's buffers on disk; -1 when a write failed. */
int ssi_dlw_drain(struct xfer *x);
/* Everything received so far is written and hashed when this returns 0. */
int ssi_dlw_flush(struct xfer *x);

#endif
