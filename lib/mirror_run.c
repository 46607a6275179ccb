/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every phase of a mirror run shares (internal): the run's state
 * (struct run, mirror_internal.h), its event callback and TARGET's paths.
 * This file calls none of the phases; the phases call only this file, and
 * only the orchestrator (mirror.c) calls the phases.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mirror_internal.h"

void ssm_event(struct run *r, enum ss_mirror_event_type t, const char *path, long long size,
	       const char *msg)
{
	if (!r->o->event)
		return;
	struct ss_mirror_event ev = { .type = t, .path = path, .size = size, .msg = msg };
	r->o->event(r->o->ud, &ev);
}

void ssm_progress(void *ud, long long bytes, long long bytes_total, size_t done, size_t total)
{
	struct run *r = ud;
	if (!r->o->event)
		return;
	struct ss_mirror_event ev = { .type = SS_EV_PROGRESS, .bytes = bytes, .bytes_total = bytes_total,
				      .done = done, .total = total };
	r->o->event(r->o->ud, &ev);
}

char *ssm_tpath(const struct run *r, const char *rel)
{
	return ss_join(r->o->target, rel);
}

int ssm_oom(struct run *r)
{
	return ssi_err(r->err, SS_FATAL, "out of memory");
}

int ssm_add(struct run *r, struct ssi_strset *s, const char *str)
{
	return ssi_strset_add(s, str) < 0 ? ssm_oom(r) : SS_OK;
}

int ssm_ref(struct run *r, struct ssi_strset *s, const char *str, int copy)
{
	if (copy && ssm_add(r, &r->names, str) != SS_OK)
		return SS_FATAL;
	return ssm_add(r, s, copy ? r->names.v[r->names.n - 1] : str);
}

/* ---- items by path and by sha256 ----------------------------------------- */

int ssm_cmp_keyed(const void *a, const void *b)
{
	return strcmp(((const struct keyed *)a)->key, ((const struct keyed *)b)->key);
}

void ssm_keyed_free(struct run *r)
{
	free(r->old_by_path);
	free(r->old_by_sha);
	r->old_by_path = r->old_by_sha = NULL;
	r->nold = r->nsha = 0;
}

const struct ss_item *ssm_keyed_find(const struct keyed *k, size_t n, const char *key)
{
	struct keyed probe = { key, NULL };
	const struct keyed *hit = n ? bsearch(&probe, k, n, sizeof(*k), ssm_cmp_keyed) : NULL;
	return hit ? hit->it : NULL;
}

/* Same content: equal sizes where both give one, equal hashes where both
 * give one, and at least one hash (or the size) compared. */
int ssm_same_content(const struct ss_item *a, const struct ss_item *b)
{
	long long sa = ss_item_get_int(a, "size"), sb = ss_item_get_int(b, "size");
	if (sa >= 0 && sb >= 0 && sa != sb)
		return 0;
	int compared = sa >= 0 && sb >= 0;
	static const char *const hashes[] = { "sha256", "sha512", "md5" };
	for (int i = 0; i < 3; i++) {
		char ba[160], bb[160];
		const char *ha = ss_item_get(a, hashes[i], ba, sizeof(ba));
		const char *hb = ss_item_get(b, hashes[i], bb, sizeof(bb));
		if (!ha || !hb)
			continue;
		if (strcasecmp(ha, hb) != 0)
			return 0;
		compared = 2;
	}
	return compared == 2 || (compared && !ss_item_hash_kinds(a));
}

void ssm_phase(struct run *r, double *phase)
{
	double now = ssi_now();
	*phase += now - r->mark;
	r->mark = now;
}
