/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by lib/catalogue.c (the model and the page), lib/catalogue_html.c
 * (the output buffer, escaping for HTML and URLs) and lib/catalogue_status.c
 * (the mirror's status block); not public. */
#ifndef SS_CATALOGUE_INTERNAL_H
#define SS_CATALOGUE_INTERNAL_H

#include <stddef.h>
#include <string.h>

#include "sstream.h"

/* A growing NUL-terminated buffer; after a failed allocation OOM is set
 * and every later write is dropped. */
struct ssi_hbuf {
	char *p;
	size_t len, cap;
	int oom;
	/* with FLUSH, what is written goes out in pieces of about
	 * SSI_HB_PIECE bytes (a page of a million items is 300 MB) */
	void (*flush)(struct ssi_hbuf *b);
	void *sink;
};
#define SSI_HB_PIECE ((size_t)1 << 20)

/* Room for N more bytes (and the NUL); -1 when out of memory. */
int ssi_hb_reserve(struct ssi_hbuf *b, size_t n);
void ssi_hb_put_slow(struct ssi_hbuf *b, const char *s, size_t n);
/* N bytes of S (inline: the page is thousands of small pieces). */
static inline void ssi_hb_put(struct ssi_hbuf *b, const char *s, size_t n)
{
	if (b->cap - b->len <= n) {
		ssi_hb_put_slow(b, s, n);
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}
void ssi_hb_puts(struct ssi_hbuf *b, const char *s);
/* A string literal L (its length known at compile time). */
#define SSI_HB_LIT(b, l) ssi_hb_put((b), "" l, sizeof(l) - 1)
void ssi_hb_putc(struct ssi_hbuf *b, char c);
void ssi_hb_int(struct ssi_hbuf *b, long long v);

/* S as HTML text or attribute value: & < > " ' become references, control
 * characters (C0 other than tab and line feed, DEL, C1) become U+FFFD. */
void ssi_html_text(struct ssi_hbuf *b, const char *s);
/* At most N bytes of S (not splitting a UTF-8 sequence), escaped. */
void ssi_html_textn(struct ssi_hbuf *b, const char *s, size_t n);
/* A tree-relative PATH as a relative URL: every byte but the unreserved
 * ones and '/' percent-encoded (so no ':' can make it a scheme).  The
 * caller has checked PATH with ss_path_check. */
void ssi_html_href(struct ssi_hbuf *b, const char *path);
/* BYTES as a short size: "512 B", "1.5 KiB", "2.0 GiB" (as "%.1f"). */
void ssi_html_size(struct ssi_hbuf *b, long long bytes);

/* ---- catalogue_page.c: the page's fixed parts ---- */

/* Marks the pages this module writes (and may rewrite). */
#define SSI_CAT_GENERATOR_META "<meta name=\"generator\" content=\"sstream catalogue\">"

/* From the doctype to the page's <h1>TITLE</h1>. */
void ssi_cat_head(struct ssi_hbuf *b, const char *title);
/* The commands to use the tree (REMOTE: the remote's name; BASE: its
 * URL or NULL; UNIFIED: the tree has unified images). */
void ssi_cat_commands(struct ssi_hbuf *b, const char *remote, const char *base, int unified);
/* A mirror's status block. */
void ssi_cat_status(struct ssi_hbuf *b, const struct ss_catalogue_status *s);
/* The end of the products' table, the script, the end of the page. */
void ssi_cat_tail(struct ssi_hbuf *b);
/* 1 when the LEN bytes of DATA are a page this module wrote. */
int ssi_cat_ours(const char *data, size_t len);
/* Whose TREE/index.html is, from its head: 1 a page of ours, -1 another
 * (a site's own: never overwritten), 0 none. */
int ssi_cat_owner(const char *tree);

/* A page written as it is rendered: into a new file beside TREE/index.html
 * that replaces it only when its bytes differ (sha256 of both). */
struct ssi_cat_sink {
	int fd;
	char *tmp;               /* its path */
	struct ss_hasher *h;
	int err_no;              /* a write failed */
};
int ssi_cat_sink_open(const char *tree, struct ssi_cat_sink *s, struct ssi_hbuf *b, struct ss_error *err);
/* Writes out what B holds (B's flush). */
void ssi_cat_sink_flush(struct ssi_hbuf *b);
/* What B holds, then the LEN bytes of DATA as they are (not copied into B). */
void ssi_cat_sink_write(struct ssi_hbuf *b, const char *data, size_t len);
/* Ends the page (RC: whether rendering went well): in place, or gone. */
int ssi_cat_sink_close(const char *tree, struct ssi_cat_sink *s, struct ssi_hbuf *b, int rc, int *changed,
		       struct ss_error *err);


/* ---- for the mirror, which has its items loaded ---- */

/* ss_catalogue_write's page of the N items IT (what TREE lists). */
int ssi_catalogue_write_items(const char *tree, const struct ss_item *const *it, size_t n,
			      const struct ss_catalogue_opts *o, int *changed, struct ss_error *err);
/* Replaces the status block of TREE/index.html with S, the rest as it
 * is.  SS_OK (*CHANGED says whether it wrote), SS_FATAL (not written), or
 * SS_PARTIAL when there is no page of ours with a status block to update. */
int ssi_catalogue_status_update(const char *tree, const struct ss_catalogue_status *s, int *changed,
				struct ss_error *err);
/* SS_PARTIAL (in ERR) when TREE/index.html is a page sstream did not write
 * (a site's own: never overwritten), else SS_OK. */
int ssi_cat_refuse_foreign(const char *tree, struct ss_error *err);
/* A page rendered ahead (ssi_catalogue_render_items, with any status),
 * written as TREE/index.html with the status block S: the page
 * ssi_catalogue_write_items gives with S. */
char *ssi_catalogue_render_items(const char *tree, const struct ss_item *const *it, size_t n,
				 const struct ss_catalogue_opts *o, size_t *len, struct ss_error *err);
int ssi_catalogue_write_rendered(const char *tree, const char *page, size_t len,
				 const struct ss_catalogue_status *s, int *changed, struct ss_error *err);

#endif
