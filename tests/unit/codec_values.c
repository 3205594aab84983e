/* Value codecs: every float64 bit pattern round-trips through every codec
 * that accepts the block and through the chosen one; the chosen encoding is
 * never larger than any applicable codec's; DEC refuses what it cannot
 * represent exactly. Random and adversarial blocks, seeded. */
#include <float.h>
#include <math.h>
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

static const uint64_t specials[] = {
    0x7ff0000000000002ull, /* Prometheus stale NaN */
    0x7ff8000000000000ull, /* quiet NaN */
    0xfff8000000000001ull, /* negative NaN with payload */
    0x7ff0000000000001ull, /* signalling NaN */
    0x7ff0000000000000ull, /* +Inf */
    0xfff0000000000000ull, /* -Inf */
    0x8000000000000000ull, /* -0.0 */
    0x0000000000000000ull, /* +0.0 */
    0x0000000000000001ull, /* smallest subnormal */
    0x000fffffffffffffull, /* largest subnormal */
    0x7fefffffffffffffull, /* DBL_MAX */
    0xffefffffffffffffull, /* -DBL_MAX */
    0x0010000000000000ull, /* DBL_MIN */
};

/* Checks one block against every codec and the chosen one. */
static void check_block(const double *v, size_t n)
{
    uint8_t ids[16];
    size_t nids = codec_val_ids(ids, 16);
    assert_true(nids >= 3 && nids <= 16);
    double *got = malloc((n + CODEC_PAD) * sizeof *got);
    assert_non_null(got);
    bbuf b = {0};
    size_t smallest = SIZE_MAX;
    int xor_ok = 0;
    for (size_t k = 0; k < nids; k++) {
        assert_non_null(codec_val_name(ids[k]));
        base_buf_reset(&b);
        int rc = codec_val_encode_as(ids[k], v, n, &b);
        if (rc == STRATA_ERR_INVALID) {
            assert_int_equal(b.len, 0);
            continue;
        }
        assert_int_equal(rc, STRATA_OK);
        if (ids[k] == CODEC_VAL_XOR)
            xor_ok = 1;
        if (b.len < smallest)
            smallest = b.len;
        assert_int_equal(codec_val_decode(ids[k], b.data, b.len, n, got), STRATA_OK);
        for (size_t i = 0; i < n; i++)
            if (bits(got[i]) != bits(v[i]))
                fail_msg("codec %s n=%zu i=%zu: %016llx != %016llx", codec_val_name(ids[k]), n, i,
                         (unsigned long long)bits(got[i]), (unsigned long long)bits(v[i]));
    }
    assert_true(xor_ok);
    /* chosen, appended after a prefix to check it appends */
    base_buf_reset(&b);
    assert_int_equal(base_buf_put_u8(&b, 0xAB), STRATA_OK);
    uint8_t id = 0;
    assert_int_equal(codec_val_encode(v, n, &b, &id), STRATA_OK);
    assert_int_equal(b.data[0], 0xAB);
    assert_int_equal(b.len - 1, smallest);
    assert_int_equal(codec_val_decode(id, b.data + 1, b.len - 1, n, got), STRATA_OK);
    for (size_t i = 0; i < n; i++)
        if (bits(got[i]) != bits(v[i]))
            fail_msg("chosen %s n=%zu i=%zu", codec_val_name(id), n, i);
    base_buf_free(&b);
    free(got);
}

static const size_t sizes[] = {1, 2, 3, 5, 64, 129, 1000, 2500};

enum { GEN_RANDOM_BITS, GEN_SPECIAL_MIX, GEN_COUNTER, GEN_DECIMAL_GAUGE, GEN_PAGES, GEN_WALK,
       GEN_CONST, GEN_SPARSE, GEN_LOSSY_DECIMALS, GEN_HUGE_INTS, GEN_NEGATIVE, GEN_KINDS };

