/*
 * S3-compatible object storage: the request layer (libcurl, signed with
 * its SigV4 support, CURLOPT_AWS_SIGV4), credentials, the lock object,
 * and publishing a local tree into a bucket prefix in the order that
 * keeps it consistent for readers at every moment (see ss_s3_sync).
 *
 * Facts worth knowing, from S3 and Ceph RGW: libcurl 7.88 does not add
 * x-amz-content-sha256 itself, but signs it when we set it, and the server
 * then refuses a body with another sha256 (XAmzContentSHA256Mismatch);
 * libcurl signs the query as given, so queries are built here already
 * sorted and encoded, and sub-resources carry an explicit '='.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "internal.h"
#include "curl_internal.h"
#include "s3_internal.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define REPLY_CAP (64u << 20)
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
	char *owner;      /* of the lock we hold, NULL when none */
	long long lock_expires;
	size_t requests;
	CURLSH *share;    /* connections and DNS, reused from request to request */
	/* The keeper thread renews the lock every third of its lifetime, so
	 * a long download or upload never lets it expire. */
	pthread_t keeper;
	int keeper_on, keeper_stop, lock_lost;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static void keeper_stop(struct ss_s3 *s);
static void *keeper_main(void *arg);

/* The connection cache of the calling upload worker (each has its own:
 * a share handle used by one thread at a time needs no locking). */
static _Thread_local CURLSH *worker_share;

/* A worker thread's own connection cache, for as long as it runs. */
static void worker_share_begin(void)
{
	CURLSH *share = curl_share_init();
	if (share) {
		curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
		curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	}
	worker_share = share;
}

static void worker_share_end(void)
{
	if (worker_share)
		curl_share_cleanup(worker_share);
	worker_share = NULL;
}

/* ---- Small helpers ---------------------------------------------------------- */

static char *xasprintf(const char *fmt, ...) SSI_PRINTF(1, 2);
static char *xasprintf(const char *fmt, ...)
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
static char *uri_encode(const char *s, int keep_slash)
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

static void sha256_hex(const void *data, size_t len, char out[65])
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

static void emit(struct ss_s3 *s, enum ss_mirror_event_type type, const char *path, long long size,
		 const char *msg)
{
	if (!s->o->event)
		return;
	struct ss_mirror_event ev = { .type = type, .path = path, .size = size, .msg = msg };
	s->o->event(s->o->ud, &ev);
}

/* ---- Opening: target, endpoint, credentials ------------------------------ */

static char *read_small_file(const char *path, size_t *len)
{
	char *data = NULL;
	struct ss_error e;
	if (ss_fetch(path, 1u << 20, &data, len, &e) != SS_OK)
		return NULL;
	return data;
}

static int load_credentials(struct ss_s3 *s, struct ss_error *err)
{
	const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
	if (ak && *ak && sk && *sk) {
		for (const char *const *v = (const char *const[]){ ak, sk, getenv("AWS_SESSION_TOKEN"), NULL }; *v; v++)
			for (const char *c = *v; *c; c++)
				if ((unsigned char)*c < 0x20 || *c == 0x7f)
					return ssi_err(err, SS_FATAL, "bad credentials for '%s': a control character in "
						       "the environment's AWS keys", s->url);
		s->userpwd = xasprintf("%s:%s", ak, sk);
		const char *t = getenv("AWS_SESSION_TOKEN");
		if (t && *t)
			s->token = strdup(t);
		return s->userpwd ? SS_OK : ssi_err(err, SS_FATAL, "out of memory");
	}
	const char *profile = s->o->profile;
	if (!profile)
		profile = getenv("AWS_PROFILE");
	if (!profile || !*profile)
		profile = "default";
	const char *file = getenv("AWS_SHARED_CREDENTIALS_FILE");
	char *path = NULL;
	if (!file || !*file) {
		const char *home = getenv("HOME");
		path = xasprintf("%s/.aws/credentials", home ? home : "");
		file = path;
	}
	size_t len = 0;
	char *data = file ? read_small_file(file, &len) : NULL;
	char *a = NULL, *k = NULL, *t = NULL;
	int rc = SS_OK;
	if (!data || ssi_s3_parse_credentials(data, len, profile, &a, &k, &t) != 0 || !a || !k) {
		rc = ssi_err(err, SS_FATAL,
			     "no credentials for '%s': set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
			     "or profile '%s' in %s", s->url, profile, file ? file : "~/.aws/credentials");
	} else {
		s->userpwd = xasprintf("%s:%s", a, k);
		s->token = t;
		t = NULL;
		if (!s->userpwd)
			rc = ssi_err(err, SS_FATAL, "out of memory");
	}
	free(a);
	free(k);
	free(t);
	free(data);
	free(path);
	return rc;
}

struct ss_s3 *ss_s3_open(const struct ss_s3_opts *o, struct ss_error *err)
{
	struct ss_s3 *s = calloc(1, sizeof(*s));
	if (!s) {
		ssi_err(err, SS_FATAL, "out of memory");
		return NULL;
	}
	s->o = o;
	s->ca_file = o->ca_file;
	if (!s->ca_file && getenv("AWS_CA_BUNDLE") && *getenv("AWS_CA_BUNDLE"))
		s->ca_file = getenv("AWS_CA_BUNDLE");
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	const char *t = o->target;
	if (!t || strncmp(t, "s3://", 5) != 0 || !t[5] || t[5] == '/') {
		ssi_err(err, SS_USAGE, "bad target '%s': not s3://BUCKET[/PREFIX]", t ? t : "");
		goto fail;
	}
	s->url = strdup(t);
	const char *b = t + 5, *slash = strchr(b, '/');
	s->bucket = slash ? ssi_strndup(b, (size_t)(slash - b)) : strdup(b);
	const char *pre = slash ? slash + 1 : "";
	size_t pl = strlen(pre);
	while (pl && pre[pl - 1] == '/')
		pl--;
	s->prefix = pl ? xasprintf("%.*s/", (int)pl, pre) : strdup("");
	if (!s->url || !s->bucket || !s->prefix) {
		ssi_err(err, SS_FATAL, "out of memory");
		goto fail;
	}
	for (const char *p = s->bucket; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		      *p == '_' || (*p >= 'A' && *p <= 'Z'))) {
			ssi_err(err, SS_USAGE, "bad target '%s': bad bucket name", t);
			goto fail;
		}
	if (pl) {
		/* The prefix is a path in the bucket: the same rules as tree paths. */
		char *bare = ssi_strndup(s->prefix, pl);
		int bad = !bare || ss_path_check(bare, NULL) != SS_OK;
		free(bare);
		if (bad) {
			ssi_err(err, SS_USAGE, "bad target '%s': unsafe prefix", t);
			goto fail;
		}
	}
	const char *region = o->region;
	if (!region || !*region)
		region = getenv("AWS_REGION");
	if (!region || !*region)
		region = getenv("AWS_DEFAULT_REGION");
	if (!region || !*region)
		region = "us-east-1";
	s->region = strdup(region);
	s->sigv4 = xasprintf("aws:amz:%s:s3", region);
	const char *ep = o->endpoint;
	if (!ep || !*ep)
		ep = getenv("AWS_ENDPOINT_URL_S3");
	if (!ep || !*ep)
		ep = getenv("AWS_ENDPOINT_URL");
	int vhost = o->addressing == SS_S3_VHOST || (o->addressing == SS_S3_AUTO && (!ep || !*ep));
	char *aws = NULL;
	if (!ep || !*ep)
		ep = aws = xasprintf("https://s3.%s.amazonaws.com", region);
	if (!ep || (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0)) {
		ssi_err(err, SS_USAGE, "bad S3 endpoint '%s': not an http(s) URL", ep ? ep : "");
		free(aws);
		goto fail;
	}
	size_t el = strlen(ep);
	while (el && ep[el - 1] == '/')
		el--;
	if (vhost) {
		const char *host = strstr(ep, "://") + 3;
		s->base = xasprintf("%.*s%s.%.*s", (int)(host - ep), ep, s->bucket, (int)(el - (size_t)(host - ep)),
				    host);
	} else {
		s->base = xasprintf("%.*s/%s", (int)el, ep, s->bucket);
	}
	/* The name of local state for this target: host, bucket, prefix. */
	const char *host = strstr(ep, "://") + 3;
	s->name = xasprintf("%.*s_%s_%s", (int)(el - (size_t)(host - ep)), host, s->bucket, s->prefix);
	free(aws);
	if (!s->region || !s->sigv4 || !s->base || !s->name) {
		ssi_err(err, SS_FATAL, "out of memory");
		goto fail;
	}
	for (char *p = s->name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '.'))
			*p = '_';
	if (load_credentials(s, err) != SS_OK)
		goto fail;
	/* One thread uses the handle: the share needs no lock callbacks. */
	if (ssi_curl_init() == 0 && (s->share = curl_share_init())) {
		curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
		curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	}
	return s;
