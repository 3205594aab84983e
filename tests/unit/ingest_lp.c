/* Line protocol: the spec's valid and invalid lines, escapes, every field
 * type, precisions, limits, and floats bit-exact to strtod; the fast path
 * (every structural scan this CPU has) gives what the reference path gives
 * on random and mutated lines. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ingest/ingest.h"
#include "export/export.h"
#include "ingest/ingest_int.h"
#include "testutil.h"

static lp_parser *new_parser(strata_precision prec)
{
    lp_parser *p = NULL;
    assert_int_equal(lp_parser_new(prec, &p), STRATA_OK);
    return p;
}

static int parse(lp_parser *p, const char *s, lp_line *l, const char **reason)
{
    return lp_parse_line(p, s, strlen(s), l, reason);
}

static void assert_str(const char *got, size_t got_len, const char *want)
{
    if (got_len != strlen(want) || memcmp(got, want, got_len) != 0)
        fail_msg("got '%.*s' want '%s'", (int)got_len, got, want);
}

static void assert_rejected(lp_parser *p, const char *line, const char *want_reason)
{
    lp_line l;
    const char *reason = NULL;
    int rc = parse(p, line, &l, &reason);
    if (rc != STRATA_ERR_INVALID)
        fail_msg("line '%s' gave %d, want rejection '%s'", line, rc, want_reason);
    assert_non_null(reason);
    if (!strstr(reason, want_reason))
        fail_msg("line '%s': reason '%s' does not contain '%s'", line, reason, want_reason);
}

static void lp_parses_a_full_line(void **state)
{
    (void)state;
    lp_parser *p = new_parser(STRATA_PRECISION_NS);
    lp_line l;
    const char *reason;
    assert_int_equal(parse(p, "cpu,host=a,region=eu usage=1.5,n=2i,u=3u,ok=t,s=\"x y\" 1700000000123456789", &l, &reason), 1);
    assert_str(l.measurement, l.measurement_len, "cpu");
    assert_int_equal(l.n_tags, 2);
    assert_str(l.tags[0].key, l.tags[0].key_len, "host");
    assert_str(l.tags[0].val, l.tags[0].val_len, "a");
    assert_str(l.tags[1].key, l.tags[1].key_len, "region");
    assert_str(l.tags[1].val, l.tags[1].val_len, "eu");
    assert_int_equal(l.n_fields, 4);
    assert_int_equal(l.n_string_fields, 1);
    assert_str(l.fields[0].key, l.fields[0].key_len, "usage");
    assert_true(l.fields[0].value == 1.5);
    assert_true(l.fields[1].value == 2.0);
    assert_true(l.fields[2].value == 3.0);
    assert_true(l.fields[3].value == 1.0);
    assert_int_equal(l.has_ts, 1);
    assert_int_equal(l.ts_ms, 1700000000123);
    lp_parser_free(p);
}

static void lp_skips_blank_and_comment_lines(void **state)
{
    (void)state;
    lp_parser *p = new_parser(STRATA_PRECISION_NS);
    lp_line l;
    const char *reason;
    assert_int_equal(parse(p, "", &l, &reason), 0);
    assert_int_equal(parse(p, "   ", &l, &reason), 0);
    assert_int_equal(parse(p, "\r", &l, &reason), 0);
    assert_int_equal(parse(p, "# comment, with=stuff 1", &l, &reason), 0);
    assert_int_equal(parse(p, "  # indented comment", &l, &reason), 0);
    /* leading blanks and a CRLF ending are tolerated */
    assert_int_equal(parse(p, "  m v=1 5000000\r", &l, &reason), 1);
    assert_int_equal(l.ts_ms, 5);
    lp_parser_free(p);
}

