/* SPDX-License-Identifier: Apache-2.0 */
/*
 * S3 object storage: the request client (see s3_client.h for the layers).
 * Libcurl signs with its SigV4 support (CURLOPT_AWS_SIGV4); every request
 * path is percent-encoded segment by segment and sent as is.
 *
 * Facts worth knowing, from S3 and Ceph RGW: libcurl 7.88 does not add
 * x-amz-content-sha256 itself, but signs it when we set it, and the server
 * then refuses a body with another sha256 (XAmzContentSHA256Mismatch);
 * libcurl signs the query as given, so queries are built here already
 * sorted and encoded, and sub-resources carry an explicit '='.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "s3_client.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define REPLY_CAP (64u << 20)
/* The calling worker thread's own: its connection cache (a share handle
 * used by one thread at a time needs no locking) and its buffer. */
struct worker {
	CURLSH *share;
	char *buf;
	size_t cap;
};
static _Thread_local struct worker *worker;

void *ssi_s3_worker_begin(void)
{
	struct worker *saved = worker, *w = calloc(1, sizeof(*w));
	if (w)
		w->share = ssi_curl_share();
	worker = w;
	return saved;
}

void ssi_s3_worker_end(void *saved)
{
	if (worker) {
		if (worker->share)
			curl_share_cleanup(worker->share);
		free(worker->buf);
		free(worker);
	}
	worker = saved;
}

char *ssi_s3_worker_buf(size_t n)
{
	if (!worker)
		return NULL;
	if (worker->cap < n) {
		free(worker->buf);
		worker->cap = 0;
		if (!(worker->buf = malloc(n)))
			return NULL;
		worker->cap = n;
	}
	return worker->buf;
}

void ssi_s3_share_conns(const struct ss_s3 *s, CURL *h)
{
	CURLSH *sh = worker && worker->share ? worker->share : s->share;
	if (sh)
		curl_easy_setopt(h, CURLOPT_SHARE, sh);
}

/* ---- Small helpers ---------------------------------------------------------- */

char *ssi_s3_asprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

/* RFC 3986 encoding, keeping '/' when KEEP_SLASH (what SigV4 expects). */
char *ssi_s3_uri_encode(const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(strlen(s) * 3 + 1), *o = out;
	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '.' || *p == '_' || *p == '~' || (keep_slash && *p == '/')) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

void ssi_s3_sha256_hex(const void *data, size_t len, char out[65])
{
	struct ss_hasher *h = ss_hasher_new(SS_HASH_SHA256);
	struct ss_digest d;
	out[0] = '\0';
	if (!h)
		return;
	ss_hasher_update(h, data, len);
	ss_hasher_final(h, &d);
	memcpy(out, d.sha256, 65);
	ss_hasher_free(h);
}

void ssi_s3_emit(struct ss_s3 *s, enum ss_mirror_event_type type, const char *path, long long size,
		 const char *msg)
{
	if (!s->o->event)
		return;
	struct ss_mirror_event ev = { .type = type, .path = path, .size = size, .msg = msg };
	s->o->event(s->o->ud, &ev);
}

/* ---- Requests ------------------------------------------------------------- */

static size_t on_read(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct ssi_s3_upload *u = ud;
	struct ssi_s3_req *r = u->r;
	size_t n = size * nmemb;
	if (r->read)
		return r->read(ptr, n, r->read_ud);
	long long left = r->len - u->pos;
	if ((long long)n > left)
		n = (size_t)left;
	if (!n)
		return 0;
	if (r->buf) {
		memcpy(ptr, r->buf + u->pos, n);
	} else {
		ssize_t got = pread(r->fd, ptr, n, r->off + u->pos);
		if (got <= 0) {
			u->ioerr = got < 0 ? errno : EIO;
			return CURL_READFUNC_ABORT;
		}
		n = (size_t)got;
	}
	u->pos += (long long)n;
	return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct ssi_s3_req *r = ud;
	size_t n = size * nmemb;
	if (n > 5 && strncasecmp(ptr, "etag:", 5) == 0) {
		const char *v = ptr + 5, *e = ptr + n;
		while (v < e && (*v == ' ' || *v == '"'))
			v++;
		while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '"'))
			e--;
		size_t l = (size_t)(e - v) < sizeof(r->etag) ? (size_t)(e - v) : sizeof(r->etag) - 1;
		memcpy(r->etag, v, l);
		r->etag[l] = '\0';
	}
	return n;
}

