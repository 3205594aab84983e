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
 *   FOR (frame of reference) over the c residuals, x = (r - base) / g:
 *       svarint base  the smallest residual (as int64)
 *       uvarint g     >= 1, every r - base is a multiple of g
 *       u8 w          0..64: plain packing, the c values x at w bits each,
 *                     LSB-first, then padding to a byte boundary;
 *                     or 0x80 | G (G >= 2): radix packing, followed by
 *       uvarint R     >= 3, every x < R; R^G <= 2^56 and R^(G+1) < 2^64.
 *                     Groups of G values (the last one shorter, h values)
 *                     each written as X = x0 + x1*R + x2*R^2 + ... at
 *                     bit_width(R^G - 1) bits (bit_width(R^h - 1) for the
 *                     last), LSB-first, contiguous, then padding to a byte.
 *                     Spends log2(R) bits per value instead of
 *                     ceil(log2(R)): 11.2 instead of 12 for R = 2301.
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
 * Radix packing is used when it is smaller than plain packing; the decoder
 * divides by R with a multiply-high by floor(2^64/R)+1, exact because
 * X*R < 2^64.
 *
 * A constant sequence costs 5 bytes plus m0's varint; a counter with rare
 * +1 steps costs a few bytes per step; a counter with increments uniform in
 * 0..2m costs about log2(2m+1) bits per sample.
 */
#include "codec/codec_int.h"

/* The hot loops here are written to be vectorised; -O2 alone (GCC 12) does
 * not vectorise loops with a run-time trip count. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif

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

/* Exact division by g (x is known to be a multiple of g) without a divide
 * instruction: g = odd * 2^sh, and multiplying by the inverse of odd modulo
 * 2^64 undoes the multiplication by odd. */
typedef struct xdiv {
    uint64_t inv, lim;
    unsigned sh;
} xdiv;

static xdiv xdiv_make(uint64_t g)
{
    xdiv d;
    d.sh = (unsigned)__builtin_ctzll(g);
    uint64_t odd = g >> d.sh, inv = odd; /* Newton: inv correct to 3, 6, 12, ... bits */
    for (int i = 0; i < 5; i++)
        inv *= 2 - odd * inv;
    d.inv = inv;
    d.lim = UINT64_MAX / odd;
    return d;
}
static inline uint64_t xdiv_do(const xdiv *d, uint64_t x) { return (x >> d->sh) * d->inv; }
/* Whether g divides x. */
static inline int xdiv_divides(const xdiv *d, uint64_t x)
{
    return !(x & low_mask(d->sh)) && (x >> d->sh) * d->inv <= d->lim;
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
    unsigned w;  /* plain: bits per value */
    unsigned G;  /* radix: values per group (>= 2), 0 for plain packing */
    uint64_t R;  /* radix: values lie in [0, R) */
} forp;

/* R^k, or 0 when it exceeds 2^64 - 1. */
static uint64_t upow(uint64_t R, unsigned k)
{
    uint64_t x = 1;
    for (unsigned i = 0; i < k; i++)
        if (__builtin_mul_overflow(x, R, &x))
            return 0;
    return x;
}

/* Radix groups: the most values per group with R^G <= 2^56 (one 8-byte
 * load reads a group) and R^(G+1) <= 2^64 - 1 (the decoder's division by
 * multiplication is exact). 0 when fewer than 2 fit. */
static unsigned radix_group(uint64_t R)
{
    if (R < 3)
        return 0;
    unsigned G = 0;
    while (G < 56) {
        uint64_t a = upow(R, G + 1), b = upow(R, G + 2);
        if (!a || !b || a > (1ull << 56))
            break;
        G++;
    }
    return G >= 2 ? G : 0;
}

static uint64_t radix_bits(uint64_t R, unsigned G, size_t cnt)
{
    uint64_t full = cnt / G, rest = cnt % G;
    return full * bit_width(upow(R, G) - 1) + (rest ? bit_width(upow(R, (unsigned)rest) - 1) : 0);
}

static size_t for_data_bytes(const forp *f, size_t cnt)
{
    return f->G ? (size_t)((radix_bits(f->R, f->G, cnt) + 7) / 8) : bitpack_bytes(cnt, f->w);
}

