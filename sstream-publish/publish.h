/* SPDX-License-Identifier: Apache-2.0 */
/* sstream-publish's commands: one file each (cmd_<name>.c), dispatched by main.c. */
#ifndef SSTREAM_PUBLISH_TOOL_H
#define SSTREAM_PUBLISH_TOOL_H

#include "options.h"
#include "sstream.h"
#include "tool.h"

/* What a command tells main about its run, for the after-command work
 * that the command table's flags ask for. */
struct publish_run {
	const char *tree;       /* the tree the command worked on, or NULL */
	int quiet;              /* -q */
	int changed;            /* the command changed the tree */
	char note[128];         /* the history record's note, or "" */
	const char *metrics;    /* --metrics FILE, or NULL */
	int no_history;         /* --no-history */
	int dry_run;            /* -n: nothing changes, nothing is measured */
	int no_html;            /* --no-html: the catalogue page is not rewritten */
	int unsign;             /* --unsign: drop the signed view, forget the key */
	char *key;              /* the key this write signs with (its fingerprint), or NULL */
	struct tool_tree_items *before; /* for --metrics: the tree before */
	long long failed;       /* --metrics: the files the command could not publish */
	int copies;             /* --metrics: the items added were copied from files */
	double start;
	struct ss_error err;    /* the message when the command fails */
};

/* The options every command that changes a tree takes. */
#define PUBLISH_OPT_QUIET(r) \
	{ "quiet", 'q', TOOL_OPT_FLAG, &(r)->quiet, NULL, "print nothing on success", 0, 0, 0, NULL, NULL }
#define PUBLISH_OPT_NO_HISTORY(r) \
	{ "no-history", 0, TOOL_OPT_FLAG, &(r)->no_history, NULL, "do not record the change in the tree's history", \
	  0, 0, 0, NULL, NULL }
#define PUBLISH_OPT_METRICS(r) \
	{ "metrics", 0, TOOL_OPT_STRING, &(r)->metrics, "FILE", "write the run's metrics to FILE (Prometheus text)", \
	  0, 0, 0, NULL, NULL }
#define PUBLISH_OPT_SIGN_KEY(po) \
	{ "sign-key", 0, TOOL_OPT_STRING, &(po)->sign_key, "ID", \
	  "also write clearsigned .sjson files, signed with the\nsecret key ID of $GNUPGHOME (remembered: later\n" \
	  "writes sign with it)", 0, 0, 0, NULL, NULL }
#define PUBLISH_OPT_UNSIGN(r) \
	{ "unsign", 0, TOOL_OPT_FLAG, &(r)->unsign, NULL, "drop the signed .sjson view and forget the key", \
	  0, 0, 0, NULL, NULL }

/* The options of a command that changes a tree and writes its streams. */
#define PUBLISH_OPT_NO_HTML(r) \
	{ "no-html", 0, TOOL_OPT_FLAG, &(r)->no_html, NULL, "do not rewrite the catalogue page TREE/index.html", \
	  0, 0, 0, NULL, NULL }
#define PUBLISH_OPTS_CHANGE(r, po) \
	PUBLISH_OPT_SIGN_KEY(po), PUBLISH_OPT_UNSIGN(r), PUBLISH_OPT_NO_HISTORY(r), PUBLISH_OPT_NO_HTML(r), PUBLISH_OPT_METRICS(r), \
		PUBLISH_OPT_QUIET(r), TOOL_OPT_STD

/* Called by a command once its arguments are parsed, before it changes
 * TREE: the key it signs with (--sign-key, else the one TREE remembers,
 * none with --unsign) checked and set in PO, or SS_FATAL/SS_USAGE with
 * R->err filled and nothing changed; with --metrics, the tree's items
 * before the change. */
int publish_begin(struct publish_run *r, const char *tree, struct ss_publish_opts *po);

/* The commands; each parses its own options (exit 64 on a usage error)
 * and returns the exit code, with R->err filled on failure. */
int cmd_build(int argc, char **argv, struct publish_run *r);
int cmd_add(int argc, char **argv, struct publish_run *r);
int cmd_remove(int argc, char **argv, struct publish_run *r);
int cmd_list(int argc, char **argv, struct publish_run *r);
int cmd_import(int argc, char **argv, struct publish_run *r);
int cmd_prune(int argc, char **argv, struct publish_run *r);
int cmd_history(int argc, char **argv, struct publish_run *r);
int cmd_diff(int argc, char **argv, struct publish_run *r);
int cmd_rollback(int argc, char **argv, struct publish_run *r);
int cmd_webconf(int argc, char **argv, struct publish_run *r);
int cmd_html(int argc, char **argv, struct publish_run *r);
/* Rewrites the catalogue page after a change (cmd_html.c). */
int publish_html_refresh(struct publish_run *r);
/* The catalogue options add, remove and prune pass on (NULL: --no-html). */
const struct ss_catalogue_opts *publish_page_opts(const struct publish_run *r);

#endif
