/*
 * Publishing LXD/Incus images as a static simplestreams tree (FORMAT.md
 * sections 7-8).  Each image file is read exactly once: copied into the
 * tree while its own sha256 and the image's fingerprint are computed.
 * Payload files first, images.json next, index.json last, each atomically,
 * under the tree's lock.
 */
#include <ctype.h>
#include <spawn.h>
#include <sys/wait.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "model_internal.h"

extern char **environ;

/* A value that becomes part of a product name ("os:release:arch:variant"),
 * an alias ("os/release/variant", the list comma-separated) or a path:
 * none of those separators, no space or control character. */
static const char *name_problem(const char *v)
{
	if (!*v)
		return "empty";
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == ',' || *p == ':' || *p == '/' || *p == '\\')
			return "',', ':', '/' or '\\' in it";
		if (*p <= 0x20 || *p == 0x7f)
			return "a space or control character in it";
	}
	return strlen(v) > 100 ? "longer than 100 characters" : NULL;
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

struct input {
	const char *path;
	char sha256[65];
	long long size;
	char *tmp;              /* its copy in TREE/.sstream/tmp */
};

/*
 * Copies IN into a temporary file under DOT, hashing it on the way into
 * its own hasher and, when not NULL, into FP (the fingerprint).
 */
static int copy_hash(const char *tree, struct input *in, struct ss_hasher *fp, struct ss_error *err)
{
	char tmpl[PATH_MAX], name[64];
	int dfd = ssi_dir_open(tree, SSI_PRIVATE_DIR "/tmp", strlen(SSI_PRIVATE_DIR "/tmp"), 1, err);
	if (dfd < 0)
		return SS_FATAL;
	int out = ssi_tmpfile_at(dfd, "add.", name, sizeof(name)), src = open(in->path, O_RDONLY | O_CLOEXEC);
	snprintf(tmpl, sizeof(tmpl), SSI_PRIVATE_DIR "/tmp/%s", name);
	struct ss_hasher *h = ss_hasher_new(SS_HASH_SHA256);
	char *buf = malloc(1 << 20);
	int rc = SS_OK;
	if (out < 0 || src < 0 || !h || !buf) {
		rc = ssi_err_sys(err, SS_FATAL, errno ? errno : ENOMEM, "cannot copy '%s'", in->path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(src, buf, 1 << 20);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = ssi_err_sys(err, SS_FATAL, errno, "cannot read '%s'", in->path);
			break;
		}
		if (n == 0)
			break;
		ss_hasher_update(h, buf, (size_t)n);
		if (fp)
			ss_hasher_update(fp, buf, (size_t)n);
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				rc = ssi_err_sys(err, SS_FATAL, errno, "cannot write '%s/%s'", tree, tmpl);
				goto out;
			}
			off += w;
		}
	}
	if (rc == SS_OK && (fchmod(out, 0644) < 0 || fsync(out) < 0))
		rc = ssi_err_sys(err, SS_FATAL, errno, "cannot write '%s/%s'", tree, tmpl);
	if (rc == SS_OK) {
		struct ss_digest d;
		ss_hasher_final(h, &d);
		memcpy(in->sha256, d.sha256, 65);
		in->size = d.size;
		in->tmp = strdup(tmpl);
	}
out:
	if (out >= 0) {
		close(out);
		if (rc != SS_OK)
			unlinkat(dfd, name, 0);
	}
	close(dfd);
	if (src >= 0)
		close(src);
	ss_hasher_free(h);
	free(buf);
	return rc;
}

static json_t *load_view(const char *tree, const char *rel);
static void alt_name(const char *rel, int which, char *out, size_t outsz);

/* The products file readers see now: streams/v1/images.json, or the
 * alternate the index names while a change of its product list is under
 * way (a run killed then leaves it so); an empty one when there is none. */
static json_t *load_products(const char *tree, struct ss_error *err)
{
	const char *rel = "streams/v1/images.json";
	json_t *view = load_view(tree, "streams/v1/index.json");
	const char *named = json_string_value(json_object_get(json_object_get(json_object_get(view, "index"), "images"), "path"));
	char alt[PATH_MAX];
	for (int w = 0; named && w < 2; w++) {
		alt_name(rel, w, alt, sizeof(alt));
		if (strcmp(named, alt) == 0)
			rel = alt;
	}
	char *data, *file = ss_join(tree, rel);
	json_decref(view);
	size_t len;
	struct ss_error e;
	if (!file) {
		ssi_err(err, SS_FATAL, "out of memory");
		return NULL;
	}
	json_t *root = NULL;
	if (ss_fetch(file, SS_METADATA_CAP, &data, &len, &e) != SS_OK) {
		if (e.sys_errno == ENOENT)
			root = json_pack("{s:s, s:s, s:s, s:{}}", "format", "products:1.0", "content_id", "images",
					 "datatype", "image-downloads", "products");
		else
			ssi_err(err, SS_FATAL, "%s", e.msg);
		free(file);
		return root;
	}
	root = ssi_json_parse(data, len, file, err);
	free(data);
	if (root && !json_is_object(json_object_get(root, "products"))) {
		json_decref(root);
		root = NULL;
		ssi_err(err, SS_FATAL, "invalid products '%s': no \"products\" object", file);
	}
	free(file);
	return root;
}

/* Temporary files of an atomic write (".NAME.tmp.XXXXXX") a killed run
 * left in streams/v1. */
static int stale_atomic_tmp(void *ud, const char *name)
{
	(void)ud;
	const char *t = strstr(name, ".tmp.");
	return !(name[0] == '.' && t && strlen(t + 5) == 6); /* keep what is not one */
}

/*
 * Locks TREE (.sstream/lock, created with .sstream/tmp, neither followed if
 * a symlink) and removes what killed runs left: every file of .sstream/tmp
 * (nothing in it survives a run under the lock), and the temporary files
 * of atomic writes in streams/v1.  DOT receives TREE/.sstream.
 */
static int lock_tree(const char *tree, char *dot, size_t dotsz, int *fd, struct ss_error *err)
{
	snprintf(dot, dotsz, "%s/" SSI_PRIVATE_DIR, tree);
	int rc = ssi_lock_tree(tree, fd, err);
	if (rc != SS_OK)
		return rc;
	int tfd = ssi_dir_open(tree, SSI_PRIVATE_DIR "/tmp", strlen(SSI_PRIVATE_DIR "/tmp"), 1, err);
	if (tfd < 0) {
		close(*fd);
		*fd = -1;
		return SS_FATAL;
	}
	close(tfd);
	if ((rc = ssi_clean_dir(tree, SSI_PRIVATE_DIR "/tmp", NULL, NULL, err)) == SS_OK)
		rc = ssi_clean_dir(tree, "streams/v1", stale_atomic_tmp, NULL, err);
	ssi_history_clean_locks(tree);
	if (rc != SS_OK) {
		close(*fd);
		*fd = -1;
	}
	return rc;
}

