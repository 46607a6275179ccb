/* SPDX-License-Identifier: Apache-2.0 */
/* sstream-mirror: mirror a simplestreams tree into a local directory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mirror.h"
#include "options.h"
#include "sstream.h"
#include "tool.h"

static const struct tool_cmd mirror_cmd = {
	"sstream-mirror", NULL, "usage: sstream-mirror [OPTIONS] SOURCE TARGET [FILTER...]\n",
	"Mirror SOURCE (a URL, a directory or a remote such as ubuntu:) into the\n"
	"directory TARGET or s3://BUCKET/PREFIX, incrementally.  FILTER: KEY=VALUE,\n"
	"KEY!=VALUE, KEY~REGEX, KEY!~REGEX; TARGET's products others select stay.\n",
	"Exit status: 0 ok; 1 partial (some items failed, a document or --report\n"
	"could not be written; the tree is consistent); 2 fatal (TARGET untouched);\n"
	"3 integrity (bad signature); 64 usage; 75 temporary (network, server\n"
	"error, another run holds TARGET's lock).  See sstream-mirror(1) and sstream-filters(7).\n",
};

struct mirror_args {
	struct ss_mirror_opts o;
	struct ss_s3_opts so;
	long long max, jobs, retries, timeout, max_time, grace;
	int verbosity, no_verify, progress, no_checksumming, ca_file_given, no_html, unsign;
	int s3;                 /* TARGET is s3://BUCKET/PREFIX */
	const char *report, *metrics, *state_dir, *path, *log_file, *sign_key;
	struct tool_list mirrors;
};

static void list_remotes(void)
{
	size_t n;
	const struct ss_remote *r = ss_remotes(&n);
	char name[64];
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s:", r[i].name);
		printf("%-22s %-50s %s\n", name, r[i].url, r[i].keyring ? r[i].keyring : "-");
	}
	exit(SS_OK);
}

#define OPT(name, letter, kind, value, arg, help, min, max) \
	{ name, letter, kind, value, arg, help, min, max, 0, NULL, NULL }

