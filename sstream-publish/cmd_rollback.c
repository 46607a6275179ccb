/* SPDX-License-Identifier: Apache-2.0 */
/* sstream-publish rollback: restore a history record's metadata. */
#include <stdio.h>

#include "publish.h"

static const struct tool_cmd rollback_cmd = {
	"sstream-publish", "rollback", "usage: sstream-publish rollback TREE REV [OPTIONS]\n",
	"Restore a record's metadata atomically, if every file it names is\n"
	"still here and verifies; the rollback is recorded too.\n",
	"See sstream-publish(1).\n",
};

static void on_missing(void *ud, const char *path, const char *why)
{
	(void)ud;
	fprintf(stderr, "sstream-publish: %s: %s\n", path, why);
}

int cmd_rollback(int argc, char **argv, struct publish_run *r)
{
	struct ss_publish_opts po = { 0 };
	const struct tool_opt opts[] = {
		TOOL_OPT_DRY_RUN(&r->dry_run),
		PUBLISH_OPT_SIGN_KEY(&po),
		PUBLISH_OPT_UNSIGN(r),
		PUBLISH_OPT_NO_HISTORY(r),
		PUBLISH_OPT_METRICS(r),
		TOOL_OPT_STD,
		TOOL_OPT_ENDING,
	};
	if (tool_parse(&rollback_cmd, opts, argc, argv) != 2)
		tool_usage_error(&rollback_cmd, "rollback TREE REV");
	po.dry_run = r->dry_run;
	if (publish_begin(r, argv[1], &po) != SS_OK)
		return r->err.code;
	char id[41];
	int rc = ss_history_resolve(argv[1], argv[2], id, &r->err);
	if (rc == SS_OK)
		rc = ss_history_rollback_ex(argv[1], id, &po, on_missing, NULL, &r->err);
	if (rc == SS_OK && r->dry_run && !r->quiet)
		printf("would roll back to %.12s\n", id);
	if (rc == SS_OK)
		snprintf(r->note, sizeof(r->note), "rollback to %.12s (%.40s)", id, argv[2]);
	r->changed = rc == SS_OK;
	return rc;
}
