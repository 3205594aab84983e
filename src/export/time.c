/*
 * time.c: points in time and durations as the command line and the HTTP
 * API take them (RFC 3339, Unix seconds, now-relative forms, Prometheus
 * durations), and RFC 3339 out. Dates use the proleptic Gregorian calendar
 * through src/num's num_days_from_civil / num_civil_from_days, exact for
 * every int64 millisecond.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "export.h"

#define MS_PER_DAY 86400000LL

/* n digits at *p as a number; advances *p. -1 when not n digits. */
static int64_t fixed_digits(const char **p, const char *end, int n)
{
    if (end - *p < n)
        return -1;
    int64_t v = 0;
    for (int i = 0; i < n; i++) {
        unsigned d = (unsigned)((*p)[i] - '0');
        if (d > 9)
            return -1;
        v = v * 10 + d;
    }
    *p += n;
    return v;
}

static int bad(const char **reason, const char *why)
{
    if (reason)
        *reason = why;
    return STRATA_ERR_INVALID;
}

/* RFC 3339: YYYY-MM-DD(T|t| )HH:MM:SS[.frac](Z|z|+HH:MM|-HH:MM) */
static int parse_rfc3339(const char *s, const char *end, int64_t *out, const char **reason)
{
    const char *p = s;
    int64_t y = fixed_digits(&p, end, 4);
    if (y < 0 || p >= end || *p++ != '-')
        return bad(reason, "invalid RFC 3339 date");
    int64_t mo = fixed_digits(&p, end, 2);
    if (mo < 1 || mo > 12 || p >= end || *p++ != '-')
        return bad(reason, "invalid RFC 3339 date");
    int64_t d = fixed_digits(&p, end, 2);
    if (d < 1 || d > num_days_in_month(y, (unsigned)mo))
        return bad(reason, "invalid RFC 3339 date");
    if (p >= end || (*p != 'T' && *p != 't' && *p != ' '))
        return bad(reason, "invalid RFC 3339 time: want THH:MM:SS and a zone");
    p++;
    int64_t h = fixed_digits(&p, end, 2);
    if (h < 0 || h > 23 || p >= end || *p++ != ':')
        return bad(reason, "invalid RFC 3339 time");
    int64_t mi = fixed_digits(&p, end, 2);
    if (mi < 0 || mi > 59 || p >= end || *p++ != ':')
        return bad(reason, "invalid RFC 3339 time");
    int64_t se = fixed_digits(&p, end, 2);
    if (se < 0 || se > 59)
        return bad(reason, "invalid RFC 3339 time");
    int64_t frac_ms = 0;
    if (p < end && *p == '.') {
        p++;
        int nd = 0;
        while (p < end && (unsigned)(*p - '0') < 10) {
            if (nd < 3)
                frac_ms = frac_ms * 10 + (*p - '0');
            nd++;
            p++;
        }
        if (nd == 0)
            return bad(reason, "invalid RFC 3339 fraction");
        for (; nd < 3; nd++)
            frac_ms *= 10;
    }
    int64_t off_min = 0;
    if (p < end && (*p == 'Z' || *p == 'z')) {
        p++;
    } else if (p < end && (*p == '+' || *p == '-')) {
        int neg = *p++ == '-';
        int64_t oh = fixed_digits(&p, end, 2);
        if (oh < 0 || oh > 23 || p >= end || *p++ != ':')
            return bad(reason, "invalid RFC 3339 zone offset");
        int64_t om = fixed_digits(&p, end, 2);
        if (om < 0 || om > 59)
            return bad(reason, "invalid RFC 3339 zone offset");
        off_min = (neg ? -1 : 1) * (oh * 60 + om);
    } else {
        return bad(reason, "RFC 3339 time needs a zone (Z or +HH:MM)");
    }
    if (p != end)
        return bad(reason, "text after RFC 3339 time");
    /* The fraction's digits after the third are dropped: flooring, since
     * the fraction is always positive. Years 0000-9999 keep this in range. */
    int64_t days = num_days_from_civil(y, (unsigned)mo, (unsigned)d);
    *out = days * MS_PER_DAY + ((h * 60 + mi) * 60 + se) * 1000 + frac_ms - off_min * 60000;
    return STRATA_OK;
}

/* What parse_unix found. */
enum { UNIX_OK, UNIX_NOT_A_NUMBER, UNIX_OUT_OF_RANGE };

/* Unix seconds with an optional fraction (or exponent): ms, flooring.
 * Out of range (beyond +-FMT_TIME_LIMIT_MS) is decided on the digits, before
 * any multiplication, so no number of digits can wrap the result. */
