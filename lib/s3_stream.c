/* SPDX-License-Identifier: Apache-2.0 */
/*
 * S3 object storage: an item straight from its source URL into the
 * bucket, with no local copy (issue 20.1).  One GET per item; its bytes
 * are hashed (every hash the item gives) as they come.
 *
 * An item up to the part size whose stream gives its sha256 is one PUT
 * fed by the GET as the bytes come (piped: the GET and the PUT side by
 * side on one multi handle, through a ring of at most 4 MiB): the PUT
 * carries that sha256 as x-amz-content-sha256 and the size as
 * Content-Length, so the store refuses other bytes, and it gets the
 * item's last byte only once the whole body matched the size and every
 * hash; else it is aborted and the store, short of bytes, stores
 * nothing.  That sha256 the store checks is not computed here too: a
 * wrong body is refused by the PUT (XAmzContentSHA256Mismatch: an
 * integrity failure, nothing stored).  A GET or PUT that fails for a
 * while is tried again from the first byte.  An item whose stream gives
 * no sha256 fills a buffer first, is hashed, and goes up from it.
 *
 * A larger item is a multipart upload: each full buffer (the part size)
 * goes up as a part (each part signed with its own sha256) while the GET
 * waits; the last part goes, and the upload is completed, only when the
 * whole body matched the size and every hash; else the upload is aborted
 * and nothing is stored.  A GET that breaks off is resumed (Range) from
 * where it stopped, so the parts already put stay.
 *
 * Memory: one buffer per upload worker, so at most -j x part size; the
 * worker keeps it from item to item (a fresh one per item faulted its
 * pages in again: 15 000 page faults per GiB piped, now 11 000).  Sits
 * on the request client and the multipart steps (s3_multipart.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3_client.h"

/* The ring of a piped PUT, and the room a paused GET needs to go on. */
#define PIPE_CAP (4u << 20)
#define PIPE_CHUNK (512u << 10)

/* One item's transfer. */
struct stream {
	struct ss_s3 *s;
	const char *key, *url, *what;
	long long size, got;
	char *buf;
	size_t blen, bcap;
	struct ss_hasher *whole, *part;
	char *id, *eid;      /* the multipart upload, once started */
	char *etag;          /* the object's, once put (SSI_S3_ETAG bytes) */
	char (*etags)[80];
	size_t nparts, done;
	int rc;              /* a failure inside the write callback */
	struct ss_error err;
	/* the GET in flight: resumed from byte FROM after a failure */
	CURL *h;
	long long from, skip;
	int first;
	struct ssi_header hdr;
	char ebuf[CURL_ERROR_SIZE];
	/* piped (a single PUT fed as the GET comes): BUF is a ring of BCAP
	 * bytes, BLEN of them from RHEAD not yet handed to the PUT, SENT
	 * handed; the last byte only once the whole body matched */
	int pipe, verified, failed, get_paused, put_paused;
	size_t rhead;
	long long sent;
};

/* Puts the buffer as the next part (starting the upload first). */
static int put_part(struct stream *st, struct ss_error *err)
{
	struct ss_s3 *s = st->s;
	if (ssi_s3_past_deadline(s))
		return ssi_err(err, SS_TEMPFAIL, "cannot %s: the run's time limit (--max-time) is up", st->what);
	if (!st->id) {
		int rc = ssi_s3_mp_initiate(s, st->key, st->what, &st->id, err);
		if (rc != SS_OK)
			return rc;
		if (!(st->eid = ssi_s3_uri_encode(st->id, 0)))
			return ssi_err(err, SS_FATAL, "cannot %s: out of memory", st->what);
	}
	if (st->done >= st->nparts)
		return ssi_err(err, SS_INTEGRITY, "cannot %s: '%s' is longer than its size", st->what, st->url);
	struct ss_digest d;
	ss_hasher_final(st->part, &d);
	ss_hasher_reset(st->part);
	char q[512], pwhat[600];
	snprintf(q, sizeof(q), "partNumber=%zu&uploadId=%s", st->done + 1, st->eid);
	snprintf(pwhat, sizeof(pwhat), "%s (part %zu of %zu)", st->what, st->done + 1, st->nparts);
	struct ssi_s3_req pr = { .method = "PUT", .key = st->key, .query = q, .sha256 = d.sha256,
				 .buf = st->buf, .len = (long long)st->blen };
	int rc = ssi_s3_perform(s, &pr, NULL, pwhat, err);
	if (rc == SS_OK && !pr.etag[0])
		rc = ssi_err(err, SS_FATAL, "cannot %s: no ETag", pwhat);
	if (rc == SS_OK)
		snprintf(st->etags[st->done++], sizeof(st->etags[0]), "%s", pr.etag);
	ssi_s3_req_done(&pr);
	st->blen = 0;
	return rc;
}

