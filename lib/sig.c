/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OpenPGP signatures, through gpgme.  The keyring file is imported into a
 * private, temporary GnuPG home, so the user's own keyrings and trust
 * settings play no part: like gpgv --keyring, a good signature by any key
 * in the file is what counts, and an unknown, expired or revoked key, a
 * bad signature or no signature is a failure.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gpgme.h>

#include "internal.h"

struct ss_verifier {
	gpgme_ctx_t ctx;
	char home[256];
};

static pthread_once_t gpgme_once = PTHREAD_ONCE_INIT;

static void gpgme_init(void)
{
	gpgme_check_version(NULL);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void ss_verifier_free(struct ss_verifier *v)
{
	if (!v)
		return;
	if (v->ctx)
		gpgme_release(v->ctx);
	if (v->home[0])
		nftw(v->home, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(v);
}

struct ss_verifier *ss_verifier_new(const char *keyring, struct ss_error *err)
{
	pthread_once(&gpgme_once, gpgme_init);
	struct ss_verifier *v = calloc(1, sizeof(*v));
	gpgme_data_t kd = NULL;
	if (!v) {
		ssi_err(err, SS_FATAL, "out of memory");
		return NULL;
	}
	const char *tmp = getenv("TMPDIR");
	snprintf(v->home, sizeof(v->home), "%s/sstream-gpg-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(v->home)) {
		ssi_err_sys(err, SS_FATAL, errno, "cannot create a GnuPG home in '%s'", v->home);
		v->home[0] = '\0';
		goto fail;
	}
	gpgme_error_t ge = gpgme_new(&v->ctx);
	if (!ge)
		ge = gpgme_set_protocol(v->ctx, GPGME_PROTOCOL_OpenPGP);
	if (!ge)
		ge = gpgme_ctx_set_engine_info(v->ctx, GPGME_PROTOCOL_OpenPGP, NULL, v->home);
	if (ge) {
		ssi_err(err, SS_FATAL, "cannot start GnuPG: %s", gpgme_strerror(ge));
		goto fail;
	}
	ge = gpgme_data_new_from_file(&kd, keyring, 1);
	if (ge) {
		ssi_err(err, SS_FATAL, "cannot read keyring '%s': %s", keyring, gpgme_strerror(ge));
		goto fail;
	}
	ge = gpgme_op_import(v->ctx, kd);
	gpgme_import_result_t ir = ge ? NULL : gpgme_op_import_result(v->ctx);
	if (ge || !ir || ir->considered == 0 || ir->imported + ir->unchanged == 0) {
		ssi_err(err, SS_FATAL, "cannot use keyring '%s': %s", keyring,
			ge ? gpgme_strerror(ge) : "no public keys in it");
		goto fail;
	}
	gpgme_data_release(kd);
	return v;
fail:
	gpgme_data_release(kd);
	ss_verifier_free(v);
	return NULL;
}

/* Why signature S does not count, or NULL when it is good. */
static const char *sig_problem(gpgme_signature_t s, char *buf, size_t bufsz)
{
	switch (gpgme_err_code(s->status)) {
	case GPG_ERR_NO_ERROR:
		break;
	case GPG_ERR_BAD_SIGNATURE:
		return "bad signature";
	case GPG_ERR_NO_PUBKEY:
		snprintf(buf, bufsz, "signed by unknown key %s", s->fpr ? s->fpr : "?");
		return buf;
	case GPG_ERR_KEY_EXPIRED:
		return "signing key expired";
	case GPG_ERR_SIG_EXPIRED:
		return "signature expired";
	case GPG_ERR_CERT_REVOKED:
		return "signing key revoked";
	default:
		snprintf(buf, bufsz, "signature not valid: %s", gpgme_strerror(s->status));
		return buf;
	}
	if (s->summary & (GPGME_SIGSUM_KEY_EXPIRED))
		return "signing key expired";
	if (s->summary & (GPGME_SIGSUM_SIG_EXPIRED))
		return "signature expired";
	if (s->summary & (GPGME_SIGSUM_KEY_REVOKED))
		return "signing key revoked";
	if (s->summary & (GPGME_SIGSUM_RED | GPGME_SIGSUM_KEY_MISSING | GPGME_SIGSUM_BAD_POLICY |
			  GPGME_SIGSUM_SYS_ERROR))
		return "signature not valid";
	return NULL;
}

int ss_verifier_check(struct ss_verifier *v, const char *data, size_t len, const char *name,
		      char **body, size_t *bodylen, struct ss_error *err)
{
	if (!ss_is_clearsigned(data, len))
		return ssi_err(err, SS_INTEGRITY, "cannot verify '%s': not a clearsigned document", name);
	gpgme_data_t sig = NULL, plain = NULL;
	int rc = SS_INTEGRITY;
	gpgme_error_t ge = gpgme_data_new_from_mem(&sig, data, len, 0);
	if (!ge)
		ge = gpgme_data_new(&plain);
	if (ge) {
		rc = ssi_err(err, SS_FATAL, "cannot verify '%s': %s", name, gpgme_strerror(ge));
		goto out;
	}
	ge = gpgme_op_verify(v->ctx, sig, NULL, plain);
	gpgme_verify_result_t vr = gpgme_op_verify_result(v->ctx);
	if (!vr || !vr->signatures) {
		rc = ssi_err(err, SS_INTEGRITY, "cannot verify '%s': %s", name,
			     ge ? gpgme_strerror(ge) : "no signature");
		goto out;
	}
	const char *why = NULL;
	char buf[256];
	int good = 0;
	for (gpgme_signature_t s = vr->signatures; s; s = s->next) {
		const char *p = sig_problem(s, buf, sizeof(buf));
		if (!p)
			good = 1;
		else if (!why)
			why = p;
	}
	/* Every signature on the document must be good, as with gpgv. */
	if (!good || why) {
		rc = ssi_err(err, SS_INTEGRITY, "cannot verify '%s': %s", name, why ? why : "no good signature");
		goto out;
	}
	size_t n;
	char *mem = gpgme_data_release_and_get_mem(plain, &n);
	plain = NULL;
	char *out = mem ? ssi_strndup(mem, n) : NULL;
	gpgme_free(mem);
	if (!out) {
		rc = ssi_err(err, SS_FATAL, "cannot verify '%s': out of memory", name);
		goto out;
	}
	*body = out;
	*bodylen = n;
	rc = SS_OK;
out:
	gpgme_data_release(sig);
	gpgme_data_release(plain);
	return rc;
}

/* A signing context for the secret key KEYID of $GNUPGHOME, in *CTX with
 * the key in *KEY (both released by the caller, even on failure). */
static int signing_ctx(const char *keyid, gpgme_ctx_t *ctx, gpgme_key_t *key, struct ss_error *err)
{
	pthread_once(&gpgme_once, gpgme_init);
	*ctx = NULL;
	*key = NULL;
	gpgme_error_t ge = gpgme_new(ctx);
	if (!ge)
		ge = gpgme_set_protocol(*ctx, GPGME_PROTOCOL_OpenPGP);
	if (ge)
		return ssi_err(err, SS_FATAL, "cannot start GnuPG: %s", gpgme_strerror(ge));
	gpgme_set_armor(*ctx, 1);
	gpgme_set_textmode(*ctx, 1);
	if ((ge = gpgme_get_key(*ctx, keyid, key, 1)))
		return ssi_err(err, SS_FATAL, "no secret key '%s': %s", keyid,
			       gpgme_err_code(ge) == GPG_ERR_EOF ? "not in the GnuPG home ($GNUPGHOME, else ~/.gnupg)"
								 : gpgme_strerror(ge));
	if ((ge = gpgme_signers_add(*ctx, *key)))
		return ssi_err(err, SS_FATAL, "cannot sign with '%s': %s", keyid, gpgme_strerror(ge));
	return SS_OK;
}

/* DATA clearsigned in CTX (signing_ctx) into *OUT (malloc'd). */
static int sign_in(gpgme_ctx_t ctx, const char *keyid, const char *data, size_t len, char **out, size_t *outlen,
		   struct ss_error *err)
{
	gpgme_data_t plain = NULL, sig = NULL;
	gpgme_error_t ge;
	int rc = SS_FATAL;
	*out = NULL;
	if ((ge = gpgme_data_new_from_mem(&plain, data, len, 0)) || (ge = gpgme_data_new(&sig)) ||
	    (ge = gpgme_op_sign(ctx, plain, sig, GPGME_SIG_MODE_CLEAR))) {
		gpgme_err_code_t c = gpgme_err_code(ge);
		int locked = c == GPG_ERR_ENOTTY || c == GPG_ERR_NO_PIN_ENTRY || c == GPG_ERR_CANCELED ||
			     c == GPG_ERR_BAD_PASSPHRASE || c == GPG_ERR_NO_PASSPHRASE || c == GPG_ERR_TIMEOUT;
		ssi_err(err, SS_FATAL, "cannot sign with '%s': %s%s%s", keyid,
			locked ? "the agent cannot unlock the key (" : "", gpgme_strerror(ge), locked ? ")" : "");
		goto out;
	}
	size_t n;
	char *mem = gpgme_data_release_and_get_mem(sig, &n);
	sig = NULL;
	*out = mem ? ssi_strndup(mem, n) : NULL;
	gpgme_free(mem);
	if (!*out) {
		ssi_err(err, SS_FATAL, "out of memory");
		goto out;
	}
	*outlen = n;
	rc = SS_OK;
out:
	gpgme_data_release(plain);
	gpgme_data_release(sig);
	return rc;
}

int ss_clearsign(const char *keyid, const char *data, size_t len, char **out, size_t *outlen,
		 struct ss_error *err)
{
	gpgme_ctx_t ctx = NULL;
	gpgme_key_t key = NULL;
	int rc = signing_ctx(keyid, &ctx, &key, err);
	if (rc == SS_OK)
		rc = sign_in(ctx, keyid, data, len, out, outlen, err);
	if (key)
		gpgme_key_unref(key);
	if (ctx)
		gpgme_release(ctx);
	return rc;
}

int ss_signing_key(const char *keyid, char **fpr, struct ss_error *err)
{
	*fpr = NULL;
	gpgme_ctx_t ctx = NULL;
	gpgme_key_t key = NULL;
	int rc = signing_ctx(keyid, &ctx, &key, err);
	const char *f = rc == SS_OK ? (key->fpr ? key->fpr : key->subkeys ? key->subkeys->fpr : NULL) : NULL;
	if (rc == SS_OK && !f)
		rc = ssi_err(err, SS_FATAL, "no secret key '%s': it has no fingerprint", keyid);
	/* a key that is there may still not sign (a locked agent, an expired
	 * or signing-incapable key): a probe signature finds out now */
	char *probe = NULL;
	size_t plen;
	if (rc == SS_OK)
		rc = sign_in(ctx, f, "sstream signing check\n", 22, &probe, &plen, err);
	if (rc == SS_OK && !(*fpr = strdup(f)))
		rc = ssi_err(err, SS_FATAL, "out of memory");
	free(probe);
	if (key)
		gpgme_key_unref(key);
	if (ctx)
		gpgme_release(ctx);
	return rc;
}
