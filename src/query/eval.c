/*
 * eval.c: the evaluator's walk over the tree of ast.h.
 *
 * Each node is evaluated once over the current grid (eval_int.h); a
 * subquery swaps in its own grid (Prometheus' alignment: the first
 * multiple of the step after start - offset - range), evaluates its
 * expression there, and hands its points up as a matrix whose windows end
 * at each outer step's time minus the offset. Selectors compute per step
 * the time they look at, (@ or the step's time) minus the offset, and read
 * each series once for all steps (eval_select.c). Operators, aggregations
 * and functions live in binop.c, agg.c and func*.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "eval_int.h"

/* ------------------------------------------------------------ durations */

static int duration_secs(qctx *c, const query_node *n, double *out)
{
    if (!n)
        return query_fail(c, QERR_BAD_DATA, "missing duration");
    switch (n->kind) {
    case QUERY_NODE_NUMBER:
        *out = n->u.number.value;
        return 0;
    case QUERY_NODE_PAREN:
        return duration_secs(c, n->u.paren.expr, out);
    case QUERY_NODE_DURATION:
        break;
    default:
        return query_fail(c, QERR_BAD_DATA, "unexpected expression in a duration");
    }
    double a = 0, b = 0;
    int rc;
    switch (n->u.duration.op) {
    case QUERY_OP_STEP:
        *out = (double)c->q_step_ms / 1000;
        return 0;
    case QUERY_OP_RANGE:
        *out = (double)(c->q_end_ms - c->q_start_ms) / 1000;
        return 0;
    default:
        break;
    }
    if (n->u.duration.lhs && (rc = duration_secs(c, n->u.duration.lhs, &a)) != 0)
        return rc;
    if ((rc = duration_secs(c, n->u.duration.rhs, &b)) != 0)
        return rc;
    switch (n->u.duration.op) {
    case QUERY_OP_ADD:
        *out = a + b;
        break;
    case QUERY_OP_SUB:
        *out = a - b;
        break;
    case QUERY_OP_MUL:
        *out = a * b;
        break;
    case QUERY_OP_DIV:
        if (b == 0)
            return query_fail(c, QERR_BAD_DATA, "division by zero");
        *out = a / b;
        break;
    case QUERY_OP_MOD:
        if (b == 0)
            return query_fail(c, QERR_BAD_DATA, "modulo by zero");
        *out = fmod(a, b);
        break;
    case QUERY_OP_POW:
        *out = pow(a, b);
        break;
    case QUERY_OP_MIN_OF:
        *out = fmin(a, b);
        break;
    case QUERY_OP_MAX_OF:
        *out = fmax(a, b);
        break;
    default:
        return query_fail(c, QERR_BAD_DATA, "unexpected operator in a duration");
    }
    return 0;
}

int query_duration_ms(qctx *c, const query_node *expr, int64_t constant, int64_t *out)
{
    if (!expr) {
        *out = constant;
        return 0;
    }
    double s = 0;
    int rc = duration_secs(c, expr, &s);
    if (rc)
        return rc;
    double ms = s * 1000;
    if (!(ms > -9.2e18 && ms < 9.2e18))
        return query_fail(c, QERR_BAD_DATA, "duration out of range");
    *out = (int64_t)ms;
    return 0;
}

/* ------------------------------------------------------------ times */

static int64_t at_time(const qctx *c, query_at at, int64_t at_ms)
{
    switch (at) {
    case QUERY_AT_START:
        return c->q_start_ms;
    case QUERY_AT_END:
        return c->q_end_ms;
    default:
        return at_ms;
    }
}

