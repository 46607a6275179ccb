/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The catalogue page's fixed parts: the head with its inline style, the
 * commands to use the tree, the mirror's status block, the script; and
 * the status block's update in place, for a mirror run that changed
 * nothing else (the page's products are then what they were: the tree is
 * not read again).  lib/catalogue.c puts the products between them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalogue_internal.h"
#include "internal.h"

/* The status block: from this to the first end of a section after it
 * (every string inside is escaped: no tree can write either). */
#define STATUS_START "<section aria-labelledby=\"st\">"
#define STATUS_END "</section>\n"

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

void ssi_cat_head(struct ssi_hbuf *b, const char *title)
{
	SSI_HB_LIT(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		       SSI_CAT_GENERATOR_META "\n<title>");
	ssi_html_text(b, title);
	SSI_HB_LIT(b, "</title>\n<style>\n");
	ssi_hb_put(b, style, sizeof(style) - 1);
	SSI_HB_LIT(b, "</style>\n</head>\n<body>\n<main>\n<h1>");
	ssi_html_text(b, title);
	SSI_HB_LIT(b, "</h1>\n");
}

void ssi_cat_tail(struct ssi_hbuf *b)
{
	SSI_HB_LIT(b, "</table></div>\n</section>\n</main>\n<script>\n");
	ssi_hb_put(b, script, sizeof(script) - 1);
	SSI_HB_LIT(b, "</script>\n</body>\n</html>\n");
}

void ssi_cat_commands(struct ssi_hbuf *b, const char *remote, const char *base, int unified)
{
	const char *url = base ? base : "URL";
	SSI_HB_LIT(b, "<section aria-labelledby=\"use\"><h2 id=\"use\">Using these images</h2>\n"
		       "<p>Add this server as a remote, then launch an image by its alias:</p>\n<pre><code>lxc remote add ");
	ssi_html_text(b, remote);
	ssi_hb_putc(b, ' ');
	ssi_html_text(b, url);
	SSI_HB_LIT(b, " --protocol simplestreams --public\nlxc launch ");
	ssi_html_text(b, remote);
	SSI_HB_LIT(b, ":ALIAS</code></pre>\n");
	if (unified) {
		SSI_HB_LIT(b, "<p>Unified images can also be imported by URL, without the remote:</p>\n"
			       "<pre><code>lxc image import ");
		ssi_html_text(b, url);
		SSI_HB_LIT(b, "/import/ALIAS</code></pre>\n");
	}
	if (!base)
		SSI_HB_LIT(b, "<p>URL is the address this page is served at, without index.html.</p>\n");
	SSI_HB_LIT(b, "</section>\n");
}

static void dd(struct ssi_hbuf *b, const char *term, const char *val)
{
	SSI_HB_LIT(b, "<dt>");
	ssi_hb_puts(b, term);
	SSI_HB_LIT(b, "</dt><dd>");
	ssi_html_text(b, val && *val ? val : "-");
	SSI_HB_LIT(b, "</dd>\n");
}

void ssi_cat_status(struct ssi_hbuf *b, const struct ss_catalogue_status *s)
{
	SSI_HB_LIT(b, STATUS_START "<h2 id=\"st\">Mirror status</h2>\n<dl>\n");
	dd(b, "Source", s->source);
	dd(b, "Filters", s->filters);
	dd(b, "Last successful run", s->last_run);
	dd(b, "Result", s->result);
	SSI_HB_LIT(b, "<dt>Items</dt><dd>");
	if (s->items >= 0)
		ssi_hb_int(b, s->items);
	else
		ssi_hb_putc(b, '-');
	SSI_HB_LIT(b, "</dd>\n<dt>Size</dt><dd>");
	ssi_html_size(b, s->bytes);
	SSI_HB_LIT(b, "</dd>\n</dl>\n");
	if (s->nwaiting) {
		SSI_HB_LIT(b, "<div class=\"w\"><table class=\"i\"><caption>Files waiting out their grace period</caption>\n"
			       "<thead><tr><th scope=\"col\">File</th><th scope=\"col\">Removed after</th></tr></thead>\n"
			       "<tbody>\n");
		for (size_t i = 0; i < s->nwaiting; i++) {
			SSI_HB_LIT(b, "<tr><td>");
			ssi_html_text(b, s->waiting[i].path);
			SSI_HB_LIT(b, "</td><td>");
			ssi_html_text(b, s->waiting[i].until);
			SSI_HB_LIT(b, "</td></tr>\n");
		}
		SSI_HB_LIT(b, "</tbody></table></div>\n");
	}
	SSI_HB_LIT(b, STATUS_END);
}