static void lp_unescapes_measurement_tags_and_field_keys(void **state)
{
    (void)state;
    lp_parser *p = new_parser(STRATA_PRECISION_NS);
    lp_line l;
    const char *reason;
    assert_int_equal(parse(p, "my\\ me\\,as,t\\ k\\=1=v\\,a\\ l\\=ue,x=a\\b f\\ k\\,\\==1", &l, &reason), 1);
    assert_str(l.measurement, l.measurement_len, "my me,as");
    assert_int_equal(l.n_tags, 2);
    assert_str(l.tags[0].key, l.tags[0].key_len, "t k=1");
    assert_str(l.tags[0].val, l.tags[0].val_len, "v,a l=ue");
    /* a backslash before another byte stays literally */
    assert_str(l.tags[1].val, l.tags[1].val_len, "a\\b");
    assert_str(l.fields[0].key, l.fields[0].key_len, "f k,=");
    assert_int_equal(l.has_ts, 0);
    /* measurement may contain '=' unescaped; "\\" is a backslash */
    assert_int_equal(parse(p, "a=b\\\\c v=1", &l, &reason), 1);
    assert_str(l.measurement, l.measurement_len, "a=b\\c");
    /* escaped quote and backslash inside a string field */
    assert_int_equal(parse(p, "m s=\"a \\\" b, c=d \\\\\",v=2 10", &l, &reason), 1);
    assert_int_equal(l.n_string_fields, 1);
    assert_int_equal(l.n_fields, 1);
    assert_true(l.fields[0].value == 2.0);
    /* only strings: a valid line with no numeric field */
    assert_int_equal(parse(p, "m s=\"x\"", &l, &reason), 1);
    assert_int_equal(l.n_fields, 0);
    assert_int_equal(l.n_string_fields, 1);
    lp_parser_free(p);
}

static void lp_reads_every_field_type(void **state)
{
    (void)state;
    lp_parser *p = new_parser(STRATA_PRECISION_NS);
    lp_line l;
    const char *reason;
    static const struct {
        const char *text;
        double want;
    } cases[] = {
        {"1", 1},       {"-1.5", -1.5},   {".5", 0.5},      {"1.", 1},          {"1e3", 1e3},
        {"1E+3", 1e3},  {"2.5e-3", 2.5e-3}, {"-0", -0.0},   {"0.0", 0},         {"123i", 123},
        {"-123i", -123}, {"9223372036854775807i", 9223372036854775807.0},
        {"-9223372036854775808i", -9223372036854775808.0}, {"18446744073709551615u", 18446744073709551615.0},
        {"0u", 0},      {"t", 1},         {"T", 1},         {"true", 1},        {"True", 1},
        {"TRUE", 1},    {"f", 0},         {"F", 0},         {"false", 0},       {"False", 0},
        {"FALSE", 0},   {"1.7976931348623157e308", 1.7976931348623157e308}, {"4.9e-324", 4.9e-324},
        {"1e-400", 0},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char line[128];
        snprintf(line, sizeof line, "m v=%s", cases[i].text);
        if (parse(p, line, &l, &reason) != 1)
            fail_msg("'%s' rejected: %s", line, reason);
        assert_int_equal(l.n_fields, 1);
        if (memcmp(&l.fields[0].value, &cases[i].want, 8) != 0)
            fail_msg("'%s' gave %.17g want %.17g", line, l.fields[0].value, cases[i].want);
    }
    lp_parser_free(p);
}

static void lp_rejects_bad_lines_with_a_reason(void **state)
{
    (void)state;
    lp_parser *p = new_parser(STRATA_PRECISION_NS);
    assert_rejected(p, "cpu", "missing fields");
    assert_rejected(p, "cpu ", "missing fields");
    assert_rejected(p, "cpu,host=a", "missing fields");
    assert_rejected(p, ",host=a v=1", "missing measurement");
    assert_rejected(p, " v=1", "missing fields");
    assert_rejected(p, "cpu,host v=1", "missing tag value");
    assert_rejected(p, "cpu,host= v=1", "missing tag value");
    assert_rejected(p, "cpu,=a v=1", "missing tag key");
    assert_rejected(p, "cpu,a=1,a=2 v=1", "duplicate tag key");
    assert_rejected(p, "cpu,__name__=x v=1", "reserved");
    assert_rejected(p, "cpu v", "missing field value");
    assert_rejected(p, "cpu v=", "missing value in field 'v'");
    assert_rejected(p, "cpu =1", "missing field key");
    assert_rejected(p, "cpu v=1,", "missing field key");
    assert_rejected(p, "cpu v=abc", "invalid number in field 'v'");
    assert_rejected(p, "cpu v=1.5i", "invalid number in field 'v'");
    assert_rejected(p, "cpu v=-1u", "invalid number in field 'v'");
    assert_rejected(p, "cpu v=+1", "invalid number in field 'v'");
    assert_rejected(p, "cpu v=1e", "invalid number in field 'v'");
    assert_rejected(p, "cpu v=nan", "invalid number in field 'v'");
    assert_rejected(p, "cpu v=inf", "invalid number in field 'v'");
    assert_rejected(p, "cpu v=0x10", "invalid number in field 'v'");
    assert_rejected(p, "cpu v=tru", "invalid number in field 'v'");
    assert_rejected(p, "cpu v=1e400", "number out of range in field 'v'");
    assert_rejected(p, "cpu v=9223372036854775808i", "integer out of range in field 'v'");
    assert_rejected(p, "cpu v=18446744073709551616u", "integer out of range in field 'v'");
    assert_rejected(p, "cpu s=\"abc", "unterminated string in field 's'");
    assert_rejected(p, "cpu s=\"abc\\\"", "unterminated string");
    assert_rejected(p, "cpu s=\"abc\"x", "text after string");
    assert_rejected(p, "cpu v=1 12a", "invalid timestamp");
    assert_rejected(p, "cpu v=1 -", "invalid timestamp");
    assert_rejected(p, "cpu v=1 1.5", "invalid timestamp");
    assert_rejected(p, "cpu v=1 9223372036854775808", "timestamp out of range");
    assert_rejected(p, "cpu v=1 99999999999999999999", "timestamp out of range");
    assert_rejected(p, "cpu v=1 1 2", "unexpected text after timestamp");
    lp_parser_free(p);
}