int query_sel_times(qctx *c, query_at at, int64_t at_ms, int64_t offset_ms, int64_t **out)
{
    int64_t *ts = base_malloc((c->n_steps ? c->n_steps : 1) * sizeof *ts);
    if (!ts)
        return query_nomem(c);
    int64_t fixed = at_time(c, at, at_ms);
    for (size_t i = 0; i < c->n_steps; i++) {
        int64_t base = at == QUERY_AT_NONE ? query_step_t(c, i) : fixed;
        /* times stay within +-2^62 ms and widths within 2^61 ms, so no
         * window arithmetic further down can overflow */
        if (__builtin_sub_overflow(base, offset_ms, &ts[i]) || ts[i] > QUERY_MAX_ABS_MS || ts[i] < -QUERY_MAX_ABS_MS) {
            base_free(ts);
            return query_fail(c, QERR_BAD_DATA, "timestamp out of range (offset or @ too large)");
        }
    }
    *out = ts;
    return 0;
}

const query_node *query_unwrap(const query_node *n)
{
    while (n && n->kind == QUERY_NODE_PAREN)
        n = n->u.paren.expr;
    return n;
}

/* ------------------------------------------------------------ selectors */

/* anchored on an instant selector has no meaning strata knows: refused
 * rather than answered as a plain selector. */
static int check_extended(qctx *c, const query_node *vs)
{
    if (vs->u.vs.anchored)
        return query_fail(c, QERR_BAD_DATA, "the anchored modifier is not supported on an instant vector selector");
    return 0;
}

static int eval_vector_selector(qctx *c, const query_node *n, qvalue *out)
{
    int64_t off = 0;
    int rc = check_extended(c, n);
    if (rc)
        return rc;
    rc = query_duration_ms(c, n->u.vs.offset_expr, n->u.vs.offset_ms, &off);
    if (rc)
        return rc;
    int64_t *ts;
    if ((rc = query_sel_times(c, n->u.vs.at, n->u.vs.at_ms, off, &ts)) != 0)
        return rc;
    if (n->u.vs.smoothed)
        rc = query_select_vector_smoothed(c, n->u.vs.matchers, n->u.vs.n_matchers, ts, out);
    else
        rc = query_select_vector(c, n->u.vs.matchers, n->u.vs.n_matchers, ts, out);
    base_free(ts);
    return rc;
}

typedef struct vstream {
    const int64_t *ts;
    query_series_sink sink;
    void *arg;
    double *v;
    uint64_t *has;
} vstream;

static int vstream_series(qctx *c, vstream *a, const strata_label *labels, size_t n_labels, const int64_t *t,
                          const double *v, size_t n, const strata_agg *rows, size_t n_rows)
{
    memset(a->has, 0, qbit_words(c->n_steps) * sizeof *a->has);
    if (rows)
        query_instant_rows(c, a->ts, c->n_steps, rows, n_rows, t, v, n, a->v, a->has);
    else
        query_instant_points(c, a->ts, c->n_steps, t, v, n, a->v, a->has);
    bool any = false;
    for (size_t w = 0; w < qbit_words(c->n_steps) && !any; w++)
        any = a->has[w] != 0;
    if (!any)
        return 0;
    qlabels lab = {(strata_label *)labels, n_labels};
    return a->sink(c, a->arg, &lab, a->v, a->has);
}

static int vstream_cb(qctx *c, void *argp, const strata_label *labels, size_t n_labels, const int64_t *t,
                      const double *v, size_t n)
{
    return vstream_series(c, argp, labels, n_labels, t, v, n, NULL, 0);
}

static int vstream_rows_cb(qctx *c, void *argp, const strata_label *labels, size_t n_labels, const strata_agg *rows,
                           size_t n_rows, const int64_t *t, const double *v, size_t n)
{
    return vstream_series(c, argp, labels, n_labels, t, v, n, rows, n_rows);
}

