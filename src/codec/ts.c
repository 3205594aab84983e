/*
 * ts.c: the timestamp block codec CODEC_TS_DOD: delta-of-delta, zig-zag,
 * bit-packed at one width per group of 128, after dividing every timestamp
 * by the block's largest common power of ten.
 *
 * Byte format (n is known to the caller and not stored; n == 0 encodes to
 * nothing):
 *
 *   byte 0        bits 0..4: k (0..18), every timestamp is a multiple of 10^k;
 *                 bit 7: REGULAR, set when every delta-of-delta is 0;
 *                 bits 5..6: 0.
 *   svarint       s0 = t[0] / 10^k (zig-zag LEB128)
 *   if n >= 2:    svarint d1 = s[1] - s[0]
 *   if n >= 3 and not REGULAR: the n-2 values dod[i] = d[i] - d[i-1]
 *                 (i = 2..n-1) in groups of 128 (the last one shorter):
 *                   u8 w (0..64), then the group's zigzag(dod) packed at
 *                   w bits each, LSB-first, padded to a byte boundary.
 *
 * All arithmetic on s, d and dod is done modulo 2^64 (uint64) and dod is
 * zig-zagged as an int64, so any int64 sequence (INT64_MIN next to
 * INT64_MAX, huge gaps, decreasing runs) round-trips exactly; the decoder
 * multiplies by 10^k modulo 2^64, which restores t exactly because
 * t = s * 10^k holds over the integers.
 *
 * A regular block (every scrape on the grid) costs about 7 bytes whatever n
 * is, and decodes as t[i] = (s0 + i*d1) * 10^k without reading bits.
 */
#include "codec_int.h"

/* The hot loops here are written to be vectorised; -O2 alone (GCC 12) does
 * not vectorise loops with a run-time trip count. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif

#define TS_GROUP 128
#define TS_REGULAR 0x80

/* Largest k <= 18 such that every t is a multiple of 10^k. Repeated deltas
 * (the common case) need no division: if t[i-1] and the delta are both
 * multiples, so is t[i] (when the subtraction did not overflow). */
static unsigned common_pow10(const int64_t *ts, size_t n)
{
    unsigned k = 18;
    int64_t last_delta = 0;
    int have_delta = 0;
    for (size_t i = 0; i < n && k; i++) {
        if (i) {
            int64_t d;
            if (!__builtin_sub_overflow(ts[i], ts[i - 1], &d)) {
                if (have_delta && d == last_delta)
                    continue;
                last_delta = d;
                have_delta = 1;
                while (k && d % (int64_t)codec_p10u[k])
                    k--;
            } else {
                have_delta = 0;
            }
        }
        while (k && ts[i] % (int64_t)codec_p10u[k])
            k--;
    }
    return k;
}

/* Whether every t[i] == t[0] + i*(t[1]-t[0]) exactly (no wrap), n >= 3:
 * every difference modulo 2^64 equals the first (a loop without branches,
 * which vectorises) and the last point, computed without wrapping, is in
 * range (a straight line between two in-range points stays in range). */
CODEC_CLONES
static int is_regular(const int64_t *ts, size_t n)
{
    uint64_t D = (uint64_t)ts[1] - (uint64_t)ts[0], acc = 0;
    for (size_t i = 2; i < n; i++)
        acc |= ((uint64_t)ts[i] - (uint64_t)ts[i - 1]) ^ D;
    if (acc)
        return 0;
    __int128 last = (__int128)ts[0] + (__int128)(n - 1) * (int64_t)D;
    return last >= INT64_MIN && last <= INT64_MAX;
}

int codec_ts_encode(const int64_t *ts, size_t n, bbuf *out, uint8_t *id)
{
    int rc = STRATA_OK;
    size_t start = out->len;
    if (n == 0)
        goto done;
    int regular = n < 3 || is_regular(ts, n);
    /* a regular block's timestamps are all multiples of 10^k when t[0]
     * and t[1] are */
    unsigned k = common_pow10(ts, regular ? MIN(n, (size_t)2) : n);
    const int64_t p = (int64_t)codec_p10u[k];

    /* Scaled values; division only where the delta changes. */
    uint64_t s0 = (uint64_t)(ts[0] / p), d1 = 0;
    if (n >= 2)
        d1 = (uint64_t)(ts[1] / p) - s0;
    uint8_t hdr[24];
    hdr[0] = (uint8_t)(k | (regular ? TS_REGULAR : 0));
    size_t hl = 1 + base_uvarint_put(hdr + 1, zigzag_enc((int64_t)s0));
    if (n >= 2)
        hl += base_uvarint_put(hdr + hl, zigzag_enc((int64_t)d1));
    if ((rc = base_buf_append(out, hdr, hl)))
        goto fail;
    if (regular || n < 3)
        goto done;

    uint64_t zz[TS_GROUP];
    uint64_t prev_s = (uint64_t)(ts[1] / p), prev_d = d1;
    int64_t prev_t = ts[1], prev_raw_d = 0;
    int have_raw = 0;
    for (size_t g = 2; g < n; g += TS_GROUP) {
        size_t cnt = MIN((size_t)TS_GROUP, n - g);
        uint64_t any = 0;
        for (size_t j = 0; j < cnt; j++) {
            int64_t t = ts[g + j], rd;
            uint64_t s;
            /* s = t / p, reusing the previous quotient when the raw delta repeats */
            if (have_raw && !__builtin_sub_overflow(t, prev_t, &rd) && rd == prev_raw_d)
                s = prev_s + prev_d;
            else {
                s = (uint64_t)(t / p);
                have_raw = !__builtin_sub_overflow(t, prev_t, &prev_raw_d);
            }
            uint64_t d = s - prev_s;
            zz[j] = zigzag_enc((int64_t)(d - prev_d));
            any |= zz[j];
            prev_s = s;
            prev_d = d;
            prev_t = t;
        }
        unsigned w = bit_width(any);
        size_t nb = bitpack_bytes(cnt, w);
        uint8_t *dst = base_buf_zeroed_tail(out, 1 + nb);
        if (!dst) {
            rc = STRATA_ERR_NOMEM;
            goto fail;
        }
        dst[0] = (uint8_t)w;
        codec_bitpack_pack(dst + 1, zz, cnt, w);
        out->len += 1 + nb;
    }
done:
    *id = CODEC_TS_DOD;
    return STRATA_OK;
fail:
    out->len = start;
    return rc;
}

