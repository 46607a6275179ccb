/* Helpers shared between the library's own files (prefix ssi_); not public. */
#ifndef SSTREAM_INTERNAL_H
#define SSTREAM_INTERNAL_H

#include "sstream.h"

#if defined(__GNUC__)
#define SSI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SSI_PRINTF(a, b)
#endif

/* A sorted set of strings: add, then seal (sort, drop duplicates), then has. */
struct ssi_strset {
	char **v;
	size_t n, alloc;
};
int ssi_strset_add(struct ssi_strset *s, const char *str);
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

/* Takes the lock DIR/lock (creating DIR), without waiting: SS_TEMPFAIL
 * when another process holds it.  *FD keeps it until closed. */
int ssi_lock_dir(const char *dir, int *fd, struct ss_error *err);

/* Writes PATH atomically unless it already holds exactly DATA (so a no-op
 * run changes no file and no mtime); sets *CHANGED (may be NULL) when it
 * wrote.  SS_OK or SS_FATAL. */
int ssi_write_if_changed(const char *path, const void *data, size_t len, int *changed,
			 struct ss_error *err);

/* After a file under a tree was deleted: removes the directories above
 * PATH that are left empty, stopping at the first ROOT_LEN bytes (the
 * tree root).  PATH is modified. */
void ssi_rmdir_parents(char *path, size_t root_len);

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

/* Architecture names: the Debian-style name the clients list images under
 * for a kernel name (x86_64 -> amd64), and back; unknown names unchanged. */
const char *ssi_lxd_arch(const char *arch);
const char *ssi_kernel_arch(const char *arch);

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
