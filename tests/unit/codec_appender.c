/* The head's XOR appender and its iterator: every (int64, float64 bit
 * pattern) stream round-trips sample by sample, including extreme
 * timestamps and every dod bucket; a truncated stream ends in an error,
 * never a crash or a wrong sample. Seeded. */
#include <stdlib.h>

#include "codec/codec.h"
#include "testutil.h"

static uint64_t bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}
static double dbl(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static void check_stream(const int64_t *t, const double *v, uint32_t n)
{
    codec_xor_appender a;
    codec_xor_appender_init(&a);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(codec_xor_append(&a, t[i], v[i]), STRATA_OK);
    assert_int_equal(a.n, n);
    assert_int_equal(a.bytes.len, (a.bit_len + 7) / 8);
    /* read from an exact-size copy so ASan sees any over-read */
    uint8_t *copy = malloc(a.bytes.len ? a.bytes.len : 1);
    assert_non_null(copy);
    if (a.bytes.len)
        memcpy(copy, a.bytes.data, a.bytes.len);
    codec_xor_iter it;
    codec_xor_iter_init(&it, copy, a.bytes.len, n);
    int64_t gt;
    double gv;
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(codec_xor_iter_next(&it, &gt, &gv), 1);
        if (gt != t[i] || bits(gv) != bits(v[i]))
            fail_msg("sample %u of %u differs", i, n);
    }
    assert_int_equal(codec_xor_iter_next(&it, &gt, &gv), 0);
    /* every strict truncation fails before the end */
    for (size_t cut = 0; cut < a.bytes.len; cut += 1 + a.bytes.len / 64) {
        codec_xor_iter_init(&it, copy, cut, n);
        int rc = 1;
        uint32_t got = 0;
        while ((rc = codec_xor_iter_next(&it, &gt, &gv)) == 1) {
            assert_true(gt == t[got] && bits(gv) == bits(v[got]));
            got++;
        }
        assert_int_equal(rc, STRATA_ERR_CORRUPT);
        assert_true(got < n);
    }
    free(copy);
    codec_xor_appender_free(&a);
}

static void every_sample_round_trips(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(11));
    enum { N = 600 };
    int64_t *t = malloc(N * sizeof *t);
    double *v = malloc(N * sizeof *v);
    assert_non_null(t);
    assert_non_null(v);
    static const uint64_t special[] = {0x7ff0000000000002ull, 0x7ff8000000000000ull, 0x8000000000000000ull,
                                       0, 1, 0x7ff0000000000000ull, 0xfff0000000000000ull, 0x7fefffffffffffffull};
    for (int rep = 0; rep < 40; rep++) {
        uint32_t n = (uint32_t)test_rng_below(&r, N + 1);
        int tk = rep % 5, vk = (rep / 5) % 4;
        int64_t x = (int64_t)test_rng_next(&r);
        double y = test_rng_double(&r) * 100;
        for (uint32_t i = 0; i < n; i++) {
            switch (tk) {
            case 0: x = (int64_t)((uint64_t)x + 15000); break;
            case 1: x = (int64_t)((uint64_t)x + 15000 + test_rng_below(&r, 1u << (test_rng_below(&r, 22)))); break;
            case 2: x = (int64_t)test_rng_next(&r); break;
            case 3: x = test_rng_below(&r, 2) ? INT64_MIN : INT64_MAX; break;
            case 4: x = (int64_t)((uint64_t)x + (test_rng_below(&r, 4) ? 0 : 1)); break;
            }
            t[i] = x;
            switch (vk) {
            case 0: y += test_rng_double(&r) - 0.5; v[i] = y; break;
            case 1: v[i] = dbl(test_rng_next(&r)); break;
            case 2: v[i] = dbl(special[test_rng_below(&r, ARRAY_LEN(special))]); break;
            case 3: v[i] = (double)(i / 7); break;
            }
        }
        check_stream(t, v, n);
    }
    free(t);
    free(v);
}

static void single_sample_and_empty_streams(void **state)
{
    (void)state;
    int64_t t = INT64_MIN;
    double v = dbl(0x7ff0000000000002ull);
    check_stream(&t, &v, 1);
    check_stream(&t, &v, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_sample_round_trips),
        cmocka_unit_test(single_sample_and_empty_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
