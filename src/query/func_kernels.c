/*
 * func_kernels.c: pure helpers of the instant functions: the date
 * functions over UTC seconds (num_civil_from_days, so any int64 day works
 * without time_t or locale), classic-histogram quantiles
 * (Prometheus' BucketQuantile with its coalescing of equal bounds and its
 * monotonicity fix), natural string order for sort_by_label, and Go's
 * regexp Expand for label_replace's replacement string.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval_int.h"
#include "num/num.h"

double query_date(qdate_fn fn, double secs)
{
    if (isnan(secs) || secs > 9.2e18 || secs < -9.2e18)
        return NAN;
    int64_t s = (int64_t)secs; /* Go's int64(f): truncation */
    int64_t days = s / 86400, rem = s % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    num_civil_from_days(days, &y, &m, &d);
    switch (fn) {
    case QD_DAYS_IN_MONTH:
        return (double)num_days_in_month(y, m);
    case QD_DAY_OF_MONTH:
        return (double)d;
    case QD_DAY_OF_WEEK: {
        int64_t w = (days + 4) % 7; /* 1970-01-01 was a Thursday */
        return (double)(w < 0 ? w + 7 : w);
    }
    case QD_DAY_OF_YEAR: {
        unsigned doy = d;
        for (unsigned i = 1; i < m; i++)
            doy += num_days_in_month(y, i);
        return (double)doy;
    }
    case QD_HOUR:
        return (double)(rem / 3600);
    case QD_MINUTE:
        return (double)((rem % 3600) / 60);
    case QD_MONTH:
        return (double)m;
    case QD_YEAR:
        return (double)y;
    }
    return NAN;
}

/* ------------------------------------------------------------ histogram_quantile */

static int cmp_bucket(const void *a, const void *b)
{
    double x = ((const qbucket *)a)->le, y = ((const qbucket *)b)->le;
    return x < y ? -1 : x > y;
}

static bool almost_equal(double a, double b, double eps)
{
    const double min_normal = 2.2250738585072014e-308;
    if (a == b)
        return true;
    double abs_sum = fabs(a) + fabs(b);
    double diff = fabs(a - b);
    if (a == 0 || b == 0 || abs_sum < min_normal)
        return diff < eps * min_normal;
    return diff / fmin(abs_sum, 1.7976931348623157e308) < eps;
}

double query_bucket_quantile(double q, qbucket *b, size_t n, bool *forced)
{
    *forced = false;
    if (isnan(q))
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    /* stable: equal bounds keep their order, as slices.SortFunc need not;
     * coalescing sums them, so the order does not matter */
    qsort(b, n, sizeof *b, cmp_bucket);
    if (n == 0 || !(isinf(b[n - 1].le) && b[n - 1].le > 0))
        return NAN;
    /* coalesce equal upper bounds */
    size_t k = 0;
    qbucket last = b[0];
    for (size_t i = 1; i < n; i++) {
        if (b[i].le == last.le) {
            last.count += b[i].count;
        } else {
            b[k++] = last;
            last = b[i];
        }
    }
    b[k++] = last;
    n = k;
    /* monotonicity */
    double prev = b[0].count;
    for (size_t i = 1; i < n; i++) {
        double cur = b[i].count;
        if (cur == prev)
            continue;
        if (almost_equal(prev, cur, 1e-12)) {
            b[i].count = prev;
            continue;
        }
        if (cur < prev) {
            b[i].count = prev;
            *forced = true;
            continue;
        }
        prev = cur;
    }
    if (n < 2)
        return NAN;
    double obs = b[n - 1].count;
    if (obs == 0)
        return NAN;
    double rank = q * obs;
    size_t i = 0;
    while (i < n - 1 && !(b[i].count >= rank))
        i++;
    if (i == n - 1)
        return b[n - 2].le;
    if (i == 0 && b[0].le <= 0)
        return b[0].le;
    double start = 0, end = b[i].le, count = b[i].count;
    if (i > 0) {
        start = b[i - 1].le;
        count -= b[i - 1].count;
        rank -= b[i - 1].count;
    }
    return start + (end - start) * (rank / count);
}

/* ------------------------------------------------------------ natural order */

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

/* facette.io/natsort's Compare: true when a sorts before b. Chunks of
 * digits compare as numbers, other chunks as strings. */
bool query_natsort_less(const char *a, const char *b)
{
    while (*a && *b) {
        if (is_digit(*a) && is_digit(*b)) {
            const char *ea = a, *eb = b;
            while (is_digit(*ea))
                ea++;
            while (is_digit(*eb))
                eb++;
            const char *za = a, *zb = b;
            while (za < ea - 1 && *za == '0')
                za++;
            while (zb < eb - 1 && *zb == '0')
                zb++;
            size_t la = (size_t)(ea - za), lb = (size_t)(eb - zb);
            if (la != lb)
                return la < lb;
            int d = strncmp(za, zb, la);
            if (d)
                return d < 0;
            a = ea;
            b = eb;
            continue;
        }
        if (*a != *b)
            return (unsigned char)*a < (unsigned char)*b;
        a++;
        b++;
    }
    return *a == 0 && *b != 0;
}
