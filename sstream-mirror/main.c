/* sstream-mirror: mirror a simplestreams tree into a local directory. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sstream.h"
#include "tool.h"

static const char usage_text[] =
	"usage: sstream-mirror [OPTIONS] SOURCE TARGET [FILTER...]\n"
	"\n"
	"Mirror the simplestreams tree at SOURCE (http(s) or file URL, or a directory;\n"
	"a tree root or an index or products file; or an LXD remote name such as\n"
	"ubuntu: or images:, see --list-remotes) into the directory TARGET, or into\n"
	"an S3 bucket when TARGET is s3://BUCKET/PREFIX, incrementally.  FILTER is\n"
	"KEY=VALUE, KEY!=VALUE, KEY~REGEX or KEY!~REGEX.\n"
	"\n"
	"  -m, --max N            keep the N newest versions of each product\n"
	"      --keep             keep versions gone upstream while fewer than N remain\n"
	"      --keyring FILE     every index and products file must be signed by a key\n"
	"                         in FILE (tree roots start at streams/v1/index.sjson)\n"
	"      --no-verify        do not check signatures even with --keyring (or for\n"
	"                         a signed remote such as ubuntu:)\n"
	"      --list-remotes     the remote names SOURCE may be, their URLs and keyrings\n"
	"  -n, --dry-run          print what would be added and removed, change nothing\n"
	"      --no-item-download mirror the metadata only\n"
	"      --check-existing   re-hash files already in TARGET\n"
	"  -j, --jobs N           parallel transfers (default 4)\n"
	"      --mirror URL       a fallback source for items (repeatable)\n"
	"      --limit-rate RATE  bytes/s for all transfers (suffix k, m, g)\n"
	"      --retries N        retries of a failing transfer (default 3)\n"
	"      --timeout SECONDS  connect timeout; a transfer slower than 1 KiB/s for\n"
	"                         this long is stalled (default 30)\n"
	"      --max-time DURATION  give up (exit 75) after this long (default 24h;\n"
	"                         0: no limit); the next run resumes\n"
	"      --ca-file FILE     trust these CA certificates for https\n"
	"      --grace DURATION   how long a file dropped from the index stays\n"
	"                         (default 1h; s, m, h, d suffixes)\n"
	"      --report FILE      write a JSON summary to FILE\n"
	"      --metrics FILE     write the run's metrics to FILE (Prometheus text)\n"
	"      --no-history       do not record the metadata in TARGET/.sstream/history.git\n"
	"S3 targets (credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,\n"
	"AWS_SESSION_TOKEN, or a profile in ~/.aws/credentials):\n"
	"      --s3-endpoint URL  the S3 service (default $AWS_ENDPOINT_URL, else AWS)\n"
	"      --s3-region NAME   signing region (default $AWS_REGION, us-east-1)\n"
	"      --s3-profile NAME  credentials profile (default $AWS_PROFILE, default)\n"
	"      --s3-path-style    https://ENDPOINT/BUCKET/KEY (default with --s3-endpoint)\n"
	"      --s3-virtual-host  https://BUCKET.ENDPOINT/KEY (default on AWS)\n"
	"      --s3-acl ACL       canned ACL of the objects written, e.g. public-read\n"
	"      --s3-part-size SIZE  multipart upload above this size (default 64m)\n"
	"      --s3-lock-ttl DURATION  a crashed run's lock expires after this (default 1h)\n"
	"      --state-dir DIR    local state (a verified copy of the tree, history)\n"
	"                         (default $XDG_STATE_HOME/sstream, /var/lib/sstream)\n"
	"  -v, --verbose          print each added and removed file\n"
	"  -q, --quiet            print nothing but errors\n"
	"  -h, --help             this help\n"
	"  -V, --version          the versions of sstream and its libraries\n"
	"\n"
	"Exit status: 0 ok; 1 partial (some items failed or a document could not be\n"
	"written, the tree is consistent);\n"
	"2 fatal (TARGET untouched); 3 integrity (bad signature); 64 usage;\n"
	"75 temporary (network, server error, another run holds TARGET's lock).\n"
	"See sstream-mirror(1) and sstream-filters(7).\n";

static struct ss_s3_stats s3st;

static void usage_error(const char *msg)
{
	fprintf(stderr, "sstream-mirror: %s\n", msg);
	fprintf(stderr, "usage: sstream-mirror [OPTIONS] SOURCE TARGET [FILTER...] (see --help)\n");
	exit(SS_USAGE);
}

/* A whole number up to MAX, with one of SUFFIXES (multiplying by MULT). */
static long long parse_number(const char *s, const char *what, const char *suffixes,
			      const long long *mult, long long max)
{
	char *end;
	errno = 0;
	long long n = strtoll(s, &end, 10);
	if (end == s || n < 0 || *s == '-' || *s == '+' || *s == ' ') {
		fprintf(stderr, "sstream-mirror: %s: not a number: '%s'\n", what, s);
		exit(SS_USAGE);
	}
	long long m = 1;
	if (*end) {
		const char *k = strchr(suffixes, *end);
		if (!k || end[1]) {
			fprintf(stderr, "sstream-mirror: %s: bad suffix in '%s'\n", what, s);
			exit(SS_USAGE);
		}
		m = mult[k - suffixes];
	}
	if (errno == ERANGE || n > max / m) {
		fprintf(stderr, "sstream-mirror: %s: '%s' is out of range (at most %lld)\n", what, s, max);
		exit(SS_USAGE);
	}
	return n * m;
}

