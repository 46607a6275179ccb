/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The download engine's writer thread (see download_internal.h): the
 * transfer loop hands over filled buffers; this thread writes each to its
 * file and hashes it (unless the loop did), in order.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/vfs.h>

#include "download_internal.h"

/* Filesystems whose O_DIRECT writes go straight to a local disk.  On
 * others it is refused (tmpfs before Linux 6.6), gains nothing, or makes
 * every write a synchronous round trip (NFS, CIFS, FUSE): the page cache
 * serves them better. */
int ssi_dlw_direct_fs(int fd)
{
	struct statfs sf;
	if (fstatfs(fd, &sf) != 0)
		return 0;
	switch ((unsigned long)sf.f_type) {
	case EXT4_SUPER_MAGIC: /* (ext2 and ext3 share it) */
	case XFS_SUPER_MAGIC:
	case BTRFS_SUPER_MAGIC:
		return 1;
	default:
		return 0;
	}
}

int ssi_dlw_direct(struct xfer *x, int on)
{
	if (x->direct == on)
		return 0;
	int fl = fcntl(x->fd, F_GETFL);
	if (fl < 0 || fcntl(x->fd, F_SETFL, on ? fl | O_DIRECT : fl & ~O_DIRECT) < 0)
		return errno;
	x->direct = on;
	return 0;
}

/* Writes LEN bytes of BUF to X's file and hashes them (unless the loop
 * does: hash_in_loop); 0 or an errno.  An O_DIRECT file stays so while
 * every write is whole blocks from an aligned buffer at an aligned
 * offset: the writer's full buffers. */
int ssi_dlw_write_hash(struct xfer *x, const char *buf, size_t len)
{
	const char *p = buf;
	size_t left = len;
	int e = len % DIRECT_ALIGN ? ssi_dlw_direct(x, 0) : 0;
	while (left && !e) {
		ssize_t w = write(x->fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		/* a filesystem that took the flag but not the write, or a
		 * short write that left the offset unaligned */
		if (w < 0 && errno == EINVAL && x->direct) {
			e = ssi_dlw_direct(x, 0);
			continue;
		}
		if (w < 0)
			return errno;
		if ((size_t)w < left && x->direct)
			e = ssi_dlw_direct(x, 0);
		p += w;
		left -= (size_t)w;
	}
	if (e)
		return e;
	if (!x->hash_in_loop)
		ss_hasher_update(x->h, buf, len);
	return 0;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->n && !w->stop)
			pthread_cond_wait(&w->more, &w->mu);
		if (!w->n)
			break;
		struct job j = w->q[w->head];
		w->head = (w->head + 1) % QLEN;
		w->n--;
		int failed = j.x->werr;
		pthread_mutex_unlock(&w->mu);
		int e = failed ? 0 : ssi_dlw_write_hash(j.x, j.buf, j.len);
		pthread_mutex_lock(&w->mu);
		if (e)
			j.x->werr = e;
		w->spare[w->nspare++] = j.buf;
		j.x->pending--;
		pthread_cond_broadcast(&w->done);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* An empty buffer: a spare one, or a new one while under the cap. */
char *ssi_dlw_get_buf(struct writer *w)
{
	char *b = NULL;
	pthread_mutex_lock(&w->mu);
	while (!w->nspare && w->nbufs >= w->maxbufs && w->n)
		pthread_cond_wait(&w->done, &w->mu);
	if (w->nspare)
		b = w->spare[--w->nspare];
	else if (posix_memalign((void **)&b, DIRECT_ALIGN, WBUF_SIZE) == 0)
		w->nbufs++;
	else
		b = NULL;
	pthread_mutex_unlock(&w->mu);
	return b;
}

void ssi_dlw_put_buf(struct writer *w, char *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&w->mu);
	if (w->nspare < sizeof(w->spare) / sizeof(w->spare[0]))
		w->spare[w->nspare++] = b, b = NULL;
	else
		w->nbufs--;
	pthread_mutex_unlock(&w->mu);
	free(b);
}

static int write_failed(struct xfer *x, int e)
{
	x->dl->err.sys_errno = e;
	x->abort_why = ABORT_WRITE;
	return -1;
}

/* Hands X's filled buffer to the writer (or, when it cannot run, writes
 * it here) and gives X an empty one. */
int ssi_dlw_submit(struct xfer *x)
{
	struct writer *w = &x->eng->w;
	if (x->hash_in_loop)
		ss_hasher_update(x->h, x->wbuf, x->wlen);
	if (!w->started && pthread_create(&w->th, NULL, writer_main, w) == 0)
		w->started = 1;
	if (!w->started) {
		int e = ssi_dlw_write_hash(x, x->wbuf, x->wlen);
		x->wlen = 0;
		return e ? write_failed(x, e) : 0;
	}
	pthread_mutex_lock(&w->mu);
	while (w->n == QLEN)
		pthread_cond_wait(&w->done, &w->mu);
	int e = x->werr;
	if (!e) {
		w->q[(w->head + w->n++) % QLEN] = (struct job){ x, x->wbuf, x->wlen };
		x->pending++;
		x->wbuf = NULL;
		pthread_cond_signal(&w->more);
	}
	pthread_mutex_unlock(&w->mu);
	if (e)
		return write_failed(x, e);
	x->wlen = 0;
	if (!(x->wbuf = ssi_dlw_get_buf(w)))
		return write_failed(x, ENOMEM);
	return 0;
}

/* Waits until the writer has X's buffers on disk; -1 when a write failed. */
int ssi_dlw_drain(struct xfer *x)
{
	struct writer *w = &x->eng->w;
	pthread_mutex_lock(&w->mu);
	while (x->pending)
		pthread_cond_wait(&w->done, &w->mu);
	int e = x->werr;
	x->werr = 0;
	pthread_mutex_unlock(&w->mu);
	return e ? write_failed(x, e) : 0;
}

/* Everything received so far is written and hashed when this returns 0. */
int ssi_dlw_flush(struct xfer *x)
{
	/* a small last piece costs less written here than handed over */
	if (x->wlen > WBUF_SIZE / 4 && ssi_dlw_submit(x) < 0)
		return -1;
	if (ssi_dlw_drain(x) < 0)
		return -1;
	if (x->hash_in_loop && x->wlen)
		ss_hasher_update(x->h, x->wbuf, x->wlen);
	int e = x->wlen ? ssi_dlw_write_hash(x, x->wbuf, x->wlen) : 0;
	x->wlen = 0;
	return e ? write_failed(x, e) : 0;
}

void ssi_dlw_init(struct writer *w, size_t maxbufs)
{
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->more, NULL);
	pthread_cond_init(&w->done, NULL);
	w->maxbufs = maxbufs;
}

void ssi_dlw_stop(struct writer *w)
{
	if (w->started) {
		pthread_mutex_lock(&w->mu);
		w->stop = 1;
		pthread_cond_signal(&w->more);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->th, NULL);
	}
	for (size_t i = 0; i < w->nspare; i++)
		free(w->spare[i]);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->more);
	pthread_cond_destroy(&w->done);
}
