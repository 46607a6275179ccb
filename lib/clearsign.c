/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OpenPGP clearsigned messages (RFC 4880 section 7): extracting the signed
 * text.  Verifying the signature is the signature module's job.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char BEGIN_MSG[] = "-----BEGIN PGP SIGNED MESSAGE-----";
static const char BEGIN_SIG[] = "-----BEGIN PGP SIGNATURE-----";

int ss_is_clearsigned(const char *data, size_t len)
{
	/* Tolerate leading blank lines, as gpg does. */
	while (len && (*data == '\n' || *data == '\r')) {
		data++;
		len--;
	}
	return len >= sizeof(BEGIN_MSG) - 1 && memcmp(data, BEGIN_MSG, sizeof(BEGIN_MSG) - 1) == 0;
}

/* Next line of [p, end): returns its length without the line ending and
 * sets *next past the ending. */
static size_t next_line(const char *p, const char *end, const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	const char *e = nl ? nl : end;
	*next = nl ? nl + 1 : end;
	if (e > p && e[-1] == '\r')
		e--;
	return (size_t)(e - p);
}

int ss_clearsign_body(const char *data, size_t len, char **out, size_t *outlen,
		      struct ss_error *err)
{
	const char *p = data, *end = data + len, *next;
	size_t n;
	/* Blank lines, the armor header line, then "Hash:" headers up to the
	 * first empty line. */
	do {
		if (p >= end)
			return ssi_err(err, SS_FATAL, "no PGP signed message header");
		n = next_line(p, end, &next);
		if (n && (n < sizeof(BEGIN_MSG) - 1 || memcmp(p, BEGIN_MSG, sizeof(BEGIN_MSG) - 1)))
			return ssi_err(err, SS_FATAL, "no PGP signed message header");
		p = next;
	} while (n == 0);
	for (;;) {
		if (p >= end)
			return ssi_err(err, SS_FATAL, "truncated PGP armor headers");
		n = next_line(p, end, &next);
		p = next;
		if (n == 0)
			break;
	}
	char *body = malloc((size_t)(end - p) + 1);
	if (!body)
		return ssi_err(err, SS_FATAL, "out of memory");
	char *o = body;
	int found_sig = 0;
	while (p < end) {
		const char *line = p;
		n = next_line(p, end, &next);
		if (n >= sizeof(BEGIN_SIG) - 1 && memcmp(line, BEGIN_SIG, sizeof(BEGIN_SIG) - 1) == 0) {
			found_sig = 1;
			break;
		}
		if (n >= 2 && line[0] == '-' && line[1] == ' ') {
			line += 2;
			n -= 2;
		}
		/* The line ending before the signature is not part of the text. */
		if (o != body)
			*o++ = '\n';
		memcpy(o, line, n);
		o += n;
		p = next;
	}
	if (!found_sig) {
		free(body);
		return ssi_err(err, SS_FATAL, "no PGP signature block");
	}
	*o = '\0';
	*out = body;
	*outlen = (size_t)(o - body);
	return SS_OK;
}
