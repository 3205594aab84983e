/*
 * func.c: function calls. Range functions (rate, *_over_time, ...) stream
 * each selected series through the sliding-window kernels of func_range.c
 * without keeping the raw samples of more than one series; over a
 * subquery they run on its materialized points. Instant functions map the
 * dense per-step arrays of their vector argument in place. label_replace
 * (Go's regexp through RE2, on "^(?s:re)$" as Prometheus compiles it) and
 * label_join live in func_label.c.
 *
 * The metric name is dropped where Prometheus 3 drops it (without the
 * delayed-name-removal flag): by every function but last_over_time,
 * first_over_time, sort*, label_*, and series with equal label sets are
 * then merged or refused as Prometheus does.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "eval_int.h"

/* ------------------------------------------------------------ range functions */

static bool range_fn_of(query_func_id id, qrange_fn *fn)
{
    static const struct {
        query_func_id id;
        qrange_fn fn;
    } map[] = {
        {QUERY_FN_RATE, QRF_RATE},
        {QUERY_FN_INCREASE, QRF_INCREASE},
        {QUERY_FN_DELTA, QRF_DELTA},
        {QUERY_FN_IRATE, QRF_IRATE},
        {QUERY_FN_IDELTA, QRF_IDELTA},
        {QUERY_FN_AVG_OVER_TIME, QRF_AVG},
        {QUERY_FN_MIN_OVER_TIME, QRF_MIN},
        {QUERY_FN_MAX_OVER_TIME, QRF_MAX},
        {QUERY_FN_SUM_OVER_TIME, QRF_SUM},
        {QUERY_FN_COUNT_OVER_TIME, QRF_COUNT},
        {QUERY_FN_STDDEV_OVER_TIME, QRF_STDDEV},
        {QUERY_FN_STDVAR_OVER_TIME, QRF_STDVAR},
        {QUERY_FN_LAST_OVER_TIME, QRF_LAST},
        {QUERY_FN_FIRST_OVER_TIME, QRF_FIRST},
        {QUERY_FN_PRESENT_OVER_TIME, QRF_PRESENT},
        {QUERY_FN_QUANTILE_OVER_TIME, QRF_QUANTILE},
        {QUERY_FN_MAD_OVER_TIME, QRF_MAD},
        {QUERY_FN_TS_OF_FIRST_OVER_TIME, QRF_TS_FIRST},
        {QUERY_FN_TS_OF_LAST_OVER_TIME, QRF_TS_LAST},
        {QUERY_FN_TS_OF_MIN_OVER_TIME, QRF_TS_MIN},
        {QUERY_FN_TS_OF_MAX_OVER_TIME, QRF_TS_MAX},
        {QUERY_FN_CHANGES, QRF_CHANGES},
        {QUERY_FN_RESETS, QRF_RESETS},
        {QUERY_FN_DERIV, QRF_DERIV},
        {QUERY_FN_PREDICT_LINEAR, QRF_PREDICT_LINEAR},
        {QUERY_FN_DOUBLE_EXPONENTIAL_SMOOTHING, QRF_HOLT_WINTERS},
        {QUERY_FN_HOLT_WINTERS, QRF_HOLT_WINTERS},
        {QUERY_FN_ABSENT_OVER_TIME, QRF_ABSENT_OVER_TIME},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i].id == id) {
            *fn = map[i].fn;
            return true;
        }
    return false;
}

typedef struct rf_arg {
    qrange_fn fn;
    const int64_t *wend, *tstep;
    int64_t range_ms;
    const double *p1, *p2;
    bool drop_name;
    qvalue *out;
    uint64_t *any; /* absent_over_time: steps where some series is present */
    /* streaming (sink non-NULL): each series' result goes to sink through
     * the scratch arrays sv / shas instead of into out */
    query_series_sink sink;
    void *sink_arg;
    double *sv;
    uint64_t *shas;
    size_t n_steps;
    qext ext; /* anchored / smoothed selector */
    int64_t lookback_ms;
    const strata_agg *rows; /* non-NULL: the series is these rows (rf_rows_cb) */
    size_t n_rows;
} rf_arg;

/* query_range_series_ext over the steps in chunks of 64 (one word of the
 * has bitmap), the deadline and cancellation checked between chunks: one
 * series of a long range over a subquery can take minutes alone
 * (quantile_over_time sorts every window), and a timeout must stop it,
 * not wait for the next series. */
#define RF_CHUNK 64

static int rf_kernel(qctx *c, const rf_arg *a, const int64_t *t, const double *v, size_t n, size_t n_steps,
                     double *ov, uint64_t *has)
{
    if (a->rows) {
        int rc = query_range_mixed(a->fn, a->rows, a->n_rows, t, v, n, a->wend, a->range_ms, n_steps, ov, has);
        if (rc == STRATA_ERR_NOMEM)
            return query_nomem(c);
        if (rc)
            return query_fail(c, QERR_INTERNAL, "no aggregate kernel for this function");
        return query_check_now(c);
    }
    for (size_t i0 = 0; i0 < n_steps; i0 += RF_CHUNK) {
        size_t k = n_steps - i0 < RF_CHUNK ? n_steps - i0 : RF_CHUNK;
        if (query_range_series_ext(a->fn, a->ext, a->lookback_ms, t, v, n, a->wend + i0, a->range_ms,
                                   a->tstep ? a->tstep + i0 : NULL, k, a->p1 ? a->p1 + i0 : NULL,
                                   a->p2 ? a->p2 + i0 : NULL, ov + i0, has + i0 / 64) != 0)
            return query_nomem(c);
        int rc = query_check_now(c);
        if (rc)
            return rc;
    }
    return 0;
}

