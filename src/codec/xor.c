/*
 * xor.c: Gorilla XOR coding of float64 values, as a block codec
 * (CODEC_VAL_XOR, the baseline the other value codecs must beat) and as the
 * one-sample-at-a-time appender/iterator the head uses (Prometheus' XOR
 * chunk: timestamps delta-of-delta in prefix buckets, values XOR).
 *
 * Bits are LSB-first (codec_int.h); "'10'" below means a 1 bit then a 0 bit
 * in stream order.
 *
 * Value stream (shared by both):
 *   first value: its 64-bit pattern.
 *   each next value v, with x = bits(v) XOR bits(previous):
 *     '0'                               x == 0
 *     '10' + (64-L-T) bits of x >> T    x fits the previous window (L, T):
 *                                       its leading zeros >= L and trailing
 *                                       zeros >= T
 *     '11' + 5 bits l + 6 bits m + m bits of x >> t
 *                                       new window: l = leading zeros of x
 *                                       clamped to 31, m = 64-l-t meaningful
 *                                       bits (64 stored as 0), t = 64-l-m;
 *                                       (l, t) becomes the window.
 *   The block form (CODEC_VAL_XOR) is that stream for v[0..n), padded with
 *   zero bits to a byte boundary.
 *
 * Appender stream (codec_xor_appender): per sample the timestamp, then the
 * value as above.
 *   sample 0: t as 64 bits (two's complement), then v as 64 bits.
 *   sample i >= 1: z = zigzag(dod) where dod = (t - t_prev) - delta_prev
 *   modulo 2^64 (delta_prev = 0 for sample 1):
 *     '0'           z == 0
 *     '10'   + 14 bits z     z < 2^14
 *     '110'  + 17 bits z     z < 2^17
 *     '1110' + 20 bits z     z < 2^20
 *     '1111' + 64 bits z
 *   then the value. Any int64 timestamps round-trip (wrapping arithmetic).
 */
#include "codec_int.h"

/* ------------------------------------------------------------ value stream */

typedef struct xstate {
    uint64_t prev;
    unsigned lead, trail; /* window; lead == 0xff: none yet */
} xstate;

/* Max bits one value takes: 2 + 5 + 6 + 64. */
#define XOR_MAX_BITS 77

static uint64_t xor_put(uint8_t *base, uint64_t pos, xstate *st, uint64_t u)
{
    uint64_t x = u ^ st->prev;
    st->prev = u;
    if (!x) {
        bw_put(base, pos, 0, 1);
        return pos + 1;
    }
    unsigned l = (unsigned)__builtin_clzll(x), t = (unsigned)__builtin_ctzll(x);
    if (l > 31)
        l = 31;
    if (st->lead != 0xff && l >= st->lead && t >= st->trail) {
        unsigned m = 64 - st->lead - st->trail;
        bw_put(base, pos, 1, 2); /* '1' '0' */
        bw_put(base, pos + 2, x >> st->trail, m);
        return pos + 2 + m;
    }
    unsigned m = 64 - l - t;
    bw_put(base, pos, 3, 2); /* '1' '1' */
    bw_put(base, pos + 2, l, 5);
    bw_put(base, pos + 7, m & 63, 6);
    bw_put(base, pos + 13, x >> t, m);
    st->lead = l;
    st->trail = t;
    return pos + 13 + m;
}

static int xor_get(br *r, xstate *st, uint64_t *u)
{
    uint64_t c;
    if (br_get(r, 1, &c))
        return -1;
    if (!c) {
        *u = st->prev;
        return 0;
    }
    if (br_get(r, 1, &c))
        return -1;
    if (c) {
        uint64_t l, m;
        if (br_get(r, 5, &l) || br_get(r, 6, &m))
            return -1;
        if (!m)
            m = 64;
        if (l + m > 64)
            return -1;
        st->lead = (unsigned)l;
        st->trail = (unsigned)(64 - l - m);
    } else if (st->lead == 0xff) {
        return -1;
    }
    unsigned m = 64 - st->lead - st->trail;
    uint64_t x;
    if (br_get(r, m, &x))
        return -1;
    st->prev ^= x << st->trail;
    *u = st->prev;
    return 0;
}

int codec_xor_encode(const double *v, size_t n, bbuf *out)
{
    if (n == 0)
        return STRATA_OK;
    size_t cap = (size_t)(((uint64_t)n * XOR_MAX_BITS + 7) / 8);
    uint8_t *base = base_buf_zeroed_tail(out, cap);
    if (!base)
        return STRATA_ERR_NOMEM;
    xstate st = {dbl_bits(v[0]), 0xff, 0};
    bw_put(base, 0, st.prev, 64);
    uint64_t pos = 64;
    for (size_t i = 1; i < n; i++)
        pos = xor_put(base, pos, &st, dbl_bits(v[i]));
    out->len += (size_t)((pos + 7) / 8);
    return STRATA_OK;
}

size_t codec_xor_size(const double *v, size_t n, size_t limit)
{
    if (n == 0)
        return 0;
    uint64_t bits = 64, prev = dbl_bits(v[0]), lim = (uint64_t)limit * 8;
    unsigned lead = 0xff, trail = 0;
    for (size_t i = 1; i < n; i++) {
        /* checked every 16 values: every value left costs >= 1 bit */
        if (!(i & 15) && bits + (n - i) >= lim)
            return limit;
        uint64_t u = dbl_bits(v[i]), x = u ^ prev;
        prev = u;
        if (!x) {
            bits += 1;
            continue;
        }
        unsigned l = (unsigned)__builtin_clzll(x), t = (unsigned)__builtin_ctzll(x);
        if (l > 31)
            l = 31;
        if (lead != 0xff && l >= lead && t >= trail) {
            bits += 2 + 64 - lead - trail;
        } else {
            bits += 13 + 64 - l - t;
            lead = l;
            trail = t;
        }
    }
    return (size_t)((bits + 7) / 8);
}

