/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fetching whole documents: the only libcurl user.  Local paths and file://
 * URLs are read directly; http(s) goes through a curl easy handle with a
 * size cap, timeouts and redirects restricted to http/https.
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "internal.h"
#include "curl_internal.h"

int ss_is_url(const char *s)
{
	return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0 ||
	       strncmp(s, "file://", 7) == 0;
}

int ssi_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* file:///a/b%20c -> /a/b c; NULL when not a local file URL. */
static char *file_url_path(const char *url)
{
	const char *p = url + 7;
	if (strncmp(p, "localhost/", 10) == 0)
		p += 9;
	if (*p != '/')
		return NULL;
	char *out = malloc(strlen(p) + 1), *o = out;
	if (!out)
		return NULL;
	for (; *p; p++) {
		int h, l;
		if (*p == '%' && (h = ssi_hexval(p[1])) >= 0 && (l = ssi_hexval(p[2])) >= 0) {
			*o++ = (char)(h * 16 + l);
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

static int read_local(const char *path, size_t cap, char **data, size_t *len,
		      struct ss_error *err)
{
	int rc = SS_FATAL;
	char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ssi_err_sys(err, SS_FATAL, errno, "cannot open '%s'", path);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		ssi_err_sys(err, SS_FATAL, errno, "cannot stat '%s'", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ssi_err(err, SS_FATAL, "cannot read '%s': not a regular file", path);
		goto out;
	}
	if ((size_t)st.st_size > cap) {
		ssi_err(err, SS_FATAL, "cannot read '%s': larger than %zu bytes", path, cap);
		goto out;
	}
	size_t size = (size_t)st.st_size, got = 0;
	buf = malloc(size + 1);
	if (!buf) {
		ssi_err(err, SS_FATAL, "cannot read '%s': out of memory", path);
		goto out;
	}
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ssi_err_sys(err, SS_FATAL, errno, "cannot read '%s'", path);
			goto out;
		}
		if (n == 0)
			break; /* shrank while we read: take what is there */
		got += (size_t)n;
	}
	buf[got] = '\0';
	*data = buf;
	*len = got;
	buf = NULL;
	rc = SS_OK;
out:
	free(buf);
	close(fd);
	return rc;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int ssi_curl_init(void)
{
	pthread_once(&curl_once, curl_init);
	return curl_init_rc == CURLE_OK ? 0 : -1;
}


/* A response's cache validators, as sent (bounded, printable). */
/* Copies header VALUE (LEN bytes, trailing blanks dropped) to OUT when it
 * is printable ASCII without tabs and fits; else leaves OUT empty. */
static void header_value(const char *value, size_t len, char *out, size_t size)
{
	while (len && (*value == ' ' || *value == '\t'))
		value++, len--;
	while (len && (value[len - 1] == '\r' || value[len - 1] == '\n' || value[len - 1] == ' '))
		len--;
	out[0] = '\0';
	if (len == 0 || len >= size)
		return;
	for (size_t i = 0; i < len; i++)
		if (value[i] < 0x20 || value[i] > 0x7e)
			return;
	memcpy(out, value, len);
	out[len] = '\0';
}

void ssi_parse_header(const char *line, size_t len, struct ssi_header *h)
{
	static const struct {
		const char *name;
		size_t off, size;
	} known[] = {
		{ "etag:", offsetof(struct ssi_header, etag), sizeof(((struct ssi_header *)0)->etag) },
		{ "last-modified:", offsetof(struct ssi_header, last_modified),
		  sizeof(((struct ssi_header *)0)->last_modified) },
	};
	/* A new status line: the headers of a redirect do not count. */
	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		memset(h, 0, sizeof(*h));
		h->range_start = -1;
		return;
	}
	/* Only "bytes FIRST-LAST/TOTAL" with FIRST <= LAST < TOTAL (lib/httphdr.c). */
	long long start;
	if (ssi_http_content_range(line, len, &start)) {
		h->range_start = start;
		return;
	}
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		size_t n = strlen(known[i].name);
		if (len > n && strncasecmp(line, known[i].name, n) == 0)
			header_value(line + n, len - n, (char *)h + known[i].off, known[i].size);
	}
}

static size_t validators_cb(char *buf, size_t size, size_t n, void *ud)
{
	ssi_parse_header(buf, size * n, ud);
	return size * n;
}

