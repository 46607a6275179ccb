/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The LXD image fingerprint: the sha256 of the metadata tarball followed by
 * the root file (squashfs, rootfs tarball or disk), or of the unified
 * tarball alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

int ss_image_fingerprint(const char *meta, const char *root, char out[65], struct ss_error *err)
{
	struct ss_hasher *h = ss_hasher_new(SS_HASH_SHA256);
	if (!h)
		return ssi_err(err, SS_FATAL, "out of memory");
	int rc = SS_OK;
	const char *files[2] = { meta, root };
	for (int i = 0; i < 2 && rc == SS_OK && files[i]; i++) {
		int fd = open(files[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			rc = ssi_err_sys(err, SS_FATAL, errno, "cannot open '%s'", files[i]);
			break;
		}
		rc = ssi_hash_fd(fd, h, -1, files[i], err);
		close(fd);
	}
	if (rc == SS_OK) {
		struct ss_digest d;
		ss_hasher_final(h, &d);
		memcpy(out, d.sha256, 65);
	}
	ss_hasher_free(h);
	return rc;
}
