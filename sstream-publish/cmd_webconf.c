/* SPDX-License-Identifier: Apache-2.0 */
/* sstream-publish webconf: the web server snippet for 'lxc image import URL/import/ALIAS'. */
#include <stdio.h>
#include <stdlib.h>

#include "publish.h"

static const struct tool_cmd webconf_cmd = {
	"sstream-publish", "webconf", "usage: sstream-publish webconf TREE --base-url URL [--server nginx|apache]\n",
	"Print the nginx or Apache snippet that answers 'lxc image import\n"
	"URL/import/ALIAS' (or FINGERPRINT) for the client's architecture;\n"
	"kept in TREE/.sstream/import-SERVER.conf, which add, remove, prune\n"
	"and rollback rewrite.\n",
	"See sstream-publish(1).\n",
};

static void on_webconf(void *ud, const char *subject, const char *why)
{
	(void)ud;
	fprintf(stderr, "sstream-publish: %s: %s\n", subject, why);
}

int cmd_webconf(int argc, char **argv, struct publish_run *r)
{
	const char *base_url = NULL, *server = "nginx";
	const struct tool_opt opts[] = {
		{ "base-url", 0, TOOL_OPT_STRING, &base_url, "URL", "the URL the tree is served at", 0, 0, 0, NULL,
		  NULL },
		{ "server", 0, TOOL_OPT_STRING, &server, "NAME", "nginx (default) or apache", 0, 0, 0, "nginx|apache",
		  NULL },
		PUBLISH_OPT_NO_HTML(r),
		TOOL_OPT_DRY_RUN(&r->dry_run),
		TOOL_OPT_STD,
		TOOL_OPT_ENDING,
	};
	if (tool_parse(&webconf_cmd, opts, argc, argv) != 1 || !base_url)
		tool_usage_error(&webconf_cmd, "webconf TREE --base-url URL [--server nginx|apache]");
	char *text;
	/* a dry run prints the same snippet and writes nothing (nor the page) */
	int rc = r->dry_run ? ss_webconf_text(argv[1], base_url, server, &text, on_webconf, NULL, &r->err)
			    : ss_webconf_write(argv[1], base_url, server, &text, on_webconf, NULL, &r->err);
	if (rc == SS_OK)
		fputs(text, stdout);
	free(text);
	r->tree = argv[1];
	r->changed = rc == SS_OK && !r->dry_run; /* the page shows the base URL's commands */
	return rc;
}
