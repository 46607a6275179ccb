/* SPDX-License-Identifier: Apache-2.0 */
/* The products model: parsing, flattening, writing, round trips. */
#include <jansson.h>

#include "sstream.h"
#include "harness.h"
#include "model_internal.h"

static struct ss_products *load(const char *path, struct ss_error *err)
{
	char *data;
	size_t len;
	ss_error_clear(err);
	if (ss_fetch(path, SS_METADATA_CAP, &data, &len, err) != SS_OK)
		return NULL;
	struct ss_products *p = ss_products_parse(data, len, path, NULL, err);
	free(data);
	return p;
}

/* Distinct products and versions, counted through the public API. */
static void count(const struct ss_products *p, size_t *np, size_t *nv)
{
	*np = *nv = 0;
	const char *lp = NULL, *lv = NULL;
	for (size_t i = 0; i < ss_products_count(p); i++) {
		const struct ss_item *it = ss_products_item(p, i);
		if (!lp || strcmp(lp, ss_item_product(it))) {
			(*np)++;
			lv = NULL;
		}
		if (!lv || strcmp(lv, ss_item_version(it)))
			(*nv)++;
		lp = ss_item_product(it);
		lv = ss_item_version(it);
	}
}

static void test_real_counts(void)
{
	static const struct {
		const char *file;
		size_t products, versions, items;
	} real[] = {
		{ "real/lxc-images-20230424.json", 428, 1284, 5435 },
		{ "real/lxc-images-20230703.json", 232, 695, 3096 },
		{ "real/ubuntu-minimal-released-download-20231115.json", 14, 407, 2971 },
		{ "real/ubuntu-released-download-trimmed.json", 15, 23, 45 },
		{ "real/incus-chr-vm-images.json", 20, 20, 40 },
		{ "real/juju-otc-imageids.json", 2, 2, 2 },
		{ "real/juju-openstack-imagemetadata.json", 2, 2, 2 },
	};
	for (size_t i = 0; i < sizeof(real) / sizeof(real[0]); i++) {
		struct ss_error err;
		struct ss_products *p = load(SHARED(real[i].file), &err);
		CHECK(p != NULL);
		if (!p) {
			fprintf(stderr, "  %s\n", err.msg);
			continue;
		}
		size_t np, nv;
		count(p, &np, &nv);
		CHECK(np == real[i].products);
		CHECK(nv == real[i].versions);
		CHECK(ss_products_count(p) == real[i].items);
		CHECK(ss_products_check_paths(p, &err) == SS_OK);
		ss_products_free(p);
	}
}

static void test_inheritance(void)
{
	struct ss_error err;
	char buf[64];
	struct ss_products *p = load(SHARED("examples/foocloud/streams/v1/com.example.foovendor:released:download.json"), &err);
	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_STR(ss_products_content_id(p), "com.example.foovendor:released:download");
	const struct ss_item *it = ss_products_item(p, 0);
	/* product scalars reach the item, and so do the root's */
	CHECK(ss_item_get(it, "arch", buf, sizeof(buf)) != NULL);
	CHECK_STR(ss_item_get(it, "format", buf, sizeof(buf)), "products:1.0");
	CHECK_STR(ss_item_get(it, "content_id", buf, sizeof(buf)), "com.example.foovendor:released:download");
	CHECK_STR(ss_item_get(it, "product_name", buf, sizeof(buf)), ss_item_product(it));
	CHECK_STR(ss_item_get(it, "version_name", buf, sizeof(buf)), ss_item_version(it));
	CHECK_STR(ss_item_get(it, "item_name", buf, sizeof(buf)), ss_item_name(it));
	/* lists and objects are not inherited: "versions" is an object */
	CHECK(ss_item_get(it, "versions", buf, sizeof(buf)) == NULL);
	CHECK(ss_item_get(it, "products", buf, sizeof(buf)) == NULL);
	CHECK(ss_item_get(it, "no-such-key", buf, sizeof(buf)) == NULL);
	CHECK(ss_item_get_int(it, "size") > 0);
	ss_products_free(p);
}

static const struct ss_item *find(const struct ss_products *p, const char *iname)
{
	for (size_t i = 0; i < ss_products_count(p); i++)
		if (strcmp(ss_item_name(ss_products_item(p, i)), iname) == 0)
			return ss_products_item(p, i);
	return NULL;
}

