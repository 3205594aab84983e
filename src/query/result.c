/*
 * result.c: strata_result, the answer handed to the caller, built from the
 * evaluator's value over the grid, and its accessors.
 *
 * One allocation per series for its points; labels are the value's label
 * sets taken over. Instant vectors are sorted by labels unless the query
 * asked for an order (sort*, topk/bottomk); range answers are sorted by
 * labels, as Prometheus sorts a matrix.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "eval_int.h"

typedef struct rseries {
    qlabels lab;
    strata_point *p;
    size_t n;
    double key; /* sort key for sort() / sort_desc() */
} rseries;

struct strata_result {
    strata_value_type type;
    rseries *s;
    size_t n;
    double scalar;
    int64_t t_ms;
    char *str;
    char **warnings;
    size_t n_warnings;
    strata_query_stats stats;
};

void strata_result_free(strata_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        query_labels_free(&r->s[i].lab);
        base_free(r->s[i].p);
    }
    base_free(r->s);
    base_free(r->str);
    for (size_t i = 0; i < r->n_warnings; i++)
        base_free(r->warnings[i]);
    base_free(r->warnings);
    base_free(r);
}

strata_value_type strata_result_type(const strata_result *r) { return r->type; }
size_t strata_result_series_count(const strata_result *r) { return r->n; }

void strata_result_series(const strata_result *r, size_t i, strata_query_series *out)
{
    out->labels = r->s[i].lab.v;
    out->n_labels = r->s[i].lab.n;
    out->points = r->s[i].p;
    out->n_points = r->s[i].n;
}

double strata_result_scalar(const strata_result *r, int64_t *t_ms)
{
    if (t_ms)
        *t_ms = r->type == STRATA_VALUE_SCALAR ? r->t_ms : 0;
    return r->type == STRATA_VALUE_SCALAR ? r->scalar : NAN;
}

const char *strata_result_string(const strata_result *r, int64_t *t_ms)
{
    if (t_ms)
        *t_ms = r->type == STRATA_VALUE_STRING ? r->t_ms : 0;
    return r->type == STRATA_VALUE_STRING ? r->str : NULL;
}

size_t strata_result_warning_count(const strata_result *r) { return r->n_warnings; }
const char *strata_result_warning(const strata_result *r, size_t i) { return i < r->n_warnings ? r->warnings[i] : NULL; }
void strata_result_stats(const strata_result *r, strata_query_stats *out) { *out = r->stats; }
void query_result_set_eval_ns(strata_result *r, int64_t ns) { r->stats.eval_ns = ns; }

/* ------------------------------------------------------------ building */

static int cmp_labels(const void *a, const void *b)
{
    return query_labels_cmp(&((const rseries *)a)->lab, &((const rseries *)b)->lab);
}

/* sort(): ascending, NaN last; sort_desc(): descending, NaN last (Go's
 * vectorByValueHeap / vectorByReverseValueHeap reversed). */
static int cmp_asc(const void *a, const void *b)
{
    double x = ((const rseries *)a)->key, y = ((const rseries *)b)->key;
    if (isnan(x) || isnan(y))
        return isnan(x) - isnan(y);
    return x < y ? -1 : x > y;
}

static int cmp_desc(const void *a, const void *b)
{
    double x = ((const rseries *)a)->key, y = ((const rseries *)b)->key;
    if (isnan(x) || isnan(y))
        return isnan(x) - isnan(y);
    return x > y ? -1 : x < y;
}

static int cmp_by_label(const void *a, const void *b, void *ctx)
{
    const qlabels *x = &((const rseries *)a)->lab, *y = &((const rseries *)b)->lab;
    const query_node *n = ctx;
    bool sort_labels_desc = n->u.call.func->id == QUERY_FN_SORT_BY_LABEL_DESC;
    for (size_t i = 1; i < n->u.call.n_args; i++) {
        const query_node *arg = query_unwrap(n->u.call.args[i]);
        const char *name = arg->kind == QUERY_NODE_STRING ? arg->u.string.value : "";
        const char *v1 = query_labels_get(x, name), *v2 = query_labels_get(y, name);
        v1 = v1 ? v1 : "";
        v2 = v2 ? v2 : "";
        if (strcmp(v1, v2) == 0)
            continue;
        bool less = query_natsort_less(v1, v2);
        return (less ? -1 : 1) * (sort_labels_desc ? -1 : 1);
    }
    return query_labels_cmp(x, y) * (sort_labels_desc ? -1 : 1);
}