int ssi_publish_lock(const char *tree, int *fd, struct ss_error *err)
{
	char dot[PATH_MAX];
	return lock_tree(tree, dot, sizeof(dot), fd, err);
}

static const struct ss_publish_opts no_opts = { NULL, 0 };

/* Runs xdelta3 to encode NEW against BASE onto the file OUT_FD; 0 on
 * success.  Its output goes through our fd: xdelta3 never opens a path in
 * the tree for writing. */
static int run_xdelta3(const char *base, const char *new_file, int out_fd)
{
	char *const argv[] = { "xdelta3", "-e", "-c", "-q", "-s", (char *)base, (char *)new_file, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	pid_t pid;
	int rc = posix_spawnp(&pid, "xdelta3", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -1;
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/*
 * A squashfs.vcdiff item from the product's previous version with a
 * squashfs (FORMAT.md section 7), added to ITEMS; LXD uses it to update a
 * cached image cheaply.  No xdelta3, no previous squashfs: no delta.
 */
static int add_delta(const char *tree, json_t *versions, const char *version, json_t *items, const char *dir,
		     struct ss_error *err)
{
	json_t *root = json_object_get(items, "root.squashfs");
	const char *new_path = json_string_value(json_object_get(root, "path"));
	const char *base = NULL, *base_path = NULL, *vn;
	json_t *v;
	json_object_foreach(versions, vn, v) {
		if (strcmp(vn, version) >= 0 || (base && strcmp(vn, base) <= 0))
			continue;
		const char *p = json_string_value(json_object_get(json_object_get(json_object_get(v, "items"), "root.squashfs"), "path"));
		if (p) {
			base = vn;
			base_path = p;
		}
	}
	if (!new_path || !base)
		return SS_OK;
	if (ss_path_check(base_path, err) != SS_OK)
		return SS_FATAL;
	char rel[PATH_MAX], key[128], name[64], tmp[PATH_MAX];
	snprintf(rel, sizeof(rel), "%s/delta-%s.vcdiff", dir, base);
	snprintf(key, sizeof(key), "delta-%s.vcdiff", base);
	char *bf = ss_join(tree, base_path), *nf = ss_join(tree, new_path);
	int dfd = ssi_dir_open(tree, SSI_PRIVATE_DIR "/tmp", strlen(SSI_PRIVATE_DIR "/tmp"), 1, err);
	int fd = dfd >= 0 ? ssi_tmpfile_at(dfd, "delta.", name, sizeof(name)) : -1;
	snprintf(tmp, sizeof(tmp), SSI_PRIVATE_DIR "/tmp/%s", name);
	int rc = SS_OK;
	struct ss_error ue;
	if (dfd < 0) {
		rc = SS_FATAL;
	} else if (!bf || !nf || fd < 0) {
		rc = ssi_err_sys(err, SS_FATAL, fd < 0 ? errno : ENOMEM, "cannot make a delta in '%s'", tree);
	} else if (run_xdelta3(bf, nf, fd) != 0 || fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
		rc = ssi_err(err, SS_FATAL, "cannot make a delta from '%s' (is xdelta3 installed?)", base_path);
	}
	if (fd >= 0)
		close(fd);
	if (rc == SS_OK) {
		struct ss_digest d;
		char *full = ss_join(tree, tmp);
		if (!full)
			rc = ssi_err(err, SS_FATAL, "out of memory");
		else if ((rc = ss_hash_file(full, SS_HASH_SHA256, &d, err)) == SS_OK &&
			 (rc = ssi_safe_rename(tree, tmp, rel, err)) == SS_OK)
			json_object_set_new(items, key,
					    json_pack("{s:s, s:s, s:I, s:s, s:s}", "ftype", "squashfs.vcdiff", "path", rel,
						      "size", (json_int_t)d.size, "sha256", d.sha256, "delta_base", base));
		free(full);
	}
	if (rc != SS_OK && fd >= 0)
		ssi_safe_unlink(tree, tmp, 0, NULL, &ue);
	if (dfd >= 0)
		close(dfd);
	free(bf);
	free(nf);
	return rc;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The product names of a products document, sorted: an index lists them
 * in the same order whatever order the products were added in (jansson's
 * object order is not stable across insertions). */
static json_t *product_names(json_t *doc)
{
	json_t *prods = json_object_get(doc, "products"), *names = json_array(), *p;
	size_t n = json_object_size(prods), i = 0;
	const char **v = calloc(n ? n : 1, sizeof(*v)), *pn;
	if (!v || !names) {
		free(v);
		json_decref(names);
		return NULL;
	}
	json_object_foreach(prods, pn, p)
		v[i++] = pn;
	qsort(v, n, sizeof(*v), cmp_name);
	for (i = 0; i < n; i++)
		json_array_append_new(names, json_string(v[i]));
	free(v);
	return names;
}

static json_t *index_for(json_t *products)
{
	json_t *names = product_names(products);
	if (!names)
		return NULL;
	return json_pack("{s:s, s:{s:{s:s, s:s, s:s, s:o}}}", "format", "index:1.0", "index", "images",
			 "datatype", "image-downloads", "format", "products:1.0", "path",
			 "streams/v1/images.json", "products", names);
}

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
static void sjson_name(const char *rel, char *out, size_t outsz)
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

/* TEXT clearsigned at SREL, unless SREL already signs exactly TEXT: a
 * signature is not free. */
static int sign_put(const char *key, const char *tree, const char *srel, const char *text, size_t len,
		    int *changed, struct ss_error *err)
{
	size_t blen;
	char *body = read_body(tree, srel, &blen), *signed_text;
	int same = body && blen == len && memcmp(body, text, len) == 0;
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

/* The reader-visible index at REL, parsed; NULL when none or unreadable. */
static json_t *load_view(const char *tree, const char *rel)
{
	size_t len;
	char *body = read_body(tree, rel, &len);
	struct ss_error e;
	json_t *v = body ? ssi_json_parse(body, len, rel, &e) : NULL;
	free(body);
	if (v && !json_is_object(json_object_get(v, "index"))) {
		json_decref(v);
		v = NULL;
	}
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

static int view_names(json_t *view, const char *path)
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

/* The two alternate names of REL ("streams/v1/x.json" ->
 * "streams/v1/.x.a.json", ".x.b.json") a products file is staged at when
 * its product list changes. */
static void alt_name(const char *rel, int which, char *out, size_t outsz)
{
	const char *slash = strrchr(rel, '/');
	size_t dl = slash ? (size_t)(slash - rel + 1) : 0, n = strlen(rel);
	snprintf(out, outsz, "%.*s.%.*s.%c.json", (int)dl, rel, (int)(n - dl > 5 ? n - dl - 5 : n - dl), rel + dl,
		 which ? 'b' : 'a');
}

/* Writes INDEX as index.sjson (paths to the .sjson products, signed with
 * KEY) when KEY, then as index.json: each one rename. */
static int put_index(const char *key, const char *tree, json_t *index, int *changed, struct ss_error *err)
{
	int rc = SS_OK;
	size_t len;
	if (key) {
		json_t *sidx = json_deep_copy(index);
		const char *cid;
		json_t *e;
		json_object_foreach(json_object_get(sidx, "index"), cid, e) {
			char spath[PATH_MAX];
			const char *p = json_string_value(json_object_get(e, "path"));
			sjson_name(p ? p : "", spath, sizeof(spath));
			json_object_set_new(e, "path", json_string(spath));
		}
		char *text = sidx ? ssi_json_dump(sidx, &len) : NULL;
		rc = text ? sign_put(key, tree, "streams/v1/index.sjson", text, len, changed, err)
			  : ssi_err(err, SS_FATAL, "out of memory");
		free(text);
		json_decref(sidx);
		if (rc != SS_OK)
			return rc;
	}
	char *text = ssi_json_dump(index, &len);
	rc = text ? put(tree, "streams/v1/index.json", text, len, changed, err) : ssi_err(err, SS_FATAL, "out of memory");
	free(text);
	return rc;
}

/* A products document at REL: its JSON, and its .sjson (given, or signed
 * with KEY). */
static int put_pdoc(const char *key, const char *tree, const struct pdoc *d, const char *rel, int *changed,
		    struct ss_error *err)
{
	int rc = put(tree, rel, d->text, d->len, changed, err);
	char srel[PATH_MAX];
	sjson_name(rel, srel, sizeof(srel));
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
		json_t *vj = load_view(tree, "streams/v1/index.json");
		json_t *vs = sjson_view ? load_view(tree, "streams/v1/index.sjson") : NULL;
		char srel[PATH_MAX];
		sjson_name(d->rel, srel, sizeof(srel));
		if (view_allows(vj, d->rel, d->products) && view_allows(vs, srel, d->products)) {
			rc = put_pdoc(key, tree, d, d->rel, changed, err);
		} else {
			char alt[PATH_MAX], salt[PATH_MAX];
			for (int w = 0; w < 2; w++) {
				alt_name(d->rel, w, alt, sizeof(alt));
				sjson_name(alt, salt, sizeof(salt));
				if (!view_names(vj, alt) && !view_names(vs, salt))
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
	if (rc == SS_OK)
		rc = ibytes ? put(tree, "streams/v1/index.json", ibytes, ilen, changed, err)
			    : put_index(key, tree, index, changed, err);
	if (rc != SS_OK)
		return rc;
	/* alternates no index names any more (of this run or a killed one) */
	json_t *vj = load_view(tree, "streams/v1/index.json"), *vs = load_view(tree, "streams/v1/index.sjson");
	for (size_t i = 0; i < n; i++)
		for (int w = 0; w < 2; w++) {
			char alt[PATH_MAX], salt[PATH_MAX];
			alt_name(docs[i].rel, w, alt, sizeof(alt));
			sjson_name(alt, salt, sizeof(salt));
			struct ss_error e;
			if (!view_names(vj, alt))
				ssi_safe_unlink(tree, alt, 0, NULL, &e);
			if (!view_names(vs, salt))
				ssi_safe_unlink(tree, salt, 0, NULL, &e);
		}
	json_decref(vj);
	json_decref(vs);
	return SS_OK;
}

/* Publishes the generated documents DOCS (tree-relative path -> products
 * document) and INDEX. */
static int write_tree_docs(const struct ss_publish_opts *po, const char *tree, json_t *docs, json_t *index,
			   int *changed, struct ss_error *err)
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
		rc = put_docs(po->sign_key, tree, pd, n, index, NULL, 0, NULL, 0, &any, err);
	for (size_t k = 0; pd && k < n; k++)
		free((char *)pd[k].text);
	free(pd);
	*changed |= any;
	return rc;
}

int ssi_put_tree_docs(const char *tree, size_t n, const char *const *rels, const char *const *data,
		      const size_t *lens, int *changed, struct ss_error *err)
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
		} else if (strcmp(rels[i], "streams/v1/index.sjson") == 0) {
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
		json_t *doc = cid ? ssi_json_parse(data[i], lens[i], rels[i], err) : NULL;
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
		sjson_name(rels[i], srel, sizeof(srel));
		for (size_t j = 0; j < n; j++)
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
			sjson_name(pd[k].rel, srel, sizeof(srel));
			paired |= strcmp(srel, rels[i]) == 0;
		}
		if (!paired)
			rc = put(tree, rels[i], data[i], lens[i], changed, err);
	}
	if (rc == SS_OK && !index)
		rc = ssi_err(err, SS_FATAL, "history of '%s': the record has no streams/v1/index.json", tree);
	if (rc == SS_OK)
		rc = put_docs(NULL, tree, pd, np, index, ibytes, ilen, sibytes, silen, changed, err);
	for (size_t i = 0; parsed && i < np; i++)
		json_decref(parsed[i]);
	free(parsed);
	free(pd);
	json_decref(index);
	return rc;
}

/* Writes images.json, then the index. */
static int write_streams(const struct ss_publish_opts *po, const char *tree, json_t *products, int *changed, struct ss_error *err)
{
	json_t *index = index_for(products), *docs = json_object();
	json_object_set(docs, "streams/v1/images.json", products);
	int rc = index ? write_tree_docs(po, tree, docs, index, changed, err) : ssi_err(err, SS_FATAL, "out of memory");
	json_decref(docs);
	json_decref(index);
	return rc;
}

int ss_publish_import(const char *tree, const char *items_file, const struct ss_publish_opts *po, int *changed,
		      struct ss_error *err)
{
	if (!po)
		po = &no_opts;
	struct ss_error local;
	if (!err)
		err = &local;
	ss_error_clear(err);
	*changed = 0;
	char *data;
	size_t len;
	if (ss_fetch(items_file, SS_METADATA_CAP, &data, &len, err) != SS_OK)
		return err->code;
	json_error_t je;
	json_t *list = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	free(data);
	if (!json_is_array(list)) {
		json_decref(list);
		if (list)
			return ssi_err(err, SS_FATAL, "cannot import '%s': not a JSON list of items", items_file);
		return ssi_err(err, SS_FATAL, "cannot import '%s': line %d column %d: %s", items_file, je.line,
			       je.column, je.text);
	}
	static const char *const names[] = { "content_id", "product_name", "version_name", "item_name" };
	json_t *docs = json_object(), *index = NULL;
	char dot[PATH_MAX];
	int lock_fd = -1, rc = SS_OK;
	size_t i;
	json_t *rec;
	json_array_foreach(list, i, rec) {
		const char *key[4];
		for (int k = 0; k < 4; k++)
			if (!(key[k] = json_string_value(json_object_get(rec, names[k])))) {
				rc = ssi_err(err, SS_FATAL, "cannot import '%s': item %zu has no %s", items_file, i, names[k]);
				goto out;
			}
		const char *path = json_string_value(json_object_get(rec, "path"));
		struct ss_error pe;
		if (path && ss_path_check(path, &pe) != SS_OK) {
			rc = ssi_err(err, SS_FATAL, "cannot import '%s': item %zu: %s", items_file, i, pe.msg);
			goto out;
		}
		char rel[PATH_MAX];
		snprintf(rel, sizeof(rel), "streams/v1/%s.json", key[0]);
		if (ss_path_check(rel, &pe) != SS_OK || strchr(key[0], '/')) {
			rc = ssi_err(err, SS_FATAL, "cannot import '%s': content id '%s' is not a file name", items_file, key[0]);
			goto out;
		}
		/* its file would be one of the tree's own documents: the index,
		 * the LXD images.json, or the alternates of a switch */
		if (strcmp(key[0], "index") == 0 || strcmp(key[0], "images") == 0 || key[0][0] == '.') {
			rc = ssi_err(err, SS_FATAL,
				     "cannot import '%s': content id '%s' would overwrite the tree's own '%s' (choose another content id)",
				     items_file, key[0], key[0][0] == '.' ? "streams/v1/.*" : rel);
			goto out;
		}
		json_t *doc = json_object_get(docs, rel);
		if (!doc) {
			doc = json_pack("{s:s, s:s, s:s, s:{}}", "format", "products:1.0", "content_id", key[0],
					"datatype", path ? "image-downloads" : "image-ids", "products");
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
	}
	if ((rc = lock_tree(tree, dot, sizeof(dot), &lock_fd, err)) != SS_OK)
		goto out;
	/* the index keeps its other entries */
	char *ifile = ss_join(tree, "streams/v1/index.json");
	struct ss_error ie;
	char *idata;
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
	const char *rel;
	json_t *doc;
	/* an entry of another content id already naming one of our files */
	json_object_foreach(docs, rel, doc) {
		const char *cid = json_string_value(json_object_get(doc, "content_id")), *ocid;
		json_t *e;
		json_object_foreach(json_object_get(index, "index"), ocid, e) {
			const char *p = json_string_value(json_object_get(e, "path"));
			if (p && strcmp(p, rel) == 0 && strcmp(ocid, cid) != 0) {
				rc = ssi_err(err, SS_FATAL, "cannot import '%s': '%s' is the products file of content id '%s' already",
					     items_file, rel, ocid);
				goto out;
			}
		}
	}
	json_t *condensed = json_object();
	json_object_foreach(docs, rel, doc) {
		/* condensed as upstream json2streams writes it */
		struct ss_error pe;
		struct ss_products *p = ssi_products_from_json(json_incref(doc), rel, NULL, &pe);
		size_t dlen;
		char *text = p ? ss_products_dump(p, SS_WRITE_CONDENSE, &dlen) : NULL;
		json_t *c = text ? json_loadb(text, dlen, 0, NULL) : NULL;
		free(text);
		ss_products_free(p);
		json_object_set_new(condensed, rel, c ? c : json_incref(doc));
		json_t *pnames = product_names(doc);
		if (!pnames) {
			rc = ssi_err(err, SS_FATAL, "out of memory");
			break;
		}
		json_object_set_new(json_object_get(index, "index"), json_string_value(json_object_get(doc, "content_id")),
				    json_pack("{s:s, s:s, s:s, s:o}", "format", "products:1.0", "datatype",
					      json_string_value(json_object_get(doc, "datatype")), "path", rel,
					      "products", pnames));
	}
	if (rc == SS_OK)
		rc = write_tree_docs(po, tree, condensed, index, changed, err);
	json_decref(condensed);
out:
	json_decref(index);
	json_decref(docs);
	json_decref(list);
	if (lock_fd >= 0)
		close(lock_fd);
	return rc;
}

/* Whether PRODUCTS already lists PATH with this sha256. */
static int listed(json_t *products, const char *path, const char *sha256)
{
	const char *pn, *vn, *in;
	json_t *p, *v, *it;
	json_object_foreach(json_object_get(products, "products"), pn, p)
		json_object_foreach(json_object_get(p, "versions"), vn, v)
			json_object_foreach(json_object_get(v, "items"), in, it) {
				const char *ip = json_string_value(json_object_get(it, "path"));
				const char *is = json_string_value(json_object_get(it, "sha256"));
				if (ip && is && strcmp(ip, path) == 0 && strcmp(is, sha256) == 0)
					return 1;
			}
	return 0;
}

/* ".xz", ".zst", ".gz", ".bz2" or "" after a tarball's name: what its
 * first bytes say, so a stored file is named for what it is. */
static const char *comp_ext(const char *path)
{
	unsigned char m[6] = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, m, sizeof(m)) : -1;
	if (fd >= 0)
		close(fd);
	if (n == 6 && memcmp(m, "\xfd" "7zXZ\0", 6) == 0)
		return ".xz";
	if (n >= 4 && memcmp(m, "\x28\xb5\x2f\xfd", 4) == 0)
		return ".zst";
	if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b)
		return ".gz";
	if (n >= 3 && memcmp(m, "BZh", 3) == 0)
		return ".bz2";
	return "";
}

/* The items of one version, as LXD and Incus want them; the files are
 * named as images.linuxcontainers.org names them (lxd.tar.xz,
 * rootfs.squashfs, rootfs.tar.zst, disk.qcow2), by their content. */
static json_t *image_items(int kind, int unified, const struct input *meta, const struct input *root,
			   const char *fp, const char *dir)
{
	char mpath[PATH_MAX], rpath[PATH_MAX];
	json_t *items = json_object();
	if (unified) {
		snprintf(mpath, sizeof(mpath), "%s/image.tar%s", dir, comp_ext(meta->path));
		json_t *it = json_pack("{s:s, s:s, s:I, s:s}", "ftype", "lxd_combined.tar.gz", "path", mpath,
				       "size", (json_int_t)meta->size, "sha256", meta->sha256);
		json_object_set_new(items, "lxd_combined.tar.gz", it);
		json_t *inc = json_deep_copy(it);
		json_object_set_new(inc, "ftype", json_string("incus_combined.tar.gz"));
		json_object_set_new(items, "incus_combined.tar.gz", inc);
		return items;
	}
	static const struct {
		const char *item, *ftype, *file, *field;
	} kinds[] = {
		[SS_ROOT_SQUASHFS] = { "root.squashfs", "squashfs", "rootfs.squashfs", "combined_squashfs_sha256" },
		[SS_ROOT_TARBALL] = { "root.tar.xz", "root.tar.xz", "rootfs.tar", "combined_rootxz_sha256" },
		[SS_ROOT_QCOW2] = { "disk.qcow2", "disk-kvm.img", "disk.qcow2", "combined_disk-kvm-img_sha256" },
	};
	snprintf(mpath, sizeof(mpath), "%s/lxd.tar%s", dir, comp_ext(meta->path));
	snprintf(rpath, sizeof(rpath), "%s/%s%s", dir, kinds[kind].file,
		 kind == SS_ROOT_TARBALL ? comp_ext(root->path) : "");
	json_t *m = json_pack("{s:s, s:s, s:I, s:s, s:s}", "ftype", "lxd.tar.xz", "path", mpath, "size",
			      (json_int_t)meta->size, "sha256", meta->sha256, kinds[kind].field, fp);
	if (kind == SS_ROOT_TARBALL) /* what LXD before 4.x reads */
		json_object_set_new(m, "combined_sha256", json_string(fp));
	json_t *inc = json_deep_copy(m);
	json_object_set_new(inc, "ftype", json_string("incus.tar.xz"));
	json_object_set_new(items, "lxd.tar.xz", m);
	json_object_set_new(items, "incus.tar.xz", inc);
	json_object_set_new(items, kinds[kind].item,
			    json_pack("{s:s, s:s, s:I, s:s}", "ftype", kinds[kind].ftype, "path", rpath, "size",
				      (json_int_t)root->size, "sha256", root->sha256));
	return items;
}

/* Whether OLD holds the items of NEW with the same content, whatever the
 * paths (a tree published before files were named by compression). */
static int same_content(json_t *old, json_t *new_items)
{
	const char *k;
	json_t *it;
	json_object_foreach(new_items, k, it) {
		json_t *o = json_object_get(old, k);
		if (!o || !json_equal(json_object_get(o, "sha256"), json_object_get(it, "sha256")) ||
		    !json_equal(json_object_get(o, "ftype"), json_object_get(it, "ftype")))
			return 0;
	}
	return 1;
}

int ss_publish_add(const char *tree, const char *const *files, int nfiles, const char *const *aliases,
		   int naliases, const struct ss_publish_opts *po, char fp_out[65], int *changed,
		   struct ss_error *err)
{
	if (!po)
		po = &no_opts;
	struct ss_error local;
	if (!err)
		err = &local;
	ss_error_clear(err);
	*changed = 0;
	if (nfiles < 1 || nfiles > 2)
		return ssi_err(err, SS_USAGE, "an image is one unified tarball, or a metadata tarball and a root file");
	/* Which file holds metadata.yaml, and what the other one is. */
	struct input in[2] = { { .path = files[0] }, { .path = nfiles > 1 ? files[1] : NULL } };
	int unified = 0, kind = SS_ROOT_UNKNOWN;
	struct ss_image_meta *meta = ss_image_meta_read(in[0].path, nfiles == 1 ? &unified : NULL, err);
	if (!meta && nfiles == 2) {
		struct ss_error e2;
		ss_error_clear(&e2);
		meta = ss_image_meta_read(in[1].path, NULL, &e2);
		if (meta) {
			struct input t = in[0];
			in[0] = in[1];
			in[1] = t;
		}
	}
	if (!meta)
		return err->code ? err->code : SS_FATAL;
	ss_error_clear(err);
	if (nfiles == 1 && !unified) {
		ss_image_meta_free(meta);
		return ssi_err(err, SS_FATAL, "invalid image '%s': no rootfs/ (a split image needs its root file too)",
			       in[0].path);
	}
	if (nfiles == 2 && (kind = ss_image_root_kind(in[1].path, err)) == SS_ROOT_UNKNOWN) {
		ss_image_meta_free(meta);
		return SS_FATAL;
	}
	/* what metadata.yaml says becomes names, keys and paths: checked
	 * before anything is copied, so that what we write passes
	 * sstream-verify and the clients list it */
	const char *raw_arch = ss_image_meta_architecture(meta);
	if (!ssi_lxd_arch_known(raw_arch)) {
		int frc = ssi_err(err, SS_FATAL, "invalid image '%s': architecture '%s' is unknown to LXD and Incus",
				  in[0].path, raw_arch ? raw_arch : "");
		ss_image_meta_free(meta);
		return frc;
	}
	static const char *const named[] = { "os", "release", "variant" };
	for (int i = 0; i < 3; i++) {
		const char *v = ss_image_meta_property(meta, named[i]), *why = v ? name_problem(v) : NULL;
		if (why) {
			int frc = ssi_err(err, SS_FATAL, "invalid image '%s': properties.%s '%s': %s", in[0].path, named[i],
					  v, why);
			ss_image_meta_free(meta);
			return frc;
		}
	}
	for (int i = 0; i < naliases; i++) {
		/* the product's aliases are one comma-separated list */
		int bad = !*aliases[i];
		for (const unsigned char *p = (const unsigned char *)aliases[i]; *p; p++)
			bad |= *p == ',' || *p <= 0x20 || *p == 0x7f;
		if (bad) {
			ss_image_meta_free(meta);
			return ssi_err(err, SS_USAGE, "alias '%s': empty, or a ',', space or control character in it",
				       aliases[i]);
		}
	}
	long long cdate = ss_image_meta_creation_date(meta);
	time_t created = (time_t)cdate;
	struct tm tm;
	char version[32];
	/* the version key's first 8 characters must be a date YYYYMMDD */
	if (cdate < 0 || cdate > 253402300799LL || !gmtime_r(&created, &tm) ||
	    strftime(version, sizeof(version), "%Y%m%d_%H%M", &tm) != 13) {
		ss_image_meta_free(meta);
		return ssi_err(err, SS_FATAL, "invalid image '%s': creation_date %lld is not a time between 1970 and 9999",
			       in[0].path, cdate);
	}
	char dot[PATH_MAX];
	int lock_fd = -1, rc;
	json_t *products = NULL;
	struct ss_hasher *fph = ss_hasher_new(SS_HASH_SHA256);
	if ((rc = lock_tree(tree, dot, sizeof(dot), &lock_fd, err)) != SS_OK || !fph)
		goto out;
	/* a key that cannot sign is found before any file is placed */
	if (po->sign_key) {
		char *probe;
		size_t plen;
		if ((rc = ss_clearsign(po->sign_key, "{}\n", 3, &probe, &plen, err)) != SS_OK)
			goto out;
		free(probe);
	}
	if ((rc = copy_hash(tree, &in[0], fph, err)) != SS_OK ||
	    (nfiles == 2 && (rc = copy_hash(tree, &in[1], fph, err)) != SS_OK))
		goto out;
	struct ss_digest fpd;
	ss_hasher_final(fph, &fpd);
	memcpy(fp_out, fpd.sha256, 65);

	/* product and version from metadata.yaml */
	char os[128], release[128], variant[128], product[512], dir[128], alias[1024];
	const char *arch = ssi_lxd_arch(ss_image_meta_architecture(meta));
	snprintf(os, sizeof(os), "%s", ss_image_meta_property(meta, "os") ? ss_image_meta_property(meta, "os") : "unknown");
	snprintf(release, sizeof(release), "%s",
		 ss_image_meta_property(meta, "release") ? ss_image_meta_property(meta, "release") : "unknown");
	snprintf(variant, sizeof(variant), "%s",
		 ss_image_meta_property(meta, "variant") ? ss_image_meta_property(meta, "variant") : "default");
	snprintf(product, sizeof(product), "%s:%s:%s:%s", os, release, arch, variant);
	lower(product);
	snprintf(dir, sizeof(dir), "images/%s", fp_out);
	/* as images.linuxcontainers.org: the default variant is also
	 * {os}/{release} ("alpine/3.17/default,alpine/3.17") */
	int n = snprintf(alias, sizeof(alias), "%s/%s/%s", os, release, variant);
	if (strcasecmp(variant, "default") == 0)
		n += snprintf(alias + n, sizeof(alias) - (size_t)n, ",%s/%s", os, release);
	lower(alias);
	for (int i = 0; i < naliases && n < (int)sizeof(alias); i++)
		n += snprintf(alias + n, sizeof(alias) - (size_t)n, ",%s", aliases[i]);

	/* files into place, under their content-derived names */
	if (!(products = load_products(tree, err))) {
		rc = err->code ? err->code : SS_FATAL;
		goto out;
	}
	json_t *items = image_items(kind, unified, &in[0], &in[1], fp_out, dir);
	int placed = 0;
	json_t *prev = json_object_get(
		json_object_get(json_object_get(json_object_get(json_object_get(products, "products"), product), "versions"),
				version),
		"items");
	int republished = prev && same_content(prev, items);
	for (int i = 0; i < nfiles; i++) {
		const char *name = NULL, *k;
		json_t *it;
		json_object_foreach(items, k, it) {
			const char *sha = json_string_value(json_object_get(it, "sha256"));
			if (sha && strcmp(sha, in[i].sha256) == 0)
				name = json_string_value(json_object_get(it, "path"));
		}
		char *dest = name ? ss_join(tree, name) : NULL;
		struct stat st;
		struct ss_error ue;
		if (republished ||
		    (dest && lstat(dest, &st) == 0 && S_ISREG(st.st_mode) && listed(products, name, in[i].sha256))) {
			/* already published with this content: leave it untouched */
			ssi_safe_unlink(tree, in[i].tmp, 0, NULL, &ue);
		} else if (!dest || (rc = ssi_safe_rename(tree, in[i].tmp, name, err)) != SS_OK) {
			if (!dest)
				rc = ssi_err(err, SS_FATAL, "cannot place '%s'", in[i].path);
			free(dest);
			json_decref(items);
			goto out;
		} else {
			placed++;
		}
		free(dest);
		free(in[i].tmp);
		in[i].tmp = NULL;
	}
	json_t *prods = json_object_get(products, "products");
	json_t *prod = json_object_get(prods, product);
	if (!prod) {
		prod = json_object();
		json_object_set_new(prods, product, prod);
		json_object_set_new(prod, "versions", json_object());
	}
	json_object_set_new(prod, "arch", json_string(arch));
	json_object_set_new(prod, "os", json_string(os));
	json_object_set_new(prod, "release", json_string(release));
	const char *title = ss_image_meta_property(meta, "release_title");
	json_object_set_new(prod, "release_title", json_string(title ? title : release));
	json_object_set_new(prod, "variant", json_string(variant));
	/* aliases accumulate: the ones the product had, then the new ones */
	const char *had = json_string_value(json_object_get(prod, "aliases"));
	char merged[2048];
	snprintf(merged, sizeof(merged), "%s", had ? had : "");
	for (char *a = strtok(alias, ","); a; a = strtok(NULL, ",")) {
		if (ssi_list_has(merged, a))
			continue;
		size_t ml = strlen(merged);
		snprintf(merged + ml, sizeof(merged) - ml, "%s%s", ml ? "," : "", a);
	}
	json_object_set_new(prod, "aliases", json_string(merged));
	if (!json_object_get(prod, "requirements"))
		json_object_set_new(prod, "requirements", json_object());
	if (!json_object_get(prod, "lxd_requirements"))
		json_object_set_new(prod, "lxd_requirements", json_object());
	json_t *versions = json_object_get(prod, "versions");
	json_t *ver = json_object_get(versions, version);
	json_t *olditems = json_object_get(ver, "items");
	if (po->delta && kind == SS_ROOT_SQUASHFS && !olditems &&
	    (rc = add_delta(tree, versions, version, items, dir, err)) != SS_OK) {
		json_decref(items);
		goto out;
	}
	if (olditems && !json_equal(olditems, items) && !republished) {
		/* another image of the same minute: a VM beside a container, say */
		const char *k;
		json_t *it;
		json_object_foreach(items, k, it) {
			json_t *same = json_object_get(olditems, k);
			if (same && !json_equal(same, it)) {
				json_decref(items);
				rc = ssi_err(err, SS_FATAL, "version %s of %s already holds a different '%s'", version,
					     product, k);
				goto out;
			}
			json_object_set(olditems, k, it);
		}
		json_decref(items);
	} else if (!olditems) {
		json_object_set_new(versions, version, json_pack("{s:o}", "items", items));
	} else {
		json_decref(items);
	}
	rc = write_streams(po, tree, products, changed, err);
	if (rc == SS_FATAL && placed && err->sys_errno) { /* an I/O error, not a refusal */
		/* the files are in place, not named by any document: the tree
		 * is consistent but not untouched (disk full, say) */
		char why[sizeof(err->msg)];
		snprintf(why, sizeof(why), "%s", err->msg);
		rc = ssi_err(err, SS_PARTIAL,
			     "the image's files are in place, but the streams were not written (they still list what they listed before): %s",
			     why);
	}
out:
	for (int i = 0; i < 2; i++) {
		struct ss_error ue;
		if (in[i].tmp)
			ssi_safe_unlink(tree, in[i].tmp, 0, NULL, &ue);
		free(in[i].tmp);
	}
	json_decref(products);
	ss_hasher_free(fph);
	ss_image_meta_free(meta);
	if (lock_fd >= 0)
		close(lock_fd);
	return rc;
}

/* The fingerprint of a version's image: a combined field or a unified sha256. */
static const char *version_fp(json_t *items)
{
	const char *k;
	json_t *it;
	json_object_foreach(items, k, it) {
		const char *ft = json_string_value(json_object_get(it, "ftype"));
		if (ft && strstr(ft, "_combined."))
			return json_string_value(json_object_get(it, "sha256"));
		const char *kk;
		json_t *v;
		json_object_foreach(it, kk, v)
			if (strncmp(kk, "combined_", 9) == 0 && json_is_string(v))
				return json_string_value(v);
	}
	return NULL;
}

int ss_publish_remove(const char *tree, const char *what, const struct ss_publish_opts *po, int *removed,
		      struct ss_error *err)
{
	if (!po)
		po = &no_opts;
	struct ss_error local;
	if (!err)
		err = &local;
	ss_error_clear(err);
	*removed = 0;
	char dot[PATH_MAX];
	int lock_fd = -1, changed = 0;
	int rc = lock_tree(tree, dot, sizeof(dot), &lock_fd, err);
	json_t *products = rc == SS_OK ? load_products(tree, err) : NULL;
	if (!products) {
		rc = rc != SS_OK ? rc : (err->code ? err->code : SS_FATAL);
		goto out;
	}
	json_t *prods = json_object_get(products, "products");
	const char *pn;
	json_t *prod;
	void *tmp;
	json_object_foreach_safe(prods, tmp, pn, prod) {
		int by_alias = ssi_list_has(json_string_value(json_object_get(prod, "aliases")), what);
		json_t *versions = json_object_get(prod, "versions");
		const char *vn;
		json_t *ver;
		void *tmp2;
		json_object_foreach_safe(versions, tmp2, vn, ver) {
			const char *fp = version_fp(json_object_get(ver, "items"));
			if (by_alias || (fp && strlen(what) >= 4 && strncmp(fp, what, strlen(what)) == 0)) {
				json_object_del(versions, vn);
				(*removed)++;
			}
		}
		if (json_object_size(versions) == 0)
			json_object_del(prods, pn);
	}
	/* Written even when nothing matched: a run killed in the middle of a
	 * switch (an index naming an alternate) is finished; otherwise this
	 * writes nothing. */
	json_t *view = *removed ? NULL : load_view(tree, "streams/v1/index.json");
	if (*removed || view)
		rc = write_streams(po, tree, products, &changed, err);
	json_decref(view);
	if (rc == SS_OK && *removed == 0)
		rc = ssi_err(err, SS_FATAL, "'%s': no image has this fingerprint or alias", what);
out:
	json_decref(products);
	if (lock_fd >= 0)
		close(lock_fd);
	return rc;
}

int ss_image_list(const struct ss_tree *t, void (*cb)(void *ud, const struct ss_image_info *), void *ud)
{
	for (size_t i = 0; i < ss_tree_nproducts(t); i++) {
		const struct ss_products *p = ss_tree_products(t, i);
		const char *pn;
		json_t *prod;
		json_object_foreach(json_object_get(p->root, "products"), pn, prod) {
			const char *vn;
			json_t *ver;
			json_object_foreach(json_object_get(prod, "versions"), vn, ver) {
				json_t *items = json_object_get(ver, "items");
				const char *k;
				json_t *it;
				/* The first root item of each type, in document order:
				 * a metadata item has one combined fingerprint per type,
				 * so a second root of a type would only repeat it (and
				 * pairing every metadata with every root is quadratic). */
				json_t *roots[3];
				size_t nroots = 0;
				json_object_foreach(items, k, it) {
					const char *rft = json_string_value(json_object_get(it, "ftype"));
					if (!rft || (strcmp(rft, "squashfs") && strcmp(rft, "root.tar.xz") &&
						     strcmp(rft, "disk-kvm.img")))
						continue;
					size_t r = 0;
					while (r < nroots && strcmp(json_string_value(json_object_get(roots[r], "ftype")), rft))
						r++;
					if (r == nroots)
						roots[nroots++] = it;
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
						json_t *root = roots[r];
						const char *rft = json_string_value(json_object_get(root, "ftype"));
						char field[64];
						snprintf(field, sizeof(field), "combined_%s_sha256",
							 strcmp(rft, "squashfs") == 0 ? "squashfs"
							 : strcmp(rft, "root.tar.xz") == 0 ? "rootxz" : "disk-kvm-img");
						info.fingerprint = json_string_value(json_object_get(it, field));
						info.size = msize + json_integer_value(json_object_get(root, "size"));
						info.type = strcmp(rft, "disk-kvm.img") == 0 ? "VIRTUAL-MACHINE" : "CONTAINER";
						if (info.fingerprint)
							cb(ud, &info);
					}
				}
			}
		}
	}
	return SS_OK;
}

/* ---- prune ------------------------------------------------------------------ */

struct pending {
	char **path;
	long long *since;
	size_t n, alloc;
};

static int pending_add(struct pending *p, const char *path, long long since)
{
	if (p->n == p->alloc) {
		size_t na = p->alloc ? 2 * p->alloc : 32;
		char **np = realloc(p->path, na * sizeof(*np));
		long long *ns = np ? realloc(p->since, na * sizeof(*ns)) : NULL;
		if (np)
			p->path = np;
		if (!ns)
			return -1;
		p->since = ns;
		p->alloc = na;
	}
	if (!(p->path[p->n] = strdup(path)))
		return -1;
	p->since[p->n++] = since;
	return 0;
}

static long long pending_since(const struct pending *p, const char *path)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->path[i], path) == 0)
			return p->since[i];
	return -1;
}

