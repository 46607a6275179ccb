/* SPDX-License-Identifier: Apache-2.0 */
/* The one check of an item's own fields (itemcheck.c), used by mirror
 * planning, verify and import. */
#ifndef SSTREAM_ITEMCHECK_H
#define SSTREAM_ITEMCHECK_H

#include "internal.h"

/* What sstream-verify refuses in an item's fields (schemas/
 * products.schema.json): a size that is not a whole number of bytes, a
 * hash not in hex of its length, a path that is not a safe relative
 * path, an item of a download stream without a path.  NULL when IT is
 * fine, else the reason, a static string naming the field. */
const char *ssi_item_problem(const struct ss_item *it);

#endif