int query_result_build(qctx *c, qvalue *v, const query_node *root, bool instant, strata_result **out)
{
    strata_result *r = base_calloc(1, sizeof *r);
    if (!r)
        return query_nomem(c);
    int rc = 0;
    r->t_ms = c->start_ms;
    switch (v->kind) {
    case QV_SCALAR:
        if (instant) {
            r->type = STRATA_VALUE_SCALAR;
            r->scalar = v->scalar[0];
            break;
        }
        r->type = STRATA_VALUE_MATRIX;
        r->s = base_calloc(1, sizeof *r->s);
        if (!r->s || !(r->s[0].p = base_malloc((c->n_steps ? c->n_steps : 1) * sizeof(strata_point)))) {
            rc = query_nomem(c);
            break;
        }
        r->n = 1;
        for (size_t i = 0; i < c->n_steps; i++)
            r->s[0].p[i] = (strata_point){query_step_t(c, i), v->scalar[i]};
        r->s[0].n = c->n_steps;
        break;
    case QV_STRING:
        r->type = STRATA_VALUE_STRING;
        r->str = v->str;
        v->str = NULL;
        break;
    case QV_VECTOR:
        r->type = instant ? STRATA_VALUE_VECTOR : STRATA_VALUE_MATRIX;
        r->s = base_calloc(v->n ? v->n : 1, sizeof *r->s);
        if (!r->s) {
            rc = query_nomem(c);
            break;
        }
        for (size_t k = 0; k < v->n; k++) {
            size_t cnt = query_series_count(&v->s[k], c->n_steps);
            if (!cnt)
                continue;
            rseries *o = &r->s[r->n];
            if (!(o->p = base_malloc(cnt * sizeof *o->p))) {
                rc = query_nomem(c);
                break;
            }
            for (size_t i = 0; i < c->n_steps; i++)
                if (qbit(v->s[k].has, i))
                    o->p[o->n++] = (strata_point){query_step_t(c, i), v->s[k].v[i]};
            o->key = o->p[0].value;
            o->lab = v->s[k].lab;
            v->s[k].lab.v = NULL;
            v->s[k].lab.n = 0;
            r->n++;
        }
        break;
    case QV_MATRIX:
        r->type = STRATA_VALUE_MATRIX;
        r->s = base_calloc(v->n ? v->n : 1, sizeof *r->s);
        if (!r->s) {
            rc = query_nomem(c);
            break;
        }
        for (size_t k = 0; k < v->n; k++) {
            qmseries *m = &v->ms[k];
            /* the window of the (single) step */
            int64_t we = v->wend[0], ws = we - v->range_ms;
            if (v->windowed) {
                ws = INT64_MIN;
                we = INT64_MAX;
            }
            size_t cnt = 0;
            for (size_t j = 0; j < m->n; j++)
                cnt += m->t[j] > ws && m->t[j] <= we;
            if (!cnt)
                continue;
            rseries *o = &r->s[r->n];
            if (!(o->p = base_malloc(cnt * sizeof *o->p))) {
                rc = query_nomem(c);
                break;
            }
            for (size_t j = 0; j < m->n; j++)
                if (m->t[j] > ws && m->t[j] <= we)
                    o->p[o->n++] = (strata_point){m->t[j], m->v[j]};
            o->lab = m->lab;
            m->lab.v = NULL;
            m->lab.n = 0;
            r->n++;
        }
        break;
    default:
        rc = query_fail(c, QERR_BAD_DATA, "expression has no value");
    }
    if (rc) {
        strata_result_free(r);
        return rc;
    }
    if (c->max_series && r->n > c->max_series) {
        size_t n = r->n;
        strata_result_free(r);
        return query_fail(c, QERR_EXECUTION, "query returned %zu series, more than the limit of %llu", n,
                          (unsigned long long)c->max_series);
    }
    /* order */
    const query_node *top = query_unwrap(root);
    if (r->n < 2) {
        /* nothing to order */
    } else if (r->type == STRATA_VALUE_VECTOR && top->kind == QUERY_NODE_CALL) {
        switch (top->u.call.func->id) {
        case QUERY_FN_SORT:
            qsort(r->s, r->n, sizeof *r->s, cmp_asc);
            break;
        case QUERY_FN_SORT_DESC:
            qsort(r->s, r->n, sizeof *r->s, cmp_desc);
            break;
        case QUERY_FN_SORT_BY_LABEL:
        case QUERY_FN_SORT_BY_LABEL_DESC:
            qsort_r(r->s, r->n, sizeof *r->s, cmp_by_label, (void *)top);
            break;
        default:
            qsort(r->s, r->n, sizeof *r->s, cmp_labels);
        }
    } else if (!(r->type == STRATA_VALUE_VECTOR && v->ordered)) {
        qsort(r->s, r->n, sizeof *r->s, cmp_labels);
    }
    r->warnings = c->warnings;
    r->n_warnings = c->n_warnings;
    c->warnings = NULL;
    c->n_warnings = 0;
    r->stats.samples_loaded = c->total_loaded;
    r->stats.peak_samples = c->peak_samples;
    r->stats.series = r->n;
    *out = r;
    return 0;
}