int codec_xor_decode(const uint8_t *src, size_t len, size_t n, double *v)
{
    if (n == 0)
        return len ? STRATA_ERR_CORRUPT : STRATA_OK;
    br r;
    br_init(&r, src, len);
    xstate st = {0, 0xff, 0};
    if (br_get(&r, 64, &st.prev))
        return STRATA_ERR_CORRUPT;
    v[0] = bits_dbl(st.prev);
    for (size_t i = 1; i < n; i++) {
        uint64_t u;
        if (xor_get(&r, &st, &u))
            return STRATA_ERR_CORRUPT;
        v[i] = bits_dbl(u);
    }
    /* only padding may remain */
    if (r.nbits - r.pos >= 8)
        return STRATA_ERR_CORRUPT;
    return STRATA_OK;
}

/* ------------------------------------------------------------ appender */

void codec_xor_appender_init(codec_xor_appender *a)
{
    memset(a, 0, sizeof *a);
    a->leading = 0xff;
}

void codec_xor_appender_free(codec_xor_appender *a)
{
    base_buf_free(&a->bytes);
    codec_xor_appender_init(a);
}

int codec_xor_append(codec_xor_appender *a, int64_t t, double v)
{
    if (a->n == UINT32_MAX)
        return STRATA_ERR_INVALID;
    /* Invariant: every byte from len to cap is zero (bits are only ORed in
     * at or after bit_len, and new capacity is cleared when it is added),
     * so a sample needs room, not a memset of its own. */
    size_t need = 4 + 64 + XOR_MAX_BITS; /* worst case for one sample */
    size_t want = (need + 7) / 8 + BW_SLACK;
    if (a->bytes.cap - a->bytes.len < want) {
        size_t old_cap = a->bytes.cap;
        if (base_buf_reserve(&a->bytes, want))
            return STRATA_ERR_NOMEM;
        memset(a->bytes.data + old_cap, 0, a->bytes.cap - old_cap);
    }
    uint8_t *base = a->bytes.data;
    uint64_t pos = a->bit_len;
    uint64_t u = dbl_bits(v);
    if (a->n == 0) {
        bw_put(base, pos, (uint64_t)t, 64);
        bw_put(base, pos + 64, u, 64);
        pos += 128;
        a->v_prev = u;
        a->leading = 0xff;
    } else {
        uint64_t d = (uint64_t)t - (uint64_t)a->t_prev;
        uint64_t z = zigzag_enc((int64_t)(d - (uint64_t)a->delta_prev));
        if (z == 0) {
            bw_put(base, pos, 0, 1);
            pos += 1;
        } else if (z < (1u << 14)) {
            bw_put(base, pos, 1 | (z << 2), 16);
            pos += 16;
        } else if (z < (1u << 17)) {
            bw_put(base, pos, 3 | (z << 3), 20);
            pos += 20;
        } else if (z < (1u << 20)) {
            bw_put(base, pos, 7 | (z << 4), 24);
            pos += 24;
        } else {
            bw_put(base, pos, 15, 4);
            bw_put(base, pos + 4, z, 64);
            pos += 68;
        }
        xstate st = {a->v_prev, a->leading, a->trailing};
        pos = xor_put(base, pos, &st, u);
        a->v_prev = st.prev;
        a->leading = (uint8_t)st.lead;
        a->trailing = (uint8_t)st.trail;
        a->delta_prev = (int64_t)d;
    }
    a->t_prev = t;
    a->bit_len = pos;
    a->bytes.len = (size_t)((pos + 7) / 8);
    a->n++;
    return STRATA_OK;
}

void codec_xor_iter_init(codec_xor_iter *it, const uint8_t *data, size_t len, uint32_t n)
{
    memset(it, 0, sizeof *it);
    it->data = data;
    it->len = len;
    it->n = n;
    it->leading = 0xff;
}

int codec_xor_iter_next(codec_xor_iter *it, int64_t *t, double *v)
{
    if (it->i >= it->n)
        return 0;
    br r;
    br_init(&r, it->data, it->len);
    if (it->bit_pos > r.nbits)
        return STRATA_ERR_CORRUPT;
    r.pos = it->bit_pos;
    uint64_t x;
    if (it->i == 0) {
        if (br_get(&r, 64, &x))
            return STRATA_ERR_CORRUPT;
        it->t = (int64_t)x;
        if (br_get(&r, 64, &it->v))
            return STRATA_ERR_CORRUPT;
        it->leading = 0xff;
    } else {
        /* prefix: up to four 1 bits */
        unsigned ones = 0;
        for (; ones < 4; ones++) {
            if (br_get(&r, 1, &x))
                return STRATA_ERR_CORRUPT;
            if (!x)
                break;
        }
        static const unsigned widths[5] = {0, 14, 17, 20, 64};
        uint64_t z = 0;
        if (br_get(&r, widths[ones], &z))
            return STRATA_ERR_CORRUPT;
        uint64_t d = (uint64_t)it->delta + (uint64_t)zigzag_dec(z);
        it->delta = (int64_t)d;
        it->t = (int64_t)((uint64_t)it->t + d);
        xstate st = {it->v, it->leading, it->trailing};
        if (xor_get(&r, &st, &it->v))
            return STRATA_ERR_CORRUPT;
        it->leading = (uint8_t)st.lead;
        it->trailing = (uint8_t)st.trail;
    }
    it->bit_pos = r.pos;
    it->i++;
    *t = it->t;
    *v = bits_dbl(it->v);
    return 1;
}