static void req_reset(struct ssi_s3_req *r)
{
	free(r->reply.data);
	r->reply = (struct ssi_membuf){ .cap = REPLY_CAP };
	r->status = 0;
	r->mtime = -1;
	r->etag[0] = r->code[0] = r->msg[0] = '\0';
}

void ssi_s3_req_done(struct ssi_s3_req *r)
{
	free(r->reply.data);
	r->reply.data = NULL;
}

/* Milliseconds to the run's deadline (0 when past it), or -1: none. */
static long long ms_left(const struct ss_s3 *s)
{
	if (!s->o->deadline)
		return -1;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now); /* the deadline is wall-clock time */
	long long left = (long long)s->o->deadline * 1000 - (long long)now.tv_sec * 1000 -
			 now.tv_nsec / 1000000;
	return left > 0 ? left : 0;
}

/* The method of R, and its body (read from U) for PUT and POST. */
static void set_method(CURL *h, struct ssi_s3_req *r, struct ssi_s3_upload *u)
{
	if (strcmp(r->method, "PUT") == 0 || strcmp(r->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, u);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->len);
		/* A large body: fewer, larger sends (2 MiB, libcurl's most: a
		 * tenth less of our CPU per GiB piped than with 512 KiB). */
		if (r->len >= (1 << 20))
			curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 2048L * 1024);
		if (strcmp(r->method, "POST") == 0)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "POST");
	} else if (strcmp(r->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(r->method, "DELETE") == 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
	}
}

/* The easy handle of one attempt of R, in C (ssi_s3_call_end frees it). */
int ssi_s3_call_begin(struct ss_s3 *s, struct ssi_s3_req *r, struct ssi_s3_call *c, const char *what,
		      struct ss_error *err)
{
	memset(c, 0, sizeof(*c));
	req_reset(r);
	if (ssi_curl_init() != 0)
		return ssi_err(err, SS_FATAL, "cannot %s: libcurl initialisation failed", what);
	char *ekey = r->key ? ssi_s3_uri_encode(r->key, 1) : strdup("");
	char *url = ekey ? ssi_s3_asprintf("%s/%s%s%s", s->base, ekey, r->query ? "?" : "", r->query ? r->query : "")
			 : NULL;
	free(ekey);
	CURL *h = url ? ssi_curl_easy(url, s->o->timeout, s->ca_file, c->ebuf) : NULL;
	free(url);
	if (!h)
		return ssi_err(err, SS_FATAL, "cannot %s: out of memory", what);
	char hbuf[160];
	snprintf(hbuf, sizeof(hbuf), "x-amz-content-sha256: %s", r->sha256 ? r->sha256 : EMPTY_SHA256);
	c->hl = curl_slist_append(c->hl, hbuf);
	c->tok = s->token ? ssi_s3_asprintf("x-amz-security-token: %s", s->token) : NULL;
	if (c->tok)
		c->hl = curl_slist_append(c->hl, c->tok);
	for (int i = 0; i < 8 && r->headers[i]; i++)
		c->hl = curl_slist_append(c->hl, r->headers[i]);
	/* Redirects would be re-signed for another host: S3 does not need them. */
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	/* The key is encoded segment by segment: sent as is, never normalised
	 * ("a/../b" would name another object, or another bucket). */
	curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
	/* No request outlives the run's deadline; after it (releasing the
	 * lock, aborting an upload: perform retries nothing then) each gets
	 * one stall period. */
	long long left = ms_left(s);
	if (left >= 0)
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
				 (long)(left >= 1000 ? left : (s->o->timeout > 0 ? s->o->timeout : 30) * 1000));
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->hl);
	if (!r->keeper)
		ssi_s3_share_conns(s, h);
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
	curl_easy_setopt(h, CURLOPT_USERPWD, s->userpwd);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, ssi_membuf_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->reply);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_FILETIME, 1L);
	c->u.r = r;
	set_method(h, r, &c->u);
	if (!r->keeper)
		__atomic_fetch_add(&s->requests, 1, __ATOMIC_RELAXED);
	c->h = h;
	return SS_OK;
}

