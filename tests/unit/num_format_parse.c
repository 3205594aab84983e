/* Printing doubles (num_format_double): JavaScript's forms, every output
 * reads back to the same bits, no decimal with fewer digits reads back,
 * and among those with as few digits it is the closest to the value (the
 * even one on a tie), proved with exact big-integer comparisons. Values:
 * every bit pattern, short decimals, integers, powers of two and of ten and
 * their neighbours, all small subnormals, the extremes. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ingest/ingest.h"
#include "export/export.h"
#include "testutil.h"

static double from_bits(uint64_t b)
{
    double d;
    memcpy(&d, &b, 8);
    return d;
}

static uint64_t to_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, 8);
    return b;
}

/* ---------------------------------------------------------------- big integers */

/* Non-negative integers of up to 96 32-bit words, little-endian: enough
 * for 2^58 10^308 2^1075 and 2^54 10^343. */
#define BN_WORDS 96
typedef struct {
    uint32_t w[BN_WORDS];
    int n; /* words in use */
} bn;

static void bn_set(bn *a, uint64_t v)
{
    a->w[0] = (uint32_t)v;
    a->w[1] = (uint32_t)(v >> 32);
    a->n = 2;
}

static void bn_mul(bn *a, uint32_t m)
{
    uint64_t carry = 0;
    for (int i = 0; i < a->n; i++) {
        uint64_t t = (uint64_t)a->w[i] * m + carry;
        a->w[i] = (uint32_t)t;
        carry = t >> 32;
    }
    if (carry) {
        assert_true(a->n < BN_WORDS);
        a->w[a->n++] = (uint32_t)carry;
    }
}

static void bn_mul_pow10(bn *a, int e)
{
    for (; e >= 9; e -= 9)
        bn_mul(a, 1000000000);
    for (; e > 0; e--)
        bn_mul(a, 10);
}

static void bn_shl(bn *a, int s)
{
    for (; s >= 31; s -= 31)
        bn_mul(a, (uint32_t)1 << 31);
    if (s)
        bn_mul(a, (uint32_t)1 << s);
}

static int bn_cmp(const bn *a, const bn *b)
{
    int n = a->n > b->n ? a->n : b->n;
    for (int i = n - 1; i >= 0; i--) {
        uint32_t x = i < a->n ? a->w[i] : 0, y = i < b->n ? b->w[i] : 0;
        if (x != y)
            return x < y ? -1 : 1;
    }
    return 0;
}

/* Sign of m 10^e - c 2^q, all exact. */
static int cmp_dec_bin(uint64_t m, int e, uint64_t c, int q)
{
    bn x, y;
    bn_set(&x, m);
    bn_set(&y, c);
    if (e >= 0)
        bn_mul_pow10(&x, e);
    else
        bn_mul_pow10(&y, -e);
    if (q >= 0)
        bn_shl(&y, q);
    else
        bn_shl(&x, -q);
    return bn_cmp(&x, &y);
}

/* ---------------------------------------------------------------- checks */

/* The digits of a printed decimal as d 10^e, d without trailing zeros. */
static void parse_text(const char *s, uint64_t *d, int *e)
{
    char dig[400];
    int n = 0, ex = 0, seen_point = 0;
    for (; *s && *s != 'e'; s++) {
        if (*s == '-')
            continue;
        if (*s == '.') {
            seen_point = 1;
            continue;
        }
        if (!(*s >= '0' && *s <= '9' && n < (int)sizeof dig))
            fail_msg("cannot parse '%s'", s);
        dig[n++] = *s;
        ex -= seen_point;
    }
    if (*s == 'e')
        ex += atoi(s + 1);
    while (n > 0 && dig[n - 1] == '0') {
        n--;
        ex++;
    }
    int i = 0;
    while (i < n && dig[i] == '0')
        i++;
    assert_true(n - i >= 1 && n - i <= 17);
    uint64_t m = 0;
    for (; i < n; i++)
        m = m * 10 + (uint64_t)(dig[i] - '0');
    *d = m;
    *e = ex;
}

