/* Integer sequence forms under CODEC_VAL_DEC: integer and decimal series
 * shaped so that each (order, form, packing) of intseq.c wins somewhere
 * (deltas and deltas of deltas; frame of reference, sparse bitmap, sparse
 * gaps; plain and radix packing, with and without a common divisor, full
 * and partial last groups) round-trip bit for bit, including running sums
 * on both sides of 2^51 (where the decoder switches conversions) and
 * blocks whose sizes are not multiples of the vector width. Every form is
 * checked to have been produced. Seeded. */
#include <stdlib.h>

#include "codec/codec.h"
#include "codec/codec_int.h" /* dec_div, the decoders' m / 10^e */
#include "testutil.h"

static uint64_t bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

/* The intseq header byte of a DEC block: after the exponent byte. */
static unsigned form_of(const bbuf *b) { return b->data[1]; }

static unsigned seen[3][4]; /* [order][form] */
static unsigned seen_radix, seen_plain;

static void round_trip(const double *v, size_t n)
{
    bbuf b = {0};
    double *got = malloc((n + CODEC_PAD) * sizeof *got);
    assert_non_null(got);
    int rc = codec_val_encode_as(CODEC_VAL_DEC, v, n, &b);
    assert_int_equal(rc, STRATA_OK);
    unsigned h = form_of(&b);
    seen[h & 3][(h >> 2) & 3]++;
    assert_int_equal(codec_val_decode(CODEC_VAL_DEC, b.data, b.len, n, got), STRATA_OK);
    for (size_t i = 0; i < n; i++)
        if (bits(got[i]) != bits(v[i]))
            fail_msg("n=%zu i=%zu hdr=%02x: %.17g != %.17g", n, i, h, got[i], v[i]);
    /* and through the chosen codec */
    bbuf c = {0};
    uint8_t id;
    assert_int_equal(codec_val_encode(v, n, &c, &id), STRATA_OK);
    assert_int_equal(codec_val_decode(id, c.data, c.len, n, got), STRATA_OK);
    for (size_t i = 0; i < n; i++)
        if (bits(got[i]) != bits(v[i]))
            fail_msg("chosen %s n=%zu i=%zu", codec_val_name(id), n, i);
    base_buf_free(&b);
    base_buf_free(&c);
    free(got);
}

/* Radix or plain: scans the FOR width byte of a FOR-form DEC block. */
static void note_packing(const double *v, size_t n)
{
    bbuf b = {0};
    assert_int_equal(codec_val_encode_as(CODEC_VAL_DEC, v, n, &b), STRATA_OK);
    unsigned h = b.data[1];
    if (((h >> 2) & 3) == 0 && (h & 3) == 1) {
        size_t p = 2;
        for (int k = 0; k < 3; k++) /* m0, base, g varints */
            while (b.data[p++] & 0x80)
                ;
        if (b.data[p] & 0x80)
            seen_radix++;
        else if (b.data[p])
            seen_plain++;
    }
    base_buf_free(&b);
}

static const size_t sizes[] = {1, 2, 3, 4, 5, 7, 63, 64, 65, 129, 255, 256, 257, 1000, 1023, 4099};

