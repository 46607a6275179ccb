/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rule of which fields an item must have and what they may hold,
 * written once: what one command accepts, the others accept too (an
 * import that wrote what verify rejects was the bug this prevents).
 */
#include <string.h>

#include "itemcheck.h"

/* Whether S is exactly N hex digits (either case). */
static int hex_of_length(const char *s, size_t n)
{
	return strspn(s, "0123456789abcdefABCDEF") == n && s[n] == '\0';
}

const char *ssi_item_problem(const struct ss_item *it)
{
	static const struct {
		const char *key;
		size_t len;
		const char *why;
	} hashes[] = { { "sha256", 64, "sha256 is not 64 hex digits" },
		       { "sha512", 128, "sha512 is not 128 hex digits" },
		       { "md5", 32, "md5 is not 32 hex digits" } };
	char buf[160];
	if (ss_item_get(it, "size", buf, sizeof(buf)) && ss_item_get_int(it, "size") < 0)
		return "size is not a whole number of bytes";
	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
		const char *h = ss_item_get(it, hashes[i].key, buf, sizeof(buf));
		if (h && !hex_of_length(h, hashes[i].len))
			return hashes[i].why;
	}
	const char *path = ss_item_str(it, "path"), *dt = ss_item_str(it, "datatype");
	struct ss_error pe;
	if (path && ss_path_check(path, &pe) != SS_OK)
		return "path is not a safe relative path";
	if (!path && dt && strcmp(dt, "image-downloads") == 0)
		return "an item of a download stream without a path";
	return NULL;
}
