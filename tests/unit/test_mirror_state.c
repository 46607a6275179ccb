/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mirror's state file (lib/mirror_state.c), its pending deletions
 * (lib/mirror_prune.c), and what happens when a set that decides deletions
 * runs out of memory (lib/mirror_publish.c): the run fails, never goes on
 * with an entry missing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "mirror_internal.h"

struct fixture {
	struct ss_mirror_opts o;
	struct ss_mirror_stats st;
	struct ss_error err;
	struct run r;
	char dir[64], dot[96];
};

static void setup(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/ss-mstate-XXXXXX");
	CHECK(mkdtemp(f->dir) != NULL);
	snprintf(f->dot, sizeof(f->dot), "%s/.sstream", f->dir);
	CHECK(mkdir(f->dot, 0755) == 0);
	f->o.target = f->dir;
	f->o.grace = 100;
	f->r.o = &f->o;
	f->r.st = &f->st;
	f->r.err = &f->err;
	f->r.dot = f->dot;
	f->r.lock_fd = -1;
}

static void teardown(struct fixture *f)
{
	struct run *r = &f->r;
	ssm_prune_free(r);
	ssi_ledger_free(&r->prune.old);
	ssi_strset_free(&r->old_meta);
	ssi_strset_free(&r->new_meta);
	ssi_strset_free(&r->old_refs);
	ssi_strset_free(&r->new_refs);
	ssi_strset_free(&r->valid.old);
	ssi_strset_free(&r->valid.new);
	ssi_strset_free(&r->names);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	CHECK(system(cmd) == 0);
}

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	if (!fp)
		return NULL;
	static char buf[8192];
	size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static const char sample[] =
	"# sstream-mirror state\n"
	"M streams/v1/index.json\n"
	"M streams/v1/a.json\n"
	"P 100 files/old.img\n"
	"P -5 files/negative.img\n"
	"P 200 ../outside\n"
	"P 300 files/other.img\n"
	"C 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef 42\n"
	"V http://x/streams/v1/index.json\t\"e1\"\tMon, 01 Jan 2024 00:00:00 GMT\n"
	"V bad\tline\n"
	"X unknown\n";

static void test_parse(void)
{
	struct fixture f;
	setup(&f);
	char *text = strdup(sample);
	CHECK(ssm_state_parse(&f.r, text) == SS_OK);
	free(text);
	CHECK(f.r.old_meta.n == 2);
	CHECK_STR(f.r.old_meta.v[0], "streams/v1/a.json"); /* sealed: sorted */
	CHECK_STR(f.r.old_meta.v[1], "streams/v1/index.json");
	/* a negative time and a path leaving the tree are ignored */
	CHECK(f.r.prune.old.n == 2);
	CHECK_STR(f.r.prune.old.v[0].path, "files/old.img");
	CHECK(f.r.prune.old.v[0].since == 100);
	CHECK_STR(f.r.prune.old.v[1].path, "files/other.img");
	CHECK(f.r.prune.old.v[1].since == 300);
	CHECK_STR(f.r.valid.old_key, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	CHECK(f.r.valid.old_items == 42);
	CHECK(f.r.valid.old.n == 1);
	teardown(&f);
}

/* What ssm_state_save writes, ssm_state_parse reads back. */
static void test_save_roundtrip(void)
{
	struct fixture f;
	setup(&f);
	struct run *r = &f.r;
	CHECK(ssi_strset_add(&r->new_meta, "streams/v1/index.json") == 0);
	CHECK(ssi_strset_add(&r->valid.new, "http://x/i.json\t\"e\"\t") == 0);
	ssi_strset_seal(&r->new_meta);
	CHECK(ssi_ledger_add(&r->prune.pend, "files/a", 7) == 0);
	CHECK(ssi_ledger_add(&r->prune.pend, "files/b", 9) == 0);
	strcpy(r->valid.key, "00ff");
	f.st.items = 3;
	CHECK(ssm_state_save(r, &r->new_meta, NULL) == SS_OK);
	char path[128];
	snprintf(path, sizeof(path), "%s/state", f.dot);
	CHECK_STR(slurp(path), "# sstream-mirror state\nM streams/v1/index.json\nP 7 files/a\nP 9 files/b\n");
	CHECK(ssm_state_save(r, &r->new_meta, &r->valid.new) == SS_OK);
	char *text = strdup(slurp(path));
	CHECK_STR(text, "# sstream-mirror state\nM streams/v1/index.json\nP 7 files/a\nP 9 files/b\n"
			"C 00ff 3\nV http://x/i.json\t\"e\"\t\n");
	CHECK(ssm_state_parse(r, text) == SS_OK);
	free(text);
	CHECK(r->prune.old.n == 2 && r->prune.old.v[1].since == 9);
	CHECK_STR(r->valid.old_key, "00ff");
	CHECK(r->valid.old_items == 3);
	CHECK(r->valid.old.n == 1);
	teardown(&f);
}

/* A state line lost for want of memory would lose a pending deletion: the
 * parse fails instead. */
static void test_parse_oom(void)
{
	for (long k = 1; k <= 6; k++) {
		struct fixture f;
		setup(&f);
		char *text = strdup(sample);
		ssi_strset_fail_after(k);
		int rc = ssm_state_parse(&f.r, text);
		ssi_strset_fail_after(0);
		free(text);
		/* five lines are kept: the Kth add fails the parse */
		CHECK(k <= 5 ? rc == SS_FATAL : rc == SS_OK);
		if (rc == SS_FATAL)
			CHECK(strstr(f.err.msg, "out of memory") != NULL);
		teardown(&f);
	}
}

static int pending_time(const struct run *r, const char *path)
{
	const struct ssi_ledger_entry *e = ssi_ledger_find(&r->prune.pend, path);
	return e ? (int)e->since : -1;
}

static void prune_input(struct run *r)
{
	const char *old[] = { "files/a", "files/b", "files/c" };
	for (int i = 0; i < 3; i++)
		CHECK(ssi_strset_add(&r->old_refs, old[i]) == 0);
	CHECK(ssi_strset_add(&r->new_refs, "files/a") == 0);
	CHECK(ssi_strset_add(&r->new_refs, "files/y") == 0);
	CHECK(ssi_strset_add(&r->old_meta, "streams/v1/old.json") == 0);
	ssi_strset_seal(&r->old_refs);
	ssi_strset_seal(&r->new_refs);
	ssi_strset_seal(&r->old_meta);
	char text[] = "P 5 files/b\nP 7 files/z\nP 9 files/y\n";
	CHECK(ssm_state_parse(r, text) == SS_OK);
}

static void test_prune_plan(void)
{
	struct fixture f;
	setup(&f);
	prune_input(&f.r);
	CHECK(ssm_prune_plan(&f.r, 1000) == SS_OK);
	CHECK(f.r.prune.pend.n == 4);
	CHECK(pending_time(&f.r, "files/b") == 5);   /* pending already: keeps its time */
	CHECK(pending_time(&f.r, "files/z") == 7);
	CHECK(pending_time(&f.r, "files/c") == 1000); /* dropped now */
	CHECK(pending_time(&f.r, "streams/v1/old.json") == 1000);
	CHECK(pending_time(&f.r, "files/y") == -1);   /* wanted again */
	CHECK(pending_time(&f.r, "files/a") == -1);
	teardown(&f);
	/* out of memory at any add: the run fails, never a shorter list */
	for (long k = 1; k <= 5; k++) {
		setup(&f);
		prune_input(&f.r);
		ssi_strset_fail_after(k);
		int rc = ssm_prune_plan(&f.r, 1000);
		ssi_strset_fail_after(0);
		CHECK(rc == SS_FATAL || f.r.prune.pend.n == 4);
		CHECK(k > 4 || rc == SS_FATAL);
		teardown(&f);
	}
}

static void touch(const char *dir, const char *rel)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	FILE *fp = fopen(p, "w");
	CHECK(fp != NULL);
	if (fp) {
		fputs("x", fp);
		fclose(fp);
	}
}