static void test_aliases_and_types(void)
{
	struct ss_error err;
	char buf[64];
	struct ss_products *p = load(TESTDATA("aliases.json"), &err);
	CHECK(p != NULL);
	if (!p)
		return;
	const struct ss_item *us = find(p, "usee1"), *eu = find(p, "euw1"), *other = find(p, "other");
	CHECK(us && eu && other);
	if (!us || !eu || !other)
		goto out;
	CHECK_STR(ss_item_get(us, "endpoint", buf, sizeof(buf)), "https://ec2.us-east-1.example.com");
	CHECK_STR(ss_item_get(us, "region", buf, sizeof(buf)), "us-east-1");
	/* the item's own field wins over what the alias gives it */
	CHECK_STR(ss_item_get(eu, "endpoint", buf, sizeof(buf)), "https://override.example.com");
	CHECK_STR(ss_item_get(eu, "region", buf, sizeof(buf)), "eu-west-1");
	CHECK(ss_item_get(other, "endpoint", buf, sizeof(buf)) == NULL);
	/* version scalar inherited, item overrides */
	CHECK_STR(ss_item_get(us, "label", buf, sizeof(buf)), "release");
	CHECK_STR(ss_item_get(other, "label", buf, sizeof(buf)), "daily");
	/* types, formatted as the upstream tools print them */
	CHECK_STR(ss_item_get(us, "supported", buf, sizeof(buf)), "True");
	CHECK_STR(ss_item_get(us, "release_num", buf, sizeof(buf)), "24.04");
	CHECK_STR(ss_item_get(us, "build_count", buf, sizeof(buf)), "7");
	CHECK_STR(ss_item_get(us, "nothing", buf, sizeof(buf)), "None");
	CHECK(ss_item_get(us, "tags", buf, sizeof(buf)) == NULL); /* product list: not inherited */
	CHECK_STR(ss_item_get(other, "extra", buf, sizeof(buf)), "{\"k\":[1,2]}");
	/* the JSON form keeps real types */
	char *js = ss_item_json(us, NULL);
	json_t *o = json_loads(js, 0, NULL);
	CHECK(json_is_true(json_object_get(o, "supported")));
	CHECK(json_is_real(json_object_get(o, "release_num")));
	CHECK(json_integer_value(json_object_get(o, "build_count")) == 7);
	CHECK(json_is_null(json_object_get(o, "nothing")));
	CHECK(json_object_get(o, "tags") == NULL);
	CHECK_STR(json_string_value(json_object_get(o, "endpoint")), "https://ec2.us-east-1.example.com");
	CHECK_STR(json_string_value(json_object_get(o, "item_name")), "usee1");
	json_decref(o);
	free(js);
	const char *extra[] = { "item_url", "http://x/y", NULL };
	js = ss_item_json(us, extra);
	CHECK(js && strstr(js, "\"item_url\":\"http://x/y\""));
	free(js);
out:
	ss_products_free(p);
}

/* With $SS_DUMPDIR set, what the library writes is kept there for
 * tests/cli/schemas.sh to validate with an independent validator. */
static void keep_dump(const char *path, int flags, const char *s, size_t len)
{
	const char *dir = getenv("SS_DUMPDIR");
	if (!dir)
		return;
	const char *base = strrchr(path, '/');
	char out[4096];
	snprintf(out, sizeof(out), "%s/%s%s", dir, flags ? "condensed-" : "", base ? base + 1 : path);
	struct ss_error err;
	CHECK(ss_write_atomic(out, s, len, &err) == SS_OK);
}

/* load -> dump -> load gives the same model; dumping is deterministic. */
static void roundtrip(const char *path)
{
	struct ss_error err;
	struct ss_products *a = load(path, &err);
	CHECK(a != NULL);
	if (!a) {
		fprintf(stderr, "  %s: %s\n", path, err.msg);
		return;
	}
	for (int flags = 0; flags <= SS_WRITE_CONDENSE; flags++) {
		size_t len;
		char *s = ss_products_dump(a, flags, &len);
		CHECK(s && len > 0 && s[len - 1] == '\n');
		keep_dump(path, flags, s, len);
		struct ss_products *b = ss_products_parse(s, len, "dump", NULL, &err);
		CHECK(b != NULL);
		if (b) {
			CHECK(ss_products_same(a, b));
			CHECK(ss_products_count(a) == ss_products_count(b));
			size_t len2;
			char *s2 = ss_products_dump(b, flags, &len2);
			CHECK(s2 && len2 == len && memcmp(s, s2, len) == 0);
			free(s2);
		}
		ss_products_free(b);
		free(s);
	}
	ss_products_free(a);
}

