/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The squashfs builder's tree: read from disk by one walk (ssi_walk), then
 * numbered and traversed without recursion, through the parent links, so
 * that no depth of directories exhausts the stack.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqfs/inode.h>

#include "squashfs_internal.h"

/* The tree is walked without recursion, through the parent links. */
struct node *ssi_sq_next_pre(const struct node *n)
{
	if (n->nkids)
		return n->kids[0];
	for (; n->parent; n = n->parent)
		if (n->idx + 1 < n->parent->nkids)
			return n->parent->kids[n->idx + 1];
	return NULL;
}

struct node *ssi_sq_first_post(struct node *n)
{
	while (n->nkids)
		n = n->kids[0];
	return n;
}

struct node *ssi_sq_next_post(const struct node *n)
{
	if (!n->parent)
		return NULL;
	if (n->idx + 1 < n->parent->nkids)
		return ssi_sq_first_post(n->parent->kids[n->idx + 1]);
	return n->parent;
}

void ssi_sq_node_free(struct node *root)
{
	for (struct node *n = root ? ssi_sq_first_post(root) : NULL, *next; n; n = next) {
		next = ssi_sq_next_post(n);
		free(n->kids);
		if (n->inode)
			sqfs_free(n->inode); /* the caller's, once the block processor is done */
		free(n->name);
		free(n->path);
		free(n->target);
		free(n);
	}
}

/* N's place on disk, for messages. */
const char *ssi_sq_shown(struct sq *s, const struct node *n)
{
	snprintf(s->shown, sizeof(s->shown), "%s%s%s", s->o->rootfs, *n->path ? "/" : "", n->path);
	return s->shown;
}

static int add_kid(struct node *dir, struct node *n)
{
	if (dir->nkids == dir->cap) {
		size_t cap = dir->cap ? 2 * dir->cap : 8;
		struct node **nk = realloc(dir->kids, cap * sizeof(*nk));
		if (!nk)
			return -1;
		dir->kids = nk;
		dir->cap = cap;
	}
	n->parent = dir;
	n->idx = dir->nkids;
	dir->kids[dir->nkids++] = n;
	return 0;
}

/* The walk's visitor: E into the tree; directories on another device than
 * the root's are kept, empty. */
int ssi_sq_scan(void *ctx, struct ssi_walk_entry *e)
{
	struct sq *s = ctx;
	struct node *n = calloc(1, sizeof(*n));
	if (!n || !(n->name = strdup(*e->path ? e->name : "")) || !(n->path = strdup(e->path)) ||
	    (s->cur && add_kid(s->cur, n) < 0)) {
		if (n) {
			free(n->name);
			free(n->path);
			free(n);
		}
		return ssi_err(s->err, SS_FATAL, "out of memory");
	}
	if (!s->cur)
		s->root = n;
	s->total++;
	n->nlink = 1;
	n->st = e->st;
	if (S_ISLNK(n->st.st_mode)) {
		char t[PATH_MAX];
		ssize_t len = readlinkat(e->dirfd, e->name, t, sizeof(t) - 1);
		if (len < 0 || !(n->target = ssi_strndup(t, (size_t)len)))
			return ssi_err_sys(s->err, SS_FATAL, len < 0 ? errno : ENOMEM, "cannot read link '%s'",
					   ssi_sq_shown(s, n));
	}
	e->descend = S_ISDIR(n->st.st_mode) && (!s->cur || n->st.st_dev == s->root->st.st_dev);
	if (e->descend)
		s->cur = n;
	return SS_OK;
}

int ssi_sq_scan_leave(void *ctx, struct ssi_walk_entry *e)
{
	(void)e;
	struct sq *s = ctx;
	s->cur = s->cur->parent;
	return SS_OK;
}

/* The directory holding N, open (*NAME: N's name in it). */
int ssi_sq_parent_fd(struct sq *s, const struct node *n, const char **name, int *fd)
{
	*name = n->parent ? n->name : s->o->rootfs;
	if (!n->parent) {
		*fd = AT_FDCWD;
		return SS_OK;
	}
	if (s->dir != n->parent) {
		if (s->dirfd >= 0)
			close(s->dirfd);
		s->dir = n->parent;
		s->dirfd = ssi_walk_opendir(s->rootfd, n->parent->path);
		struct stat st;
		if (s->dirfd < 0 || fstat(s->dirfd, &st) < 0 || st.st_dev != n->parent->st.st_dev ||
		    st.st_ino != n->parent->st.st_ino) {
			s->dir = NULL;
			return ssi_walk_changed(s->err, s->o->rootfs, n->parent->path, "moved or removed");
		}
	}
	*fd = s->dirfd;
	return SS_OK;
}

/* Pre-order: hard links found, inode numbers given in byte order; a
 * directory's links are "." and its entry in the parent, and ".." of each
 * directory below it. */
void ssi_sq_number(struct sq *s)
{
	for (struct node *n = s->root; n; n = ssi_sq_next_pre(n)) {
		if (!S_ISDIR(n->st.st_mode) && n->st.st_nlink > 1) {
			size_t h = ((size_t)n->st.st_ino * 2654435761u + (size_t)n->st.st_dev) & (s->nlinks_cap - 1);
			while (s->links[h] &&
			       (s->links[h]->st.st_ino != n->st.st_ino || s->links[h]->st.st_dev != n->st.st_dev))
				h = (h + 1) & (s->nlinks_cap - 1);
			if (s->links[h]) {
				n->link = s->links[h];
				n->link->nlink++;
				continue;
			}
			s->links[h] = n;
		}
		n->ino = ++s->ninodes;
		if (S_ISDIR(n->st.st_mode)) {
			n->nlink++;
			if (n->parent)
				n->parent->nlink++;
		}
	}
}
