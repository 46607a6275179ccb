/* SPDX-License-Identifier: Apache-2.0 */
/* Error reporting: every failure becomes one line in a caller-owned struct. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

void ss_error_clear(struct ss_error *err)
{
	if (!err)
		return;
	err->code = SS_OK;
	err->sys_errno = 0;
	err->http_status = 0;
	err->msg[0] = '\0';
}

static void set_msg(struct ss_error *err, const char *fmt, va_list ap)
{
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	/* One line, always: a newline in a server's message would break logs. */
	for (char *p = err->msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

int ssi_err(struct ss_error *err, int code, const char *fmt, ...)
{
	if (!err)
		return code;
	va_list ap;
	va_start(ap, fmt);
	set_msg(err, fmt, ap);
	va_end(ap);
	err->code = code;
	err->sys_errno = 0;
	return code;
}

int ssi_err_sys(struct ss_error *err, int code, int errnum, const char *fmt, ...)
{
	if (!err)
		return code;
	va_list ap;
	va_start(ap, fmt);
	set_msg(err, fmt, ap);
	va_end(ap);
	size_t n = strlen(err->msg);
	snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(errnum));
	err->code = code;
	err->sys_errno = errnum;
	return code;
}

char *ssi_printable(char *buf, size_t sz, const char *s, size_t n)
{
	size_t j = 0;
	for (size_t i = 0; s && i < n && s[i] && j + 1 < sz; i++)
		buf[j++] = (unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f ? '?' : s[i];
	if (sz)
		buf[j] = '\0';
	return buf;
}

char *ssi_strndup(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

double ssi_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
