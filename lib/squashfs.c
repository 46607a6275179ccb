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
#include <dirent.h>
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

#include "internal.h"

#define BLOCK_SIZE 131072
#define NO_XATTR 0xFFFFFFFFu

struct node {
	char *name;                   /* the entry's name; "" for the root */
	char *path;                   /* where it is on disk */
	struct stat st;
	char *target;                 /* symlink target */
	struct node **kids;           /* directories: entries in byte order */
	size_t nkids;
	struct node *parent;
	struct node *link;            /* a later hard link: the first one */
	sqfs_u32 nlink;               /* links within the tree */
	sqfs_u32 ino;
	sqfs_inode_generic_t *inode;  /* regular files: the block processor's */
	sqfs_u64 ref;                 /* where its inode went */
	int written;
};

struct sq {
	const struct ss_build_opts *o;
	long long epoch;
	const char *out;              /* for messages */
	struct ss_error *err;
	sqfs_file_t *file;
	sqfs_compressor_t *cmp, *uncmp;
	sqfs_block_writer_t *bw;
	sqfs_frag_table_t *frag;
	sqfs_block_processor_t *proc;
	sqfs_meta_writer_t *im, *dm;
	sqfs_dir_writer_t *dw;
	sqfs_id_table_t *ids;
	sqfs_xattr_writer_t *xw;
	sqfs_u32 ninodes;
	struct node **links;          /* hard-link table, open addressing */
	size_t nlinks_cap;
	char *buf;
};

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

static void node_free(struct node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	if (n->inode)
		sqfs_free(n->inode); /* the caller's, once the block processor is done */
	free(n->name);
	free(n->path);
	free(n->target);
	free(n);
}

static int cmp_dirent(const void *a, const void *b)
{
	return strcmp((*(struct dirent *const *)a)->d_name, (*(struct dirent *const *)b)->d_name);
}

/* Reads PATH (and, for a directory on the root's device, its tree). */
static struct node *scan(struct sq *s, const char *path, const char *name, struct node *parent, dev_t dev)
{
	struct node *n = calloc(1, sizeof(*n));
	if (!n || !(n->name = strdup(name)) || !(n->path = strdup(path))) {
		node_free(n);
		ssi_err(s->err, SS_FATAL, "out of memory");
		return NULL;
	}
	n->parent = parent;
	n->nlink = 1;
	if (lstat(path, &n->st) < 0) {
		ssi_err_sys(s->err, SS_FATAL, errno, "cannot read '%s'", path);
		node_free(n);
		return NULL;
	}
	if (S_ISLNK(n->st.st_mode)) {
		char t[PATH_MAX];
		ssize_t len = readlink(path, t, sizeof(t) - 1);
		if (len < 0 || !(n->target = ssi_strndup(t, (size_t)len))) {
			ssi_err_sys(s->err, SS_FATAL, len < 0 ? errno : ENOMEM, "cannot read link '%s'", path);
			node_free(n);
			return NULL;
		}
	}
	if (!S_ISDIR(n->st.st_mode) || (parent && n->st.st_dev != dev))
		return n;
	struct dirent **list;
	int cnt = scandir(path, &list, NULL, NULL);
	if (cnt < 0) {
		ssi_err_sys(s->err, SS_FATAL, errno, "cannot list '%s'", path);
		node_free(n);
		return NULL;
	}
	qsort(list, (size_t)cnt, sizeof(*list), cmp_dirent);
	n->kids = calloc((size_t)cnt + 1, sizeof(*n->kids));
	int ok = n->kids != NULL;
	for (int i = 0; i < cnt; i++) {
		const char *d = list[i]->d_name;
		if (ok && strcmp(d, ".") && strcmp(d, "..")) {
			char sub[PATH_MAX];
			snprintf(sub, sizeof(sub), "%s/%s", path, d);
			struct node *k = scan(s, sub, d, n, dev);
			if (k)
				n->kids[n->nkids++] = k;
			else
				ok = 0;
		}
		free(list[i]);
	}
	free(list);
	if (!ok) {
		if (!n->kids)
			ssi_err(s->err, SS_FATAL, "out of memory");
		node_free(n);
		return NULL;
	}
	return n;
}

static size_t count(const struct node *n)
{
	size_t c = 1;
	for (size_t i = 0; i < n->nkids; i++)
		c += count(n->kids[i]);
	return c;
}

