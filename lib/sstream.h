/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libsstream: read, filter, query and write simplestreams trees.
 *
 * The one public header of the library.  No dependency's type appears here:
 * every handle is opaque.  The library never prints and never exits; a
 * function that can fail returns a result code (or NULL) and fills the
 * caller's struct ss_error.
 *
 * Ownership: the _new, _load, _parse and _dump functions return memory the
 * caller releases with the matching _free function (which accepts NULL) or
 * free(3) for plain strings; _get and accessor functions return borrowed pointers that live
 * as long as the object they came from.
 */
#ifndef SSTREAM_H
#define SSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Result codes.  They double as the exit codes of every sstream tool, so
 * the table is append-only.
 */
enum ss_result {
	SS_OK = 0,         /* everything done */
	SS_PARTIAL = 1,    /* some items failed or warnings; the tree is consistent */
	SS_FATAL = 2,      /* nothing done; the target is untouched */
	SS_INTEGRITY = 3,  /* checksum or signature mismatch */
	SS_USAGE = 64,     /* bad command line, bad filter */
	SS_TEMPFAIL = 75,  /* network down, server error, lock held: try later */
};

struct ss_error {
	int code;           /* an enum ss_result, SS_OK when nothing failed */
	int sys_errno;      /* errno of the failing system call, or 0 */
	long http_status;   /* HTTP status of the failing transfer, or 0 */
	char msg[1024];     /* "what 'subject': reason", one line */
};

/* Clears an error struct (code SS_OK, empty message). */
void ss_error_clear(struct ss_error *err);

/* ---- Versions ------------------------------------------------------------ */

/* The versions of libsstream and of the libraries it runs with (as loaded,
 * not as compiled against).  Every string is static: never NULL, never
 * freed; a library that cannot tell gives "unknown". */
struct ss_versions {
	const char *sstream, *curl, *ssl, *archive, *git2, *jansson, *pcre2, *gpgme, *yaml;
};
void ss_versions_get(struct ss_versions *v);

/* ---- Fetching (http, https, file URLs and local paths) ---------------- */

/* Largest metadata document the loaders accept, in bytes. */
#define SS_METADATA_CAP ((size_t)256 << 20)

/*
 * Reads a whole resource into memory.  LOCATION is an http(s):// or file://
 * URL or a local path.  More than CAP bytes is an error.  On success *DATA
 * is a malloc'd, NUL-terminated buffer of *LEN bytes (the caller frees it).
 * Returns SS_OK, SS_FATAL (not found, not readable, too large, 4xx) or
 * SS_TEMPFAIL (connection failure, timeout, 5xx).
 */
int ss_fetch(const char *location, size_t cap, char **data, size_t *len,
	     struct ss_error *err);

/* How remote documents are fetched; a NULL pointer means the defaults. */
struct ss_fetch_opts {
	const char *ca_file;  /* CA certificates for https, NULL: the system's */
	long timeout;         /* connect timeout and stall limit, s (0: 30) */
	int retries;          /* retries after 5xx, resets, timeouts (backoff) */
	time_t deadline;      /* wall-clock time when every fetch gives up, 0: none */
	/* Called after each http(s) document is fetched (200), with its
	 * validators (NULL when the server sent none), for a later
	 * conditional request. */
	void (*validators)(void *ud, const char *url, const char *etag, const char *last_modified);
	void *ud;
};

/* ss_fetch with options (O may be NULL). */
int ss_fetch_ex(const char *location, size_t cap, const struct ss_fetch_opts *o,
		char **data, size_t *len, struct ss_error *err);

/* True when LOCATION is an http://, https:// or file:// URL. */
int ss_is_url(const char *location);

/*
 * Joins ROOT (a directory or URL, with or without a trailing slash) and a
 * tree-relative PATH.  For URLs the path is percent-encoded (':' and '/' are
 * kept).  Returns a malloc'd string, or NULL when out of memory.
 */
char *ss_join(const char *root, const char *path);

/* ---- Paths -------------------------------------------------------------- */

/*
 * Checks that PATH is safe to write below a tree root: not empty, relative,
 * no "." or ".." segment, no empty segment, no backslash, no control
 * character, and not inside the tree's private directory (first component
 * ".sstream").  ':' and other printable characters are fine.  Returns SS_OK
 * or SS_FATAL with a message naming the path.
 */
int ss_path_check(const char *path, struct ss_error *err);

/* ---- Signed documents --------------------------------------------------- */

/*
 * True when DATA starts an OpenPGP clearsigned message.
 */
int ss_is_clearsigned(const char *data, size_t len);

/*
 * Extracts the signed text of a clearsigned message (dash-escaping removed,
 * line endings as signed).  Does NOT check the signature.  *OUT is malloc'd
 * and NUL-terminated.  Returns SS_OK or SS_FATAL (malformed armor).
 */
int ss_clearsign_body(const char *data, size_t len, char **out, size_t *outlen,
		      struct ss_error *err);

/* ---- Signatures ----------------------------------------------------------- */

struct ss_verifier;  /* checks clearsigned documents against one keyring */

/*
 * A verifier trusting exactly the public keys in the file KEYRING (binary
 * or armored), in a private GnuPG home.  Returns NULL with SS_FATAL when
 * the keyring cannot be read or holds no key.
 */
struct ss_verifier *ss_verifier_new(const char *keyring, struct ss_error *err);
void ss_verifier_free(struct ss_verifier *v);

/*
 * Verifies the clearsigned document DATA (NAME is for messages).  On
 * success *BODY (malloc'd, NUL-terminated) holds the signed text.  Returns
 * SS_OK, SS_INTEGRITY (not signed, bad signature, unknown, expired or
 * revoked key) or SS_FATAL.
 */
int ss_verifier_check(struct ss_verifier *v, const char *data, size_t len, const char *name,
		      char **body, size_t *bodylen, struct ss_error *err);

/*
 * Clearsigns DATA with the secret key KEYID from the user's GnuPG keyring
 * ($GNUPGHOME).  *OUT is malloc'd.  Returns SS_OK or SS_FATAL (no such
 * secret key, GnuPG failure).
 */
