/* fuzz_codec_xor.c: the head's XOR stream iterator on any bytes. Input:
 * 2 bytes of sample count (little-endian, at most 4095), then the stream.
 * Samples read before an error are re-appended and must read back equal. */
#include <stdlib.h>

#include "codec/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint32_t n = (uint32_t)(data[0] | (data[1] << 8)) & 4095;
    codec_xor_iter it;
    codec_xor_iter_init(&it, data + 2, size - 2, n);
    codec_xor_appender a;
    codec_xor_appender_init(&a);
    int64_t t;
    double v;
    int rc;
    while ((rc = codec_xor_iter_next(&it, &t, &v)) == 1)
        if (codec_xor_append(&a, t, v) != STRATA_OK)
            abort();
    if (rc != 0 && rc != STRATA_ERR_CORRUPT)
        abort();
    codec_xor_iter it2, it3;
    codec_xor_iter_init(&it2, a.bytes.data, a.bytes.len, a.n);
    codec_xor_iter_init(&it3, data + 2, size - 2, a.n);
    int64_t t2, t3;
    double v2, v3;
    for (uint32_t i = 0; i < a.n; i++) {
        if (codec_xor_iter_next(&it2, &t2, &v2) != 1 || codec_xor_iter_next(&it3, &t3, &v3) != 1 ||
            t2 != t3 || memcmp(&v2, &v3, 8))
            abort();
    }
    codec_xor_appender_free(&a);
    return 0;
}

size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap)
{
    if (i >= 3)
        return 0;
    codec_xor_appender a;
    codec_xor_appender_init(&a);
    int64_t t = 1704110400000;
    for (uint32_t k = 0; k < 120; k++) {
        t += i == 0 ? 15000 : 15000 + (int64_t)(k * 7919 % 1000);
        double v = i == 2 ? 12.5 + k * 0.01 : (double)(k * k);
        if (codec_xor_append(&a, t, v) != STRATA_OK)
            break;
    }
    size_t len = 0;
    if (a.bytes.len + 2 <= cap) {
        out[0] = (uint8_t)a.n;
        out[1] = (uint8_t)(a.n >> 8);
        memcpy(out + 2, a.bytes.data, a.bytes.len);
        len = a.bytes.len + 2;
    }
    codec_xor_appender_free(&a);
    return len;
}
