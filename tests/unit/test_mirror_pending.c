/* SPDX-License-Identifier: Apache-2.0 */
/* ss_mirror_pending (the catalogue page's waiting files) reads the state
 * file with the run's ledger parser: what a run would ignore is not shown
 * as pending. */
#include <unistd.h>

#include "sstream.h"
#include "harness.h"

struct seen {
	char paths[8][64];
	long long since[8];
	int n;
};

static void on_pending(void *ud, const char *path, long long since)
{
	struct seen *s = ud;
	if (s->n < 8) {
		snprintf(s->paths[s->n], sizeof(s->paths[0]), "%s", path);
		s->since[s->n++] = since;
	}
}

static void test_pending(void)
{
	char dir[] = "/tmp/ss-mpage-XXXXXX", path[600];
	CHECK(mkdtemp(dir) != NULL);
	struct seen s = { 0 };
	CHECK(ss_mirror_pending(dir, on_pending, &s) == 0 && s.n == 0); /* no state: none */
	snprintf(path, sizeof(path), "mkdir -p '%s/.sstream'", dir);
	CHECK(system(path) == 0);
	snprintf(path, sizeof(path), "%s/.sstream/state", dir);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("# sstream-mirror state\nM streams/v1/index.json\nP 1700000000 images/a b.img\n"
		      "P 1700000001 ../outside\nP 1700000002 .sstream/state\nP -5 images/negative\n"
		      "P 1700000003 images/c\n",
		      f);
		fclose(f);
	}
	CHECK(ss_mirror_pending(dir, on_pending, &s) == 2 && s.n == 2);
	CHECK_STR(s.paths[0], "images/a b.img");
	CHECK(s.since[0] == 1700000000);
	CHECK_STR(s.paths[1], "images/c");
	CHECK(s.since[1] == 1700000003);
	CHECK(ss_mirror_pending(dir, NULL, NULL) == 2);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	CHECK(system(path) == 0);
}

TEST_MAIN(test_pending)