int query_select_stream(qctx *c, const query_node *n, query_series_sink sink, void *arg)
{
    int64_t off = 0, *ts = NULL;
    int rc = check_extended(c, n);
    if (rc == 0)
        rc = query_duration_ms(c, n->u.vs.offset_expr, n->u.vs.offset_ms, &off);
    if (rc == 0)
        rc = query_sel_times(c, n->u.vs.at, n->u.vs.at_ms, off, &ts);
    if (rc)
        return rc;
    vstream a = {ts, sink, arg, NULL, NULL};
    a.v = base_malloc((c->n_steps ? c->n_steps : 1) * sizeof *a.v);
    a.has = base_calloc(qbit_words(c->n_steps ? c->n_steps : 1), sizeof *a.has);
    if (!a.v || !a.has)
        rc = query_nomem(c);
    if (rc == 0 && c->n_steps) {
        int64_t lo = ts[0], hi = ts[0];
        for (size_t i = 1; i < c->n_steps; i++) {
            lo = ts[i] < lo ? ts[i] : lo;
            hi = ts[i] > hi ? ts[i] : hi;
        }
        int64_t mint;
        if (__builtin_sub_overflow(lo, query_instant_reach(c), &mint))
            mint = INT64_MIN;
        if (mint < INT64_MAX)
            mint++;
        bool rows = query_instant_reach(c) != c->lookback_ms; /* downsampled data may be read */
        rc = query_scan_ex(c, n->u.vs.matchers, n->u.vs.n_matchers, mint, hi, false, rows ? INT64_MAX : 0,
                           STRATA_AGG_LAST, vstream_cb, rows ? vstream_rows_cb : NULL, &a);
    }
    base_free(a.v);
    base_free(a.has);
    base_free(ts);
    return rc;
}

/* Window ends (per step) and range of a matrix argument, without reading. */
int query_matrix_windows(qctx *c, const query_node *n, int64_t **wend, int64_t *range_ms)
{
    n = query_unwrap(n);
    int rc;
    if (n->kind == QUERY_NODE_MATRIX_SELECTOR) {
        const query_node *vs = n->u.matrix.vs;
        int64_t off = 0;
        if ((rc = query_duration_ms(c, n->u.matrix.range_expr, n->u.matrix.range_ms, range_ms)) != 0 ||
            (rc = query_duration_ms(c, vs->u.vs.offset_expr, vs->u.vs.offset_ms, &off)) != 0)
            return rc;
        if (*range_ms <= 0)
            return query_fail(c, QERR_BAD_DATA, "range must be greater than 0");
        if (*range_ms > QUERY_MAX_WIDTH_MS)
            return query_fail(c, QERR_BAD_DATA, "range too large");
        return query_sel_times(c, vs->u.vs.at, vs->u.vs.at_ms, off, wend);
    }
    if (n->kind == QUERY_NODE_SUBQUERY) {
        int64_t off = 0;
        if ((rc = query_duration_ms(c, n->u.subquery.range_expr, n->u.subquery.range_ms, range_ms)) != 0 ||
            (rc = query_duration_ms(c, n->u.subquery.offset_expr, n->u.subquery.offset_ms, &off)) != 0)
            return rc;
        if (*range_ms <= 0 || *range_ms > QUERY_MAX_WIDTH_MS)
            return query_fail(c, QERR_BAD_DATA, "subquery range out of bounds");
        return query_sel_times(c, n->u.subquery.at, n->u.subquery.at_ms, off, wend);
    }
    return query_fail(c, QERR_BAD_DATA, "expected a range vector");
}

static int eval_matrix_selector(qctx *c, const query_node *n, qvalue *out)
{
    int64_t *wend = NULL, range = 0;
    int rc = query_matrix_windows(c, n, &wend, &range);
    if (rc)
        return rc;
    const query_node *vs = n->u.matrix.vs;
    qext ext = vs->u.vs.anchored ? QEXT_ANCHORED : vs->u.vs.smoothed ? QEXT_SMOOTHED : QEXT_NONE;
    rc = query_select_matrix(c, vs->u.vs.matchers, vs->u.vs.n_matchers, wend, range,
                             ext != QEXT_NONE ? c->lookback_ms : 0, ext == QEXT_SMOOTHED ? c->lookback_ms : 0, out);
    base_free(wend);
    if (rc == 0 && ext != QEXT_NONE && (rc = query_matrix_extend(c, out, ext == QEXT_SMOOTHED)) != 0)
        query_value_free(c, out);
    return rc;
}

