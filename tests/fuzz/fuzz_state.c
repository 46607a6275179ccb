/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mirror's state file (lib/mirror_state.c, ssm_state_parse): whatever
 * is on disk, what it yields is usable: one time per pending path, none
 * negative (a deadline computation subtracts them from now); validators
 * printable with their three fields; a content key of hex digits.
 */
#include <string.h>

#include "fuzz.h"
#include "mirror_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	FUZZ_ASSERT(text);
	memcpy(text, data, size);
	text[size] = '\0';
	struct ss_mirror_opts o;
	memset(&o, 0, sizeof(o));
	o.target = "fuzz-target";
	struct ss_error err;
	ss_error_clear(&err);
	struct run r;
	memset(&r, 0, sizeof(r));
	r.o = &o;
	r.err = &err;
	r.dot = (char *)"fuzz-target/.sstream";
	int rc = ssm_state_parse(&r, text);
	FUZZ_ASSERT(rc == SS_OK || rc == SS_FATAL);
	for (size_t i = 0; i < r.prune.old.n; i++) {
		FUZZ_ASSERT(r.prune.old.v[i].since >= 0);
		FUZZ_ASSERT(!strchr(r.prune.old.v[i].path, '\n'));
	}
	for (size_t i = 0; i < r.valid.old.n; i++) {
		const char *v = r.valid.old.v[i];
		size_t tabs = 0;
		for (; *v; v++) {
			FUZZ_ASSERT((*v >= 0x20 && *v <= 0x7e) || *v == '\t');
			tabs += *v == '\t';
		}
		FUZZ_ASSERT(tabs == 2);
	}
	FUZZ_ASSERT(strnlen(r.valid.old_key, sizeof(r.valid.old_key)) < sizeof(r.valid.old_key));
	FUZZ_ASSERT(strspn(r.valid.old_key, "0123456789abcdef") == strlen(r.valid.old_key));
	for (size_t i = 1; i < r.old_meta.n; i++)
		FUZZ_ASSERT(strcmp(r.old_meta.v[i - 1], r.old_meta.v[i]) < 0);
	ssi_strset_free(&r.old_meta);
	ssi_ledger_free(&r.prune.old);
	ssi_strset_free(&r.valid.old);
	free(text);
	return 0;
}