static void every_form_round_trips(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(7));
    static double v[5000];
    static const uint64_t radices[] = {2, 3, 4, 5, 7, 11, 21, 129, 513, 2001, 65537, 1ull << 20, 3000017};
    static const int64_t divisors[] = {1, 3, 10, 4096};
    static const double scales[] = {1, 10, 100, 1000};
    for (size_t si = 0; si < ARRAY_LEN(sizes); si++) {
        size_t n = sizes[si];
        for (int shape = 0; shape < 6; shape++) {
            for (size_t ri = 0; ri < ARRAY_LEN(radices); ri++) {
                uint64_t R = radices[ri];
                int64_t g = divisors[test_rng_below(&r, ARRAY_LEN(divisors))];
                double sc = scales[test_rng_below(&r, ARRAY_LEN(scales))];
                int64_t base = (int64_t)test_rng_below(&r, 2001) - 1000;
                /* start near 0, near +-2^51 or near +-2^53 */
                int64_t m = (int64_t)test_rng_below(&r, 1000);
                uint64_t where = test_rng_below(&r, 5);
                if (where == 1)
                    m = (1ll << 51) - (int64_t)test_rng_below(&r, 4000);
                else if (where == 2)
                    m = -(1ll << 51) + (int64_t)test_rng_below(&r, 4000);
                else if (where == 3)
                    m = (1ll << 53) - 3000 * (int64_t)n;
                double p_nz = shape == 2 ? 0.3 : shape == 3 ? 0.02 : 1.0;
                int64_t d = base;
                for (size_t i = 0; i < n; i++) {
                    int64_t x = (int64_t)test_rng_below(&r, R) * g;
                    if (shape == 1) /* deltas of deltas */
                        d += x - (int64_t)(R / 2) * g;
                    else if (shape == 4) /* wide deltas */
                        d = (int64_t)(test_rng_next(&r) >> 20) - (1ll << 43);
                    else if (shape == 5) /* constant step */
                        d = base;
                    else
                        d = test_rng_double(&r) < p_nz ? base + x : 0;
                    if (i)
                        m += d;
                    v[i] = (double)m / sc;
                }
                /* keep only blocks DEC can represent (exact m / sc) */
                bbuf t = {0};
                int rc = codec_val_encode_as(CODEC_VAL_DEC, v, n, &t);
                base_buf_free(&t);
                if (rc == STRATA_ERR_INVALID)
                    continue;
                round_trip(v, n);
                note_packing(v, n);
            }
        }
    }
    print_message("forms seen: o1 FOR %u BITMAP %u GAPS %u; o2 FOR %u BITMAP %u GAPS %u; radix %u plain %u\n",
                  seen[1][0], seen[1][1], seen[1][2], seen[2][0], seen[2][1], seen[2][2], seen_radix, seen_plain);
    for (int o = 1; o <= 2; o++)
        assert_true(seen[o][0] > 0);
    assert_true(seen[1][1] > 0 && seen[1][2] > 0);
    assert_true(seen_radix > 0 && seen_plain > 0);
}

/* Truncating a valid block anywhere never decodes successfully, and flipping
 * a byte never crashes (the result may be another valid block). */
static void damaged_forms_fail_cleanly(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(8));
    double v[300], got[300 + CODEC_PAD];
    for (int shape = 0; shape < 3; shape++) {
        int64_t m = 1000;
        for (size_t i = 0; i < 300; i++) {
            if (shape == 0 || test_rng_below(&r, shape == 1 ? 3 : 40) == 0)
                m += 1 + (int64_t)test_rng_below(&r, 2001);
            v[i] = (double)m;
        }
        bbuf b = {0};
        assert_int_equal(codec_val_encode_as(CODEC_VAL_DEC, v, 300, &b), STRATA_OK);
        for (size_t cut = 0; cut < b.len; cut++)
            assert_int_not_equal(codec_val_decode(CODEC_VAL_DEC, b.data, cut, 300, got), STRATA_OK);
        for (size_t at = 0; at < b.len; at++) {
            uint8_t save = b.data[at];
            b.data[at] ^= (uint8_t)(1u << test_rng_below(&r, 8));
            (void)codec_val_decode(CODEC_VAL_DEC, b.data, b.len, 300, got);
            b.data[at] = save;
        }
        base_buf_free(&b);
    }
}

/* The decoders compute m / 10^e without a division (dec_div); it must be
 * the correctly rounded quotient, as IEEE division gives, for every int64
 * m (so blocks written when the decoder divided read back the same). */
static void decimal_scaling_equals_ieee_division(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(9));
    volatile double p; /* keep the division a division */
    for (unsigned e = 0; e <= 22; e++) {
        p = codec_p10d[e];
        for (int k = 0; k < 200000; k++) {
            unsigned w = 1 + (unsigned)test_rng_below(&r, 63);
            int64_t m = (int64_t)(test_rng_next(&r) >> (64 - w));
            if (test_rng_below(&r, 2))
                m = -m;
            if (k < 2000) /* small and exhaustive-ish near 0 */
                m = k - 1000;
            double a = (double)m, want = e ? a / p : a, got = dec_div(a, e);
            if (memcmp(&want, &got, 8))
                fail_msg("m=%lld e=%u: %.17g != %.17g", (long long)m, e, got, want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_form_round_trips),
        cmocka_unit_test(decimal_scaling_equals_ieee_division),
        cmocka_unit_test(damaged_forms_fail_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