static int rf_series(qctx *c, rf_arg *a, const qlabels *lab_in, const strata_label *raw, size_t n_raw,
                     const int64_t *t, const double *v, size_t n)
{
    qvalue *out = a->out;
    if (a->fn == QRF_ABSENT_OVER_TIME) {
        size_t words = qbit_words(out->n_steps);
        uint64_t stack[64], *has = words <= 64 ? stack : base_calloc(words, sizeof *has);
        if (!has)
            return query_nomem(c);
        memset(has, 0, words * sizeof *has);
        double scratch1;
        double *ov = out->n_steps <= 1 ? &scratch1 : base_malloc(out->n_steps * sizeof *ov);
        int rc = ov ? query_range_series(QRF_PRESENT, t, v, n, a->wend, a->range_ms, a->tstep, out->n_steps, NULL,
                                         NULL, ov, has)
                    : STRATA_ERR_NOMEM;
        for (size_t w = 0; rc == 0 && w < words; w++)
            a->any[w] |= has[w];
        if (ov != &scratch1)
            base_free(ov);
        if (has != stack)
            base_free(has);
        return rc ? query_nomem(c) : 0;
    }
    qlabels lab;
    int rc;
    if (lab_in)
        rc = a->drop_name ? query_labels_drop_name(lab_in, &lab) : query_labels_copy(lab_in, &lab);
    else if (a->drop_name) {
        qlabels tmp = {(strata_label *)raw, n_raw};
        rc = query_labels_drop_name(&tmp, &lab);
    } else
        rc = query_labels_make(raw, n_raw, &lab);
    if (rc)
        return query_nomem(c);
    if (a->sink) {
        memset(a->shas, 0, qbit_words(a->n_steps) * sizeof *a->shas);
        if ((rc = rf_kernel(c, a, t, v, n, a->n_steps, a->sv, a->shas)) != 0) {
            query_labels_free(&lab);
            return rc;
        }
        rc = a->sink(c, a->sink_arg, &lab, a->sv, a->shas);
        query_labels_free(&lab);
        return rc;
    }
    qseries *s;
    if ((rc = query_vector_add(c, out, &lab, &s)) != 0) {
        query_labels_free(&lab);
        return rc;
    }
    return rf_kernel(c, a, t, v, n, out->n_steps, s->v, s->has);
}

static int rf_scan_cb(qctx *c, void *argp, const strata_label *labels, size_t n_labels, const int64_t *t,
                      const double *v, size_t n)
{
    return rf_series(c, argp, NULL, labels, n_labels, t, v, n);
}

/* A series the engine returned as aggregate rows (func_agg.c). */
static int rf_rows_cb(qctx *c, void *argp, const strata_label *labels, size_t n_labels, const strata_agg *rows,
                      size_t n_rows, const int64_t *t, const double *v, size_t n)
{
    rf_arg *a = argp;
    a->rows = rows; /* the samples come without staleness markers (query_scan_ex) */
    a->n_rows = n_rows;
    int rc = rf_series(c, a, NULL, labels, n_labels, t, v, n);
    a->rows = NULL;
    return rc;
}

/* Labels absent() and absent_over_time() give, as Prometheus'
 * createLabelsForAbsentFunction: the matchers of a selector argument in
 * order, __name__ skipped; an equality matcher sets its label unless an
 * earlier equality matcher of that name already did (an empty value sets
 * nothing), and every other matcher of that name deletes it. So
 * m{a!~"x",a="y"} gives {a="y"}, m{a="y",a!="z"} and m{a="y",a="y"} {}. */
static int absent_labels(qctx *c, const query_node *arg, qlabels *out)
{
    out->v = NULL;
    out->n = 0;
    arg = query_unwrap(arg);
    if (arg->kind == QUERY_NODE_MATRIX_SELECTOR)
        arg = arg->u.matrix.vs;
    if (arg->kind != QUERY_NODE_VECTOR_SELECTOR)
        return 0;
    size_t n = arg->u.vs.n_matchers;
    strata_label *tmp = base_malloc((n ? n : 1) * sizeof *tmp);
    if (!tmp)
        return query_nomem(c);
    size_t k = 0;
    const strata_matcher *m = arg->u.vs.matchers;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(m[i].name, "__name__") == 0)
            continue;
        bool has = false; /* set by an earlier equality matcher */
        for (size_t j = 0; j < i && !has; j++)
            has = m[j].type == STRATA_MATCH_EQ && strcmp(m[j].name, m[i].name) == 0;
        size_t at = k;
        for (size_t j = 0; j < k; j++)
            if (strcmp(tmp[j].name, m[i].name) == 0)
                at = j;
        if (m[i].type == STRATA_MATCH_EQ && !has) {
            /* nothing of that name is set: only an equality sets it */
            if (m[i].value[0])
                tmp[k++] = (strata_label){m[i].name, m[i].value};
        } else if (at < k) {
            memmove(&tmp[at], &tmp[at + 1], (k - at - 1) * sizeof *tmp);
            k--;
        }
    }
    int rc = query_labels_make(tmp, k, out);
    base_free(tmp);
    return rc ? query_nomem(c) : 0;
}

static int eval_scalar_arg(qctx *c, const query_node *n, qvalue *out)
{
    int rc = query_eval_node(c, n, out);
    if (rc == 0 && out->kind != QV_SCALAR) {
        query_value_free(c, out);
        return query_fail(c, QERR_BAD_DATA, "expected a scalar argument");
    }
    return rc;
}

