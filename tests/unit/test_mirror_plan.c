/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mirror planning (lib/mirror_plan.c): what each wanted item needs, given
 * what TARGET holds and lists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "mirror_internal.h"

struct fixture {
	struct ss_mirror_opts o;
	struct ss_mirror_stats st;
	struct ss_error err;
	struct run r;
	char dir[64];
};

static int sh(const char *fmt, const char *a, const char *b)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), fmt, a, b);
	return system(cmd);
}

/* TARGET: empty, or (COPY) a copy of foocloud itself. */
static int setup(struct fixture *f, int copy)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/ss-mplan-XXXXXX");
	CHECK(mkdtemp(f->dir) != NULL);
	if (copy)
		CHECK(sh("cp -r '%s'/. '%s'", SHARED("examples/foocloud"), f->dir) == 0);
	f->o.target = f->dir;
	f->o.source = SHARED("examples/foocloud");
	f->r.o = &f->o;
	f->r.st = &f->st;
	f->r.err = &f->err;
	f->r.lock_fd = -1;
	struct ss_error e;
	f->r.src = ss_tree_load(f->o.source, &e);
	CHECK(f->r.src != NULL);
	if (!f->r.src || ss_select(f->r.src, NULL, 0, &f->r.sel, &e) != SS_OK)
		return -1;
	if (ssm_load_old(&f->r) != SS_OK)
		return -1;
	ssi_strset_seal(&f->r.old_refs);
	return 0;
}

static void teardown(struct fixture *f)
{
	struct run *r = &f->r;
	free(r->w);
	ssm_keyed_free(r);
	ssi_strset_free(&r->old_refs);
	ss_selection_free(&r->sel);
	if (!r->old_is_src)
		ss_tree_free(r->old);
	ss_tree_free(r->src);
	CHECK(sh("rm -rf '%s'%s", f->dir, "") == 0);
}

static size_t count(const struct run *r, int status)
{
	size_t n = 0;
	for (size_t i = 0; i < r->nw; i++)
		n += r->w[i].status == status;
	return n;
}

static struct want *find(const struct run *r, const char *path)
{
	for (size_t i = 0; i < r->nw; i++)
		if (r->w[i].path && strcmp(r->w[i].path, path) == 0)
			return &r->w[i];
	return NULL;
}

static const char beta_img[] = "files/beta-2/foovendor-6.1-beta2-server-cloudimg-amd64-disk1.img";

static void test_empty_target(void)
{
	struct fixture f;
	if (setup(&f, 0) == 0) {
		CHECK(f.r.old == NULL);
		CHECK(ssm_plan(&f.r) == SS_OK);
		CHECK(f.r.nw == f.r.sel.count);
		CHECK(count(&f.r, W_PRESENT) == 0);
		CHECK(count(&f.r, W_FETCH) + count(&f.r, W_NOPATH) == f.r.nw);
		CHECK(count(&f.r, W_FETCH) > 0);
		CHECK(find(&f.r, beta_img) && find(&f.r, beta_img)->status == W_FETCH);
	}
	teardown(&f);
}

/* A target holding the source's documents is the source tree; its files
 * are present, a missing one is fetched. */
static void test_copy_target(void)
{
	struct fixture f;
	if (setup(&f, 1) == 0) {
		CHECK(f.r.old_is_src);
		CHECK(f.r.old == f.r.src);
		char p[256];
		snprintf(p, sizeof(p), "%s/%s", f.dir, beta_img);
		CHECK(unlink(p) == 0);
		CHECK(ssm_plan(&f.r) == SS_OK);
		CHECK(count(&f.r, W_FETCH) == 1);
		CHECK(find(&f.r, beta_img) && find(&f.r, beta_img)->status == W_FETCH);
		CHECK(count(&f.r, W_PRESENT) + 1 + count(&f.r, W_NOPATH) == f.r.nw);
		CHECK(ssi_strset_has(&f.r.old_refs, beta_img));
		CHECK(ssi_strset_has(&f.r.old_refs, "streams/v1/index.json"));
	}
	teardown(&f);
}

/* check_existing hashes what is there: a changed file is fetched again. */
static void test_check_existing(void)
{
	struct fixture f;
	if (setup(&f, 1) == 0) {
		f.o.check_existing = 1;
		char p[256];
		snprintf(p, sizeof(p), "%s/%s", f.dir, beta_img);
		FILE *fp = fopen(p, "a");
		CHECK(fp != NULL);
		if (fp) {
			fputs("tampered", fp);
			fclose(fp);
		}
		CHECK(ssm_plan(&f.r) == SS_OK);
		CHECK(count(&f.r, W_FETCH) == 1);
		CHECK(find(&f.r, beta_img) && find(&f.r, beta_img)->status == W_FETCH);
	}
	teardown(&f);
}

/* Directories gone from the target: every item below them is fetched
 * (found missing once, not file by file), and the items of the
 * directories between and after them are still found present. */
static void test_missing_dirs(void)
{
	struct fixture f;
	if (setup(&f, 1) == 0) {
		CHECK(sh("rm -r '%s/files/beta-2' '%s/files/release-20121026.1'", f.dir, f.dir) == 0);
		CHECK(ssm_plan(&f.r) == SS_OK);
		size_t below = 0, present = 0;
		for (size_t i = 0; i < f.r.nw; i++) {
			const struct want *w = &f.r.w[i];
			if (!w->path || strncmp(w->path, "files/", 6) != 0)
				continue;
			if (strncmp(w->path, "files/beta-2/", 13) == 0 ||
			    strncmp(w->path, "files/release-20121026.1/", 25) == 0) {
				below++;
				CHECK(w->status == W_FETCH);
			} else {
				present++;
				CHECK(w->status == W_PRESENT);
			}
		}
		CHECK(below > 0 && present > 0);
	}
	teardown(&f);
}

static void test_no_items(void)
{
	struct fixture f;
	if (setup(&f, 0) == 0) {
		f.o.no_items = 1;
		CHECK(ssm_plan(&f.r) == SS_OK);
		CHECK(count(&f.r, W_FETCH) == 0);
		CHECK(count(&f.r, W_SKIPPED) > 0);
	}
	teardown(&f);
}

static void test_same_content(void)
{
	struct fixture f;
	if (setup(&f, 0) == 0 && f.r.sel.count >= 2) {
		const struct ss_item *a = NULL, *b = NULL;
		for (size_t i = 0; i < f.r.sel.count; i++) {
			const struct ss_item *it = f.r.sel.items[i];
			if (!ss_item_str(it, "md5"))
				continue;
			if (!a)
				a = it;
			else if (strcmp(ss_item_str(it, "md5"), ss_item_str(a, "md5")) != 0)
				b = it;
		}
		CHECK(a && b);
		if (a && b) {
			CHECK(ssm_same_content(a, a));
			CHECK(!ssm_same_content(a, b));
		}
	}
	teardown(&f);
}

TEST_MAIN(test_empty_target, test_copy_target, test_check_existing, test_missing_dirs, test_no_items,
	  test_same_content)