size_t ssi_membuf_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct ssi_membuf *m = ud;
	size_t n = size * nmemb;
	if (m->len + n > m->cap) {
		m->over = 1;
		return 0; /* makes curl abort with CURLE_WRITE_ERROR */
	}
	if (m->len + n + 1 > m->alloc) {
		size_t na = m->alloc ? m->alloc : 65536;
		while (na < m->len + n + 1)
			na *= 2;
		char *nd = realloc(m->data, na);
		if (!nd)
			return 0;
		m->data = nd;
		m->alloc = na;
	}
	memcpy(m->data + m->len, ptr, n);
	m->len += n;
	m->data[m->len] = '\0';
	return n;
}

int ssi_curl_transient(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
		return 1;
	default:
		return 0;
	}
}

long ssi_curl_bufsize(long long size)
{
	const long big = 512L * 1024, least = 16L * 1024;
	if (size < 0 || size >= big)
		return big;
	/* (a 200-byte reply still gets curl's default: its headers come too) */
	return size <= least ? least : (long)((size + least - 1) / least * least);
}

CURL *ssi_curl_easy(const char *url, long timeout, const char *ca_file, char *ebuf)
{
	CURL *h = curl_easy_init();
	if (!h)
		return NULL;
	if (timeout <= 0)
		timeout = 30;
	curl_easy_setopt(h, CURLOPT_URL, url);
	/* Never let a server send us to file:// or any other scheme. */
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, SS_USER_AGENT);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, timeout);
	/* A stalled server: too little for TIMEOUT s ends the transfer. */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, SSI_STALL_BYTES);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, timeout);
	if (ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
	if (ebuf) {
		ebuf[0] = '\0';
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	}
	return h;
}

/* A document request has a deadline of its own: twenty stall-limit
 * periods (--timeout), and never past the run's deadline.  Seconds. */
static long doc_time_limit(const struct ss_fetch_opts *o)
{
	long limit = 20 * (o && o->timeout > 0 ? o->timeout : 30);
	if (o && o->deadline) {
		long left = (long)(o->deadline - time(NULL));
		if (left < 1)
			left = 1;
		if (left < limit)
			limit = left;
	}
	return limit;
}

CURLSH *ssi_curl_share(void)
{
	if (ssi_curl_init() != 0)
		return NULL;
	CURLSH *sh = curl_share_init();
	if (sh && (curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK ||
		   curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
		   curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK)) {
		curl_share_cleanup(sh);
		sh = NULL;
	}
	return sh;
}

struct ssi_conns *ssi_conns_new(void)
{
	return (struct ssi_conns *)ssi_curl_share();
}

void ssi_conns_free(struct ssi_conns *c)
{
	if (c)
		curl_share_cleanup((CURLSH *)c);
}

static int fetch_http(const char *url, size_t cap, const struct ss_fetch_opts *o, struct ssi_conns *conns,
		      char **data, size_t *len, struct ss_error *err)
{
	if (ssi_curl_init() != 0)
		return ssi_err(err, SS_FATAL, "cannot fetch '%s': libcurl initialisation failed", url);
	char ebuf[CURL_ERROR_SIZE];
	CURL *h = ssi_curl_easy(url, o ? o->timeout : 0, o ? o->ca_file : NULL, ebuf);
	if (!h)
		return ssi_err(err, SS_FATAL, "cannot fetch '%s': out of memory", url);
	if (conns)
		curl_easy_setopt(h, CURLOPT_SHARE, (CURLSH *)conns);
	struct ssi_membuf m = { .cap = cap };
	curl_easy_setopt(h, CURLOPT_TIMEOUT, doc_time_limit(o));
	struct ssi_header hdr = { 0 };
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, ssi_membuf_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &m);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, validators_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &hdr);
	int rc = SS_OK;
	CURLcode c = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (err)
		err->http_status = status;
	if (m.over) {
		rc = ssi_err(err, SS_FATAL, "cannot fetch '%s': larger than %zu bytes", url, cap);
	} else if (c != CURLE_OK) {
		rc = ssi_err(err, ssi_curl_transient(c) ? SS_TEMPFAIL : SS_FATAL, "cannot fetch '%s': %s", url,
			     ebuf[0] ? ebuf : curl_easy_strerror(c));
	} else if (status >= 400) {
		rc = ssi_err(err, status >= 500 || status == 429 ? SS_TEMPFAIL : SS_FATAL,
			     "cannot fetch '%s': HTTP %ld", url, status);
	} else if (status == 304) {
		/* We did not ask conditionally: the server is confused. */
		rc = ssi_err(err, SS_FATAL, "cannot fetch '%s': 304 Not Modified to an unconditional request",
			     url);
	} else if (o && o->validators) {
		o->validators(o->ud, url, hdr.etag[0] ? hdr.etag : NULL,
			      hdr.last_modified[0] ? hdr.last_modified : NULL);
	}
	if (err)
		err->http_status = status;
	curl_easy_cleanup(h);
	if (rc != SS_OK) {
		free(m.data);
		return rc;
	}
	if (!m.data && !(m.data = malloc(1)))
		return ssi_err(err, SS_FATAL, "cannot fetch '%s': out of memory", url);
	m.data[m.len] = '\0';
	*data = m.data;
	*len = m.len;
	return SS_OK;
}

