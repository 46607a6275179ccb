/*
 * Building LXD images from a root filesystem directory, reproducibly:
 * entries in byte order, owners 0 unless asked to keep them, mtimes clamped
 * to SOURCE_DATE_EPOCH when set, so the same input gives the same bytes and
 * the same fingerprint.  libarchive reads every entry from disk (file types,
 * permissions, symlinks, hard links, device nodes, xattrs) and compresses
 * with xz or zstd on every core.
 */
#include <dirent.h>
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

static int copy_data(struct writer *w, const char *src, struct archive_entry *e)
{
	if (archive_entry_size(e) <= 0 || archive_entry_filetype(e) != AE_IFREG)
		return SS_OK;
	int fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ssi_err_sys(w->err, SS_FATAL, errno, "cannot read '%s'", src);
	char *buf = malloc(1 << 20);
	int rc = buf ? SS_OK : ssi_err(w->err, SS_FATAL, "out of memory");
	while (rc == SS_OK) {
		ssize_t n = read(fd, buf, 1 << 20);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = ssi_err_sys(w->err, SS_FATAL, errno, "cannot read '%s'", src);
		if (n <= 0)
			break;
		if (archive_write_data(w->out, buf, (size_t)n) != n)
			rc = ssi_err(w->err, SS_FATAL, "cannot write '%s': %s", w->what, archive_error_string(w->out));
	}
	free(buf);
	close(fd);
	return rc;
}

/* DIR's entries in byte order, whatever the locale or the filesystem. */
static int sorted_dir(const char *dir, struct dirent ***list)
{
	int n = scandir(dir, list, NULL, NULL);
	for (int i = 1; i < n; i++)
		for (int k = i; k > 0 && strcmp((*list)[k - 1]->d_name, (*list)[k]->d_name) > 0; k--) {
			struct dirent *t = (*list)[k];
			(*list)[k] = (*list)[k - 1];
			(*list)[k - 1] = t;
		}
	return n;
}

/* Adds SRC (a file or directory on disk) as NAME, and its tree below. */
static int add_path(struct writer *w, const char *src, const char *name)
{
	struct archive_entry *e = archive_entry_new();
	if (!e)
		return ssi_err(w->err, SS_FATAL, "out of memory");
	archive_entry_copy_sourcepath(e, src);
	archive_entry_copy_pathname(e, name);
	if (archive_read_disk_entry_from_file(w->disk, e, -1, NULL) != ARCHIVE_OK) {
		archive_entry_free(e);
		return ssi_err(w->err, SS_FATAL, "cannot read '%s': %s", src, archive_error_string(w->disk));
	}
	archive_entry_copy_pathname(e, name); /* entry_from_file may rewrite it */
	if (!w->o->keep_owners) {
		archive_entry_set_uid(e, 0);
		archive_entry_set_gid(e, 0);
		archive_entry_set_uname(e, "root");
		archive_entry_set_gname(e, "root");
	}
	if (w->epoch >= 0) {
		if (archive_entry_mtime(e) > w->epoch)
			archive_entry_set_mtime(e, w->epoch, 0);
		archive_entry_unset_atime(e);
		archive_entry_unset_ctime(e);
		archive_entry_unset_birthtime(e);
	}
	int isdir = archive_entry_filetype(e) == AE_IFDIR;
	struct archive_entry *sparse = NULL;
	archive_entry_linkify(w->links, &e, &sparse);
	int rc = SS_OK;
	if (e) {
		if (archive_write_header(w->out, e) < ARCHIVE_WARN)
			rc = ssi_err(w->err, SS_FATAL, "cannot write '%s': %s: %s", w->what, name,
				     archive_error_string(w->out));
		else
			rc = copy_data(w, src, e);
		archive_entry_free(e);
	}
	if (!isdir || rc != SS_OK)
		return rc;
	struct dirent **list;
	int n = sorted_dir(src, &list);
	if (n < 0)
		return ssi_err_sys(w->err, SS_FATAL, errno, "cannot list '%s'", src);
	for (int i = 0; i < n; i++) {
		const char *d = list[i]->d_name;
		if (rc == SS_OK && strcmp(d, ".") && strcmp(d, "..")) {
			char csrc[PATH_MAX], cname[PATH_MAX];
			snprintf(csrc, sizeof(csrc), "%s/%s", src, d);
			if (*name)
				snprintf(cname, sizeof(cname), "%s/%s", name, d);
			else
				snprintf(cname, sizeof(cname), "%s", d);
			rc = add_path(w, csrc, cname);
		}
		free(list[i]);
	}
	free(list);
	return rc;
}

