/* WAL record payloads: series, samples and delete records round-trip
 * bit-exactly (extreme ids and timestamps, NaN payloads), and every
 * truncation or corruption is rejected or decodes to something that
 * re-encodes consistently, never a crash. */
#include <math.h>

#include "wal_testlib.h"

static uint64_t dbits(double d)
{
    uint64_t b;
    memcpy(&b, &d, 8);
    return b;
}

static double bitsd(uint64_t b)
{
    double d;
    memcpy(&d, &b, 8);
    return d;
}

static void wal_series_record_round_trips(void **state)
{
    (void)state;
    char *big = malloc(100001);
    assert_non_null(big);
    memset(big, 'v', 100000);
    big[100000] = 0;
    strata_label a[] = {{"__name__", "cpu_usage_user"}, {"host", "h1"}, {"empty", ""}};
    strata_label b[] = {{"__name__", "x"}, {"long", big}, {"utf8", "\xc3\xa9t\xc3\xa9"}};
    bbuf out = {0};
    assert_int_equal(base_buf_put_u8(&out, 0xAA), STRATA_OK);
    assert_int_equal(wal_series_begin(&out), STRATA_ERR_INVALID); /* must start empty */
    base_buf_reset(&out);
    assert_int_equal(wal_series_begin(&out), STRATA_OK);
    assert_int_equal(wal_series_add(&out, 1, a, 3), STRATA_OK);
    assert_int_equal(wal_series_add(&out, UINT64_MAX, b, 3), STRATA_OK);
    assert_int_equal(wal_series_add(&out, 0, NULL, 0), STRATA_OK);
    const uint8_t *rec = out.data;
    size_t len = out.len;

    wal_series_iter it;
    strata_sid sid;
    const strata_label *l;
    size_t n;
    assert_int_equal(wal_series_iter_init(&it, rec, len), STRATA_OK);
    assert_int_equal(wal_series_iter_next(&it, &sid, &l, &n), 1);
    assert_int_equal(sid, 1);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(l[i].name, a[i].name);
        assert_string_equal(l[i].value, a[i].value);
    }
    assert_int_equal(wal_series_iter_next(&it, &sid, &l, &n), 1);
    assert_true(sid == UINT64_MAX);
    assert_int_equal(n, 3);
    assert_string_equal(l[1].value, big);
    assert_string_equal(l[2].value, b[2].value);
    assert_int_equal(wal_series_iter_next(&it, &sid, &l, &n), 1);
    assert_int_equal(n, 0);
    assert_int_equal(wal_series_iter_next(&it, &sid, &l, &n), 0);
    wal_series_iter_free(&it);

    /* Every truncation is rejected. */
    size_t small = 0;
    {
        bbuf s2 = {0};
        assert_int_equal(wal_series_begin(&s2), STRATA_OK);
        assert_int_equal(wal_series_add(&s2, 5, a, 3), STRATA_OK);
        assert_int_equal(wal_series_add(&s2, 6, a, 2), STRATA_OK);
        small = s2.len;
        for (size_t cut = 0; cut < small; cut++) {
            int rc = wal_series_iter_init(&it, s2.data, cut);
            int r = rc;
            while (rc == STRATA_OK && (r = wal_series_iter_next(&it, &sid, &l, &n)) == 1)
                ;
            assert_int_equal(rc == STRATA_OK ? r : rc, STRATA_ERR_CORRUPT);
            wal_series_iter_free(&it);
        }
        /* A NUL inside a string is corrupt (it would cut the C string). */
        uint8_t *nul = memchr(s2.data + 5, 'h', s2.len - 5);
        assert_non_null(nul);
        *nul = 0;
        assert_int_equal(wal_series_iter_init(&it, s2.data, s2.len), STRATA_OK);
        int r;
        while ((r = wal_series_iter_next(&it, &sid, &l, &n)) == 1)
            ;
        assert_int_equal(r, STRATA_ERR_CORRUPT);
        wal_series_iter_free(&it);
        base_buf_free(&s2);
    }
    assert_true(small > 0);
    base_buf_free(&out);
    free(big);
}