static void lp_converts_precisions_flooring_to_ms(void **state)
{
    (void)state;
    static const struct {
        strata_precision prec;
        const char *ts;
        int64_t want;
    } cases[] = {
        {STRATA_PRECISION_NS, "1700000000123999999", 1700000000123},
        {STRATA_PRECISION_NS, "-1", -1},
        {STRATA_PRECISION_NS, "-1000000", -1},
        {STRATA_PRECISION_NS, "-1000001", -2},
        {STRATA_PRECISION_NS, "-9223372036854775808", -9223372036855},
        {STRATA_PRECISION_NS, "9223372036854775807", 9223372036854},
        {STRATA_PRECISION_US, "1700000000123999", 1700000000123},
        {STRATA_PRECISION_US, "-1", -1},
        {STRATA_PRECISION_MS, "1700000000123", 1700000000123},
        {STRATA_PRECISION_MS, "-5", -5},
        {STRATA_PRECISION_S, "1700000000", 1700000000000},
        {STRATA_PRECISION_S, "-2", -2000},
        {STRATA_PRECISION_S, "9223372036854775", 9223372036854775000},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        lp_parser *p = new_parser(cases[i].prec);
        char line[64];
        snprintf(line, sizeof line, "m v=1 %s", cases[i].ts);
        lp_line l;
        const char *reason;
        assert_int_equal(parse(p, line, &l, &reason), 1);
        assert_int_equal(l.has_ts, 1);
        assert_int_equal(l.ts_ms, cases[i].want);
        lp_parser_free(p);
    }
    lp_parser *p = new_parser(STRATA_PRECISION_S);
    assert_rejected(p, "m v=1 9223372036854776", "timestamp out of range");
    lp_parser_free(p);
    p = NULL;
    assert_int_equal(lp_parser_new((strata_precision)7, &p), STRATA_ERR_INVALID);
    assert_null(p);
}

