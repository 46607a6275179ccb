/* SPDX-License-Identifier: Apache-2.0 */
/* Import-by-URL snippets: which image each alias names, what is left out,
 * where the snippet goes and how a change of the streams rewrites it. */
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

#include "sstream.h"
#include "harness.h"

#define FP(c) #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c \
	      #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c

static const char index_json[] =
	"{\"format\": \"index:1.0\", \"index\": {\"images\": {\"datatype\": \"image-downloads\", "
	"\"format\": \"products:1.0\", \"path\": \"streams/v1/images.json\", "
	"\"products\": [\"a:1:amd64:default\", \"a:1:arm64:default\", \"s:1:amd64:default\"]}}}";

static const char unified_v[] =
	"\"%s\": {\"items\": {\"lxd_combined.tar.gz\": {\"ftype\": \"lxd_combined.tar.gz\", "
	"\"path\": \"images/%s/image.tar.gz\", \"sha256\": \"%s\", \"size\": 5}}}";

static int write_tree(const char *dir, int with_newest)
{
	char path[512], v1[600], v2[600], v3[600];
	snprintf(v1, sizeof(v1), unified_v, "20261101_0000", FP(1), FP(1));
	snprintf(v2, sizeof(v2), unified_v, "20261102_0000", FP(2), FP(2));
	snprintf(v3, sizeof(v3), unified_v, "20261101_0000", FP(3), FP(3));
	snprintf(path, sizeof(path), "%s/streams/v1", dir);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
	if (system(cmd) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/streams/v1/index.json", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(index_json, f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/streams/v1/images.json", dir);
	if (!(f = fopen(path, "w")))
		return -1;
	fprintf(f,
		"{\"format\": \"products:1.0\", \"content_id\": \"images\", \"datatype\": \"image-downloads\", "
		"\"products\": {"
		"\"a:1:amd64:default\": {\"arch\": \"amd64\", \"aliases\": \"a/1/default,a/1,bad alias\", "
		"\"versions\": {%s%s%s}},"
		"\"a:1:arm64:default\": {\"arch\": \"arm64\", \"aliases\": \"a/1/default,a/1\", \"versions\": {%s}},"
		"\"s:1:amd64:default\": {\"arch\": \"amd64\", \"aliases\": \"s/1\", \"versions\": {\"20261101_0000\": "
		"{\"items\": {\"lxd.tar.xz\": {\"ftype\": \"lxd.tar.xz\", \"path\": \"images/x/lxd.tar.xz\", "
		"\"sha256\": \"%s\", \"size\": 1, \"combined_squashfs_sha256\": \"%s\"}, "
		"\"root.squashfs\": {\"ftype\": \"squashfs\", \"path\": \"images/x/rootfs.squashfs\", "
		"\"sha256\": \"%s\", \"size\": 1}}}}}}}",
		v1, with_newest ? ", " : "", with_newest ? v2 : "", v3, FP(4), FP(5), FP(6));
	fclose(f);
	return 0;
}

struct heard {
	int nounified, unsafe;
};

static void on_alias(void *ud, const char *alias, const char *why)
{
	struct heard *h = ud;
	if (strcmp(alias, "alias 's/1'") == 0 && strstr(why, "no unified image"))
		h->nounified++;
	if (strcmp(alias, "alias 'bad alias'") == 0 && strstr(why, "not served"))
		h->unsafe++;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = calloc(1, 1 << 20);
	if (buf)
		fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	return buf;
}

