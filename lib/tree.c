/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Trees: resolving a SOURCE to its root, reading index:1.0 documents
 * (nested ones included) and loading every products file they name.  With a
 * verifier, every document must be clearsigned and verify, and what is
 * parsed is the verified text.  The raw bytes of every document are kept
 * so that a mirror can republish them verbatim: in memory, or (a spooled
 * tree, whose texts become its records) in unlinked files of a directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model_internal.h"

#define MAX_INDEX_DEPTH 4
/* What one tree may make us read: indexes naming indexes could otherwise
 * multiply a few KB into millions of loads. */
#define MAX_TREE_DOCS 10000
#define MAX_TREE_BYTES ((size_t)1 << 30)
/* A spooled tree keeps smaller documents in memory, as they are. */
#define SPOOL_MIN ((size_t)4 << 20)

struct doc {
	char *relpath;
	char *data;
	size_t len;
	int fd;                         /* its bytes when spooled (DATA NULL), else -1 */
};

struct ss_tree {
	char *root;
	struct ss_verifier *verifier;   /* borrowed, only while loading */
	const struct ss_fetch_opts *fo; /* borrowed, only while loading */
	struct ss_products **products;
	size_t nproducts, alloc;
	struct doc *docs;
	size_t ndocs, docs_alloc;
	size_t bytes;                   /* of every document read */
	int in_place;                   /* records over the texts */
	int spool;                      /* a directory for the bytes, only while loading, or -1 */
	struct ssi_conns *conns;        /* the documents' connections, only while loading */
	long long updated;              /* the newest "updated" of the documents, or -1 */
};

void ss_tree_free(struct ss_tree *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nproducts; i++)
		ss_products_free(t->products[i]);
	ssi_tree_drop_texts(t);
	for (size_t i = 0; i < t->ndocs; i++)
		free(t->docs[i].relpath);
	free(t->docs);
	free(t->products);
	free(t->root);
	free(t);
}

void ssi_tree_drop_texts(struct ss_tree *t)
{
	for (size_t i = 0; t && i < t->ndocs; i++) {
		free(t->docs[i].data);
		if (t->docs[i].fd >= 0)
			close(t->docs[i].fd);
		t->docs[i].data = NULL;
		t->docs[i].len = 0;
		t->docs[i].fd = -1;
	}
}

const char *ss_tree_root(const struct ss_tree *t) { return t->root; }
size_t ss_tree_nproducts(const struct ss_tree *t) { return t->nproducts; }
size_t ss_tree_ndocs(const struct ss_tree *t) { return t->ndocs; }

const struct ss_products *ss_tree_products(const struct ss_tree *t, size_t i)
{
	return i < t->nproducts ? t->products[i] : NULL;
}

const char *ss_tree_doc(const struct ss_tree *t, size_t i, const char **data, size_t *len)
{
	if (i >= t->ndocs)
		return NULL;
	*data = t->docs[i].data;
	*len = t->docs[i].len;
	return t->docs[i].relpath;
}

/* The LEN bytes of the spooled FD, malloc'd and NUL-terminated; NULL
 * with errno (ENOMEM, EIO for a short file). */
static char *spool_read(int fd, size_t len)
{
	char *data = malloc(len + 1);
	ssize_t got = data ? ssi_read_full(fd, data, len, 0) : -1;
	if (data && got != (ssize_t)len) {
		int e = got < 0 ? errno : EIO;
		free(data);
		data = NULL;
		errno = e;
	}
	if (data)
		data[len] = 0;
	return data;
}

int ssi_tree_doc_read(const struct ss_tree *t, size_t i, char **data, size_t *len, struct ss_error *err)
{
	const struct doc *d = &t->docs[i];
	*len = d->len;
	if (d->fd >= 0) {
		if (!(*data = spool_read(d->fd, d->len)))
			return ssi_err_sys(err, SS_FATAL, errno, "cannot read back '%s' of '%s'", d->relpath, t->root);
		return SS_OK;
	}
	if (!(*data = malloc(d->len + 1)))
		return ssi_err(err, SS_FATAL, "out of memory");
	if (d->len)
		memcpy(*data, d->data, d->len);
	(*data)[d->len] = 0;
	return SS_OK;
}

/* DATA into a new unlinked file of the spool directory: an fd, or -1
 * with ERR filled naming LOC. */
