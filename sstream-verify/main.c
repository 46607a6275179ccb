/* SPDX-License-Identifier: Apache-2.0 */
/* sstream-verify: prove a tree, a download or an image is what the streams say. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "options.h"
#include "sstream.h"
#include "tool.h"

static const struct tool_cmd verify_cmd = {
	"sstream-verify", NULL,
	"usage: sstream-verify [OPTIONS] TREE|URL\n"
	"       sstream-verify [OPTIONS] --files FILE... SOURCE\n"
	"       sstream-verify image METADATA [ROOT] [--expect FINGERPRINT]\n",
	"Check a simplestreams tree: its documents, every item file's size and\n"
	"hashes, LXD/Incus combined fingerprints, delta bases and signatures.\n"
	"With --files, check downloaded files against the streams of SOURCE.\n"
	"'image' prints the LXD fingerprint of an image (or checks it).\n",
	"Exit status: 0 all good; 1 warnings only (orphans, unknown files, a stale\n"
	"tree); 3 an integrity failure; 2 the tree cannot be read; 64 usage.\n"
	"See sstream-verify(1).\n",
};

static const struct tool_cmd image_cmd_info = {
	"sstream-verify", "image", "usage: sstream-verify image METADATA [ROOT] [--expect FINGERPRINT]\n",
	"Print the LXD fingerprint of an image, or check it against --expect.\n",
	"Exit status: 0 ok; 3 the fingerprint differs; 2 unreadable; 64 usage.\n"
	"See sstream-verify(1).\n",
};

struct out {
	int verbose, quiet, json;
	struct ss_verify_result *kept;  /* for json */
	size_t n;
};

static const char *status_word(enum ss_verify_status s)
{
	static const char *const w[] = { "OK", "FAIL", "ORPHAN", "UNKNOWN" };
	return w[s];
}

static void on_result(void *ud, const struct ss_verify_result *r)
{
	struct out *o = ud;
	if (o->json) {
		if (r->status == SS_V_OK && !o->verbose)
			return;
		struct ss_verify_result *nk = realloc(o->kept, (o->n + 1) * sizeof(*nk));
		if (!nk)
			return;
		o->kept = nk;
		nk[o->n].status = r->status;
		nk[o->n].path = strdup(r->path);
		nk[o->n].reason = r->reason ? strdup(r->reason) : NULL;
		o->n++;
		return;
	}
	if (o->quiet || (r->status == SS_V_OK && !o->verbose))
		return;
	if (r->status == SS_V_FAIL)
		printf("%s: FAIL %s\n", r->path, r->reason ? r->reason : "");
	else
		printf("%s: %s\n", r->path, status_word(r->status));
}

static int image_cmd(int argc, char **argv)
{
	const char *expect = NULL;
	int verbosity = 0;
	const struct tool_opt opts[] = {
		{ "expect", 0, TOOL_OPT_STRING, &expect, "FP", "the fingerprint the image must have", 0, 0, 0, NULL,
		  NULL },
		TOOL_OPT_QUIET(&verbosity, "print nothing; the exit status tells"),
		TOOL_OPT_STD,
		TOOL_OPT_ENDING,
	};
	int nf = tool_parse(&image_cmd_info, opts, argc, argv);
	const char *files[2] = { argv[1], nf > 1 ? argv[2] : NULL };
	if (nf == 0)
		tool_usage_error(&image_cmd_info, "missing METADATA");
	if (nf > 2)
		tool_usage_error(&image_cmd_info, "METADATA [ROOT] only");
	/* A malformed fingerprint is a bad command line, not a mismatch. */
	if (expect && (strlen(expect) != 64 || strspn(expect, "0123456789abcdefABCDEF") != 64))
		tool_usage_error(&image_cmd_info, "--expect needs a fingerprint of 64 hex digits");
	char fp[65];
	struct ss_error err;
	ss_error_clear(&err);
	if (ss_image_fingerprint(files[0], files[1], fp, &err) != SS_OK) {
		fprintf(stderr, "sstream-verify: %s\n", err.msg);
		return err.code;
	}
	if (!expect) {
		printf("%s\n", fp);
		return SS_OK;
	}
	if (strcasecmp(fp, expect) == 0) {
		if (verbosity >= 0)
			printf("%s: OK\n", files[0]);
		return SS_OK;
	}
	if (verbosity >= 0)
		printf("%s: FAIL fingerprint %s, expected %s\n", files[0], fp, expect);
	return SS_INTEGRITY;
}

