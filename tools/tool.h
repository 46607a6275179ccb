/* SPDX-License-Identifier: Apache-2.0 */
/* The small helpers the sstream command-line tools share (not the library). */
#ifndef SSTREAM_TOOL_H
#define SSTREAM_TOOL_H

#include <stdio.h>

/* Writes S to F as a JSON string literal, quotes included. */
void tool_json_str(FILE *f, const char *s);

/* A duration such as 90, 30s, 10m, 1h or 2d, in seconds; -1 when S is not one. */
long long tool_duration(const char *s);

/* S as a whole number from 0 to MAX into *OUT; -1 when it is not one
 * (junk, a sign, more than MAX, beyond long long).  The caller reports a
 * usage error naming the option. */
int tool_number(const char *s, long long max, long long *out);

/* --log-file FILE: from now on, what goes to standard error is appended
 * to FILE as well (until exit).  Returns 0, or -1 with errno. */
int tool_log_file(const char *file);

/* Prints "PROG: MESSAGE" of ERR to standard error; a certificate error
 * also gets the hint of --ca-file. */
struct ss_error;
void tool_error(const char *prog, const struct ss_error *err);

/* The CA bundle for https: CA_FILE when given, else $SSL_CERT_FILE, else
 * $CURL_CA_BUNDLE, else NULL (the system's). */
const char *tool_ca_file(const char *ca_file);

/* The worse of two exit codes, by rank rather than number: ok, partial,
 * temporary (75), fatal, integrity (3) -- a checksum failure outranks a
 * network failure though 3 < 75; usage (64) outranks all. */
int tool_result_worse(int a, int b);

/* Prints PROG's --version text to stdout: our version, then the versions
 * of the libraries it runs with. */
void tool_version(const char *prog);

/* The current time (CLOCK_REALTIME) in seconds since the epoch. */
double tool_wall_clock(void);

/*
 * Writes LEN bytes of DATA to PATH atomically: a temporary file in PATH's
 * directory, fsync, rename.  Never creates a directory.  Returns 0, or -1
 * with ERR naming PATH (code SS_PARTIAL: the run's own work is done).
 */
struct ss_error;
int tool_write_atomic(const char *path, const char *data, size_t len, struct ss_error *err);

/* What --metrics FILE records of a run; a byte count of -1 is left out. */
struct tool_metrics {
	const char *tool, *target;
	int result;                /* the exit status */
	double start, end;         /* tool_wall_clock() */
	long long items, added, removed, failed;
	long long bytes_fetched, bytes_added, bytes_removed;
	long long updated;         /* the source's "updated" date, or -1 */
	long long bytes;           /* the size of the items the tree lists */
};

/*
 * Writes M to FILE in the Prometheus text format, atomically (never
 * creating a directory).  A run that did not exit 0 keeps the last success
 * time FILE recorded; ITEMS or BYTES of -1 (the tree's count is not known)
 * keep the value FILE recorded.  Returns SS_OK, or SS_PARTIAL with ERR
 * naming the file: the caller's exit status becomes at least 1.
 */
struct ss_error;
int tool_metrics_write(const char *file, const struct tool_metrics *m, struct ss_error *err);

/* The items of a local tree (none when it cannot be loaded), to count what
 * a command added and removed: DIFF fills M's items, bytes, added, removed
 * and bytes_added, bytes_removed (by size). */
struct tool_tree_items;
struct tool_tree_items *tool_tree_items(const char *tree);
void tool_tree_items_free(struct tool_tree_items *ti);
/* Only how many items a local tree lists and their total size (0 and 0
 * when it cannot be loaded). */
void tool_tree_count(const char *tree, long long *items, long long *bytes);
void tool_tree_items_diff(const struct tool_tree_items *before, const struct tool_tree_items *after,
			  struct tool_metrics *m);

#endif