static void test_prune_expire(void)
{
	struct fixture f;
	setup(&f);
	char d[128];
	snprintf(d, sizeof(d), "%s/files", f.dir);
	CHECK(mkdir(d, 0755) == 0);
	touch(f.dir, "files/old");
	touch(f.dir, "files/young");
	CHECK(ssi_ledger_add(&f.r.prune.pend, "files/old", 800) == 0);
	CHECK(ssi_ledger_add(&f.r.prune.pend, "files/young", 950) == 0);
	CHECK(ssi_ledger_add(&f.r.prune.pend, "files/gone", 100) == 0);
	ssm_prune_expire(&f.r, 1000); /* grace 100 */
	CHECK(f.r.prune.pend.n == 1);
	CHECK_STR(f.r.prune.pend.v[0].path, "files/young");
	CHECK(f.st.removed == 1);
	char p[256];
	snprintf(p, sizeof(p), "%s/files/old", f.dir);
	CHECK(access(p, F_OK) != 0);
	snprintf(p, sizeof(p), "%s/files/young", f.dir);
	CHECK(access(p, F_OK) == 0);
	teardown(&f);
}

/* ssm_publish (dry run: nothing written) with every item of foocloud
 * present; returns its result and whether every item path is in new_refs. */
static int publish_foocloud(long fail_at, int *all_refs)
{
	struct fixture f;
	setup(&f);
	f.o.dry_run = 1;
	struct run *r = &f.r;
	struct ss_error e;
	r->src = ss_tree_load(SHARED("examples/foocloud"), &e);
	CHECK(r->src != NULL);
	int rc = SS_FATAL;
	*all_refs = 0;
	if (r->src && ss_select(r->src, NULL, 0, &r->sel, &e) == SS_OK) {
		r->nw = r->sel.count;
		r->w = calloc(r->nw, sizeof(*r->w));
		for (size_t i = 0; i < r->nw; i++) {
			r->w[i].it = r->sel.items[i];
			r->w[i].path = ss_item_str(r->w[i].it, "path");
			r->w[i].status = r->w[i].path ? W_PRESENT : W_NOPATH;
		}
		ssi_strset_fail_after(fail_at);
		rc = ssm_publish(r);
		ssi_strset_fail_after(0);
		*all_refs = 1;
		for (size_t i = 0; i < r->nw; i++)
			if (r->w[i].path && !ssi_strset_has(&r->new_refs, r->w[i].path))
				*all_refs = 0;
	}
	free(r->w);
	ss_selection_free(&r->sel);
	ss_tree_free(r->src);
	ssm_docs_free(r);
	teardown(&f);
	return rc;
}

static void test_publish_oom(void)
{
	int all;
	CHECK(publish_foocloud(0, &all) == SS_OK);
	CHECK(all);
	int failed = 0;
	for (long k = 1; k <= 40; k++) {
		int rc = publish_foocloud(k, &all);
		/* a lost reference would make a present file look unreferenced */
		CHECK(rc == SS_FATAL || all);
		failed += rc == SS_FATAL;
	}
	CHECK(failed > 10);
}

TEST_MAIN(test_parse, test_save_roundtrip, test_parse_oom, test_prune_plan, test_prune_expire, test_publish_oom)