/* N bytes at PTR into the ring (room checked). */
static void ring_put(struct stream *st, const char *ptr, size_t n)
{
	size_t at = (st->rhead + st->blen) % st->bcap, k = st->bcap - at < n ? st->bcap - at : n;
	memcpy(st->buf + at, ptr, k);
	memcpy(st->buf, ptr + k, n - k);
	st->blen += n;
}

/* N bytes (at most BLEN) from the ring to DST. */
static void ring_take(struct stream *st, char *dst, size_t n)
{
	size_t k = st->bcap - st->rhead < n ? st->bcap - st->rhead : n;
	memcpy(dst, st->buf + st->rhead, k);
	memcpy(dst + k, st->buf, n - k);
	st->rhead = (st->rhead + n) % st->bcap;
	st->blen -= n;
}

/* The GET's body: into the buffer, through the hashers; a full buffer of
 * a multipart item goes up as a part. */
static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct stream *st = ud;
	size_t n = size * nmemb;
	if (st->first) {
		st->first = 0;
		long status = 0;
		curl_easy_getinfo(st->h, CURLINFO_RESPONSE_CODE, &status);
		if (st->from > 0 && status == 200) {
			st->skip = st->from; /* Range ignored: the whole body again */
		} else if (st->from > 0 && st->hdr.range_start != st->from) {
			st->rc = ssi_err(&st->err, SS_FATAL, "cannot fetch '%s': asked for bytes from %lld, sent others",
					 st->url, st->from);
			return 0;
		}
	}
	if (st->skip) {
		size_t k = st->skip < (long long)n ? (size_t)st->skip : n;
		st->skip -= (long long)k;
		ptr += k;
		n -= k;
	}
	if (st->got + (long long)n > st->size) {
		st->rc = ssi_err(&st->err, SS_INTEGRITY, "cannot %s: '%s' is longer than its size (%lld bytes)",
				 st->what, st->url, st->size);
		return 0;
	}
	if (st->pipe && n > st->bcap - st->blen) {
		if (!st->blen) {
			st->rc = ssi_err(&st->err, SS_FATAL, "cannot %s: a read larger than the buffer", st->what);
			return 0;
		}
		st->get_paused = 1; /* the ring is full: the PUT drains it first */
		return CURL_WRITEFUNC_PAUSE;
	}
	st->got += (long long)n;
	ss_hasher_update(st->whole, ptr, n);
	if (st->pipe) {
		ring_put(st, ptr, n);
		return size * nmemb;
	}
	while (n) {
		if (st->blen == st->bcap && (st->rc = put_part(st, &st->err)) != SS_OK)
			return 0;
		size_t k = st->bcap - st->blen < n ? st->bcap - st->blen : n;
		memcpy(st->buf + st->blen, ptr, k);
		if (st->part)
			ss_hasher_update(st->part, ptr, k);
		st->blen += k;
		ptr += k;
		n -= k;
	}
	return size * nmemb;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	ssi_parse_header(ptr, size * nmemb, &((struct stream *)ud)->hdr);
	return size * nmemb;
}

/* The GET of the item from its source, from where an earlier one that
 * failed stopped (the parts already put stay): its easy handle, in
 * ST->h. */
