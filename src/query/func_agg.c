/*
 * func_agg.c: range functions over downsampled data. The engine returns a
 * series that has aggregate rows in the range as rows (strata_agg: one
 * per interval (end - res, end], raw samples as rows of one sample), and
 * these kernels answer from them what the functions would answer from the
 * samples the rows stand for:
 *
 *   count_over_time, sum_over_time, avg_over_time, min_over_time,
 *   max_over_time, last_over_time, first_over_time, present_over_time:
 *       exact when the window holds whole intervals (its ends are
 *       multiples of the resolution); sums add in another order than
 *       Prometheus' Kahan loop, so the last bits may differ;
 *   rate, increase, delta: extrapolatedRate over the first sample of the
 *       first row and the last of the last, the sum of the counts and the
 *       resets inside and between the rows: exact for whole intervals.
 *
 * A window whose ends cut intervals holds a row when its last sample is
 * in the window, so it may see up to one interval more or less than the
 * raw data at each end (the boundary effect README states).
 */
#include <math.h>

#include "base/base.h"
#include "eval_int.h"

bool query_range_rows_ok(qrange_fn fn)
{
    switch (fn) {
    case QRF_RATE:
    case QRF_INCREASE:
    case QRF_DELTA:
    case QRF_AVG:
    case QRF_MIN:
    case QRF_MAX:
    case QRF_SUM:
    case QRF_COUNT:
    case QRF_LAST:
    case QRF_FIRST:
    case QRF_PRESENT:
        return true;
    default:
        return false;
    }
}

unsigned query_range_rows_fields(qrange_fn fn)
{
    switch (fn) {
    case QRF_RATE:
    case QRF_INCREASE:
    case QRF_DELTA:
        return STRATA_AGG_COUNT | STRATA_AGG_FIRST | STRATA_AGG_LAST | STRATA_AGG_RESETS | STRATA_AGG_T_FIRST;
    case QRF_COUNT: return STRATA_AGG_COUNT;
    case QRF_SUM: return STRATA_AGG_SUM;
    case QRF_AVG: return STRATA_AGG_SUM | STRATA_AGG_COUNT;
    case QRF_MIN: return STRATA_AGG_MIN;
    case QRF_MAX: return STRATA_AGG_MAX;
    case QRF_LAST: return STRATA_AGG_LAST;
    case QRF_FIRST: return STRATA_AGG_FIRST | STRATA_AGG_T_FIRST;
    default: return STRATA_AGG_COUNT; /* present_over_time: any one */
    }
}

static double rows_rate(const strata_agg *r, size_t lo, size_t hi, int64_t we, int64_t range_ms, bool counter,
                        bool is_rate, bool *ok)
{
    double cnt = 0;
    for (size_t k = lo; k < hi; k++)
        cnt += r[k].count;
    if (cnt < 2) {
        *ok = false;
        return 0;
    }
    double result = r[hi - 1].last - r[lo].first;
    if (counter)
        for (size_t k = lo; k < hi; k++) {
            if (k > lo && r[k].first < r[k - 1].last)
                result += r[k - 1].last;
            result += r[k].resets;
        }
    return query_extrapolate(result, r[lo].t_first, r[hi - 1].t_last, r[lo].first, cnt, we, range_ms, counter,
                             is_rate, ok);
}

int query_range_rows(qrange_fn fn, const strata_agg *r, size_t n, const int64_t *wend, int64_t range_ms,
                     size_t n_steps, double *ov, uint64_t *has)
{
    size_t lo = 0, hi = 0;
    for (size_t i = 0; i < n_steps; i++) {
        int64_t we = wend[i], ws = we - range_ms;
        if (i && we < wend[i - 1])
            lo = hi = 0;
        while (lo < n && r[lo].t_last <= ws)
            lo++;
        if (hi < lo)
            hi = lo;
        while (hi < n && r[hi].t_last <= we)
            hi++;
        if (hi == lo)
            continue;
        double x = 0;
        bool ok = true;
        switch (fn) {
        case QRF_RATE:
        case QRF_INCREASE:
        case QRF_DELTA:
            x = rows_rate(r, lo, hi, we, range_ms, fn != QRF_DELTA, fn == QRF_RATE, &ok);
            break;
        case QRF_COUNT:
        case QRF_SUM:
        case QRF_AVG: {
            double s = 0, c = 0, cnt = 0;
            for (size_t k = lo; k < hi; k++) {
                s = query_kahan_inc(r[k].sum, s, &c);
                cnt += r[k].count;
            }
            s = isinf(s) ? s : s + c;
            x = fn == QRF_COUNT ? cnt : fn == QRF_SUM ? s : s / cnt;
            break;
        }
        case QRF_MIN:
        case QRF_MAX: {
            x = fn == QRF_MAX ? r[lo].max : r[lo].min;
            for (size_t k = lo + 1; k < hi; k++) {
                double y = fn == QRF_MAX ? r[k].max : r[k].min;
                if ((fn == QRF_MAX ? y > x : y < x) || isnan(x))
                    x = y;
            }
            break;
        }
        case QRF_LAST:
            x = r[hi - 1].last;
            break;
        case QRF_FIRST:
            x = r[lo].first;
            break;
        case QRF_PRESENT:
            x = 1;
            break;
        default:
            return STRATA_ERR_INVALID;
        }
        if (!ok)
            continue;
        ov[i] = x;
        qbit_set(has, i);
    }
    return 0;
}