static int reads_back(uint64_t m, int e, int neg, double v)
{
    char t[48];
    snprintf(t, sizeof t, "%s%llue%d", neg ? "-" : "", (unsigned long long)m, e);
    return to_bits(strtod(t, NULL)) == to_bits(v);
}

static int ndigits(uint64_t m)
{
    int n = 0;
    for (; m; m /= 10)
        n++;
    return n;
}

/* The layout JavaScript's Number.toString gives digits d 10^e. */
static void js_layout(uint64_t d, int e, int neg, char *out)
{
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)d);
    int k = n - 1 + e;
    char *o = out;
    if (neg)
        *o++ = '-';
    if (k >= 0 && k < 21) {
        for (int i = 0; i <= k || i < n; i++) {
            if (i == k + 1)
                *o++ = '.';
            *o++ = i < n ? digits[i] : '0';
        }
    } else if (k < 0 && k >= -6) {
        o += sprintf(o, "0.");
        for (int i = -1; i > k; i--)
            *o++ = '0';
        o += sprintf(o, "%s", digits);
    } else {
        *o++ = digits[0];
        if (n > 1)
            o += sprintf(o, ".%s", digits + 1);
        o += sprintf(o, "e%c%d", k < 0 ? '-' : '+', k < 0 ? -k : k);
    }
    *o = 0;
}

static void check_double(double v)
{
    if (!isfinite(v))
        return; /* generated out of range; NaN and infinities have their own test */
    char out[NUM_DOUBLE_MAX + 1];
    size_t len = num_format_double(v, out);
    assert_true(len > 0 && len <= NUM_DOUBLE_MAX);
    out[len] = 0;
    double back = strtod(out, NULL);
    if (to_bits(back) != to_bits(v))
        fail_msg("%a printed as '%s' reads back as %a", v, out, back);
    if (v == 0)
        return;
    uint64_t bits = to_bits(v);
    int neg = (int)(bits >> 63);
    uint64_t c = bits & (((uint64_t)1 << 52) - 1);
    int bq = (int)(bits >> 52) & 0x7FF;
    int q = bq ? bq - 1075 : -1074;
    if (bq)
        c |= (uint64_t)1 << 52;
    uint64_t d;
    int e;
    parse_text(out, &d, &e);
    /* the layout */
    char want[64];
    js_layout(d, e, neg, want);
    if (strcmp(out, want) != 0)
        fail_msg("%a printed as '%s', JavaScript lays it out '%s'", v, out, want);
    /* shortest: with one digit less, the two decimals around v (the
     * correctly rounded one and its neighbours) do not read back */
    int n = ndigits(d);
    if (n > 1) {
        char r[48];
        snprintf(r, sizeof r, "%.*e", n - 2, fabs(v));
        uint64_t m;
        int me;
        parse_text(r, &m, &me);
        /* m 10^me is v rounded to n - 1 digits (trailing zeros dropped) */
        for (uint64_t x = m > 1 ? m - 1 : m; x <= m + 1; x++)
            if (reads_back(x, me, neg, v))
                fail_msg("%a printed as '%s' but %llue%d (fewer digits) reads back", v, out, (unsigned long long)x, me);
    }
    /* closest: a neighbour with as many digits that reads back is not
     * closer; on a tie the last digit is even. 2v is compared with the
     * midpoints (2d +- 1) 10^e. */
    if (reads_back(d + 1, e, neg, v)) {
        int s = cmp_dec_bin(2 * d + 1, e, c, q + 1); /* mid - v */
        if (s < 0 || (s == 0 && (d & 1)))
            fail_msg("%a printed as '%s' but %llue%d is closer", v, out, (unsigned long long)(d + 1), e);
    }
    if (d > 1 && reads_back(d - 1, e, neg, v)) {
        int s = cmp_dec_bin(2 * d - 1, e, c, q + 1);
        if (s > 0 || (s == 0 && (d & 1)))
            fail_msg("%a printed as '%s' but %llue%d is closer", v, out, (unsigned long long)(d - 1), e);
    }
}

