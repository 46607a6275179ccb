/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The download engine (lib/download*.c): scheduling of many transfers over
 * a few slots, verification, the run's deadline, and the --limit-rate
 * token bucket.  Sources are local files (no server needed); the CLI tests
 * cover HTTP.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "download_internal.h"

#define MAXI 32

struct fixture {
	struct ss_tree *t;
	struct ss_selection sel;
	struct ssi_dl dls[MAXI];
	char *urls[MAXI];
	char *parts[MAXI];
	const char *url1[MAXI][1];
	size_t n;
	char dir[64];
};

/* One transfer per item of foocloud that has a path (at most MAXI). */
static int setup(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/ss-dl-XXXXXX");
	CHECK(mkdtemp(f->dir) != NULL);
	struct ss_error e;
	const char *root = SHARED("examples/foocloud");
	f->t = ss_tree_load(root, &e);
	CHECK(f->t != NULL);
	if (!f->t || ss_select(f->t, NULL, 0, &f->sel, &e) != SS_OK)
		return -1;
	for (size_t i = 0; i < f->sel.count && f->n < MAXI; i++) {
		const struct ss_item *it = f->sel.items[i];
		const char *path = ss_item_str(it, "path");
		if (!path)
			continue;
		size_t k = f->n++;
		f->urls[k] = ss_join(root, path);
		f->parts[k] = malloc(strlen(f->dir) + 32);
		sprintf(f->parts[k], "%s/%zu.part", f->dir, k);
		f->url1[k][0] = f->urls[k];
		f->dls[k] = (struct ssi_dl){ .urls = f->url1[k], .nurls = 1, .path = path, .part = f->parts[k],
					     .size = ss_item_get_int(it, "size"), .kinds = ss_item_hash_kinds(it),
					     .item = it };
	}
	return f->n >= 4 ? 0 : -1;
}

static void teardown(struct fixture *f)
{
	for (size_t i = 0; i < f->n; i++) {
		unlink(f->parts[i]);
		free(f->parts[i]);
		free(f->urls[i]);
	}
	rmdir(f->dir);
	ss_selection_free(&f->sel);
	ss_tree_free(f->t);
}

