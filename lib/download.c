/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parallel, resumable, verified downloads: one transfer of a mirror (the
 * loop that runs many is download_loop.c).
 * One curl multi handle drives up to JOBS transfers (HTTP/2 multiplexed
 * where the server offers it).  Each item is written to its own temporary
 * file while every hash the stream gives is computed on the fly, so a file
 * is read from the network once and never re-read.  A partial file from an
 * earlier run is continued with a Range request when the server answers
 * 206, and restarted from zero when it answers 200.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "download_internal.h"

static int restart_from_zero(struct xfer *x)
{
	ssi_dlw_drain(x); /* what is queued is thrown away anyway */
	x->have = 0;
	x->wlen = 0;
	if (ftruncate(x->fd, 0) < 0 || lseek(x->fd, 0, SEEK_SET) < 0)
		return -1;
	return ss_hasher_reset(x->h) == SS_OK ? 0 : -1;
}

/* What DL may hold: its size, else its cap; -1: no limit. */
static long long size_cap(const struct ssi_dl *dl)
{
	return dl->size >= 0 ? dl->size : dl->max_size > 0 ? dl->max_size : -1;
}

/* "'PATH': larger than ..." */
static int too_big(struct ssi_dl *dl)
{
	if (dl->size >= 0)
		return ssi_err(&dl->err, SS_INTEGRITY, "'%s': larger than the expected %lld bytes", dl->path, dl->size);
	return ssi_err(&dl->err, SS_FATAL, "'%s': larger than max_item_size (%lld bytes), and no size given",
		       dl->path, dl->max_size);
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
	long long cap = size_cap(x->dl);
	if (cap >= 0 && x->have + (long long)len > cap) {
		x->abort_why = ABORT_TOO_BIG;
		return 0;
	}
	struct engine *g = x->eng;
	if (x->easy && !ssi_rate_take(&g->bucket, len)) {
		x->paused = 1;
		g->npaused++;
		return CURL_WRITEFUNC_PAUSE;
	}
	/* the writer gets full buffers: whole blocks for O_DIRECT */
	for (size_t off = 0; off < len;) {
		size_t room = WBUF_SIZE - x->wlen, k = len - off < room ? len - off : room;
		memcpy(x->wbuf + x->wlen, ptr + off, k);
		x->wlen += k;
		off += k;
		if (x->wlen == WBUF_SIZE && ssi_dlw_submit(x) < 0)
			return 0;
	}
	x->have += (long long)len;
	x->dl->bytes += (long long)len;
	return len;
}

/* Opens the partial file and hashes what it already holds.  *FRESH when
 * this open created it: then it is empty and its offset 0, and neither
 * needs asking (a stat and two seeks a file, on a tree of small ones). */
