/*
 * Trees: resolving a SOURCE to its root, reading index:1.0 documents
 * (nested ones included) and loading every products file they name.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model_internal.h"

#define MAX_INDEX_DEPTH 4

struct ss_tree {
	char *root;
	struct ss_products **products;
	size_t nproducts, alloc;
};

void ss_tree_free(struct ss_tree *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nproducts; i++)
		ss_products_free(t->products[i]);
	free(t->products);
	free(t->root);
	free(t);
}

const char *ss_tree_root(const struct ss_tree *t) { return t->root; }
size_t ss_tree_nproducts(const struct ss_tree *t) { return t->nproducts; }

const struct ss_products *ss_tree_products(const struct ss_tree *t, size_t i)
{
	return i < t->nproducts ? t->products[i] : NULL;
}

static int add_products(struct ss_tree *t, struct ss_products *p, struct ss_error *err)
{
	if (t->nproducts == t->alloc) {
		size_t na = t->alloc ? 2 * t->alloc : 8;
		struct ss_products **np = realloc(t->products, na * sizeof(*np));
		if (!np) {
			ss_products_free(p);
			return ssi_err(err, SS_FATAL, "out of memory");
		}
		t->products = np;
		t->alloc = na;
	}
	t->products[t->nproducts++] = p;
	return SS_OK;
}

static json_t *fetch_json(const char *loc, struct ss_error *err)
{
	char *data;
	size_t len;
	if (ss_fetch(loc, SS_METADATA_CAP, &data, &len, err) != SS_OK)
		return NULL;
	json_t *root = ssi_json_parse(data, len, loc, err);
	free(data);
	return root;
}

static int load_doc(struct ss_tree *t, json_t *doc, const char *loc, const char *cid, int depth,
		    struct ss_error *err);

static int load_index(struct ss_tree *t, json_t *doc, const char *loc, int depth,
		      struct ss_error *err)
{
	json_t *index = json_object_get(doc, "index");
	if (!json_is_object(index))
		return ssi_err(err, SS_FATAL, "invalid index '%s': no \"index\" object", loc);
	if (depth > MAX_INDEX_DEPTH)
		return ssi_err(err, SS_FATAL, "invalid index '%s': indexes nested too deep", loc);
	const char *cid;
	json_t *entry;
	json_object_foreach(index, cid, entry) {
		if (!json_is_object(entry))
			return ssi_err(err, SS_FATAL, "invalid index '%s': entry '%s' is not an object", loc, cid);
		const char *path = json_string_value(json_object_get(entry, "path"));
		if (!path)
			return ssi_err(err, SS_FATAL, "invalid index '%s': entry '%s' has no path", loc, cid);
		struct ss_error e;
		ss_error_clear(&e);
		if (ss_path_check(path, &e) != SS_OK)
			return ssi_err(err, SS_FATAL, "invalid index '%s': entry '%s': %s", loc, cid, e.msg);
		char *sub = ss_join(t->root, path);
		if (!sub)
			return ssi_err(err, SS_FATAL, "out of memory");
		json_t *subdoc = fetch_json(sub, err);
		int rc = subdoc ? load_doc(t, subdoc, sub, cid, depth + 1, err) : err->code;
		free(sub);
		if (rc != SS_OK)
			return rc;
	}
	return SS_OK;
}

/* Takes DOC, an index or a products document read from LOC. */
static int load_doc(struct ss_tree *t, json_t *doc, const char *loc, const char *cid, int depth,
		    struct ss_error *err)
{
	const char *format = json_string_value(json_object_get(doc, "format"));
	if (format && strcmp(format, "index:1.0") == 0) {
		int rc = load_index(t, doc, loc, depth, err);
		json_decref(doc);
		return rc;
	}
	struct ss_products *p = ssi_products_from_json(doc, loc, cid, err);
	if (!p)
		return SS_FATAL;
	/* A tree whose paths could escape its root is refused whole. */
	if (ss_products_check_paths(p, err) != SS_OK) {
		ss_products_free(p);
		return SS_FATAL;
	}
	return add_products(t, p, err);
}

static int is_document(const char *s)
{
	size_t n = strlen(s);
	return (n > 5 && strcmp(s + n - 5, ".json") == 0) ||
	       (n > 6 && strcmp(s + n - 6, ".sjson") == 0);
}

/* The tree root of a document location: what precedes "streams/v1/", or
 * else the document's directory. */
static char *root_of_document(const char *loc)
{
	const char *sv = strstr(loc, "streams/v1/");
	if (sv && (sv == loc || sv[-1] == '/'))
		return sv == loc ? strdup(".") : ssi_strndup(loc, (size_t)(sv - loc));
	const char *slash = strrchr(loc, '/');
	if (!slash)
		return strdup(".");
	return ssi_strndup(loc, (size_t)(slash - loc + 1));
}

/* A missing index.json at a root: worth trying index.sjson next. */
static int not_found(const struct ss_error *e)
{
	return e->http_status == 404 || e->sys_errno == ENOENT;
}

struct ss_tree *ss_tree_load(const char *source, struct ss_error *err)
{
	struct ss_tree *t = calloc(1, sizeof(*t));
	if (!t) {
		ssi_err(err, SS_FATAL, "out of memory");
		return NULL;
	}
	struct ss_error local;
	if (!err)
		err = &local;
	ss_error_clear(err);
	struct stat st;
	/* A document is named by its extension, or is an existing plain file. */
	int doc = is_document(source) ||
		  (!ss_is_url(source) && stat(source, &st) == 0 && !S_ISDIR(st.st_mode));
	json_t *j = NULL;
	char *loc = NULL;
	if (doc) {
		t->root = root_of_document(source);
		loc = strdup(source);
		if (!t->root || !loc)
			goto oom;
		j = fetch_json(loc, err);
	} else {
		t->root = strdup(source);
		loc = ss_join(source, "streams/v1/index.json");
		if (!t->root || !loc)
			goto oom;
		j = fetch_json(loc, err);
		if (!j && not_found(err)) {
			free(loc);
			loc = ss_join(source, "streams/v1/index.sjson");
			if (!loc)
				goto oom;
			ss_error_clear(err);
			j = fetch_json(loc, err);
		}
	}
	if (!j || load_doc(t, j, loc, NULL, 0, err) != SS_OK)
		goto fail;
	free(loc);
	return t;
oom:
	ssi_err(err, SS_FATAL, "out of memory");
fail:
	free(loc);
	ss_tree_free(t);
	return NULL;
}