int ss_clearsign(const char *keyid, const char *data, size_t len, char **out, size_t *outlen,
		 struct ss_error *err);

/*
 * Checks that the secret key KEYID of $GNUPGHOME can sign now (it is
 * there and a probe signature works: no locked agent, no expired key).
 * *FPR gets its fingerprint (malloc'd).  SS_OK or SS_FATAL naming KEYID.
 */
int ss_signing_key(const char *keyid, char **fpr, struct ss_error *err);

/* ---- A tree's settings and signing (TREE/.sstream/config) ---------------- */

/*
 * A setting TREE remembers: KEY is "sign-key" (the key its signed views
 * are signed with), "webconf-nginx" or "webconf-apache" (the base URL of
 * that server's snippet).  *VALUE is malloc'd, NULL when unset or when
 * there is no settings file.  SS_OK; SS_USAGE (unknown KEY); SS_FATAL
 * naming the file and line when it is not a valid settings file.
 */
int ss_treeconf_get(const char *tree, const char *key, char **value, struct ss_error *err);

/* Sets KEY to VALUE (NULL: forgets it), the other settings kept, by an
 * atomic replace of the file (nothing written when unchanged).  SS_OK,
 * SS_USAGE (unknown KEY, a VALUE with spaces or control characters) or
 * SS_FATAL. */
int ss_treeconf_set(const char *tree, const char *key, const char *value, struct ss_error *err);

enum {
	SS_SIGNER_REQUIRE = 1, /* a tree with a signed index and no key (given or
				* remembered) is refused: its signed view would go stale */
};

/*
 * The key the next write of TREE signs with: GIVEN (--sign-key, may be
 * NULL), else the one TREE remembers; none with UNSIGN (--unsign; both is
 * SS_USAGE).  The key is checked (ss_signing_key) before anything
 * changes; *KEY gets its fingerprint (malloc'd), NULL for an unsigned
 * write.  SS_OK, SS_USAGE, or SS_FATAL with one line naming the key and
 * --unsign.
 */
int ss_tree_signer(const char *tree, const char *given, int unsign, int flags, char **key,
		   struct ss_error *err);

/* 1 when TREE has a signed view (streams/v1/index.sjson), else 0. */
int ss_tree_is_signed(const char *tree);

/* After a write: TREE remembers KEY (NULL: forgets it).  SS_OK or SS_FATAL. */
int ss_tree_signer_save(const char *tree, const char *key, struct ss_error *err);

/*
 * Removes TREE's signed view on purpose (--unsign): streams/v1/index.sjson
 * first, then every other .sjson under streams/, and forgets the key.
 * *CHANGED (may be NULL) is set when a file went.  SS_OK or SS_FATAL.
 */
int ss_tree_unsign(const char *tree, int *changed, struct ss_error *err);

/* ---- Products files and their items ------------------------------------- */

struct ss_products;  /* one products:1.0 document */
struct ss_item;      /* one item, seen flattened (FORMAT.md section 3) */

/*
 * Parses a products:1.0 document (plain JSON or clearsigned).  NAME names
 * the source in error messages.  DEFAULT_CONTENT_ID is used when the
 * document has no content_id (may be NULL).  Returns NULL on error.
 */
struct ss_products *ss_products_parse(const char *data, size_t len,
				      const char *name,
				      const char *default_content_id,
				      struct ss_error *err);
void ss_products_free(struct ss_products *p);

const char *ss_products_content_id(const struct ss_products *p);
/* The tree-relative path it was read from (NULL when parsed from memory). */
const char *ss_products_path(const struct ss_products *p);

/* Number of items, and the I-th one (borrowed), in document order. */
size_t ss_products_count(const struct ss_products *p);
const struct ss_item *ss_products_item(const struct ss_products *p, size_t i);

/*
 * Checks every path in the document with ss_path_check.  Returns SS_OK or
 * SS_FATAL naming the first unsafe path and its item.
 */
int ss_products_check_paths(const struct ss_products *p, struct ss_error *err);

/*
 * Checks that the index entry that named this file lists exactly its
 * products.  Returns SS_OK (also when it was not read through an index) or
 * SS_INTEGRITY naming the first product listed on one side only.
 */
int ss_products_check_index(const struct ss_products *p, struct ss_error *err);

/* Serialisation flags. */
#define SS_WRITE_CONDENSE 0x1  /* move values shared by all children up a level */

/*
 * Serialises deterministically: sorted keys, one-space indentation, a
 * trailing newline.  Returns a malloc'd string (its length in *LEN when LEN
 * is not NULL), or NULL when out of memory.
 */
char *ss_products_dump(const struct ss_products *p, int flags, size_t *len);

/* True when the two documents hold the same flattened items with the same
 * values (so a condensed and an expanded form compare equal). */
int ss_products_same(const struct ss_products *a, const struct ss_products *b);

/* Names of the item's place in its tree (borrowed). */
const char *ss_item_content_id(const struct ss_item *it);
const char *ss_item_product(const struct ss_item *it);
const char *ss_item_version(const struct ss_item *it);
const char *ss_item_name(const struct ss_item *it);
const struct ss_products *ss_item_products(const struct ss_item *it);

/*
 * Looks KEY up in the flattened item.  Strings are returned as they are
 * (borrowed); numbers, booleans (True/False) and null (None) are formatted
 * into BUF the way the upstream Python tools print them; lists and objects
 * as compact JSON (truncated to BUFSZ).  Returns NULL when the key is
 * absent.
 */
const char *ss_item_get(const struct ss_item *it, const char *key, char *buf,
			size_t bufsz);

/* The string value of KEY (borrowed), or NULL when absent or not a string. */
const char *ss_item_str(const struct ss_item *it, const char *key);

/* Integer value of KEY (e.g. "size"), or -1 when absent or not a number. */
long long ss_item_get_int(const struct ss_item *it, const char *key);

