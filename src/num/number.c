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
 * Printing (double -> shortest text) is Raffaello Giulietti's Schubfach
 * ("The Schubfach way to render doubles", 2020; the algorithm of Java 19's
 * Double.toString), in integers only:
 *  1. v = c 2^q; the reals that read back as v form an interval R_v
 *     (its ends included when c is even: strtod rounds ties to even);
 *  2. with k = floor(log10(2^q)), R_v holds at least one multiple of 10^k
 *     and at most one of 10^(k+1); v 10^-k and the ends of R_v scaled the
 *     same way come from three 64 x 126-bit products with g(k) ~ 10^-k
 *     (pow10_table.c), rounded to odd so that comparing them with the
 *     candidates is exact;
 *  3. the multiple of 10^(k+1) in R_v if there is one, else whichever of
 *     s 10^k and (s + 1) 10^k, s = floor(v 10^-k), is in R_v, the closer
 *     to v if both are (the even one on a tie): the fewest digits, and the
 *     closest among those, as JavaScript's Number.toString and Python's
 *     repr choose;
 *  4. trailing zeros go, and the digits are laid out JavaScript style.
 * Integers below 2^53 skip the core (they are their own shortest form) and
 * the two least subnormals, where R_v is too wide for step 2, are fixed.
 */
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/base.h"
#include "num_int.h"

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

/* Eisel-Lemire for w > 0, q in [NUM_POW5_MIN, NUM_POW5_MAX]. Returns 1 and
 * sets *bits (without sign) on success, 0 when it cannot decide, -1 when
 * the result is infinite. */
