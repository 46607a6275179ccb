/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A squashfs root filesystem from a directory, with libsquashfs
 * (squashfs-tools-ng), reproducibly: entries in byte order, inode numbers
 * in that order, owners 0 unless asked to keep them, mtimes (and the
 * superblock's) clamped to SOURCE_DATE_EPOCH when set, data blocks
 * compressed by one worker per core but written in order -- the same
 * input gives the same bytes whatever the thread count.  File types,
 * permissions, symlinks, hard links, device nodes and xattrs (user.,
 * trusted., security.: what squashfs can hold) are kept.
 *
 * The layout is the usual one: superblock (and compressor options), data
 * blocks and fragment blocks, inode table, directory table, fragment
 * table, id table, xattr table; padded to 4 KiB.  Inodes are written in
 * post-order, so that every directory listing names inodes already placed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <sqfs/block.h>
#include <sqfs/block_processor.h>
#include <sqfs/block_writer.h>
#include <sqfs/compressor.h>
#include <sqfs/dir_writer.h>
#include <sqfs/error.h>
#include <sqfs/frag_table.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/meta_writer.h>
#include <sqfs/super.h>
#include <sqfs/xattr_writer.h>

#include "squashfs_internal.h"

#define BLOCK_SIZE 131072
#define NO_XATTR 0xFFFFFFFFu

static const char *sqfs_reason(int e)
{
	switch (e) {
	case SQFS_ERROR_ALLOC:
		return "out of memory";
	case SQFS_ERROR_IO:
		return strerror(errno ? errno : EIO);
	case SQFS_ERROR_COMPRESSOR:
		return "compressor error";
	case SQFS_ERROR_OVERFLOW:
		return "too large for squashfs";
	case SQFS_ERROR_UNSUPPORTED:
		return "not supported by squashfs";
	case SQFS_ERROR_ARG_INVALID:
		return "invalid setting";
	default:
		return "libsquashfs error";
	}
}

static int fail(struct sq *s, int e, const char *what)
{
	return ssi_err(s->err, SS_FATAL, "cannot write '%s': %s: %s", s->out, what, sqfs_reason(e));
}

static int to_block_processor(void *ctx, const void *buf, size_t len)
{
	struct sq *s = ctx;
	int e = sqfs_block_processor_append(s->proc, buf, len);
	return e ? fail(s, e, s->shown) : SS_OK;
}

/* N's data through the block processor. */
static int pack_file(struct sq *s, struct node *n)
{
	const char *name;
	int dfd, rc = ssi_sq_parent_fd(s, n, &name, &dfd);
	if (rc != SS_OK)
		return rc;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ELOOP
			       ? ssi_walk_changed(s->err, s->o->rootfs, n->path, "removed")
			       : ssi_err_sys(s->err, SS_FATAL, errno, "cannot read '%s'", ssi_sq_shown(s, n));
	int e = sqfs_block_processor_begin_file(s->proc, &n->inode, n, 0);
	ssi_sq_shown(s, n);
	if (!e)
		rc = ssi_walk_read(fd, &n->st, s->o->rootfs, n->path, to_block_processor, s, s->err);
	close(fd);
	if (rc == SS_OK && !e)
		e = sqfs_block_processor_end_file(s->proc);
	if (rc == SS_OK && e)
		rc = fail(s, e, ssi_sq_shown(s, n));
	return rc;
}

/* Every regular file's data, in tree order. */
static int pack_data(struct sq *s)
{
	int rc = SS_OK;
	for (struct node *n = s->root; n && rc == SS_OK; n = ssi_sq_next_pre(n))
		if (S_ISREG(n->st.st_mode) && !n->link)
			rc = pack_file(s, n);
	return rc;
}

/* N's extended attributes into the xattr table, keys in byte order:
 * *IDX gets their index, or NO_XATTR.  Namespaces squashfs cannot hold
 * (system.*, e.g. POSIX ACLs) are left out, as mksquashfs does. */
static int xattrs(struct sq *s, const struct node *n, sqfs_u32 *idx)
{
	*idx = NO_XATTR;
	const char *name, *path;
	int dfd, rc = ssi_sq_parent_fd(s, n, &name, &dfd), e = 0;
	if (rc != SS_OK)
		return rc;
	path = ssi_walk_srcpath(s->src, sizeof(s->src), dfd, name, s->o->rootfs, n->path);
	ssize_t len = llistxattr(path, NULL, 0);
	if (len <= 0)
		return SS_OK; /* none, or a filesystem without them */
	char *names = malloc((size_t)len), *val = NULL;
	const char **keys = NULL;
	size_t nk = 0;
	if (!names || (len = llistxattr(path, names, (size_t)len)) < 0) {
		rc = ssi_err_sys(s->err, SS_FATAL, names ? errno : ENOMEM, "cannot list the xattrs of '%s'",
				 ssi_sq_shown(s, n));
		goto out;
	}
	keys = calloc((size_t)len, sizeof(*keys));
	if (!keys) {
		rc = ssi_err(s->err, SS_FATAL, "out of memory");
		goto out;
	}
	for (char *k = names; k < names + len; k += strlen(k) + 1)
		if (!strncmp(k, "user.", 5) || !strncmp(k, "trusted.", 8) || !strncmp(k, "security.", 9))
			keys[nk++] = k;
	if (!nk)
		goto out;
	qsort(keys, nk, sizeof(*keys), ssi_cmp_str);
	if ((e = sqfs_xattr_writer_begin(s->xw, 0)) != 0)
		goto out;
	for (size_t i = 0; i < nk && !e && rc == SS_OK; i++) {
		ssize_t vl = lgetxattr(path, keys[i], NULL, 0);
		char *nv = vl >= 0 ? realloc(val, (size_t)vl + 1) : NULL;
		if (nv)
			val = nv;
		if (vl < 0 || !nv || (vl = lgetxattr(path, keys[i], val, (size_t)vl)) < 0)
			rc = ssi_err_sys(s->err, SS_FATAL, errno ? errno : ENOMEM, "cannot read xattr '%s' of '%s'",
					 keys[i], ssi_sq_shown(s, n));
		else
			e = sqfs_xattr_writer_add(s->xw, keys[i], val, (size_t)vl);
	}
	if (!e && rc == SS_OK)
		e = sqfs_xattr_writer_end(s->xw, idx);
out:
	if (e && rc == SS_OK)
		rc = fail(s, e, ssi_sq_shown(s, n));
	free(names);
	free(keys);
	free(val);
	return rc;
}

/* squashfs keeps device numbers as Linux's new_encode_dev does. */
static sqfs_u32 devno(dev_t d)
{
	unsigned ma = major(d), mi = minor(d);
	return (mi & 0xff) | (ma << 8) | ((mi & ~0xffu) << 12);
}

static sqfs_inode_generic_t *other_inode(const struct node *n)
{
	size_t extra = n->target ? strlen(n->target) : 0;
	sqfs_inode_generic_t *in = calloc(1, sizeof(*in) + extra);
	if (!in)
		return NULL;
	mode_t m = n->st.st_mode;
	if (S_ISLNK(m)) {
		in->base.type = SQFS_INODE_SLINK;
		in->data.slink.nlink = n->nlink;
		in->data.slink.target_size = (sqfs_u32)extra;
		memcpy(in->extra, n->target, extra);
		in->payload_bytes_available = in->payload_bytes_used = (sqfs_u32)extra;
	} else if (S_ISCHR(m) || S_ISBLK(m)) {
		in->base.type = S_ISCHR(m) ? SQFS_INODE_CDEV : SQFS_INODE_BDEV;
		in->data.dev.nlink = n->nlink;
		in->data.dev.devno = devno(n->st.st_rdev);
	} else {
		in->base.type = S_ISFIFO(m) ? SQFS_INODE_FIFO : SQFS_INODE_SOCKET;
		in->data.ipc.nlink = n->nlink;
	}
	return in;
}

/* N's inode into the inode table (its directory listing first: the
 * inodes it names are written already). */
static int write_node(struct sq *s, struct node *n)
{
	if (n->link || n->written)
		return SS_OK; /* a hard link's first name came earlier */
	int rc, e = 0;
	sqfs_u32 xi;
	if ((rc = xattrs(s, n, &xi)) != SS_OK)
		return rc;
	sqfs_inode_generic_t *in = NULL;
	int ours = 1; /* freed here, not by the block processor's owner */
	if (S_ISDIR(n->st.st_mode)) {
		if ((e = sqfs_dir_writer_begin(s->dw, 0)) != 0)
			return fail(s, e, ssi_sq_shown(s, n));
		for (size_t i = 0; i < n->nkids && !e; i++) {
			const struct node *k = n->kids[i]->link ? n->kids[i]->link : n->kids[i];
			e = sqfs_dir_writer_add_entry(s->dw, n->kids[i]->name, k->ino, k->ref, (sqfs_u16)k->st.st_mode);
		}
		if (!e)
			e = sqfs_dir_writer_end(s->dw);
		if (e)
			return fail(s, e, ssi_sq_shown(s, n));
		in = sqfs_dir_writer_create_inode(s->dw, n->nlink, xi,
						  n->parent ? n->parent->ino : s->ninodes + 1);
		xi = NO_XATTR; /* set by create_inode */
	} else if (S_ISREG(n->st.st_mode)) {
		in = n->inode;
		ours = 0;
		if (in && n->nlink > 1 && (e = sqfs_inode_make_extended(in)) == 0)
			in->data.file_ext.nlink = n->nlink;
	} else {
		in = other_inode(n);
	}
	if (!in)
		return e ? fail(s, e, ssi_sq_shown(s, n)) : ssi_err(s->err, SS_FATAL, "out of memory");
	sqfs_u32 uid = s->o->keep_owners ? (sqfs_u32)n->st.st_uid : 0, gid = s->o->keep_owners ? (sqfs_u32)n->st.st_gid : 0;
	long long mt = (long long)n->st.st_mtime;
	if (s->epoch >= 0 && mt > s->epoch)
		mt = s->epoch;
	in->base.mode = (sqfs_u16)n->st.st_mode;
	in->base.mod_time = (sqfs_u32)(mt < 0 ? 0 : mt);
	in->base.inode_number = n->ino;
	if (!e)
		e = sqfs_id_table_id_to_index(s->ids, uid, &in->base.uid_idx);
	if (!e)
		e = sqfs_id_table_id_to_index(s->ids, gid, &in->base.gid_idx);
	if (!e && xi != NO_XATTR)
		e = sqfs_inode_set_xattr_index(in, xi);
	if (!e) {
		sqfs_u64 block;
		sqfs_u32 off;
		sqfs_meta_writer_get_position(s->im, &block, &off);
		n->ref = (block << 16) | off;
		e = sqfs_meta_writer_write_inode(s->im, in);
	}
	if (ours)
		sqfs_free(in);
	if (e)
		return fail(s, e, ssi_sq_shown(s, n));
	n->written = 1;
	return SS_OK;
}

static void pad(sqfs_file_t *f)
{
	sqfs_u64 size = f->get_size(f);
	if (size % 4096)
		f->truncate(f, size + (4096 - size % 4096));
}

/* The output file and everything that writes to it, up to the block
 * processor that the data goes through. */
static int open_output(struct sq *s, const char *tmp, sqfs_super_t *super, int id, const char *comp)
{
	int e;
	if (!(s->file = sqfs_open_file(tmp, SQFS_FILE_OPEN_OVERWRITE)))
		return ssi_err_sys(s->err, SS_FATAL, errno, "cannot write '%s'", tmp);
	long long now = (long long)time(NULL);
	sqfs_super_init(super, BLOCK_SIZE, (sqfs_u32)(s->epoch >= 0 ? s->epoch : now), (SQFS_COMPRESSOR)id);
	sqfs_compressor_config_t cfg;
	if ((e = sqfs_compressor_config_init(&cfg, (SQFS_COMPRESSOR)id, BLOCK_SIZE, 0)) != 0)
		return fail(s, e, comp);
	if (s->o->level > 0)
		cfg.level = (sqfs_u32)s->o->level;
	if ((e = sqfs_compressor_create(&cfg, &s->cmp)) != 0)
		return ssi_err(s->err, SS_USAGE, "cannot compress with %s at level %d: %s", comp, s->o->level,
			       sqfs_reason(e));
	if ((e = sqfs_super_write(super, s->file)) != 0)
		return fail(s, e, "superblock");
	int optlen = s->cmp->write_options(s->cmp, s->file);
	if (optlen < 0)
		return fail(s, optlen, "compressor options");
	if (optlen > 0)
		super->flags |= SQFS_FLAG_COMPRESSOR_OPTIONS;
	long nproc = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned workers = nproc > 1 ? (unsigned)nproc : 1;
	s->bw = sqfs_block_writer_create(s->file, 4096, 0);
	s->frag = sqfs_frag_table_create(0);
	/* a tail fragment that looks like one already stored (same size and
	 * hash) is read back and compared byte for byte before it is shared;
	 * the block writer does the same for whole blocks */
	sqfs_compressor_config_t ucfg = cfg;
	ucfg.flags |= SQFS_COMP_FLAG_UNCOMPRESS;
	if ((e = sqfs_compressor_create(&ucfg, &s->uncmp)) != 0)
		return fail(s, e, comp);
	sqfs_block_processor_desc_t desc = {
		.size = sizeof(desc), .max_block_size = BLOCK_SIZE, .num_workers = workers,
		.max_backlog = 10 * workers, .cmp = s->cmp, .wr = s->bw, .tbl = s->frag, .file = s->file,
		.uncmp = s->uncmp,
	};
	if (s->bw && s->frag && (e = sqfs_block_processor_create_ex(&desc, &s->proc)) != 0)
		return fail(s, e, "block processor");
	s->ids = sqfs_id_table_create(0);
	s->xw = sqfs_xattr_writer_create(0);
	if (!s->proc || !s->ids || !s->xw)
		return ssi_err(s->err, SS_FATAL, "out of memory");
	return SS_OK;
}

/* After the data: the inode table, the directories (kept in memory until
 * the inodes are written), the other tables and the final superblock. */
static int write_tables(struct sq *s, sqfs_super_t *super)
{
	int e, rc = SS_OK;
	super->inode_table_start = s->file->get_size(s->file);
	s->im = sqfs_meta_writer_create(s->file, s->cmp, 0);
	s->dm = sqfs_meta_writer_create(s->file, s->cmp, SQFS_META_WRITER_KEEP_IN_MEMORY);
	s->dw = s->dm ? sqfs_dir_writer_create(s->dm, 0) : NULL;
	if (!s->im || !s->dw)
		return ssi_err(s->err, SS_FATAL, "out of memory");
	/* post-order: each directory listing after the inodes it names */
	for (struct node *n = ssi_sq_first_post(s->root); n && rc == SS_OK; n = ssi_sq_next_post(n))
		rc = write_node(s, n);
	if (rc != SS_OK)
		return rc;
	super->root_inode_ref = s->root->ref;
	if ((e = sqfs_meta_writer_flush(s->im)) == 0 && (e = sqfs_meta_writer_flush(s->dm)) == 0) {
		super->directory_table_start = s->file->get_size(s->file);
		e = sqfs_meta_write_write_to_file(s->dm);
	}
	if (!e)
		e = sqfs_frag_table_write(s->frag, s->file, super, s->cmp);
	if (!e)
		e = sqfs_id_table_write(s->ids, s->file, super, s->cmp);
	if (!e)
		e = sqfs_xattr_writer_flush(s->xw, s->file, super, s->cmp);
	if (e)
		return fail(s, e, "tables");
	super->inode_count = s->ninodes;
	super->bytes_used = s->file->get_size(s->file);
	if ((e = sqfs_super_write(super, s->file)) != 0)
		return fail(s, e, "superblock");
	pad(s->file);
	return SS_OK;
}

static void destroy(struct sq *s)
{
	/* the block processor owns the file inodes it made */
	sqfs_object_t *objs[] = {
		(sqfs_object_t *)s->proc, (sqfs_object_t *)s->dw, (sqfs_object_t *)s->dm, (sqfs_object_t *)s->im,
		(sqfs_object_t *)s->xw, (sqfs_object_t *)s->ids, (sqfs_object_t *)s->frag, (sqfs_object_t *)s->bw,
		(sqfs_object_t *)s->cmp, (sqfs_object_t *)s->uncmp, (sqfs_object_t *)s->file,
	};
	for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++)
		if (objs[i])
			sqfs_destroy(objs[i]);
	ssi_sq_node_free(s->root);
	free(s->links);
	if (s->dirfd >= 0)
		close(s->dirfd);
	if (s->rootfd >= 0)
		close(s->rootfd);
}

