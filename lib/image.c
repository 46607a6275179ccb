/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LXD image files: metadata.yaml read straight out of a (compressed) tarball
 * with libarchive and parsed with libyaml, and root files recognised by
 * their content.  Nothing is unpacked to disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <yaml.h>

#include "internal.h"

#define META_CAP ((size_t)1 << 20)
#define MAX_PROPS 64

struct ss_image_meta {
	char *architecture;
	long long creation_date, expiry_date;
	int nprops;
	char *keys[MAX_PROPS], *vals[MAX_PROPS];
};

void ss_image_meta_free(struct ss_image_meta *m)
{
	if (!m)
		return;
	free(m->architecture);
	for (int i = 0; i < m->nprops; i++) {
		free(m->keys[i]);
		free(m->vals[i]);
	}
	free(m);
}

const char *ss_image_meta_architecture(const struct ss_image_meta *m) { return m->architecture; }
long long ss_image_meta_creation_date(const struct ss_image_meta *m) { return m->creation_date; }
long long ss_image_meta_expiry_date(const struct ss_image_meta *m) { return m->expiry_date; }

const char *ss_image_meta_property(const struct ss_image_meta *m, const char *key)
{
	for (int i = 0; i < m->nprops; i++)
		if (strcmp(m->keys[i], key) == 0)
			return m->vals[i];
	return NULL;
}

/* metadata.yaml's bytes from the tarball PATH (any compression). */
static char *read_member(const char *path, size_t *len, int *is_unified, struct ss_error *err)
{
	struct archive *a = archive_read_new();
	char *out = NULL;
	if (!a) {
		ssi_err(err, SS_FATAL, "out of memory");
		return NULL;
	}
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		ssi_err(err, SS_FATAL, "cannot read image '%s': %s", path, archive_error_string(a));
		goto out;
	}
	struct archive_entry *e;
	int r;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		if (strncmp(name, "./", 2) == 0)
			name += 2;
		if (strncmp(name, "rootfs/", 7) == 0 || strcmp(name, "rootfs") == 0) {
			if (is_unified)
				*is_unified = 1;
			if (out)
				break;
			continue;
		}
		if (strcmp(name, "metadata.yaml") != 0 || out)
			continue;
		la_int64_t size = archive_entry_size(e);
		if (size < 0 || (size_t)size > META_CAP) {
			ssi_err(err, SS_FATAL, "invalid image '%s': metadata.yaml larger than %zu bytes", path, META_CAP);
			goto out;
		}
		out = malloc((size_t)size + 1);
		la_ssize_t n = out ? archive_read_data(a, out, (size_t)size) : -1;
		if (n != size) {
			ssi_err(err, SS_FATAL, "cannot read image '%s': metadata.yaml: %s", path,
				out ? archive_error_string(a) : "out of memory");
			free(out);
			out = NULL;
			goto out;
		}
		out[size] = '\0';
		*len = (size_t)size;
		/* A unified image has rootfs/ after the metadata: only look on
		 * when the caller asks. */
		if (!is_unified)
			break;
	}
	if (r != ARCHIVE_OK && r != ARCHIVE_EOF && !out)
		ssi_err(err, SS_FATAL, "cannot read image '%s': %s", path, archive_error_string(a));
	else if (!out)
		ssi_err(err, SS_FATAL, "invalid image '%s': no metadata.yaml", path);
out:
	archive_read_free(a);
	return out;
}

static const char *scalar(yaml_document_t *d, int id)
{
	yaml_node_t *n = yaml_document_get_node(d, id);
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int parse_int(const char *s, long long *out)
{
	char *end;
	errno = 0;
	long long v = s ? strtoll(s, &end, 10) : 0;
	if (!s || !*s || *end || errno)
		return -1;
	*out = v;
	return 0;
}

/* Deeper than any real metadata.yaml (templates nest four levels).  libyaml
 * keeps one simple-key slot per open flow collection and scans them all for
 * every token, so deep nesting costs time quadratic in the depth: the
 * depth is checked on the event stream, which stops at the first event too
 * deep, before the document is built. */
#define YAML_MAX_DEPTH 64

static int check_depth(const char *text, size_t len, const char *name, struct ss_error *err)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0, rc = SS_OK;
	if (!yaml_parser_initialize(&p))
		return ssi_err(err, SS_FATAL, "out of memory");
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	for (;;) {
		if (!yaml_parser_parse(&p, &ev)) {
			rc = ssi_err(err, SS_FATAL, "%s line %zu: %s", name,
				     p.problem_mark.line + 1, p.problem ? p.problem : "YAML error");
			break;
		}
		yaml_event_type_t type = ev.type;
		size_t line = ev.start_mark.line + 1;
		yaml_event_delete(&ev);
		if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) {
			if (++depth > YAML_MAX_DEPTH) {
				rc = ssi_err(err, SS_FATAL, "%s line %zu: nested deeper than %d levels",
					     name, line, YAML_MAX_DEPTH);
				break;
			}
		} else if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT) {
			depth--;
		} else if (type == YAML_STREAM_END_EVENT) {
			break;
		}
	}
	yaml_parser_delete(&p);
	return rc;
}

