/* status.c: messages of the status codes, the log sink, clocks. */
#include <stdio.h>
#include <time.h>

#include "base.h"

const char *strata_strerror(int status)
{
    switch (status) {
#define STRATA_X_CASE(name, code, msg) \
    case code:                         \
        return msg;
        STRATA_STATUS_LIST(STRATA_X_CASE)
#undef STRATA_X_CASE
    default:
        return "unknown status";
    }
}

const char *strata_version(void)
{
#define STRATA_STR2(x) #x
#define STRATA_STR(x) STRATA_STR2(x)
    return STRATA_STR(STRATA_VERSION_MAJOR) "." STRATA_STR(STRATA_VERSION_MINOR) "." STRATA_STR(
        STRATA_VERSION_PATCH) " (format " STRATA_STR(STRATA_FORMAT_VERSION) ")";
}

void base_logf(const base_log *log, int level, const char *fmt, ...)
{
    if (!log || !log->fn)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log->fn(log->ctx, level, msg);
}

int64_t base_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t base_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
