/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Web server configuration for LXD's direct-URL import
 * (`lxc image import https://HOST/import/ALIAS`).  The LXD daemon sends a
 * HEAD request carrying `LXD-Server-Architectures: x86_64, i686` and wants
 * two response headers, `LXD-Image-Hash` (sha256 of a unified image) and
 * `LXD-Image-URL` (where to GET it); the status is ignored.  A static tree
 * cannot answer by itself, so this writes a snippet for the web server that
 * serves the tree: one exact-match location per alias and per unified
 * fingerprint, choosing the image by the first architecture the client
 * lists that the alias has.  No http-level directives (no nginx `map`), so
 * the snippet is one `include` inside the tree's server block.  Incus does
 * the same with Incus-Server-Architectures and Incus-Image-*: both pairs
 * are answered.
 *
 * The snippet lives in TREE/.sstream/ (which the web server denies) and is
 * rewritten on every change of the streams (ss_webconf_refresh), so that a
 * reload of the web server is all an operator does after publishing.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

/* Positions in the client's architecture list the snippet looks at: LXD
 * sends its native architecture and its personalities (two on x86_64). */
#define ARCH_POSITIONS 4

/* The architectures a client sent: LXD in LXD-Server-Architectures, Incus
 * in Incus-Server-Architectures (each sends only its own). */
#define ARCHES_APACHE "%{HTTP:LXD-Server-Architectures}%{HTTP:Incus-Server-Architectures}"
#define VARY "LXD-Server-Architectures, Incus-Server-Architectures"

struct uimg {
	const char *arch, *version, *fp, *path, *aliases;
};

struct uset {
	struct uimg *img;
	size_t n, alloc;
	char **alias;           /* every alias of the tree, sorted, unique */
	size_t nalias, alias_alloc;
};

static int uset_add(struct uset *s, struct uimg im)
{
	if (s->n == s->alloc) {
		size_t na = s->alloc ? 2 * s->alloc : 32;
		struct uimg *p = realloc(s->img, na * sizeof(*p));
		if (!p)
			return -1;
		s->img = p;
		s->alloc = na;
	}
	s->img[s->n++] = im;
	return 0;
}

static int alias_add(struct uset *s, const char *a, size_t len)
{
	for (size_t i = 0; i < s->nalias; i++)
		if (strlen(s->alias[i]) == len && strncmp(s->alias[i], a, len) == 0)
			return 0;
	if (s->nalias == s->alias_alloc) {
		size_t na = s->alias_alloc ? 2 * s->alias_alloc : 32;
		char **p = realloc(s->alias, na * sizeof(*p));
		if (!p)
			return -1;
		s->alias = p;
		s->alias_alloc = na;
	}
	if (!(s->alias[s->nalias] = ssi_strndup(a, len)))
		return -1;
	s->nalias++;
	return 0;
}

static void uset_free(struct uset *s)
{
	for (size_t i = 0; i < s->nalias; i++)
		free(s->alias[i]);
	free(s->alias);
	free(s->img);
}

typedef void (*warn_fn)(void *ud, const char *subject, const char *why);

/* S for a one-line message: control and non-ASCII bytes as '?', at most
 * 120 characters. */
static void shown(const char *s, char out[128])
{
	ssi_printable(out, 121, s, SIZE_MAX);
}

/* The unified image IT as S holds it, or 1 when a field of it fails the
 * strict check (told to CB: the image is left out of the snippet). */
static int image_of(const struct ss_item *it, struct uimg *im, warn_fn cb, void *ud)
{
	static const struct {
		const char *key;
		enum ssi_field f;
	} fields[] = { { "arch", SSI_F_ARCH }, { "sha256", SSI_F_FINGERPRINT }, { "path", SSI_F_PATH } };
	*im = (struct uimg){ NULL, ss_item_version(it), ss_item_str(it, "sha256"), ss_item_str(it, "path"),
			     ss_item_str(it, "aliases") };
	const char *bad = NULL, *why = ssi_field_problem(SSI_F_VERSION, im->version), *val = im->version;
	if (why)
		bad = "version";
	for (size_t i = 0; !why && i < sizeof(fields) / sizeof(fields[0]); i++)
		if ((why = ssi_field_problem(fields[i].f, val = ss_item_str(it, fields[i].key))))
			bad = fields[i].key;
	if (!why) {
		im->arch = ssi_lxd_arch(ss_item_str(it, "arch"));
		return 0;
	}
	if (cb) {
		char p[128], v[128], subj[160], msg[400];
		shown(ss_item_product(it), p);
		shown(val, v);
		snprintf(subj, sizeof(subj), "product '%s'", p);
		snprintf(msg, sizeof(msg), "unified image left out: its %s '%s' is %s", bad, v, why);
		cb(ud, subj, msg);
	}
	return 1;
}

