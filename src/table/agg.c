/*
 * agg.c: the derived forms of aggregate columns (writer.c, "Aggregate
 * block"). Most downsampled values are decimals (sums are added exactly
 * in decimal by the rollup), and three columns are close to what the
 * first and last columns already say, so they are stored as exact
 * integer differences from them:
 *
 *   TABLE_XF_SUM  sum:  R = 2 S - count (F + L)   (0 for a counter that
 *                                                 grows evenly)
 *   TABLE_XF_MIN  min:  R = min(F, L) - MIN        (>= 0, often 0)
 *   TABLE_XF_MAX  max:  R = MAX - max(F, L)        (>= 0, often 0)
 *   TABLE_XF_FIRST first: R = F - L of the row before (the row's own L
 *                 for the first row): two samples one scrape apart, where
 *                 the first column alone changes by a whole interval
 *
 * where S, F, L, MIN, MAX are the values' decimal mantissas at one
 * exponent e for the whole block (value = m / 10^e, as CODEC_VAL_DEC
 * reads it). Bytes after the column's codec byte (TABLE_AGG_XFORM | kind)
 * and length:
 *   u8 e        0..9
 *   u8 codec    value codec id of the residuals, then its encoding of R
 *               as doubles (each a whole number below 2^53)
 * A column takes this form only when every row converts exactly and the
 * decoder's computation gives back each value bit for bit (checked here
 * when encoding), and only when it is smaller than the plain encoding.
 */
#include <math.h>

#include "codec/codec.h"
#include "table.h"
#include "table_format.h"
#include "table_int.h"

#define XF_MAX_E 9u
#define XF_LIMIT (INT64_C(1) << 53)

static uint64_t pow10_u(unsigned k)
{
    uint64_t p = 1;
    while (k--)
        p *= 10;
    return p;
}

/* 10^e, exact doubles for e <= 22 (XF_MAX_E is 9). */
static const double p10[XF_MAX_E + 1] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};

/* What the decoder computes, the only arithmetic of these forms: the
 * mantissa of a decoded value at e by one rounding (the encoder checks
 * that it is the exact one) and a value from its mantissa by one correctly
 * rounded division (the encoder checks it gives back the stored bits). */
static int mant_fast(double v, unsigned e, int64_t *m)
{
    double x = v * p10[e];
    if (!(x > -4.0e18 && x < 4.0e18))
        return 0;
    *m = (int64_t)(x >= 0 ? x + 0.5 : x - 0.5);
    return 1;
}

static double dec_val(int64_t m, unsigned e) { return (double)m / p10[e]; }

/* v's decimal mantissa at exponent e (v = m / 10^e exactly), 0 when none;
 * the encoder's exact parse, also requiring mant_fast to agree. */
static int mant_at(double v, unsigned e, int64_t *m)
{
    unsigned e0;
    int64_t m0, mf;
    if (!codec_dec_mant(v, e, m)) {
        if (!codec_dec_parse(v, e, &e0, &m0) || __builtin_mul_overflow(m0, (int64_t)pow10_u(e - e0), m))
            return 0;
    }
    return mant_fast(v, e, &mf) && mf == *m;
}

/* R of row i from the mantissas, or 0 when it overflows (for
 * TABLE_XF_FIRST, l is the previous row's last). */
static int residual(unsigned kind, int64_t x, int64_t c, int64_t f, int64_t l, int64_t *r)
{
    int64_t a, b;
    switch (kind) {
    case TABLE_XF_FIRST:
        return !__builtin_sub_overflow(x, l, r);
    case TABLE_XF_SUM:
        return !__builtin_mul_overflow(x, 2, &a) && !__builtin_add_overflow(f, l, &b) &&
               !__builtin_mul_overflow(b, c, &b) && !__builtin_sub_overflow(a, b, r);
    case TABLE_XF_MIN:
        return !__builtin_sub_overflow(f < l ? f : l, x, r);
    default:
        return !__builtin_sub_overflow(x, f > l ? f : l, r);
    }
}