fail:
	ss_s3_close(s);
	return NULL;
}

void ss_s3_close(struct ss_s3 *s)
{
	if (!s)
		return;
	free(s->url);
	free(s->name);
	free(s->bucket);
	free(s->prefix);
	free(s->base);
	free(s->region);
	free(s->sigv4);
	if (s->userpwd)
		explicit_bzero(s->userpwd, strlen(s->userpwd));
	free(s->userpwd);
	free(s->token);
	free(s->owner);
	keeper_stop(s);
	if (s->share)
		curl_share_cleanup(s->share);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

const char *ss_s3_url(const struct ss_s3 *s)
{
	return s->url;
}

const char *ss_s3_name(const struct ss_s3 *s)
{
	return s->name;
}

/* ---- Requests ------------------------------------------------------------- */

struct req {
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
	int keeper;              /* from the keeper thread: no shared handle */
	/* reply */
	long status;
	struct ssi_membuf reply;
	char etag[80];
	long long mtime;         /* Last-Modified, -1: none */
	char code[64], msg[256];
};

struct upload {
	struct req *r;
	long long pos;
	int ioerr;
};

static size_t on_read(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct upload *u = ud;
	struct req *r = u->r;
	long long left = r->len - u->pos;
	size_t n = size * nmemb;
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
	struct req *r = ud;
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

static void req_reset(struct req *r)
{
	free(r->reply.data);
	r->reply = (struct ssi_membuf){ .cap = REPLY_CAP };
	r->status = 0;
	r->mtime = -1;
	r->etag[0] = r->code[0] = r->msg[0] = '\0';
}

static void req_done(struct req *r)
{
	free(r->reply.data);
	r->reply.data = NULL;
}

/* One attempt.  SS_OK for any HTTP reply (R->status set), else an error. */
static int attempt(struct ss_s3 *s, struct req *r, const char *what, struct ss_error *err)
{
	if (ssi_curl_init() != 0)
		return ssi_err(err, SS_FATAL, "cannot %s: libcurl initialisation failed", what);
	char *ekey = r->key ? uri_encode(r->key, 1) : strdup("");
	char *url = ekey ? xasprintf("%s/%s%s%s", s->base, ekey, r->query ? "?" : "", r->query ? r->query : "")
			 : NULL;
	free(ekey);
	char ebuf[CURL_ERROR_SIZE];
	CURL *h = url ? ssi_curl_easy(url, s->o->timeout, s->ca_file, ebuf) : NULL;
	free(url);
	if (!h)
		return ssi_err(err, SS_FATAL, "cannot %s: out of memory", what);
	struct curl_slist *hl = NULL;
	char hbuf[160];
	snprintf(hbuf, sizeof(hbuf), "x-amz-content-sha256: %s", r->sha256 ? r->sha256 : EMPTY_SHA256);
	hl = curl_slist_append(hl, hbuf);
	char *tok = s->token ? xasprintf("x-amz-security-token: %s", s->token) : NULL;
	if (tok)
		hl = curl_slist_append(hl, tok);
	for (int i = 0; i < 8 && r->headers[i]; i++)
		hl = curl_slist_append(hl, r->headers[i]);
	/* Redirects would be re-signed for another host: S3 does not need them. */
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	/* The key is encoded segment by segment: sent as is, never normalised
	 * ("a/../b" would name another object, or another bucket). */
	curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	CURLSH *sh = r->keeper ? NULL : worker_share ? worker_share : s->share;
	if (sh)
		curl_easy_setopt(h, CURLOPT_SHARE, sh);
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
	curl_easy_setopt(h, CURLOPT_USERPWD, s->userpwd);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, ssi_membuf_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->reply);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_FILETIME, 1L);
	struct upload u = { .r = r };
	if (strcmp(r->method, "PUT") == 0 || strcmp(r->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, &u);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->len);
		if (strcmp(r->method, "POST") == 0)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "POST");
	} else if (strcmp(r->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(r->method, "DELETE") == 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
	}
	if (!r->keeper)
		__atomic_fetch_add(&s->requests, 1, __ATOMIC_RELAXED);
	CURLcode c = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_off_t ft = -1;
	if (curl_easy_getinfo(h, CURLINFO_FILETIME_T, &ft) == CURLE_OK)
		r->mtime = (long long)ft;
	curl_easy_cleanup(h);
	curl_slist_free_all(hl);
	if (tok) {
		explicit_bzero(tok, strlen(tok));
		free(tok);
	}
	if (err)
		err->http_status = r->status;
	if (u.ioerr)
		return ssi_err_sys(err, SS_FATAL, u.ioerr, "cannot %s: read error", what);
	if (r->reply.over)
		return ssi_err(err, SS_FATAL, "cannot %s: reply larger than %u bytes", what, REPLY_CAP);
	if (c != CURLE_OK)
		return ssi_err(err, ssi_curl_transient(c) ? SS_TEMPFAIL : SS_FATAL, "cannot %s: %s", what,
			       ebuf[0] ? ebuf : curl_easy_strerror(c));
	if (r->status >= 300 && r->reply.data)
		ssi_s3_parse_error(r->reply.data, r->reply.len, r->code, sizeof(r->code), r->msg, sizeof(r->msg));
	return SS_OK;
}

