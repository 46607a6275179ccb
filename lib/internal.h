/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared between the library's own files (prefix ssi_); not public. */
#ifndef SSTREAM_INTERNAL_H
#define SSTREAM_INTERNAL_H

#include <sys/stat.h>
#include <sys/types.h>

#include "sstream.h"

#if defined(__GNUC__)
#define SSI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SSI_PRINTF(a, b)
#endif

/* The directory below each tree root that holds our lock, state,
 * temporary files and history; no document may name a path in it. */
#define SSI_PRIVATE_DIR ".sstream"

/* True when the comma-separated LIST (may be NULL) has ITEM as an element. */
int ssi_list_has(const char *list, const char *item);

/* The value of hex digit C (either case), or -1. */
int ssi_hexval(int c);

/* A sorted set of strings: add, then seal (sort, drop duplicates), then has. */
/* As ss_tree_load, for a tree whose items are all that is needed: the
 * documents' bytes are not kept (read back as NULL), and a products file
 * costs little more than its text. */
struct ss_tree *ssi_tree_load_items(const char *source, struct ss_error *err);
/* As ss_tree_load_ex, each document of 4 MiB or more read in place as
 * ssi_tree_load_items does, its bytes as served going to an unlinked file
 * in the directory SPOOL: ss_tree_doc gives them as NULL (with their
 * length), ssi_tree_doc_read reads them back. */
struct ss_tree *ssi_tree_load_spooled(const char *source, struct ss_verifier *v, const struct ss_fetch_opts *fo,
				      const char *spool, struct ss_error *err);
/* T's document I as served (in memory or spooled), a malloc'd copy
 * (NUL-terminated) in *DATA: SS_OK, or SS_FATAL with ERR filled. */
int ssi_tree_doc_read(const struct ss_tree *t, size_t i, char **data, size_t *len, struct ss_error *err);
/* Frees the bytes of T's documents (read back as NULL): for a tree whose
 * items are all that is still needed. */
void ssi_tree_drop_texts(struct ss_tree *t);
/* Seconds since the epoch of a version name that starts with a date
 * ("20240423", "20121026.1", "20230424_07:42"), or -1 (updated.c). */
long long ssi_version_date(const char *v);

/* qsort/bsearch order of an array of strings (char *). */
int ssi_cmp_str(const void *a, const void *b);

/* Room in *ARR (*ALLOC elements of ELEM bytes) for element N: grown
 * (doubled) when N is past its end.  -1 when out of memory. */
int ssi_grow(void **arr, size_t *alloc, size_t n, size_t elem);
/* The Ith item of S, in the order it writes them (I < ss_subset_count). */
const struct ss_item *ssi_subset_item(const struct ss_subset *s, size_t i);

struct ssi_strset {
	char **v;
	size_t n, alloc;
	int borrowed;            /* the strings are not copied: they outlive the set */
};
int ssi_strset_add(struct ssi_strset *s, const char *str);
/* For tests: the Nth ssi_strset_add from now fails as if out of memory
 * (0: none does).  Not thread-safe; nothing else calls it. */
void ssi_strset_fail_after(long n);
/* 1 when the countdown of ssi_strset_fail_after reaches 0 now: the adds
 * of other collections that decide deletions (ledger.c) fail there too. */
int ssi_fail_injected(void);
void ssi_strset_seal(struct ssi_strset *s);
int ssi_strset_has(const struct ssi_strset *s, const char *str);
void ssi_strset_free(struct ssi_strset *s);

/* Fills ERR (which may be NULL) and returns CODE. */
int ssi_err(struct ss_error *err, int code, const char *fmt, ...) SSI_PRINTF(3, 4);
/* Same, appending ": strerror(errno)" and recording errno. */
int ssi_err_sys(struct ss_error *err, int code, int errnum, const char *fmt, ...)
	SSI_PRINTF(4, 5);

/* The first N bytes of S (up to its NUL) fit for a one-line message in
 * BUF of SZ bytes: control characters and bytes >= 0x7f become '?', the
 * rest is cut at SZ - 1.  Returns BUF. */
char *ssi_printable(char *buf, size_t sz, const char *s, size_t n);

