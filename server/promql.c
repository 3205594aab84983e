/* promql.c: instant and range vector selectors with Prometheus' lookback and staleness. */
#include "promql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_stale(double v)
{
    uint64_t b;
    memcpy(&b, &v, 8);
    return b == PQ_STALE_NAN_BITS;
}

int pq_read_series(strata_cursor *c, bool skip_stale, int64_t **tp, double **vp, size_t *np, size_t *capp)
{
    int64_t *bt = *tp;
    double *bv = *vp;
    size_t bn = 0, bcap = *capp;
    const int64_t *t;
    const double *v;
    size_t k;
    int rc;
    while ((rc = strata_cursor_next_samples(c, &t, &v, &k)) == 1) {
        if (bn + k > bcap) {
            size_t nc = bcap ? bcap : 256;
            while (nc < bn + k)
                nc *= 2;
            int64_t *nt = realloc(bt, nc * sizeof *nt);
            if (nt)
                bt = nt;
            double *nv = realloc(bv, nc * sizeof *nv);
            if (nv)
                bv = nv;
            if (!nt || !nv) {
                rc = STRATA_ERR_NOMEM;
                break;
            }
            bcap = nc;
        }
        for (size_t i = 0; i < k; i++) {
            if (skip_stale && is_stale(v[i]))
                continue;
            bt[bn] = t[i];
            bv[bn] = v[i];
            bn++;
        }
    }
    *tp = bt;
    *vp = bv;
    *np = bn;
    *capp = bcap;
    return rc < 0 ? rc : 0;
}

void pq_result_free(pq_result *r)
{
    for (size_t i = 0; i < r->n_series; i++) {
        pq_series *s = &r->series[i];
        for (size_t j = 0; j < s->n_labels; j++) {
            free((char *)s->labels[j].name);
            free((char *)s->labels[j].value);
        }
        free(s->labels);
        free(s->t);
        free(s->v);
    }
    free(r->series);
    r->series = NULL;
    r->n_series = 0;
}

static int push_point(pq_series *s, size_t *cap, int64_t t, double v)
{
    if (s->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        int64_t *nt = realloc(s->t, nc * sizeof *nt);
        if (!nt)
            return STRATA_ERR_NOMEM;
        s->t = nt;
        double *nv = realloc(s->v, nc * sizeof *nv);
        if (!nv)
            return STRATA_ERR_NOMEM;
        s->v = nv;
        *cap = nc;
    }
    s->t[s->n] = t;
    s->v[s->n] = v;
    s->n++;
    return STRATA_OK;
}

static int add_series(pq_result *r, size_t *cap, const strata_label *labels, size_t n, pq_series **out)
{
    if (r->n_series == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        pq_series *ns = realloc(r->series, nc * sizeof *ns);
        if (!ns)
            return STRATA_ERR_NOMEM;
        r->series = ns;
        *cap = nc;
    }
    pq_series *s = &r->series[r->n_series];
    memset(s, 0, sizeof *s);
    s->labels = calloc(n ? n : 1, sizeof *s->labels);
    if (!s->labels)
        return STRATA_ERR_NOMEM;
    r->n_series++;
    for (size_t i = 0; i < n; i++) {
        s->labels[i].name = strdup(labels[i].name);
        s->labels[i].value = strdup(labels[i].value);
        s->n_labels++;
        if (!s->labels[i].name || !s->labels[i].value)
            return STRATA_ERR_NOMEM;
    }
    *out = s;
    return STRATA_OK;
}

/* Evaluates sel at each of the times t0, t0+step, ... <= t1 (step 0: only
 * t0). For a range selector (sel->range_ms > 0) only one time is allowed. */
