/* SPDX-License-Identifier: Apache-2.0 */
/* The one option parser of the tools: tables of struct tool_opt over getopt_long. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "sstream.h"
#include "tool.h"

enum { MAX_OPTS = 96, LONG_BASE = 256 };

static int takes_arg(const struct tool_opt *o)
{
	return o->kind >= TOOL_OPT_NUMBER && o->kind <= TOOL_OPT_LIST;
}

static void short_usage(const struct tool_cmd *cmd)
{
	const char *u = cmd->usage, *nl = strchr(u, '\n');
	fprintf(stderr, "%.*s (see %s%s%s --help)\n", nl ? (int)(nl - u) : (int)strlen(u), u, cmd->prog,
		cmd->name ? " " : "", cmd->name ? cmd->name : "");
}

void tool_usage_error(const struct tool_cmd *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s%s%s: ", cmd->prog, cmd->name ? " " : "", cmd->name ? cmd->name : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	short_usage(cmd);
	exit(SS_USAGE);
}

void tool_help(FILE *f, const struct tool_cmd *cmd, const struct tool_opt *opts)
{
	fputs(cmd->usage, f);
	if (cmd->text)
		fprintf(f, "\n%s", cmd->text);
	fputs("\nOptions:\n", f);
	for (const struct tool_opt *o = opts; o->kind != TOOL_OPT_END; o++) {
		char head[64];
		int n = snprintf(head, sizeof(head), "  %c%c%s--%s%s%s", o->letter ? '-' : ' ',
				 o->letter ? o->letter : ' ', o->letter ? ", " : "  ", o->name,
				 takes_arg(o) ? " " : "", takes_arg(o) ? (o->arg ? o->arg : "ARG") : "");
		fputs(head, f);
		const char *h = o->help ? o->help : "";
		for (int first = 1; first || *h; first = 0) {
			size_t len = strcspn(h, "\n");
			if (first && n < 24)
				fprintf(f, "%*s%.*s\n", 24 - n, "", (int)len, h);
			else
				fprintf(f, "%s%24s%.*s\n", first ? "\n" : "", "", (int)len, h);
			h += len + (h[len] == '\n');
		}
	}
	if (cmd->footer)
		fprintf(f, "\n%s", cmd->footer);
}

/* A number with an optional k/m/g suffix (SIZE) into *OUT; -1 when bad. */
static int parse_size(const char *s, long long *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	long long n = strtoll(s, &end, 10), m = 1;
	if (*end) {
		const char *k = strchr("kKmMgG", *end);
		if (!k || end[1])
			return -1;
		m = 1LL << (10 * ((k - "kKmMgG") / 2 + 1));
	}
	if (errno == ERANGE || n > 0x7fffffffffffffffLL / m)
		return -1;
	*out = n * m;
	return 0;
}

static int in_choices(const char *choices, const char *s)
{
	size_t n = strlen(s);
	for (const char *c = choices; c; c = strchr(c, '|') ? strchr(c, '|') + 1 : NULL)
		if (strncmp(c, s, n) == 0 && (c[n] == '|' || !c[n]))
			return 1;
	return 0;
}

/* The option's name as the user wrote it, for messages. */
static void opt_name(const struct tool_opt *o, char *buf, size_t size)
{
	if (o->name)
		snprintf(buf, size, "--%s", o->name);
	else
		snprintf(buf, size, "-%c", o->letter);
}

static void bad_value(const struct tool_cmd *cmd, const struct tool_opt *o, const char *arg)
{
	char name[64];
	opt_name(o, name, sizeof(name));
	if (o->kind == TOOL_OPT_STRING)
		tool_usage_error(cmd, "%s: '%s' is not one of %s", name, arg, o->choices);
	const char *what = o->kind == TOOL_OPT_SIZE ? "a size (suffix k, m, g)"
			   : o->kind == TOOL_OPT_DURATION ? "a duration (30s, 10m, 1h, 2d)" : "a whole number";
	tool_usage_error(cmd, "%s: '%s' is not %s", name, arg, what);
}

static void out_of_range(const struct tool_cmd *cmd, const struct tool_opt *o, const char *arg)
{
	char name[64];
	opt_name(o, name, sizeof(name));
	if (o->max)
		tool_usage_error(cmd, "%s: '%s' is out of range (%lld to %lld)", name, arg, o->min, o->max);
	tool_usage_error(cmd, "%s: '%s' is out of range (at least %lld)", name, arg, o->min);
}

