/* SPDX-License-Identifier: Apache-2.0 */
/*
 * S3 object storage (internal): the pure parsers of what a bucket or the
 * user's files give us (s3parse.c: XML replies and listed keys; s3state.c:
 * the state and lock objects, ~/.aws/credentials).  The request layer and
 * what sits on it are declared in s3_client.h.
 */
#ifndef SSTREAM_S3_INTERNAL_H
#define SSTREAM_S3_INTERNAL_H

#include <stddef.h>

#include "ledger.h"

/* ---- Parsers: bytes in, struct out; no I/O (fuzzed) ---------------------- */

/* An object's ETag, without quotes: an MD5 in hex, "-N" appended for a
 * multipart upload; empty when longer or not made of letters, digits
 * and '-' (ssi_s3_etag_set).  Small: a listing holds up to 4M. */
#define SSI_S3_ETAG 48

struct ssi_s3_obj {
	char *key;
	long long size;
	char etag[SSI_S3_ETAG];
};

/* The ETag in [S, E), quotes around it dropped, into OUT (SSI_S3_ETAG
 * bytes); OUT is empty when it is not one we keep. */
void ssi_s3_etag_set(char *out, const char *s, const char *e);

struct ssi_s3_list {
	struct ssi_s3_obj *objs;
	size_t n, alloc;
	int truncated;
	char *next_token;  /* NextContinuationToken of the last page, or NULL */
};

/*
 * Appends the <Contents> of a ListObjectsV2 reply (a ListBucketResult) to
 * L and sets its truncated flag and continuation token.  Returns 0, or -1
 * when XML is not a ListBucketResult, an entry has no key or a bad size,
 * or memory ran out.
 */
int ssi_s3_parse_list(const char *xml, size_t len, struct ssi_s3_list *l);
void ssi_s3_list_free(struct ssi_s3_list *l);
/* The entry for KEY after ssi_s3_list_sort, or NULL. */
void ssi_s3_list_sort(struct ssi_s3_list *l);
const struct ssi_s3_obj *ssi_s3_list_find(const struct ssi_s3_list *l, const char *key);

/*
 * The part of KEY below PREFIX (which is empty or ends in '/'), when KEY is
 * strictly below it and that part is a plain relative path: no empty, '.'
 * or '..' segment, no leading '/', no control character or DEL.  NULL
 * otherwise: such a key is never read, written or deleted (a request for
 * 'site/../victim/x' would reach another bucket).
 */
const char *ssi_s3_key_rel(const char *prefix, const char *key);

/* A decimal number in [S, E) (about 2^53 at most, no sign) into *OUT: 0, or -1
 * when empty or not a plain decimal. */
int ssi_s3_parse_num(const char *s, const char *e, long long *out);

/* Code and Message of an <Error> reply into CODE and MSG (empty when
 * absent; truncated to their sizes; control characters replaced).
 * Returns 0 when an <Error> element was found, -1 otherwise. */
int ssi_s3_parse_error(const char *xml, size_t len, char *code, size_t codesz, char *msg,
		       size_t msgsz);

/* The UploadId of an InitiateMultipartUploadResult (malloc'd), or NULL. */
char *ssi_s3_parse_upload_id(const char *xml, size_t len);
/* The ETag of a CompleteMultipartUploadResult into OUT (SSI_S3_ETAG
 * bytes, ssi_s3_etag_set): 0, or -1 when there is none. */
int ssi_s3_parse_complete_etag(const char *xml, size_t len, char *out);

/*
 * The state object a mirror keeps in the bucket: what it uploaded (key,
 * sha256, size) and when each object no longer listed was first seen
 * unlisted (for the grace period, a ledger: ledger.h).  Text, one entry
 * per line:
 *   o SHA256 SIZE KEY
 *   e ETAG               (the ETag the store gave the object of the line
 *                         above when it was put; older runs wrote none,
 *                         and older versions pass over such a line)
 *   P UNIXTIME KEY       (before the ledger: "d UNIXTIME KEY", still read)
 */
struct ssi_s3_sent {
	char *key;
	char sha256[65];
	long long size;
	char etag[SSI_S3_ETAG]; /* "" when not known */
};
struct ssi_s3_state {
	struct ssi_s3_sent *sent;
	size_t nsent, asent;
	struct ssi_ledger gone; /* keys, since when unlisted */
};

/* Parses DATA into ST (which starts zeroed).  Malformed lines are skipped
 * (the state is a cache: losing an entry costs an upload, not safety).
 * Returns 0, or -1 when memory ran out. */
int ssi_s3_state_parse(const char *data, size_t len, struct ssi_s3_state *st);
/* Sorted by key after this; the lookups work on sorted arrays only. */
void ssi_s3_state_sort(struct ssi_s3_state *st);
const struct ssi_s3_sent *ssi_s3_state_sent(const struct ssi_s3_state *st, const char *key);
const struct ssi_ledger_entry *ssi_s3_state_gone(const struct ssi_s3_state *st, const char *key);
/* Adds or replaces (ETAG may be NULL or empty: not known); -1 when out
 * of memory or KEY holds a newline; _gone -2 when KEY is not a path the
 * ledger keeps (ledger.h). */
int ssi_s3_state_add_sent(struct ssi_s3_state *st, const char *key, const char *sha256,
			  long long size, const char *etag);
int ssi_s3_state_add_gone(struct ssi_s3_state *st, const char *key, long long since);
/* The text form (malloc'd, length in *LEN; ST sealed first), or NULL
 * when out of memory. */
char *ssi_s3_state_dump(struct ssi_s3_state *st, size_t *len);
void ssi_s3_state_free(struct ssi_s3_state *st);

/* The lock object: "owner WHO\nexpires UNIXTIME\n".  Fills OWNER (at most
 * OWNERSZ - 1 bytes) and *EXPIRES; returns 0, or -1 when malformed. */
int ssi_s3_lock_parse(const char *data, size_t len, char *owner, size_t ownersz,
		      long long *expires);

/*
 * The keys of PROFILE in an AWS shared credentials file
 * (~/.aws/credentials, INI): aws_access_key_id, aws_secret_access_key,
 * aws_session_token; each found one is malloc'd into its pointer (which
 * may be NULL to skip it).  Returns 0 when the profile exists, -1 if not.
 */
int ssi_s3_parse_credentials(const char *data, size_t len, const char *profile, char **ak,
			     char **sk, char **token);

#endif
