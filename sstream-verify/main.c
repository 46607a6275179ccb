/* sstream-verify: prove a tree, a download or an image is what the streams say. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "sstream.h"
#include "tool.h"

static const char usage_text[] =
	"usage: sstream-verify [OPTIONS] TREE|URL\n"
	"       sstream-verify [OPTIONS] --files FILE... SOURCE\n"
	"       sstream-verify image METADATA [ROOT] [--expect FINGERPRINT]\n"
	"\n"
	"Check a simplestreams tree: its documents, every item file's size and\n"
	"hashes, LXD/Incus combined fingerprints, delta bases and signatures.\n"
	"With --files, check downloaded files against the streams of SOURCE.\n"
	"'image' prints the LXD fingerprint of an image (or checks it).\n"
	"\n"
	"      --keyring FILE   every index and products file must verify against FILE\n"
	"      --orphans        also report files that nothing references\n"
	"      --deep           remote trees: download and hash every file (default:\n"
	"                       HEAD requests for existence and size)\n"
	"      --files          check the FILE arguments against SOURCE\n"
	"      --expect FP      with 'image': the fingerprint it must have\n"
	"  -j, --jobs N         parallel files (default: one per core)\n"
	"      --ca-file FILE   CA certificates for https\n"
	"      --timeout S      connect timeout and stall limit (default 30)\n"
	"      --format FMT     text (default) or json\n"
	"      --max-age DURATION  fail (exit 1 at least) when the tree's newest\n"
	"                       metadata is older than DURATION (30m, 12h, 2d)\n"
	"  -v, --verbose        print 'PATH: OK' for every good file too\n"
	"  -q, --quiet          print nothing; the exit status tells\n"
	"  -h, --help           this help\n"
	"  -V, --version        the versions of sstream and its libraries\n"
	"\n"
	"Exit status: 0 all good; 1 warnings only (orphans, unknown files, a stale\n"
	"tree); 3 an integrity failure; 2 the tree cannot be read; 64 usage.\n"
	"See sstream-verify(1).\n";

static void usage_error(const char *msg)
{
	fprintf(stderr, "sstream-verify: %s\n", msg);
	fprintf(stderr, "usage: sstream-verify [OPTIONS] TREE|URL (see --help)\n");
	exit(SS_USAGE);
}

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
	const char *expect = NULL, *files[2] = { NULL, NULL };
	int nf = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--expect") == 0 && i + 1 < argc)
			expect = argv[++i];
		else if (argv[i][0] == '-')
			usage_error("image: unknown option");
		else if (nf < 2)
			files[nf++] = argv[i];
		else
			usage_error("image: METADATA [ROOT] only");
	}
	if (nf == 0)
		usage_error("image: missing METADATA");
	/* A malformed fingerprint is a bad command line, not a mismatch. */
	if (expect && (strlen(expect) != 64 || strspn(expect, "0123456789abcdefABCDEF") != 64))
		usage_error("image: --expect needs a fingerprint of 64 hex digits");
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
		printf("%s: OK\n", files[0]);
		return SS_OK;
	}
	printf("%s: FAIL fingerprint %s, expected %s\n", files[0], fp, expect);
	return SS_INTEGRITY;
}

/*
 * The stale-tree alarm: the newest "updated" date the documents state or,
 * when none states one (trees written by sstream-publish), the newest
 * mtime of the local documents, against MAX_AGE seconds.  Returns SS_OK,
 * SS_PARTIAL when the tree is too old, SS_FATAL when it has no date.
 */