static int parse_args(int argc, char **argv, struct mirror_args *a)
{
	struct ss_mirror_opts *o = &a->o;
	struct ss_s3_opts *so = &a->so;
	const struct tool_opt opts[] = {
		OPT("max", 'm', TOOL_OPT_NUMBER, &a->max, "N", "keep the N newest versions of each product", 0, 0x7fffffff),
		OPT("keep", 0, TOOL_OPT_FLAG, &o->keep, NULL, "keep versions gone upstream while fewer than N remain", 0, 0),
		OPT("delete-excluded", 0, TOOL_OPT_FLAG, &o->delete_excluded, NULL,
		    "also remove what the filters do not select", 0, 0),
		OPT("max-delete", 0, TOOL_OPT_NUMBER, &o->max_delete, "N",
		    "delete nothing when more than N files would go", 1, 0x7fffffffffffffffLL),
		OPT("keyring", 0, TOOL_OPT_STRING, &o->keyring, "FILE", "index and products files must be signed by FILE", 0, 0),
		OPT("no-verify", 'U', TOOL_OPT_FLAG, &a->no_verify, NULL, "do not check signatures (even of a remote)", 0, 0),
		OPT("sign-key", 0, TOOL_OPT_STRING, &a->sign_key, "ID", "sign TARGET's view with this key of $GNUPGHOME (remembered)", 0, 0),
		OPT("unsign", 0, TOOL_OPT_FLAG, &a->unsign, NULL, "forget the key, drop TARGET's own signed view", 0, 0),
		OPT("path", 0, TOOL_OPT_STRING, &a->path, "PATH", "start at this index or products file under SOURCE", 0, 0),
		{ "list-remotes", 0, TOOL_OPT_ACTION, NULL, NULL, "the remote names SOURCE may be, their URLs and keyrings", 0, 0, 0, NULL, list_remotes },
		TOOL_OPT_DRY_RUN(&o->dry_run),
		OPT("no-item-download", 0, TOOL_OPT_FLAG, &o->no_items, NULL, "mirror the metadata only", 0, 0),
		OPT("check-existing", 0, TOOL_OPT_FLAG, &o->check_existing, NULL, "re-hash files already in TARGET", 0, 0),
		OPT("no-checksumming-reader", 0, TOOL_OPT_FLAG, &a->no_checksumming, NULL, "accepted (upstream's); hashes are still checked", 0, 0),
		OPT("jobs", 'j', TOOL_OPT_NUMBER, &a->jobs, "N", "parallel transfers (default 4)", 1, 64),
		OPT("mirror", 0, TOOL_OPT_LIST, &a->mirrors, "URL", "a fallback source for items (repeatable)", 0, 0),
		OPT("limit-rate", 0, TOOL_OPT_SIZE, &o->limit_rate, "RATE", "bytes/s for all transfers (suffix k, m, g)", 0, 0),
		OPT("max-item-size", 0, TOOL_OPT_SIZE, &o->max_item_size, "SIZE",
		    "fetch items with no size up to SIZE (default: refuse)", 1, 0),
		OPT("retries", 0, TOOL_OPT_NUMBER, &a->retries, "N", "retries of a failing transfer (default 3)", 0, 0x7fffffff),
		OPT("timeout", 0, TOOL_OPT_NUMBER, &a->timeout, "SECONDS", "connect timeout and stall limit (default 30)", 1, 0x7fffffff),
		OPT("max-time", 0, TOOL_OPT_DURATION, &a->max_time, "DURATION", "give up (exit 75) after this long (default 24h)", 0, 0),
		OPT("ca-file", 0, TOOL_OPT_STRING, &o->ca_file, "FILE", "CA certificates (default $SSL_CERT_FILE, $CURL_CA_BUNDLE)", 0, 0),
		OPT("grace", 0, TOOL_OPT_DURATION, &a->grace, "DURATION", "how long a file dropped from the index stays (1h)", 0, 0),
		OPT("report", 0, TOOL_OPT_STRING, &a->report, "FILE", "write a JSON summary to FILE", 0, 0),
		OPT("metrics", 0, TOOL_OPT_STRING, &a->metrics, "FILE", "write the run's metrics to FILE (Prometheus text)", 0, 0),
		OPT("no-history", 0, TOOL_OPT_FLAG, &o->no_history, NULL, "do not record the metadata in TARGET/.sstream/history.git", 0, 0),
		OPT("no-html", 0, TOOL_OPT_FLAG, &a->no_html, NULL, "do not write the catalogue page TARGET/index.html", 0, 0),
		OPT("s3-endpoint", 0, TOOL_OPT_STRING, &so->endpoint, "URL", "S3 target: the service (default $AWS_ENDPOINT_URL)", 0, 0),
		OPT("s3-region", 0, TOOL_OPT_STRING, &so->region, "NAME", "signing region (default $AWS_REGION, us-east-1)", 0, 0),
		OPT("s3-profile", 0, TOOL_OPT_STRING, &so->profile, "NAME", "credentials profile (default $AWS_PROFILE, default)", 0, 0),
		{ "s3-path-style", 0, TOOL_OPT_FLAG, &so->addressing, NULL, "https://ENDPOINT/BUCKET/KEY (default with --s3-endpoint)", 0, 0, SS_S3_PATH, NULL, NULL },
		{ "s3-virtual-host", 0, TOOL_OPT_FLAG, &so->addressing, NULL, "https://BUCKET.ENDPOINT/KEY (default on AWS)", 0, 0, SS_S3_VHOST, NULL, NULL },
		OPT("s3-acl", 0, TOOL_OPT_STRING, &so->acl, "ACL", "canned ACL of the objects written, e.g. public-read", 0, 0),
		OPT("s3-part-size", 0, TOOL_OPT_SIZE, &so->part_size, "SIZE", "multipart upload above this size (default 64m)", 65536, 5LL << 30),
		OPT("s3-lock-ttl", 0, TOOL_OPT_DURATION, &so->lock_ttl, "DURATION", "a crashed run's lock expires after this (default 1h)", 1, 0),
		OPT("state-dir", 0, TOOL_OPT_STRING, &a->state_dir, "DIR", "local state of S3 targets (see sstream-mirror(1))", 0, 0),
		OPT("log-file", 0, TOOL_OPT_STRING, &a->log_file, "FILE", "append what goes to stderr to FILE as well", 0, 0),
		OPT("progress", 0, TOOL_OPT_FLAG, &a->progress, NULL, "progress lines even when stderr is not a terminal", 0, 0),
		TOOL_OPT_VERBOSE(&a->verbosity, "print each added and removed file"),
		TOOL_OPT_QUIET(&a->verbosity, "print nothing but errors"),
		TOOL_OPT_STD,
		TOOL_OPT_ENDING,
	};
	int npos = tool_parse(&mirror_cmd, opts, argc, argv);
	if (npos < 2)
		tool_usage_error(&mirror_cmd, "missing SOURCE or TARGET");
	if (a->log_file && tool_log_file(a->log_file) != 0) {
		fprintf(stderr, "sstream-mirror: cannot open --log-file '%s': %s\n", a->log_file, strerror(errno));
		exit(SS_FATAL);
	}
	o->max = (int)a->max;
	o->jobs = (int)a->jobs;
	o->retries = (int)a->retries;
	o->timeout = (long)a->timeout;
	o->max_time = (long)a->max_time;
	o->grace = a->grace;
	o->mirrors = a->mirrors.v;
	o->nmirrors = a->mirrors.n;
	if (a->no_verify)
		o->keyring = NULL;
	return npos;
}