int ssi_cat_ours(const char *data, size_t len)
{
	return memmem(data, len, SSI_CAT_GENERATOR_META, strlen(SSI_CAT_GENERATOR_META)) != NULL;
}

int ssi_cat_owner(const char *tree)
{
	char *file = ss_join(tree, "index.html"), head[65536];
	int fd = file ? open(file, O_RDONLY | O_CLOEXEC) : -1;
	free(file);
	if (fd < 0)
		return 0;
	/* the generator meta is in the head, before the style */
	ssize_t n = read(fd, head, sizeof(head));
	close(fd);
	return n > 0 && ssi_cat_ours(head, (size_t)n) ? 1 : -1;
}

int ssi_cat_sink_open(const char *tree, struct ssi_cat_sink *s, struct ssi_hbuf *b, struct ss_error *err)
{
	*s = (struct ssi_cat_sink){ .fd = -1 };
	if (asprintf(&s->tmp, "%s/.index.html.tmp.XXXXXX", tree) < 0) {
		s->tmp = NULL;
		return ssi_err(err, SS_FATAL, "catalogue: out of memory");
	}
	if (!(s->h = ss_hasher_new(SS_HASH_SHA256)) || (s->fd = mkostemp(s->tmp, O_CLOEXEC)) < 0) {
		int rc = ssi_err_sys(err, SS_FATAL, errno, "cannot create '%s'", s->tmp);
		ss_hasher_free(s->h);
		free(s->tmp);
		*s = (struct ssi_cat_sink){ .fd = -1 };
		return rc;
	}
	/* (mkostemp's 0600: a page is for everyone) */
	fchmod(s->fd, 0644);
	*b = (struct ssi_hbuf){ .flush = ssi_cat_sink_flush, .sink = s };
	return SS_OK;
}

/* LEN bytes of DATA into the page's file (and its hash); a failed write
 * ends the page: nothing more is taken. */
static void sink_out(struct ssi_hbuf *b, const char *data, size_t len)
{
	struct ssi_cat_sink *s = b->sink;
	ss_hasher_update(s->h, data, len);
	if (!s->err_no && ssi_write_all(s->fd, data, len) < 0)
		s->err_no = errno;
	if (s->err_no)
		b->oom = 1;
}

