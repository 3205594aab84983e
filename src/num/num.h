/*
 * num.h: the number layer, exact conversions between decimal text and
 * doubles, used by every parser and printer of text (line protocol, JSON,
 * times, PromQL, the HTTP answers). A leaf: it uses nothing but libc.
 *
 *   parsing   bit-exact to strtod in the C locale (round to nearest even):
 *             Clinger's fast path, Eisel-Lemire with 128-bit powers of
 *             five, strtod for the rare rest
 *   printing  the shortest form that reads back to the same bits
 *             (Schubfach, integer arithmetic only)
 */
#ifndef STRATA_NUM_H
#define STRATA_NUM_H

#include <stddef.h>
#include <stdint.h>

#include "strata.h"

/* Parses the whole of [s, s+len) as a decimal float (optional sign, digits,
 * optional fraction, optional exponent; no hex, inf or nan, no blanks), the
 * result bit-exact to strtod in the C locale. Overflow to infinity is
 * STRATA_ERR_INVALID; underflow gives the subnormal or zero strtod gives. */
int num_parse_double(const char *s, size_t len, double *out);

/* Maximum bytes num_format_double writes (no NUL is written). */
#define NUM_DOUBLE_MAX 32

/* Writes v in the shortest decimal form that reads back (strtod) to the
 * same bits: integers plainly ("2", "-0"), otherwise like JavaScript's
 * Number.toString ("1.5", "0.001", "1e-7", "1.5e+300"); NaN as "NaN",
 * infinities "+Inf" / "-Inf". Returns the length written into out, which
 * must hold NUM_DOUBLE_MAX bytes. */
size_t num_format_double(double v, char *out);

/* The value of w * 10^q (w > 0 exact, q any), negated when neg, rounded to
 * nearest even as strtod does. Returns 0 with *out set, 1 when the result
 * overflows to infinity (*out = +-inf). Always succeeds: the fast paths
 * handle nearly every input, the rest goes through strtod. */
int num_dec_to_double(uint64_t w, int64_t q, int neg, double *out);

/* Scans a decimal float at [s, end) (optional '-' or '+' when allow_plus,
 * digits, fraction, exponent) and stops at the first byte that cannot
 * continue it. Returns the end of the number, or NULL when no number
 * starts at s. *out gets the value (infinite on overflow: the caller
 * decides whether that is an error). */
const char *num_scan_double(const char *s, const char *end, int allow_plus, double *out);

/* Floor division for ms conversions (d > 0). */
static inline int64_t num_floor_div(int64_t a, int64_t d)
{
    int64_t q = a / d;
    return (a % d != 0 && a < 0) ? q - 1 : q;
}

/* The proleptic Gregorian calendar over days since 1970-01-01 (Howard
 * Hinnant's algorithms: exact for every int64 day a millisecond time can
 * reach, no time_t or locale). m is 1..12, d 1..31. */
int64_t num_days_from_civil(int64_t y, unsigned m, unsigned d);
void num_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);
int num_is_leap(int64_t y);
unsigned num_days_in_month(int64_t y, unsigned m);

#endif /* STRATA_NUM_H */
