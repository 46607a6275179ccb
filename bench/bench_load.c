/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Load + flatten + filter of a real 5435-item stream, against a plain
 * jansson parse of the same bytes, side by side in one run.  The file is
 * read into memory once; both sides start from the same buffer.
 * usage: bench_load FILE [ROUNDS]
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sstream.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* One side's median time over ROUNDS, in this process. */
static double run_side(int ours, const char *name, const char *data, size_t len, int rounds,
		       const struct ss_filter *f, size_t *items, size_t *matched)
{
	double *t = calloc((size_t)rounds, sizeof(double));
	struct ss_error err;
	for (int r = 0; r < rounds; r++) {
		double t0 = now();
		if (!ours) {
			json_t *j = json_loadb(data, len, 0, NULL);
			if (!j)
				exit(2);
			json_decref(j);
		} else {
			struct ss_products *p = ss_products_parse(data, len, name, NULL, &err);
			if (!p) {
				fprintf(stderr, "bench_load: %s\n", err.msg);
				exit(2);
			}
			size_t m = 0;
			for (size_t i = 0; i < ss_products_count(p); i++)
				m += (size_t)ss_filter_match(f, ss_products_item(p, i));
			*items = ss_products_count(p);
			*matched = m;
			ss_products_free(p);
		}
		t[r] = now() - t0;
	}
	qsort(t, (size_t)rounds, sizeof(double), cmp_double);
	double med = t[rounds / 2];
	free(t);
	return med;
}

/*
 * Each side runs in a fresh child process, alternately: run in one process,
 * whichever side follows the other inherits its malloc state (a trimmed or
 * untrimmed heap) and the comparison measures the allocator, not the code.
 */
static double in_child(int ours, const char *name, const char *data, size_t len, int rounds,
		       const struct ss_filter *f, size_t *items, size_t *matched)
{
	int fds[2];
	if (pipe(fds) < 0)
		exit(2);
	pid_t pid = fork();
	if (pid == 0) {
		double res[3];
		res[0] = run_side(ours, name, data, len, rounds, f, items, matched);
		res[1] = (double)*items;
		res[2] = (double)*matched;
		if (write(fds[1], res, sizeof(res)) != (ssize_t)sizeof(res))
			_exit(2);
		_exit(0);
	}
	double res[3] = { 0, 0, 0 };
	close(fds[1]);
	if (read(fds[0], res, sizeof(res)) != (ssize_t)sizeof(res))
		exit(2);
	close(fds[0]);
	waitpid(pid, NULL, 0);
	if (ours) {
		*items = (size_t)res[1];
		*matched = (size_t)res[2];
	}
	return res[0];
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_load FILE [ROUNDS]\n");
		return 64;
	}
	int rounds = argc > 2 ? atoi(argv[2]) : 30;
	if (rounds < 1 || rounds > 1000)
		rounds = 30;
	char *data;
	size_t len;
	struct ss_error err;
	if (ss_fetch(argv[1], SS_METADATA_CAP, &data, &len, &err) != SS_OK) {
		fprintf(stderr, "bench_load: %s\n", err.msg);
		return 2;
	}
	const char *exprs[] = { "arch=amd64", "release~(jammy|noble)", "ftype~^(squashfs|lxd.tar.xz)$" };
	struct ss_filter *f = ss_filter_parse(exprs, 3, &err);
	enum { PAIRS = 5 };
	double plain[PAIRS], ours[PAIRS];
	size_t items = 0, matched = 0;
	for (int k = 0; k < PAIRS; k++) {
		plain[k] = in_child(0, argv[1], data, len, rounds, f, &items, &matched);
		ours[k] = in_child(1, argv[1], data, len, rounds, f, &items, &matched);
	}
	qsort(plain, PAIRS, sizeof(double), cmp_double);
	qsort(ours, PAIRS, sizeof(double), cmp_double);
	double mp = plain[PAIRS / 2], mo = ours[PAIRS / 2];
	printf("load+flatten+filter of %s (%zu bytes, %zu items, %zu matched)\n", argv[1], len, items,
	       matched);
	printf("  median of %d processes x %d rounds each, sides alternating\n", PAIRS, rounds);
	printf("  plain jansson parse     %8.2f ms\n", mp * 1e3);
	printf("  libsstream load+filter  %8.2f ms\n", mo * 1e3);
	printf("  ratio                   %8.2fx   (target: within 1.5x)\n", mo / mp);
	ss_filter_free(f);
	free(data);
	return 0;
}
