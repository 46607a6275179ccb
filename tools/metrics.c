/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Prometheus text format (version 0.0.4) of a run, for node_exporter's
 * textfile collector, written atomically so that the collector never reads
 * half a file.  Output formatting, so it lives with the tools.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sstream.h"
#include "tool.h"

double tool_wall_clock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The value of the sample of NAME in FILE's text, or -1 when there is none. */
static double previous(const char *file, const char *name)
{
	char *data;
	size_t len, n = strlen(name);
	struct ss_error e;
	double v = -1;
	if (ss_fetch(file, 1 << 20, &data, &len, &e) != SS_OK)
		return -1;
	for (char *line = data; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, name, n) != 0 || (line[n] != '{' && line[n] != ' '))
			continue;
		char *eol = strchr(line, '\n');
		if (eol)
			*eol = '\0';
		char *sp = strrchr(line, ' '), *end;
		double x = sp ? strtod(sp + 1, &end) : -1;
		if (sp && end != sp + 1 && !*end)
			v = x;
		break;
	}
	free(data);
	return v;
}

/* A label value: backslash, double quote and newline escaped. */
static void label(char *out, size_t size, const char *s)
{
	size_t o = 0;
	for (; s && *s && o + 3 < size; s++) {
		if (*s == '\\' || *s == '"' || *s == '\n') {
			out[o++] = '\\';
			out[o++] = *s == '\n' ? 'n' : *s;
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
}

struct buf {
	char *s;
	size_t len, cap;
	const char *labels;
};

static void put(struct buf *b, const char *name, const char *help, double v, int integer)
{
	char line[8192];
	int n = integer ? snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s gauge\n%s{%s} %.0f\n", name, help,
				   name, name, b->labels, v)
			: snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s gauge\n%s{%s} %.3f\n", name, help,
				   name, name, b->labels, v);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	if (b->len + (size_t)n + 1 > b->cap) {
		size_t cap = (b->cap + (size_t)n) * 2;
		char *s = realloc(b->s, cap);
		if (!s)
			return;
		b->s = s;
		b->cap = cap;
	}
	memcpy(b->s + b->len, line, (size_t)n + 1);
	b->len += (size_t)n;
}

int tool_metrics_write(const char *file, const struct tool_metrics *m, struct ss_error *err)
{
	char tool[256], target[4096], labels[4500];
	label(tool, sizeof(tool), m->tool);
	label(target, sizeof(target), m->target);
	snprintf(labels, sizeof(labels), "tool=\"%s\",target=\"%s\"", tool, target);
	struct buf b = { .labels = labels };
	/* a failed run keeps the last success the file recorded, and the
	 * tree's counts when it could not tell them */
	double success = m->result == SS_OK ? m->end : previous(file, "sstream_last_success_timestamp_seconds");
	double items = m->items >= 0 ? (double)m->items : previous(file, "sstream_items");
	double bytes = m->bytes >= 0 ? (double)m->bytes : previous(file, "sstream_items_bytes");
	put(&b, "sstream_last_run_result", "Exit status of the last run (0 ok, 1 partial, 2 fatal, 3 integrity, 75 temporary).",
	    m->result, 1);
	put(&b, "sstream_last_run_success", "1 when the last run exited 0, else 0.", m->result == SS_OK, 1);
	put(&b, "sstream_last_run_start_timestamp_seconds", "When the last run started.", m->start, 0);
	put(&b, "sstream_last_run_end_timestamp_seconds", "When the last run ended.", m->end, 0);
	if (success >= 0)
		put(&b, "sstream_last_success_timestamp_seconds", "When the last run that exited 0 ended.", success, 0);
	if (items >= 0)
		put(&b, "sstream_items", "Items the tree lists after the last run.", items, 1);
	if (bytes >= 0)
		put(&b, "sstream_items_bytes", "Size of the items the tree lists after the last run.", bytes, 1);
	put(&b, "sstream_last_run_items_added", "Items the last run added.", (double)m->added, 1);
	put(&b, "sstream_last_run_items_removed", "Items the last run removed.", (double)m->removed, 1);
	put(&b, "sstream_last_run_items_failed", "Items the last run failed to add.", (double)m->failed, 1);
	if (m->bytes_fetched >= 0)
		put(&b, "sstream_last_run_bytes_fetched",
		    "Bytes the last run received from its source (the network; publish: the image files it copied).",
		    (double)m->bytes_fetched, 1);
	put(&b, "sstream_last_run_bytes_added", "Size of the items the last run added.", (double)m->bytes_added, 1);
	put(&b, "sstream_last_run_bytes_removed", "Size of the files the last run removed.", (double)m->bytes_removed, 1);
	/* a run that read no document (the source answered 304: unchanged)
	 * keeps the date the file recorded */
	double updated = m->updated >= 0 ? (double)m->updated
			 : m->result == SS_OK ? previous(file, "sstream_upstream_updated_timestamp_seconds") : -1;
	if (updated >= 0)
		put(&b, "sstream_upstream_updated_timestamp_seconds",
		    "The newest updated date stated by the source index and products files.", updated, 1);
	int rc = !b.s ? SS_PARTIAL : tool_write_atomic(file, b.s, b.len, err) == 0 ? SS_OK : SS_PARTIAL;
	if (!b.s) {
		ss_error_clear(err);
		err->code = SS_PARTIAL;
		snprintf(err->msg, sizeof(err->msg), "cannot write metrics '%s': out of memory", file);
	}
	free(b.s);
	return rc;
}

