/* The text printers of strata.h: strata_format_int64 against printf over
 * edge and random values, and strata_json_quote's escape of every byte. */
#include <inttypes.h>
#include <stdio.h>

#include "export/export.h"
#include "testutil.h"

static void check_int(int64_t v)
{
    char want[32], got[STRATA_INT64_LEN + 1];
    snprintf(want, sizeof want, "%" PRId64, v);
    size_t n = strata_format_int64(v, got);
    got[n] = 0;
    assert_string_equal(got, want);
}

static void format_int64_matches_printf(void **state)
{
    (void)state;
    static const int64_t edges[] = {0, 1, -1, 9, 10, 11, 99, 100, 101, -10, -99, -100, 999, 1000,
                                    1700000000000, INT64_MAX, INT64_MIN, INT64_MIN + 1, INT64_MAX - 1};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        check_int(edges[i]);
    int64_t p = 1;
    for (int i = 0; i < 18; i++, p *= 10) {
        check_int(p);
        check_int(p - 1);
        check_int(-p);
        check_int(-p + 1);
    }
    test_rng r;
    test_rng_init(&r, test_seed(7));
    for (int i = 0; i < 200000; i++) {
        uint64_t u = test_rng_next(&r) >> test_rng_below(&r, 64);
        check_int(test_rng_below(&r, 2) ? (int64_t)u : -(int64_t)(u >> 1));
    }
}

static void json_quote_escapes_every_byte(void **state)
{
    (void)state;
    char out[6 + 2], want[16];
    for (int c = 0; c < 256; c++) {
        char in = (char)c;
        size_t n = strata_json_quote(&in, 1, out);
        switch (c) {
        case '"': strcpy(want, "\"\\\"\""); break;
        case '\\': strcpy(want, "\"\\\\\""); break;
        case '\b': strcpy(want, "\"\\b\""); break;
        case '\f': strcpy(want, "\"\\f\""); break;
        case '\n': strcpy(want, "\"\\n\""); break;
        case '\r': strcpy(want, "\"\\r\""); break;
        case '\t': strcpy(want, "\"\\t\""); break;
        default:
            if (c < 0x20)
                snprintf(want, sizeof want, "\"\\u%04x\"", c);
            else if (c >= 0x80) /* a lone byte >= 0x80 is never valid UTF-8 */
                strcpy(want, "\"\\ufffd\"");
            else
                snprintf(want, sizeof want, "\"%c\"", c);
        }
        assert_int_equal(n, strlen(want));
        assert_memory_equal(out, want, n);
    }
    /* the worst case is exactly 6 * n + 2 */
    char worst[6 * 3 + 2];
    assert_int_equal(strata_json_quote("\x01\x02\x1f", 3, worst), sizeof worst);
    assert_memory_equal(worst, "\"\\u0001\\u0002\\u001f\"", sizeof worst);
    /* UTF-8 and an empty string pass as they are */
    assert_int_equal(strata_json_quote("h\xc3\xa9", 3, out), 5);
    assert_memory_equal(out, "\"h\xc3\xa9\"", 5);
    assert_int_equal(strata_json_quote("", 0, out), 2);
    assert_memory_equal(out, "\"\"", 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(format_int64_matches_printf),
        cmocka_unit_test(json_quote_escapes_every_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
