/*
 * Parallel, resumable, verified downloads: the item transfers of a mirror.
 * One curl multi handle drives up to JOBS transfers (HTTP/2 multiplexed
 * where the server offers it).  Each item is written to its own temporary
 * file while every hash the stream gives is computed on the fly, so a file
 * is read from the network once and never re-read.  A partial file from an
 * earlier run is continued with a Range request when the server answers
 * 206, and restarted from zero when it answers 200.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "curl_internal.h"
#include "download.h"

enum { ST_QUEUED, ST_ACTIVE, ST_DONE };

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
	int werr;               /* errno of a failed write by the writer (under w.mu) */
};

#define WBUF_SIZE ((size_t)1 << 20)

/*
 * The whole run's state.  --limit-rate is one token bucket for all
 * transfers together: a transfer that finds it empty is paused (libcurl
 * keeps the data and stops reading the socket) and resumed once it has
 * refilled, so the total is capped without giving each transfer a fixed
 * share that a lone big file could not use.
 */
/*
 * Writing and hashing run on a thread of their own, so that the transfers
 * (curl's multi loop, one thread) and sha256 (about 1.6 GB/s a core) use
 * two cores.  A transfer hands over its filled buffer and takes an empty
 * one; the writer takes buffers in order, so every file is written (and
 * hashed) sequentially.  Small files are written by the loop itself.
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

struct engine {
	double rate;            /* bytes/s, 0: no cap */
	double tokens, burst;
	double refilled;        /* when tokens were last topped up */
	int npaused;
	struct writer w;
};

static void refill(struct engine *g, double now)
{
	if (g->rate <= 0)
		return;
	g->tokens += (now - g->refilled) * g->rate;
	if (g->tokens > g->burst)
		g->tokens = g->burst;
	g->refilled = now;
}

enum { ABORT_NONE, ABORT_TOO_BIG, ABORT_WRITE, ABORT_BAD_RANGE };

/* Writes and hashes LEN bytes of BUF to X's file; 0 or an errno. */
static int write_hash(struct xfer *x, const char *buf, size_t len)
{
	const char *p = buf;
	size_t left = len;
	while (left) {
		ssize_t w = write(x->fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno;
		p += w;
		left -= (size_t)w;
	}
	ss_hasher_update(x->h, buf, len);
	return 0;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->n && !w->stop)
			pthread_cond_wait(&w->more, &w->mu);
		if (!w->n)
			break;
		struct job j = w->q[w->head];
		w->head = (w->head + 1) % QLEN;
		w->n--;
		int failed = j.x->werr;
		pthread_mutex_unlock(&w->mu);
		int e = failed ? 0 : write_hash(j.x, j.buf, j.len);
		pthread_mutex_lock(&w->mu);
		if (e)
			j.x->werr = e;
		w->spare[w->nspare++] = j.buf;
		j.x->pending--;
		pthread_cond_broadcast(&w->done);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* An empty buffer: a spare one, or a new one while under the cap. */
static char *get_buf(struct writer *w)
{
	char *b = NULL;
	pthread_mutex_lock(&w->mu);
	while (!w->nspare && w->nbufs >= w->maxbufs && w->n)
		pthread_cond_wait(&w->done, &w->mu);
	if (w->nspare)
		b = w->spare[--w->nspare];
	else if ((b = malloc(WBUF_SIZE)))
		w->nbufs++;
	pthread_mutex_unlock(&w->mu);
	return b;
}

static void put_buf(struct writer *w, char *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&w->mu);
	if (w->nspare < sizeof(w->spare) / sizeof(w->spare[0]))
		w->spare[w->nspare++] = b, b = NULL;
	else
		w->nbufs--;
	pthread_mutex_unlock(&w->mu);
	free(b);
}

static int write_failed(struct xfer *x, int e)
{
	x->dl->err.sys_errno = e;
	x->abort_why = ABORT_WRITE;
	return -1;
}

/* Hands X's filled buffer to the writer (or, when it cannot run, writes
 * it here) and gives X an empty one. */
