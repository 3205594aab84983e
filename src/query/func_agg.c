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
