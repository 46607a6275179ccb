/* SPDX-License-Identifier: Apache-2.0 */
/* sstream-publish add: publish an image's files into a tree. */
#include <stdio.h>
#include <stdlib.h>

#include "publish.h"

static const struct tool_cmd add_cmd = {
	"sstream-publish", "add", "usage: sstream-publish add TREE FILE [FILE] [OPTIONS]\n",
	"Add an image: one unified tarball, or a metadata tarball and its root\n"
	"file (squashfs, rootfs tarball or qcow2 VM disk); prints its\n"
	"fingerprint.  Adding the same image again changes nothing.\n",
	"See sstream-publish(1).\n",
};

int cmd_add(int argc, char **argv, struct publish_run *r)
{
	struct ss_publish_opts po = { 0 };
	struct tool_list aliases = { 0 };
	const struct tool_opt opts[] = {
		{ "alias", 'a', TOOL_OPT_LIST, &aliases, "A", "an extra alias (repeatable)", 0, 0, 0, NULL, NULL },
		{ "delta", 0, TOOL_OPT_FLAG, &po.delta, NULL,
		  "also publish an xdelta3 squashfs.vcdiff from the\nproduct's previous squashfs", 0, 0, 0, NULL, NULL },
		TOOL_OPT_DRY_RUN(&r->dry_run),
		PUBLISH_OPTS_CHANGE(r, &po),
		TOOL_OPT_ENDING,
	};
	int npos = tool_parse(&add_cmd, opts, argc, argv);
	po.dry_run = r->dry_run;
	if (npos < 2 || npos > 3)
		tool_usage_error(&add_cmd, "add TREE FILE [FILE]");
	if (publish_begin(r, argv[1], &po) != SS_OK)
		return r->err.code;
	char fp[65];
	int rc = ss_publish_add(argv[1], (const char *const *)argv + 2, npos - 1, aliases.v, aliases.n, &po, fp,
				&r->changed, &r->err);
	if (rc == SS_OK && !r->quiet)
		printf("%s%s\n", fp, !r->changed ? " (already published)" : r->dry_run ? " (would be added)" : "");
	tool_list_free(&aliases);
	return rc;
}
