/*
 * func_range.c: the range-vector functions (rate and its family, every
 * *_over_time, changes, resets, deriv, predict_linear, double exponential
 * smoothing) over one series for every step of the grid.
 *
 * Two pointers slide over the series' samples: lo is the first sample
 * after the window start, hi the first after its end; both only move
 * forward as windows move right, so finding every window costs one pass.
 * Each kernel then reads the samples [lo, hi) with the arithmetic of
 * Prometheus' functions.go (Kahan sums, the direct mean that falls back to
 * an incremental one on overflow, extrapolatedRate's thresholds) so
 * answers match Prometheus bit for bit where it is deterministic.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "eval_int.h"

double query_kahan_inc(double inc, double sum, double *c)
{
    volatile double t = sum + inc; /* no fused operations, as Prometheus forbids them */
    if (isinf(t))
        *c = 0;
    else if (fabs(sum) >= fabs(inc))
        *c += (sum - t) + inc;
    else
        *c += (inc - t) + sum;
    return t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    /* Go's sort of vectorByValueHeap: NaN sorts first */
    if (isnan(x))
        return isnan(y) ? 0 : -1;
    if (isnan(y))
        return 1;
    return x < y ? -1 : x > y;
}

double query_quantile(double q, double *v, size_t n)
{
    if (n == 0 || isnan(q))
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    qsort(v, n, sizeof *v, cmp_double);
    double fn = (double)n;
    double rank = q * (fn - 1);
    double lower = fmax(0, floor(rank));
    double upper = fmin(fn - 1, lower + 1);
    double weight = rank - floor(rank);
    return v[(size_t)lower] * (1 - weight) + v[(size_t)upper] * weight;
}

/* resets: resets[i] counts the drops v[j] < v[j-1] for j <= i, so a
 * window without one skips the scan (the scan adds in Prometheus' order,
 * keeping its rounding). */
static double extrapolated_rate(const int64_t *t, const double *v, const uint32_t *resets, size_t lo, size_t hi,
                                int64_t wend, int64_t range_ms, bool counter, bool is_rate, bool *ok)
{
    size_t cnt = hi - lo;
    if (cnt < 2) {
        *ok = false;
        return 0;
    }
    double result = v[hi - 1] - v[lo];
    if (counter && resets[hi - 1] != resets[lo]) {
        for (size_t i = lo + 1; i < hi; i++)
            if (v[i] < v[i - 1])
                result += v[i - 1];
    }
    return query_extrapolate(result, t[lo], t[hi - 1], v[lo], cnt, wend, range_ms, counter, is_rate, ok);
}

double query_extrapolate(double result, int64_t first_t, int64_t last_t, double first_v, double cnt, int64_t wend,
                         int64_t range_ms, bool counter, bool is_rate, bool *ok)
{
    int64_t range_start = wend - range_ms, range_end = wend;
    double to_start = (double)(first_t - range_start) / 1000;
    double to_end = (double)(range_end - last_t) / 1000;
    double sampled = (double)(last_t - first_t) / 1000;
    double avg = sampled / (cnt - 1);
    double threshold = avg * 1.1;
    if (to_start >= threshold)
        to_start = avg / 2;
    if (counter) {
        double to_zero = to_start;
        if (result > 0 && first_v >= 0)
            to_zero = sampled * (first_v / result);
        if (to_zero < to_start)
            to_start = to_zero;
    }
    if (to_end >= threshold)
        to_end = avg / 2;
    double factor = 1.0;
    if (sampled != 0)
        factor = (sampled + to_start + to_end) / sampled;
    if (is_rate)
        factor /= (double)range_ms / 1000;
    *ok = true;
    return result * factor;
}

/* ------------------------------------------------------------ anchored and smoothed (Prometheus 3) */

static double interpolate(int64_t t1, double y1, int64_t t2, double y2, int64_t t, bool counter)
{
    if (counter && y2 < y1)
        y1 = 0;
    return y1 + (y2 - y1) * (double)(t - t1) / (double)(t2 - t1);
}

