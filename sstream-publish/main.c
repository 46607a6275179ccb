/* SPDX-License-Identifier: Apache-2.0 */
/* sstream-publish: turn LXD/Incus image files into a static simplestreams site. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "publish.h"

static const char usage_text[] =
	"usage: sstream-publish build ROOTFS_DIR --metadata FILE -o OUTDIR [--templates DIR]\n"
	"                             [--unified|--split] [--compression xz|zstd|gzip|none]\n"
	"                             [--level N] [--keep-owners] [--rootfs tar|squashfs]\n"
	"       sstream-publish add TREE FILE... [--alias A]... [--delta] [--sign-key ID]\n"
	"       sstream-publish remove TREE FINGERPRINT|ALIAS\n"
	"       sstream-publish list TREE [--format table|json|csv]\n"
	"       sstream-publish import TREE ITEMS.json\n"
	"       sstream-publish prune TREE --keep N [--grace DURATION] [--dry-run]\n"
	"       sstream-publish history TREE [--count N] [--format json]\n"
	"       sstream-publish diff TREE [REV [REV]]\n"
	"       sstream-publish rollback TREE REV\n"
	"       sstream-publish webconf TREE --base-url URL [--server nginx|apache]\n"
	"       sstream-publish html TREE [--base-url URL] [--remote NAME]\n"
	"\n"
	"build    packs a root file system and metadata.yaml into an image\n"
	"add      adds an image's files to TREE; prints its fingerprint\n"
	"remove   drops images by fingerprint (or prefix) or alias\n"
	"list     lists the images like 'lxc image list'\n"
	"import   turns flat item records into products files and the index\n"
	"prune    keeps the N newest versions of each product\n"
	"history  the metadata changes recorded in TREE/.sstream/history.git\n"
	"diff     what changed between two records (default: the last change)\n"
	"rollback restores a record's metadata atomically\n"
	"webconf  prints the nginx or Apache snippet for 'lxc image import URL'\n"
	"html     writes the catalogue page TREE/index.html (rewritten after every change)\n"
	"\n"
	"'sstream-publish COMMAND --help' lists a command's options.  Commands that\n"
	"change a tree (add, remove, prune, import, rollback) take --no-history,\n"
	"--metrics FILE and -q, --quiet, and --sign-key ID (remembered by the\n"
	"tree: later writes sign with it) or --unsign.  -h, --help: this help;\n"
	"-V, --version: the versions.\n"
	"\n"
	"Exit status: 0 ok; 1 partial (the tree is consistent: see sstream-publish(1));\n"
	"2 fatal (bad image or tree, nothing changed);\n"
	"64 usage; 75 another run holds the tree's lock.  See sstream-publish(1).\n";

enum {
	AFTER_WEBCONF = 1, /* a changed tree gets its import snippets rewritten */
	AFTER_HISTORY = 2, /* a change is recorded in the tree's history */
	AFTER_METRICS = 4, /* --metrics: what the command changed */
	AFTER_HTML = 8,    /* a changed tree gets its catalogue page rewritten (add, remove
			    * and prune write it themselves, from the products they hold) */
	AFTER_SIGN = 16,   /* the tree remembers its signing key, or --unsign drops it */
};

static const struct publish_command {
	const char *name;
	int (*run)(int argc, char **argv, struct publish_run *r);
	int after;
} commands[] = {
	{ "build", cmd_build, 0 },
	{ "add", cmd_add, AFTER_SIGN | AFTER_WEBCONF | AFTER_HISTORY | AFTER_METRICS },
	{ "remove", cmd_remove, AFTER_SIGN | AFTER_WEBCONF | AFTER_HISTORY | AFTER_METRICS },
	{ "list", cmd_list, 0 },
	{ "import", cmd_import, AFTER_SIGN | AFTER_HTML | AFTER_HISTORY | AFTER_METRICS },
	{ "prune", cmd_prune, AFTER_SIGN | AFTER_WEBCONF | AFTER_HISTORY | AFTER_METRICS },
	{ "history", cmd_history, 0 },
	{ "diff", cmd_diff, 0 },
	{ "rollback", cmd_rollback, AFTER_SIGN | AFTER_WEBCONF | AFTER_HTML | AFTER_HISTORY | AFTER_METRICS },
	{ "webconf", cmd_webconf, AFTER_HTML },
	{ "html", cmd_html, 0 },
};

static void usage_error(const char *msg)
{
	fprintf(stderr, "sstream-publish: %s\n", msg);
	fprintf(stderr, "usage: sstream-publish COMMAND TREE ... (see --help)\n");
	exit(SS_USAGE);
}