static int parse_unix(const char *s, const char *end, int64_t *out)
{
    const char *p = s;
    int neg = 0;
    if (p < end && (*p == '-' || *p == '+')) {
        neg = *p == '-';
        p++;
    }
    const char *digits = p;
    const uint64_t max_sec = (uint64_t)FMT_TIME_LIMIT_MS / 1000 + 1;
    uint64_t sec = 0;
    int huge = 0;
    while (p < end && (unsigned)(*p - '0') < 10) {
        if (sec > max_sec)
            huge = 1; /* keep reading: the text may still be no number */
        else
            sec = sec * 10 + (uint64_t)(*p - '0');
        p++;
    }
    int any = p > digits;
    uint64_t ms = 0;
    int rest_nonzero = 0;
    if (p < end && *p == '.') {
        p++;
        int nd = 0;
        while (p < end && (unsigned)(*p - '0') < 10) {
            if (nd < 3)
                ms = ms * 10 + (uint64_t)(*p - '0');
            else if (*p != '0')
                rest_nonzero = 1;
            nd++;
            p++;
        }
        any |= nd > 0;
        for (; nd < 3; nd++)
            ms *= 10;
    }
    if (!any)
        return UNIX_NOT_A_NUMBER;
    if (p != end) {
        /* exponent forms (1.7e9): go through a double, which is exact to
         * the ms for any time of the next few hundred thousand years */
        double v;
        if (num_parse_double(s, (size_t)(end - s), &v) < 0)
            return UNIX_NOT_A_NUMBER;
        double m = floor(v * 1000.0);
        if (!(m >= -(double)FMT_TIME_LIMIT_MS && m <= (double)FMT_TIME_LIMIT_MS))
            return UNIX_OUT_OF_RANGE;
        *out = (int64_t)m;
        return UNIX_OK;
    }
    if (huge || sec > max_sec)
        return UNIX_OUT_OF_RANGE;
    uint64_t t = sec * 1000 + ms + (neg ? (uint64_t)rest_nonzero : 0); /* < 2^63: sec <= 2^62 / 1000 + 1 */
    if (t > (uint64_t)FMT_TIME_LIMIT_MS)
        return UNIX_OUT_OF_RANGE;
    *out = neg ? -(int64_t)t : (int64_t)t;
    return UNIX_OK;
}

/* "nan", "inf", "infinity" with an optional sign, any case: numbers
 * Prometheus' ParseFloat reads, never a time. */
static int non_finite(const char *s, size_t len)
{
    if (len && (*s == '+' || *s == '-')) {
        s++;
        len--;
    }
    return (len == 3 && (!strncasecmp(s, "nan", 3) || !strncasecmp(s, "inf", 3))) ||
           (len == 8 && !strncasecmp(s, "infinity", 8));
}

/* What Prometheus' clients (client_golang, Grafana) send for "no bound":
 * Go's RFC 3339 of Prometheus' own minimum and maximum times, far beyond
 * what strata takes; they mean the widest range, so they read as the
 * limits. */
static const char prom_min_time[] = "-292273086-05-16T16:47:06Z";
static const char prom_max_time[] = "292277025-08-18T07:12:54.999999999Z";

/* allow_seconds: a plain number is seconds (the step parameter), not in
 * relative times, where "now-5" would be ambiguous. */
static int duration_parse(const char *s, size_t len, int allow_seconds, int64_t *out_ms, const char **reason)
{
    static const struct {
        const char *unit;
        size_t n;
        int64_t ms;
    } units[] = {{"y", 1, 365 * MS_PER_DAY}, {"w", 1, 7 * MS_PER_DAY}, {"d", 1, MS_PER_DAY}, {"h", 1, 3600000},
                 {"m", 1, 60000},            {"s", 1, 1000},          {"ms", 2, 1}};
    const char *p = s, *end = s + len;
    if (p == end)
        return bad(reason, "empty duration");
    /* a plain number: seconds, as Prometheus' step takes */
    double secs;
    if (allow_seconds && num_parse_double(s, len, &secs) == STRATA_OK) {
        if (secs < 0 || isnan(secs))
            return bad(reason, "negative duration");
        double ms = secs * 1000.0;
        if (ms >= 9.2e18)
            return bad(reason, "duration out of range");
        *out_ms = (int64_t)ms;
        return STRATA_OK;
    }
    int64_t total = 0;
    size_t next_unit = 0;
    while (p < end) {
        const char *d0 = p;
        int64_t v = 0;
        while (p < end && (unsigned)(*p - '0') < 10) {
            if (v > INT64_MAX / 10 - 9)
                return bad(reason, "duration out of range");
            v = v * 10 + (*p - '0');
            p++;
        }
        if (p == d0)
            return bad(reason, "invalid duration: want e.g. 5m, 1h30m, 500ms");
        /* longest unit match first ("ms" before "m") */
        size_t u = ARRAY_LEN(units);
        if (end - p >= 2 && p[0] == 'm' && p[1] == 's')
            u = 6;
        else
            for (size_t i = 0; i < 6; i++)
                if (p < end && *p == units[i].unit[0]) {
                    u = i;
                    break;
                }
        if (u == ARRAY_LEN(units))
            return bad(reason, "invalid duration unit: want ms, s, m, h, d, w or y");
        if (u < next_unit)
            return bad(reason, "duration units out of order or repeated");
        next_unit = u + 1;
        p += units[u].n;
        if (v > INT64_MAX / units[u].ms || total > INT64_MAX - v * units[u].ms)
            return bad(reason, "duration out of range");
        total += v * units[u].ms;
    }
    *out_ms = total;
    return STRATA_OK;
}

