/* The small helpers the sstream command-line tools share (not the library). */
#ifndef SSTREAM_TOOL_H
#define SSTREAM_TOOL_H

#include <stdio.h>

/* Writes S to F as a JSON string literal, quotes included. */
void tool_json_str(FILE *f, const char *s);

/* A duration such as 90, 30s, 10m, 1h or 2d, in seconds; -1 when S is not one. */
long long tool_duration(const char *s);

/* S as a whole number from 0 to MAX into *OUT; -1 when it is not one
 * (junk, a sign, more than MAX, beyond long long).  The caller reports a
 * usage error naming the option. */
int tool_number(const char *s, long long max, long long *out);

#endif