int publish_begin(struct publish_run *r, const char *tree, struct ss_publish_opts *po)
{
	r->tree = tree;
	r->start = tool_wall_clock();
	/* a signed tree stays signed: checked before anything changes */
	int rc = ss_tree_signer(tree, po->sign_key, r->unsign, SS_SIGNER_REQUIRE, &r->key, &r->err);
	if (rc != SS_OK) {
		r->tree = NULL; /* nothing changed: nothing to record or measure */
		return rc;
	}
	po->sign_key = r->key;
	if (r->metrics && !r->dry_run)
		r->before = tool_tree_items(tree);
	return SS_OK;
}

/* After a write: the tree remembers the key it was signed with, or with
 * --unsign loses its signed view (after the command's own write and
 * sweep: a file the signed view named is kept until a later prune). */
static int after_sign(struct publish_run *r, int rc)
{
	struct ss_error e;
	int ch = 0, src = SS_OK;
	if ((rc != SS_OK && rc != SS_PARTIAL) || !r->tree)
		return rc;
	if (r->dry_run) {
		if (r->unsign && !r->quiet && ss_tree_is_signed(r->tree))
			printf("would remove the signed view (streams/v1/*.sjson) and forget the signing key\n");
		return rc;
	}
	if (r->unsign)
		src = ss_tree_unsign(r->tree, &ch, &e);
	else if (r->key)
		src = ss_tree_signer_save(r->tree, r->key, &e);
	r->changed |= ch;
	if (src != SS_OK) {
		fprintf(stderr, "sstream-publish: warning: %s\n", e.msg);
		rc = SS_PARTIAL;
	}
	return rc;
}

/* The work after a command that changed the tree, as its flags say. */
static int after(const struct publish_command *c, struct publish_run *r, int rc)
{
	/* A changed tree gets its import snippets rewritten (for the next
	 * reload of the web server) before its history records the change. */
	struct ss_error e;
	if (c->after & AFTER_SIGN)
		rc = after_sign(r, rc);
	/* (SS_PARTIAL: the change stands, its page was not written, say) */
	if ((c->after & AFTER_WEBCONF) && (rc == SS_OK || rc == SS_PARTIAL) && r->changed && !r->dry_run &&
	    ss_webconf_refresh(r->tree, &e) != SS_OK) {
		fprintf(stderr, "sstream-publish: warning: %s\n", e.msg);
		rc = SS_PARTIAL;
	}
	if ((c->after & AFTER_HTML) && rc == SS_OK && r->changed && !r->dry_run)
		rc = publish_html_refresh(r);
	/* A damaged history is a warning (exit 1), never a failed publish. */
	int committed;
	if ((c->after & AFTER_HISTORY) && rc == SS_OK && r->changed && !r->dry_run && !r->no_history &&
	    ss_history_record_note(r->tree, "sstream-publish", r->note[0] ? r->note : NULL, &committed, &e) != SS_OK) {
		fprintf(stderr, "sstream-publish: warning: %s\n", e.msg);
		rc = SS_PARTIAL;
	}
	if ((c->after & AFTER_METRICS) && r->metrics && r->tree && !r->dry_run) {
		struct tool_metrics m = { "sstream-publish", r->tree, rc, r->start, tool_wall_clock(), 0, 0, 0,
					  r->failed, 0, 0, 0, -1, 0 };
		struct tool_tree_items *now = tool_tree_items(r->tree);
		tool_tree_items_diff(r->before, now, &m);
		tool_tree_items_free(now);
		/* what publish reads from outside the tree: the image files add copies */
		if (r->copies)
			m.bytes_fetched = m.bytes_added;
		if (tool_metrics_write(r->metrics, &m, &e) != SS_OK) {
			fprintf(stderr, "sstream-publish: %s\n", e.msg);
			rc = tool_result_worse(rc, SS_PARTIAL);
		}
	}
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage_error("missing command");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage_text, stdout);
		return SS_OK;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		tool_version("sstream-publish");
		return SS_OK;
	}
	const struct publish_command *c = NULL;
	for (size_t i = 0; !c && i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			c = &commands[i];
	if (!c) {
		fprintf(stderr, "sstream-publish: unknown command '%s'\n", argv[1]);
		usage_error("the commands are build, add, remove, list, prune, import, history, diff, rollback, webconf and html");
	}
	struct publish_run r = { 0 };
	ss_error_clear(&r.err);
	int rc = c->run(argc - 1, argv + 1, &r);
	if (rc != SS_OK)
		fprintf(stderr, "sstream-publish: %s\n", r.err.msg);
	rc = after(c, &r, rc);
	tool_tree_items_free(r.before);
	free(r.key);
	return rc;
}