/* What a failed reply means for the run: retry later, or fix something. */
static int status_class(const struct req *r)
{
	if (r->status >= 500 || r->status == 429 || strcmp(r->code, "SlowDown") == 0 ||
	    strcmp(r->code, "RequestTimeout") == 0)
		return SS_TEMPFAIL;
	return SS_FATAL;
}

static int past_deadline(const struct ss_s3 *s)
{
	return s->o->deadline && time(NULL) >= s->o->deadline;
}

/*
 * Performs R with retries of temporary failures (backoff 0.5 s, 1 s, 2 s
 * ... at most 10 s).  Statuses in OKS (a 0-terminated list; NULL: 2xx)
 * are success; any other status is an error naming WHAT, the status and
 * the S3 error code.  The reply stays in R.
 */
static int perform(struct ss_s3 *s, struct req *r, const long *oks, const char *what,
		   struct ss_error *err)
{
	int rc, tries = 0;
	for (;;) {
		req_reset(r);
		rc = attempt(s, r, what, err);
		if (rc == SS_OK) {
			int ok = 0;
			if (oks) {
				for (const long *k = oks; *k; k++)
					ok |= r->status == *k;
			} else {
				ok = r->status >= 200 && r->status < 300;
			}
			if (ok)
				return SS_OK;
			rc = status_class(r);
			if (r->code[0])
				ssi_err(err, rc, "cannot %s: HTTP %ld %s%s%s", what, r->status, r->code,
					r->msg[0] ? ": " : "", r->msg);
			else
				ssi_err(err, rc, "cannot %s: HTTP %ld", what, r->status);
			if (err)
				err->http_status = r->status;
		}
		if (rc != SS_TEMPFAIL || tries >= s->o->retries || past_deadline(s))
			return rc;
		ssi_sleep_ms(ssi_backoff_ms(tries++));
	}
}

static char *full_key(const struct ss_s3 *s, const char *rel)
{
	return xasprintf("%s%s", s->prefix, rel);
}

/* "what" for messages: VERB 's3://bucket/key'. */
static void what_of(char *buf, size_t sz, const char *verb, const struct ss_s3 *s, const char *key)
{
	snprintf(buf, sz, "%s 's3://%s/%s'", verb, s->bucket, key ? key : "");
}

/* GET of a small object into *DATA (malloc'd): SS_OK, or SS_OK with *DATA
 * NULL when it does not exist.  *MTIME (may be NULL): its Last-Modified,
 * -1 when the store sent none. */
static int get_object(struct ss_s3 *s, const char *key, char **data, size_t *len, long long *mtime,
		      struct ss_error *err)
{
	char what[512];
	what_of(what, sizeof(what), "get", s, key);
	struct req r = { .method = "GET", .key = key };
	static const long oks[] = { 200, 404, 0 };
	*data = NULL;
	int rc = perform(s, &r, oks, what, err);
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
	req_done(&r);
	return rc;
}

/* PUT of DATA as KEY; with ACL (NULL: none) and the condition header COND
 * (NULL: none).  Returns SS_OK, -1 when COND failed (412), or an error. */
static int put_buffer(struct ss_s3 *s, const char *key, const char *data, size_t len,
		      const char *ctype, const char *cc, const char *aclname, const char *cond,
		      struct ss_error *err)
{
	char what[512], sha[65], ct[128], ccb[128], acl[128];
	what_of(what, sizeof(what), "put", s, key);
	sha256_hex(data, len, sha);
	struct req r = { .method = "PUT", .key = key, .sha256 = sha, .buf = data, .len = (long long)len };
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
	int rc = perform(s, &r, cond ? oks : NULL, what, err);
	if (rc == SS_OK && r.status == 412)
		rc = -1; /* the condition failed: the caller decides */
	req_done(&r);
	return rc;
}

static int delete_object(struct ss_s3 *s, const char *key, struct ss_error *err)
{
	char what[512];
	what_of(what, sizeof(what), "delete", s, key);
	struct req r = { .method = "DELETE", .key = key };
	static const long oks[] = { 200, 204, 404, 0 };
	int rc = perform(s, &r, oks, what, err);
	req_done(&r);
	return rc;
}

/* Keys held from one listing at most: a store that lists more under one
 * prefix than any image site holds is not listed further. */
#define LIST_MAX_KEYS 4000000

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
		size_t j = 0;
		for (const char *c = o->key; *c && j < sizeof(shown) - 1; c++)
			shown[j++] = (unsigned char)*c < 0x20 || *c == 0x7f ? '?' : *c;
		shown[j] = '\0';
		emit(s, SS_EV_WARN, shown, -1,
		     "key skipped: not a plain path below the prefix ('.', '..' or empty segment, or a control "
		     "character); it is never read, written or deleted");
		free(o->key);
	}
	l->n = k;
}

/* Every object under the prefix whose key is a plain path below it,
 * sorted by key. */