/* SECS the way a person writes it: the two largest units, "2d", "2d 3h",
 * "5h 10m", "12m", "40s". */
static void human_age(long long secs, char *out, size_t size)
{
	static const struct { long long n; char c; } u[] = { { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' } };
	size_t i = 0;
	while (i < 3 && secs < u[i].n)
		i++;
	long long a = secs / u[i].n, b = i < 3 ? secs % u[i].n / u[i + 1].n : 0;
	if (b)
		snprintf(out, size, "%lld%c %lld%c", a, u[i].c, b, u[i + 1].c);
	else
		snprintf(out, size, "%lld%c", a, u[i].c);
}

/* The time a local tree was last known good: the end of the last mirror
 * run that succeeded (no-op runs included), else the newest "updated"
 * date its documents state, else (trees written by sstream-publish) the
 * newest mtime of its documents; -1 when none.  *WHAT says which. */
static long long tree_time(const struct ss_tree *t, const char **what)
{
	long long newest = ss_mirror_last_success(ss_tree_root(t));
	*what = "last successful mirror run";
	if (newest >= 0)
		return newest;
	*what = "newest metadata";
	newest = ss_tree_updated(t);
	for (size_t i = 0; newest < 0 && i < ss_tree_ndocs(t); i++) {
		const char *data;
		size_t len;
		char *file = ss_join(ss_tree_root(t), ss_tree_doc(t, i, &data, &len));
		struct stat sb;
		if (file && stat(file, &sb) == 0 && (long long)sb.st_mtime > newest)
			newest = (long long)sb.st_mtime;
		free(file);
	}
	return newest;
}

/*
 * The stale-tree alarm: the tree's time (tree_time) against MAX_AGE
 * seconds, which the user wrote as SPELLED.  Returns SS_OK, SS_PARTIAL
 * when the tree is too old, SS_FATAL when it has no date.
 */
static int check_age(const char *source, long long max_age, const char *spelled)
{
	struct ss_error err;
	struct ss_tree *t = ss_tree_load(source, &err);
	if (!t) {
		fprintf(stderr, "sstream-verify: %s\n", err.msg);
		return err.code;
	}
	const char *what;
	long long newest = tree_time(t, &what);
	ss_tree_free(t);
	if (newest < 0) {
		fprintf(stderr, "sstream-verify: %s: no document states when it was updated\n", source);
		return SS_FATAL;
	}
	long long age = (long long)time(NULL) - newest;
	if (age <= max_age)
		return SS_OK;
	char when[64], old[48];
	time_t tt = (time_t)newest;
	struct tm tm;
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&tt, &tm));
	human_age(age, old, sizeof(old));
	fprintf(stderr, "sstream-verify: %s: stale: %s is from %s, %s old, more than --max-age %s\n", source, what,
		when, old, spelled);
	return SS_PARTIAL;
}

struct verify_args {
	struct ss_verify_opts o;
	long long max_age, jobs, timeout;
	int files_mode, verbosity;
	const char *format, *max_age_arg; /* --max-age as the user wrote it */
};