/* ts[i] = t0 + i*dt modulo 2^64, sixteen entries at a time in four
 * independent four-lane vectors (may write up to 15 entries past n, within
 * CODEC_PAD). */
typedef uint64_t u64x4 __attribute__((vector_size(32)));

CODEC_CLONES
static void fill_regular(int64_t *ts, size_t n, uint64_t t0, uint64_t dt)
{
    u64x4 a = {t0, t0 + dt, t0 + 2 * dt, t0 + 3 * dt};
    u64x4 b = a + 4 * dt, c = a + 8 * dt, d = a + 12 * dt;
    const u64x4 step = {16 * dt, 16 * dt, 16 * dt, 16 * dt};
    for (size_t i = 0; i < n; i += 16) {
        memcpy(ts + i, &a, sizeof a);
        memcpy(ts + i + 4, &b, sizeof b);
        memcpy(ts + i + 8, &c, sizeof c);
        memcpy(ts + i + 12, &d, sizeof d);
        a += step;
        b += step;
        c += step;
        d += step;
    }
}

int codec_ts_decode(uint8_t id, const uint8_t *src, size_t len, size_t n, int64_t *ts)
{
    if (id != CODEC_TS_DOD)
        return STRATA_ERR_CORRUPT;
    if (n == 0)
        return len == 0 ? STRATA_OK : STRATA_ERR_CORRUPT;
    const uint8_t *p = src, *end = src + len;
    if (p >= end)
        return STRATA_ERR_CORRUPT;
    unsigned k = *p & 0x1f;
    int regular = (*p & TS_REGULAR) != 0;
    if (k > 18 || (*p & 0x60))
        return STRATA_ERR_CORRUPT;
    p++;
    const uint64_t mul = codec_p10u[k];
    uint64_t z, s, d = 0;
    size_t r = base_uvarint_get(p, end, &z);
    if (!r)
        return STRATA_ERR_CORRUPT;
    p += r;
    s = (uint64_t)zigzag_dec(z);
    if (n >= 2) {
        if (!(r = base_uvarint_get(p, end, &z)))
            return STRATA_ERR_CORRUPT;
        p += r;
        d = (uint64_t)zigzag_dec(z);
    }
    if (regular || n < 3) {
        if (p != end)
            return STRATA_ERR_CORRUPT;
        /* (s + i*d) * mul == s*mul + i*(d*mul) modulo 2^64 */
        fill_regular(ts, n, s * mul, d * mul);
        return STRATA_OK;
    }
    ts[0] = (int64_t)(s * mul);
    s += d;
    ts[1] = (int64_t)(s * mul);
    uint64_t zz[TS_GROUP + 8];
    for (size_t g = 2; g < n; g += TS_GROUP) {
        size_t cnt = MIN((size_t)TS_GROUP, n - g);
        if (p >= end)
            return STRATA_ERR_CORRUPT;
        unsigned w = *p++;
        if (w > 64)
            return STRATA_ERR_CORRUPT;
        size_t nb = bitpack_bytes(cnt, w);
        if ((size_t)(end - p) < nb)
            return STRATA_ERR_CORRUPT;
        if (w == 0) {
            for (size_t j = 0; j < cnt; j++) {
                s += d;
                ts[g + j] = (int64_t)(s * mul);
            }
        } else {
            codec_bitpack_unpack(p, (size_t)(end - p), cnt, w, zz);
            for (size_t j = 0; j < cnt; j++) {
                d += (uint64_t)zigzag_dec(zz[j]);
                s += d;
                ts[g + j] = (int64_t)(s * mul);
            }
        }
        p += nb;
    }
    return p == end ? STRATA_OK : STRATA_ERR_CORRUPT;
}
