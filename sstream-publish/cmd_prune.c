/* SPDX-License-Identifier: Apache-2.0 */
/* sstream-publish prune: keep the newest versions, delete what nothing references. */
#include <stdio.h>

#include "publish.h"

static const struct tool_cmd prune_cmd = {
	"sstream-publish", "prune", "usage: sstream-publish prune TREE --keep N [--grace DURATION] [--dry-run]\n",
	"Keep the N newest versions of each product, and delete files nothing\n"
	"references once unreferenced for the grace period (default 1h: clients\n"
	"cache the index).\n",
	"See sstream-publish(1).\n",
};

struct prune_out {
	int dry_run, quiet;
};

static void on_prune(void *ud, const char *what, const char *path)
{
	const struct prune_out *o = ud;
	if (!o->quiet || o->dry_run)
		printf("%s %s %s\n", o->dry_run ? "would remove" : "removed", what, path);
}

int cmd_prune(int argc, char **argv, struct publish_run *r)
{
	struct ss_publish_opts po = { 0 };
	long long keep = 0, grace = 3600;
	const struct tool_opt opts[] = {
		{ "keep", 0, TOOL_OPT_NUMBER, &keep, "N", "the versions of each product kept (at least 1)", 1,
		  0x7fffffff, 0, NULL, NULL },
		{ "grace", 0, TOOL_OPT_DURATION, &grace, "DURATION",
		  "how long an unreferenced file stays (default 1h)", 0, 0, 0, NULL, NULL },
		TOOL_OPT_DRY_RUN(&r->dry_run),
		PUBLISH_OPTS_CHANGE(r, &po),
		TOOL_OPT_ENDING,
	};
	if (tool_parse(&prune_cmd, opts, argc, argv) != 1 || keep < 1)
		tool_usage_error(&prune_cmd, "prune TREE --keep N [--grace DURATION] [--dry-run]");
	if (publish_begin(r, argv[1], &po) != SS_OK)
		return r->err.code;
	struct prune_out pr = { r->dry_run, r->quiet };
	po.dry_run = r->dry_run;
	po.catalogue = publish_page_opts(r);
	int rc = ss_publish_prune(argv[1], (int)keep, grace, r->dry_run, &po, on_prune, &pr, &r->err);
	r->changed = rc == SS_OK && !r->dry_run;
	return rc;
}