static int parse_args(int argc, char **argv, struct verify_args *a)
{
	const struct tool_opt opts[] = {
		{ "keyring", 0, TOOL_OPT_STRING, &a->o.keyring, "FILE",
		  "every index and products file must verify against FILE", 0, 0, 0, NULL, NULL },
		{ "orphans", 0, TOOL_OPT_FLAG, &a->o.orphans, NULL, "also report files that nothing references", 0,
		  0, 0, NULL, NULL },
		{ "deep", 0, TOOL_OPT_FLAG, &a->o.deep, NULL,
		  "remote trees: download and hash every file (default:\nHEAD requests for existence and size)", 0,
		  0, 0, NULL, NULL },
		{ "files", 0, TOOL_OPT_FLAG, &a->files_mode, NULL, "check the FILE arguments against SOURCE", 0, 0,
		  0, NULL, NULL },
		{ "jobs", 'j', TOOL_OPT_NUMBER, &a->jobs, "N", "parallel files (default: one per core)", 1, 256, 0,
		  NULL, NULL },
		{ "ca-file", 0, TOOL_OPT_STRING, &a->o.ca_file, "FILE", "CA certificates for https (default $SSL_CERT_FILE)", 0, 0, 0, NULL,
		  NULL },
		{ "timeout", 0, TOOL_OPT_NUMBER, &a->timeout, "S", "connect timeout and stall limit (default 30)", 1,
		  0x7fffffff, 0, NULL, NULL },
		{ "format", 0, TOOL_OPT_STRING, &a->format, "FMT", "text (default) or json", 0, 0, 0, "text|json",
		  NULL },
		{ "max-age", 0, TOOL_OPT_STRING, &a->max_age_arg, "DURATION",
		  "fail (exit 1 at least) when the tree's newest\nmetadata is older than DURATION (30m, 12h, 2d)", 0,
		  0, 0, NULL, NULL },
		TOOL_OPT_VERBOSE(&a->verbosity, "print 'PATH: OK' for every good file too"),
		TOOL_OPT_QUIET(&a->verbosity, "print nothing; the exit status tells"),
		TOOL_OPT_STD,
		TOOL_OPT_ENDING,
	};
	int npos = tool_parse(&verify_cmd, opts, argc, argv);
	if (npos < 1 || (!a->files_mode && npos != 1) || (a->files_mode && npos < 2))
		tool_usage_error(&verify_cmd, a->files_mode ? "--files needs FILE... SOURCE" : "one TREE or URL");
	/* kept as a string: the message about a stale tree says it as given */
	if (a->max_age_arg && (a->max_age = tool_duration(a->max_age_arg)) < 0)
		tool_usage_error(&verify_cmd, "--max-age: '%s' is not a duration (30s, 10m, 1h, 2d)", a->max_age_arg);
	if (a->max_age >= 0 && a->files_mode)
		tool_usage_error(&verify_cmd, "--max-age checks a tree, not --files");
	a->o.ca_file = tool_ca_file(a->o.ca_file);
	a->o.jobs = (int)a->jobs;
	a->o.timeout = (long)a->timeout;
	return npos;
}

static void print_json(int rc, const struct ss_verify_stats *st, struct out *out)
{
	printf("{\"result\": %d, \"files\": %zu, \"ok\": %zu, \"failed\": %zu, \"orphans\": %zu, "
	       "\"unknown\": %zu, \"bytes\": %lld, \"seconds\": %.3f, \"results\": [",
	       rc, st->files, st->ok, st->failed, st->orphans, st->unknown, st->bytes, st->seconds);
	for (size_t i = 0; i < out->n; i++) {
		printf("%s{\"path\": ", i ? ", " : "");
		tool_json_str(stdout, out->kept[i].path);
		printf(", \"status\": \"%s\", \"reason\": ", status_word(out->kept[i].status));
		if (out->kept[i].reason)
			tool_json_str(stdout, out->kept[i].reason);
		else
			fputs("null", stdout);
		putchar('}');
		free((char *)out->kept[i].path);
		free((char *)out->kept[i].reason);
	}
	printf("]}\n");
	free(out->kept);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "image") == 0)
		return image_cmd(argc - 1, argv + 1);
	struct verify_args a = { .max_age = -1, .format = "text" };
	int npos = parse_args(argc, argv, &a);
	struct out out = { a.verbosity > 0, a.verbosity < 0, strcmp(a.format, "json") == 0, NULL, 0 };
	a.o.source = argv[npos];
	a.o.result = on_result;
	a.o.ud = &out;
	struct ss_verify_stats st;
	struct ss_error err;
	ss_error_clear(&err);
	int rc = a.files_mode ? ss_verify_files(&a.o, (const char *const *)argv + 1, npos - 1, &st, &err)
			      : ss_verify_tree(&a.o, &st, &err);
	/* Failures found in the files were reported one by one; a tree that
	 * could not be read (or whose signature failed) is one error line. */
	if (rc != SS_OK && rc != SS_PARTIAL && !(rc == SS_INTEGRITY && (st.files || st.failed))) {
		tool_error("sstream-verify", &err);
		return rc;
	}
	if (out.json)
		print_json(rc, &st, &out);
	else if (!out.quiet && (rc != SS_OK || out.verbose))
		printf("%zu files: %zu ok, %zu failed, %zu orphans, %zu unknown (%.1f MiB in %.2f s)\n", st.files,
		       st.ok, st.failed, st.orphans, st.unknown, (double)st.bytes / 1048576.0, st.seconds);
	if (a.max_age >= 0)
		rc = tool_result_worse(rc, check_age(a.o.source, a.max_age, a.max_age_arg));
	return rc;
}
