/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The S3 parsers (lib/s3parse.c): what a bucket or the user's AWS files
 * hold.  The first byte picks the parser, the rest is its input.
 * Invariants: listing keys are whole strings (no NUL inside, no size below
 * zero) and a truncated listing always says where to go on; the state
 * object survives a dump and parse unchanged (ETags too, each a word of
 * letters, digits and '-', as a completed multipart upload's); a lock owner and credentials
 * hold no line break (they go into one-line messages and headers); a
 * listed key passes the key check only when it is a plain path strictly
 * below the prefix.
 */
#include <string.h>

#include "fuzz.h"
#include "s3_internal.h"

static void no_newline(const char *s)
{
	FUZZ_ASSERT(!s || (!strchr(s, '\n') && !strchr(s, '\r')));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *in = (const char *)data + 1;
	size_t n = size - 1;
	switch (data[0] % 6) {
	case 0: {
		struct ssi_s3_list l = { 0 };
		if (ssi_s3_parse_list(in, n, &l) == 0) {
			FUZZ_ASSERT(!l.truncated || l.next_token);
			for (size_t i = 0; i < l.n; i++) {
				FUZZ_ASSERT(l.objs[i].key && l.objs[i].size >= 0);
				FUZZ_ASSERT(strlen(l.objs[i].etag) < sizeof(l.objs[i].etag));
			}
			for (size_t i = 0; i < l.n; i++) {
				/* the key check: a kept key is the prefix and a plain path */
				const char *k = l.objs[i].key, *rel = ssi_s3_key_rel("site/", k);
				if (rel) {
					FUZZ_ASSERT(rel == k + 5 && *rel && *rel != '/' && !strstr(rel, "//"));
					FUZZ_ASSERT(strcmp(rel, "..") && strncmp(rel, "../", 3) && !strstr(rel, "/../"));
					FUZZ_ASSERT(strcmp(rel, ".") && strncmp(rel, "./", 2) && !strstr(rel, "/./"));
					size_t rl = strlen(rel);
					FUZZ_ASSERT(rel[rl - 1] != '/' && !(rl >= 2 && strcmp(rel + rl - 2, "/.") == 0));
					FUZZ_ASSERT(!(rl >= 3 && strcmp(rel + rl - 3, "/..") == 0));
					for (const char *c = rel; *c; c++)
						FUZZ_ASSERT((unsigned char)*c >= 0x20 && *c != 0x7f);
				}
				FUZZ_ASSERT(!ssi_s3_key_rel(k, k)); /* never the prefix itself */
			}
			ssi_s3_list_sort(&l);
			for (size_t i = 0; i < l.n; i++)
				FUZZ_ASSERT(ssi_s3_list_find(&l, l.objs[i].key));
		}
		ssi_s3_list_free(&l);
		break;
	}
	case 1: {
		char code[64], msg[256];
		ssi_s3_parse_error(in, n, code, sizeof(code), msg, sizeof(msg));
		FUZZ_ASSERT(strlen(code) < sizeof(code) && strlen(msg) < sizeof(msg));
		no_newline(code);
		no_newline(msg);
		free(ssi_s3_parse_upload_id(in, n));
		/* an ETag kept (in the state, on a line of its own) is a word */
		char etag[SSI_S3_ETAG];
		int er = ssi_s3_parse_complete_etag(in, n, etag);
		FUZZ_ASSERT(strlen(etag) < sizeof(etag) && (er == 0) == (etag[0] != '\0'));
		for (const char *p = etag; *p; p++)
			FUZZ_ASSERT((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
				    *p == '-');
		break;
	}
	case 2:
	case 3: {
		struct ssi_s3_state a = { 0 }, b = { 0 };
		FUZZ_ASSERT(ssi_s3_state_parse(in, n, &a) == 0);
		size_t la, lb;
		char *da = ssi_s3_state_dump(&a, &la);
		FUZZ_ASSERT(da);
		FUZZ_ASSERT(ssi_s3_state_parse(da, la, &b) == 0);
		char *db = ssi_s3_state_dump(&b, &lb);
		FUZZ_ASSERT(db && la == lb && memcmp(da, db, la) == 0);
		for (size_t i = 0; i < a.nsent; i++) {
			FUZZ_ASSERT(ssi_s3_state_sent(&a, a.sent[i].key) == &a.sent[i]);
			FUZZ_ASSERT(!strchr(a.sent[i].etag, ' ') && !strchr(a.sent[i].etag, '\n'));
		}
		free(da);
		free(db);
		ssi_s3_state_free(&a);
		ssi_s3_state_free(&b);
		break;
	}
	case 4: {
		char owner[64];
		long long exp = -1;
		if (ssi_s3_lock_parse(in, n, owner, sizeof(owner), &exp) == 0) {
			FUZZ_ASSERT(exp >= 0);
			for (const char *p = owner; *p; p++)
				FUZZ_ASSERT((unsigned char)*p >= 0x20);
		}
		break;
	}
	default: {
		char *ak = NULL, *sk = NULL, *tok = NULL;
		ssi_s3_parse_credentials(in, n, "default", &ak, &sk, &tok);
		no_newline(ak);
		no_newline(sk);
		no_newline(tok);
		free(ak);
		free(sk);
		free(tok);
		break;
	}
	}
	return 0;
}
