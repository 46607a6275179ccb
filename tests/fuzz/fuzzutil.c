/* SPDX-License-Identifier: Apache-2.0 */
/* Scratch files for the fuzz targets that read from disk. */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "fuzz.h"

static char tmpdir[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level > 0)
		remove(path);
	return 0;
}

void fuzz_empty_dir(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void cleanup(void)
{
	fuzz_empty_dir(tmpdir);
	rmdir(tmpdir);
}

const char *fuzz_tmpdir(void)
{
	if (!tmpdir[0]) {
		const char *base = getenv("TMPDIR");
		snprintf(tmpdir, sizeof(tmpdir), "%s/ssfuzz.XXXXXX", base && strlen(base) < 40 ? base : "/tmp");
		FUZZ_ASSERT(mkdtemp(tmpdir));
		atexit(cleanup);
	}
	return tmpdir;
}

int fuzz_write_file(const char *dir, const char *rel, const void *data, size_t len)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s/%s", dir, rel) >= (int)sizeof(path))
		return -1;
	for (char *s = path + strlen(dir) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		int rc = mkdir(path, 0700);
		*s = '/';
		if (rc < 0 && errno != EEXIST)
			return -1;
	}
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t n = fwrite(data, 1, len, f);
	return fclose(f) == 0 && n == len ? 0 : -1;
}

int fuzz_write_products_tree(const char *dir, const uint8_t *data, size_t size)
{
	json_t *doc = json_loadb((const char *)data, size, 0, NULL), *names = json_array();
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(doc, "products"), k, v)
		json_array_append_new(names, json_string(k));
	json_t *idx = json_pack("{s:s, s:{s:{s:s, s:s, s:s, s:o}}}", "format", "index:1.0", "index", "images",
				"datatype", "image-downloads", "format", "products:1.0", "path",
				"streams/v1/images.json", "products", names);
	char *text = idx ? json_dumps(idx, 0) : NULL;
	json_decref(idx);
	json_decref(doc);
	int rc = text && fuzz_write_file(dir, "streams/v1/index.json", text, strlen(text)) == 0 &&
			 fuzz_write_file(dir, "streams/v1/images.json", data, size) == 0
		 ? 0
		 : -1;
	free(text);
	return rc;
}