/*
 * The flattened item as a compact JSON object with sorted keys, values of
 * their real JSON types.  Each (EXTRA[2i], EXTRA[2i+1]) pair of the
 * NULL-terminated EXTRA list (may be NULL) adds a string field.  Returns a
 * malloc'd string, or NULL when out of memory.
 */
char *ss_item_json(const struct ss_item *it, const char *const *extra);

/* ---- Writing trees -------------------------------------------------------- */

struct ss_subset;        /* a products document being built from chosen items */
struct ss_index_writer;  /* an index:1.0 document being built */

/*
 * A new, empty products document with BASE's top-level fields (content_id,
 * datatype, _aliases, ...).  BASE must outlive it.  NULL when out of memory.
 */
struct ss_subset *ss_subset_new(const struct ss_products *base);
void ss_subset_free(struct ss_subset *s);
/* Adds IT (from BASE or another document) with its product's and version's
 * own fields.  Adding an item twice is a no-op.  Returns SS_OK or SS_FATAL. */
int ss_subset_add(struct ss_subset *s, const struct ss_item *it);
size_t ss_subset_count(const struct ss_subset *s);
/* Deterministic serialisation, as ss_products_dump. */
char *ss_subset_dump(const struct ss_subset *s, size_t *len);

struct ss_index_writer *ss_index_new(void);
void ss_index_free(struct ss_index_writer *w);
/* Lists S, to be written at tree-relative PATH, under its content id; the
 * entry keeps the fields of the source's index entry.  SS_OK or SS_FATAL. */
int ss_index_add(struct ss_index_writer *w, const struct ss_subset *s, const char *path);
char *ss_index_dump(const struct ss_index_writer *w, size_t *len);

/* ---- Filters ------------------------------------------------------------- */

struct ss_filter;  /* several KEY op VALUE expressions, ANDed */

/*
 * Parses N expressions of the form KEY=V, KEY!=V, KEY~RE, KEY!~RE (KEY is
 * [A-Za-z0-9_|-]+; regexes are Python-style, searched unanchored).  N may
 * be 0 (matches everything).  Returns NULL with SS_USAGE and a message
 * naming the bad expression.
 */
struct ss_filter *ss_filter_parse(const char *const *exprs, int n,
				  struct ss_error *err);
void ss_filter_free(struct ss_filter *f);

/* True when IT satisfies every expression (a missing key is ""). */
int ss_filter_match(const struct ss_filter *f, const struct ss_item *it);

/* ---- Trees (an index and the products files it names) -------------------- */

struct ss_tree;

/*
 * Loads SOURCE: a tree root (directory or URL; streams/v1/index.json is
 * read, or index.sjson when there is no index.json), or a direct path or
 * URL of an index (nested indexes are followed) or of a products file.
 * Every products file named by the index is loaded.  Returns NULL on error
 * (SS_FATAL, or SS_TEMPFAIL for network trouble).
 */
struct ss_tree *ss_tree_load(const char *source, struct ss_error *err);

/*
 * The same, fetching with FO (may be NULL); with a verifier V, every
 * document must be clearsigned and verify (a tree root starts at
 * streams/v1/index.sjson).  Returns NULL with
 * SS_INTEGRITY when a signature is missing or bad.
 */
struct ss_tree *ss_tree_load_ex(const char *source, struct ss_verifier *v,
				const struct ss_fetch_opts *fo, struct ss_error *err);
void ss_tree_free(struct ss_tree *t);

/* The root every item path is relative to (a directory or URL, borrowed). */
const char *ss_tree_root(const struct ss_tree *t);
/* The root ss_tree_load(SOURCE) reads item paths against, without reading
 * anything: SOURCE itself, or where SOURCE names a document, what precedes
 * its streams/v1/ (else its directory).  Malloc'd; NULL when out of memory. */
char *ss_tree_source_root(const char *source);

/*
 * The newest "updated" date the tree's documents state (the index, its
 * entries, the products files), in seconds since the epoch; -1 when none
 * states one.  Dates are upstream's RFC 2822 ("Wed, 20 Mar 2013 17:56:57
 * +0000") or ISO 8601; ss_date_parse reads one (-1 when it cannot).
 */
long long ss_tree_updated(const struct ss_tree *t);
long long ss_date_parse(const char *s);

/* The newest version name of the tree's items that is a date
 * ("20240423", "20121026.1", "20230424_07:42"), in seconds since the
 * epoch (UTC; midnight when no time is given); -1 when none is: what
 * upstream last published when its documents state no "updated". */
long long ss_tree_version_date(const struct ss_tree *t);

/* Products files of the tree, in index order. */
size_t ss_tree_nproducts(const struct ss_tree *t);
const struct ss_products *ss_tree_products(const struct ss_tree *t, size_t i);

/*
 * The documents read (indexes and products files), in reading order: the
 * I-th one's tree-relative path is returned, its bytes as served in *DATA,
 * *LEN (borrowed).  NULL past the end.
 */
size_t ss_tree_ndocs(const struct ss_tree *t);
const char *ss_tree_doc(const struct ss_tree *t, size_t i, const char **data, size_t *len);

/* ---- Selection ----------------------------------------------------------- */

/* Byte-wise comparison of version names (the simplestreams order). */
int ss_version_cmp(const char *a, const char *b);

struct ss_selection {
	const struct ss_item **items;  /* borrowed from the tree */
	size_t count;
};

/*
 * Selects the items of T matching F (NULL: all), ordered by content id,
 * product, version newest first, item name.  With MAX > 0 only the MAX
 * newest versions of each product that have a matching item are kept.
 * Fills SEL (release with ss_selection_free).  Returns SS_OK or SS_FATAL
 * when out of memory.
 */
int ss_select(const struct ss_tree *t, const struct ss_filter *f, int max,
	      struct ss_selection *sel, struct ss_error *err);
void ss_selection_free(struct ss_selection *sel);

/* ---- Hashing ------------------------------------------------------------- */

#define SS_HASH_SHA256 0x1
#define SS_HASH_SHA512 0x2
#define SS_HASH_MD5    0x4

