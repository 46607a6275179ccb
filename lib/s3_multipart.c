/* SPDX-License-Identifier: Apache-2.0 */
/*
 * S3 object storage: uploading a file, with one PUT or, above the part
 * size, a multipart upload whose parts go up to -j at once.  Sits on the
 * request client (s3_client.c) only.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "s3_client.h"

#define CHUNK (1 << 20)

int ssi_s3_put_headers(const struct ss_s3 *s, struct ssi_s3_req *r, char *ct, char *cc, char *acl,
		       size_t sz, const char *ctype, const char *cache)
{
	int n = 0;
	snprintf(ct, sz, "Content-Type: %s", ctype);
	r->headers[n++] = ct;
	snprintf(cc, sz, "Cache-Control: %s", cache);
	r->headers[n++] = cc;
	if (s->o->acl) {
		snprintf(acl, sz, "x-amz-acl: %s", s->o->acl);
		r->headers[n++] = acl;
	}
	return n;
}

long long ssi_s3_part_size(const struct ss_s3 *s)
{
	return s->o->part_size > 0 ? s->o->part_size : 64LL << 20;
}

/* The sha256 of LEN bytes of FD from OFF into D, read through BUF (CHUNK
 * bytes). */
static int hash_range(int fd, off_t off, long long len, char *buf, struct ss_hasher *h,
		      struct ss_digest *d, const char *what, struct ss_error *err)
{
	ss_hasher_reset(h);
	for (long long done = 0; done < len;) {
		size_t want = len - done < CHUNK ? (size_t)(len - done) : (size_t)CHUNK;
		ssize_t got = pread(fd, buf, want, off + done);
		if (got <= 0)
			return ssi_err_sys(err, SS_FATAL, got < 0 ? errno : EIO, "cannot %s: read error", what);
		ss_hasher_update(h, buf, (size_t)got);
		done += got;
	}
	ss_hasher_final(h, d);
	return SS_OK;
}

/* The parts of one multipart upload, shared by its part workers. */
struct parts {
	struct ss_s3 *s;
	const char *key, *eid, *what;
	int fd;
	long long size, psize;
	size_t n, next;
	char (*etags)[80];
	pthread_mutex_t mu;
	int rc;
	struct ss_error err;
};

/* Hashes the part (its sha256 goes in the signed header) and puts it. */
static int put_part(struct parts *p, size_t i, char *buf, struct ss_hasher *h, struct ss_error *err)
{
	off_t off = (off_t)i * p->psize;
	long long plen = p->size - off < p->psize ? p->size - off : p->psize;
	struct ss_digest d;
	if (hash_range(p->fd, off, plen, buf, h, &d, p->what, err) != SS_OK)
		return SS_FATAL;
	char q[512], pwhat[600];
	snprintf(q, sizeof(q), "partNumber=%zu&uploadId=%s", i + 1, p->eid);
	snprintf(pwhat, sizeof(pwhat), "%s (part %zu of %zu)", p->what, i + 1, p->n);
	struct ssi_s3_req pr = { .method = "PUT", .key = p->key, .query = q, .sha256 = d.sha256, .fd = p->fd,
				 .off = off, .len = plen };
	int rc = ssi_s3_perform(p->s, &pr, NULL, pwhat, err);
	if (rc == SS_OK && !pr.etag[0])
		rc = ssi_err(err, SS_FATAL, "cannot %s: no ETag", pwhat);
	if (rc == SS_OK)
		snprintf(p->etags[i], sizeof(p->etags[i]), "%s", pr.etag);
	ssi_s3_req_done(&pr);
	return rc;
}

