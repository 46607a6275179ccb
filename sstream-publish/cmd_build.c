/* SPDX-License-Identifier: Apache-2.0 */
/* sstream-publish build: pack a root file system and metadata.yaml into an image. */
#include <stdio.h>
#include <string.h>

#include "publish.h"

static const struct tool_cmd build_cmd = {
	"sstream-publish", "build",
	"usage: sstream-publish build ROOTFS_DIR --metadata FILE -o OUTDIR [OPTIONS]\n",
	"Pack ROOTFS_DIR and metadata.yaml, reproducibly, into a split image\n"
	"(meta.tar.* + rootfs.tar.*, or rootfs.squashfs with --rootfs squashfs)\n"
	"or a unified one (image.tar.*); prints the fingerprint.\n",
	"See sstream-publish(1).\n",
};

int cmd_build(int argc, char **argv, struct publish_run *r)
{
	struct ss_build_opts bo = { 0 };
	long long level = 0;
	const char *rootfs = "tar";
	const struct tool_opt opts[] = {
		{ "metadata", 0, TOOL_OPT_STRING, &bo.metadata, "FILE", "the image's metadata.yaml", 0, 0, 0, NULL,
		  NULL },
		{ "output", 'o', TOOL_OPT_STRING, &bo.outdir, "OUTDIR", "where the image files go", 0, 0, 0, NULL,
		  NULL },
		{ "templates", 0, TOOL_OPT_STRING, &bo.templates, "DIR", "the image's templates", 0, 0, 0, NULL,
		  NULL },
		{ "unified", 0, TOOL_OPT_FLAG, &bo.unified, NULL, "one image.tar.* (default: split)", 0, 0, 1, NULL,
		  NULL },
		{ "split", 0, TOOL_OPT_FLAG, &bo.unified, NULL, "metadata and root file apart (the default)", 0, 0,
		  -1, NULL, NULL },
		{ "compression", 0, TOOL_OPT_STRING, &bo.compression, "ALGO", "xz, zstd, gzip or none", 0, 0, 0,
		  "xz|zstd|gzip|none", NULL },
		{ "level", 0, TOOL_OPT_NUMBER, &level, "N", "the compression level (1 to 22)", 1, 22, 0, NULL, NULL },
		{ "keep-owners", 0, TOOL_OPT_FLAG, &bo.keep_owners, NULL, "keep the files' owners (default: root)",
		  0, 0, 0, NULL, NULL },
		{ "rootfs", 0, TOOL_OPT_STRING, &rootfs, "KIND", "tar or squashfs", 0, 0, 0, "tar|squashfs", NULL },
		PUBLISH_OPT_QUIET(r),
		TOOL_OPT_STD,
		TOOL_OPT_ENDING,
	};
	int npos = tool_parse(&build_cmd, opts, argc, argv);
	if (npos != 1)
		tool_usage_error(&build_cmd, "one ROOTFS_DIR");
	if (!bo.metadata || !bo.outdir)
		tool_usage_error(&build_cmd, "build needs --metadata FILE and -o OUTDIR");
	bo.unified = bo.unified > 0;
	bo.level = (int)level;
	bo.squashfs = strcmp(rootfs, "squashfs") == 0;
	bo.rootfs = argv[1];
	char meta[4096], root[4096], fp[65];
	int rc = ss_image_build(&bo, meta, root, sizeof(meta), fp, &r->err);
	if (rc == SS_OK && !r->quiet)
		printf("%s  %s%s%s\n", fp, meta, root[0] ? " " : "", root);
	return rc;
}
