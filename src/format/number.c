/*
 * number.c: decimal text <-> double, exactly.
 *
 * Parsing (text -> double) is on the ingest hot path, so it avoids strtod
 * for the common case and is still bit-exact to it:
 *  1. the digits are gathered into an integer w (at most 19 significant
 *     digits) and a power of ten q, so the value is w * 10^q;
 *  2. Clinger's fast path: when w <= 2^53 and |q| <= 22 both w and 10^|q|
 *     are exact doubles and one IEEE multiply or divide rounds correctly;
 *  3. otherwise the Eisel-Lemire algorithm: w normalised times a 128-bit
 *     approximation of 5^q gives the 54 top bits of the result and enough
 *     of the rest to know they are right; in the few cases it cannot
 *     decide (and for subnormals, to keep this code small) it declines;
 *  4. what is left (more than 19 significant digits, declined cases) goes
 *     to strtod_l in the C locale on a bounded copy of the text.
 *
 * Printing (double -> shortest text) finds the least number of significant
 * digits n whose correctly rounded decimal reads back to the same bits
 * (this property is monotone in n, so a binary search over 1..17). For
 * magnitudes in [1e-11, 1e28) the candidate digits come from an 80-bit
 * long double product v * 10^s, which is within 0.01 of the exact value,
 * and each candidate is checked with the exact parser above; elsewhere (or
 * without an x87 long double) it uses snprintf("%.*e") and strtod.
 */
#include <errno.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "format/format.h"
#include "format/format_int.h"

/* ------------------------------------------------------------ strtod in the C locale */

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void c_locale_init(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

/* strtod of [s, s+len) (a syntactically valid decimal) in the C locale. */
static double strtod_bounded(const char *s, size_t len)
{
    char small[128];
    char *buf = small;
    if (len >= sizeof small) {
        buf = base_malloc(len + 1);
        if (!buf) {
            /* Cannot copy: fall back to the longest prefix that fits,
             * which is still a valid decimal but may lose digits beyond
             * the 126th; only reachable under memory exhaustion. */
            buf = small;
            len = sizeof small - 1;
        }
    }
    memcpy(buf, s, len);
    buf[len] = 0;
    pthread_once(&c_locale_once, c_locale_init);
    double v = c_locale ? strtod_l(buf, NULL, c_locale) : strtod(buf, NULL);
    if (buf != small)
        base_free(buf);
    return v;
}

/* ------------------------------------------------------------ decimal -> double */

static const double exact_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                       1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static double make_double(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, 8);
    return d;
}

/* Eisel-Lemire for w > 0, q in [FMT_POW5_MIN, FMT_POW5_MAX]. Returns 1 and
 * sets *bits (without sign) on success, 0 when it cannot decide, -1 when
 * the result is infinite. */
static int eisel_lemire(uint64_t w, int64_t q, uint64_t *bits)
{
    int lz = __builtin_clzll(w);
    w <<= lz;
    size_t idx = (size_t)(q - FMT_POW5_MIN) * 2;
    unsigned __int128 first = (unsigned __int128)w * fmt_pow5_128[idx];
    uint64_t hi = (uint64_t)(first >> 64), lo = (uint64_t)first;
    /* 55 bits of precision are needed (52 + hidden + round + sticky): when
     * the bits below them in hi are all ones, a carry from the product
     * with the low word of the power could change them. */
    if ((hi & 0x1FF) == 0x1FF) {
        unsigned __int128 second = (unsigned __int128)w * fmt_pow5_128[idx + 1];
        uint64_t sh = (uint64_t)(second >> 64);
        lo += sh;
        if (sh > lo)
            hi++;
    }
    /* Conservative check of the original paper: the truncated power
     * might hide a carry that decides the rounding. */
    if (lo == UINT64_MAX && (q < -27 || q > 55))
        return 0;
    int upper = (int)(hi >> 63);
    int shift = upper + 9;
    uint64_t m = hi >> shift;
    /* floor(q * log2(10)) + 63 + bias, as (217706 * q) >> 16 for |q| < 1e4 */
    int64_t p2 = fmt_floor_div(217706 * q, 65536) + 63 + upper - lz + 1023;
    if (p2 <= 0)
        return 0; /* subnormal or zero: strtod settles it */
    /* A tie between two doubles can only happen for small q; round to even. */
    if (lo <= 1 && q >= -4 && q <= 23 && (m & 3) == 1 && (m << shift) == hi)
        m &= ~(uint64_t)1;
    m += m & 1;
    m >>= 1;
    if (m >= ((uint64_t)2 << 52)) {
        m = (uint64_t)1 << 52;
        p2++;
    }
    m &= ~((uint64_t)1 << 52);
    if (p2 >= 0x7FF)
        return -1;
    *bits = m | ((uint64_t)p2 << 52);
    return 1;
}