static int eval_range_call(qctx *c, const query_node *n, qrange_fn fn, qvalue *out, query_series_sink sink,
                           void *sink_arg)
{
    const query_func *f = n->u.call.func;
    size_t mi = f->id == QUERY_FN_QUANTILE_OVER_TIME ? 1 : 0;
    if (n->u.call.n_args <= mi)
        return query_fail(c, QERR_BAD_DATA, "missing argument to %s", f->name);
    qvalue p[2];
    memset(p, 0, sizeof p);
    size_t np = 0;
    int rc = 0;
    for (size_t i = 0; i < n->u.call.n_args && rc == 0; i++) {
        if (i == mi)
            continue;
        if (np == 2)
            break;
        rc = eval_scalar_arg(c, n->u.call.args[i], &p[np++]);
    }
    const query_node *marg = query_unwrap(n->u.call.args[mi]);
    int64_t *wend = NULL, *tstep = NULL, range = 0;
    qext ext = QEXT_NONE;
    if (rc == 0 && marg->kind == QUERY_NODE_MATRIX_SELECTOR) {
        const query_node *vs = marg->u.matrix.vs;
        ext = vs->u.vs.anchored ? QEXT_ANCHORED : vs->u.vs.smoothed ? QEXT_SMOOTHED : QEXT_NONE;
        bool rate_like = fn == QRF_RATE || fn == QRF_INCREASE || fn == QRF_DELTA;
        if (ext == QEXT_ANCHORED && !rate_like && fn != QRF_RESETS && fn != QRF_CHANGES)
            rc = query_fail(c, QERR_EXECUTION,
                            "anchored modifier can only be used with: changes, delta, increase, rate, resets - not with %s",
                            f->name);
        if (ext == QEXT_SMOOTHED && !rate_like)
            rc = query_fail(c, QERR_EXECUTION,
                            "smoothed modifier can only be used with: delta, increase, rate - not with %s", f->name);
    }
    qvalue mat;
    memset(&mat, 0, sizeof mat);
    qlabels absent_lab = {0};
    uint64_t *any = NULL;
    if (rc == 0 && fn == QRF_HOLT_WINTERS) {
        for (size_t i = 0; i < c->n_steps; i++) {
            double sf = p[0].scalar[i], tf = p[1].scalar[i];
            if (!(sf > 0 && sf < 1)) {
                rc = query_fail(c, QERR_EXECUTION, "invalid smoothing factor. Expected: 0 < sf < 1, got: %f", sf);
                break;
            }
            if (!(tf > 0 && tf < 1)) {
                rc = query_fail(c, QERR_EXECUTION, "invalid trend factor. Expected: 0 < tf < 1, got: %f", tf);
                break;
            }
        }
    }
    if (rc == 0 && fn == QRF_QUANTILE) {
        for (size_t i = 0; i < c->n_steps; i++) {
            double q = p[0].scalar[i];
            if (isnan(q) || q < 0 || q > 1) {
                rc = query_warn(c, "PromQL warning: quantile value should be between 0 and 1, got %g", q);
                break;
            }
        }
    }
    if (rc == 0)
        rc = query_matrix_windows(c, marg, &wend, &range);
    if (rc == 0) {
        tstep = base_malloc((c->n_steps ? c->n_steps : 1) * sizeof *tstep);
        if (!tstep)
            rc = query_nomem(c);
        for (size_t i = 0; tstep && i < c->n_steps; i++)
            tstep[i] = query_step_t(c, i);
    }
    if (rc == 0 && fn == QRF_ABSENT_OVER_TIME) {
        any = base_calloc(qbit_words(c->n_steps ? c->n_steps : 1), sizeof *any);
        if (!any)
            rc = query_nomem(c);
    }
    if (rc)
        goto out;
    query_vector_init(c, out);
    bool keep_name = fn == QRF_LAST || fn == QRF_FIRST;
    rf_arg a = {fn,  wend, tstep, range, np > 0 ? p[0].scalar : NULL, np > 1 ? p[1].scalar : NULL,
                !keep_name, out, any, sink, sink_arg, NULL, NULL, c->n_steps, ext, c->lookback_ms, NULL, 0};
    if (sink) {
        a.sv = base_malloc((c->n_steps ? c->n_steps : 1) * sizeof *a.sv);
        a.shas = base_calloc(qbit_words(c->n_steps ? c->n_steps : 1), sizeof *a.shas);
        if (!a.sv || !a.shas) {
            base_free(a.sv);
            base_free(a.shas);
            rc = query_nomem(c);
            goto out;
        }
    }
    if (marg->kind == QUERY_NODE_MATRIX_SELECTOR) {
        const query_node *vs = marg->u.matrix.vs;
        int64_t mint, maxt;
        query_matrix_bounds(c, wend, range, &mint, &maxt);
        if (ext != QEXT_NONE)
            mint -= c->lookback_ms;
        if (ext == QEXT_SMOOTHED)
            maxt += c->lookback_ms;
        /* downsampled intervals no wider than the window answer as
         * aggregates where the function can use them */
        bool rows = ext == QEXT_NONE && query_range_rows_ok(fn) && c->ds_res_ms > 0;
        if (c->n_steps)
            rc = query_scan_ex(c, vs->u.vs.matchers, vs->u.vs.n_matchers, mint, maxt, true, rows ? range : 0,
                               rows ? query_range_rows_fields(fn) : 0, rf_scan_cb, rows ? rf_rows_cb : NULL, &a);
    } else {
        rc = query_eval_subquery(c, marg, &mat);
        for (size_t k = 0; rc == 0 && k < mat.n; k++) {
            const qmseries *s = &mat.ms[k];
            rc = rf_series(c, &a, &s->lab, NULL, 0, s->t, s->v, s->n);
            if (rc == 0)
                rc = query_check(c);
        }
    }
    base_free(a.sv);
    base_free(a.shas);
    if (rc || sink)
        goto out;
    if (fn == QRF_ABSENT_OVER_TIME) {
        if ((rc = absent_labels(c, marg, &absent_lab)) != 0)
            goto out;
        qseries *s;
        if ((rc = query_vector_add(c, out, &absent_lab, &s)) != 0)
            goto out;
        for (size_t i = 0; i < c->n_steps; i++)
            if (!qbit(any, i)) {
                s->v[i] = 1;
                qbit_set(s->has, i);
            }
    }
    query_vector_prune(c, out);
    if (!keep_name)
        rc = query_vector_dedupe(c, out);
out:
    query_labels_free(&absent_lab);
    base_free(any);
    base_free(wend);
    base_free(tstep);
    query_value_free(c, &mat);
    query_value_free(c, &p[0]);
    query_value_free(c, &p[1]);
    if (rc)
        query_value_free(c, out);
    return rc;
}

