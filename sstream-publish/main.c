/* sstream-publish: turn LXD/Incus image files into a static simplestreams site. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sstream.h"
#include "tool.h"

static const char usage_text[] =
	"usage: sstream-publish build ROOTFS_DIR --metadata FILE -o OUTDIR [--templates DIR]\n"
	"                             [--unified|--split] [--compression xz|zstd|gzip|none]\n"
	"                             [--level N] [--keep-owners] [--rootfs tar|squashfs]\n"
	"       sstream-publish add TREE FILE... [--alias A]... [--delta] [--sign-key ID]\n"
	"       sstream-publish remove TREE FINGERPRINT|ALIAS\n"
	"       sstream-publish list TREE [--format table|json|csv]\n"
	"       sstream-publish import TREE ITEMS.json\n"
	"       sstream-publish prune TREE --keep N [--grace DURATION] [--dry-run]\n"
	"       sstream-publish history TREE [-n N] [--format json]\n"
	"       sstream-publish diff TREE [REV [REV]]\n"
	"       sstream-publish rollback TREE REV\n"
	"       sstream-publish webconf TREE --base-url URL [--server nginx|apache]\n"
	"\n"
	"build   packs ROOTFS_DIR and metadata.yaml, reproducibly, into a split image\n"
	"        (meta.tar.* + rootfs.tar.*, or rootfs.squashfs with --rootfs squashfs)\n"
	"        or a unified one (image.tar.*); prints the fingerprint.\n"
	"add     adds an image: one unified tarball, or a metadata tarball and its\n"
	"        root file (squashfs, rootfs tarball or qcow2 VM disk); prints its\n"
	"        fingerprint.  Adding the same image again changes nothing.\n"
	"remove  drops the image with that fingerprint (or prefix), or every image\n"
	"        of the product with that alias, from the streams.\n"
	"list    lists the images like 'lxc image list', with the URL that\n"
	"        'lxc image import URL' takes for the unified ones.\n"
	"prune   keeps the N newest versions of each product, and deletes files\n"
	"        nothing references once unreferenced for the grace period\n"
	"        (default 1h: clients cache the index).\n"
	"history the metadata changes recorded in TREE/.sstream/history.git (every\n"
	"        sstream-mirror and sstream-publish run that changed the streams)\n"
	"diff    what changed between two records (default: the last change),\n"
	"        by version and item\n"
	"rollback restores a record's metadata atomically, if every file it names\n"
	"        is still here and verifies; the rollback is recorded too\n"
	"webconf prints the nginx or Apache snippet that answers 'lxc image import\n"
	"        URL/import/ALIAS' (or FINGERPRINT) for the client's architecture;\n"
	"        kept in TREE/.sstream/import-SERVER.conf, which add, remove, prune\n"
	"        and rollback rewrite.\n"
	"import  turns a JSON list of flat item records (content_id, product_name,\n"
	"        version_name, item_name, path, size, sha256, ...) into products files\n"
	"        and the index, like the upstream json2streams.\n"
	"\n"
	"  -a, --alias A      an extra alias (add; repeatable)\n"
	"      --delta        add: also publish an xdelta3 squashfs.vcdiff from the\n"
	"                     product's previous squashfs\n"
	"      --base-url URL the URL the tree is served at (webconf)\n"
	"  -f, --format FMT   table, json or csv (list)\n"
	"      --server NAME  nginx or apache (webconf; default nginx)\n"
	"      --sign-key ID  also write clearsigned .sjson files, signed with the\n"
	"                     secret key ID of $GNUPGHOME (add, remove, prune, import)\n"
	"  -n N               history: the N newest records\n"
	"      --no-history   do not record the change in the tree's history\n"
	"      --metrics FILE write the run's metrics to FILE (Prometheus text;\n"
	"                     add, remove, prune, import, rollback)\n"
	"  -q, --quiet        print nothing on success\n"
	"  -h, --help         this help\n"
	"  -V, --version      the versions of sstream and its libraries\n"
	"\n"
	"Exit status: 0 ok; 1 partial (the tree is consistent: see sstream-publish(1));\n"
	"2 fatal (bad image or tree, nothing changed);\n"
	"64 usage; 75 another run holds the tree's lock.  See sstream-publish(1).\n";

static void usage_error(const char *msg)
{
	fprintf(stderr, "sstream-publish: %s\n", msg);
	fprintf(stderr, "usage: sstream-publish add|remove|list TREE ... (see --help)\n");
	exit(SS_USAGE);
}

struct list_out {
	const char *format;
	const char *base;       /* webconf's base URL, or NULL */
	int n;
};

