/* SPDX-License-Identifier: Apache-2.0 */
/* sstream-publish add: publish an image's files into a tree. */
#include <stdio.h>
#include <stdlib.h>

#include "publish.h"

static const struct tool_cmd add_cmd = {
	"sstream-publish", "add", "usage: sstream-publish add TREE IMAGE | TREE META ROOT... [OPTIONS]\n",
	"Add an image: one unified tarball, or a metadata tarball and its root\n"
	"files (squashfs, rootfs tarball, qcow2 VM disk: one of each), one\n"
	"version with a fingerprint per root, printed one a line.  A root of\n"
	"the same metadata joins the version later.  Adding the same image\n"
	"again changes nothing.\n",
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
	po.catalogue = publish_page_opts(r);
	if (npos < 2 || npos > 5)
		tool_usage_error(&add_cmd, "add TREE IMAGE, or add TREE META ROOT... (up to three roots)");
	if (publish_begin(r, argv[1], &po) != SS_OK) {
		tool_list_free(&aliases);
		return r->err.code;
	}
	char fps[3][65];
	int nfps = 0;
	int rc = ss_publish_add_image(argv[1], (const char *const *)argv + 2, npos - 1, aliases.v, aliases.n, &po,
				      fps, &nfps, &r->changed, &r->err);
	for (int i = 0; rc == SS_OK && !r->quiet && i < nfps; i++)
		printf("%s%s\n", fps[i],
		       !r->changed ? " (already published)" : r->dry_run ? " (would be added)" : "");
	r->copies = 1;
	r->failed = rc == SS_OK ? 0 : npos - 1; /* a failed add publishes none of its files */
	tool_list_free(&aliases);
	return rc;
}
