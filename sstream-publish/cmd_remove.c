/* SPDX-License-Identifier: Apache-2.0 */
/* sstream-publish remove: drop images from a tree's streams. */
#include <stdio.h>

#include "publish.h"

static const struct tool_cmd remove_cmd = {
	"sstream-publish", "remove", "usage: sstream-publish remove TREE FINGERPRINT|ALIAS [OPTIONS]\n",
	"Drop the image with that fingerprint (or prefix), or every image of the\n"
	"product with that alias, from the streams.\n",
	"See sstream-publish(1).\n",
};

int cmd_remove(int argc, char **argv, struct publish_run *r)
{
	struct ss_publish_opts po = { 0 };
	const struct tool_opt opts[] = {
		TOOL_OPT_DRY_RUN(&r->dry_run),
		{ "all-versions", 0, TOOL_OPT_FLAG, &po.all_versions, NULL,
		  "remove every version the alias names (without it, an alias\nnaming more than one version is refused)", 0, 0, 0, NULL, NULL },
		PUBLISH_OPTS_CHANGE(r, &po),
		TOOL_OPT_ENDING,
	};
	if (tool_parse(&remove_cmd, opts, argc, argv) != 2)
		tool_usage_error(&remove_cmd, "remove TREE FINGERPRINT|ALIAS [--all-versions] [--dry-run]");
	po.dry_run = r->dry_run;
	po.catalogue = publish_page_opts(r);
	if (publish_begin(r, argv[1], &po) != SS_OK)
		return r->err.code;
	int removed;
	int rc = ss_publish_remove(argv[1], argv[2], &po, &removed, &r->err);
	r->changed = rc == SS_OK;
	if (rc == SS_OK && !r->quiet)
		printf("%s %d image%s\n", r->dry_run ? "would remove" : "removed", removed, removed == 1 ? "" : "s");
	return rc;
}