static void *part_worker(void *arg)
{
	struct parts *p = arg;
	char *buf = malloc(CHUNK);
	struct ss_hasher *h = ss_hasher_new(SS_HASH_SHA256);
	void *saved = ssi_s3_worker_begin();
	for (;;) {
		struct ss_error err;
		ss_error_clear(&err);
		pthread_mutex_lock(&p->mu);
		if (p->rc != SS_OK || p->next >= p->n) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		size_t i = p->next++;
		pthread_mutex_unlock(&p->mu);
		int rc;
		if (ssi_s3_past_deadline(p->s))
			rc = ssi_err(&err, SS_TEMPFAIL, "cannot %s: the run's time limit (--max-time) is up", p->what);
		else if (!buf || !h)
			rc = ssi_err(&err, SS_FATAL, "cannot %s: out of memory", p->what);
		else
			rc = put_part(p, i, buf, h, &err);
		pthread_mutex_lock(&p->mu);
		if (rc != SS_OK && p->rc == SS_OK) {
			p->rc = rc;
			p->err = err;
		}
		pthread_mutex_unlock(&p->mu);
	}
	free(buf);
	ss_hasher_free(h);
	ssi_s3_worker_end(saved);
	return NULL;
}

/* The whole file must still have SHA256 (the staging copy could have
 * rotted since it was checked). */
static int check_whole(int fd, long long size, const char *sha256, const char *what, struct ss_error *err)
{
	char *buf = malloc(CHUNK);
	struct ss_hasher *whole = ss_hasher_new(SS_HASH_SHA256);
	struct ss_digest wd;
	int rc;
	if (!buf || !whole)
		rc = ssi_err(err, SS_FATAL, "cannot %s: out of memory", what);
	else if ((rc = hash_range(fd, 0, size, buf, whole, &wd, what, err)) == SS_OK &&
		 strcmp(wd.sha256, sha256) != 0)
		rc = ssi_err(err, SS_INTEGRITY, "cannot %s: sha256 %s, expected %s", what, wd.sha256, sha256);
	free(buf);
	ss_hasher_free(whole);
	return rc;
}

int ssi_s3_mp_initiate(struct ss_s3 *s, const char *key, const char *what, char **id, struct ss_error *err)
{
	char ct[128], cc[128], acl[128];
	struct ssi_s3_req r = { .method = "POST", .key = key, .query = "uploads=" };
	ssi_s3_put_headers(s, &r, ct, cc, acl, sizeof(ct), "application/octet-stream", CC_ITEMS);
	int rc = ssi_s3_perform(s, &r, NULL, what, err);
	*id = rc == SS_OK && r.reply.data ? ssi_s3_parse_upload_id(r.reply.data, r.reply.len) : NULL;
	ssi_s3_req_done(&r);
	if (rc == SS_OK && !*id)
		rc = ssi_err(err, SS_FATAL, "cannot %s: no UploadId in the reply", what);
	return rc;
}

int ssi_s3_mp_complete(struct ss_s3 *s, const char *key, const char *eid, const char *what,
		       const char (*etags)[80], size_t n, char *etag, struct ss_error *err)
{
	etag[0] = '\0';
	size_t xl = 64 + n * 140;
	char *xml = malloc(xl);
	if (!xml)
		return ssi_err(err, SS_FATAL, "cannot %s: out of memory", what);
	size_t o = (size_t)snprintf(xml, xl, "<CompleteMultipartUpload>");
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(xml + o, xl - o, "<Part><PartNumber>%zu</PartNumber><ETag>\"%s\"</ETag></Part>",
				      i + 1, etags[i]);
	o += (size_t)snprintf(xml + o, xl - o, "</CompleteMultipartUpload>");
	char q[400], xsha[65];
	snprintf(q, sizeof(q), "uploadId=%s", eid);
	ssi_s3_sha256_hex(xml, o, xsha);
	struct ssi_s3_req cr = { .method = "POST", .key = key, .query = q, .sha256 = xsha, .buf = xml,
				 .len = (long long)o };
	cr.headers[0] = "Content-Type: application/xml";
	int rc = ssi_s3_perform(s, &cr, NULL, what, err);
	/* A 200 may still carry an <Error> (the S3 way of failing late). */
	if (rc == SS_OK && cr.reply.data &&
	    ssi_s3_parse_error(cr.reply.data, cr.reply.len, cr.code, sizeof(cr.code), cr.msg, sizeof(cr.msg)) == 0)
		rc = ssi_err(err, SS_TEMPFAIL, "cannot %s: %s %s", what, cr.code, cr.msg);
	else if (rc == SS_OK && cr.reply.data)
		ssi_s3_parse_complete_etag(cr.reply.data, cr.reply.len, etag);
	ssi_s3_req_done(&cr);
	free(xml);
	return rc;
}

