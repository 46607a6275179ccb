/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The download engine's --limit-rate: one token bucket for all transfers
 * together (see download_internal.h).
 */
#include "download_internal.h"

void ssi_rate_init(struct ssi_rate *b, long long limit, double now)
{
	b->rate = (double)limit;
	b->refilled = now;
	/* a tenth of a second's worth, and at least one libcurl buffer */
	b->burst = b->tokens = b->rate / 10 > 65536 ? b->rate / 10 : 65536;
}

void ssi_rate_refill(struct ssi_rate *b, double now)
{
	if (b->rate <= 0)
		return;
	b->tokens += (now - b->refilled) * b->rate;
	if (b->tokens > b->burst)
		b->tokens = b->burst;
	b->refilled = now;
}

int ssi_rate_take(struct ssi_rate *b, size_t len)
{
	if (b->rate <= 0)
		return 1;
	if (b->tokens <= 0)
		return 0;
	b->tokens -= (double)len;
	return 1;
}

int ssi_rate_ready(const struct ssi_rate *b)
{
	return b->tokens > 0;
}

double ssi_rate_ready_at(const struct ssi_rate *b, double now)
{
	if (b->rate <= 0)
		return now;
	return now + (b->tokens < 0 ? -b->tokens : 0) / b->rate + 0.001;
}