/* Every alias of T and every unified image (lxd_combined item), each field
 * of which passed the strict check. */
static int collect(const struct ss_tree *t, struct uset *s, warn_fn cb, void *ud)
{
	for (size_t i = 0; i < ss_tree_nproducts(t); i++) {
		const struct ss_products *p = ss_tree_products(t, i);
		const char *last = NULL;
		for (size_t k = 0; k < ss_products_count(p); k++) {
			const struct ss_item *it = ss_products_item(p, k);
			if (!last || strcmp(last, ss_item_product(it))) {
				last = ss_item_product(it);
				for (const char *a = ss_item_str(it, "aliases"); a && *a;) {
					const char *c = strchr(a, ',');
					size_t len = c ? (size_t)(c - a) : strlen(a);
					if (len && alias_add(s, a, len) < 0)
						return -1;
					a = c ? c + 1 : NULL;
				}
			}
			const char *ft = ss_item_str(it, "ftype");
			struct uimg im;
			if (!ft || strcmp(ft, "lxd_combined.tar.gz") || image_of(it, &im, cb, ud))
				continue;
			if (uset_add(s, im) < 0)
				return -1;
		}
	}
	qsort(s->alias, s->nalias, sizeof(*s->alias), ssi_cmp_str);
	return 0;
}

static int safe_alias(const char *a)
{
	return ssi_field_problem(SSI_F_ALIAS, a) == NULL;
}

/* A regex special character escaped (for aliases in Apache patterns). */
static void put_regex(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (strchr(".+*?()[]{}|^$\\", *s))
			fputc('\\', f);
		fputc(*s, f);
	}
}

/* The regex matching a client list whose entry number POS (from 0) is
 * the kernel or Debian name of ARCH: "x86_64, i686" lists x86_64 first. */
static void put_arch_regex(FILE *f, const char *arch, int pos)
{
	fputs("^ *", f);
	if (pos)
		fprintf(f, "([^,]*, *){%d}", pos);
	const char *k = ssi_kernel_arch(arch);
	if (strcmp(k, arch))
		fprintf(f, "(%s|%s)", k, arch);
	else
		fprintf(f, "(%s)", arch);
	fputs(" *(,|$)", f);
}

/* The newest unified image of ALIAS for each architecture, into BEST
 * (indexes into S->img), in the order of the architecture names. */
static size_t best_per_arch(const struct uset *s, const char *alias, size_t *best)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (!ssi_list_has(s->img[i].aliases, alias))
			continue;
		size_t k;
		for (k = 0; k < n && strcmp(s->img[best[k]].arch, s->img[i].arch); k++)
			;
		if (k == n)
			best[n++] = i;
		else if (strcmp(s->img[i].version, s->img[best[k]].version) > 0)
			best[k] = i;
	}
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && strcmp(s->img[best[k - 1]].arch, s->img[best[k]].arch) > 0; k--) {
			size_t t = best[k];
			best[k] = best[k - 1];
			best[k - 1] = t;
		}
	return n;
}

/* "amd64, arm64": the architectures ALIAS has a unified image for. */
static void put_arches(FILE *f, const struct uset *s, const size_t *best, size_t n)
{
	for (size_t k = 0; k < n; k++)
		fprintf(f, "%s%s", k ? ", " : "", s->img[best[k]].arch);
}

static void nginx_image(FILE *f, const char *base, const struct uimg *im, const char *indent, int vary)
{
	char *url = ss_join(base, im->path);
	if (vary) /* the answer depends on the client's architectures: tell caches */
		fprintf(f, "%sadd_header Vary \"" VARY "\" always;\n", indent);
	for (int c = 0; c < 2; c++) { /* LXD's headers, then Incus's */
		fprintf(f, "%sadd_header %s-Image-Hash %s always;\n", indent, c ? "Incus" : "LXD", im->fp);
		fprintf(f, "%sadd_header %s-Image-URL \"%s\" always;\n", indent, c ? "Incus" : "LXD", url ? url : "");
	}
	fprintf(f, "%sreturn 200 \"unified image %s (%s, %s)\\n\";\n", indent, im->fp, im->arch, im->version);
	free(url);
}

