/* sstream-query: list the flattened items of a simplestreams tree. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "sstream.h"
#include "tool.h"

static const struct tool_cmd query_cmd = {
	"sstream-query", NULL, "usage: sstream-query [OPTIONS] SOURCE [FILTER...]\n",
	"List the items of a simplestreams tree, newest version first per product.\n"
	"SOURCE is a tree root (directory or URL), an index or products file, or an\n"
	"LXD remote name (ubuntu:, images:, ...; listed in sstream-mirror(1)).\n"
	"FILTER is KEY=VALUE, KEY!=VALUE, KEY~REGEX or KEY!~REGEX (all must match).\n",
	"Exit status: 0 ok, 2 the tree cannot be read, 64 usage error,\n"
	"75 temporary failure (network, server error): try again later.\n"
	"See sstream-query(1) and sstream-filters(7).\n",
};

static const char default_fields[] = "product_name,version_name,item_name,ftype,size,path";

/* The value of FIELD for IT; item_url is derived from the tree root. */
static const char *field(const struct ss_item *it, const char *root, const char *name, char *buf,
			 size_t bufsz)
{
	if (strcmp(name, "item_url") == 0) {
		const char *path = ss_item_get(it, "path", buf, bufsz);
		if (!path)
			return "";
		char *url = ss_join(root, path);
		snprintf(buf, bufsz, "%s", url ? url : "");
		free(url);
		return buf;
	}
	const char *v = ss_item_get(it, name, buf, bufsz);
	return v ? v : "";
}

static void print_template(const struct ss_selection *sel, const char *root, const char *tpl)
{
	char buf[8192];
	for (size_t i = 0; i < sel->count; i++) {
		for (const char *p = tpl; *p; p++) {
			if (p[0] == '%' && p[1] == '%') {
				putchar('%');
				p++;
			} else if (p[0] == '%' && p[1] == '(') {
				const char *close = strchr(p + 2, ')');
				if (!close || !close[1]) {
					fputs(p, stdout);
					break;
				}
				char key[256];
				snprintf(key, sizeof(key), "%.*s", (int)(close - p - 2), p + 2);
				fputs(field(sel->items[i], root, key, buf, sizeof(buf)), stdout);
				p = close + 1; /* skip the conversion letter (s, d, r) */
			} else {
				putchar(*p);
			}
		}
		putchar('\n');
	}
}

static void print_json(const struct ss_selection *sel, const char *root)
{
	char buf[8192];
	fputs("[", stdout);
	for (size_t i = 0; i < sel->count; i++) {
		const char *path = ss_item_get(sel->items[i], "path", buf, sizeof(buf));
		char *url = path ? ss_join(root, path) : NULL;
		const char *extra[] = { "item_url", url, NULL };
		char *js = ss_item_json(sel->items[i], url ? extra : NULL);
		printf("%s\n%s", i ? "," : "", js ? js : "{}");
		free(js);
		free(url);
	}
	fputs(sel->count ? "\n]\n" : "]\n", stdout);
}

static int split_fields(char *list, char **out, int max)
{
	int n = 0;
	for (char *tok = strtok(list, ","); tok && n < max; tok = strtok(NULL, ","))
		out[n++] = tok;
	return n;
}

