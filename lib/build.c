/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Building LXD images from a root filesystem directory, reproducibly:
 * entries in byte order, owners 0 unless asked to keep them, mtimes clamped
 * to SOURCE_DATE_EPOCH when set, so the same input gives the same bytes and
 * the same fingerprint.  The tree is walked by ssi_walk (walk.c: no limit on
 * depth or path length); libarchive reads each entry's metadata (file types,
 * permissions, symlinks, hard links, device nodes, xattrs) and compresses
 * with xz or zstd on every core.  A file that changes while it is packed
 * fails the build (SS_PARTIAL) rather than going in as a copy of no moment;
 * sockets, which a tarball cannot hold, are left out with a warning.  A
 * failed build leaves nothing behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "internal.h"

struct writer {
	struct archive *out;
	struct archive *disk;
	struct archive_entry_linkresolver *links;
	const struct ss_build_opts *o;
	long long epoch;        /* -1: keep mtimes */
	const char *what;       /* output file, for messages */
	struct ss_error *err;
	const char *root;       /* the tree being added, and its name inside */
	const char *prefix;
};

static int open_writer(struct writer *w, const char *path)
{
	const struct ss_build_opts *o = w->o;
	w->out = archive_write_new();
	w->disk = archive_read_disk_new();
	w->links = archive_entry_linkresolver_new();
	if (!w->out || !w->disk || !w->links)
		return ssi_err(w->err, SS_FATAL, "out of memory");
	archive_write_set_format_pax_restricted(w->out);
	archive_entry_linkresolver_set_strategy(w->links, archive_format(w->out));
	archive_read_disk_set_standard_lookup(w->disk);
	archive_read_disk_set_behavior(w->disk, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS);
	const char *comp = o->compression ? o->compression : "xz";
	int r = ARCHIVE_OK;
	char level[16];
	snprintf(level, sizeof(level), "%d", o->level);
	if (strcmp(comp, "xz") == 0) {
		r = archive_write_add_filter_xz(w->out);
		/* 0 threads: one per core (the output stays the same for a given
		 * thread count; liblzma splits into blocks when threaded) */
		if (r == ARCHIVE_OK)
			archive_write_set_filter_option(w->out, "xz", "threads", "0");
		if (r == ARCHIVE_OK && o->level > 0)
			r = archive_write_set_filter_option(w->out, "xz", "compression-level", level);
	} else if (strcmp(comp, "zstd") == 0) {
		r = archive_write_add_filter_zstd(w->out);
		if (r == ARCHIVE_OK)
			archive_write_set_filter_option(w->out, "zstd", "threads", "0");
		if (r == ARCHIVE_OK && o->level > 0)
			r = archive_write_set_filter_option(w->out, "zstd", "compression-level", level);
	} else if (strcmp(comp, "gzip") == 0) {
		r = archive_write_add_filter_gzip(w->out);
		/* no name or time in the gzip header: reproducible */
		if (r == ARCHIVE_OK)
			archive_write_set_filter_option(w->out, "gzip", "timestamp", NULL);
		if (r == ARCHIVE_OK && o->level > 0)
			r = archive_write_set_filter_option(w->out, "gzip", "compression-level", level);
	} else if (strcmp(comp, "none") != 0) {
		return ssi_err(w->err, SS_USAGE, "unknown compression '%s' (xz, zstd, gzip, none)", comp);
	}
	if (r != ARCHIVE_OK)
		return ssi_err(w->err, SS_FATAL, "cannot set up %s: %s", comp, archive_error_string(w->out));
	if (archive_write_open_filename(w->out, path) != ARCHIVE_OK)
		return ssi_err(w->err, SS_FATAL, "cannot write '%s': %s", path, archive_error_string(w->out));
	return SS_OK;
}

static int close_writer(struct writer *w, int rc)
{
	if (w->out) {
		if (archive_write_close(w->out) != ARCHIVE_OK && rc == SS_OK)
			rc = ssi_err(w->err, SS_FATAL, "cannot write '%s': %s", w->what, archive_error_string(w->out));
		archive_write_free(w->out);
	}
	if (w->disk)
		archive_read_free(w->disk);
	if (w->links)
		archive_entry_linkresolver_free(w->links);
	w->out = w->disk = NULL;
	w->links = NULL;
	return rc;
}

static int to_archive(void *ctx, const void *buf, size_t len)
{
	struct writer *w = ctx;
	if (archive_write_data(w->out, buf, len) != (la_ssize_t)len)
		return ssi_err(w->err, SS_FATAL, "cannot write '%s': %s", w->what, archive_error_string(w->out));
	return SS_OK;
}

