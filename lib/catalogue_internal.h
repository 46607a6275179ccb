/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by lib/catalogue.c (the model and the page) and
 * lib/catalogue_html.c (escaping for HTML and URLs); not public. */
#ifndef SS_CATALOGUE_INTERNAL_H
#define SS_CATALOGUE_INTERNAL_H

#include <stdio.h>

/* S as HTML text or attribute value: & < > " ' become references, control
 * characters (C0 other than tab and line feed, DEL, C1) become U+FFFD. */
void ssi_html_text(FILE *f, const char *s);
/* At most N bytes of S (not splitting a UTF-8 sequence), escaped. */
void ssi_html_textn(FILE *f, const char *s, size_t n);
/* A tree-relative PATH as a relative URL: every byte but the unreserved
 * ones and '/' percent-encoded (so no ':' can make it a scheme).  The
 * caller has checked PATH with ss_path_check. */
void ssi_html_href(FILE *f, const char *path);
/* BYTES as a short size: "512 B", "1.5 KiB", "2.0 GiB". */
void ssi_html_size(FILE *f, long long bytes);

#endif