static int list_prefix(struct ss_s3 *s, struct ssi_s3_list *l, struct ss_error *err)
{
	char what[512];
	what_of(what, sizeof(what), "list", s, s->prefix);
	char *eprefix = uri_encode(s->prefix, 0), *prev = NULL;
	if (!eprefix)
		return ssi_err(err, SS_FATAL, "cannot %s: out of memory", what);
	int rc = SS_OK;
	do {
		char *etok = l->next_token ? uri_encode(l->next_token, 0) : NULL;
		char *q = xasprintf("%s%s%slist-type=2&prefix=%s", etok ? "continuation-token=" : "",
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
		struct req r = { .method = "GET", .query = q };
		rc = perform(s, &r, NULL, what, err);
		if (rc == SS_OK && (!r.reply.data || ssi_s3_parse_list(r.reply.data, r.reply.len, l) != 0))
			rc = ssi_err(err, SS_FATAL, "cannot %s: malformed ListBucketResult", what);
		req_done(&r);
		free(q);
		if (rc != SS_OK)
			break;
		list_drop_unsafe(s, l, before);
		if (l->truncated && prev && strcmp(prev, l->next_token) == 0)
			rc = ssi_err(err, SS_FATAL, "cannot %s: the store repeats a continuation token (an endless "
						    "listing)", what);
		else if (l->n > LIST_MAX_KEYS)
			rc = ssi_err(err, SS_FATAL, "cannot %s: more than %d keys under the prefix", what,
				     LIST_MAX_KEYS);
		else if (l->truncated && past_deadline(s))
			rc = ssi_err(err, SS_TEMPFAIL, "cannot %s: the run's time limit (--max-time) is up", what);
	} while (rc == SS_OK && l->truncated);
	free(prev);
	free(eprefix);
	if (rc == SS_OK)
		ssi_s3_list_sort(l);
	return rc;
}

/* ---- Uploading a file ------------------------------------------------------ */

static int put_headers(const struct ss_s3 *s, struct req *r, char *ct, char *cc, char *acl,
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
	ss_hasher_reset(h);
	for (long long done = 0; done < plen;) {
		size_t want = plen - done < (1 << 20) ? (size_t)(plen - done) : (size_t)(1 << 20);
		ssize_t got = pread(p->fd, buf, want, off + done);
		if (got <= 0)
			return ssi_err_sys(err, SS_FATAL, got < 0 ? errno : EIO, "cannot %s: read error", p->what);
		ss_hasher_update(h, buf, (size_t)got);
		done += got;
	}
	struct ss_digest d;
	ss_hasher_final(h, &d);
	char q[512], pwhat[600];
	snprintf(q, sizeof(q), "partNumber=%zu&uploadId=%s", i + 1, p->eid);
	snprintf(pwhat, sizeof(pwhat), "%s (part %zu of %zu)", p->what, i + 1, p->n);
	struct req pr = { .method = "PUT", .key = p->key, .query = q, .sha256 = d.sha256, .fd = p->fd,
			  .off = off, .len = plen };
	int rc = perform(p->s, &pr, NULL, pwhat, err);
	if (rc == SS_OK && !pr.etag[0])
		rc = ssi_err(err, SS_FATAL, "cannot %s: no ETag", pwhat);
	if (rc == SS_OK)
		snprintf(p->etags[i], sizeof(p->etags[i]), "%s", pr.etag);
	req_done(&pr);
	return rc;
}

static void *part_worker(void *arg)
{
	struct parts *p = arg;
	char *buf = malloc(1 << 20);
	struct ss_hasher *h = ss_hasher_new(SS_HASH_SHA256);
	CURLSH *caller = worker_share;
	worker_share_begin();
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
		int rc = buf && h ? put_part(p, i, buf, h, &err) : ssi_err(&err, SS_FATAL, "cannot %s: out of memory", p->what);
		pthread_mutex_lock(&p->mu);
		if (rc != SS_OK && p->rc == SS_OK) {
			p->rc = rc;
			p->err = err;
		}
		pthread_mutex_unlock(&p->mu);
	}
	free(buf);
	ss_hasher_free(h);
	worker_share_end();
	worker_share = caller; /* when the caller ran it itself */
	return NULL;
}

/* Multipart: the whole file is hashed first and must match SHA256 (the
 * staging copy could have rotted since it was checked); then up to -j
 * parts go at once, each carrying its own sha256 so the server checks
 * every byte; any failure aborts the upload. */
static int put_multipart(struct ss_s3 *s, const char *key, int fd, long long size,
			 const char *sha256, struct ss_error *err)
{
	char what[512], ct[128], cc[128], acl[128];
	what_of(what, sizeof(what), "upload", s, key);
	long long psize = s->o->part_size > 0 ? s->o->part_size : 64LL << 20;
	char *buf = malloc(1 << 20);
	struct ss_hasher *whole = ss_hasher_new(SS_HASH_SHA256);
	int rc = SS_OK;
	if (!buf || !whole) {
		rc = ssi_err(err, SS_FATAL, "cannot %s: out of memory", what);
	} else {
		for (long long done = 0; rc == SS_OK && done < size;) {
			size_t want = size - done < (1 << 20) ? (size_t)(size - done) : (size_t)(1 << 20);
			ssize_t got = pread(fd, buf, want, done);
			if (got <= 0)
				rc = ssi_err_sys(err, SS_FATAL, got < 0 ? errno : EIO, "cannot %s: read error", what);
			else
				ss_hasher_update(whole, buf, (size_t)got);
			done += got > 0 ? got : 0;
		}
	}
	if (rc == SS_OK) {
		struct ss_digest wd;
		ss_hasher_final(whole, &wd);
		if (strcmp(wd.sha256, sha256) != 0)
			rc = ssi_err(err, SS_INTEGRITY, "cannot %s: sha256 %s, expected %s", what, wd.sha256, sha256);
	}
	free(buf);
	ss_hasher_free(whole);
	if (rc != SS_OK)
		return rc;

	struct req r = { .method = "POST", .key = key, .query = "uploads=" };
	put_headers(s, &r, ct, cc, acl, sizeof(ct), "application/octet-stream", CC_ITEMS);
	rc = perform(s, &r, NULL, what, err);
	char *id = rc == SS_OK && r.reply.data ? ssi_s3_parse_upload_id(r.reply.data, r.reply.len) : NULL;
	req_done(&r);
	if (rc != SS_OK)
		return rc;
	if (!id)
		return ssi_err(err, SS_FATAL, "cannot %s: no UploadId in the reply", what);
	char *eid = uri_encode(id, 0);
	size_t nparts = (size_t)((size + psize - 1) / psize);
	if (!nparts)
		nparts = 1;
	char (*etags)[80] = calloc(nparts, sizeof(*etags));
	char *xml = NULL;
	if (!eid || !etags) {
		rc = ssi_err(err, SS_FATAL, "cannot %s: out of memory", what);
		goto abort;
	}
	struct parts p = { .s = s, .key = key, .eid = eid, .what = what, .fd = fd, .size = size,
			   .psize = psize, .n = nparts, .etags = etags, .rc = SS_OK };
	pthread_mutex_init(&p.mu, NULL);
	int jobs = s->o->jobs > 0 ? s->o->jobs : 4;
	if ((size_t)jobs > nparts)
		jobs = (int)nparts;
	ssi_pool_run(jobs, part_worker, &p);
	pthread_mutex_destroy(&p.mu);
	if ((rc = p.rc) != SS_OK) {
		if (err)
			*err = p.err;
		goto abort;
	}
	size_t xl = 64 + nparts * 140;
	if (!(xml = malloc(xl))) {
		rc = ssi_err(err, SS_FATAL, "cannot %s: out of memory", what);
		goto abort;
	}
	size_t o = (size_t)snprintf(xml, xl, "<CompleteMultipartUpload>");
	for (size_t i = 0; i < nparts; i++)
		o += (size_t)snprintf(xml + o, xl - o, "<Part><PartNumber>%zu</PartNumber><ETag>\"%s\"</ETag></Part>",
				      i + 1, etags[i]);
	o += (size_t)snprintf(xml + o, xl - o, "</CompleteMultipartUpload>");
	char q[400], xsha[65];
	snprintf(q, sizeof(q), "uploadId=%s", eid);
	sha256_hex(xml, o, xsha);
	struct req cr = { .method = "POST", .key = key, .query = q, .sha256 = xsha, .buf = xml,
			  .len = (long long)o };
	cr.headers[0] = "Content-Type: application/xml";
	rc = perform(s, &cr, NULL, what, err);
	/* A 200 may still carry an <Error> (the S3 way of failing late). */
	if (rc == SS_OK && cr.reply.data &&
	    ssi_s3_parse_error(cr.reply.data, cr.reply.len, cr.code, sizeof(cr.code), cr.msg, sizeof(cr.msg)) == 0)
		rc = ssi_err(err, SS_TEMPFAIL, "cannot %s: %s %s", what, cr.code, cr.msg);
	req_done(&cr);
	if (rc == SS_OK)
		goto out;
abort:
	if (eid) {
		char aq[400];
		snprintf(aq, sizeof(aq), "uploadId=%s", eid);
		struct req ar = { .method = "DELETE", .key = key, .query = aq };
		struct ss_error ignored;
		perform(s, &ar, NULL, what, &ignored);
		req_done(&ar);
	}
out:
	free(xml);
	free(etags);
	free(eid);
	free(id);
	return rc;
}