/* The first row with t_last > x. */
static size_t row_after(const strata_agg *r, size_t n, int64_t x)
{
    size_t a = 0, b = n;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (r[m].t_last <= x)
            a = m + 1;
        else
            b = m;
    }
    return a;
}

int query_range_mixed(qrange_fn fn, const strata_agg *rows, size_t n_rows, const int64_t *t, const double *v,
                      size_t n, const int64_t *wend, int64_t range_ms, size_t n_steps, double *ov, uint64_t *has)
{
    if (!query_range_rows_ok(fn))
        return STRATA_ERR_INVALID;
    size_t *ir = base_malloc((n_steps ? n_steps : 1) * sizeof *ir), *is = base_malloc((n_steps ? n_steps : 1) * sizeof *is);
    int64_t *w = base_malloc((n_steps ? n_steps : 1) * sizeof *w);
    double *o = base_malloc((n_steps ? n_steps : 1) * sizeof *o);
    uint64_t *h = base_calloc(qbit_words(n_steps ? n_steps : 1), sizeof *h);
    strata_agg *m = NULL;
    int rc = ir && is && w && o && h ? STRATA_OK : STRATA_ERR_NOMEM;
    size_t nr = 0, ns = 0;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    size_t at = 0;
    for (size_t i = 0; !rc && i < n_steps; i++) {
        int64_t ws = wend[i] - range_ms;
        /* the first row after the window's start: a step forward from the
         * last one on a grid that moves forward, a search otherwise */
        if (i && wend[i] >= wend[i - 1])
            while (at < n_rows && rows[at].t_last <= ws)
                at++;
        else
            at = row_after(rows, n_rows, ws);
        if (at < n_rows && rows[at].t_last <= wend[i]) {
            ir[nr++] = i;
            lo = ws < lo ? ws : lo;
            hi = wend[i] > hi ? wend[i] : hi;
        } else {
            is[ns++] = i;
        }
    }
    /* windows without rows: the samples' own kernel */
    if (!rc && ns) {
        for (size_t k = 0; k < ns; k++)
            w[k] = wend[is[k]];
        rc = query_range_series(fn, t, v, n, w, range_ms, NULL, ns, NULL, NULL, o, h);
        for (size_t k = 0; !rc && k < ns; k++)
            if (qbit(h, k)) {
                ov[is[k]] = o[k];
                qbit_set(has, is[k]);
            }
    }
    /* windows with rows: rows, and the samples they reach as rows */
    if (!rc && nr) {
        size_t a = 0, b;
        while (a < n && t[a] <= lo)
            a++;
        b = a;
        while (b < n && t[b] <= hi)
            b++;
        const strata_agg *all = rows; /* no sample reaches a window with rows: the rows as they are */
        size_t nm = a == b ? n_rows : 0, i = 0, j = a;
        if (a < b) {
            if (!(m = base_malloc((n_rows + (b - a)) * sizeof *m)))
                rc = STRATA_ERR_NOMEM;
            all = m;
        }
        while (!rc && a < b && (i < n_rows || j < b)) {
            if (j == b || (i < n_rows && rows[i].t_last < t[j]))
                m[nm++] = rows[i++];
            else {
                m[nm++] = (strata_agg){t[j], t[j], 1, v[j], v[j], v[j], v[j], v[j], 0, 0};
                j++;
            }
        }
        memset(h, 0, qbit_words(nr) * sizeof *h);
        for (size_t k = 0; !rc && k < nr; k++)
            w[k] = wend[ir[k]];
        if (!rc)
            rc = query_range_rows(fn, all, nm, w, range_ms, nr, o, h);
        for (size_t k = 0; !rc && k < nr; k++)
            if (qbit(h, k)) {
                ov[ir[k]] = o[k];
                qbit_set(has, ir[k]);
            }
    }
    base_free(ir);
    base_free(is);
    base_free(w);
    base_free(o);
    base_free(h);
    base_free(m);
    return rc;
}
