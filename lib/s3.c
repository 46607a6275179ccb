/* SPDX-License-Identifier: Apache-2.0 */
/*
 * S3-compatible object storage: opening a target (s3://BUCKET[/PREFIX],
 * the endpoint and addressing style, the region, credentials from the
 * environment or ~/.aws/credentials) and closing it.  The requests are
 * in s3_client.c, the lock in s3_lock.c, publishing in s3_sync.c; see
 * s3_client.h for how they sit on each other.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3_client.h"

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
		s->userpwd = ssi_s3_asprintf("%s:%s", ak, sk);
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
		path = ssi_s3_asprintf("%s/.aws/credentials", home ? home : "");
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
		s->userpwd = ssi_s3_asprintf("%s:%s", a, k);
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

/* s3://BUCKET[/PREFIX] into S's url, bucket and prefix. */
static int parse_target(struct ss_s3 *s, const char *t, struct ss_error *err)
{
	if (!t || strncmp(t, "s3://", 5) != 0 || !t[5] || t[5] == '/')
		return ssi_err(err, SS_USAGE, "bad target '%s': not s3://BUCKET[/PREFIX]", t ? t : "");
	s->url = strdup(t);
	const char *b = t + 5, *slash = strchr(b, '/');
	s->bucket = slash ? ssi_strndup(b, (size_t)(slash - b)) : strdup(b);
	const char *pre = slash ? slash + 1 : "";
	size_t pl = strlen(pre);
	while (pl && pre[pl - 1] == '/')
		pl--;
	s->prefix = pl ? ssi_s3_asprintf("%.*s/", (int)pl, pre) : strdup("");
	if (!s->url || !s->bucket || !s->prefix)
		return ssi_err(err, SS_FATAL, "out of memory");
	for (const char *p = s->bucket; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		      *p == '_' || (*p >= 'A' && *p <= 'Z')))
			return ssi_err(err, SS_USAGE, "bad target '%s': bad bucket name", t);
	if (pl) {
		/* The prefix is a path in the bucket: the same rules as tree paths. */
		char *bare = ssi_strndup(s->prefix, pl);
		int bad = !bare || ss_path_check(bare, NULL) != SS_OK;
		free(bare);
		if (bad)
			return ssi_err(err, SS_USAGE, "bad target '%s': unsafe prefix", t);
	}
	return SS_OK;
}

/* The first of A, then the environment variables ENV1 and ENV2 that is
 * set and not empty, or NULL. */
static const char *setting(const char *a, const char *env1, const char *env2)
{
	if (!a || !*a)
		a = getenv(env1);
	if ((!a || !*a) && env2)
		a = getenv(env2);
	return a && *a ? a : NULL;
}

/* Region, endpoint, the base URL (path-style or virtual-host) and the
 * file-name-safe name of the target. */
static int set_endpoint(struct ss_s3 *s, const struct ss_s3_opts *o, struct ss_error *err)
{
	const char *region = setting(o->region, "AWS_REGION", "AWS_DEFAULT_REGION");
	if (!region)
		region = "us-east-1";
	s->region = strdup(region);
	s->sigv4 = ssi_s3_asprintf("aws:amz:%s:s3", region);
	const char *ep = setting(o->endpoint, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL");
	int vhost = o->addressing == SS_S3_VHOST || (o->addressing == SS_S3_AUTO && !ep);
	char *aws = NULL;
	if (!ep)
		ep = aws = ssi_s3_asprintf("https://s3.%s.amazonaws.com", region);
	if (!ep || (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0)) {
		int rc = ssi_err(err, SS_USAGE, "bad S3 endpoint '%s': not an http(s) URL", ep ? ep : "");
		free(aws);
		return rc;
	}
	size_t el = strlen(ep);
	while (el && ep[el - 1] == '/')
		el--;
	const char *host = strstr(ep, "://") + 3;
	int hl = (int)(el - (size_t)(host - ep));
	if (vhost)
		s->base = ssi_s3_asprintf("%.*s%s.%.*s", (int)(host - ep), ep, s->bucket, hl, host);
	else
		s->base = ssi_s3_asprintf("%.*s/%s", (int)el, ep, s->bucket);
	/* The name of local state for this target: host, bucket, prefix. */
	s->name = ssi_s3_asprintf("%.*s_%s_%s", hl, host, s->bucket, s->prefix);
	free(aws);
	if (!s->region || !s->sigv4 || !s->base || !s->name)
		return ssi_err(err, SS_FATAL, "out of memory");
	for (char *p = s->name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '.'))
			*p = '_';
	return SS_OK;
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
	if (parse_target(s, o->target, err) != SS_OK || set_endpoint(s, o, err) != SS_OK ||
	    load_credentials(s, err) != SS_OK) {
		ss_s3_close(s);
		return NULL;
	}
	/* One thread uses the handle: the share needs no lock callbacks. */
	s->share = ssi_curl_share();
	return s;
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
	ssi_s3_keeper_stop(s); /* before the owner it compares goes */
	free(s->owner);
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

