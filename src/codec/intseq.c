/*
 * intseq.c: lossless coding of an int64 sequence m[0..n) (the decimal
 * mantissas of CODEC_VAL_DEC) as deltas or deltas-of-deltas, packed at
 * their real width, divided by their common divisor, with a sparse form
 * for sequences whose residuals are mostly zero. The encoder measures every
 * (order, form) pair and writes the smallest.
 *
 * Byte format:
 *   u8 hdr        bits 0..1: order o (1 = deltas, 2 = deltas of deltas);
 *                 bits 2..3: form (0 FOR, 1 SPARSE_BITMAP, 2 SPARSE_GAPS);
 *                 bits 4..7: 0.
 *   svarint m0    m[0]
 *   if o == 2 and n >= 2: svarint d1 = m[1] - m[0]
 *   then the c = max(0, n - o) residuals r[i]: r[i] = m[i] - m[i-1] for o = 1
 *   (i = 1..n-1), r[i] = d[i] - d[i-1] for o = 2 (i = 2..n-1), all modulo
 *   2^64, as one of:
 *   FOR (frame of reference) over the c residuals:
 *       svarint base  the smallest residual (as int64)
 *       uvarint g     >= 1, every r - base is a multiple of g
 *       u8 w          0..64
 *       c values (r - base) / g packed at w bits, LSB-first, then padding
 *       to a byte boundary.
 *   SPARSE_BITMAP:
 *       uvarint k     number of nonzero residuals
 *       ceil(c/8) bytes, bit i (LSB-first) set when r[i] != 0; exactly k set
 *       FOR over the k nonzero residuals, in order.
 *   SPARSE_GAPS:
 *       uvarint k
 *       u8 gw, then k values packed at gw bits: the number of zero residuals
 *       before each nonzero one (since the previous nonzero one), padded to
 *       a byte
 *       FOR over the k nonzero residuals.
 *
 * A constant sequence costs 5 bytes plus m0's varint; a counter with rare
 * +1 steps costs a few bytes per step; a counter with increments uniform in
 * 0..2m costs ceil(log2(2m+1)) bits per sample.
 */
#include "codec/codec_int.h"

enum { FORM_FOR = 0, FORM_BITMAP = 1, FORM_GAPS = 2 };

/* Decoded values are produced in chunks so the scratch stays in L1. */
#define CHUNK 256

static size_t uvarint_len(uint64_t v) { return v ? (size_t)(bit_width(v) + 6) / 7 : 1; }

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
    if (!a)
        return b;
    if (!b)
        return a;
    unsigned sh = (unsigned)__builtin_ctzll(a | b);
    a >>= __builtin_ctzll(a);
    do {
        b >>= __builtin_ctzll(b);
        if (a > b) {
            uint64_t t = a;
            a = b;
            b = t;
        }
        b -= a;
    } while (b);
    return a << sh;
}

/* Residual i (0-based among the c) of order o. */
static inline uint64_t resid(const int64_t *m, unsigned o, size_t i)
{
    if (o == 1)
        return (uint64_t)m[i + 1] - (uint64_t)m[i];
    return (uint64_t)m[i + 2] - 2 * (uint64_t)m[i + 1] + (uint64_t)m[i];
}

typedef struct forp {
    uint64_t base, g;
    unsigned w;
} forp;

static size_t for_cost(const forp *f, size_t c)
{
    return uvarint_len(zigzag_enc((int64_t)f->base)) + uvarint_len(f->g) + 1 + bitpack_bytes(c, f->w);
}

/* Statistics of one order's residuals. */
typedef struct ostats {
    int64_t mn, mx;        /* over all residuals */
    int64_t nzmn, nzmx;    /* over nonzero ones */
    size_t nz;             /* nonzero count */
    size_t maxgap;
    forp all, nzf;
} ostats;

