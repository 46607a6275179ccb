/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tree's settings file (lib/treeconf.c, ssi_treeconf_parse): whatever is
 * on disk, an accepted file yields values that may be written back (no
 * space, no control character, at most 1024 bytes), and parse -> dump ->
 * parse -> dump gives the same bytes.
 */
#include <string.h>

#include "fuzz.h"
#include "treeconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ssi_treeconf c, d;
	struct ss_error err;
	ss_error_clear(&err);
	int rc = ssi_treeconf_parse((const char *)data, size, "fuzz", &c, &err);
	FUZZ_ASSERT(rc == SS_OK || rc == SS_FATAL);
	if (rc != SS_OK) {
		FUZZ_ASSERT(strncmp(err.msg, "settings 'fuzz': line ", 22) == 0);
		for (int i = 0; i < SSI_TC_N; i++)
			FUZZ_ASSERT(c.v[i] == NULL);
		return 0;
	}
	for (int i = 0; i < SSI_TC_N; i++)
		FUZZ_ASSERT(!c.v[i] || ssi_treeconf_value_problem(c.v[i]) == NULL);
	size_t n, m;
	char *a = ssi_treeconf_dump(&c, &n);
	FUZZ_ASSERT(a);
	FUZZ_ASSERT(ssi_treeconf_parse(a, n, "dump", &d, &err) == SS_OK);
	char *b = ssi_treeconf_dump(&d, &m);
	FUZZ_ASSERT(b && n == m && memcmp(a, b, n) == 0);
	free(a);
	free(b);
	ssi_treeconf_free(&c);
	ssi_treeconf_free(&d);
	return 0;
}