static void fill_samples(test_rng *r, strata_sample *s, size_t n, int kind)
{
    uint64_t sid = test_rng_next(r);
    int64_t t = (int64_t)test_rng_next(r);
    double v = test_rng_double(r) * 100;
    for (size_t i = 0; i < n; i++) {
        switch (kind) {
        case 0: /* anything at all */
            s[i].sid = test_rng_next(r);
            s[i].t_ms = (int64_t)test_rng_next(r);
            s[i].value = bitsd(test_rng_next(r));
            break;
        case 1: /* one series' run, integer counter */
            s[i].sid = sid;
            s[i].t_ms = t += 10000;
            s[i].value = (double)(i * 7);
            break;
        default: { /* extremes */
            static const uint64_t vals[] = {0x7ff8000000000001ull, 0xfff0000000000000ull, 0x8000000000000000ull, 1,
                                            0x7ff4000000000abcull, 0};
            static const int64_t ts[] = {INT64_MIN, INT64_MAX, 0, -1, INT64_MIN + 1};
            s[i].sid = i % 2 ? UINT64_MAX : 0;
            s[i].t_ms = ts[i % ARRAY_LEN(ts)];
            s[i].value = bitsd(vals[i % ARRAY_LEN(vals)]);
            break;
        }
        }
        (void)v;
    }
}

static void assert_same_samples(const strata_sample *a, const strata_sample *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_true(a[i].sid == b[i].sid);
        assert_true(a[i].t_ms == b[i].t_ms);
        assert_true(dbits(a[i].value) == dbits(b[i].value));
    }
}

static void wal_samples_record_round_trips_bit_exactly(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(41));
    strata_sample in[600], *out = NULL;
    size_t cap = 0, n = 0;
    for (int kind = 0; kind < 3; kind++) {
        for (size_t cnt = 0; cnt < 600; cnt += 37) {
            fill_samples(&r, in, cnt, kind);
            bbuf b = {0};
            assert_int_equal(wal_samples_encode(&b, in, cnt), STRATA_OK);
            assert_int_equal(wal_samples_decode(b.data, b.len, &out, &cap, &n), STRATA_OK);
            assert_int_equal(n, cnt);
            assert_same_samples(in, out, cnt);
            base_buf_free(&b);
        }
    }
    base_free(out);
}

static void wal_samples_decoder_rejects_truncated_and_corrupt_input(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(42));
    strata_sample in[50], *out = NULL, *out2 = NULL;
    size_t cap = 0, cap2 = 0, n = 0, n2 = 0;
    fill_samples(&r, in, 50, 0);
    bbuf b = {0}, b2 = {0};
    assert_int_equal(wal_samples_encode(&b, in, 50), STRATA_OK);
    for (size_t cut = 0; cut < b.len; cut++)
        assert_int_equal(wal_samples_decode(b.data, cut, &out, &cap, &n), STRATA_ERR_CORRUPT);
    /* Trailing bytes are corrupt too. */
    assert_int_equal(base_buf_put_u8(&b, 0), STRATA_OK);
    assert_int_equal(wal_samples_decode(b.data, b.len, &out, &cap, &n), STRATA_ERR_CORRUPT);
    b.len--;
    /* Random changes: rejected, or a batch that re-encodes to the same samples. */
    uint8_t *copy = malloc(b.len);
    assert_non_null(copy);
    int accepted = 0;
    for (int trial = 0; trial < 20000; trial++) {
        memcpy(copy, b.data, b.len);
        copy[test_rng_below(&r, b.len)] ^= (uint8_t)(1 + test_rng_below(&r, 255));
        int rc = wal_samples_decode(copy, b.len, &out, &cap, &n);
        assert_true(rc == STRATA_OK || rc == STRATA_ERR_CORRUPT);
        if (rc == STRATA_OK) {
            accepted++;
            base_buf_reset(&b2);
            assert_int_equal(wal_samples_encode(&b2, out, n), STRATA_OK);
            assert_int_equal(wal_samples_decode(b2.data, b2.len, &out2, &cap2, &n2), STRATA_OK);
            assert_int_equal(n2, n);
            assert_same_samples(out, out2, n);
        }
    }
    print_message("samples: %d of 20000 one-byte changes still decode (the framing's CRC catches them)\n",
                  accepted);
    /* A count larger than the bytes could hold is refused before allocating. */
    uint8_t huge[] = {1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0x80};
    assert_int_equal(wal_samples_decode(huge, sizeof huge, &out, &cap, &n), STRATA_ERR_CORRUPT);
    free(copy);
    base_buf_free(&b);
    base_buf_free(&b2);
    base_free(out);
    base_free(out2);
}