/* The summary line of -v, or a dry run's totals. */
static void print_summary(const struct mirror_args *a, int rc, int s3, const struct ss_mirror_stats *st,
			  const struct ss_s3_stats *s3st)
{
	int ok = rc == SS_OK || rc == SS_PARTIAL;
	if (a->o.dry_run && ok)
		printf("total: add %zu items (%lld bytes), reuse %zu, remove %zu files (%lld bytes)\n", st->added,
		       st->bytes_added, st->reused, st->removed, st->bytes_removed);
	if (s3 && a->o.dry_run && ok)
		printf("s3: put %zu objects (%lld bytes), delete %zu\n", s3st->uploaded, s3st->bytes_uploaded,
		       s3st->deleted);
	else if (s3 && a->verbosity > 0)
		printf("s3: %zu objects put (%lld bytes), %zu already there, %zu deleted, %zu requests\n",
		       s3st->uploaded, s3st->bytes_uploaded, s3st->kept, s3st->deleted, s3st->requests);
	else if (a->verbosity > 0)
		printf("%zu items: %zu added (%lld bytes, %lld fetched), %zu reused, %zu removed, %zu failed, %.1f s\n",
		       st->items, st->added, st->bytes_added, st->bytes_fetched, st->reused, st->removed, st->failed,
		       st->seconds);
}

/* SOURCE as given, a remote's URL (and keyring), or with --path joined;
 * NULL (ERR filled) when a remote name is unknown.  *OWNED is freed later. */
static const char *resolve_source(struct mirror_args *a, const char *source, char **owned, struct ss_error *err)
{
	*owned = NULL;
	if (ss_remote_name(source) &&
	    ss_remote_resolve(source, !a->no_verify, &source, &a->o.keyring, err) != SS_OK)
		return NULL;
	if (a->path && !(source = *owned = ss_join(source, a->path))) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		err->code = SS_FATAL;
	}
	return source;
}

