/*
 * public.c: the text helpers of strata.h (numbers and times), which the
 * CLI, the server and embedding programs share with the file formats.
 */
#include "export.h"

_Static_assert(STRATA_DOUBLE_MAX == NUM_DOUBLE_MAX, "strata.h and export.h agree on the double buffer");
_Static_assert(STRATA_TIME_MAX == FMT_TIME_MAX, "strata.h and export.h agree on the time buffer");

size_t strata_format_double(double v, char *out)
{
    return num_format_double(v, out);
}

int strata_parse_double(const char *s, size_t len, double *out)
{
    if (!s || !out)
        return STRATA_ERR_INVALID;
    return num_parse_double(s, len, out);
}

int strata_parse_time(const char *s, size_t len, int64_t now_ms, int64_t *out_ms, const char **reason)
{
    if (!s || !out_ms)
        return STRATA_ERR_INVALID;
    return fmt_time_parse(s, len, now_ms, out_ms, reason);
}

int strata_parse_duration(const char *s, size_t len, int64_t *out_ms, const char **reason)
{
    if (!s || !out_ms)
        return STRATA_ERR_INVALID;
    return fmt_duration_parse(s, len, out_ms, reason);
}

size_t strata_format_time(int64_t ms, char *out)
{
    return fmt_time_format(ms, out);
}