static int submit(struct xfer *x)
{
	struct writer *w = &x->eng->w;
	if (!w->started && pthread_create(&w->th, NULL, writer_main, w) == 0)
		w->started = 1;
	if (!w->started) {
		int e = write_hash(x, x->wbuf, x->wlen);
		x->wlen = 0;
		return e ? write_failed(x, e) : 0;
	}
	pthread_mutex_lock(&w->mu);
	while (w->n == QLEN)
		pthread_cond_wait(&w->done, &w->mu);
	int e = x->werr;
	if (!e) {
		w->q[(w->head + w->n++) % QLEN] = (struct job){ x, x->wbuf, x->wlen };
		x->pending++;
		x->wbuf = NULL;
		pthread_cond_signal(&w->more);
	}
	pthread_mutex_unlock(&w->mu);
	if (e)
		return write_failed(x, e);
	x->wlen = 0;
	if (!(x->wbuf = get_buf(w)))
		return write_failed(x, ENOMEM);
	return 0;
}

/* Waits until the writer has X's buffers on disk; -1 when a write failed. */
static int drain(struct xfer *x)
{
	struct writer *w = &x->eng->w;
	pthread_mutex_lock(&w->mu);
	while (x->pending)
		pthread_cond_wait(&w->done, &w->mu);
	int e = x->werr;
	x->werr = 0;
	pthread_mutex_unlock(&w->mu);
	return e ? write_failed(x, e) : 0;
}

/* Everything received so far is written and hashed when this returns 0. */
static int flush_wbuf(struct xfer *x)
{
	/* a small last piece costs less written here than handed over */
	if (x->wlen > WBUF_SIZE / 4 && submit(x) < 0)
		return -1;
	if (drain(x) < 0)
		return -1;
	int e = x->wlen ? write_hash(x, x->wbuf, x->wlen) : 0;
	x->wlen = 0;
	return e ? write_failed(x, e) : 0;
}

static int restart_from_zero(struct xfer *x)
{
	drain(x); /* what is queued is thrown away anyway */
	x->have = 0;
	x->wlen = 0;
	if (ftruncate(x->fd, 0) < 0 || lseek(x->fd, 0, SEEK_SET) < 0)
		return -1;
	return ss_hasher_reset(x->h) == SS_OK ? 0 : -1;
}

static size_t header_cb(char *buf, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	ssi_parse_header(buf, size * n, &x->hdr);
	return size * n;
}

static size_t write_cb(char *ptr, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;
	if (!x->checked_status) {
		x->checked_status = 1;
		long status = 0;
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
		if (x->range_from > 0 && status == 200) {
			/* The server ignored Range: it sends the whole file. */
			if (restart_from_zero(x) < 0) {
				x->abort_why = ABORT_WRITE;
				return 0;
			}
		} else if (x->range_from > 0 && status == 206 && x->hdr.range_start != x->range_from) {
			x->abort_why = ABORT_BAD_RANGE;
			return 0;
		}
	}
	if (x->dl->size >= 0 && x->have + (long long)len > x->dl->size) {
		x->abort_why = ABORT_TOO_BIG;
		return 0;
	}
	struct engine *g = x->eng;
	if (x->easy && g->rate > 0) {
		if (g->tokens <= 0) {
			x->paused = 1;
			g->npaused++;
			return CURL_WRITEFUNC_PAUSE;
		}
		g->tokens -= (double)len;
	}
	/* libcurl hands over at most CURLOPT_BUFFERSIZE (< WBUF_SIZE) at a time */
	if (x->wlen + len > WBUF_SIZE && submit(x) < 0)
		return 0;
	memcpy(x->wbuf + x->wlen, ptr, len);
	x->wlen += len;
	x->have += (long long)len;
	x->dl->bytes += (long long)len;
	return len;
}

