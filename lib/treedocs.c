/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing a tree's documents (products files, their .sjson twins and the
 * indexes) so that a reader (a client, sstream-verify) sees a consistent
 * tree at every instant, even across kill -9.  Publish, the mirror and
 * history rollback write through here.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "treedocs.h"

/* Writes TEXT at TREE/REL unless it holds exactly that already. */
static int put(const char *tree, const char *rel, const char *text, size_t len, int *changed,
	       struct ss_error *err)
{
	int ch = 0;
	int rc = ssi_safe_write(tree, rel, text, len, &ch, err);
	if (changed)
		*changed |= ch;
	return rc;
}

/* "streams/v1/x.json" -> "streams/v1/x.sjson" */
void ssi_treedocs_sjson_name(const char *rel, char *out, size_t outsz)
{
	size_t n = strlen(rel);
	snprintf(out, outsz, "%.*s.sjson", (int)(n > 5 ? n - 5 : n), rel);
}

/* The document at TREE/REL as a reader sees it (the signed body of a
 * clearsigned one), malloc'd; NULL when there is none. */
static char *read_body(const char *tree, const char *rel, size_t *len)
{
	char *file = ss_join(tree, rel), *data = NULL, *body = NULL;
	struct ss_error e;
	if (file && ss_fetch(file, SS_METADATA_CAP, &data, len, &e) == SS_OK) {
		if (!ss_is_clearsigned(data, *len))
			body = data, data = NULL;
		else if (ss_clearsign_body(data, *len, &body, len, &e) != SS_OK)
			body = NULL;
	}
	free(data);
	free(file);
	return body;
}

/* Whether BODY (read back through its signature, or plain) holds TEXT.
 * A clearsigned body ends without the newline that ends TEXT: the line
 * ending before the signature belongs to the armour (RFC 4880, 7.1). */
static int same_text(const char *body, size_t blen, const char *text, size_t len)
{
	if (!body || !text)
		return 0;
	if (blen + 1 == len && text[len - 1] == '\n')
		len--;
	return blen == len && memcmp(body, text, len) == 0;
}

/* TEXT clearsigned at SREL, unless SREL already signs exactly TEXT: a
 * signature is not free, and a new one would rewrite the file (a no-op
 * run that changes the tree). */
static int sign_put(const char *key, const char *tree, const char *srel, const char *text, size_t len,
		    int *changed, struct ss_error *err)
{
	size_t blen;
	char *body = read_body(tree, srel, &blen), *signed_text;
	int same = same_text(body, blen, text, len);
	free(body);
	if (same)
		return SS_OK;
	size_t slen;
	int rc = ss_clearsign(key, text, len, &signed_text, &slen, err);
	if (rc == SS_OK) {
		rc = put(tree, srel, signed_text, slen, changed, err);
		free(signed_text);
	}
	return rc;
}

/* One products document to publish: its JSON bytes and, when not NULL,
 * the bytes of its .sjson (else signed with the key, when there is one). */
struct pdoc {
	const char *rel, *cid;
	const char *text, *stext;
	size_t len, slen;
	json_t *products;      /* its "products" object (borrowed) */
};