static void stats_pass1(const int64_t *m, unsigned o, size_t c, ostats *s)
{
    s->mn = s->nzmn = INT64_MAX;
    s->mx = s->nzmx = INT64_MIN;
    s->nz = 0;
    s->maxgap = 0;
    size_t last = (size_t)-1;
    for (size_t i = 0; i < c; i++) {
        int64_t r = (int64_t)resid(m, o, i);
        s->mn = MIN(s->mn, r);
        s->mx = MAX(s->mx, r);
        if (r) {
            s->nzmn = MIN(s->nzmn, r);
            s->nzmx = MAX(s->nzmx, r);
            size_t gap = i - last - 1;
            s->maxgap = MAX(s->maxgap, gap);
            last = i;
            s->nz++;
        }
    }
}

static void stats_pass2(const int64_t *m, unsigned o, size_t c, ostats *s)
{
    uint64_t g = 0, gnz = 0;
    uint64_t b = (uint64_t)s->mn, bnz = (uint64_t)s->nzmn;
    int want_nz = s->nz > 0;
    for (size_t i = 0; i < c && (g != 1 || (want_nz && gnz != 1)); i++) {
        uint64_t r = resid(m, o, i);
        if (g != 1)
            g = gcd_u64(g, r - b);
        if (r && want_nz && gnz != 1)
            gnz = gcd_u64(gnz, r - bnz);
    }
    s->all.base = c ? b : 0;
    s->all.g = g ? g : 1;
    s->all.w = c ? bit_width(((uint64_t)s->mx - b) / s->all.g) : 0;
    s->nzf.base = s->nz ? bnz : 0;
    s->nzf.g = gnz ? gnz : 1;
    s->nzf.w = s->nz ? bit_width(((uint64_t)s->nzmx - bnz) / s->nzf.g) : 0;
}

static uint8_t *put_for_head(uint8_t *p, const forp *f)
{
    p += uvarint_put(p, zigzag_enc((int64_t)f->base));
    p += uvarint_put(p, f->g);
    *p++ = (uint8_t)f->w;
    return p;
}

int intseq_encode(const int64_t *m, size_t n, bbuf *out)
{
    if (n == 0)
        return STRATA_ERR_INVALID;
    size_t best_cost = SIZE_MAX;
    unsigned best_o = 1, best_form = FORM_FOR;
    ostats st[3];
    for (unsigned o = 1; o <= 2; o++) {
        size_t c = n > o ? n - o : 0;
        ostats *s = &st[o];
        stats_pass1(m, o, c, s);
        stats_pass2(m, o, c, s);
        size_t head = 1 + uvarint_len(zigzag_enc(m[0])) +
                      (o == 2 && n >= 2 ? uvarint_len(zigzag_enc((int64_t)((uint64_t)m[1] - (uint64_t)m[0]))) : 0);
        size_t cost[3];
        cost[FORM_FOR] = head + for_cost(&s->all, c);
        size_t sp = head + uvarint_len(s->nz) + for_cost(&s->nzf, s->nz);
        cost[FORM_BITMAP] = sp + (c + 7) / 8;
        cost[FORM_GAPS] = sp + 1 + bitpack_bytes(s->nz, bit_width(s->maxgap));
        for (unsigned f = 0; f < 3; f++) {
            if (cost[f] < best_cost) {
                best_cost = cost[f];
                best_o = o;
                best_form = f;
            }
        }
    }
    unsigned o = best_o;
    size_t c = n > o ? n - o : 0;
    ostats *s = &st[o];
    uint8_t *base = buf_zeroed_tail(out, best_cost);
    if (!base)
        return STRATA_ERR_NOMEM;
    uint8_t *p = base;
    *p++ = (uint8_t)(o | (best_form << 2));
    p += uvarint_put(p, zigzag_enc(m[0]));
    if (o == 2 && n >= 2)
        p += uvarint_put(p, zigzag_enc((int64_t)((uint64_t)m[1] - (uint64_t)m[0])));
    if (best_form == FORM_FOR) {
        p = put_for_head(p, &s->all);
        unsigned w = s->all.w;
        if (w) {
            uint64_t pos = 0, b = s->all.base, g = s->all.g;
            for (size_t i = 0; i < c; i++, pos += w)
                bw_put(p, pos, (resid(m, o, i) - b) / g, w);
        }
        p += bitpack_bytes(c, w);
    } else {
        p += uvarint_put(p, s->nz);
        if (best_form == FORM_BITMAP) {
            for (size_t i = 0; i < c; i++)
                if (resid(m, o, i))
                    p[i >> 3] |= (uint8_t)(1u << (i & 7));
            p += (c + 7) / 8;
        } else {
            unsigned gw = bit_width(s->maxgap);
            *p++ = (uint8_t)gw;
            uint64_t pos = 0;
            size_t last = (size_t)-1;
            for (size_t i = 0; i < c; i++) {
                if (resid(m, o, i)) {
                    bw_put(p, pos, i - last - 1, gw);
                    pos += gw;
                    last = i;
                }
            }
            p += bitpack_bytes(s->nz, gw);
        }
        p = put_for_head(p, &s->nzf);
        unsigned w = s->nzf.w;
        if (w) {
            uint64_t pos = 0, b = s->nzf.base, g = s->nzf.g;
            for (size_t i = 0; i < c; i++) {
                uint64_t r = resid(m, o, i);
                if (r) {
                    bw_put(p, pos, (r - b) / g, w);
                    pos += w;
                }
            }
        }
        p += bitpack_bytes(s->nz, w);
    }
    size_t used = (size_t)(p - base);
    if (used != best_cost)
        return STRATA_ERR_INVALID; /* cost model and writer disagree: a bug */
    out->len += used;
    return STRATA_OK;
}

