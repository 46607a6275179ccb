/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Deltas between an LXD product's versions (FORMAT.md section 7): LXD
 * uses a squashfs.vcdiff to update a cached image cheaply.  Made by
 * xdelta3, whose output goes through our fd.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "publish_internal.h"

extern char **environ;

/* Runs xdelta3 to encode NEW against BASE onto the file OUT_FD; 0 on
 * success.  Its output goes through our fd: xdelta3 never opens a path in
 * the tree for writing. */
static int run_xdelta3(const char *base, const char *new_file, int out_fd)
{
	char *const argv[] = { "xdelta3", "-e", "-c", "-q", "-s", (char *)base, (char *)new_file, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	pid_t pid;
	int rc = posix_spawnp(&pid, "xdelta3", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -1;
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/*
 * A squashfs.vcdiff item from the product's previous version with a
 * squashfs (FORMAT.md section 7), added to ITEMS; LXD uses it to update a
 * cached image cheaply.  No xdelta3, no previous squashfs: no delta.
 */
int ssp_add_delta(const char *tree, json_t *versions, const char *version, json_t *items, const char *dir,
		  struct ss_error *err)
{
	json_t *root = json_object_get(items, "root.squashfs");
	const char *new_path = json_string_value(json_object_get(root, "path"));
	const char *base = NULL, *base_path = NULL, *vn;
	json_t *v;
	json_object_foreach(versions, vn, v) {
		if (strcmp(vn, version) >= 0 || (base && strcmp(vn, base) <= 0))
			continue;
		const char *p = json_string_value(json_object_get(json_object_get(json_object_get(v, "items"), "root.squashfs"), "path"));
		if (p) {
			base = vn;
			base_path = p;
		}
	}
	if (!new_path || !base)
		return SS_OK;
	if (ss_path_check(base_path, err) != SS_OK)
		return SS_FATAL;
	char rel[PATH_MAX], key[128], name[64] = "", tmp[PATH_MAX];
	snprintf(rel, sizeof(rel), "%s/delta-%s.vcdiff", dir, base);
	snprintf(key, sizeof(key), "root.%s.vcdiff", base); /* as images: names it */
	char *bf = ss_join(tree, base_path), *nf = ss_join(tree, new_path);
	int dfd = ssi_dir_open(tree, SSI_PRIVATE_DIR "/tmp", strlen(SSI_PRIVATE_DIR "/tmp"), 1, err);
	int fd = dfd >= 0 ? ssi_tmpfile_at(dfd, "delta.", name, sizeof(name)) : -1;
	snprintf(tmp, sizeof(tmp), SSI_PRIVATE_DIR "/tmp/%s", name);
	int rc = SS_OK;
	struct ss_error ue;
	if (dfd < 0) {
		rc = SS_FATAL;
	} else if (!bf || !nf || fd < 0) {
		rc = ssi_err_sys(err, SS_FATAL, fd < 0 ? errno : ENOMEM, "cannot make a delta in '%s'", tree);
	} else if (run_xdelta3(bf, nf, fd) != 0 || fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
		rc = ssi_err(err, SS_FATAL, "cannot make a delta from '%s' (is xdelta3 installed?)", base_path);
	}
	if (fd >= 0)
		close(fd);
	if (rc == SS_OK) {
		struct ss_digest d;
		char *full = ss_join(tree, tmp);
		if (!full)
			rc = ssi_err(err, SS_FATAL, "out of memory");
		else if ((rc = ss_hash_file(full, SS_HASH_SHA256, &d, err)) == SS_OK &&
			 (rc = ssi_safe_rename(tree, tmp, rel, err)) == SS_OK)
			json_object_set_new(items, key,
					    json_pack("{s:s, s:s, s:I, s:s, s:s}", "ftype", "squashfs.vcdiff", "path", rel,
						      "size", (json_int_t)d.size, "sha256", d.sha256, "delta_base", base));
		free(full);
	}
	if (rc != SS_OK && fd >= 0)
		ssi_safe_unlink(tree, tmp, 0, NULL, &ue);
	if (dfd >= 0)
		close(dfd);
	free(bf);
	free(nf);
	return rc;
}