/* Picks radix packing when it is smaller than plain packing at w bits. */
static void for_choose(forp *f, uint64_t maxq, size_t cnt)
{
    f->G = 0;
    f->R = maxq + 1;
    if (maxq == UINT64_MAX || !cnt)
        return;
    unsigned G = radix_group(f->R);
    if (G && (radix_bits(f->R, G, cnt) + 7) / 8 < bitpack_bytes(cnt, f->w))
        f->G = G;
}

static size_t for_cost(const forp *f, size_t c)
{
    return uvarint_len(zigzag_enc((int64_t)f->base)) + uvarint_len(f->g) + 1 + (f->G ? uvarint_len(f->R) : 0) +
           for_data_bytes(f, c);
}

/* Sequential writer of FOR values (already (r - base) / g). */
typedef struct fw {
    uint8_t *p;
    uint64_t pos, X, mul;
    const forp *f;
    unsigned k;
} fw;

static void fw_init(fw *w, uint8_t *p, const forp *f)
{
    w->p = p;
    w->pos = 0;
    w->X = 0;
    w->mul = 1;
    w->f = f;
    w->k = 0;
}

static inline void fw_put(fw *w, uint64_t x)
{
    const forp *f = w->f;
    if (!f->G) {
        bw_put(w->p, w->pos, x, f->w);
        w->pos += f->w;
        return;
    }
    w->X += x * w->mul;
    w->mul *= f->R;
    if (++w->k == f->G) {
        unsigned bits = bit_width(w->mul - 1);
        bw_put(w->p, w->pos, w->X, bits);
        w->pos += bits;
        w->X = 0;
        w->mul = 1;
        w->k = 0;
    }
}

static void fw_flush(fw *w)
{
    if (w->f->G && w->k) {
        unsigned bits = bit_width(w->mul - 1);
        bw_put(w->p, w->pos, w->X, bits);
        w->pos += bits;
    }
}

/* Statistics of one order's residuals. */
typedef struct ostats {
    int64_t mn, mx;        /* over all residuals */
    int64_t nzmn, nzmx;    /* over nonzero ones */
    size_t nz;             /* nonzero count */
    size_t maxgap;
    forp all, nzf;
} ostats;

static inline __attribute__((always_inline)) void stats_pass1(const int64_t *m, unsigned o, size_t c, ostats *s)
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

static inline __attribute__((always_inline)) void stats_pass2(const int64_t *m, unsigned o, size_t c, ostats *s)
{
    uint64_t g = 0, gnz = 0;
    uint64_t b = (uint64_t)s->mn, bnz = (uint64_t)s->nzmn;
    int want_nz = s->nz > 0;
    xdiv dg = xdiv_make(1), dn = xdiv_make(1);
    for (size_t i = 0; i < c && (g != 1 || (want_nz && gnz != 1)); i++) {
        uint64_t r = resid(m, o, i);
        /* the gcd changes rarely: test divisibility first, cheaply */
        if (g != 1 && (!g || !xdiv_divides(&dg, r - b))) {
            g = gcd_u64(g, r - b);
            if (g)
                dg = xdiv_make(g);
        }
        if (r && want_nz && gnz != 1 && (!gnz || !xdiv_divides(&dn, r - bnz))) {
            gnz = gcd_u64(gnz, r - bnz);
            if (gnz)
                dn = xdiv_make(gnz);
        }
    }
    s->all.base = c ? b : 0;
    s->all.g = g ? g : 1;
    uint64_t q = c ? ((uint64_t)s->mx - b) / s->all.g : 0;
    s->all.w = bit_width(q);
    for_choose(&s->all, q, c);
    s->nzf.base = s->nz ? bnz : 0;
    s->nzf.g = gnz ? gnz : 1;
    q = s->nz ? ((uint64_t)s->nzmx - bnz) / s->nzf.g : 0;
    s->nzf.w = bit_width(q);
    for_choose(&s->nzf, q, s->nz);
}