/* The end of the attempt in C, whose transfer ended with CODE: SS_OK for
 * any HTTP reply (R->status set), else an error. */
static int call_finish(struct ssi_s3_req *r, struct ssi_s3_call *c, CURLcode code, const char *what,
		       struct ss_error *err)
{
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_off_t ft = -1;
	if (curl_easy_getinfo(c->h, CURLINFO_FILETIME_T, &ft) == CURLE_OK)
		r->mtime = (long long)ft;
	curl_easy_cleanup(c->h);
	c->h = NULL;
	curl_slist_free_all(c->hl);
	c->hl = NULL;
	if (c->tok) {
		explicit_bzero(c->tok, strlen(c->tok));
		free(c->tok);
		c->tok = NULL;
	}
	if (err)
		err->http_status = r->status;
	if (c->u.ioerr)
		return ssi_err_sys(err, SS_FATAL, c->u.ioerr, "cannot %s: read error", what);
	if (r->reply.over)
		return ssi_err(err, SS_FATAL, "cannot %s: reply larger than %u bytes", what, REPLY_CAP);
	if (code != CURLE_OK)
		return ssi_err(err, ssi_curl_transient(code) ? SS_TEMPFAIL : SS_FATAL, "cannot %s: %s", what,
			       c->ebuf[0] ? c->ebuf : curl_easy_strerror(code));
	if (r->status >= 300 && r->reply.data)
		ssi_s3_parse_error(r->reply.data, r->reply.len, r->code, sizeof(r->code), r->msg, sizeof(r->msg));
	return SS_OK;
}

/* One attempt.  SS_OK for any HTTP reply (R->status set), else an error. */
static int attempt(struct ss_s3 *s, struct ssi_s3_req *r, const char *what, struct ss_error *err)
{
	struct ssi_s3_call c;
	int rc = ssi_s3_call_begin(s, r, &c, what, err);
	if (rc != SS_OK)
		return rc;
	return call_finish(r, &c, curl_easy_perform(c.h), what, err);
}

/* What a failed reply means for the run: retry later, or fix something. */
static int status_class(const struct ssi_s3_req *r)
{
	if (r->status >= 500 || r->status == 429 || strcmp(r->code, "SlowDown") == 0 ||
	    strcmp(r->code, "RequestTimeout") == 0)
		return SS_TEMPFAIL;
	return SS_FATAL;
}

int ssi_s3_past_deadline(const struct ss_s3 *s)
{
	return s->o->deadline && time(NULL) >= s->o->deadline;
}

/*
 * Performs R with retries of temporary failures (backoff 0.5 s, 1 s, 2 s
 * ... at most 10 s).  Statuses in OKS (a 0-terminated list; NULL: 2xx)
 * are success; any other status is an error naming WHAT, the status and
 * the S3 error code.  The reply stays in R.
 */
/* The reply in R against OKS (0-terminated; NULL: 2xx): SS_OK, or the
 * error naming WHAT, the status and the S3 error code. */
static int judge(const struct ssi_s3_req *r, const long *oks, const char *what, struct ss_error *err)
{
	int ok = 0;
	if (oks) {
		for (const long *k = oks; *k; k++)
			ok |= r->status == *k;
	} else {
		ok = r->status >= 200 && r->status < 300;
	}
	if (ok)
		return SS_OK;
	int rc = status_class(r);
	if (r->code[0])
		ssi_err(err, rc, "cannot %s: HTTP %ld %s%s%s", what, r->status, r->code, r->msg[0] ? ": " : "",
			r->msg);
	else
		ssi_err(err, rc, "cannot %s: HTTP %ld", what, r->status);
	if (err)
		err->http_status = r->status;
	return rc;
}

