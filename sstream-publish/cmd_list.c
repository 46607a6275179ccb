/* SPDX-License-Identifier: Apache-2.0 */
/* sstream-publish list: the images of a tree, like 'lxc image list'. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "publish.h"

static const struct tool_cmd list_cmd = {
	"sstream-publish", "list", "usage: sstream-publish list TREE [--format table|json|csv]\n",
	"List the images like 'lxc image list', with the URL that\n"
	"'lxc image import URL' takes for the unified ones.\n",
	"See sstream-publish(1).\n",
};

struct list_out {
	const char *format;
	const char *base;       /* webconf's base URL, or NULL */
	int n;
};

static void print_image(void *ud, const struct ss_image_info *im)
{
	struct list_out *o = ud;
	char desc[512];
	/* as LXD describes a simplestreams image: os release_title arch (version) */
	const char *title = im->release_title ? im->release_title : im->release;
	snprintf(desc, sizeof(desc), "%s %s %s (%s)", im->os ? im->os : "", title ? title : "", im->arch ? im->arch : "",
		 im->version);
	/* unified images can be imported by URL (lxc image import URL) */
	char url[1024] = "";
	if (im->unified) {
		size_t bl = o->base ? strlen(o->base) : 0;
		while (bl && o->base[bl - 1] == '/')
			bl--;
		snprintf(url, sizeof(url), "%.*s/import/%s", (int)bl, o->base ? o->base : "", im->fingerprint);
	}
	if (strcmp(o->format, "json") == 0) {
		const char *keys[] = { "aliases", "fingerprint", "description", "architecture", "type", "version",
				       "product" };
		const char *vals[] = { im->aliases ? im->aliases : "", im->fingerprint, desc, im->arch ? im->arch : "",
				       im->type, im->version, im->product };
		fputs(o->n ? ",\n{" : "{", stdout);
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			printf("\"%s\": ", keys[i]);
			tool_json_str(stdout, vals[i]);
			fputs(", ", stdout);
		}
		printf("\"size\": %lld, \"import_url\": ", im->size);
		tool_json_str(stdout, url);
		putchar('}');
	} else if (strcmp(o->format, "csv") == 0) {
		printf("\"%s\",%.12s,\"%s\",%s,%s,%lld,%s,%s\n", im->aliases ? im->aliases : "", im->fingerprint, desc,
		       im->arch ? im->arch : "", im->type, im->size, im->version, url);
	} else {
		if (o->n == 0)
			printf("%-40s %-12s %-50s %-8s %-15s %10s %-13s %s\n", "ALIASES", "FINGERPRINT", "DESCRIPTION",
			       "ARCH", "TYPE", "SIZE", "VERSION", "IMPORT URL (unified images)");
		printf("%-40s %.12s %-50s %-8s %-15s %10lld %-13s %s\n", im->aliases ? im->aliases : "",
		       im->fingerprint, desc, im->arch ? im->arch : "", im->type, im->size, im->version,
		       url[0] ? url : "-");
	}
	o->n++;
}

int cmd_list(int argc, char **argv, struct publish_run *r)
{
	const char *format = "table";
	const struct tool_opt opts[] = {
		{ "format", 'f', TOOL_OPT_STRING, &format, "FMT", "table, json or csv", 0, 0, 0, "table|json|csv",
		  NULL },
		TOOL_OPT_STD,
		TOOL_OPT_ENDING,
	};
	if (tool_parse(&list_cmd, opts, argc, argv) != 1)
		tool_usage_error(&list_cmd, "list TREE");
	struct ss_tree *t = ss_tree_load(argv[1], &r->err);
	if (!t)
		return r->err.code;
	char *base = ss_webconf_base_url(argv[1]);
	struct list_out o = { format, base, 0 };
	if (strcmp(format, "json") == 0)
		printf("[");
	int rc = ss_image_list(t, print_image, &o);
	if (strcmp(format, "json") == 0)
		printf("%s]\n", o.n ? "\n" : "");
	ss_tree_free(t);
	free(base);
	return rc;
}