static long long file_size(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

/* Many transfers over two slots: every one runs to its end, verified. */
static void test_all_done(void)
{
	struct fixture f;
	if (setup(&f) == 0) {
		struct ssi_dl_opts o = { .jobs = 2, .retries = 0, .timeout = 10 };
		struct ss_error err;
		CHECK(ssi_download_all(f.dls, f.n, &o, &err) == SS_OK);
		for (size_t i = 0; i < f.n; i++) {
			CHECK(f.dls[i].result == SS_OK);
			if (f.dls[i].size >= 0)
				CHECK(file_size(f.parts[i]) == f.dls[i].size);
		}
	}
	teardown(&f);
}

/* A file that is not the item's fails that item alone, as an integrity
 * error; a partial file from an earlier run does not matter for a local
 * source. */
static void test_mismatch(void)
{
	struct fixture f;
	if (setup(&f) == 0) {
		size_t a = 0, b = 1;
		for (; b < f.n && f.dls[b].size == f.dls[a].size; b++)
			;
		CHECK(b < f.n);
		f.url1[a][0] = f.urls[b];
		FILE *fp = fopen(f.parts[2], "w");
		if (fp) {
			fputs("stale bytes of an earlier run", fp);
			fclose(fp);
		}
		struct ssi_dl_opts o = { .jobs = 4, .timeout = 10 };
		struct ss_error err;
		CHECK(ssi_download_all(f.dls, f.n, &o, &err) == SS_OK);
		CHECK(f.dls[a].result == SS_INTEGRITY);
		CHECK(f.dls[a].err.msg[0] != '\0');
		CHECK(f.dls[2].result == SS_OK);
		for (size_t i = 1; i < f.n; i++)
			CHECK(f.dls[i].result == SS_OK);
	}
	teardown(&f);
}

/* A missing source file fails its item. */
static void test_missing(void)
{
	struct fixture f;
	if (setup(&f) == 0) {
		static const char *nowhere[] = { "/nonexistent/sstream/file" };
		f.dls[0].urls = nowhere;
		struct ssi_dl_opts o = { .jobs = 1, .timeout = 10 };
		struct ss_error err;
		CHECK(ssi_download_all(f.dls, f.n, &o, &err) == SS_OK);
		CHECK(f.dls[0].result == SS_FATAL);
		CHECK(strstr(f.dls[0].err.msg, "/nonexistent/sstream/file") != NULL);
		CHECK(f.dls[1].result == SS_OK);
	}
	teardown(&f);
}

/* The run's deadline has passed: nothing starts, everything ends as a
 * temporary failure (the next run goes on). */
static void test_deadline(void)
{
	struct fixture f;
	if (setup(&f) == 0) {
		struct ssi_dl_opts o = { .jobs = 2, .timeout = 10, .deadline = ssi_now() - 1 };
		struct ss_error err;
		CHECK(ssi_download_all(f.dls, f.n, &o, &err) == SS_OK);
		for (size_t i = 0; i < f.n; i++) {
			CHECK(f.dls[i].result == SS_TEMPFAIL);
			CHECK(strstr(f.dls[i].err.msg, "time limit") != NULL);
		}
	}
	teardown(&f);
}

/* An item without a size is capped by max_size (max_item_size): past it
 * the transfer fails, below it the hashes decide. */
static void test_max_size(void)
{
	struct fixture f;
	if (setup(&f) == 0) {
		size_t big = 0;
		for (size_t i = 0; i < f.n; i++)
			if (f.dls[i].size > f.dls[big].size)
				big = i;
		long long size = f.dls[big].size;
		CHECK(size > 2);
		f.dls[big].size = -1;
		f.dls[big].max_size = size - 1;
		struct ssi_dl_opts o = { .jobs = 2, .timeout = 10 };
		struct ss_error err;
		CHECK(ssi_download_all(f.dls, f.n, &o, &err) == SS_OK);
		CHECK(f.dls[big].result == SS_FATAL);
		CHECK(strstr(f.dls[big].err.msg, "max_item_size") != NULL);
		CHECK(file_size(f.parts[big]) <= size - 1);
		f.dls[big].max_size = size;
		CHECK(ssi_download_all(&f.dls[big], 1, &o, &err) == SS_OK);
		CHECK(f.dls[big].result == SS_OK);
		CHECK(file_size(f.parts[big]) == size);
	}
	teardown(&f);
}

/* A feed over the fixture's transfers that counts what the engine holds. */
struct counting {
	struct fixture *f;
	size_t next, held, most, done, fail_after;
	int back[MAXI];
};

static int counting_next(void *ud, struct ssi_dl *dl)
{
	struct counting *c = ud;
	if (c->next == c->f->n)
		return 1;
	if (c->fail_after && c->next == c->fail_after)
		return -1;
	*dl = c->f->dls[c->next];
	dl->tag = c->next++;
	if (++c->held > c->most)
		c->most = c->held;
	return 0;
}

static void counting_done(void *ud, struct ssi_dl *dl)
{
	struct counting *c = ud;
	c->held--;
	c->done++;
	c->back[dl->tag]++;
	c->f->dls[dl->tag].result = dl->result;
}

/* Transfers are taken one at a time and handed back as they end: the
 * engine never holds more than JOBS of these local copies, which end at
 * once (over http, at most twice JOBS: those just ended wait until the
 * next requests are out; a million-item run holds a few, not a million);
 * each comes back exactly once. */
static void test_feed(void)
{
	struct fixture f;
	if (setup(&f) == 0) {
		struct counting c = { .f = &f };
		struct ssi_dl_feed feed = { .total = f.n, .next = counting_next, .done = counting_done, .ud = &c };
		struct ssi_dl_opts o = { .jobs = 2, .timeout = 10 };
		struct ss_error err;
		CHECK(ssi_download_feed(&feed, &o, &err) == SS_OK);
		CHECK(c.done == f.n);
		CHECK(c.held == 0);
		CHECK(c.most >= 1 && c.most <= 2);
		for (size_t i = 0; i < f.n; i++) {
			CHECK(c.back[i] == 1);
			CHECK(f.dls[i].result == SS_OK);
		}
		/* the feed runs out of memory: what it gave still comes back */
		struct counting d = { .f = &f, .fail_after = 3 };
		feed.ud = &d;
		CHECK(ssi_download_feed(&feed, &o, &err) == SS_FATAL);
		CHECK(strstr(err.msg, "out of memory") != NULL);
		CHECK(d.done == 3 && d.held == 0);
	}
	teardown(&f);
}

/* An O_DIRECT file takes whole blocks from aligned buffers; anything
 * else (a filesystem's EINVAL, a last piece of odd length) sends it back
 * through the page cache, and the bytes and hash are the same either way. */
static void test_direct(void)
{
	char dir[] = "/var/tmp/ss-direct-XXXXXX", path[64];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/f", dir);
	struct xfer x = { .fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0644) };
	int fl = fcntl(x.fd, F_GETFL);
	x.direct = x.fd >= 0 && fcntl(x.fd, F_SETFL, fl | O_DIRECT) == 0;
	if (!x.direct) {
		printf("  (O_DIRECT refused in /var/tmp: the direct writes are not checked)\n");
		close(x.fd);
		unlink(path);
		rmdir(dir);
		return;
	}
	x.h = ss_hasher_new(SS_HASH_SHA256);
	struct ss_hasher *ref = ss_hasher_new(SS_HASH_SHA256);
	char *buf = NULL;
	CHECK(posix_memalign((void **)&buf, DIRECT_ALIGN, WBUF_SIZE) == 0);
	for (size_t i = 0; i < WBUF_SIZE; i++)
		buf[i] = (char)(i * 7 + i / 4096);
	CHECK(ssi_dlw_write_hash(&x, buf, WBUF_SIZE) == 0);
	CHECK(x.direct == 1);                                /* a whole buffer */
	CHECK(ssi_dlw_write_hash(&x, buf + 1, 2 * DIRECT_ALIGN) == 0);
	CHECK(x.direct == 0);                                /* EINVAL: page cache */
	CHECK((fcntl(x.fd, F_GETFL) & O_DIRECT) == 0);
	CHECK(ssi_dlw_write_hash(&x, buf, 5000) == 0);      /* buffered from then on */
	ss_hasher_update(ref, buf, WBUF_SIZE);
	ss_hasher_update(ref, buf + 1, 2 * DIRECT_ALIGN);
	ss_hasher_update(ref, buf, 5000);
	/* a last piece of odd length leaves O_DIRECT before it is written */
	CHECK(fcntl(x.fd, F_SETFL, fcntl(x.fd, F_GETFL) | O_DIRECT) == 0);
	x.direct = 1;
	CHECK(lseek(x.fd, 0, SEEK_END) == (off_t)(WBUF_SIZE + 2 * DIRECT_ALIGN + 5000));
	CHECK(ssi_dlw_write_hash(&x, buf, 333) == 0);
	CHECK(x.direct == 0);
	ss_hasher_update(ref, buf, 333);
	struct ss_digest a, b;
	ss_hasher_final(x.h, &a);
	ss_hasher_final(ref, &b);
	CHECK(strcmp(a.sha256, b.sha256) == 0 && a.size == b.size);
	CHECK(file_size(path) == (long long)(WBUF_SIZE + 2 * DIRECT_ALIGN + 5000 + 333));
	/* what the file holds is what was written */
	struct ss_hasher *back = ss_hasher_new(SS_HASH_SHA256);
	struct ss_error err;
	CHECK(lseek(x.fd, 0, SEEK_SET) == 0);
	CHECK(ssi_hash_fd(x.fd, back, file_size(path), path, &err) == SS_OK);
	ss_hasher_final(back, &b);
	CHECK(strcmp(a.sha256, b.sha256) == 0 && a.size == b.size);
	ss_hasher_free(back);
	ss_hasher_free(ref);
	ss_hasher_free(x.h);
	free(buf);
	close(x.fd);
	unlink(path);
	rmdir(dir);
}

