/* server/xorchunk.c against Prometheus: each case of
 * server_xorchunk_vectors.h (made by Prometheus' own encoder) encodes to
 * the same bytes; a chunk refuses a 121st sample; CRC-32C gives the
 * check value of the standard and of Go's crc32.Castagnoli. */
#include <stdio.h>
#include <string.h>

#include "strata.h"
#include "testutil.h"
#include "xorchunk.h"

#include "server_xorchunk_vectors.h"

static void check_case(const char *name, const int64_t *t, const uint64_t *v, size_t n, const uint8_t *want,
                       size_t want_len)
{
    static xc_chunk c;
    xc_reset(&c);
    for (size_t i = 0; i < n; i++) {
        double d;
        memcpy(&d, &v[i], 8);
        assert_int_equal(xc_append(&c, t[i], d), STRATA_OK);
    }
    size_t len;
    const uint8_t *got = xc_bytes(&c, &len);
    if (len != want_len || memcmp(got, want, len)) {
        size_t k = 0;
        while (k < len && k < want_len && got[k] == want[k])
            k++;
        fprintf(stderr, "case %s: %zu bytes, want %zu; first difference at byte %zu\n", name, len, want_len, k);
        fail();
    }
    assert_int_equal(c.mint, t[0]);
    assert_int_equal(c.maxt, t[n - 1]);
}

static void encodes_as_prometheus(void **state)
{
    (void)state;
#define X(name) check_case(#name, name##_t, name##_v, sizeof name##_t / sizeof name##_t[0], name##_chunk, sizeof name##_chunk);
    XV_CASES(X)
#undef X
}

static void holds_at_most_120(void **state)
{
    (void)state;
    static xc_chunk c;
    xc_reset(&c);
    for (int i = 0; i < XC_MAX_SAMPLES; i++)
        assert_int_equal(xc_append(&c, (int64_t)i * 1000, (double)i), STRATA_OK);
    assert_int_equal(xc_append(&c, 999999, 1.0), STRATA_ERR_LIMIT);
    size_t len;
    const uint8_t *b = xc_bytes(&c, &len);
    assert_int_equal(b[0] << 8 | b[1], 120);
    /* the worst case fits: every dod and value of the widest form */
    xc_reset(&c);
    int64_t t = 0;
    for (int i = 0; i < XC_MAX_SAMPLES; i++) {
        t += (i & 1) ? ((int64_t)1 << 40) : 1;
        uint64_t bits = (i & 1) ? 0x8000000000000001ULL : 0x7ffffffffffffffeULL;
        double d;
        memcpy(&d, &bits, 8);
        assert_int_equal(xc_append(&c, t, d), STRATA_OK);
    }
    xc_bytes(&c, &len);
    assert_true(len <= XC_MAX_BYTES);
}

static void crc32c_check_values(void **state)
{
    (void)state;
    assert_int_equal(xc_crc32c("123456789", 9), 0xE3069283u);
    assert_int_equal(xc_crc32c("", 0), 0u);
    uint8_t z[32] = {0};
    assert_int_equal(xc_crc32c(z, 32), 0x8A9136AAu); /* RFC 3720 B.4 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encodes_as_prometheus),
        cmocka_unit_test(holds_at_most_120),
        cmocka_unit_test(crc32c_check_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
