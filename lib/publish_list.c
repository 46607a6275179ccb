/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Listing the images of a tree: a metadata item paired with each root
 * item, or a unified item.
 */
#include <stdio.h>
#include <string.h>

#include "model_internal.h"

/* The images of the items IT[0..N), one version's. */
static void list_version(const struct ss_item *its, size_t n,
			 void (*cb)(void *ud, const struct ss_image_info *), void *ud)
{
	json_t *prod = its[0].v->prod;
	/* The first root item of each type, in document order: a metadata
	 * item has one combined fingerprint per type, so a second root of a
	 * type would only repeat it (and pairing every metadata with every
	 * root is quadratic). */
	const struct ss_item *roots[SSI_LXD_NCOMBINED];
	const struct ssi_lxd_combined *kinds[SSI_LXD_NCOMBINED];
	size_t nroots = 0;
	for (size_t i = 0; i < n; i++) {
		const struct ssi_lxd_combined *c = ssi_lxd_combined_for(ssi_item_own_str(&its[i], "ftype"));
		size_t r = 0;
		while (c && r < nroots && kinds[r] != c)
			r++;
		if (c && r == nroots) {
			kinds[nroots] = c;
			roots[nroots++] = &its[i];
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct ss_item *it = &its[i];
		const char *ft = ssi_item_own_str(it, "ftype");
		long long msize = ssi_item_own_int(it, "size");
		struct ss_image_info info = {
			.product = it->v->pname,
			.version = it->v->vname,
			.aliases = json_string_value(json_object_get(prod, "aliases")),
			.os = json_string_value(json_object_get(prod, "os")),
			.release = json_string_value(json_object_get(prod, "release")),
			.release_title = json_string_value(json_object_get(prod, "release_title")),
			.variant = json_string_value(json_object_get(prod, "variant")),
			.arch = json_string_value(json_object_get(prod, "arch")),
			.type = "CONTAINER",
		};
		if (ft && strcmp(ft, "lxd_combined.tar.gz") == 0) {
			info.fingerprint = ssi_item_own_str(it, "sha256");
			info.size = msize;
			info.unified = 1;
			if (info.fingerprint)
				cb(ud, &info);
			continue;
		}
		if (!ft || strcmp(ft, "lxd.tar.xz") != 0)
			continue;
		/* one image per root item this metadata pairs with */
		for (size_t r = 0; r < nroots; r++) {
			info.fingerprint = ssi_item_own_str(it, kinds[r]->field);
			info.size = msize + ssi_item_own_int(roots[r], "size");
			info.type = kinds[r]->vm ? "VIRTUAL-MACHINE" : "CONTAINER";
			if (info.fingerprint)
				cb(ud, &info);
		}
	}
}

int ss_image_list(const struct ss_tree *t, void (*cb)(void *ud, const struct ss_image_info *), void *ud)
{
	for (size_t i = 0; i < ss_tree_nproducts(t); i++) {
		const struct ss_products *p = ss_tree_products(t, i);
		/* a version's items are together */
		for (size_t a = 0, b; a < p->nitems; a = b) {
			for (b = a + 1; b < p->nitems && p->items[b].v == p->items[a].v; b++)
				;
			list_version(&p->items[a], b - a, cb, ud);
		}
	}
	return SS_OK;
}