static int check_age(const char *source, long long max_age)
{
	struct ss_error err;
	struct ss_tree *t = ss_tree_load(source, &err);
	if (!t) {
		fprintf(stderr, "sstream-verify: %s\n", err.msg);
		return err.code;
	}
	long long newest = ss_tree_updated(t);
	for (size_t i = 0; newest < 0 && i < ss_tree_ndocs(t); i++) {
		const char *data;
		size_t len;
		char *file = ss_join(ss_tree_root(t), ss_tree_doc(t, i, &data, &len));
		struct stat sb;
		if (file && stat(file, &sb) == 0 && (long long)sb.st_mtime > newest)
			newest = (long long)sb.st_mtime;
		free(file);
	}
	ss_tree_free(t);
	if (newest < 0) {
		fprintf(stderr, "sstream-verify: %s: no document states when it was updated\n", source);
		return SS_FATAL;
	}
	long long age = (long long)time(NULL) - newest;
	if (age <= max_age)
		return SS_OK;
	char when[64];
	time_t tt = (time_t)newest;
	struct tm tm;
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&tt, &tm));
	fprintf(stderr, "sstream-verify: %s: stale: newest metadata is from %s, %lldd %02lldh old, more than --max-age %llds\n",
		source, when, age / 86400, age % 86400 / 3600, max_age);
	return SS_PARTIAL;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "image") == 0)
		return image_cmd(argc - 1, argv + 1);
	enum { O_KEYRING = 256, O_ORPHANS, O_DEEP, O_FILES, O_CA, O_TIMEOUT, O_FORMAT, O_MAXAGE };
	static const struct option opts[] = {
		{ "keyring", required_argument, NULL, O_KEYRING },
		{ "orphans", no_argument, NULL, O_ORPHANS },
		{ "deep", no_argument, NULL, O_DEEP },
		{ "files", no_argument, NULL, O_FILES },
		{ "jobs", required_argument, NULL, 'j' },
		{ "ca-file", required_argument, NULL, O_CA },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "max-age", required_argument, NULL, O_MAXAGE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct ss_verify_opts o = { 0 };
	long long max_age = -1;
	struct out out = { 0 };
	int files_mode = 0, c;
	long long num;
	while ((c = getopt_long(argc, argv, "j:vqhV", opts, NULL)) != -1) {
		switch (c) {
		case O_KEYRING:
			o.keyring = optarg;
			break;
		case O_ORPHANS:
			o.orphans = 1;
			break;
		case O_DEEP:
			o.deep = 1;
			break;
		case O_FILES:
			files_mode = 1;
			break;
		case 'j':
			if (tool_number(optarg, 256, &num) < 0 || num < 1)
				usage_error("--jobs is 1 to 256");
			o.jobs = (int)num;
			break;
		case O_CA:
			o.ca_file = optarg;
			break;
		case O_TIMEOUT:
			if (tool_number(optarg, INT_MAX, &num) < 0 || num < 1)
				usage_error("--timeout is a whole number of seconds, at least 1");
			o.timeout = (long)num;
			break;
		case O_FORMAT:
			if (strcmp(optarg, "json") == 0)
				out.json = 1;
			else if (strcmp(optarg, "text") != 0)
				usage_error("--format is text or json");
			break;
		case 'v':
			out.verbose = 1;
			out.quiet = 0;
			break;
		case 'q':
			out.quiet = 1;
			out.verbose = 0;
			break;
		case O_MAXAGE:
			if ((max_age = tool_duration(optarg)) < 0)
				usage_error("--max-age is a duration: 30s, 10m, 1h, 2d");
			break;
		case 'h':
			fputs(usage_text, stdout);
			return SS_OK;
		case 'V':
			tool_version("sstream-verify");
			return SS_OK;
		default:
			usage_error("unknown option");
		}
	}
	int npos = argc - optind;
	if (npos < 1 || (!files_mode && npos != 1) || (files_mode && npos < 2))
		usage_error(files_mode ? "--files needs FILE... SOURCE" : "one TREE or URL");
	if (max_age >= 0 && files_mode)
		usage_error("--max-age checks a tree, not --files");
	o.source = argv[argc - 1];
	o.result = on_result;
	o.ud = &out;
	struct ss_verify_stats st;
	struct ss_error err;
	ss_error_clear(&err);
	int rc = files_mode ? ss_verify_files(&o, (const char *const *)argv + optind, npos - 1, &st, &err)
			    : ss_verify_tree(&o, &st, &err);
	/* Failures found in the files were reported one by one; a tree that
	 * could not be read (or whose signature failed) is one error line. */
	if (rc != SS_OK && rc != SS_PARTIAL && !(rc == SS_INTEGRITY && (st.files || st.failed))) {
		fprintf(stderr, "sstream-verify: %s\n", err.msg);
		return rc;
	}
	if (out.json) {
		printf("{\"result\": %d, \"files\": %zu, \"ok\": %zu, \"failed\": %zu, \"orphans\": %zu, "
		       "\"unknown\": %zu, \"bytes\": %lld, \"seconds\": %.3f, \"results\": [",
		       rc, st.files, st.ok, st.failed, st.orphans, st.unknown, st.bytes, st.seconds);
		for (size_t i = 0; i < out.n; i++) {
			printf("%s{\"path\": ", i ? ", " : "");
			tool_json_str(stdout, out.kept[i].path);
			printf(", \"status\": \"%s\", \"reason\": ", status_word(out.kept[i].status));
			if (out.kept[i].reason)
				tool_json_str(stdout, out.kept[i].reason);
			else
				fputs("null", stdout);
			putchar('}');
			free((char *)out.kept[i].path);
			free((char *)out.kept[i].reason);
		}
		printf("]}\n");
		free(out.kept);
	} else if (!out.quiet && (rc != SS_OK || out.verbose)) {
		printf("%zu files: %zu ok, %zu failed, %zu orphans, %zu unknown (%.1f MiB in %.2f s)\n", st.files,
		       st.ok, st.failed, st.orphans, st.unknown, (double)st.bytes / 1048576.0, st.seconds);
	}
	if (max_age >= 0) {
		int stale = check_age(o.source, max_age);
		if (stale > rc)
			rc = stale;
	}
	return rc;
}