/* Opens the partial file and hashes what it already holds. */
static int open_part(struct xfer *x)
{
	struct ssi_dl *dl = x->dl;
	if (x->fd < 0) {
		/* never through a symlink planted in .sstream/tmp */
		x->fd = open(dl->part, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (x->fd < 0)
			return ssi_err_sys(&dl->err, SS_FATAL, errno, "cannot write '%s'", dl->part);
	}
	if (!x->h && !(x->h = ss_hasher_new(dl->kinds)))
		return ssi_err(&dl->err, SS_FATAL, "out of memory");
	if (!x->wbuf && !(x->wbuf = get_buf(&x->eng->w)))
		return ssi_err(&dl->err, SS_FATAL, "out of memory");
	x->wlen = 0;
	struct stat st;
	if (fstat(x->fd, &st) < 0)
		return ssi_err_sys(&dl->err, SS_FATAL, errno, "cannot stat '%s'", dl->part);
	ss_hasher_reset(x->h);
	x->have = 0;
	if (lseek(x->fd, 0, SEEK_SET) < 0)
		return ssi_err_sys(&dl->err, SS_FATAL, errno, "cannot seek '%s'", dl->part);
	if (st.st_size > 0 && (dl->size < 0 || st.st_size <= dl->size)) {
		if (ssi_hash_fd(x->fd, x->h, st.st_size, dl->part, &dl->err) != SS_OK)
			return SS_FATAL;
		x->have = st.st_size;
	} else if (st.st_size > 0 && restart_from_zero(x) < 0) {
		return ssi_err_sys(&dl->err, SS_FATAL, errno, "cannot truncate '%s'", dl->part);
	}
	return SS_OK;
}

/* Copies a local source file into the partial file (no resume needed). */
static int copy_local(struct xfer *x, const char *src)
{
	struct ssi_dl *dl = x->dl;
	if (restart_from_zero(x) < 0)
		return ssi_err_sys(&dl->err, SS_FATAL, errno, "cannot truncate '%s'", dl->part);
	const char *path = strncmp(src, "file://", 7) == 0 ? src + 7 : src;
	int in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return ssi_err_sys(&dl->err, SS_FATAL, errno, "cannot open '%s'", path);
	enum { BUFSZ = WBUF_SIZE / 2 };
	char *buf = malloc(BUFSZ);
	int rc = buf ? SS_OK : ssi_err(&dl->err, SS_FATAL, "out of memory");
	while (rc == SS_OK) {
		ssize_t n = read(in, buf, BUFSZ);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = ssi_err_sys(&dl->err, SS_FATAL, errno, "cannot read '%s'", path);
		if (n <= 0)
			break;
		if (dl->size >= 0 && x->have + n > dl->size) {
			rc = ssi_err(&dl->err, SS_INTEGRITY, "'%s': larger than the expected %lld bytes",
				     dl->path, dl->size);
			break;
		}
		x->easy = NULL;
		x->checked_status = 1;
		if (write_cb(buf, 1, (size_t)n, x) != (size_t)n)
			rc = ssi_err_sys(&dl->err, SS_FATAL, dl->err.sys_errno, "cannot write '%s'", dl->part);
	}
	free(buf);
	close(in);
	if (rc == SS_OK && flush_wbuf(x) < 0)
		rc = ssi_err_sys(&dl->err, SS_FATAL, dl->err.sys_errno, "cannot write '%s'", dl->part);
	return rc;
}

static void finish(struct xfer *x, int result)
{
	x->dl->result = result;
	x->state = ST_DONE;
	if (drain(x) < 0 && result == SS_OK)
		x->dl->result = ssi_err_sys(&x->dl->err, SS_FATAL, x->dl->err.sys_errno, "cannot write '%s'",
					    x->dl->part);
	put_buf(&x->eng->w, x->wbuf);
	x->wbuf = NULL;
	ss_hasher_free(x->h); /* a run may have 100 000 of them */
	x->h = NULL;
	/* No fsync here: the mirror syncs the whole filesystem once, before
	 * any document names the file, which costs far less than a wait per
	 * file.  close() still reports a failed delayed write. */
	if (x->fd >= 0) {
		if (close(x->fd) < 0 && result == SS_OK)
			x->dl->result = ssi_err_sys(&x->dl->err, SS_FATAL, errno, "cannot write '%s'", x->dl->part);
		x->fd = -1;
	}
}

/* The whole file is there: check size and every hash. */
static void verify(struct xfer *x, int *requeue)
{
	struct ss_digest d;
	ss_hasher_final(x->h, &d);
	ss_error_clear(&x->dl->err);
	int rc = ss_item_check(x->dl->item, &d, &x->dl->err);
	if (rc == SS_OK) {
		finish(x, SS_OK);
		return;
	}
	/* A mismatch is retried once from zero, then the item fails. */
	if (x->restarts == 0 && restart_from_zero(x) == 0) {
		x->restarts = 1;
		*requeue = 1;
		return;
	}
	finish(x, rc);
}

static CURL *make_easy(struct xfer *x, const struct ssi_dl_opts *o, const char *url)
{
	CURL *e = ssi_curl_easy(url, o->timeout, o->ca_file, x->ebuf);
	if (!e)
		return NULL;
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 512L * 1024);
	if (o->limit_rate > 0) {
		/* The stall limit must stay below what a transfer can get
		 * under the cap (paused transfers are not speed-checked). */
		long share = (long)(o->limit_rate / (4 * (o->jobs > 0 ? o->jobs : 4)));
		if (share < SSI_STALL_BYTES)
			curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, share > 0 ? share : 1L);
	}
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	return e;
}