struct ss_digest {
	long long size;
	int kinds;          /* which of the hex strings below are set */
	char sha256[65];
	char sha512[129];
	char md5[33];
};

struct ss_hasher;  /* several hashes fed by one pass over the data */

/* A hasher computing the KINDS (SS_HASH_* bits); NULL when out of memory. */
struct ss_hasher *ss_hasher_new(int kinds);
/* Starts over (size 0).  Returns SS_OK or SS_FATAL. */
int ss_hasher_reset(struct ss_hasher *h);
void ss_hasher_update(struct ss_hasher *h, const void *data, size_t len);
void ss_hasher_final(struct ss_hasher *h, struct ss_digest *out);
void ss_hasher_free(struct ss_hasher *h);

/* Hashes a whole file in one read pass.  Returns SS_OK or SS_FATAL. */
int ss_hash_file(const char *path, int kinds, struct ss_digest *out, struct ss_error *err);

/* The SS_HASH_* kinds the item gives. */
int ss_item_hash_kinds(const struct ss_item *it);

/*
 * Checks a digest against the item's size (when given) and every hash it
 * gives.  Returns SS_OK, or SS_INTEGRITY naming the path, what was found
 * and what was expected.
 */
int ss_item_check(const struct ss_item *it, const struct ss_digest *d, struct ss_error *err);

/* ---- Mirroring ------------------------------------------------------------ */

enum ss_mirror_event_type {
	SS_EV_ADD,       /* an item will be / was added (path, size) */
	SS_EV_REUSE,     /* an item was taken from a file already in the tree */
	SS_EV_REMOVE,    /* a file will be / was removed (path, size or -1) */
	SS_EV_FAIL,      /* an item failed (path, msg); the run goes on */
	SS_EV_WARN,      /* something worth telling (msg) */
	SS_EV_PROGRESS,  /* transfer progress (bytes, done, total) */
};

struct ss_mirror_event {
	enum ss_mirror_event_type type;
	const char *path;
	long long size;
	const char *msg;
	long long bytes, bytes_total;  /* progress: received, and the sizes to fetch */
	size_t done, total;            /* progress: files finished, to fetch */
};

struct ss_catalogue_opts;

struct ss_mirror_opts {
	const char *source;               /* tree root, index or products URL/path */
	const char *target;               /* local directory */
	const struct ss_filter *filter;   /* NULL: every item */
	int max;                          /* newest N versions per product, 0: all */
	int keep;                         /* keep versions gone upstream while fewer than MAX */
	const char *keyring;              /* verify every document against it */
	const char *sign_key;             /* sign TARGET's own view (index.sjson, products
					   * .sjson) with this secret key of $GNUPGHOME;
					   * upstream's signed documents, kept verbatim
					   * by a whole mirror, stay as they are */
	int dry_run;                      /* plan only: events, no change */
	int no_items;                     /* metadata only */
	int check_existing;               /* re-hash files already in the tree */
	int jobs, retries;
	long timeout;                     /* seconds: connect and stall limit */
	long max_time;                    /* seconds the whole run may take, 0: no limit */
	long long limit_rate;             /* bytes/s, 0: unlimited */
	long long max_item_size;          /* bytes an item without a size may have; 0: such items are
					   * refused before any transfer (an endless body would fill the disk) */
	const char *ca_file;
	const char *const *mirrors;       /* fallback roots for items */
	int nmirrors;
	long long grace;                  /* seconds a dropped file stays on disk */
	int no_history;                   /* do not record TARGET's metadata in git */
	int delete_excluded;              /* products of TARGET the filters do not select go too
					   * (after the grace period); 0: they stay, listed as they are */
	long long max_delete;             /* a run that would delete more files deletes none
					   * (SS_PARTIAL); 0: no limit */
	/* Not NULL: after a run that got through, TARGET/index.html (the
	 * catalogue page, see ss_catalogue_write) from the items the run
	 * loaded, its status block from CATALOGUE->status (source, filters) and
	 * the run (last run, result, items, the files waiting out their grace
	 * period).  When the source said nothing changed only the status block
	 * is rewritten.  A page not written is a warning (SS_PARTIAL). */
	const struct ss_catalogue_opts *catalogue;
	void (*event)(void *ud, const struct ss_mirror_event *ev);
	void *ud;
};

struct ss_mirror_stats {
	size_t items;            /* items published */
	size_t added, reused, failed, removed;
	long long bytes_added;   /* size of the items added */
	long long bytes_fetched; /* bytes received from the network */
	long long bytes_removed;
	int metadata_written;    /* 1 when an index or products file changed */
	int verbatim;            /* 1 when the upstream documents were kept as they are */
	double seconds;
	long long updated;       /* the source's newest "updated" date (ss_tree_updated), or -1 */
	/* where the SECONDS went: starting and reading the source's documents,
	 * planning, fetching and placing the items, syncing them to disk,
	 * building and writing the documents (and deleting what expired), the
	 * catalogue page, the history record */
	struct ss_mirror_phases {
		double load, plan, fetch, sync, documents, page, history;
	} phases;
};

/* The files of the mirror at TARGET waiting out their grace period: CB (may
 * be NULL) hears each with the time it became unreferenced.  Returns how
 * many (0 when TARGET has no state). */
int ss_mirror_pending(const char *target, void (*cb)(void *ud, const char *path, long long since), void *ud);

/* When the last run of ss_mirror() into the local TARGET that returned
 * SS_OK ended (no-op runs included; TARGET/.sstream/last-success), in
 * seconds since the epoch; -1 when none recorded it. */
long long ss_mirror_last_success(const char *target);

/*
 * Mirrors O->source into O->target (FORMAT.md section 9; see README).
 * Returns SS_OK; SS_PARTIAL when some items failed (the tree lists only
 * what it has); SS_FATAL or SS_INTEGRITY (bad signature) with the target
 * untouched; SS_TEMPFAIL for network trouble or when another run holds the
 * target's lock.  STATS is filled in every case.
 */
int ss_mirror(const struct ss_mirror_opts *o, struct ss_mirror_stats *stats, struct ss_error *err);

