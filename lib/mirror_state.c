/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mirror's state file, TARGET/.sstream/state: "M <path>" for each
 * document we wrote, the ledger's "P <since> <path>" (ledger.h) for each
 * file unreferenced since then (deleted once the grace period is over),
 * and after a complete run
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

/* The state is read back from disk, where anything may have put anything
 * (an item path under .sstream/ once could): every path it names passes
 * the check every document path passes, or is ignored, with a warning. */
static void state_warn(struct run *r, const char *why)
{
	char msg[sizeof(((struct ss_error *)0)->msg) + 64];
	snprintf(msg, sizeof(msg), "state file '%s/state': ignoring %s", r->dot, why);
	ssm_event(r, SS_EV_WARN, NULL, -1, msg);
}

static int state_path_ok(struct run *r, const char *path)
{
	struct ss_error e;
	if (ss_path_check(path, &e) == SS_OK)
		return 1;
	state_warn(r, e.msg);
	return 0;
}

int ssm_state_parse(struct run *r, char *data)
{
	int rc = SS_OK;
	/* A line dropped for want of memory would lose a pending deletion or
	 * a document to clean up: the run fails instead. */
	for (char *line = strtok(data, "\n"); line && rc == SS_OK; line = strtok(NULL, "\n")) {
		if (line[0] == 'M' && line[1] == ' ') {
			if (state_path_ok(r, line + 2) && ssi_strset_add(&r->old_meta, line + 2) < 0)
				rc = ssm_oom(r);
		} else if (line[0] == 'V' && line[1] == ' ') {
			/* sent back as request headers: three tab-separated printable fields */
			int tabs = 0, ok = 1;
			for (const char *c = line + 2; *c; c++) {
				if (*c == '\t')
					tabs++;
				else if (*c < 0x20 || *c > 0x7e)
					ok = 0;
			}
			if (ok && tabs == 2 && strlen(line + 2) < 4400 && ssi_strset_add(&r->valid.old, line + 2) < 0)
				rc = ssm_oom(r);
		} else if (line[0] == 'C' && line[1] == ' ') {
			char key[72];
			unsigned long long items;
			if (sscanf(line + 2, "%64[0-9a-f] %llu", key, &items) == 2) {
				strcpy(r->valid.old_key, key);
				r->valid.old_items = (size_t)items;
			}
		} else if (line[0] == 'P' && line[1] == ' ') {
			struct ss_error why;
			int lr = ssi_ledger_parse_line(&r->prune.old, line, strlen(line), 0, &why);
			if (lr == -1)
				rc = ssm_oom(r);
			else if (lr == -2)
				state_warn(r, why.msg);
		}
	}
	ssi_strset_seal(&r->old_meta);
	ssi_ledger_seal(&r->prune.old);
	return rc;
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
int ssm_state_save(struct run *r, const struct ssi_strset *meta, const struct ssi_strset *valid)
{
	size_t cap = 128 + ssi_ledger_text_len(&r->prune.pend);
	for (size_t i = 0; valid && i < valid->n; i++)
		cap += strlen(valid->v[i]) + 4;
	for (size_t i = 0; i < meta->n; i++)
		cap += strlen(meta->v[i]) + 4;
	char *buf = malloc(cap), *p = buf;
	if (!buf)
		return ssm_oom(r);
	p += sprintf(p, "# sstream-mirror state\n");
	for (size_t i = 0; i < meta->n; i++)
		p += sprintf(p, "M %s\n", meta->v[i]);
	p = ssi_ledger_text(&r->prune.pend, p);
	if (valid) {
		p += sprintf(p, "C %s %zu\n", r->valid.key, r->st->items);
		for (size_t i = 0; i < valid->n; i++)
			p += sprintf(p, "V %s\n", valid->v[i]);
	}
	int changed = 0;
	int rc = ssi_safe_write(r->o->target, SSI_PRIVATE_DIR "/state", buf, (size_t)(p - buf), &changed, r->err);
	free(buf);
	return rc;
}

void ssm_state_validators(void *ud, const char *url, const char *etag, const char *last_modified)
{
	struct run *r = ud;
	if ((!etag && !last_modified) || strchr(url, '\t') || strlen(url) > 4096) {
		r->valid.missing = 1;
		return;
	}
	char *line = malloc(strlen(url) + (etag ? strlen(etag) : 0) +
			    (last_modified ? strlen(last_modified) : 0) + 3);
	if (!line) {
		r->valid.missing = 1;
		return;
	}
	sprintf(line, "%s\t%s\t%s", url, etag ? etag : "", last_modified ? last_modified : "");
	if (ssi_strset_add(&r->valid.new, line) < 0)
		r->valid.missing = 1;
	free(line);
}

int ssm_state_unchanged(struct run *r, const struct ss_fetch_opts *fo)
{
	if (!r->valid.old_key[0] || strcmp(r->valid.old_key, r->valid.key) != 0 || r->valid.old.n == 0)
		return 0;
	char *idx = ssm_tpath(r, "streams/v1/index.json");
	struct stat st;
	int have_index = idx && stat(idx, &st) == 0;
	free(idx);
	if (!have_index)
		return 0;
	size_t n = r->valid.old.n;
	char **copy = calloc(n, sizeof(*copy));
	const char **urls = calloc(n, sizeof(*urls)), **etags = calloc(n, sizeof(*etags));
	const char **lms = calloc(n, sizeof(*lms));
	int unchanged = 0;
	if (copy && urls && etags && lms) {
		size_t k = 0;
		for (; k < n; k++) {
			if (!(copy[k] = strdup(r->valid.old.v[k])))
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

int ss_mirror_pending(const char *target, void (*cb)(void *ud, const char *path, long long since), void *ud)
{
	char *file = ss_join(target, SSI_PRIVATE_DIR "/state"), *data = NULL;
	size_t len = 0;
	struct ss_error e;
	struct ssi_ledger l = { 0 };
	if (file && ss_fetch(file, SS_METADATA_CAP, &data, &len, &e) == SS_OK)
		ssi_ledger_parse(&l, data, len, 0, NULL);
	for (size_t i = 0; cb && i < l.n; i++)
		cb(ud, l.v[i].path, l.v[i].since);
	int n = (int)l.n;
	ssi_ledger_free(&l);
	free(file);
	free(data);
	return n;
}