static void gen(test_rng *r, int kind, double *v, size_t n)
{
    double x = 0;
    int64_t m = (int64_t)test_rng_below(r, 1ull << 40);
    switch (kind) {
    case GEN_RANDOM_BITS:
        for (size_t i = 0; i < n; i++)
            v[i] = dbl(test_rng_next(r));
        break;
    case GEN_SPECIAL_MIX:
        for (size_t i = 0; i < n; i++) {
            uint64_t c = test_rng_below(r, 4);
            v[i] = c == 0 ? dbl(specials[test_rng_below(r, ARRAY_LEN(specials))])
                 : c == 1 ? (double)test_rng_below(r, 1000) / 100.0
                 : c == 2 ? (double)(int64_t)test_rng_below(r, 1ull << 53)
                          : dbl(test_rng_next(r));
        }
        break;
    case GEN_COUNTER:
        for (size_t i = 0; i < n; i++) {
            m += (int64_t)test_rng_below(r, 2001);
            v[i] = (double)m;
        }
        break;
    case GEN_DECIMAL_GAUGE: {
        unsigned dp = 1 + (unsigned)test_rng_below(r, 3);
        double p = dp == 1 ? 10.0 : dp == 2 ? 100.0 : 1000.0;
        m = (int64_t)test_rng_below(r, 100000);
        for (size_t i = 0; i < n; i++) {
            m += (int64_t)test_rng_below(r, 51) - 25;
            v[i] = (double)m / p;
        }
        break;
    }
    case GEN_PAGES:
        m = (int64_t)test_rng_below(r, 1ull << 20) * 4096;
        for (size_t i = 0; i < n; i++) {
            if (test_rng_below(r, 10) < 8)
                m += ((int64_t)test_rng_below(r, 513) - 256) * 4096;
            v[i] = (double)m;
        }
        break;
    case GEN_WALK:
        x = test_rng_double(r) * 100;
        for (size_t i = 0; i < n; i++) {
            x += test_rng_double(r) - 0.5;
            x = x < 0 ? 0 : x > 100 ? 100 : x;
            v[i] = x;
        }
        break;
    case GEN_CONST: {
        double c = test_rng_below(r, 2) ? dbl(specials[test_rng_below(r, ARRAY_LEN(specials))])
                                         : (double)test_rng_below(r, 100);
        for (size_t i = 0; i < n; i++)
            v[i] = c;
        break;
    }
    case GEN_SPARSE:
        for (size_t i = 0; i < n; i++) {
            if (test_rng_below(r, 300) == 0)
                m += 1 + (int64_t)test_rng_below(r, 3);
            v[i] = (double)m;
        }
        break;
    case GEN_LOSSY_DECIMALS:
        for (size_t i = 0; i < n; i++) {
            uint64_t c = test_rng_below(r, 5);
            v[i] = c == 0 ? 0.1 + 0.2 : c == 1 ? 1e300 : c == 2 ? 1.0 / 3.0 : c == 3 ? 5e-324 : 0.3;
        }
        break;
    case GEN_HUGE_INTS:
        for (size_t i = 0; i < n; i++) {
            uint64_t c = test_rng_below(r, 4);
            v[i] = c == 0 ? 9223372036854775807.0 : c == 1 ? -9223372036854775808.0
                 : c == 2 ? (double)(int64_t)test_rng_next(r) : 1.8446744073709552e19;
        }
        break;
    case GEN_NEGATIVE:
        m = -(int64_t)test_rng_below(r, 1ull << 50);
        for (size_t i = 0; i < n; i++) {
            m = (int64_t)((uint64_t)m - test_rng_below(r, 1ull << (test_rng_below(r, 62))));
            v[i] = (double)m / 1000.0;
        }
        break;
    }
}

static void every_bit_pattern_round_trips_through_every_codec(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(42));
    double *v = malloc(2500 * sizeof *v);
    assert_non_null(v);
    for (int rep = 0; rep < 6; rep++)
        for (int kind = 0; kind < GEN_KINDS; kind++)
            for (size_t s = 0; s < ARRAY_LEN(sizes); s++) {
                gen(&r, kind, v, sizes[s]);
                check_block(v, sizes[s]);
            }
    free(v);
}