int fmt_dec_to_double(uint64_t w, int64_t q, int neg, double *out)
{
    uint64_t sign = neg ? (uint64_t)1 << 63 : 0;
    if (w == 0 || q < FMT_POW5_MIN) {
        /* w < 2^64 < 10^20, so w * 10^q < 10^-322... rounds to zero only
         * below 2.47e-324; w * 10^-343 < 1.9e-324 does. */
        *out = make_double(sign);
        return 0;
    }
    if (q > FMT_POW5_MAX) {
        *out = neg ? -HUGE_VAL : HUGE_VAL;
        return 1;
    }
    if (w <= ((uint64_t)1 << 53) && q >= -22 && q <= 22) {
        double d = (double)w;
        d = q < 0 ? d / exact_pow10[-q] : d * exact_pow10[q];
        *out = neg ? -d : d;
        return 0;
    }
    uint64_t bits;
    int r = eisel_lemire(w, q, &bits);
    if (r == 1) {
        *out = make_double(bits | sign);
        return 0;
    }
    if (r < 0) {
        *out = neg ? -HUGE_VAL : HUGE_VAL;
        return 1;
    }
    char buf[48];
    int n = snprintf(buf, sizeof buf, "%s%llue%lld", neg ? "-" : "", (unsigned long long)w, (long long)q);
    double d = strtod_bounded(buf, (size_t)n);
    *out = d;
    return isinf(d) ? 1 : 0;
}

static inline int is_digit(unsigned char c) { return (unsigned)(c - '0') < 10; }

/* Eight ASCII digits at once (little-endian load, first digit in the
 * lowest byte): the conversion of the simdjson / fast_float libraries. */
static inline uint32_t parse_8digits(uint64_t v)
{
    const uint64_t mask = 0x000000FF000000FFull;
    const uint64_t mul1 = 0x000F424000000064ull; /* 100 + (1000000 << 32) */
    const uint64_t mul2 = 0x0000271000000001ull; /* 1 + (10000 << 32) */
    v -= 0x3030303030303030ull;
    v = (v * 10) + (v >> 8);
    v = (((v & mask) * mul1) + (((v >> 16) & mask) * mul2)) >> 32;
    return (uint32_t)v;
}

