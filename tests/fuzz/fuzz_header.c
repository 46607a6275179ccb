/*
 * HTTP response header lines (lib/httphdr.c), as libcurl hands them to
 * the transfer's header callback: exactly LEN bytes, no NUL after them.
 */
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	long long start = -7;
	int rc = ssi_http_content_range((const char *)data, size, &start);
	FUZZ_ASSERT(rc == 0 || rc == 1 || rc == -1);
	if (rc == 0)
		FUZZ_ASSERT(start == -7);
	else if (rc == -1)
		FUZZ_ASSERT(start == -1);
	else
		FUZZ_ASSERT(start >= 0 && size > 14 && strncasecmp((const char *)data, "content-range:", 14) == 0);
	return 0;
}