/* Puts the file PATH as KEY; its bytes must have SHA256 (the server
 * refuses others). */
static int put_file(struct ss_s3 *s, const char *key, const char *path, long long size,
		    const char *sha256, struct ss_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ssi_err_sys(err, SS_FATAL, errno, "cannot read '%s'", path);
	struct stat st;
	int rc;
	if (fstat(fd, &st) != 0 || st.st_size != size) {
		rc = ssi_err(err, SS_INTEGRITY, "cannot upload '%s': size %lld, expected %lld", path,
			     (long long)st.st_size, size);
	} else if (size > (s->o->part_size > 0 ? s->o->part_size : 64LL << 20)) {
		rc = put_multipart(s, key, fd, size, sha256, err);
	} else {
		char what[512], ct[128], cc[128], acl[128];
		what_of(what, sizeof(what), "put", s, key);
		struct req r = { .method = "PUT", .key = key, .sha256 = sha256, .fd = fd, .len = size };
		put_headers(s, &r, ct, cc, acl, sizeof(ct), "application/octet-stream", CC_ITEMS);
		rc = perform(s, &r, NULL, what, err);
		if (rc != SS_OK && strcmp(r.code, "XAmzContentSHA256Mismatch") == 0)
			rc = SS_INTEGRITY;
		if (err)
			err->code = rc;
		req_done(&r);
	}
	close(fd);
	return rc;
}

/* ---- The lock --------------------------------------------------------------- */

static long long lock_ttl(const struct ss_s3 *s)
{
	return s->o->lock_ttl > 0 ? s->o->lock_ttl : 3600;
}

/* The lock object's body: the owner (at most 200 bytes of it) and expiry. */
#define LOCK_BODY_MAX 256
static size_t lock_body(const struct ss_s3 *s, long long exp, char body[LOCK_BODY_MAX])
{
	int n = snprintf(body, LOCK_BODY_MAX, "owner %.200s\nexpires %lld\n", s->owner, exp);
	return n < 0 ? 0 : (size_t)n;
}

static int write_lock(struct ss_s3 *s, const char *key, int create, struct ss_error *err)
{
	long long ttl = lock_ttl(s);
	long long exp = (long long)time(NULL) + ttl;
	char body[LOCK_BODY_MAX];
	size_t n = lock_body(s, exp, body);
	/* The lock is never public, whatever --s3-acl says. */
	int rc = put_buffer(s, key, body, (size_t)n, "text/plain", "no-store", NULL,
			    create ? "If-None-Match: *" : NULL, err);
	if (rc == SS_OK)
		s->lock_expires = exp;
	return rc;
}

int ss_s3_lock(struct ss_s3 *s, const char *owner, struct ss_error *err)
{
	char *key = full_key(s, ".sstream/lock");
	if (!key)
		return ssi_err(err, SS_FATAL, "out of memory");
	free(s->owner);
	s->owner = strdup(owner);
	for (char *p = s->owner; p && *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	if (s->owner && strlen(s->owner) > 200)
		s->owner[200] = '\0'; /* what lock_body keeps: renewals compare it */
	int rc = SS_FATAL;
	for (int round = 0; round < 2; round++) {
		rc = write_lock(s, key, 1, err);
		if (rc != -1)
			break;
		/* Held: by whom, and until when? */
		char *data = NULL;
		size_t len = 0;
		char holder[256] = "unknown";
		long long exp = 0, mtime = -1;
		rc = get_object(s, key, &data, &len, &mtime, err);
		if (rc != SS_OK)
			break;
		if (!data)
			continue; /* released meanwhile */
		int ok = ssi_s3_lock_parse(data, len, holder, sizeof(holder), &exp) == 0;
		free(data);
		long long now = (long long)time(NULL);
		if (!ok && mtime >= 0) {
			/* Garbage or empty: no owner, no expiry.  It expires a
			 * lock period after it was written. */
			exp = mtime + lock_ttl(s);
			ok = 1;
			snprintf(holder, sizeof(holder), "a malformed lock object");
		}
		if (ok && exp < now && round == 0) {
			/* Expired: its run died.  Take it over. */
			rc = delete_object(s, key, err);
			if (rc != SS_OK)
				break;
			continue;
		}
		char when[64] = "?";
		time_t te = (time_t)exp;
		struct tm tm;
		if (ok && gmtime_r(&te, &tm))
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		rc = ssi_err(err, SS_TEMPFAIL, "'s3://%s/%s' is locked by %s until %s", s->bucket, key, holder,
			     when);
		break;
	}
	if (rc == -1)
		rc = ssi_err(err, SS_TEMPFAIL, "'s3://%s/%s' is locked by another run", s->bucket, key);
	if (rc != SS_OK) {
		free(s->owner);
		s->owner = NULL;
	} else {
		s->lock_lost = s->keeper_stop = 0;
		s->keeper_on = pthread_create(&s->keeper, NULL, keeper_main, s) == 0;
	}
	free(key);
	return rc;
}

/* One renewal from the keeper thread: still ours?  Then a new expiry. */
static void keeper_renew(struct ss_s3 *s, const char *key)
{
	struct ss_error e;
	char what[512];
	what_of(what, sizeof(what), "renew lock", s, key);
	struct req g = { .method = "GET", .key = key, .keeper = 1 };
	static const long oks[] = { 200, 404, 0 };
	int rc = perform(s, &g, oks, what, &e);
	char holder[256] = "";
	long long exp;
	int ours = rc == SS_OK && g.status == 200 && g.reply.data &&
		   ssi_s3_lock_parse(g.reply.data, g.reply.len, holder, sizeof(holder), &exp) == 0 &&
		   strcmp(holder, s->owner) == 0;
	req_done(&g);
	long long nexp = (long long)time(NULL) + lock_ttl(s);
	if (rc == SS_OK && ours) {
		char body[LOCK_BODY_MAX], sha[65];
		size_t n = lock_body(s, nexp, body);
		sha256_hex(body, n, sha);
		struct req p = { .method = "PUT", .key = key, .sha256 = sha, .buf = body, .len = n, .keeper = 1 };
		p.headers[0] = "Content-Type: text/plain";
		p.headers[1] = "Cache-Control: no-store";
		rc = perform(s, &p, NULL, what, &e);
		req_done(&p);
	}
	pthread_mutex_lock(&s->mu);
	if (rc == SS_OK && ours)
		s->lock_expires = nexp;
	else if ((rc == SS_OK && !ours) || (long long)time(NULL) >= s->lock_expires)
		s->lock_lost = 1; /* taken over, or expired before we could renew */
	pthread_mutex_unlock(&s->mu);
}

static void *keeper_main(void *arg)
{
	struct ss_s3 *s = arg;
	char *key = full_key(s, ".sstream/lock");
	long long period = lock_ttl(s) / 3 > 0 ? lock_ttl(s) / 3 : 1;
	pthread_mutex_lock(&s->mu);
	while (key && !s->keeper_stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t)period;
		while (!s->keeper_stop && pthread_cond_timedwait(&s->cv, &s->mu, &until) != ETIMEDOUT)
			;
		if (s->keeper_stop)
			break;
		pthread_mutex_unlock(&s->mu);
		keeper_renew(s, key);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	free(key);
	return NULL;
}

static void keeper_stop(struct ss_s3 *s)
{
	if (!s->keeper_on)
		return;
	pthread_mutex_lock(&s->mu);
	s->keeper_stop = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->keeper, NULL);
	s->keeper_on = 0;
}