void ssi_cat_sink_flush(struct ssi_hbuf *b)
{
	sink_out(b, b->p, b->len);
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

void ssi_cat_sink_write(struct ssi_hbuf *b, const char *data, size_t len)
{
	ssi_cat_sink_flush(b);
	if (!b->oom)
		sink_out(b, data, len);
}

int ssi_cat_sink_close(const char *tree, struct ssi_cat_sink *s, struct ssi_hbuf *b, int rc, int *changed,
		       struct ss_error *err)
{
	*changed = 0;
	if (rc == SS_OK && !b->oom)
		ssi_cat_sink_flush(b);
	if (rc == SS_OK && (s->err_no || fsync(s->fd) < 0))
		rc = ssi_err_sys(err, SS_FATAL, s->err_no ? s->err_no : errno, "cannot write '%s'", s->tmp);
	else if (rc == SS_OK && b->oom)
		rc = ssi_err(err, SS_FATAL, "catalogue: out of memory");
	struct ss_digest now, was;
	struct ss_error e;
	char *page = ss_join(tree, "index.html");
	ss_hasher_final(s->h, &now);
	int same = rc == SS_OK && page && ss_hash_file(page, SS_HASH_SHA256, &was, &e) == SS_OK &&
		   strcmp(now.sha256, was.sha256) == 0;
	if (rc == SS_OK && !same && page && rename(s->tmp, page) < 0)
		rc = ssi_err_sys(err, SS_FATAL, errno, "cannot write '%s'", page);
	else if (rc == SS_OK && !same)
		*changed = 1;
	if (rc != SS_OK || same)
		unlink(s->tmp);
	close(s->fd);
	ss_hasher_free(s->h);
	free(s->tmp);
	free(page);
	return rc;
}

int ssi_cat_refuse_foreign(const char *tree, struct ss_error *err)
{
	if (ssi_cat_owner(tree) < 0)
		return ssi_err(err, SS_PARTIAL, "'%s/index.html' was not written by sstream: left as it is", tree);
	return SS_OK;
}

/* Where the status block of the page TEXT (its first N bytes) starts and
 * ends; -1 when TEXT is not a page of ours with one. */
static int status_span(const char *text, size_t n, size_t *from, size_t *to)
{
	const char *f = ssi_cat_ours(text, n) ? memmem(text, n, STATUS_START, strlen(STATUS_START)) : NULL;
	const char *t = f ? memmem(f, n - (size_t)(f - text), STATUS_END, strlen(STATUS_END)) : NULL;
	if (!t)
		return -1;
	*from = (size_t)(f - text);
	*to = (size_t)(t - text) + strlen(STATUS_END);
	return 0;
}

/* The N bytes of TEXT with S in place of its status block (FROM to TO)
 * into the page's file. */
static void put_spliced(struct ssi_hbuf *b, const char *text, size_t n, size_t from, size_t to,
			const struct ss_catalogue_status *s)
{
	ssi_hb_put(b, text, from);
	ssi_cat_status(b, s);
	ssi_cat_sink_write(b, text + to, n - to);
}

/* The status block is near the top (after the head and the commands):
 * looked for in the page's first piece, and the rest of the page (the
 * products: 180 MB for a million items) copied a piece at a time. */
int ssi_catalogue_status_update(const char *tree, const struct ss_catalogue_status *s, int *changed,
				struct ss_error *err)
{
	char *file = ss_join(tree, "index.html"), *piece = malloc(SSI_HB_PIECE);
	int fd = file && piece ? open(file, O_RDONLY | O_CLOEXEC) : -1;
	ssize_t n = fd >= 0 ? ssi_read_full(fd, piece, SSI_HB_PIECE, 0) : -1;
	off_t off = n > 0 ? n : 0;
	size_t from, to;
	int rc = n > 0 && status_span(piece, (size_t)n, &from, &to) == 0 ? SS_OK : SS_PARTIAL;
	struct ssi_cat_sink sk;
	struct ssi_hbuf b;
	*changed = 0;
	if (rc == SS_OK && (rc = ssi_cat_sink_open(tree, &sk, &b, err)) == SS_OK) {
		put_spliced(&b, piece, (size_t)n, from, to, s);
		while (!b.oom && (n = ssi_read_full(fd, piece, SSI_HB_PIECE, off)) > 0) {
			ssi_cat_sink_write(&b, piece, (size_t)n);
			off += n;
		}
		if (n < 0)
			rc = ssi_err_sys(err, SS_FATAL, errno, "cannot read '%s'", file);
		rc = ssi_cat_sink_close(tree, &sk, &b, rc, changed, err);
		free(b.p);
	}
	if (fd >= 0)
		close(fd);
	free(piece);
	free(file);
	return rc;
}

int ssi_catalogue_write_rendered(const char *tree, const char *page, size_t len,
				 const struct ss_catalogue_status *s, int *changed, struct ss_error *err)
{
	size_t from, to;
	int rc = ssi_cat_refuse_foreign(tree, err);
	*changed = 0;
	if (rc != SS_OK)
		return rc;
	if (status_span(page, len, &from, &to) < 0)
		return ssi_err(err, SS_FATAL, "catalogue: the page rendered has no status block");
	struct ssi_cat_sink sk;
	struct ssi_hbuf b;
	if ((rc = ssi_cat_sink_open(tree, &sk, &b, err)) != SS_OK)
		return rc;
	put_spliced(&b, page, len, from, to, s);
	rc = ssi_cat_sink_close(tree, &sk, &b, SS_OK, changed, err);
	free(b.p);
	return rc;
}
