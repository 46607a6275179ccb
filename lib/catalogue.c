/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The catalogue: TREE/index.html, a page people can look at.  One row per
 * product (its newest version's date, size and fingerprint), each opening
 * the product's versions with every file linked; the commands to use the
 * tree on top.  Self-contained (inline CSS and a small script that sorts
 * and filters; without it the whole table shows), deterministic (sorted,
 * no clock), and every string from the tree escaped (catalogue_html.c).
 * Products are collapsed (<details>), so a tree of 100 000 items still
 * gives a page a browser opens.  The fixed parts are in catalogue_page.c.
 *
 * Cost: each item's fields are looked up once (a row), the rows sorted,
 * and the page written into one buffer; a mirror hands the items it has
 * loaded (ssi_catalogue_write_items), so nothing is read twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue_internal.h"
#include "internal.h"

/* An item and the fields the page shows of it, looked up once. */
struct row {
	const struct ss_item *it;
	const char *cid, *product, *version, *name, *path, *sha256, *ftype;
	long long size;
};

/* The rows, sorted (content id, product, version newest first, item); a
 * product is a run of them, a version a run inside it. */
struct cat {
	struct row *r;
	size_t n;
	const struct ss_catalogue_opts *o;
	const char *base, *remote;
	size_t nproducts;
};

static int cmp0(const char *a, const char *b)
{
	return a == b ? 0 : strcmp(a ? a : "", b ? b : "");
}

static int cmp_row(const void *pa, const void *pb)
{
	const struct row *a = pa, *b = pb;
	int c = cmp0(a->cid, b->cid);
	if (!c)
		c = cmp0(a->product, b->product);
	if (!c)
		c = -ss_version_cmp(a->version ? a->version : "", b->version ? b->version : "");
	if (!c)
		c = cmp0(a->name, b->name);
	/* two products files of one content id may repeat an item: still one order */
	if (!c)
		c = cmp0(a->path, b->path);
	if (!c)
		c = cmp0(a->sha256, b->sha256);
	return c;
}

static int same_product(const struct row *a, const struct row *b)
{
	return !cmp0(a->product, b->product) && !cmp0(a->cid, b->cid);
}

static int same_version(const struct row *a, const struct row *b)
{
	return !cmp0(a->version, b->version) && same_product(a, b);
}

/* End of the run starting at I that SAME keeps together. */
static size_t run_end(const struct cat *c, size_t i, int (*same)(const struct row *, const struct row *))
{
	size_t j = i + 1;
	while (j < c->n && same(&c->r[i], &c->r[j]))
		j++;
	return j;
}

static void fill_row(struct row *r, const struct ss_item *it)
{
	static const char *const keys[] = { "path", "sha256", "ftype" };
	const char *v[3];
	ssi_item_strs(it, keys, 3, v);
	*r = (struct row){ it, ss_item_content_id(it), ss_item_product(it), ss_item_version(it), ss_item_name(it),
			   v[0], v[1], v[2], ss_item_get_int(it, "size") };
}

/* The rows of the N items IT (or, IT NULL, of every item of T). */
static int collect(struct cat *c, const struct ss_tree *t, const struct ss_item *const *it, size_t n)
{
	for (size_t i = 0; !it && i < ss_tree_nproducts(t); i++)
		n += ss_products_count(ss_tree_products(t, i));
	if (!(c->r = malloc((n ? n : 1) * sizeof(*c->r))))
		return -1;
	for (size_t i = 0; it && i < n; i++)
		fill_row(&c->r[c->n++], it[i]);
	for (size_t i = 0; !it && i < ss_tree_nproducts(t); i++) {
		const struct ss_products *p = ss_tree_products(t, i);
		for (size_t k = 0; k < ss_products_count(p); k++)
			fill_row(&c->r[c->n++], ss_products_item(p, k));
	}
	qsort(c->r, c->n, sizeof(*c->r), cmp_row);
	for (size_t i = 0; i < c->n; i = run_end(c, i, same_product))
		c->nproducts++;
	return 0;
}

/* ---- what a version is ------------------------------------------------------- */

struct vinfo {
	long long size;
	int container, vm;
	const char *fingerprint;   /* combined or unified sha256, or NULL */
	const struct ss_item *unified;
};

static int ftype_is(const struct row *r, const char *ft)
{
	return r->ftype && strcmp(r->ftype, ft) == 0;
}

static void version_info(const struct cat *c, size_t from, size_t to, struct vinfo *v)
{
	static const char *const cfields[] = { "combined_squashfs_sha256", "combined_rootxz_sha256", "combined_sha256",
					       "combined_disk-kvm-img_sha256" };
	*v = (struct vinfo){ 0 };
	for (size_t i = from; i < to; i++) {
		const struct row *r = &c->r[i];
		const char *comb[4];
		ssi_item_strs(r->it, cfields, 4, comb);
		v->size += r->size > 0 ? r->size : 0;
		if (ftype_is(r, "disk-kvm.img") || ftype_is(r, "disk.qcow2") || comb[3])
			v->vm = 1;
		if (ftype_is(r, "squashfs") || ftype_is(r, "root.tar.xz") || comb[0] || comb[1] || comb[2])
			v->container = 1;
		if (ftype_is(r, "lxd_combined.tar.gz") || ftype_is(r, "incus_combined.tar.gz")) {
			v->container = 1;
			if (!v->unified)
				v->unified = r->it;
		}
		for (size_t k = 0; !v->fingerprint && k < 4; k++)
			v->fingerprint = comb[k];
	}
	if (!v->fingerprint && v->unified)
		v->fingerprint = ss_item_str(v->unified, "sha256");
}

static const char *type_of(const struct vinfo *v)
{
	return v->container && v->vm ? "container, VM" : v->vm ? "VM" : v->container ? "container" : "-";
}

/* The first of ALIASES that is safe to put in a command someone pastes
 * into a shell (written into BUF), or NULL. */
static const char *first_alias(const char *aliases, char *buf, size_t bufsz)
{
	for (const char *a = aliases; a && *a;) {
		const char *comma = strchr(a, ',');
		size_t len = comma ? (size_t)(comma - a) : strlen(a);
		if (len && len < bufsz) {
			memcpy(buf, a, len);
			buf[len] = '\0';
			if (!ssi_field_problem(SSI_F_ALIAS, buf))
				return buf;
		}
		a = comma ? comma + 1 : NULL;
	}
	return NULL;
}

/* ---- the products ------------------------------------------------------------ */

static void cell(struct ssi_hbuf *b, const char *label, const char *cls, const char *text)
{
	SSI_HB_LIT(b, "<td data-l=\"");
	ssi_hb_puts(b, label);
	ssi_hb_putc(b, '"');
	if (cls) {
		SSI_HB_LIT(b, " class=\"");
		ssi_hb_puts(b, cls);
		ssi_hb_putc(b, '"');
	}
	ssi_hb_putc(b, '>');
	ssi_html_text(b, text && *text ? text : "-");
	SSI_HB_LIT(b, "</td>");
}

/* "YYYY-MM-DD" from a version name that starts with a date, or "-". */
static void date_of(const char *version, char out[11])
{
	strcpy(out, "-");
	for (int i = 0; i < 8; i++)
		if (!version || version[i] < '0' || version[i] > '9')
			return;
	memcpy(out, version, 4);
	out[4] = '-';
	memcpy(out + 5, version + 4, 2);
	out[7] = '-';
	memcpy(out + 8, version + 6, 2);
	out[10] = '\0';
}

/* The aliases, a space after each comma so that the cell wraps there. */
static void aliases_cell(struct ssi_hbuf *b, const char *aliases)
{
	SSI_HB_LIT(b, "<td data-l=\"Aliases\" class=\"a\">");
	if (!aliases || !*aliases)
		ssi_hb_putc(b, '-');
	for (const char *a = aliases; a && *a;) {
		const char *comma = strchr(a, ',');
		ssi_html_textn(b, a, comma ? (size_t)(comma - a) : strlen(a));
		if (comma)
			SSI_HB_LIT(b, ", ");
		a = comma ? comma + 1 : NULL;
	}
	SSI_HB_LIT(b, "</td>");
}

/* A product's fields (of its newest item), looked up together. */
enum { P_OS, P_RELEASE, P_VARIANT, P_ARCH, P_ALIASES, P_TITLE, P_N };
static const char *const pkeys[P_N] = { "os", "release", "variant", "arch", "aliases", "release_title" };

static void product_row(struct ssi_hbuf *b, const struct row *r, const char *const *pf, const struct vinfo *v)
{
	char date[11], fp[13] = "-";
	date_of(r->version, date);
	if (v->fingerprint && !ssi_field_problem(SSI_F_FINGERPRINT, v->fingerprint))
		snprintf(fp, sizeof(fp), "%.12s", v->fingerprint);
	SSI_HB_LIT(b, "<tr class=\"p\">");
	cell(b, "Product", "n", r->product);
	cell(b, "OS", NULL, pf[P_OS]);
	cell(b, "Release", NULL, pf[P_RELEASE]);
	cell(b, "Variant", NULL, pf[P_VARIANT]);
	cell(b, "Arch", NULL, pf[P_ARCH]);
	cell(b, "Type", NULL, type_of(v));
	cell(b, "Version", NULL, r->version);
	cell(b, "Date", NULL, date);
	SSI_HB_LIT(b, "<td data-l=\"Size\" data-k=\"");
	ssi_hb_int(b, v->size);
	SSI_HB_LIT(b, "\">");
	ssi_html_size(b, v->size);
	SSI_HB_LIT(b, "</td>");
	aliases_cell(b, pf[P_ALIASES]);
	cell(b, "Fingerprint", "h", fp);
	SSI_HB_LIT(b, "</tr>\n");
}

static void item_row(struct ssi_hbuf *b, const struct row *r)
{
	SSI_HB_LIT(b, "<tr><td>");
	/* every item path of a loaded tree passed ss_path_check (tree.c) */
	if (r->path && *r->path && *r->path != '/') {
		SSI_HB_LIT(b, "<a href=\"");
		ssi_html_href(b, r->path);
		SSI_HB_LIT(b, "\">");
		/* the file's name: the version's caption and the link say where */
		const char *base = strrchr(r->path, '/');
		ssi_html_text(b, base ? base + 1 : r->path);
		SSI_HB_LIT(b, "</a>");
	} else {
		ssi_html_text(b, r->path ? r->path : "-");
	}
	SSI_HB_LIT(b, "</td><td>");
	ssi_html_text(b, r->ftype ? r->ftype : r->name);
	SSI_HB_LIT(b, "</td><td>");
	ssi_html_size(b, r->size);
	SSI_HB_LIT(b, "</td><td class=\"h\">");
	ssi_html_text(b, r->sha256 ? r->sha256 : "-");
	SSI_HB_LIT(b, "</td></tr>\n");
}

static void product_commands(struct ssi_hbuf *b, const struct cat *c, const char *aliases, const struct vinfo *v)
{
	char alias[256];
	const char *a = first_alias(aliases, alias, sizeof(alias));
	if (!(v->container || v->vm) || !a)
		return;
	SSI_HB_LIT(b, "<pre><code>lxc launch ");
	ssi_html_text(b, c->remote);
	ssi_hb_putc(b, ':');
	ssi_html_text(b, a);
	if (!v->container)
		SSI_HB_LIT(b, " --vm");
	if (v->unified) {
		SSI_HB_LIT(b, "\nlxc image import ");
		ssi_html_text(b, c->base ? c->base : "URL");
		SSI_HB_LIT(b, "/import/");
		ssi_html_text(b, a);
	}
	SSI_HB_LIT(b, "</code></pre>\n");
}

/* " (N thing)" or " (N things)", and the product's summary line. */
static void count(struct ssi_hbuf *b, size_t n, const char *what)
{
	ssi_hb_int(b, (long long)n);
	ssi_hb_putc(b, ' ');
	ssi_hb_puts(b, what);
	if (n != 1)
		ssi_hb_putc(b, 's');
}

/* The versions of the product whose rows are C->r[FROM..TO), each a table
 * of its files. */
static void versions(struct ssi_hbuf *b, const struct cat *c, size_t from, size_t to)
{
	for (size_t i = from; i < to;) {
		size_t e = run_end(c, i, same_version);
		SSI_HB_LIT(b, "<div class=\"w\"><table class=\"i\"><caption>Version ");
		ssi_html_text(b, c->r[i].version);
		SSI_HB_LIT(b, "</caption>\n<thead><tr><th scope=\"col\">File</th><th scope=\"col\">Type</th>"
			       "<th scope=\"col\">Size</th><th scope=\"col\">SHA-256</th></tr></thead>\n<tbody>\n");
		for (; i < e; i++)
			item_row(b, &c->r[i]);
		SSI_HB_LIT(b, "</tbody></table></div>\n");
	}
}

/* The product whose rows start at FROM: its row and, in a second row, its
 * versions and files behind a <details>.  Returns where the next starts. */
static size_t product(struct ssi_hbuf *b, const struct cat *c, size_t from)
{
	size_t to = run_end(c, from, same_product), nv = 0, vend = run_end(c, from, same_version);
	const char *pf[P_N];
	struct vinfo v;
	ssi_item_strs(c->r[from].it, pkeys, P_N, pf);
	version_info(c, from, vend, &v);
	for (size_t i = from; i < to; i = run_end(c, i, same_version))
		nv++;
	SSI_HB_LIT(b, "<tbody>\n");
	product_row(b, &c->r[from], pf, &v);
	SSI_HB_LIT(b, "<tr class=\"d\"><td colspan=\"11\"><details><summary>");
	ssi_html_text(b, c->r[from].product);
	const char *title = pf[P_TITLE];
	if (title) {
		SSI_HB_LIT(b, " (");
		ssi_html_text(b, title);
		ssi_hb_putc(b, ')');
	}
	SSI_HB_LIT(b, ": ");
	count(b, nv, "version");
	SSI_HB_LIT(b, ", ");
	count(b, to - from, "file");
	SSI_HB_LIT(b, "</summary>\n");
	product_commands(b, c, pf[P_ALIASES], &v);
	versions(b, c, from, to);
	SSI_HB_LIT(b, "</details></td></tr>\n</tbody>\n");
	return to;
}

/* ---- the page ------------------------------------------------------------------- */

static int any_unified(const struct cat *c)
{
	for (size_t i = 0; i < c->n; i++)
		if (ftype_is(&c->r[i], "lxd_combined.tar.gz"))
			return 1;
	return 0;
}

static void page(struct ssi_hbuf *b, const struct cat *c)
{
	static const char heads[] = "<th scope=\"col\">Product</th><th scope=\"col\">OS</th>"
		"<th scope=\"col\">Release</th><th scope=\"col\">Variant</th><th scope=\"col\">Arch</th>"
		"<th scope=\"col\">Type</th><th scope=\"col\">Version</th><th scope=\"col\">Date</th>"
		"<th scope=\"col\">Size</th><th scope=\"col\">Aliases</th><th scope=\"col\">Fingerprint</th>";
	ssi_cat_head(b, c->o && c->o->title ? c->o->title : "Image catalogue");
	ssi_cat_commands(b, c->remote, c->base, any_unified(c));
	if (c->o && c->o->status)
		ssi_cat_status(b, c->o->status);
	SSI_HB_LIT(b, "<section aria-labelledby=\"imgs\"><h2 id=\"imgs\">Images</h2>\n<p>");
	count(b, c->nproducts, "product");
	SSI_HB_LIT(b, ", ");
	count(b, c->n, "file");
	SSI_HB_LIT(b, ". Open a product to see its versions and files.</p>\n"
		       "<div id=\"f\" hidden><label for=\"q\">Filter</label> <input id=\"q\" type=\"search\" "
		       "autocomplete=\"off\"> <span id=\"n\" aria-live=\"polite\"></span></div>\n"
		       "<div class=\"w\"><table id=\"cat\">\n<thead><tr>");
	ssi_hb_puts(b, heads);
	SSI_HB_LIT(b, "</tr></thead>\n");
	for (size_t i = 0; i < c->n && !b->oom;)
		i = product(b, c, i);
	ssi_cat_tail(b);
}

/* ---- entry points ---------------------------------------------------------------------- */

/* The page of the N items IT, or of T's items when IT is NULL, into B. */
static int render(struct ssi_hbuf *b, const struct ss_tree *t, const struct ss_item *const *it, size_t n,
		  const struct ss_catalogue_opts *o, const char *base, struct ss_error *err)
{
	struct cat c = { .o = o, .remote = o && o->remote ? o->remote : "mysite" };
	char *copy = NULL;
	/* a base URL goes into commands people paste: only a plain one */
	if (base && *base && !ssi_field_problem(SSI_F_URL, base) && (copy = strdup(base))) {
		for (size_t l = strlen(copy); l > 0 && copy[l - 1] == '/'; l--)
			copy[l - 1] = '\0';
		c.base = copy;
	}
	if (collect(&c, t, it, n) == 0) {
		/* about 300 bytes a file, 8 KiB around them */
		ssi_hb_reserve(b, b->flush ? SSI_HB_PIECE + 8192 : 8192 + 320 * c.n);
		page(b, &c);
	} else {
		b->oom = 1;
	}
	free(c.r);
	free(copy);
	if (b->oom && !b->flush)
		return ssi_err(err, SS_FATAL, "catalogue: out of memory");
	return SS_OK;
}

/* The page of T (IT NULL) or of the N items IT, in memory. */
static char *render_mem(const struct ss_tree *t, const struct ss_item *const *it, size_t n,
			const struct ss_catalogue_opts *o, const char *base, size_t *len, struct ss_error *err)
{
	struct ssi_hbuf b = { 0 };
	if (render(&b, t, it, n, o, base, err) != SS_OK || !b.p) {
		free(b.p);
		if (!err->msg[0])
			ssi_err(err, SS_FATAL, "catalogue: out of memory");
		return NULL;
	}
	if (len)
		*len = b.len;
	return b.p;
}

char *ss_catalogue_render(const struct ss_tree *t, const struct ss_catalogue_opts *o, size_t *len,
			  struct ss_error *err)
{
	return render_mem(t, NULL, 0, o, o ? o->base_url : NULL, len, err);
}

/* The base URL of TREE's page: O's, else its webconf's (malloc'd). */
static char *base_of(const char *tree, const struct ss_catalogue_opts *o)
{
	return o && o->base_url ? strdup(o->base_url) : ss_webconf_base_url(tree);
}

char *ssi_catalogue_render_items(const char *tree, const struct ss_item *const *it, size_t n,
				 const struct ss_catalogue_opts *o, size_t *len, struct ss_error *err)
{
	char *base = base_of(tree, o), *page = render_mem(NULL, it, n, o, base, len, err);
	free(base);
	return page;
}

/* The page of T (IT NULL) or of the N items IT, into TREE/index.html
 * unless that holds the same bytes already.  A page sstream did not write
 * (a site's own) is never overwritten: SS_PARTIAL. */
static int write_page(const char *tree, const struct ss_tree *t, const struct ss_item *const *it, size_t n,
		      const struct ss_catalogue_opts *o, int *changed, struct ss_error *err)
{
	int dummy = 0;
	if (ssi_cat_refuse_foreign(tree, err) != SS_OK)
		return SS_PARTIAL;
	struct ssi_cat_sink s;
	struct ssi_hbuf b;
	if (ssi_cat_sink_open(tree, &s, &b, err) != SS_OK)
		return SS_FATAL;
	char *base = base_of(tree, o);
	int rc = render(&b, t, it, n, o, base, err);
	rc = ssi_cat_sink_close(tree, &s, &b, rc, changed ? changed : &dummy, err);
	free(b.p);
	free(base);
	return rc;
}

int ss_catalogue_write(const char *tree, const struct ss_catalogue_opts *o, int *changed, struct ss_error *err)
{
	if (changed)
		*changed = 0;
	/* (said before the tree is read: its load is what costs) */
	if (ssi_cat_refuse_foreign(tree, err) != SS_OK)
		return SS_PARTIAL;
	struct ss_tree *t = ss_tree_load(tree, err);
	if (!t)
		return err->code ? err->code : SS_FATAL;
	int rc = write_page(tree, t, NULL, 0, o, changed, err);
	ss_tree_free(t);
	return rc;
}

int ssi_catalogue_write_items(const char *tree, const struct ss_item *const *it, size_t n,
			      const struct ss_catalogue_opts *o, int *changed, struct ss_error *err)
{
	if (changed)
		*changed = 0;
	return write_page(tree, NULL, it, n, o, changed, err);
}