int fmt_duration_parse(const char *s, size_t len, int64_t *out_ms, const char **reason)
{
    return duration_parse(s, len, 1, out_ms, reason);
}

int fmt_time_parse(const char *s, size_t len, int64_t now_ms, int64_t *out_ms, const char **reason)
{
    const char *end = s + len;
    int64_t d, t = 0;
    if (len == 0)
        return bad(reason, "empty time");
    if (len == sizeof prom_min_time - 1 && !memcmp(s, prom_min_time, len)) {
        *out_ms = -FMT_TIME_LIMIT_MS;
        return STRATA_OK;
    }
    if (len == sizeof prom_max_time - 1 && !memcmp(s, prom_max_time, len)) {
        *out_ms = FMT_TIME_LIMIT_MS;
        return STRATA_OK;
    }
    if (non_finite(s, len))
        return bad(reason, "time out of range: not a finite number");
    if (now_ms > FMT_TIME_LIMIT_MS || now_ms < -FMT_TIME_LIMIT_MS)
        return bad(reason, "time out of range: now is beyond the limit");
    int u;
    if (len >= 3 && !memcmp(s, "now", 3)) {
        if (len == 3) {
            *out_ms = now_ms;
            return STRATA_OK;
        }
        s += 3;
    } else if ((u = parse_unix(s, end, &t)) == UNIX_OK) {
        *out_ms = t;
        return STRATA_OK;
    } else if (u == UNIX_OUT_OF_RANGE) {
        return bad(reason, "time out of range (more than 2^62 ms, about 146 million years, from 1970)");
    } else if (len >= 10 && (unsigned)(s[0] - '0') < 10) {
        return parse_rfc3339(s, end, out_ms, reason);
    }
    /* relative: [now](+|-)DURATION */
    if (s < end && (*s == '-' || *s == '+')) {
        int neg = *s == '-';
        int rc = duration_parse(s + 1, (size_t)(end - s - 1), 0, &d, reason);
        if (rc < 0)
            return rc;
        /* |now_ms| <= the limit, checked above: compared, never summed */
        if (d > FMT_TIME_LIMIT_MS || (neg ? now_ms < -FMT_TIME_LIMIT_MS + d : now_ms > FMT_TIME_LIMIT_MS - d))
            return bad(reason, "time out of range (more than 2^62 ms, about 146 million years, from 1970)");
        *out_ms = neg ? now_ms - d : now_ms + d;
        return STRATA_OK;
    }
    return bad(reason, "invalid time: want RFC 3339, Unix seconds, now, now-5m or -1h");
}

size_t fmt_time_format(int64_t ms, char *out)
{
    int64_t days = num_floor_div(ms, MS_PER_DAY);
    int64_t rem = ms % MS_PER_DAY; /* [0, MS_PER_DAY), without days * MS_PER_DAY overflowing at INT64_MIN */
    if (rem < 0)
        rem += MS_PER_DAY;
    int64_t y;
    unsigned m, d;
    num_civil_from_days(days, &y, &m, &d);
    unsigned msec = (unsigned)(rem % 1000);
    unsigned sec = (unsigned)(rem / 1000);
    int n;
    if (y >= 0 && y <= 9999)
        n = sprintf(out, "%04lld", (long long)y);
    else
        n = sprintf(out, "%+05lld", (long long)y);
    n += sprintf(out + n, "-%02u-%02uT%02u:%02u:%02u", m, d, sec / 3600, sec / 60 % 60, sec % 60);
    if (msec)
        n += sprintf(out + n, ".%03u", msec);
    out[n++] = 'Z';
    return (size_t)n;
}