/* malloc'd copy of the first N bytes of S, NUL-terminated. */
char *ssi_strndup(const char *s, size_t n);

/* mkdir -p of the directories above PATH; 0, or -1 with errno. */
int ssi_mkparents(const char *path);

/* ---- safefs.c: writes and deletions below a tree root that never follow
 * a symlink inside the tree (the root itself may be one).  REL is
 * tree-relative; errors name the path and the symlink refused. */

/* The directory of the first REL_LEN bytes of REL below ROOT (ROOT itself
 * when 0), opened O_NOFOLLOW component by component, created when CREATE.
 * An fd, or -1 with ERR filled (SS_FATAL, sys_errno ENOENT when missing). */
int ssi_dir_open(const char *root, const char *rel, size_t rel_len, int create, struct ss_error *err);
/* The same for REL's parent directory; *BASE points at REL's last name. */
int ssi_parent_open(const char *root, const char *rel, int create, const char **base, struct ss_error *err);
/* Creates a new file PREFIX + 6 random characters in DFD (O_EXCL,
 * O_NOFOLLOW), its name in NAME: an fd, or -1 with errno. */
int ssi_tmpfile_at(int dfd, const char *prefix, char *name, size_t namesz);
/* All LEN bytes of DATA to FD (EINTR retried): 0, or -1 with errno. */
int ssi_write_all(int fd, const void *data, size_t len);
/* Up to N bytes of FD from offset OFF into BUF (EINTR retried; fewer only
 * at the end of the file): how many, or -1 with errno. */
ssize_t ssi_read_full(int fd, void *buf, size_t n, off_t off);
/* 1 when ROOT/REL (no symbolic link followed) holds exactly DATA; read
 * a piece at a time. */
int ssi_safe_holds(const char *root, const char *rel, const void *data, size_t len);
/* Atomically replaces ROOT/REL with DATA (temporary file, fsync, rename,
 * fsync of the directory), creating directories.  With CHANGED not NULL,
 * leaves a file that holds exactly DATA alone and sets *CHANGED when it
 * wrote.  SS_OK or SS_FATAL. */
int ssi_safe_write(const char *root, const char *rel, const void *data, size_t len, int *changed,
		   struct ss_error *err);
/* Renames ROOT/FROM to ROOT/TO (creating TO's directories). */
int ssi_safe_rename(const char *root, const char *from, const char *to, struct ss_error *err);
/* Removes the file (or symlink, never its target) ROOT/REL, filling ST
 * (may be NULL) with what it was; with PRUNE_DIRS also the directories it
 * leaves empty, up to ROOT.  SS_OK or SS_FATAL (a directory is refused). */
int ssi_safe_unlink(const char *root, const char *rel, int prune_dirs, struct stat *st, struct ss_error *err);
/* Removes every entry of the directory ROOT/REL (not followed) except
 * those KEEP (may be NULL) says to keep.  A missing directory is fine. */
int ssi_clean_dir(const char *root, const char *rel, int (*keep)(void *ud, const char *name), void *ud,
		  struct ss_error *err);

/* ---- safefs_dirs.c: the directories below a tree root kept open for a
 * run of operations, so that each is walked to (safely, as ssi_dir_open
 * does) once, not once per file.  At most SSI_DIRS_MAX fds, the least
 * recently used closed first.  No lock: one thread at a time uses one
 * (each user holds its own).  What is renamed or removed through it is
 * forgotten at and below; a directory something else removes or replaces
 * while it is cached stays the directory that was opened (a write lands
 * in it or fails), never a symlink put in its place. */
enum { SSI_DIRS_MAX = 64 };
struct ssi_dir_ent {
	char *rel;               /* NULL: a free slot */
	size_t len;
	int fd;
	unsigned long used;
};
struct ssi_dirs {
	const char *root;        /* borrowed */
	unsigned long clock;
	int recent[2];           /* the slots the last two lookups returned */
	struct ssi_dir_ent e[SSI_DIRS_MAX];
};
/* An empty cache for ROOT (kept as a pointer, not copied); a zeroed
 * struct is empty too (ssi_dirs_close may be called on it). */