/* ---- Object storage (S3) ------------------------------------------------ */

enum ss_s3_addressing { SS_S3_AUTO, SS_S3_PATH, SS_S3_VHOST };

struct ss_s3_opts {
	const char *target;       /* s3://BUCKET[/PREFIX] */
	const char *endpoint;     /* NULL: $AWS_ENDPOINT_URL, else AWS for the region */
	const char *region;       /* NULL: $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1 */
	const char *profile;      /* credentials profile when the environment has no
				     keys; NULL: $AWS_PROFILE, else "default" */
	int addressing;           /* enum ss_s3_addressing; AUTO: path-style with an
				     explicit endpoint, virtual-host on AWS */
	const char *acl;          /* canned ACL of every object written, NULL: none */
	const char *ca_file;
	long timeout;             /* connect timeout and stall limit, s (0: 30) */
	int retries;              /* retries after 5xx, resets, timeouts */
	long long part_size;      /* larger items go by multipart upload in parts of
				     this size (0: 64 MiB) */
	long long grace;          /* seconds an object no longer listed stays */
	long long lock_ttl;       /* seconds a lock is valid unless renewed (0: 1 h) */
	time_t deadline;          /* wall-clock end of the run (--max-time): no request
				     is started or retried after it; 0: none */
	int dry_run;              /* report what would change, write nothing */
	int jobs;                 /* parallel item uploads (0: 4) */
	int check_items;          /* hash each item before it is put, against every
				     hash its stream gives (a tree no mirror run
				     checked); a mismatch is SS_INTEGRITY */
	/* Called with a lock held, from the thread that uploads (never two
	 * calls at once). */
	void (*event)(void *ud, const struct ss_mirror_event *ev);
	void *ud;
};

struct ss_s3_stats {
	size_t uploaded, kept, deleted;  /* objects put, already there, deleted */
	long long bytes_uploaded, bytes_deleted;
	size_t requests;                 /* HTTP requests made, all kinds */
};

struct ss_s3;  /* a bucket prefix, with credentials */

/*
 * Opens O->target: parses it, resolves endpoint, region and credentials
 * (environment, then the profile in $AWS_SHARED_CREDENTIALS_FILE or
 * ~/.aws/credentials).  Makes no request.  Returns NULL with SS_USAGE (bad
 * target) or SS_FATAL (no credentials).  O must outlive the handle.
 */
struct ss_s3 *ss_s3_open(const struct ss_s3_opts *o, struct ss_error *err);
void ss_s3_close(struct ss_s3 *s);

/* "s3://bucket/prefix" as given, and a file-name-safe name for it
 * (endpoint host, bucket and prefix), both borrowed. */
const char *ss_s3_url(const struct ss_s3 *s);
const char *ss_s3_name(const struct ss_s3 *s);

/*
 * Takes the prefix's lock object (PREFIX/.sstream/lock, created with
 * If-None-Match: *) for OWNER; an expired lock is replaced.  Returns
 * SS_OK; SS_TEMPFAIL naming the holder and expiry when another run holds
 * it, or for network and server trouble; SS_FATAL for 4xx (credentials,
 * missing bucket; the message carries the S3 error code).
 */
int ss_s3_lock(struct ss_s3 *s, const char *owner, struct ss_error *err);
/* Releases it when it is still ours.  SS_OK or the error. */
int ss_s3_unlock(struct ss_s3 *s, struct ss_error *err);

/*
 * Publishes the local tree TREE (a directory holding streams/v1/ and the
 * items) under the prefix: the items the documents name that the bucket
 * lacks (each PUT carries its sha256, so the server refuses other bytes;
 * multipart above the part size), then the products files, then the
 * indexes, each in one PUT; objects no document names any more are
 * deleted once they have been unnamed for the grace period.  State (what
 * was sent, what is going) lives in PREFIX/.sstream/state.  Events:
 * SS_EV_ADD per object put, SS_EV_REMOVE per object deleted.  Returns
 * SS_OK; SS_FATAL / SS_TEMPFAIL with the bucket still consistent (no
 * document is put once an item failed); SS_INTEGRITY when a file does not
 * match its hash (nothing of the new documents is put then).  STATS
 * (may be NULL) is filled in every case.
 */
int ss_s3_sync(struct ss_s3 *s, const char *tree, struct ss_s3_stats *stats, struct ss_error *err);

/*
 * ss_s3_sync of a TREE that holds only the documents (a mirror run with
 * no_items), the items coming from SOURCE (as given to ss_mirror: a root
 * or a document under it, see ss_tree_source_root).  From an http(s)://
 * SOURCE each item goes straight into the bucket with no local copy: at
 * most -j x the part size in memory, the size and every hash the item
 * gives checked before its single PUT goes or its multipart upload is
 * completed (SS_INTEGRITY otherwise, with nothing stored).  From a
 * directory (file://DIR too) each item is hashed (every hash) before it
 * is put.  Every item must have a size (SS_FATAL naming it otherwise,
 * before anything is put); one with no sha256 is signed with that of the
 * bytes read.  Returns and STATS as ss_s3_sync.
 */
int ss_s3_sync_from(struct ss_s3 *s, const char *tree, const char *source, struct ss_s3_stats *stats,
		    struct ss_error *err);

/* Number of expressions in a filter (0 for NULL); the key and the text of
 * expression I (borrowed). */
int ss_filter_count(const struct ss_filter *f);
const char *ss_filter_key(const struct ss_filter *f, int i);
const char *ss_filter_text(const struct ss_filter *f, int i);

/* ---- Verifying ------------------------------------------------------------ */

enum ss_verify_status { SS_V_OK, SS_V_FAIL, SS_V_ORPHAN, SS_V_UNKNOWN };

struct ss_verify_result {
	enum ss_verify_status status;
	const char *path;     /* tree-relative, or the file given */
	const char *reason;   /* why it failed; for --files OK, the item's path */
};