static uint8_t *put_for_head(uint8_t *p, const forp *f)
{
    p += uvarint_put(p, zigzag_enc((int64_t)f->base));
    p += uvarint_put(p, f->g);
    if (f->G) {
        *p++ = (uint8_t)(0x80 | f->G);
        p += uvarint_put(p, f->R);
    } else {
        *p++ = (uint8_t)f->w;
    }
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
        if (o == 1) {
            stats_pass1(m, 1, c, s);
            stats_pass2(m, 1, c, s);
        } else {
            stats_pass1(m, 2, c, s);
            stats_pass2(m, 2, c, s);
        }
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
        if (s->all.w) {
            uint64_t b = s->all.base;
            xdiv dv = xdiv_make(s->all.g);
            fw w;
            fw_init(&w, p, &s->all);
            if (o == 1)
                for (size_t i = 0; i < c; i++)
                    fw_put(&w, xdiv_do(&dv, resid(m, 1, i) - b));
            else
                for (size_t i = 0; i < c; i++)
                    fw_put(&w, xdiv_do(&dv, resid(m, 2, i) - b));
            fw_flush(&w);
        }
        p += s->all.w ? for_data_bytes(&s->all, c) : 0;
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
        if (s->nzf.w) {
            uint64_t b = s->nzf.base;
            xdiv dv = xdiv_make(s->nzf.g);
            fw w;
            fw_init(&w, p, &s->nzf);
            for (size_t i = 0; i < c; i++) {
                uint64_t r = resid(m, o, i);
                if (r)
                    fw_put(&w, xdiv_do(&dv, r - b));
            }
            fw_flush(&w);
        }
        p += s->nzf.w ? for_data_bytes(&s->nzf, s->nz) : 0;
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
    if (p >= end)
        return -1;
    unsigned wb = *p++;
    f->G = 0;
    f->w = wb;
    if (wb & 0x80) {
        f->G = wb & 0x7f;
        f->w = 1; /* nonzero: there is data */
        if (!(r = uvarint_get(p, end, &f->R)))
            return -1;
        p += r;
        uint64_t rg = upow(f->R, f->G);
        if (f->G < 2 || f->R < 3 || !rg || rg > (1ull << 56) || !upow(f->R, f->G + 1))
            return -1;
    } else if (wb > 64) {
        return -1;
    }
    if ((size_t)(end - p) < for_data_bytes(f, cnt))
        return -1;
    *pp = p;
    return 0;
}

/* Reconstruction state: the running value and delta. */
typedef struct recon {
    uint64_t m, d;
} recon;

/* int64 -> double for chunks whose values all lie in (-2^51, 2^51): adding
 * the bits of 1.5 * 2^52 and subtracting 1.5 * 2^52 as a double is exact
 * there, and unlike cvtsi2sd it vectorises with SSE2/AVX2. Other chunks
 * take the plain conversion; both give the same bits. */
#define MAGIC_BITS 0x4338000000000000ull
#define MAGIC_DBL 6755399441055744.0 /* 1.5 * 2^52 */

__attribute__((target_clones("avx2", "default")))
static void conv_chunk(const int64_t *mv, size_t k, unsigned e, double *out)
{
    uint64_t lo = 0, hi = 0; /* detect |m| >= 2^51 */
    for (size_t j = 0; j < k; j++) {
        uint64_t x = (uint64_t)mv[j] + (1ull << 51);
        hi |= x >> 52;
        (void)lo;
    }
    if (!hi) {
        for (size_t j = 0; j < k; j++) {
            uint64_t b = (uint64_t)mv[j] + MAGIC_BITS;
            double d;
            memcpy(&d, &b, 8);
            out[j] = d - MAGIC_DBL;
        }
    } else {
        for (size_t j = 0; j < k; j++)
            out[j] = (double)mv[j];
    }
    if (e) {
        const double div = codec_p10d[e];
        for (size_t j = 0; j < k; j++)
            out[j] = out[j] / div;
    }
}

/* Turns residuals r[0..k) into values, continuing st, and converts them to
 * doubles with exponent e into out. For e > 0 the division is a true
 * division of the exact (double)m: (double)m is exact because the encoder
 * verified the round trip of (double)m / 10^e... of the same expression. */
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
    conv_chunk(mv, k, e, out);
}

static inline double conv(int64_t m, unsigned e) { return e ? (double)m / codec_p10d[e] : (double)m; }