void ssi_s3_mp_abort(struct ss_s3 *s, const char *key, const char *eid, const char *what)
{
	char aq[400];
	snprintf(aq, sizeof(aq), "uploadId=%s", eid);
	struct ssi_s3_req ar = { .method = "DELETE", .key = key, .query = aq };
	struct ss_error ignored;
	ssi_s3_perform(s, &ar, NULL, what, &ignored);
	ssi_s3_req_done(&ar);
}

/* Multipart: the whole file is hashed first and must match SHA256; then
 * up to -j parts go at once, each carrying its own sha256 so the server
 * checks every byte; any failure aborts the upload. */
static int put_multipart(struct ss_s3 *s, const char *key, int fd, long long size,
			 const char *sha256, char *etag, struct ss_error *err)
{
	char what[512];
	ssi_s3_what(what, sizeof(what), "upload", s, key);
	char *id = NULL;
	int rc = check_whole(fd, size, sha256, what, err);
	if (rc != SS_OK || (rc = ssi_s3_mp_initiate(s, key, what, &id, err)) != SS_OK)
		return rc;
	long long psize = ssi_s3_part_size(s);
	char *eid = ssi_s3_uri_encode(id, 0);
	size_t nparts = (size_t)((size + psize - 1) / psize);
	if (!nparts)
		nparts = 1;
	char (*etags)[80] = calloc(nparts, sizeof(*etags));
	struct parts p = { .s = s, .key = key, .eid = eid, .what = what, .fd = fd, .size = size,
			   .psize = psize, .n = nparts, .etags = etags, .rc = SS_OK };
	if (!eid || !etags) {
		rc = ssi_err(err, SS_FATAL, "cannot %s: out of memory", what);
	} else {
		pthread_mutex_init(&p.mu, NULL);
		int jobs = s->o->jobs > 0 ? s->o->jobs : 4;
		ssi_pool_run((size_t)jobs > nparts ? (int)nparts : jobs, part_worker, &p);
		pthread_mutex_destroy(&p.mu);
		if ((rc = p.rc) != SS_OK && err)
			*err = p.err;
		if (rc == SS_OK)
			rc = ssi_s3_mp_complete(s, key, eid, what, (const char (*)[80])etags, nparts, etag, err);
	}
	if (rc != SS_OK && eid)
		ssi_s3_mp_abort(s, key, eid, what);
	free(etags);
	free(eid);
	free(id);
	return rc;
}

int ssi_s3_put_file(struct ss_s3 *s, const char *key, const char *path, long long size,
		    const char *sha256, char *etag, struct ss_error *err)
{
	etag[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ssi_err_sys(err, SS_FATAL, errno, "cannot read '%s'", path);
	struct stat st;
	int rc;
	if (fstat(fd, &st) != 0 || st.st_size != size) {
		rc = ssi_err(err, SS_INTEGRITY, "cannot upload '%s': size %lld, expected %lld", path,
			     (long long)st.st_size, size);
	} else if (size > ssi_s3_part_size(s)) {
		rc = put_multipart(s, key, fd, size, sha256, etag, err);
	} else {
		char what[512], ct[128], cc[128], acl[128];
		ssi_s3_what(what, sizeof(what), "put", s, key);
		struct ssi_s3_req r = { .method = "PUT", .key = key, .sha256 = sha256, .fd = fd, .len = size };
		ssi_s3_put_headers(s, &r, ct, cc, acl, sizeof(ct), "application/octet-stream", CC_ITEMS);
		rc = ssi_s3_perform(s, &r, NULL, what, err);
		if (rc != SS_OK && strcmp(r.code, "XAmzContentSHA256Mismatch") == 0)
			rc = SS_INTEGRITY;
		if (rc == SS_OK)
			ssi_s3_etag_set(etag, r.etag, r.etag + strlen(r.etag));
		if (err)
			err->code = rc;
		ssi_s3_req_done(&r);
	}
	close(fd);
	return rc;
}
