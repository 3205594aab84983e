/* CRC32C: both implementations give the RFC 3720 B.4 vectors and agree on random data. */
#include <stdlib.h>

#include "base/base.h"
#include "testutil.h"

static void crc32c_matches_rfc3720_vectors(void **state)
{
    (void)state;
    uint8_t buf[48];
    memset(buf, 0, 32);
    assert_int_equal(base_crc32c(0, buf, 32), 0x8A9136AA);
    assert_int_equal(base_crc32c_portable(0, buf, 32), 0x8A9136AA);
    memset(buf, 0xff, 32);
    assert_int_equal(base_crc32c(0, buf, 32), 0x62A8AB43);
    assert_int_equal(base_crc32c_portable(0, buf, 32), 0x62A8AB43);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    assert_int_equal(base_crc32c(0, buf, 32), 0x46DD794E);
    assert_int_equal(base_crc32c_portable(0, buf, 32), 0x46DD794E);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    assert_int_equal(base_crc32c(0, buf, 32), 0x113FDB5C);
    assert_int_equal(base_crc32c_portable(0, buf, 32), 0x113FDB5C);
    static const uint8_t iscsi_read[48] = {
        0x01, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
        0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    assert_int_equal(base_crc32c(0, iscsi_read, 48), 0xD9963A56);
    assert_int_equal(base_crc32c_portable(0, iscsi_read, 48), 0xD9963A56);
    assert_int_equal(base_crc32c(0, "123456789", 9), 0xE3069283);
}

static void crc32c_hw_and_portable_agree_at_every_length_and_split(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(1));
    uint8_t data[1031];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)test_rng_next(&r);
    for (size_t off = 0; off < 9; off++) {
        for (size_t n = 0; n + off <= sizeof data; n += 1 + n / 7) {
            uint32_t a = base_crc32c(0, data + off, n), b = base_crc32c_portable(0, data + off, n);
            assert_int_equal(a, b);
            size_t cut = n / 3;
            assert_int_equal(base_crc32c(base_crc32c(0, data + off, cut), data + off + cut, n - cut), a);
        }
    }
}

static void varint_round_trips_and_rejects_truncation(void **state)
{
    (void)state;
    uint64_t vals[] = {0, 1, 127, 128, 300, UINT32_MAX, (uint64_t)INT64_MAX, UINT64_MAX};
    for (size_t i = 0; i < ARRAY_LEN(vals); i++) {
        uint8_t b[10];
        size_t n = base_uvarint_put(b, vals[i]);
        uint64_t got = 0;
        assert_int_equal(base_uvarint_get(b, b + n, &got), n);
        assert_int_equal(got, vals[i]);
        for (size_t k = 0; k < n; k++)
            assert_int_equal(base_uvarint_get(b, b + k, &got), 0);
    }
    uint8_t over[11];
    memset(over, 0xff, sizeof over);
    uint64_t v;
    assert_int_equal(base_uvarint_get(over, over + sizeof over, &v), 0);
    int64_t sv[] = {0, -1, 1, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < ARRAY_LEN(sv); i++)
        assert_int_equal(zigzag_dec(zigzag_enc(sv[i])), sv[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc32c_matches_rfc3720_vectors),
        cmocka_unit_test(crc32c_hw_and_portable_agree_at_every_length_and_split),
        cmocka_unit_test(varint_round_trips_and_rejects_truncation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
