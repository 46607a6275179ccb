/* SPDX-License-Identifier: Apache-2.0 */
/* Selecting items: filter, order (newest version first) and keep the newest N. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int ss_version_cmp(const char *a, const char *b)
{
	/* strcmp compares as unsigned char: exactly a byte-string order. */
	int c = strcmp(a, b);
	return (c > 0) - (c < 0);
}

static int item_order(const void *pa, const void *pb)
{
	const struct ss_item *a = *(const struct ss_item *const *)pa;
	const struct ss_item *b = *(const struct ss_item *const *)pb;
	int c = strcmp(ss_item_content_id(a), ss_item_content_id(b));
	if (!c)
		c = strcmp(ss_item_product(a), ss_item_product(b));
	if (!c)
		c = ss_version_cmp(ss_item_version(b), ss_item_version(a));
	if (!c)
		c = strcmp(ss_item_name(a), ss_item_name(b));
	return c;
}

int ss_select(const struct ss_tree *t, const struct ss_filter *f, int max,
	      struct ss_selection *sel, struct ss_error *err)
{
	size_t total = 0;
	for (size_t i = 0; i < ss_tree_nproducts(t); i++)
		total += ss_products_count(ss_tree_products(t, i));
	sel->count = 0;
	sel->items = malloc((total ? total : 1) * sizeof(*sel->items));
	if (!sel->items)
		return ssi_err(err, SS_FATAL, "out of memory");
	for (size_t i = 0; i < ss_tree_nproducts(t); i++) {
		const struct ss_products *p = ss_tree_products(t, i);
		for (size_t j = 0; j < ss_products_count(p); j++) {
			const struct ss_item *it = ss_products_item(p, j);
			if (ss_filter_match(f, it))
				sel->items[sel->count++] = it;
		}
	}
	qsort(sel->items, sel->count, sizeof(*sel->items), item_order);
	if (max <= 0)
		return SS_OK;
	/* Sorted newest first within a product: keep items of the first MAX
	 * distinct versions of each (content id, product). */
	size_t out = 0;
	int rank = 0;
	for (size_t i = 0; i < sel->count; i++) {
		const struct ss_item *it = sel->items[i], *prev = i ? sel->items[i - 1] : NULL;
		int same_product = prev && strcmp(ss_item_content_id(prev), ss_item_content_id(it)) == 0 &&
				   strcmp(ss_item_product(prev), ss_item_product(it)) == 0;
		if (!same_product)
			rank = 1;
		else if (strcmp(ss_item_version(prev), ss_item_version(it)) != 0)
			rank++;
		if (rank <= max)
			sel->items[out++] = it;
	}
	sel->count = out;
	return SS_OK;
}

void ss_selection_free(struct ss_selection *sel)
{
	if (!sel)
		return;
	free(sel->items);
	sel->items = NULL;
	sel->count = 0;
}