/* ---- what a publish command changed, from the tree before and after ------------ */

struct tool_tree_items {
	char **keys; /* "content_id product version item\tsize", sorted */
	size_t n;
};

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct tool_tree_items *tool_tree_items(const char *tree)
{
	struct tool_tree_items *ti = calloc(1, sizeof(*ti));
	struct ss_error e;
	struct ss_tree *t = ss_tree_load(tree, &e);
	size_t cap = 0;
	for (size_t i = 0; ti && t && i < ss_tree_nproducts(t); i++) {
		const struct ss_products *p = ss_tree_products(t, i);
		for (size_t k = 0; k < ss_products_count(p); k++) {
			const struct ss_item *it = ss_products_item(p, k);
			const char *sha = ss_item_str(it, "sha256");
			char key[4096];
			snprintf(key, sizeof(key), "%s %s %s %s %s\t%lld", ss_products_content_id(p),
				 ss_item_product(it), ss_item_version(it), ss_item_name(it), sha ? sha : "",
				 ss_item_get_int(it, "size"));
			if (ti->n == cap) {
				size_t nc = cap ? 2 * cap : 64;
				char **nk = realloc(ti->keys, nc * sizeof(*nk));
				if (!nk)
					continue;
				ti->keys = nk;
				cap = nc;
			}
			if ((ti->keys[ti->n] = strdup(key)))
				ti->n++;
		}
	}
	ss_tree_free(t);
	if (ti && ti->n)
		qsort(ti->keys, ti->n, sizeof(char *), cmp);
	return ti;
}

void tool_tree_count(const char *tree, long long *items, long long *bytes)
{
	struct ss_error e;
	struct ss_tree *t = ss_tree_load(tree, &e);
	*items = *bytes = 0;
	for (size_t i = 0; t && i < ss_tree_nproducts(t); i++) {
		const struct ss_products *p = ss_tree_products(t, i);
		for (size_t k = 0; k < ss_products_count(p); k++) {
			long long n = ss_item_get_int(ss_products_item(p, k), "size");
			++*items;
			*bytes += n > 0 ? n : 0;
		}
	}
	ss_tree_free(t);
}

void tool_tree_items_free(struct tool_tree_items *ti)
{
	for (size_t i = 0; ti && i < ti->n; i++)
		free(ti->keys[i]);
	if (ti)
		free(ti->keys);
	free(ti);
}

static long long key_size(const char *key)
{
	const char *tab = strrchr(key, '\t');
	long long n = tab ? atoll(tab + 1) : 0;
	return n > 0 ? n : 0;
}

void tool_tree_items_diff(const struct tool_tree_items *a, const struct tool_tree_items *b, struct tool_metrics *m)
{
	size_t i = 0, j = 0, an = a ? a->n : 0, bn = b ? b->n : 0;
	m->items = (long long)bn;
	m->bytes = 0;
	for (size_t k = 0; k < bn; k++)
		m->bytes += key_size(b->keys[k]);
	while (i < an || j < bn) {
		int c = i >= an ? 1 : j >= bn ? -1 : strcmp(a->keys[i], b->keys[j]);
		if (c == 0) {
			i++, j++;
		} else if (c < 0) {
			m->removed++;
			m->bytes_removed += key_size(a->keys[i++]);
		} else {
			m->added++;
			m->bytes_added += key_size(b->keys[j++]);
		}
	}
}
