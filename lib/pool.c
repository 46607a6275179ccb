/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The small shared mechanics of concurrency and retrying: one back-off
 * schedule for every retried request (fetch, download, S3) and one way to
 * run a worker function on N threads.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"

unsigned ssi_backoff_ms(int tries)
{
	unsigned ms = 500u << (tries < 5 ? (tries < 0 ? 0 : tries) : 5);
	return ms > 10000 ? 10000 : ms;
}

void ssi_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

int ssi_pool_run(int n, void *(*fn)(void *), void *arg)
{
	if (n < 1)
		n = 1;
	pthread_t *th = calloc((size_t)n, sizeof(*th));
	int started = 0;
	for (; th && started < n; started++)
		if (pthread_create(&th[started], NULL, fn, arg) != 0)
			break;
	if (started == 0)
		fn(arg); /* no thread to be had: this one does the work */
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	free(th);
	return started;
}
