/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The prune phase of a mirror run: a file the previous documents named and
 * the new ones do not becomes pending, with the time it became so; once
 * the new index is in place, the pending files whose grace period is over
 * are deleted.  The state file (mirror_state.c) keeps the pending list,
 * a ledger (ledger.h), between runs.
 */
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "mirror_internal.h"
#include "treedocs.h"

static int pend_add(struct run *r, const char *path, long long since)
{
	int rc = ssi_ledger_add(&r->prune.pend, path, since);
	if (rc == -1)
		return ssm_oom(r);
	/* an unsafe path (-2) never came through the documents' checks */
	return SS_OK;
}

/* Files referenced before (by the old documents or as documents we wrote)
 * and not now start their grace period at NOW; those pending already keep
 * their time unless they are wanted again. */
int ssm_prune_plan(struct run *r, long long now)
{
	struct ssi_strset *dropped = &r->prune.dropped;
	int rc = SS_OK;
	for (size_t i = 0; rc == SS_OK && i < r->old_refs.n; i++)
		if (!ssi_strset_has(&r->new_refs, r->old_refs.v[i]) && ssi_strset_add(dropped, r->old_refs.v[i]) < 0)
			rc = ssm_oom(r);
	for (size_t i = 0; rc == SS_OK && i < r->old_meta.n; i++)
		if (!ssi_strset_has(&r->new_refs, r->old_meta.v[i]) && ssi_strset_add(dropped, r->old_meta.v[i]) < 0)
			rc = ssm_oom(r);
	ssi_strset_seal(dropped);
	ssi_ledger_free(&r->prune.pend);
	ssi_ledger_seal(&r->prune.old);
	for (size_t i = 0; rc == SS_OK && i < r->prune.old.n; i++)
		if (!ssi_strset_has(&r->new_refs, r->prune.old.v[i].path)) /* else wanted again */
			rc = pend_add(r, r->prune.old.v[i].path, r->prune.old.v[i].since);
	for (size_t i = 0; rc == SS_OK && i < dropped->n; i++)
		if (!ssi_ledger_find(&r->prune.old, dropped->v[i]))
			rc = pend_add(r, dropped->v[i], now);
	ssi_ledger_seal(&r->prune.pend);
	return rc;
}

/* Nothing changed upstream: what was pending stays pending. */
int ssm_prune_keep(struct run *r)
{
	ssi_ledger_free(&r->prune.pend);
	ssi_ledger_seal(&r->prune.old);
	for (size_t i = 0; i < r->prune.old.n; i++)
		if (pend_add(r, r->prune.old.v[i].path, r->prune.old.v[i].since) != SS_OK)
			return SS_FATAL;
	ssi_ledger_seal(&r->prune.pend);
	return SS_OK;
}

struct prune_ctx {
	struct run *r;
	struct ssi_strset signed_names;
};

/* Deletes one due file: 0 when it is gone, 1 when it stays pending (the
 * signed view names it, or it could not be deleted). */
static int prune_unlink(void *ud, const char *path)
{
	struct prune_ctx *pc = ud;
	struct run *r = pc->r;
	if (ssi_strset_has(&pc->signed_names, path))
		return 1;
	/* never through a symlink inside the tree: a refusal is said, and
	 * the file stays pending */
	struct stat st;
	struct ss_error ue;
	if (ssi_safe_unlink(r->o->target, path, 1, &st, &ue) == SS_OK) {
		r->st->removed++;
		r->st->bytes_removed += st.st_size;
		ssm_event(r, SS_EV_REMOVE, path, st.st_size, NULL);
	} else if (ue.sys_errno != ENOENT) {
		ssm_event(r, SS_EV_WARN, path, -1, ue.msg);
		r->prune.refused++;
		return 1;
	}
	return 0;
}

/* Deletes the pending files whose grace period is over; those that stay
 * pending stay in the ledger with their time. */
void ssm_prune_expire(struct run *r, long long now)
{
	/* a file the target's signed view names stays pending: a client with
	 * a keyring reads that view, which may still name it (a stale one
	 * waiting out its own grace period) */
	struct prune_ctx pc = { r, { 0 } };
	if (ssi_ledger_count_due(&r->prune.pend, now, r->o->grace) == 0)
		return;
	if (ssi_treedocs_signed_names(r->o->target, &pc.signed_names) < 0) {
		ssi_strset_free(&pc.signed_names);
		ssm_event(r, SS_EV_WARN, NULL, -1, "out of memory: no file deleted this run");
		return;
	}
	ssi_strset_seal(&pc.signed_names);
	size_t expired = 0;
	for (size_t i = 0; i < r->prune.pend.n; i++)
		expired += ssi_ledger_due(r->prune.pend.v[i].since, now, r->o->grace) &&
			   !ssi_strset_has(&pc.signed_names, r->prune.pend.v[i].path);
	if (r->o->max_delete > 0 && (long long)expired > r->o->max_delete) {
		/* rsync's --max-delete: all or nothing, and said */
		char msg[200];
		snprintf(msg, sizeof(msg), "%zu files would be deleted, more than --max-delete %lld: none deleted",
			 expired, r->o->max_delete);
		ssm_event(r, SS_EV_WARN, NULL, -1, msg);
		r->prune.held = (int)expired;
		ssi_strset_free(&pc.signed_names);
		return;
	}
	ssi_ledger_expire(&r->prune.pend, now, r->o->grace, prune_unlink, &pc);
	ssi_strset_free(&pc.signed_names);
}

void ssm_prune_free(struct run *r)
{
	ssi_ledger_free(&r->prune.pend);
	ssi_strset_free(&r->prune.dropped);
}