/* The data of the regular file E (entry AE, already written). */
static int copy_data(struct writer *w, const struct ssi_walk_entry *e, struct archive_entry *ae)
{
	if (archive_entry_size(ae) <= 0 || archive_entry_filetype(ae) != AE_IFREG)
		return SS_OK;
	int fd = openat(e->dirfd, e->name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ELOOP ? ssi_walk_changed(w->err, w->root, e->path, "removed")
							 : ssi_err_sys(w->err, SS_FATAL, errno, "cannot read '%s/%s'",
								       w->root, e->path);
	int rc = ssi_walk_read(fd, &e->st, w->root, e->path, to_archive, w, w->err);
	close(fd);
	return rc;
}

/* The archive name of E: the prefix, then its path below the walk's root. */
static char *entry_name(const struct writer *w, const struct ssi_walk_entry *e)
{
	size_t lp = strlen(w->prefix), le = strlen(e->path);
	char *name = malloc(lp + le + 2);
	if (name)
		snprintf(name, lp + le + 2, "%s%s%s", w->prefix, lp && le ? "/" : "", e->path);
	return name;
}

static void clamp_entry(const struct writer *w, struct archive_entry *ae)
{
	if (!w->o->keep_owners) {
		archive_entry_set_uid(ae, 0);
		archive_entry_set_gid(ae, 0);
		archive_entry_set_uname(ae, "root");
		archive_entry_set_gname(ae, "root");
	}
	if (w->epoch >= 0) {
		if (archive_entry_mtime(ae) > w->epoch)
			archive_entry_set_mtime(ae, w->epoch, 0);
		archive_entry_unset_atime(ae);
		archive_entry_unset_ctime(ae);
		archive_entry_unset_birthtime(ae);
	}
}

/* The walk's visitor: E as an archive entry, and its data. */
static int add_entry(void *ctx, struct ssi_walk_entry *e)
{
	struct writer *w = ctx;
	if (!*e->path && !*w->prefix)
		return SS_OK; /* the root's children at the archive's root */
	if (S_ISSOCK(e->st.st_mode)) {
		/* a tarball cannot hold a socket; it is left out, as GNU tar does */
		if (w->o->warn) {
			char msg[512];
			snprintf(msg, sizeof(msg), "'%s/%.400s': socket left out", w->root, e->path);
			w->o->warn(w->o->warn_ctx, msg);
		}
		return SS_OK;
	}
	char *name = entry_name(w, e);
	struct archive_entry *ae = name ? archive_entry_new() : NULL;
	if (!ae) {
		free(name);
		return ssi_err(w->err, SS_FATAL, "out of memory");
	}
	archive_entry_copy_sourcepath(ae, e->src);
	archive_entry_copy_pathname(ae, name);
	int rc = SS_OK;
	if (archive_read_disk_entry_from_file(w->disk, ae, -1, &e->st) != ARCHIVE_OK)
		rc = ssi_err(w->err, SS_FATAL, "cannot read '%s/%s': %s", w->root, e->path,
			     archive_error_string(w->disk));
	archive_entry_copy_pathname(ae, name); /* entry_from_file may rewrite it */
	clamp_entry(w, ae);
	struct archive_entry *sparse = NULL;
	if (rc == SS_OK)
		archive_entry_linkify(w->links, &ae, &sparse);
	if (rc == SS_OK && ae) {
		if (archive_write_header(w->out, ae) < ARCHIVE_WARN)
			rc = ssi_err(w->err, SS_FATAL, "cannot write '%s': %s: %s", w->what, name,
				     archive_error_string(w->out));
		else
			rc = copy_data(w, e, ae);
	}
	archive_entry_free(ae);
	free(name);
	return rc;
}

/* Adds the tree at SRC under PREFIX; with PREFIX "" only what is below SRC. */
static int add_tree(struct writer *w, const char *src, const char *prefix)
{
	w->root = src;
	w->prefix = prefix;
	return ssi_walk(src, add_entry, NULL, w, w->err);
}

static const char *ext_of(const char *comp)
{
	if (!comp || strcmp(comp, "xz") == 0)
		return ".xz";
	if (strcmp(comp, "zstd") == 0)
		return ".zst";
	if (strcmp(comp, "gzip") == 0)
		return ".gz";
	return "";
}

/* Writes one tarball at OUT: metadata.yaml and templates/ when META, and
 * the root filesystem under ROOT_PREFIX ("rootfs" unified, "" split). */
static int write_tar(const struct ss_build_opts *o, const char *out, int meta, const char *root_prefix,
		     long long epoch, struct ss_error *err)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s.tmp", out);
	struct writer w = { .o = o, .epoch = epoch, .what = out, .err = err };
	int rc = open_writer(&w, tmp);
	if (rc == SS_OK && meta)
		rc = add_tree(&w, o->metadata, "metadata.yaml");
	if (rc == SS_OK && meta && o->templates)
		rc = add_tree(&w, o->templates, "templates");
	if (rc == SS_OK && root_prefix)
		rc = add_tree(&w, o->rootfs, root_prefix);
	rc = close_writer(&w, rc);
	if (rc == SS_OK && rename(tmp, out) < 0)
		rc = ssi_err_sys(err, SS_FATAL, errno, "cannot write '%s'", out);
	if (rc != SS_OK)
		unlink(tmp);
	return rc;
}