json_t *ssi_treedocs_view_parse(const char *body, size_t len, const char *rel)
{
	struct ss_error e;
	json_t *v = body ? ssi_json_parse(body, len, rel, &e) : NULL;
	if (v && !json_is_object(json_object_get(v, "index"))) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

/* The reader-visible index at REL, parsed; NULL when none or unreadable. */
json_t *ssi_treedocs_view(const char *tree, const char *rel)
{
	size_t len;
	char *body = read_body(tree, rel, &len);
	json_t *v = ssi_treedocs_view_parse(body, len, rel);
	free(body);
	return v;
}

/* Whether the "products" list of an index entry names exactly the
 * products of the object PRODUCTS. */
static int same_products(json_t *list, json_t *products)
{
	if (!json_is_array(list) || json_array_size(list) != json_object_size(products))
		return 0;
	size_t i;
	json_t *n;
	json_array_foreach(list, i, n)
		if (!json_is_string(n) || !json_object_get(products, json_string_value(n)))
			return 0;
	return 1;
}

/* Whether every entry of VIEW naming PATH lists exactly PRODUCTS (so
 * PATH can be rewritten in place without a reader seeing a mismatch). */
static int view_allows(json_t *view, const char *path, json_t *products)
{
	const char *cid;
	json_t *e;
	json_object_foreach(json_object_get(view, "index"), cid, e) {
		const char *p = json_string_value(json_object_get(e, "path"));
		if (p && strcmp(p, path) == 0 && !same_products(json_object_get(e, "products"), products))
			return 0;
	}
	return 1;
}

int ssi_treedocs_view_names(json_t *view, const char *path)
{
	const char *cid;
	json_t *e;
	json_object_foreach(json_object_get(view, "index"), cid, e) {
		const char *p = json_string_value(json_object_get(e, "path"));
		if (p && strcmp(p, path) == 0)
			return 1;
	}
	return 0;
}

void ssi_treedocs_alt_name(const char *rel, int which, char *out, size_t outsz)
{
	const char *slash = strrchr(rel, '/');
	size_t dl = slash ? (size_t)(slash - rel + 1) : 0, n = strlen(rel);
	snprintf(out, outsz, "%.*s.%.*s.%c.json", (int)dl, rel, (int)(n - dl > 5 ? n - dl - 5 : n - dl), rel + dl,
		 which ? 'b' : 'a');
}

void ssi_treedocs_visible(const char *tree, const char *cid, const char *rel, char *out, size_t outsz)
{
	json_t *view = ssi_treedocs_view(tree, "streams/v1/index.json");
	const char *named = json_string_value(json_object_get(json_object_get(json_object_get(view, "index"), cid), "path"));
	snprintf(out, outsz, "%s", rel);
	for (int w = 0; named && w < 2; w++) {
		char alt[PATH_MAX];
		ssi_treedocs_alt_name(rel, w, alt, sizeof(alt));
		if (strcmp(named, alt) == 0)
			snprintf(out, outsz, "%s", alt);
	}
	json_decref(view);
}

/* INDEX as index.sjson names its documents: the paths of the .sjson
 * products.  A new reference, NULL when out of memory. */
static json_t *signed_index(json_t *index)
{
	json_t *sidx = json_deep_copy(index);
	const char *cid;
	json_t *e;
	json_object_foreach(json_object_get(sidx, "index"), cid, e) {
		char spath[PATH_MAX];
		const char *p = json_string_value(json_object_get(e, "path"));
		ssi_treedocs_sjson_name(p ? p : "", spath, sizeof(spath));
		json_object_set_new(e, "path", json_string(spath));
	}
	return sidx;
}

/* Writes INDEX as index.sjson (signed with KEY) when KEY, then as
 * index.json: each one rename. */
static int put_signed_index(const char *key, const char *tree, json_t *index, int *changed, struct ss_error *err)
{
	size_t len;
	json_t *sidx = signed_index(index);
	char *text = sidx ? ssi_json_dump(sidx, &len) : NULL;
	int rc = text ? sign_put(key, tree, "streams/v1/index.sjson", text, len, changed, err)
		      : ssi_err(err, SS_FATAL, "out of memory");
	free(text);
	json_decref(sidx);
	return rc;
}

static int put_index(const char *key, const char *tree, json_t *index, int *changed, struct ss_error *err)
{
	int rc = key ? put_signed_index(key, tree, index, changed, err) : SS_OK;
	size_t len;
	if (rc != SS_OK)
		return rc;
	char *text = ssi_json_dump(index, &len);
	rc = text ? put(tree, "streams/v1/index.json", text, len, changed, err) : ssi_err(err, SS_FATAL, "out of memory");
	free(text);
	return rc;
}

/* Whether TREE/REL as a reader sees it (see read_body) differs from DOC
 * dumped. */
static int differs(const char *tree, const char *rel, json_t *doc)
{
	size_t len = 0, blen;
	char *text = doc ? ssi_json_dump(doc, &len) : NULL, *body = read_body(tree, rel, &blen);
	int d = !same_text(body, blen, text, len);
	free(text);
	free(body);
	return d;
}

int ssi_treedocs_differ(const char *key, const char *tree, json_t *docs, json_t *index)
{
	const char *rel;
	json_t *doc;
	json_object_foreach(docs, rel, doc) {
		char srel[PATH_MAX];
		ssi_treedocs_sjson_name(rel, srel, sizeof(srel));
		if (differs(tree, rel, doc) || (key && differs(tree, srel, doc)))
			return 1;
	}
	json_t *sidx = key ? signed_index(index) : NULL;
	int d = differs(tree, "streams/v1/index.json", index) ||
		(key && differs(tree, "streams/v1/index.sjson", sidx));
	json_decref(sidx);
	return d;
}

/* A products document at REL: its JSON, and its .sjson (given, or signed
 * with KEY). */
static int put_pdoc(const char *key, const char *tree, const struct pdoc *d, const char *rel, int *changed,
		    struct ss_error *err)
{
	int rc = put(tree, rel, d->text, d->len, changed, err);
	char srel[PATH_MAX];
	ssi_treedocs_sjson_name(rel, srel, sizeof(srel));
	if (rc == SS_OK && d->stext)
		rc = put(tree, srel, d->stext, d->slen, changed, err);
	else if (rc == SS_OK && key)
		rc = sign_put(key, tree, srel, d->text, d->len, changed, err);
	return rc;
}

/*
 * Publishes products documents and then their index so that a reader (a
 * client, sstream-verify) sees a consistent tree at every instant, even
 * across kill -9: every index lists exactly the products of the file it
 * names.  A document whose product list does not change is rewritten in
 * place (one rename) before the index.  One whose list changes while an
 * index names it is first written at an alternate name, the index is
 * switched to it (one rename), the document is written at its own name,
 * and the final index switches back; the alternates go last.
 *
 * INDEX is the final index; when IBYTES is not NULL its bytes are written
 * verbatim (rollback), as are SIBYTES for index.sjson.  KEY signs.
 */
static int put_docs(const char *key, const char *tree, const struct pdoc *docs, size_t n, json_t *index,
		    const char *ibytes, size_t ilen, const char *sibytes, size_t silen, int *changed,
		    struct ss_error *err)
{
	int rc = SS_OK;
	int sjson_view = key || sibytes;
	for (size_t i = 0; rc == SS_OK && i < n; i++) {
		const struct pdoc *d = &docs[i];
		json_t *vj = ssi_treedocs_view(tree, "streams/v1/index.json");
		json_t *vs = sjson_view ? ssi_treedocs_view(tree, "streams/v1/index.sjson") : NULL;
		char srel[PATH_MAX];
		ssi_treedocs_sjson_name(d->rel, srel, sizeof(srel));
		if (view_allows(vj, d->rel, d->products) && view_allows(vs, srel, d->products)) {
			rc = put_pdoc(key, tree, d, d->rel, changed, err);
		} else {
			char alt[PATH_MAX], salt[PATH_MAX];
			for (int w = 0; w < 2; w++) {
				ssi_treedocs_alt_name(d->rel, w, alt, sizeof(alt));
				ssi_treedocs_sjson_name(alt, salt, sizeof(salt));
				if (!ssi_treedocs_view_names(vj, alt) && !ssi_treedocs_view_names(vs, salt))
					break;
			}
			json_t *visible = vj ? json_deep_copy(vj) : json_pack("{s:s, s:{}}", "format", "index:1.0", "index");
			json_t *entry = json_deep_copy(json_object_get(json_object_get(index, "index"), d->cid));
			if (!visible || !entry) {
				rc = ssi_err(err, SS_FATAL, "out of memory");
			} else {
				json_object_set_new(entry, "path", json_string(alt));
				json_object_set_new(json_object_get(visible, "index"), d->cid, entry);
				entry = NULL;
				/* without a key the signed view cannot switch: it stays
				 * on its old, consistent, documents until the end */
				if ((rc = put_pdoc(key, tree, d, alt, changed, err)) == SS_OK &&
				    (rc = put_index(key, tree, visible, changed, err)) == SS_OK)
					rc = put_pdoc(key, tree, d, d->rel, changed, err);
			}
			json_decref(entry);
			json_decref(visible);
		}
		json_decref(vj);
		json_decref(vs);
	}
	if (rc != SS_OK)
		return rc;
	if (sibytes)
		rc = put(tree, "streams/v1/index.sjson", sibytes, silen, changed, err);
	else if (key && ibytes)
		rc = put_signed_index(key, tree, index, changed, err);
	if (rc == SS_OK)
		rc = ibytes ? put(tree, "streams/v1/index.json", ibytes, ilen, changed, err)
			    : put_index(key, tree, index, changed, err);
	if (rc != SS_OK)
		return rc;
	/* alternates no index names any more (of this run or a killed one) */
	json_t *vj = ssi_treedocs_view(tree, "streams/v1/index.json"), *vs = ssi_treedocs_view(tree, "streams/v1/index.sjson");
	for (size_t i = 0; i < n; i++)
		for (int w = 0; w < 2; w++) {
			char alt[PATH_MAX], salt[PATH_MAX];
			ssi_treedocs_alt_name(docs[i].rel, w, alt, sizeof(alt));
			ssi_treedocs_sjson_name(alt, salt, sizeof(salt));
			struct ss_error e;
			if (!ssi_treedocs_view_names(vj, alt))
				ssi_safe_unlink(tree, alt, 0, NULL, &e);
			if (!ssi_treedocs_view_names(vs, salt))
				ssi_safe_unlink(tree, salt, 0, NULL, &e);
		}
	json_decref(vj);
	json_decref(vs);
	return SS_OK;
}

/* Publishes the generated documents DOCS (tree-relative path -> products
 * document) and INDEX. */
int ssi_treedocs_publish(const char *key, const char *tree, json_t *docs, json_t *index, int *changed,
			 struct ss_error *err)
{
	size_t n = json_object_size(docs), i = 0;
	struct pdoc *pd = calloc(n ? n : 1, sizeof(*pd));
	int rc = pd ? SS_OK : ssi_err(err, SS_FATAL, "out of memory");
	const char *rel;
	json_t *doc;
	json_object_foreach(docs, rel, doc) {
		if (rc != SS_OK)
			break;
		struct pdoc *d = &pd[i++];
		d->rel = rel;
		d->cid = json_string_value(json_object_get(doc, "content_id"));
		d->products = json_object_get(doc, "products");
		char *text = ssi_json_dump(doc, &d->len);
		d->text = text;
		if (!text || !d->cid)
			rc = ssi_err(err, SS_FATAL, "cannot write '%s'", rel);
	}
	int any = 0;
	if (rc == SS_OK)
		rc = put_docs(key, tree, pd, n, index, NULL, 0, NULL, 0, &any, err);
	for (size_t k = 0; pd && k < n; k++)
		free((char *)pd[k].text);
	free(pd);
	*changed |= any;
	return rc;
}

int ssi_treedocs_put(const char *tree, size_t n, const char *const *rels, const char *const *data,
		     const size_t *lens, int *changed, struct ss_error *err)
{
	return ssi_treedocs_put_signed(NULL, 0, tree, n, rels, data, lens, changed, err);
}

int ssi_treedocs_put_signed(const char *key, int resign, const char *tree, size_t n, const char *const *rels,
			    const char *const *data, const size_t *lens, int *changed, struct ss_error *err)
{
	struct pdoc *pd = calloc(n ? n : 1, sizeof(*pd));
	json_t **parsed = calloc(n ? n : 1, sizeof(*parsed));
	const char *ibytes = NULL, *sibytes = NULL;
	size_t ilen = 0, silen = 0, np = 0;
	int rc = pd && parsed ? SS_OK : ssi_err(err, SS_FATAL, "out of memory");
	json_t *index = NULL;
	/* the indexes; the products files they name; the rest of streams/ */
	for (size_t i = 0; rc == SS_OK && i < n; i++) {
		if (strcmp(rels[i], "streams/v1/index.json") == 0) {
			ibytes = data[i], ilen = lens[i];
			index = ssi_json_parse(data[i], lens[i], rels[i], err);
			if (!index)
				rc = SS_FATAL;
		} else if (strcmp(rels[i], "streams/v1/index.sjson") == 0 && !resign) {
			sibytes = data[i], silen = lens[i];
		}
	}
	for (size_t i = 0; rc == SS_OK && i < n; i++) {
		size_t l = strlen(rels[i]);
		if (!strcmp(rels[i], "streams/v1/index.json") || !strcmp(rels[i], "streams/v1/index.sjson"))
			continue;
		const char *cid = NULL, *k;
		json_t *e;
		json_object_foreach(json_object_get(index, "index"), k, e) {
			const char *p = json_string_value(json_object_get(e, "path"));
			if (p && strcmp(p, rels[i]) == 0)
				cid = k;
		}
		json_t *doc = cid ? ssi_json_outline(data[i], lens[i], rels[i], err) : NULL;
		if (!cid || !json_is_object(json_object_get(doc, "products"))) {
			/* not a products file the index names: written before the
			 * indexes, as it is (.sjson twins go with their .json) */
			json_decref(doc);
			if (l > 6 && strcmp(rels[i] + l - 6, ".sjson") == 0)
				continue;
			rc = put(tree, rels[i], data[i], lens[i], changed, err);
			continue;
		}
		parsed[np] = doc;
		struct pdoc *d = &pd[np++];
		d->rel = rels[i];
		d->cid = cid;
		d->text = data[i];
		d->len = lens[i];
		d->products = json_object_get(doc, "products");
		char srel[PATH_MAX];
		ssi_treedocs_sjson_name(rels[i], srel, sizeof(srel));
		for (size_t j = 0; !resign && j < n; j++)
			if (strcmp(rels[j], srel) == 0)
				d->stext = data[j], d->slen = lens[j];
	}
	/* .sjson files that no products .json of the record pairs with */
	for (size_t i = 0; rc == SS_OK && i < n; i++) {
		size_t l = strlen(rels[i]);
		if (l <= 6 || strcmp(rels[i] + l - 6, ".sjson") || !strcmp(rels[i], "streams/v1/index.sjson"))
			continue;
		int paired = 0;
		for (size_t k = 0; k < np; k++) {
			char srel[PATH_MAX];
			ssi_treedocs_sjson_name(pd[k].rel, srel, sizeof(srel));
			paired |= strcmp(srel, rels[i]) == 0;
		}
		if (!paired && !resign)
			rc = put(tree, rels[i], data[i], lens[i], changed, err);
	}
	if (rc == SS_OK && !index)
		rc = ssi_err(err, SS_FATAL, "history of '%s': the record has no streams/v1/index.json", tree);
	if (rc == SS_OK)
		rc = put_docs(key, tree, pd, np, index, ibytes, ilen, sibytes, silen, changed, err);
	for (size_t i = 0; parsed && i < np; i++)
		json_decref(parsed[i]);
	free(parsed);
	free(pd);
	json_decref(index);
	return rc;
}

/* The item paths of the products document DOC into OUT. */
static int add_item_paths(const struct ss_products *doc, struct ssi_strset *out)
{
	for (size_t i = 0; doc && i < doc->nitems; i++) {
		const char *ip = ssi_item_own_str(&doc->items[i], "path");
		if (ip && ssi_strset_add(out, ip) < 0)
			return -1;
	}
	return 0;
}

int ssi_treedocs_signed_names(const char *tree, struct ssi_strset *out)
{
	json_t *sidx = ssi_treedocs_view(tree, "streams/v1/index.sjson");
	const char *cid;
	json_t *e;
	int rc = 0;
	json_object_foreach(json_object_get(sidx, "index"), cid, e) {
		const char *p = json_string_value(json_object_get(e, "path"));
		struct ss_error pe;
		if (rc < 0 || !p || ss_path_check(p, &pe) != SS_OK)
			continue;
		size_t len;
		char *body = read_body(tree, p, &len);
		struct ss_products *doc = body ? ssi_products_scan(body, len, p, 0, &pe) : NULL;
		rc = ssi_strset_add(out, p) < 0 || add_item_paths(doc, out) < 0 ? -1 : 0;
		ss_products_free(doc);
		free(body);
	}
	json_decref(sidx);
	return rc;
}
