/* Times and durations: RFC 3339 with fractions and zones, Unix seconds,
 * now-relative forms, Prometheus durations, and RFC 3339 out round trips. */
#include <stdio.h>
#include <string.h>

#include "ingest/ingest.h"
#include "export/export.h"
#include "testutil.h"

#define NOW 1704110400000LL /* 2024-01-01T12:00:00Z */

static void time_parses_every_form(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t want;
    } cases[] = {
        {"2024-01-01T12:00:00Z", 1704110400000},
        {"2024-01-01t12:00:00z", 1704110400000},
        {"2024-01-01 12:00:00Z", 1704110400000},
        {"2024-01-01T12:00:00.5Z", 1704110400500},
        {"2024-01-01T12:00:00.123456789Z", 1704110400123},
        {"2024-01-01T14:00:00+02:00", 1704110400000},
        {"2024-01-01T06:30:00-05:30", 1704110400000},
        {"1970-01-01T00:00:00Z", 0},
        {"1969-12-31T23:59:59.999Z", -1},
        {"2000-02-29T00:00:00Z", 951782400000},
        {"0000-01-01T00:00:00Z", -62167219200000},
        {"9999-12-31T23:59:59.999Z", 253402300799999},
        {"1704110400", 1704110400000},
        {"1704110400.5", 1704110400500},
        {"1704110400.1239", 1704110400123},
        {"-1.2345", -1235},
        {"-1.234", -1234},
        {"0", 0},
        {".5", 500},
        {"1.7e9", 1700000000000},
        {"now", NOW},
        {"now-5m", NOW - 300000},
        {"now+1h", NOW + 3600000},
        {"-1h", NOW - 3600000},
        {"+30s", NOW + 30000},
        {"-1d12h", NOW - 129600000},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        int64_t got = 0;
        const char *reason = NULL;
        int rc = fmt_time_parse(cases[i].text, strlen(cases[i].text), NOW, &got, &reason);
        if (rc != STRATA_OK || got != cases[i].want)
            fail_msg("'%s': rc %d (%s) got %lld want %lld", cases[i].text, rc, reason ? reason : "", (long long)got,
                     (long long)cases[i].want);
    }
}

static void time_rejects_bad_input(void **state)
{
    (void)state;
    static const char *bad[] = {
        "", "yesterday", "2024-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2024-01-32T00:00:00Z",
        "2024-01-01T24:00:00Z", "2024-01-01T12:60:00Z", "2024-01-01T12:00:60Z", "2024-01-01T12:00:00",
        "2024-01-01T12:00:00.Z", "2024-01-01T12:00:00+2:00", "2024-01-01T12:00:00Zjunk", "2024-01-01",
        "now-", "now-5", "now-5x", "now5m", "-1h-", "1e400", "--1", "1.2.3", "now-1m1h",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        int64_t got = 12345;
        const char *reason = NULL;
        int rc = fmt_time_parse(bad[i], strlen(bad[i]), NOW, &got, &reason);
        if (rc != STRATA_ERR_INVALID)
            fail_msg("'%s' accepted as %lld", bad[i], (long long)got);
        assert_non_null(reason);
        assert_int_equal(got, 12345);
    }
}

/* Every parsed time lies within +-2^62 ms, decided before any arithmetic:
 * 9223372036854779 seconds once wrapped to a negative time, and
 * -9223372036854775 overflowed the query code downstream. */
