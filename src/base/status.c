/* status.c: messages of the status codes, the log sink, clocks. */
#include <stdio.h>
#include <string.h>
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

int strata_libversion_number(void)
{
    return STRATA_VERSION_NUMBER;
}

/* The last error message of this thread (strata_errmsg). */
static _Thread_local char last_error[512];

void base_error_set(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
}

const char *strata_errmsg(void)
{
    return last_error;
}

void base_logf(const base_log *log, int level, const char *fmt, ...)
{
    int keep = level <= STRATA_LOG_WARN;
    if (!keep && (!log || !log->fn))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (keep) {
        size_t n = strnlen(msg, sizeof last_error - 1);
        memcpy(last_error, msg, n);
        last_error[n] = 0;
    }
    if (log && log->fn)
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