static void print_image(void *ud, const struct ss_image_info *im)
{
	struct list_out *o = ud;
	char desc[512];
	snprintf(desc, sizeof(desc), "%s %s %s (%s) (%s)", im->os ? im->os : "", im->release ? im->release : "",
		 im->arch ? im->arch : "", im->variant ? im->variant : "", im->version);
	/* unified images can be imported by URL (lxc image import URL) */
	char url[1024] = "";
	if (im->unified) {
		size_t bl = o->base ? strlen(o->base) : 0;
		while (bl && o->base[bl - 1] == '/')
			bl--;
		snprintf(url, sizeof(url), "%.*s/import/%s", (int)bl, o->base ? o->base : "", im->fingerprint);
	}
	if (strcmp(o->format, "json") == 0) {
		const char *keys[] = { "aliases", "fingerprint", "description", "architecture", "type", "version",
				       "product" };
		const char *vals[] = { im->aliases ? im->aliases : "", im->fingerprint, desc, im->arch ? im->arch : "",
				       im->type, im->version, im->product };
		fputs(o->n ? ",\n{" : "{", stdout);
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			printf("\"%s\": ", keys[i]);
			tool_json_str(stdout, vals[i]);
			fputs(", ", stdout);
		}
		printf("\"size\": %lld, \"import_url\": ", im->size);
		tool_json_str(stdout, url);
		putchar('}');
	} else if (strcmp(o->format, "csv") == 0) {
		printf("\"%s\",%.12s,\"%s\",%s,%s,%lld,%s,%s\n", im->aliases ? im->aliases : "", im->fingerprint, desc,
		       im->arch ? im->arch : "", im->type, im->size, im->version, url);
	} else {
		if (o->n == 0)
			printf("%-40s %-12s %-50s %-8s %-15s %10s %-13s %s\n", "ALIASES", "FINGERPRINT", "DESCRIPTION",
			       "ARCH", "TYPE", "SIZE", "VERSION", "IMPORT URL (unified images)");
		printf("%-40s %.12s %-50s %-8s %-15s %10lld %-13s %s\n", im->aliases ? im->aliases : "",
		       im->fingerprint, desc, im->arch ? im->arch : "", im->type, im->size, im->version,
		       url[0] ? url : "-");
	}
	o->n++;
}

struct log_out {
	int json, n;
};

/* The versions a record's message lists with SIGN ("+ product version"
 * lines), the first few by name and the rest as a count. */
static void print_versions(const char *message, char sign)
{
	enum { SHOWN = 3 };
	int n = 0;
	for (const char *l = message; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (l[0] != sign || l[1] != ' ')
			continue;
		if (n++ < SHOWN)
			printf("%s%c%.*s", n > 1 ? ", " : "; ", sign, (int)strcspn(l + 2, "\n"), l + 2);
	}
	if (n > SHOWN)
		printf(" (%c%d more)", sign, n - SHOWN);
}

/* ISO 8601 in local time with its offset: 2026-11-29T10:03:29+00:00 */
static void iso_date(long long when, char *out, size_t size)
{
	time_t t = (time_t)when;
	struct tm tm;
	char zone[8];
	localtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(zone, sizeof(zone), "%z", &tm);
	size_t n = strlen(out);
	snprintf(out + n, size - n, "%.3s:%.2s", zone, zone + 3);
}

