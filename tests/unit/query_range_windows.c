/*
 * query_range_windows.c: range functions over many steps of one series
 * (src/query/func_range.c), checked two ways on random series with gaps,
 * NaN, -0/+0, infinities and resets:
 *   - min_over_time / max_over_time (a sliding monotonic queue) give bit
 *     for bit what Prometheus' loop gives on each window on its own:
 *     m = v[first]; for each v: if v > m || isnan(m) { m = v };
 *   - every function evaluated in chunks of steps, as rf_kernel does to
 *     check the deadline, gives bit for bit what one call over all the
 *     steps gives (each chunk starts from the samples its windows reach).
 * Steps, windows and series lengths vary, including windows shorter than
 * the step and steps that go back in time (the windows restart).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/eval_int.h"
#include "testutil.h"

#define MAXN 400
#define MAXS 300

typedef struct series {
    int64_t t[MAXN];
    double v[MAXN];
    size_t n;
} series;

static double pick_value(test_rng *r, double prev)
{
    switch (test_rng_next(r) % 12) {
    case 0: return NAN;
    case 1: return -0.0;
    case 2: return 0.0;
    case 3: return test_rng_next(r) % 2 ? INFINITY : -INFINITY;
    case 4: return prev; /* ties */
    case 5: return (double)(test_rng_next(r) % 5); /* small set: ties and resets */
    default: return prev + (double)(test_rng_next(r) % 1000) / 10.0 - 20.0;
    }
}

static void make_series(test_rng *r, series *s)
{
    s->n = test_rng_next(r) % MAXN;
    int64_t t = 1000000 + (int64_t)(test_rng_next(r) % 100000);
    double prev = 0;
    for (size_t i = 0; i < s->n; i++) {
        t += 1 + (int64_t)(test_rng_next(r) % (test_rng_next(r) % 8 == 0 ? 600000 : 30000));
        s->t[i] = t;
        s->v[i] = prev = pick_value(r, isnan(prev) || isinf(prev) ? 0 : prev);
    }
}

/* Prometheus' max_over_time / min_over_time on the window (ws, we]. */
static bool brute_minmax(const series *s, int64_t ws, int64_t we, bool want_max, double *out)
{
    bool any = false;
    double m = 0;
    for (size_t k = 0; k < s->n; k++) {
        if (s->t[k] <= ws || s->t[k] > we)
            continue;
        if (!any) {
            m = s->v[k];
            any = true;
        } else if ((want_max ? s->v[k] > m : s->v[k] < m) || isnan(m)) {
            m = s->v[k];
        }
    }
    *out = m;
    return any;
}

static bool same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0 || (isnan(a) && isnan(b));
}

static void make_steps(test_rng *r, const series *s, int64_t *wend, size_t *n_steps, int64_t *range_ms)
{
    *n_steps = 1 + test_rng_next(r) % MAXS;
    int64_t step = 1 + (int64_t)(test_rng_next(r) % 120000);
    *range_ms = 1 + (int64_t)(test_rng_next(r) % (test_rng_next(r) % 2 ? 60000 : 3600000));
    int64_t t0 = (s->n ? s->t[0] : 1000000) - (int64_t)(test_rng_next(r) % 200000);
    for (size_t i = 0; i < *n_steps; i++) {
        wend[i] = t0 + (int64_t)i * step;
        if (i > 3 && test_rng_next(r) % 50 == 0) /* back in time: the windows restart */
            wend[i] = wend[i - 3] - 17;
    }
}

static void min_and_max_over_sliding_windows_equal_prometheus_loop(void **state)
{
    (void)state;
    uint64_t seed = test_seed(41);
    test_rng r;
    test_rng_init(&r, seed);
    static series s;
    int64_t wend[MAXS];
    double ov[MAXS];
    uint64_t has[(MAXS + 63) / 64];
    for (int round = 0; round < 2000; round++) {
        make_series(&r, &s);
        size_t n_steps;
        int64_t range_ms;
        make_steps(&r, &s, wend, &n_steps, &range_ms);
        for (int f = 0; f < 2; f++) {
            bool want_max = f == 1;
            memset(has, 0, sizeof has);
            assert_int_equal(query_range_series(want_max ? QRF_MAX : QRF_MIN, s.t, s.v, s.n, wend, range_ms, NULL,
                                                n_steps, NULL, NULL, ov, has),
                             0);
            for (size_t i = 0; i < n_steps; i++) {
                double want;
                bool any = brute_minmax(&s, wend[i] - range_ms, wend[i], want_max, &want);
                if (any != qbit(has, i) || (any && !same_bits(want, ov[i]))) {
                    print_error("seed %llu round %d %s step %zu: want %s%g got %s%g\n", (unsigned long long)seed,
                                round, want_max ? "max" : "min", i, any ? "" : "none ", want,
                                qbit(has, i) ? "" : "none ", ov[i]);
                    fail();
                }
            }
        }
    }
}

static void range_functions_in_chunks_of_steps_equal_one_call(void **state)
{
    (void)state;
    static const qrange_fn fns[] = {QRF_RATE,  QRF_INCREASE, QRF_DELTA,   QRF_IRATE,    QRF_IDELTA, QRF_AVG,
                                    QRF_MIN,   QRF_MAX,      QRF_SUM,     QRF_COUNT,    QRF_STDDEV, QRF_STDVAR,
                                    QRF_LAST,  QRF_FIRST,    QRF_PRESENT, QRF_QUANTILE, QRF_MAD,    QRF_TS_MIN,
                                    QRF_TS_MAX, QRF_CHANGES, QRF_RESETS,  QRF_DERIV};
    uint64_t seed = test_seed(42);
    test_rng r;
    test_rng_init(&r, seed);
    static series s;
    int64_t wend[MAXS];
    double ov1[MAXS], ov2[MAXS], p1[MAXS];
    uint64_t h1[(MAXS + 63) / 64], h2[(MAXS + 63) / 64];
    for (int round = 0; round < 300; round++) {
        make_series(&r, &s);
        size_t n_steps;
        int64_t range_ms;
        make_steps(&r, &s, wend, &n_steps, &range_ms);
        for (size_t i = 0; i < n_steps; i++)
            p1[i] = (double)(test_rng_next(&r) % 11) / 10.0;
        for (size_t f = 0; f < sizeof fns / sizeof fns[0]; f++) {
            const double *p = fns[f] == QRF_QUANTILE ? p1 : NULL;
            memset(h1, 0, sizeof h1);
            memset(h2, 0, sizeof h2);
            assert_int_equal(query_range_series(fns[f], s.t, s.v, s.n, wend, range_ms, NULL, n_steps, p, NULL, ov1, h1),
                             0);
            for (size_t i0 = 0; i0 < n_steps; i0 += 64) {
                size_t k = n_steps - i0 < 64 ? n_steps - i0 : 64;
                assert_int_equal(query_range_series(fns[f], s.t, s.v, s.n, wend + i0, range_ms, NULL, k,
                                                    p ? p + i0 : NULL, NULL, ov2 + i0, h2 + i0 / 64),
                                 0);
            }
            for (size_t i = 0; i < n_steps; i++) {
                if (qbit(h1, i) != qbit(h2, i) || (qbit(h1, i) && !same_bits(ov1[i], ov2[i]))) {
                    print_error("seed %llu round %d function %zu step %zu: whole %g chunked %g\n",
                                (unsigned long long)seed, round, f, i, ov1[i], ov2[i]);
                    fail();
                }
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(min_and_max_over_sliding_windows_equal_prometheus_loop),
        cmocka_unit_test(range_functions_in_chunks_of_steps_equal_one_call),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