/* LXD and Incus (go-yaml) refuse a repeated key: so do we, rather than
 * pick one of the values. */
static int no_duplicate_keys(yaml_document_t *d, const yaml_node_t *root, const char *path, struct ss_error *err)
{
	static const char *const known[] = { "architecture", "creation_date", "expiry_date", "properties" };
	int seen[4] = { 0 };
	for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top; pr++) {
		const char *k = scalar(d, pr->key);
		for (int i = 0; k && i < 4; i++)
			if (strcmp(k, known[i]) == 0 && seen[i]++)
				return ssi_err(err, SS_FATAL, "%s: duplicate key '%s'",
					       path, k);
	}
	return SS_OK;
}

static int read_properties(struct ss_image_meta *m, yaml_document_t *d, const yaml_node_t *props,
			   const char *path, struct ss_error *err)
{
	if (!props || props->type != YAML_MAPPING_NODE)
		return SS_OK;
	for (yaml_node_pair_t *q = props->data.mapping.pairs.start;
	     q < props->data.mapping.pairs.top && m->nprops < MAX_PROPS; q++) {
		const char *pk = scalar(d, q->key), *pv = scalar(d, q->value);
		if (!pk || !pv)
			continue;
		if (ss_image_meta_property(m, pk))
			return ssi_err(err, SS_FATAL, "%s: duplicate property '%s'",
				       path, pk);
		m->keys[m->nprops] = strdup(pk);
		m->vals[m->nprops] = strdup(pv);
		if (!m->keys[m->nprops++] || !m->vals[m->nprops - 1])
			return ssi_err(err, SS_FATAL, "out of memory");
	}
	return SS_OK;
}

/* The fields of the top-level mapping ROOT into M. */
static int read_fields(struct ss_image_meta *m, yaml_document_t *d, const yaml_node_t *root, const char *path,
		       struct ss_error *err)
{
	int have_date = 0, rc = SS_OK;
	for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top && rc == SS_OK;
	     pr++) {
		const char *k = scalar(d, pr->key);
		if (!k)
			continue;
		if (strcmp(k, "architecture") == 0) {
			const char *v = scalar(d, pr->value);
			if (v && *v && !(m->architecture = strdup(v)))
				rc = ssi_err(err, SS_FATAL, "out of memory");
		} else if (strcmp(k, "creation_date") == 0) {
			if (parse_int(scalar(d, pr->value), &m->creation_date) < 0)
				rc = ssi_err(err, SS_FATAL,
					     "%s: creation_date is not a UNIX time", path);
			have_date = 1;
		} else if (strcmp(k, "expiry_date") == 0) {
			parse_int(scalar(d, pr->value), &m->expiry_date);
		} else if (strcmp(k, "properties") == 0) {
			rc = read_properties(m, d, yaml_document_get_node(d, pr->value), path, err);
		}
	}
	if (rc != SS_OK)
		return rc;
	if (!m->architecture)
		return ssi_err(err, SS_FATAL, "%s has no architecture", path);
	if (!have_date)
		return ssi_err(err, SS_FATAL, "%s has no creation_date", path);
	return SS_OK;
}

/* Parses metadata.yaml's TEXT; messages start with WHO ("invalid image
 * 'X': metadata.yaml" or "invalid metadata 'X'"). */