/* Starts (or restarts) X.  Returns 1 when a transfer was added to M. */
static int start(struct xfer *x, CURLM *m, const struct ssi_dl_opts *o)
{
	struct ssi_dl *dl = x->dl;
	if (open_part(x) != SS_OK) {
		finish(x, SS_FATAL);
		return 0;
	}
	const char *url = dl->urls[x->url_idx];
	if (!ss_is_url(url) || strncmp(url, "file://", 7) == 0) {
		int rc = copy_local(x, url);
		if (rc == SS_OK) {
			int requeue = 0;
			verify(x, &requeue);
			if (requeue) /* a local file reads the same twice */
				finish(x, SS_INTEGRITY);
		} else {
			finish(x, rc);
		}
		return 0;
	}
	if (dl->size >= 0 && x->have == dl->size) {
		int requeue = 0;
		verify(x, &requeue);
		if (!requeue)
			return 0;
	}
	x->easy = make_easy(x, o, url);
	if (!x->easy) {
		ssi_err(&dl->err, SS_FATAL, "out of memory");
		finish(x, SS_FATAL);
		return 0;
	}
	char range[64];
	x->range_from = x->have;
	memset(&x->hdr, 0, sizeof(x->hdr));
	x->hdr.range_start = -1;
	x->checked_status = 0;
	x->abort_why = ABORT_NONE;
	x->ebuf[0] = '\0';
	if (x->have > 0) {
		snprintf(range, sizeof(range), "%lld-", x->have);
		curl_easy_setopt(x->easy, CURLOPT_RANGE, range);
	}
	if (lseek(x->fd, x->have, SEEK_SET) < 0) {
		ssi_err_sys(&dl->err, SS_FATAL, errno, "cannot seek '%s'", dl->part);
		finish(x, SS_FATAL);
		return 0;
	}
	curl_multi_add_handle(m, x->easy);
	x->state = ST_ACTIVE;
	return 1;
}

