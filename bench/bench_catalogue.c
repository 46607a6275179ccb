/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The catalogue page of a tree, as a mirror makes it: the tree is loaded
 * once (the mirror has it loaded already; shown for scale), then the page
 * rendered from it and written atomically (fsync), best of ROUNDS each.
 * Prints one line: "load L ms, render R ms, write W ms, B bytes".
 * usage: bench_catalogue TREE [ROUNDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sstream.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_catalogue TREE [ROUNDS]\n");
		return 64;
	}
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	struct ss_error err;
	double t0 = now();
	struct ss_tree *t = ss_tree_load(argv[1], &err);
	double load = now() - t0, render = 1e9, write = 1e9;
	if (!t) {
		fprintf(stderr, "bench_catalogue: %s\n", err.msg);
		return 2;
	}
	char *path = ss_join(argv[1], "index.html");
	size_t len = 0;
	struct ss_catalogue_status st = { "https://images.example/", "(none: everything)", "2026-12-01 00:00:00 UTC",
					  "ok: 0 added, 0 removed, 0 failed", -1, -1, NULL, 0 };
	struct ss_catalogue_opts o = { .title = "Mirror", .status = &st };
	for (int r = 0; r < rounds; r++) {
		double a = now();
		char *html = ss_catalogue_render(t, &o, &len, &err);
		double b = now();
		if (!html || ss_write_atomic(path, html, len, &err) != SS_OK) {
			fprintf(stderr, "bench_catalogue: %s\n", err.msg);
			return 2;
		}
		double c = now();
		render = b - a < render ? b - a : render;
		write = c - b < write ? c - b : write;
		free(html);
	}
	printf("load %.1f ms, render %.1f ms, write %.1f ms, %zu bytes\n", load * 1e3, render * 1e3, write * 1e3, len);
	free(path);
	ss_tree_free(t);
	return 0;
}