struct ss_verify_opts {
	const char *source;   /* tree root, index or products file: directory or URL */
	const char *keyring;  /* every document must verify against it */
	const char *ca_file;
	long timeout;
	int orphans;          /* report files nothing references (local trees) */
	int deep;             /* remote: stream every file through its hashes */
	int jobs;             /* threads, 0: one per core */
	void (*result)(void *ud, const struct ss_verify_result *r);
	void *ud;
};

struct ss_verify_stats {
	size_t files, ok, failed, orphans, unknown;
	long long bytes;      /* bytes hashed */
	double seconds;
};

/*
 * Checks a tree: documents (and signatures, with a keyring), index against
 * products, every item file's size and hashes, LXD/Incus combined
 * fingerprints and metadata/root pairing, delta bases, orphans.  Results
 * go to O->result in path order.  Returns SS_OK; SS_PARTIAL (orphans
 * only); SS_INTEGRITY (any failure); SS_FATAL or SS_TEMPFAIL (the tree
 * cannot be read).
 */
int ss_verify_tree(const struct ss_verify_opts *o, struct ss_verify_stats *st, struct ss_error *err);

/*
 * Checks downloaded FILES against the tree at O->source: each is matched to
 * an item by sha256, else by path or name.  Returns SS_OK, SS_PARTIAL (some
 * unknown), SS_INTEGRITY (some failed) or an error loading the tree.
 */
int ss_verify_files(const struct ss_verify_opts *o, const char *const *files, int n,
		    struct ss_verify_stats *st, struct ss_error *err);

/* The LXD fingerprint: sha256 of META's bytes then ROOT's (NULL for a
 * unified image).  OUT gets 64 hex digits.  SS_OK or SS_FATAL. */
int ss_image_fingerprint(const char *meta, const char *root, char out[65], struct ss_error *err);

/* ---- LXD image files ----------------------------------------------------- */

struct ss_image_meta;  /* an image's metadata.yaml */

/*
 * Reads metadata.yaml out of the tarball PATH (any compression), without
 * unpacking it.  When IS_UNIFIED is not NULL the whole archive is scanned
 * and *IS_UNIFIED tells whether it also holds rootfs/.  Returns NULL with
 * SS_FATAL naming the file and the missing or bad field.
 */
struct ss_image_meta *ss_image_meta_read(const char *path, int *is_unified, struct ss_error *err);
void ss_image_meta_free(struct ss_image_meta *m);
const char *ss_image_meta_architecture(const struct ss_image_meta *m);
long long ss_image_meta_creation_date(const struct ss_image_meta *m);
long long ss_image_meta_expiry_date(const struct ss_image_meta *m);   /* 0: none */
/* A value of the properties map (borrowed), or NULL. */
const char *ss_image_meta_property(const struct ss_image_meta *m, const char *key);

enum ss_root_kind { SS_ROOT_UNKNOWN, SS_ROOT_SQUASHFS, SS_ROOT_QCOW2, SS_ROOT_TARBALL };

/* What an image root file is, by its content; SS_ROOT_UNKNOWN with ERR set. */
int ss_image_root_kind(const char *path, struct ss_error *err);

struct ss_build_opts {
	const char *rootfs;       /* directory: the image's root filesystem */
	const char *metadata;     /* metadata.yaml */
	const char *templates;    /* directory of templates, or NULL */
	const char *outdir;
	const char *compression;  /* xz (default), zstd, gzip, none */
	int level;                /* compression level, 0: the default */
	int unified;              /* one tarball instead of metadata + rootfs */
	int keep_owners;          /* keep uid/gid instead of 0 */
	int squashfs;             /* split: OUTDIR/rootfs.squashfs (libsquashfs) */
	/* called with a one-line message for each entry left out (a socket in
	 * a tarball), or NULL */
	void (*warn)(void *ctx, const char *msg);
	void *warn_ctx;
};

/*
 * Builds an image from a directory, reproducibly (sorted entries, owners 0,
 * mtimes clamped to $SOURCE_DATE_EPOCH when set): OUTDIR/meta.tar.EXT and
 * OUTDIR/rootfs.tar.EXT (split, the filesystem at the rootfs tarball's
 * root; OUTDIR/rootfs.squashfs with SQUASHFS), or OUTDIR/image.tar.EXT
 * (unified, rootfs/ inside).  The paths go
 * to META_OUT and ROOT_OUT ("" when unified), the fingerprint to FP.
 * Returns SS_OK, SS_USAGE, SS_FATAL, or SS_PARTIAL when a file of the tree
 * changed (shrank, grew, was modified or removed) while it was packed, as
 * GNU tar's exit 1; on any failure nothing is left behind (no tarball, no
 * temporary file, no output directory this call created).
 */
int ss_image_build(const struct ss_build_opts *o, char *meta_out, char *root_out, size_t outsz,
		   char fp[65], struct ss_error *err);

/* ---- Publishing -------------------------------------------------------------- */

/* How the publish calls write (NULL: the defaults, all off). */
struct ss_publish_opts {
	const char *sign_key;  /* also write clearsigned .sjson files, the signed index
				* naming the signed products (a secret key of $GNUPGHOME);
				* ss_tree_signer gives the key a tree remembers */
	int delta;             /* add: a squashfs.vcdiff (xdelta3) from the product's
				* previous squashfs, with delta_base */
	int dry_run;           /* add, remove, import, prune (or its DRY_RUN):
				* the same results and callbacks as a real run,
				* nothing written anywhere (no lock, no .sstream/;
				* add makes no delta) */
	int all_versions;      /* remove: an alias may drop several versions */
	/* Not NULL: add, remove and prune that change the tree rewrite its
	 * catalogue page TREE/index.html (ss_catalogue_write) from the products
	 * they wrote, not read back; a page not written makes the result
	 * SS_PARTIAL (the change stands), with the reason in ERR. */
	const struct ss_catalogue_opts *catalogue;
};