static void test_roundtrip(void)
{
	static const char *files[] = {
		"real/lxc-images-20230424.json", "real/lxc-images-20230703.json",
		"real/ubuntu-minimal-released-download-20231115.json",
		"real/ubuntu-released-download-trimmed.json", "real/incus-chr-vm-images.json",
		"real/juju-otc-imageids.json", "real/juju-openstack-imagemetadata.json",
		"real/cirros-released-download.json", "real/cirros-devel-download.json",
		"examples/foocloud/streams/v1/com.example.foovendor:released:aws.json",
		"examples/foocloud/streams/v1/com.example.foovendor:released:download.json",
		"examples/minimal/streams/v1/download.json",
	};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		roundtrip(SHARED(files[i]));
	roundtrip(TESTDATA("aliases.json"));
}

/* The reader takes a document a level at a time and keeps items as
 * records: it must write every real stream exactly as jansson writes the
 * whole tree, and keep the items in document order. */
static void test_as_jansson(void)
{
	static const char *files[] = {
		"real/lxc-images-20230424.json", "real/ubuntu-minimal-released-download-20231115.json",
		"real/ubuntu-released-download-trimmed.json", "real/incus-chr-vm-images.json",
		"real/juju-otc-imageids.json", "real/cirros-released-download.json",
	};
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		struct ss_error err;
		char *data;
		size_t len, dlen;
		CHECK(ss_fetch(SHARED(files[f]), SS_METADATA_CAP, &data, &len, &err) == SS_OK);
		struct ss_products *p = ss_products_parse(data, len, files[f], NULL, &err);
		json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
		CHECK(p && j);
		char *mine = p ? ss_products_dump(p, 0, &dlen) : NULL;
		char *want = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
		CHECK(mine && want && dlen == strlen(want) + 1 && memcmp(mine, want, dlen - 1) == 0);
		size_t i = 0, order = 1;
		const char *pn, *vn, *in;
		json_t *prod, *ver, *item;
		json_object_foreach(json_object_get(j, "products"), pn, prod)
			json_object_foreach(json_object_get(prod, "versions"), vn, ver)
				json_object_foreach(json_object_get(ver, "items"), in, item) {
					const struct ss_item *it = p ? ss_products_item(p, i++) : NULL;
					order &= it && !strcmp(ss_item_product(it), pn) && !strcmp(ss_item_version(it), vn) &&
						 !strcmp(ss_item_name(it), in);
				}
		CHECK(order && p && i == ss_products_count(p));
		free(mine);
		free(want);
		json_decref(j);
		ss_products_free(p);
		free(data);
	}
}

/* Read in place (records over the text, the mirror's old tree): the same
 * items, every field the same, and a record that does not fit (a real
 * written longer than in the text) goes to the arena. */
static void test_in_place(void)
{
	static const char reals[] =
		"{\"format\":\"products:1.0\",\"products\":{\"p\":{\"versions\":{\"v\":{\"items\":{"
		"\"a\":{\"x\":0.1,\"path\":\"a\"},\"b\":{\"y\":1e-7},\"c\":{\"path\":\"c\",\"z\":[1,{\"b\":1,\"a\":2}]}}}}}}}";
	const char *files[] = { SHARED("real/lxc-images-20230424.json"), SHARED("real/cirros-released-download.json"),
				TESTDATA("aliases.json"), NULL };
	for (int f = 0; f < 4; f++) {
		struct ss_error err;
		char *data;
		size_t len;
		if (f < 3)
			CHECK(ss_fetch(files[f], SS_METADATA_CAP, &data, &len, &err) == SS_OK);
		else
			data = strdup(reals), len = strlen(reals);
		struct ss_products *a = ss_products_parse(data, len, "a", NULL, &err);
		struct ss_products *b = ssi_products_scan_own(data, len, "b", &err);
		b = b ? ssi_products_finish(b, NULL, &err) : NULL;
		CHECK(a && b && ss_products_same(a, b));
		for (size_t i = 0; a && b && i < ss_products_count(a); i++) {
			char *ja = ss_item_json(ss_products_item(a, i), NULL), *jb = ss_item_json(ss_products_item(b, i), NULL);
			CHECK(ja && jb && strcmp(ja, jb) == 0);
			free(ja);
			free(jb);
		}
		ss_products_free(a);
		ss_products_free(b);
	}
	/* a refused text: the reader's own message, naming the file */
	struct ss_error err;
	char *bad = strdup("{\"format\":\"products:1.0\",\"products\":{\"p\":{\"versions\":{\"v\":{\"items\":{\"a\":{\"k\":1,}}}}}}}");
	CHECK(ssi_products_scan_own(bad, strlen(bad), "bad.json", &err) == NULL);
	CHECK(strstr(err.msg, "bad.json") != NULL);
}