/* ------------------------------------------------------------ decoding */

static int get_for(const uint8_t **pp, const uint8_t *end, size_t cnt, forp *f)
{
    const uint8_t *p = *pp;
    uint64_t z;
    size_t r;
    if (!(r = uvarint_get(p, end, &z)))
        return -1;
    p += r;
    f->base = (uint64_t)zigzag_dec(z);
    if (!(r = uvarint_get(p, end, &f->g)) || f->g == 0)
        return -1;
    p += r;
    if (p >= end || *p > 64)
        return -1;
    f->w = *p++;
    if ((size_t)(end - p) < bitpack_bytes(cnt, f->w))
        return -1;
    *pp = p;
    return 0;
}

/* Reconstruction state: the running value and delta. */
typedef struct recon {
    uint64_t m, d;
} recon;

/* Turns residuals r[0..k) into values, continuing st, and converts them to
 * doubles with exponent e into out. */
static void emit(unsigned o, recon *st, const uint64_t *r, size_t k, unsigned e, double *out)
{
    int64_t mv[CHUNK];
    uint64_t m = st->m, d = st->d;
    if (o == 1) {
        for (size_t j = 0; j < k; j++) {
            m += r[j];
            mv[j] = (int64_t)m;
        }
    } else {
        for (size_t j = 0; j < k; j++) {
            d += r[j];
            m += d;
            mv[j] = (int64_t)m;
        }
    }
    st->m = m;
    st->d = d;
    if (e == 0) {
        for (size_t j = 0; j < k; j++)
            out[j] = (double)mv[j];
    } else {
        const double div = codec_p10d[e];
        for (size_t j = 0; j < k; j++)
            out[j] = (double)mv[j] / div;
    }
}

static inline double conv(int64_t m, unsigned e) { return e ? (double)m / codec_p10d[e] : (double)m; }

