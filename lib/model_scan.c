/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading a products document a level at a time.  jansson has no streaming
 * parser, and a whole document in jansson objects costs about ten times its
 * text, so this file walks the three levels above the items itself (the
 * root, the products, their versions, and the items objects) and hands
 * jansson one value at a time: every field above the items, and each item,
 * which becomes a compact record (model_rec.c).  What it reads of the text
 * itself is only the structure between those values: whitespace, braces,
 * colons, commas and the member names.  Every value is parsed, and so
 * checked, by jansson, or, for flat items, as jansson would (model_rec.c).
 *
 * Also here: whole documents, plain or clearsigned, through that reader
 * (ss_products_parse) and, for the small ones that are not products files,
 * through jansson (ssi_json_parse).
 *
 * A text it refuses is parsed again whole by jansson for the message, so
 * that errors read as they always did (file, line, column, reason); only
 * a document jansson accepts but whose shape is wrong (a product that is
 * not an object, ...) gets this file's own message.
 */
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

struct scan {
	const char *s;
	size_t n, i;
	struct ss_products *p;
	const char *why;         /* the first refusal, NULL while none */
	size_t at;               /* where */
	char *key;               /* the last member name read (scratch) */
	size_t keycap;
	json_t *shape;           /* the first shape error, as a string */
	int outline;             /* products' contents are passed over, not read */
	char *own;               /* the text, when records go over it */
	size_t w;                /* where the next record may go (before sc->i) */
	int defer;               /* items are read after the walk, in two halves */
	struct ssi_pend *pend;   /* those items */
	size_t npend, apend;
	char *names;             /* and their names */
	size_t nnames, anames;
};

/* Documents of this size or more have their items read in two halves at
 * once (ssi_rec_add_many): 2 MB of lxc-images in 29-34 ms, not 37-43 ms.
 * Up to a size whose list of pending items (some 40 bytes an item) is
 * small beside the document (a 150 MB one is read as it comes). */
#define DEFER_MIN ((size_t)256 << 10)
#define DEFER_MAX ((size_t)64 << 20)

/* A level above the items: OBJ receives its fields, CHILD is the member
 * that holds the next level, read by KIDS into the empty object HOLDER. */
struct level {
	json_t *obj;
	const char *child;
	int (*kids)(struct scan *sc, struct level *l, json_t *holder);
	json_t *prod;            /* the product (versions and items) */
	const char *pname;
	struct ssi_ver *ver;     /* the version (items) */
};

static int refuse(struct scan *sc, const char *why)
{
	if (!sc->why) {
		sc->why = why;
		sc->at = sc->i;
	}
	return -1;
}

static void ws(struct scan *sc)
{
	while (sc->i < sc->n && (sc->s[sc->i] == ' ' || sc->s[sc->i] == '\n' || sc->s[sc->i] == '\r' ||
				 sc->s[sc->i] == '\t'))
		sc->i++;
}

/* Skips whitespace; 1 (and past it) when C is next. */
static int take(struct scan *sc, char c)
{
	ws(sc);
	if (sc->i < sc->n && sc->s[sc->i] == c) {
		sc->i++;
		return 1;
	}
	return 0;
}

static char peek(struct scan *sc)
{
	ws(sc);
	return sc->i < sc->n ? sc->s[sc->i] : '\0';
}

/* The end of the string whose quote is at FROM, or 0. */
static size_t string_end(const struct scan *sc, size_t from)
{
	for (size_t j = from + 1; j < sc->n; j++) {
		if (sc->s[j] == '\\')
			j++;
		else if (sc->s[j] == '"')
			return j + 1;
	}
	return 0;
}

