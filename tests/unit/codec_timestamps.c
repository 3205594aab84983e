/* Timestamp codec: every int64 sequence round-trips (extremes, huge gaps,
 * equal and decreasing neighbours, irregular, n = 0..3, group boundaries);
 * regular blocks cost a few bytes whatever their length. Seeded. */
#include <stdlib.h>

#include "codec/codec.h"
#include "testutil.h"

static size_t roundtrip(const int64_t *ts, size_t n)
{
    bbuf b = {0};
    uint8_t id = 0;
    assert_int_equal(base_buf_put_u8(&b, 0x5A), STRATA_OK);
    assert_int_equal(codec_ts_encode(ts, n, &b, &id), STRATA_OK);
    assert_int_equal(id, CODEC_TS_DOD);
    assert_int_equal(b.data[0], 0x5A);
    int64_t *got = malloc((n + CODEC_PAD) * sizeof *got);
    assert_non_null(got);
    assert_int_equal(codec_ts_decode(id, b.data + 1, b.len - 1, n, got), STRATA_OK);
    for (size_t i = 0; i < n; i++)
        if (got[i] != ts[i])
            fail_msg("n=%zu i=%zu: %lld != %lld", n, i, (long long)got[i], (long long)ts[i]);
    size_t len = b.len - 1;
    free(got);
    base_buf_free(&b);
    return len;
}

static const size_t sizes[] = {0, 1, 2, 3, 4, 129, 130, 131, 258, 1000, 3001};

enum { T_REGULAR_MS, T_JITTER, T_EXTREMES, T_RANDOM, T_EQUAL, T_DECREASING, T_GAPS, T_POW10, T_KINDS };

static void gen(test_rng *r, int kind, int64_t *t, size_t n)
{
    int64_t x = (int64_t)test_rng_below(r, 1ull << 41) * 1000;
    for (size_t i = 0; i < n; i++) {
        switch (kind) {
        case T_REGULAR_MS: t[i] = x + (int64_t)i * 15000; break;
        case T_JITTER: x = (int64_t)((uint64_t)x + 14990 + test_rng_below(r, 21)); t[i] = x; break;
        case T_EXTREMES: {
            static const int64_t e[] = {INT64_MIN, INT64_MAX, 0, -1, 1, INT64_MIN + 1, INT64_MAX - 1};
            t[i] = e[test_rng_below(r, ARRAY_LEN(e))];
            break;
        }
        case T_RANDOM: t[i] = (int64_t)test_rng_next(r); break;
        case T_EQUAL: if (test_rng_below(r, 3) == 0) x += 1000; t[i] = x; break;
        case T_DECREASING: x = (int64_t)((uint64_t)x - test_rng_below(r, 1ull << 40)); t[i] = x; break;
        case T_GAPS: x = (int64_t)((uint64_t)x + (test_rng_below(r, 50) ? 10000 : test_rng_below(r, 1ull << 60))); t[i] = x; break;
        case T_POW10: t[i] = ((int64_t)test_rng_below(r, 19) - 9) * 1000000000000000000ll; break;
        }
    }
}

static void every_int64_sequence_round_trips(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(7));
    int64_t *t = malloc(3001 * sizeof *t);
    assert_non_null(t);
    for (int rep = 0; rep < 8; rep++)
        for (int kind = 0; kind < T_KINDS; kind++)
            for (size_t s = 0; s < ARRAY_LEN(sizes); s++) {
                gen(&r, kind, t, sizes[s]);
                roundtrip(t, sizes[s]);
            }
    free(t);
}

static void extreme_neighbours_round_trip(void **state)
{
    (void)state;
    const int64_t a[] = {INT64_MIN, INT64_MAX, INT64_MIN, INT64_MAX, 0, INT64_MIN};
    roundtrip(a, ARRAY_LEN(a));
    const int64_t b[] = {INT64_MAX, INT64_MAX, INT64_MAX};
    roundtrip(b, 3);
    const int64_t c[] = {INT64_MIN};
    roundtrip(c, 1);
    /* regular runs that wrap around */
    int64_t d[300];
    for (size_t i = 0; i < 300; i++)
        d[i] = (int64_t)((uint64_t)INT64_MAX - 1000 + i * (1ull << 61));
    roundtrip(d, 300);
    /* multiples of a power of ten near the extremes */
    const int64_t e[] = {-9000000000000000000ll, 9000000000000000000ll, -9000000000000000000ll, 0};
    roundtrip(e, 4);
}

static void regular_blocks_cost_a_few_bytes(void **state)
{
    (void)state;
    int64_t t[5000];
    for (size_t i = 0; i < 5000; i++)
        t[i] = 1704110400000ll + (int64_t)i * 15000;
    assert_true(roundtrip(t, 5000) <= 10);
    for (size_t i = 0; i < 5000; i++)
        t[i] = 1704110400123ll + (int64_t)i * 10;
    assert_true(roundtrip(t, 5000) <= 10);
    /* one late scrape costs about a group, not the block */
    t[2000] += 7;
    assert_true(roundtrip(t, 5000) <= 10 + 5000 / 128 + 128 * 5 / 8 + 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_int64_sequence_round_trips),
        cmocka_unit_test(extreme_neighbours_round_trip),
        cmocka_unit_test(regular_blocks_cost_a_few_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
