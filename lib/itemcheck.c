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
	static const char *const keys[] = { "size", "sha256", "sha512", "md5", "path", "datatype" };
	static const struct {
		size_t len;
		const char *why;
	} hashes[] = { { 64, "sha256 is not 64 hex digits" },
		       { 128, "sha512 is not 128 hex digits" },
		       { 32, "md5 is not 32 hex digits" } };
	/* (every field in one pass: this is asked of every item a run plans) */
	char buf[6][SSI_ITEM_BUF];
	struct ssi_itemval v[6];
	ssi_item_gets(it, keys, 6, buf, v);
	if (v[0].text && v[0].num < 0)
		return "size is not a whole number of bytes";
	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++)
		if (v[1 + i].text && !hex_of_length(v[1 + i].text, hashes[i].len))
			return hashes[i].why;
	const char *path = v[4].str, *dt = v[5].str;
	struct ss_error pe;
	if (path && ss_path_check(path, &pe) != SS_OK)
		return "path is not a safe relative path";
	if (!path && dt && strcmp(dt, "image-downloads") == 0)
		return "an item of a download stream without a path";
	return NULL;
}