static int spool_doc(struct ss_tree *t, const char *data, size_t len, const char *loc, struct ss_error *err)
{
	int fd = openat(t->spool, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		char name[32];
		if ((fd = ssi_tmpfile_at(t->spool, ".spool.", name, sizeof(name))) >= 0)
			unlinkat(t->spool, name, 0);
	}
	if (fd >= 0 && ssi_write_all(fd, data, len) < 0) {
		int e = errno;
		close(fd);
		fd = -1;
		errno = e;
	}
	if (fd < 0)
		ssi_err_sys(err, SS_FATAL, errno, "cannot keep a copy of '%s'", loc);
	return fd;
}

/* The newest "updated" of DOC's root and, in an index, of its entries. */
static void note_updated(struct ss_tree *t, json_t *root)
{
	long long d = ss_date_parse(json_string_value(json_object_get(root, "updated")));
	const char *k;
	json_t *entry;
	if (d > t->updated)
		t->updated = d;
	json_object_foreach(json_object_get(root, "index"), k, entry) {
		d = ss_date_parse(json_string_value(json_object_get(entry, "updated")));
		if (d > t->updated)
			t->updated = d;
	}
}

long long ss_tree_updated(const struct ss_tree *t)
{
	return t->updated;
}

long long ss_tree_version_date(const struct ss_tree *t)
{
	long long best = -1;
	for (size_t i = 0; i < t->nproducts; i++) {
		const struct ss_products *p = t->products[i];
		const char *last = NULL;
		for (size_t k = 0; k < ss_products_count(p); k++) {
			/* (a version's items follow one another, sharing its key) */
			const char *v = ss_item_version(ss_products_item(p, k));
			long long d = v == last ? -1 : ssi_version_date(v);
			last = v;
			if (d > best)
				best = d;
		}
	}
	return best;
}

/* After a spooled text was refused: jansson's message for its bytes, as
 * a tree read from memory gives it, when jansson refuses them too. */
static void scan_message(int fd, size_t len, const char *loc, struct ss_error *err)
{
	char *raw = spool_read(fd, len);
	struct ss_error e;
	ss_error_clear(&e);
	if (raw) {
		json_t *whole = ssi_json_parse(raw, len, loc, &e);
		if (!whole)
			*err = e;
		json_decref(whole);
	}
	free(raw);
}

/* Reads, verifies (with a verifier) and reads the document at RELPATH
 * (its format not yet checked). */
static struct ss_products *fetch_doc(struct ss_tree *t, const char *relpath, struct ss_error *err)
{
	char *loc = ss_join(t->root, relpath);
	char *data = NULL, *body = NULL, *rp = strdup(relpath);
	size_t len, blen;
	int fd = -1;
	struct ss_products *root = NULL;
	if (!loc || !rp || ssi_grow((void **)&t->docs, &t->docs_alloc, t->ndocs, sizeof(*t->docs))) {
		ssi_err(err, SS_FATAL, "out of memory");
		goto out;
	}
	/* Each document is read once: a second mention is a loop, or two
	 * entries sharing one file. */
	for (size_t i = 0; i < t->ndocs; i++) {
		if (strcmp(t->docs[i].relpath, relpath) == 0) {
			ssi_err(err, SS_FATAL, "invalid tree '%s': '%s' is named more than once", t->root, relpath);
			goto out;
		}
	}
	if (t->ndocs >= MAX_TREE_DOCS) {
		ssi_err(err, SS_FATAL, "invalid tree '%s': more than %d documents", t->root, MAX_TREE_DOCS);
		goto out;
	}
	if (ssi_fetch_conns(loc, SS_METADATA_CAP, t->fo, t->conns, &data, &len, err) != SS_OK)
		goto out;
	if ((t->bytes += len) > MAX_TREE_BYTES) {
		ssi_err(err, SS_FATAL, "invalid tree '%s': more than %zu MiB of documents", t->root,
			MAX_TREE_BYTES >> 20);
		goto out;
	}
	if (t->verifier && ss_verifier_check(t->verifier, data, len, loc, &body, &blen, err) != SS_OK)
		goto out;
	if (t->spool >= 0 && len >= SPOOL_MIN && (fd = spool_doc(t, data, len, loc, err)) < 0)
		goto out;
	if (t->in_place && (t->spool < 0 || fd >= 0) && (body || !ss_is_clearsigned(data, len))) {
		/* the text becomes the records: the tree keeps its bytes only
		 * in the spool */
		char *text = body ? body : data;
		root = ssi_products_scan_own(text, body ? blen : len, loc, err);
		if (body)
			body = NULL;
		else
			data = NULL, len = fd >= 0 ? len : 0;
		if (!root && fd >= 0)
			scan_message(fd, len, loc, err);
	} else {
		root = body ? ssi_products_scan(body, blen, loc, 0, err) : ssi_doc_scan(data, len, loc, 0, err);
	}
	if (root) {
		note_updated(t, root->root);
		if (fd >= 0) /* the bytes are in the spool */
			free(data), data = NULL;
		t->docs[t->ndocs++] = (struct doc){ rp, data, len, fd };
		rp = data = NULL;
		fd = -1;
	}
out:
	if (fd >= 0)
		close(fd);
	free(body);
	free(data);
	free(rp);
	free(loc);
	return root;
}