int ssi_s3_call_end(struct ssi_s3_req *r, struct ssi_s3_call *c, CURLcode code, const char *what,
		    struct ss_error *err)
{
	int rc = call_finish(r, c, code, what, err);
	return rc == SS_OK ? judge(r, NULL, what, err) : rc;
}

int ssi_s3_perform(struct ss_s3 *s, struct ssi_s3_req *r, const long *oks, const char *what,
		   struct ss_error *err)
{
	int rc, tries = 0;
	for (;;) {
		req_reset(r);
		rc = attempt(s, r, what, err);
		if (rc == SS_OK && (rc = judge(r, oks, what, err)) == SS_OK)
			return SS_OK;
		if (rc != SS_TEMPFAIL || tries >= s->o->retries || ssi_s3_past_deadline(s))
			return rc;
		unsigned ms = ssi_backoff_ms(tries++);
		long long left = ms_left(s);
		if (left >= 0 && (long long)ms >= left)
			return rc; /* the back-off would end past the deadline */
		ssi_sleep_ms(ms);
	}
}

char *ssi_s3_full_key(const struct ss_s3 *s, const char *rel)
{
	return ssi_s3_asprintf("%s%s", s->prefix, rel);
}

/* "what" for messages: VERB 's3://bucket/key'. */
void ssi_s3_what(char *buf, size_t sz, const char *verb, const struct ss_s3 *s, const char *key)
{
	snprintf(buf, sz, "%s 's3://%s/%s'", verb, s->bucket, key ? key : "");
}

/* GET of a small object into *DATA (malloc'd): SS_OK, or SS_OK with *DATA
 * NULL when it does not exist.  *MTIME (may be NULL): its Last-Modified,
 * -1 when the store sent none. */
int ssi_s3_get(struct ss_s3 *s, const char *key, char **data, size_t *len, long long *mtime,
		      struct ss_error *err)
{
	char what[512];
	ssi_s3_what(what, sizeof(what), "get", s, key);
	struct ssi_s3_req r = { .method = "GET", .key = key };
	static const long oks[] = { 200, 404, 0 };
	*data = NULL;
	int rc = ssi_s3_perform(s, &r, oks, what, err);
	if (rc == SS_OK && r.status == 200) {
		*data = r.reply.data ? r.reply.data : strdup("");
		r.reply.data = NULL;
		*len = *data ? r.reply.len : 0;
		if (mtime)
			*mtime = r.mtime;
		if (!*data)
			rc = ssi_err(err, SS_FATAL, "cannot %s: out of memory", what);
	} else if (rc == SS_OK && strcmp(r.code, "NoSuchBucket") == 0) {
		rc = ssi_err(err, SS_FATAL, "cannot %s: HTTP 404 NoSuchBucket", what);
	}
	ssi_s3_req_done(&r);
	return rc;
}

int ssi_s3_put(struct ss_s3 *s, const char *key, const char *data, size_t len,
		      const char *ctype, const char *cc, const char *aclname, const char *cond,
		      char *etag, struct ss_error *err)
{
	char what[512], sha[65], ct[128], ccb[128], acl[128];
	ssi_s3_what(what, sizeof(what), "put", s, key);
	ssi_s3_sha256_hex(data, len, sha);
	struct ssi_s3_req r = { .method = "PUT", .key = key, .sha256 = sha, .buf = data, .len = (long long)len };
	int n = 0;
	snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
	r.headers[n++] = ct;
	if (cc) {
		snprintf(ccb, sizeof(ccb), "Cache-Control: %s", cc);
		r.headers[n++] = ccb;
	}
	if (aclname) {
		snprintf(acl, sizeof(acl), "x-amz-acl: %s", aclname);
		r.headers[n++] = acl;
	}
	if (cond)
		r.headers[n++] = cond;
	static const long oks[] = { 200, 412, 0 };
	int rc = ssi_s3_perform(s, &r, cond ? oks : NULL, what, err);
	if (rc == SS_OK && r.status == 412)
		rc = -1; /* the condition failed: the caller decides */
	if (etag)
		snprintf(etag, sizeof(r.etag), "%s", rc == SS_OK ? r.etag : "");
	ssi_s3_req_done(&r);
	return rc;
}