/* SS_OK while we hold the lock; before each write. */
static int lock_renew(struct ss_s3 *s, struct ss_error *err)
{
	if (!s->owner)
		return SS_OK;
	pthread_mutex_lock(&s->mu);
	int lost = s->lock_lost || (long long)time(NULL) >= s->lock_expires;
	pthread_mutex_unlock(&s->mu);
	if (past_deadline(s))
		return ssi_err(err, SS_TEMPFAIL, "'s3://%s/%s': the run's time limit (--max-time) is up",
			       s->bucket, s->prefix);
	if (lost)
		return ssi_err(err, SS_TEMPFAIL, "lost the lock of 's3://%s/%s.sstream/lock' (expired or taken over)",
			       s->bucket, s->prefix);
	return SS_OK;
}

int ss_s3_unlock(struct ss_s3 *s, struct ss_error *err)
{
	keeper_stop(s);
	if (!s->owner)
		return SS_OK;
	char *key = full_key(s, ".sstream/lock");
	if (!key)
		return ssi_err(err, SS_FATAL, "out of memory");
	char *data = NULL, holder[256];
	size_t len = 0;
	long long exp;
	int rc = get_object(s, key, &data, &len, NULL, err);
	/* Only our own lock: after an expiry another run may hold it now. */
	if (rc == SS_OK && data && ssi_s3_lock_parse(data, len, holder, sizeof(holder), &exp) == 0 &&
	    strcmp(holder, s->owner) == 0)
		rc = delete_object(s, key, err);
	free(data);
	free(key);
	free(s->owner);
	s->owner = NULL;
	return rc;
}

/* ---- Publishing a tree ------------------------------------------------------ */

struct want {
	char *rel;         /* tree-relative path */
	char *key;         /* full key */
	long long size;
	char sha256[65];
	const struct ss_item *it; /* an item naming it (borrowed from the tree), or NULL */
	int doc;           /* 0 item, 1 products file, 2 index */
};

struct wants {
	struct want *v;
	size_t n, alloc;
};

static int want_cmp_key(const void *a, const void *b)
{
	return strcmp(((const struct want *)a)->key, ((const struct want *)b)->key);
}

/* Items before products files before indexes; paths in order within each. */
static int want_cmp_order(const void *a, const void *b)
{
	const struct want *x = a, *y = b;
	if (x->doc != y->doc)
		return x->doc - y->doc;
	return strcmp(x->rel, y->rel);
}

static struct want *want_add(struct ss_s3 *s, struct wants *w, const char *rel)
{
	if (w->n == w->alloc) {
		size_t na = w->alloc ? w->alloc * 2 : 256;
		struct want *nv = realloc(w->v, na * sizeof(*nv));
		if (!nv)
			return NULL;
		w->v = nv;
		w->alloc = na;
	}
	struct want *e = &w->v[w->n];
	memset(e, 0, sizeof(*e));
	e->rel = strdup(rel);
	e->key = full_key(s, rel);
	if (!e->rel || !e->key) {
		free(e->rel);
		free(e->key);
		return NULL;
	}
	w->n++;
	return e;
}

static void wants_free(struct wants *w)
{
	for (size_t i = 0; i < w->n; i++) {
		free(w->v[i].rel);
		free(w->v[i].key);
	}
	free(w->v);
}

/* Every regular file under DIR/REL (the documents under streams/). */
static int add_docs(struct ss_s3 *s, struct wants *w, const char *root, const char *rel,
		    struct ss_error *err)
{
	char *dir = xasprintf("%s/%s", root, rel);
	if (!dir)
		return ssi_err(err, SS_FATAL, "out of memory");
	DIR *d = opendir(dir);
	if (!d) {
		int e = errno;
		free(dir);
		if (e == ENOENT && strcmp(rel, "streams") == 0)
			return ssi_err(err, SS_FATAL, "cannot publish '%s': no streams/ directory", root);
		return ssi_err_sys(err, SS_FATAL, e, "cannot read '%s/%s'", root, rel);
	}
	int rc = SS_OK;
	struct dirent *de;
	while (rc == SS_OK && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue; /* ., .., and temporary files */
		char *sub = xasprintf("%s/%s", rel, de->d_name);
		char *full = sub ? xasprintf("%s/%s", root, sub) : NULL;
		struct stat st;
		if (!full) {
			rc = ssi_err(err, SS_FATAL, "out of memory");
		} else if (lstat(full, &st) != 0) {
			rc = ssi_err_sys(err, SS_FATAL, errno, "cannot stat '%s'", full);
		} else if (S_ISDIR(st.st_mode)) {
			rc = add_docs(s, w, root, sub, err);
		} else if (S_ISREG(st.st_mode)) {
			struct ss_digest dg;
			struct want *e = NULL;
			if (ss_hash_file(full, SS_HASH_SHA256, &dg, err) != SS_OK)
				rc = SS_FATAL;
			else if (!(e = want_add(s, w, sub)))
				rc = ssi_err(err, SS_FATAL, "out of memory");
			if (e) {
				e->size = (long long)st.st_size;
				memcpy(e->sha256, dg.sha256, 65);
				e->doc = strncmp(de->d_name, "index.", 6) == 0 ? 2 : 1;
			}
		}
		free(sub);
		free(full);
	}
	closedir(d);
	free(dir);
	return rc;
}

/* The items the tree's documents name, each path once. */
static int want_cmp_rel(const void *a, const void *b)
{
	return strcmp(((const struct want *)a)->rel, ((const struct want *)b)->rel);
}

/* The items the tree's documents name, each path once; *TP keeps the tree
 * (the wants point into it). */