/* Adds the children of DIR (not DIR itself) under PREFIX ("" for the root). */
static int add_children(struct writer *w, const char *dir, const char *prefix)
{
	if (*prefix)
		return add_path(w, dir, prefix);
	struct dirent **list;
	int n = sorted_dir(dir, &list);
	if (n < 0)
		return ssi_err_sys(w->err, SS_FATAL, errno, "cannot list '%s'", dir);
	int rc = SS_OK;
	for (int i = 0; i < n; i++) {
		const char *d = list[i]->d_name;
		if (rc == SS_OK && strcmp(d, ".") && strcmp(d, "..")) {
			char c[PATH_MAX];
			snprintf(c, sizeof(c), "%s/%s", dir, d);
			rc = add_path(w, c, d);
		}
		free(list[i]);
	}
	free(list);
	return rc;
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
		rc = add_path(&w, o->metadata, "metadata.yaml");
	if (rc == SS_OK && meta && o->templates)
		rc = add_path(&w, o->templates, "templates");
	if (rc == SS_OK && root_prefix)
		rc = add_children(&w, o->rootfs, root_prefix);
	rc = close_writer(&w, rc);
	if (rc == SS_OK && rename(tmp, out) < 0)
		rc = ssi_err_sys(err, SS_FATAL, errno, "cannot write '%s'", out);
	if (rc != SS_OK)
		unlink(tmp);
	return rc;
}

int ss_image_build(const struct ss_build_opts *o, char *meta_out, char *root_out, size_t outsz, char fp[65],
		   struct ss_error *err)
{
	struct ss_error local;
	if (!err)
		err = &local;
	ss_error_clear(err);
	struct stat st;
	if (stat(o->rootfs, &st) < 0 || !S_ISDIR(st.st_mode))
		return ssi_err(err, SS_FATAL, "rootfs '%s' is not a directory", o->rootfs);
	if (stat(o->metadata, &st) < 0 || !S_ISREG(st.st_mode))
		return ssi_err(err, SS_FATAL, "cannot read metadata '%s'", o->metadata);
	long long epoch = -1;
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	if (sde && *sde) {
		char *end;
		epoch = strtoll(sde, &end, 10);
		if (*end || epoch < 0)
			return ssi_err(err, SS_USAGE, "SOURCE_DATE_EPOCH '%s' is not a UNIX time", sde);
	}
	if (o->squashfs && o->unified)
		return ssi_err(err, SS_USAGE, "a squashfs root filesystem makes a split image, not a unified one");
	if (ssi_mkparents(o->outdir) < 0 || (mkdir(o->outdir, 0755) < 0 && errno != EEXIST))
		return ssi_err_sys(err, SS_FATAL, errno, "cannot create '%s'", o->outdir);
	const char *ext = ext_of(o->compression);
	int rc;
	root_out[0] = '\0';
	/* The metadata tarball first (it is small): a metadata.yaml that does
	 * not parse fails here, naming the field, before the rootfs is packed. */
	snprintf(meta_out, outsz, "%s/meta.tar%s", o->outdir, ext);
	rc = write_tar(o, meta_out, 1, NULL, epoch, err);
	struct ss_image_meta *m = rc == SS_OK ? ss_image_meta_read(meta_out, NULL, err) : NULL;
	ss_image_meta_free(m);
	if (!m) {
		unlink(meta_out);
		return rc == SS_OK ? SS_FATAL : rc;
	}
	if (o->unified) {
		unlink(meta_out);
		snprintf(meta_out, outsz, "%s/image.tar%s", o->outdir, ext);
		rc = write_tar(o, meta_out, 1, "rootfs", epoch, err);
	} else if (o->squashfs) {
		snprintf(root_out, outsz, "%s/rootfs.squashfs", o->outdir);
		rc = ssi_squashfs_write(o, root_out, epoch, err);
	} else {
		snprintf(root_out, outsz, "%s/rootfs.tar%s", o->outdir, ext);
		rc = write_tar(o, root_out, 0, "", epoch, err);
	}
	if (rc != SS_OK)
		return rc;
	return ss_image_fingerprint(meta_out, root_out[0] ? root_out : NULL, fp, err);
}
