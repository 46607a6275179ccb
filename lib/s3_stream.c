/* SPDX-License-Identifier: Apache-2.0 */
/*
 * S3 object storage: an item straight from its source URL into the
 * bucket, with no local copy (issue 20.1).  One GET per item; its bytes
 * fill a buffer of at most the part size and are hashed (every hash the
 * item gives) as they come.
 *
 * An item up to the part size is one PUT from that buffer, sent only once
 * the whole body is in and matched the size and every hash; the PUT
 * carries the item's sha256 as x-amz-content-sha256 and its size as
 * Content-Length, so the store refuses other bytes.  That sha256 the store
 * checks is not computed here too (it was a third of the CPU time of a
 * run of large items): an item whose stream gives it and no other hash is
 * only counted; a wrong body is refused by the PUT (XAmzContentSHA256-
 * Mismatch: an integrity failure, nothing stored).  A larger item is
 * a multipart upload: each full buffer goes up as a part (each part signed
 * with its own sha256) while the GET waits; the last part goes, and the
 * upload is completed, only when the whole body matched the size and
 * every hash; else the upload is aborted and nothing is stored.  A GET
 * that breaks off is resumed (Range) from where it stopped, so the parts
 * already put stay.
 *
 * Memory: one buffer per upload worker, so at most -j x part size.  Sits
 * on the request client and the multipart steps (s3_multipart.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3_client.h"

/* One item's transfer. */
struct stream {
	struct ss_s3 *s;
	const char *key, *url, *what;
	long long size, got;
	char *buf;
	size_t blen, bcap;
	struct ss_hasher *whole, *part;
	char *id, *eid;      /* the multipart upload, once started */
	char (*etags)[80];
	size_t nparts, done;
	int rc;              /* a failure inside the write callback */
	struct ss_error err;
	/* the GET in flight: resumed from byte FROM after a failure */
	CURL *h;
	long long from, skip;
	int first;
	struct ssi_header hdr;
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
	st->got += (long long)n;
	ss_hasher_update(st->whole, ptr, n);
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
 * failed stopped: the parts already put stay. */
static int get_source(struct stream *st, struct ss_error *err)
{
	const struct ss_s3_opts *o = st->s->o;
	if (ssi_curl_init() != 0)
		return ssi_err(err, SS_FATAL, "cannot fetch '%s': libcurl initialisation failed", st->url);
	char ebuf[CURL_ERROR_SIZE];
	CURL *h = ssi_curl_easy(st->url, o->timeout, o->ca_file, ebuf);
	if (!h)
		return ssi_err(err, SS_FATAL, "cannot fetch '%s': out of memory", st->url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, st);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, st);
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	ssi_s3_share_conns(st->s, h); /* one connection to the source per worker */
	/* 512 KiB reads, not 16 KiB: a third less system time on large items */
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);
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
	CURLcode c = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
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
			       st->url, ebuf[0] ? ebuf : curl_easy_strerror(c));
	return SS_OK;
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

/* One attempt: the GET, the checks, then the PUT or the upload's end. */
static int stream_once(struct stream *st, const struct ss_item *it, char *sha256,
		       struct ss_error *err)
{
	long long psize = ssi_s3_part_size(st->s);
	int multipart = st->size > psize;
	st->bcap = (size_t)(multipart ? psize : st->size);
	st->buf = malloc(st->bcap ? st->bcap : 1);
	st->whole = ss_hasher_new(own_kinds(it, sha256, multipart));
	if (multipart) {
		st->part = ss_hasher_new(SS_HASH_SHA256);
		st->nparts = (size_t)((st->size + psize - 1) / psize);
		st->etags = calloc(st->nparts, sizeof(*st->etags));
	}
	int rc;
	if (!st->buf || !st->whole || (multipart && (!st->part || !st->etags)))
		rc = ssi_err(err, SS_FATAL, "cannot %s: out of memory", st->what);
	else if ((rc = get_resumed(st, err)) == SS_OK && (rc = check_body(st, it, sha256, err)) == SS_OK) {
		if (!multipart)
			rc = put_whole(st, sha256, err);
		else if ((!st->blen || (rc = put_part(st, err)) == SS_OK) && st->done != st->nparts)
			rc = ssi_err(err, SS_INTEGRITY, "cannot %s: %zu parts, expected %zu", st->what, st->done,
				     st->nparts);
		if (rc == SS_OK && multipart)
			rc = ssi_s3_mp_complete(st->s, st->key, st->eid, st->what,
						(const char (*)[80])st->etags, st->nparts, err);
	}
	if (rc != SS_OK && st->eid)
		ssi_s3_mp_abort(st->s, st->key, st->eid, st->what);
	free(st->buf);
	ss_hasher_free(st->whole);
	ss_hasher_free(st->part);
	free(st->etags);
	free(st->id);
	free(st->eid);
	return rc;
}

int ssi_s3_put_from_url(struct ss_s3 *s, const char *key, const char *url, const struct ss_item *it,
			long long size, char sha256[65], struct ss_error *err)
{
	char what[512];
	ssi_s3_what(what, sizeof(what), "upload", s, key);
	struct stream st = { .s = s, .key = key, .url = url, .what = what, .size = size, .rc = SS_OK };
	return stream_once(&st, it, sha256, err);
}

/* A source given as file://PATH is the directory PATH. */
static const char *local_root(const char *source)
{
	return strncmp(source, "file://", 7) == 0 ? source + 7 : source;
}

int ssi_s3_put_item(struct ss_s3 *s, const char *key, const char *rel, const char *tree,
		    const char *source, const struct ss_item *it, long long size, char sha256[65],
		    struct ss_error *err)
{
	if (source && (strncmp(source, "http://", 7) == 0 || strncmp(source, "https://", 8) == 0)) {
		char *url = ss_join(source, rel);
		if (!url)
			return ssi_err(err, SS_FATAL, "out of memory");
		int rc = ssi_s3_put_from_url(s, key, url, it, size, sha256, err);
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
		rc = ssi_s3_put_file(s, key, full, size, sha256, err);
	free(full);
	return rc;
}
