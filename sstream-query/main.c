/* SPDX-License-Identifier: Apache-2.0 */
/* sstream-query: list the flattened items of a simplestreams tree. */
#include <errno.h>
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

/* JSON text (ss_item_json's, one line) indented, a member per line. */
static void print_indented(const char *js)
{
	int depth = 0, in_str = 0;
	for (const char *p = js; *p; p++) {
		char c = *p;
		if (in_str) {
			putchar(c);
			if (c == '\\' && p[1])
				putchar(*++p);
			else if (c == '"')
				in_str = 0;
			continue;
		}
		if (c == '}' || c == ']')
			printf("\n%*s", 2 * --depth, "");
		putchar(c);
		if (c == '"')
			in_str = 1;
		else if (c == '{' || c == '[')
			printf("\n%*s", 2 * ++depth, "");
		else if (c == ',')
			printf("\n%*s", 2 * depth, "");
		else if (c == ':')
			putchar(' ');
	}
	putchar('\n');
}

/* --pretty: each item, with its item_url, as indented JSON. */
static void print_pretty(const struct ss_selection *sel, const char *root)
{
	char buf[8192];
	for (size_t i = 0; i < sel->count; i++) {
		const char *path = ss_item_get(sel->items[i], "path", buf, sizeof(buf));
		char *url = path ? ss_join(root, path) : NULL;
		const char *extra[] = { "item_url", url, NULL };
		char *js = ss_item_json(sel->items[i], url ? extra : NULL);
		print_indented(js ? js : "{}");
		free(js);
		free(url);
	}
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
	int verbosity, json, pretty, no_verify;
	const char *format, *fields, *keyring, *path, *ca_file, *log_file;
};

static int parse_args(int argc, char **argv, struct query_args *a)
{
	const struct tool_opt opts[] = {
		{ "max", 'm', TOOL_OPT_NUMBER, &a->max, "N", "only the N newest versions of each product", 0,
		  1000000, 0, NULL, NULL },
		{ "format", 'f', TOOL_OPT_STRING, &a->format, "FMT",
		  "table (default), json, csv, or a template such as\n"
		  "'%(product_name)s %(version_name)s %(item_url)s'", 0, 0, 0, NULL, NULL },
		{ "output-format", 'o', TOOL_OPT_STRING, &a->format, "FMT",
		  "upstream's name of --format: '%(item_url)s %(sha256)s'", 0, 0, 0, NULL, NULL },
		{ "json", 0, TOOL_OPT_FLAG, &a->json, NULL, "the same as --format json", 0, 0, 0, NULL, NULL },
		{ "pretty", 0, TOOL_OPT_FLAG, &a->pretty, NULL, "each item as indented JSON", 0, 0, 0, NULL, NULL },
		{ "keyring", 0, TOOL_OPT_STRING, &a->keyring, "FILE", "every document must be signed by a key in FILE",
		  0, 0, 0, NULL, NULL },
		{ "no-verify", 'U', TOOL_OPT_FLAG, &a->no_verify, NULL, "do not check signatures (the default\nwithout --keyring)", 0, 0, 0, NULL, NULL },
		{ "path", 0, TOOL_OPT_STRING, &a->path, "PATH", "start at this index or products file under SOURCE", 0,
		  0, 0, NULL, NULL },
		{ "ca-file", 0, TOOL_OPT_STRING, &a->ca_file, "FILE", "CA certificates for https (default $SSL_CERT_FILE)",
		  0, 0, 0, NULL, NULL },
		{ "log-file", 0, TOOL_OPT_STRING, &a->log_file, "FILE", "append what goes to stderr to FILE as well", 0, 0,
		  0, NULL, NULL },
		{ "fields", 'F', TOOL_OPT_STRING, &a->fields, "LIST",
		  "comma-separated columns for table and csv\n"
		  "(default product_name,version_name,item_name,ftype,size,path)", 0, 0, 0, NULL, NULL },
		TOOL_OPT_VERBOSE(&a->verbosity, "say what was loaded, on stderr"),
		TOOL_OPT_QUIET(&a->verbosity, "print nothing but the items"),
		TOOL_OPT_STD,
		TOOL_OPT_ENDING,
	};
	int npos = tool_parse(&query_cmd, opts, argc, argv);
	if (npos < 1)
		tool_usage_error(&query_cmd, "missing SOURCE");
	if (a->json + a->pretty > 1)
		tool_usage_error(&query_cmd, "--json and --pretty do not go together");
	if (a->json)
		a->format = "json";
	if (a->pretty)
		a->format = "pretty";
	if (a->no_verify)
		a->keyring = NULL;
	a->ca_file = tool_ca_file(a->ca_file);
	if (a->log_file && tool_log_file(a->log_file) != 0) {
		fprintf(stderr, "sstream-query: cannot open --log-file '%s': %s\n", a->log_file, strerror(errno));
		exit(SS_FATAL);
	}
	int is_template = strstr(a->format, "%(") != NULL;
	if (!is_template && strcmp(a->format, "table") && strcmp(a->format, "json") && strcmp(a->format, "csv") &&
	    strcmp(a->format, "pretty"))
		tool_usage_error(&query_cmd, "--format is table, json, csv or a template with %%(key)s fields");
	if (strlen(a->fields) >= 1024)
		tool_usage_error(&query_cmd, "--fields list too long");
	return npos;
}

/* The tree at SOURCE (a remote's URL, --path joined), its documents
 * verified with --keyring; NULL with ERR filled. */
static struct ss_tree *load(const struct query_args *a, const char *source, struct ss_error *err)
{
	/* Without --keyring the query only reads: a remote's signatures are
	 * the mirror's business. */
	const char *keyring = a->keyring;
	if (ss_remote_name(source) && ss_remote_resolve(source, 0, &source, &keyring, err) != SS_OK)
		return NULL;
	char *joined = a->path ? ss_join(source, a->path) : NULL;
	struct ss_verifier *v = keyring ? ss_verifier_new(keyring, err) : NULL;
	struct ss_fetch_opts fo = { .ca_file = a->ca_file };
	struct ss_tree *t = NULL;
	if (a->path && !joined)
		snprintf(err->msg, sizeof(err->msg), "out of memory");
	else if (!keyring || v)
		t = ss_tree_load_ex(joined ? joined : source, v, &fo, err);
	ss_verifier_free(v);
	free(joined);
	return t;
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
	else if (strcmp(format, "pretty") == 0)
		print_pretty(sel, root);
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
	struct query_args a = { .format = "table", .fields = default_fields };
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
	struct ss_tree *tree = load(&a, source, &err);
	if (!tree) {
		tool_error("sstream-query", &err);
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
