/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Removing images from a tree's streams (their files stay until a prune).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "publish_internal.h"

/* The fingerprint of a version's image: a combined field or a unified sha256. */
static const char *version_fp(json_t *items)
{
	const char *k;
	json_t *it;
	json_object_foreach(items, k, it) {
		const char *ft = json_string_value(json_object_get(it, "ftype"));
		if (ft && strstr(ft, "_combined."))
			return json_string_value(json_object_get(it, "sha256"));
		const struct ssi_lxd_combined *c;
		for (size_t i = 0; (c = ssi_lxd_combined_at(i)); i++)
			if (json_is_string(json_object_get(it, c->field)))
				return json_string_value(json_object_get(it, c->field));
	}
	return NULL;
}

/* Whether version VER of a product carrying ALIASES is what WHAT names:
 * one of the aliases, or a prefix (4 characters at least) of the image's
 * fingerprint. */
static int names(const char *what, const char *aliases, json_t *ver)
{
	const char *fp = version_fp(json_object_get(ver, "items"));
	return ssi_list_has(aliases, what) || (fp && strlen(what) >= 4 && strncmp(fp, what, strlen(what)) == 0);
}

/* Drops from PRODUCTS the versions WHAT names, counted in *REMOVED, and
 * products left without a version.  Without ALL, nothing is dropped and
 * SS_USAGE returned when that would be more than one version. */
static int drop(json_t *products, const char *what, int all, int *removed, struct ss_error *err)
{
	json_t *prods = json_object_get(products, "products"), *prod, *ver;
	const char *pn, *vn, *first = NULL;
	void *tmp, *tmp2;
	int nprod = 0;
	json_object_foreach(prods, pn, prod) {
		const char *aliases = json_string_value(json_object_get(prod, "aliases"));
		int before = *removed;
		json_object_foreach(json_object_get(prod, "versions"), vn, ver)
			*removed += names(what, aliases, ver);
		if (*removed > before && !nprod++)
			first = pn;
	}
	if (*removed > 1 && !all) {
		int n = *removed;
		*removed = 0;
		if (nprod > 1)
			return ssi_err(err, SS_USAGE,
				       "'%s' names %d versions of %d products ('%s' and others): name one fully (its fingerprint) or pass --all-versions",
				       what, n, nprod, first);
		return ssi_err(err, SS_USAGE,
			       "'%s' names %d versions of product '%s': name one fully (its fingerprint) or pass --all-versions",
			       what, n, first);
	}
	json_object_foreach_safe(prods, tmp, pn, prod) {
		const char *aliases = json_string_value(json_object_get(prod, "aliases"));
		json_t *versions = json_object_get(prod, "versions");
		json_object_foreach_safe(versions, tmp2, vn, ver)
			if (names(what, aliases, ver))
				json_object_del(versions, vn);
		if (json_object_size(versions) == 0)
			json_object_del(prods, pn);
	}
	return SS_OK;
}

int ss_publish_remove(const char *tree, const char *what, const struct ss_publish_opts *po, int *removed,
		      struct ss_error *err)
{
	struct ss_error local;
	po = ssp_begin(po, &err, &local);
	*removed = 0;
	int lock_fd = -1, changed = 0, rc = SS_OK;
	/* a dry run takes no lock: it would create .sstream/ */
	if (!po->dry_run)
		rc = ssi_treelock_take(tree, SSI_TL_KEEP_NONE, &lock_fd, err);
	json_t *products = rc == SS_OK ? ssp_load_products(tree, err) : NULL;
	if (!products)
		rc = rc != SS_OK ? rc : (err->code ? err->code : SS_FATAL);
	else
		rc = drop(products, what, po->all_versions, removed, err);
	/* Written even when nothing matched: a run killed in the middle of a
	 * switch (an index naming an alternate) is finished; otherwise this
	 * writes nothing. */
	json_t *view = rc != SS_OK || *removed ? NULL : ssi_treedocs_view(tree, "streams/v1/index.json");
	if (rc == SS_OK && (*removed || view))
		rc = ssp_write_streams(po, tree, products, &changed, err);
	json_decref(view);
	if (rc == SS_OK && *removed == 0)
		rc = ssi_err(err, SS_FATAL, "'%s': no image has this fingerprint or alias", what);
	rc = ssp_page(po, tree, products, rc, changed, err);
	json_decref(products);
	if (lock_fd >= 0)
		close(lock_fd);
	return rc;
}
