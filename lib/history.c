/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The history of a tree's metadata, in a bare git repository kept beside
 * it (TREE/.sstream/history.git), written with libgit2: one commit per run
 * that changed streams/, whose message says what was added and removed.
 * The history never breaks a run: callers turn its errors into warnings.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "history_internal.h"
#include "treedocs.h"
#include "treelock.h"

/* The blob of the regular file PATH into *OID.  PREP (a prepared record,
 * or NULL): a document it wrote the object of is known by its bytes; and
 * the history may have others already: hashed first, and written only
 * when it does not (writing deflates it all again). */
static int blob_of(git_repository *repo, const char *path, const struct ssh_after *prep, git_oid *oid)
{
	if (prep && ssh_after_blob(prep, path, oid))
		return 0;
	git_odb *odb = NULL;
	if (prep && git_repository_odb(&odb, repo) == 0 && git_odb_hashfile(oid, path, GIT_OBJECT_BLOB) == 0 &&
	    git_odb_exists(odb, oid)) {
		git_odb_free(odb);
		return 0;
	}
	git_odb_free(odb);
	return git_blob_create_from_disk(oid, repo, path);
}

/* A git tree of the regular files below DIR; *EMPTY when there are none.
 * PREP: as blob_of's. */
static int build_tree(git_repository *repo, const char *dir, const struct ssh_after *prep, git_oid *out,
		      int *empty)
{
	git_treebuilder *b = NULL;
	DIR *d = opendir(dir);
	int rc = -1, n = 0;
	if (!d || git_treebuilder_new(&b, repo, NULL) != 0)
		goto out;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue; /* ".", "..", and temporary files of atomic writes */
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(p, &st) < 0)
			goto out;
		git_oid oid;
		if (S_ISDIR(st.st_mode)) {
			int sub_empty;
			if (build_tree(repo, p, prep, &oid, &sub_empty) != 0)
				goto out;
			if (sub_empty)
				continue;
			if (git_treebuilder_insert(NULL, b, e->d_name, &oid, GIT_FILEMODE_TREE) != 0)
				goto out;
		} else if (S_ISREG(st.st_mode)) {
			if (blob_of(repo, p, prep, &oid) != 0 ||
			    git_treebuilder_insert(NULL, b, e->d_name, &oid, GIT_FILEMODE_BLOB) != 0)
				goto out;
		} else {
			continue;
		}
		n++;
	}
	*empty = n == 0;
	rc = git_treebuilder_write(out, b);
out:
	if (d)
		closedir(d);
	git_treebuilder_free(b);
	return rc;
}

static int commit_tree(git_repository *repo, const char *rev, git_commit **commit, git_tree **tree)
{
	git_object *obj = NULL;
	*commit = NULL;
	*tree = NULL;
	if (git_revparse_single(&obj, repo, rev) != 0)
		return -1;
	int rc = git_commit_lookup(commit, repo, git_object_id(obj));
	git_object_free(obj);
	if (rc == 0)
		rc = git_commit_tree(tree, *commit);
	return rc;
}

int ss_history_record(const char *tree, const char *tool, int *committed, struct ss_error *err)
{
	return ss_history_record_note(tree, tool, NULL, committed, err);
}

int ss_history_resolve(const char *tree, const char *rev, char id[41], struct ss_error *err)
{
	git_repository *repo = NULL;
	git_object *obj = NULL;
	git_commit *c = NULL;
	int rc = ssh_open_repo(tree, 0, &repo, err);
	if (rc != SS_OK)
		return rc;
	if (git_revparse_single(&obj, repo, rev) != 0 || git_commit_lookup(&c, repo, git_object_id(obj)) != 0)
		rc = ssi_err(err, SS_USAGE, "history of '%s': no record '%s'", tree, rev);
	else
		git_oid_tostr(id, 41, git_commit_id(c));
	git_commit_free(c);
	git_object_free(obj);
	git_repository_free(repo);
	return rc;
}

static int record(const char *tree, const char *tool, const char *note, struct ssh_after *after, int *committed,
		  struct ss_error *err);

int ss_history_record_note(const char *tree, const char *tool, const char *note, int *committed,
			   struct ss_error *err)
{
	return record(tree, tool, note, NULL, committed, err);
}

int ssi_history_record(const char *tree, const char *tool, struct ssh_after *prep, int *committed,
		       struct ss_error *err)
{
	return record(tree, tool, NULL, prep, committed, err);
}