static void lp_enforces_limits(void **state)
{
    (void)state;
    lp_parser *p = new_parser(STRATA_PRECISION_NS);
    lp_limits lim;
    lp_limits_init(&lim);
    lim.max_tags = 2;
    lim.max_fields = 2;
    lim.max_name_len = 4;
    lim.max_value_len = 3;
    lp_parser_set_limits(p, &lim);
    lp_line l;
    const char *reason;
    assert_int_equal(parse(p, "m,a=1,b=2 x=1,y=2", &l, &reason), 1);
    assert_rejected(p, "m,a=1,b=2,c=3 x=1", "too many tags");
    assert_rejected(p, "m x=1,y=2,z=\"s\"", "too many fields");
    assert_rejected(p, "abcde x=1", "measurement too long");
    assert_rejected(p, "m,abcde=1 x=1", "tag key too long");
    assert_rejected(p, "m,a=1234 x=1", "tag value too long");
    assert_rejected(p, "m abcde=1", "field key too long");
    /* limits count unescaped bytes */
    assert_int_equal(parse(p, "m,a=1\\ 2 x=1", &l, &reason), 1);
    lp_parser_free(p);
    /* many tags and fields grow the arrays */
    p = new_parser(STRATA_PRECISION_NS);
    char line[8192];
    size_t n = (size_t)snprintf(line, sizeof line, "m");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(line + n, sizeof line - n, ",t%d=v\\ %d", i, i);
    n += (size_t)snprintf(line + n, sizeof line - n, " ");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(line + n, sizeof line - n, "%sf\\,%d=%d", i ? "," : "", i, i);
    assert_int_equal(parse(p, line, &l, &reason), 1);
    assert_int_equal(l.n_tags, 100);
    assert_int_equal(l.n_fields, 100);
    assert_str(l.tags[99].val, l.tags[99].val_len, "v 99");
    assert_str(l.fields[99].key, l.fields[99].key_len, "f,99");
    assert_true(l.fields[99].value == 99.0);
    lp_parser_free(p);
}

/* A random decimal of the shapes that matter: long mantissas, leading and
 * trailing zeros, exponents near the ends of the range, subnormals. */
static size_t random_decimal(test_rng *r, char *buf)
{
    size_t n = 0;
    if (test_rng_below(r, 2))
        buf[n++] = '-';
    unsigned kind = (unsigned)test_rng_below(r, 6);
    unsigned int_digits = (unsigned)test_rng_below(r, kind == 0 ? 30 : 12);
    unsigned frac_digits = (unsigned)test_rng_below(r, kind == 1 ? 30 : 19);
    if (int_digits == 0 && frac_digits == 0)
        int_digits = 1;
    for (unsigned i = 0; i < int_digits; i++)
        buf[n++] = (char)('0' + test_rng_below(r, 10));
    if (frac_digits || test_rng_below(r, 4) == 0) {
        buf[n++] = '.';
        for (unsigned i = 0; i < frac_digits; i++)
            buf[n++] = (char)('0' + (kind == 2 && i < 10 ? 0 : test_rng_below(r, 10)));
    }
    if (kind >= 3) {
        int range = kind == 3 ? 30 : kind == 4 ? 330 : 700;
        int e = (int)test_rng_below(r, (uint64_t)(2 * range + 1)) - range;
        n += (size_t)sprintf(buf + n, "%s%d", test_rng_below(r, 2) ? "e" : "E", e);
    }
    buf[n] = 0;
    return n;
}

static void check_exact(const char *text, size_t n)
{
    double want = strtod(text, NULL), got = 0;
    int rc = num_parse_double(text, n, &got);
    if (isinf(want)) {
        if (rc != STRATA_ERR_INVALID)
            fail_msg("'%s': overflow accepted", text);
        return;
    }
    if (rc != STRATA_OK)
        fail_msg("'%s' rejected", text);
    if (memcmp(&want, &got, 8) != 0)
        fail_msg("'%s': got %a want %a", text, got, want);
}

static void lp_floats_are_bit_exact_to_strtod(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(42));
    char buf[128];
    for (int i = 0; i < 600000; i++) {
        size_t n = random_decimal(&r, buf);
        check_exact(buf, n);
    }
    /* the printed form of random doubles, 17 digits and shortest-ish */
    for (int i = 0; i < 300000; i++) {
        uint64_t bits = test_rng_next(&r);
        double d;
        memcpy(&d, &bits, 8);
        if (!isfinite(d))
            continue;
        int n = snprintf(buf, sizeof buf, "%.*g", 1 + (int)test_rng_below(&r, 17), d);
        check_exact(buf, (size_t)n);
    }
    /* hard cases: halfway points, the edges of the range, long inputs */
    static const char *hard[] = {
        "9007199254740993", "9007199254740992.5", "9007199254740993.0000000000000000001",
        "2.2250738585072011e-308", "2.2250738585072012e-308", "2.2250738585072014e-308",
        "4.9406564584124654e-324", "2.4703282292062327e-324", "2.4703282292062328e-324",
        "1.7976931348623158e308", "1.7976931348623157e308", "1.7976931348623159e308",
        "0.1", "0.2", "0.3", "1e23", "8.98846567431158e307", "7.3177701707893310e+15",
        "123456789012345678901234567890", "0.000000000000000000000000000000000000001",
        "1.00000000000000011102230246251565404236316680908203125",
        "1.00000000000000011102230246251565404236316680908203124",
        "1.00000000000000011102230246251565404236316680908203126",
        "4503599627370496.5", "4503599627370497.5", "1448997445238699", "0e999999999999", "1e-999999999999",
    };
    for (size_t i = 0; i < ARRAY_LEN(hard); i++)
        check_exact(hard[i], strlen(hard[i]));
    /* a mantissa of 800 digits goes through the bounded copy */
    char big[900];
    big[0] = '1';
    memset(big + 1, '3', 799);
    memcpy(big + 800, "e-700", 6);
    check_exact(big, strlen(big));
    /* syntax errors */
    double v;
    static const char *bad[] = {"", "-", ".", "e5", "1e", "1e+", "1.2.3", " 1", "1 ", "0x1p3", "inf", "nan", "1,5", "--1"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        assert_int_equal(num_parse_double(bad[i], strlen(bad[i]), &v), STRATA_ERR_INVALID);
}

