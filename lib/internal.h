/* Helpers shared between the library's own files (prefix ssi_); not public. */
#ifndef SSTREAM_INTERNAL_H
#define SSTREAM_INTERNAL_H

#include <sys/stat.h>

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
struct ssi_strset {
	char **v;
	size_t n, alloc;
};
int ssi_strset_add(struct ssi_strset *s, const char *str);
/* For tests: the Nth ssi_strset_add from now fails as if out of memory
 * (0: none does).  Not thread-safe; nothing else calls it. */
void ssi_strset_fail_after(long n);
void ssi_strset_seal(struct ssi_strset *s);
int ssi_strset_has(const struct ssi_strset *s, const char *str);
void ssi_strset_free(struct ssi_strset *s);

/* Fills ERR (which may be NULL) and returns CODE. */
int ssi_err(struct ss_error *err, int code, const char *fmt, ...) SSI_PRINTF(3, 4);
/* Same, appending ": strerror(errno)" and recording errno. */
int ssi_err_sys(struct ss_error *err, int code, int errnum, const char *fmt, ...)
	SSI_PRINTF(4, 5);

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

/* Takes the lock ROOT/.sstream/lock (creating .sstream, not followed)
 * without waiting: SS_TEMPFAIL when another process holds it.  *FD keeps
 * it until closed. */
int ssi_lock_tree(const char *root, int *fd, struct ss_error *err);
/* Removes the lock files of TREE's history repository that a killed run
 * left; call only while holding the tree's lock. */
void ssi_history_clean_locks(const char *tree);

/* Locks TREE for a publishing run and removes what killed runs left
 * (temporary files); *FD keeps the lock until closed. */
int ssi_publish_lock(const char *tree, int *fd, struct ss_error *err);
/* Writes documents (tree-relative RELS -> bytes, streams/v1/index.json
 * among them) the way publish does: every products file so that each
 * index, at every instant, names files listing exactly its products (a
 * file whose product list changes goes through an alternate name and one
 * index switch), the other documents before the indexes, index.sjson then
 * index.json last.  Files holding their bytes already are left alone;
 * *CHANGED (may be NULL) is set when anything was written.  Used by the
 * mirror and by history rollback; a signed view (index.sjson) cannot be
 * switched without a key: it changes when the indexes are written. */
int ssi_put_tree_docs(const char *tree, size_t n, const char *const *rels, const char *const *data,
		      const size_t *lens, int *changed, struct ss_error *err);

/* Retrying and workers (pool.c).  The delay before retry number TRIES
 * (from 0): 0.5 s, 1 s, 2 s ... at most 10 s; a sleep of MS milliseconds;
 * FN(ARG) on N threads (at least one; on the caller's thread when none
 * can be started), joined before it returns the number started. */
unsigned ssi_backoff_ms(int tries);
void ssi_sleep_ms(unsigned ms);
int ssi_pool_run(int n, void *(*fn)(void *), void *arg);

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

/* curl_global_init, once per process; 0 on success. */
int ssi_curl_init(void);

/* Feeds up to LIMIT bytes (all when < 0) of FD to H.  NAME is for errors. */
int ssi_hash_fd(int fd, struct ss_hasher *h, long long limit, const char *name,
		struct ss_error *err);

/* Architecture names (lxd.c): the Debian-style name the clients list
 * images under for a kernel name (x86_64 -> amd64), and back; unknown names
 * unchanged.  _known: a name the LXD and Incus clients know (either form). */
const char *ssi_lxd_arch(const char *arch);
const char *ssi_kernel_arch(const char *arch);
int ssi_lxd_arch_known(const char *arch);

/* The one strict check of a string from a tree before it reaches a web
 * server's configuration, an HTTP header, a URL or a path: the characters
 * LXD allows in that field, and nothing a configuration or URL would read
 * as syntax (quotes, '$', '%', ',', ';', braces, spaces, control
 * characters).  NULL when S is fine, else why not. */
enum ssi_field { SSI_F_ARCH, SSI_F_FINGERPRINT, SSI_F_VERSION, SSI_F_ALIAS, SSI_F_PATH, SSI_F_URL };
const char *ssi_field_problem(enum ssi_field f, const char *s);

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

/* metadata.yaml's text (NAME is the image, for messages); NULL with ERR. */
struct ss_image_meta *ssi_image_meta_parse(const char *text, size_t len, const char *name,
					   struct ss_error *err);

#endif
