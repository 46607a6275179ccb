/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the fuzz targets.  Each target defines LLVMFuzzerTestOneInput;
 * it is linked either with libFuzzer (make fuzz, clang) or with replay.c
 * (make check, any compiler) to run the corpus and past crashes as tests.
 * An invariant that does not hold aborts, which both drivers report.
 */
#ifndef SS_FUZZ_H
#define SS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond)                                                                      \
	do {                                                                                   \
		if (!(cond)) {                                                                 \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                               \
		}                                                                              \
	} while (0)

/* A private scratch directory for targets that need files, made once per
 * process and removed at exit; NULL when it cannot be made (then abort). */
const char *fuzz_tmpdir(void);
/* Empties DIR (recursively), keeping DIR itself. */
void fuzz_empty_dir(const char *dir);
/* Writes LEN bytes to DIR/REL, creating the directories on the way; 0 or -1. */
int fuzz_write_file(const char *dir, const char *rel, const void *data, size_t len);
/* A scratch tree of one products document: DATA as
 * DIR/streams/v1/images.json beside an index naming every product it holds
 * (none when DATA is not JSON: the tree then fails to load).  0, or -1 when
 * a file cannot be written. */
int fuzz_write_products_tree(const char *dir, const uint8_t *data, size_t size);

#endif