static int open_part(struct xfer *x, int *fresh)
{
	struct ssi_dl *dl = x->dl;
	*fresh = 0;
	if (x->fd < 0) {
		/* never through a symlink planted in .sstream/tmp (O_EXCL
		 * does not follow one either: EEXIST, then O_NOFOLLOW refuses) */
		x->fd = open(dl->part, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		*fresh = x->fd >= 0;
		if (x->fd < 0 && errno == EEXIST)
			x->fd = open(dl->part, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (x->fd < 0)
			return ssi_err_sys(&dl->err, SS_FATAL, errno, "cannot write '%s'", dl->part);
	}
	/* a file read back (to be hashed), or continued at any offset,
	 * goes through the page cache; a big new one does not */
	int e = ssi_dlw_direct(x, 0);
	if (e)
		return ssi_err_sys(&dl->err, SS_FATAL, e, "cannot write '%s'", dl->part);
	if (*fresh && dl->size >= DIRECT_MIN && ssi_dlw_direct_fs(x->fd))
		ssi_dlw_direct(x, 1); /* refused: written as any other */
	x->hash_in_loop = x->direct;
	if (!x->h && !(x->h = ss_hasher_new(dl->kinds)))
		return ssi_err(&dl->err, SS_FATAL, "out of memory");
	if (!x->wbuf && !(x->wbuf = ssi_dlw_get_buf(&x->eng->w)))
		return ssi_err(&dl->err, SS_FATAL, "out of memory");
	x->wlen = 0;
	ss_hasher_reset(x->h);
	x->have = 0;
	if (*fresh)
		return SS_OK;
	struct stat st;
	if (fstat(x->fd, &st) < 0)
		return ssi_err_sys(&dl->err, SS_FATAL, errno, "cannot stat '%s'", dl->part);
	if (lseek(x->fd, 0, SEEK_SET) < 0)
		return ssi_err_sys(&dl->err, SS_FATAL, errno, "cannot seek '%s'", dl->part);
	if (st.st_size > 0 && (size_cap(dl) < 0 || st.st_size <= size_cap(dl))) {
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
		if (size_cap(dl) >= 0 && x->have + n > size_cap(dl)) {
			rc = too_big(dl);
			break;
		}
		x->easy = NULL;
		x->checked_status = 1;
		if (write_cb(buf, 1, (size_t)n, x) != (size_t)n)
			rc = ssi_err_sys(&dl->err, SS_FATAL, dl->err.sys_errno, "cannot write '%s'", dl->part);
	}
	free(buf);
	close(in);
	if (rc == SS_OK && ssi_dlw_flush(x) < 0)
		rc = ssi_err_sys(&dl->err, SS_FATAL, dl->err.sys_errno, "cannot write '%s'", dl->part);
	return rc;
}

void ssi_dlx_finish(struct xfer *x, int result)
{
	x->dl->result = result;
	x->state = ST_DONE;
	if (ssi_dlw_drain(x) < 0 && result == SS_OK)
		x->dl->result = ssi_err_sys(&x->dl->err, SS_FATAL, x->dl->err.sys_errno, "cannot write '%s'",
					    x->dl->part);
	ssi_dlw_put_buf(&x->eng->w, x->wbuf);
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
		ssi_dlx_finish(x, SS_OK);
		return;
	}
	/* A mismatch is retried once from zero, then the item fails. */
	if (x->restarts == 0 && restart_from_zero(x) == 0) {
		x->restarts = 1;
		*requeue = 1;
		return;
	}
	ssi_dlx_finish(x, rc);
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
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, ssi_curl_bufsize(x->dl->size));
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

int ssi_dlx_start(struct xfer *x, CURLM *m, const struct ssi_dl_opts *o)
{
	struct ssi_dl *dl = x->dl;
	int fresh;
	if (open_part(x, &fresh) != SS_OK) {
		ssi_dlx_finish(x, SS_FATAL);
		return 0;
	}
	const char *url = dl->urls[x->url_idx];
	if (!ss_is_url(url) || strncmp(url, "file://", 7) == 0) {
		int rc = copy_local(x, url);
		if (rc == SS_OK) {
			int requeue = 0;
			verify(x, &requeue);
			if (requeue) /* a local file reads the same twice */
				ssi_dlx_finish(x, SS_INTEGRITY);
		} else {
			ssi_dlx_finish(x, rc);
		}
		return 0;
	}
	if (dl->size >= 0 && x->have == dl->size) {
		int requeue = 0;
		verify(x, &requeue);
		if (!requeue)
			return 0;
		fresh = 0; /* (verify read it) */
	}
	x->easy = make_easy(x, o, url);
	if (!x->easy) {
		ssi_err(&dl->err, SS_FATAL, "out of memory");
		ssi_dlx_finish(x, SS_FATAL);
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
	if (!fresh && lseek(x->fd, x->have, SEEK_SET) < 0) {
		ssi_err_sys(&dl->err, SS_FATAL, errno, "cannot seek '%s'", dl->part);
		ssi_dlx_finish(x, SS_FATAL);
		return 0;
	}
	curl_multi_add_handle(m, x->easy);
	x->state = ST_ACTIVE;
	return 1;
}

void ssi_dlx_done(struct xfer *x, CURLcode c, const struct ssi_dl_opts *o)
{
	struct ssi_dl *dl = x->dl;
	long status = 0;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	const char *url = dl->urls[x->url_idx];
	int requeue = 0, next_url = 0, fail = SS_OK;
	/* What arrived goes to the file first: to be checked, or resumed. */
	if (x->abort_why == ABORT_NONE && ssi_dlw_flush(x) < 0)
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
		int code = too_big(dl);
		/* over the size given: retried once from zero; over the cap of
		 * an item without one: nothing says a retry would end */
		if (code == SS_INTEGRITY && x->restarts++ == 0 && restart_from_zero(x) == 0)
			requeue = 1;
		else
			fail = code;
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
		ssi_dlx_finish(x, fail == SS_OK ? SS_FATAL : fail);
}