/* ------------------------------------------------------------ subqueries */

int query_eval_subquery(qctx *c, const query_node *n, qvalue *out)
{
    int64_t range = 0, off = 0, step = 0, *wend = NULL;
    int rc;
    if ((rc = query_duration_ms(c, n->u.subquery.range_expr, n->u.subquery.range_ms, &range)) != 0 ||
        (rc = query_duration_ms(c, n->u.subquery.offset_expr, n->u.subquery.offset_ms, &off)) != 0 ||
        (rc = query_duration_ms(c, n->u.subquery.step_expr, n->u.subquery.step_ms, &step)) != 0)
        return rc;
    if (step == 0)
        step = c->subquery_step_ms;
    if (step <= 0)
        return query_fail(c, QERR_BAD_DATA, "subquery step must be greater than 0");
    if (range <= 0)
        return query_fail(c, QERR_BAD_DATA, "subquery range must be greater than 0");
    if (range > QUERY_MAX_WIDTH_MS || step > QUERY_MAX_WIDTH_MS)
        return query_fail(c, QERR_BAD_DATA, "subquery range or step too large");
    if ((rc = query_sel_times(c, n->u.subquery.at, n->u.subquery.at_ms, off, &wend)) != 0)
        return rc;
    if ((rc = query_matrix_init(c, wend, range, out)) != 0) {
        base_free(wend);
        return rc;
    }
    if (c->n_steps == 0) {
        base_free(wend);
        return 0;
    }
    /* the outer times (minus offset) span [lo, hi] */
    int64_t lo = wend[0], hi = wend[0];
    for (size_t i = 1; i < c->n_steps; i++) {
        lo = wend[i] < lo ? wend[i] : lo;
        hi = wend[i] > hi ? wend[i] : hi;
    }
    base_free(wend);
    int64_t from = lo - range;
    int64_t start = step * (from / step);
    if (start <= from)
        start += step;
    if (hi < start)
        return 0; /* no inner step */
    uint64_t n_inner = (uint64_t)((hi - start) / step) + 1;
    if (n_inner > 50000000 || (c->max_samples && n_inner > c->max_samples))
        return query_fail(c, QERR_TOO_MANY,
                          "query processing would load too many samples into memory in query execution");

    int64_t s_start = c->start_ms, s_step = c->step_ms;
    size_t s_n = c->n_steps;
    c->start_ms = start;
    c->step_ms = step;
    c->n_steps = (size_t)n_inner;
    qvalue in;
    memset(&in, 0, sizeof in);
    rc = query_eval_node(c, n->u.subquery.expr, &in);
    size_t inner_n = c->n_steps;
    c->start_ms = s_start;
    c->step_ms = s_step;
    c->n_steps = s_n;
    if (rc)
        goto fail;
    if (in.kind == QV_SCALAR) {
        /* a scalar subquery: one series without labels */
        qvalue v;
        query_vector_init(c, &v);
        v.n_steps = inner_n;
        qlabels none = {0};
        qseries *s;
        if ((rc = query_vector_add(c, &v, &none, &s)) != 0) {
            query_value_free(c, &v);
            goto fail;
        }
        memcpy(s->v, in.scalar, inner_n * sizeof(double));
        for (size_t i = 0; i < inner_n; i++)
            qbit_set(s->has, i);
        query_value_free(c, &in);
        in = v;
    }
    if (in.kind != QV_VECTOR) {
        rc = query_fail(c, QERR_BAD_DATA, "subquery is only allowed on instant vector");
        goto fail;
    }
    out->ms = base_calloc(in.n ? in.n : 1, sizeof *out->ms);
    if (!out->ms) {
        rc = query_nomem(c);
        goto fail;
    }
    out->cap = in.n;
    for (size_t k = 0; k < in.n; k++) {
        qseries *s = &in.s[k];
        size_t cnt = query_series_count(s, inner_n);
        if (cnt == 0)
            continue;
        qmseries *m = &out->ms[out->n];
        m->t = base_malloc(cnt * sizeof *m->t);
        m->v = base_malloc(cnt * sizeof *m->v);
        if (!m->t || !m->v) {
            base_free(m->t);
            base_free(m->v);
            m->t = NULL;
            m->v = NULL;
            rc = query_nomem(c);
            goto fail;
        }
        m->lab = s->lab;
        s->lab.v = NULL;
        s->lab.n = 0;
        for (size_t i = 0; i < inner_n; i++)
            if (qbit(s->has, i)) {
                m->t[m->n] = start + (int64_t)i * step;
                m->v[m->n] = s->v[i];
                m->n++;
            }
        out->n++;
        out->samples += cnt;
        if ((rc = query_charge(c, cnt)) != 0)
            goto fail;
    }
    query_value_free(c, &in);
    return 0;
fail:
    query_value_free(c, &in);
    query_value_free(c, out);
    return rc;
}

