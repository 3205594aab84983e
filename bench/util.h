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

#endif
