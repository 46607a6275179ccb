/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tree loading from a directory of hostile documents.  The input is a
 * list of documents, each introduced by a line "=== RELPATH"; without
 * such a first line the whole input is streams/v1/index.json.  They are
 * written into a scratch directory, which is loaded as a tree root and
 * through its first document, then selected from and verified.
 */
#include <string.h>

#include "fuzz.h"
#include "sstream.h"

#define MAX_DOCS 16

static const char MARK[] = "=== ";

static void write_docs(const char *dir, const char *s, size_t size, char *first, size_t firstsz)
{
	const char *end = s + size;
	first[0] = '\0';
	if (size < 4 || memcmp(s, MARK, 4) != 0) {
		fuzz_write_file(dir, "streams/v1/index.json", s, size);
		snprintf(first, firstsz, "streams/v1/index.json");
		return;
	}
	for (int ndocs = 0; s < end && ndocs < MAX_DOCS; ndocs++) {
		const char *name = s + 4;
		const char *nl = memchr(name, '\n', (size_t)(end - name));
		if (!nl)
			break;
		char rel[256];
		size_t rlen = (size_t)(nl - name);
		const char *body = nl + 1, *next = body;
		/* The body runs to the next "\n=== " or the end. */
		while ((next = memchr(next, '\n', (size_t)(end - next))) &&
		       ((size_t)(end - next) < 5 || memcmp(next + 1, MARK, 4) != 0))
			next++;
		const char *bend = next ? next : end;
		s = next ? next + 1 : end;
		if (rlen == 0 || rlen >= sizeof(rel) || memchr(name, '\0', rlen))
			continue;
		memcpy(rel, name, rlen);
		rel[rlen] = '\0';
		struct ss_error e;
		if (ss_path_check(rel, &e) != SS_OK)
			continue;
		if (fuzz_write_file(dir, rel, body, (size_t)(bend - body)) == 0 && !first[0])
			snprintf(first, firstsz, "%s", rel);
	}
}

static void exercise(struct ss_tree *t)
{
	size_t n = 0;
	for (size_t i = 0; i < ss_tree_nproducts(t); i++) {
		const struct ss_products *p = ss_tree_products(t, i);
		struct ss_error e;
		ss_error_clear(&e);
		ss_products_check_index(p, &e);
		FUZZ_ASSERT(ss_products_path(p));
		n += ss_products_count(p);
	}
	for (size_t i = 0; i < ss_tree_ndocs(t); i++) {
		const char *data;
		size_t len;
		FUZZ_ASSERT(ss_tree_doc(t, i, &data, &len));
	}
	struct ss_selection sel;
	struct ss_error e;
	ss_error_clear(&e);
	if (ss_select(t, NULL, 1, &sel, &e) == SS_OK) {
		FUZZ_ASSERT(sel.count <= n);
		ss_selection_free(&sel);
	}
}

static void result_cb(void *ud, const struct ss_verify_result *r)
{
	(void)ud;
	(void)r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *dir = fuzz_tmpdir();
	char first[256];
	fuzz_empty_dir(dir);
	write_docs(dir, (const char *)data, size, first, sizeof(first));

	struct ss_error e;
	ss_error_clear(&e);
	struct ss_tree *t = ss_tree_load(dir, &e);
	if (t)
		exercise(t);
	else
		FUZZ_ASSERT(e.code != SS_OK && e.msg[0] && !strchr(e.msg, '\n'));
	ss_tree_free(t);

	if (first[0]) {
		char path[512];
		snprintf(path, sizeof(path), "%s/%s", dir, first);
		ss_error_clear(&e);
		t = ss_tree_load(path, &e);
		if (t)
			exercise(t);
		ss_tree_free(t);
	}

	struct ss_verify_opts o = { .source = dir, .orphans = 1, .jobs = 1, .result = result_cb };
	struct ss_verify_stats st;
	memset(&st, 0, sizeof(st));
	ss_error_clear(&e);
	ss_verify_tree(&o, &st, &e);
	/* Each file counts once: ok or failed. */
	FUZZ_ASSERT(st.ok + st.failed == st.files);
	return 0;
}
