/*
 * rollup.c: the aggregate rows of downsampling (strata_agg): raw samples
 * and finer rows rolled up into one row per interval (end - res, end],
 * end a multiple of res. The intervals are closed on the right as
 * Prometheus 3's windows (t - range, t] are, so a window whose ends are
 * multiples of res holds whole intervals and the aggregates answer it
 * exactly.
 *
 * Combining a row a with a later row b (a's samples all before b's):
 *   count, sum     added: exactly in decimal when the values are decimals
 *                  (codec_dec_add: the sum is then the decimal rounded
 *                  once, and stays cheap to store), else with Kahan's
 *                  compensation as sum_over_time does
 *   min, max       the extreme of the non-NaN values; NaN when both are
 *                  (min_over_time and max_over_time's rule, which composes)
 *   first, last    a's first, b's last, with their times
 *   resets         a's + b's + a.last when b.first < a.last: exactly what
 *                  rate and increase add back for the resets of a and b's
 *                  samples taken together.
 * Rows from different sources covering one interval (a late write into
 * downsampled data) are combined in the order of their first samples;
 * when their samples interleave, the drops between them are not known and
 * add no reset (documented in README); count, sum, min, max, first and
 * last stay exact (a late sample at a time the row already holds counts
 * as one more sample).
 */
#include <math.h>

#include "codec/codec.h"
#include "compaction.h"

/* a + b, exactly in decimal when both are decimals (codec_dec_add). */
static double add(double a, double b)
{
    double s;
    return codec_dec_add(a, b, &s) ? s : a + b;
}

int64_t cpt_interval_end(int64_t t, int64_t res_ms)
{
    int64_t q = t / res_ms;
    if (t % res_ms > 0)
        q++;
    return q * res_ms;
}

void cpt_agg_combine(strata_agg *a, const strata_agg *b)
{
    a->count += b->count;
    a->res_ms = MAX(a->res_ms, b->res_ms);
    a->sum = add(a->sum, b->sum);
    if (b->min < a->min || isnan(a->min))
        a->min = b->min;
    if (b->max > a->max || isnan(a->max))
        a->max = b->max;
    a->resets = add(a->resets, b->resets);
    /* a drop between a's last and b's first is a reset only when b comes
     * after a: a late sample inside a's span has no known predecessor,
     * and adds none (counting a.last would add a whole counter value) */
    if (b->t_first > a->t_last && b->first < a->last)
        a->resets = add(a->resets, a->last);
    if (b->t_first < a->t_first) { /* interleaved sources: keep the true ends */
        a->first = b->first;
        a->t_first = b->t_first;
    }
    if (b->t_last >= a->t_last) {
        a->last = b->last;
        a->t_last = b->t_last;
    }
}

/* Kahan step as the query layer's (no fused operations). */
static double kahan_inc(double inc, double sum, double *c)
{
    volatile double t = sum + inc;
    if (isinf(t))
        *c = 0;
    else if (fabs(sum) >= fabs(inc))
        *c += (sum - t) + inc;
    else
        *c += (inc - t) + sum;
    return t;
}

static int push(strata_agg **out, size_t *n, size_t *cap, const strata_agg *r)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 256;
        strata_agg *x = base_realloc(*out, nc * sizeof *x);
        if (!x)
            return STRATA_ERR_NOMEM;
        *out = x;
        *cap = nc;
    }
    (*out)[(*n)++] = *r;
    return STRATA_OK;
}

/* The row of the samples [i, j) (one interval). */
static strata_agg row_of(const int64_t *t, const double *v, size_t i, size_t j)
{
    strata_agg r = {t[i], t[i], 1, 0, v[i], v[i], v[i], v[i], 0, 0};
    double s = 0, c = 0, ds = v[i];
    bool dec = true;
    s = kahan_inc(v[i], s, &c);
    for (size_t k = i + 1; k < j; k++) {
        s = kahan_inc(v[k], s, &c);
        dec = dec && codec_dec_add(ds, v[k], &ds);
        if (v[k] < r.min || isnan(r.min))
            r.min = v[k];
        if (v[k] > r.max || isnan(r.max))
            r.max = v[k];
        if (v[k] < v[k - 1])
            r.resets = add(r.resets, v[k - 1]);
        r.count++;
    }
    r.sum = dec ? ds : isinf(s) ? s : s + c;
    r.last = v[j - 1];
    r.t_last = t[j - 1];
    return r;
}

int cpt_rollup(int64_t res_ms, const int64_t *t, const double *v, size_t n, const strata_agg *rows, size_t n_rows,
               strata_agg **out, size_t *n_out, size_t *cap_out)
{
    if (res_ms <= 0)
        return STRATA_ERR_INVALID;
    size_t i = 0, k = 0;
    int rc = STRATA_OK;
    *n_out = 0;
    while (!rc && (i < n || k < n_rows)) {
        int64_t es = i < n ? cpt_interval_end(t[i], res_ms) : INT64_MAX;
        int64_t er = k < n_rows ? cpt_interval_end(rows[k].t_last, res_ms) : INT64_MAX;
        int64_t end = es < er ? es : er;
        /* the pieces of this interval: one row of samples, any rows */
        strata_agg acc;
        bool have = false;
        strata_agg sr;
        bool have_s = false;
        if (es == end) {
            size_t j = i + 1;
            while (j < n && t[j] <= end)
                j++;
            sr = row_of(t, v, i, j);
            have_s = true;
            i = j;
        }
        while (k < n_rows && cpt_interval_end(rows[k].t_last, res_ms) == end) {
            const strata_agg *r = &rows[k++];
            if (have_s && sr.t_first < r->t_first) {
                if (!have)
                    acc = sr, have = true;
                else
                    cpt_agg_combine(&acc, &sr);
                have_s = false;
            }
            if (!have)
                acc = *r, have = true;
            else
                cpt_agg_combine(&acc, r);
        }
        if (have_s) {
            if (!have)
                acc = sr, have = true;
            else
                cpt_agg_combine(&acc, &sr);
        }
        acc.res_ms = res_ms;
        rc = push(out, n_out, cap_out, &acc);
    }
    return rc;
}