static int load_doc(struct ss_tree *t, struct ss_products *doc, const char *relpath, const char *cid,
		    json_t *entry, int depth, struct ss_error *err);

static int load_index(struct ss_tree *t, json_t *doc, const char *relpath, int depth,
		      struct ss_error *err)
{
	json_t *index = json_object_get(doc, "index");
	if (!json_is_object(index))
		return ssi_err(err, SS_FATAL, "invalid index '%s': no \"index\" object", relpath);
	if (depth > MAX_INDEX_DEPTH)
		return ssi_err(err, SS_FATAL, "invalid index '%s': indexes nested too deep", relpath);
	const char *cid;
	json_t *entry;
	json_object_foreach(index, cid, entry) {
		if (!json_is_object(entry))
			return ssi_err(err, SS_FATAL, "invalid index '%s': entry '%s' is not an object",
				       relpath, cid);
		const char *path = json_string_value(json_object_get(entry, "path"));
		if (!path)
			return ssi_err(err, SS_FATAL, "invalid index '%s': entry '%s' has no path", relpath, cid);
		struct ss_error e;
		ss_error_clear(&e);
		if (ss_path_check(path, &e) != SS_OK)
			return ssi_err(err, SS_FATAL, "invalid index '%s': entry '%s': %s", relpath, cid, e.msg);
		struct ss_products *subdoc = fetch_doc(t, path, err);
		if (!subdoc)
			return err->code;
		int rc = load_doc(t, subdoc, path, cid, entry, depth + 1, err);
		if (rc != SS_OK)
			return rc;
	}
	return SS_OK;
}

/* Takes DOC, an index or a products document read from RELPATH. */
static int load_doc(struct ss_tree *t, struct ss_products *doc, const char *relpath, const char *cid,
		    json_t *entry, int depth, struct ss_error *err)
{
	const char *format = json_string_value(json_object_get(doc->root, "format"));
	if (format && strcmp(format, "index:1.0") == 0) {
		int rc = load_index(t, doc->root, relpath, depth, err);
		ss_products_free(doc);
		return rc;
	}
	struct ss_products *p = ssi_products_finish(doc, cid, err);
	if (!p)
		return SS_FATAL;
	p->relpath = strdup(relpath);
	p->entry = json_incref(entry);
	if (entry && cid)
		p->index_key = strdup(cid);
	/* A tree whose paths could escape its root is refused whole. */
	if (!p->relpath || (entry && cid && !p->index_key) || ss_products_check_paths(p, err) != SS_OK ||
	    ssi_grow((void **)&t->products, &t->alloc, t->nproducts, sizeof(*t->products))) {
		if (!err->msg[0])
			ssi_err(err, SS_FATAL, "out of memory");
		ss_products_free(p);
		return SS_FATAL;
	}
	t->products[t->nproducts++] = p;
	return SS_OK;
}

static int is_document(const char *s)
{
	size_t n = strlen(s);
	return (n > 5 && strcmp(s + n - 5, ".json") == 0) ||
	       (n > 6 && strcmp(s + n - 6, ".sjson") == 0);
}

/* Splits a document location into the tree root (what precedes
 * "streams/v1/", or else the document's directory) and its relative path. */
static int split_document(const char *loc, char **root, char **rel)
{
	const char *sv = strstr(loc, "streams/v1/");
	while (sv && sv != loc && sv[-1] != '/')
		sv = strstr(sv + 1, "streams/v1/");
	const char *slash = strrchr(loc, '/');
	if (sv) {
		*root = sv == loc ? strdup(".") : ssi_strndup(loc, (size_t)(sv - loc));
		*rel = strdup(sv);
	} else if (slash) {
		*root = ssi_strndup(loc, (size_t)(slash - loc + 1));
		*rel = strdup(slash + 1);
	} else {
		*root = strdup(".");
		*rel = strdup(loc);
	}
	return *root && *rel ? 0 : -1;
}