/* Decides what a finished transfer means: done, retry later, next URL or failed. */
static void on_done(struct xfer *x, CURLcode c, const struct ssi_dl_opts *o)
{
	struct ssi_dl *dl = x->dl;
	long status = 0;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	const char *url = dl->urls[x->url_idx];
	int requeue = 0, next_url = 0, fail = SS_OK;
	/* What arrived goes to the file first: to be checked, or resumed. */
	if (x->abort_why == ABORT_NONE && flush_wbuf(x) < 0)
		c = CURLE_WRITE_ERROR;
	if (c == CURLE_OK && status == 304) {
		ssi_err(&dl->err, SS_FATAL, "cannot fetch '%s': 304 Not Modified to an unconditional request",
			url);
		next_url = 1;
	} else if (c == CURLE_OK) {
		verify(x, &requeue);
		if (x->state == ST_DONE)
			return;
	} else if (x->abort_why == ABORT_TOO_BIG) {
		ssi_err(&dl->err, SS_INTEGRITY, "'%s': larger than the expected %lld bytes", dl->path, dl->size);
		if (x->restarts++ == 0 && restart_from_zero(x) == 0)
			requeue = 1;
		else
			fail = SS_INTEGRITY;
	} else if (x->abort_why == ABORT_WRITE) {
		ssi_err_sys(&dl->err, SS_FATAL, dl->err.sys_errno ? dl->err.sys_errno : EIO,
			    "cannot write '%s'", dl->part);
		fail = SS_FATAL;
	} else if (x->abort_why == ABORT_BAD_RANGE || status == 416) {
		/* The server's idea of the file differs from ours: start over. */
		if (restart_from_zero(x) == 0 && x->restarts++ == 0)
			requeue = 1;
		else
			fail = ssi_err(&dl->err, SS_TEMPFAIL, "cannot fetch '%s': bad range reply", url);
	} else if (c == CURLE_HTTP_RETURNED_ERROR && status < 500 && status != 429) {
		ssi_err(&dl->err, SS_FATAL, "cannot fetch '%s': HTTP %ld", url, status);
		dl->err.http_status = status;
		next_url = 1;
	} else if (c == CURLE_HTTP_RETURNED_ERROR || ssi_curl_transient(c)) {
		if (c == CURLE_HTTP_RETURNED_ERROR)
			ssi_err(&dl->err, SS_TEMPFAIL, "cannot fetch '%s': HTTP %ld", url, status);
		else
			ssi_err(&dl->err, SS_TEMPFAIL, "cannot fetch '%s': %s", url,
				x->ebuf[0] ? x->ebuf : curl_easy_strerror(c));
		dl->err.http_status = status;
		if (x->tries++ < o->retries) {
			/* back off (ssi_backoff_ms); the partial file stays */
			x->not_before = ssi_now() + ssi_backoff_ms(x->tries - 1) / 1000.0;
			requeue = 1;
		} else {
			next_url = 1;
		}
	} else {
		ssi_err(&dl->err, SS_FATAL, "cannot fetch '%s': %s", url,
			x->ebuf[0] ? x->ebuf : curl_easy_strerror(c));
		next_url = 1;
	}
	if (next_url) {
		if (x->url_idx + 1 < dl->nurls) {
			x->url_idx++;
			x->tries = 0;
			requeue = 1;
		} else {
			fail = dl->err.code;
		}
	}
	if (requeue && fail == SS_OK)
		x->state = ST_QUEUED;
	else
		finish(x, fail == SS_OK ? SS_FATAL : fail);
}

/* Every transfer still queued or running ends as a temporary failure:
 * the run's deadline passed.  Partial files stay for the next run. */
static void expire_all(struct xfer *xs, size_t n, CURLM *m, size_t *done)
{
	for (size_t i = 0; i < n; i++) {
		struct xfer *x = &xs[i];
		if (x->state == ST_DONE)
			continue;
		if (x->easy) {
			curl_multi_remove_handle(m, x->easy);
			curl_easy_cleanup(x->easy);
			x->easy = NULL;
			if (x->abort_why == ABORT_NONE)
				flush_wbuf(x);
		}
		ssi_err(&x->dl->err, SS_TEMPFAIL, "'%s': the run's time limit was reached", x->dl->path);
		finish(x, SS_TEMPFAIL);
		(*done)++;
	}
}