static void time_out_of_range_is_refused_not_wrapped(void **state)
{
    (void)state;
    static const char *bad[] = {
        "9223372036854779", "-9223372036854775", "9223372036854775807", "-9223372036854775808",
        "18446744073709551616", "99999999999999999999999999999", "-99999999999999999999999999999.5",
        "4611686018427387.905", "-4611686018427387.905", "4611686018427388", "1e300", "-1e300", "1e19",
        "4.7e15", "NaN", "nan", "-NaN", "Inf", "+Inf", "-Inf", "inf", "Infinity", "-infinity",
        "99999-01-01T00:00:00Z", "292277025-08-18T07:12:54Z", "-292273086-05-16T16:47:06",
        "now-9999999999999999d", "now+9999999999999999d", "-9999999999999999d", "now-999999999y",
        "now+4611686018427388s", "now-106751991167d", "+106751991167d",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        int64_t got = 12345;
        const char *reason = NULL;
        int rc = fmt_time_parse(bad[i], strlen(bad[i]), NOW, &got, &reason);
        if (rc != STRATA_ERR_INVALID)
            fail_msg("'%s' accepted as %lld", bad[i], (long long)got);
        assert_non_null(reason);
        assert_int_equal(got, 12345);
    }
    /* a plain number past the limit says so rather than "invalid RFC 3339" */
    const char *reason = NULL;
    int64_t got;
    assert_int_equal(fmt_time_parse("9223372036854779", 16, NOW, &got, &reason), STRATA_ERR_INVALID);
    assert_non_null(strstr(reason, "out of range"));
    assert_int_equal(fmt_time_parse("NaN", 3, NOW, &got, &reason), STRATA_ERR_INVALID);
    assert_non_null(strstr(reason, "out of range"));
    /* the edges are times; Prometheus' "no bound" strings read as them */
    static const struct {
        const char *text;
        int64_t want;
    } edge[] = {
        {"4611686018427387.904", FMT_TIME_LIMIT_MS},
        {"-4611686018427387.904", -FMT_TIME_LIMIT_MS},
        {"4611686018427387.9039", FMT_TIME_LIMIT_MS - 1},
        {"-4611686018427387.9031", -FMT_TIME_LIMIT_MS},
        {"4.6e15", 4600000000000000000},
        {"-292273086-05-16T16:47:06Z", -FMT_TIME_LIMIT_MS},
        {"292277025-08-18T07:12:54.999999999Z", FMT_TIME_LIMIT_MS},
        {"now-53375995583d", NOW - 53375995583 * 86400000LL},
        {"000000000000000000000000000001", 1000},
    };
    for (size_t i = 0; i < ARRAY_LEN(edge); i++) {
        got = 0;
        int rc = fmt_time_parse(edge[i].text, strlen(edge[i].text), NOW, &got, &reason);
        if (rc != STRATA_OK || got != edge[i].want)
            fail_msg("'%s': rc %d got %lld want %lld", edge[i].text, rc, (long long)got, (long long)edge[i].want);
    }
    /* relative times from a now at the limit stay within it */
    assert_int_equal(fmt_time_parse("now", 3, FMT_TIME_LIMIT_MS, &got, &reason), STRATA_OK);
    assert_int_equal(fmt_time_parse("now+1ms", 7, FMT_TIME_LIMIT_MS, &got, &reason), STRATA_ERR_INVALID);
    assert_int_equal(fmt_time_parse("now-1ms", 7, -FMT_TIME_LIMIT_MS, &got, &reason), STRATA_ERR_INVALID);
    assert_int_equal(fmt_time_parse("-1ms", 4, INT64_MIN, &got, &reason), STRATA_ERR_INVALID);
}

static void duration_parses_prometheus_forms(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t want;
    } cases[] = {
        {"5m", 300000},        {"1h30m", 5400000},       {"500ms", 500},       {"1d", 86400000},
        {"1w", 604800000},     {"1y", 31536000000},      {"0", 0},             {"15", 15000},
        {"0.5", 500},          {"1y2w3d4h5m6s7ms", 31536000000 + 1209600000 + 259200000 + 14400000 + 300000 + 6000 + 7},
        {"0s", 0},             {"90s", 90000},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        int64_t got = -1;
        const char *reason = NULL;
        int rc = fmt_duration_parse(cases[i].text, strlen(cases[i].text), &got, &reason);
        if (rc != STRATA_OK || got != cases[i].want)
            fail_msg("'%s': rc %d (%s) got %lld want %lld", cases[i].text, rc, reason ? reason : "", (long long)got,
                     (long long)cases[i].want);
    }
    static const char *bad[] = {"", "m", "5", "5x", "1m1h", "1h1h", "-5m", "5m ", " 5m", "1.5h", "-1",
                                "99999999999999999999y", "300000000y", "5M"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        if (!strcmp(bad[i], "5"))
            continue; /* a plain number is seconds */
        int64_t got = -1;
        const char *reason = NULL;
        if (fmt_duration_parse(bad[i], strlen(bad[i]), &got, &reason) != STRATA_ERR_INVALID)
            fail_msg("'%s' accepted as %lld", bad[i], (long long)got);
        assert_non_null(reason);
    }
}

static void time_format_round_trips(void **state)
{
    (void)state;
    char out[FMT_TIME_MAX + 1];
    size_t n = fmt_time_format(1704110400000, out);
    out[n] = 0;
    assert_string_equal(out, "2024-01-01T12:00:00Z");
    n = fmt_time_format(-1, out);
    out[n] = 0;
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
    n = fmt_time_format(951782400123, out);
    out[n] = 0;
    assert_string_equal(out, "2000-02-29T00:00:00.123Z");
    n = fmt_time_format(INT64_MAX, out);
    assert_true(n <= FMT_TIME_MAX);
    n = fmt_time_format(INT64_MIN, out);
    assert_true(n <= FMT_TIME_MAX);
    test_rng r;
    test_rng_init(&r, test_seed(3));
    for (int i = 0; i < 200000; i++) {
        /* years 0000-9999 */
        int64_t ms = (int64_t)test_rng_below(&r, 253402300800000ull + 62167219200000ull) - 62167219200000LL;
        n = fmt_time_format(ms, out);
        int64_t back;
        const char *reason;
        if (fmt_time_parse(out, n, NOW, &back, &reason) != STRATA_OK || back != ms)
            fail_msg("%lld printed as %.*s", (long long)ms, (int)n, out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(time_parses_every_form),
        cmocka_unit_test(time_rejects_bad_input),
        cmocka_unit_test(time_out_of_range_is_refused_not_wrapped),
        cmocka_unit_test(duration_parses_prometheus_forms),
        cmocka_unit_test(time_format_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