bool query_range_call_streamable(const query_node *n)
{
    n = query_unwrap(n);
    qrange_fn fn;
    if (n->kind != QUERY_NODE_CALL || !range_fn_of(n->u.call.func->id, &fn))
        return false;
    if (fn == QRF_ABSENT_OVER_TIME || fn == QRF_LAST || fn == QRF_FIRST)
        return false;
    size_t mi = n->u.call.func->id == QUERY_FN_QUANTILE_OVER_TIME ? 1 : 0;
    return n->u.call.n_args > mi && query_unwrap(n->u.call.args[mi])->kind == QUERY_NODE_MATRIX_SELECTOR;
}

int query_range_call_stream(qctx *c, const query_node *n, query_series_sink sink, void *arg)
{
    n = query_unwrap(n);
    qrange_fn fn;
    if (!range_fn_of(n->u.call.func->id, &fn))
        return query_fail(c, QERR_INTERNAL, "not a range function");
    qvalue unused;
    memset(&unused, 0, sizeof unused);
    return eval_range_call(c, n, fn, &unused, sink, arg);
}

/* ------------------------------------------------------------ instant functions */

/* Go's math.Min / math.Max: NaN wins, -0 < +0. */
static double go_min(double a, double b)
{
    if (isnan(a) || isnan(b))
        return NAN;
    if (a == 0 && b == 0)
        return signbit(a) ? a : b;
    return a < b ? a : b;
}

static double go_max(double a, double b)
{
    if (isnan(a) || isnan(b))
        return NAN;
    if (a == 0 && b == 0)
        return signbit(a) ? b : a;
    return a > b ? a : b;
}

static double sgn(double v) { return v < 0 ? -1 : v > 0 ? 1 : v; }
static double deg(double v) { return v * 180 / M_PI; }
static double rad(double v) { return v * M_PI / 180; }

/* Go's math.Exp as Prometheus gets it on amd64: the assembly of
 * src/math/exp_amd64.s (Shibata's method, SLEEF), step for step, with its
 * two paths: fused multiply-adds where the CPU has AVX and FMA (Go's
 * useFMA), separate operations otherwise. It differs from the C library's
 * exp in the last bit for about one argument in ten, and overflows sooner:
 * +Inf from x > 709.436 (x * log2(e) rounds to 1024) where exp(x) is
 * finite up to 709.78. Elsewhere than x86-64 the path without FMA. Each
 * operation is a statement of its own (no contraction by the compiler). */
static bool go_exp_fma(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    static int have = -1; /* a benign race: every thread computes the same */
    if (have < 0)
        have = __builtin_cpu_supports("avx") && __builtin_cpu_supports("fma");
    return have;
#else
    return false;
#endif
}

static double go_exp(double x)
{
    static const double LOG2E = 1.4426950408889634073599246810018920,
                        LN2U = 0.69314718055966295651160180568695068359375,
                        LN2L = 0.28235290563031577122588448175013436025525412068e-12,
                        OVERFLOW = 7.09782712893384e+02;
    static const double C[8] = {2.4801587301587301587e-5, 1.9841269841269841270e-4, 1.3888888888888888889e-3,
                                8.3333333333333333333e-3, 4.1666666666666666667e-2, 1.6666666666666666667e-1,
                                0.5, 1.0};
    if (isnan(x) || x == INFINITY)
        return x;
    if (x == -INFINITY)
        return 0;
    if (x > OVERFLOW)
        return INFINITY;
    double x1 = LOG2E * x;
    /* CVTSD2SL: to nearest (even), and 0x80000000 out of range; anything
     * below -1075 gives 0 below anyway */
    if (x1 < -2000)
        return 0;
    int32_t e = (int32_t)lrint(x1);
    x1 = (double)e;
    double x0 = x, t;
    bool fma_path = go_exp_fma();
    if (fma_path) {
        x0 = fma(-LN2U, x1, x0);
        x0 = fma(-LN2L, x1, x0);
    } else {
        t = LN2U * x1;
        x0 = x0 - t;
        t = LN2L * x1;
        x0 = x0 - t;
    }
    x0 = x0 * 0.0625;
    x1 = C[0];
    for (int i = 1; i < 8; i++) {
        if (fma_path) {
            x1 = fma(x1, x0, C[i]);
        } else {
            x1 = x1 * x0;
            x1 = x1 + C[i];
        }
    }
    x0 = x0 * x1;
    for (int i = 0; i < 4; i++) {
        x1 = x0 + 2.0;
        if (fma_path && i == 3) {
            x0 = fma(x0, x1, 1.0);
        } else {
            x0 = x0 * x1;
        }
    }
    if (!fma_path)
        x0 = x0 + 1.0;
    /* fr * 2**e */
    int32_t b = e + 0x3ff;
    if (b >= 0x7ff)
        return INFINITY;
    if (b <= 0) {
        if (b < -52)
            return 0;
        uint64_t u = (uint64_t)(b + 0x3fe) << 52;
        double f;
        memcpy(&f, &u, sizeof f);
        x0 = x0 * f;
        b = 1;
    }
    uint64_t u = (uint64_t)b << 52;
    double f;
    memcpy(&f, &u, sizeof f);
    return x0 * f;
}