static int add_items(struct ss_s3 *s, struct wants *w, const char *root, struct ss_tree **tp,
		     struct ss_error *err)
{
	struct ss_tree *t = *tp = ss_tree_load(root, err);
	if (!t)
		return err ? err->code : SS_FATAL;
	int rc = SS_OK;
	size_t first = w->n;
	for (size_t i = 0; rc == SS_OK && i < ss_tree_nproducts(t); i++) {
		const struct ss_products *p = ss_tree_products(t, i);
		if (ss_products_check_paths(p, err) != SS_OK) {
			rc = SS_FATAL;
			break;
		}
		for (size_t j = 0; rc == SS_OK && j < ss_products_count(p); j++) {
			const struct ss_item *it = ss_products_item(p, j);
			const char *path = ss_item_str(it, "path");
			if (!path)
				continue;
			char *full = xasprintf("%s/%s", root, path);
			struct stat st;
			if (!full) {
				rc = ssi_err(err, SS_FATAL, "out of memory");
				break;
			}
			if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
				rc = ssi_err(err, SS_FATAL, "cannot publish '%s': the tree names it but it is missing",
					     full);
				free(full);
				break;
			}
			const char *sha = ss_item_str(it, "sha256");
			struct want *e = want_add(s, w, path);
			if (!e) {
				rc = ssi_err(err, SS_FATAL, "out of memory");
				free(full);
				break;
			}
			e->it = it;
			e->size = (long long)st.st_size;
			if (sha && strlen(sha) == 64) {
				memcpy(e->sha256, sha, 65);
				for (char *c = e->sha256; *c; c++)
					if (*c >= 'A' && *c <= 'F')
						*c = (char)(*c - 'A' + 'a');
			} else {
				/* No sha256 in the stream: the file's own, so the
				 * server still checks the bytes it gets. */
				struct ss_digest dg;
				if (ss_hash_file(full, SS_HASH_SHA256, &dg, err) != SS_OK)
					rc = SS_FATAL;
				memcpy(e->sha256, dg.sha256, 65);
			}
			long long isz = ss_item_get_int(it, "size");
			if (rc == SS_OK && isz >= 0 && isz != e->size)
				rc = ssi_err(err, SS_INTEGRITY, "'%s': size %lld, expected %lld", full, e->size, isz);
			free(full);
		}
	}
	/* One want per path (items share files across versions). */
	if (w->n > first) {
		qsort(w->v + first, w->n - first, sizeof(*w->v), want_cmp_rel);
		size_t k = first;
		for (size_t i = first; i < w->n; i++) {
			if (k > first && strcmp(w->v[k - 1].rel, w->v[i].rel) == 0) {
				free(w->v[i].rel);
				free(w->v[i].key);
				continue;
			}
			w->v[k++] = w->v[i];
		}
		w->n = k;
	}
	return rc;
}

static int save_state(struct ss_s3 *s, const char *key, const struct ssi_s3_state *st,
		      struct ss_error *err)
{
	size_t len;
	char *data = ssi_s3_state_dump(st, &len);
	if (!data)
		return ssi_err(err, SS_FATAL, "out of memory");
	int rc = put_buffer(s, key, data, len, "text/plain", "no-store", NULL, NULL, err);
	free(data);
	return rc;
}

/* Is the object already in the bucket with these bytes? */
static int have(const struct ssi_s3_list *l, const struct ssi_s3_state *st, const struct want *w)
{
	const struct ssi_s3_obj *o = ssi_s3_list_find(l, w->key);
	if (!o || o->size != w->size)
		return 0;
	const struct ssi_s3_sent *e = ssi_s3_state_sent(st, w->key);
	return e && e->size == w->size && strcmp(e->sha256, w->sha256) == 0;
}

/* The items to put, shared by the upload workers. */
struct pool {
	struct ss_s3 *s;
	const char *tree, *skey;
	struct want **todo;
	size_t n, next;
	struct ssi_s3_state *st;
	struct ss_s3_stats *stats;
	pthread_mutex_t mu;
	int rc;                 /* the first failure stops every worker */
	struct ss_error err;
	double last_save;
};

static void *upload_worker(void *arg)
{
	struct pool *p = arg;
	struct ss_s3 *s = p->s;
	worker_share_begin();
	for (;;) {
		pthread_mutex_lock(&p->mu);
		if (p->rc != SS_OK || p->next >= p->n) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		struct want *e = p->todo[p->next++];
		emit(s, SS_EV_ADD, e->rel, e->size, NULL);
		pthread_mutex_unlock(&p->mu);
		struct ss_error err;
		ss_error_clear(&err);
		int rc = lock_renew(s, &err);
		char *full = rc == SS_OK ? xasprintf("%s/%s", p->tree, e->rel) : NULL;
		if (rc == SS_OK && !full)
			rc = ssi_err(&err, SS_FATAL, "out of memory");
		if (rc == SS_OK && s->o->check_items && e->it) {
			/* A tree no mirror run checked: every hash first. */
			struct ss_digest d;
			rc = ss_hash_file(full, ss_item_hash_kinds(e->it) | SS_HASH_SHA256, &d, &err);
			if (rc == SS_OK)
				rc = ss_item_check(e->it, &d, &err);
		}
		if (rc == SS_OK)
			rc = put_file(s, e->key, full, e->size, e->sha256, &err);
		free(full);
		pthread_mutex_lock(&p->mu);
		if (rc == SS_OK && ssi_s3_state_add_sent(p->st, e->key, e->sha256, e->size) != 0)
			rc = ssi_err(&err, SS_FATAL, "out of memory");
		if (rc == SS_OK) {
			p->stats->uploaded++;
			p->stats->bytes_uploaded += e->size;
			/* Now and then, the state: a run killed midway does not
			 * put everything again. */
			if (ssi_now() - p->last_save > 30) {
				p->last_save = ssi_now();
				rc = save_state(s, p->skey, p->st, &err);
			}
		}
		if (rc != SS_OK && p->rc == SS_OK) {
			p->rc = rc;
			p->err = err;
		}
		pthread_mutex_unlock(&p->mu);
	}
	worker_share_end();
	return NULL;
}

/* Puts TODO with up to JOBS workers; the first failure (in ERR) wins. */
static int upload_items(struct ss_s3 *s, const char *tree, const char *skey, struct want **todo,
			size_t n, struct ssi_s3_state *st, struct ss_s3_stats *stats, struct ss_error *err)
{
	struct pool p = { .s = s, .tree = tree, .skey = skey, .todo = todo, .n = n, .st = st,
			  .stats = stats, .rc = SS_OK, .last_save = ssi_now() };
	pthread_mutex_init(&p.mu, NULL);
	int jobs = s->o->jobs > 0 ? s->o->jobs : 4;
	if ((size_t)jobs > n)
		jobs = (int)n;
	if (n)
		ssi_pool_run(jobs, upload_worker, &p);
	pthread_mutex_destroy(&p.mu);
	if (p.rc != SS_OK && err)
		*err = p.err;
	return p.rc;
}