static int get_begin(struct stream *st, struct ss_error *err)
{
	const struct ss_s3_opts *o = st->s->o;
	if (ssi_curl_init() != 0)
		return ssi_err(err, SS_FATAL, "cannot fetch '%s': libcurl initialisation failed", st->url);
	CURL *h = ssi_curl_easy(st->url, o->timeout, o->ca_file, st->ebuf);
	if (!h)
		return ssi_err(err, SS_FATAL, "cannot fetch '%s': out of memory", st->url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, st);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, st);
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	ssi_s3_share_conns(st->s, h); /* one connection to the source per worker */
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, ssi_curl_bufsize(st->size - st->got));
	st->h = h;
	st->from = st->got;
	st->first = 1;
	st->skip = 0;
	st->hdr = (struct ssi_header){ .range_start = -1 };
	if (st->from > 0)
		curl_easy_setopt(h, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)st->from);
	if (o->deadline) {
		long left = (long)(o->deadline - time(NULL));
		curl_easy_setopt(h, CURLOPT_TIMEOUT, left > 1 ? left : 1L);
	}
	return SS_OK;
}

/* The end of the GET in ST->h, which ended with C. */
static int get_end(struct stream *st, CURLcode c, struct ss_error *err)
{
	long status = 0;
	curl_easy_getinfo(st->h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(st->h);
	st->h = NULL;
	if (err)
		err->http_status = status;
	if (st->rc != SS_OK) {
		if (err)
			*err = st->err;
		return st->rc;
	}
	if (c == CURLE_HTTP_RETURNED_ERROR && status == 416 && st->from > 0 && st->from == st->size)
		return SS_OK; /* all of it had come: nothing after it */
	if (c == CURLE_HTTP_RETURNED_ERROR)
		return ssi_err(err, status >= 500 || status == 429 ? SS_TEMPFAIL : SS_FATAL,
			       "cannot fetch '%s': HTTP %ld", st->url, status);
	if (c != CURLE_OK)
		return ssi_err(err, ssi_curl_transient(c) ? SS_TEMPFAIL : SS_FATAL, "cannot fetch '%s': %s",
			       st->url, st->ebuf[0] ? st->ebuf : curl_easy_strerror(c));
	return SS_OK;
}

static int get_source(struct stream *st, struct ss_error *err)
{
	int rc = get_begin(st, err);
	return rc == SS_OK ? get_end(st, curl_easy_perform(st->h), err) : rc;
}

/* The GET, resumed after temporary failures (not after a failure of
 * ours: a part that could not be put, bytes that do not fit). */
static int get_resumed(struct stream *st, struct ss_error *err)
{
	for (int tries = 0;; tries++) {
		int rc = get_source(st, err);
		if (rc != SS_TEMPFAIL || st->rc != SS_OK || tries >= st->s->o->retries ||
		    ssi_s3_past_deadline(st->s))
			return rc;
		ssi_sleep_ms(ssi_backoff_ms(tries));
	}
}

/* The whole body against the item: its size and every hash it gives. */
static int check_body(struct stream *st, const struct ss_item *it, char *sha256,
		      struct ss_error *err)
{
	struct ss_digest d;
	ss_hasher_final(st->whole, &d);
	if (!(d.kinds & SS_HASH_SHA256)) {
		/* the store checks it on the PUT (own_kinds) */
		memcpy(d.sha256, sha256, 65);
		d.kinds |= SS_HASH_SHA256;
	}
	if (d.size != st->size)
		return ssi_err(err, SS_INTEGRITY, "cannot %s: '%s' is %lld bytes, expected %lld", st->what,
			       st->url, d.size, st->size);
	if (!sha256[0])
		memcpy(sha256, d.sha256, 65); /* the stream gives none: the body's */
	else if (strcmp(d.sha256, sha256) != 0)
		return ssi_err(err, SS_INTEGRITY, "cannot %s: '%s' has sha256 %s, expected %s", st->what,
			       st->url, d.sha256, sha256);
	return ss_item_check(it, &d, err);
}

/* The single PUT of a whole body that matched. */
static int put_whole(struct stream *st, const char *sha256, struct ss_error *err)
{
	char ct[128], cc[128], acl[128];
	struct ssi_s3_req r = { .method = "PUT", .key = st->key, .sha256 = sha256, .buf = st->buf,
				.len = (long long)st->blen };
	ssi_s3_put_headers(st->s, &r, ct, cc, acl, sizeof(ct), "application/octet-stream", CC_ITEMS);
	int rc = ssi_s3_perform(st->s, &r, NULL, st->what, err);
	if (rc != SS_OK && strcmp(r.code, "XAmzContentSHA256Mismatch") == 0)
		rc = ssi_err(err, SS_INTEGRITY, "cannot %s: '%s' does not have sha256 %s (the store refused it)",
			     st->what, st->url, sha256);
	if (rc == SS_OK)
		ssi_s3_etag_set(st->etag, r.etag, r.etag + strlen(r.etag));
	ssi_s3_req_done(&r);
	return rc;
}

/* The hashes computed here: every one the item gives, and the sha256
 * (signing each part, or filling an empty SHA256) except for a single PUT
 * with the item's sha256, which the store checks itself. */
static int own_kinds(const struct ss_item *it, const char *sha256, int multipart)
{
	int k = ss_item_hash_kinds(it) | SS_HASH_SHA256;
	if (!multipart && sha256[0])
		k &= ~SS_HASH_SHA256;
	return k;
}

/* ---- Piped: a single PUT fed by the GET as its bytes come ---------------- */

/* The bytes the PUT may take now, at most N: never the item's last byte
 * before the whole body matched (the store cannot complete the object
 * before).  Whatever has come goes on at once: a PUT waiting for more
 * would look stalled behind a slow source. */
static size_t pipe_ready(const struct stream *st, size_t n)
{
	long long limit = (st->verified ? st->size : st->size - 1) - st->sent;
	long long avail = (long long)st->blen < limit ? (long long)st->blen : limit;
	return (size_t)(avail < (long long)n ? avail : (long long)n);
}

/* The PUT's body, from the ring; a body that did not match aborts it. */
static size_t pipe_read(char *ptr, size_t n, void *ud)
{
	struct stream *st = ud;
	if (st->failed)
		return CURL_READFUNC_ABORT;
	size_t k = pipe_ready(st, n);
	if (!k) {
		st->put_paused = 1;
		return CURL_READFUNC_PAUSE;
	}
	ring_take(st, ptr, k);
	st->sent += (long long)k;
	return k;
}

/* The GET ended with C: its result and, when all came, the body's checks
 * (in ST->rc, ST->err); the PUT then gets its last byte or aborts. */
static void pipe_get_done(struct stream *st, const struct ss_item *it, char *sha256, CURLcode c)
{
	struct ss_error e;
	ss_error_clear(&e);
	int rc = get_end(st, c, &e);
	if (rc == SS_OK)
		rc = check_body(st, it, sha256, &e);
	st->rc = rc;
	st->err = e;
	st->verified = rc == SS_OK;
	st->failed = rc != SS_OK;
}

/* Runs the GET (ST->h) and the PUT (PUT) side by side until the PUT
 * ends (*PC); a GET still running then is ended. */
static void pipe_run(struct stream *st, const struct ss_item *it, char *sha256, CURL *put, CURLcode *pc)
{
	CURLM *m = curl_multi_init();
	CURL *get = st->h;
	int running = 1, put_done = 0;
	if (!m || curl_multi_add_handle(m, get) != CURLM_OK || curl_multi_add_handle(m, put) != CURLM_OK) {
		*pc = CURLE_OUT_OF_MEMORY;
		put_done = 1;
	}
	while (!put_done && running) {
		if (curl_multi_perform(m, &running) != CURLM_OK) {
			*pc = CURLE_OUT_OF_MEMORY;
			break;
		}
		CURLMsg *msg;
		int q;
		while ((msg = curl_multi_info_read(m, &q))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			if (msg->easy_handle == put) {
				*pc = msg->data.result;
				put_done = 1;
			} else if (st->h) {
				curl_multi_remove_handle(m, get);
				pipe_get_done(st, it, sha256, msg->data.result);
			}
		}
		size_t room = st->bcap < PIPE_CHUNK ? st->bcap : PIPE_CHUNK;
		if (st->get_paused && st->h && st->bcap - st->blen >= room) {
			st->get_paused = 0;
			curl_easy_pause(get, CURLPAUSE_CONT);
		}
		if (st->put_paused && (st->failed || pipe_ready(st, PIPE_CHUNK))) {
			st->put_paused = 0;
			curl_easy_pause(put, CURLPAUSE_CONT);
		}
		if (!put_done && running)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	}
	if (m) {
		curl_multi_remove_handle(m, put);
		if (st->h)
			curl_multi_remove_handle(m, get);
		curl_multi_cleanup(m);
	}
	if (st->h) {
		curl_easy_cleanup(st->h); /* the PUT ended first: its error says why */
		st->h = NULL;
	}
}

/* One attempt of the piped PUT, from the first byte. */
static int pipe_once(struct stream *st, const struct ss_item *it, char *sha256, struct ss_error *err)
{
	st->got = st->sent = 0;
	st->blen = st->rhead = 0;
	st->verified = st->failed = st->get_paused = st->put_paused = 0;
	st->rc = SS_OK;
	ss_hasher_reset(st->whole);
	char ct[128], cc[128], acl[128];
	struct ssi_s3_req r = { .method = "PUT", .key = st->key, .sha256 = sha256, .len = st->size,
				.read = pipe_read, .read_ud = st };
	ssi_s3_put_headers(st->s, &r, ct, cc, acl, sizeof(ct), "application/octet-stream", CC_ITEMS);
	struct ssi_s3_call c;
	int rc = get_begin(st, err);
	if (rc == SS_OK && (rc = ssi_s3_call_begin(st->s, &r, &c, st->what, err)) != SS_OK) {
		curl_easy_cleanup(st->h);
		st->h = NULL;
	}
	if (rc != SS_OK)
		return rc;
	CURLcode pc = CURLE_OK;
	pipe_run(st, it, sha256, c.h, &pc);
	struct ss_error perr;
	ss_error_clear(&perr);
	int prc = ssi_s3_call_end(&r, &c, pc, st->what, &perr);
	if (st->rc != SS_OK) { /* the GET's or the body's failure aborted the PUT */
		rc = st->rc;
		if (err)
			*err = st->err;
	} else if (prc != SS_OK && strcmp(r.code, "XAmzContentSHA256Mismatch") == 0) {
		rc = ssi_err(err, SS_INTEGRITY, "cannot %s: '%s' does not have sha256 %s (the store refused it)",
			     st->what, st->url, sha256);
	} else if ((rc = prc) != SS_OK && err) {
		*err = perr;
	} else if (rc == SS_OK && !st->verified) {
		rc = ssi_err(err, SS_FATAL, "cannot %s: the store took the object before all of it came", st->what);
	}
	if (rc == SS_OK)
		ssi_s3_etag_set(st->etag, r.etag, r.etag + strlen(r.etag));
	ssi_s3_req_done(&r);
	return rc;
}

/* The piped PUT, from the first byte again after a temporary failure. */
static int stream_piped(struct stream *st, const struct ss_item *it, char *sha256, struct ss_error *err)
{
	for (int tries = 0;; tries++) {
		if (ssi_s3_past_deadline(st->s))
			return ssi_err(err, SS_TEMPFAIL, "cannot %s: the run's time limit (--max-time) is up", st->what);
		int rc = pipe_once(st, it, sha256, err);
		if (rc != SS_TEMPFAIL || tries >= st->s->o->retries)
			return rc;
		ssi_sleep_ms(ssi_backoff_ms(tries));
	}
}

/* One attempt: the GET, the checks, then the PUT or the upload's end. */
static int stream_once(struct stream *st, const struct ss_item *it, char *sha256,
		       struct ss_error *err)
{
	long long psize = ssi_s3_part_size(st->s);
	int multipart = st->size > psize;
	/* the item's sha256 known: the store checks the PUT as it comes */
	st->pipe = !multipart && sha256[0] && st->size > 0;
	st->bcap = (size_t)(multipart ? psize : st->pipe && st->size > PIPE_CAP ? PIPE_CAP : st->size);
	char *own = NULL;
	if (!(st->buf = ssi_s3_worker_buf(st->bcap ? st->bcap : 1)))
		st->buf = own = malloc(st->bcap ? st->bcap : 1);
	st->whole = ss_hasher_new(own_kinds(it, sha256, multipart));
	if (multipart) {
		st->part = ss_hasher_new(SS_HASH_SHA256);
		st->nparts = (size_t)((st->size + psize - 1) / psize);
		st->etags = calloc(st->nparts, sizeof(*st->etags));
	}
	int rc;
	if (!st->buf || !st->whole || (multipart && (!st->part || !st->etags)))
		rc = ssi_err(err, SS_FATAL, "cannot %s: out of memory", st->what);
	else if (st->pipe)
		rc = stream_piped(st, it, sha256, err);
	else if ((rc = get_resumed(st, err)) == SS_OK && (rc = check_body(st, it, sha256, err)) == SS_OK) {
		if (!multipart)
			rc = put_whole(st, sha256, err);
		else if ((!st->blen || (rc = put_part(st, err)) == SS_OK) && st->done != st->nparts)
			rc = ssi_err(err, SS_INTEGRITY, "cannot %s: %zu parts, expected %zu", st->what, st->done,
				     st->nparts);
		if (rc == SS_OK && multipart)
			rc = ssi_s3_mp_complete(st->s, st->key, st->eid, st->what,
						(const char (*)[80])st->etags, st->nparts, st->etag, err);
	}
	if (rc != SS_OK && st->eid)
		ssi_s3_mp_abort(st->s, st->key, st->eid, st->what);
	free(own);
	ss_hasher_free(st->whole);
	ss_hasher_free(st->part);
	free(st->etags);
	free(st->id);
	free(st->eid);
	return rc;
}

int ssi_s3_put_from_url(struct ss_s3 *s, const char *key, const char *url, const struct ss_item *it,
			long long size, char sha256[65], char *etag, struct ss_error *err)
{
	char what[512];
	ssi_s3_what(what, sizeof(what), "upload", s, key);
	etag[0] = '\0';
	struct stream st = { .s = s, .key = key, .url = url, .what = what, .size = size, .rc = SS_OK,
			     .etag = etag };
	return stream_once(&st, it, sha256, err);
}

/* A source given as file://PATH is the directory PATH. */
static const char *local_root(const char *source)
{
	return strncmp(source, "file://", 7) == 0 ? source + 7 : source;
}

int ssi_s3_put_item(struct ss_s3 *s, const char *key, const char *rel, const char *tree,
		    const char *source, const struct ss_item *it, long long size, char sha256[65],
		    char *etag, struct ss_error *err)
{
	etag[0] = '\0';
	if (source && (strncmp(source, "http://", 7) == 0 || strncmp(source, "https://", 8) == 0)) {
		char *url = ss_join(source, rel);
		if (!url)
			return ssi_err(err, SS_FATAL, "out of memory");
		int rc = ssi_s3_put_from_url(s, key, url, it, size, sha256, etag, err);
		free(url);
		return rc;
	}
	char *full = ssi_s3_asprintf("%s/%s", source ? local_root(source) : tree, rel);
	if (!full)
		return ssi_err(err, SS_FATAL, "out of memory");
	int rc = SS_OK;
	if ((s->o->check_items || source) && it) {
		/* A tree no mirror run checked: every hash first. */
		struct ss_digest d;
		rc = ss_hash_file(full, ss_item_hash_kinds(it) | SS_HASH_SHA256, &d, err);
		if (rc == SS_OK)
			rc = ss_item_check(it, &d, err);
		if (rc == SS_OK && !sha256[0])
			memcpy(sha256, d.sha256, 65);
	}
	if (rc == SS_OK)
		rc = ssi_s3_put_file(s, key, full, size, sha256, etag, err);
	free(full);
	return rc;
}