static void test_nothing(void)
{
	struct ssi_dl_opts o = { .jobs = 2 };
	struct ss_error err;
	CHECK(ssi_download_all(NULL, 0, &o, &err) == SS_OK);
}

static void test_rate(void)
{
	struct ssi_rate b;
	ssi_rate_init(&b, 0, 100.0);
	CHECK(ssi_rate_take(&b, 1 << 30) == 1); /* no cap */
	ssi_rate_init(&b, 1000, 100.0);
	CHECK(b.burst == 65536);                 /* at least one libcurl buffer */
	CHECK(ssi_rate_ready(&b));
	CHECK(ssi_rate_take(&b, 70000) == 1);    /* goes below zero once */
	CHECK(!ssi_rate_ready(&b));
	CHECK(ssi_rate_take(&b, 1) == 0);        /* then pauses */
	double at = ssi_rate_ready_at(&b, 100.0);
	CHECK(at > 104.4 && at < 104.5);         /* 4464 bytes owed at 1000/s */
	ssi_rate_refill(&b, 104.0);
	CHECK(!ssi_rate_ready(&b));
	ssi_rate_refill(&b, 105.0);
	CHECK(ssi_rate_ready(&b));
	ssi_rate_refill(&b, 10000.0);
	CHECK(b.tokens == b.burst);              /* capped */
	ssi_rate_init(&b, 10 * 1000 * 1000, 0);
	CHECK(b.burst == 1000 * 1000);           /* a tenth of a second */
}

/* A small body's transfer gets a receive buffer its size, in 16 KiB
 * steps; a large or unknown one 512 KiB. */
static void test_bufsize(void)
{
	CHECK(ssi_curl_bufsize(-1) == 512L * 1024);
	CHECK(ssi_curl_bufsize(0) == 16384);
	CHECK(ssi_curl_bufsize(200) == 16384);
	CHECK(ssi_curl_bufsize(16384) == 16384);
	CHECK(ssi_curl_bufsize(16385) == 32768);
	CHECK(ssi_curl_bufsize(7 * 16384 + 1) == 8 * 16384);
	CHECK(ssi_curl_bufsize(512L * 1024 - 1) == 512L * 1024);
	CHECK(ssi_curl_bufsize(512L * 1024) == 512L * 1024);
	CHECK(ssi_curl_bufsize(1LL << 40) == 512L * 1024);
}

TEST_MAIN(test_all_done, test_mismatch, test_missing, test_deadline, test_max_size, test_feed, test_direct,
	  test_nothing, test_rate, test_bufsize)
