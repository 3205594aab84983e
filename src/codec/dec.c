/*
 * dec.c: CODEC_VAL_DEC, values that are decimals with few digits or
 * integers (most monitoring data): each v[i] is written as m[i] / 10^e with
 * one exponent e per block and int64 mantissas m, which intseq.c codes as
 * deltas or deltas-of-deltas. (VictoriaMetrics converts to decimals too, but
 * rounds to 12 significant digits; here the conversion must be exact.)
 *
 * Byte format:
 *   u8 e          0..18
 *   intseq        the mantissas m[0..n) (intseq.c)
 *
 * Decoding computes (double)m (e == 0) or the correctly rounded quotient
 * (double)m / 10^e, 10^e the exact double: the same bits on every
 * conforming machine. (It is computed without a division, by dec_div in
 * codec_int.h, which the encoder uses for its check too.) The encoder picks the smallest e
 * for which recomputing every value that way gives back its exact bit
 * pattern; when none does (NaN, infinities, -0.0, values with more digits
 * than an int64 mantissa holds), the codec does not apply and
 * codec_val_encode_as returns STRATA_ERR_INVALID.
 */
#include "codec_int.h"

#define DEC_MAX_E 18
#define STACK_N 2048

/* m with (double)m / 10^e == v bit for bit, or 0 when there is none. */
static inline int mant(double v, unsigned e, int64_t *m)
{
    double x = e ? v * codec_p10d[e] : v;
    /* excludes NaN; the bounds are -2^63 and 2^63 */
    if (!(x >= -9223372036854775808.0 && x < 9223372036854775808.0))
        return 0;
    int64_t mi;
    if (e == 0) {
        mi = (int64_t)x;
        if (dbl_bits((double)mi) != dbl_bits(v))
            return 0;
    } else {
        double r = x >= 0 ? x + 0.5 : x - 0.5;
        if (!(r >= -9223372036854775808.0 && r < 9223372036854775808.0))
            return 0;
        mi = (int64_t)r;
        if (dbl_bits(dec_div((double)mi, e)) != dbl_bits(v))
            return 0;
    }
    *m = mi;
    return 1;
}

/* The fast path of mant() for whole groups of four from i on, while every
 * mantissa lies in (-2^51, 2^51): the nearest integer to v * 10^e by the
 * 1.5 * 2^52 addition, verified by the decoder's own computation. Returns
 * the index of the first group it could not verify (scalar code takes that
 * value). A candidate that passes is the one mant() finds: below 2^51 two
 * integers never divide by 10^e to the same double. */
typedef double v4d __attribute__((vector_size(32)));
typedef int64_t v4i __attribute__((vector_size(32)));
#define MAGIC_BITS 0x4338000000000000ll
#define MAGIC_DBL 6755399441055744.0 /* 1.5 * 2^52 */

CODEC_CLONES
static size_t mant_run(const double *v, size_t i, size_t n, unsigned e, int64_t *m)
{
    const v4d p = {codec_p10d[e], codec_p10d[e], codec_p10d[e], codec_p10d[e]};
    const v4d lim = {2251799813685248.0, 2251799813685248.0, 2251799813685248.0, 2251799813685248.0};
    const v4d magic = {MAGIC_DBL, MAGIC_DBL, MAGIC_DBL, MAGIC_DBL};
    const v4i mbits = {MAGIC_BITS, MAGIC_BITS, MAGIC_BITS, MAGIC_BITS};
    for (; i + 4 <= n; i += 4) {
        v4d x, t, y;
        memcpy(&x, v + i, sizeof x);
        v4i vb, tb, yb;
        memcpy(&vb, &x, sizeof vb);
        if (e)
            x *= p;
        v4i ok = (x < lim) & (x > -lim); /* false for NaN */
        t = x + magic;
        y = t - magic;
        if (e)
            for (int l = 0; l < 4; l++)
                y[l] = dec_div(y[l], e);
        memcpy(&tb, &t, sizeof tb);
        memcpy(&yb, &y, sizeof yb);
        ok &= yb == vb;
        if (!(ok[0] & ok[1] & ok[2] & ok[3]))
            break;
        v4i mi = tb - mbits;
        memcpy(m + i, &mi, sizeof mi);
    }
    return i;
}

#ifdef CODEC_X86_PATHS
#include <immintrin.h>
/* mant_run for e > 0 with AVX2 and FMA (the generic one calls fma() lane
 * by lane): the same candidates and the same check. */
