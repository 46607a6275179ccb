/* SPDX-License-Identifier: Apache-2.0 */
/* A tree's settings file, TREE/.sstream/config (treeconf.c): the parser
 * and writer, exposed for the unit test and the fuzz target. */
#ifndef SSTREAM_TREECONF_H
#define SSTREAM_TREECONF_H

#include "internal.h"

/* The settings a tree remembers, in the order they are written. */
enum { SSI_TC_SIGN_KEY, SSI_TC_WEBCONF_NGINX, SSI_TC_WEBCONF_APACHE, SSI_TC_N };

struct ssi_treeconf {
	char *v[SSI_TC_N]; /* malloc'd values, NULL when unset */
};

/* The index of the setting named KEY, or -1. */
int ssi_treeconf_key(const char *key);

/* Why VALUE cannot be a setting's value (NULL when it can): 1 to 1024
 * printable ASCII characters, no space. */
const char *ssi_treeconf_value_problem(const char *value);

/*
 * Parses TEXT (LEN bytes, named NAME in errors) strictly: every line ends
 * in a newline and is empty, a '#' comment, or "KEY = VALUE" with a known
 * KEY given once and a valid VALUE.  C is filled (ssi_treeconf_free).
 * SS_OK, or SS_FATAL naming NAME and the line.
 */
int ssi_treeconf_parse(const char *text, size_t len, const char *name, struct ssi_treeconf *c,
		       struct ss_error *err);

/* C as the file's bytes (a comment, then each set value): malloc'd, its
 * length in *LEN; NULL when out of memory. */
char *ssi_treeconf_dump(const struct ssi_treeconf *c, size_t *len);

void ssi_treeconf_free(struct ssi_treeconf *c);

#endif
