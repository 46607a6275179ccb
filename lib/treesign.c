/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A signed tree stays signed: the key is remembered in TREE/.sstream/config
 * (treeconf.c) and every later write signs with it, or refuses before it
 * changes anything when it cannot (no secret key, a locked agent).  A
 * signed view is dropped only on purpose (--unsign).  The commands that
 * write (sstream-publish, sstream-mirror) call these around their write.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "treeconf.h"
#include "treedocs.h"

#define SIGNED_INDEX "streams/v1/index.sjson"

int ss_tree_is_signed(const char *tree)
{
	char *file = ss_join(tree, SIGNED_INDEX);
	int has = file && access(file, F_OK) == 0;
	free(file);
	return has;
}

int ss_tree_signer(const char *tree, const char *given, int unsign, int flags, char **key,
		   struct ss_error *err)
{
	*key = NULL;
	if (given && unsign)
		return ssi_err(err, SS_USAGE, "--sign-key and --unsign together");
	char *remembered = NULL;
	int rc = ss_treeconf_get(tree, "sign-key", &remembered, err);
	if (rc != SS_OK || unsign) {
		free(remembered);
		return rc;
	}
	const char *want = given ? given : remembered;
	if (!want) {
		if ((flags & SS_SIGNER_REQUIRE) && ss_tree_is_signed(tree))
			rc = ssi_err(err, SS_FATAL,
				     "tree '%s' is signed (" SIGNED_INDEX ") but remembers no signing key: "
				     "give --sign-key ID once (it is remembered), or --unsign to drop the signed view",
				     tree);
		return rc;
	}
	struct ss_error e;
	if (ss_signing_key(want, key, &e) != SS_OK)
		rc = ssi_err(err, SS_FATAL, "cannot sign tree '%s' with key '%s'%s: %s; nothing changed "
			     "(--unsign drops the signed view and forgets the key)",
			     tree, want, given ? "" : " (remembered in " SSI_PRIVATE_DIR "/config)", e.msg);
	free(remembered);
	return rc;
}

int ss_tree_signer_save(const char *tree, const char *key, struct ss_error *err)
{
	return ss_treeconf_set(tree, "sign-key", key, err);
}

/* Removes TREE/REL when it is there; SS_FATAL for any other failure. */
static int drop(const char *tree, const char *rel, int *changed, struct ss_error *err)
{
	struct ss_error e;
	if (ssi_safe_unlink(tree, rel, 0, NULL, &e) == SS_OK) {
		if (changed)
			*changed = 1;
		return SS_OK;
	}
	if (e.sys_errno == ENOENT)
		return SS_OK;
	if (err)
		*err = e;
	return SS_FATAL;
}

int ss_tree_unsign(const char *tree, int *changed, struct ss_error *err)
{
	/* the signed index first: no reader is then led to a signed products
	 * file that is about to go */
	json_t *sidx = ssi_treedocs_view(tree, SIGNED_INDEX);
	int rc = drop(tree, SIGNED_INDEX, changed, err);
	const char *cid;
	json_t *e;
	json_object_foreach(json_object_get(sidx, "index"), cid, e) {
		const char *p = json_string_value(json_object_get(e, "path"));
		size_t n = p ? strlen(p) : 0;
		struct ss_error pe;
		if (rc == SS_OK && n > 6 && strcmp(p + n - 6, ".sjson") == 0 && ss_path_check(p, &pe) == SS_OK)
			rc = drop(tree, p, changed, err);
	}
	json_decref(sidx);
	/* and what else streams/v1/ holds signed (alternates a kill left) */
	char *dir = ss_join(tree, "streams/v1");
	DIR *d = dir && rc == SS_OK ? opendir(dir) : NULL;
	for (struct dirent *de; d && rc == SS_OK && (de = readdir(d));) {
		size_t n = strlen(de->d_name);
		char rel[512];
		if (n > 6 && strcmp(de->d_name + n - 6, ".sjson") == 0 &&
		    snprintf(rel, sizeof(rel), "streams/v1/%s", de->d_name) < (int)sizeof(rel))
			rc = drop(tree, rel, changed, err);
	}
	if (d)
		closedir(d);
	free(dir);
	if (rc == SS_OK)
		rc = ss_tree_signer_save(tree, NULL, err);
	return rc;
}
