/* fuzz_codec_val.c: the value decoders on any bytes. Input: byte 0 picks
 * the codec id, bytes 1..2 the sample count (little-endian, at most 4095),
 * the rest is the encoding. A successful decode is re-encoded by the
 * chosen codec and must come back bit for bit. */
#include <stdlib.h>

#include "codec/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    uint8_t id = data[0];
    size_t n = (size_t)(data[1] | (data[2] << 8)) & 4095;
    double *v = malloc((n + CODEC_PAD) * sizeof *v);
    double *u = malloc((n + CODEC_PAD) * sizeof *u);
    if (!v || !u)
        abort();
    if (codec_val_decode(id, data + 3, size - 3, n, v) == STRATA_OK) {
        bbuf b = {0};
        uint8_t cid;
        if (codec_val_encode(v, n, &b, &cid) != STRATA_OK ||
            codec_val_decode(cid, b.data, b.len, n, u) != STRATA_OK || (n && memcmp(v, u, n * 8)))
            abort();
        base_buf_free(&b);
    }
    free(v);
    free(u);
    return 0;
}

size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap)
{
    uint8_t ids[16];
    size_t nids = codec_val_ids(ids, 16);
    unsigned shapes = 4;
    if (i >= nids * shapes)
        return 0;
    uint8_t id = ids[i / shapes];
    unsigned shape = i % shapes;
    double v[200];
    size_t n = 200;
    int64_t m = 1000000;
    for (size_t k = 0; k < n; k++) {
        m += (int64_t)(k * 7919 % 97);
        v[k] = shape == 0 ? (double)m : shape == 1 ? (double)m / 100.0 : shape == 2 ? 42.0 : 50.0 + (double)(k % 17) * 0.123456789;
    }
    bbuf b = {0};
    size_t len = 0;
    if (codec_val_encode_as(id, v, n, &b) == STRATA_OK && b.len + 3 <= cap) {
        out[0] = id;
        out[1] = (uint8_t)n;
        out[2] = (uint8_t)(n >> 8);
        memcpy(out + 3, b.data, b.len);
        len = b.len + 3;
    } else {
        out[0] = CODEC_VAL_XOR; /* keep the seed list contiguous */
        out[1] = out[2] = 0;
        len = 3;
    }
    base_buf_free(&b);
    return len;
}
