/*
 * format_int.h: what the files of the format layer share and nobody else
 * needs: the power tables of the Eisel-Lemire and Schubfach conversions and the
 * exact decimal -> double core that the line-protocol, JSON and time
 * parsers build on.
 */
#ifndef STRATA_FORMAT_INT_H
#define STRATA_FORMAT_INT_H

#include <stdint.h>
#include <stddef.h>

/* 128-bit approximations of 5^q, q = FMT_POW5_MIN..FMT_POW5_MAX, two words
 * (high, low) each; see gen_pow5.py. */
#define FMT_POW5_MIN (-342)
#define FMT_POW5_MAX 308
#define FMT_POW5_COUNT (FMT_POW5_MAX - FMT_POW5_MIN + 1)
extern const uint64_t fmt_pow5_128[FMT_POW5_COUNT * 2];

/* g(k), the 126-bit over-approximations of 10^-k that the Schubfach
 * printing of number.c multiplies by, k = FMT_POW10_KMIN..FMT_POW10_KMAX,
 * two 63-bit words (g >> 63, g mod 2^63) each; see gen_pow10.py. */
#define FMT_POW10_KMIN (-324)
#define FMT_POW10_KMAX 292
#define FMT_POW10_COUNT (FMT_POW10_KMAX - FMT_POW10_KMIN + 1)
extern const uint64_t fmt_pow10_g[FMT_POW10_COUNT * 2];

/* The value of w * 10^q (w > 0 exact, q any), negated when neg, rounded to
 * nearest even as strtod does. Returns 0 with *out set, 1 when the result
 * overflows to infinity (*out = +-inf). Always succeeds: the fast paths
 * handle nearly every input, the rest goes through strtod. */
int fmt_dec_to_double(uint64_t w, int64_t q, int neg, double *out);

/* Scans a decimal float at [s, end) (optional '-' or '+' when allow_plus,
 * digits, fraction, exponent) and stops at the first byte that cannot
 * continue it. Returns the end of the number, or NULL when no number
 * starts at s. *out gets the value (infinite on overflow: the caller
 * decides whether that is an error). */
const char *fmt_scan_double(const char *s, const char *end, int allow_plus, double *out);

/* Floor division for ms conversions (d > 0). */
static inline int64_t fmt_floor_div(int64_t a, int64_t d)
{
    int64_t q = a / d;
    return (a % d != 0 && a < 0) ? q - 1 : q;
}

/* Test hook of lp.c: which path lp_parse_line takes. LP_IMPL_REF: the
 * reference parser alone; the others: the fast path (declining to the
 * reference) with the structural scan of that kind: portable SWAR, SSE2,
 * AVX2, or the best the CPU has (the default). Returns STRATA_ERR_INVALID
 * when this build or CPU lacks it. */
enum { LP_IMPL_BEST = 0, LP_IMPL_REF = 1, LP_IMPL_SWAR = 2, LP_IMPL_SSE2 = 3, LP_IMPL_AVX2 = 4 };
struct lp_parser;
int lp_parser_set_impl(struct lp_parser *p, int impl);

#endif /* STRATA_FORMAT_INT_H */
