/*
 * clock.h: the clocks of the strata program, for the CLI and the server it
 * runs (server/ includes this header as serve.c includes cli.h): one
 * monotonic clock for durations and one wall clock for "now".
 */
#ifndef STRATA_CLI_CLOCK_H
#define STRATA_CLI_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic nanoseconds: latencies and progress. */
static inline uint64_t cli_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Wall clock, milliseconds since the epoch: the "now" of times given as
 * now-1h and of requests without a time. */
static inline int64_t cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
