/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Listing the images of a tree: a metadata item paired with each root
 * item, or a unified item.
 */
#include <stdio.h>
#include <string.h>

#include "model_internal.h"

/* The images of version VN (VER) of product PN (PROD). */
static void list_version(const char *pn, json_t *prod, const char *vn, json_t *ver,
			 void (*cb)(void *ud, const struct ss_image_info *), void *ud)
{
	json_t *items = json_object_get(ver, "items"), *it;
	const char *k;
	/* The first root item of each type, in document order: a metadata
	 * item has one combined fingerprint per type, so a second root of a
	 * type would only repeat it (and pairing every metadata with every
	 * root is quadratic). */
	json_t *roots[SSI_LXD_NCOMBINED];
	const struct ssi_lxd_combined *kinds[SSI_LXD_NCOMBINED];
	size_t nroots = 0;
	json_object_foreach(items, k, it) {
		const struct ssi_lxd_combined *c = ssi_lxd_combined_for(json_string_value(json_object_get(it, "ftype")));
		size_t r = 0;
		while (c && r < nroots && kinds[r] != c)
			r++;
		if (c && r == nroots) {
			kinds[nroots] = c;
			roots[nroots++] = it;
		}
	}
	json_object_foreach(items, k, it) {
		const char *ft = json_string_value(json_object_get(it, "ftype"));
		long long msize = json_integer_value(json_object_get(it, "size"));
		struct ss_image_info info = {
			.product = pn,
			.version = vn,
			.aliases = json_string_value(json_object_get(prod, "aliases")),
			.os = json_string_value(json_object_get(prod, "os")),
			.release = json_string_value(json_object_get(prod, "release")),
			.release_title = json_string_value(json_object_get(prod, "release_title")),
			.variant = json_string_value(json_object_get(prod, "variant")),
			.arch = json_string_value(json_object_get(prod, "arch")),
			.type = "CONTAINER",
		};
		if (ft && strcmp(ft, "lxd_combined.tar.gz") == 0) {
			info.fingerprint = json_string_value(json_object_get(it, "sha256"));
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
			info.fingerprint = json_string_value(json_object_get(it, kinds[r]->field));
			info.size = msize + json_integer_value(json_object_get(roots[r], "size"));
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
		const char *pn, *vn;
		json_t *prod, *ver;
		json_object_foreach(json_object_get(p->root, "products"), pn, prod)
			json_object_foreach(json_object_get(prod, "versions"), vn, ver)
				list_version(pn, prod, vn, ver, cb, ud);
	}
	return SS_OK;
}
