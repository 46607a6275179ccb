/* SPDX-License-Identifier: Apache-2.0 */
/*
 * S3 object storage: the lock object (PREFIX.sstream/lock, created with
 * If-None-Match: *) and the keeper thread that renews it every third of
 * its lifetime.  Sits on the request client (s3_client.c) only.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3_client.h"

static long long lock_ttl(const struct ss_s3 *s)
{
	return s->o->lock_ttl > 0 ? s->o->lock_ttl : 3600;
}

static void *keeper_main(void *arg);

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
	char etag[80];
	int rc = ssi_s3_put(s, key, body, (size_t)n, "text/plain", "no-store", NULL,
			    create ? "If-None-Match: *" : NULL, etag, err);
	if (rc == SS_OK) {
		s->lock_expires = exp;
		memcpy(s->lock_etag, etag, sizeof(etag));
	}
	return rc;
}

/* The lock KEY is held: by whom, and until when?  SS_OK when the caller
 * may try again (released meanwhile, or expired and, in round 0, taken
 * over), else SS_TEMPFAIL naming the holder, or the error. */
static int held(struct ss_s3 *s, const char *key, int round, struct ss_error *err)
{
	char *data = NULL;
	size_t len = 0;
	char holder[256] = "unknown";
	long long exp = 0, mtime = -1;
	int rc = ssi_s3_get(s, key, &data, &len, &mtime, err);
	if (rc != SS_OK || !data)
		return rc;
	int ok = ssi_s3_lock_parse(data, len, holder, sizeof(holder), &exp) == 0;
	free(data);
	if (!ok && mtime >= 0) {
		/* Garbage or empty: no owner, no expiry.  It expires a lock
		 * period after it was written. */
		exp = mtime + lock_ttl(s);
		ok = 1;
		snprintf(holder, sizeof(holder), "a malformed lock object");
	}
	if (ok && exp < (long long)time(NULL) && round == 0)
		return ssi_s3_delete(s, key, err); /* expired: its run died */
	char when[64] = "?";
	time_t te = (time_t)exp;
	struct tm tm;
	if (ok && gmtime_r(&te, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return ssi_err(err, SS_TEMPFAIL, "'s3://%s/%s' is locked by %s until %s", s->bucket, key, holder, when);
}

int ss_s3_lock(struct ss_s3 *s, const char *owner, struct ss_error *err)
{
	char *key = ssi_s3_full_key(s, ".sstream/lock");
	if (!key)
		return ssi_err(err, SS_FATAL, "out of memory");
	free(s->owner);
	s->owner = strdup(owner);
	for (char *p = s->owner; p && *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	if (s->owner && strlen(s->owner) > 200)
		s->owner[200] = '\0'; /* what lock_body keeps: renewals compare it */
	int rc = -1;
	for (int round = 0; round < 2 && rc == -1; round++) {
		rc = write_lock(s, key, 1, err);
		if (rc == -1 && (rc = held(s, key, round, err)) == SS_OK)
			rc = -1; /* free again: one more try */
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
	ssi_s3_what(what, sizeof(what), "renew lock", s, key);
	struct ssi_s3_req g = { .method = "GET", .key = key, .keeper = 1 };
	static const long oks[] = { 200, 404, 0 };
	int rc = ssi_s3_perform(s, &g, oks, what, &e);
	char holder[256] = "", etag[80] = "";
	long long exp;
	int ours = rc == SS_OK && g.status == 200 && g.reply.data &&
		   ssi_s3_lock_parse(g.reply.data, g.reply.len, holder, sizeof(holder), &exp) == 0 &&
		   strcmp(holder, s->owner) == 0;
	ssi_s3_req_done(&g);
	long long nexp = (long long)time(NULL) + lock_ttl(s);
	if (rc == SS_OK && ours) {
		char body[LOCK_BODY_MAX], sha[65];
		size_t n = lock_body(s, nexp, body);
		ssi_s3_sha256_hex(body, n, sha);
		struct ssi_s3_req p = { .method = "PUT", .key = key, .sha256 = sha, .buf = body, .len = n, .keeper = 1 };
		p.headers[0] = "Content-Type: text/plain";
		p.headers[1] = "Cache-Control: no-store";
		rc = ssi_s3_perform(s, &p, NULL, what, &e);
		memcpy(etag, p.etag, sizeof(etag));
		ssi_s3_req_done(&p);
	}
	pthread_mutex_lock(&s->mu);
	if (rc == SS_OK && ours) {
		s->lock_expires = nexp;
		memcpy(s->lock_etag, etag, sizeof(etag));
	} else {
		if (ours)
			s->lock_etag[0] = '\0'; /* written or not: unknown */
		if ((rc == SS_OK && !ours) || (long long)time(NULL) >= s->lock_expires)
			s->lock_lost = 1; /* taken over, or expired before we could renew */
	}
	pthread_mutex_unlock(&s->mu);
}

static void *keeper_main(void *arg)
{
	struct ss_s3 *s = arg;
	char *key = ssi_s3_full_key(s, ".sstream/lock");
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

void ssi_s3_keeper_stop(struct ss_s3 *s)
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
int ssi_s3_lock_check(struct ss_s3 *s, struct ss_error *err)
{
	if (!s->owner)
		return SS_OK;
	pthread_mutex_lock(&s->mu);
	int lost = s->lock_lost || (long long)time(NULL) >= s->lock_expires;
	pthread_mutex_unlock(&s->mu);
	if (ssi_s3_past_deadline(s))
		return ssi_err(err, SS_TEMPFAIL, "'s3://%s/%s': the run's time limit (--max-time) is up",
			       s->bucket, s->prefix);
	if (lost)
		return ssi_err(err, SS_TEMPFAIL, "lost the lock of 's3://%s/%s.sstream/lock' (expired or taken over)",
			       s->bucket, s->prefix);
	return SS_OK;
}

/* Is the lock KEY still the object we last wrote (its ETag)?  *STATE: 1
 * yes, 2 gone, 0 not known (then its body tells).  A HEAD: RGW sends a
 * small GET's body 40 ms after its headers (Nagle against the client's
 * delayed ACK); a HEAD has none. */
static int lock_unchanged(struct ss_s3 *s, const char *key, int *state, struct ss_error *err)
{
	*state = 0;
	if (!s->lock_etag[0])
		return SS_OK;
	char what[512];
	ssi_s3_what(what, sizeof(what), "check", s, key);
	struct ssi_s3_req h = { .method = "HEAD", .key = key };
	static const long oks[] = { 200, 404, 0 };
	int rc = ssi_s3_perform(s, &h, oks, what, err);
	if (rc == SS_OK)
		*state = h.status == 404 ? 2 : strcmp(h.etag, s->lock_etag) == 0;
	ssi_s3_req_done(&h);
	return rc;
}

int ss_s3_unlock(struct ss_s3 *s, struct ss_error *err)
{
	ssi_s3_keeper_stop(s);
	if (!s->owner)
		return SS_OK;
	char *key = ssi_s3_full_key(s, ".sstream/lock");
	if (!key)
		return ssi_err(err, SS_FATAL, "out of memory");
	char *data = NULL, holder[256];
	size_t len = 0;
	long long exp;
	/* Only our own lock: after an expiry another run may hold it now. */
	int state, rc = lock_unchanged(s, key, &state, err);
	if (rc == SS_OK && state == 1) {
		rc = ssi_s3_delete(s, key, err);
	} else if (rc == SS_OK && state == 0 && (rc = ssi_s3_get(s, key, &data, &len, NULL, err)) == SS_OK && data &&
		   ssi_s3_lock_parse(data, len, holder, sizeof(holder), &exp) == 0 &&
		   strcmp(holder, s->owner) == 0) {
		rc = ssi_s3_delete(s, key, err);
	}
	free(data);
	free(key);
	free(s->owner);
	s->owner = NULL;
	return rc;
}

