/* SPDX-License-Identifier: Apache-2.0 */
/* The squashfs builder's tree (squashfs_tree.c) and writer (squashfs.c). */
#ifndef SSTREAM_SQUASHFS_INTERNAL_H
#define SSTREAM_SQUASHFS_INTERNAL_H

#include <limits.h>
#include <sys/stat.h>

#include <sqfs/predef.h>

#include "internal.h"

struct node {
	char *name;                   /* the entry's name; "" for the root */
	char *path;                   /* below the root, "" for the root */
	struct stat st;
	char *target;                 /* symlink target */
	struct node **kids;           /* directories: entries in byte order */
	size_t nkids, cap;
	struct node *parent;
	size_t idx;                   /* its place among the parent's kids */
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
	struct node *root, *cur;      /* the tree, the directory being read */
	size_t total;
	int rootfd;                   /* o->rootfs */
	int dirfd;                    /* the directory DIR, or -1 */
	const struct node *dir;
	char src[PATH_MAX], shown[PATH_MAX];
	struct node **links;          /* hard-link table, open addressing */
	size_t nlinks_cap;
};

/* The tree in pre-order from its root, in post-order from first_post(root). */
struct node *ssi_sq_next_pre(const struct node *n);
struct node *ssi_sq_first_post(struct node *n);
struct node *ssi_sq_next_post(const struct node *n);
void ssi_sq_node_free(struct node *root);
/* N's place on disk, for messages (in S's buffer). */
const char *ssi_sq_shown(struct sq *s, const struct node *n);
/* ssi_walk callbacks that build the tree at S->root. */
int ssi_sq_scan(void *ctx, struct ssi_walk_entry *e);
int ssi_sq_scan_leave(void *ctx, struct ssi_walk_entry *e);
/* The directory holding N, open (*NAME: N's name in it; AT_FDCWD and the
 * root's path for the root).  SS_PARTIAL when it moved meanwhile. */
int ssi_sq_parent_fd(struct sq *s, const struct node *n, const char **name, int *fd);
/* Hard links found, inode numbers and link counts given, in pre-order. */
void ssi_sq_number(struct sq *s);

#endif