/* Go's sort.Search over [lo, lo+n) for the first t > bound (strict) or
 * t >= bound; lo + n when none. */
static size_t search_gt(const int64_t *t, size_t lo, size_t n, int64_t bound, bool strict)
{
    size_t a = lo, b = lo + n;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (strict ? t[m] > bound : t[m] >= bound)
            b = m;
        else
            a = m + 1;
    }
    return a;
}

/* extendedRate: the samples [lo, hi) reach back a lookback before the
 * window (and, smoothed, a lookback after it); the values at the window's
 * edges are the last sample at or before its start (anchored) or are
 * interpolated there (smoothed); no extrapolation. */
static double extended_rate(const int64_t *t, const double *v, size_t lo, size_t hi, int64_t ws, int64_t we,
                            int64_t range_ms, bool smoothed, bool counter, bool is_rate, bool *ok)
{
    *ok = false;
    size_t last = hi - 1;
    size_t s = search_gt(t, lo, last - lo, ws, true);
    size_t first = s > lo ? s - 1 : lo;
    if (smoothed)
        last = search_gt(t, lo, last - lo, we, false);
    if (t[last] <= ws)
        return 0;
    if (smoothed && t[first] > we)
        return 0;
    double left = v[first], right = v[last];
    if (smoothed && t[first] < ws)
        left = interpolate(t[first], v[first], t[first + 1], v[first + 1], ws, counter);
    if (smoothed && last > lo && t[last] > we)
        right = interpolate(t[last - 1], v[last - 1], t[last], v[last], we, counter);
    double result = right - left;
    if (counter) {
        /* correctForCounterResets over the samples strictly inside */
        ptrdiff_t a = (ptrdiff_t)first, b = (ptrdiff_t)last;
        if (t[a] <= ws)
            a++;
        if (t[b] >= we)
            b--;
        double corr = 0, prev = left;
        for (ptrdiff_t k = a; k <= b; k++) {
            if (v[k] < prev)
                corr += prev;
            prev = v[k];
        }
        if (right < prev)
            corr += prev;
        result += corr;
    }
    if (is_rate)
        result /= (double)range_ms / 1000;
    *ok = true;
    return result;
}

static double avg_over(const double *v, size_t lo, size_t hi)
{
    double sum = v[lo], count = 1, mean = 0, kc = 0;
    bool incremental = false;
    for (size_t i = lo + 1; i < hi; i++) {
        count = (double)(i - lo + 1);
        if (!incremental) {
            double nc = kc;
            double ns = query_kahan_inc(v[i], sum, &nc);
            if (!isinf(ns)) {
                sum = ns;
                kc = nc;
                continue;
            }
            incremental = true;
            mean = sum / (count - 1);
            kc /= count - 1;
        }
        double q = (count - 1) / count;
        kc = q * kc;
        mean = query_kahan_inc(v[i] / count, q * mean, &kc);
    }
    if (incremental)
        return mean + kc;
    return sum / count + kc / count;
}

static double variance_over(const double *v, size_t lo, size_t hi)
{
    double count = 0, mean = 0, cmean = 0, aux = 0, caux = 0;
    for (size_t i = lo; i < hi; i++) {
        count++;
        double delta = v[i] - (mean + cmean);
        mean = query_kahan_inc(delta / count, mean, &cmean);
        aux = query_kahan_inc(delta * (v[i] - (mean + cmean)), aux, &caux);
    }
    return (aux + caux) / count;
}