static void each_special_value_alone_and_in_pairs_round_trips(void **state)
{
    (void)state;
    double v[3];
    for (size_t i = 0; i < ARRAY_LEN(specials); i++) {
        v[0] = dbl(specials[i]);
        check_block(v, 1);
        for (size_t j = 0; j < ARRAY_LEN(specials); j++) {
            v[1] = dbl(specials[j]);
            v[2] = 1.5;
            check_block(v, 2);
            check_block(v, 3);
        }
    }
}

static void dec_refuses_values_it_cannot_represent_exactly(void **state)
{
    (void)state;
    bbuf b = {0};
    const double bad[] = {NAN, INFINITY, -INFINITY, -0.0, 1e300, 5e-324, DBL_MAX, 1e-19,
                          dbl(0x7ff0000000000002ull), 9223372036854775808.0};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        double v[3] = {1.0, bad[i], 2.5};
        assert_int_equal(codec_val_encode_as(CODEC_VAL_DEC, v, 3, &b), STRATA_ERR_INVALID);
        assert_int_equal(b.len, 0);
    }
    /* 17 significant digits still fit an int64 mantissa exactly */
    double ok[6] = {0.1, 0.25, 12.125, -3.0, 0.1 + 0.2, 1.0 / 3.0};
    assert_int_equal(codec_val_encode_as(CODEC_VAL_DEC, ok, 6, &b), STRATA_OK);
    double back[6 + CODEC_PAD];
    assert_int_equal(codec_val_decode(CODEC_VAL_DEC, b.data, b.len, 6, back), STRATA_OK);
    assert_memory_equal(back, ok, sizeof ok);
    base_buf_reset(&b);
    double two[2] = {1.0, 2.0};
    assert_int_equal(codec_val_encode_as(CODEC_VAL_CONST, two, 2, &b), STRATA_ERR_INVALID);
    assert_int_equal(codec_val_encode_as(0, two, 2, &b), STRATA_ERR_INVALID);
    assert_null(codec_val_name(0));
    base_buf_free(&b);
}

static void monitoring_shapes_beat_xor(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(42));
    double v[1000];
    bbuf x = {0}, c = {0};
    const int kinds[] = {GEN_COUNTER, GEN_DECIMAL_GAUGE, GEN_PAGES, GEN_CONST, GEN_SPARSE};
    for (size_t k = 0; k < ARRAY_LEN(kinds); k++) {
        gen(&r, kinds[k], v, 1000);
        base_buf_reset(&x);
        base_buf_reset(&c);
        uint8_t id;
        assert_int_equal(codec_val_encode_as(CODEC_VAL_XOR, v, 1000, &x), STRATA_OK);
        assert_int_equal(codec_val_encode(v, 1000, &c, &id), STRATA_OK);
        print_message("kind %d: xor %zu bytes, chosen %s %zu bytes\n", kinds[k], x.len, codec_val_name(id), c.len);
        assert_true(kinds[k] == GEN_PAGES ? c.len < x.len : c.len * 2 < x.len);
    }
    /* a constant block costs a few bytes; a block of rare +1 steps little more */
    gen(&r, GEN_CONST, v, 1000);
    base_buf_reset(&c);
    uint8_t id;
    assert_int_equal(codec_val_encode(v, 1000, &c, &id), STRATA_OK);
    assert_true(c.len <= 8);
    gen(&r, GEN_SPARSE, v, 1000);
    base_buf_reset(&c);
    assert_int_equal(codec_val_encode(v, 1000, &c, &id), STRATA_OK);
    assert_true(c.len <= 40);
    base_buf_free(&x);
    base_buf_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_bit_pattern_round_trips_through_every_codec),
        cmocka_unit_test(each_special_value_alone_and_in_pairs_round_trips),
        cmocka_unit_test(dec_refuses_values_it_cannot_represent_exactly),
        cmocka_unit_test(monitoring_shapes_beat_xor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