/* Go's math.Sinh and math.Cosh (src/math/sinh.go), which Prometheus'
 * sinh() and cosh() are, step for step over go_exp: above 21 Exp(x)/2, so
 * +Inf from x > 709.436 where C's sinh and cosh are finite up to 710.47;
 * between 0.5 and 21 (e^x -+ 1/e^x)/2; sinh below 0.5 a rational function
 * (Hart & Cheney #2029). Each operation is a statement of its own so that
 * no compiler fuses a multiply and an add, as Go does not on amd64. */
static double go_sinh(double x)
{
    static const double P0 = -0.6307673640497716991184787251e+6, P1 = -0.8991272022039509355398013511e+5,
                        P2 = -0.2894211355989563807284660366e+4, P3 = -0.2630563213397497062819489e+2,
                        Q0 = -0.6307673640497716991212077277e+6, Q1 = 0.1521517378790019070696485176e+5,
                        Q2 = -0.173678953558233699533450911e+3;
    bool sign = false;
    if (x < 0) {
        x = -x;
        sign = true;
    }
    double temp;
    if (x > 21) {
        temp = go_exp(x) * 0.5;
    } else if (x > 0.5) {
        double ex = go_exp(x);
        double inv = 1 / ex;
        double d = ex - inv;
        temp = d * 0.5;
    } else {
        double sq = x * x;
        double p = P3 * sq;
        p = p + P2;
        p = p * sq;
        p = p + P1;
        p = p * sq;
        p = p + P0;
        p = p * x;
        double q = sq + Q2;
        q = q * sq;
        q = q + Q1;
        q = q * sq;
        q = q + Q0;
        temp = p / q;
    }
    return sign ? -temp : temp;
}

static double go_cosh(double x)
{
    x = fabs(x);
    if (x > 21)
        return go_exp(x) * 0.5;
    double ex = go_exp(x);
    double inv = 1 / ex;
    double s = ex + inv;
    return s * 0.5;
}

typedef double (*unary_fn)(double);

static unary_fn math_fn(query_func_id id)
{
    switch (id) {
    case QUERY_FN_ABS: return fabs;
    case QUERY_FN_CEIL: return ceil;
    case QUERY_FN_FLOOR: return floor;
    case QUERY_FN_EXP: return exp;
    case QUERY_FN_SQRT: return sqrt;
    case QUERY_FN_LN: return log;
    case QUERY_FN_LOG2: return log2;
    case QUERY_FN_LOG10: return log10;
    case QUERY_FN_SIN: return sin;
    case QUERY_FN_COS: return cos;
    case QUERY_FN_TAN: return tan;
    case QUERY_FN_ASIN: return asin;
    case QUERY_FN_ACOS: return acos;
    case QUERY_FN_ATAN: return atan;
    case QUERY_FN_SINH: return go_sinh;
    case QUERY_FN_COSH: return go_cosh;
    case QUERY_FN_TANH: return tanh;
    case QUERY_FN_ASINH: return asinh;
    case QUERY_FN_ACOSH: return acosh;
    case QUERY_FN_ATANH: return atanh;
    case QUERY_FN_SGN: return sgn;
    case QUERY_FN_DEG: return deg;
    case QUERY_FN_RAD: return rad;
    default: return NULL;
    }
}

static bool date_fn(query_func_id id, qdate_fn *d)
{
    switch (id) {
    case QUERY_FN_DAYS_IN_MONTH: *d = QD_DAYS_IN_MONTH; return true;
    case QUERY_FN_DAY_OF_MONTH: *d = QD_DAY_OF_MONTH; return true;
    case QUERY_FN_DAY_OF_WEEK: *d = QD_DAY_OF_WEEK; return true;
    case QUERY_FN_DAY_OF_YEAR: *d = QD_DAY_OF_YEAR; return true;
    case QUERY_FN_HOUR: *d = QD_HOUR; return true;
    case QUERY_FN_MINUTE: *d = QD_MINUTE; return true;
    case QUERY_FN_MONTH: *d = QD_MONTH; return true;
    case QUERY_FN_YEAR: *d = QD_YEAR; return true;
    default: return false;
    }
}

static int eval_vector_arg(qctx *c, const query_node *n, qvalue *out)
{
    int rc = query_eval_node(c, n, out);
    if (rc == 0 && out->kind != QV_VECTOR) {
        query_value_free(c, out);
        return query_fail(c, QERR_BAD_DATA, "expected an instant vector argument");
    }
    return rc;
}

/* timestamp(selector): the time of the sample each step found. */
typedef struct ts_arg {
    qvalue *out;
    const int64_t *ts;
} ts_arg;

