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
 * reads a group's digits most significant first from a 64-bit fixed-point
 * fraction F ~ X / R^G (one 64x64->128 multiplication per digit, see
 * rfrac below) and rejects a group with X >= R^G (or R^h for the last).
 *
 * A constant sequence costs 5 bytes plus m0's varint; a counter with rare
 * +1 steps costs a few bytes per step; a counter with increments uniform in
 * 0..2m costs about log2(2m+1) bits per sample.
 */
#include "codec_int.h"

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
 * load reads a group) and R^(G+1) <= 2^64 - 1 (a rule of the format since
 * its first decoder, which divided by multiplication; get_for checks it).
 * 0 when fewer than 2 fit. */
static unsigned radix_group(uint64_t R)
{
    if (R < 3)
        return 0;
    /* a = R^(G+1), b = R^(G+2), advanced together */
    unsigned G = 0;
    uint64_t a = R, b;
    if (__builtin_mul_overflow(a, R, &b))
        return 0;
    while (G < 56 && a <= (1ull << 56)) {
        G++;
        a = b;
        if (__builtin_mul_overflow(b, R, &b))
            break;
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

/* The ranges of both orders' residuals in one branch-free pass, four lanes
 * at a time (GCC does not vectorise 64-bit min/max by itself): min, max,
 * nonzero count and range of the nonzero ones. */
typedef int64_t v4i __attribute__((vector_size(32)));

#define VSEL(mask, a, b) (((a) & (mask)) | ((b) & ~(mask)))
#define VRANGE(x, mn, mx, zmn, zmx, nz)                                                  \
    do {                                                                                 \
        v4i nzm_ = (x) != zero;                                                          \
        mn = VSEL((x) < mn, (x), mn);                                                    \
        mx = VSEL((x) > mx, (x), mx);                                                    \
        v4i lo_ = VSEL(nzm_, (x), vmax), hi_ = VSEL(nzm_, (x), vmin);                    \
        zmn = VSEL(lo_ < zmn, lo_, zmn);                                                 \
        zmx = VSEL(hi_ > zmx, hi_, zmx);                                                 \
        nz -= nzm_;                                                                      \
    } while (0)

typedef uint64_t v4u __attribute__((vector_size(32)));
/* an unaligned load (a macro: a function returning a vector would change
 * ABI between the clones) */
#define VLOAD(dst, p) memcpy(&(dst), (p), sizeof(dst))

/* Folds the four lanes and the residuals the vector loop left (from i). */
static void stats_finish(const int64_t *m, size_t n, size_t i, const int64_t l1[4][5], const int64_t l2[4][5],
                         ostats *s1, ostats *s2)
{
    int64_t r1[4] = {INT64_MAX, INT64_MIN, INT64_MAX, INT64_MIN}, r2[4] = {INT64_MAX, INT64_MIN, INT64_MAX, INT64_MIN};
    uint64_t c1 = 0, c2 = 0;
    for (int l = 0; l < 4; l++) {
        r1[0] = MIN(r1[0], l1[l][0]);
        r1[1] = MAX(r1[1], l1[l][1]);
        r1[2] = MIN(r1[2], l1[l][2]);
        r1[3] = MAX(r1[3], l1[l][3]);
        c1 += (uint64_t)l1[l][4];
        r2[0] = MIN(r2[0], l2[l][0]);
        r2[1] = MAX(r2[1], l2[l][1]);
        r2[2] = MIN(r2[2], l2[l][2]);
        r2[3] = MAX(r2[3], l2[l][3]);
        c2 += (uint64_t)l2[l][4];
    }
    for (size_t j = i; j + 1 < n; j++) {
        int64_t x = (int64_t)resid(m, 1, j);
        r1[0] = MIN(r1[0], x);
        r1[1] = MAX(r1[1], x);
        if (x) {
            r1[2] = MIN(r1[2], x);
            r1[3] = MAX(r1[3], x);
            c1++;
        }
        if (j + 2 >= n)
            continue;
        x = (int64_t)resid(m, 2, j);
        r2[0] = MIN(r2[0], x);
        r2[1] = MAX(r2[1], x);
        if (x) {
            r2[2] = MIN(r2[2], x);
            r2[3] = MAX(r2[3], x);
            c2++;
        }
    }
    s1->mn = r1[0], s1->mx = r1[1], s1->nzmn = r1[2], s1->nzmx = r1[3], s1->nz = (size_t)c1;
    s2->mn = r2[0], s2->mx = r2[1], s2->nzmn = r2[2], s2->nzmx = r2[3], s2->nz = (size_t)c2;
}

#ifdef CODEC_X86_PATHS
#include <immintrin.h>
#define HAVE_STATS_AVX2 1
/* stats_ranges with AVX2 blends (the generic vectors below compile to
 * and/andnot/or triples). */
#define RANGE8(x, mn, mx, zmn, zmx, zc)                                                        \
    do {                                                                                       \
        __m256i isz_ = _mm256_cmpeq_epi64(x, zero);                                            \
        mn = _mm256_blendv_epi8(mn, x, _mm256_cmpgt_epi64(mn, x));                             \
        mx = _mm256_blendv_epi8(mx, x, _mm256_cmpgt_epi64(x, mx));                             \
        __m256i lo_ = _mm256_blendv_epi8(x, vmax, isz_), hi_ = _mm256_blendv_epi8(x, vmin, isz_); \
        zmn = _mm256_blendv_epi8(zmn, lo_, _mm256_cmpgt_epi64(zmn, lo_));                      \
        zmx = _mm256_blendv_epi8(zmx, hi_, _mm256_cmpgt_epi64(hi_, zmx));                      \
        zc = _mm256_sub_epi64(zc, isz_);                                                       \
    } while (0)

__attribute__((target("avx2")))
static void stats_ranges_avx2(const int64_t *m, size_t n, ostats *s1, ostats *s2)
{
    const __m256i zero = _mm256_setzero_si256(), vmax = _mm256_set1_epi64x(INT64_MAX),
                  vmin = _mm256_set1_epi64x(INT64_MIN);
    __m256i mn1 = vmax, mx1 = vmin, zmn1 = vmax, zmx1 = vmin, zc1 = zero;
    __m256i mn2 = vmax, mx2 = vmin, zmn2 = vmax, zmx2 = vmin, zc2 = zero;
    size_t i = 0;
    for (; i + 6 <= n; i += 4) {
        __m256i m0 = _mm256_loadu_si256((const __m256i *)(const void *)(m + i));
        __m256i m1 = _mm256_loadu_si256((const __m256i *)(const void *)(m + i + 1));
        __m256i m2 = _mm256_loadu_si256((const __m256i *)(const void *)(m + i + 2));
        __m256i a = _mm256_sub_epi64(m1, m0), b = _mm256_sub_epi64(_mm256_sub_epi64(m2, m1), a);
        RANGE8(a, mn1, mx1, zmn1, zmx1, zc1);
        RANGE8(b, mn2, mx2, zmn2, zmx2, zc2);
    }
    int64_t l1[4][5], l2[4][5], t[5][4];
    _mm256_storeu_si256((__m256i *)(void *)t[0], mn1);
    _mm256_storeu_si256((__m256i *)(void *)t[1], mx1);
    _mm256_storeu_si256((__m256i *)(void *)t[2], zmn1);
    _mm256_storeu_si256((__m256i *)(void *)t[3], zmx1);
    _mm256_storeu_si256((__m256i *)(void *)t[4], zc1);
    for (int l = 0; l < 4; l++) {
        for (int k = 0; k < 4; k++)
            l1[l][k] = t[k][l];
        l1[l][4] = (int64_t)(i / 4) - t[4][l]; /* nonzero = residuals - zeros */
    }
    _mm256_storeu_si256((__m256i *)(void *)t[0], mn2);
    _mm256_storeu_si256((__m256i *)(void *)t[1], mx2);
    _mm256_storeu_si256((__m256i *)(void *)t[2], zmn2);
    _mm256_storeu_si256((__m256i *)(void *)t[3], zmx2);
    _mm256_storeu_si256((__m256i *)(void *)t[4], zc2);
    for (int l = 0; l < 4; l++) {
        for (int k = 0; k < 4; k++)
            l2[l][k] = t[k][l];
        l2[l][4] = (int64_t)(i / 4) - t[4][l];
    }
    stats_finish(m, n, i, (const int64_t(*)[5])l1, (const int64_t(*)[5])l2, s1, s2);
}
#endif

CODEC_CLONES
static void stats_ranges_vec(const int64_t *m, size_t n, ostats *s1, ostats *s2)
{
    const v4i zero = {0, 0, 0, 0}, vmax = zero + INT64_MAX, vmin = zero + INT64_MIN;
    v4i mn1 = vmax, mx1 = vmin, zmn1 = vmax, zmx1 = vmin, nz1 = zero;
    v4i mn2 = vmax, mx2 = vmin, zmn2 = vmax, zmx2 = vmin, nz2 = zero;
    size_t i = 0;
    /* residuals i..i+3 of both orders read m[i..i+5] */
    for (; i + 6 <= n; i += 4) {
        v4u m0, m1, m2;
        VLOAD(m0, m + i);
        VLOAD(m1, m + i + 1);
        VLOAD(m2, m + i + 2);
        v4i a = (v4i)(m1 - m0), b = (v4i)(m2 - m1 - (m1 - m0)); /* modulo 2^64 */
        VRANGE(a, mn1, mx1, zmn1, zmx1, nz1);
        VRANGE(b, mn2, mx2, zmn2, zmx2, nz2);
    }
    int64_t l1[4][5], l2[4][5];
    for (int l = 0; l < 4; l++) {
        l1[l][0] = mn1[l], l1[l][1] = mx1[l], l1[l][2] = zmn1[l], l1[l][3] = zmx1[l], l1[l][4] = nz1[l];
        l2[l][0] = mn2[l], l2[l][1] = mx2[l], l2[l][2] = zmn2[l], l2[l][3] = zmx2[l], l2[l][4] = nz2[l];
    }
    stats_finish(m, n, i, (const int64_t(*)[5])l1, (const int64_t(*)[5])l2, s1, s2);
}

static void stats_ranges(const int64_t *m, size_t n, ostats *s1, ostats *s2)
{
#ifdef HAVE_STATS_AVX2
    if (codec_have_avx2()) {
        stats_ranges_avx2(m, n, s1, s2);
        return;
    }
#endif
    stats_ranges_vec(m, n, s1, s2);
}

/* The longest run of zero residuals ended by a nonzero one (the sparse
 * gaps width); needed only when some residuals are zero and some not. */
static void stats_gap(const int64_t *m, unsigned o, size_t c, ostats *s)
{
    s->maxgap = 0;
    if (!s->nz || s->nz == c)
        return;
    size_t run = 0, mg = 0;
    for (size_t i = 0; i < c; i++) {
        uint64_t r = resid(m, o, i);
        size_t cand = r ? run : 0;
        mg = MAX(mg, cand);
        run = r ? 0 : run + 1;
    }
    s->maxgap = mg;
}

/* OR of every (r - min) and of every nonzero (r - nonzero min), both
 * orders, branch-free: their trailing zeros are the power-of-two part of
 * the common divisors. */
CODEC_CLONES
static void stats_ors(const int64_t *m, size_t n, const ostats *s1, const ostats *s2, uint64_t ors[4])
{
    const v4u zero = {0, 0, 0, 0};
    const v4u b1 = zero + (uint64_t)s1->mn, z1 = zero + (uint64_t)s1->nzmn;
    const v4u b2 = zero + (uint64_t)s2->mn, z2 = zero + (uint64_t)s2->nzmn;
    v4u o1 = zero, oz1 = zero, o2 = zero, oz2 = zero;
    size_t i = 0;
    for (; i + 6 <= n; i += 4) {
        v4u m0, m1, m2;
        VLOAD(m0, m + i);
        VLOAD(m1, m + i + 1);
        VLOAD(m2, m + i + 2);
        v4u a = m1 - m0, b = m2 - m1 - a;
        o1 |= a - b1;
        oz1 |= (a - z1) & (v4u)(a != zero);
        o2 |= b - b2;
        oz2 |= (b - z2) & (v4u)(b != zero);
    }
    uint64_t r[4] = {0, 0, 0, 0};
    for (int l = 0; l < 4; l++) {
        r[0] |= o1[l];
        r[1] |= oz1[l];
        r[2] |= o2[l];
        r[3] |= oz2[l];
    }
    for (size_t j = i; j + 1 < n; j++) {
        uint64_t x = resid(m, 1, j);
        r[0] |= x - (uint64_t)s1->mn;
        r[1] |= x ? x - (uint64_t)s1->nzmn : 0;
        if (j + 2 >= n)
            continue;
        x = resid(m, 2, j);
        r[2] |= x - (uint64_t)s2->mn;
        r[3] |= x ? x - (uint64_t)s2->nzmn : 0;
    }
    memcpy(ors, r, sizeof r);
}

/* The common divisor of every (r - b) (of the nonzero r only when nzonly)
 * given the OR of them all: its power of two comes from the OR, and the odd
 * part, which is 1 after a few values in most blocks, from a loop that
 * stops there. Returns 1 when every (r - b) is 0. */
static uint64_t common_div(const int64_t *m, unsigned o, size_t c, uint64_t b, int nzonly, uint64_t or_all)
{
    if (!or_all)
        return 1;
    unsigned tz = (unsigned)__builtin_ctzll(or_all);
    uint64_t g = 0;
    xdiv dg = xdiv_make(1);
    for (size_t i = 0; i < c && g != 1; i++) {
        uint64_t r = resid(m, o, i);
        if (nzonly && !r)
            continue;
        uint64_t x = (r - b) >> tz;
        /* the gcd changes rarely: test divisibility first, cheaply */
        if (!g || !xdiv_divides(&dg, x)) {
            g = gcd_u64(g, x);
            if (g)
                dg = xdiv_make(g);
        }
    }
    return (g ? g : 1) << tz;
}

static void stats_for(const int64_t *m, unsigned o, size_t c, ostats *s, uint64_t or_all, uint64_t or_nz)
{
    uint64_t b = (uint64_t)s->mn, bnz = (uint64_t)s->nzmn;
    s->all.base = c ? b : 0;
    s->all.g = c ? common_div(m, o, c, b, 0, or_all) : 1;
    uint64_t q = c ? ((uint64_t)s->mx - b) / s->all.g : 0;
    s->all.w = bit_width(q);
    for_choose(&s->all, q, c);
    s->nzf.base = s->nz ? bnz : 0;
    s->nzf.g = s->nz ? common_div(m, o, c, bnz, 1, or_nz) : 1;
    q = s->nz ? ((uint64_t)s->nzmx - bnz) / s->nzf.g : 0;
    s->nzf.w = bit_width(q);
    for_choose(&s->nzf, q, s->nz);
}

static uint8_t *put_for_head(uint8_t *p, const forp *f)
{
    p += base_uvarint_put(p, zigzag_enc((int64_t)f->base));
    p += base_uvarint_put(p, f->g);
    if (f->G) {
        *p++ = (uint8_t)(0x80 | f->G);
        p += base_uvarint_put(p, f->R);
    } else {
        *p++ = (uint8_t)f->w;
    }
    return p;
}

int codec_intseq_encode(const int64_t *m, size_t n, bbuf *out)
{
    if (n == 0)
        return STRATA_ERR_INVALID;
    size_t best_cost = SIZE_MAX;
    unsigned best_o = 1, best_form = FORM_FOR;
    ostats st[3];
    uint64_t ors[4];
    for (unsigned o = 1; o <= 2; o++) {
        size_t c = n > o ? n - o : 0;
        ostats *s = &st[o];
        if (o == 1) {
            stats_ranges(m, n, &st[1], &st[2]);
            stats_ors(m, n, &st[1], &st[2], ors);
        }
        stats_for(m, o, c, s, ors[2 * (o - 1)], ors[2 * (o - 1) + 1]);
        size_t head = 1 + uvarint_len(zigzag_enc(m[0])) +
                      (o == 2 && n >= 2 ? uvarint_len(zigzag_enc((int64_t)((uint64_t)m[1] - (uint64_t)m[0]))) : 0);
        size_t cost[3];
        cost[FORM_FOR] = head + for_cost(&s->all, c);
        size_t sp = head + uvarint_len(s->nz) + for_cost(&s->nzf, s->nz);
        cost[FORM_BITMAP] = sp + (c + 7) / 8;
        /* GAPS needs the longest zero run, a scalar pass: skip it when a
         * lower bound already loses (the longest run is at least the mean
         * run before the last nonzero residual), which keeps the choice */
        size_t beat = MIN(best_cost, MIN(cost[FORM_FOR], cost[FORM_BITMAP]));
        size_t last = c;
        while (s->nz && last > 0 && !resid(m, o, last - 1))
            last--;
        size_t inner = s->nz ? last - s->nz : 0; /* zeros before the last nonzero */
        size_t mean_gap = s->nz ? (inner + s->nz - 1) / s->nz : 0;
        if (sp + 1 + bitpack_bytes(s->nz, bit_width(mean_gap)) >= beat) {
            s->maxgap = 0;
            cost[FORM_GAPS] = SIZE_MAX;
        } else {
            stats_gap(m, o, c, s);
            cost[FORM_GAPS] = sp + 1 + bitpack_bytes(s->nz, bit_width(s->maxgap));
        }
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
    uint8_t *base = base_buf_zeroed_tail(out, best_cost);
    if (!base)
        return STRATA_ERR_NOMEM;
    uint8_t *p = base;
    *p++ = (uint8_t)(o | (best_form << 2));
    p += base_uvarint_put(p, zigzag_enc(m[0]));
    if (o == 2 && n >= 2)
        p += base_uvarint_put(p, zigzag_enc((int64_t)((uint64_t)m[1] - (uint64_t)m[0])));
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
        p += base_uvarint_put(p, s->nz);
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
    if (!(r = base_uvarint_get(p, end, &z)))
        return -1;
    p += r;
    f->base = (uint64_t)zigzag_dec(z);
    if (!(r = base_uvarint_get(p, end, &f->g)) || f->g == 0)
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
        if (!(r = base_uvarint_get(p, end, &f->R)))
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

/* Decoding runs in two passes over the output array itself, which the
 * caller sized n + CODEC_PAD doubles: pass A writes the c unpacked values
 * x * g (as uint64 bit patterns) where the doubles will go, pass B turns
 * them in place into running sums and doubles. No scratch, no allocation. */
typedef uint64_t u64a __attribute__((may_alias));

/* Radix groups are decoded most significant digit first from a 64-bit
 * fixed-point fraction F, 0 < F - X/R^G < 2^-63 (so every base-R digit of
 * F matches X's, as 2^-63 < 1/R^G): each digit is then one 64x64->128
 * multiplication, F*R = digit:next F, instead of a division. F is
 * floor(X*K / 2^b) + 1 with K = ceil(2^(64+b) / R^G), b = bit_width(R^G),
 * K a 65-bit constant held as khi:klo. */
typedef struct rfrac {
    uint64_t klo, RG;
    unsigned khi, b, bits, cnt; /* bits: the group's width; cnt values */
} rfrac;

static void rfrac_make(rfrac *q, uint64_t R, unsigned cnt)
{
    q->RG = upow(R, cnt); /* <= 2^56: get_for checked */
    q->b = bit_width(q->RG);
    q->bits = bit_width(q->RG - 1);
    q->cnt = cnt;
    unsigned __int128 K = (((unsigned __int128)1 << (64 + q->b)) + q->RG - 1) / q->RG;
    q->klo = (uint64_t)K;
    q->khi = (unsigned)(K >> 64);
}

static inline uint64_t rfrac_f(const rfrac *q, uint64_t X)
{
    unsigned __int128 p = (unsigned __int128)X * q->klo + ((unsigned __int128)(X * q->khi) << 64);
    return (uint64_t)(p >> q->b) + 1;
}

/* Group X's cnt digits into x[0..cnt), times g; nonzero when X >= R^cnt. */
static inline uint64_t rgroup(const rfrac *q, uint64_t X, uint64_t R, uint64_t g, u64a *x)
{
    uint64_t F = rfrac_f(q, X);
    for (unsigned t = q->cnt; t-- > 0;) {
        unsigned __int128 p = (unsigned __int128)F * R;
        x[t] = (uint64_t)(p >> 64) * g;
        F = (uint64_t)p;
    }
    return X >= q->RG;
}

/* One digit: F*R = digit:F. With mx (BMI2 machines, inline asm so that
 * the generic build never contains it) a single mulx, one pass through the
 * multiplier port; otherwise the high half and the low half as separate
 * multiplications (GCC keeps a 128-bit product in a register pair, and
 * with four chains it spills them). */
static inline __attribute__((always_inline)) uint64_t digit(uint64_t *F, uint64_t R, int mx)
{
#ifdef CODEC_X86_PATHS
    if (mx) {
        uint64_t hi, lo;
        __asm__("mulx %3, %0, %1" : "=r"(lo), "=r"(hi) : "d"(*F), "r"(R));
        *F = lo;
        return hi;
    }
#endif
    (void)mx;
    uint64_t hi = (uint64_t)(((unsigned __int128)*F * R) >> 64);
    *F *= R;
    return hi;
}

/* Four groups at once: each digit is a chain of dependent multiplications
 * (4 cycles each), so four independent chains keep the multiplier busy. */
static inline __attribute__((always_inline)) uint64_t rgroups4(const rfrac *q, const uint8_t *p, uint64_t *ppos,
                                                               size_t *pi, size_t safe, uint64_t mask, uint64_t R,
                                                               uint64_t g, u64a **px, unsigned G, int mx)
{
    uint64_t pos = *ppos, bad = 0;
    size_t i = *pi;
    u64a *x = *px;
    const unsigned bits = q->bits;
    for (; i + 4 <= safe; i += 4, pos += 4 * (uint64_t)bits, x += 4 * G) {
        uint64_t w0, w1, w2, w3, F0, F1, F2, F3;
        uint64_t p0 = pos, p1 = pos + bits, p2 = pos + 2 * bits, p3 = pos + 3 * bits;
        memcpy(&w0, p + (p0 >> 3), 8);
        memcpy(&w1, p + (p1 >> 3), 8);
        memcpy(&w2, p + (p2 >> 3), 8);
        memcpy(&w3, p + (p3 >> 3), 8);
        w0 = (w0 >> (p0 & 7)) & mask;
        w1 = (w1 >> (p1 & 7)) & mask;
        w2 = (w2 >> (p2 & 7)) & mask;
        w3 = (w3 >> (p3 & 7)) & mask;
        bad |= (w0 >= q->RG) | (w1 >= q->RG) | (w2 >= q->RG) | (w3 >= q->RG);
        F0 = rfrac_f(q, w0);
        F1 = rfrac_f(q, w1);
        F2 = rfrac_f(q, w2);
        F3 = rfrac_f(q, w3);
        u64a *x1 = x + G, *x2 = x + 2 * G, *x3 = x + 3 * G;
        for (unsigned t = G; t-- > 0;) {
            x[t] = digit(&F0, R, mx) * g;
            x1[t] = digit(&F1, R, mx) * g;
            x2[t] = digit(&F2, R, mx) * g;
            x3[t] = digit(&F3, R, mx) * g;
        }
    }
    *ppos = pos;
    *pi = i;
    *px = x;
    return bad;
}

/* cnt radix-packed values from p[0..avail) into x, times g. Returns
 * nonzero when a group is out of range (corrupt). mx: use mulx. */
static inline __attribute__((always_inline)) uint64_t radix_unpack_body(const uint8_t *p, size_t avail, size_t cnt,
                                                                        const forp *f, uint64_t g, u64a *x, int mx)
{
    const uint64_t R = f->R;
    const unsigned G = f->G;
    rfrac q;
    rfrac_make(&q, R, G);
    const uint64_t mask = low_mask(q.bits);
    size_t full = cnt / G, i = 0;
    uint64_t pos = 0, bad = 0;
    /* groups whose 8-byte load stays inside the buffer */
    size_t safe = avail >= 8 ? (size_t)(((uint64_t)(avail - 8) * 8) / q.bits) : 0;
    safe = MIN(safe, full);
    if (g == 1)
        bad |= rgroups4(&q, p, &pos, &i, safe, mask, R, 1, &x, G, mx);
    else
        bad |= rgroups4(&q, p, &pos, &i, safe, mask, R, g, &x, G, mx);
    for (; i < safe; i++, pos += q.bits, x += G) {
        uint64_t w;
        memcpy(&w, p + (pos >> 3), 8);
        bad |= rgroup(&q, (w >> (pos & 7)) & mask, R, g, x);
    }
    br r;
    br_init(&r, p, avail);
    r.pos = pos;
    for (; i < full; i++, x += G) {
        uint64_t X = 0;
        (void)br_get(&r, q.bits, &X); /* present: get_for checked the size */
        bad |= rgroup(&q, X, R, g, x);
    }
    unsigned h = (unsigned)(cnt % G);
    if (h) {
        rfrac qh;
        rfrac_make(&qh, R, h);
        uint64_t X = 0;
        (void)br_get(&r, qh.bits, &X);
        bad |= rgroup(&qh, X, R, g, x);
    }
    return bad;
}

static uint64_t radix_unpack_plain(const uint8_t *p, size_t avail, size_t cnt, const forp *f, uint64_t g, u64a *x)
{
    return radix_unpack_body(p, avail, cnt, f, g, x, 0);
}

#ifdef CODEC_X86_PATHS
static uint64_t radix_unpack_mulx(const uint8_t *p, size_t avail, size_t cnt, const forp *f, uint64_t g, u64a *x)
{
    return radix_unpack_body(p, avail, cnt, f, g, x, 1);
}
#endif

static uint64_t radix_unpack(const uint8_t *p, size_t avail, size_t cnt, const forp *f, uint64_t g, u64a *x)
{
#ifdef CODEC_X86_PATHS
    if (codec_have_bmi2())
        return radix_unpack_mulx(p, avail, cnt, f, g, x);
#endif
    return radix_unpack_plain(p, avail, cnt, f, g, x);
}

/* Pass A for cnt FOR values: x[i] = value * g (the base is added later).
 * x may be written up to 8 entries past cnt. Nonzero when corrupt. */
static uint64_t for_unpack(const uint8_t *p, size_t cnt, const forp *f, u64a *x)
{
    size_t avail = for_data_bytes(f, cnt);
    if (f->G)
        return radix_unpack(p, avail, cnt, f, f->g, x);
    codec_bitpack_unpack(p, avail, cnt, f->w, (uint64_t *)x);
    if (f->g != 1)
        for (size_t i = 0; i < cnt; i++)
            x[i] *= f->g;
    return 0;
}

/* int64 -> double for values in (-2^51, 2^51): adding the bits of
 * 1.5 * 2^52 and subtracting 1.5 * 2^52 as a double is exact there, and
 * unlike cvtsi2sd it vectorises. Gives the same bits as (double)m. */
#define MAGIC_BITS 0x4338000000000000ull
#define MAGIC_DBL 6755399441055744.0 /* 1.5 * 2^52 */

typedef double v4d __attribute__((vector_size(32)));
/* lanes of a and b (b's numbered 4..7), constant indices */
#ifdef __clang__
#define SHUF2(a, b, i, j, k, l) __builtin_shufflevector(a, b, i, j, k, l)
#else
#define SHUF2(a, b, i, j, k, l) __builtin_shuffle(a, b, (v4u){i, j, k, l})
#endif

/* Pass B, order 1, when every running sum lies in (-2^51, 2^51): in place,
 * x[i] (bits) -> the double of m += base + x[i], then dec_div by 10^e.
 * Four lanes at a time: an in-register prefix sum, the carry kept apart so
 * that the loop-carried chain is one addition. The generic code divides
 * lane by lane (fma() calls); FMA machines take pass_b1_fma. */
CODEC_CLONES
static void pass_b1_fast(double *out, size_t c, uint64_t m, uint64_t base, unsigned e)
{
    const v4u zero = {0, 0, 0, 0}, vb = {base, base, base, base};
    const v4u magic = {MAGIC_BITS, MAGIC_BITS, MAGIC_BITS, MAGIC_BITS};
    const v4d mdbl = {MAGIC_DBL, MAGIC_DBL, MAGIC_DBL, MAGIC_DBL};
    v4u carry = {m, m, m, m};
    size_t i = 0;
    for (; i + 4 <= c; i += 4) {
        v4u x;
        memcpy(&x, out + i, sizeof x);
        x += vb;
        x += SHUF2(x, zero, 4, 0, 1, 2);
        x += SHUF2(x, zero, 4, 5, 0, 1);
        v4u s = x + carry;
        carry += SHUF2(x, x, 3, 3, 3, 3);
        s += magic;
        v4d d;
        memcpy(&d, &s, sizeof d);
        d -= mdbl;
        if (e)
            for (int l = 0; l < 4; l++)
                d[l] = dec_div(d[l], e);
        memcpy(out + i, &d, sizeof d);
    }
    m = carry[0];
    const u64a *x = (const u64a *)out;
    for (; i < c; i++) {
        m += base + x[i];
        out[i] = dec_div((double)(int64_t)m, e);
    }
}

#ifdef CODEC_X86_PATHS
#include <immintrin.h>
/* pass_b1_fast for e > 0 with AVX2 and FMA: the same operations. */
__attribute__((target("avx2,fma")))
static void pass_b1_fma(double *out, size_t c, uint64_t m, uint64_t base, unsigned e)
{
    const __m256i zero = _mm256_setzero_si256(), vb = _mm256_set1_epi64x((long long)base);
    const __m256i magic = _mm256_set1_epi64x((long long)MAGIC_BITS);
    const __m256d mdbl = _mm256_set1_pd(MAGIC_DBL), y = _mm256_set1_pd(codec_p10r[e]),
                  p = _mm256_set1_pd(codec_p10d[e]);
    __m256i carry = _mm256_set1_epi64x((long long)m);
    size_t i = 0;
    for (; i + 4 <= c; i += 4) {
        __m256i x = _mm256_add_epi64(_mm256_loadu_si256((const __m256i *)(const void *)(out + i)), vb);
        x = _mm256_add_epi64(x, _mm256_blend_epi32(_mm256_permute4x64_epi64(x, 0x90), zero, 0x03));
        x = _mm256_add_epi64(x, _mm256_blend_epi32(_mm256_permute4x64_epi64(x, 0x40), zero, 0x0f));
        __m256i s = _mm256_add_epi64(x, carry);
        carry = _mm256_add_epi64(carry, _mm256_permute4x64_epi64(x, 0xff));
        __m256d d = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_add_epi64(s, magic)), mdbl);
        __m256d q = _mm256_mul_pd(d, y);
        q = _mm256_fmadd_pd(_mm256_fnmadd_pd(q, p, d), y, q);
        _mm256_storeu_pd(out + i, q);
    }
    m = (uint64_t)_mm256_extract_epi64(carry, 0);
    const u64a *x = (const u64a *)out;
    for (; i < c; i++) {
        m += base + x[i];
        out[i] = dec_div((double)(int64_t)m, e);
    }
}
#endif

/* Pass B for any order and range: scalar, with the plain conversion. */
static void pass_b_any(unsigned o, double *out, size_t c, uint64_t m, uint64_t d, uint64_t base, unsigned e)
{
    const u64a *x = (const u64a *)out;
    for (size_t i = 0; i < c; i++) {
        uint64_t r = base + x[i];
        if (o == 2) {
            d += r;
            m += d;
        } else {
            m += r;
        }
        out[i] = dec_div((double)(int64_t)m, e);
    }
}

/* Whether every running sum of pass B stays in (-2^51, 2^51), from bounds
 * alone: residuals lie in [base, base + g*maxq] (as int64, when that does
 * not wrap) or are 0. */
static int sums_small(unsigned o, uint64_t m, uint64_t d, const forp *f, size_t c)
{
    const __int128 lim = (__int128)1 << 51;
    uint64_t maxq = f->G ? f->R - 1 : low_mask(f->w);
    __int128 lo = (int64_t)f->base, hi = lo + (__int128)f->g * maxq;
    if (hi > INT64_MAX)
        return 0;
    __int128 amax = MAX(lo < 0 ? -lo : lo, hi < 0 ? -hi : hi);
    if (amax >= lim)
        return 0;
    __int128 am = (int64_t)m, ad = (int64_t)d;
    am = am < 0 ? -am : am;
    ad = ad < 0 ? -ad : ad;
    if (o == 2) {
        /* |d_i| <= |d| + i*amax < 2^51 * 2^33 for c < 2^32 */
        if (c >= (1ull << 32))
            return 0;
        amax = ad + (__int128)c * amax;
        if (amax >= ((__int128)1 << 90))
            return 0;
    }
    return am + (__int128)c * amax < lim;
}

static inline double conv(int64_t m, unsigned e) { return dec_div((double)m, e); }

static inline size_t popcount64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (size_t)((x * 0x0101010101010101ull) >> 56);
}

static inline uint64_t load_partial(const uint8_t *p, size_t avail)
{
    uint64_t x = 0;
    memcpy(&x, p, avail < 8 ? avail : 8);
    return x;
}

#ifdef CODEC_X86_PATHS
#include <immintrin.h>
#define HAVE_BX_AVX2 1
/* For each 4 bits of the bitmap (nibble n): the vpermd indices that move
 * the next popcount(n) values to the set lanes, the mask that clears the
 * other lanes, and popcount(n). */
static const int32_t bx_idx[16][8] = {{0,0,0,0,0,0,0,0}, {0,1,0,0,0,0,0,0}, {0,0,0,1,0,0,0,0}, {0,1,2,3,0,0,0,0}, {0,0,0,0,0,1,0,0}, {0,1,0,0,2,3,0,0}, {0,0,0,1,2,3,0,0}, {0,1,2,3,4,5,0,0}, {0,0,0,0,0,0,0,1}, {0,1,0,0,0,0,2,3}, {0,0,0,1,0,0,2,3}, {0,1,2,3,0,0,4,5}, {0,0,0,0,0,1,2,3}, {0,1,0,0,2,3,4,5}, {0,0,0,1,2,3,4,5}, {0,1,2,3,4,5,6,7}};
static const uint64_t bx_mask[16][4] = {{0,0,0,0}, {~0ull,0,0,0}, {0,~0ull,0,0}, {~0ull,~0ull,0,0}, {0,0,~0ull,0}, {~0ull,0,~0ull,0}, {0,~0ull,~0ull,0}, {~0ull,~0ull,~0ull,0}, {0,0,0,~0ull}, {~0ull,0,0,~0ull}, {0,~0ull,0,~0ull}, {~0ull,~0ull,0,~0ull}, {0,0,~0ull,~0ull}, {~0ull,0,~0ull,~0ull}, {0,~0ull,~0ull,~0ull}, {~0ull,~0ull,~0ull,~0ull}};
static const uint8_t bx_pc[16] = {0,1,1,2,1,2,2,3,1,2,2,3,2,3,3,4};

/* bitmap_expand (below) four positions at a time with AVX2: loads the next
 * four values, permutes them into the set lanes, clears the others. Writes
 * whole words: up to 63 entries past x + c (the caller's padding; the bits
 * there are 0), and reads up to 3 past the values' end. Unread values sit
 * at or after the positions being written, so in place is safe. */
__attribute__((target("avx2")))
static void bitmap_expand_avx2(u64a *x, const u64a *v, const uint8_t *bm, size_t bm_len, size_t c, uint64_t b)
{
    const __m256i vb = _mm256_set1_epi64x((long long)b);
    size_t j = 0;
    for (size_t wd = 0; wd * 64 < c; wd++) {
        size_t byte = wd * 8, left = bm_len - byte;
        uint64_t bits = 0;
        memcpy(&bits, bm + byte, left < 8 ? left : 8);
        u64a *seg = x + wd * 64;
        for (unsigned q = 0; q < 16; q++, bits >>= 4) {
            unsigned nib = (unsigned)(bits & 15);
            __m256i val = _mm256_loadu_si256((const __m256i *)(const void *)(v + j));
            __m256i idx = _mm256_loadu_si256((const __m256i *)(const void *)bx_idx[nib]);
            __m256i msk = _mm256_loadu_si256((const __m256i *)(const void *)bx_mask[nib]);
            val = _mm256_add_epi64(_mm256_permutevar8x32_epi32(val, idx), vb);
            _mm256_storeu_si256((__m256i *)(void *)(seg + 4 * q), _mm256_and_si256(val, msk));
            j += bx_pc[nib];
        }
    }
}
#endif

/* Sparse bitmap: moves the values v[j] (the tail of x) to their positions
 * in x[0..c), adding b, with zeros elsewhere; 64 positions (one bitmap
 * word) at a time. Whole words are copied and cleared at a fixed size
 * (reading up to 63 entries past x + c, inside the caller's padding)
 * rather than with variable-length loops, which compile to slow string
 * instructions. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-tree-loop-distribute-patterns")))
#endif
static void bitmap_expand(u64a *x, const u64a *v, const uint8_t *bm, size_t bm_len, size_t c, uint64_t b)
{
    size_t j = 0;
    uint64_t tmp[64];
    for (size_t wd = 0; wd * 64 < c; wd++) {
        size_t byte = wd * 8;
        uint64_t bits = load_partial(bm + byte, bm_len - byte);
        u64a *seg = x + wd * 64;
        if (bits == ~0ull) {
            /* seg <= v + j: a forward copy reads each value first */
            for (size_t t = 0; t < 64; t++)
                seg[t] = v[j + t] + b;
            j += 64;
            continue;
        }
        size_t pc = popcount64(bits);
        for (size_t t = 0; t < 64; t++)
            tmp[t] = v[j + t];
        j += pc;
        if (wd * 64 + 64 <= c) {
            for (size_t t = 0; t < 64; t++)
                seg[t] = 0;
        } else {
            for (size_t t = 0; t < c - wd * 64; t++)
                seg[t] = 0;
        }
        for (size_t t = 0; bits; t++, bits &= bits - 1)
            seg[__builtin_ctzll(bits)] = tmp[t] + b;
    }
}