static void test_snippets(void)
{
	char dir[] = "/tmp/sswebconf.XXXXXX", file[256], cmd[300];
	if (!mkdtemp(dir) || write_tree(dir, 1) < 0) {
		CHECK(0);
		return;
	}
	struct ss_error err;
	struct heard h = { 0, 0 };
	char *text = NULL, *kept, *dry = NULL;
	/* the dry run's text: the same snippet, the same news, nothing written */
	CHECK(ss_webconf_text(dir, "https://h.example/p/", "nginx", &dry, on_alias, &h, &err) == SS_OK);
	CHECK(h.nounified == 1 && h.unsafe == 1);
	snprintf(file, sizeof(file), "%s/.sstream", dir);
	CHECK(access(file, F_OK) != 0);
	CHECK(ss_webconf_text(dir, "ftp://h", "nginx", &kept, NULL, NULL, &err) == SS_USAGE && !kept);
	CHECK(ss_webconf_text(dir, "https://h", "lighttpd", &kept, NULL, NULL, &err) == SS_USAGE && !kept);
	h.nounified = h.unsafe = 0;
	CHECK(ss_webconf_write(dir, "https://h.example/p/", "nginx", &text, on_alias, &h, &err) == SS_OK);
	CHECK(text != NULL);
	CHECK(h.nounified == 1 && h.unsafe == 1);
	CHECK(dry && text && strcmp(dry, text) == 0);
	free(dry);
	snprintf(file, sizeof(file), "%s/.sstream/import-nginx.conf", dir);
	CHECK((kept = slurp(file)) != NULL && text && strcmp(kept, text) == 0);
	free(kept);
	if (text) {
		CHECK(strstr(text, "location = /p/import/a/1 {") != NULL);
		CHECK(strstr(text, "location = /p/import/a/1/default {") != NULL);
		CHECK(strstr(text, "location = /p/import/" FP(1) " {") != NULL); /* every unified image */
		CHECK(strstr(text, "bad alias") == NULL);
		CHECK(strstr(text, "no unified image, and only a unified image can be imported by URL") != NULL);
		/* a/1 names the newest amd64 version first, for a client listing x86_64 first */
		const char *a1 = strstr(text, "location = /p/import/a/1 {");
		const char *first = a1 ? strstr(a1, "~* \"^ *(x86_64|amd64) *(,|$)\") {") : NULL;
		CHECK(first && strstr(first, "LXD-Image-Hash " FP(2)) &&
		      strstr(first, "LXD-Image-Hash " FP(2)) < strstr(first, "}"));
		CHECK(strstr(text, "\"https://h.example/p/images/" FP(2) "/image.tar.gz\"") != NULL);
		CHECK(a1 && strstr(a1, "(aarch64|arm64)") != NULL);
		CHECK(strstr(text, "map ") == NULL);
	}
	free(text);
	char *base = ss_webconf_base_url(dir);
	CHECK_STR(base, "https://h.example/p/");
	free(base);

	CHECK(ss_webconf_write(dir, "https://h.example/p", "apache", &text, NULL, NULL, &err) == SS_OK);
	CHECK(text && strstr(text, "RewriteRule \"^/p/import/a/1$\"") != NULL);
	CHECK(text && strstr(text, "<LocationMatch \"^/p/import/a/1/default$\">") != NULL);
	free(text);

	/* a change of the streams: both snippets rewritten */
	CHECK(write_tree(dir, 0) == 0);
	CHECK(ss_webconf_refresh(dir, &err) == SS_OK);
	CHECK((kept = slurp(file)) != NULL && !strstr(kept, FP(2)) && strstr(kept, "LXD-Image-Hash " FP(1)));
	free(kept);
	snprintf(file, sizeof(file), "%s/.sstream/import-apache.conf", dir);
	CHECK((kept = slurp(file)) != NULL && !strstr(kept, FP(2)) && strstr(kept, FP(1)));
	free(kept);

	CHECK(ss_webconf_write(dir, "https://h", "lighttpd", NULL, NULL, NULL, &err) == SS_USAGE);
	CHECK(ss_webconf_write(dir, "ftp://h", "nginx", NULL, NULL, NULL, &err) == SS_USAGE);
	CHECK(ss_webconf_write(dir, "https://h/\"x", "nginx", NULL, NULL, NULL, &err) == SS_USAGE);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);

	/* a tree webconf never saw: nothing to rewrite */
	CHECK(ss_webconf_refresh("/nonexistent-tree", &err) == SS_OK);
}

/* A condensed tree (as import writes it): arch and ftype inherited from
 * the top of the document, not repeated on each product and item. */
static void test_condensed(void)
{
	char dir[] = "/tmp/sswebconf.XXXXXX", path[256], cmd[300];
	if (!mkdtemp(dir)) {
		CHECK(0);
		return;
	}
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/streams/v1'", dir);
	CHECK(system(cmd) == 0);
	snprintf(path, sizeof(path), "%s/streams/v1/index.json", dir);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs("{\"format\": \"index:1.0\", \"index\": {\"images\": {\"datatype\": \"image-downloads\", "
		      "\"format\": \"products:1.0\", \"path\": \"streams/v1/images.json\", "
		      "\"products\": [\"c:1:amd64:default\"]}}}", f);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/streams/v1/images.json", dir);
	if ((f = fopen(path, "w"))) {
		fprintf(f, "{\"format\": \"products:1.0\", \"content_id\": \"images\", \"datatype\": \"image-downloads\", "
			   "\"arch\": \"amd64\", \"ftype\": \"lxd_combined.tar.gz\", \"products\": {"
			   "\"c:1:amd64:default\": {\"aliases\": \"c/1\", \"versions\": {\"20261101_0000\": {\"items\": "
			   "{\"u\": {\"path\": \"images/%s/image.tar.gz\", \"sha256\": \"%s\", \"size\": 5}}}}}}}",
			FP(7), FP(7));
		fclose(f);
	}
	struct ss_error err;
	char *text = NULL;
	CHECK(ss_webconf_write(dir, "https://h.example", "nginx", &text, NULL, NULL, &err) == SS_OK);
	CHECK(text && strstr(text, "location = /import/c/1 {") && strstr(text, "LXD-Image-Hash " FP(7)));
	CHECK(text && !strstr(text, "has no unified image"));
	free(text);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

TEST_MAIN(test_snippets, test_condensed)
