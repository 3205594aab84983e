/* fuzz_codec_ts.c: the timestamp decoder on any bytes. Input: 2 bytes of
 * sample count (little-endian, at most 4095), then the encoding. Decoded
 * output is re-encoded and must decode to the same timestamps. */
#include <stdlib.h>

#include "codec/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t n = (size_t)(data[0] | (data[1] << 8)) & 4095;
    int64_t *t = malloc((n + CODEC_PAD) * sizeof *t);
    int64_t *u = malloc((n + CODEC_PAD) * sizeof *u);
    if (!t || !u)
        abort();
    if (codec_ts_decode(CODEC_TS_DOD, data + 2, size - 2, n, t) == STRATA_OK) {
        bbuf b = {0};
        uint8_t id;
        if (codec_ts_encode(t, n, &b, &id) != STRATA_OK ||
            codec_ts_decode(id, b.data, b.len, n, u) != STRATA_OK || (n && memcmp(t, u, n * 8)))
            abort();
        base_buf_free(&b);
    }
    free(t);
    free(u);
    return 0;
}

size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap)
{
    if (i >= 4)
        return 0;
    int64_t t[300];
    size_t n = i == 0 ? 300 : i == 1 ? 1 : i == 2 ? 200 : 3;
    int64_t x = 1704110400000;
    for (size_t k = 0; k < n; k++) {
        x += i == 2 ? 15000 + (int64_t)(k * 7919 % 13) : 15000;
        t[k] = i == 3 ? (k & 1 ? INT64_MIN : INT64_MAX) : x;
    }
    bbuf b = {0};
    uint8_t id;
    size_t len = 0;
    if (codec_ts_encode(t, n, &b, &id) == STRATA_OK && b.len + 2 <= cap) {
        out[0] = (uint8_t)n;
        out[1] = (uint8_t)(n >> 8);
        memcpy(out + 2, b.data, b.len);
        len = b.len + 2;
    }
    base_buf_free(&b);
    return len;
}
