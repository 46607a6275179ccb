/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Options as data: each command declares a table of its options (long
 * name, letter, kind, bounds, help) and one parser reads argv with it and
 * prints the option lines of --help, as git's parse-options and curl's
 * tool_getparam do.  getopt_long underneath, so options may follow the
 * positional arguments and take --name=value.
 */
#ifndef SSTREAM_OPTIONS_H
#define SSTREAM_OPTIONS_H

#include <stdio.h>

enum tool_opt_kind {
	TOOL_OPT_END,
	TOOL_OPT_FLAG,     /* int: set to .set (1 unless given) */
	TOOL_OPT_COUNT,    /* int: one more each time */
	TOOL_OPT_NUMBER,   /* long long: a whole number from .min to .max */
	TOOL_OPT_SIZE,     /* long long: a number of bytes, suffix k, m or g */
	TOOL_OPT_DURATION, /* long long: seconds; 90, 30s, 10m, 1h, 2d */
	TOOL_OPT_STRING,   /* const char *: the argument; one of .choices when set */
	TOOL_OPT_LIST,     /* struct tool_list: every argument, in order */
	TOOL_OPT_HELP,     /* prints --help, exits 0 */
	TOOL_OPT_VERSION,  /* prints --version, exits 0 */
	TOOL_OPT_ACTION,   /* calls .action (which usually exits) */
};

struct tool_list {
	const char **v;
	int n;
};

struct tool_opt {
	const char *name;      /* long name, without "--" */
	int letter;            /* short letter, or 0 */
	enum tool_opt_kind kind;
	void *value;           /* where the value goes, by kind */
	const char *arg;       /* the argument's name in --help ("N", "FILE") */
	const char *help;      /* lines of --help, '\n' between lines */
	long long min, max;    /* NUMBER, SIZE, DURATION bounds (max 0: none) */
	int set;               /* FLAG: the value stored (0 means 1) */
	const char *choices;   /* STRING: "a|b|c", or NULL for anything */
	void (*action)(void);  /* ACTION */
};

/* -v and -q mean the same in every tool: one int, 1 verbose, -1 quiet,
 * the last one given wins; HELP says what more or less is. */
#define TOOL_OPT_VERBOSE(v, help) { "verbose", 'v', TOOL_OPT_FLAG, (v), NULL, help, 0, 0, 1, NULL, NULL }
#define TOOL_OPT_QUIET(v, help) { "quiet", 'q', TOOL_OPT_FLAG, (v), NULL, help, 0, 0, -1, NULL, NULL }
#define TOOL_OPT_DRY_RUN(v) { "dry-run", 'n', TOOL_OPT_FLAG, (v), NULL, "print what would change, change nothing", 0, 0, 0, NULL, NULL }
#define TOOL_OPT_STD { "help", 'h', TOOL_OPT_HELP, NULL, NULL, "this help", 0, 0, 0, NULL, NULL }, \
		     { "version", 'V', TOOL_OPT_VERSION, NULL, NULL, "the versions of sstream and its libraries", 0, 0, 0, NULL, NULL }
#define TOOL_OPT_ENDING { NULL, 0, TOOL_OPT_END, NULL, NULL, NULL, 0, 0, 0, NULL, NULL }

/* What the parser needs to know about the command it parses for. */
struct tool_cmd {
	const char *prog;      /* "sstream-publish" */
	const char *name;      /* "add", or NULL for a tool without subcommands */
	const char *usage;     /* the usage lines, printed first by --help and on errors */
	const char *text;      /* the rest of --help before the options, or NULL */
	const char *footer;    /* after the options (exit status...), or NULL */
};

/*
 * Parses ARGV[1..] with OPTS, storing each value through its .value; the
 * positional arguments are moved, in order, to ARGV[1..] and their count
 * returned.  A usage error (an unknown option, a missing or bad argument)
 * prints the option it names and a short usage to stderr and exits 64;
 * -h and -V print to stdout and exit 0.  LIST values are allocated
 * (tool_list_free).
 */
int tool_parse(const struct tool_cmd *cmd, const struct tool_opt *opts, int argc, char **argv);

/* Prints CMD's full --help (usage, text, the option lines, footer) to F. */
void tool_help(FILE *f, const struct tool_cmd *cmd, const struct tool_opt *opts);

/* Prints "PROG[ NAME]: MSG" and the short usage to stderr, exits 64. */
void tool_usage_error(const struct tool_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

void tool_list_free(struct tool_list *l);

#endif