/* ------------------------------------------------------------ fast path vs reference */

static void rand_name(test_rng *r, char *buf, size_t *n, size_t max)
{
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyz_ABC0123456789-:.";
    size_t len = 1 + (size_t)test_rng_below(r, max);
    for (size_t i = 0; i < len; i++)
        buf[(*n)++] = alpha[test_rng_below(r, sizeof alpha - 1)];
}

/* A line that is usually valid: names of lengths that cross the 64-byte
 * blocks of the scan, every kind of value, sometimes repeated or reserved
 * tag keys, extra spaces, timestamps of every length. */
static size_t random_line(test_rng *r, char *buf)
{
    size_t n = 0;
    rand_name(r, buf, &n, test_rng_below(r, 4) ? 12 : 90);
    unsigned nt = (unsigned)test_rng_below(r, 7);
    for (unsigned i = 0; i < nt; i++) {
        buf[n++] = ',';
        if (test_rng_below(r, 40) == 0) {
            memcpy(buf + n, "__name__", 8);
            n += 8;
        } else if (test_rng_below(r, 20) == 0) {
            buf[n++] = 'k'; /* may repeat an earlier key */
        } else {
            rand_name(r, buf, &n, test_rng_below(r, 3) ? 10 : 70);
        }
        buf[n++] = '=';
        rand_name(r, buf, &n, test_rng_below(r, 3) ? 12 : 70);
    }
    buf[n++] = ' ';
    if (test_rng_below(r, 10) == 0)
        buf[n++] = ' ';
    unsigned nf = 1 + (unsigned)test_rng_below(r, 5);
    for (unsigned i = 0; i < nf; i++) {
        if (i)
            buf[n++] = ',';
        rand_name(r, buf, &n, test_rng_below(r, 3) ? 10 : 40);
        buf[n++] = '=';
        switch (test_rng_below(r, 8)) {
        case 0: n += (size_t)sprintf(buf + n, "%lldi", (long long)(test_rng_next(r) >> test_rng_below(r, 64))); break;
        case 1: n += (size_t)sprintf(buf + n, "%lluu", (unsigned long long)(test_rng_next(r) >> test_rng_below(r, 64))); break;
        case 2: n += (size_t)sprintf(buf + n, "%s", test_rng_below(r, 2) ? "true" : "F"); break;
        case 3: n += (size_t)sprintf(buf + n, "\"s %d\"", (int)test_rng_below(r, 100)); break;
        case 4: n += (size_t)sprintf(buf + n, "%.17g", test_rng_double(r) * 100); break;
        default: n += random_decimal(r, buf + n); break;
        }
    }
    if (test_rng_below(r, 5)) {
        /* often the previous line's timestamp, or one differing in a
         * digit, as the parser keeps the last one it read */
        static char prev[32];
        static size_t prev_n;
        buf[n++] = ' ';
        uint64_t how = test_rng_below(r, 4);
        if (how == 0 && prev_n) {
            memcpy(buf + n, prev, prev_n);
            n += prev_n;
        } else if (how == 1 && prev_n) {
            memcpy(buf + n, prev, prev_n);
            buf[n + test_rng_below(r, prev_n)] = (char)('0' + test_rng_below(r, 10));
            n += prev_n;
        } else {
            size_t start = n;
            if (test_rng_below(r, 10) == 0)
                buf[n++] = '-';
            unsigned nd = 1 + (unsigned)test_rng_below(r, test_rng_below(r, 4) ? 19 : 21);
            for (unsigned i = 0; i < nd; i++)
                buf[n++] = (char)('0' + test_rng_below(r, 10));
            prev_n = n - start;
            memcpy(prev, buf + start, prev_n);
        }
    }
    if (test_rng_below(r, 20) == 0)
        buf[n++] = test_rng_below(r, 2) ? ' ' : '\t';
    return n;
}

