/* SPDX-License-Identifier: Apache-2.0 */
/* LXD remote names: the mapping to simplestreams roots and keyrings. */
#include "sstream.h"
#include "harness.h"

static void test_table(void)
{
	static const struct {
		const char *name, *url;
		int signed_;
	} want[] = {
		{ "images", "https://images.linuxcontainers.org/", 0 },
		{ "ubuntu", "https://cloud-images.ubuntu.com/releases/", 1 },
		{ "ubuntu-daily", "https://cloud-images.ubuntu.com/daily/", 1 },
		{ "ubuntu-minimal", "https://cloud-images.ubuntu.com/minimal/releases/", 1 },
		{ "ubuntu-minimal-daily", "https://cloud-images.ubuntu.com/minimal/daily/", 1 },
	};
	size_t n;
	const struct ss_remote *r = ss_remotes(&n);
	CHECK(n == sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n && i < sizeof(want) / sizeof(want[0]); i++) {
		CHECK_STR(r[i].name, want[i].name);
		CHECK_STR(r[i].url, want[i].url);
		if (want[i].signed_)
			CHECK_STR(r[i].keyring, "/usr/share/keyrings/ubuntu-cloudimage-keyring.gpg");
		else
			CHECK(r[i].keyring == NULL);
	}
}

static void test_resolve(void)
{
	struct ss_error err;
	const char *url = NULL, *keyring = NULL;
	CHECK(ss_remote_name("ubuntu:") && ss_remote_name("images:"));
	CHECK(!ss_remote_name("https://x/") && !ss_remote_name("./ubuntu:") && !ss_remote_name(":") &&
	      !ss_remote_name("ubuntu"));
	/* a keyring the caller chose stays; no verification, no keyring needed */
	keyring = "/tmp/mine.gpg";
	CHECK(ss_remote_resolve("ubuntu-minimal:", 1, &url, &keyring, &err) == SS_OK);
	CHECK_STR(url, "https://cloud-images.ubuntu.com/minimal/releases/");
	CHECK_STR(keyring, "/tmp/mine.gpg");
	keyring = NULL;
	CHECK(ss_remote_resolve("ubuntu-daily:", 0, &url, &keyring, &err) == SS_OK);
	CHECK_STR(url, "https://cloud-images.ubuntu.com/daily/");
	CHECK(keyring == NULL);
	CHECK(ss_remote_resolve("images:", 1, &url, &keyring, &err) == SS_OK);
	CHECK_STR(url, "https://images.linuxcontainers.org/");
	CHECK(keyring == NULL);
	CHECK(ss_remote_resolve("nosuch:", 1, &url, &keyring, &err) == SS_USAGE);
	CHECK(strstr(err.msg, "unknown remote 'nosuch:'") != NULL);
	/* the default keyring, when it is installed; a clear error otherwise */
	int rc = ss_remote_resolve("ubuntu:", 1, &url, &keyring, &err);
	CHECK_STR(url, "https://cloud-images.ubuntu.com/releases/");
	if (rc == SS_OK)
		CHECK_STR(keyring, "/usr/share/keyrings/ubuntu-cloudimage-keyring.gpg");
	else
		CHECK(rc == SS_FATAL && strstr(err.msg, "ubuntu-cloudimage-keyring.gpg' cannot be read"));
}

TEST_MAIN(test_table, test_resolve)