/* The root filesystem, after the metadata tarball META_OUT was written. */
static int write_root(const struct ss_build_opts *o, char *meta_out, char *root_out, size_t outsz,
		      long long epoch, struct ss_error *err)
{
	const char *ext = ext_of(o->compression);
	if (o->unified) {
		unlink(meta_out);
		snprintf(meta_out, outsz, "%s/image.tar%s", o->outdir, ext);
		return write_tar(o, meta_out, 1, "rootfs", epoch, err);
	}
	if (o->squashfs) {
		snprintf(root_out, outsz, "%s/rootfs.squashfs", o->outdir);
		return ssi_squashfs_write(o, root_out, epoch, err);
	}
	snprintf(root_out, outsz, "%s/rootfs.tar%s", o->outdir, ext);
	return write_tar(o, root_out, 0, "", epoch, err);
}

static int check_opts(const struct ss_build_opts *o, long long *epoch, struct ss_error *err)
{
	struct stat st;
	if (stat(o->rootfs, &st) < 0 || !S_ISDIR(st.st_mode))
		return ssi_err(err, SS_FATAL, "rootfs '%s' is not a directory", o->rootfs);
	if (stat(o->metadata, &st) < 0 || !S_ISREG(st.st_mode))
		return ssi_err(err, SS_FATAL, "cannot read metadata '%s'", o->metadata);
	*epoch = -1;
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	if (sde && *sde) {
		char *end;
		*epoch = strtoll(sde, &end, 10);
		if (*end || *epoch < 0)
			return ssi_err(err, SS_USAGE, "SOURCE_DATE_EPOCH '%s' is not a UNIX time", sde);
	}
	if (o->squashfs && o->unified)
		return ssi_err(err, SS_USAGE, "a squashfs root filesystem makes a split image, not a unified one");
	return SS_OK;
}

int ss_image_build(const struct ss_build_opts *o, char *meta_out, char *root_out, size_t outsz, char fp[65],
		   struct ss_error *err)
{
	struct ss_error local;
	if (!err)
		err = &local;
	ss_error_clear(err);
	long long epoch = -1;
	int rc = check_opts(o, &epoch, err);
	if (rc != SS_OK)
		return rc;
	/* metadata.yaml as add will read it, named as the user gave it, before
	 * anything (the output directory included) is made */
	struct ss_image_meta *yaml = ssi_image_meta_load(o->metadata, err);
	rc = yaml ? ssi_image_meta_require(yaml, o->metadata, 0, err) : SS_FATAL;
	ss_image_meta_free(yaml);
	if (rc != SS_OK)
		return rc;
	struct stat st;
	int made = stat(o->outdir, &st) < 0;
	if (ssi_mkparents(o->outdir) < 0 || (mkdir(o->outdir, 0755) < 0 && errno != EEXIST))
		return ssi_err_sys(err, SS_FATAL, errno, "cannot create '%s'", o->outdir);
	root_out[0] = '\0';
	/* The metadata tarball first (it is small): a metadata.yaml that does
	 * not parse fails here, naming the field, before the rootfs is packed. */
	snprintf(meta_out, outsz, "%s/meta.tar%s", o->outdir, ext_of(o->compression));
	rc = write_tar(o, meta_out, 1, NULL, epoch, err);
	struct ss_image_meta *m = rc == SS_OK ? ss_image_meta_read(meta_out, NULL, err) : NULL;
	ss_image_meta_free(m);
	if (!m && rc == SS_OK)
		rc = SS_FATAL;
	if (rc == SS_OK)
		rc = write_root(o, meta_out, root_out, outsz, epoch, err);
	if (rc == SS_OK)
		rc = ss_image_fingerprint(meta_out, root_out[0] ? root_out : NULL, fp, err);
	if (rc != SS_OK) {
		/* nothing left behind: no tarball, no directory this call made */
		unlink(meta_out);
		if (root_out[0])
			unlink(root_out);
		if (made)
			rmdir(o->outdir);
	}
	return rc;
}
