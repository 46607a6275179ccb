/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The verify workers: each job's file read once (local) or fetched once
 * (remote, deep), through every hash its items name and the combined
 * fingerprints it takes part in; or, remote and not deep, a HEAD for its
 * existence and size.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "curl_internal.h"
#include "verify_internal.h"

static void feed(struct vjob *j, struct ss_hasher *h, const void *data, size_t len)
{
	ss_hasher_update(h, data, len);
	for (size_t i = 0; i < j->ncombos; i++)
		if (j->combos[i].h)
			ss_hasher_update(j->combos[i].h, data, len);
	j->bytes += (long long)len;
}

struct curl_ctx {
	struct vjob *j;
	struct ss_hasher *h;
};

static int fd_feed(void *ud, const void *buf, size_t len)
{
	struct curl_ctx *c = ud;
	feed(c->j, c->h, buf, len);
	return SS_OK;
}

static void hash_local(struct vjob *j, struct ss_hasher *h)
{
	int fd = open(j->loc, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		j->failed = 1;
		snprintf(j->reason, sizeof(j->reason), "%s", errno == ENOENT ? "missing" : strerror(errno));
		return;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	struct curl_ctx c = { j, h };
	struct ss_error e;
	ss_error_clear(&e);
	if (ssi_read_fd(fd, -1, j->loc, fd_feed, &c, NULL, &e) != SS_OK) {
		j->failed = 1;
		if (e.sys_errno)
			snprintf(j->reason, sizeof(j->reason), "cannot read: %s", strerror(e.sys_errno));
		else
			snprintf(j->reason, sizeof(j->reason), "out of memory");
	}
	close(fd);
}

static size_t curl_feed(char *ptr, size_t size, size_t n, void *ud)
{
	struct curl_ctx *c = ud;
	feed(c->j, c->h, ptr, size * n);
	return size * n;
}

/* HEAD (existence and size) or, deep, GET streamed through the hashes;
 * over the worker's connections CONNS (may be NULL). */
static void check_remote(struct vrun *r, struct vjob *j, struct ss_hasher *h, int deep, struct ssi_conns *conns)
{
	char ebuf[CURL_ERROR_SIZE];
	CURL *e = ssi_curl_easy(j->loc, r->o->timeout, r->o->ca_file, ebuf);
	if (!e) {
		j->failed = 1;
		snprintf(j->reason, sizeof(j->reason), "out of memory");
		return;
	}
	struct curl_ctx c = { j, h };
	curl_easy_setopt(e, CURLOPT_FAILONERROR, 1L);
	if (conns)
		curl_easy_setopt(e, CURLOPT_SHARE, (CURLSH *)conns);
	if (deep) {
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, curl_feed);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, &c);
		curl_easy_setopt(e, CURLOPT_BUFFERSIZE, ssi_curl_bufsize(ss_item_get_int(j->items[0], "size")));
	} else {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	}
	CURLcode rc = curl_easy_perform(e);
	long status = 0;
	curl_off_t clen = -1;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(e, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &clen);
	if (rc != CURLE_OK) {
		j->failed = 1;
		if (rc == CURLE_HTTP_RETURNED_ERROR)
			snprintf(j->reason, sizeof(j->reason), "HTTP %ld", status);
		else
			snprintf(j->reason, sizeof(j->reason), "%s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
	} else if (!deep) {
		long long want = ss_item_get_int(j->items[0], "size");
		if (want >= 0 && clen >= 0 && (long long)clen != want) {
			j->failed = 1;
			snprintf(j->reason, sizeof(j->reason), "size %lld, expected %lld", (long long)clen, want);
		}
	}
	curl_easy_cleanup(e);
}

static void run_job(struct vrun *r, struct vjob *j, struct ssi_conns *conns)
{
	struct ss_hasher *h = ss_hasher_new(j->kinds);
	if (!h) {
		j->failed = 1;
		snprintf(j->reason, sizeof(j->reason), "out of memory");
		return;
	}
	int deep = !r->remote || r->o->deep;
	if (r->remote)
		check_remote(r, j, h, r->o->deep, conns);
	else
		hash_local(j, h);
	if (!j->failed && deep) {
		struct ss_digest d;
		ss_hasher_final(h, &d);
		for (size_t i = 0; i < j->nitems && !j->failed; i++) {
			struct ss_error e;
			ss_error_clear(&e);
			if (ss_item_check(j->items[i], &d, &e) != SS_OK) {
				j->failed = 1;
				/* the message starts with the quoted path: keep the reason */
				const char *why = strstr(e.msg, "': ");
				snprintf(j->reason, sizeof(j->reason), "%s", why ? why + 3 : e.msg);
			}
		}
		for (size_t i = 0; i < j->ncombos && !j->failed; i++) {
			struct combo *c = &j->combos[i];
			if (!c->h)
				continue;
			struct ss_digest cd;
			ss_hasher_final(c->h, &cd);
			if (strcasecmp(cd.sha256, c->expect) != 0) {
				j->failed = 1;
				snprintf(j->reason, sizeof(j->reason), "%s (with %s) is %s, expected %s", c->field,
					 c->meta_path, cd.sha256, c->expect);
			}
		}
	}
	ss_hasher_free(h);
}

/* Each worker keeps its connections from one file to the next (a new
 * TCP and TLS handshake per file was most of a remote check's time). */
static void *worker(void *arg)
{
	struct vrun *r = arg;
	struct ssi_conns *conns = r->remote ? ssi_conns_new() : NULL;
	for (;;) {
		size_t i = __atomic_fetch_add(&r->next, 1, __ATOMIC_RELAXED);
		if (i >= r->njobs)
			break;
		run_job(r, &r->jobs[i], conns);
	}
	ssi_conns_free(conns);
	return NULL;
}

int ssi_verify_run_all(struct vrun *r)
{
	long n = r->o->jobs > 0 ? r->o->jobs : sysconf(_SC_NPROCESSORS_ONLN);
	if (r->remote && r->o->jobs <= 0)
		n = 8; /* waiting on the network, not on a core */
	if (n < 1)
		n = 1;
	if ((size_t)n > r->njobs)
		n = r->njobs ? (long)r->njobs : 1;
	if (r->remote && ssi_curl_init() != 0)
		return ssi_err(r->err, SS_FATAL, "libcurl initialisation failed");
	ssi_pool_run((int)n, worker, r);
	return SS_OK;
}
