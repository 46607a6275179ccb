/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a tree remembers between commands, in one small file,
 * TREE/.sstream/config: the key its signed views are signed with and the
 * base URLs of its web server snippets.  Read strictly (a file we cannot
 * read is an error, never a silent default: a forgotten key would let a
 * signed view go stale), written atomically and only when it changes.
 *
 *     # sstream: this tree's settings
 *     sign-key = 0123456789ABCDEF0123456789ABCDEF01234567
 *     webconf-nginx = https://images.example.org/
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "treeconf.h"

#define CONF_REL SSI_PRIVATE_DIR "/config"
#define CONF_CAP (64 * 1024)

static const char *const key_names[SSI_TC_N] = { "sign-key", "webconf-nginx", "webconf-apache" };

int ssi_treeconf_key(const char *key)
{
	for (int i = 0; key && i < SSI_TC_N; i++)
		if (strcmp(key, key_names[i]) == 0)
			return i;
	return -1;
}

const char *ssi_treeconf_value_problem(const char *value)
{
	size_t n = value ? strlen(value) : 0;
	if (n == 0)
		return "empty";
	if (n > 1024)
		return "longer than 1024 characters";
	for (size_t i = 0; i < n; i++)
		if (value[i] <= 0x20 || value[i] >= 0x7f)
			return "not printable ASCII without spaces";
	return NULL;
}

void ssi_treeconf_free(struct ssi_treeconf *c)
{
	for (int i = 0; c && i < SSI_TC_N; i++) {
		free(c->v[i]);
		c->v[i] = NULL;
	}
}

/* One "KEY = VALUE" line (LINE, N bytes, no newline) into C. */
static const char *parse_line(const char *line, size_t n, struct ssi_treeconf *c)
{
	const char *eq = memchr(line, '=', n);
	if (!eq || eq == line || eq[-1] != ' ' || (size_t)(eq - line) + 2 > n || eq[1] != ' ')
		return "not 'KEY = VALUE'";
	char key[32], *value = ssi_strndup(eq + 2, n - (size_t)(eq + 2 - line));
	size_t kl = (size_t)(eq - 1 - line);
	if (!value)
		return "out of memory";
	snprintf(key, sizeof(key), "%.*s", (int)(kl < sizeof(key) ? kl : sizeof(key) - 1), line);
	int k = kl < sizeof(key) ? ssi_treeconf_key(key) : -1;
	const char *why = k < 0 ? "unknown setting" : c->v[k] ? "given twice" : ssi_treeconf_value_problem(value);
	if (!why && strlen(value) != n - (size_t)(eq + 2 - line))
		why = "a NUL byte";
	if (why) {
		free(value);
		return why;
	}
	c->v[k] = value;
	return NULL;
}

int ssi_treeconf_parse(const char *text, size_t len, const char *name, struct ssi_treeconf *c,
		       struct ss_error *err)
{
	memset(c, 0, sizeof(*c));
	size_t lineno = 0;
	for (size_t at = 0; at < len;) {
		const char *nl = memchr(text + at, '\n', len - at);
		lineno++;
		const char *why = NULL;
		size_t n = nl ? (size_t)(nl - (text + at)) : len - at;
		if (!nl)
			why = "no newline at the end";
		else if (n > 0 && text[at] != '#')
			why = parse_line(text + at, n, c);
		if (why) {
			ssi_treeconf_free(c);
			return ssi_err(err, SS_FATAL, "settings '%s': line %zu: %s", name, lineno, why);
		}
		at += n + 1;
	}
	return SS_OK;
}

char *ssi_treeconf_dump(const struct ssi_treeconf *c, size_t *len)
{
	char *out = NULL;
	FILE *f = open_memstream(&out, len);
	if (!f)
		return NULL;
	fputs("# sstream: this tree's settings (sstream-publish and sstream-mirror keep them)\n", f);
	for (int i = 0; i < SSI_TC_N; i++)
		if (c->v[i])
			fprintf(f, "%s = %s\n", key_names[i], c->v[i]);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* TREE's settings into C (empty when there is no file). */
static int conf_load(const char *tree, struct ssi_treeconf *c, struct ss_error *err)
{
	memset(c, 0, sizeof(*c));
	char *file = ss_join(tree, CONF_REL), *data = NULL;
	size_t len;
	struct ss_error e;
	if (!file)
		return ssi_err(err, SS_FATAL, "out of memory");
	int rc = ss_fetch(file, CONF_CAP, &data, &len, &e);
	if (rc != SS_OK)
		rc = e.sys_errno == ENOENT ? SS_OK : ssi_err(err, SS_FATAL, "%s", e.msg);
	else
		rc = ssi_treeconf_parse(data, len, file, c, err);
	free(data);
	free(file);
	return rc;
}

int ss_treeconf_get(const char *tree, const char *key, char **value, struct ss_error *err)
{
	*value = NULL;
	int k = ssi_treeconf_key(key);
	if (k < 0)
		return ssi_err(err, SS_USAGE, "unknown tree setting '%s'", key ? key : "");
	struct ssi_treeconf c;
	int rc = conf_load(tree, &c, err);
	if (rc == SS_OK) {
		*value = c.v[k];
		c.v[k] = NULL;
	}
	ssi_treeconf_free(&c);
	return rc;
}

int ss_treeconf_set(const char *tree, const char *key, const char *value, struct ss_error *err)
{
	int k = ssi_treeconf_key(key);
	const char *why = value ? ssi_treeconf_value_problem(value) : NULL;
	if (k < 0 || why)
		return ssi_err(err, SS_USAGE, "tree setting '%s': %s", key ? key : "", k < 0 ? "unknown" : why);
	struct ssi_treeconf c;
	int rc = conf_load(tree, &c, err);
	if (rc != SS_OK)
		return rc;
	int same = value ? c.v[k] && strcmp(c.v[k], value) == 0 : !c.v[k];
	char *text = NULL;
	size_t len = 0;
	if (!same) {
		free(c.v[k]);
		c.v[k] = value ? strdup(value) : NULL;
		text = (!value || c.v[k]) ? ssi_treeconf_dump(&c, &len) : NULL;
		rc = text ? ssi_safe_write(tree, CONF_REL, text, len, NULL, err) : ssi_err(err, SS_FATAL, "out of memory");
	}
	free(text);
	ssi_treeconf_free(&c);
	return rc;
}
