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
		PUBLISH_OPTS_CHANGE(r, &po),
		TOOL_OPT_ENDING,
	};
	if (tool_parse(&remove_cmd, opts, argc, argv) != 2)
		tool_usage_error(&remove_cmd, "remove TREE FINGERPRINT|ALIAS");
	publish_begin(r, argv[1]);
	int removed;
	int rc = ss_publish_remove(argv[1], argv[2], &po, &removed, &r->err);
	r->changed = rc == SS_OK;
	if (rc == SS_OK && !r->quiet)
		printf("removed %d image%s\n", removed, removed == 1 ? "" : "s");
	return rc;
}
