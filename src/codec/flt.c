/*
 * flt.c: CODEC_VAL_FLT, for full-precision floats that move a little at a
 * time (random walks printed at 17 digits, where no short decimal exists).
 *
 * Each double's bit pattern u is mapped to an int64 whose order matches the
 * order of the values: o = u for a positive sign, o = u ^ 0x7fff...ffff for
 * a negative one (so -0.0 -> -1, +0.0 -> 0; the map is a bijection of all
 * 2^64 patterns, NaNs included). Consecutive o differ by about
 * |step| / ulp, a number of some 46 bits for a slow walk, whose size varies
 * little from sample to sample: fewer bits than XOR leaves, since XOR also
 * pays for the carries across the mantissa. The differences are zig-zagged
 * and Rice coded with a parameter k that follows a running mean (as
 * JPEG-LS/LOCO-I adapts its Golomb parameter).
 *
 * Byte format (bits LSB-first, codec_int.h):
 *   64 bits       the first value's bit pattern
 *   for i = 1..n-1, z = zigzag(o[i] - o[i-1]) (modulo 2^64):
 *     k = rice_k(mean) (below); q = z >> k
 *     q < 40:   q 0-bits, one 1-bit, then the k low bits of z
 *     q >= 40:  40 0-bits, then z as 64 bits (escape)
 *     mean <- mean - (mean >> 3) + (z >> 3)   (uint64; starts at 2^40)
 *   padding to a byte with 0-bits.
 * rice_k(mean) = max(0, bit_width(mean) - 1).
 */
#include "codec_int.h"

#define QMAX 40
#define MEAN0 (1ull << 40)

static inline int64_t ord_of(uint64_t u) { return (int64_t)(u ^ ((uint64_t)((int64_t)u >> 63) >> 1)); }
static inline uint64_t bits_of(int64_t o) { return (uint64_t)o ^ ((uint64_t)(o >> 63) >> 1); }

static inline unsigned rice_k(uint64_t mean)
{
    unsigned w = bit_width(mean);
    return w ? w - 1 : 0;
}

int codec_flt_encode(const double *v, size_t n, bbuf *out)
{
    if (n == 0)
        return STRATA_OK;
    size_t cap = (size_t)(((uint64_t)n * (QMAX + 64) + 64 + 7) / 8);
    uint8_t *base = base_buf_zeroed_tail(out, cap);
    if (!base)
        return STRATA_ERR_NOMEM;
    uint64_t u = dbl_bits(v[0]);
    bw_put(base, 0, u, 64);
    uint64_t pos = 64, mean = MEAN0;
    int64_t prev = ord_of(u);
    for (size_t i = 1; i < n; i++) {
        int64_t o = ord_of(dbl_bits(v[i]));
        uint64_t z = zigzag_enc((int64_t)((uint64_t)o - (uint64_t)prev));
        prev = o;
        unsigned k = rice_k(mean);
        uint64_t q = z >> k;
        if (q < QMAX) {
            bw_put(base, pos + q, 1, 1);
            pos += q + 1;
            bw_put(base, pos, z & low_mask(k), k);
            pos += k;
        } else {
            pos += QMAX;
            bw_put(base, pos, z, 64);
            pos += 64;
        }
        mean = mean - (mean >> 3) + (z >> 3);
    }
    out->len += (size_t)((pos + 7) / 8);
    return STRATA_OK;
}

size_t codec_flt_size(const double *v, size_t n, size_t limit)
{
    if (n == 0)
        return 0;
    uint64_t bits = 64, mean = MEAN0, lim = (uint64_t)limit * 8;
    int64_t prev = ord_of(dbl_bits(v[0]));
    for (size_t i = 1; i < n; i++) {
        /* checked every 16 values: every value left costs >= 1 bit */
        if (!(i & 15) && bits + (n - i) >= lim)
            return limit;
        int64_t o = ord_of(dbl_bits(v[i]));
        uint64_t z = zigzag_enc((int64_t)((uint64_t)o - (uint64_t)prev));
        prev = o;
        unsigned k = rice_k(mean);
        uint64_t q = z >> k;
        bits += q < QMAX ? q + 1 + k : QMAX + 64;
        mean = mean - (mean >> 3) + (z >> 3);
    }
    return (size_t)((bits + 7) / 8);
}

int codec_flt_decode(const uint8_t *src, size_t len, size_t n, double *v)
{
    if (n == 0)
        return len ? STRATA_ERR_CORRUPT : STRATA_OK;
    br r;
    br_init(&r, src, len);
    uint64_t u;
    if (br_get(&r, 64, &u))
        return STRATA_ERR_CORRUPT;
    v[0] = bits_dbl(u);
    int64_t prev = ord_of(u);
    uint64_t mean = MEAN0;
    for (size_t i = 1; i < n; i++) {
        unsigned k = rice_k(mean);
        uint64_t peek = br_peek64(&r), z;
        unsigned q = peek ? (unsigned)__builtin_ctzll(peek) : 64;
        if (q < QMAX) {
            if (q + 1 > r.nbits - r.pos)
                return STRATA_ERR_CORRUPT;
            r.pos += q + 1;
            uint64_t lo;
            if (br_get(&r, k, &lo))
                return STRATA_ERR_CORRUPT;
            z = ((uint64_t)q << k) | lo;
        } else {
            if (QMAX > r.nbits - r.pos)
                return STRATA_ERR_CORRUPT;
            r.pos += QMAX;
            if (br_get(&r, 64, &z))
                return STRATA_ERR_CORRUPT;
        }
        prev = (int64_t)((uint64_t)prev + (uint64_t)zigzag_dec(z));
        v[i] = bits_dbl(bits_of(prev));
        mean = mean - (mean >> 3) + (z >> 3);
    }
    if (r.nbits - r.pos >= 8)
        return STRATA_ERR_CORRUPT;
    return STRATA_OK;
}