static int record(const char *tree, const char *tool, const char *note, struct ssh_after *after, int *committed,
		  struct ss_error *err)
{
	struct ss_error local;
	if (!err)
		err = &local;
	ss_error_clear(err);
	*committed = 0;
	git_repository *repo = NULL;
	git_tree *new_tree = NULL, *old_tree = NULL;
	git_commit *parent = NULL;
	git_signature *sig = NULL;
	/* Under the tree's lock when it is free (publish records after its
	 * command let it go): then no other run is writing the history, and
	 * lock files a killed run left are stale.  When it is held (by the
	 * mirror calling us, or another run), as before. */
	int lock_fd = -1;
	struct ss_error le;
	/* A prepared record's objects are written first: its thread may be
	 * creating the repository, whose lock files are not stale. */
	int prepared = after != NULL;
	if (prepared)
		ssh_after_wait(after);
	if (ssi_lock_tree(tree, &lock_fd, &le) == SS_OK)
		ssi_treelock_clean_history(tree);
	/* the new state, unless prepared, is parsed while the objects are written */
	if (!prepared)
		after = ssh_after_start(tree);
	int rc = after ? ssh_open_repo(tree, 1, &repo, err) : ssi_err(err, SS_FATAL, "history of '%s': out of memory", tree);
	if (rc != SS_OK) {
		ssh_after_free(after);
		if (lock_fd >= 0)
			close(lock_fd);
		return rc;
	}
	/* the tree: streams/ of TREE */
	char streams[PATH_MAX];
	snprintf(streams, sizeof(streams), "%s/streams", tree);
	git_oid streams_oid, root_oid, commit_oid;
	git_treebuilder *b = NULL;
	int empty = 1;
	if (build_tree(repo, streams, prepared ? after : NULL, &streams_oid, &empty) != 0 ||
	    git_treebuilder_new(&b, repo, NULL) != 0 ||
	    (!empty && git_treebuilder_insert(NULL, b, "streams", &streams_oid, GIT_FILEMODE_TREE) != 0) ||
	    git_treebuilder_write(&root_oid, b) != 0 || git_tree_lookup(&new_tree, repo, &root_oid) != 0) {
		rc = ssh_git_fail(err, "cannot record", tree);
		goto out;
	}
	if (commit_tree(repo, "HEAD", &parent, &old_tree) != 0) {
		git_commit_free(parent);
		parent = NULL;
	}
	if (old_tree && git_oid_equal(git_tree_id(old_tree), &root_oid))
		goto out; /* nothing changed: no commit */
	char *msg = ssh_commit_message(repo, old_tree, new_tree, after, tool, note);
	const git_commit *parents[1] = { parent };
	if (!msg || git_signature_now(&sig, tool, "sstream@localhost") != 0 ||
	    git_commit_create(&commit_oid, repo, "HEAD", sig, sig, NULL, msg, new_tree, parent ? 1 : 0, parents) != 0)
		rc = ssh_git_fail(err, "cannot commit", tree);
	else
		*committed = 1;
	free(msg);
out:
	ssh_after_free(after);
	git_treebuilder_free(b);
	git_signature_free(sig);
	git_commit_free(parent);
	git_tree_free(old_tree);
	git_tree_free(new_tree);
	git_repository_free(repo);
	if (lock_fd >= 0)
		close(lock_fd);
	return rc;
}

int ss_history_log(const char *tree, int max, void (*cb)(void *ud, const struct ss_history_entry *e), void *ud,
		   struct ss_error *err)
{
	git_repository *repo = NULL;
	git_revwalk *walk = NULL;
	int rc = ssh_open_repo(tree, 0, &repo, err);
	if (rc != SS_OK)
		return rc;
	if (git_revwalk_new(&walk, repo) != 0 || git_revwalk_push_head(walk) != 0) {
		rc = ssh_git_fail(err, "cannot read", tree);
		goto out;
	}
	git_oid oid;
	for (int n = 0; (max <= 0 || n < max) && git_revwalk_next(&oid, walk) == 0; n++) {
		git_commit *c;
		if (git_commit_lookup(&c, repo, &oid) != 0)
			continue;
		char id[GIT_OID_HEXSZ + 1];
		git_oid_tostr(id, sizeof(id), &oid);
		struct ss_history_entry e = {
			.id = id,
			.time = (long long)git_commit_time(c),
			.tool = git_commit_author(c)->name,
			.summary = git_commit_summary(c),
			.message = git_commit_message(c),
		};
		cb(ud, &e);
		git_commit_free(c);
	}
out:
	git_revwalk_free(walk);
	git_repository_free(repo);
	return rc;
}