static void linear_regression(const int64_t *t, const double *v, size_t lo, size_t hi, int64_t icept_t,
                              double *slope, double *icept)
{
    double n = 0, sx = 0, cx = 0, sy = 0, cy = 0, sxy = 0, cxy = 0, sx2 = 0, cx2 = 0;
    double init_y = v[lo];
    bool const_y = true;
    for (size_t i = lo; i < hi; i++) {
        if (const_y && i > lo && v[i] != init_y)
            const_y = false;
        n += 1.0;
        double x = (double)(t[i] - icept_t) / 1e3;
        sx = query_kahan_inc(x, sx, &cx);
        sy = query_kahan_inc(v[i], sy, &cy);
        sxy = query_kahan_inc(x * v[i], sxy, &cxy);
        sx2 = query_kahan_inc(x * x, sx2, &cx2);
    }
    if (const_y) {
        if (isinf(init_y)) {
            *slope = NAN;
            *icept = NAN;
            return;
        }
        *slope = 0;
        *icept = init_y;
        return;
    }
    sx += cx;
    sy += cy;
    sxy += cxy;
    sx2 += cx2;
    double cov = sxy - sx * sy / n;
    double var = sx2 - sx * sx / n;
    *slope = cov / var;
    *icept = sy / n - *slope * sx / n;
}

static double holt_winters(const double *v, size_t lo, size_t hi, double sf, double tf)
{
    double s0 = 0, s1 = v[lo], b = v[lo + 1] - v[lo];
    for (size_t i = lo + 1; i < hi; i++) {
        double x = sf * v[i];
        /* calcTrendValue(i-1, ...): the first trend is the raw b */
        if (i - lo - 1 != 0)
            b = tf * (s1 - s0) + (1 - tf) * b;
        double y = (1 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    return s1;
}

static double mad_over(const double *v, size_t lo, size_t hi, double *scratch)
{
    size_t n = hi - lo;
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[lo + i]))
            return NAN;
        scratch[i] = v[lo + i];
    }
    double med = query_quantile(0.5, scratch, n);
    for (size_t i = 0; i < n; i++)
        scratch[i] = fabs(scratch[i] - med);
    return query_quantile(0.5, scratch, n);
}

int query_range_series(qrange_fn fn, const int64_t *t, const double *v, size_t n, const int64_t *wend,
                       int64_t range_ms, const int64_t *tstep, size_t n_steps, const double *p1, const double *p2,
                       double *ov, uint64_t *has)
{
    return query_range_series_ext(fn, QEXT_NONE, 0, t, v, n, wend, range_ms, tstep, n_steps, p1, p2, ov, has);
}

/* The samples [*base, *top) that the windows of steps [0, n_steps) can
 * reach: callers evaluate a long range in chunks of steps (rf_kernel), and
 * each chunk must cost what its windows hold, not a scan from the start
 * of the series. */
static void chunk_bounds(const int64_t *t, size_t n, const int64_t *wend, size_t n_steps, int64_t range_ms,
                         qext ext, int64_t lookback_ms, size_t *base, size_t *top)
{
    int64_t lo_t = INT64_MAX, hi_t = INT64_MIN;
    for (size_t i = 0; i < n_steps; i++) {
        int64_t we = wend[i], ws = we - range_ms;
        int64_t l = ext != QEXT_NONE ? ws - lookback_ms : ws, h = ext == QEXT_SMOOTHED ? we + lookback_ms : we;
        lo_t = l < lo_t ? l : lo_t;
        hi_t = h > hi_t ? h : hi_t;
    }
    *base = search_gt(t, 0, n, lo_t, true);
    *top = search_gt(t, *base, n - *base, hi_t, true);
}

/* min_over_time / max_over_time over sliding windows with a monotonic
 * queue of sample indices (NaN samples never enter it), so a step costs
 * what enters and leaves its window, not the window: an hour's window at
 * a minute's step rescanned 60 times every sample. The answer is
 * Prometheus' loop's: the extreme of the non-NaN values, the earliest of
 * equal ones (which tells -0 from +0), NaN when the window holds only NaN. */