/* A few bytes replaced, inserted or removed, mostly by structural ones. */
static size_t mutate(test_rng *r, char *buf, size_t n)
{
    static const char bytes[] = ",= \\\"\t.-eiu0x#\r";
    unsigned k = 1 + (unsigned)test_rng_below(r, 3);
    for (unsigned i = 0; i < k && n > 0; i++) {
        size_t at = (size_t)test_rng_below(r, n);
        char c = bytes[test_rng_below(r, sizeof bytes - 1)];
        switch (test_rng_below(r, 3)) {
        case 0: buf[at] = c; break;
        case 1:
            memmove(buf + at + 1, buf + at, n - at);
            buf[at] = c;
            n++;
            break;
        default:
            memmove(buf + at, buf + at + 1, n - at - 1);
            n--;
            break;
        }
    }
    return n;
}

static void assert_same(const char *line, size_t n, int rc_a, const lp_line *a, const char *ra, int rc_b,
                        const lp_line *b, const char *rb, const char *what)
{
    if (rc_a != rc_b)
        fail_msg("%s: '%.*s' gave %d (%s) and %d (%s)", what, (int)n, line, rc_a, ra ? ra : "", rc_b, rb ? rb : "");
    if (rc_a < 0 && strcmp(ra, rb) != 0)
        fail_msg("%s: '%.*s' reasons '%s' and '%s'", what, (int)n, line, ra, rb);
    if (rc_a != 1)
        return;
    int same = a->measurement_len == b->measurement_len &&
               !memcmp(a->measurement, b->measurement, a->measurement_len) && a->n_tags == b->n_tags &&
               a->n_fields == b->n_fields && a->n_string_fields == b->n_string_fields && a->has_ts == b->has_ts &&
               a->ts_ms == b->ts_ms;
    for (size_t i = 0; same && i < a->n_tags; i++)
        same = a->tags[i].key_len == b->tags[i].key_len && a->tags[i].val_len == b->tags[i].val_len &&
               !memcmp(a->tags[i].key, b->tags[i].key, a->tags[i].key_len) &&
               !memcmp(a->tags[i].val, b->tags[i].val, a->tags[i].val_len);
    for (size_t i = 0; same && i < a->n_fields; i++)
        same = a->fields[i].key_len == b->fields[i].key_len &&
               !memcmp(a->fields[i].key, b->fields[i].key, a->fields[i].key_len) &&
               !memcmp(&a->fields[i].value, &b->fields[i].value, 8);
    if (!same)
        fail_msg("%s: '%.*s' parsed differently", what, (int)n, line);
}

