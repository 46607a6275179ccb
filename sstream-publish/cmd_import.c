/* SPDX-License-Identifier: Apache-2.0 */
/* sstream-publish import: products files and index from flat item records. */
#include <stdio.h>

#include "publish.h"

static const struct tool_cmd import_cmd = {
	"sstream-publish", "import", "usage: sstream-publish import TREE ITEMS.json [OPTIONS]\n",
	"Turn a JSON list of flat item records (content_id, product_name,\n"
	"version_name, item_name, path, size, sha256, ...) into products files\n"
	"and the index, like the upstream json2streams.\n",
	"See sstream-publish(1).\n",
};

int cmd_import(int argc, char **argv, struct publish_run *r)
{
	struct ss_publish_opts po = { 0 };
	const struct tool_opt opts[] = {
		TOOL_OPT_DRY_RUN(&r->dry_run),
		PUBLISH_OPTS_CHANGE(r, &po),
		TOOL_OPT_ENDING,
	};
	if (tool_parse(&import_cmd, opts, argc, argv) != 2)
		tool_usage_error(&import_cmd, "import TREE ITEMS.json [--dry-run]");
	po.dry_run = r->dry_run;
	if (publish_begin(r, argv[1], &po) != SS_OK)
		return r->err.code;
	int rc = ss_publish_import(argv[1], argv[2], &po, &r->changed, &r->err);
	if (rc == SS_OK && !r->quiet && !r->changed)
		printf("nothing changed\n");
	else if (rc == SS_OK && !r->quiet && r->dry_run)
		printf("would change the tree\n");
	return rc;
}