/* The end of the value at sc->i, or 0: its extent only, jansson checks it. */
static size_t value_end(const struct scan *sc)
{
	size_t j = sc->i, depth = 0;
	if (j >= sc->n)
		return 0;
	if (sc->s[j] == '"')
		return string_end(sc, j);
	if (sc->s[j] != '{' && sc->s[j] != '[') {
		/* (strchr finds a NUL byte too: it ends the value) */
		while (j < sc->n && !strchr(" \t\r\n,:}]{[\"", sc->s[j]))
			j++;
		return j;
	}
	for (; j < sc->n; j++) {
		char c = sc->s[j];
		if (c == '"') {
			if (!(j = string_end(sc, j)))
				return 0;
			j--;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if ((c == '}' || c == ']') && --depth == 0) {
			return j + 1;
		}
	}
	return 0;
}

/* The value at sc->i, parsed by jansson; NULL when refused. */
static json_t *read_value(struct scan *sc)
{
	size_t end = value_end(sc);
	if (end <= sc->i) {
		refuse(sc, "a value expected");
		return NULL;
	}
	json_t *v = json_loadb(sc->s + sc->i, end - sc->i, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
	if (!v)
		refuse(sc, "invalid value");
	sc->i = end;
	return v;
}

/* The member name at sc->i into sc->key: plain ASCII as it is, anything
 * else through jansson.  NULL when refused. */
static const char *read_key(struct scan *sc)
{
	ws(sc);
	size_t end = sc->i < sc->n && sc->s[sc->i] == '"' ? string_end(sc, sc->i) : 0;
	if (!end) {
		refuse(sc, "a member name expected");
		return NULL;
	}
	const char *from = sc->s + sc->i + 1;
	size_t len = end - sc->i - 2;
	int plain = 1;
	for (size_t j = 0; j < len && plain; j++)
		plain = from[j] >= 0x20 && from[j] < 0x7f && from[j] != '\\';
	json_t *decoded = NULL;
	if (!plain) {
		decoded = json_loadb(sc->s + sc->i, end - sc->i, JSON_DECODE_ANY, NULL);
		if (!json_is_string(decoded) || strlen(json_string_value(decoded)) != json_string_length(decoded)) {
			json_decref(decoded);
			refuse(sc, "invalid member name");
			return NULL;
		}
		from = json_string_value(decoded);
		len = json_string_length(decoded);
	}
	if (len + 1 > sc->keycap) {
		char *k = realloc(sc->key, len + 64);
		if (!k) {
			json_decref(decoded);
			refuse(sc, "out of memory");
			return NULL;
		}
		sc->key = k;
		sc->keycap = len + 64;
	}
	memcpy(sc->key, from, len);
	sc->key[len] = '\0';
	json_decref(decoded);
	sc->i = end;
	return sc->key;
}

/* Walks the object at sc->i, ON_MEMBER reading each member's value. */
static int members(struct scan *sc, int (*on_member)(struct scan *, const char *, void *), void *ud)
{
	if (!take(sc, '{'))
		return refuse(sc, "'{' expected");
	if (take(sc, '}'))
		return 0;
	do {
		const char *key = read_key(sc);
		if (!key)
			return -1;
		if (!take(sc, ':'))
			return refuse(sc, "':' expected");
		ws(sc);
		if (on_member(sc, key, ud) < 0)
			return -1;
	} while (take(sc, ','));
	return take(sc, '}') ? 0 : refuse(sc, "'}' expected");
}

/* Remembers the first shape error (the document is refused at the end,
 * for the first one in document order, as a whole-tree walk would). */
static void shape(struct scan *sc, const char *fmt, const char *a, const char *b, const char *c)
{
	if (sc->shape)
		return;
	char msg[sizeof(((struct ss_error *)0)->msg)];
	snprintf(msg, sizeof(msg), fmt, sc->p->name, a, b, c);
	sc->shape = json_string(msg);
}

/* A member of a level: its field, or the next level. */
static int level_member(struct scan *sc, const char *key, void *ud)
{
	struct level *l = ud;
	if (json_object_get(l->obj, key))
		return refuse(sc, "duplicate object key");
	if (strcmp(key, l->child) == 0 && peek(sc) == '{') {
		json_t *holder = json_object();
		if (!holder || json_object_set_new(l->obj, key, holder))
			return refuse(sc, "out of memory");
		return l->kids(sc, l, holder);
	}
	json_t *v = read_value(sc);
	if (!v)
		return -1;
	if (strcmp(key, l->child) == 0 && l->prod)
		shape(sc, l->ver ? "invalid products '%s': version '%s/%s': items is not an object"
				 : "invalid products '%s': product '%s': versions is not an object%s",
		      l->pname, l->ver ? l->ver->vname : "", "");
	return json_object_set_new(l->obj, key, v) ? refuse(sc, "out of memory") : 0;
}

/* Adds KEY to HOLDER as a new object, and returns it with its stable key. */
static json_t *add_object(struct scan *sc, json_t *holder, const char *key, const char **stable)
{
	json_t *o = json_object();
	if (!o || json_object_set_new(holder, key, o)) {
		refuse(sc, "out of memory");
		return NULL;
	}
	*stable = json_object_iter_key(json_object_iter_at(holder, key));
	return o;
}

/* Item INAME of V, its text from FROM to END, read after the walk. */
static int defer_item(struct scan *sc, const struct ssi_ver *v, const char *iname, size_t from, size_t end)
{
	size_t nl = strlen(iname) + 1;
	if (ssi_grow((void **)&sc->pend, &sc->apend, sc->npend, sizeof(*sc->pend)) ||
	    ssi_grow((void **)&sc->names, &sc->anames, sc->nnames + nl - 1, 1))
		return refuse(sc, "out of memory");
	memcpy(sc->names + sc->nnames, iname, nl);
	sc->pend[sc->npend++] = (struct ssi_pend){ v, sc->nnames, from, end };
	sc->nnames += nl;
	return 0;
}

static int item_member(struct scan *sc, const char *iname, void *ud)
{
	struct level *l = ud;
	if (peek(sc) != '{')
		shape(sc, "invalid products '%s': item '%s/%s/%s' is not an object", l->pname, l->ver->vname, iname);
	if (sc->defer) {
		size_t from = sc->i, end = value_end(sc);
		if (end <= sc->i)
			return refuse(sc, "a value expected");
		sc->i = end;
		return defer_item(sc, l->ver, iname, from, end);
	}
	size_t from = sc->i, end = value_end(sc);
	if (end <= sc->i)
		return refuse(sc, "a value expected");
	/* the text of the items read so far is free: it has been read */
	if (sc->own && sc->w == 0)
		sc->w = from;
	size_t room = end - sc->w;
	int rc = ssi_rec_add_text(sc->p, l->ver, iname, sc->s + from, end - from, sc->own ? sc->own + sc->w : NULL,
				  &room);
	if (rc == SSI_REC_INVALID)
		return refuse(sc, "invalid value");
	sc->i = end;
	sc->w += sc->own ? room : 0;
	return rc == SS_OK ? 0 : refuse(sc, "out of memory");
}

static int items_kids(struct scan *sc, struct level *l, json_t *holder)
{
	(void)holder;
	size_t first = sc->defer ? sc->npend : sc->p->nitems;
	if (members(sc, item_member, l) < 0)
		return -1;
	/* names are unique within a version */
	size_t n = (sc->defer ? sc->npend : sc->p->nitems) - first;
	if (n < 2)
		return 0;
	const char **names = malloc(n * sizeof(*names));
	if (!names)
		return refuse(sc, "out of memory");
	for (size_t i = 0; i < n; i++)
		names[i] = sc->defer ? sc->names + sc->pend[first + i].name : sc->p->items[first + i].rec;
	qsort(names, n, sizeof(*names), ssi_cmp_str);
	int rc = 0;
	for (size_t i = 1; i < n && rc == 0; i++)
		if (strcmp(names[i - 1], names[i]) == 0)
			rc = refuse(sc, "duplicate object key");
	free(names);
	return rc;
}

static int version_member(struct scan *sc, const char *vname, void *ud)
{
	struct level *pl = ud;
	if (json_object_get(pl->obj, vname))
		return refuse(sc, "duplicate object key");
	if (peek(sc) != '{') {
		shape(sc, "invalid products '%s': version '%s/%s' is not an object", pl->pname, vname, "");
		json_t *v = read_value(sc);
		return v && !json_object_set_new(pl->obj, vname, v) ? 0 : -1;
	}
	const char *stable;
	json_t *ver = add_object(sc, pl->obj, vname, &stable);
	struct ssi_ver *v = ver ? ssi_ver_add(sc->p, pl->prod, ver, pl->pname, stable) : NULL;
	if (!v)
		return refuse(sc, "out of memory");
	struct level l = { ver, "items", items_kids, pl->prod, pl->pname, v };
	return members(sc, level_member, &l);
}

static int versions_kids(struct scan *sc, struct level *l, json_t *holder)
{
	struct level vl = { holder, NULL, NULL, l->prod, l->pname, NULL };
	return members(sc, version_member, &vl);
}

static int product_member(struct scan *sc, const char *pname, void *ud)
{
	json_t *products = ud;
	if (json_object_get(products, pname))
		return refuse(sc, "duplicate object key");
	if (peek(sc) != '{') {
		shape(sc, "invalid products '%s': product '%s' is not an object%s%s", pname, "", "");
		json_t *v = read_value(sc);
		return v && !json_object_set_new(products, pname, v) ? 0 : -1;
	}
	const char *stable;
	json_t *prod = add_object(sc, products, pname, &stable);
	if (!prod)
		return -1;
	if (sc->outline) {
		size_t end = value_end(sc);
		if (end <= sc->i)
			return refuse(sc, "a value expected");
		sc->i = end;
		return 0;
	}
	struct level l = { prod, "versions", versions_kids, prod, stable, NULL };
	return members(sc, level_member, &l);
}

static int products_kids(struct scan *sc, struct level *l, json_t *holder)
{
	(void)l;
	return members(sc, product_member, holder);
}

/* Line and column of byte AT, counted as jansson counts them (a column
 * per character). */
static void line_col(const char *s, size_t at, int *line, int *col)
{
	*line = 1;
	*col = 0;
	for (size_t j = 0; j < at; j++) {
		unsigned char c = (unsigned char)s[j];
		if (c == '\n') {
			++*line;
			*col = 0;
		} else if (c < 0x80 || c >= 0xc0) {
			++*col;
		}
	}
}

/* Reads TEXT into a new products object: records over OWN's text when
 * it is not NULL (then TEXT); with DEFER, its items after the walk, in
 * two halves at once (a document they refuse is read again without). */
static struct ss_products *scan(const char *text, size_t len, const char *name, int outline, char *own, int defer,
				struct ss_error *err)
{
	struct ss_products *p = calloc(1, sizeof(*p));
	struct scan sc = { .s = text, .n = len, .p = p, .outline = outline, .own = own, .defer = defer };
	if (p)
		p->text = own;
	else
		free(own);
	if (!p || !(p->root = json_object()) || !(p->name = strdup(name))) {
		ss_products_free(p);
		ssi_err(err, SS_FATAL, "cannot load '%s': out of memory", name);
		return NULL;
	}
	struct level l = { p->root, "products", products_kids, NULL, NULL, NULL };
	int rc = peek(&sc) == '{' ? members(&sc, level_member, &l) : refuse(&sc, "'{' expected");
	ws(&sc);
	if (rc == 0 && sc.i != sc.n)
		rc = refuse(&sc, "end of file expected");
	int walked = rc == 0; /* (its refusal leaves the text as it was) */
	size_t failed;
	const char *why;
	if (rc == 0 && defer &&
	    ssi_rec_add_many(p, text, own, sc.names, sc.pend, sc.npend, &failed, &why) != SS_OK) {
		/* the first item refused, as a walk reading them would say */
		rc = -1;
		sc.why = why;
		sc.at = strcmp(why, "invalid value") == 0 ? sc.pend[failed].from : sc.pend[failed].end;
	}
	free(sc.key);
	free(sc.pend);
	free(sc.names);
	if (rc == 0 && sc.shape)
		p->bad = strdup(json_string_value(sc.shape));
	json_decref(sc.shape);
	if (rc != 0 && defer && (!walked || !own)) { /* the refusal and its message as ever */
		p->text = NULL; /* (OWN, still as it was, goes on) */
		ss_products_free(p);
		return scan(text, len, name, outline, own, 0, err);
	}
	/* (the items' array grew by half: what it did not fill goes back) */
	struct ss_item *fit = p->nitems ? realloc(p->items, p->nitems * sizeof(*fit)) : NULL;
	if (fit)
		p->items = fit, p->items_alloc = p->nitems;
	if (rc == 0)
		return p;
	ss_products_free(p);
	/* jansson's own message, as a whole parse gives it */
	int refused = 0;
	if (!own && strcmp(sc.why, "out of memory") != 0) {
		json_t *whole = ssi_json_parse(text, len, name, err);
		refused = !whole;
		json_decref(whole);
	}
	if (!refused && own) {
		ssi_err(err, SS_FATAL, "cannot parse '%s': byte %zu: %s", name, sc.at, sc.why);
	} else if (!refused) {
		int line, col;
		line_col(text, sc.at, &line, &col);
		ssi_err(err, SS_FATAL, "cannot parse '%s': line %d column %d: %s", name, line, col, sc.why);
	}
	return NULL;
}

struct ss_products *ssi_products_scan(const char *text, size_t len, const char *name, int outline,
				      struct ss_error *err)
{
	return scan(text, len, name, outline, NULL, !outline && len >= DEFER_MIN && len <= DEFER_MAX, err);
}

struct ss_products *ssi_products_scan_how(const char *text, size_t len, const char *name, int defer, int own,
					 struct ss_error *err)
{
	char *copy = own ? malloc(len + 1) : NULL; /* (none: read from TEXT) */
	if (copy)
		memcpy(copy, text, len);
	return scan(copy ? copy : text, len, name, 0, copy, defer, err);
}

struct ss_products *ssi_products_scan_own(char *text, size_t len, const char *name, struct ss_error *err)
{
	return scan(text, len, name, 0, text, len >= DEFER_MIN && len <= DEFER_MAX, err);
}

/* ---- whole documents ---- */

/* DATA's JSON text: DATA itself, or a clearsigned document's body (into
 * *BODY, malloc'd).  -1 with ERR filled naming NAME. */
static int plain_text(const char **data, size_t *len, char **body, const char *name, struct ss_error *err)
{
	*body = NULL;
	if (!ss_is_clearsigned(*data, *len))
		return 0;
	size_t blen;
	struct ss_error e;
	ss_error_clear(&e);
	if (ss_clearsign_body(*data, *len, body, &blen, &e) != SS_OK) {
		ssi_err(err, SS_FATAL, "cannot parse '%s': %s", name, e.msg);
		return -1;
	}
	*data = *body;
	*len = blen;
	return 0;
}

json_t *ssi_json_parse(const char *data, size_t len, const char *name, struct ss_error *err)
{
	char *body;
	if (plain_text(&data, &len, &body, name, err) < 0)
		return NULL;
	json_error_t je;
	json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	free(body);
	if (!root) {
		ssi_err(err, SS_FATAL, "cannot parse '%s': line %d column %d: %s", name, je.line,
			je.column, je.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		ssi_err(err, SS_FATAL, "cannot parse '%s': not a JSON object", name);
		return NULL;
	}
	return root;
}

struct ss_products *ssi_doc_scan(const char *data, size_t len, const char *name, int outline,
				 struct ss_error *err)
{
	char *body;
	if (plain_text(&data, &len, &body, name, err) < 0)
		return NULL;
	struct ss_products *p = ssi_products_scan(data, len, name, outline, err);
	free(body);
	return p;
}

json_t *ssi_json_outline(const char *data, size_t len, const char *name, struct ss_error *err)
{
	struct ss_products *p = ssi_doc_scan(data, len, name, 1, err);
	json_t *root = p ? json_incref(p->root) : NULL;
	ss_products_free(p);
	return root;
}

struct ss_products *ssi_products_finish(struct ss_products *p, const char *default_content_id,
					struct ss_error *err)
{
	const char *format = json_string_value(json_object_get(p->root, "format"));
	if (!format || strcmp(format, "products:1.0") != 0) {
		ssi_err(err, SS_FATAL, "invalid products '%s': format is not \"products:1.0\"", p->name);
		goto fail;
	}
	if (!json_is_object(json_object_get(p->root, "products"))) {
		ssi_err(err, SS_FATAL, "invalid products '%s': no \"products\" object", p->name);
		goto fail;
	}
	if (p->bad) {
		ssi_err(err, SS_FATAL, "%s", p->bad);
		goto fail;
	}
	const char *cid = json_string_value(json_object_get(p->root, "content_id"));
	if (!cid)
		cid = default_content_id ? default_content_id : "";
	if (!(p->content_id = strdup(cid))) {
		ssi_err(err, SS_FATAL, "cannot load '%s': out of memory", p->name);
		goto fail;
	}
	json_t *aliases = json_object_get(p->root, "_aliases");
	p->aliases = json_is_object(aliases) ? aliases : NULL;
	return p;
fail:
	ss_products_free(p);
	return NULL;
}

/* Built documents (sstream-publish's) are read as text too: one reader,
 * and one order of the shape checks. */
struct ss_products *ssi_products_from_json(json_t *root, const char *name,
					   const char *default_content_id,
					   struct ss_error *err)
{
	char *text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!text) {
		ssi_err(err, SS_FATAL, "cannot load '%s': out of memory", name);
		return NULL;
	}
	struct ss_products *p = ssi_products_scan(text, strlen(text), name, 0, err);
	free(text);
	return p ? ssi_products_finish(p, default_content_id, err) : NULL;
}

struct ss_products *ss_products_parse(const char *data, size_t len, const char *name,
				      const char *default_content_id, struct ss_error *err)
{
	struct ss_products *p = ssi_doc_scan(data, len, name, 0, err);
	return p ? ssi_products_finish(p, default_content_id, err) : NULL;
}
