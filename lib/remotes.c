/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LXD's remote names for the public image servers, so that the tools take
 * `ubuntu:` where they take a URL.  The URLs are those of LXD's built-in
 * remotes (`lxc remote list`); Ubuntu's trees are signed by the "UEC Image
 * Automatic Signing Key", which Ubuntu ships in the ubuntu-cloudimage-keyring
 * package (Debian has no package with it).  images.linuxcontainers.org
 * serves unsigned JSON over HTTPS.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define UBUNTU_KEYRING "/usr/share/keyrings/ubuntu-cloudimage-keyring.gpg"

static const struct ss_remote remotes[] = {
	{ "images", "https://images.linuxcontainers.org/", NULL },
	{ "ubuntu", "https://cloud-images.ubuntu.com/releases/", UBUNTU_KEYRING },
	{ "ubuntu-daily", "https://cloud-images.ubuntu.com/daily/", UBUNTU_KEYRING },
	{ "ubuntu-minimal", "https://cloud-images.ubuntu.com/minimal/releases/", UBUNTU_KEYRING },
	{ "ubuntu-minimal-daily", "https://cloud-images.ubuntu.com/minimal/daily/", UBUNTU_KEYRING },
};

const struct ss_remote *ss_remotes(size_t *n)
{
	*n = sizeof(remotes) / sizeof(remotes[0]);
	return remotes;
}

int ss_remote_name(const char *source)
{
	size_t n = strlen(source);
	return n > 1 && source[n - 1] == ':' && !strchr(source, '/');
}

int ss_remote_resolve(const char *source, int verify, const char **url, const char **keyring,
		      struct ss_error *err)
{
	struct ss_error local;
	if (!err)
		err = &local;
	ss_error_clear(err);
	size_t len = strlen(source) - 1;
	const struct ss_remote *r = NULL;
	for (size_t i = 0; i < sizeof(remotes) / sizeof(remotes[0]); i++)
		if (strlen(remotes[i].name) == len && strncmp(remotes[i].name, source, len) == 0)
			r = &remotes[i];
	if (!ss_remote_name(source) || !r)
		return ssi_err(err, SS_USAGE, "unknown remote '%s' (the remotes are images:, ubuntu:, "
					      "ubuntu-daily:, ubuntu-minimal: and ubuntu-minimal-daily:)", source);
	*url = r->url;
	if (!verify || !r->keyring || *keyring)
		return SS_OK;
	if (access(r->keyring, R_OK) < 0)
		return ssi_err_sys(err, SS_FATAL, errno,
				   "remote '%s' is signed, and its keyring '%s' cannot be read (install Ubuntu's "
				   "ubuntu-cloudimage-keyring, or give --keyring FILE or --no-verify)",
				   source, r->keyring);
	*keyring = r->keyring;
	return SS_OK;
}