/* A big document's items are read after the walk, in two halves at once
 * (model_scan.c DEFER_MIN): one it refuses, with the fault in an item of
 * the second half, gets the message a whole parse gives. */
static void test_deferred_refusals(void)
{
	static const struct {
		const char *from, *to, *needle;
	} faults[] = {
		{ "\"ftype\":\"", "\"ftype\"::\"", "cannot parse 'big.json': line 1 column " },
		{ "\"ftype\":\"", "\"ftype\":1,\"ftype\":\"", "duplicate object key" },
		{ "\"size\":", "\"size\":1e999999,\"x\":", "real number overflow" },
		/* (two items of one name: the last one's name) */
		{ "\"root.20230420_17:11.vcdiff\":{", "\"root.squashfs\":{", "duplicate object key" },
	};
	char *data;
	size_t len;
	struct ss_error err;
	CHECK(ss_fetch(SHARED("real/lxc-images-20230424.json"), SS_METADATA_CAP, &data, &len, &err) == SS_OK);
	/* read well, each way the same, records apart or over the text */
	for (int own = 0; own < 2; own++) {
		struct ss_products *a = ssi_products_scan_how(data, len, "a", 0, own, &err);
		struct ss_products *b = ssi_products_scan_how(data, len, "b", 1, own, &err);
		CHECK(a && b && a->nitems == 5435 && b->nitems == a->nitems);
		size_t same = 0;
		for (size_t i = 0; a && b && i < a->nitems; i++) {
			char *ja = ss_item_json(&a->items[i], NULL), *jb = ss_item_json(&b->items[i], NULL);
			same += ja && jb && strcmp(ja, jb) == 0 && !strcmp(ss_item_name(&a->items[i]), ss_item_name(&b->items[i]));
			free(ja);
			free(jb);
		}
		CHECK(a && same == a->nitems);
		ss_products_free(a);
		ss_products_free(b);
	}
	for (size_t f = 0; f < sizeof(faults) / sizeof(faults[0]); f++) {
		/* the last item's field, at the end of the second half */
		const char *at = NULL;
		for (const char *q = data; (q = strstr(q, faults[f].from)); q++)
			at = q;
		CHECK(at != NULL);
		if (!at)
			continue;
		size_t head = (size_t)(at - data), fl = strlen(faults[f].from), tl = strlen(faults[f].to);
		char *bad = malloc(len - fl + tl);
		memcpy(bad, data, head);
		memcpy(bad + head, faults[f].to, tl);
		memcpy(bad + head + tl, at + fl, len - head - fl);
		size_t blen = len - fl + tl;
		struct ss_error whole;
		json_t *j = ssi_json_parse(bad, blen, "big.json", &whole);
		CHECK(j == NULL);
		json_decref(j);
		CHECK(ss_products_parse(bad, blen, "big.json", NULL, &err) == NULL);
		CHECK(strcmp(err.msg, whole.msg) == 0 && strstr(err.msg, faults[f].needle) != NULL);
		/* records over the text (its bytes gone by then): the message
		 * a reading of the items as they come gives */
		struct ss_error seq;
		CHECK(ssi_products_scan_how(bad, blen, "big.json", 0, 1, &seq) == NULL);
		CHECK(ssi_products_scan_how(bad, blen, "big.json", 1, 1, &err) == NULL);
		CHECK(strcmp(err.msg, seq.msg) == 0 && strstr(err.msg, "cannot parse 'big.json': ") != NULL);
		free(bad);
	}
	/* the last item not an object: the shape's message */
	static const char key[] = "\"root.20230420_17:11.vcdiff\":";
	const char *last = NULL;
	for (const char *q = data; (q = strstr(q, key)); q++)
		last = q;
	CHECK(last != NULL);
	if (last) {
		char *odd = strdup(data);
		char *v = odd + (last - data) + strlen(key);
		char *end = strchr(v, '}');
		memset(v, ' ', (size_t)(end - v));
		*end = '7';
		CHECK(ss_products_parse(odd, len, "big.json", NULL, &err) == NULL);
		CHECK(strstr(err.msg, "item 'voidlinux:current:armhf:musl/20230421_17:11/root.20230420_17:11.vcdiff' is not an object") != NULL);
		free(odd);
	}
	free(data);
}