static int eisel_lemire(uint64_t w, int64_t q, uint64_t *bits)
{
    int lz = __builtin_clzll(w);
    w <<= lz;
    size_t idx = (size_t)(q - NUM_POW5_MIN) * 2;
    unsigned __int128 first = (unsigned __int128)w * num_pow5_128[idx];
    uint64_t hi = (uint64_t)(first >> 64), lo = (uint64_t)first;
    /* 55 bits of precision are needed (52 + hidden + round + sticky): when
     * the bits below them in hi are all ones, a carry from the product
     * with the low word of the power could change them. */
    if ((hi & 0x1FF) == 0x1FF) {
        unsigned __int128 second = (unsigned __int128)w * num_pow5_128[idx + 1];
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
    int64_t p2 = num_floor_div(217706 * q, 65536) + 63 + upper - lz + 1023;
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

int num_dec_to_double(uint64_t w, int64_t q, int neg, double *out)
{
    uint64_t sign = neg ? (uint64_t)1 << 63 : 0;
    if (w == 0 || q < NUM_POW5_MIN) {
        /* w < 2^64 < 10^20, so w * 10^q < 10^-322... rounds to zero only
         * below 2.47e-324; w * 10^-343 < 1.9e-324 does. */
        *out = make_double(sign);
        return 0;
    }
    if (q > NUM_POW5_MAX) {
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

const char *num_scan_double(const char *s, const char *end, int allow_plus, double *out)
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
    num_dec_to_double(w, q, neg, out);
    return p;
}

int num_parse_double(const char *s, size_t len, double *out)
{
    const char *end = s + len;
    double v;
    const char *p = num_scan_double(s, end, 1, &v);
    if (!p || p != end || isinf(v))
        return STRATA_ERR_INVALID;
    *out = v;
    return STRATA_OK;
}

/* ------------------------------------------------------------ double -> shortest text */

/* floor(x / 2^n) for any sign (>> of a negative value is implementation
 * defined in C; this compiles to an arithmetic shift). */
static inline int floor_shift(int64_t x, int n) { return (int)(x >= 0 ? x >> n : ~(~x >> n)); }

/* floor(log10(2^e)), floor(log10(3/4 * 2^e)) and floor(log2(10^e)) by
 * fixed-point multiplication, exact for |e| far beyond the double range
 * (the constants are floor(log10(2) 2^41), floor(log10(3/4) 2^41) and
 * floor(log2(10) 2^38); section 6 of the paper). */
static inline int flog10_pow2(int e) { return floor_shift((int64_t)e * 661971961083, 41); }
static inline int flog10_34pow2(int e) { return floor_shift((int64_t)e * 661971961083 - 274743187321, 41); }
static inline int flog2_pow10(int e) { return floor_shift((int64_t)e * 913124641741, 38); }

/* rop(g cp 2^-127), g = g1 2^63 + g0: the product rounded to odd, i.e.
 * its floor with the lowest bit set when a fraction was dropped. The low
 * 64 bits of g0 * cp and the lowest bit of g1 * cp are left out; the paper
 * (section 9.9, figure 8) proves the result is still exact enough. */
static inline uint64_t rop(uint64_t g1, uint64_t g0, uint64_t cp)
{
    unsigned __int128 x = (unsigned __int128)g0 * cp;
    unsigned __int128 y = (unsigned __int128)g1 * cp;
    uint64_t x1 = (uint64_t)(x >> 64);
    uint64_t y0 = (uint64_t)y, y1 = (uint64_t)(y >> 64);
    uint64_t z = (y0 >> 1) + x1; /* < 2^63 + 2^62: no overflow */
    uint64_t vbp = y1 + (z >> 63);
    const uint64_t mask63 = ((uint64_t)1 << 63) - 1;
    return vbp | (((z & mask63) + mask63) >> 63);
}

/* The Schubfach core for v = c 2^q (c > 0, q >= -1074; c >= 3 when q is
 * -1074): sets *f, *e so that f 10^e is the decimal of fewest digits in
 * the rounding interval R_v of v (the reals that read back as v, its ends
 * included when c is even, as strtod rounds ties to even), and among those
 * the closest to v, the even one on a tie. f may end in zeros. */
static inline void schubfach(uint64_t c, int q, uint64_t *f, int *e)
{
    /* Work in units of a quarter of 2^q: cb = 4c is v, cbl and cbr the
     * ends of R_v. Below a power of two (c = 2^52, not the least exponent)
     * the lower neighbour is half as far, so is the lower end. */
    uint64_t out = c & 1; /* 1: the ends are excluded */
    uint64_t cb = c << 2, cbr = cb + 2, cbl;
    int k;
    if (c != ((uint64_t)1 << 52) || q == -1074) {
        cbl = cb - 2;
        k = flog10_pow2(q);
    } else {
        cbl = cb - 1;
        k = flog10_34pow2(q);
    }
    /* 10^k <= 2^q (or 3/4 2^q): R_v is at least 10^k wide, so it holds a
     * multiple of 10^k, and less than 10^(k+1), so it holds at most one
     * multiple of 10^(k+1). vb, vbl, vbr are 4 v 10^-k and the ends, each
     * rounded to odd, which keeps every comparison below exact. */
    int h = q + flog2_pow10(-k) + 2; /* in [1, 4] */
    size_t gi = (size_t)(k - NUM_POW10_KMIN) * 2;
    uint64_t g1 = num_pow10_g[gi], g0 = num_pow10_g[gi + 1];
    uint64_t vb = rop(g1, g0, cb << h);
    uint64_t vbl = rop(g1, g0, cbl << h);
    uint64_t vbr = rop(g1, g0, cbr << h);
    uint64_t s = vb >> 2; /* floor(v 10^-k) */
    if (s >= 10) {
        /* The multiples of 10^(k+1) around v: when exactly one is in R_v
         * it is the unique shortest. (Java's Double.toString only tries
         * this for s >= 100, to give at least two digits; JavaScript and
         * we want one digit when one digit reads back.) */
        uint64_t sp10 = s / 10 * 10, tp10 = sp10 + 10;
        int upin = vbl + out <= sp10 << 2;
        int wpin = (tp10 << 2) + out <= vbr;
        if (upin != wpin) {
            *f = upin ? sp10 : tp10;
            *e = k;
            return;
        }
    }
    /* Otherwise the shortest are multiples of 10^k; s and t = s + 1
     * bracket v, and at least one of them is in R_v. */
    uint64_t t = s + 1;
    int uin = vbl + out <= s << 2;
    int win = (t << 2) + out <= vbr;
    if (uin != win) {
        *f = uin ? s : t;
    } else {
        /* Both: the closer, the even one on a tie (vb - 2(s + t) has the
         * sign of v - (s + t) / 2 10^k, vb being rounded to odd). */
        int64_t cmp = (int64_t)(vb - ((s + t) << 1));
        *f = cmp < 0 || (cmp == 0 && (s & 1) == 0) ? s : t;
    }
    *e = k;
}

static const uint64_t pow10_tab[18] = {1ull,
                                       10ull,
                                       100ull,
                                       1000ull,
                                       10000ull,
                                       100000ull,
                                       1000000ull,
                                       10000000ull,
                                       100000000ull,
                                       1000000000ull,
                                       10000000000ull,
                                       100000000000ull,
                                       1000000000000ull,
                                       10000000000000ull,
                                       100000000000000ull,
                                       1000000000000000ull,
                                       10000000000000000ull,
                                       100000000000000000ull};

/* The 8 decimal digits of r < 10^8 as byte values 0..9, the first in the
 * lowest byte (a little-endian store writes them in order). Divisions in
 * parallel lanes: r = a 10^4 + b into two 32-bit lanes, each into two
 * 16-bit lanes by 100 (x / 100 = x 10486 >> 20 for x < 10^4), each into two
 * bytes by 10 (x / 10 = x 103 >> 10 for x < 100); no lane overflows into
 * the next, and the masks drop what the shifts bring down from above. */
static inline uint64_t digits8(uint32_t r)
{
    uint64_t x = (r / 10000) | ((uint64_t)(r % 10000) << 32);
    uint64_t hi = ((x * 10486) >> 20) & 0x0000007F0000007Full;
    uint64_t y = hi | ((x - hi * 100) << 16);
    uint64_t t = ((y * 103) >> 10) & 0x000F000F000F000Full;
    return t | ((y - t * 10) << 8);
}

static inline void store64(char *p, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, 8);
}

/* Trailing zero digits of a digits8 word (the high bytes that are 0). */
static inline int zero_digits8(uint64_t z) { return z ? __builtin_clzll(z) >> 3 : 8; }

/* Writes f 10^e (0 < f < 10^17) like JavaScript's Number.toString: with
 * d the significant digits and k the exponent of the first, plain
 * "ddd000" for 0 <= k < 21, "dd.dd" when the point falls inside the
 * digits, "0.000ddd" for -7 < k < 0, otherwise "d.ddde+k" / "d.ddde-k".
 * Works in a scratch buffer with fixed-size copies (no per-digit loop and
 * no variable-length memmove); returns the length from buf (o is buf or
 * buf + 1 after a sign). buf must hold 48 bytes. */
static inline size_t put_decimal(char *buf, char *o, uint64_t f, int e)
{
    /* len = the digits of f; f scaled to 17 digits d[0..17) */
    int bits = 64 - __builtin_clzll(f);
    int len = (bits * 1233) >> 12; /* floor(log10(2^bits)), then exact: */
    len += f >= pow10_tab[len];
    f *= pow10_tab[17 - len];
    uint64_t hm = f / 100000000;
    uint32_t l = (uint32_t)(f - hm * 100000000);
    uint32_t h = (uint32_t)(hm / 100000000);
    uint32_t m = (uint32_t)(hm - (uint64_t)h * 100000000);
    uint64_t zm = digits8(m), zl = digits8(l);
    int n = 17 - (zl ? zero_digits8(zl) : 8 + zero_digits8(zm)); /* significant */
    char d[32]; /* d[0..17) the digits, then '0' */
    const uint64_t zeros = 0x3030303030303030ull;
    d[0] = (char)('0' + h);
    store64(d + 1, zm + zeros);
    store64(d + 9, zl + zeros);
    memcpy(d + 17, "000000000000000", 15);
    int k = len - 1 + e;
    if (k >= 0 && k < 21) {
        if (n <= k + 1) {
            /* integer: d[0..k] (the 0 <= k - 16 last from the padding) */
            memcpy(o, d, 16);
            memcpy(o + 16, d + 16, 8);
            o += k + 1;
        } else {
            /* k < n - 1 <= 16: d[0..k], '.', d[k+1..n) */
            memcpy(o, d, 16);
            memcpy(o + k + 2, d + k + 1, 16);
            o[k + 1] = '.';
            o += n + 1;
        }
    } else if (k < 0 && k >= -6) {
        memcpy(o, "0.000000", 8);
        memcpy(o + 1 - k, d, 16);
        memcpy(o + 17 - k, d + 16, 8);
        o += 1 - k + n;
    } else {
        o[0] = d[0];
        o[1] = '.';
        memcpy(o + 2, d + 1, 16);
        o += n > 1 ? n + 1 : 1;
        unsigned a = (unsigned)(k < 0 ? -k : k); /* 7..324 */
        o[0] = 'e';
        o[1] = k < 0 ? '-' : '+';
        if (a >= 100) {
            o[2] = (char)('0' + a / 100);
            a %= 100;
            o[3] = (char)('0' + a / 10);
            o[4] = (char)('0' + a % 10);
            o += 5;
        } else if (a >= 10) {
            o[2] = (char)('0' + a / 10);
            o[3] = (char)('0' + a % 10);
            o += 4;
        } else {
            o[2] = (char)('0' + a);
            o += 3;
        }
    }
    return (size_t)(o - buf);
}

size_t num_format_double(double v, char *out)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    uint64_t t = bits & (((uint64_t)1 << 52) - 1);
    unsigned bq = (unsigned)(bits >> 52) & 0x7FF;
    if (bq == 0x7FF) {
        if (t) {
            memcpy(out, "NaN", 3);
            return 3;
        }
        memcpy(out, bits >> 63 ? "-Inf" : "+Inf", 4);
        return 4;
    }
    uint64_t f = 0, c = t;
    int e = 0, q = -1074;
    if (bq != 0) {
        c = t | ((uint64_t)1 << 52);
        q = (int)bq - 1075;
        /* Integers below 2^53 are their own shortest form: the neighbours
         * are at most 1 away, so no other decimal with fewer digits reads
         * back. Most metric values in practice. */
        if (q <= 0 && q > -53 && (c & ((((uint64_t)1 << -q)) - 1)) == 0)
            f = c >> -q;
    } else if (t == 0) {
        if (bits >> 63) {
            memcpy(out, "-0", 2);
            return 2;
        }
        out[0] = '0';
        return 1;
    } else if (t < 3) {
        /* 2^-1074 and 2^-1073: R_v is wider than 10^(k+1) here, which the
         * core does not handle; their one-digit forms, checked by tests. */
        f = t == 1 ? 5 : 1;
        e = t == 1 ? -324 : -323;
    }
    if (!f)
        schubfach(c, q, &f, &e);
    /* The longest text is 25 bytes ("-0.000000" and 17 digits); the
     * fixed-size copies of put_decimal reach 34. Only the n bytes of the
     * text go to out, by two overlapping copies of a fixed size. */
    char buf[48];
    buf[0] = '-';
    size_t n = put_decimal(buf, buf + (bits >> 63), f, e);
    if (n >= 16) {
        memcpy(out, buf, 16);
        memcpy(out + n - 16, buf + n - 16, 16);
    } else if (n >= 8) {
        memcpy(out, buf, 8);
        memcpy(out + n - 8, buf + n - 8, 8);
    } else if (n >= 4) {
        memcpy(out, buf, 4);
        memcpy(out + n - 4, buf + n - 4, 4);
    } else {
        for (size_t i = 0; i < n; i++)
            out[i] = buf[i];
    }
    return n;
}
