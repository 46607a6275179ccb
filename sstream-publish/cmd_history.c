/* SPDX-License-Identifier: Apache-2.0 */
/* sstream-publish history: the metadata changes recorded in a tree's history. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "publish.h"

static const struct tool_cmd history_cmd = {
	"sstream-publish", "history", "usage: sstream-publish history TREE [--count N] [--format json]\n",
	"The metadata changes recorded in TREE/.sstream/history.git (every\n"
	"sstream-mirror and sstream-publish run that changed the streams).\n",
	"See sstream-publish(1).\n",
};

struct log_out {
	int json, n;
};

/* The versions a record's message lists with SIGN ("+ product version"
 * lines), the first few by name and the rest as a count. */
static void print_versions(const char *message, char sign)
{
	enum { SHOWN = 3 };
	int n = 0;
	for (const char *l = message; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (l[0] != sign || l[1] != ' ')
			continue;
		if (n++ < SHOWN)
			printf("%s%c%.*s", n > 1 ? ", " : "; ", sign, (int)strcspn(l + 2, "\n"), l + 2);
	}
	if (n > SHOWN)
		printf(" (%c%d more)", sign, n - SHOWN);
}

/* ISO 8601 in local time with its offset: 2026-11-29T10:03:29+00:00 */
static void iso_date(long long when, char *out, size_t size)
{
	time_t t = (time_t)when;
	struct tm tm;
	char zone[8];
	localtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(zone, sizeof(zone), "%z", &tm);
	size_t n = strlen(out);
	snprintf(out + n, size - n, "%.3s:%.2s", zone, zone + 3);
}

static void on_log(void *ud, const struct ss_history_entry *e)
{
	struct log_out *o = ud;
	char date[40];
	iso_date(e->time, date, sizeof(date));
	if (o->json) {
		printf("%s{\"id\": \"%s\", \"date\": \"%s\", \"time\": %lld, \"tool\": ", o->n ? ",\n" : "", e->id,
		       date, e->time);
		tool_json_str(stdout, e->tool);
		fputs(", \"summary\": ", stdout);
		tool_json_str(stdout, e->summary);
		fputs(", \"message\": ", stdout);
		tool_json_str(stdout, e->message);
		putchar('}');
	} else {
		printf("%.12s %s %s", e->id, date, e->summary);
		print_versions(e->message, '+');
		print_versions(e->message, '-');
		putchar('\n');
	}
	o->n++;
}

int cmd_history(int argc, char **argv, struct publish_run *r)
{
	const char *format = "table";
	long long count = 0;
	const struct tool_opt opts[] = {
		{ "count", 'c', TOOL_OPT_NUMBER, &count, "N", "the N newest records (default: all)", 0, 0x7fffffff, 0,
		  NULL, NULL },
		{ "format", 'f', TOOL_OPT_STRING, &format, "FMT", "table (default) or json", 0, 0, 0, "table|json",
		  NULL },
		TOOL_OPT_STD,
		TOOL_OPT_ENDING,
	};
	if (tool_parse(&history_cmd, opts, argc, argv) != 1)
		tool_usage_error(&history_cmd, "history TREE [--count N]");
	struct log_out lo = { strcmp(format, "json") == 0, 0 };
	if (lo.json)
		putchar('[');
	int rc = ss_history_log(argv[1], (int)count, on_log, &lo, &r->err);
	if (lo.json)
		printf("%s]\n", lo.n ? "\n" : "");
	return rc;
}