int ssi_fetch_unchanged(const char *const *urls, const char *const *etags,
			const char *const *last_modified, size_t n, const struct ss_fetch_opts *o)
{
	if (n == 0 || ssi_curl_init() != 0)
		return 0;
	char ebuf[CURL_ERROR_SIZE];
	int unchanged = 1;
	/* One handle for all: its connection is reused. */
	CURL *h = NULL;
	for (size_t i = 0; unchanged && i < n; i++) {
		if (!ss_is_url(urls[i]) || strncmp(urls[i], "file://", 7) == 0 ||
		    (!etags[i] && !last_modified[i])) {
			unchanged = 0;
			break;
		}
		if (!h && !(h = ssi_curl_easy(urls[i], o ? o->timeout : 0, o ? o->ca_file : NULL, ebuf)))
			return 0;
		char inm[300], ims[100];
		struct curl_slist *hl = NULL;
		if (etags[i]) {
			snprintf(inm, sizeof(inm), "If-None-Match: %s", etags[i]);
			hl = curl_slist_append(hl, inm);
		} else {
			snprintf(ims, sizeof(ims), "If-Modified-Since: %s", last_modified[i]);
			hl = curl_slist_append(hl, ims);
		}
		if (!hl) {
			unchanged = 0;
			break;
		}
		curl_easy_setopt(h, CURLOPT_URL, urls[i]);
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
		curl_easy_setopt(h, CURLOPT_TIMEOUT, doc_time_limit(o));
		CURLcode c = curl_easy_perform(h);
		long status = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		unchanged = c == CURLE_OK && status == 304;
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
		curl_slist_free_all(hl);
	}
	if (h)
		curl_easy_cleanup(h);
	return unchanged;
}

int ss_fetch(const char *location, size_t cap, char **data, size_t *len,
	     struct ss_error *err)
{
	return ss_fetch_ex(location, cap, NULL, data, len, err);
}

int ss_fetch_ex(const char *location, size_t cap, const struct ss_fetch_opts *o, char **data,
		size_t *len, struct ss_error *err)
{
	return ssi_fetch_conns(location, cap, o, NULL, data, len, err);
}

int ssi_fetch_conns(const char *location, size_t cap, const struct ss_fetch_opts *o, struct ssi_conns *conns,
		    char **data, size_t *len, struct ss_error *err)
{
	if (strncmp(location, "file://", 7) == 0) {
		char *path = file_url_path(location);
		if (!path)
			return ssi_err(err, SS_FATAL, "cannot fetch '%s': not a local file URL", location);
		int rc = read_local(path, cap, data, len, err);
		free(path);
		return rc;
	}
	if (ss_is_url(location)) {
		/* Temporary failures are retried after 0.5 s, 1 s, 2 s ... (10 s at most). */
		int rc, tries = 0;
		while ((rc = fetch_http(location, cap, o, conns, data, len, err)) == SS_TEMPFAIL && o &&
		       tries < o->retries && (!o->deadline || time(NULL) < o->deadline)) {
			ssi_sleep_ms(ssi_backoff_ms(tries++));
		}
		return rc;
	}
	return read_local(location, cap, data, len, err);
}
