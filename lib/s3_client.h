/* SPDX-License-Identifier: Apache-2.0 */
/*
 * S3 object storage (internal): the request client every other S3 file
 * sits on.  The layering, bottom up:
 *
 *   s3parse.c    pure parsers (s3_internal.h), no I/O
 *   s3_client.c  requests: URL building, SigV4 via libcurl, retries with
 *                the shared back-off, the run's deadline; GET/PUT/DELETE
 *                of one object and listing the prefix
 *   s3_multipart.c  uploading a file (one PUT or a multipart upload)
 *   s3_lock.c    the lock object and its keeper thread
 *   s3_sync.c    publishing a tree (ss_s3_sync), on all of the above
 *   s3.c         opening a target (endpoint, credentials) and closing it
 *
 * The client knows nothing of sync or the lock: it reads the lock's
 * fields of struct ss_s3 never, it only owns the connection cache.
 */
#ifndef SSTREAM_S3_CLIENT_H
#define SSTREAM_S3_CLIENT_H

#include <jansson.h>
#include <pthread.h>
#include <sys/types.h>

#include "internal.h"
#include "curl_internal.h"
#include "s3_internal.h"

#define CC_ITEMS "public, max-age=31536000, immutable"
#define CC_DOCS "public, max-age=60"

struct ss_s3 {
	const struct ss_s3_opts *o;
	char *url;        /* s3://bucket/prefix as given */
	char *name;       /* file-name-safe */
	char *bucket;
	char *prefix;     /* "" or ending in '/' */
	char *base;       /* scheme://host[:port][/path] to which "/key" is appended */
	char *region;
	char *sigv4;      /* aws:amz:REGION:s3 */
	char *userpwd;    /* access:secret */
	char *token;      /* session token or NULL */
	const char *ca_file; /* --ca-file, else $AWS_CA_BUNDLE, else the system's */
	size_t requests;
	CURLSH *share;    /* connections and DNS, reused from request to request */
	/* The lock (s3_lock.c).  The keeper thread renews it every third of
	 * its lifetime, so a long download or upload never lets it expire. */
	char *owner;      /* of the lock we hold, NULL when none */
	char lock_etag[80]; /* its ETag as last written, "" when not known */
	long long lock_expires;
	pthread_t keeper;
	int keeper_on, keeper_stop, lock_lost;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

/* One request and its reply. */
struct ssi_s3_req {
	const char *method;      /* GET PUT POST DELETE HEAD */
	const char *key;         /* full object key, NULL for the bucket */
	const char *query;       /* sorted, encoded, or NULL */
	const char *sha256;      /* payload hash, NULL: empty body */
	const char *headers[8];  /* extra "Name: value" lines, NULL-terminated */
	/* body: a buffer, or LEN bytes of FD from OFF */
	const char *buf;
	int fd;
	off_t off;
	long long len;
	/* or a body read as it comes: READ puts at most N bytes at PTR and
	 * returns their count (0 at the end), CURL_READFUNC_PAUSE or _ABORT */
	size_t (*read)(char *ptr, size_t n, void *ud);
	void *read_ud;
	int keeper;              /* from the keeper thread: no shared handle */
	/* reply */
	long status;
	struct ssi_membuf reply;
	char etag[80];
	long long mtime;         /* Last-Modified, -1: none */
	char code[64], msg[256];
};

/* The body being sent (a request's read callback data). */
struct ssi_s3_upload {
	struct ssi_s3_req *r;
	long long pos;
	int ioerr;
};

/* One attempt of a request driven by the caller (a multi handle, another
 * transfer feeding its body): _begin makes the easy handle C->h, signed
 * and on the worker's connections; _end (after the transfer ended with
 * CODE) frees it and judges the reply: SS_OK for a 2xx, else the error
 * naming WHAT.  No retries. */
struct ssi_s3_call {
	CURL *h;
	struct curl_slist *hl;
	char *tok;
	struct ssi_s3_upload u;
	char ebuf[CURL_ERROR_SIZE];
};
int ssi_s3_call_begin(struct ss_s3 *s, struct ssi_s3_req *r, struct ssi_s3_call *c, const char *what,
		      struct ss_error *err);
int ssi_s3_call_end(struct ssi_s3_req *r, struct ssi_s3_call *c, CURLcode code, const char *what,
		    struct ss_error *err);

/* A malloc'd formatted string, or NULL when out of memory. */
char *ssi_s3_asprintf(const char *fmt, ...) SSI_PRINTF(1, 2);
/* RFC 3986 encoding (malloc'd), keeping '/' when KEEP_SLASH. */
char *ssi_s3_uri_encode(const char *s, int keep_slash);
void ssi_s3_sha256_hex(const void *data, size_t len, char out[65]);
void ssi_s3_emit(struct ss_s3 *s, enum ss_mirror_event_type type, const char *path, long long size,
		 const char *msg);
/* Nonzero once the run's deadline (--max-time) has passed. */
int ssi_s3_past_deadline(const struct ss_s3 *s);
/* The full key of REL (malloc'd), and "VERB 's3://bucket/key'" for messages. */
char *ssi_s3_full_key(const struct ss_s3 *s, const char *rel);
void ssi_s3_what(char *buf, size_t sz, const char *verb, const struct ss_s3 *s, const char *key);

/* The connection cache and buffer of a worker thread, for as long as it
 * runs; _end restores what the thread had before (a caller running a job
 * itself). */
void *ssi_s3_worker_begin(void);
void ssi_s3_worker_end(void *saved);
/* The worker's buffer, of at least N bytes, kept for its next items (their
 * pages stay mapped: a fresh buffer per item costs a page fault per 4 KiB);
 * NULL outside a worker or out of memory. */
char *ssi_s3_worker_buf(size_t n);
/* H keeps its connection in that cache (else the run's), for the next
 * request of the thread to the same host: the S3 endpoint or a source. */
void ssi_s3_share_conns(const struct ss_s3 *s, CURL *h);

/*
 * Performs R with retries of temporary failures (ssi_backoff_ms), never
 * past the run's deadline.  Statuses in OKS (0-terminated; NULL: 2xx) are
 * success; any other is an error naming WHAT, the status and the S3 error
 * code.  The reply stays in R until ssi_s3_req_done.
 */
int ssi_s3_perform(struct ss_s3 *s, struct ssi_s3_req *r, const long *oks, const char *what,
		   struct ss_error *err);
void ssi_s3_req_done(struct ssi_s3_req *r);

/* GET of a small object into *DATA (malloc'd): SS_OK, or SS_OK with *DATA
 * NULL when it does not exist.  *MTIME (may be NULL): its Last-Modified,
 * -1 when the store sent none. */
int ssi_s3_get(struct ss_s3 *s, const char *key, char **data, size_t *len, long long *mtime,
	       struct ss_error *err);
/* PUT of DATA as KEY; with ACL (NULL: none) and the condition header COND
 * (NULL: none); the object's ETag into ETAG (80 bytes; may be NULL).
 * Returns SS_OK, -1 when COND failed (412), or an error. */
int ssi_s3_put(struct ss_s3 *s, const char *key, const char *data, size_t len, const char *ctype,
	       const char *cc, const char *aclname, const char *cond, char *etag, struct ss_error *err);
int ssi_s3_delete(struct ss_s3 *s, const char *key, struct ss_error *err);
/* Before the products file REL (its new DATA) is put over the bucket's:
 * when the bucket's index (*LIVE, read from the bucket once, L its
 * listing) names REL with another product list than TREE's index, DATA
 * goes up at an alternate key and an index naming it there replaces the
 * bucket's (and *LIVE).  s3_switch.c. */
int ssi_s3_switch(struct ss_s3 *s, const struct ssi_s3_list *l, json_t **live, const char *tree, const char *rel,
		  const char *data, size_t len, struct ss_error *err);
/* Every object under the prefix whose key is a plain path below it,
 * sorted by key; the others are dropped with a warning naming each. */
int ssi_s3_list_prefix(struct ss_s3 *s, struct ssi_s3_list *l, struct ss_error *err);

/* s3_multipart.c: puts the file PATH as KEY; its bytes must have SHA256
 * (the server refuses others); multipart above the part size.  The
 * object's ETag goes into ETAG (SSI_S3_ETAG bytes; empty when the store
 * gave none we keep). */
int ssi_s3_put_file(struct ss_s3 *s, const char *key, const char *path, long long size,
		    const char *sha256, char *etag, struct ss_error *err);

/* The Content-Type, Cache-Control and (with --acl) x-amz-acl headers of
 * an object put, in R's headers from the first, formatted into CT, CC and
 * ACL (SZ bytes each); the number of headers set. */
int ssi_s3_put_headers(const struct ss_s3 *s, struct ssi_s3_req *r, char *ct, char *cc, char *acl,
		       size_t sz, const char *ctype, const char *cache);
/* The multipart part size (--s3-part-size, else 64 MiB). */
long long ssi_s3_part_size(const struct ss_s3 *s);
/* A multipart upload's steps: starting it (its UploadId, malloc'd, in
 * *ID), completing it with the ETags of its N parts (EID: the UploadId
 * URI-encoded; the object's ETag into ETAG, SSI_S3_ETAG bytes), and
 * aborting it (best effort: the parts of a failed upload are not kept,
 * and billed). */
int ssi_s3_mp_initiate(struct ss_s3 *s, const char *key, const char *what, char **id,
		       struct ss_error *err);
int ssi_s3_mp_complete(struct ss_s3 *s, const char *key, const char *eid, const char *what,
		       const char (*etags)[80], size_t n, char *etag, struct ss_error *err);
void ssi_s3_mp_abort(struct ss_s3 *s, const char *key, const char *eid, const char *what);

/* s3_stream.c: puts the item IT (SIZE bytes, SHA256) as KEY, fetched from
 * URL (http or https) without a local copy: parts held in memory, at most
 * the part size at a time.  Every hash and the size are checked before a
 * single PUT goes or a multipart upload completes; a mismatch is
 * SS_INTEGRITY and nothing is stored under KEY.  An empty SHA256 (the
 * stream gives none) is filled with the body's. */
int ssi_s3_put_from_url(struct ss_s3 *s, const char *key, const char *url, const struct ss_item *it,
			long long size, char sha256[65], char *etag, struct ss_error *err);

/* s3_stream.c: puts the item REL (IT may be NULL) as KEY: from SOURCE
 * when given (an http(s) root: ssi_s3_put_from_url; else a directory,
 * file://DIR too, each item hashed first), else from the local TREE
 * (hashed first with check_items).  Both: the object's ETag into ETAG
 * (SSI_S3_ETAG bytes), as ssi_s3_put_file. */
int ssi_s3_put_item(struct ss_s3 *s, const char *key, const char *rel, const char *tree,
		    const char *source, const struct ss_item *it, long long size, char sha256[65],
		    char *etag, struct ss_error *err);

/* s3_lock.c: SS_OK while we hold the lock (or hold none) and the run's
 * time is not up; before each write.  _keeper_stop ends the keeper. */
int ssi_s3_lock_check(struct ss_s3 *s, struct ss_error *err);
void ssi_s3_keeper_stop(struct ss_s3 *s);

#endif
