/*
 * fuzz_time.c: time and duration parsing on arbitrary bytes. A parsed time
 * lies within +-FMT_TIME_LIMIT_MS; one of years 0000-9999 printed as
 * RFC 3339 parses back to itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "export/export.h"

static const char *seeds[] = {
    "2024-01-01T12:00:00.123456+02:00", "1704110400.5", "now-5m", "-1h30m", "1y2w3d4h5m6s7ms", "2000-02-29 23:59:59Z",
    "9223372036854779", "-4611686018427387.904", "now-53375995583d", "1e15", "292277025-08-18T07:12:54.999999999Z",
};

size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap)
{
    if (i >= sizeof seeds / sizeof seeds[0])
        return 0;
    size_t n = strlen(seeds[i]);
    if (n > cap)
        n = cap;
    memcpy(out, seeds[i], n);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    int64_t t, back, dur;
    const char *reason = NULL;
    if (fmt_time_parse(buf, size, 1704110400000LL, &t, &reason) == STRATA_OK) {
        if (t > FMT_TIME_LIMIT_MS || t < -FMT_TIME_LIMIT_MS) /* never beyond, never wrapped */
            abort();
        char out[FMT_TIME_MAX + 1];
        size_t n = fmt_time_format(t, out);
        if (n > FMT_TIME_MAX)
            abort();
        if (t >= -62167219200000LL && t < 253402300800000LL &&
            (fmt_time_parse(out, n, 0, &back, &reason) != STRATA_OK || back != t))
            abort();
    } else if (!reason) {
        abort();
    }
    if (fmt_duration_parse(buf, size, &dur, &reason) == STRATA_OK && dur < 0)
        abort();
    free(buf);
    return 0;
}