static void wal_delete_record_round_trips_and_rejects_bad_input(void **state)
{
    (void)state;
    strata_sid sids[] = {0, 1, 2, 1000, 1001, UINT64_MAX - 1, UINT64_MAX};
    strata_sid *out = NULL;
    size_t cap = 0, n = 0;
    int64_t mint, maxt;
    int64_t ranges[][2] = {{INT64_MIN, INT64_MAX}, {0, 0}, {-5, 5}, {INT64_MAX, INT64_MAX}};
    for (size_t k = 0; k < ARRAY_LEN(ranges); k++) {
        bbuf b = {0};
        assert_int_equal(wal_delete_encode(&b, sids, ARRAY_LEN(sids), ranges[k][0], ranges[k][1]), STRATA_OK);
        assert_int_equal(wal_delete_decode(b.data, b.len, &out, &cap, &n, &mint, &maxt), STRATA_OK);
        assert_int_equal(n, ARRAY_LEN(sids));
        for (size_t i = 0; i < n; i++)
            assert_true(out[i] == sids[i]);
        assert_true(mint == ranges[k][0] && maxt == ranges[k][1]);
        for (size_t cut = 0; cut < b.len; cut++)
            assert_int_equal(wal_delete_decode(b.data, cut, &out, &cap, &n, &mint, &maxt), STRATA_ERR_CORRUPT);
        base_buf_free(&b);
    }
    bbuf b = {0};
    strata_sid unsorted[] = {3, 2};
    assert_int_equal(wal_delete_encode(&b, unsorted, 2, 0, 1), STRATA_ERR_INVALID);
    assert_int_equal(wal_delete_encode(&b, sids, 2, 5, 4), STRATA_ERR_INVALID);
    assert_int_equal(b.len, 0);
    /* maxt past INT64_MAX and a sid past UINT64_MAX are corrupt. */
    uint8_t wrap_t[] = {1, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0};
    assert_int_equal(wal_delete_decode(wrap_t, sizeof wrap_t, &out, &cap, &n, &mint, &maxt), STRATA_ERR_CORRUPT);
    uint8_t wrap_sid[] = {1, 0, 0, 2, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01};
    assert_int_equal(wal_delete_decode(wrap_sid, sizeof wrap_sid, &out, &cap, &n, &mint, &maxt), STRATA_ERR_CORRUPT);
    base_free(out);
}

/* Bytes per sample on two shapes of batch (printed; bounded loosely). */
static void wal_samples_encoding_is_compact(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(43));
    enum { N = 1000 };
    strata_sample s[N];
    /* devops-cpu shape: one tick, 100 hosts x 10 fields, values a random
     * walk in [0,100] at full precision. */
    double walk[N];
    for (size_t i = 0; i < N; i++)
        walk[i] = test_rng_double(&r) * 100;
    for (size_t i = 0; i < N; i++) {
        s[i].sid = 1 + i;
        s[i].t_ms = 1704110400000;
        s[i].value = walk[i] + (test_rng_double(&r) - 0.5);
    }
    bbuf b = {0};
    assert_int_equal(wal_samples_encode(&b, s, N), STRATA_OK);
    double devops = (double)b.len / N;
    /* node-like shape: one series' run of a counter with 2 decimals. */
    for (size_t i = 0; i < N; i++) {
        s[i].sid = 42;
        s[i].t_ms = 1704110400000 + (int64_t)i * 15000;
        s[i].value = round((double)i * 12.34 * 100) / 100;
    }
    base_buf_reset(&b);
    assert_int_equal(wal_samples_encode(&b, s, N), STRATA_OK);
    double node = (double)b.len / N;
    print_message("samples record: %.2f bytes/sample (tick across series, full-precision floats), "
                  "%.2f bytes/sample (one series, 2-decimal counter); raw would be 24\n",
                  devops, node);
    assert_true(devops < 12);
    assert_true(node < 10);
    base_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wal_series_record_round_trips),
        cmocka_unit_test(wal_samples_record_round_trips_bit_exactly),
        cmocka_unit_test(wal_samples_decoder_rejects_truncated_and_corrupt_input),
        cmocka_unit_test(wal_delete_record_round_trips_and_rejects_bad_input),
        cmocka_unit_test(wal_samples_encoding_is_compact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
