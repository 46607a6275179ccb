/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a filtered run manages: the products its filters select (an item
 * of the product matches, upstream or in TARGET).  Products of TARGET
 * outside that domain keep their files and their listing, so that runs
 * with different filters into one TARGET add up (MAAS's two documented
 * commands, upstream sstream-mirror's behaviour); --delete-excluded gives
 * the old meaning back.  A run whose filters select nothing anywhere
 * changes nothing: a typo must not empty a mirror.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mirror_internal.h"

static int product_key(char *buf, size_t sz, const struct ss_item *it)
{
	return snprintf(buf, sz, "%s\n%s", ss_item_content_id(it), ss_item_product(it)) < (int)sz;
}

/* Adds the (content id, product) of every item of T that F matches. */
static int add_domain(struct run *r, const struct ss_tree *t, struct ssi_strset *dom)
{
	char key[4096];
	for (size_t i = 0; i < ss_tree_nproducts(t); i++) {
		const struct ss_products *p = ss_tree_products(t, i);
		for (size_t j = 0; j < ss_products_count(p); j++) {
			const struct ss_item *it = ss_products_item(p, j);
			if (ss_filter_match(r->o->filter, it) && product_key(key, sizeof(key), it) &&
			    ssm_add(r, dom, key) != SS_OK)
				return SS_FATAL;
		}
	}
	return SS_OK;
}

/* "arch=amd46 release~x": the filters as written. */
static void filters_text(const struct ss_filter *f, char *buf, size_t sz)
{
	buf[0] = '\0';
	for (int i = 0; i < ss_filter_count(f); i++)
		snprintf(buf + strlen(buf), sz - strlen(buf), "%s%s", i ? " " : "", ss_filter_text(f, i));
}

static int tree_has_key(const struct ss_tree *t, const char *key)
{
	char buf[8];
	for (size_t i = 0; i < ss_tree_nproducts(t); i++) {
		const struct ss_products *p = ss_tree_products(t, i);
		for (size_t j = 0; j < ss_products_count(p); j++)
			if (ss_item_get(ss_products_item(p, j), key, buf, sizeof(buf)))
				return 1;
	}
	return 0;
}

/* The refusal of a selection that matches nothing, naming the filters and
 * any key no item of the source has. */
static int nothing_selected(struct run *r)
{
	char filt[1024], why[1400] = "";
	filters_text(r->o->filter, filt, sizeof(filt));
	static const char *const common[] = { "arch", "os", "release", "version", "variant", "ftype", "label",
					      "subarch", "kflavor", "release_title", "product_name", "version_name",
					      "item_name", "content_id", NULL };
	for (int i = 0; i < ss_filter_count(r->o->filter) && !why[0]; i++) {
		const char *k = ss_filter_key(r->o->filter, i);
		if (tree_has_key(r->src, k))
			continue;
		snprintf(why, sizeof(why), "; no product has '%s'; keys are", k);
		for (int c = 0, n = 0; common[c]; c++)
			if (tree_has_key(r->src, common[c]))
				snprintf(why + strlen(why), sizeof(why) - strlen(why), "%s %s", n++ ? "," : "", common[c]);
		snprintf(why + strlen(why), sizeof(why) - strlen(why), ", …");
	}
	return ssi_err(r->err, SS_FATAL, "the filters '%s' select nothing in '%s' or in '%s'%s: nothing changed", filt,
		       r->o->source, r->o->target, why);
}

int ssm_select_outside(struct run *r, const struct ss_item ***out, size_t *nout)
{
	*out = NULL;
	*nout = 0;
	if (ss_filter_count(r->o->filter) == 0)
		return SS_OK;
	struct ssi_strset dom = { 0 };
	int rc = add_domain(r, r->src, &dom);
	if (rc == SS_OK && r->old && r->old != r->src)
		rc = add_domain(r, r->old, &dom);
	if (rc == SS_OK && dom.n == 0)
		rc = nothing_selected(r);
	ssi_strset_seal(&dom);
	if (rc != SS_OK || !r->old || r->o->delete_excluded) {
		ssi_strset_free(&dom);
		return rc;
	}
	size_t total = 0;
	for (size_t i = 0; i < ss_tree_nproducts(r->old); i++)
		total += ss_products_count(ss_tree_products(r->old, i));
	const struct ss_item **v = calloc(total ? total : 1, sizeof(*v));
	if (!v) {
		ssi_strset_free(&dom);
		return ssm_oom(r);
	}
	char key[4096];
	for (size_t i = 0; i < ss_tree_nproducts(r->old); i++) {
		const struct ss_products *p = ss_tree_products(r->old, i);
		for (size_t j = 0; j < ss_products_count(p); j++) {
			const struct ss_item *it = ss_products_item(p, j);
			if (product_key(key, sizeof(key), it) && !ssi_strset_has(&dom, key))
				v[(*nout)++] = it;
		}
	}
	ssi_strset_free(&dom);
	*out = v;
	return SS_OK;
}