int ss_history_diff(const char *tree, const char *rev_a, const char *rev_b,
		    void (*cb)(void *ud, char sign, const char *what, const char *key), void *ud,
		    struct ss_error *err)
{
	git_repository *repo = NULL;
	git_commit *ca = NULL, *cb_ = NULL;
	git_tree *ta = NULL, *tb = NULL;
	int rc = ssh_open_repo(tree, 0, &repo, err);
	if (rc != SS_OK)
		return rc;
	if (commit_tree(repo, rev_a, &ca, &ta) != 0 || commit_tree(repo, rev_b, &cb_, &tb) != 0) {
		rc = ssi_err(err, SS_USAGE, "history of '%s': no record '%s'", tree,
			     ta ? rev_b : rev_a);
		goto out;
	}
	ssh_diff(repo, ta, tb, cb, ud);
out:
	git_tree_free(ta);
	git_tree_free(tb);
	git_commit_free(ca);
	git_commit_free(cb_);
	git_repository_free(repo);
	return rc;
}

/* The blobs of a recorded tree, tree-relative path -> bytes. */
struct blobs {
	char **rel;
	git_blob **blob;
	size_t n, a;
};

static void blobs_free(struct blobs *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->rel[i]);
		git_blob_free(b->blob[i]);
	}
	free(b->rel);
	free(b->blob);
}

/* Collects every blob of T under PREFIX.  A record is read back from
 * disk, so each path passes the same check as a document's. */
static int collect(git_repository *repo, const git_tree *t, const char *root, const char *prefix, struct blobs *b,
		   struct ss_error *err)
{
	for (size_t i = 0; i < git_tree_entrycount(t); i++) {
		const git_tree_entry *e = git_tree_entry_byindex(t, i);
		char rel[PATH_MAX];
		snprintf(rel, sizeof(rel), "%s%s%s", prefix, *prefix ? "/" : "", git_tree_entry_name(e));
		if (ss_path_check(rel, err) != SS_OK || strncmp(rel, "streams", 7) != 0 || (rel[7] && rel[7] != '/'))
			return ssi_err(err, SS_FATAL, "history of '%s': the record names '%s', outside streams/", root,
				       rel);
		if (git_tree_entry_type(e) == GIT_OBJECT_TREE) {
			git_tree *sub;
			if (git_tree_lookup(&sub, repo, git_tree_entry_id(e)) != 0)
				return ssh_git_fail(err, "cannot read", root);
			int rc = collect(repo, sub, root, rel, b, err);
			git_tree_free(sub);
			if (rc != SS_OK)
				return rc;
			continue;
		}
		if (b->n == b->a) {
			size_t na = b->a ? 2 * b->a : 16;
			char **nr = realloc(b->rel, na * sizeof(*nr));
			if (nr)
				b->rel = nr;
			git_blob **nb = nr ? realloc(b->blob, na * sizeof(*nb)) : NULL;
			if (!nb)
				return ssi_err(err, SS_FATAL, "out of memory");
			b->blob = nb;
			b->a = na;
		}
		if (git_blob_lookup(&b->blob[b->n], repo, git_tree_entry_id(e)) != 0)
			return ssh_git_fail(err, "cannot read", root);
		if (!(b->rel[b->n] = strdup(rel))) {
			git_blob_free(b->blob[b->n]);
			return ssi_err(err, SS_FATAL, "out of memory");
		}
		b->n++;
	}
	return SS_OK;
}

/* Writes the record T into ROOT the way publish writes: every index, at
 * every instant, names products files that list exactly its products. */
static int restore(git_repository *repo, const git_tree *t, const char *root, const struct ss_publish_opts *po,
		   struct ss_error *err)
{
	struct blobs b = { 0 };
	int rc = collect(repo, t, root, "", &b, err);
	const char **data = rc == SS_OK ? calloc(b.n ? b.n : 1, sizeof(*data)) : NULL;
	size_t *lens = data ? calloc(b.n ? b.n : 1, sizeof(*lens)) : NULL;
	if (rc == SS_OK && !lens)
		rc = ssi_err(err, SS_FATAL, "out of memory");
	for (size_t i = 0; rc == SS_OK && i < b.n; i++) {
		data[i] = git_blob_rawcontent(b.blob[i]);
		lens[i] = (size_t)git_blob_rawsize(b.blob[i]);
	}
	if (rc == SS_OK)
		rc = ssi_treedocs_put_signed(po ? po->sign_key : NULL, po != NULL, root, b.n,
					     (const char *const *)b.rel, data, lens, NULL, err);
	free(data);
	free(lens);
	blobs_free(&b);
	return rc;
}