void ssi_dirs_init(struct ssi_dirs *d, const char *root);
/* Closes every fd; D is empty (and usable) afterwards. */
void ssi_dirs_close(struct ssi_dirs *d);
/* How many fds D holds. */
int ssi_dirs_count(const struct ssi_dirs *d);
/* As ssi_dir_open, but the fd is D's (borrowed): open until D is closed or
 * forgets it, and at least through the next lookup (a lookup may close
 * the least recently used others). */
int ssi_dirs_open(struct ssi_dirs *d, const char *rel, size_t rel_len, int create, struct ss_error *err);
/* As ssi_parent_open, the fd borrowed as for ssi_dirs_open. */
int ssi_dirs_parent(struct ssi_dirs *d, const char *rel, int create, const char **base, struct ss_error *err);
/* Closes what D holds of the first REL_LEN bytes of REL and below it. */
void ssi_dirs_forget(struct ssi_dirs *d, const char *rel, size_t rel_len);
/* FD, a lookup's result, becomes the caller's (D no longer holds it);
 * -1 when D does not hold it. */
int ssi_dirs_take(struct ssi_dirs *d, int fd);
/* ssi_safe_rename and ssi_safe_unlink through D (safefs.c). */
int ssi_dirs_rename(struct ssi_dirs *d, const char *from, const char *to, struct ss_error *err);
int ssi_dirs_unlink(struct ssi_dirs *d, const char *rel, int prune_dirs, struct stat *st, struct ss_error *err);

/* Takes the lock ROOT/.sstream/lock (creating .sstream, not followed)
 * without waiting: SS_TEMPFAIL when another process holds it.  *FD keeps
 * it until closed. */
int ssi_lock_tree(const char *root, int *fd, struct ss_error *err);
/* The history (history.c, history_diff.c).  A products document a run is
 * about to write: REL below the tree, DATA of LEN bytes and, when known,
 * the items it lists, which then need not be read from DATA: those of
 * PRODUCTS (DATA's own model), or the NITEMS ITEMS.  They must stay until
 * ssi_history_prepared. */
struct ssi_prepdoc {
	const char *rel, *data;
	size_t len;
	const struct ss_products *products;
	const struct ss_item **items;
	size_t nitems;
};
/* What a record of TREE will say of the N documents DOCS (copied) a run is
 * about to write, read from now on, on a thread of its own, while another
 * writes their objects into the history; NULL when it cannot be (a
 * document not at hand, more than 32 MiB of them, out of memory).
 * ssi_history_prepared waits until the items are read (PREP NULL: none).
 * ssi_history_record is ss_history_record with what PREP (NULL: nothing;
 * taken) prepared. */
struct ssh_after *ssi_history_prepare(const char *tree, size_t n, const struct ssi_prepdoc *docs);
void ssi_history_prepared(struct ssh_after *prep);
int ssi_history_record(const char *tree, const char *tool, struct ssh_after *prep, int *committed,
		       struct ss_error *err);
void ssh_after_free(struct ssh_after *a);
/* Retrying and workers (pool.c).  The delay before retry number TRIES
 * (from 0): 0.5 s, 1 s, 2 s ... at most 10 s; a sleep of MS milliseconds;
 * FN(ARG) on N threads (at least one; on the caller's thread when none
 * can be started), joined before it returns the number started. */
unsigned ssi_backoff_ms(int tries);
void ssi_sleep_ms(unsigned ms);
int ssi_pool_run(int n, void *(*fn)(void *), void *arg);

/* The plain and signed views of the local tree at ROOT (views.c): calls
 * DIFFER (may be NULL) with each streams/v1/NAME.sjson whose document is
 * not the one NAME.json holds (an index compared with its paths' .json /
 * .sjson extensions dropped); returns how many differ. */
int ssi_views_compare(const char *root, void (*differ)(void *ud, const char *rel), void *ud);

/* Monotonic seconds, for durations. */
double ssi_now(void);

/* Asks (HEAD with If-None-Match, or If-Modified-Since) whether each of
 * the N documents at URLS still has the validators given.  1 when every
 * one answered 304 Not Modified; 0 when any did not, could not be asked
 * (a local file, no validator) or the request failed. */
int ssi_fetch_unchanged(const char *const *urls, const char *const *etags,
			const char *const *last_modified, size_t n, const struct ss_fetch_opts *o);

