/*
 * literals.c: the values of PromQL literal tokens, as Prometheus reads
 * them: numbers (Go's strconv.ParseInt with base 0, then ParseFloat:
 * 0x1f, 010 octal, 1_000, 1e3, Inf, NaN), durations (prometheus/common's
 * model.ParseDuration: 1y2w3d4h5m6s7ms, each unit once, largest first),
 * and quoted strings (Go escapes, already checked by the lexer).
 *
 * Each returns a Prometheus-worded reason on bad input; the parser adds
 * the position.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "num/num.h"
#include "parse_int.h"
#include "literals.h"

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

static bool word_is(const char *s, int64_t n, const char *w)
{
    int64_t i = 0;
    for (; i < n && w[i]; i++)
        if (lower((unsigned char)s[i]) != w[i])
            return false;
    return i == n && !w[i];
}

int query_lit_number(const char *s, int64_t n, double *out, char *why, size_t whylen)
{
    if (word_is(s, n, "inf")) {
        *out = INFINITY;
        return STRATA_OK;
    }
    if (word_is(s, n, "nan")) {
        *out = NAN;
        return STRATA_OK;
    }
    /* Digits without the '_' separators Go allows (the lexer only lets
     * them stand between digits). */
    char small[64], *d = small;
    if (n + 1 > (int64_t)sizeof small) {
        d = base_malloc((size_t)n + 1);
        if (!d)
            return STRATA_ERR_NOMEM;
    }
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        if (s[i] != '_')
            d[m++] = s[i];
    d[m] = 0;
    int rc = STRATA_OK;
    bool hex = m > 1 && d[0] == '0' && (d[1] == 'x' || d[1] == 'X');
    bool integer = true;
    for (int64_t i = hex ? 2 : 0; i < m; i++) {
        char c = d[i];
        if (!((c >= '0' && c <= '9') || (hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))))
            integer = false;
    }
    if (integer && m > (hex ? 2 : 0)) {
        /* ParseInt(s, 0, 64): hex, octal with a leading 0, or decimal. */
        int base = hex ? 16 : (m > 1 && d[0] == '0') ? 8 : 10;
        uint64_t v = 0;
        bool ok = true;
        for (int64_t i = hex ? 2 : (base == 8 ? 1 : 0); i < m && ok; i++) {
            int c = d[i];
            int dv = c <= '9' ? c - '0' : lower(c) - 'a' + 10;
            if (dv >= base || v > (UINT64_MAX - (uint64_t)dv) / (uint64_t)base)
                ok = false;
            else
                v = v * (uint64_t)base + (uint64_t)dv;
        }
        if (ok && v <= (uint64_t)INT64_MAX) {
            *out = (double)(int64_t)v;
            goto out;
        }
        if (hex) {
            /* ParseFloat takes hex only with a p exponent. */
            snprintf(why, whylen, "error parsing number: strconv.ParseFloat: parsing \"%.*s\": invalid syntax",
                     (int)MIN(n, 100), s);
            rc = STRATA_ERR_INVALID;
            goto out;
        }
    }
    if (num_parse_double(d, (size_t)m, out) != STRATA_OK) {
        /* num_parse_double refuses what overflows; strtod tells that from
         * forms it does not take ("5.", ".5"). */
        char *end;
        double v = strtod(d, &end);
        if (end == d + m && isfinite(v)) {
            *out = v;
        } else {
            snprintf(why, whylen, "error parsing number: strconv.ParseFloat: parsing \"%.*s\": %s", (int)MIN(n, 400), s,
                     end == d + m ? "value out of range" : "invalid syntax");
            rc = STRATA_ERR_INVALID;
        }
    }
out:
    if (d != small)
        base_free(d);
    return rc;
}

int query_lit_duration(const char *s, int64_t n, int64_t *out_ms, char *why, size_t whylen)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"y", 365LL * 86400000},
                 {"w", 7LL * 86400000},
                 {"d", 86400000},
                 {"h", 3600000},
                 {"m", 60000},
                 {"s", 1000},
                 {"ms", 1}};
    if (n == 1 && s[0] == '0') {
        *out_ms = 0;
        return STRATA_OK;
    }
    if (n == 0) {
        snprintf(why, whylen, "empty duration string");
        return STRATA_ERR_INVALID;
    }
    /* model.ParseDuration: <digits><unit> pairs, units from largest to
     * smallest, the sum at most what time.Duration (ns in int64) holds. */
    const uint64_t max_ms = (uint64_t)INT64_MAX / 1000000;
    int64_t i = 0;
    uint64_t total = 0;
    int last = -1;
    while (i < n) {
        uint64_t v = 0;
        int64_t d0 = i;
        bool overflow = false;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            unsigned dv = (unsigned)(s[i] - '0');
            if (v > (UINT64_MAX - dv) / 10)
                overflow = true;
            else
                v = v * 10 + dv;
            i++;
        }
        int64_t u0 = i;
        while (i < n && !(s[i] >= '0' && s[i] <= '9'))
            i++;
        if (u0 == d0 || u0 == i || overflow)
            goto invalid;
        int u = -1;
        for (int k = 0; k < (int)ARRAY_LEN(units); k++)
            if ((int64_t)strlen(units[k].unit) == i - u0 && memcmp(units[k].unit, s + u0, (size_t)(i - u0)) == 0)
                u = k;
        if (u < 0) {
            snprintf(why, whylen, "unknown unit \"%.*s\" in duration \"%.*s\"", (int)MIN(i - u0, 20), s + u0,
                     (int)MIN(n, 100), s);
            return STRATA_ERR_INVALID;
        }
        if (u <= last)
            goto invalid;
        last = u;
        if (v > max_ms / (uint64_t)units[u].ms || total + v * (uint64_t)units[u].ms > max_ms) {
            snprintf(why, whylen, "duration out of range");
            return STRATA_ERR_INVALID;
        }
        total += v * (uint64_t)units[u].ms;
    }
    *out_ms = (int64_t)total;
    return STRATA_OK;
invalid:
    snprintf(why, whylen, "not a valid duration string: \"%.*s\"", (int)MIN(n, 100), s);
    return STRATA_ERR_INVALID;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

size_t query_lit_unquote(const char *s, int64_t n, char *out)
{
    char q = s[0];
    const char *p = s + 1, *end = s + n - 1;
    size_t o = 0;
    if (q == '`') {
        memcpy(out, p, (size_t)(end - p));
        o = (size_t)(end - p);
        out[o] = 0;
        return o;
    }
    while (p < end) {
        if (*p != '\\') {
            out[o++] = *p++;
            continue;
        }
        p++;
        char c = *p++;
        switch (c) {
        case 'a': out[o++] = '\a'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'v': out[o++] = '\v'; break;
        case 'x': {
            int v = hexval(p[0]) * 16 + hexval(p[1]);
            p += 2;
            out[o++] = (char)v;
            break;
        }
        case 'u':
        case 'U': {
            int k = c == 'u' ? 4 : 8;
            uint32_t v = 0;
            for (int i = 0; i < k; i++)
                v = v * 16 + (uint32_t)hexval(*p++);
            o += put_utf8(out + o, v);
            break;
        }
        default:
            if (c >= '0' && c <= '7') {
                int v = (c - '0') * 64 + (p[0] - '0') * 8 + (p[1] - '0');
                p += 2;
                out[o++] = (char)v;
            } else {
                out[o++] = c; /* \\ and the quote */
            }
        }
    }
    out[o] = 0;
    return o;
}
