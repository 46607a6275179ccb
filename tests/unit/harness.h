/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tiny unit-test harness: CHECK() records a result and keeps going;
 * TEST_MAIN runs the listed tests and ends with "N passed, N failed".
 * Tests find shared fixtures through $SS_FIXTURES and project fixtures
 * through $SS_TESTDATA (set by tests/run.sh).
 */
#ifndef SS_HARNESS_H
#define SS_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int h_passed, h_failed;

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (cond) {                                                           \
			h_passed++;                                                   \
		} else {                                                              \
			h_failed++;                                                   \
			fprintf(stderr, "%s:%d: FAIL: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                     \
	} while (0)

#define CHECK_STR(a, b)                                                                  \
	do {                                                                             \
		const char *h_a = (a), *h_b = (b);                                       \
		if (h_a && h_b && strcmp(h_a, h_b) == 0) {                               \
			h_passed++;                                                      \
		} else {                                                                 \
			h_failed++;                                                      \
			fprintf(stderr, "%s:%d: FAIL: %s == \"%s\" (got \"%s\")\n", __FILE__, \
				__LINE__, #a, h_b ? h_b : "(null)", h_a ? h_a : "(null)");   \
		}                                                                        \
	} while (0)

static inline const char *fixture(const char *env, const char *fallback, const char *rel)
{
	static char buf[8][4096];
	static int slot;
	const char *base = getenv(env);
	char *out = buf[slot++ % 8];
	snprintf(out, sizeof(buf[0]), "%s/%s", base ? base : fallback, rel);
	return out;
}
#define SHARED(rel) fixture("SS_FIXTURES", "tests/fixtures/upstream", rel)
#define TESTDATA(rel) fixture("SS_TESTDATA", "tests/fixtures", rel)

#define TEST_MAIN(...)                                                   \
	int main(void)                                                   \
	{                                                                \
		void (*tests[])(void) = { __VA_ARGS__ };                 \
		for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) \
			tests[i]();                                      \
		printf("%d passed, %d failed\n", h_passed, h_failed);    \
		return h_failed ? 1 : 0;                                 \
	}

#endif
