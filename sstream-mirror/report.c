/* SPDX-License-Identifier: Apache-2.0 */
/* sstream-mirror --report FILE: a JSON summary of the run, written atomically. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mirror.h"
#include "tool.h"

static void report_json(FILE *rf, const struct mirror_report *r)
{
	const struct ss_mirror_stats *st = r->st;
	fprintf(rf, "{\"result\": %d, \"items\": %zu, \"added\": %zu, \"reused\": %zu, "
		    "\"removed\": %zu, \"failed\": %zu, \"bytes_added\": %lld, "
		    "\"bytes_fetched\": %lld, \"bytes_removed\": %lld, \"seconds\": %.3f, "
		    "\"verbatim\": %s, \"dry_run\": %s, \"error\": ",
		r->rc, st->items, st->added, st->reused, st->removed, st->failed, st->bytes_added,
		st->bytes_fetched, st->bytes_removed, st->seconds, st->verbatim ? "true" : "false",
		r->dry_run ? "true" : "false");
	if (r->rc != SS_OK)
		tool_json_str(rf, r->error);
	else
		fputs("null", rf);
	const struct ss_mirror_phases *ph = &st->phases;
	fprintf(rf, ", \"phases\": {\"load\": %.3f, \"plan\": %.3f, \"fetch\": %.3f, \"sync\": %.3f, "
		    "\"documents\": %.3f, \"page\": %.3f, \"history\": %.3f}",
		ph->load, ph->plan, ph->fetch, ph->sync, ph->documents, ph->page, ph->history);
	if (r->s3)
		fprintf(rf, ", \"s3\": {\"uploaded\": %zu, \"kept\": %zu, \"deleted\": %zu, "
			    "\"bytes_uploaded\": %lld, \"bytes_deleted\": %lld, \"requests\": %zu}",
			r->s3st->uploaded, r->s3st->kept, r->s3st->deleted, r->s3st->bytes_uploaded,
			r->s3st->bytes_deleted, r->s3st->requests);
	fputs(", \"failures\": [", rf);
	for (int i = 0; i < r->u->nfail; i++) {
		if (i)
			fputs(", ", rf);
		tool_json_str(rf, r->u->fails[i]);
	}
	fputs("]}\n", rf);
}

int mirror_report_write(const char *file, const struct mirror_report *r, struct ss_error *err)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mf = open_memstream(&text, &len);
	if (!mf) {
		snprintf(err->msg, sizeof(err->msg), "cannot write '%s': out of memory", file);
		return -1;
	}
	report_json(mf, r);
	int bad = fclose(mf) != 0 || !text;
	int rc = bad ? -1 : tool_write_atomic(file, text, len, err);
	if (bad)
		snprintf(err->msg, sizeof(err->msg), "cannot write '%s': out of memory", file);
	free(text);
	return rc;
}
