/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP response headers (lib/fetch.c ssi_parse_header, lib/httphdr.c), as
 * libcurl hands them to a transfer's header callback: one line at a time,
 * exactly LEN bytes with no NUL after them.  The input is split into
 * lines, each passed in a buffer of its own length.  What is kept is
 * bounded and printable; a range start is a number or -1.
 */
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "curl_internal.h"
#include "internal.h"

static void printable(const char *s, size_t size)
{
	size_t n = strnlen(s, size);
	FUZZ_ASSERT(n < size);
	for (size_t i = 0; i < n; i++)
		FUZZ_ASSERT(s[i] >= 0x20 && s[i] <= 0x7e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The whole input as one line, for the Content-Range parser alone. */
	long long start = -7;
	int rc = ssi_http_content_range((const char *)data, size, &start);
	FUZZ_ASSERT(rc == 0 || rc == 1 || rc == -1);
	if (rc == 0)
		FUZZ_ASSERT(start == -7);
	else if (rc == -1)
		FUZZ_ASSERT(start == -1);
	else
		FUZZ_ASSERT(start >= 0 && size > 14 && strncasecmp((const char *)data, "content-range:", 14) == 0);

	struct ssi_header h;
	memset(&h, 0, sizeof(h));
	h.range_start = -1;
	const uint8_t *p = data, *end = data + size;
	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		char *line = malloc(len ? len : 1);
		FUZZ_ASSERT(line);
		memcpy(line, p, len);
		ssi_parse_header(line, len, &h);
		free(line);
		printable(h.etag, sizeof(h.etag));
		printable(h.last_modified, sizeof(h.last_modified));
		FUZZ_ASSERT(h.range_start >= -1);
		p += len;
	}
	return 0;
}