char *ss_tree_source_root(const char *source)
{
	struct stat st;
	if (!is_document(source) && (ss_is_url(source) || stat(source, &st) != 0 || S_ISDIR(st.st_mode)))
		return strdup(source);
	char *root = NULL, *rel = NULL;
	if (split_document(source, &root, &rel)) {
		free(root);
		root = NULL;
	}
	free(rel);
	return root;
}

/* A missing index.json at a root: worth trying index.sjson next. */
static int not_found(const struct ss_error *e)
{
	return e->http_status == 404 || e->sys_errno == ENOENT;
}

static struct ss_tree *load(const char *source, struct ss_verifier *v, const struct ss_fetch_opts *fo,
			    int in_place, const char *spool, struct ss_error *err)
{
	struct ss_error local;
	if (!err)
		err = &local;
	ss_error_clear(err);
	struct ss_tree *t = calloc(1, sizeof(*t));
	if (!t) {
		ssi_err(err, SS_FATAL, "out of memory");
		return NULL;
	}
	t->verifier = v;
	t->fo = fo;
	t->in_place = in_place;
	t->updated = -1;
	t->spool = -1;
	if (ss_is_url(source) && strncmp(source, "file://", 7) != 0)
		t->conns = ssi_conns_new();
	if (spool && (t->spool = open(spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		ssi_err_sys(err, SS_FATAL, errno, "cannot open '%s'", spool);
		ssi_conns_free(t->conns);
		free(t);
		return NULL;
	}
	struct stat st;
	/* A document is named by its extension, or is an existing plain file. */
	int doc = is_document(source) ||
		  (!ss_is_url(source) && stat(source, &st) == 0 && !S_ISDIR(st.st_mode));
	struct ss_products *j = NULL;
	char *rel = NULL;
	if (doc) {
		if (split_document(source, &t->root, &rel))
			goto oom;
		j = fetch_doc(t, rel, err);
	} else {
		/* Signed trees start at index.sjson; otherwise index.json, or
		 * index.sjson where a tree has only that. */
		if (!(t->root = strdup(source)) || !(rel = strdup(v ? "streams/v1/index.sjson" : "streams/v1/index.json")))
			goto oom;
		j = fetch_doc(t, rel, err);
		if (!j && !v && not_found(err)) {
			free(rel);
			if (!(rel = strdup("streams/v1/index.sjson")))
				goto oom;
			/* When neither is there, index.json is the one to name. */
			struct ss_error first = *err;
			ss_error_clear(err);
			j = fetch_doc(t, rel, err);
			if (!j && not_found(err))
				*err = first;
		}
	}
	/* Under a keyring a missing signed index is a missing signature. */
	if (!j && v && !doc && not_found(err)) {
		char why[sizeof(err->msg)]; /* formatted from a copy: err->msg is the destination */
		snprintf(why, sizeof(why), "%s", err->msg);
		ssi_err(err, SS_INTEGRITY, "no signed index: %s", why);
	}
	if (!j || load_doc(t, j, rel, NULL, NULL, 0, err) != SS_OK)
		goto fail;
	free(rel);
	t->verifier = NULL;
	t->fo = NULL;
	if (t->spool >= 0)
		close(t->spool);
	t->spool = -1;
	ssi_conns_free(t->conns);
	t->conns = NULL;
	return t;
oom:
	ssi_err(err, SS_FATAL, "out of memory");
fail:
	free(rel);
	if (t->spool >= 0)
		close(t->spool);
	ssi_conns_free(t->conns);
	t->conns = NULL;
	ss_tree_free(t);
	return NULL;
}

struct ss_tree *ss_tree_load_ex(const char *source, struct ss_verifier *v,
				const struct ss_fetch_opts *fo, struct ss_error *err)
{
	return load(source, v, fo, 0, NULL, err);
}

struct ss_tree *ssi_tree_load_spooled(const char *source, struct ss_verifier *v, const struct ss_fetch_opts *fo,
				      const char *spool, struct ss_error *err)
{
	return load(source, v, fo, 1, spool, err);
}

struct ss_tree *ssi_tree_load_items(const char *source, struct ss_error *err)
{
	return load(source, NULL, NULL, 1, NULL, err);
}

struct ss_tree *ss_tree_load(const char *source, struct ss_error *err)
{
	return ss_tree_load_ex(source, NULL, NULL, err);
}