/* Sequential reader of n FOR values (plain or radix), CHUNK at a time. */
typedef struct vstream {
    const uint8_t *p;
    size_t avail, n, done, at, have;
    forp f;
    br r;          /* radix: the group stream */
    uint64_t M;    /* radix: floor(2^64 / R) + 1, so X / R == mulhi(X, M) */
    int bad;       /* radix: a group held more than R^G - 1 */
    uint64_t buf[CHUNK + 8];
} vstream;

static void vs_init(vstream *s, const uint8_t *p, size_t n, const forp *f)
{
    s->p = p;
    s->f = *f;
    s->avail = for_data_bytes(f, n);
    s->n = n;
    s->done = s->at = s->have = 0;
    s->bad = 0;
    if (f->G) {
        br_init(&s->r, p, s->avail);
        s->M = UINT64_MAX / f->R + 1;
    }
}

/* Unpacks values [done, done + k) into out (k <= CHUNK; done is a
 * multiple of CHUNK). A radix group that straddles the chunk end is
 * decoded whole; its remaining values wait in s->buf for the next call. */
static void radix_fill(vstream *s, uint64_t *out, size_t k);

static void vs_fill(vstream *s, uint64_t *out, size_t k)
{
    if (s->f.G) {
        radix_fill(s, out, k);
    } else {
        size_t byte = (size_t)(((uint64_t)s->done * s->f.w) >> 3);
        bitpack_unpack(s->p + byte, s->avail - byte, k, s->f.w, out);
    }
    if (s->f.g != 1 || s->f.base)
        for (size_t j = 0; j < k; j++)
            out[j] = s->f.base + out[j] * s->f.g;
    s->done += k;
}

static void radix_fill(vstream *s, uint64_t *out, size_t k)
{
    const uint64_t R = s->f.R, M = s->M;
    const unsigned G = s->f.G;
    size_t j = 0;
    /* values of a group split at the previous chunk's end wait in buf */
    while (j < k && s->at < s->have)
        out[j++] = s->buf[s->at++];
    const unsigned gbits = bit_width(upow(R, G) - 1);
    size_t left = s->n - s->done - j; /* values not yet read from the stream */
    while (j < k) {
        unsigned cnt = left >= G ? G : (unsigned)left;
        unsigned bits = cnt == G ? gbits : bit_width(upow(R, cnt) - 1);
        uint64_t X = 0;
        (void)br_get(&s->r, bits, &X); /* present: get_for checked the size */
        uint64_t *dst = out + j, tmp[64];
        int split = j + cnt > k;
        if (split)
            dst = tmp;
        for (unsigned t = 0; t < cnt; t++) {
            uint64_t q = (uint64_t)(((unsigned __int128)X * M) >> 64);
            dst[t] = X - q * R;
            X = q;
        }
        s->bad |= X != 0;
        left -= cnt;
        if (split) {
            size_t take = k - j;
            memcpy(out + j, tmp, take * sizeof *tmp);
            memcpy(s->buf, tmp + take, (cnt - take) * sizeof *tmp);
            s->have = cnt - take;
            s->at = 0;
            j = k;
        } else {
            j += cnt;
        }
    }
}

/* The next value; the caller never asks for more than n. */
static inline uint64_t vs_next(vstream *s, uint64_t *cache, size_t *at, size_t *have)
{
    if (*at == *have) {
        size_t k = MIN((size_t)CHUNK, s->n - s->done);
        vs_fill(s, cache, k);
        *have = k;
        *at = 0;
    }
    return cache[(*at)++];
}

static size_t popcount64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (size_t)((x * 0x0101010101010101ull) >> 56);
}