static int ts_scan_cb(qctx *c, void *argp, const strata_label *labels, size_t n_labels, const int64_t *t,
                      const double *v, size_t n)
{
    ts_arg *a = argp;
    qlabels raw = {(strata_label *)labels, n_labels}, lab;
    if (query_labels_drop_name(&raw, &lab) != 0)
        return query_nomem(c);
    qseries *s;
    int rc = query_vector_add(c, a->out, &lab, &s);
    if (rc) {
        query_labels_free(&lab);
        return rc;
    }
    /* the instant rule, with the sample's time as the value */
    size_t j = 0;
    for (size_t i = 0; i < a->out->n_steps; i++) {
        if (i && a->ts[i] < a->ts[i - 1])
            j = 0;
        while (j < n && t[j] <= a->ts[i])
            j++;
        if (j == 0)
            continue;
        size_t k = j - 1;
        if (t[k] <= a->ts[i] - c->lookback_ms || query_is_stale(v[k]))
            continue;
        s->v[i] = (double)t[k] / 1000;
        qbit_set(s->has, i);
    }
    return 0;
}

static int eval_timestamp(qctx *c, const query_node *arg, qvalue *out)
{
    const query_node *sel = query_unwrap(arg);
    if (sel->kind != QUERY_NODE_VECTOR_SELECTOR) {
        int rc = eval_vector_arg(c, arg, out);
        if (rc)
            return rc;
        for (size_t k = 0; k < out->n; k++)
            for (size_t i = 0; i < out->n_steps; i++)
                out->s[k].v[i] = (double)query_step_t(c, i) / 1000;
        if ((rc = query_vector_drop_names(c, out)) != 0)
            query_value_free(c, out);
        return rc;
    }
    int64_t off, *ts;
    int rc = query_duration_ms(c, sel->u.vs.offset_expr, sel->u.vs.offset_ms, &off);
    if (rc || (rc = query_sel_times(c, sel->u.vs.at, sel->u.vs.at_ms, off, &ts)) != 0)
        return rc;
    query_vector_init(c, out);
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < c->n_steps; i++) {
        lo = ts[i] < lo ? ts[i] : lo;
        hi = ts[i] > hi ? ts[i] : hi;
    }
    ts_arg a = {out, ts};
    if (c->n_steps)
        rc = query_scan(c, sel->u.vs.matchers, sel->u.vs.n_matchers, lo - c->lookback_ms + 1, hi, false,
                        ts_scan_cb, &a);
    base_free(ts);
    if (rc == 0) {
        query_vector_prune(c, out);
        rc = query_vector_dedupe(c, out);
    }
    if (rc)
        query_value_free(c, out);
    return rc;
}

static int eval_histogram_quantile(qctx *c, const query_node *n, qvalue *out);

static int scalar_of_vector(qctx *c, qvalue *v, qvalue *out)
{
    int rc = query_scalar_new(c, out, NAN);
    if (rc)
        return rc;
    for (size_t i = 0; i < c->n_steps; i++) {
        size_t found = 0;
        double val = NAN;
        for (size_t k = 0; k < v->n && found < 2; k++)
            if (qbit(v->s[k].has, i)) {
                found++;
                val = v->s[k].v[i];
            }
        out->scalar[i] = found == 1 ? val : NAN;
    }
    return 0;
}

int query_eval_label_replace(qctx *c, const query_node *n, qvalue *out); /* func_label.c */
int query_eval_label_join(qctx *c, const query_node *n, qvalue *out);