static void on_log(void *ud, const struct ss_history_entry *e)
{
	struct log_out *o = ud;
	char date[40];
	iso_date(e->time, date, sizeof(date));
	if (o->json) {
		printf("%s{\"id\": \"%s\", \"date\": \"%s\", \"time\": %lld, \"tool\": ", o->n ? ",\n" : "", e->id,
		       date, e->time);
		tool_json_str(stdout, e->tool);
		fputs(", \"summary\": ", stdout);
		tool_json_str(stdout, e->summary);
		fputs(", \"message\": ", stdout);
		tool_json_str(stdout, e->message);
		putchar('}');
	} else {
		printf("%.12s %s %s", e->id, date, e->summary);
		print_versions(e->message, '+');
		print_versions(e->message, '-');
		putchar('\n');
	}
	o->n++;
}

static void on_diff(void *ud, char sign, const char *what, const char *key)
{
	(void)ud;
	printf("%c %-7s %s\n", sign, what, key);
}

static void on_webconf(void *ud, const char *subject, const char *why)
{
	(void)ud;
	fprintf(stderr, "sstream-publish: %s: %s\n", subject, why);
}

static void on_missing(void *ud, const char *path, const char *why)
{
	(void)ud;
	fprintf(stderr, "sstream-publish: %s: %s\n", path, why);
}

struct prune_out {
	int dry_run, quiet;
};

