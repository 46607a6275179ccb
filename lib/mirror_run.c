/*
 * What every phase of a mirror run shares (internal): the run's state
 * (struct run, mirror_internal.h), its event callback and TARGET's paths.
 * This file calls none of the phases; the phases call only this file, and
 * only the orchestrator (mirror.c) calls the phases.
 */
#include <stdlib.h>

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
