/*
 * The mirror's state file, TARGET/.sstream/state: "M <path>" for each
 * document we wrote, "P <epoch> <path>" for each file unreferenced since
 * then (deleted once the grace period is over), and after a complete run
 * "C <options-key> <items>" with "V <url>\t<etag>\t<last-modified>" for
 * each document read, so that the next run can ask the source whether
 * anything changed before reading anything.
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
#include "treedocs.h"

/* The state is read back from disk, where anything may have put anything
 * (an item path under .sstream/ once could): every path it names passes
 * the check every document path passes, or is ignored, with a warning. */
static int state_path_ok(struct run *r, const char *path)
{
	struct ss_error e;
	if (ss_path_check(path, &e) == SS_OK)
		return 1;
	char msg[sizeof(e.msg) + 64];
	snprintf(msg, sizeof(msg), "state file '%s/state': ignoring %s", r->dot, e.msg);
	ssm_event(r, SS_EV_WARN, NULL, -1, msg);
	return 0;
}

int ssm_state_parse(struct run *r, char *data)
{
	size_t cap = 0;
	for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
		if (line[0] == 'M' && line[1] == ' ') {
			if (state_path_ok(r, line + 2))
				ssi_strset_add(&r->old_meta, line + 2);
		} else if (line[0] == 'V' && line[1] == ' ') {
			/* sent back as request headers: three tab-separated printable fields */
			int tabs = 0, ok = 1;
			for (const char *c = line + 2; *c; c++) {
				if (*c == '\t')
					tabs++;
				else if (*c < 0x20 || *c > 0x7e)
					ok = 0;
			}
			if (ok && tabs == 2 && strlen(line + 2) < 4400)
				ssi_strset_add(&r->valid_old, line + 2);
		} else if (line[0] == 'C' && line[1] == ' ') {
			char key[72];
			unsigned long long items;
			if (sscanf(line + 2, "%64[0-9a-f] %llu", key, &items) == 2) {
				strcpy(r->old_key, key);
				r->old_items = (size_t)items;
			}
		} else if (line[0] == 'P' && line[1] == ' ') {
			char *end;
			long long t = strtoll(line + 2, &end, 10);
			if (*end != ' ' || !state_path_ok(r, end + 1))
				continue;
			/* Not a time we wrote: now - t would overflow. */
			if (t < 0 || t == LLONG_MAX)
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

/* VALID (NULL: none): the validators of a complete run, saved with the
 * options key only once the documents are in place, for the next run's
 * conditional requests. */
static int state_save(struct run *r, const struct ssi_strset *meta, const char *const *pp,
		      const long long *pt, size_t np, const struct ssi_strset *valid)
{
	size_t cap = 128;
	for (size_t i = 0; valid && i < valid->n; i++)
		cap += strlen(valid->v[i]) + 4;
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
	if (valid) {
		p += sprintf(p, "C %s %zu\n", r->key, r->st->items);
		for (size_t i = 0; i < valid->n; i++)
			p += sprintf(p, "V %s\n", valid->v[i]);
	}
	int changed = 0;
	int rc = ssi_safe_write(r->o->target, SSI_PRIVATE_DIR "/state", buf, (size_t)(p - buf), &changed, r->err);
	free(buf);
	return rc;
}

/* Deletes the files of PP whose grace period is over; returns how many
 * stay pending (compacted at the front of PP and PT). */
static size_t expire(struct run *r, const char **pp, long long *pt, size_t np, long long now)
{
	size_t keep = 0;
	for (size_t i = 0; i < np; i++) {
		if (now - pt[i] < r->o->grace) {
			pp[keep] = pp[i];
			pt[keep++] = pt[i];
			continue;
		}
		/* never through a symlink inside the tree: a refusal is said, and
		 * the file stays pending */
		struct stat st;
		struct ss_error ue;
		if (ssi_safe_unlink(r->o->target, pp[i], 1, &st, &ue) == SS_OK) {
			r->st->removed++;
			r->st->bytes_removed += st.st_size;
			ssm_event(r, SS_EV_REMOVE, pp[i], st.st_size, NULL);
		} else if (ue.sys_errno != ENOENT) {
			ssm_event(r, SS_EV_WARN, pp[i], -1, ue.msg);
			r->refused++;
			pp[keep] = pp[i];
			pt[keep++] = pt[i];
		}
	}
	return keep;
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
	rc = state_save(r, &r->new_meta, pp, pt, np, NULL);
	/* then the documents and the index, so that every index a reader
	 * sees names products files listing exactly its products */
	if (rc == SS_OK) {
		const char **rels = calloc(r->ndocs + 1, sizeof(*rels)), **data = calloc(r->ndocs + 1, sizeof(*data));
		size_t *lens = calloc(r->ndocs + 1, sizeof(*lens));
		if (!rels || !data || !lens) {
			rc = ssi_err(r->err, SS_FATAL, "out of memory");
		} else {
			for (size_t i = 0; i < r->ndocs; i++) {
				rels[i] = r->doc_rel[i];
				data[i] = r->doc_data[i];
				lens[i] = r->doc_len[i];
			}
			rels[r->ndocs] = "streams/v1/index.json";
			data[r->ndocs] = index;
			lens[r->ndocs] = index_len;
			rc = ssi_treedocs_put(r->o->target, r->ndocs + 1, rels, data, lens, &r->st->metadata_written,
					      r->err);
		}
		free(rels);
		free(data);
		free(lens);
	}
	if (rc != SS_OK)
		goto out;

	/* The new index is in place: what has been unreferenced long enough goes. */
	size_t keep = expire(r, pp, pt, np, now);
	rc = state_save(r, &r->new_meta, pp, pt, keep, r->complete ? &r->valid_new : NULL);
out:
	free(pp);
	free(pt);
	ssi_strset_free(&dropped);
	return rc;
}

int ssm_state_expire(struct run *r)
{
	size_t np = r->pend_path.n;
	const char **pp = calloc(np + 1, sizeof(*pp));
	long long *pt = calloc(np + 1, sizeof(*pt));
	if (!pp || !pt) {
		free(pp);
		free(pt);
		return ssi_err(r->err, SS_FATAL, "out of memory");
	}
	for (size_t i = 0; i < np; i++) {
		pp[i] = r->pend_path.v[i];
		pt[i] = r->pend_time[i];
	}
	size_t keep = expire(r, pp, pt, np, (long long)time(NULL));
	/* the documents and what they were read with stay as they are */
	r->st->items = r->old_items;
	int rc = state_save(r, &r->old_meta, pp, pt, keep, &r->valid_old);
	free(pp);
	free(pt);
	return rc;
}

void ssm_state_validators(void *ud, const char *url, const char *etag, const char *last_modified)
{
	struct run *r = ud;
	if ((!etag && !last_modified) || strchr(url, '\t') || strlen(url) > 4096) {
		r->valid_missing = 1;
		return;
	}
	char *line = malloc(strlen(url) + (etag ? strlen(etag) : 0) +
			    (last_modified ? strlen(last_modified) : 0) + 3);
	if (!line) {
		r->valid_missing = 1;
		return;
	}
	sprintf(line, "%s\t%s\t%s", url, etag ? etag : "", last_modified ? last_modified : "");
	if (ssi_strset_add(&r->valid_new, line) < 0)
		r->valid_missing = 1;
	free(line);
}

int ssm_state_unchanged(struct run *r, const struct ss_fetch_opts *fo)
{
	if (!r->old_key[0] || strcmp(r->old_key, r->key) != 0 || r->valid_old.n == 0)
		return 0;
	char *idx = ssm_tpath(r, "streams/v1/index.json");
	struct stat st;
	int have_index = idx && stat(idx, &st) == 0;
	free(idx);
	if (!have_index)
		return 0;
	size_t n = r->valid_old.n;
	char **copy = calloc(n, sizeof(*copy));
	const char **urls = calloc(n, sizeof(*urls)), **etags = calloc(n, sizeof(*etags));
	const char **lms = calloc(n, sizeof(*lms));
	int unchanged = 0;
	if (copy && urls && etags && lms) {
		size_t k = 0;
		for (; k < n; k++) {
			if (!(copy[k] = strdup(r->valid_old.v[k])))
				break;
			char *e = strchr(copy[k], '\t'), *l = strchr(e + 1, '\t');
			*e++ = '\0';
			*l++ = '\0';
			urls[k] = copy[k];
			etags[k] = *e ? e : NULL;
			lms[k] = *l ? l : NULL;
		}
		unchanged = k == n && ssi_fetch_unchanged(urls, etags, lms, n, fo);
	}
	for (size_t k = 0; copy && k < n; k++)
		free(copy[k]);
	free(copy);
	free(urls);
	free(etags);
	free(lms);
	return unchanged;
}
