/* SPDX-License-Identifier: Apache-2.0 */
/* libcurl helpers shared by the files that transfer (internal). */
#ifndef SSTREAM_CURL_INTERNAL_H
#define SSTREAM_CURL_INTERNAL_H

#include <curl/curl.h>

#define SS_USER_AGENT "sstream/0.1"

/* A transfer receiving less than this many bytes/s for the whole stall
 * limit (--timeout) is stalled: a server that trickles a few bytes a
 * second must not hold a run (and its lock) forever. */
#define SSI_STALL_BYTES 1024L

/*
 * An easy handle for URL with the options every transfer shares: http and
 * https only (redirects too), timeouts and stall limit of TIMEOUT seconds
 * (<= 0: 30), CA_FILE when not NULL, error text in EBUF (CURL_ERROR_SIZE)
 * when not NULL.  NULL when out of memory.
 */
CURL *ssi_curl_easy(const char *url, long timeout, const char *ca_file, char *ebuf);

/* The receive buffer for a body of SIZE bytes (-1: not known): 512 KiB
 * for large ones (a third less system time than curl's 16 KiB), no more
 * than the body needs for small ones.  libcurl allocates it per handle,
 * and a 512 KiB block for each of thousands of small files was fresh
 * memory each time (malloc hands the top of the heap back after each),
 * faulted in page by page: most of a 5435-file mirror's page faults. */
long ssi_curl_bufsize(long long size);

/* A share handle that keeps connections, DNS answers and TLS sessions
 * from one transfer to the next (struct ssi_conns, internal.h, is one);
 * for one thread at a time (no lock callbacks).  NULL when out of memory
 * or libcurl cannot start: the transfers then connect each time. */
CURLSH *ssi_curl_share(void);

/* A response body in memory, at most CAP bytes (OVER set when more came);
 * DATA stays NUL-terminated.  ssi_membuf_write is its CURLOPT_WRITEFUNCTION. */
struct ssi_membuf {
	char *data;
	size_t len, alloc, cap;
	int over;
};
size_t ssi_membuf_write(char *ptr, size_t size, size_t nmemb, void *ud);

/* The response headers we keep (printable, bounded; empty when absent). */
struct ssi_header {
	char etag[256];
	char last_modified[64];
	long long range_start;  /* first byte of a Content-Range, -1: none */
};

/* Takes one header line (LEN bytes, with or without CRLF) into H; a
 * status line starts a new response and clears H. */
void ssi_parse_header(const char *line, size_t len, struct ssi_header *h);

/* Network trouble worth retrying later (and exit 75), as opposed to a
 * failure that will happen again. */
int ssi_curl_transient(CURLcode c);

#endif