int ssi_s3_delete(struct ss_s3 *s, const char *key, struct ss_error *err)
{
	char what[512];
	ssi_s3_what(what, sizeof(what), "delete", s, key);
	struct ssi_s3_req r = { .method = "DELETE", .key = key };
	static const long oks[] = { 200, 204, 404, 0 };
	int rc = ssi_s3_perform(s, &r, oks, what, err);
	ssi_s3_req_done(&r);
	return rc;
}

/* Keys held from one listing at most: a store that lists more under one
 * prefix than any image site holds is not listed further. */
#define LIST_MAX_KEYS 4000000

/* S for a message: at most SZ - 1 bytes, control characters as '?'. */
/* Drops the entries of L from FROM on whose keys are not plain paths
 * strictly below the prefix, each with a warning naming it. */
static void list_drop_unsafe(struct ss_s3 *s, struct ssi_s3_list *l, size_t from)
{
	size_t k = from;
	for (size_t i = from; i < l->n; i++) {
		struct ssi_s3_obj *o = &l->objs[i];
		if (ssi_s3_key_rel(s->prefix, o->key)) {
			l->objs[k++] = *o;
			continue;
		}
		char shown[256];
		ssi_printable(shown, sizeof(shown), o->key, SIZE_MAX);
		ssi_s3_emit(s, SS_EV_WARN, shown, -1,
		     "key skipped: not a plain path below the prefix ('.', '..' or empty segment, or a control "
		     "character); it is never read, written or deleted");
		free(o->key);
	}
	l->n = k;
}

/* Every object under the prefix whose key is a plain path below it,
 * sorted by key. */
int ssi_s3_list_prefix(struct ss_s3 *s, struct ssi_s3_list *l, struct ss_error *err)
{
	char what[512];
	ssi_s3_what(what, sizeof(what), "list", s, s->prefix);
	char *eprefix = ssi_s3_uri_encode(s->prefix, 0), *prev = NULL;
	if (!eprefix)
		return ssi_err(err, SS_FATAL, "cannot %s: out of memory", what);
	int rc = SS_OK;
	do {
		char *etok = l->next_token ? ssi_s3_uri_encode(l->next_token, 0) : NULL;
		char *q = ssi_s3_asprintf("%s%s%slist-type=2&prefix=%s", etok ? "continuation-token=" : "",
				    etok ? etok : "", etok ? "&" : "", eprefix);
		free(etok);
		free(prev);
		prev = l->next_token ? strdup(l->next_token) : NULL;
		if (!q || (l->next_token && !prev)) {
			free(q);
			rc = ssi_err(err, SS_FATAL, "cannot %s: out of memory", what);
			break;
		}
		size_t before = l->n;
		struct ssi_s3_req r = { .method = "GET", .query = q };
		rc = ssi_s3_perform(s, &r, NULL, what, err);
		if (rc == SS_OK && (!r.reply.data || ssi_s3_parse_list(r.reply.data, r.reply.len, l) != 0))
			rc = ssi_err(err, SS_FATAL, "cannot %s: malformed ListBucketResult", what);
		ssi_s3_req_done(&r);
		free(q);
		if (rc != SS_OK)
			break;
		list_drop_unsafe(s, l, before);
		if (l->truncated && prev && strcmp(prev, l->next_token) == 0) {
			char tok[128];
			ssi_printable(tok, sizeof(tok), prev, SIZE_MAX);
			rc = ssi_err(err, SS_FATAL, "cannot %s: the store repeats the continuation token '%s' (an "
						    "endless listing)", what, tok);
		} else if (l->n > LIST_MAX_KEYS)
			rc = ssi_err(err, SS_FATAL, "cannot %s: more than %d keys under the prefix", what,
				     LIST_MAX_KEYS);
		else if (l->truncated && ssi_s3_past_deadline(s))
			rc = ssi_err(err, SS_TEMPFAIL, "cannot %s: the run's time limit (--max-time) is up", what);
	} while (rc == SS_OK && l->truncated);
	free(prev);
	free(eprefix);
	if (rc == SS_OK)
		ssi_s3_list_sort(l);
	return rc;
}