static void pending_free(struct pending *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->path[i]);
	free(p->path);
	free(p->since);
}

/* Every file path any item of PRODUCTS names. */
static int referenced(json_t *products, const char *path)
{
	const char *pn, *vn, *in;
	json_t *p, *v, *it;
	json_object_foreach(json_object_get(products, "products"), pn, p)
		json_object_foreach(json_object_get(p, "versions"), vn, v)
			json_object_foreach(json_object_get(v, "items"), in, it) {
				const char *ip = json_string_value(json_object_get(it, "path"));
				if (ip && strcmp(ip, path) == 0)
					return 1;
			}
	return 0;
}

static int cmp_desc(const void *a, const void *b)
{
	return -strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Files under TREE/REL (the directory DFD, owned here), tree-relative,
 * appended to OUT.  Directories are entered through their fd, never
 * through a symlink; a symlink below is listed as a file (removing it
 * removes the link, not what it points at). */
static void list_images_at(int dfd, const char *rel, struct pending *out)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char sub[PATH_MAX];
		if (snprintf(sub, sizeof(sub), "%s/%s", rel, e->d_name) >= (int)sizeof(sub))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int sfd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sfd >= 0)
				list_images_at(sfd, sub, out);
		} else {
			pending_add(out, sub, 0);
		}
	}
	closedir(d);
}

