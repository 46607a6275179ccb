/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The catalogue: TREE/index.html, a page people can look at.  One row per
 * product (its newest version's date, size and fingerprint), each opening
 * the product's versions with every file linked; the commands to use the
 * tree on top.  Self-contained (inline CSS and a small script that sorts
 * and filters; without it the whole table shows), deterministic (sorted,
 * no clock), and every string from the tree escaped (catalogue_html.c).
 * Products are collapsed (<details>), so a tree of 100 000 items still
 * gives a page a browser opens.
 */
#include <stdlib.h>
#include <string.h>

#include "catalogue_internal.h"

/* Marks the pages this module writes (and may rewrite). */
#define GENERATOR "sstream catalogue"
#include "internal.h"

/* The products' items, sorted (content id, product, version newest first,
 * item); a product is a run of them, a version a run inside it. */
struct cat {
	const struct ss_item **it;
	size_t n;
	const struct ss_catalogue_opts *o;
	const char *base, *remote;
	size_t nproducts;
};

static int cmp0(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

static int cmp_item(const void *pa, const void *pb)
{
	const struct ss_item *a = *(const struct ss_item *const *)pa, *b = *(const struct ss_item *const *)pb;
	int c = cmp0(ss_item_content_id(a), ss_item_content_id(b));
	if (!c)
		c = cmp0(ss_item_product(a), ss_item_product(b));
	if (!c)
		c = -ss_version_cmp(ss_item_version(a) ? ss_item_version(a) : "",
				    ss_item_version(b) ? ss_item_version(b) : "");
	if (!c)
		c = cmp0(ss_item_name(a), ss_item_name(b));
	/* two products files of one content id may repeat an item: still one order */
	if (!c)
		c = cmp0(ss_item_str(a, "path"), ss_item_str(b, "path"));
	if (!c)
		c = cmp0(ss_item_str(a, "sha256"), ss_item_str(b, "sha256"));
	return c;
}

static int same_product(const struct ss_item *a, const struct ss_item *b)
{
	return !cmp0(ss_item_content_id(a), ss_item_content_id(b)) && !cmp0(ss_item_product(a), ss_item_product(b));
}

static int same_version(const struct ss_item *a, const struct ss_item *b)
{
	return same_product(a, b) && !cmp0(ss_item_version(a), ss_item_version(b));
}

/* End of the run starting at I that SAME keeps together. */
static size_t run_end(const struct cat *c, size_t i, int (*same)(const struct ss_item *, const struct ss_item *))
{
	size_t j = i + 1;
	while (j < c->n && same(c->it[i], c->it[j]))
		j++;
	return j;
}

static int collect(struct cat *c, const struct ss_tree *t)
{
	size_t n = 0;
	for (size_t i = 0; i < ss_tree_nproducts(t); i++)
		n += ss_products_count(ss_tree_products(t, i));
	c->it = malloc((n ? n : 1) * sizeof(*c->it));
	if (!c->it)
		return -1;
	for (size_t i = 0; i < ss_tree_nproducts(t); i++) {
		const struct ss_products *p = ss_tree_products(t, i);
		for (size_t k = 0; k < ss_products_count(p); k++)
			c->it[c->n++] = ss_products_item(p, k);
	}
	qsort(c->it, c->n, sizeof(*c->it), cmp_item);
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

static int ftype_is(const struct ss_item *it, const char *ft)
{
	const char *f = ss_item_str(it, "ftype");
	return f && strcmp(f, ft) == 0;
}

static void version_info(const struct cat *c, size_t from, size_t to, struct vinfo *v)
{
	static const char *const cfields[] = { "combined_squashfs_sha256", "combined_rootxz_sha256", "combined_sha256",
					       "combined_disk-kvm-img_sha256" };
	*v = (struct vinfo){ 0 };
	for (size_t i = from; i < to; i++) {
		const struct ss_item *it = c->it[i];
		long long s = ss_item_get_int(it, "size");
		v->size += s > 0 ? s : 0;
		if (ftype_is(it, "disk-kvm.img") || ftype_is(it, "disk.qcow2") || ss_item_str(it, cfields[3]))
			v->vm = 1;
		if (ftype_is(it, "squashfs") || ftype_is(it, "root.tar.xz") || ss_item_str(it, cfields[0]) ||
		    ss_item_str(it, cfields[1]) || ss_item_str(it, cfields[2]))
			v->container = 1;
		if (ftype_is(it, "lxd_combined.tar.gz") || ftype_is(it, "incus_combined.tar.gz")) {
			v->container = 1;
			if (!v->unified)
				v->unified = it;
		}
		for (size_t k = 0; !v->fingerprint && k < sizeof(cfields) / sizeof(cfields[0]); k++)
			v->fingerprint = ss_item_str(it, cfields[k]);
	}
	if (!v->fingerprint && v->unified)
		v->fingerprint = ss_item_str(v->unified, "sha256");
}

static const char *type_of(const struct vinfo *v)
{
	return v->container && v->vm ? "container, VM" : v->vm ? "VM" : v->container ? "container" : "-";
}

/* The first alias of IT that is safe to put in a command someone pastes
 * into a shell (written into BUF), or NULL. */
static const char *first_alias(const struct ss_item *it, char *buf, size_t bufsz)
{
	for (const char *a = ss_item_str(it, "aliases"); a && *a;) {
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

/* ---- the page ------------------------------------------------------------------- */

static void cell(FILE *f, const char *label, const char *cls, const char *text)
{
	fprintf(f, "<td data-l=\"%s\"%s%s%s>", label, cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "");
	ssi_html_text(f, text && *text ? text : "-");
	fputs("</td>", f);
}

/* "YYYY-MM-DD" from a version name that starts with a date, or "-". */
static void date_of(const char *version, char out[11])
{
	strcpy(out, "-");
	for (int i = 0; i < 8; i++)
		if (!version || version[i] < '0' || version[i] > '9')
			return;
	snprintf(out, 11, "%.4s-%.2s-%.2s", version, version + 4, version + 6);
}

/* The aliases, a space after each comma so that the cell wraps there. */
static void aliases_cell(FILE *f, const char *aliases)
{
	fputs("<td data-l=\"Aliases\" class=\"a\">", f);
	if (!aliases || !*aliases)
		fputc('-', f);
	for (const char *a = aliases; a && *a;) {
		const char *comma = strchr(a, ',');
		ssi_html_textn(f, a, comma ? (size_t)(comma - a) : strlen(a));
		if (comma)
			fputs(", ", f);
		a = comma ? comma + 1 : NULL;
	}
	fputs("</td>", f);
}

static void product_row(FILE *f, const struct cat *c, size_t from, size_t vend, const struct vinfo *v)
{
	const struct ss_item *it = c->it[from];
	char date[11], fp[13] = "-";
	date_of(ss_item_version(it), date);
	if (v->fingerprint && !ssi_field_problem(SSI_F_FINGERPRINT, v->fingerprint))
		snprintf(fp, sizeof(fp), "%.12s", v->fingerprint);
	(void)vend;
	fputs("<tr class=\"p\">", f);
	cell(f, "Product", "n", ss_item_product(it));
	cell(f, "OS", NULL, ss_item_str(it, "os"));
	cell(f, "Release", NULL, ss_item_str(it, "release"));
	cell(f, "Variant", NULL, ss_item_str(it, "variant"));
	cell(f, "Arch", NULL, ss_item_str(it, "arch"));
	cell(f, "Type", NULL, type_of(v));
	cell(f, "Version", NULL, ss_item_version(it));
	cell(f, "Date", NULL, date);
	fprintf(f, "<td data-l=\"Size\" data-k=\"%lld\">", v->size);
	ssi_html_size(f, v->size);
	fputs("</td>", f);
	aliases_cell(f, ss_item_str(it, "aliases"));
	cell(f, "Fingerprint", "h", fp);
	fputs("</tr>\n", f);
}

static void item_row(FILE *f, const struct ss_item *it)
{
	const char *path = ss_item_str(it, "path");
	struct ss_error e;
	fputs("<tr><td>", f);
	if (path && ss_path_check(path, &e) == SS_OK) {
		fputs("<a href=\"", f);
		ssi_html_href(f, path);
		fputs("\">", f);
		/* the file's name: the version's caption and the link say where */
		const char *base = strrchr(path, '/');
		ssi_html_text(f, base ? base + 1 : path);
		fputs("</a>", f);
	} else {
		ssi_html_text(f, path ? path : "-");
	}
	fputs("</td><td>", f);
	ssi_html_text(f, ss_item_str(it, "ftype") ? ss_item_str(it, "ftype") : ss_item_name(it));
	fputs("</td><td>", f);
	ssi_html_size(f, ss_item_get_int(it, "size"));
	fputs("</td><td class=\"h\">", f);
	ssi_html_text(f, ss_item_str(it, "sha256") ? ss_item_str(it, "sha256") : "-");
	fputs("</td></tr>\n", f);
}

static void product_commands(FILE *f, const struct cat *c, const struct ss_item *it, const struct vinfo *v)
{
	char alias[256];
	const char *a = first_alias(it, alias, sizeof(alias));
	if (!(v->container || v->vm) || !a)
		return;
	fputs("<pre><code>lxc launch ", f);
	ssi_html_text(f, c->remote);
	fputc(':', f);
	ssi_html_text(f, a);
	if (!v->container)
		fputs(" --vm", f);
	if (v->unified) {
		fputs("\nlxc image import ", f);
		ssi_html_text(f, c->base ? c->base : "URL");
		fputs("/import/", f);
		ssi_html_text(f, a);
	}
	fputs("</code></pre>\n", f);
}

/* The product whose items are C->it[FROM..TO): its row and, in a second
 * row, its versions and files behind a <details>. */
static size_t product(FILE *f, const struct cat *c, size_t from)
{
	size_t to = run_end(c, from, same_product), nv = 0, vend = run_end(c, from, same_version);
	struct vinfo v;
	version_info(c, from, vend, &v);
	for (size_t i = from; i < to; i = run_end(c, i, same_version))
		nv++;
	fputs("<tbody>\n", f);
	product_row(f, c, from, vend, &v);
	fputs("<tr class=\"d\"><td colspan=\"11\"><details><summary>", f);
	ssi_html_text(f, ss_item_product(c->it[from]));
	const char *title = ss_item_str(c->it[from], "release_title");
	if (title) {
		fputs(" (", f);
		ssi_html_text(f, title);
		fputc(')', f);
	}
	fprintf(f, ": %zu version%s, %zu file%s</summary>\n", nv, nv == 1 ? "" : "s", to - from,
		to - from == 1 ? "" : "s");
	product_commands(f, c, c->it[from], &v);
	for (size_t i = from; i < to;) {
		size_t e = run_end(c, i, same_version);
		fputs("<div class=\"w\"><table class=\"i\"><caption>Version ", f);
		ssi_html_text(f, ss_item_version(c->it[i]));
		fputs("</caption>\n<thead><tr><th scope=\"col\">File</th><th scope=\"col\">Type</th>"
		      "<th scope=\"col\">Size</th><th scope=\"col\">SHA-256</th></tr></thead>\n<tbody>\n", f);
		for (; i < e; i++)
			item_row(f, c->it[i]);
		fputs("</tbody></table></div>\n", f);
	}
	fputs("</details></td></tr>\n</tbody>\n", f);
	return to;
}

/* ---- head, commands, status -------------------------------------------------------- */

static const char style[] =
	"body{font-family:sans-serif;margin:0 auto;max-width:100em;padding:1em;color:#1a1a1a;background:#fff;"
	"line-height:1.4}\n"
	"h1{font-size:1.5em}h2{font-size:1.2em}a,summary{color:#0b4f8a}summary{cursor:pointer}\n"
	"pre{background:#f1f1f1;padding:.5em;white-space:pre-wrap;word-break:break-all}\n"
	"table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.25em .5em;vertical-align:top}\n"
	"#cat>thead th{position:sticky;top:0;background:#e6e6e6;white-space:nowrap}\n"
	"#cat>tbody{border-top:1px solid #bbb}tr.d>td{padding:0 .5em .25em}\n"
	".h{font-family:monospace;word-break:break-all}.n,.a{overflow-wrap:anywhere}.w{overflow-x:auto}\n"
	"th button{font:inherit;font-weight:bold;background:none;border:0;padding:0;cursor:pointer;color:inherit}\n"
	"table.i{margin:.5em 0;font-size:.9em;table-layout:fixed}table.i th:nth-child(1){width:30%}"
	"table.i th:nth-child(2){width:18%}table.i th:nth-child(3){width:10%}table.i caption{text-align:left;font-weight:bold}\n"
	"dl{display:grid;grid-template-columns:max-content 1fr;gap:0 1em}dd{margin:0}\n"
	"#cat{font-size:.95em}td[data-l=Date],td[data-l=Size]{white-space:nowrap}\n"
	"[hidden]{display:none!important}#q{font:inherit;padding:.25em;width:20em;max-width:90%}\n"
	"@media (max-width:45em){#cat>thead{position:absolute;width:1px;height:1px;overflow:hidden;"
	"clip:rect(0 0 0 0)}\n"
	"#cat,#cat>tbody,#cat>tbody>tr,#cat>tbody>tr>td{display:block}\n"
	"#cat>tbody{border:1px solid #bbb;margin:.5em 0;padding:.25em}tr.p>td{padding:0 .25em}\n"
	"tr.p>td::before{content:attr(data-l) \": \";font-weight:bold;font-family:sans-serif}dl{display:block}}\n";

/* Sorts (a button in each column head) and filters (every word typed must
 * occur in the product's row).  Reads the page only; no data embedded. */
static const char script[] =
	"(function(){\n"
	"var t=document.getElementById('cat'),q=document.getElementById('q'),n=document.getElementById('n');\n"
	"var b=Array.prototype.slice.call(t.tBodies),th=t.tHead.rows[0].cells;\n"
	"b.forEach(function(x){x.k=x.rows[0].textContent.toLowerCase();});\n"
	"function show(){var w=q.value.toLowerCase().split(/\\s+/).filter(Boolean),c=0;\n"
	"b.forEach(function(x){var ok=w.every(function(s){return x.k.indexOf(s)>=0;});x.hidden=!ok;if(ok)c++;});\n"
	"n.textContent=c+' of '+b.length+' products';}\n"
	"function key(x,i){var c=x.rows[0].cells[i];\n"
	"return c.hasAttribute('data-k')?Number(c.getAttribute('data-k')):c.textContent;}\n"
	"Array.prototype.forEach.call(th,function(h,i){var u=document.createElement('button');\n"
	"u.type='button';u.textContent=h.textContent;h.textContent='';h.appendChild(u);\n"
	"u.addEventListener('click',function(){var d=h.getAttribute('aria-sort')==='ascending'?-1:1;\n"
	"Array.prototype.forEach.call(th,function(o){o.removeAttribute('aria-sort');});\n"
	"h.setAttribute('aria-sort',d>0?'ascending':'descending');\n"
	"b.sort(function(x,y){var p=key(x,i),r=key(y,i);\n"
	"return d*(typeof p==='number'?p-r:p.localeCompare(r,undefined,{numeric:true}));});\n"
	"b.forEach(function(x){t.appendChild(x);});});});\n"
	"q.addEventListener('input',show);document.getElementById('f').hidden=false;show();\n"
	"})();\n";

static int any_unified(const struct cat *c)
{
	for (size_t i = 0; i < c->n; i++)
		if (ftype_is(c->it[i], "lxd_combined.tar.gz"))
			return 1;
	return 0;
}

static void commands(FILE *f, const struct cat *c)
{
	const char *url = c->base ? c->base : "URL";
	fputs("<section aria-labelledby=\"use\"><h2 id=\"use\">Using these images</h2>\n"
	      "<p>Add this server as a remote, then launch an image by its alias:</p>\n<pre><code>lxc remote add ", f);
	ssi_html_text(f, c->remote);
	fputc(' ', f);
	ssi_html_text(f, url);
	fputs(" --protocol simplestreams --public\nlxc launch ", f);
	ssi_html_text(f, c->remote);
	fputs(":ALIAS</code></pre>\n", f);
	if (any_unified(c)) {
		fputs("<p>Unified images can also be imported by URL, without the remote:</p>\n"
		      "<pre><code>lxc image import ", f);
		ssi_html_text(f, url);
		fputs("/import/ALIAS</code></pre>\n", f);
	}
	if (!c->base)
		fputs("<p>URL is the address this page is served at, without index.html.</p>\n", f);
	fputs("</section>\n", f);
}

static void dd(FILE *f, const char *term, const char *val)
{
	fprintf(f, "<dt>%s</dt><dd>", term);
	ssi_html_text(f, val && *val ? val : "-");
	fputs("</dd>\n", f);
}

static void status(FILE *f, const struct ss_catalogue_status *s)
{
	fputs("<section aria-labelledby=\"st\"><h2 id=\"st\">Mirror status</h2>\n<dl>\n", f);
	dd(f, "Source", s->source);
	dd(f, "Filters", s->filters);
	dd(f, "Last successful run", s->last_run);
	dd(f, "Result", s->result);
	fputs("<dt>Items</dt><dd>", f);
	if (s->items >= 0)
		fprintf(f, "%lld", s->items);
	else
		fputc('-', f);
	fputs("</dd>\n<dt>Size</dt><dd>", f);
	ssi_html_size(f, s->bytes);
	fputs("</dd>\n</dl>\n", f);
	if (s->nwaiting) {
		fputs("<div class=\"w\"><table class=\"i\"><caption>Files waiting out their grace period</caption>\n"
		      "<thead><tr><th scope=\"col\">File</th><th scope=\"col\">Removed after</th></tr></thead>\n<tbody>\n",
		      f);
		for (size_t i = 0; i < s->nwaiting; i++) {
			fputs("<tr><td>", f);
			ssi_html_text(f, s->waiting[i].path);
			fputs("</td><td>", f);
			ssi_html_text(f, s->waiting[i].until);
			fputs("</td></tr>\n", f);
		}
		fputs("</tbody></table></div>\n", f);
	}
	fputs("</section>\n", f);
}

static void page(FILE *f, const struct cat *c)
{
	static const char *const heads[] = { "Product", "OS", "Release", "Variant", "Arch", "Type",
					     "Version", "Date", "Size", "Aliases", "Fingerprint" };
	const char *title = c->o && c->o->title ? c->o->title : "Image catalogue";
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<meta name=\"generator\" content=\"" GENERATOR "\">\n<title>", f);
	ssi_html_text(f, title);
	fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n<h1>", style);
	ssi_html_text(f, title);
	fputs("</h1>\n", f);
	commands(f, c);
	if (c->o && c->o->status)
		status(f, c->o->status);
	fprintf(f, "<section aria-labelledby=\"imgs\"><h2 id=\"imgs\">Images</h2>\n"
		   "<p>%zu product%s, %zu file%s. Open a product to see its versions and files.</p>\n"
		   "<div id=\"f\" hidden><label for=\"q\">Filter</label> <input id=\"q\" type=\"search\" "
		   "autocomplete=\"off\"> <span id=\"n\" aria-live=\"polite\"></span></div>\n"
		   "<div class=\"w\"><table id=\"cat\">\n<thead><tr>",
		c->nproducts, c->nproducts == 1 ? "" : "s", c->n, c->n == 1 ? "" : "s");
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++)
		fprintf(f, "<th scope=\"col\">%s</th>", heads[i]);
	fputs("</tr></thead>\n", f);
	for (size_t i = 0; i < c->n;)
		i = product(f, c, i);
	fprintf(f, "</table></div>\n</section>\n</main>\n<script>\n%s</script>\n</body>\n</html>\n", script);
}

/* ---- entry points ---------------------------------------------------------------------- */

static char *render(const struct ss_tree *t, const struct ss_catalogue_opts *o, const char *base, size_t *len,
		    struct ss_error *err)
{
	struct cat c = { .o = o, .remote = o && o->remote ? o->remote : "mysite" };
	char *out = NULL, *b = NULL;
	size_t n = 0;
	/* a base URL goes into commands people paste: only a plain one */
	if (base && *base && !ssi_field_problem(SSI_F_URL, base) && (b = strdup(base))) {
		for (size_t l = strlen(b); l > 0 && b[l - 1] == '/'; l--)
			b[l - 1] = '\0';
		c.base = b;
	}
	FILE *f = collect(&c, t) < 0 ? NULL : open_memstream(&out, &n);
	if (f) {
		page(f, &c);
		if (fclose(f) != 0) {
			free(out);
			out = NULL;
		}
	}
	free(c.it);
	free(b);
	if (!out)
		ssi_err(err, SS_FATAL, "catalogue: out of memory");
	else if (len)
		*len = n;
	return out;
}

char *ss_catalogue_render(const struct ss_tree *t, const struct ss_catalogue_opts *o, size_t *len,
			  struct ss_error *err)
{
	return render(t, o, o ? o->base_url : NULL, len, err);
}

/* 1 when TREE has an index.html that this module did not write (a site's
 * own page): it is never overwritten. */
static int foreign_page(const char *tree)
{
	char *file = ss_join(tree, "index.html"), *data = NULL;
	size_t len = 0;
	struct ss_error e;
	int foreign = file && ss_fetch(file, 1 << 26, &data, &len, &e) == SS_OK &&
		      !memmem(data, len, "<meta name=\"generator\" content=\"" GENERATOR "\">", strlen(GENERATOR) + 34);
	free(file);
	free(data);
	return foreign;
}

int ss_catalogue_write(const char *tree, const struct ss_catalogue_opts *o, int *changed, struct ss_error *err)
{
	int dummy = 0;
	if (changed)
		*changed = 0;
	if (foreign_page(tree))
		return ssi_err(err, SS_PARTIAL, "'%s/index.html' was not written by sstream: left as it is", tree);
	struct ss_tree *t = ss_tree_load(tree, err);
	if (!t)
		return err->code ? err->code : SS_FATAL;
	char *base = o && o->base_url ? strdup(o->base_url) : ss_webconf_base_url(tree);
	size_t len = 0;
	char *html = render(t, o, base, &len, err);
	int rc = html ? ssi_safe_write(tree, "index.html", html, len, changed ? changed : &dummy, err) : SS_FATAL;
	free(html);
	free(base);
	ss_tree_free(t);
	return rc;
}