static void store(const struct tool_cmd *cmd, const struct tool_opt *o, const struct tool_opt *all)
{
	long long n = 0;
	switch (o->kind) {
	case TOOL_OPT_FLAG:
		*(int *)o->value = o->set ? o->set : 1;
		return;
	case TOOL_OPT_COUNT:
		++*(int *)o->value;
		return;
	case TOOL_OPT_STRING:
		if (o->choices && !in_choices(o->choices, optarg))
			bad_value(cmd, o, optarg);
		*(const char **)o->value = optarg;
		return;
	case TOOL_OPT_LIST: {
		struct tool_list *l = o->value;
		const char **v = realloc(l->v, (size_t)(l->n + 1) * sizeof(*v));
		if (!v)
			tool_usage_error(cmd, "out of memory");
		l->v = v;
		v[l->n++] = optarg;
		return;
	}
	case TOOL_OPT_HELP:
		tool_help(stdout, cmd, all);
		exit(SS_OK);
	case TOOL_OPT_VERSION:
		tool_version(cmd->prog);
		exit(SS_OK);
	case TOOL_OPT_ACTION:
		o->action();
		return;
	default:
		break;
	}
	int bad = o->kind == TOOL_OPT_NUMBER ? tool_number(optarg, 0x7fffffffffffffffLL, &n)
		  : o->kind == TOOL_OPT_SIZE ? parse_size(optarg, &n)
					     : (n = tool_duration(optarg)) < 0;
	/* all digits but beyond long long: out of range rather than junk */
	if (bad && o->kind == TOOL_OPT_NUMBER && strspn(optarg, "0123456789") == strlen(optarg) && *optarg)
		out_of_range(cmd, o, optarg);
	if (bad)
		bad_value(cmd, o, optarg);
	if (n < o->min || (o->max && n > o->max))
		out_of_range(cmd, o, optarg);
	*(long long *)o->value = n;
}

static void unknown(const struct tool_cmd *cmd, char **argv)
{
	const char *arg = argv[optind - 1];
	if (optopt)
		tool_usage_error(cmd, "unknown option '-%c'", optopt);
	tool_usage_error(cmd, "unknown option '%.*s'", (int)strcspn(arg, "="), arg);
}

int tool_parse(const struct tool_cmd *cmd, const struct tool_opt *opts, int argc, char **argv)
{
	struct option lo[MAX_OPTS + 1];
	/* ':' first: a missing argument is told apart from an unknown option.
	 * No '+': GNU getopt permutes, so options may follow the positional
	 * arguments, as upstream's argparse command lines put them. */
	char shorts[2 * MAX_OPTS + 2] = ":";
	size_t ns = 1, n = 0;
	for (const struct tool_opt *o = opts; o->kind != TOOL_OPT_END && n < MAX_OPTS; o++, n++) {
		lo[n] = (struct option){ o->name, takes_arg(o) ? required_argument : no_argument, NULL,
					 LONG_BASE + (int)n };
		if (o->letter) {
			shorts[ns++] = (char)o->letter;
			if (takes_arg(o))
				shorts[ns++] = ':';
		}
	}
	shorts[ns] = '\0';
	lo[n] = (struct option){ NULL, 0, NULL, 0 };
	opterr = 0;
	optind = 0; /* GNU: start afresh (a subcommand parses a second argv) */
	int c;
	while ((c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		const struct tool_opt *o = NULL;
		if (c >= LONG_BASE)
			o = &opts[c - LONG_BASE];
		for (size_t i = 0; !o && c != '?' && c != ':' && i < n; i++)
			if (opts[i].letter == c)
				o = &opts[i];
		if (c == ':') {
			const char *arg = argv[optind - 1];
			tool_usage_error(cmd, "option '%s' needs an argument",
					 optopt && optopt < LONG_BASE ? (char[3]){ '-', (char)optopt, 0 } : arg);
		}
		if (!o)
			unknown(cmd, argv);
		store(cmd, o, opts);
	}
	int npos = argc - optind;
	memmove(argv + 1, argv + optind, (size_t)npos * sizeof(*argv));
	argv[npos + 1] = NULL;
	return npos;
}

void tool_list_free(struct tool_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}