static void lp_fast_path_matches_the_reference(void **state)
{
    (void)state;
    static const struct {
        int impl;
        const char *name;
    } impls[] = {{LP_IMPL_SWAR, "swar"}, {LP_IMPL_SSE2, "sse2"}, {LP_IMPL_AVX2, "avx2"}, {LP_IMPL_BEST, "best"}};
    lp_parser *ref = new_parser(STRATA_PRECISION_NS);
    assert_int_equal(lp_parser_set_impl(ref, LP_IMPL_REF), STRATA_OK);
    lp_parser *fast[ARRAY_LEN(impls)];
    size_t nfast = 0;
    const char *names[ARRAY_LEN(impls)];
    for (size_t i = 0; i < ARRAY_LEN(impls); i++) {
        lp_parser *p = new_parser(STRATA_PRECISION_NS);
        if (lp_parser_set_impl(p, impls[i].impl) != STRATA_OK) {
            print_message("structural scan %s not available here\n", impls[i].name);
            lp_parser_free(p);
            continue;
        }
        names[nfast] = impls[i].name;
        fast[nfast++] = p;
    }
    assert_true(nfast >= 2); /* portable and best at least */
    test_rng r;
    test_rng_init(&r, test_seed(7));
    /* heap copies of exactly the line's length, so ASan sees any read past
     * either end */
    char buf[4096];
    int fast_ok = 0;
    for (int iter = 0; iter < 200000; iter++) {
        size_t n = random_line(&r, buf);
        if (test_rng_below(&r, 3) == 0)
            n = mutate(&r, buf, n);
        char *line = malloc(n ? n : 1);
        assert_non_null(line);
        memcpy(line, buf, n);
        lp_line a, b;
        const char *ra = NULL, *rb = NULL;
        int rc_a = lp_parse_line(ref, line, n, &a, &ra);
        if (rc_a == 1)
            fast_ok++;
        for (size_t i = 0; i < nfast; i++) {
            int rc_b = lp_parse_line(fast[i], line, n, &b, &rb);
            assert_same(line, n, rc_a, &a, ra, rc_b, &b, rb, names[i]);
        }
        free(line);
    }
    /* the generator must produce valid lines too, or this proves little */
    assert_true(fast_ok > 50000);
    lp_parser_free(ref);
    for (size_t i = 0; i < nfast; i++)
        lp_parser_free(fast[i]);
}

/* Plain decimals, the fast path's own float reading (every reader: the
 * AVX2 one looks 32 bytes back, so the value sits near the line's start
 * and far from it), against strtod. */
static void lp_fast_floats_are_bit_exact_to_strtod(void **state)
{
    (void)state;
    static const int impls[] = {LP_IMPL_SWAR, LP_IMPL_SSE2, LP_IMPL_AVX2};
    lp_parser *ps[ARRAY_LEN(impls)];
    size_t np = 0;
    for (size_t i = 0; i < ARRAY_LEN(impls); i++) {
        ps[np] = new_parser(STRATA_PRECISION_NS);
        if (lp_parser_set_impl(ps[np], impls[i]) == STRATA_OK)
            np++;
        else
            lp_parser_free(ps[np]);
    }
    test_rng r;
    test_rng_init(&r, test_seed(11));
    char num[64], line[160];
    for (int i = 0; i < 300000; i++) {
        size_t n = 0;
        if (test_rng_below(&r, 2))
            num[n++] = '-';
        unsigned nd = 1 + (unsigned)test_rng_below(&r, 20);
        unsigned dot = (unsigned)test_rng_below(&r, nd + 2); /* nd + 1: none */
        for (unsigned k = 0; k < nd; k++) {
            if (k == dot)
                num[n++] = '.';
            num[n++] = (char)('0' + test_rng_below(&r, 10));
        }
        if (dot == nd)
            num[n++] = '.';
        num[n] = 0;
        /* the value first, last, alone at the end of the line, far in */
        static const char *const fmt[] = {"m,t=v x=%s,y=1 1", "m,t=v y=1,x=%s 1", "measurement x=%s",
                                          "measurement,tag=value,host=somewhere x=%s,y=1 1"};
        int which = (int)test_rng_below(&r, 4);
        snprintf(line, sizeof line, fmt[which], num);
        double want = strtod(num, NULL);
        for (size_t k = 0; k < np; k++) {
            lp_line l;
            const char *reason;
            if (parse(ps[k], line, &l, &reason) != 1)
                fail_msg("'%s' rejected: %s", line, reason);
            double got = l.fields[which == 1 ? 1 : 0].value;
            if (memcmp(&want, &got, 8) != 0)
                fail_msg("'%s': got %a want %a", line, got, want);
        }
    }
    for (size_t k = 0; k < np; k++)
        lp_parser_free(ps[k]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lp_parses_a_full_line),
        cmocka_unit_test(lp_skips_blank_and_comment_lines),
        cmocka_unit_test(lp_unescapes_measurement_tags_and_field_keys),
        cmocka_unit_test(lp_reads_every_field_type),
        cmocka_unit_test(lp_rejects_bad_lines_with_a_reason),
        cmocka_unit_test(lp_converts_precisions_flooring_to_ms),
        cmocka_unit_test(lp_enforces_limits),
        cmocka_unit_test(lp_floats_are_bit_exact_to_strtod),
        cmocka_unit_test(lp_fast_path_matches_the_reference),
        cmocka_unit_test(lp_fast_floats_are_bit_exact_to_strtod),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