/* The outline (a document read and checked before, put in place by the
 * tree writer): its fields, and its products by name, each empty. */
static void test_outline(void)
{
	char *data;
	size_t len;
	struct ss_error err;
	CHECK(ss_fetch(SHARED("real/lxc-images-20230424.json"), SS_METADATA_CAP, &data, &len, &err) == SS_OK);
	json_t *o = ssi_json_outline(data, len, "x.json", &err);
	json_t *j = json_loadb(data, len, 0, NULL);
	CHECK(o && j);
	const char *k;
	json_t *v;
	size_t fields = 0, empty = 0;
	json_object_foreach(j, k, v)
		fields += strcmp(k, "products") == 0 || json_equal(v, json_object_get(o, k));
	CHECK(fields == json_object_size(j) && json_object_size(o) == json_object_size(j));
	json_t *op = json_object_get(o, "products");
	json_object_foreach(json_object_get(j, "products"), k, v)
		empty += json_is_object(json_object_get(op, k)) && json_object_size(json_object_get(op, k)) == 0;
	CHECK(json_object_size(op) == json_object_size(json_object_get(j, "products")) &&
	      empty == json_object_size(op) && empty > 100);
	json_decref(o);
	json_decref(j);
	free(data);
}

/* A version's fields after its items, a product's after its versions:
 * items still inherit them, and keep their order. */
static void test_fields_after_items(void)
{
	static const char doc[] =
		"{\"products\": {\"p\": {\"versions\": {\"v\": {\"items\": {\"b\": {\"path\": \"x\"},"
		" \"a\": {\"path\": \"y\", \"size\": \"12\"}}, \"label\": \"L\"}}, \"arch\": \"amd64\"}},"
		" \"format\": \"products:1.0\", \"content_id\": \"c\"}";
	struct ss_error err;
	struct ss_products *p = ss_products_parse(doc, strlen(doc), "doc", NULL, &err);
	CHECK(p && ss_products_count(p) == 2);
	if (!p)
		return;
	const struct ss_item *b = ss_products_item(p, 0), *a = ss_products_item(p, 1);
	CHECK(!strcmp(ss_item_name(b), "b") && !strcmp(ss_item_name(a), "a"));
	CHECK(ss_item_str(b, "label") && !strcmp(ss_item_str(b, "label"), "L"));
	CHECK(ss_item_str(a, "arch") && !strcmp(ss_item_str(a, "arch"), "amd64"));
	CHECK(ss_item_get_int(a, "size") == 12 && ss_item_get_int(b, "size") == -1);
	CHECK(!strcmp(ss_item_content_id(a), "c"));
	ss_products_free(p);
}

static void test_condense(void)
{
	struct ss_error err;
	/* every item of the juju stream repeats region and endpoint */
	struct ss_products *p = load(SHARED("real/juju-openstack-imagemetadata.json"), &err);
	CHECK(p != NULL);
	if (!p)
		return;
	size_t plain, condensed;
	char *a = ss_products_dump(p, 0, &plain), *b = ss_products_dump(p, SS_WRITE_CONDENSE, &condensed);
	CHECK(condensed < plain);
	json_t *j = json_loads(b, 0, NULL);
	json_t *prod = json_object_get(json_object_get(j, "products"), "com.ubuntu.cloud:server:16.04:amd64");
	json_t *ver = json_object_get(json_object_get(prod, "versions"), "20181107");
	json_t *item = json_object_get(json_object_get(ver, "items"), "6d8ead17-50b7-426c-ab10-b43b95521856");
	CHECK_STR(json_string_value(json_object_get(prod, "region")), "RegionOne");
	CHECK(item && json_object_get(item, "region") == NULL);
	json_decref(j);
	free(a);
	free(b);
	ss_products_free(p);

	/* "path", "size" and hashes never move up, even when shared */
	p = load(TESTDATA("nested/streams/v1/sub/leaf.json"), &err);
	CHECK(p != NULL);
	if (!p)
		return;
	b = ss_products_dump(p, SS_WRITE_CONDENSE, NULL);
	j = json_loads(b, 0, NULL);
	prod = json_object_get(json_object_get(j, "products"), "com.example:leaf:amd64");
	CHECK_STR(json_string_value(json_object_get(prod, "ftype")), "text");
	CHECK(json_object_get(prod, "path") == NULL && json_object_get(prod, "size") == NULL);
	json_decref(j);
	free(b);
	ss_products_free(p);
}