static void csv_cell(const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

static void print_csv(const struct ss_selection *sel, const char *root, char **cols, int ncols)
{
	char buf[8192];
	for (int c = 0; c < ncols; c++) {
		if (c)
			putchar(',');
		csv_cell(cols[c]);
	}
	putchar('\n');
	for (size_t i = 0; i < sel->count; i++) {
		for (int c = 0; c < ncols; c++) {
			if (c)
				putchar(',');
			csv_cell(field(sel->items[i], root, cols[c], buf, sizeof(buf)));
		}
		putchar('\n');
	}
}

static int print_table(const struct ss_selection *sel, const char *root, char **cols, int ncols)
{
	char buf[8192];
	size_t ncells = (sel->count + 1) * (size_t)ncols;
	char **cells = calloc(ncells, sizeof(*cells));
	size_t width[64] = { 0 };
	if (!cells)
		return SS_FATAL;
	for (size_t r = 0; r <= sel->count; r++) {
		for (int c = 0; c < ncols; c++) {
			const char *v = r == 0 ? cols[c] : field(sel->items[r - 1], root, cols[c], buf, sizeof(buf));
			char *s = strdup(v);
			if (!s)
				return SS_FATAL;
			if (r == 0)
				for (char *u = s; *u; u++)
					*u = (char)(*u >= 'a' && *u <= 'z' ? *u - 32 : *u);
			cells[r * (size_t)ncols + (size_t)c] = s;
			if (strlen(s) > width[c])
				width[c] = strlen(s);
		}
	}
	for (size_t r = 0; r <= sel->count; r++) {
		for (int c = 0; c < ncols; c++) {
			const char *s = cells[r * (size_t)ncols + (size_t)c];
			if (c == ncols - 1)
				printf("%s\n", s);
			else
				printf("%-*s  ", (int)width[c], s);
		}
	}
	for (size_t i = 0; i < ncells; i++)
		free(cells[i]);
	free(cells);
	return SS_OK;
}

struct query_args {
	long long max;
	int verbosity;
	const char *format, *fields;
};

static int parse_args(int argc, char **argv, struct query_args *a)
{
	const struct tool_opt opts[] = {
		{ "max", 'm', TOOL_OPT_NUMBER, &a->max, "N", "only the N newest versions of each product", 0,
		  1000000, 0, NULL, NULL },
		{ "format", 'f', TOOL_OPT_STRING, &a->format, "FMT",
		  "table (default), json, csv, or a template such as\n"
		  "'%(product_name)s %(version_name)s %(item_url)s'", 0, 0, 0, NULL, NULL },
		{ "fields", 'F', TOOL_OPT_STRING, &a->fields, "LIST",
		  "comma-separated columns for table and csv\n"
		  "(default product_name,version_name,item_name,ftype,size,path)", 0, 0, 0, NULL, NULL },
		{ "verbose", 'v', TOOL_OPT_FLAG, &a->verbosity, NULL, "say what was loaded, on stderr", 0, 0, 1,
		  NULL, NULL },
		{ "quiet", 'q', TOOL_OPT_FLAG, &a->verbosity, NULL, "print nothing but the items", 0, 0, -1, NULL,
		  NULL },
		TOOL_OPT_STD,
		TOOL_OPT_ENDING,
	};
	int npos = tool_parse(&query_cmd, opts, argc, argv);
	if (npos < 1)
		tool_usage_error(&query_cmd, "missing SOURCE");
	int is_template = strstr(a->format, "%(") != NULL;
	if (!is_template && strcmp(a->format, "table") && strcmp(a->format, "json") && strcmp(a->format, "csv"))
		tool_usage_error(&query_cmd, "--format is table, json, csv or a template with %%(key)s fields");
	if (strlen(a->fields) >= 1024)
		tool_usage_error(&query_cmd, "--fields list too long");
	return npos;
}

/* The items as FORMAT says; returns the exit code. */
static int print_items(const struct ss_selection *sel, const char *root, const char *format, char **cols,
		       int ncols)
{
	int rc = SS_OK;
	if (strstr(format, "%("))
		print_template(sel, root, format);
	else if (strcmp(format, "json") == 0)
		print_json(sel, root);
	else if (strcmp(format, "csv") == 0)
		print_csv(sel, root, cols, ncols);
	else
		rc = print_table(sel, root, cols, ncols);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("sstream-query: stdout");
		rc = SS_FATAL;
	}
	return rc;
}

static void say_loaded(const struct ss_tree *tree, const struct ss_selection *sel)
{
	size_t total = 0;
	for (size_t i = 0; i < ss_tree_nproducts(tree); i++)
		total += ss_products_count(ss_tree_products(tree, i));
	fprintf(stderr, "sstream-query: %zu of %zu items from %zu products files under '%s'\n", sel->count, total,
		ss_tree_nproducts(tree), ss_tree_root(tree));
}

int main(int argc, char **argv)
{
	struct query_args a = { 0, 0, "table", default_fields };
	int npos = parse_args(argc, argv, &a);
	const char *source = argv[1];
	char fields_buf[1024];
	snprintf(fields_buf, sizeof(fields_buf), "%s", a.fields);
	char *cols[64];
	int ncols = split_fields(fields_buf, cols, 64);
	if (ncols == 0)
		tool_usage_error(&query_cmd, "--fields needs at least one field");
	struct ss_error err;
	ss_error_clear(&err);
	struct ss_filter *filter = ss_filter_parse((const char *const *)argv + 2, npos - 1, &err);
	if (!filter) {
		fprintf(stderr, "sstream-query: %s\n", err.msg);
		return err.code;
	}
	const char *keyring = NULL; /* the query reads; signatures are the mirror's business */
	struct ss_tree *tree = NULL;
	if (!(ss_remote_name(source) && ss_remote_resolve(source, 0, &source, &keyring, &err) != SS_OK))
		tree = ss_tree_load(source, &err);
	if (!tree) {
		fprintf(stderr, "sstream-query: %s\n", err.msg);
		ss_filter_free(filter);
		return err.code;
	}
	struct ss_selection sel;
	int rc = ss_select(tree, filter, (int)a.max, &sel, &err);
	if (rc == SS_OK) {
		if (a.verbosity > 0)
			say_loaded(tree, &sel);
		rc = print_items(&sel, ss_tree_root(tree), a.format, cols, ncols);
	} else {
		fprintf(stderr, "sstream-query: %s\n", err.msg);
	}
	ss_selection_free(&sel);
	ss_tree_free(tree);
	ss_filter_free(filter);
	return rc;
}