int codec_intseq_decode_dbl(const uint8_t *src, size_t len, size_t n, unsigned e, double *out, size_t *used)
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
    if (!(r = base_uvarint_get(p, end, &z)))
        return STRATA_ERR_CORRUPT;
    p += r;
    uint64_t m = (uint64_t)zigzag_dec(z), d = 0;
    out[0] = conv((int64_t)m, e);
    if (o == 2 && n >= 2) {
        if (!(r = base_uvarint_get(p, end, &z)))
            return STRATA_ERR_CORRUPT;
        p += r;
        d = (uint64_t)zigzag_dec(z);
        m += d;
        out[1] = conv((int64_t)m, e);
    }
    size_t c = n > o ? n - o : 0;
    double *dst = out + (n - c);
    u64a *x = (u64a *)dst;
    forp f;
    uint64_t base = 0; /* added in pass B (FOR); sparse forms add it when scattering */
    if (form == FORM_FOR) {
        if (get_for(&p, end, c, &f))
            return STRATA_ERR_CORRUPT;
        if (!f.w && !f.base && (o == 1 || !d)) {
            /* every residual 0: a constant (the most common block) */
            codec_fill_dbl(dst, c, conv((int64_t)m, e));
            *used = (size_t)(p - src);
            return STRATA_OK;
        }
        if (for_unpack(p, c, &f, x))
            return STRATA_ERR_CORRUPT;
        p += for_data_bytes(&f, c);
        base = f.base;
    } else {
        uint64_t k64;
        if (!(r = base_uvarint_get(p, end, &k64)) || k64 > c)
            return STRATA_ERR_CORRUPT;
        p += r;
        size_t k = (size_t)k64;
        const uint8_t *pos_p = p;
        size_t pos_len;
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
        if (get_for(&p, end, k, &f))
            return STRATA_ERR_CORRUPT;
        /* the k nonzero values go to the tail x[c-k..c); expanding them
         * forward in place is safe because the j-th nonzero position is at
         * most c-k+j, the slot its value is read from */
        u64a *v = x + (c - k);
        if (k && for_unpack(p, k, &f, v))
            return STRATA_ERR_CORRUPT;
        p += for_data_bytes(&f, k);
        const uint64_t b = f.base;
        if (form == FORM_BITMAP) {
#ifdef HAVE_BX_AVX2
            if (codec_have_avx2())
                bitmap_expand_avx2(x, v, pos_p, pos_len, c, b);
            else
#endif
                bitmap_expand(x, v, pos_p, pos_len, c, b);
        } else {
            uint64_t gbuf[CHUNK + 8];
            size_t next = 0; /* first position not yet written */
            for (size_t j0 = 0; j0 < k; j0 += CHUNK) {
                size_t kk = MIN((size_t)CHUNK, k - j0);
                /* chunks start on a byte: CHUNK * gw bits is a multiple of 8 */
                size_t byte = (size_t)(((uint64_t)j0 * gw) >> 3);
                codec_bitpack_unpack(pos_p + byte, pos_len - byte, kk, gw, gbuf);
                for (size_t t = 0; t < kk; t++) {
                    if (gbuf[t] >= c - next)
                        return STRATA_ERR_CORRUPT;
                    size_t at = next + (size_t)gbuf[t];
                    uint64_t val = v[j0 + t] + b;
                    for (size_t q = next; q < at; q++)
                        x[q] = 0;
                    x[at] = val;
                    next = at + 1;
                }
            }
            for (size_t q = next; q < c; q++)
                x[q] = 0;
        }
        /* f's bounds for pass B: residuals are base + g*x or 0 */
    }
    if (o == 1 && sums_small(o, m, d, &f, c)) {
#ifdef CODEC_X86_PATHS
        if (e && codec_have_fma())
            pass_b1_fma(dst, c, m, base, e);
        else
#endif
            pass_b1_fast(dst, c, m, base, e);
    } else {
        pass_b_any(o, dst, c, m, d, base, e);
    }
    *used = (size_t)(p - src);
    return STRATA_OK;
}