/* ---------------------------------------------------------------- tests */

static void format_double_prints_javascript_forms(void **state)
{
    (void)state;
    /* expected strings from Python's repr (shortest, closest, ties to
     * even) laid out as JavaScript does */
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0.0, "0"},
        {-0.0, "-0"},
        {1.0, "1"},
        {-2.0, "-2"},
        {1.5, "1.5"},
        {0.1, "0.1"},
        {0.3, "0.3"},
        {100, "100"},
        {9.5, "9.5"},
        {222111.78, "222111.78"},
        {47.94715741689967, "47.94715741689967"},
        {34.618758755463666, "34.618758755463666"},
        {0.1 + 0.2, "0.30000000000000004"},
        {0x1.5555555555555p-2, "0.3333333333333333"},
        {0x1.0aaaaaaaaaaabp+5, "33.333333333333336"},
        {0x1.0000000000001p+0, "1.0000000000000002"},
        {0x1.fffffffffffffp-1, "0.9999999999999999"},
        /* plain up to 21 digits, then exponent */
        {1e20, "100000000000000000000"},
        {123456789012345680000.0, "123456789012345680000"},
        {0x1.b1ae4d6e2ef4fp+69, "999999999999999900000"},
        {1e21, "1e+21"},
        {1e23, "1e+23"},
        {0x1.0000000000000p+63, "9223372036854776000"},
        {0x1.0000000000000p+64, "18446744073709552000"},
        {9007199254740992.0, "9007199254740992"},
        {9007199254740993.0, "9007199254740992"},
        {0x1.0000000000001p+53, "9007199254740994"},
        /* 0.000ddd down to 1e-6, then exponent */
        {1e-6, "0.000001"},
        {0x1.0c6f7a0b5ed8cp-20, "9.999999999999997e-7"},
        {0x1.02e85be111841p-13, "0.000123456789"},
        {1e-7, "1e-7"},
        {1.5e-7, "1.5e-7"},
        {0x1.ad7f29abcaf49p-24, "1.0000000000000001e-7"},
        {-0x1.091b5aeffdb8ep-23, "-1.2345e-7"},
        {0x1.0c6f7a0b5ed8dp-21, "5e-7"},
        {0x1.6b082c2148b8ep-60, "1.23e-18"},
        {0x1.0000000000000p-24, "5.960464477539063e-8"},
        /* exact ties between two shortest candidates: the even one */
        {0x1.f67eee3d08001p+50, "2210000000000000.2"},
        {0x1.0000000000003p+50, "1125899906842624.8"},
        /* near ties: the closer one */
        {0x1.47cd3f86c87e2p+78, "3.8699999999999993e+23"},
        {0x1.232ae63c59c6dp+83, "1.1000000000000002e+25"},
        /* a power of two whose lower neighbour is closer: the interval is
         * lopsided and the 16-digit form above v reads back */
        {0x1.0000000000000p-1017, "7.120236347223045e-307"},
        /* extremes and subnormals */
        {0x1.fffffffffffffp+1023, "1.7976931348623157e+308"},
        {0x1.0000000000000p+1023, "8.98846567431158e+307"},
        {0x1.0000000000000p-1022, "2.2250738585072014e-308"},
        {0x0.fffffffffffffp-1022, "2.225073858507201e-308"},
        {0x0.0000000000001p-1022, "5e-324"},
        {-0x0.0000000000001p-1022, "-5e-324"},
        {0x0.0000000000002p-1022, "1e-323"},
        {0x0.0000000000003p-1022, "1.5e-323"},
        {0x0.0000000000004p-1022, "2e-323"},
        {0x0.0000000000014p-1022, "1e-322"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char out[NUM_DOUBLE_MAX + 1];
        size_t n = num_format_double(cases[i].v, out);
        out[n] = 0;
        if (strcmp(out, cases[i].want) != 0)
            fail_msg("%a printed as '%s', want '%s'", cases[i].v, out, cases[i].want);
        check_double(cases[i].v);
    }
    char out[NUM_DOUBLE_MAX + 1];
    out[num_format_double(NAN, out)] = 0;
    assert_string_equal(out, "NaN");
    out[num_format_double(-NAN, out)] = 0;
    assert_string_equal(out, "NaN");
    out[num_format_double(INFINITY, out)] = 0;
    assert_string_equal(out, "+Inf");
    out[num_format_double(-INFINITY, out)] = 0;
    assert_string_equal(out, "-Inf");
}