/* Feeds F's expressions to H (a fingerprint of what a filter selects). */
void ssi_filter_hash(const struct ss_filter *f, struct ss_hasher *h);
/* The sha256 of LEN bytes at DATA into OUT (its digest fetched once:
 * OpenSSL's SHA256() fetches it on every call). */
void ssi_sha256(const void *data, size_t len, unsigned char out[32]);

/* curl_global_init, once per process; 0 on success. */
int ssi_curl_init(void);

/* Connections (and DNS answers, TLS sessions) kept from one document
 * fetch to the next, as a tree's index and products files are read one
 * after the other: a new connection per document was a new TCP and TLS
 * handshake each.  For one thread at a time.  NULL when out of memory
 * (the fetches then connect each time). */
struct ssi_conns;
struct ssi_conns *ssi_conns_new(void);
void ssi_conns_free(struct ssi_conns *c);
/* ss_fetch_ex over C's connections (C may be NULL). */
int ssi_fetch_conns(const char *location, size_t cap, const struct ss_fetch_opts *o, struct ssi_conns *c,
		    char **data, size_t *len, struct ss_error *err);

/* Feeds up to LIMIT bytes (all when < 0) of FD to SINK, 1 MiB at a time;
 * *DONE (may be NULL) gets the count read.  A SINK result other than SS_OK
 * stops the reading and is returned; a read error is SS_FATAL naming NAME. */
typedef int (*ssi_sink_fn)(void *ctx, const void *buf, size_t len);
int ssi_read_fd(int fd, long long limit, const char *name, ssi_sink_fn sink, void *ctx, long long *done,
		struct ss_error *err);
/* Feeds up to LIMIT bytes (all when < 0) of FD to H.  NAME is for errors. */
int ssi_hash_fd(int fd, struct ss_hasher *h, long long limit, const char *name,
		struct ss_error *err);

/* Architecture names (lxd.c): the Debian-style name the clients list
 * images under for a kernel name (x86_64 -> amd64), and back; unknown names
 * unchanged.  _known: a name the LXD and Incus clients know (either form). */
const char *ssi_lxd_arch(const char *arch);
const char *ssi_kernel_arch(const char *arch);
int ssi_lxd_arch_known(const char *arch);

/* The combined fingerprint fields (lxd.c): a metadata item carries, for
 * each root item it pairs with, sha256(meta || root) in the field of the
 * root's ftype.  _at: the I-th pair (NULL past the end); _for: the first
 * (primary) pair of ROOT_FTYPE, NULL when it is no root ftype LXD knows.
 * LEGACY: combined_sha256, which only LXD before 4.x reads; VM: a disk. */
struct ssi_lxd_combined {
	const char *ftype, *field;
	int vm, legacy;
};
enum { SSI_LXD_NCOMBINED = 6 };
const struct ssi_lxd_combined *ssi_lxd_combined_at(size_t i);
const struct ssi_lxd_combined *ssi_lxd_combined_for(const char *root_ftype);
/* Whether FTYPE is an LXD or Incus metadata item's. */
int ssi_lxd_is_metadata(const char *ftype);
/* Whether the version key V starts with a date YYYYMMDD, as the clients
 * need to list the image. */
int ssi_lxd_version_ok(const char *v);

/* The one strict check of a string from a tree before it reaches a web
 * server's configuration, an HTTP header, a URL or a path: the characters
 * LXD allows in that field, and nothing a configuration or URL would read
 * as syntax (quotes, '$', '%', ',', ';', braces, spaces, control
 * characters).  NULL when S is fine, else why not. */
enum ssi_field { SSI_F_ARCH, SSI_F_FINGERPRINT, SSI_F_VERSION, SSI_F_ALIAS, SSI_F_PATH, SSI_F_URL };
const char *ssi_field_problem(enum ssi_field f, const char *s);

/* Walking a tree for the image builders (walk.c): iterative, from
 * directory descriptors, entries in byte order, no limit on depth or path
 * length.  VISIT sees every entry in pre-order (the root first, path "");
 * clearing DESCEND keeps the walk out of a directory.  LEAVE (may be NULL)
 * sees each directory entered once its entries are done.  A callback's
 * result other than SS_OK stops the walk and is returned.  A tree changing
 * under the walk is SS_PARTIAL (ssi_walk_changed), other errors SS_FATAL. */