__attribute__((target("avx2,fma")))
static size_t mant_run_fma(const double *v, size_t i, size_t n, unsigned e, int64_t *m)
{
    const __m256d p = _mm256_set1_pd(codec_p10d[e]), y = _mm256_set1_pd(codec_p10r[e]);
    const __m256d lim = _mm256_set1_pd(2251799813685248.0), nlim = _mm256_set1_pd(-2251799813685248.0);
    const __m256d magic = _mm256_set1_pd(MAGIC_DBL);
    const __m256i mbits = _mm256_set1_epi64x(MAGIC_BITS);
    for (; i + 4 <= n; i += 4) {
        __m256d v4 = _mm256_loadu_pd(v + i), x = _mm256_mul_pd(v4, p);
        __m256d ok = _mm256_and_pd(_mm256_cmp_pd(x, lim, _CMP_LT_OQ), _mm256_cmp_pd(x, nlim, _CMP_GT_OQ));
        __m256d t = _mm256_add_pd(x, magic), b = _mm256_sub_pd(t, magic);
        __m256d q = _mm256_mul_pd(b, y);
        q = _mm256_fmadd_pd(_mm256_fnmadd_pd(q, p, b), y, q);
        __m256i same = _mm256_cmpeq_epi64(_mm256_castpd_si256(q), _mm256_castpd_si256(v4));
        if (_mm256_movemask_pd(_mm256_and_pd(ok, _mm256_castsi256_pd(same))) != 15)
            break;
        _mm256_storeu_si256((__m256i *)(void *)(m + i), _mm256_sub_epi64(_mm256_castpd_si256(t), mbits));
    }
    return i;
}
#endif

int codec_dec_encode(const double *v, size_t n, bbuf *out)
{
    int rc;
    int64_t stackm[STACK_N], *m = stackm;
    if (n == 0)
        return STRATA_OK;
    if (n > STACK_N && !(m = base_malloc(n * sizeof *m)))
        return STRATA_ERR_NOMEM;
    unsigned e = 0;
again:
    for (size_t i = 0; i < n; i++) {
#ifdef CODEC_X86_PATHS
        if (e && codec_have_fma())
            i = mant_run_fma(v, i, n, e, m);
        else
#endif
            i = mant_run(v, i, n, e, m);
        if (i == n)
            break;
        if (LIKELY(mant(v[i], e, &m[i])))
            continue;
        unsigned e0 = e;
        do
            e++;
        while (e <= DEC_MAX_E && !mant(v[i], e, &m[i]));
        if (e > DEC_MAX_E) {
            rc = STRATA_ERR_INVALID;
            goto out;
        }
        if (i > 0 && e != e0)
            goto again; /* earlier values must be redone at the new exponent */
    }
    size_t start = out->len;
    if ((rc = base_buf_put_u8(out, (uint8_t)e)))
        goto out;
    if ((rc = codec_intseq_encode(m, n, out)))
        out->len = start;
out:
    if (m != stackm)
        base_free(m);
    return rc;
}

int codec_dec_decode(const uint8_t *src, size_t len, size_t n, double *v)
{
    if (n == 0)
        return len ? STRATA_ERR_CORRUPT : STRATA_OK;
    if (len < 1 || src[0] > DEC_MAX_E)
        return STRATA_ERR_CORRUPT;
    size_t used;
    int rc = codec_intseq_decode_dbl(src + 1, len - 1, n, src[0], v, &used);
    if (rc)
        return rc;
    return used == len - 1 ? STRATA_OK : STRATA_ERR_CORRUPT;
}

int codec_dec_parse(double v, unsigned max_e, unsigned *e, int64_t *m)
{
    if (max_e > DEC_MAX_E)
        max_e = DEC_MAX_E;
    for (unsigned k = 0; k <= max_e; k++)
        if (mant(v, k, m)) {
            *e = k;
            return 1;
        }
    return 0;
}

double codec_dec_value(int64_t m, unsigned e) { return dec_div((double)m, e); }

int codec_dec_add(double a, double b, double *out)
{
    unsigned ea, eb;
    int64_t ma, mb, s;
    if (!codec_dec_parse(a, 9, &ea, &ma) || !codec_dec_parse(b, 9, &eb, &mb))
        return 0;
    unsigned e = ea > eb ? ea : eb;
    if (__builtin_mul_overflow(ma, (int64_t)codec_p10u[e - ea], &ma) ||
        __builtin_mul_overflow(mb, (int64_t)codec_p10u[e - eb], &mb) || __builtin_add_overflow(ma, mb, &s) ||
        s <= -(INT64_C(1) << 53) || s >= (INT64_C(1) << 53))
        return 0;
    *out = dec_div((double)s, e);
    return 1;
}

int codec_dec_mant(double v, unsigned e, int64_t *m) { return e <= DEC_MAX_E && mant(v, e, m); }