int ssi_squashfs_write(const struct ss_build_opts *o, const char *out, long long epoch, struct ss_error *err)
{
	struct sq s = { .o = o, .epoch = epoch, .out = out, .err = err, .rootfd = -1, .dirfd = -1 };
	const char *comp = o->compression ? o->compression : "xz";
	int id = strcmp(comp, "xz") == 0 ? SQFS_COMP_XZ : strcmp(comp, "zstd") == 0 ? SQFS_COMP_ZSTD
						   : strcmp(comp, "gzip") == 0 ? SQFS_COMP_GZIP : -1;
	if (id < 0)
		return ssi_err(err, SS_USAGE, "a squashfs is compressed with xz, zstd or gzip, not '%s'", comp);
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s.tmp", out);
	sqfs_super_t super;
	int rc = ssi_walk(o->rootfs, ssi_sq_scan, ssi_sq_scan_leave, &s, err), e;
	if (rc == SS_OK && (s.rootfd = open(o->rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		rc = ssi_err_sys(err, SS_FATAL, errno, "cannot read '%s'", o->rootfs);
	if (rc == SS_OK) {
		for (s.nlinks_cap = 64; s.nlinks_cap < 2 * s.total; s.nlinks_cap *= 2)
			;
		s.links = calloc(s.nlinks_cap, sizeof(*s.links));
		if (!s.links)
			rc = ssi_err(err, SS_FATAL, "out of memory");
	}
	if (rc == SS_OK) {
		ssi_sq_number(&s);
		rc = open_output(&s, tmp, &super, id, comp);
	}
	if (rc == SS_OK)
		rc = pack_data(&s);
	if (rc == SS_OK && (e = sqfs_block_processor_finish(s.proc)) != 0)
		rc = fail(&s, e, "data blocks");
	if (rc == SS_OK)
		rc = write_tables(&s, &super);
	destroy(&s);
	if (rc == SS_OK && rename(tmp, out) < 0)
		rc = ssi_err_sys(err, SS_FATAL, errno, "cannot write '%s'", out);
	if (rc != SS_OK)
		unlink(tmp);
	return rc;
}
