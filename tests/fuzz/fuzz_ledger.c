/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ledger of files waiting out their grace period (lib/ledger.c,
 * ssi_ledger_parse, with both old formats): what it keeps is sorted, one
 * entry per path, every path one ss_path_check accepts and bounded, every
 * time non-negative and below 10^18; the text survives text -> parse ->
 * text byte for byte; expiry keeps it sorted and drops exactly the due
 * entries it was not told to keep.
 */
#include <string.h>

#include "fuzz.h"
#include "ledger.h"

static int del_odd(void *ud, const char *path)
{
	(void)ud;
	return (int)(strlen(path) & 1); /* odd lengths are "refused": kept */
}

static char *dump(const struct ssi_ledger *l, size_t *len)
{
	char *buf = malloc(ssi_ledger_text_len(l) + 1);
	FUZZ_ASSERT(buf);
	*len = (size_t)(ssi_ledger_text(l, buf) - buf);
	FUZZ_ASSERT(*len <= ssi_ledger_text_len(l));
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ssi_ledger l = { 0 }, back = { 0 };
	size_t bad = 0;
	if (ssi_ledger_parse(&l, (const char *)data, size, SSI_LEDGER_OLD_BARE | SSI_LEDGER_OLD_S3, &bad) != 0)
		abort(); /* out of memory on a small input */
	FUZZ_ASSERT(!l.unsorted);
	for (size_t i = 0; i < l.n; i++) {
		struct ss_error e;
		FUZZ_ASSERT(i == 0 || strcmp(l.v[i - 1].path, l.v[i].path) < 0);
		FUZZ_ASSERT(strlen(l.v[i].path) <= SSI_LEDGER_PATH_MAX);
		FUZZ_ASSERT(ss_path_check(l.v[i].path, &e) == SS_OK);
		FUZZ_ASSERT(l.v[i].since >= 0 && l.v[i].since < 1000000000000000000LL);
		FUZZ_ASSERT(ssi_ledger_find(&l, l.v[i].path) == &l.v[i]);
	}
	size_t n1, n2;
	char *t1 = dump(&l, &n1);
	size_t bad2 = 0;
	FUZZ_ASSERT(ssi_ledger_parse(&back, t1, n1, 0, &bad2) == 0);
	FUZZ_ASSERT(bad2 == 0 && back.n == l.n);
	char *t2 = dump(&back, &n2);
	FUZZ_ASSERT(n1 == n2 && memcmp(t1, t2, n1) == 0);
	/* expire at the latest time listed, grace 1: the older go */
	long long now = l.n ? l.v[0].since : 0;
	size_t due = ssi_ledger_count_due(&l, now, 1), kept_due = 0;
	for (size_t i = 0; i < l.n; i++)
		kept_due += ssi_ledger_due(l.v[i].since, now, 1) && (strlen(l.v[i].path) & 1);
	size_t before = l.n;
	ssi_ledger_expire(&l, now, 1, del_odd, NULL);
	FUZZ_ASSERT(l.n == before - due + kept_due);
	for (size_t i = 1; i < l.n; i++)
		FUZZ_ASSERT(strcmp(l.v[i - 1].path, l.v[i].path) < 0);
	free(t1);
	free(t2);
	ssi_ledger_free(&l);
	ssi_ledger_free(&back);
	return 0;
}