static int minmax_sliding(const int64_t *t, const double *v, size_t base, size_t top, const int64_t *wend,
                          int64_t range_ms, size_t n_steps, bool want_max, double *ov, uint64_t *has)
{
    size_t *q = top > base ? base_malloc((top - base) * sizeof *q) : NULL;
    if (top > base && !q)
        return STRATA_ERR_NOMEM;
    size_t qh = 0, qt = 0, lo = base, hi = base;
    for (size_t i = 0; i < n_steps; i++) {
        int64_t we = wend[i], ws = we - range_ms;
        if (i && we < wend[i - 1])
            lo = hi = base, qh = qt = 0;
        while (lo < top && t[lo] <= ws)
            lo++;
        if (hi < lo)
            hi = lo, qh = qt = 0;
        while (hi < top && t[hi] <= we) {
            double x = v[hi];
            if (!isnan(x)) {
                while (qt > qh && (want_max ? v[q[qt - 1]] < x : v[q[qt - 1]] > x))
                    qt--;
                q[qt++] = hi;
            }
            hi++;
        }
        while (qt > qh && q[qh] < lo)
            qh++;
        if (hi == lo)
            continue;
        ov[i] = qt > qh ? v[q[qh]] : NAN;
        qbit_set(has, i);
    }
    base_free(q);
    return STRATA_OK;
}