struct ui {
	int verbose, quiet, tty;
	double t0, last;        /* progress: start, last line printed */
	FILE *report;
	int nfail;
	char **fails;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* On a terminal, one line redrawn in place (files, bytes of total, rate,
 * time left); elsewhere, with -v, a line every 10 s; else nothing. */
static void progress_line(struct ui *u, const struct ss_mirror_event *ev)
{
	if (u->quiet || (!u->tty && !u->verbose))
		return;
	double t = now();
	if (!u->t0)
		u->t0 = t;
	if (!u->tty && t - u->last < 10 && ev->done < ev->total)
		return;
	u->last = t;
	double mib = (double)ev->bytes / 1048576.0, total = (double)ev->bytes_total / 1048576.0;
	double rate = t > u->t0 ? mib / (t - u->t0) : 0;
	char eta[32] = "--:--";
	if (rate > 0 && total > mib) {
		long s = (long)((total - mib) / rate);
		snprintf(eta, sizeof(eta), "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
	}
	fprintf(stderr, "%s%zu/%zu files  %.1f/%.1f MiB  %.1f MiB/s  ETA %s%s", u->tty ? "\r" : "",
		ev->done, ev->total, mib, total, rate, eta, u->tty ? "\033[K" : "\n");
}

static void on_event(void *ud, const struct ss_mirror_event *ev)
{
	struct ui *u = ud;
	switch (ev->type) {
	case SS_EV_ADD:
		if (u->verbose)
			printf("+ %s (%lld bytes)\n", ev->path, ev->size);
		break;
	case SS_EV_REUSE:
		if (u->verbose)
			printf("= %s (from %s)\n", ev->path, ev->msg);
		break;
	case SS_EV_REMOVE:
		if (u->verbose)
			printf("- %s\n", ev->path);
		break;
	case SS_EV_FAIL: {
		fprintf(stderr, "sstream-mirror: FAIL %s: %s\n", ev->path ? ev->path : "", ev->msg);
		char **nf = realloc(u->fails, (size_t)(u->nfail + 1) * sizeof(*nf));
		if (nf) {
			u->fails = nf;
			size_t n = strlen(ev->path ? ev->path : "") + strlen(ev->msg) + 3;
			if ((nf[u->nfail] = malloc(n)))
				snprintf(nf[u->nfail++], n, "%s: %s", ev->path ? ev->path : "", ev->msg);
		}
		break;
	}
	case SS_EV_WARN:
		if (!u->quiet)
			fprintf(stderr, "sstream-mirror: warning: %s\n", ev->msg);
		break;
	case SS_EV_PROGRESS:
		progress_line(u, ev);
		break;
	}
}

static void s3_warn(const struct ss_mirror_event *ev)
{
	fprintf(stderr, "sstream-mirror: warning: %s%s%s\n", ev->path ? ev->path : "", ev->path ? ": " : "",
		ev->msg);
}

/* What happens in the bucket. */
static void on_s3_event(void *ud, const struct ss_mirror_event *ev)
{
	struct ui *u = ud;
	if (ev->type == SS_EV_ADD && u->verbose)
		printf("> %s (%lld bytes)\n", ev->path, ev->size);
	else if (ev->type == SS_EV_REMOVE && u->verbose)
		printf("x %s\n", ev->path);
	else if (ev->type == SS_EV_WARN && !u->quiet)
		s3_warn(ev);
}

static void on_s3_plan(void *ud, const struct ss_mirror_event *ev)
{
	(void)ud;
	if (ev->type == SS_EV_ADD)
		printf("put    %12lld  %s\n", ev->size, ev->path);
	else if (ev->type == SS_EV_REMOVE)
		printf("delete %12lld  %s\n", ev->size, ev->path);
	else if (ev->type == SS_EV_WARN)
		s3_warn(ev);
}

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

/*
 * A mirror into S3: the local mirror (every check, filter, signature,
 * conditional GET) into a staging tree under STATE_DIR named after the
 * target, then ss_s3_sync from there into the bucket, under the bucket's
 * lock.  A local directory mirrored whole is published straight.  Returns the exit code; ERR holds the message.
 */
static int mirror_s3(struct ss_mirror_opts *o, struct ss_s3_opts *so, const char *state_dir,
		     struct ss_mirror_stats *st, struct ss_error *err)
{
	memset(st, 0, sizeof(*st));
	so->deadline = o->max_time > 0 ? time(NULL) + o->max_time : 0;
	struct ss_s3 *s3 = ss_s3_open(so, err);
	if (!s3)
		return err->code;
	char *base = NULL, *staging = NULL;
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	int n = 0;
	if (state_dir)
		n = asprintf(&base, "%s", state_dir);
	else if (xdg && *xdg)
		n = asprintf(&base, "%s/sstream", xdg);
	else if (geteuid() == 0 || !home)
		n = asprintf(&base, "/var/lib/sstream");
	else
		n = asprintf(&base, "%s/.local/state/sstream", home);
	if (n < 0 || asprintf(&staging, "%s/%s", base, ss_s3_name(s3)) < 0) {
		ss_s3_close(s3);
		free(base);
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return SS_FATAL;
	}
	int rc;
	/* A local tree mirrored whole needs no staging copy: it is published
	 * as it is, each item hashed (every hash) before it is put. */
	struct stat sst;
	int direct = !ss_is_url(o->source) && stat(o->source, &sst) == 0 && S_ISDIR(sst.st_mode) &&
		     ss_filter_count(o->filter) == 0 && o->max == 0 && !o->keyring && o->nmirrors == 0;
	if (direct) {
		if (!o->dry_run && (rc = ss_s3_lock(s3, owner_name(), err)) != SS_OK)
			goto out;
		so->check_items = 1;
		rc = ss_s3_sync(s3, o->source, &s3st, err);
		goto unlock;
	}
	if (mkdirs(staging) != 0) {
		snprintf(err->msg, sizeof(err->msg), "cannot create state directory '%s': %s", staging,
			 strerror(errno));
		rc = SS_FATAL;
		goto out;
	}
	if (!o->dry_run && (rc = ss_s3_lock(s3, owner_name(), err)) != SS_OK)
		goto out;
	/* The staging tree is not served: what drops out of it can go at
	 * once; the bucket keeps it for the grace period. */
	long long grace = o->grace;
	const char *target = o->target;
	o->target = staging;
	o->grace = 0;
	o->no_items = !o->dry_run; /* the staging tree: the documents only */
	rc = ss_mirror(o, st, err);
	o->no_items = 0;
	o->grace = grace;
	o->target = target;
	/* A dry run on a first run has no staging tree to compare yet. */
	char *streams = NULL;
	int staged = asprintf(&streams, "%s/streams", staging) >= 0 && stat(streams, &sst) == 0;
	free(streams);
	if ((rc == SS_OK || rc == SS_PARTIAL) && (staged || !o->dry_run)) {
		struct ss_error e2;
		ss_error_clear(&e2);
		int rc2 = ss_s3_sync_from(s3, staging, o->source, &s3st, &e2);
		if (rc2 != SS_OK) {
			rc = rc2;
			*err = e2;
		}
	}
unlock:
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
	free(base);
	return rc;
}

/* The dry-run plan: each added and removed item with its size, and totals. */
static void on_plan(void *ud, const struct ss_mirror_event *ev)
{
	(void)ud;
	if (ev->type == SS_EV_ADD)
		printf("add    %12lld  %s\n", ev->size, ev->path);
	else if (ev->type == SS_EV_REUSE)
		printf("reuse  %12lld  %s (from %s)\n", ev->size, ev->path, ev->msg);
	else if (ev->type == SS_EV_REMOVE)
		printf("remove %12lld  %s\n", ev->size, ev->path);
	else if (ev->type == SS_EV_WARN || ev->type == SS_EV_FAIL)
		fprintf(stderr, "sstream-mirror: %s%s%s\n", ev->path ? ev->path : "", ev->path ? ": " : "",
			ev->msg);
}

int main(int argc, char **argv)
{
	enum { O_KEEP = 256, O_KEYRING, O_NOVERIFY, O_NOITEMS, O_CHECK, O_MIRROR, O_RATE, O_RETRIES,
	       O_TIMEOUT, O_CA, O_GRACE, O_REPORT, O_NOHISTORY, O_METRICS, O_MAXTIME, O_REMOTES,
	       O_S3EP, O_S3REGION, O_S3PROFILE, O_S3PATH, O_S3VHOST, O_S3ACL, O_S3PART, O_S3TTL,
	       O_STATEDIR };
	static const struct option opts[] = {
		{ "max", required_argument, NULL, 'm' },
		{ "keep", no_argument, NULL, O_KEEP },
		{ "keyring", required_argument, NULL, O_KEYRING },
		{ "no-verify", no_argument, NULL, O_NOVERIFY },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "no-item-download", no_argument, NULL, O_NOITEMS },
		{ "check-existing", no_argument, NULL, O_CHECK },
		{ "jobs", required_argument, NULL, 'j' },
		{ "mirror", required_argument, NULL, O_MIRROR },
		{ "limit-rate", required_argument, NULL, O_RATE },
		{ "retries", required_argument, NULL, O_RETRIES },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "max-time", required_argument, NULL, O_MAXTIME },
		{ "ca-file", required_argument, NULL, O_CA },
		{ "grace", required_argument, NULL, O_GRACE },
		{ "report", required_argument, NULL, O_REPORT },
		{ "no-history", no_argument, NULL, O_NOHISTORY },
		{ "list-remotes", no_argument, NULL, O_REMOTES },
		{ "s3-endpoint", required_argument, NULL, O_S3EP },
		{ "s3-region", required_argument, NULL, O_S3REGION },
		{ "s3-profile", required_argument, NULL, O_S3PROFILE },
		{ "s3-path-style", no_argument, NULL, O_S3PATH },
		{ "s3-virtual-host", no_argument, NULL, O_S3VHOST },
		{ "s3-acl", required_argument, NULL, O_S3ACL },
		{ "s3-part-size", required_argument, NULL, O_S3PART },
		{ "s3-lock-ttl", required_argument, NULL, O_S3TTL },
		{ "state-dir", required_argument, NULL, O_STATEDIR },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "metrics", required_argument, NULL, O_METRICS },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static const long long bytes_mult[] = { 1024, 1024, 1048576, 1048576, 1073741824, 1073741824 };
	struct ss_mirror_opts o = { .jobs = 4, .retries = 3, .timeout = 30, .grace = 3600,
				    .max_time = 24 * 3600 };
	struct ui u = { 0 };
	struct ss_s3_opts so = { 0 };
	const char *report = NULL, *metrics = NULL, *state_dir = NULL;
	int no_verify = 0, c;
	const char **mirrors = calloc((size_t)argc, sizeof(*mirrors));
	if (!mirrors)
		return SS_FATAL;
	while ((c = getopt_long(argc, argv, "m:nj:vqhV", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			o.max = (int)parse_number(optarg, "--max", "", NULL, INT_MAX);
			break;
		case O_KEEP:
			o.keep = 1;
			break;
		case O_KEYRING:
			o.keyring = optarg;
			break;
		case O_NOVERIFY:
			no_verify = 1;
			break;
		case 'n':
			o.dry_run = 1;
			break;
		case O_NOITEMS:
			o.no_items = 1;
			break;
		case O_CHECK:
			o.check_existing = 1;
			break;
		case 'j':
			o.jobs = (int)parse_number(optarg, "--jobs", "", NULL, INT_MAX);
			if (o.jobs < 1 || o.jobs > 64)
				usage_error("--jobs is 1 to 64");
			break;
		case O_MIRROR:
			mirrors[o.nmirrors++] = optarg;
			break;
		case O_RATE:
			o.limit_rate = parse_number(optarg, "--limit-rate", "kKmMgG", bytes_mult, LLONG_MAX);
			break;
		case O_RETRIES:
			o.retries = (int)parse_number(optarg, "--retries", "", NULL, INT_MAX);
			break;
		case O_TIMEOUT:
			o.timeout = (long)parse_number(optarg, "--timeout", "", NULL, INT_MAX);
			if (o.timeout < 1)
				usage_error("--timeout is at least 1 second");
			break;
		case O_MAXTIME:
			if ((o.max_time = tool_duration(optarg)) < 0)
				usage_error("--max-time is a duration: 30s, 10m, 1h, 2d (0: no limit)");
			break;
		case O_CA:
			o.ca_file = optarg;
			break;
		case O_GRACE:
			if ((o.grace = tool_duration(optarg)) < 0)
				usage_error("--grace is a duration: 30s, 10m, 1h, 2d");
			break;
		case O_REPORT:
			report = optarg;
			break;
		case O_NOHISTORY:
			o.no_history = 1;
			break;
		case O_S3EP:
			so.endpoint = optarg;
			break;
		case O_S3REGION:
			so.region = optarg;
			break;
		case O_S3PROFILE:
			so.profile = optarg;
			break;
		case O_S3PATH:
			so.addressing = SS_S3_PATH;
			break;
		case O_S3VHOST:
			so.addressing = SS_S3_VHOST;
			break;
		case O_S3ACL:
			so.acl = optarg;
			break;
		case O_S3PART:
			so.part_size = parse_number(optarg, "--s3-part-size", "kKmMgG", bytes_mult,
						    5LL << 30); /* the S3 limit of a part */
			if (so.part_size < 65536)
				usage_error("--s3-part-size is at least 64k");
			break;
		case O_S3TTL:
			if ((so.lock_ttl = tool_duration(optarg)) <= 0)
				usage_error("--s3-lock-ttl is a duration: 30s, 10m, 1h, 2d");
			break;
		case O_STATEDIR:
			state_dir = optarg;
			break;
		case O_REMOTES: {
			size_t n;
			const struct ss_remote *r = ss_remotes(&n);
			char name[64];
			for (size_t i = 0; i < n; i++) {
				snprintf(name, sizeof(name), "%s:", r[i].name);
				printf("%-22s %-50s %s\n", name, r[i].url, r[i].keyring ? r[i].keyring : "-");
			}
			free(mirrors);
			return SS_OK;
		}
		case 'v':
			u.verbose = 1;
			u.quiet = 0;
			break;
		case 'q':
			u.quiet = 1;
			u.verbose = 0;
			break;
		case O_METRICS:
			metrics = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			free(mirrors);
			return SS_OK;
		case 'V':
			tool_version("sstream-mirror");
			free(mirrors);
			return SS_OK;
		default:
			usage_error("unknown option");
		}
	}
	if (argc - optind < 2)
		usage_error("missing SOURCE or TARGET");
	o.source = argv[optind];
	o.target = argv[optind + 1];
	o.mirrors = mirrors;
	if (no_verify)
		o.keyring = NULL;
	struct ss_error err;
	ss_error_clear(&err);
	if (ss_remote_name(o.source) &&
	    ss_remote_resolve(o.source, !no_verify, &o.source, &o.keyring, &err) != SS_OK) {
		fprintf(stderr, "sstream-mirror: %s\n", err.msg);
		free(mirrors);
		return err.code;
	}
	struct ss_filter *f = ss_filter_parse((const char *const *)argv + optind + 2, argc - optind - 2, &err);
	if (!f) {
		fprintf(stderr, "sstream-mirror: %s\n", err.msg);
		free(mirrors);
		return err.code;
	}
	o.filter = f;
	u.tty = isatty(2);
	o.event = o.dry_run ? on_plan : on_event;
	o.ud = &u;
	struct ss_mirror_stats st;
	double start = tool_wall_clock();
	int rc, s3 = strncmp(o.target, "s3://", 5) == 0;
	if (s3) {
		if (o.no_items)
			usage_error("--no-item-download cannot publish into S3 (the bucket would name missing objects)");
		so.target = o.target;
		so.ca_file = o.ca_file;
		so.timeout = o.timeout;
		so.retries = o.retries;
		so.grace = o.grace;
		so.dry_run = o.dry_run;
		so.jobs = o.jobs;
		so.event = o.dry_run ? on_s3_plan : on_s3_event;
		so.ud = &u;
		rc = mirror_s3(&o, &so, state_dir, &st, &err);
	} else {
		rc = ss_mirror(&o, &st, &err);
	}
	double end = tool_wall_clock();
	if (u.tty && !u.quiet && !o.dry_run)
		fputs("\r\033[K", stderr);
	if (rc != SS_OK)
		fprintf(stderr, "sstream-mirror: %s\n", err.msg);
	if (o.dry_run && (rc == SS_OK || rc == SS_PARTIAL))
		printf("total: add %zu items (%lld bytes), reuse %zu, remove %zu files (%lld bytes)\n",
		       st.added, st.bytes_added, st.reused, st.removed, st.bytes_removed);
	if (s3 && o.dry_run && (rc == SS_OK || rc == SS_PARTIAL))
		printf("s3: put %zu objects (%lld bytes), delete %zu\n", s3st.uploaded, s3st.bytes_uploaded,
		       s3st.deleted);
	else if (s3 && u.verbose)
		printf("s3: %zu objects put (%lld bytes), %zu already there, %zu deleted, %zu requests\n",
		       s3st.uploaded, s3st.bytes_uploaded, s3st.kept, s3st.deleted, s3st.requests);
	else if (u.verbose)
		printf("%zu items: %zu added (%lld bytes, %lld fetched), %zu reused, %zu removed, %zu failed, %.1f s\n",
		       st.items, st.added, st.bytes_added, st.bytes_fetched, st.reused, st.removed, st.failed,
		       st.seconds);
	if (report) {
		FILE *rf = fopen(report, "w");
		if (!rf) {
			perror(report);
		} else {
			fprintf(rf, "{\"result\": %d, \"items\": %zu, \"added\": %zu, \"reused\": %zu, "
				    "\"removed\": %zu, \"failed\": %zu, \"bytes_added\": %lld, "
				    "\"bytes_fetched\": %lld, \"bytes_removed\": %lld, \"seconds\": %.3f, "
				    "\"verbatim\": %s, \"dry_run\": %s, \"error\": ",
				rc, st.items, st.added, st.reused, st.removed, st.failed, st.bytes_added,
				st.bytes_fetched, st.bytes_removed, st.seconds, st.verbatim ? "true" : "false",
				o.dry_run ? "true" : "false");
			if (rc != SS_OK)
				tool_json_str(rf, err.msg);
			else
				fputs("null", rf);
			if (s3)
				fprintf(rf, ", \"s3\": {\"uploaded\": %zu, \"kept\": %zu, \"deleted\": %zu, "
					    "\"bytes_uploaded\": %lld, \"bytes_deleted\": %lld, \"requests\": %zu}",
					s3st.uploaded, s3st.kept, s3st.deleted, s3st.bytes_uploaded, s3st.bytes_deleted,
					s3st.requests);
			fputs(", \"failures\": [", rf);
			for (int i = 0; i < u.nfail; i++) {
				if (i)
					fputs(", ", rf);
				tool_json_str(rf, u.fails[i]);
			}
			fputs("]}\n", rf);
			if (fclose(rf) != 0)
				perror(report);
		}
	}
	if (metrics && !o.dry_run) {
		struct tool_metrics m = { "sstream-mirror", o.target, rc, start, end, (long long)st.items,
					  (long long)st.added, (long long)st.removed, (long long)st.failed,
					  st.bytes_fetched, st.bytes_added, st.bytes_removed, st.updated };
		struct ss_error me;
		if (tool_metrics_write(metrics, &m, &me) != SS_OK)
			fprintf(stderr, "sstream-mirror: %s\n", me.msg);
	}
	for (int i = 0; i < u.nfail; i++)
		free(u.fails[i]);
	free(u.fails);
	ss_filter_free(f);
	free(mirrors);
	return rc;
}