static const uint64_t pow10_u64[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

/* Adds the run of digits at p to *w, up to 8 at a time, while at least 8
 * bytes remain and *nd stays within 19 digits; returns the position after
 * the digits taken (the scalar loop does the rest). A byte is a digit when
 * (byte ^ '0') < 10; the flag of the first non-digit is exact because
 * carries only move toward later bytes. */
static inline const char *digits_fast(const char *p, const char *end, uint64_t *w, int *nd)
{
    while (end - p >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        uint64_t x = v ^ 0x3030303030303030ull;
        uint64_t nondig = ((x + 0x7676767676767676ull) | x) & 0x8080808080808080ull;
        int n = nondig ? __builtin_ctzll(nondig) >> 3 : 8;
        if (n == 0 || *nd + n > 19)
            break;
        uint64_t t = n == 8 ? v : (v << (8 - n) * 8) | (0x3030303030303030ull >> (n * 8));
        *w = *w * pow10_u64[n] + parse_8digits(t);
        *nd += n;
        p += n;
        if (n < 8)
            break;
    }
    return p;
}

const char *fmt_scan_double(const char *s, const char *end, int allow_plus, double *out)
{
    const char *p = s;
    int neg = 0;
    if (p < end && (*p == '-' || (allow_plus && *p == '+'))) {
        neg = *p == '-';
        p++;
    }
    uint64_t w = 0;
    int nd = 0;            /* significant digits in w */
    int64_t q = 0;         /* power of ten of w's last digit */
    int trunc = 0;         /* a nonzero digit did not fit in w */
    const char *digits = p;
    while (p < end && *p == '0')
        p++;
    p = digits_fast(p, end, &w, &nd);
    while (p < end && is_digit((unsigned char)*p)) {
        if (nd < 19) {
            w = w * 10 + (uint64_t)(*p - '0');
            nd++;
        } else {
            q++;
            trunc |= *p != '0';
        }
        p++;
    }
    int any = p > digits;
    if (p < end && *p == '.') {
        p++;
        const char *frac = p;
        if (nd == 0) {
            while (p < end && *p == '0') {
                p++;
                q--;
            }
        }
        {
            int nd0 = nd;
            p = digits_fast(p, end, &w, &nd);
            q -= nd - nd0;
        }
        while (p < end && is_digit((unsigned char)*p)) {
            if (nd < 19) {
                w = w * 10 + (uint64_t)(*p - '0');
                nd++;
                q--;
            } else {
                trunc |= *p != '0';
            }
            p++;
        }
        any |= p > frac;
    }
    if (!any)
        return NULL;
    if (p < end && (*p == 'e' || *p == 'E')) {
        const char *e = p + 1;
        int eneg = 0;
        if (e < end && (*e == '-' || *e == '+')) {
            eneg = *e == '-';
            e++;
        }
        if (e < end && is_digit((unsigned char)*e)) {
            int64_t ev = 0;
            while (e < end && is_digit((unsigned char)*e)) {
                if (ev < 100000000) /* saturate: far past any double's range */
                    ev = ev * 10 + (*e - '0');
                e++;
            }
            q += eneg ? -ev : ev;
            p = e;
        }
        /* "1e" or "1e+" without digits: strtod stops before the 'e'. */
    }
    if (trunc) {
        *out = strtod_bounded(s, (size_t)(p - s));
        return p;
    }
    fmt_dec_to_double(w, q, neg, out);
    return p;
}

int fmt_parse_double(const char *s, size_t len, double *out)
{
    const char *end = s + len;
    double v;
    const char *p = fmt_scan_double(s, end, 1, &v);
    if (!p || p != end || isinf(v))
        return STRATA_ERR_INVALID;
    *out = v;
    return STRATA_OK;
}

/* ------------------------------------------------------------ double -> shortest text */

/* Writes the decimal with digits d[0..n) (no trailing zeros, d[0] != '0')
 * and value d[0].d[1..] * 10^k, like JavaScript's Number.toString. */
static size_t emit_decimal(char *out, int neg, const char *d, int n, int k)
{
    char *o = out;
    if (neg)
        *o++ = '-';
    if (k >= 0 && k < 21) {
        if (n <= k + 1) {
            memcpy(o, d, (size_t)n);
            o += n;
            for (int i = n; i <= k; i++)
                *o++ = '0';
        } else {
            memcpy(o, d, (size_t)k + 1);
            o += k + 1;
            *o++ = '.';
            memcpy(o, d + k + 1, (size_t)(n - k - 1));
            o += n - k - 1;
        }
    } else if (k < 0 && k >= -6) {
        *o++ = '0';
        *o++ = '.';
        for (int i = -1; i > k; i--)
            *o++ = '0';
        memcpy(o, d, (size_t)n);
        o += n;
    } else {
        *o++ = d[0];
        if (n > 1) {
            *o++ = '.';
            memcpy(o, d + 1, (size_t)n - 1);
            o += n - 1;
        }
        *o++ = 'e';
        *o++ = k < 0 ? '-' : '+';
        int a = k < 0 ? -k : k;
        char t[4];
        int tn = 0;
        do {
            t[tn++] = (char)('0' + a % 10);
            a /= 10;
        } while (a);
        while (tn)
            *o++ = t[--tn];
    }
    return (size_t)(o - out);
}

/* Digits of m (> 0) into d without trailing zeros; *n digits, and the
 * number of digits m had (before stripping) as the return value. */
static int u64_digits(uint64_t m, char *d, int *n)
{
    char t[24];
    int tn = 0;
    while (m) {
        t[tn++] = (char)('0' + m % 10);
        m /= 10;
    }
    int total = tn, skip = 0;
    while (skip < tn && t[skip] == '0')
        skip++;
    int k = 0;
    for (int i = tn - 1; i >= skip; i--)
        d[k++] = t[i];
    *n = k;
    return total;
}

#if LDBL_MANT_DIG >= 64
static const long double ld_pow10[28] = {1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
                                         1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
                                         1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};

static int roundtrips(uint64_t m, int64_t q, double a)
{
    double back;
    if (fmt_dec_to_double(m, q, 0, &back) != 0)
        return 0;
    return back == a;
}

/* For a in [1e-11, 1e28): the least-digit m with m * 10^-s == a, where
 * a = d.ddd * 10^k. Returns 1 with *m_out, *s_out, or 0 to fall back. */
static int shortest_ld(double a, int k, uint64_t *m_out, int *s_out)
{
    long double al = a;
    int lo = 1, hi = 17;
    uint64_t best_m = 0;
    int best_s = 0;
    while (lo <= hi) {
        int n = (lo + hi) / 2;
        int s = n - 1 - k;
        if (s > 27 || s < -27)
            return 0;
        long double p = s >= 0 ? al * ld_pow10[s] : al / ld_pow10[-s];
        /* p + 0.5 is exact in a 64-bit mantissa for p < 2^62, and the
         * truncation then rounds half up, faster than libm's roundl */
        if (!(p >= 0.5L && p < 1e18L))
            return 0;
        uint64_t c = (uint64_t)(p + 0.5L);
        long double r = (long double)c;
        uint64_t other = p > r ? c + 1 : c - 1;
        uint64_t found = 0;
        if (roundtrips(c, -s, a))
            found = c;
        else if (other > 0 && roundtrips(other, -s, a))
            found = other;
        if (found) {
            best_m = found;
            best_s = s;
            hi = n - 1;
        } else {
            lo = n + 1;
        }
    }
    if (!best_m)
        return 0;
    *m_out = best_m;
    *s_out = best_s;
    return 1;
}
#endif

/* Slow path: %.{n-1}e for the least n that reads back. */
static size_t shortest_printf(double a, int neg, char *out)
{
    char buf[40];
    int lo = 1, hi = 17, best = 17;
    while (lo <= hi) {
        int n = (lo + hi) / 2;
        int len = snprintf(buf, sizeof buf, "%.*e", n - 1, a);
        if (strtod_bounded(buf, (size_t)len) == a) {
            best = n;
            hi = n - 1;
        } else {
            lo = n + 1;
        }
    }
    snprintf(buf, sizeof buf, "%.*e", best - 1, a);
    /* buf = d[.ddd]e[+-]xx */
    char d[24];
    int n = 0;
    const char *p = buf;
    while (*p && *p != 'e') {
        if (*p != '.')
            d[n++] = *p;
        p++;
    }
    while (n > 1 && d[n - 1] == '0')
        n--;
    int k = atoi(p + 1);
    return emit_decimal(out, neg, d, n, k);
}

size_t fmt_format_double(double v, char *out)
{
    if (isnan(v)) {
        memcpy(out, "NaN", 3);
        return 3;
    }
    if (isinf(v)) {
        memcpy(out, v < 0 ? "-Inf" : "+Inf", 4);
        return 4;
    }
    int neg = signbit(v) != 0;
    double a = fabs(v);
    char d[24];
    int n;
    if (a == 0) {
        memcpy(out, neg ? "-0" : "0", (size_t)(neg + 1));
        return (size_t)(neg + 1);
    }
    if (a < 9007199254740992.0 && a == (double)(uint64_t)a) {
        uint64_t m = (uint64_t)a;
        int total = u64_digits(m, d, &n);
        return emit_decimal(out, neg, d, n, total - 1);
    }
#if LDBL_MANT_DIG >= 64
    if (a >= 1e-11 && a < 1e28) {
        /* k = floor(log10(a)), corrected where log10 rounds across a power of ten. */
        int k = (int)floor(log10(a));
        if (k + 1 <= 27 && k + 1 >= -27 && (long double)a >= (k + 1 >= 0 ? ld_pow10[k + 1] : 1.0L / ld_pow10[-(k + 1)]))
            k++;
        uint64_t m;
        int s;
        if (shortest_ld(a, k, &m, &s)) {
            int total = u64_digits(m, d, &n);
            return emit_decimal(out, neg, d, n, total - 1 - s);
        }
    }
#endif
    return shortest_printf(a, neg, out);
}