/* flatten(condense(d)) == flatten(d), on documents where moving a shared
 * string up a level would change what the items say. */
static void test_condense_meaning(void)
{
	static const char *const docs[] = {
		/* a list supplied through _aliases by a string every item shares:
		 * on the version it would no longer be inherited */
		"{\"format\": \"products:1.0\", \"_aliases\": {\"label\": {\"x\": {\"tags\": [1, 2]}}},"
		" \"products\": {\"p\": {\"versions\": {\"v\": {\"items\": {"
		" \"a\": {\"label\": \"x\", \"path\": \"a\"}, \"b\": {\"label\": \"x\", \"path\": \"b\"}}}}}}}",
		/* a scalar the alias supplies, which the version itself overrides */
		"{\"format\": \"products:1.0\", \"_aliases\": {\"label\": {\"x\": {\"foo\": \"X\"}}},"
		" \"products\": {\"p\": {\"versions\": {\"v\": {\"foo\": \"V\", \"items\": {"
		" \"a\": {\"label\": \"x\"}, \"b\": {\"label\": \"x\"}}}}}}}",
		/* a field the items hold themselves, over what their alias supplies */
		"{\"format\": \"products:1.0\", \"_aliases\": {\"region\": {\"r\": {\"foo\": \"R\"}}},"
		" \"products\": {\"p\": {\"versions\": {\"v\": {\"items\": {"
		" \"a\": {\"region\": \"r\", \"foo\": \"A\"}, \"b\": {\"region\": \"s\", \"foo\": \"A\"}}}}}}}",
		/* a stored name field shared by every version */
		"{\"format\": \"products:1.0\", \"products\": {\"p\": {\"versions\": {"
		" \"v1\": {\"product_name\": \"zz\", \"items\": {\"a\": {}}},"
		" \"v2\": {\"product_name\": \"zz\", \"items\": {\"a\": {}}}}}}}",
	};
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct ss_error err;
		ss_error_clear(&err);
		struct ss_products *p = ss_products_parse(docs[i], strlen(docs[i]), "doc", "c", &err);
		CHECK(p != NULL);
		if (!p)
			continue;
		size_t len;
		char *text = ss_products_dump(p, SS_WRITE_CONDENSE, &len);
		struct ss_products *c = text ? ss_products_parse(text, len, "condensed", "c", &err) : NULL;
		CHECK(c != NULL);
		if (c && !ss_products_same(p, c))
			fprintf(stderr, "condensing document %zu changed it:\n%s", i, text);
		CHECK(c && ss_products_same(p, c));
		/* the item's two views agree on the names */
		const struct ss_item *it = ss_products_item(c ? c : p, 0);
		char *js = ss_item_json(it, NULL);
		json_t *o = js ? json_loads(js, 0, NULL) : NULL;
		char buf[32];
		CHECK_STR(json_string_value(json_object_get(o, "product_name")),
			  ss_item_get(it, "product_name", buf, sizeof(buf)));
		json_decref(o);
		free(js);
		free(text);
		ss_products_free(c);
		ss_products_free(p);
	}
}

/* Two alias tables supplying one field: both views pick the same one. */
static void test_alias_views_agree(void)
{
	static const char doc[] =
		"{\"format\": \"products:1.0\", \"_aliases\": {\"a\": {\"1\": {\"foo\": \"A\"}}, \"b\": {\"2\": {\"foo\": \"B\"}}},"
		" \"products\": {\"p\": {\"versions\": {\"v\": {\"items\": {\"i\": {\"a\": \"1\", \"b\": \"2\"}}}}}}}";
	struct ss_error err;
	struct ss_products *p = ss_products_parse(doc, strlen(doc), "doc", "c", &err);
	CHECK(p != NULL);
	if (!p)
		return;
	const struct ss_item *it = ss_products_item(p, 0);
	char *js = ss_item_json(it, NULL);
	json_t *o = js ? json_loads(js, 0, NULL) : NULL;
	char buf[32];
	CHECK_STR(ss_item_get(it, "foo", buf, sizeof(buf)), json_string_value(json_object_get(o, "foo")));
	json_decref(o);
	free(js);
	ss_products_free(p);
}