static int eval(strata_db *db, const strata_selector *sel, int64_t t0, int64_t t1, int64_t step, pq_result *r)
{
    int64_t window = sel->range_ms > 0 ? sel->range_ms : PQ_LOOKBACK_MS;
    int64_t mint = t0 - window + 1, maxt = t1;
    strata_cursor *c;
    int rc = strata_select(db, sel->matchers, sel->n_matchers, mint, maxt, &c);
    if (rc)
        return rc;
    size_t scap = 0;
    int64_t *bt = NULL;
    double *bv = NULL;
    size_t bn = 0, bcap = 0;
    strata_sid sid;
    const strata_label *labels;
    size_t nl;
    while ((rc = strata_cursor_next_series(c, &sid, &labels, &nl)) == 1) {
        rc = pq_read_series(c, false, &bt, &bv, &bn, &bcap);
        if (rc < 0)
            break;
        pq_series *s = NULL;
        size_t pcap = 0;
        if (sel->range_ms > 0) {
            for (size_t i = 0; i < bn && rc >= 0; i++) {
                if (is_stale(bv[i]))
                    continue;
                if (!s && (rc = add_series(r, &scap, labels, nl, &s)) != 0)
                    break;
                rc = push_point(s, &pcap, bt[i], bv[i]);
            }
        } else {
            /* walk the evaluation times with a pointer into the samples */
            size_t j = 0;
            for (int64_t at = t0; at <= t1 && rc >= 0; at += step) {
                while (j < bn && bt[j] <= at)
                    j++;
                /* bt[j-1] is the latest sample <= at */
                if (j > 0 && bt[j - 1] > at - window && !is_stale(bv[j - 1])) {
                    if (!s && (rc = add_series(r, &scap, labels, nl, &s)) != 0)
                        break;
                    rc = push_point(s, &pcap, at, bv[j - 1]);
                }
                if (step <= 0 || at > INT64_MAX - step)
                    break;
            }
        }
        if (rc < 0)
            break;
    }
    strata_cursor_close(c);
    free(bt);
    free(bv);
    return rc < 0 ? rc : STRATA_OK;
}

static int parse(const char *query, strata_selector *sel, pq_result *r)
{
    char err[200];
    int rc = strata_selector_parse(query, sel, err, sizeof err);
    if (rc == STRATA_ERR_INVALID)
        snprintf(r->error, sizeof r->error, "parse error: %s", err);
    return rc;
}

int pq_eval_instant(strata_db *db, const char *query, int64_t t, pq_result *r)
{
    memset(r, 0, sizeof *r);
    strata_selector sel;
    int rc = parse(query, &sel, r);
    if (rc == STRATA_ERR_INVALID) {
        memset(r, 0, sizeof *r);
        r->kind = PQ_VECTOR;
        return pq_eval_expr(db, query, t, t, 0, r);
    }
    if (rc)
        return rc;
    r->kind = sel.range_ms > 0 ? PQ_MATRIX : PQ_VECTOR;
    rc = eval(db, &sel, t, t, 0, r);
    strata_selector_free(&sel);
    if (rc)
        pq_result_free(r);
    return rc;
}

int pq_eval_range(strata_db *db, const char *query, int64_t start, int64_t end, int64_t step, pq_result *r)
{
    memset(r, 0, sizeof *r);
    if (step <= 0 || end < start) {
        snprintf(r->error, sizeof r->error, "invalid range: end before start or step not positive");
        return STRATA_ERR_INVALID;
    }
    strata_selector sel;
    int rc = parse(query, &sel, r);
    if (rc == STRATA_ERR_INVALID) {
        memset(r, 0, sizeof *r);
        r->kind = PQ_MATRIX;
        return pq_eval_expr(db, query, start, end, step, r);
    }
    if (rc)
        return rc;
    if (sel.range_ms > 0) {
        snprintf(r->error, sizeof r->error,
                 "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector");
        strata_selector_free(&sel);
        return STRATA_ERR_INVALID;
    }
    r->kind = PQ_MATRIX;
    rc = eval(db, &sel, start, end, step, r);
    strata_selector_free(&sel);
    if (rc)
        pq_result_free(r);
    return rc;
}