static void gen_nginx(FILE *f, const struct uset *s, const char *base, const char *prefix, size_t *best)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct uimg *im = &s->img[i];
		int dup = 0;
		for (size_t k = 0; k < i; k++)
			dup |= strcmp(s->img[k].fp, im->fp) == 0;
		if (dup)
			continue;
		fprintf(f, "location = %s/import/%s {\n\tdefault_type text/plain;\n", prefix, im->fp);
		nginx_image(f, base, im, "\t", 0);
		fputs("}\n", f);
	}
	for (size_t a = 0; a < s->nalias; a++) {
		const char *alias = s->alias[a];
		if (!safe_alias(alias))
			continue;
		size_t n = best_per_arch(s, alias, best);
		fprintf(f, "location = %s/import/%s {\n\tdefault_type text/plain;\n", prefix, alias);
		/* LXD sends LXD-Server-Architectures, Incus Incus-Server-Architectures */
		fputs("\tset $sstream_arches \"$http_lxd_server_architectures$http_incus_server_architectures\";\n", f);
		/* the first position that names an architecture we have wins */
		for (int pos = 0; pos < ARCH_POSITIONS; pos++)
			for (size_t k = 0; k < n; k++) {
				fputs("\tif ($sstream_arches ~* \"", f);
				put_arch_regex(f, s->img[best[k]].arch, pos);
				fputs("\") {\n", f);
				nginx_image(f, base, &s->img[best[k]], "\t\t", 1);
				fputs("\t}\n", f);
			}
		fputs("\tadd_header Vary \"" VARY "\" always;\n", f);
		if (n) {
			fprintf(f, "\treturn 404 \"sstream: no unified image of '%s' fits the architectures "
				   "'$sstream_arches'; it has: ", alias);
			put_arches(f, s, best, n);
			fputs("\\n\";\n}\n", f);
		} else {
			fprintf(f, "\treturn 404 \"sstream: '%s' has no unified image, and only a unified image "
				   "can be imported by URL; use: lxc image copy REMOTE:%s local:\\n\";\n}\n",
				alias, alias);
		}
	}
}

/* Apache (mod_rewrite, mod_headers): the import URL is rewritten to the
 * image file itself, with the two headers (and Incus's twins); a client no image fits gets a
 * 404 whose body says why. */
static void gen_apache(FILE *f, const struct uset *s, const char *base, const char *prefix, size_t *best)
{
	fputs("RewriteEngine On\n"
	      "# the images go out as they are: the client checks their sha256\n"
	      "<IfModule mime_module>\n\tRemoveEncoding .gz .tgz .bz2 .xz .zst\n</IfModule>\n"
	      "Header always set LXD-Image-Hash \"%{SSTREAM_IMAGE_HASH}e\" env=SSTREAM_IMAGE_HASH\n"
	      "Header always set LXD-Image-URL \"%{SSTREAM_IMAGE_URL}e\" env=SSTREAM_IMAGE_URL\n"
	      "Header always set Incus-Image-Hash \"%{SSTREAM_IMAGE_HASH}e\" env=SSTREAM_IMAGE_HASH\n"
	      "Header always set Incus-Image-URL \"%{SSTREAM_IMAGE_URL}e\" env=SSTREAM_IMAGE_URL\n", f);
	for (size_t i = 0; i < s->n; i++) {
		const struct uimg *im = &s->img[i];
		int dup = 0;
		for (size_t k = 0; k < i; k++)
			dup |= strcmp(s->img[k].fp, im->fp) == 0;
		if (dup)
			continue;
		char *url = ss_join(base, im->path);
		fputs("RewriteRule \"^", f);
		put_regex(f, prefix);
		fprintf(f, "/import/%s$\" \"%s/%s\" [PT,L,E=SSTREAM_IMAGE_HASH:%s,E=SSTREAM_IMAGE_URL:%s]\n", im->fp,
			prefix, im->path, im->fp, url ? url : "");
		free(url);
	}
	for (size_t a = 0; a < s->nalias; a++) {
		const char *alias = s->alias[a];
		if (!safe_alias(alias))
			continue;
		size_t n = best_per_arch(s, alias, best);
		for (int pos = 0; pos < ARCH_POSITIONS; pos++)
			for (size_t k = 0; k < n; k++) {
				const struct uimg *im = &s->img[best[k]];
				char *url = ss_join(base, im->path);
				fputs("RewriteCond \"" ARCHES_APACHE "\" \"", f);
				put_arch_regex(f, im->arch, pos);
				fputs("\" [NC]\nRewriteRule \"^", f);
				put_regex(f, prefix);
				fputs("/import/", f);
				put_regex(f, alias);
				fprintf(f, "$\" \"%s/%s\" [PT,L,E=SSTREAM_IMAGE_HASH:%s,E=SSTREAM_IMAGE_URL:%s]\n", prefix,
					im->path, im->fp, url ? url : "");
				free(url);
			}
		fputs("RewriteRule \"^", f);
		put_regex(f, prefix);
		fputs("/import/", f);
		put_regex(f, alias);
		fputs("$\" \"-\" [R=404,L]\n<LocationMatch \"^", f);
		put_regex(f, prefix);
		fputs("/import/", f);
		put_regex(f, alias);
		/* the body is plain text (a string ErrorDocument goes out as HTML) */
		fputs("$\">\n\tHeader always set Content-Type \"text/plain; charset=utf-8\"\n", f);
		if (n) {
			fprintf(f, "\tErrorDocument 404 \"sstream: no unified image of '%s' fits the architectures "
				   "'%s'; it has: ", alias, ARCHES_APACHE);
			put_arches(f, s, best, n);
			fputs("\"\n", f);
		} else {
			fprintf(f, "\tErrorDocument 404 \"sstream: '%s' has no unified image, and only a unified "
				   "image can be imported by URL; use: lxc image copy REMOTE:%s local:\"\n", alias,
				alias);
		}
		fputs("</LocationMatch>\n", f);
	}
}