/* Calls MISSING for each file a products file of the record T names
 * that is not here or does not verify, and for each products file that
 * does not parse; their number. */
static size_t check_files(git_repository *repo, const git_tree *t, const char *tree,
			  void (*missing)(void *ud, const char *path, const char *why), void *ud)
{
	size_t bad = 0;
	git_tree_entry *v1e = NULL;
	git_tree *v1 = NULL;
	if (git_tree_entry_bypath(&v1e, t, "streams/v1") != 0 || git_tree_lookup(&v1, repo, git_tree_entry_id(v1e)) != 0)
		goto out;
	for (size_t i = 0; i < git_tree_entrycount(v1); i++) {
		const git_tree_entry *e = git_tree_entry_byindex(v1, i);
		const char *name = git_tree_entry_name(e);
		size_t nl = strlen(name);
		git_blob *blob;
		if (nl < 5 || strcmp(name + nl - 5, ".json") || !strcmp(name, "index.json") ||
		    git_blob_lookup(&blob, repo, git_tree_entry_id(e)) != 0)
			continue;
		struct ss_error pe;
		struct ss_products *p = ss_products_parse(git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob),
							  name, NULL, &pe);
		if (!p) { /* a record we cannot read is not one to roll back to */
			bad++;
			if (missing)
				missing(ud, name, pe.msg);
		}
		for (size_t k = 0; p && k < ss_products_count(p); k++) {
			const struct ss_item *it = ss_products_item(p, k);
			const char *path = ss_item_str(it, "path");
			char *file = path ? ss_join(tree, path) : NULL;
			struct ss_digest d;
			struct ss_error he;
			ss_error_clear(&he);
			if (file && (ss_hash_file(file, ss_item_hash_kinds(it), &d, &he) != SS_OK ||
				     ss_item_check(it, &d, &he) != SS_OK)) {
				bad++;
				if (missing)
					missing(ud, path, he.sys_errno == ENOENT ? "missing" : he.msg);
			}
			free(file);
		}
		ss_products_free(p);
		git_blob_free(blob);
	}
out:
	git_tree_free(v1);
	git_tree_entry_free(v1e);
	return bad;
}

int ss_history_rollback(const char *tree, const char *rev, void (*missing)(void *ud, const char *path, const char *why),
			void *ud, struct ss_error *err)
{
	return ss_history_rollback_ex(tree, rev, NULL, missing, ud, err);
}

int ss_history_rollback_ex(const char *tree, const char *rev, const struct ss_publish_opts *po,
			   void (*missing)(void *ud, const char *path, const char *why), void *ud,
			   struct ss_error *err)
{
	git_repository *repo = NULL;
	git_commit *c = NULL;
	git_tree *t = NULL;
	int lock_fd = -1, dry_run = po && po->dry_run;
	int rc = ssh_open_repo(tree, 0, &repo, err);
	if (rc != SS_OK)
		return rc;
	/* a dry run takes no lock: it would create .sstream/lock */
	if (!dry_run && (rc = ssi_treelock_take(tree, SSI_TL_KEEP_NONE, &lock_fd, err)) != SS_OK)
		goto out;
	if (commit_tree(repo, rev, &c, &t) != 0) {
		rc = ssi_err(err, SS_USAGE, "history of '%s': no record '%s'", tree, rev);
		goto out;
	}
	/* Every file the record names must be here and verify. */
	size_t bad = check_files(repo, t, tree, missing, ud);
	if (bad) {
		rc = ssi_err(err, SS_FATAL, "history of '%s': cannot roll back to '%s': %zu files missing or wrong",
			     tree, rev, bad);
		goto out;
	}
	/* products first, then the indexes: readers never see an index naming
	 * a products file that is not there */
	if (!dry_run)
		rc = restore(repo, t, tree, po, err);
out:
	if (lock_fd >= 0)
		close(lock_fd);
	git_tree_free(t);
	git_commit_free(c);
	git_repository_free(repo);
	return rc;
}