int ss_s3_sync(struct ss_s3 *s, const char *tree, struct ss_s3_stats *stats, struct ss_error *err)
{
	struct ss_s3_stats dummy;
	if (!stats)
		stats = &dummy;
	memset(stats, 0, sizeof(*stats));
	size_t req0 = s->requests;
	struct wants w = { 0 };
	struct ss_tree *t = NULL;
	struct ssi_s3_list l = { 0 };
	struct ssi_s3_state st = { 0 }, next = { 0 };
	char *skey = full_key(s, ".sstream/state"), *sdata = NULL;
	size_t slen = 0;
	int rc, state_dirty = 0;
	if (!skey) {
		rc = ssi_err(err, SS_FATAL, "out of memory");
		goto out;
	}
	if ((rc = add_items(s, &w, tree, &t, err)) != SS_OK || (rc = add_docs(s, &w, tree, "streams", err)) != SS_OK)
		goto out;
	qsort(w.v, w.n, sizeof(*w.v), want_cmp_order);
	if ((rc = list_prefix(s, &l, err)) != SS_OK || (rc = get_object(s, skey, &sdata, &slen, NULL, err)) != SS_OK)
		goto out;
	if (sdata && ssi_s3_state_parse(sdata, slen, &st) != 0) {
		rc = ssi_err(err, SS_FATAL, "out of memory");
		goto out;
	}

	/* Items, then products files, then indexes: a reader never finds a
	 * name whose object is not there yet.  The first failure stops the
	 * run before any document goes up. */
	struct want **todo = calloc(w.n ? w.n : 1, sizeof(*todo));
	size_t ntodo = 0;
	if (!todo) {
		rc = ssi_err(err, SS_FATAL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < w.n && !w.v[i].doc; i++) {
		if (have(&l, &st, &w.v[i]))
			stats->kept++;
		else
			todo[ntodo++] = &w.v[i];
	}
	if (s->o->dry_run) {
		for (size_t i = 0; i < ntodo; i++) {
			emit(s, SS_EV_ADD, todo[i]->rel, todo[i]->size, NULL);
			stats->uploaded++;
			stats->bytes_uploaded += todo[i]->size;
		}
	} else if (ntodo) {
		rc = upload_items(s, tree, skey, todo, ntodo, &st, stats, err);
		state_dirty = 1;
		if (rc != SS_OK && stats->uploaded) {
			/* What did go up need not go again (best effort: the
			 * store may be what failed). */
			struct ss_error ignored;
			save_state(s, skey, &st, &ignored);
		}
	}
	free(todo);
	if (rc != SS_OK)
		goto out;
	for (size_t i = 0; i < w.n; i++) {
		struct want *e = &w.v[i];
		if (!e->doc)
			continue;
		if (have(&l, &st, e)) {
			stats->kept++;
			continue;
		}
		emit(s, SS_EV_ADD, e->rel, e->size, NULL);
		if (s->o->dry_run) {
			stats->uploaded++;
			stats->bytes_uploaded += e->size;
			continue;
		}
		if ((rc = lock_renew(s, err)) != SS_OK)
			goto out;
		if (e->doc == 2 && state_dirty) {
			/* Record the items before the index names them. */
			if ((rc = save_state(s, skey, &st, err)) != SS_OK)
				goto out;
			state_dirty = 0;
		}
		char *full = xasprintf("%s/%s", tree, e->rel), *data = NULL;
		size_t len = 0;
		if (!full) {
			rc = ssi_err(err, SS_FATAL, "out of memory");
			goto out;
		}
		rc = ss_fetch(full, 256u << 20, &data, &len, err);
		free(full);
		if (rc != SS_OK)
			goto out;
		char sha[65];
		sha256_hex(data, len, sha);
		if (strcmp(sha, e->sha256) != 0 || (long long)len != e->size) {
			free(data);
			rc = ssi_err(err, SS_TEMPFAIL, "'%s/%s' changed while it was published", tree, e->rel);
			goto out;
		}
		size_t nl = strlen(e->rel);
		const char *ctype = nl > 5 && strcmp(e->rel + nl - 5, ".json") == 0 ? "application/json"
										  : "text/plain; charset=utf-8";
		rc = put_buffer(s, e->key, data, len, ctype, CC_DOCS, s->o->acl, NULL, err);
		free(data);
		if (rc != SS_OK)
			goto out;
		stats->uploaded++;
		stats->bytes_uploaded += e->size;
		if (ssi_s3_state_add_sent(&st, e->key, e->sha256, e->size) != 0) {
			rc = ssi_err(err, SS_FATAL, "out of memory");
			goto out;
		}
		state_dirty = 1;
	}

	/* What the documents no longer name goes after the grace period,
	 * counted from the first run that saw it unnamed. */
	qsort(w.v, w.n, sizeof(*w.v), want_cmp_key);
	long long now = (long long)time(NULL);
	size_t plen = strlen(s->prefix);
	for (size_t i = 0; i < w.n; i++) {
		if (ssi_s3_state_add_sent(&next, w.v[i].key, w.v[i].sha256, w.v[i].size) != 0) {
			rc = ssi_err(err, SS_FATAL, "out of memory");
			goto out;
		}
	}
	for (size_t i = 0; i < l.n; i++) {
		const struct ssi_s3_obj *o = &l.objs[i];
		if (strncmp(o->key + plen, ".sstream/", 9) == 0)
			continue;
		struct want k = { .key = o->key };
		if (w.n && bsearch(&k, w.v, w.n, sizeof(k), want_cmp_key))
			continue;
		const struct ssi_s3_gone *g = ssi_s3_state_gone(&st, o->key);
		long long since = g ? g->since : now;
		if (now - since >= s->o->grace) {
			emit(s, SS_EV_REMOVE, o->key + plen, o->size, NULL);
			stats->deleted++;
			stats->bytes_deleted += o->size;
			if (s->o->dry_run)
				continue;
			if ((rc = lock_renew(s, err)) != SS_OK || (rc = delete_object(s, o->key, err)) != SS_OK)
				goto out;
			state_dirty = 1;
			continue;
		}
		const struct ssi_s3_sent *e = ssi_s3_state_sent(&st, o->key);
		if ((e && ssi_s3_state_add_sent(&next, o->key, e->sha256, e->size) != 0) ||
		    ssi_s3_state_add_gone(&next, o->key, since) != 0) {
			rc = ssi_err(err, SS_FATAL, "out of memory");
			goto out;
		}
		if (!g)
			state_dirty = 1;
	}
	/* Entries for objects gone from the bucket are dropped too. */
	if (next.nsent != st.nsent || next.ngone != st.ngone)
		state_dirty = 1;
	if (state_dirty && !s->o->dry_run)
		rc = save_state(s, skey, &next, err);
out:
	stats->requests = s->requests - req0;
	wants_free(&w);
	ss_tree_free(t);
	ssi_s3_list_free(&l);
	ssi_s3_state_free(&st);
	ssi_s3_state_free(&next);
	free(sdata);
	free(skey);
	return rc;
}