static void test_bad_documents(void)
{
	static const struct {
		const char *file, *needle;
	} bad[] = {
		{ "bad/truncated.json", "cannot parse" },
		{ "bad/notjson.json", "line 1" },
		{ "bad/wrongformat.json", "products:1.0" },
		{ "bad/array.json", "not a JSON object" },
		{ "bad/itemnotobject.json", "item 'p/v/i' is not an object" },
		{ "hostile/nul.json", "cannot parse" },
		/* two values for one key: which one a reader sees is up to it */
		{ "bad/duplicate.json", "line 13 column 15: duplicate object key near '\"sha256\"'" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ss_error err;
		const char *path = TESTDATA(bad[i].file);
		struct ss_products *p = load(path, &err);
		CHECK(p == NULL);
		CHECK(err.code == SS_FATAL);
		CHECK(strstr(err.msg, bad[i].needle) != NULL);
		CHECK(strstr(err.msg, path) != NULL); /* names the file */
		ss_products_free(p);
	}
	static const char *hostile[] = { "hostile/dotdot.json", "hostile/absolute.json",
					 "hostile/backslash.json", "hostile/empty.json" };
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		struct ss_error err;
		struct ss_products *p = load(TESTDATA(hostile[i]), &err);
		CHECK(p != NULL);
		if (!p)
			continue;
		CHECK(ss_products_check_paths(p, &err) == SS_FATAL);
		CHECK(strstr(err.msg, "unsafe path") && strstr(err.msg, "p/20260101/evil"));
		ss_products_free(p);
	}
	struct ss_error err;
	CHECK(ss_fetch(TESTDATA("no-such-file.json"), 100, &(char *){ NULL }, &(size_t){ 0 }, &err) == SS_FATAL);
	CHECK(strstr(err.msg, "no-such-file.json") && err.sys_errno != 0);
	char *d;
	size_t n;
	CHECK(ss_fetch(SHARED("real/lxc-images-20230424.json"), 1000, &d, &n, &err) == SS_FATAL);
	CHECK(strstr(err.msg, "larger than") != NULL);
}

/* The batched lookups read each level once and give what the one-field
 * lookups give: every item of real streams and of an aliased one, for
 * fields it has, inherits, gets from an alias, and lacks. */
static int same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static void test_batched_lookups(void)
{
	static const char *const keys[] = { "path", "size", "sha256", "md5", "ftype", "arch", "release", "endpoint",
					    "region", "datatype", "os", "label", "no_such_field", "item_name",
					    "version_name", "content_id" };
	const char *files[] = { SHARED("real/lxc-images-20230424.json"), SHARED("real/ubuntu-released-download-trimmed.json"),
				SHARED("real/juju-openstack-imagemetadata.json"), TESTDATA("aliases.json") };
	size_t bad = 0, seen = 0;
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		struct ss_error err;
		struct ss_products *p = load(files[f], &err);
		CHECK(p != NULL);
		for (size_t i = 0; p && i < ss_products_count(p); i++) {
			const struct ss_item *it = ss_products_item(p, i);
			char buf[16][SSI_ITEM_BUF], one[SSI_ITEM_BUF];
			struct ssi_itemval v[16];
			const char *strs[13];
			ssi_item_gets(it, keys, 16, buf, v);
			ssi_item_strs(it, keys, 13, strs); /* (no name fields) */
			for (size_t k = 0; k < 16; k++) {
				seen += v[k].text != NULL;
				if (!same(v[k].text, ss_item_get(it, keys[k], one, sizeof(one))) ||
				    !same(v[k].str, ss_item_str(it, keys[k])) || (k < 13 && !same(strs[k], v[k].str)) ||
				    (k < 13 && v[k].num != ss_item_get_int(it, keys[k])))
					bad++;
			}
		}
		ss_products_free(p);
	}
	CHECK(bad == 0);
	CHECK(seen > 50000);
}

TEST_MAIN(test_real_counts, test_inheritance, test_aliases_and_types, test_roundtrip, test_as_jansson,
	  test_fields_after_items, test_in_place, test_deferred_refusals, test_outline, test_condense,
	  test_condense_meaning, test_alias_views_agree,
	  test_bad_documents, test_batched_lookups)
