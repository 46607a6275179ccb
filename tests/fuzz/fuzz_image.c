/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LXD image metadata (lib/image.c).  An input starting with 'T' is the
 * bytes of an image tarball (any compression), read through libarchive
 * from a scratch file; anything else is the text of a metadata.yaml.
 */
#include <string.h>

#include "fuzz.h"
#include "internal.h"

static void use(struct ss_image_meta *m)
{
	if (!m)
		return;
	const char *arch = ss_image_meta_architecture(m);
	FUZZ_ASSERT(arch && *arch);
	ss_image_meta_creation_date(m);
	ss_image_meta_expiry_date(m);
	ss_image_meta_property(m, "os");
	ss_image_meta_property(m, "release");
	ss_image_meta_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ss_error e;
	ss_error_clear(&e);
	if (size == 0 || data[0] != 'T') {
		struct ss_image_meta *m = ssi_image_meta_parse((const char *)data, size, "fuzz", 1, &e);
		if (!m)
			FUZZ_ASSERT(e.code == SS_FATAL && e.msg[0] && !strchr(e.msg, '\n'));
		use(m);
		return 0;
	}
	const char *dir = fuzz_tmpdir();
	char path[256];
	snprintf(path, sizeof(path), "%s/image.tar", dir);
	FUZZ_ASSERT(fuzz_write_file(dir, "image.tar", data + 1, size - 1) == 0);
	int unified = -1;
	use(ss_image_meta_read(path, &unified, &e));
	FUZZ_ASSERT(unified == 0 || unified == 1);
	ss_error_clear(&e);
	use(ss_image_meta_read(path, NULL, &e));
	ss_error_clear(&e);
	ss_image_root_kind(path, &e);
	return 0;
}