/* CAT: the catalogue page's options (a local TARGET's, unless --no-html). */
static int run(struct mirror_args *a, const struct ss_catalogue_opts *cat, struct ui *u, struct ss_mirror_stats *st,
	       struct ss_s3_stats *s3st, struct ss_error *err)
{
	struct ss_mirror_opts *o = &a->o;
	o->event = o->dry_run ? mirror_on_plan : mirror_on_event;
	o->ud = u;
	if (!a->s3) {
		o->catalogue = a->no_html ? NULL : cat;
		return ss_mirror(o, st, err);
	}
	if (o->no_items)
		tool_usage_error(&mirror_cmd, "--no-item-download cannot publish into S3 (the bucket would name missing objects)");
	struct ss_s3_opts *so = &a->so;
	so->target = o->target;
	/* the bucket's CA: --ca-file, else $AWS_CA_BUNDLE (the library's
	 * default), else the environment of the source's */
	const char *aws_ca = getenv("AWS_CA_BUNDLE");
	so->ca_file = a->ca_file_given || !aws_ca || !*aws_ca ? o->ca_file : NULL;
	so->timeout = o->timeout;
	so->retries = o->retries;
	so->grace = o->grace;
	so->dry_run = o->dry_run;
	so->jobs = o->jobs;
	so->event = o->dry_run ? mirror_on_s3_plan : mirror_on_s3_event;
	so->ud = u;
	return mirror_s3(o, so, a->state_dir, st, s3st, err);
}

/* The tree's items and their size for --metrics.  A run that did not get
 * through (exit 2, 3, 75) counted nothing, and left TARGET as it was: the
 * local tree is counted; a bucket keeps the counts the file recorded. */
static void tree_counts(const char *target, int s3, int rc, struct tool_metrics *m)
{
	int through = rc == SS_OK || rc == SS_PARTIAL;
	if (s3) {
		if (!through)
			m->items = -1;
		return;
	}
	long long items;
	tool_tree_count(target, &items, &m->bytes);
	if (!through)
		m->items = items;
}

/* The key a run into a local TARGET signs with (--sign-key, else the one
 * TARGET remembers, none with --unsign), checked before anything changes:
 * SS_OK, or SS_FATAL with ERR filled (the run does not start). */
static int signer(struct mirror_args *a, char **key, struct ss_error *err)
{
	*key = NULL;
	if (a->sign_key && a->unsign)
		tool_usage_error(&mirror_cmd, "--sign-key and --unsign together");
	if (a->s3) {
		if (a->sign_key || a->unsign)
			tool_usage_error(&mirror_cmd, "--sign-key and --unsign are for a local TARGET");
		return SS_OK;
	}
	int rc = ss_tree_signer(a->o.target, a->sign_key, a->unsign, 0, key, err);
	a->o.sign_key = *key;
	return rc;
}

/* After a run that wrote TARGET: it remembers the key; --unsign drops our
 * signed view (not upstream's, which a whole mirror keeps verbatim). */
static int signer_save(const struct mirror_args *a, int rc, const struct ss_mirror_stats *st)
{
	struct ss_error e;
	int src = SS_OK;
	if (a->o.dry_run || a->s3 || (rc != SS_OK && rc != SS_PARTIAL))
		return rc;
	if (a->unsign && !st->verbatim)
		src = ss_tree_unsign(a->o.target, NULL, &e);
	else if (a->unsign || a->o.sign_key)
		src = ss_tree_signer_save(a->o.target, a->o.sign_key, &e);
	if (src != SS_OK) {
		fprintf(stderr, "sstream-mirror: warning: %s\n", e.msg);
		rc = tool_result_worse(rc, SS_PARTIAL);
	}
	return rc;
}

/* --report and --metrics; a file that cannot be written makes the exit
 * status at least 1. */