/* ------------------------------------------------------------ the walk */

static int eval_unary(qctx *c, const query_node *n, qvalue *out)
{
    int rc = query_eval_node(c, n->u.unary.expr, out);
    if (rc || n->u.unary.op != QUERY_OP_SUB)
        return rc;
    if (out->kind == QV_SCALAR) {
        for (size_t i = 0; i < out->n_steps; i++)
            out->scalar[i] = -out->scalar[i];
        return 0;
    }
    if (out->kind != QV_VECTOR) {
        query_value_free(c, out);
        return query_fail(c, QERR_BAD_DATA, "unary expression only allowed on expressions of type scalar or instant vector");
    }
    for (size_t k = 0; k < out->n; k++)
        for (size_t i = 0; i < out->n_steps; i++)
            out->s[k].v[i] = -out->s[k].v[i];
    if ((rc = query_vector_drop_names(c, out)) != 0)
        query_value_free(c, out);
    return rc;
}

int query_eval_node(qctx *c, const query_node *n, qvalue *out)
{
    memset(out, 0, sizeof *out);
    int rc = query_check(c);
    if (rc)
        return rc;
    if (++c->depth > 2000) {
        c->depth--;
        return query_fail(c, QERR_BAD_DATA, "expression nests too deeply");
    }
    switch (n->kind) {
    case QUERY_NODE_NUMBER:
        rc = query_scalar_new(c, out, n->u.number.value);
        break;
    case QUERY_NODE_STRING:
        out->kind = QV_STRING;
        out->n_steps = c->n_steps;
        out->str = base_strndup(n->u.string.value, n->u.string.len);
        rc = out->str ? 0 : query_nomem(c);
        break;
    case QUERY_NODE_PAREN:
        rc = query_eval_node(c, n->u.paren.expr, out);
        break;
    case QUERY_NODE_UNARY:
        rc = eval_unary(c, n, out);
        break;
    case QUERY_NODE_BINARY:
        rc = query_eval_binary(c, n, out);
        break;
    case QUERY_NODE_AGGREGATE:
        rc = query_eval_aggregate(c, n, out);
        break;
    case QUERY_NODE_CALL:
        rc = query_eval_call(c, n, out);
        break;
    case QUERY_NODE_VECTOR_SELECTOR:
        rc = eval_vector_selector(c, n, out);
        break;
    case QUERY_NODE_MATRIX_SELECTOR:
        rc = eval_matrix_selector(c, n, out);
        break;
    case QUERY_NODE_SUBQUERY:
        rc = query_eval_subquery(c, n, out);
        break;
    case QUERY_NODE_DURATION: {
        int64_t ms;
        rc = query_duration_ms(c, n, 0, &ms);
        if (rc == 0)
            rc = query_scalar_new(c, out, (double)ms / 1000);
        break;
    }
    default:
        rc = query_fail(c, QERR_BAD_DATA, "unknown expression");
    }
    c->depth--;
    return rc;
}