/* The value's mantissa back from R; 0 when it cannot be one. */
static int unresidual(unsigned kind, int64_t r, int64_t c, int64_t f, int64_t l, int64_t *x)
{
    int64_t b;
    switch (kind) {
    case TABLE_XF_FIRST:
        return !__builtin_add_overflow(r, l, x);
    case TABLE_XF_SUM:
        if (__builtin_add_overflow(f, l, &b) || __builtin_mul_overflow(b, c, &b) || __builtin_add_overflow(r, b, &b) ||
            b % 2 != 0)
            return 0;
        *x = b / 2;
        return 1;
    case TABLE_XF_MIN:
        return !__builtin_sub_overflow(f < l ? f : l, r, x);
    default:
        return !__builtin_add_overflow(r, f > l ? f : l, x);
    }
}

int table_agg_xform_encode(unsigned kind, const double *x, const double *count, const double *first,
                           const double *last, size_t n, double *scratch, bbuf *out)
{
    unsigned e = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned ei;
        int64_t m;
        const double v[3] = {x[i], first[i], last[i]};
        for (int k = 0; k < 3; k++) {
            if (!codec_dec_parse(v[k], XF_MAX_E, &ei, &m))
                return STRATA_ERR_INVALID;
            e = ei > e ? ei : e;
        }
        if (!(count[i] >= 1 && count[i] < 1e15))
            return STRATA_ERR_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t mx, mf, ml, r, back;
        const double *lp = kind == TABLE_XF_FIRST && i ? &last[i - 1] : &last[i];
        if (!mant_at(x[i], e, &mx) || !mant_at(first[i], e, &mf) || !mant_at(*lp, e, &ml) ||
            !residual(kind, mx, (int64_t)count[i], mf, ml, &r) || r <= -XF_LIMIT || r >= XF_LIMIT ||
            !unresidual(kind, r, (int64_t)count[i], mf, ml, &back) || back <= -XF_LIMIT || back >= XF_LIMIT)
            return STRATA_ERR_INVALID;
        double got = dec_val(back, e);
        if (memcmp(&got, &x[i], sizeof got) != 0)
            return STRATA_ERR_INVALID;
        scratch[i] = (double)r;
    }
    size_t start = out->len;
    uint8_t id = 0;
    int rc = base_buf_put_u8(out, (uint8_t)e);
    if (!rc)
        rc = base_buf_put_u8(out, 0);
    if (!rc)
        rc = codec_val_encode(scratch, n, out, &id);
    if (rc || id == 0 || id > TABLE_CODEC_ID_MAX) {
        out->len = start;
        return rc ? rc : STRATA_ERR_LIMIT;
    }
    out->data[start + 1] = id;
    return STRATA_OK;
}

int table_agg_xform_decode(unsigned kind, const uint8_t *p, size_t len, size_t n, const strata_agg *rows,
                           double *out)
{
    if (len < 2 || p[0] > XF_MAX_E || kind > TABLE_XF_FIRST)
        return STRATA_ERR_CORRUPT;
    unsigned e = p[0];
    if (codec_val_decode(p[1], p + 2, len - 2, n, out) != STRATA_OK)
        return STRATA_ERR_CORRUPT;
    for (size_t i = 0; i < n; i++) {
        int64_t mf = 0, ml, x;
        double r = out[i];
        bool fx = kind == TABLE_XF_FIRST;
        double lv = fx && i ? rows[i - 1].last : rows[i].last;
        if (!(r > -(double)XF_LIMIT && r < (double)XF_LIMIT) || r != floor(r) ||
            (!fx && (!(rows[i].count >= 1) || !(rows[i].count < 1e15) || !mant_fast(rows[i].first, e, &mf))) ||
            !mant_fast(lv, e, &ml) ||
            !unresidual(kind, (int64_t)r, fx ? 0 : (int64_t)rows[i].count, fx ? 0 : mf, ml, &x) || x <= -XF_LIMIT ||
            x >= XF_LIMIT)
            return STRATA_ERR_CORRUPT;
        out[i] = dec_val(x, e);
    }
    return STRATA_OK;
}

/* TABLE_XF_RESETS: the sum of the values a drop followed is about a
 * number of them times the level, so it is stored as that number k (a
 * small integer) and the rest R = RESETS - k F, exactly in decimal, where
 * F is the row's first value: for a gauge far from zero R is the spread
 * around the level where RESETS carries the level's digits k times.
 *   u8 e, u8 k codec, uv k_len, k_len bytes (k as doubles), u8 R codec,
 *   R's encoding */
