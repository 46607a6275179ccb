/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Importing flat item records (json2streams' input) as products files,
 * one per content id, and their index entries.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itemcheck.h"
#include "publish_internal.h"

static const char *const key_names[] = { "content_id", "product_name", "version_name", "item_name" };

/* The products file of content id CID: streams/v1/CID.json; SS_FATAL
 * when CID is not a file name or names one of the tree's own files. */
static int products_rel(const char *file, const char *cid, char *rel, size_t relsz, struct ss_error *err)
{
	struct ss_error pe;
	snprintf(rel, relsz, "streams/v1/%s.json", cid);
	if (ss_path_check(rel, &pe) != SS_OK || strchr(cid, '/'))
		return ssi_err(err, SS_FATAL, "cannot import '%s': content id '%s' is not a file name", file, cid);
	/* its file would be one of the tree's own documents: the index,
	 * the LXD images.json, or the alternates of a switch */
	if (strcmp(cid, "index") == 0 || strcmp(cid, "images") == 0 || cid[0] == '.')
		return ssi_err(err, SS_FATAL,
			       "cannot import '%s': content id '%s' would overwrite the tree's own '%s' (choose another content id)",
			       file, cid, cid[0] == '.' ? "streams/v1/.*" : rel);
	return SS_OK;
}

/* SS_FATAL naming record I of FILE (content id, product, version and
 * item names in KEY) and the field, when its ITEM is one sstream-verify
 * would refuse (ssi_item_problem). */
static int check_record(const char *file, size_t i, const char *key[4], json_t *item, const char *datatype,
			struct ss_error *err)
{
	json_t *doc = json_pack("{s:s, s:s, s:s, s:{s:{s:{s:{s:{s:O}}}}}}", "format", "products:1.0", "content_id",
				key[0], "datatype", datatype, "products", key[1], "versions", key[2], "items", key[3],
				item);
	struct ss_error pe;
	struct ss_products *p = doc ? ssi_products_from_json(doc, file, NULL, &pe) : NULL;
	const char *why = p && ss_products_count(p) == 1 ? ssi_item_problem(ss_products_item(p, 0)) : NULL;
	int rc = SS_OK;
	if (!p)
		rc = ssi_err(err, SS_FATAL, "cannot import '%s': item %zu (%s %s %s): %s", file, i, key[1], key[2],
			     key[3], doc ? pe.msg : "out of memory");
	else if (why)
		rc = ssi_err(err, SS_FATAL, "cannot import '%s': item %zu (%s %s %s): %s", file, i, key[1], key[2],
			     key[3], why);
	ss_products_free(p);
	return rc;
}

/* Record I (REC) of FILE into DOCS (tree-relative path -> products
 * document). */
static int add_record(json_t *docs, const char *file, size_t i, json_t *rec, struct ss_error *err)
{
	const char *key[4];
	for (int k = 0; k < 4; k++)
		if (!(key[k] = json_string_value(json_object_get(rec, key_names[k]))))
			return ssi_err(err, SS_FATAL, "cannot import '%s': item %zu has no %s", file, i, key_names[k]);
	const char *path = json_string_value(json_object_get(rec, "path"));
	struct ss_error pe;
	if (path && ss_path_check(path, &pe) != SS_OK)
		return ssi_err(err, SS_FATAL, "cannot import '%s': item %zu: %s", file, i, pe.msg);
	char rel[PATH_MAX];
	int rc = products_rel(file, key[0], rel, sizeof(rel), err);
	if (rc != SS_OK)
		return rc;
	json_t *doc = json_object_get(docs, rel);
	if (!doc) {
		doc = json_pack("{s:s, s:s, s:s, s:{}}", "format", "products:1.0", "content_id", key[0], "datatype",
				path ? "image-downloads" : "image-ids", "products");
		json_object_set_new(docs, rel, doc);
	}
	json_t *prods = json_object_get(doc, "products"), *prod = json_object_get(prods, key[1]);
	if (!prod)
		json_object_set_new(prods, key[1], prod = json_pack("{s:{}}", "versions"));
	json_t *vers = json_object_get(prod, "versions"), *ver = json_object_get(vers, key[2]);
	if (!ver)
		json_object_set_new(vers, key[2], ver = json_pack("{s:{}}", "items"));
	json_t *item = json_object();
	const char *k;
	json_t *v;
	json_object_foreach(rec, k, v)
		if (strcmp(k, "content_id") && strcmp(k, "product_name") && strcmp(k, "version_name") &&
		    strcmp(k, "item_name"))
			json_object_set(item, k, v);
	json_object_set_new(json_object_get(ver, "items"), key[3], item);
	return check_record(file, i, key, item, json_string_value(json_object_get(doc, "datatype")), err);
}

/* The records of FILE (a JSON list) into DOCS. */
static int read_records(const char *file, json_t *docs, struct ss_error *err)
{
	char *data;
	size_t len;
	if (ss_fetch(file, SS_METADATA_CAP, &data, &len, err) != SS_OK)
		return err->code;
	json_error_t je;
	json_t *list = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	free(data);
	int rc = SS_OK;
	if (!list)
		rc = ssi_err(err, SS_FATAL, "cannot import '%s': line %d column %d: %s", file, je.line, je.column,
			     je.text);
	else if (!json_is_array(list))
		rc = ssi_err(err, SS_FATAL, "cannot import '%s': not a JSON list of items", file);
	size_t i;
	json_t *rec;
	json_array_foreach(list, i, rec) {
		if (rc != SS_OK)
			break;
		rc = add_record(docs, file, i, rec, err);
	}
	json_decref(list);
	return rc;
}

/* TREE's index, which keeps its other entries; an empty one when none. */
static json_t *load_index(const char *tree)
{
	json_t *index = NULL;
	char *ifile = ss_join(tree, "streams/v1/index.json"), *idata;
	struct ss_error ie;
	size_t ilen;
	if (ifile && ss_fetch(ifile, SS_METADATA_CAP, &idata, &ilen, &ie) == SS_OK) {
		index = ssi_json_parse(idata, ilen, ifile, &ie);
		free(idata);
	}
	free(ifile);
	if (!json_is_object(json_object_get(index, "index"))) {
		json_decref(index);
		index = json_pack("{s:s, s:{}}", "format", "index:1.0", "index");
	}
	return index;
}

/* SS_FATAL when an entry of another content id already names one of the
 * files of DOCS. */
static int check_owners(const char *file, json_t *docs, json_t *index, struct ss_error *err)
{
	const char *rel;
	json_t *doc;
	json_object_foreach(docs, rel, doc) {
		const char *cid = json_string_value(json_object_get(doc, "content_id")), *ocid;
		json_t *e;
		json_object_foreach(json_object_get(index, "index"), ocid, e) {
			const char *p = json_string_value(json_object_get(e, "path"));
			if (p && strcmp(p, rel) == 0 && strcmp(ocid, cid) != 0)
				return ssi_err(err, SS_FATAL,
					       "cannot import '%s': '%s' is the products file of content id '%s' already",
					       file, rel, ocid);
		}
	}
	return SS_OK;
}

/* DOCS condensed as upstream json2streams writes them, into CONDENSED,
 * and their entries into INDEX. */
static int condense(json_t *docs, json_t *condensed, json_t *index, struct ss_error *err)
{
	const char *rel;
	json_t *doc;
	json_object_foreach(docs, rel, doc) {
		struct ss_error pe;
		struct ss_products *p = ssi_products_from_json(json_incref(doc), rel, NULL, &pe);
		size_t dlen;
		char *text = p ? ss_products_dump(p, SS_WRITE_CONDENSE, &dlen) : NULL;
		json_t *c = text ? json_loadb(text, dlen, 0, NULL) : NULL;
		free(text);
		ss_products_free(p);
		json_object_set_new(condensed, rel, c ? c : json_incref(doc));
		json_t *pnames = ssp_product_names(doc);
		if (!pnames)
			return ssi_err(err, SS_FATAL, "out of memory");
		json_object_set_new(json_object_get(index, "index"), json_string_value(json_object_get(doc, "content_id")),
				    json_pack("{s:s, s:s, s:s, s:o}", "format", "products:1.0", "datatype",
					      json_string_value(json_object_get(doc, "datatype")), "path", rel,
					      "products", pnames));
	}
	return SS_OK;
}

int ss_publish_import(const char *tree, const char *items_file, const struct ss_publish_opts *po, int *changed,
		      struct ss_error *err)
{
	struct ss_error local;
	po = ssp_begin(po, &err, &local);
	*changed = 0;
	json_t *docs = json_object(), *index = NULL, *condensed = json_object();
	int lock_fd = -1, rc = docs && condensed ? read_records(items_file, docs, err) : ssi_err(err, SS_FATAL, "out of memory");
	/* a dry run takes no lock: it would create .sstream/ */
	if (rc == SS_OK && !po->dry_run)
		rc = ssi_treelock_take(tree, SSI_TL_KEEP_NONE, &lock_fd, err);
	if (rc == SS_OK)
		rc = check_owners(items_file, docs, index = load_index(tree), err);
	if (rc == SS_OK)
		rc = condense(docs, condensed, index, err);
	if (rc == SS_OK && po->dry_run)
		*changed = ssi_treedocs_differ(po->sign_key, tree, condensed, index);
	else if (rc == SS_OK)
		rc = ssi_treedocs_publish(po->sign_key, tree, condensed, index, changed, err);
	json_decref(condensed);
	json_decref(index);
	json_decref(docs);
	if (lock_fd >= 0)
		close(lock_fd);
	return rc;
}