static uint64_t load_partial(const uint8_t *p, size_t avail)
{
    uint64_t x = 0;
    memcpy(&x, p, avail < 8 ? avail : 8);
    return x;
}

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
        if (f.G) {
            vstream vs;
            vs_init(&vs, p, c, &f);
            for (size_t i = 0; i < c; i += CHUNK) {
                size_t k = MIN((size_t)CHUNK, c - i);
                vs_fill(&vs, buf, k);
                emit(o, &st, buf, k, e, dst + i);
            }
            if (vs.bad)
                return STRATA_ERR_CORRUPT;
            p += vs.avail;
            *used = (size_t)(p - src);
            return STRATA_OK;
        }
        size_t nb = bitpack_bytes(c, f.w);
        const uint8_t *q = p;
        for (size_t i = 0; i < c; i += CHUNK) {
            size_t k = MIN((size_t)CHUNK, c - i);
            /* chunks start on a byte: CHUNK * w bits is a multiple of 8 */
            uint64_t bit = (uint64_t)i * f.w;
            bitpack_unpack(q + (bit >> 3), nb - (size_t)(bit >> 3), k, f.w, buf);
            if (f.g != 1 || f.base)
                for (size_t j = 0; j < k; j++)
                    buf[j] = f.base + buf[j] * f.g;
            emit(o, &st, buf, k, e, dst + i);
        }
        p += nb;
        *used = (size_t)(p - src);
        return STRATA_OK;
    }
    uint64_t k64;
    if (!(r = uvarint_get(p, end, &k64)) || k64 > c)
        return STRATA_ERR_CORRUPT;
    p += r;
    size_t k = (size_t)k64;
    const uint8_t *pos_p = p;
    size_t pos_len = 0;
    unsigned gw = 0;
    if (form == FORM_BITMAP) {
        pos_len = (c + 7) / 8;
        if ((size_t)(end - p) < pos_len)
            return STRATA_ERR_CORRUPT;
        size_t cnt = 0;
        for (size_t i = 0; i < pos_len; i += 8)
            cnt += popcount64(load_partial(p + i, pos_len - i));
        if (cnt != k || ((c & 7) && (p[pos_len - 1] >> (c & 7))))
            return STRATA_ERR_CORRUPT;
    } else {
        if (p >= end || *p > 64)
            return STRATA_ERR_CORRUPT;
        gw = *p++;
        pos_p = p;
        pos_len = bitpack_bytes(k, gw);
        if ((size_t)(end - p) < pos_len)
            return STRATA_ERR_CORRUPT;
    }
    p += pos_len;
    forp f;
    if (get_for(&p, end, k, &f))
        return STRATA_ERR_CORRUPT;
    vstream vals;
    vs_init(&vals, p, k, &f);
    uint64_t vcache[CHUNK + 8];
    size_t vat = 0, vhave = 0;
    if (form == FORM_BITMAP) {
        /* CHUNK residuals are CHUNK/64 whole bitmap words */
        for (size_t i = 0; i < c; i += CHUNK) {
            size_t kk = MIN((size_t)CHUNK, c - i);
            memset(buf, 0, kk * sizeof *buf);
            for (size_t wd = 0; wd * 64 < kk; wd++) {
                size_t byte = (i + wd * 64) / 8;
                uint64_t bits = load_partial(pos_p + byte, pos_len - byte);
                while (bits) {
                    buf[wd * 64 + (size_t)__builtin_ctzll(bits)] = vs_next(&vals, vcache, &vat, &vhave);
                    bits &= bits - 1;
                }
            }
            emit(o, &st, buf, kk, e, dst + i);
        }
    } else {
        /* gaps: the positions of the k nonzero residuals, ascending */
        vstream gaps;
        forp gf = {0, 1, gw, 0, 0};
        vs_init(&gaps, pos_p, k, &gf);
        uint64_t gcache[CHUNK + 8];
        size_t gat = 0, ghave = 0;
        size_t seen = 0, next = 0;
        if (k) {
            uint64_t gap = vs_next(&gaps, gcache, &gat, &ghave);
            if (gap >= c)
                return STRATA_ERR_CORRUPT;
            next = (size_t)gap;
        }
        for (size_t i = 0; i < c; i += CHUNK) {
            size_t kk = MIN((size_t)CHUNK, c - i);
            memset(buf, 0, kk * sizeof *buf);
            while (seen < k && next < i + kk) {
                buf[next - i] = vs_next(&vals, vcache, &vat, &vhave);
                if (++seen < k) {
                    uint64_t gap = vs_next(&gaps, gcache, &gat, &ghave);
                    if (gap >= c - next - 1)
                        return STRATA_ERR_CORRUPT;
                    next += 1 + (size_t)gap;
                }
            }
            emit(o, &st, buf, kk, e, dst + i);
        }
        if (seen != k)
            return STRATA_ERR_CORRUPT;
    }
    if (vals.bad)
        return STRATA_ERR_CORRUPT;
    p += vals.avail;
    *used = (size_t)(p - src);
    return STRATA_OK;
}