int table_agg_resets_encode(const double *x, const double *first, size_t n, double *ks, double *rs, bbuf *out)
{
    unsigned e = 0, ei;
    int64_t m;
    for (size_t i = 0; i < n; i++) {
        if (!codec_dec_parse(x[i], XF_MAX_E, &ei, &m))
            return STRATA_ERR_INVALID;
        e = ei > e ? ei : e;
        if (!codec_dec_parse(first[i], XF_MAX_E, &ei, &m))
            return STRATA_ERR_INVALID;
        e = ei > e ? ei : e;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t mx, mf, r, kf, back;
        double q = first[i] != 0 ? round(x[i] / first[i]) : 0;
        int64_t k = q >= 0 && q <= 1e6 ? (int64_t)q : 0;
        if (!mant_at(x[i], e, &mx) || !mant_at(first[i], e, &mf) || __builtin_mul_overflow(k, mf, &kf) ||
            __builtin_sub_overflow(mx, kf, &r) || r <= -XF_LIMIT || r >= XF_LIMIT ||
            __builtin_add_overflow(r, kf, &back) || back <= -XF_LIMIT || back >= XF_LIMIT)
            return STRATA_ERR_INVALID;
        double got = dec_val(back, e);
        if (memcmp(&got, &x[i], sizeof got) != 0)
            return STRATA_ERR_INVALID;
        ks[i] = (double)k;
        rs[i] = (double)r;
    }
    size_t start = out->len;
    bbuf kb = {0};
    uint8_t kid = 0, rid = 0, hdr[16];
    int rc = codec_val_encode(ks, n, &kb, &kid);
    size_t h = 0;
    hdr[h++] = (uint8_t)e;
    hdr[h++] = kid;
    h += base_uvarint_put(hdr + h, kb.len);
    if (!rc)
        rc = base_buf_append(out, hdr, h);
    if (!rc)
        rc = base_buf_append(out, kb.data, kb.len);
    size_t rid_at = out->len;
    if (!rc)
        rc = base_buf_put_u8(out, 0);
    if (!rc)
        rc = codec_val_encode(rs, n, out, &rid);
    base_buf_free(&kb);
    if (rc || kid == 0 || kid > TABLE_CODEC_ID_MAX || rid == 0 || rid > TABLE_CODEC_ID_MAX) {
        out->len = start;
        return rc ? rc : STRATA_ERR_LIMIT;
    }
    out->data[rid_at] = rid;
    return STRATA_OK;
}

int table_agg_resets_decode(const uint8_t *p, size_t len, size_t n, strata_agg *rows, double *out)
{
    const uint8_t *e_ = p + len;
    uint64_t klen;
    size_t k;
    if (len < 3 || p[0] > XF_MAX_E || !(k = base_uvarint_get(p + 2, e_, &klen)) || klen > (uint64_t)(e_ - (p + 2 + k)))
        return STRATA_ERR_CORRUPT;
    unsigned e = p[0];
    const uint8_t *kp = p + 2 + k, *rp = kp + klen;
    if (rp >= e_ || codec_val_decode(p[1], kp, (size_t)klen, n, out) != STRATA_OK)
        return STRATA_ERR_CORRUPT;
    for (size_t i = 0; i < n; i++)
        rows[i].resets = out[i]; /* k, until the column is decoded */
    if (codec_val_decode(rp[0], rp + 1, (size_t)(e_ - rp - 1), n, out) != STRATA_OK)
        return STRATA_ERR_CORRUPT;
    for (size_t i = 0; i < n; i++) {
        int64_t mf, kf, x;
        double r = out[i], q = rows[i].resets;
        if (!(r > -(double)XF_LIMIT && r < (double)XF_LIMIT) || r != floor(r) || !(q >= 0 && q <= 1e6) ||
            q != floor(q) || !mant_fast(rows[i].first, e, &mf) || __builtin_mul_overflow((int64_t)q, mf, &kf) ||
            __builtin_add_overflow((int64_t)r, kf, &x) || x <= -XF_LIMIT || x >= XF_LIMIT)
            return STRATA_ERR_CORRUPT;
        out[i] = dec_val(x, e);
    }
    return STRATA_OK;
}
