/* Decoders on damaged input: every truncation of a valid encoding is
 * rejected, and random bit flips, garbage and wrong lengths never crash or
 * read out of bounds (run under ASan: the input is an exact-size heap copy
 * and the output exactly n + CODEC_PAD). Seeded. */
#include <stdlib.h>

#include "codec/codec.h"
#include "testutil.h"

static double dbl(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* Decodes a heap copy of src[0..len); returns the status. */
static int dec_copy(int is_ts, uint8_t id, const uint8_t *src, size_t len, size_t n)
{
    uint8_t *c = malloc(len ? len : 1);
    assert_non_null(c);
    if (len)
        memcpy(c, src, len);
    int rc;
    if (is_ts) {
        int64_t *t = malloc((n + CODEC_PAD) * sizeof *t);
        assert_non_null(t);
        rc = codec_ts_decode(id, c, len, n, t);
        free(t);
    } else {
        double *v = malloc((n + CODEC_PAD) * sizeof *v);
        assert_non_null(v);
        rc = codec_val_decode(id, c, len, n, v);
        free(v);
    }
    free(c);
    assert_true(rc == STRATA_OK || rc == STRATA_ERR_CORRUPT);
    return rc;
}

static void abuse(test_rng *r, int is_ts, uint8_t id, const bbuf *b, size_t n)
{
    assert_int_equal(dec_copy(is_ts, id, b->data, b->len, n), STRATA_OK);
    for (size_t cut = 0; cut < b->len; cut++)
        assert_int_equal(dec_copy(is_ts, id, b->data, cut, n), STRATA_ERR_CORRUPT);
    uint8_t *m = malloc(b->len + 1);
    assert_non_null(m);
    for (int k = 0; k < 200; k++) {
        memcpy(m, b->data, b->len);
        int flips = 1 + (int)test_rng_below(r, 4);
        for (int f = 0; f < flips && b->len; f++)
            m[test_rng_below(r, b->len)] ^= (uint8_t)(1u << test_rng_below(r, 8));
        dec_copy(is_ts, id, m, b->len, n);
        dec_copy(is_ts, id, m, b->len, n + 1 + test_rng_below(r, 3));
        if (n)
            dec_copy(is_ts, id, m, b->len, n - 1);
    }
    free(m);
}

static void damaged_encodings_never_crash(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(5));
    enum { N = 300 };
    int64_t t[N];
    double v[N];
    bbuf b = {0};
    uint8_t ids[16];
    size_t nids = codec_val_ids(ids, 16);
    for (int rep = 0; rep < 12; rep++) {
        size_t n = 1 + test_rng_below(&r, N);
        int64_t x = 1704110400000;
        int64_t m = (int64_t)test_rng_below(&r, 1 << 30);
        for (size_t i = 0; i < n; i++) {
            x += rep % 3 == 0 ? 15000 : rep % 3 == 1 ? 15000 + (int64_t)test_rng_below(&r, 5) : (int64_t)test_rng_next(&r) >> 8;
            t[i] = x;
            switch (rep % 4) {
            case 0: m += (int64_t)test_rng_below(&r, 100); v[i] = (double)m; break;
            case 1: v[i] = (double)(m + (int64_t)test_rng_below(&r, 50)) / 100.0; break;
            case 2: v[i] = test_rng_below(&r, 50) ? (double)m : (double)(m + 1); break;
            case 3: v[i] = dbl(test_rng_next(&r)) ; break;
            }
        }
        uint8_t id;
        base_buf_reset(&b);
        assert_int_equal(codec_ts_encode(t, n, &b, &id), STRATA_OK);
        abuse(&r, 1, id, &b, n);
        for (size_t k = 0; k < nids; k++) {
            base_buf_reset(&b);
            if (codec_val_encode_as(ids[k], v, n, &b) == STRATA_OK)
                abuse(&r, 0, ids[k], &b, n);
        }
    }
    /* pure garbage, every id including unknown ones */
    uint8_t g[256];
    for (int k = 0; k < 3000; k++) {
        size_t len = test_rng_below(&r, sizeof g);
        for (size_t i = 0; i < len; i++)
            g[i] = (uint8_t)test_rng_next(&r);
        size_t n = test_rng_below(&r, 2000);
        uint8_t id = (uint8_t)test_rng_below(&r, 8);
        dec_copy(0, id, g, len, n);
        dec_copy(1, id, g, len, n);
    }
    base_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(damaged_encodings_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