static struct ss_image_meta *parse_meta(const char *text, size_t len, const char *path, struct ss_error *err)
{
	if (check_depth(text, len, path, err) != SS_OK)
		return NULL;
	struct ss_image_meta *m = calloc(1, sizeof(*m));
	yaml_parser_t p;
	yaml_document_t d;
	int have_doc = 0, ok = 0;
	if (!m || !yaml_parser_initialize(&p)) {
		ssi_err(err, SS_FATAL, "out of memory");
		free(m);
		return NULL;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	if (!yaml_parser_load(&p, &d)) {
		ssi_err(err, SS_FATAL, "%s line %zu: %s", path,
			p.problem_mark.line + 1, p.problem ? p.problem : "YAML error");
		goto out;
	}
	have_doc = 1;
	yaml_node_t *root = yaml_document_get_root_node(&d);
	if (!root || root->type != YAML_MAPPING_NODE)
		ssi_err(err, SS_FATAL, "%s is not a mapping", path);
	else
		ok = no_duplicate_keys(&d, root, path, err) == SS_OK && read_fields(m, &d, root, path, err) == SS_OK;
out:
	if (have_doc)
		yaml_document_delete(&d);
	yaml_parser_delete(&p);
	if (!ok) {
		ss_image_meta_free(m);
		return NULL;
	}
	return m;
}

struct ss_image_meta *ssi_image_meta_parse(const char *text, size_t len, const char *name, int in_tarball,
					   struct ss_error *err)
{
	char who[PATH_MAX + 64];
	if (in_tarball)
		snprintf(who, sizeof(who), "invalid image '%s': metadata.yaml", name);
	else
		snprintf(who, sizeof(who), "invalid metadata '%s'", name);
	return parse_meta(text, len, who, err);
}

struct ss_image_meta *ssi_image_meta_load(const char *path, struct ss_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *text = fd >= 0 ? malloc(META_CAP + 1) : NULL;
	size_t len = 0;
	ssize_t n = 1;
	while (text && len <= META_CAP && (n = read(fd, text + len, META_CAP + 1 - len)) > 0)
		len += (size_t)n;
	struct ss_image_meta *m = NULL;
	if (fd < 0 || !text || n < 0)
		ssi_err_sys(err, SS_FATAL, fd < 0 || n < 0 ? errno : ENOMEM, "cannot read metadata '%s'", path);
	else if (len > META_CAP)
		ssi_err(err, SS_FATAL, "invalid metadata '%s': larger than %zu bytes", path, META_CAP);
	else
		m = ssi_image_meta_parse(text, len, path, 0, err);
	if (fd >= 0)
		close(fd);
	free(text);
	return m;
}

int ssi_image_meta_require(const struct ss_image_meta *m, const char *name, int in_tarball, struct ss_error *err)
{
	/* the product is os:release:arch:variant; a variant defaults to
	 * "default", nothing sensible stands in for the others */
	static const char *const needed[] = { "os", "release" };
	for (int i = 0; i < 2; i++) {
		const char *v = ss_image_meta_property(m, needed[i]);
		if (v && *v)
			continue;
		if (in_tarball)
			return ssi_err(err, SS_FATAL, "invalid image '%s': metadata.yaml has no properties.%s", name,
				       needed[i]);
		return ssi_err(err, SS_FATAL, "invalid metadata '%s' has no properties.%s", name, needed[i]);
	}
	return SS_OK;
}

struct ss_image_meta *ss_image_meta_read(const char *path, int *is_unified, struct ss_error *err)
{
	size_t len;
	if (is_unified)
		*is_unified = 0;
	char *text = read_member(path, &len, is_unified, err);
	if (!text)
		return NULL;
	struct ss_image_meta *m = ssi_image_meta_parse(text, len, path, 1, err);
	free(text);
	return m;
}

int ss_image_root_kind(const char *path, struct ss_error *err)
{
	unsigned char magic[4] = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ssi_err_sys(err, SS_FATAL, errno, "cannot open '%s'", path);
		return SS_ROOT_UNKNOWN;
	}
	ssize_t n = read(fd, magic, sizeof(magic));
	close(fd);
	if (n == 4 && memcmp(magic, "hsqs", 4) == 0)
		return SS_ROOT_SQUASHFS;
	if (n == 4 && memcmp(magic, "QFI\xfb", 4) == 0)
		return SS_ROOT_QCOW2;
	/* Anything libarchive reads as a tar archive, whatever the compression. */
	struct archive *a = archive_read_new();
	int kind = SS_ROOT_UNKNOWN;
	if (a) {
		archive_read_support_filter_all(a);
		archive_read_support_format_tar(a);
		struct archive_entry *e;
		if (archive_read_open_filename(a, path, 1 << 16) == ARCHIVE_OK &&
		    archive_read_next_header(a, &e) == ARCHIVE_OK)
			kind = SS_ROOT_TARBALL;
		archive_read_free(a);
	}
	if (kind == SS_ROOT_UNKNOWN)
		ssi_err(err, SS_FATAL, "'%s' is not a squashfs, qcow2 or tar image", path);
	return kind;
}