int query_eval_call(qctx *c, const query_node *n, qvalue *out)
{
    const query_func *f = n->u.call.func;
    query_node *const *args = n->u.call.args;
    size_t nargs = n->u.call.n_args;
    qrange_fn rfn;
    qdate_fn dfn;
    unary_fn ufn;
    int rc;
    if (f->histogram && f->id != QUERY_FN_HISTOGRAM_QUANTILE)
        return query_fail(c, QERR_BAD_DATA, "%s() needs native histograms, which strata does not store", f->name);
    if (range_fn_of(f->id, &rfn))
        return eval_range_call(c, n, rfn, out, NULL, NULL);
    if ((ufn = math_fn(f->id)) != NULL) {
        if ((rc = eval_vector_arg(c, args[0], out)) != 0)
            return rc;
        for (size_t k = 0; k < out->n; k++)
            for (size_t i = 0; i < out->n_steps; i++)
                out->s[k].v[i] = ufn(out->s[k].v[i]);
        if ((rc = query_vector_drop_names(c, out)) != 0)
            query_value_free(c, out);
        return rc;
    }
    if (date_fn(f->id, &dfn)) {
        if (nargs == 0) {
            query_vector_init(c, out);
            qlabels none = {0};
            qseries *s;
            if ((rc = query_vector_add(c, out, &none, &s)) != 0) {
                query_value_free(c, out);
                return rc;
            }
            for (size_t i = 0; i < c->n_steps; i++) {
                s->v[i] = query_date(dfn, (double)(query_step_t(c, i) / 1000));
                qbit_set(s->has, i);
            }
            return 0;
        }
        if ((rc = eval_vector_arg(c, args[0], out)) != 0)
            return rc;
        for (size_t k = 0; k < out->n; k++)
            for (size_t i = 0; i < out->n_steps; i++)
                out->s[k].v[i] = query_date(dfn, out->s[k].v[i]);
        if ((rc = query_vector_drop_names(c, out)) != 0)
            query_value_free(c, out);
        return rc;
    }
    switch (f->id) {
    case QUERY_FN_TIME:
        if ((rc = query_scalar_new(c, out, 0)) != 0)
            return rc;
        for (size_t i = 0; i < c->n_steps; i++)
            out->scalar[i] = (double)query_step_t(c, i) / 1000;
        return 0;
    case QUERY_FN_PI:
        return query_scalar_new(c, out, M_PI);
    case QUERY_FN_START:
        return query_scalar_new(c, out, (double)c->q_start_ms / 1000);
    case QUERY_FN_END:
        return query_scalar_new(c, out, (double)c->q_end_ms / 1000);
    case QUERY_FN_RANGE:
        return query_scalar_new(c, out, (double)(c->q_end_ms - c->q_start_ms) / 1000);
    case QUERY_FN_STEP:
        return query_scalar_new(c, out, (double)c->q_step_ms / 1000);
    case QUERY_FN_MIN_OF:
    case QUERY_FN_MAX_OF: {
        qvalue b;
        if ((rc = eval_scalar_arg(c, args[0], out)) != 0)
            return rc;
        if ((rc = eval_scalar_arg(c, args[1], &b)) != 0) {
            query_value_free(c, out);
            return rc;
        }
        for (size_t i = 0; i < c->n_steps; i++)
            out->scalar[i] = f->id == QUERY_FN_MIN_OF ? go_min(out->scalar[i], b.scalar[i])
                                                      : go_max(out->scalar[i], b.scalar[i]);
        query_value_free(c, &b);
        return 0;
    }
    case QUERY_FN_VECTOR: {
        qvalue sc;
        if ((rc = eval_scalar_arg(c, args[0], &sc)) != 0)
            return rc;
        query_vector_init(c, out);
        qlabels none = {0};
        qseries *s;
        if ((rc = query_vector_add(c, out, &none, &s)) != 0) {
            query_value_free(c, &sc);
            query_value_free(c, out);
            return rc;
        }
        memcpy(s->v, sc.scalar, c->n_steps * sizeof(double));
        for (size_t i = 0; i < c->n_steps; i++)
            qbit_set(s->has, i);
        query_value_free(c, &sc);
        return 0;
    }
    case QUERY_FN_SCALAR: {
        qvalue v;
        if ((rc = eval_vector_arg(c, args[0], &v)) != 0)
            return rc;
        rc = scalar_of_vector(c, &v, out);
        query_value_free(c, &v);
        return rc;
    }
    case QUERY_FN_TIMESTAMP:
        return eval_timestamp(c, args[0], out);
    case QUERY_FN_SORT:
    case QUERY_FN_SORT_DESC:
    case QUERY_FN_SORT_BY_LABEL:
    case QUERY_FN_SORT_BY_LABEL_DESC:
        /* order matters only for an instant query's answer (result.c) */
        return eval_vector_arg(c, args[0], out);
    case QUERY_FN_ABSENT: {
        qvalue v;
        if ((rc = eval_vector_arg(c, args[0], &v)) != 0)
            return rc;
        query_vector_init(c, out);
        qlabels lab;
        qseries *s = NULL;
        if ((rc = absent_labels(c, args[0], &lab)) == 0 && (rc = query_vector_add(c, out, &lab, &s)) != 0)
            query_labels_free(&lab);
        for (size_t i = 0; rc == 0 && i < c->n_steps; i++) {
            bool any = false;
            for (size_t k = 0; k < v.n && !any; k++)
                any = qbit(v.s[k].has, i);
            if (!any) {
                s->v[i] = 1;
                qbit_set(s->has, i);
            }
        }
        query_value_free(c, &v);
        if (rc == 0)
            query_vector_prune(c, out);
        else
            query_value_free(c, out);
        return rc;
    }
    case QUERY_FN_CLAMP:
    case QUERY_FN_CLAMP_MAX:
    case QUERY_FN_CLAMP_MIN:
    case QUERY_FN_ROUND: {
        qvalue a, b;
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        size_t want = f->id == QUERY_FN_CLAMP ? 2 : 1;
        if (f->id == QUERY_FN_ROUND && nargs < 2)
            want = 0;
        if ((rc = eval_vector_arg(c, args[0], out)) != 0)
            return rc;
        if (want >= 1 && (rc = eval_scalar_arg(c, args[1], &a)) != 0)
            goto clamp_out;
        if (want >= 2 && (rc = eval_scalar_arg(c, args[2], &b)) != 0)
            goto clamp_out;
        for (size_t i = 0; i < c->n_steps; i++) {
            double lo = -INFINITY, hi = INFINITY;
            if (f->id == QUERY_FN_CLAMP) {
                lo = a.scalar[i];
                hi = b.scalar[i];
            } else if (f->id == QUERY_FN_CLAMP_MAX) {
                hi = a.scalar[i];
            } else if (f->id == QUERY_FN_CLAMP_MIN) {
                lo = a.scalar[i];
            }
            for (size_t k = 0; k < out->n; k++) {
                double *x = &out->s[k].v[i];
                if (f->id == QUERY_FN_ROUND) {
                    double inv = 1.0 / (want ? a.scalar[i] : 1.0);
                    *x = floor(*x * inv + 0.5) / inv;
                } else if (f->id == QUERY_FN_CLAMP && hi < lo) {
                    qbit_clr(out->s[k].has, i);
                } else if (f->id == QUERY_FN_CLAMP) {
                    *x = go_max(lo, go_min(hi, *x));
                } else if (f->id == QUERY_FN_CLAMP_MAX) {
                    *x = go_min(hi, *x);
                } else {
                    *x = go_max(lo, *x);
                }
            }
        }
        query_vector_prune(c, out);
        rc = query_vector_drop_names(c, out);
    clamp_out:
        query_value_free(c, &a);
        query_value_free(c, &b);
        if (rc)
            query_value_free(c, out);
        return rc;
    }
    case QUERY_FN_HISTOGRAM_QUANTILE:
        return eval_histogram_quantile(c, n, out);
    case QUERY_FN_LABEL_REPLACE:
        return query_eval_label_replace(c, n, out);
    case QUERY_FN_LABEL_JOIN:
        return query_eval_label_join(c, n, out);
    case QUERY_FN_INFO:
        return query_eval_info(c, n, out);
    default:
        return query_fail(c, QERR_BAD_DATA, "function %s is not supported", f->name);
    }
}