int ssi_download_all(struct ssi_dl *dls, size_t n, const struct ssi_dl_opts *o, struct ss_error *err)
{
	if (n == 0)
		return SS_OK;
	if (ssi_curl_init() != 0)
		return ssi_err(err, SS_FATAL, "libcurl initialisation failed");
	struct xfer *xs = calloc(n, sizeof(*xs));
	CURLM *m = curl_multi_init();
	if (!xs || !m) {
		free(xs);
		if (m)
			curl_multi_cleanup(m);
		return ssi_err(err, SS_FATAL, "out of memory");
	}
	int jobs = o->jobs > 0 ? o->jobs : 4;
	struct engine g = { .rate = (double)o->limit_rate, .refilled = ssi_now() };
	/* a tenth of a second's worth, and at least one libcurl buffer */
	g.burst = g.tokens = g.rate / 10 > 65536 ? g.rate / 10 : 65536;
	pthread_mutex_init(&g.w.mu, NULL);
	pthread_cond_init(&g.w.more, NULL);
	pthread_cond_init(&g.w.done, NULL);
	g.w.maxbufs = (size_t)jobs + 4;
	curl_multi_setopt(m, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)jobs);
	curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)jobs);
	long long total_bytes = 0;
	for (size_t i = 0; i < n; i++) {
		xs[i].dl = &dls[i];
		xs[i].eng = &g;
		xs[i].fd = -1;
		xs[i].state = ST_QUEUED;
		dls[i].result = SS_OK;
		ss_error_clear(&dls[i].err);
		total_bytes += dls[i].size > 0 ? dls[i].size : 0;
	}
	size_t done = 0, first = 0; /* everything before FIRST is done */
	int active = 0;
	double last_progress = 0;
	while (done < n) {
		double t = ssi_now();
		if (o->deadline > 0 && t >= o->deadline) {
			expire_all(xs, n, m, &done);
			break;
		}
		/* Paused transfers go on as soon as the bucket has tokens. */
		refill(&g, t);
		for (size_t k = first; g.npaused && g.tokens > 0 && k < n; k++) {
			if (xs[k].paused) {
				xs[k].paused = 0;
				g.npaused--;
				curl_easy_pause(xs[k].easy, CURLPAUSE_CONT);
			}
		}
		/* Fill free slots with queued transfers whose wait is over;
		 * SOONEST is when the next waiting one may start (0: none waits). */
		double soonest = 0;
		for (size_t k = first; k < n && active < jobs; k++) {
			struct xfer *x = &xs[k];
			if (k == first && x->state == ST_DONE)
				first++;
			if (x->state != ST_QUEUED)
				continue;
			if (x->not_before > t) {
				if (soonest == 0 || x->not_before < soonest)
					soonest = x->not_before;
				continue;
			}
			if (start(x, m, o))
				active++;
			else if (x->state == ST_DONE)
				done++;
		}
		if (done >= n)
			break;
		int finished = 0;
		if (active > 0) {
			int running = 0;
			curl_multi_perform(m, &running);
			CURLMsg *msg;
			int left;
			while ((msg = curl_multi_info_read(m, &left))) {
				if (msg->msg != CURLMSG_DONE)
					continue;
				struct xfer *x;
				curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
				CURLcode c = msg->data.result;
				curl_multi_remove_handle(m, msg->easy_handle);
				active--;
				finished++;
				if (x->paused) {
					x->paused = 0;
					g.npaused--;
				}
				on_done(x, c, o);
				curl_easy_cleanup(x->easy);
				x->easy = NULL;
				if (x->state == ST_DONE)
					done++;
			}
		}
		t = ssi_now();
		if (o->progress && (t - last_progress >= 0.25 || done >= n)) {
			long long bytes = 0;
			for (size_t i = 0; i < n; i++)
				bytes += dls[i].bytes;
			o->progress(o->ud, bytes, total_bytes, done, n);
			last_progress = t;
		}
		if (done >= n)
			break;
		/* A slot came free: start the next transfer now, not after a wait. */
		if (finished)
			continue;
		/* Wait for the sockets, the next retry, a refill or the deadline. */
		double until = t + 1;
		if (soonest > 0 && soonest < until)
			until = soonest;
		if (g.npaused) {
			double refill_at = t + (g.tokens < 0 ? -g.tokens : 0) / g.rate + 0.001;
			if (refill_at < until)
				until = refill_at;
		}
		if (o->deadline > 0 && o->deadline < until)
			until = o->deadline;
		int wait_ms = (int)((until - t) * 1000) + 1;
		if (active > 0) {
			curl_multi_poll(m, NULL, 0, wait_ms, NULL);
		} else if (wait_ms > 0) {
			ssi_sleep_ms((unsigned)wait_ms);
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (xs[i].easy) {
			curl_multi_remove_handle(m, xs[i].easy);
			curl_easy_cleanup(xs[i].easy);
		}
		drain(&xs[i]);
	}
	if (g.w.started) {
		pthread_mutex_lock(&g.w.mu);
		g.w.stop = 1;
		pthread_cond_signal(&g.w.more);
		pthread_mutex_unlock(&g.w.mu);
		pthread_join(g.w.th, NULL);
	}
	for (size_t i = 0; i < n; i++) {
		if (xs[i].fd >= 0)
			close(xs[i].fd);
		ss_hasher_free(xs[i].h);
		free(xs[i].wbuf);
	}
	for (size_t i = 0; i < g.w.nspare; i++)
		free(g.w.spare[i]);
	pthread_mutex_destroy(&g.w.mu);
	pthread_cond_destroy(&g.w.more);
	pthread_cond_destroy(&g.w.done);
	curl_multi_cleanup(m);
	free(xs);
	return SS_OK;
}