/*
 * Adds an image to the LXD/Incus tree TREE (created when missing): FILES is
 * one unified tarball, or a metadata tarball and a root file (squashfs,
 * rootfs tarball or qcow2 VM disk; ss_publish_add_image takes several).  The files are copied under images/
 * with content-derived names, and streams/v1/images.json and index.json
 * are rewritten atomically.  ALIASES are added to the default
 * {os}/{release}/{variant}.  The fingerprint goes to FP.  *CHANGED is 0
 * when the tree already held the image.  Returns SS_OK, SS_FATAL (bad
 * image, the target untouched) or SS_TEMPFAIL (the tree's lock is held).
 */
int ss_publish_add(const char *tree, const char *const *files, int nfiles,
		   const char *const *aliases, int naliases, const struct ss_publish_opts *po,
		   char fp[65], int *changed, struct ss_error *err);

/*
 * The same with any number of roots: FILES is one unified tarball, or a
 * metadata tarball and up to three root files, one of each kind (squashfs,
 * rootfs tarball, qcow2 disk), in any order.  They become one version
 * (images.linuxcontainers.org's layout): one metadata item with a
 * combined_*_sha256 field for every root.  A root whose metadata has the
 * same sha256 as the version's joins it; a version that holds different
 * content under a name is refused (SS_FATAL, the tree untouched).  FPS
 * gets the fingerprint of each root in the order given (a unified
 * image's: one), *NFPS their number.
 */
int ss_publish_add_image(const char *tree, const char *const *files, int nfiles, const char *const *aliases,
			 int naliases, const struct ss_publish_opts *po, char fps[][65], int *nfps, int *changed,
			 struct ss_error *err);

/*
 * Removes from TREE's streams the image whose fingerprint starts with WHAT,
 * or every image of the product carrying the alias WHAT.  *REMOVED counts
 * the versions removed (0: nothing matched, SS_FATAL).  Files stay until a
 * prune.
 */
int ss_publish_remove(const char *tree, const char *what, const struct ss_publish_opts *po,
		      int *removed, struct ss_error *err);

/*
 * Keeps the KEEP newest versions of each product of TREE (0: all) and
 * deletes files under images/ that nothing references once they have been
 * unreferenced for GRACE seconds (clients cache indexes), with the
 * directories they leave empty.  CB hears of each version ("version",
 * "product/version") and file ("file", path) removed - or, with DRY_RUN,
 * that would be, and nothing changes.  SS_OK, SS_FATAL or SS_TEMPFAIL.
 */
int ss_publish_prune(const char *tree, int keep, long long grace, int dry_run,
		     const struct ss_publish_opts *po,
		     void (*cb)(void *ud, const char *what, const char *path), void *ud,
		     struct ss_error *err);

/*
 * Turns ITEMS (a JSON array of flat item records: content_id,
 * product_name, version_name, item_name, path, size, sha256, ...) into a
 * products file per content id (streams/v1/<content_id>.json, condensed)
 * and the index, keeping the index's other entries.  Every path must be
 * safe.  Returns SS_OK or SS_FATAL naming the bad record.
 */
int ss_publish_import(const char *tree, const char *items, const struct ss_publish_opts *po,
		      int *changed, struct ss_error *err);

struct ss_image_info {
	const char *product, *version, *aliases, *fingerprint, *os, *release, *variant, *arch;
	const char *type;        /* CONTAINER or VIRTUAL-MACHINE */
	long long size;          /* bytes of all its files */
	int unified;             /* one file: lxc image import URL takes it */
	const char *release_title; /* NULL when the product has none */
};

/* Calls CB for every image TREE lists (a metadata item paired with a root
 * item, or a unified item).  Returns SS_OK or the tree's load error. */
int ss_image_list(const struct ss_tree *t, void (*cb)(void *ud, const struct ss_image_info *),
		  void *ud);

/* ---- Remote names (ubuntu:, images:, ...) ------------------------------------ */

/* An LXD remote name and the simplestreams tree behind it. */
struct ss_remote {
	const char *name;        /* "ubuntu" (written "ubuntu:" on command lines) */
	const char *url;         /* the tree root */
	const char *keyring;     /* the keyring its signed index verifies with, or NULL */
};

/* LXD's built-in image remotes (a static table, borrowed); *N gets their number. */
const struct ss_remote *ss_remotes(size_t *n);

/* True when SOURCE is written as a remote name ("ubuntu:": a trailing
 * colon, no slash) rather than a URL or a directory. */
int ss_remote_name(const char *source);

/*
 * Resolves the remote name SOURCE: *URL gets its tree root.  When VERIFY is
 * set, the remote is signed and *KEYRING is still NULL (no keyring chosen
 * by the caller), *KEYRING gets the remote's keyring, which must be
 * readable.  Returns SS_OK, SS_USAGE (no such remote) or SS_FATAL (the
 * keyring cannot be read).  The strings are borrowed.
 */
int ss_remote_resolve(const char *source, int verify, const char **url, const char **keyring,
		      struct ss_error *err);

/* ---- Direct-URL import (lxc image import URL) ------------------------------ */

/*
 * Writes TREE/.sstream/import-SERVER.conf (SERVER "nginx" or "apache"): a
 * snippet for the web server that serves TREE at BASE_URL, making
 * BASE_URL/import/ALIAS and BASE_URL/import/FINGERPRINT answer LXD's
 * direct-URL import (LXD-Image-Hash and LXD-Image-URL headers for the
 * newest unified image of the alias whose architecture comes first in the
 * client's LXD-Server-Architectures; a plain-text 404 when none fits).
 * Remembers BASE_URL so that ss_webconf_refresh() rewrites the snippet.
 * *TEXT (TEXT may be NULL) gets the snippet, which the caller frees.  CB
 * (may be NULL) hears of each alias no unified image serves and of each
 * alias or image left out because a field of it fails the strict check
 * (characters a configuration, header or URL would read as syntax); the
 * subject is the alias or the product name, printable.  Returns SS_OK,
 * SS_USAGE (unknown server, unusable URL) or SS_FATAL.
 */
int ss_webconf_write(const char *tree, const char *base_url, const char *server, char **text,
		     void (*cb)(void *ud, const char *subject, const char *why), void *ud,
		     struct ss_error *err);

