/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hashing: one pass over the data feeds every hash a stream gives for an
 * item (sha256, sha512, md5), through OpenSSL's EVP (SHA-NI where the CPU
 * has it).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "internal.h"

struct ss_hasher {
	int kinds;
	long long size;
	EVP_MD_CTX *ctx[3]; /* sha256, sha512, md5 */
};

/* The digests, fetched from the provider once: EVP_sha256() and the like
 * make every EVP_DigestInit_ex fetch again (a lookup under a lock, per
 * item of a mirror). */
static EVP_MD *mds[3];
static pthread_once_t mds_once = PTHREAD_ONCE_INIT;

static void fetch_mds(void)
{
	static const char *const names[3] = { "SHA256", "SHA512", "MD5" };
	for (int i = 0; i < 3; i++)
		mds[i] = EVP_MD_fetch(NULL, names[i], NULL);
}

static const EVP_MD *md_of(int i)
{
	pthread_once(&mds_once, fetch_mds);
	if (mds[i])
		return mds[i];
	return i == 0 ? EVP_sha256() : i == 1 ? EVP_sha512() : EVP_md5();
}

void ssi_sha256(const void *data, size_t len, unsigned char out[32])
{
	if (!EVP_Digest(data, len, out, NULL, md_of(0), NULL))
		memset(out, 0, 32);
}

struct ss_hasher *ss_hasher_new(int kinds)
{
	struct ss_hasher *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->kinds = kinds;
	if (ss_hasher_reset(h) != SS_OK) {
		ss_hasher_free(h);
		return NULL;
	}
	return h;
}

int ss_hasher_reset(struct ss_hasher *h)
{
	h->size = 0;
	for (int i = 0; i < 3; i++) {
		if (!(h->kinds & (1 << i)))
			continue;
		if (!h->ctx[i] && !(h->ctx[i] = EVP_MD_CTX_new()))
			return SS_FATAL;
		if (!EVP_DigestInit_ex(h->ctx[i], md_of(i), NULL))
			return SS_FATAL;
	}
	return SS_OK;
}

void ss_hasher_update(struct ss_hasher *h, const void *data, size_t len)
{
	h->size += (long long)len;
	for (int i = 0; i < 3; i++)
		if (h->ctx[i] && (h->kinds & (1 << i)))
			EVP_DigestUpdate(h->ctx[i], data, len);
}

static void hex(const unsigned char *b, unsigned n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (unsigned i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

void ss_hasher_final(struct ss_hasher *h, struct ss_digest *out)
{
	memset(out, 0, sizeof(*out));
	out->size = h->size;
	out->kinds = h->kinds;
	char *dst[3] = { out->sha256, out->sha512, out->md5 };
	for (int i = 0; i < 3; i++) {
		if (!h->ctx[i] || !(h->kinds & (1 << i)))
			continue;
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned n = 0;
		EVP_DigestFinal_ex(h->ctx[i], md, &n);
		hex(md, n, dst[i]);
	}
}

void ss_hasher_free(struct ss_hasher *h)
{
	if (!h)
		return;
	for (int i = 0; i < 3; i++)
		EVP_MD_CTX_free(h->ctx[i]);
	free(h);
}

int ssi_read_fd(int fd, long long limit, const char *name, ssi_sink_fn sink, void *ctx, long long *done,
		struct ss_error *err)
{
	enum { BUFSZ = 1 << 20 };
	char *buf = malloc(BUFSZ);
	if (!buf)
		return ssi_err(err, SS_FATAL, "cannot read '%s': out of memory", name);
	long long got = 0;
	int rc = SS_OK;
	while (rc == SS_OK && (limit < 0 || got < limit)) {
		size_t want = BUFSZ;
		if (limit >= 0 && (long long)want > limit - got)
			want = (size_t)(limit - got);
		ssize_t n = read(fd, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = ssi_err_sys(err, SS_FATAL, errno, "cannot read '%s'", name);
		if (n <= 0)
			break;
		rc = sink(ctx, buf, (size_t)n);
		got += n;
	}
	free(buf);
	if (done)
		*done = got;
	return rc;
}

static int to_hasher(void *ctx, const void *buf, size_t len)
{
	ss_hasher_update(ctx, buf, len);
	return SS_OK;
}

int ssi_hash_fd(int fd, struct ss_hasher *h, long long limit, const char *name, struct ss_error *err)
{
	return ssi_read_fd(fd, limit, name, to_hasher, h, NULL, err);
}

int ss_hash_file(const char *path, int kinds, struct ss_digest *out, struct ss_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ssi_err_sys(err, SS_FATAL, errno, "cannot open '%s'", path);
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	struct ss_hasher *h = ss_hasher_new(kinds);
	int rc = h ? ssi_hash_fd(fd, h, -1, path, err) : ssi_err(err, SS_FATAL, "out of memory");
	if (rc == SS_OK)
		ss_hasher_final(h, out);
	ss_hasher_free(h);
	close(fd);
	return rc;
}

int ss_item_hash_kinds(const struct ss_item *it)
{
	char buf[8];
	int k = 0;
	if (ss_item_get(it, "sha256", buf, sizeof(buf)))
		k |= SS_HASH_SHA256;
	if (ss_item_get(it, "sha512", buf, sizeof(buf)))
		k |= SS_HASH_SHA512;
	if (ss_item_get(it, "md5", buf, sizeof(buf)))
		k |= SS_HASH_MD5;
	return k;
}

int ss_item_check(const struct ss_item *it, const struct ss_digest *d, struct ss_error *err)
{
	const char *path = ss_item_get(it, "path", (char[8]){ 0 }, 8);
	long long size = ss_item_get_int(it, "size");
	if (size >= 0 && size != d->size)
		return ssi_err(err, SS_INTEGRITY, "'%s': size %lld, expected %lld", path ? path : "",
			       d->size, size);
	static const char *const names[3] = { "sha256", "sha512", "md5" };
	const char *got[3] = { d->sha256, d->sha512, d->md5 };
	char buf[256];
	for (int i = 0; i < 3; i++) {
		const char *want = ss_item_get(it, names[i], buf, sizeof(buf));
		if (!want)
			continue;
		if (!(d->kinds & (1 << i)))
			return ssi_err(err, SS_FATAL, "'%s': %s not computed", path ? path : "", names[i]);
		if (strcasecmp(want, got[i]) != 0)
			return ssi_err(err, SS_INTEGRITY, "'%s': %s %s, expected %s", path ? path : "",
				       names[i], got[i], want);
	}
	return SS_OK;
}
