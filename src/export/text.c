/*
 * text.c: the text helpers of strata.h (numbers, times, JSON strings),
 * which the CLI, the server and embedding programs share with the file
 * formats, and the two printers the export formats use on their hot
 * paths: fmt_int64 and fmt_json_quote.
 *
 * fmt_int64 writes two digits per division by 100 from a table of digit
 * pairs (half the divisions of digit-at-a-time), backwards into a small
 * buffer, then copies the digits forward.
 */
#include "export.h"

_Static_assert(STRATA_DOUBLE_MAX == NUM_DOUBLE_MAX, "strata.h and export.h agree on the double buffer");
_Static_assert(STRATA_TIME_MAX == FMT_TIME_MAX, "strata.h and export.h agree on the time buffer");
_Static_assert(STRATA_INT64_LEN == FMT_INT64_MAX, "strata.h and export.h agree on the int64 buffer");

/* ------------------------------------------------------------ printers */

static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                     "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                     "8081828384858687888990919293949596979899";

size_t fmt_int64(int64_t v, char *out)
{
    char tmp[FMT_INT64_MAX], *end = tmp + sizeof tmp, *p = end;
    /* the magnitude as unsigned: -INT64_MIN does not fit in int64 */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    while (u >= 100) {
        unsigned k = (unsigned)(u % 100) * 2;
        u /= 100;
        *--p = digit_pairs[k + 1];
        *--p = digit_pairs[k];
    }
    if (u >= 10) {
        *--p = digit_pairs[u * 2 + 1];
        *--p = digit_pairs[u * 2];
    } else {
        *--p = (char)('0' + u);
    }
    if (v < 0)
        *--p = '-';
    size_t n = (size_t)(end - p);
    memcpy(out, p, n);
    return n;
}

static const char hex_digits[] = "0123456789abcdef";

/* Length of the valid UTF-8 sequence (Go's utf8.Valid rules: shortest
 * form, no surrogates, at most U+10FFFF) starting at s[0] >= 0x80, or 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t k;
    uint32_t cp, min;
    if ((c & 0xe0) == 0xc0)
        k = 2, cp = c & 0x1fu, min = 0x80;
    else if ((c & 0xf0) == 0xe0)
        k = 3, cp = c & 0x0fu, min = 0x800;
    else if ((c & 0xf8) == 0xf0)
        k = 4, cp = c & 0x07u, min = 0x10000;
    else
        return 0;
    if (n < k)
        return 0;
    for (size_t j = 1; j < k; j++) {
        if ((s[j] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[j] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return k;
}

size_t fmt_json_quote(const char *s, size_t n, char *out)
{
    char *o = out;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (LIKELY(c >= 0x20 && c < 0x80 && c != '"' && c != '\\')) {
            *o++ = (char)c;
            continue;
        }
        if (c >= 0x80) {
            /* valid UTF-8 is copied; each byte of anything else becomes
             * U+FFFD (as Go's encoding/json writes it), so the text is
             * valid JSON whatever bytes a label holds */
            size_t k = utf8_seq_len((const unsigned char *)s + i, n - i);
            if (k) {
                memcpy(o, s + i, k);
                o += k;
                i += k - 1;
            } else {
                memcpy(o, "\\ufffd", 6);
                o += 6;
            }
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex_digits[c >> 4];
            *o++ = hex_digits[c & 15];
            break;
        }
    }
    *o++ = '"';
    return (size_t)(o - out);
}

/* ------------------------------------------------------------ strata.h */

size_t strata_format_int64(int64_t v, char *out)
{
    return fmt_int64(v, out);
}

size_t strata_json_quote(const char *s, size_t n, char *out)
{
    return fmt_json_quote(s, n, out);
}

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
