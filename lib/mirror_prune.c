/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The prune phase of a mirror run: a file the previous documents named and
 * the new ones do not becomes pending, with the time it became so; once
 * the new index is in place, the pending files whose grace period is over
 * are deleted.  The state file (mirror_state.c) keeps the pending list
 * between runs.
 */
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "mirror_internal.h"
#include "treedocs.h"

static int pend_alloc(struct run *r, size_t n)
{
	r->pend.path = calloc(n + 1, sizeof(*r->pend.path));
	r->pend.time = calloc(n + 1, sizeof(*r->pend.time));
	r->pend.n = 0;
	return r->pend.path && r->pend.time ? SS_OK : ssm_oom(r);
}

/* Files referenced before (by the old documents or as documents we wrote)
 * and not now start their grace period at NOW; those pending already keep
 * their time unless they are wanted again. */
int ssm_prune_plan(struct run *r, long long now)
{
	struct ssi_strset *dropped = &r->dropped, pend_sorted = { 0 };
	int rc = SS_OK;
	for (size_t i = 0; rc == SS_OK && i < r->old_refs.n; i++)
		if (!ssi_strset_has(&r->new_refs, r->old_refs.v[i]) && ssi_strset_add(dropped, r->old_refs.v[i]) < 0)
			rc = ssm_oom(r);
	for (size_t i = 0; rc == SS_OK && i < r->old_meta.n; i++)
		if (!ssi_strset_has(&r->new_refs, r->old_meta.v[i]) && ssi_strset_add(dropped, r->old_meta.v[i]) < 0)
			rc = ssm_oom(r);
	ssi_strset_seal(dropped);
	if (rc != SS_OK || (rc = pend_alloc(r, dropped->n + r->pend_path.n)) != SS_OK)
		return rc;
	struct ssi_pending *p = &r->pend;
	for (size_t i = 0; i < r->pend_path.n; i++) {
		if (ssi_strset_has(&r->new_refs, r->pend_path.v[i]))
			continue; /* wanted again */
		p->path[p->n] = r->pend_path.v[i];
		p->time[p->n++] = r->pend_time[i];
		if (ssi_strset_add(&pend_sorted, r->pend_path.v[i]) < 0)
			rc = ssm_oom(r);
	}
	ssi_strset_seal(&pend_sorted);
	for (size_t i = 0; rc == SS_OK && i < dropped->n; i++) {
		if (ssi_strset_has(&pend_sorted, dropped->v[i]))
			continue;
		p->path[p->n] = dropped->v[i];
		p->time[p->n++] = now;
	}
	ssi_strset_free(&pend_sorted);
	return rc;
}

/* Nothing changed upstream: what was pending stays pending. */
int ssm_prune_keep(struct run *r)
{
	if (pend_alloc(r, r->pend_path.n) != SS_OK)
		return SS_FATAL;
	for (size_t i = 0; i < r->pend_path.n; i++) {
		r->pend.path[i] = r->pend_path.v[i];
		r->pend.time[i] = r->pend_time[i];
	}
	r->pend.n = r->pend_path.n;
	return SS_OK;
}

/* Deletes the pending files whose grace period is over; those that stay
 * pending are compacted at the front of the list. */
void ssm_prune_expire(struct run *r, long long now)
{
	struct ssi_pending *p = &r->pend;
	size_t keep = 0, expired = 0;
	/* a file the target's signed view names stays pending: a client with
	 * a keyring reads that view, which may still name it (a stale one
	 * waiting out its own grace period) */
	struct ssi_strset sv = { 0 };
	for (size_t i = 0; i < p->n; i++)
		if (now - p->time[i] >= r->o->grace) { /* read only when something may go */
			if (ssi_treedocs_signed_names(r->o->target, &sv) < 0)
				ssi_strset_free(&sv); /* out of memory: at worst the old behaviour */
			break;
		}
	ssi_strset_seal(&sv);
	for (size_t i = 0; i < p->n; i++)
		expired += now - p->time[i] >= r->o->grace && !ssi_strset_has(&sv, p->path[i]);
	if (r->o->max_delete > 0 && (long long)expired > r->o->max_delete) {
		/* rsync's --max-delete: all or nothing, and said */
		char msg[200];
		snprintf(msg, sizeof(msg), "%zu files would be deleted, more than --max-delete %lld: none deleted",
			 expired, r->o->max_delete);
		ssm_event(r, SS_EV_WARN, NULL, -1, msg);
		r->held = (int)expired;
		ssi_strset_free(&sv);
		return;
	}
	for (size_t i = 0; i < p->n; i++) {
		if (now - p->time[i] < r->o->grace || ssi_strset_has(&sv, p->path[i])) {
			p->path[keep] = p->path[i];
			p->time[keep++] = p->time[i];
			continue;
		}
		/* never through a symlink inside the tree: a refusal is said, and
		 * the file stays pending */
		struct stat st;
		struct ss_error ue;
		if (ssi_safe_unlink(r->o->target, p->path[i], 1, &st, &ue) == SS_OK) {
			r->st->removed++;
			r->st->bytes_removed += st.st_size;
			ssm_event(r, SS_EV_REMOVE, p->path[i], st.st_size, NULL);
		} else if (ue.sys_errno != ENOENT) {
			ssm_event(r, SS_EV_WARN, p->path[i], -1, ue.msg);
			r->refused++;
			p->path[keep] = p->path[i];
			p->time[keep++] = p->time[i];
		}
	}
	p->n = keep;
	ssi_strset_free(&sv);
}

void ssm_prune_free(struct run *r)
{
	free(r->pend.path);
	free(r->pend.time);
	ssi_strset_free(&r->dropped);
	r->pend.path = NULL;
	r->pend.time = NULL;
	r->pend.n = 0;
}
