/*
 * util.h: what every benchmark of strata-bench needs beside the public API:
 * a monotonic clock and removing its scratch directories.
 */
#ifndef STRATA_BENCH_UTIL_H
#define STRATA_BENCH_UTIL_H

/* Seconds on the monotonic clock. */
double bench_now_s(void);

/* rm -rf of a scratch directory this program made; the exit status. */
int bench_rm_rf(const char *dir);

#include <stddef.h>

/* Runs child(ctx, out) in a forked process (its CPU time and peak memory
 * its own, the parent's heap untouched) and copies the size bytes it left
 * in out back through a pipe. 0 when the child returned 0 and the bytes
 * arrived, -1 otherwise. */
int bench_forked(int (*child)(void *ctx, void *out), void *ctx, void *out, size_t size);

#endif
