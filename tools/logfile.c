/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --log-file FILE (upstream's option): everything the tool writes to
 * standard error is appended to FILE as well.  Standard error becomes a
 * pipe read by a thread that copies each chunk to the old standard error
 * and to FILE; at exit the pipe is closed and the thread drained.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

static struct {
	int log_fd, err_fd;     /* FILE, and the standard error we replaced */
	pthread_t thread;
	int running;
} logtee;

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void *copy(void *arg)
{
	int in = *(int *)arg;
	char buf[4096];
	ssize_t n;
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		write_all(logtee.err_fd, buf, (size_t)n);
		write_all(logtee.log_fd, buf, (size_t)n);
	}
	close(in);
	return NULL;
}

static void tee_stop(void)
{
	if (!logtee.running)
		return;
	fflush(stderr);
	dup2(logtee.err_fd, 2); /* the pipe's last writer goes: the thread sees EOF */
	pthread_join(logtee.thread, NULL);
	close(logtee.log_fd);
	logtee.running = 0;
}

int tool_log_file(const char *file)
{
	static int pipe_in;
	int p[2];
	int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (pipe2(p, O_CLOEXEC) < 0 || (logtee.err_fd = fcntl(2, F_DUPFD_CLOEXEC, 3)) < 0) {
		close(fd);
		return -1;
	}
	logtee.log_fd = fd;
	pipe_in = p[0];
	fflush(stderr);
	if (dup2(p[1], 2) < 0 || pthread_create(&logtee.thread, NULL, copy, &pipe_in) != 0) {
		int e = errno;
		dup2(logtee.err_fd, 2);
		close(p[0]);
		close(p[1]);
		close(fd);
		errno = e;
		return -1;
	}
	close(p[1]);
	logtee.running = 1;
	atexit(tee_stop);
	return 0;
}