/* The snippet ss_webconf_write() would write, into *TEXT (the caller
 * frees it), with the same checks and callbacks; writes nothing (webconf
 * --dry-run).  The same results. */
int ss_webconf_text(const char *tree, const char *base_url, const char *server, char **text,
		    void (*cb)(void *ud, const char *subject, const char *why), void *ud,
		    struct ss_error *err);

/* Rewrites every snippet ss_webconf_write() wrote for TREE, from its
 * current streams (nothing to do when there is none).  SS_OK or SS_FATAL. */
int ss_webconf_refresh(const char *tree, struct ss_error *err);

/* The base URL the snippets of TREE were written for (malloc'd), or NULL. */
char *ss_webconf_base_url(const char *tree);

/* ---- History (libgit2) ------------------------------------------------------- */

/*
 * Records TREE's streams/ as one commit of TREE/.sstream/history.git
 * (created when missing), authored by TOOL, its message a summary line
 * (versions and items added and removed, item count, bytes) and the
 * versions added (+) and removed (-).  No commit when nothing changed
 * (*COMMITTED 0).  Returns SS_OK or SS_FATAL (a damaged repository).
 */
int ss_history_record(const char *tree, const char *tool, int *committed, struct ss_error *err);

/* The same, NOTE (may be NULL) heading the summary, e.g. "rollback to ID". */
int ss_history_record_note(const char *tree, const char *tool, const char *note, int *committed,
			   struct ss_error *err);

/* The full commit id (40 hex digits) of record REV of TREE: SS_OK, or
 * SS_USAGE when there is no such record, SS_FATAL without a history. */
int ss_history_resolve(const char *tree, const char *rev, char id[41], struct ss_error *err);

struct ss_history_entry {
	const char *id;       /* commit id, hex */
	long long time;       /* UNIX time */
	const char *tool, *summary, *message;
};

/* The records of TREE, newest first (MAX > 0: at most MAX). */
int ss_history_log(const char *tree, int max, void (*cb)(void *ud, const struct ss_history_entry *e), void *ud,
		   struct ss_error *err);

/*
 * What changed from record REV_A to REV_B (git revisions: ids, HEAD~1, ...):
 * CB gets '+' or '-', "version" or "item", and "product version [item]".
 */
int ss_history_diff(const char *tree, const char *rev_a, const char *rev_b,
		    void (*cb)(void *ud, char sign, const char *what, const char *key), void *ud,
		    struct ss_error *err);

/*
 * Restores the streams/ files of record REV atomically (products, then
 * indexes) - only when every file it names is in TREE and verifies;
 * otherwise MISSING hears of each, and SS_FATAL.  The caller records the
 * rollback.
 */
int ss_history_rollback(const char *tree, const char *rev,
			void (*missing)(void *ud, const char *path, const char *why), void *ud,
			struct ss_error *err);
/* The same with options: PO->dry_run (PO may be NULL) checks the record
 * and calls MISSING as a real run does, and changes nothing (no lock,
 * no file written).  With PO, the record's .sjson are not reused: the
 * restored view is signed with PO->sign_key, or left unsigned without it
 * (ss_tree_signer says which); without PO they are restored as they are. */
int ss_history_rollback_ex(const char *tree, const char *rev, const struct ss_publish_opts *po,
			   void (*missing)(void *ud, const char *path, const char *why), void *ud,
			   struct ss_error *err);

/* ---- Atomic files --------------------------------------------------------- */

/*
 * Writes LEN bytes to PATH so that a reader sees either the old file or the
 * whole new one: a temporary file in the same directory, fsync, rename,
 * fsync of the directory.  Missing parent directories are created.  Returns
 * SS_OK or SS_FATAL (nothing at PATH changed).
 */
int ss_write_atomic(const char *path, const void *data, size_t len,
		    struct ss_error *err);

/* ---- Catalogue (TREE/index.html) ------------------------------------------- */

/* A file of a mirror waiting out its grace period, and when it goes. */
struct ss_catalogue_wait {
	const char *path, *until;
};

/* What a mirror tells about its last run; plain strings (any may be NULL)
 * and numbers (-1: unknown) the caller fills. */
struct ss_catalogue_status {
	const char *source;       /* the URL mirrored */
	const char *filters;      /* the filters, as written */
	const char *last_run;     /* when the last successful run ended */
	const char *result;       /* its outcome, e.g. "ok, 3 items added" */
	long long items, bytes;   /* what the mirror holds */
	const struct ss_catalogue_wait *waiting;
	size_t nwaiting;
};

struct ss_catalogue_opts {
	const char *base_url;     /* the URL the tree is served at; NULL: the
				   * webconf base URL (ss_webconf_base_url) or none */
	const char *remote;       /* remote name in the commands; NULL: "mysite" */
	const char *title;        /* NULL: "Image catalogue" */
	const struct ss_catalogue_status *status; /* NULL: no status block */
};

/*
 * The catalogue page of T: one self-contained HTML5 document (inline CSS and
 * script, nothing fetched) with a row per product, its versions and files
 * (relative links), and the commands to use the tree.  Every string from
 * the tree is escaped; the same tree and options give the same bytes.  O
 * may be NULL.  Returns a malloc'd NUL-terminated string (its length in
 * *LEN when LEN is not NULL), or NULL with SS_FATAL (out of memory).
 */
char *ss_catalogue_render(const struct ss_tree *t, const struct ss_catalogue_opts *o, size_t *len,
			  struct ss_error *err);

/*
 * Loads TREE (a directory) and writes TREE/index.html atomically from it; a
 * file already holding the same bytes is left alone (*CHANGED, when CHANGED
 * is not NULL, says whether it was written).  Returns SS_OK, SS_PARTIAL when
 * TREE/index.html is a page sstream did not write (it is never overwritten),
 * or SS_FATAL (the tree does not load, or the page cannot be written).
 */
int ss_catalogue_write(const char *tree, const struct ss_catalogue_opts *o, int *changed,
		       struct ss_error *err);

#ifdef __cplusplus
}
#endif

#endif
