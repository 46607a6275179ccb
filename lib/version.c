/* SPDX-License-Identifier: Apache-2.0 */
/* What the tools' --version prints: our version and the libraries' as
 * loaded at run time (a distribution may update them under us). */
#include <pthread.h>
#include <stdio.h>

#include <archive.h>
#include <curl/curl.h>
#include <git2.h>
#include <gpgme.h>
#include <jansson.h>
#include <openssl/crypto.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <yaml.h>

#include "sstream.h"

#ifndef SS_VERSION_STR
#define SS_VERSION_STR "unknown"
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct ss_versions vers;
static char git2[32], pcre[64];

static void fill(void)
{
	const curl_version_info_data *c = curl_version_info(CURLVERSION_NOW);
	int maj = 0, min = 0, rev = 0;
	vers.sstream = SS_VERSION_STR;
	vers.curl = c && c->version ? c->version : "unknown";
	vers.ssl = OpenSSL_version(OPENSSL_VERSION);
	vers.archive = archive_version_details();
	git_libgit2_version(&maj, &min, &rev);
	snprintf(git2, sizeof(git2), "%d.%d.%d", maj, min, rev);
	vers.git2 = git2;
	vers.jansson = jansson_version_str();
	if (pcre2_config(PCRE2_CONFIG_VERSION, pcre) < 0)
		snprintf(pcre, sizeof(pcre), "unknown");
	vers.pcre2 = pcre;
	vers.gpgme = gpgme_check_version(NULL);
	vers.yaml = yaml_get_version_string();
	if (!vers.ssl)
		vers.ssl = "unknown";
	if (!vers.archive)
		vers.archive = "unknown";
	if (!vers.gpgme)
		vers.gpgme = "unknown";
}

void ss_versions_get(struct ss_versions *v)
{
	pthread_once(&once, fill);
	*v = vers;
}