/* Files under TREE/images; SS_FATAL when images/ is a symlink. */
static int list_images(const char *tree, struct pending *out, struct ss_error *err)
{
	struct ss_error e;
	int dfd = ssi_dir_open(tree, "images", 6, 0, &e);
	if (dfd < 0) {
		if (e.sys_errno == ENOENT)
			return SS_OK;
		if (err)
			*err = e;
		return SS_FATAL;
	}
	list_images_at(dfd, "images", out);
	return SS_OK;
}

int ss_publish_prune(const char *tree, int keep, long long grace, int dry_run,
		     const struct ss_publish_opts *po, void (*cb)(void *ud, const char *what, const char *path),
		     void *ud, struct ss_error *err)
{
	if (!po)
		po = &no_opts;
	struct ss_error local;
	if (!err)
		err = &local;
	ss_error_clear(err);
	char dot[PATH_MAX], state[PATH_MAX + 16];
	int lock_fd = -1, changed = 0, rc = SS_OK;
	struct pending old = { 0 }, files = { 0 }, next = { 0 };
	json_t *products = NULL;
	if (!dry_run && (rc = lock_tree(tree, dot, sizeof(dot), &lock_fd, err)) != SS_OK)
		return rc;
	snprintf(dot, sizeof(dot), "%s/.sstream", tree);
	snprintf(state, sizeof(state), "%s/unreferenced", dot);
	if (!(products = load_products(tree, err))) {
		rc = err->code ? err->code : SS_FATAL;
		goto out;
	}
	/* what is on disk, first: a tree whose images/ is a symlink is refused
	 * before anything changes */
	if ((rc = list_images(tree, &files, err)) != SS_OK)
		goto out;
	/* versions beyond the newest KEEP of each product leave the streams */
	const char *pn;
	json_t *prod;
	void *tmp;
	json_object_foreach_safe(json_object_get(products, "products"), tmp, pn, prod) {
		json_t *versions = json_object_get(prod, "versions");
		size_t n = json_object_size(versions), i = 0;
		if (keep <= 0 || n <= (size_t)keep)
			continue;
		const char **names = calloc(n, sizeof(*names));
		const char *vn;
		json_t *v;
		json_object_foreach(versions, vn, v)
			names[i++] = vn;
		qsort(names, n, sizeof(*names), cmp_desc);
		for (i = (size_t)keep; i < n; i++) {
			char what[1024];
			snprintf(what, sizeof(what), "%s/%s", pn, names[i]);
			if (cb)
				cb(ud, "version", what);
		}
		for (i = (size_t)keep; i < n; i++)
			json_object_del(versions, names[i]);
		free(names);
	}
	if (!dry_run && (rc = write_streams(po, tree, products, &changed, err)) != SS_OK)
		goto out;
	/* files nothing references: deleted once unreferenced for GRACE */
	char *data;
	size_t len;
	struct ss_error se;
	if (ss_fetch(state, SS_METADATA_CAP, &data, &len, &se) == SS_OK) {
		for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
			/* the state is read back from disk: only safe paths count */
			char *sp = strchr(line, ' ');
			struct ss_error pe;
			if (sp && ss_path_check(sp + 1, &pe) == SS_OK)
				pending_add(&old, sp + 1, strtoll(line, NULL, 10));
		}
		free(data);
	}
	long long now = (long long)time(NULL);
	size_t cap = 64;
	for (size_t i = 0; i < files.n; i++) {
		if (referenced(products, files.path[i]))
			continue;
		long long since = pending_since(&old, files.path[i]);
		if (since < 0)
			since = now;
		if (now - since < grace) {
			pending_add(&next, files.path[i], since);
			cap += strlen(files.path[i]) + 24;
			continue;
		}
		if (cb)
			cb(ud, "file", files.path[i]);
		if (dry_run)
			continue;
		struct ss_error ue;
		if (ssi_safe_unlink(tree, files.path[i], 1, NULL, &ue) != SS_OK && rc == SS_OK) {
			rc = ssi_err(err, SS_PARTIAL, "%s", ue.msg);
		}
	}
	if (!dry_run) {
		char *buf = malloc(cap), *p = buf;
		if (!buf) {
			rc = ssi_err(err, SS_FATAL, "out of memory");
			goto out;
		}
		*p = '\0';
		for (size_t i = 0; i < next.n; i++)
			p += sprintf(p, "%lld %s\n", next.since[i], next.path[i]);
		int prc = rc;
		rc = put(tree, ".sstream/unreferenced", buf, (size_t)(p - buf), &changed, err);
		if (rc == SS_OK && prc != SS_OK)
			rc = ssi_err(err, prc, "%s", err->msg);
		free(buf);
	}
out:
	pending_free(&old);
	pending_free(&files);
	pending_free(&next);
	json_decref(products);
	if (lock_fd >= 0)
		close(lock_fd);
	return rc;
}
