/* SPDX-License-Identifier: Apache-2.0 */
/* Atomic writes: whole file or old file, parents created, no debris. */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sstream.h"
#include "harness.h"

static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	if (d)
		closedir(d);
	return n;
}

static void test_write(void)
{
	char dir[] = "/tmp/ss-atomic-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[256], sub[256];
	snprintf(path, sizeof(path), "%s/streams/v1/index.json", dir);
	snprintf(sub, sizeof(sub), "%s/streams/v1", dir);
	struct ss_error err;
	CHECK(ss_write_atomic(path, "one\n", 4, &err) == SS_OK);
	char *d;
	size_t n;
	CHECK(ss_fetch(path, 100, &d, &n, &err) == SS_OK && n == 4 && memcmp(d, "one\n", 4) == 0);
	free(d);
	CHECK(ss_write_atomic(path, "second\n", 7, &err) == SS_OK);
	CHECK(ss_fetch(path, 100, &d, &n, &err) == SS_OK && n == 7);
	free(d);
	CHECK(entries(sub) == 1); /* no temporary file left */
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);

	/* a directory that cannot be written: the old file stays */
	if (geteuid() != 0) {
		chmod(sub, 0555);
		CHECK(ss_write_atomic(path, "third\n", 6, &err) == SS_FATAL);
		CHECK(strstr(err.msg, path) != NULL);
		chmod(sub, 0755);
	}
	/* a parent that is a file */
	char bad[300];
	snprintf(bad, sizeof(bad), "%s/x", path);
	ss_error_clear(&err);
	CHECK(ss_write_atomic(bad, "x", 1, &err) == SS_FATAL && err.msg[0]);
	CHECK(ss_fetch(path, 100, &d, &n, &err) == SS_OK && n == 7);
	free(d);
	unlink(path);
	rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/streams", dir);
	rmdir(sub);
	rmdir(dir);
}

TEST_MAIN(test_write)