static int write_outputs(const struct mirror_args *a, int rc, const struct ui *u, const struct ss_mirror_stats *st,
			 const struct ss_s3_stats *s3st, const char *error, double start)
{
	int s3 = a->s3, out = rc;
	struct ss_error we;
	ss_error_clear(&we);
	struct mirror_report r = { rc, a->o.dry_run, s3, st, s3st, u, error };
	if (a->report && mirror_report_write(a->report, &r, &we) != 0) {
		fprintf(stderr, "sstream-mirror: %s\n", we.msg);
		out = tool_result_worse(out, SS_PARTIAL);
	}
	if (a->metrics && !a->o.dry_run) {
		struct tool_metrics m = { "sstream-mirror", a->o.target, rc, start, tool_wall_clock(),
					  (long long)st->items, (long long)st->added, (long long)st->removed,
					  (long long)st->failed, st->bytes_fetched, st->bytes_added, st->bytes_removed,
					  st->updated, -1 };
		tree_counts(a->o.target, s3, rc, &m);
		if (tool_metrics_write(a->metrics, &m, &we) != SS_OK) {
			fprintf(stderr, "sstream-mirror: %s\n", we.msg);
			out = tool_result_worse(out, SS_PARTIAL);
		}
	}
	return out;
}

/* After a run into a local TARGET that got through: its import snippets
 * (when webconf set them up) follow a changed index.  (Its catalogue page
 * the run wrote: it has the items loaded.) */
static int after_local(const struct mirror_args *a, int rc, const struct ss_mirror_stats *st)
{
	struct ss_error e;
	if (a->o.dry_run || a->s3 || (rc != SS_OK && rc != SS_PARTIAL))
		return rc;
	if (st->metadata_written && ss_webconf_refresh(a->o.target, &e) != SS_OK) {
		fprintf(stderr, "sstream-mirror: warning: %s\n", e.msg);
		rc = tool_result_worse(rc, SS_PARTIAL);
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct mirror_args a = { .jobs = 4, .retries = 3, .timeout = 30,
				 .grace = 3600, .max_time = 24 * 3600 };
	int npos = parse_args(argc, argv, &a);
	a.ca_file_given = a.o.ca_file != NULL;
	a.o.ca_file = tool_ca_file(a.o.ca_file);
	struct ss_error err;
	ss_error_clear(&err);
	char *owned;
	a.o.target = argv[2];
	a.s3 = strncmp(a.o.target, "s3://", 5) == 0;
	if (!(a.o.source = resolve_source(&a, argv[1], &owned, &err))) {
		fprintf(stderr, "sstream-mirror: %s\n", err.msg);
		return err.code;
	}
	struct ss_filter *f = ss_filter_parse((const char *const *)argv + 3, npos - 2, &err);
	if (!f) {
		fprintf(stderr, "sstream-mirror: %s\n", err.msg);
		free(owned);
		return err.code;
	}
	a.o.filter = f;
	char *key;
	int rc = signer(&a, &key, &err);
	struct ui u = { .verbose = a.verbosity > 0, .quiet = a.verbosity < 0, .tty = isatty(2),
			.progress = a.progress };
	struct ss_mirror_stats st = { 0 };
	struct ss_s3_stats s3st = { 0 };
	double start = tool_wall_clock();
	/* the page's status block: what is mirrored (the run adds how it went) */
	char filt[1024] = "";
	for (int i = 0; i < npos - 2; i++)
		snprintf(filt + strlen(filt), sizeof(filt) - strlen(filt), "%s%s", i ? " " : "", argv[3 + i]);
	struct ss_catalogue_status cs = { a.o.source, npos > 2 ? filt : "(none: everything)", NULL, NULL, -1, -1,
					  NULL, 0 };
	struct ss_catalogue_opts co = { .status = &cs, .title = "Mirror" };
	if (rc == SS_OK)
		rc = run(&a, &co, &u, &st, &s3st, &err);
	if (u.tty && !u.quiet && !a.o.dry_run)
		fputs("\r\033[K", stderr);
	if (rc != SS_OK)
		tool_error("sstream-mirror", &err);
	rc = signer_save(&a, rc, &st);
	rc = after_local(&a, rc, &st);
	print_summary(&a, rc, a.s3, &st, &s3st);
	rc = write_outputs(&a, rc, &u, &st, &s3st, err.msg, start);
	mirror_ui_free(&u);
	ss_filter_free(f);
	tool_list_free(&a.mirrors);
	free(owned);
	free(key);
	return rc;
}
