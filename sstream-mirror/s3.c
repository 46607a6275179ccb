/* SPDX-License-Identifier: Apache-2.0 */
/* sstream-mirror into an S3 bucket: a local staging mirror, then a sync. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mirror.h"

/* mkdir -p; 0 or -1 with errno. */
static int mkdirs(const char *dir)
{
	char *d = strdup(dir);
	if (!d)
		return -1;
	for (char *p = d + 1;; p++) {
		if (*p == '/' || !*p) {
			char c = *p;
			*p = '\0';
			if (mkdir(d, 0700) != 0 && errno != EEXIST) {
				free(d);
				return -1;
			}
			if (!c)
				break;
			*p = c;
		}
	}
	free(d);
	return 0;
}

/* Who holds a lock: host:pid. */
static const char *owner_name(void)
{
	static char owner[400];
	char host[256] = "localhost";
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	snprintf(owner, sizeof(owner), "%s:%ld", host, (long)getpid());
	return owner;
}

/* The staging tree of bucket NAME under STATE_DIR (or the default state
 * directory); NULL when out of memory. */
static char *staging_dir(const char *state_dir, const char *name)
{
	char *base = NULL, *staging = NULL;
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	int n;
	if (state_dir)
		n = asprintf(&base, "%s", state_dir);
	else if (xdg && *xdg)
		n = asprintf(&base, "%s/sstream", xdg);
	else if (geteuid() == 0 || !home)
		n = asprintf(&base, "/var/lib/sstream");
	else
		n = asprintf(&base, "%s/.local/state/sstream", home);
	if (n < 0 || asprintf(&staging, "%s/%s", base, name) < 0)
		staging = NULL;
	free(base);
	return staging;
}

/* The staged mirror (a copy of O aimed at STAGING, with no grace: the
 * staging tree is not served; the bucket keeps what drops out of it for
 * the grace period) holds the documents only; the sync then streams each
 * item the bucket lacks from the source into it. */
static int stage_and_sync(const struct ss_mirror_opts *o, struct ss_s3 *s3, const char *staging,
			  struct ss_mirror_stats *st, struct ss_s3_stats *s3st, struct ss_error *err)
{
	struct ss_mirror_opts staged_opts = *o;
	staged_opts.target = staging;
	staged_opts.grace = 0;
	staged_opts.no_items = !o->dry_run; /* the staging tree: the documents only */
	int rc = ss_mirror(&staged_opts, st, err);
	/* A dry run on a first run has no staging tree to compare yet. */
	char *streams = NULL;
	struct stat sst;
	int staged = asprintf(&streams, "%s/streams", staging) >= 0 && stat(streams, &sst) == 0;
	free(streams);
	if ((rc == SS_OK || rc == SS_PARTIAL) && (staged || !o->dry_run)) {
		struct ss_error e2;
		ss_error_clear(&e2);
		int rc2 = ss_s3_sync_from(s3, staging, o->source, s3st, &e2);
		if (rc2 != SS_OK) {
			rc = rc2;
			*err = e2;
		}
	}
	return rc;
}

/*
 * The local mirror (every check, filter, signature, conditional GET) into
 * a staging tree under STATE_DIR named after the target, then ss_s3_sync
 * from there into the bucket, under the bucket's lock.  A local directory
 * mirrored whole is published straight, each item hashed (every hash)
 * before it is put.
 */
int mirror_s3(const struct ss_mirror_opts *o, struct ss_s3_opts *so, const char *state_dir,
	      struct ss_mirror_stats *st, struct ss_s3_stats *s3st, struct ss_error *err)
{
	memset(st, 0, sizeof(*st));
	so->deadline = o->max_time > 0 ? time(NULL) + o->max_time : 0;
	struct stat sst;
	int direct = !ss_is_url(o->source) && stat(o->source, &sst) == 0 && S_ISDIR(sst.st_mode) &&
		     ss_filter_count(o->filter) == 0 && o->max == 0 && !o->keyring && o->nmirrors == 0;
	if (direct)
		so->check_items = 1;
	struct ss_s3 *s3 = ss_s3_open(so, err);
	if (!s3)
		return err->code;
	int rc = SS_FATAL;
	char *staging = staging_dir(state_dir, ss_s3_name(s3));
	if (!staging) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		goto out;
	}
	if (!direct && mkdirs(staging) != 0) {
		snprintf(err->msg, sizeof(err->msg), "cannot create state directory '%s': %s", staging,
			 strerror(errno));
		goto out;
	}
	if (!o->dry_run && (rc = ss_s3_lock(s3, owner_name(), err)) != SS_OK)
		goto out;
	rc = direct ? ss_s3_sync(s3, o->source, s3st, err) : stage_and_sync(o, s3, staging, st, s3st, err);
	if (!o->dry_run) {
		struct ss_error e3;
		ss_error_clear(&e3);
		if (ss_s3_unlock(s3, &e3) != SS_OK && rc == SS_OK) {
			rc = e3.code;
			*err = e3;
		}
	}
out:
	ss_s3_close(s3);
	free(staging);
	return rc;
}