int query_range_series_ext(qrange_fn fn, qext ext, int64_t lookback_ms, const int64_t *t, const double *v, size_t n,
                           const int64_t *wend, int64_t range_ms, const int64_t *tstep, size_t n_steps,
                           const double *p1, const double *p2, double *ov, uint64_t *has)
{
    size_t base = 0, top = n;
    if (n_steps)
        chunk_bounds(t, n, wend, n_steps, range_ms, ext, lookback_ms, &base, &top);
    if ((fn == QRF_MIN || fn == QRF_MAX) && ext == QEXT_NONE)
        return minmax_sliding(t, v, base, top, wend, range_ms, n_steps, fn == QRF_MAX, ov, has);
    size_t lo = base, hi = base;
    double *scratch = NULL;
    uint32_t *resets = NULL;
    if ((fn == QRF_QUANTILE || fn == QRF_MAD) && top > base && !(scratch = base_malloc((top - base) * sizeof *scratch)))
        return STRATA_ERR_NOMEM;
    if (fn == QRF_RATE || fn == QRF_INCREASE || fn == QRF_RESETS || fn == QRF_CHANGES) {
        /* running counts of drops (or changes), filled over [base, top)
         * only: a window's count is a difference, so a counter without
         * resets never scans its window */
        if (top > base && !(resets = base_malloc(top * sizeof *resets)))
            return STRATA_ERR_NOMEM;
        uint32_t k = 0;
        for (size_t j = base; j < top; j++) {
            if (j > base &&
                (fn == QRF_CHANGES ? (v[j] != v[j - 1] && !(isnan(v[j]) && isnan(v[j - 1]))) : v[j] < v[j - 1]))
                k++;
            resets[j] = k;
        }
    }
    for (size_t i = 0; i < n_steps; i++) {
        int64_t we = wend[i], ws = we - range_ms;
        /* anchored and smoothed windows reach a lookback further */
        int64_t lo_t = ext != QEXT_NONE ? ws - lookback_ms : ws, hi_t = ext == QEXT_SMOOTHED ? we + lookback_ms : we;
        if (i && we < wend[i - 1])
            lo = hi = base;
        while (lo < top && t[lo] <= lo_t)
            lo++;
        if (hi < lo)
            hi = lo;
        while (hi < top && t[hi] <= hi_t)
            hi++;
        size_t cnt = hi - lo;
        if (cnt == 0)
            continue;
        double r = 0;
        bool ok = true;
        if (ext != QEXT_NONE) {
            switch (fn) {
            case QRF_RATE:
            case QRF_INCREASE:
            case QRF_DELTA:
                r = extended_rate(t, v, lo, hi, ws, we, range_ms, ext == QEXT_SMOOTHED, fn != QRF_DELTA,
                                  fn == QRF_RATE, &ok);
                break;
            case QRF_RESETS:
            case QRF_CHANGES: {
                /* from the last sample at or before the start, if any;
                 * nothing without a sample after the start */
                size_t j = search_gt(t, lo, cnt, ws, true);
                if (j == hi) {
                    ok = false;
                    break;
                }
                size_t first = j > lo ? j - 1 : lo;
                r = (double)(resets[hi - 1] - resets[first]);
                break;
            }
            default:
                ok = false;
            }
            if (ok) {
                ov[i] = r;
                qbit_set(has, i);
            }
            continue;
        }
        switch (fn) {
        case QRF_RATE:
            r = extrapolated_rate(t, v, resets, lo, hi, we, range_ms, true, true, &ok);
            break;
        case QRF_INCREASE:
            r = extrapolated_rate(t, v, resets, lo, hi, we, range_ms, true, false, &ok);
            break;
        case QRF_DELTA:
            r = extrapolated_rate(t, v, NULL, lo, hi, we, range_ms, false, false, &ok);
            break;
        case QRF_IRATE:
        case QRF_IDELTA: {
            if (cnt < 2) {
                ok = false;
                break;
            }
            double a = v[hi - 2], b = v[hi - 1];
            int64_t dt = t[hi - 1] - t[hi - 2];
            if (dt == 0) {
                ok = false;
                break;
            }
            if (fn == QRF_IRATE) {
                r = b < a ? b : b - a;
                r /= (double)dt / 1000;
            } else {
                r = b - a;
            }
            break;
        }
        case QRF_AVG:
            r = avg_over(v, lo, hi);
            break;
        case QRF_MIN:
        case QRF_MAX:
        case QRF_TS_MIN:
        case QRF_TS_MAX: {
            bool want_max = fn == QRF_MAX || fn == QRF_TS_MAX;
            double m = v[lo];
            int64_t mt = t[lo];
            for (size_t k = lo; k < hi; k++) {
                if ((want_max ? v[k] > m : v[k] < m) || isnan(m)) {
                    m = v[k];
                    mt = t[k];
                }
            }
            r = (fn == QRF_MIN || fn == QRF_MAX) ? m : (double)mt / 1000;
            break;
        }
        case QRF_SUM: {
            double s = 0, c = 0;
            for (size_t k = lo; k < hi; k++)
                s = query_kahan_inc(v[k], s, &c);
            r = isinf(s) ? s : s + c;
            break;
        }
        case QRF_COUNT:
            r = (double)cnt;
            break;
        case QRF_PRESENT:
            r = 1;
            break;
        case QRF_STDVAR:
            r = variance_over(v, lo, hi);
            break;
        case QRF_STDDEV:
            r = sqrt(variance_over(v, lo, hi));
            break;
        case QRF_LAST:
            r = v[hi - 1];
            break;
        case QRF_FIRST:
            r = v[lo];
            break;
        case QRF_TS_LAST:
            r = (double)t[hi - 1] / 1000;
            break;
        case QRF_TS_FIRST:
            r = (double)t[lo] / 1000;
            break;
        case QRF_QUANTILE:
        case QRF_MAD:
            if (fn == QRF_MAD) {
                r = mad_over(v, lo, hi, scratch);
            } else {
                memcpy(scratch, v + lo, cnt * sizeof *v);
                r = query_quantile(p1 ? p1[i] : NAN, scratch, cnt);
            }
            break;
        case QRF_CHANGES:
        case QRF_RESETS:
            r = (double)(resets[hi - 1] - resets[lo]);
            break;
        case QRF_DERIV: {
            if (cnt < 2) {
                ok = false;
                break;
            }
            double slope, icept;
            linear_regression(t, v, lo, hi, t[lo], &slope, &icept);
            r = slope;
            break;
        }
        case QRF_PREDICT_LINEAR: {
            if (cnt < 2) {
                ok = false;
                break;
            }
            double slope, icept;
            linear_regression(t, v, lo, hi, tstep[i], &slope, &icept);
            r = slope * (p1 ? p1[i] : 0) + icept;
            break;
        }
        case QRF_HOLT_WINTERS:
            if (cnt < 2) {
                ok = false;
                break;
            }
            r = holt_winters(v, lo, hi, p1[i], p2[i]);
            break;
        case QRF_ABSENT_OVER_TIME:
            r = 1;
            break;
        }
        if (!ok)
            continue;
        ov[i] = r;
        qbit_set(has, i);
    }
    base_free(scratch);
    base_free(resets);
    return 0;
}