/* The path part of BASE ("https://h/x/" -> "/x"), without a trailing slash. */
static void url_prefix(const char *base, char *out, size_t outsz)
{
	const char *p = strstr(base, "://");
	p = p ? strchr(p + 3, '/') : NULL;
	snprintf(out, outsz, "%s", p ? p : "");
	size_t n = strlen(out);
	while (n && out[n - 1] == '/')
		out[--n] = '\0';
}

static const char *snippet_name(const char *server)
{
	return strcmp(server, "apache") == 0 ? ".sstream/import-apache.conf" : ".sstream/import-nginx.conf";
}

/* Generates SERVER's snippet for TREE into *TEXT. */
static int generate(const char *tree, const char *base, const char *server, char **text, size_t *len,
		    void (*cb)(void *ud, const char *alias, const char *why), void *ud, struct ss_error *err)
{
	struct ss_tree *t = ss_tree_load(tree, err);
	if (!t)
		return err->code ? err->code : SS_FATAL;
	struct uset s = { 0 };
	int rc = SS_OK;
	size_t *best = NULL;
	FILE *f = NULL;
	if (collect(t, &s, cb, ud) < 0 || !(best = calloc(s.n + 1, sizeof(*best))) || !(f = open_memstream(text, len))) {
		rc = ssi_err(err, SS_FATAL, "out of memory");
		goto out;
	}
	char prefix[PATH_MAX];
	url_prefix(base, prefix, sizeof(prefix));
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		bl--;
	fprintf(f, "# LXD direct-URL import for %.*s (lxc image import %.*s/import/ALIAS),\n"
		   "# written by sstream-publish webconf and rewritten on every add, remove,\n"
		   "# prune and rollback: reload %s after them.  %s\n",
		(int)bl, base, (int)bl, base, server,
		strcmp(server, "apache") == 0 ? "Include it in the VirtualHost serving the tree\n"
						"# (a2enmod rewrite headers)."
					      : "Include it in the server { } block serving\n# the tree.");
	for (size_t a = 0; a < s.nalias; a++) {
		if (!safe_alias(s.alias[a])) {
			if (cb) {
				char a2[128], subj[160], msg[300];
				shown(s.alias[a], a2);
				snprintf(subj, sizeof(subj), "alias '%s'", a2);
				snprintf(msg, sizeof(msg), "not served: %s", ssi_field_problem(SSI_F_ALIAS, s.alias[a]));
				cb(ud, subj, msg);
			}
		} else if (best_per_arch(&s, s.alias[a], best) == 0 && cb) {
			char subj[300];
			snprintf(subj, sizeof(subj), "alias '%s'", s.alias[a]);
			cb(ud, subj, "no unified image: it cannot be imported by URL");
		}
	}
	if (strcmp(server, "apache") == 0)
		gen_apache(f, &s, base, prefix, best);
	else
		gen_nginx(f, &s, base, prefix, best);
out:
	if (f && fclose(f) != 0 && rc == SS_OK)
		rc = ssi_err(err, SS_FATAL, "out of memory");
	if (rc != SS_OK && f) {
		free(*text);
		*text = NULL;
	}
	free(best);
	uset_free(&s);
	ss_tree_free(t);
	return rc;
}

/* The base URLs the snippets were asked for, as "SERVER BASE_URL" lines:
 * the tree's settings (TREE/.sstream/config, webconf-SERVER), else the
 * .sstream/webconf file of earlier versions.  NULL when there are none. */
