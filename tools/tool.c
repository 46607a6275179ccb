/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the sstream tools. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sstream.h"
#include "tool.h"

void tool_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

long long tool_duration(const char *s)
{
	char *end;
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	long long n = strtoll(s, &end, 10);
	if (errno == ERANGE || (*end && (end[1] || !strchr("smhd", *end))))
		return -1;
	long long mult = *end == 'm' ? 60 : *end == 'h' ? 3600 : *end == 'd' ? 86400 : 1;
	/* beyond long long is not a duration (and would overflow) */
	return n > 0x7fffffffffffffffLL / mult ? -1 : n * mult;
}

int tool_number(const char *s, long long max, long long *out)
{
	char *end;
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	long long n = strtoll(s, &end, 10);
	if (*end || errno == ERANGE || n > max)
		return -1;
	*out = n;
	return 0;
}

void tool_version(const char *prog)
{
	struct ss_versions v;
	ss_versions_get(&v);
	printf("%s %s\n", prog, v.sstream);
	printf("libcurl %s\n%s\n%s\nlibgit2 %s\n", v.curl, v.ssl, v.archive, v.git2);
	printf("jansson %s, PCRE2 %s, gpgme %s, libyaml %s\n", v.jansson, v.pcre2, v.gpgme, v.yaml);
}

static int result_rank(int rc)
{
	static const int order[] = { SS_OK, SS_PARTIAL, SS_TEMPFAIL, SS_FATAL, SS_INTEGRITY, SS_USAGE };
	for (int i = 0; i < (int)(sizeof(order) / sizeof(order[0])); i++)
		if (order[i] == rc)
			return i;
	return 3; /* an unknown code ranks as fatal */
}

int tool_result_worse(int a, int b)
{
	return result_rank(b) > result_rank(a) ? b : a;
}

const char *tool_ca_file(const char *ca_file)
{
	const char *env;
	if (ca_file)
		return ca_file;
	if ((env = getenv("SSL_CERT_FILE")) && *env)
		return env;
	if ((env = getenv("CURL_CA_BUNDLE")) && *env)
		return env;
	return NULL;
}

void tool_error(const char *prog, const struct ss_error *err)
{
	fprintf(stderr, "%s: %s\n", prog, err->msg);
	/* curl: "SSL certificate problem: ...", "server certificate verification failed" */
	if (strstr(err->msg, "certificate"))
		fprintf(stderr, "%s: hint: --ca-file FILE (or $SSL_CERT_FILE) names the CA certificates to trust\n",
			prog);
}