static void on_prune(void *ud, const char *what, const char *path)
{
	const struct prune_out *o = ud;
	if (!o->quiet || o->dry_run)
		printf("%s %s %s\n", o->dry_run ? "would remove" : "removed", what, path);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "alias", required_argument, NULL, 'a' },
		{ "format", required_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "metadata", required_argument, NULL, 'M' },
		{ "templates", required_argument, NULL, 'T' },
		{ "unified", no_argument, NULL, 'U' },
		{ "split", no_argument, NULL, 'S' },
		{ "compression", required_argument, NULL, 'C' },
		{ "level", required_argument, NULL, 'L' },
		{ "keep-owners", no_argument, NULL, 'K' },
		{ "rootfs", required_argument, NULL, 'F' },
		{ "output", required_argument, NULL, 'o' },
		{ "sign-key", required_argument, NULL, 'k' },
		{ "keep", required_argument, NULL, 'N' },
		{ "grace", required_argument, NULL, 'G' },
		{ "dry-run", no_argument, NULL, 'R' },
		{ "delta", no_argument, NULL, 'D' },
		{ "no-history", no_argument, NULL, 'H' },
		{ "metrics", required_argument, NULL, 'P' },
		{ "base-url", required_argument, NULL, 'B' },
		{ "server", required_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char **aliases = calloc((size_t)argc, sizeof(*aliases));
	const char *format = "table", *metrics = NULL, *base_url = NULL, *server = "nginx";
	int naliases = 0, quiet = 0, c;
	long long num;
	struct ss_build_opts bo = { 0 };
	struct ss_publish_opts po = { 0 };
	int keep = -1, dry_run = 0, no_history = 0, max_log = 0;
	long long grace = 3600;
	if (!aliases)
		return SS_FATAL;
	while ((c = getopt_long(argc, argv, "a:f:qhVo:n:", opts, NULL)) != -1) {
		switch (c) {
		case 'M':
			bo.metadata = optarg;
			break;
		case 'T':
			bo.templates = optarg;
			break;
		case 'U':
			bo.unified = 1;
			break;
		case 'S':
			bo.unified = 0;
			break;
		case 'C':
			bo.compression = optarg;
			break;
		case 'L':
			if (tool_number(optarg, 22, &num) < 0 || num < 1)
				usage_error("--level is 1 to 22");
			bo.level = (int)num;
			break;
		case 'K':
			bo.keep_owners = 1;
			break;
		case 'F':
			if (strcmp(optarg, "squashfs") && strcmp(optarg, "tar"))
				usage_error("--rootfs is tar or squashfs");
			bo.squashfs = strcmp(optarg, "squashfs") == 0;
			break;
		case 'o':
			bo.outdir = optarg;
			break;
		case 'k':
			po.sign_key = optarg;
			break;
		case 'N':
			if (tool_number(optarg, INT_MAX, &num) < 0 || num < 1)
				usage_error("--keep is a whole number, at least 1");
			keep = (int)num;
			break;
		case 'G':
			if ((grace = tool_duration(optarg)) < 0)
				usage_error("--grace is a duration: 30s, 10m, 1h, 2d");
			break;
		case 'n':
			if (tool_number(optarg, INT_MAX, &num) < 0)
				usage_error("-n is a whole number");
			max_log = (int)num;
			break;
		case 'R':
			dry_run = 1;
			break;
		case 'D':
			po.delta = 1;
			break;
		case 'H':
			no_history = 1;
			break;
		case 'B':
			base_url = optarg;
			break;
		case 'W':
			server = optarg;
			if (strcmp(server, "nginx") && strcmp(server, "apache"))
				usage_error("--server is nginx or apache");
			break;
		case 'a':
			aliases[naliases++] = optarg;
			break;
		case 'f':
			format = optarg;
			if (strcmp(format, "table") && strcmp(format, "json") && strcmp(format, "csv"))
				usage_error("--format is table, json or csv");
			break;
		case 'q':
			quiet = 1;
			break;
		case 'P':
			metrics = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			free(aliases);
			return SS_OK;
		case 'V':
			tool_version("sstream-publish");
			free(aliases);
			return SS_OK;
		default:
			usage_error("unknown option");
		}
	}
	if (argc - optind == 2 && strcmp(argv[optind], "build") == 0) {
		if (!bo.metadata || !bo.outdir)
			usage_error("build needs --metadata FILE and -o OUTDIR");
		bo.rootfs = argv[optind + 1];
		char meta[4096], root[4096], fp[65];
		struct ss_error err;
		ss_error_clear(&err);
		int rc = ss_image_build(&bo, meta, root, sizeof(meta), fp, &err);
		if (rc != SS_OK)
			fprintf(stderr, "sstream-publish: %s\n", err.msg);
		else if (!quiet)
			printf("%s  %s%s%s\n", fp, meta, root[0] ? " " : "", root);
		free(aliases);
		return rc;
	}
	if (argc - optind < 2)
		usage_error("missing command or TREE");
	const char *cmd = argv[optind], *tree = argv[optind + 1];
	char **rest = argv + optind + 2;
	int nrest = argc - optind - 2;
	struct ss_error err;
	ss_error_clear(&err);
	int rc, changed = 0;
	char note[128] = "";
	/* --metrics: what the command changed, from the tree before and after */
	int measured = metrics && !dry_run &&
		       (!strcmp(cmd, "add") || !strcmp(cmd, "remove") || !strcmp(cmd, "prune") ||
			!strcmp(cmd, "import") || !strcmp(cmd, "rollback"));
	struct tool_tree_items *before = measured ? tool_tree_items(tree) : NULL;
	double start = tool_wall_clock();
	if (strcmp(cmd, "add") == 0) {
		if (nrest < 1 || nrest > 2)
			usage_error("add TREE FILE [FILE]");
		char fp[65];
		rc = ss_publish_add(tree, (const char *const *)rest, nrest, aliases, naliases, &po, fp, &changed,
				    &err);
		if (rc == SS_OK && !quiet)
			printf("%s%s\n", fp, changed ? "" : " (already published)");
	} else if (strcmp(cmd, "remove") == 0) {
		if (nrest != 1)
			usage_error("remove TREE FINGERPRINT|ALIAS");
		int removed;
		rc = ss_publish_remove(tree, rest[0], &po, &removed, &err);
		changed = rc == SS_OK;
		if (rc == SS_OK && !quiet)
			printf("removed %d image%s\n", removed, removed == 1 ? "" : "s");
	} else if (strcmp(cmd, "prune") == 0) {
		if (nrest != 0 || keep < 1)
			usage_error("prune TREE --keep N [--grace DURATION] [--dry-run]");
		struct prune_out pr = { dry_run, quiet };
		rc = ss_publish_prune(tree, keep, grace, dry_run, &po, on_prune, &pr, &err);
		changed = rc == SS_OK && !dry_run;
	} else if (strcmp(cmd, "history") == 0) {
		if (nrest != 0)
			usage_error("history TREE [-n N]");
		struct log_out lo = { strcmp(format, "json") == 0, 0 };
		if (lo.json)
			putchar('[');
		rc = ss_history_log(tree, max_log, on_log, &lo, &err);
		if (lo.json)
			printf("%s]\n", lo.n ? "\n" : "");
	} else if (strcmp(cmd, "diff") == 0) {
		if (nrest > 2)
			usage_error("diff TREE [REV [REV]]");
		const char *a = nrest >= 1 ? rest[0] : "HEAD~1", *b = nrest == 2 ? rest[1] : "HEAD";
		rc = ss_history_diff(tree, a, b, on_diff, NULL, &err);
	} else if (strcmp(cmd, "rollback") == 0) {
		if (nrest != 1)
			usage_error("rollback TREE REV");
		char id[41];
		rc = ss_history_resolve(tree, rest[0], id, &err);
		if (rc == SS_OK)
			rc = ss_history_rollback(tree, id, on_missing, NULL, &err);
		if (rc == SS_OK)
			snprintf(note, sizeof(note), "rollback to %.12s (%.40s)", id, rest[0]);
		changed = rc == SS_OK;
	} else if (strcmp(cmd, "import") == 0) {
		if (nrest != 1)
			usage_error("import TREE ITEMS.json");
		rc = ss_publish_import(tree, rest[0], &po, &changed, &err);
		if (rc == SS_OK && !quiet && !changed)
			printf("nothing changed\n");
	} else if (strcmp(cmd, "webconf") == 0) {
		if (nrest != 0 || !base_url)
			usage_error("webconf TREE --base-url URL [--server nginx|apache]");
		char *text;
		rc = ss_webconf_write(tree, base_url, server, &text, on_webconf, NULL, &err);
		if (rc == SS_OK)
			fputs(text, stdout);
		free(text);
	} else if (strcmp(cmd, "list") == 0) {
		if (nrest != 0)
			usage_error("list TREE");
		struct ss_tree *t = ss_tree_load(tree, &err);
		rc = t ? SS_OK : err.code;
		if (t) {
			char *base = ss_webconf_base_url(tree);
			struct list_out o = { format, base, 0 };
			if (strcmp(format, "json") == 0)
				printf("[");
			rc = ss_image_list(t, print_image, &o);
			if (strcmp(format, "json") == 0)
				printf("%s]\n", o.n ? "\n" : "");
			ss_tree_free(t);
			free(base);
		}
	} else {
		usage_error("the commands are build, add, remove, list, prune, import, history, diff, rollback and webconf");
	}
	if (rc != SS_OK)
		fprintf(stderr, "sstream-publish: %s\n", err.msg);
	/* A changed tree gets its import snippets rewritten (for the next
	 * reload of the web server) before its history records the change. */
	if (rc == SS_OK && changed && strcmp(cmd, "import") != 0) {
		struct ss_error we;
		if (ss_webconf_refresh(tree, &we) != SS_OK) {
			fprintf(stderr, "sstream-publish: warning: %s\n", we.msg);
			rc = SS_PARTIAL;
		}
	}
	/* The change goes into the tree's history; a damaged history is a
	 * warning (exit 1), never a failed publish. */
	if (rc == SS_OK && changed && !no_history) {
		int committed;
		struct ss_error he;
		if (ss_history_record_note(tree, "sstream-publish", note[0] ? note : NULL, &committed, &he) != SS_OK) {
			fprintf(stderr, "sstream-publish: warning: %s\n", he.msg);
			rc = SS_PARTIAL;
		}
	}
	if (measured) {
		struct tool_metrics m = { "sstream-publish", tree, rc, start, tool_wall_clock(), 0, 0, 0, 0,
					  -1, 0, 0, -1 };
		struct tool_tree_items *after = tool_tree_items(tree);
		tool_tree_items_diff(before, after, &m);
		tool_tree_items_free(after);
		struct ss_error me;
		if (tool_metrics_write(metrics, &m, &me) != SS_OK)
			fprintf(stderr, "sstream-publish: %s\n", me.msg);
	}
	tool_tree_items_free(before);
	free(aliases);
	return rc;
}
