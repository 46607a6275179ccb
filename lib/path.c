/* SPDX-License-Identifier: Apache-2.0 */
/* Tree-relative paths: the safety check every writer relies on, and joining. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int ss_path_check(const char *path, struct ss_error *err)
{
	if (!path || !*path)
		return ssi_err(err, SS_FATAL, "unsafe path '': empty");
	if (path[0] == '/')
		return ssi_err(err, SS_FATAL, "unsafe path '%s': absolute", path);
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if (*p == '\\')
			return ssi_err(err, SS_FATAL, "unsafe path '%s': backslash", path);
		if (*p < 0x20 || *p == 0x7f)
			return ssi_err(err, SS_FATAL, "unsafe path '%s': control character", path);
	}
	/* The tree's private directory (lock, state, temporary files,
	 * history) is ours alone: a document naming a file there could
	 * overwrite the state that later runs trust. */
	if (strncmp(path, SSI_PRIVATE_DIR, strlen(SSI_PRIVATE_DIR)) == 0 &&
	    (path[strlen(SSI_PRIVATE_DIR)] == '/' || path[strlen(SSI_PRIVATE_DIR)] == '\0'))
		return ssi_err(err, SS_FATAL, "unsafe path '%s': inside the tree's private directory '%s/'", path,
			       SSI_PRIVATE_DIR);
	const char *seg = path;
	for (;;) {
		size_t n = strcspn(seg, "/");
		if (n == 0)
			return ssi_err(err, SS_FATAL, "unsafe path '%s': empty segment", path);
		if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return ssi_err(err, SS_FATAL, "unsafe path '%s': '%.*s' segment", path,
				       (int)n, seg);
		if (!seg[n])
			break;
		seg += n + 1;
	}
	return SS_OK;
}

/* RFC 3986 unreserved characters, plus the sub-delims real trees put in
 * paths (':' in version names, '+', '~' in Debian-style versions). */
static int url_keep(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("-._~/:+@!$&'()*,;=", c) != NULL;
}

char *ss_join(const char *root, const char *path)
{
	int url = ss_is_url(root);
	size_t rl = strlen(root), pl = strlen(path);
	char *out = malloc(rl + 1 + 3 * pl + 1);
	if (!out)
		return NULL;
	memcpy(out, root, rl);
	char *o = out + rl;
	if (rl && root[rl - 1] != '/')
		*o++ = '/';
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if (!url || (url_keep(*p) && *p != 0)) {
			*o++ = (char)*p;
		} else {
			static const char hex[] = "0123456789ABCDEF";
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}
