/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the publish files (prefix ssp_): the LXD products file, its
 * index, and the options' defaults.  Publish sits on treelock and
 * treedocs; it never calls history or the mirror. */
#ifndef SSTREAM_PUBLISH_INTERNAL_H
#define SSTREAM_PUBLISH_INTERNAL_H

#include "treedocs.h"
#include "treelock.h"
#include "ledger.h"

/* The defaults (NULL options): all off. */
extern const struct ss_publish_opts ssp_no_opts;

/* The start of a publish call: *ERR pointed at LOCAL when NULL, and
 * cleared; the options, the defaults when PO is NULL. */
const struct ss_publish_opts *ssp_begin(const struct ss_publish_opts *po, struct ss_error **err,
					struct ss_error *local);

/* Whether an item of PRODUCTS names the file PATH (with this SHA256,
 * when not NULL). */
int ssp_names_file(json_t *products, const char *path, const char *sha256);

/* The products file readers see now (streams/v1/images.json or the
 * alternate a switch under way names), a new reference; an empty one
 * when there is none; NULL with ERR when it cannot be read or parsed. */
json_t *ssp_load_products(const char *tree, struct ss_error *err);

/* The product names of a products document, sorted (an index lists them
 * in the same order whatever order the products were added in): a new
 * reference, NULL when out of memory. */
json_t *ssp_product_names(json_t *doc);

/* At the end of an operation that wrote PRODUCTS (RC, CHANGED): the
 * catalogue page from them when PO asks for it.  Returns RC, or
 * SS_PARTIAL (ERR) when an SS_OK change's page was not written. */
int ssp_page(const struct ss_publish_opts *po, const char *tree, json_t *products, int rc, int changed,
	     struct ss_error *err);

/* Writes PRODUCTS as streams/v1/images.json, then the index naming it;
 * *CHANGED set when anything was written.  SS_OK or SS_FATAL. */
int ssp_write_streams(const struct ss_publish_opts *po, const char *tree, json_t *products, int *changed,
		      struct ss_error *err);

/* A squashfs.vcdiff item from the product's previous version (in
 * VERSIONS, before VERSION) with a squashfs, added to ITEMS; its file in
 * DIR.  No previous squashfs: nothing.  SS_OK or SS_FATAL. */
int ssp_add_delta(const char *tree, json_t *versions, const char *version, json_t *items, const char *dir,
		  struct ss_error *err);

/* One file of an image being added: its content and, for a root, its
 * kind (enum ss_root_kind) and the image's fingerprint with it. */
struct ssp_file {
	const char *path;
	const char *sha256;
	long long size;
	int kind;
	const char *fp;
};

/* The product's release_title, into OUT: properties.release_title, else
 * what properties.description says between the os and the architecture
 * (LXD lists a simplestreams image as "os release_title arch (variant)
 * (version)" and an imported one by its description: the two agree),
 * else the release. */
void ssp_release_title(const struct ss_image_meta *m, const char *os, const char *release, const char *arch,
		       const char *variant, char *out, size_t sz);

/* The item name of a root of KIND ("root.squashfs", ...), NULL for none. */
const char *ssp_root_item(int kind);

/* The items of VERSION of PRODUCT, which holds OLD (NULL: a new version),
 * after adding the image META with its NROOTS ROOTS (0: META is a unified
 * image), as publish_items.c lays them out; files the version does not
 * hold go under DIR_NEW.  A new reference, or NULL with ERR (SS_FATAL:
 * the version holds another content under one of the names). */
json_t *ssp_version_items(json_t *old, const struct ssp_file *meta, const struct ssp_file *roots, int nroots,
			  const char *dir_new, const char *product, const char *version, struct ss_error *err);

#endif