/* Pre-order: hard links found, inode numbers given in byte order. */
static void number(struct sq *s, struct node *n)
{
	if (!S_ISDIR(n->st.st_mode) && n->st.st_nlink > 1) {
		size_t h = ((size_t)n->st.st_ino * 2654435761u + (size_t)n->st.st_dev) & (s->nlinks_cap - 1);
		while (s->links[h] && (s->links[h]->st.st_ino != n->st.st_ino || s->links[h]->st.st_dev != n->st.st_dev))
			h = (h + 1) & (s->nlinks_cap - 1);
		if (s->links[h]) {
			n->link = s->links[h];
			n->link->nlink++;
			return;
		}
		s->links[h] = n;
	}
	n->ino = ++s->ninodes;
	for (size_t i = 0; i < n->nkids; i++) {
		number(s, n->kids[i]);
		if (S_ISDIR(n->kids[i]->st.st_mode))
			n->nlink++;
	}
	if (S_ISDIR(n->st.st_mode))
		n->nlink++; /* "." and the entry in the parent */
}

/* Every regular file's data, in tree order, through the block processor. */
static int pack_data(struct sq *s, struct node *n)
{
	if (S_ISREG(n->st.st_mode) && !n->link) {
		int fd = open(n->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return ssi_err_sys(s->err, SS_FATAL, errno, "cannot read '%s'", n->path);
		int e = sqfs_block_processor_begin_file(s->proc, &n->inode, n, 0), rc = SS_OK;
		while (e == 0) {
			ssize_t r = read(fd, s->buf, 1 << 20);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				rc = ssi_err_sys(s->err, SS_FATAL, errno, "cannot read '%s'", n->path);
				break;
			}
			if (r == 0)
				break;
			e = sqfs_block_processor_append(s->proc, s->buf, (size_t)r);
		}
		close(fd);
		if (rc == SS_OK && e == 0)
			e = sqfs_block_processor_end_file(s->proc);
		if (rc == SS_OK && e)
			rc = fail(s, e, n->path);
		return rc;
	}
	for (size_t i = 0; i < n->nkids; i++) {
		int rc = pack_data(s, n->kids[i]);
		if (rc != SS_OK)
			return rc;
	}
	return SS_OK;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* N's extended attributes into the xattr table, keys in byte order:
 * *IDX gets their index, or NO_XATTR.  Namespaces squashfs cannot hold
 * (system.*, e.g. POSIX ACLs) are left out, as mksquashfs does. */
static int xattrs(struct sq *s, const struct node *n, sqfs_u32 *idx)
{
	*idx = NO_XATTR;
	ssize_t len = llistxattr(n->path, NULL, 0);
	if (len <= 0)
		return SS_OK; /* none, or a filesystem without them */
	char *names = malloc((size_t)len), *val = NULL;
	const char **keys = NULL;
	size_t nk = 0;
	int rc = SS_OK, e = 0;
	if (!names || (len = llistxattr(n->path, names, (size_t)len)) < 0) {
		rc = ssi_err_sys(s->err, SS_FATAL, names ? errno : ENOMEM, "cannot list the xattrs of '%s'", n->path);
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
	qsort(keys, nk, sizeof(*keys), cmp_str);
	if ((e = sqfs_xattr_writer_begin(s->xw, 0)) != 0)
		goto out;
	for (size_t i = 0; i < nk && !e && rc == SS_OK; i++) {
		ssize_t vl = lgetxattr(n->path, keys[i], NULL, 0);
		char *nv = vl >= 0 ? realloc(val, (size_t)vl + 1) : NULL;
		if (nv)
			val = nv;
		if (vl < 0 || !nv || (vl = lgetxattr(n->path, keys[i], val, (size_t)vl)) < 0)
			rc = ssi_err_sys(s->err, SS_FATAL, errno ? errno : ENOMEM, "cannot read xattr '%s' of '%s'",
					 keys[i], n->path);
		else
			e = sqfs_xattr_writer_add(s->xw, keys[i], val, (size_t)vl);
	}
	if (!e && rc == SS_OK)
		e = sqfs_xattr_writer_end(s->xw, idx);
out:
	if (e && rc == SS_OK)
		rc = fail(s, e, n->path);
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

/* Post-order: the inodes of N's tree into the inode table, each directory
 * listing after the inodes it names. */
static int write_node(struct sq *s, struct node *n)
{
	if (n->link)
		return n->link->written ? SS_OK : write_node(s, n->link);
	if (n->written)
		return SS_OK;
	int rc = SS_OK, e = 0;
	for (size_t i = 0; i < n->nkids && rc == SS_OK; i++)
		rc = write_node(s, n->kids[i]);
	if (rc != SS_OK)
		return rc;
	sqfs_u32 xi;
	if ((rc = xattrs(s, n, &xi)) != SS_OK)
		return rc;
	sqfs_inode_generic_t *in = NULL;
	int ours = 1; /* freed here, not by the block processor's owner */
	if (S_ISDIR(n->st.st_mode)) {
		if ((e = sqfs_dir_writer_begin(s->dw, 0)) != 0)
			return fail(s, e, n->path);
		for (size_t i = 0; i < n->nkids && !e; i++) {
			const struct node *k = n->kids[i]->link ? n->kids[i]->link : n->kids[i];
			e = sqfs_dir_writer_add_entry(s->dw, n->kids[i]->name, k->ino, k->ref, (sqfs_u16)k->st.st_mode);
		}
		if (!e)
			e = sqfs_dir_writer_end(s->dw);
		if (e)
			return fail(s, e, n->path);
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
		return e ? fail(s, e, n->path) : ssi_err(s->err, SS_FATAL, "out of memory");
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
		return fail(s, e, n->path);
	n->written = 1;
	return SS_OK;
}

static void pad(sqfs_file_t *f)
{
	sqfs_u64 size = f->get_size(f);
	if (size % 4096)
		f->truncate(f, size + (4096 - size % 4096));
}

int ssi_squashfs_write(const struct ss_build_opts *o, const char *out, long long epoch, struct ss_error *err)
{
	struct sq s = { .o = o, .epoch = epoch, .out = out, .err = err };
	const char *comp = o->compression ? o->compression : "xz";
	int id = strcmp(comp, "xz") == 0 ? SQFS_COMP_XZ : strcmp(comp, "zstd") == 0 ? SQFS_COMP_ZSTD
						   : strcmp(comp, "gzip") == 0 ? SQFS_COMP_GZIP : -1;
	if (id < 0)
		return ssi_err(err, SS_USAGE, "a squashfs is compressed with xz, zstd or gzip, not '%s'", comp);
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s.tmp", out);
	struct stat rst;
	if (stat(o->rootfs, &rst) < 0)
		return ssi_err_sys(err, SS_FATAL, errno, "cannot read '%s'", o->rootfs);
	struct node *root = scan(&s, o->rootfs, "", NULL, rst.st_dev);
	int rc = SS_OK, e = 0;
	sqfs_super_t super;
	if (!root)
		return err->code ? err->code : SS_FATAL;
	size_t total = count(root);
	for (s.nlinks_cap = 64; s.nlinks_cap < 2 * total; s.nlinks_cap *= 2)
		;
	s.links = calloc(s.nlinks_cap, sizeof(*s.links));
	s.buf = malloc(1 << 20);
	if (!s.links || !s.buf) {
		rc = ssi_err(err, SS_FATAL, "out of memory");
		goto out;
	}
	number(&s, root);

	if (!(s.file = sqfs_open_file(tmp, SQFS_FILE_OPEN_OVERWRITE))) {
		rc = ssi_err_sys(err, SS_FATAL, errno, "cannot write '%s'", tmp);
		goto out;
	}
	long long now = (long long)time(NULL);
	sqfs_super_init(&super, BLOCK_SIZE, (sqfs_u32)(epoch >= 0 ? epoch : now), (SQFS_COMPRESSOR)id);
	sqfs_compressor_config_t cfg;
	if ((e = sqfs_compressor_config_init(&cfg, (SQFS_COMPRESSOR)id, BLOCK_SIZE, 0)) != 0) {
		rc = fail(&s, e, comp);
		goto out;
	}
	if (o->level > 0)
		cfg.level = (sqfs_u32)o->level;
	if ((e = sqfs_compressor_create(&cfg, &s.cmp)) != 0) {
		rc = ssi_err(err, SS_USAGE, "cannot compress with %s at level %d: %s", comp, o->level, sqfs_reason(e));
		goto out;
	}
	if ((e = sqfs_super_write(&super, s.file)) != 0) {
		rc = fail(&s, e, "superblock");
		goto out;
	}
	int optlen = s.cmp->write_options(s.cmp, s.file);
	if (optlen < 0) {
		rc = fail(&s, optlen, "compressor options");
		goto out;
	}
	if (optlen > 0)
		super.flags |= SQFS_FLAG_COMPRESSOR_OPTIONS;
	long nproc = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned workers = nproc > 1 ? (unsigned)nproc : 1;
	s.bw = sqfs_block_writer_create(s.file, 4096, 0);
	s.frag = sqfs_frag_table_create(0);
	/* a tail fragment that looks like one already stored (same size and
	 * hash) is read back and compared byte for byte before it is shared;
	 * the block writer does the same for whole blocks */
	sqfs_compressor_config_t ucfg = cfg;
	ucfg.flags |= SQFS_COMP_FLAG_UNCOMPRESS;
	if ((e = sqfs_compressor_create(&ucfg, &s.uncmp)) != 0) {
		rc = fail(&s, e, comp);
		goto out;
	}
	sqfs_block_processor_desc_t desc = {
		.size = sizeof(desc), .max_block_size = BLOCK_SIZE, .num_workers = workers,
		.max_backlog = 10 * workers, .cmp = s.cmp, .wr = s.bw, .tbl = s.frag, .file = s.file, .uncmp = s.uncmp,
	};
	if (s.bw && s.frag && (e = sqfs_block_processor_create_ex(&desc, &s.proc)) != 0) {
		rc = fail(&s, e, "block processor");
		goto out;
	}
	s.ids = sqfs_id_table_create(0);
	s.xw = sqfs_xattr_writer_create(0);
	if (!s.proc || !s.ids || !s.xw) {
		rc = ssi_err(err, SS_FATAL, "out of memory");
		goto out;
	}
	if ((rc = pack_data(&s, root)) != SS_OK)
		goto out;
	if ((e = sqfs_block_processor_finish(s.proc)) != 0) {
		rc = fail(&s, e, "data blocks");
		goto out;
	}
	/* the inode table follows the data; directories are kept in memory
	 * and follow the inodes */
	super.inode_table_start = s.file->get_size(s.file);
	s.im = sqfs_meta_writer_create(s.file, s.cmp, 0);
	s.dm = sqfs_meta_writer_create(s.file, s.cmp, SQFS_META_WRITER_KEEP_IN_MEMORY);
	s.dw = s.dm ? sqfs_dir_writer_create(s.dm, 0) : NULL;
	if (!s.im || !s.dw) {
		rc = ssi_err(err, SS_FATAL, "out of memory");
		goto out;
	}
	if ((rc = write_node(&s, root)) != SS_OK)
		goto out;
	super.root_inode_ref = root->ref;
	if ((e = sqfs_meta_writer_flush(s.im)) == 0 && (e = sqfs_meta_writer_flush(s.dm)) == 0) {
		super.directory_table_start = s.file->get_size(s.file);
		e = sqfs_meta_write_write_to_file(s.dm);
	}
	if (!e)
		e = sqfs_frag_table_write(s.frag, s.file, &super, s.cmp);
	if (!e)
		e = sqfs_id_table_write(s.ids, s.file, &super, s.cmp);
	if (!e)
		e = sqfs_xattr_writer_flush(s.xw, s.file, &super, s.cmp);
	if (e) {
		rc = fail(&s, e, "tables");
		goto out;
	}
	super.inode_count = s.ninodes;
	super.bytes_used = s.file->get_size(s.file);
	if ((e = sqfs_super_write(&super, s.file)) != 0) {
		rc = fail(&s, e, "superblock");
		goto out;
	}
	pad(s.file);
out:
	/* the block processor owns the file inodes it made */
	if (s.proc)
		sqfs_destroy(s.proc);
	if (s.dw)
		sqfs_destroy(s.dw);
	if (s.dm)
		sqfs_destroy(s.dm);
	if (s.im)
		sqfs_destroy(s.im);
	if (s.xw)
		sqfs_destroy(s.xw);
	if (s.ids)
		sqfs_destroy(s.ids);
	if (s.frag)
		sqfs_destroy(s.frag);
	if (s.bw)
		sqfs_destroy(s.bw);
	if (s.cmp)
		sqfs_destroy(s.cmp);
	if (s.uncmp)
		sqfs_destroy(s.uncmp);
	if (s.file)
		sqfs_destroy(s.file);
	node_free(root);
	free(s.links);
	free(s.buf);
	if (rc == SS_OK && rename(tmp, out) < 0)
		rc = ssi_err_sys(err, SS_FATAL, errno, "cannot write '%s'", out);
	if (rc != SS_OK)
		unlink(tmp);
	return rc;
}