/* num_format_double writes its text and nothing past it. */
static void format_double_writes_only_its_length(void **state)
{
    (void)state;
    static const double vals[] = {0.0, -0.0, 1.0, -5e-324, 0.1, -1.2345e-7, 1e21, 123456789012345680000.0,
                                  -0x1.fffffffffffffp+1023, NAN, -INFINITY, -0.0000012345678901234567};
    for (size_t i = 0; i < ARRAY_LEN(vals); i++) {
        char buf[NUM_DOUBLE_MAX + 8];
        memset(buf, 'x', sizeof buf);
        size_t n = num_format_double(vals[i], buf);
        assert_true(n <= NUM_DOUBLE_MAX);
        for (size_t j = n; j < sizeof buf; j++)
            assert_int_equal(buf[j], 'x');
    }
}

static void format_double_is_shortest_closest_and_exact(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(7));
    for (int i = 0; i < 20000; i++) {
        /* every bit pattern: all magnitudes, subnormals */
        double v = from_bits(test_rng_next(&r));
        if (isfinite(v))
            check_double(v);
        /* short decimals, as metrics usually are */
        double s = (double)(int64_t)(test_rng_below(&r, 2000000000) - 1000000000) /
                   pow(10, (double)test_rng_below(&r, 12));
        check_double(s);
        /* random walks in [0, 100] like devops-cpu */
        check_double(test_rng_double(&r) * 100);
        /* integers of every size */
        check_double((double)(test_rng_next(&r) >> test_rng_below(&r, 64)));
        /* few digits at any exponent, and their neighbours */
        char t[40];
        snprintf(t, sizeof t, "%llue%d", (unsigned long long)test_rng_below(&r, 100000),
                 (int)test_rng_below(&r, 640) - 330);
        double d = strtod(t, NULL);
        check_double(d);
        check_double(nextafter(d, 0));
        check_double(nextafter(d, INFINITY));
    }
}

static void format_double_handles_powers_subnormals_and_extremes(void **state)
{
    (void)state;
    /* powers of two and their neighbours: the lopsided intervals */
    for (int e = -1074; e <= 1023; e++) {
        double p = ldexp(1.0, e);
        check_double(p);
        check_double(nextafter(p, 0));
        check_double(nextafter(p, INFINITY));
    }
    /* powers of ten and their neighbours */
    for (int e = -323; e <= 308; e++) {
        char t[16];
        snprintf(t, sizeof t, "1e%d", e);
        double p = strtod(t, NULL);
        check_double(p);
        check_double(-nextafter(p, 0));
        check_double(nextafter(p, INFINITY));
    }
    /* the least subnormals, where the core's interval is widest relative
     * to the value, all of them */
    for (uint64_t t = 1; t < 3000; t++)
        check_double(from_bits(t));
    static const double ext[] = {DBL_MAX, -DBL_MAX, DBL_MIN, DBL_TRUE_MIN, DBL_EPSILON, 1.0, 9007199254740991.0};
    for (size_t i = 0; i < ARRAY_LEN(ext); i++) {
        check_double(ext[i]);
        check_double(nextafter(ext[i], 0));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(format_double_prints_javascript_forms),
        cmocka_unit_test(format_double_writes_only_its_length),
        cmocka_unit_test(format_double_is_shortest_closest_and_exact),
        cmocka_unit_test(format_double_handles_powers_subnormals_and_extremes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
