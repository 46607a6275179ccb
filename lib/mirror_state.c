/*
 * The mirror's state file, TARGET/.sstream/state: "M <path>" for each
 * document we wrote, "P <epoch> <path>" for each file unreferenced since
 * then (deleted once the grace period is over).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mirror_internal.h"

int ssm_state_parse(struct run *r, char *data)
{
	size_t cap = 0;
	for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
		if (line[0] == 'M' && line[1] == ' ') {
			ssi_strset_add(&r->old_meta, line + 2);
		} else if (line[0] == 'P' && line[1] == ' ') {
			char *end;
			long long t = strtoll(line + 2, &end, 10);
			if (*end != ' ')
				continue;
			if (r->pend_path.n == cap) {
				cap = cap ? 2 * cap : 64;
				long long *nt = realloc(r->pend_time, cap * sizeof(*nt));
				if (!nt)
					break;
				r->pend_time = nt;
			}
			r->pend_time[r->pend_path.n] = t;
			ssi_strset_add(&r->pend_path, end + 1);
		}
	}
	ssi_strset_seal(&r->old_meta);
	return SS_OK;
}

int ssm_state_load(struct run *r)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/state", r->dot);
	char *data;
	size_t len;
	struct ss_error e;
	if (ss_fetch(path, SS_METADATA_CAP, &data, &len, &e) != SS_OK)
		return e.sys_errno == ENOENT ? SS_OK : ssi_err(r->err, SS_FATAL, "%s", e.msg);
	int rc = ssm_state_parse(r, data);
	free(data);
	return rc;
}

static int state_save(struct run *r, const struct ssi_strset *meta, const char *const *pp,
		      const long long *pt, size_t np)
{
	size_t cap = 64;
	for (size_t i = 0; i < meta->n; i++)
		cap += strlen(meta->v[i]) + 4;
	for (size_t i = 0; i < np; i++)
		cap += strlen(pp[i]) + 32;
	char *buf = malloc(cap), *p = buf;
	if (!buf)
		return ssi_err(r->err, SS_FATAL, "out of memory");
	p += sprintf(p, "# sstream-mirror state\n");
	for (size_t i = 0; i < meta->n; i++)
		p += sprintf(p, "M %s\n", meta->v[i]);
	for (size_t i = 0; i < np; i++)
		p += sprintf(p, "P %lld %s\n", pt[i], pp[i]);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/state", r->dot);
	int rc = ssi_write_if_changed(path, buf, (size_t)(p - buf), NULL, r->err);
	free(buf);
	return rc;
}

int ssm_state_commit(struct run *r, const char *index, size_t index_len)
{
	int rc;
	/* Files referenced before and not now start their grace period; the
	 * state is saved before the index so that a crash loses no deadline. */
	long long now = (long long)time(NULL);
	struct ssi_strset dropped = { 0 };
	for (size_t i = 0; i < r->old_refs.n; i++)
		if (!ssi_strset_has(&r->new_refs, r->old_refs.v[i]))
			ssi_strset_add(&dropped, r->old_refs.v[i]);
	for (size_t i = 0; i < r->old_meta.n; i++)
		if (!ssi_strset_has(&r->new_refs, r->old_meta.v[i]))
			ssi_strset_add(&dropped, r->old_meta.v[i]);
	ssi_strset_seal(&dropped);
	size_t np = 0;
	const char **pp = calloc(dropped.n + r->pend_path.n + 1, sizeof(*pp));
	long long *pt = calloc(dropped.n + r->pend_path.n + 1, sizeof(*pt));
	if (!pp || !pt) {
		rc = ssi_err(r->err, SS_FATAL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < r->pend_path.n; i++) {
		if (ssi_strset_has(&r->new_refs, r->pend_path.v[i]))
			continue; /* wanted again */
		pp[np] = r->pend_path.v[i];
		pt[np++] = r->pend_time[i];
	}
	struct ssi_strset pend_sorted = { 0 };
	for (size_t i = 0; i < np; i++)
		ssi_strset_add(&pend_sorted, pp[i]);
	ssi_strset_seal(&pend_sorted);
	for (size_t i = 0; i < dropped.n; i++) {
		if (ssi_strset_has(&pend_sorted, dropped.v[i]))
			continue;
		pp[np] = dropped.v[i];
		pt[np++] = now;
	}
	ssi_strset_free(&pend_sorted);
	rc = state_save(r, &r->new_meta, pp, pt, np);
	char *ifile = rc == SS_OK ? ssm_tpath(r, "streams/v1/index.json") : NULL;
	if (rc == SS_OK)
		rc = ifile ? ssi_write_if_changed(ifile, index, index_len, &r->st->metadata_written, r->err)
			   : ssi_err(r->err, SS_FATAL, "out of memory");
	free(ifile);
	if (rc != SS_OK)
		goto out;

	/* The new index is in place: what has been unreferenced long enough goes. */
	size_t keep = 0;
	for (size_t i = 0; i < np; i++) {
		if (now - pt[i] < r->o->grace) {
			pp[keep] = pp[i];
			pt[keep++] = pt[i];
			continue;
		}
		char *file = ssm_tpath(r, pp[i]);
		struct stat st;
		if (file && lstat(file, &st) == 0 && S_ISREG(st.st_mode) && unlink(file) == 0) {
			r->st->removed++;
			r->st->bytes_removed += st.st_size;
			ssm_event(r, SS_EV_REMOVE, pp[i], st.st_size, NULL);
			ssi_rmdir_parents(file, strlen(r->o->target));
		}
		free(file);
	}
	rc = state_save(r, &r->new_meta, pp, pt, keep);
out:
	free(pp);
	free(pt);
	ssi_strset_free(&dropped);
	return rc;
}
