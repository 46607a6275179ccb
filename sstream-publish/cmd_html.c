/* SPDX-License-Identifier: Apache-2.0 */
/* sstream-publish html: (re)writes the tree's catalogue page, TREE/index.html. */
#include <stdio.h>

#include "publish.h"

static const struct tool_cmd html_cmd = {
	"sstream-publish", "html", "usage: sstream-publish html TREE [--base-url URL] [--remote NAME]\n",
	"Write TREE/index.html: a self-contained page listing the tree's products,\n"
	"their versions and files, and the lxc commands to use the site (add,\n"
	"remove, prune, import and rollback rewrite it unless --no-html).  A page\n"
	"sstream did not write is never overwritten.\n",
	"See sstream-publish(1).\n",
};

int cmd_html(int argc, char **argv, struct publish_run *r)
{
	struct ss_catalogue_opts co = { 0 };
	const struct tool_opt opts[] = {
		{ "base-url", 0, TOOL_OPT_STRING, &co.base_url, "URL",
		  "the URL the tree is served at (default: webconf's)", 0, 0, 0, NULL, NULL },
		{ "remote", 0, TOOL_OPT_STRING, &co.remote, "NAME", "the remote name in the commands shown", 0, 0, 0,
		  NULL, NULL },
		PUBLISH_OPT_QUIET(r),
		TOOL_OPT_STD,
		TOOL_OPT_ENDING,
	};
	if (tool_parse(&html_cmd, opts, argc, argv) != 1)
		tool_usage_error(&html_cmd, "html TREE");
	int changed = 0;
	int rc = ss_catalogue_write(argv[1], &co, &changed, &r->err);
	if (rc == SS_OK && !r->quiet)
		printf("%s/index.html%s\n", argv[1], changed ? "" : " (unchanged)");
	return rc;
}

/* For add, remove and prune, which write the page from the products they
 * have in memory: the page's options, or NULL with --no-html. */
const struct ss_catalogue_opts *publish_page_opts(const struct publish_run *r)
{
	static const struct ss_catalogue_opts defaults = { 0 };
	return r->no_html ? NULL : &defaults;
}

/* After a change by import, rollback or webconf (which do not hold the
 * products): the page again, unless --no-html; a failure is a warning. */
int publish_html_refresh(struct publish_run *r)
{
	struct ss_error e;
	if (r->no_html || ss_catalogue_write(r->tree, NULL, NULL, &e) == SS_OK)
		return SS_OK;
	fprintf(stderr, "sstream-publish: warning: %s\n", e.msg);
	return SS_PARTIAL;
}