/* ------------------------------------------------------------ histogram_quantile */

static int eval_histogram_quantile(qctx *c, const query_node *n, qvalue *out)
{
    qvalue q, in;
    int rc = eval_scalar_arg(c, n->u.call.args[0], &q);
    if (rc)
        return rc;
    if ((rc = eval_vector_arg(c, n->u.call.args[1], &in)) != 0) {
        query_value_free(c, &q);
        return rc;
    }
    query_vector_init(c, out);
    qmap map = {0};
    qkey key = {0};
    uint32_t *group = NULL;
    qbucket *bk = NULL;
    size_t n_groups = 0;
    static const char *const le_name[] = {"le"};
    for (size_t i = 0; i < c->n_steps; i++) {
        double qq = q.scalar[i];
        if (isnan(qq) || qq < 0 || qq > 1) {
            rc = query_warn(c, "PromQL warning: quantile value should be between 0 and 1, got %g", qq);
            break;
        }
    }
    group = base_malloc((in.n ? in.n : 1) * sizeof *group);
    bk = base_malloc((in.n ? in.n : 1) * sizeof *bk);
    double *le = base_malloc((in.n ? in.n : 1) * sizeof *le);
    if (!group || !bk || !le)
        rc = query_nomem(c);
    /* group the buckets by their labels without le (and without the name) */
    for (size_t k = 0; rc == 0 && k < in.n; k++) {
        const char *les = query_labels_get(&in.s[k].lab, "le");
        char *end = NULL;
        le[k] = les ? strtod(les, &end) : NAN;
        if (!les || end == les || *end) {
            /* Go's ParseFloat also takes "+Inf", "Inf", "inf": strtod does */
            group[k] = UINT32_MAX;
            rc = query_warn(c, "PromQL warning: bucket label \"le\" is missing or has a malformed value of \"%s\"",
                            les ? les : "");
            continue;
        }
        /* grouped with the name, as Prometheus; dropping it afterwards may
         * make two groups collide, which dedupe refuses */
        if ((rc = query_key_build(&key, &in.s[k].lab, le_name, 1, false, false)) != 0) {
            rc = query_nomem(c);
            break;
        }
        int found;
        uint32_t g;
        if ((rc = query_map_get_or_add(&map, key.p, key.len, (uint32_t)n_groups, &g, &found)) != 0) {
            rc = query_nomem(c);
            break;
        }
        group[k] = g;
        if (!found) {
            qlabels lab, lab2;
            if (query_labels_drop_name(&in.s[k].lab, &lab) != 0) {
                rc = query_nomem(c);
                break;
            }
            rc = query_labels_set(&lab, "le", "", &lab2);
            query_labels_free(&lab);
            if (rc) {
                rc = query_nomem(c);
                break;
            }
            qseries *s;
            if ((rc = query_vector_add(c, out, &lab2, &s)) != 0) {
                query_labels_free(&lab2);
                break;
            }
            n_groups++;
        }
    }
    /* per group and step: collect the buckets present */
    size_t *members = NULL, *start = NULL;
    if (rc == 0) {
        members = base_malloc((in.n ? in.n : 1) * sizeof *members);
        start = base_calloc(n_groups + 1, sizeof *start);
        if (!members || !start)
            rc = query_nomem(c);
    }
    if (rc == 0) {
        for (size_t k = 0; k < in.n; k++)
            if (group[k] != UINT32_MAX)
                start[group[k] + 1]++;
        for (size_t g = 0; g < n_groups; g++)
            start[g + 1] += start[g];
        size_t *fill = base_malloc((n_groups ? n_groups : 1) * sizeof *fill);
        if (!fill) {
            rc = query_nomem(c);
        } else {
            memcpy(fill, start, n_groups * sizeof *fill);
            for (size_t k = 0; k < in.n; k++)
                if (group[k] != UINT32_MAX)
                    members[fill[group[k]]++] = k;
            base_free(fill);
        }
    }
    bool forced_any = false;
    for (size_t g = 0; rc == 0 && g < n_groups; g++) {
        qseries *o = &out->s[g];
        for (size_t i = 0; i < c->n_steps; i++) {
            size_t nb = 0;
            for (size_t m = start[g]; m < start[g + 1]; m++) {
                size_t k = members[m];
                if (qbit(in.s[k].has, i))
                    bk[nb++] = (qbucket){le[k], in.s[k].v[i]};
            }
            if (nb == 0)
                continue;
            bool forced;
            o->v[i] = query_bucket_quantile(q.scalar[i], bk, nb, &forced);
            qbit_set(o->has, i);
            forced_any |= forced;
        }
        if ((rc = query_check(c)) != 0)
            break;
    }
    if (rc == 0 && forced_any)
        rc = query_warn(c, "PromQL info: input to histogram_quantile needed to be fixed for monotonicity "
                           "(see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)");
    base_free(members);
    base_free(start);
    base_free(le);
    base_free(group);
    base_free(bk);
    query_map_free(&map);
    query_key_free(&key);
    query_value_free(c, &q);
    query_value_free(c, &in);
    if (rc == 0) {
        query_vector_prune(c, out);
        rc = query_vector_dedupe(c, out);
    }
    if (rc)
        query_value_free(c, out);
    return rc;
}
