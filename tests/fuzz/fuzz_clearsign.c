/* SPDX-License-Identifier: Apache-2.0 */
/* Clearsigned bodies (lib/clearsign.c): extraction never reads outside
 * the input and the body is never longer than it. */
#include <string.h>

#include "fuzz.h"
#include "sstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	int signed_ = ss_is_clearsigned(s, size);
	char *body = NULL;
	size_t blen = 0;
	struct ss_error e;
	ss_error_clear(&e);
	int rc = ss_clearsign_body(s, size, &body, &blen, &e);
	if (rc == SS_OK) {
		FUZZ_ASSERT(body && blen <= size && body[blen] == '\0');
		FUZZ_ASSERT(signed_);
		/* A body holding another armor is taken apart the same way. */
		char *inner = NULL;
		size_t ilen;
		if (ss_clearsign_body(body, blen, &inner, &ilen, &e) == SS_OK)
			FUZZ_ASSERT(ilen <= blen);
		free(inner);
	} else {
		FUZZ_ASSERT(rc == SS_FATAL && e.msg[0]);
	}
	free(body);
	return 0;
}