struct ssi_walk_entry {
	int dirfd;              /* the directory holding it (AT_FDCWD: the root) */
	const char *name;       /* its name in DIRFD */
	const char *path;       /* below the root, "" for the root itself */
	const char *src;        /* a path to it short enough for path-only calls */
	size_t depth;
	struct stat st;         /* lstat */
	int descend;
};
typedef int (*ssi_walk_fn)(void *ctx, struct ssi_walk_entry *e);
int ssi_walk(const char *root, ssi_walk_fn visit, ssi_walk_fn leave, void *ctx, struct ss_error *err);
/* SS_PARTIAL: ROOT/PATH changed while the image was built (HOW). */
int ssi_walk_changed(struct ss_error *err, const char *root, const char *path, const char *how);
/* A path to NAME in DIRFD (ROOT/PATH below the walk's root) for calls
 * that take only a path: "/proc/self/fd/DIRFD/NAME" in BUF, whatever the
 * depth; ROOT/PATH when /proc is not mounted; NAME itself for AT_FDCWD. */
const char *ssi_walk_srcpath(char *buf, size_t size, int dirfd, const char *name, const char *root,
			     const char *path);
/* Feeds FD (opened from the entry with stat ST) to SINK, exactly
 * st_size bytes: SS_PARTIAL when the file is another one, shrank, grew or
 * was modified meanwhile; SINK's own result when it fails. */
int ssi_walk_read(int fd, const struct stat *st, const char *root, const char *path, ssi_sink_fn sink,
		  void *ctx, struct ss_error *err);
/* Opens directory PATH below ROOTFD, however long PATH is; -1 and errno. */
int ssi_walk_opendir(int rootfd, const char *path);

/* Writes O->rootfs as a squashfs at OUT (via OUT.tmp), compressed with
 * O->compression (xz, zstd, gzip), mtimes clamped to EPOCH when >= 0.
 * SS_OK, SS_USAGE or SS_FATAL. */
struct ss_build_opts;
int ssi_squashfs_write(const struct ss_build_opts *o, const char *out, long long epoch, struct ss_error *err);

/* Parsers behind public functions, exposed for the fuzz targets
 * (tests/fuzz/) so they can be fed bytes without files. */

/* A "Content-Range: bytes FIRST-LAST/TOTAL" header line of LEN bytes (not
 * NUL-terminated): 1 with *START = FIRST; -1 (and *START = -1) when it is a
 * Content-Range line in another form; 0 for any other header. */
int ssi_http_content_range(const char *buf, size_t len, long long *start);

/* metadata.yaml's text; NAME is the image tarball holding it (IN_TARBALL)
 * or the YAML file, for messages.  NULL with ERR. */
struct ss_image_meta *ssi_image_meta_parse(const char *text, size_t len, const char *name, int in_tarball,
					   struct ss_error *err);
/* The YAML file PATH (build --metadata), parsed; errors name PATH. */
struct ss_image_meta *ssi_image_meta_load(const char *path, struct ss_error *err);
/* SS_OK when M names the os and release a product is named by; else
 * SS_FATAL naming NAME (a tarball when IN_TARBALL, else the YAML file). */
int ssi_image_meta_require(const struct ss_image_meta *m, const char *name, int in_tarball, struct ss_error *err);

/* (model.c) ss_item_str of each of the N (at most 16) KEYS, none of them
 * a name field (item_name...), into OUT: each level's fields are read
 * once, with no hashing - for the catalogue, which asks a few fields of
 * every item. */
void ssi_item_strs(const struct ss_item *it, const char *const *keys, size_t n, const char **out);
/* The same for ss_item_get: of each of the N (at most 16) KEYS, its text
 * (ss_item_get's, formatted into BUF[k]), its string (ss_item_str's) and
 * its number (ss_item_get_int's; -1 for a name field). */
#define SSI_ITEM_BUF 160
struct ssi_itemval {
	const char *text, *str;
	long long num;
};
void ssi_item_gets(const struct ss_item *it, const char *const *keys, size_t n, char (*buf)[SSI_ITEM_BUF],
		   struct ssi_itemval *out);

#endif