int intseq_decode_dbl(const uint8_t *src, size_t len, size_t n, unsigned e, double *out, size_t *used)
{
    const uint8_t *p = src, *end = src + len;
    if (n == 0 || p >= end || e > 22)
        return STRATA_ERR_CORRUPT;
    unsigned o = *p & 3, form = (*p >> 2) & 3;
    if (o == 0 || o == 3 || form == 3 || (*p & 0xf0))
        return STRATA_ERR_CORRUPT;
    p++;
    uint64_t z;
    size_t r;
    if (!(r = uvarint_get(p, end, &z)))
        return STRATA_ERR_CORRUPT;
    p += r;
    recon st = {(uint64_t)zigzag_dec(z), 0};
    out[0] = conv((int64_t)st.m, e);
    if (o == 2 && n >= 2) {
        if (!(r = uvarint_get(p, end, &z)))
            return STRATA_ERR_CORRUPT;
        p += r;
        st.d = (uint64_t)zigzag_dec(z);
        st.m += st.d;
        out[1] = conv((int64_t)st.m, e);
    }
    size_t c = n > o ? n - o : 0;
    double *dst = out + (n - c);
    uint64_t buf[CHUNK + 8];
    if (form == FORM_FOR) {
        forp f;
        if (get_for(&p, end, c, &f))
            return STRATA_ERR_CORRUPT;
        size_t nb = bitpack_bytes(c, f.w);
        const uint8_t *q = p;
        for (size_t i = 0; i < c; i += CHUNK) {
            size_t k = MIN((size_t)CHUNK, c - i);
            /* chunks start on a bit offset that is a multiple of 8 * w / 8 */
            uint64_t bit = (uint64_t)i * f.w;
            bitpack_unpack(q + (bit >> 3), nb - (size_t)(bit >> 3), k, f.w, buf);
            if (f.g != 1 || f.base)
                for (size_t j = 0; j < k; j++)
                    buf[j] = f.base + buf[j] * f.g;
            emit(o, &st, buf, k, e, dst + i);
        }
        p += nb;
    } else {
        uint64_t k64;
        if (!(r = uvarint_get(p, end, &k64)) || k64 > c)
            return STRATA_ERR_CORRUPT;
        p += r;
        size_t k = (size_t)k64;
        const uint8_t *pos_p = p;
        unsigned gw = 0;
        if (form == FORM_BITMAP) {
            size_t nb = (c + 7) / 8;
            if ((size_t)(end - p) < nb)
                return STRATA_ERR_CORRUPT;
            size_t cnt = 0;
            for (size_t i = 0; i < nb; i++)
                cnt += (size_t)__builtin_popcount(p[i]);
            if (cnt != k || (c & 7 && (p[nb - 1] >> (c & 7))))
                return STRATA_ERR_CORRUPT;
            p += nb;
        } else {
            if (p >= end || *p > 64)
                return STRATA_ERR_CORRUPT;
            gw = *p++;
            pos_p = p;
            size_t nb = bitpack_bytes(k, gw);
            if ((size_t)(end - p) < nb)
                return STRATA_ERR_CORRUPT;
            p += nb;
        }
        forp f;
        if (get_for(&p, end, k, &f))
            return STRATA_ERR_CORRUPT;
        br vals, gaps;
        br_init(&vals, p, bitpack_bytes(k, f.w));
        br_init(&gaps, pos_p, form == FORM_GAPS ? bitpack_bytes(k, gw) : 0);
        size_t next = 0; /* index of the next nonzero residual (GAPS) */
        size_t seen = 0;
        if (form == FORM_GAPS && k) {
            uint64_t gap = 0;
            (void)br_get(&gaps, gw, &gap);
            if (gap >= c)
                return STRATA_ERR_CORRUPT;
            next = (size_t)gap;
        }
        for (size_t i = 0; i < c; i += CHUNK) {
            size_t kk = MIN((size_t)CHUNK, c - i);
            for (size_t j = 0; j < kk; j++) {
                size_t idx = i + j;
                int nzr;
                if (form == FORM_BITMAP)
                    nzr = (pos_p[idx >> 3] >> (idx & 7)) & 1;
                else
                    nzr = seen < k && idx == next;
                if (!nzr) {
                    buf[j] = 0;
                    continue;
                }
                uint64_t x = 0;
                (void)br_get(&vals, f.w, &x); /* k values present: checked */
                buf[j] = f.base + x * f.g;
                seen++;
                if (form == FORM_GAPS && seen < k) {
                    uint64_t gap = 0;
                    (void)br_get(&gaps, gw, &gap);
                    if (gap >= c - idx - 1)
                        return STRATA_ERR_CORRUPT;
                    next = idx + 1 + (size_t)gap;
                }
            }
            emit(o, &st, buf, kk, e, dst + i);
        }
        if (seen != k)
            return STRATA_ERR_CORRUPT;
        p += bitpack_bytes(k, f.w);
    }
    *used = (size_t)(p - src);
    return STRATA_OK;
}
