/* SPDX-License-Identifier: Apache-2.0 */
/* The catalogue page: escaping of hostile trees, determinism, the status
 * block, commands, types.  With arguments it is the CLI tests' driver:
 *   test_catalogue --write TREE [--base-url URL] [--status]
 * writes TREE/index.html and prints its size and the time it took. */
#include <time.h>
#include <unistd.h>

#include "sstream.h"
#include "catalogue_internal.h"
#include "harness.h"

#define FP "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const char index_json[] =
	"{\"format\": \"index:1.0\", \"index\": {\"images\": {\"datatype\": \"image-downloads\", "
	"\"format\": \"products:1.0\", \"path\": \"streams/v1/images.json\", \"products\": [%s]}}}";

/* A tree in DIR holding the products document PRODUCTS (a JSON object
 * body) whose product names are NAMES (a JSON list body). */
static int write_tree(const char *dir, const char *names, const char *products)
{
	char path[600];
	snprintf(path, sizeof(path), "mkdir -p '%s/streams/v1'", dir);
	if (system(path) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/streams/v1/index.json", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, index_json, names);
	fclose(f);
	snprintf(path, sizeof(path), "%s/streams/v1/images.json", dir);
	if (!(f = fopen(path, "w")))
		return -1;
	fprintf(f, "{\"format\": \"products:1.0\", \"content_id\": \"images\", \"datatype\": \"image-downloads\", "
		   "\"products\": {%s}}", products);
	fclose(f);
	return 0;
}

static const char hostile_names[] = "\"<script>window.pwned=1</script>\", \"x:\\\"onmouseover=alert(1) y\"";
static const char hostile[] =
	"\"<script>window.pwned=1</script>\": {\"arch\": \"amd64\", \"os\": \"<img src=x onerror=alert(1)>\", "
	"\"release\": \"a\\u0001b\\u0085c\", \"release_title\": \"</script><script>alert(2)</script>\", "
	"\"aliases\": \"ok/1,\\\"onmouseover=alert(3)\", \"versions\": {\"20260101_00:00\": {\"items\": {"
	"\"lxd.tar.xz\": {\"ftype\": \"lxd.tar.xz\", \"path\": \"javascript:alert(4)\", \"size\": 10, "
	"\"sha256\": \"" FP "\", \"combined_squashfs_sha256\": \"" FP "\"}, "
	"\"root\": {\"ftype\": \"squashfs\", \"path\": \"images/a b/<i>.squashfs\", \"size\": 2048, "
	"\"sha256\": \"\\\"><script>alert(5)</script>\"}}}}},"
	"\"x:\\\"onmouseover=alert(1) y\": {\"arch\": \"amd64\", \"aliases\": \"x;rm -rf ~\", \"versions\": {"
	"\"1\": {\"items\": {\"disk\": {\"ftype\": \"disk-kvm.img\", \"path\": \"images/\\\"onclick=\\\"alert(6).img\", "
	"\"size\": 1}}}}}";

static char *render_dir(const char *dir, const struct ss_catalogue_opts *o, size_t *len)
{
	struct ss_error e;
	struct ss_tree *t = ss_tree_load(dir, &e);
	if (!t) {
		fprintf(stderr, "load %s: %s\n", dir, e.msg);
		return NULL;
	}
	char *html = ss_catalogue_render(t, o, len, &e);
	ss_tree_free(t);
	return html;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_hostile(void)
{
	char dir[] = "/tmp/ss-cat-XXXXXX";
	CHECK(mkdtemp(dir) && write_tree(dir, hostile_names, hostile) == 0);
	char *html = render_dir(dir, NULL, NULL);
	CHECK(html != NULL);
	if (!html)
		return;
	CHECK(count(html, "<script") == 1);             /* the page's own, nothing else */
	CHECK(count(html, "</script") == 1);
	CHECK(!strstr(html, "<img"));
	CHECK(!strstr(html, " onmouseover") && !strstr(html, "\"onmouseover"));
	CHECK(!strstr(html, "href=\"javascript:"));
	CHECK(strstr(html, "href=\"javascript%3Aalert%284%29\"") != NULL); /* relative, ':' encoded */
	CHECK(strstr(html, "href=\"images/a%20b/%3Ci%3E.squashfs\"") != NULL);
	CHECK(strstr(html, "href=\"images/%22onclick%3D%22alert%286%29.img\"") != NULL);
	CHECK(!strstr(html, "\"onclick") && !strstr(html, " onclick"));
	CHECK(strstr(html, "&lt;script&gt;window.pwned=1&lt;/script&gt;") != NULL);
	CHECK(strstr(html, "&#39;") || strstr(html, "&quot;onmouseover=alert(3)"));
	CHECK(strstr(html, "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c") != NULL); /* controls replaced */
	CHECK(strstr(html, "lxc launch mysite:ok/1") != NULL);
	CHECK(!strstr(html, "mysite:x;rm"));              /* an unsafe alias gets no command */
	CHECK(strstr(html, "<td data-l=\"Type\">VM</td>") != NULL);
	CHECK(strstr(html, "<td data-l=\"Fingerprint\" class=\"h\">0123456789ab</td>") != NULL);
	free(html);
	snprintf(dir + strlen(dir), 8, "%s", "");
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

static void test_deterministic_and_write(void)
{
	char dir[] = "/tmp/ss-cat-XXXXXX", path[600];
	CHECK(mkdtemp(dir) && write_tree(dir, hostile_names, hostile) == 0);
	size_t la = 0, lb = 0;
	char *a = render_dir(dir, NULL, &la), *b = render_dir(dir, NULL, &lb);
	CHECK(a && b && la == lb && la == strlen(a) && memcmp(a, b, la) == 0);
	struct ss_error e;
	int changed = -1;
	CHECK(ss_catalogue_write(dir, NULL, &changed, &e) == SS_OK && changed == 1);
	CHECK(ss_catalogue_write(dir, NULL, &changed, &e) == SS_OK && changed == 0);
	snprintf(path, sizeof(path), "%s/index.html", dir);
	FILE *f = fopen(path, "r");
	char *disk = calloc(1, la + 2);
	CHECK(f && disk && fread(disk, 1, la + 1, f) == la && a && memcmp(disk, a, la) == 0);
	if (f)
		fclose(f);
	free(disk);
	free(a);
	free(b);
	snprintf(path, sizeof(path), "%s/nothing", dir);
	CHECK(ss_catalogue_write(path, NULL, NULL, &e) != SS_OK && e.msg[0]);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	CHECK(system(path) == 0);
}

static void test_status_and_commands(void)
{
	char dir[] = "/tmp/ss-cat-XXXXXX", cmd[600];
	CHECK(mkdtemp(dir) && write_tree(dir, hostile_names, hostile) == 0);
	struct ss_catalogue_wait w[] = { { "images/<old>", "2026-12-02 10:00 UTC" } };
	struct ss_catalogue_status st = { "https://up.example/<x>", "arch=amd64", "2026-12-01 07:00 UTC", "ok",
					  12, 3 << 20, w, 1 };
	struct ss_catalogue_opts o = { .base_url = "https://images.example/lxd/", .remote = "site", .status = &st };
	char *html = render_dir(dir, &o, NULL);
	CHECK(html && strstr(html, "lxc remote add site https://images.example/lxd --protocol simplestreams"));
	CHECK(html && strstr(html, "<h2 id=\"st\">Mirror status</h2>"));
	CHECK(html && strstr(html, "https://up.example/&lt;x&gt;") && strstr(html, "images/&lt;old&gt;"));
	CHECK(html && strstr(html, "<dd>3.0 MiB</dd>") && strstr(html, "<dd>12</dd>"));
	free(html);
	o = (struct ss_catalogue_opts){ .base_url = "javascript:alert(1) x" };
	html = render_dir(dir, &o, NULL);
	CHECK(html && !strstr(html, "Mirror status") && !strstr(html, "javascript:alert(1) x"));
	CHECK(html && strstr(html, "lxc remote add mysite URL "));
	free(html);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

static char *mem(void (*fn)(struct ssi_hbuf *, const char *), const char *in)
{
	struct ssi_hbuf b = { 0 };
	ssi_hb_putc(&b, 0);
	b.len = 0;
	fn(&b, in);
	return b.p;
}

static void test_escapes(void)
{
	char *s = mem(ssi_html_text, "<a href='x'>&\"\x7f\x01\t\xff\xc3\xa9");
	CHECK_STR(s, "&lt;a href=&#39;x&#39;&gt;&amp;&quot;\xef\xbf\xbd\xef\xbf\xbd\t\xef\xbf\xbd\xc3\xa9");
	free(s);
	s = mem(ssi_html_href, "images/a b:c?d#e%f\xc3\xa9/~x-y_z.1");
	CHECK_STR(s, "images/a%20b%3Ac%3Fd%23e%25f%C3%A9/~x-y_z.1");
	free(s);
}

/* A file's whole content (NULL when it cannot be read). */
static char *slurp(const char *dir, const char *name)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	char *buf = NULL;
	size_t len;
	struct ss_error e;
	return ss_fetch(path, (size_t)1 << 30, &buf, &len, &e) == SS_OK ? buf : NULL;
}

/* What a mirror does with its loaded items, and with an unchanged tree:
 * the same page as from the tree read back, and a status block replaced
 * in place gives the page rendered with the new status. */
static void test_items_and_status_update(void)
{
	char dir[] = "/tmp/ss-cat-XXXXXX", cmd[600];
	CHECK(mkdtemp(dir) && write_tree(dir, hostile_names, hostile) == 0);
	struct ss_catalogue_wait w[] = { { "images/<old>", "2026-12-02 10:00 UTC" } };
	struct ss_catalogue_status a = { "https://up.example/", "os=x", "2026-12-01 07:00 UTC", "ok", 3, -1, NULL, 0 };
	struct ss_catalogue_status b = { "https://up.example/", "os=x", "2026-12-01 08:00 UTC", "partial</section>\n",
					 4, -1, w, 1 };
	struct ss_catalogue_opts o = { .title = "Mirror", .status = &b };
	struct ss_error e;
	int changed = 0;
	CHECK(ss_catalogue_write(dir, &o, NULL, &e) == SS_OK);
	char *want = slurp(dir, "index.html");
	/* from the items, in any order */
	struct ss_tree *t = ss_tree_load(dir, &e);
	const struct ss_products *p = t ? ss_tree_products(t, 0) : NULL;
	size_t n = p ? ss_products_count(p) : 0;
	const struct ss_item *items[8];
	for (size_t i = 0; i < n && i < 8; i++)
		items[n - 1 - i] = ss_products_item(p, i);
	CHECK(n == 3 && ssi_catalogue_write_items(dir, items, n, &o, &changed, &e) == SS_OK && changed == 0);
	/* rendered ahead with status A, written with B: B's page */
	o.status = &a;
	size_t plen = 0;
	char *ahead = n == 3 ? ssi_catalogue_render_items(dir, items, n, &o, &plen, &e) : NULL;
	CHECK(ahead && plen == strlen(ahead) && strstr(ahead, "07:00 UTC") && !strstr(ahead, "08:00 UTC"));
	CHECK(ss_catalogue_write(dir, &o, &changed, &e) == SS_OK && changed == 1);
	CHECK(ahead && ssi_catalogue_write_rendered(dir, ahead, plen, &b, &changed, &e) == SS_OK && changed == 1);
	char *got = slurp(dir, "index.html");
	CHECK(want && got && strcmp(want, got) == 0);
	free(got);
	CHECK(ahead && ssi_catalogue_write_rendered(dir, ahead, plen, &b, &changed, &e) == SS_OK && changed == 0);
	/* a page with no status block is refused, nothing written */
	o.status = NULL;
	char *plain = ssi_catalogue_render_items(dir, items, n, &o, &plen, &e);
	CHECK(plain && ssi_catalogue_write_rendered(dir, plain, plen, &b, &changed, &e) == SS_FATAL && changed == 0);
	CHECK((got = slurp(dir, "index.html")) && want && strcmp(want, got) == 0);
	free(got);
	free(plain);
	ss_tree_free(t);
	/* status A, then B in place: B's page */
	o.status = &a;
	CHECK(ss_catalogue_write(dir, &o, &changed, &e) == SS_OK && changed == 1);
	CHECK(ssi_catalogue_status_update(dir, &b, &changed, &e) == SS_OK && changed == 1);
	got = slurp(dir, "index.html");
	CHECK(want && got && strcmp(want, got) == 0);
	CHECK(ssi_catalogue_status_update(dir, &b, &changed, &e) == SS_OK && changed == 0);
	/* no status block to update, or not our page: the caller renders */
	CHECK(ss_catalogue_write(dir, NULL, NULL, &e) == SS_OK);
	CHECK(ssi_catalogue_status_update(dir, &b, &changed, &e) == SS_PARTIAL && changed == 0);
	snprintf(cmd, sizeof(cmd), "echo '<p>ours</p>' >'%s/index.html'", dir);
	CHECK(system(cmd) == 0);
	CHECK(ssi_catalogue_status_update(dir, &b, &changed, &e) == SS_PARTIAL);
	CHECK(ahead && ssi_catalogue_write_rendered(dir, ahead, plen, &b, &changed, &e) == SS_PARTIAL && changed == 0);
	CHECK(strstr(e.msg, "not written by sstream") != NULL);
	free(got);
	CHECK((got = slurp(dir, "index.html")) && strcmp(got, "<p>ours</p>\n") == 0);
	free(got);
	free(want);
	free(ahead);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

/* Sizes as "%.1f" would print them, also at the rounding ties. */
static void test_sizes(void)
{
	long long v[] = { 0, 1023, 1024, 1075, 1076, 1126, 1127, 1177, 1178, 52428, 1048575, 1048576, 5033164,
			  (1LL << 40) - 1, 1LL << 40, 1LL << 50, (1LL << 62) + 12345 };
	int bad = 0;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]) + 20000; i++) {
		long long x = i < sizeof(v) / sizeof(v[0]) ? v[i] : (long long)(i * 2654435761ULL % 50000000ULL);
		char want[64];
		static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
		if (x < 1024) {
			snprintf(want, sizeof(want), "%lld B", x);
		} else {
			double d = (double)x / 1024;
			int u = 0;
			while (d >= 1024 && u < 3) {
				d /= 1024;
				u++;
			}
			snprintf(want, sizeof(want), "%.1f %s", d, unit[u]);
		}
		struct ssi_hbuf b = { 0 };
		ssi_html_size(&b, x);
		if (!b.p || strcmp(b.p, want) != 0) {
			if (bad++ < 3)
				fprintf(stderr, "size %lld: %s, not %s\n", x, b.p ? b.p : "(null)", want);
		}
		free(b.p);
	}
	CHECK(bad == 0);
}

static int drive(int argc, char **argv)
{
	struct ss_catalogue_status st = { "https://upstream.example/", "arch=amd64 os~^(alpine|ubuntu)$",
					  "2026-12-01 07:00 UTC", "ok", 0, 0, NULL, 0 };
	struct ss_catalogue_opts o = { 0 };
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--base-url") == 0 && i + 1 < argc)
			o.base_url = argv[++i];
		else if (strcmp(argv[i], "--status") == 0)
			o.status = &st;
	}
	struct timespec a, b;
	struct ss_error e;
	clock_gettime(CLOCK_MONOTONIC, &a);
	int rc = ss_catalogue_write(argv[2], &o, NULL, &e);
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (rc != SS_OK) {
		fprintf(stderr, "test_catalogue: %s\n", e.msg);
		return rc;
	}
	printf("%s/index.html written in %.3f s\n", argv[2],
	       (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}

/* A page of several pieces (the real lxc-images tree, 5435 items): the
 * status block replaced in the first, the rest copied a piece at a time,
 * gives the page rendered with the new status. */
static void test_status_update_big(void)
{
	char dir[] = "/tmp/ss-catbig-XXXXXX", cmd[1200];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p '%s/streams/v1' && cp '%s' '%s/streams/v1/images.json' && printf '%%s' "
		 "'{\"format\": \"index:1.0\", \"index\": {\"images\": {\"path\": \"streams/v1/images.json\", "
		 "\"products\": []}}}' >'%s/streams/v1/index.json'",
		 dir, SHARED("real/lxc-images-20230424.json"), dir, dir);
	CHECK(system(cmd) == 0);
	struct ss_catalogue_status a = { "https://up.example/", "", "2026-12-01 07:00 UTC", "ok", 5435, -1, NULL, 0 };
	struct ss_catalogue_status b = { "https://up.example/", "", "2026-12-01 08:00 UTC", "ok", 5435, -1, NULL, 0 };
	struct ss_catalogue_opts o = { .title = "Mirror", .status = &b };
	struct ss_error e;
	int changed = 0;
	CHECK(ss_catalogue_write(dir, &o, NULL, &e) == SS_OK);
	char *want = slurp(dir, "index.html");
	CHECK(want && strlen(want) > SSI_HB_PIECE + SSI_HB_PIECE / 2);
	o.status = &a;
	CHECK(ss_catalogue_write(dir, &o, &changed, &e) == SS_OK && changed == 1);
	CHECK(ssi_catalogue_status_update(dir, &b, &changed, &e) == SS_OK && changed == 1);
	char *got = slurp(dir, "index.html");
	CHECK(want && got && strcmp(want, got) == 0);
	free(got);
	/* rendered ahead from the items with status A, written with B */
	struct ss_tree *t = ss_tree_load(dir, &e);
	const struct ss_products *p = t ? ss_tree_products(t, 0) : NULL;
	size_t n = p ? ss_products_count(p) : 0, plen = 0;
	const struct ss_item **items = calloc(n + 1, sizeof(*items));
	for (size_t i = 0; items && i < n; i++)
		items[i] = ss_products_item(p, i);
	char *ahead = n == 5435 && items ? ssi_catalogue_render_items(dir, items, n, &o, &plen, &e) : NULL;
	CHECK(ss_catalogue_write(dir, &o, &changed, &e) == SS_OK && changed == 1);
	CHECK(ahead && ssi_catalogue_write_rendered(dir, ahead, plen, &b, &changed, &e) == SS_OK && changed == 1);
	CHECK((got = slurp(dir, "index.html")) && want && strcmp(want, got) == 0);
	free(got);
	free(ahead);
	free(items);
	ss_tree_free(t);
	free(want);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "--write") == 0)
		return drive(argc, argv);
	test_escapes();
	test_hostile();
	test_deterministic_and_write();
	test_status_and_commands();
	test_items_and_status_update();
	test_status_update_big();
	test_sizes();
	printf("%d passed, %d failed\n", h_passed, h_failed);
	return h_failed ? 1 : 0;
}