static char *settings_read(const char *tree)
{
	static const char *const servers[] = { "nginx", "apache" };
	char *file = ss_join(tree, ".sstream/webconf"), *legacy = NULL, *out = NULL;
	size_t len;
	struct ss_error e;
	if (!file || ss_fetch(file, 1 << 16, &legacy, &len, &e) != SS_OK)
		legacy = NULL;
	free(file);
	FILE *f = open_memstream(&out, &len);
	for (size_t i = 0; f && i < 2; i++) {
		char key[32], *url = NULL, *save = NULL, *copy = legacy ? strdup(legacy) : NULL;
		snprintf(key, sizeof(key), "webconf-%s", servers[i]);
		if (ss_treeconf_get(tree, key, &url, &e) == SS_OK && url)
			fprintf(f, "%s %s\n", servers[i], url);
		for (char *line = url || !copy ? NULL : strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			if (strncmp(line, servers[i], strlen(servers[i])) == 0 && line[strlen(servers[i])] == ' ')
				fprintf(f, "%s\n", line);
		free(url);
		free(copy);
	}
	free(legacy);
	if (f)
		fclose(f);
	if (out && !*out) {
		free(out);
		out = NULL;
	}
	return out;
}

/* The checks of the arguments, then the snippet, for both calls below. */
static int checked_generate(const char *tree, const char *base_url, const char *server, char **text, size_t *len,
			    void (*cb)(void *ud, const char *alias, const char *why), void *ud, struct ss_error *err)
{
	ss_error_clear(err);
	*text = NULL;
	if (strcmp(server, "nginx") && strcmp(server, "apache"))
		return ssi_err(err, SS_USAGE, "unknown web server '%s' (nginx, apache)", server);
	const char *why = ssi_field_problem(SSI_F_URL, base_url);
	if (why) {
		char b[128];
		shown(base_url, b);
		return ssi_err(err, SS_USAGE, "base URL '%s': %s", b, why);
	}
	return generate(tree, base_url, server, text, len, cb, ud, err);
}

int ss_webconf_text(const char *tree, const char *base_url, const char *server, char **text,
		    void (*cb)(void *ud, const char *alias, const char *why), void *ud, struct ss_error *err)
{
	struct ss_error local;
	size_t len;
	return checked_generate(tree, base_url, server, text, &len, cb, ud, err ? err : &local);
}

int ss_webconf_write(const char *tree, const char *base_url, const char *server, char **text,
		     void (*cb)(void *ud, const char *alias, const char *why), void *ud, struct ss_error *err)
{
	struct ss_error local;
	if (!err)
		err = &local;
	if (text)
		*text = NULL;
	char *snip = NULL;
	size_t len;
	int changed = 0;
	int rc = checked_generate(tree, base_url, server, &snip, &len, cb, ud, err);
	/* through safefs, like every writer below a tree: never via a symlink */
	if (rc == SS_OK)
		rc = ssi_safe_write(tree, snippet_name(server), snip, len, &changed, err);
	/* remembered in the tree's settings, for the rewrites after changes */
	if (rc == SS_OK)
		rc = ss_treeconf_set(tree, strcmp(server, "apache") == 0 ? "webconf-apache" : "webconf-nginx", base_url,
				     err);
	if (rc == SS_OK && text)
		*text = snip;
	else
		free(snip);
	return rc;
}

int ss_webconf_refresh(const char *tree, struct ss_error *err)
{
	struct ss_error local;
	if (!err)
		err = &local;
	ss_error_clear(err);
	char *settings = settings_read(tree);
	int rc = SS_OK;
	char *save = NULL;
	for (char *line = settings ? strtok_r(settings, "\n", &save) : NULL; line && rc == SS_OK;
	     line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');
		if (!sp)
			continue;
		*sp = '\0';
		char *snip = NULL;
		size_t len;
		int changed = 0;
		rc = generate(tree, sp + 1, line, &snip, &len, NULL, NULL, err);
		if (rc == SS_OK)
			rc = ssi_safe_write(tree, snippet_name(line), snip, len, &changed, err);
		free(snip);
	}
	free(settings);
	return rc;
}

char *ss_webconf_base_url(const char *tree)
{
	char *settings = settings_read(tree), *url = NULL, *save = NULL;
	for (char *line = settings ? strtok_r(settings, "\n", &save) : NULL; line && !url;
	     line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');
		if (sp)
			url = strdup(sp + 1);
	}
	free(settings);
	return url;
}
