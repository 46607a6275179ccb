/* SPDX-License-Identifier: Apache-2.0 */
/* sstream-publish diff: what changed between two history records. */
#include <stdio.h>

#include "publish.h"

static const struct tool_cmd diff_cmd = {
	"sstream-publish", "diff", "usage: sstream-publish diff TREE [REV [REV]]\n",
	"What changed between two records of the tree's history (default: the\n"
	"last change), by version and item.\n",
	"See sstream-publish(1).\n",
};

static void on_diff(void *ud, char sign, const char *what, const char *key)
{
	(void)ud;
	printf("%c %-7s %s\n", sign, what, key);
}

int cmd_diff(int argc, char **argv, struct publish_run *r)
{
	const struct tool_opt opts[] = {
		TOOL_OPT_STD,
		TOOL_OPT_ENDING,
	};
	int npos = tool_parse(&diff_cmd, opts, argc, argv);
	if (npos < 1 || npos > 3)
		tool_usage_error(&diff_cmd, "diff TREE [REV [REV]]");
	const char *a = npos >= 2 ? argv[2] : "HEAD~1", *b = npos == 3 ? argv[3] : "HEAD";
	return ss_history_diff(argv[1], a, b, on_diff, NULL, &r->err);
}
