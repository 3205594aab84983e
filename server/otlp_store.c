/*
 * otlp_store.c: a translated OTLP request into the database: the samples
 * through one strata_batch (a series the database refuses is refused
 * alone, its point counted), then one metadata entry per metric (type,
 * help = description, unit as Prometheus names it). See otlp.h.
 */
#include <stdlib.h>
#include <string.h>

#include "otlp.h"

typedef Opentelemetry__Proto__Metrics__V1__Metric metric_t;

static int batch_sink(void *ctx, const strata_label *labels, size_t n, int64_t t, double v, const char **why)
{
    return strata_batch_add(ctx, labels, n, &t, &v, 1, why);
}

typedef struct md_list {
    strata_metadata *e;
    size_t n, cap;
} md_list;

static void md_free(md_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free((char *)l->e[i].metric);
        free((char *)l->e[i].help);
        free((char *)l->e[i].unit);
    }
    free(l->e);
}

/* Adds the metadata of m unless an entry of that metric is there. */
static int md_add(md_list *l, const metric_t *m, const otlp_opts *o, sbuf *name, sbuf *unit)
{
    const char *type;
    otlp_kind k;
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE: type = "gauge", k = OTLP_K_GAUGE; break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        k = m->sum->is_monotonic &&
                    m->sum->aggregation_temporality ==
                        OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE
                ? OTLP_K_COUNTER
                : OTLP_K_UPDOWN;
        type = k == OTLP_K_COUNTER ? "counter" : "gauge";
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM: type = "histogram", k = OTLP_K_HISTOGRAM; break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY: type = "summary", k = OTLP_K_SUMMARY; break;
    default: return STRATA_OK; /* refused or empty: nothing stored, nothing described */
    }
    int rc = otlp_metric_name(m->name, m->unit, k, o->strategy, name);
    if (rc == STRATA_ERR_INVALID)
        return STRATA_OK;
    if (rc || (rc = otlp_unit_name(m->unit, o->strategy, unit)) != 0)
        return rc;
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->e[i].metric, (const char *)name->data))
            return STRATA_OK;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        strata_metadata *ne = realloc(l->e, cap * sizeof *ne);
        if (!ne)
            return STRATA_ERR_NOMEM;
        l->e = ne;
        l->cap = cap;
    }
    strata_metadata *x = &l->e[l->n];
    memset(x, 0, sizeof *x);
    x->type = type;
    x->metric = strdup((const char *)name->data);
    x->help = strdup(m->description);
    x->unit = strdup((const char *)unit->data);
    if (!x->metric || !x->help || !x->unit) {
        free((char *)x->metric);
        free((char *)x->help);
        free((char *)x->unit);
        return STRATA_ERR_NOMEM;
    }
    l->n++;
    return STRATA_OK;
}

static int store_metadata(strata_db *db, const otlp_export_req *req, const otlp_opts *o, uint64_t *skipped)
{
    md_list l = {0};
    sbuf name = {0}, unit = {0};
    int rc = STRATA_OK;
    for (size_t i = 0; i < req->n_resource_metrics && !rc; i++)
        for (size_t j = 0; j < req->resource_metrics[i]->n_scope_metrics && !rc; j++) {
            const Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = req->resource_metrics[i]->scope_metrics[j];
            for (size_t k = 0; k < sm->n_metrics && !rc; k++)
                rc = md_add(&l, sm->metrics[k], o, &name, &unit);
        }
    sbuf_free(&name);
    sbuf_free(&unit);
    /* all at once; should one be refused (text not UTF-8), each alone so
     * the others are kept */
    if (!rc && l.n) {
        rc = strata_metadata_put(db, l.e, l.n);
        if (rc == STRATA_ERR_INVALID || rc == STRATA_ERR_LIMIT) {
            rc = STRATA_OK;
            for (size_t i = 0; i < l.n && !rc; i++) {
                rc = strata_metadata_put(db, &l.e[i], 1);
                if (rc == STRATA_ERR_INVALID || rc == STRATA_ERR_LIMIT) {
                    ++*skipped;
                    rc = STRATA_OK;
                }
            }
        }
    }
    md_free(&l);
    return rc;
}

int otlp_store(strata_db *db, const otlp_export_req *req, const otlp_opts *o, otlp_result *res)
{
    strata_batch *b = NULL;
    int rc = strata_batch_new(db, &b);
    if (rc) {
        memset(res, 0, sizeof *res);
        return rc;
    }
    rc = otlp_translate(req, o, batch_sink, b, res);
    strata_write_result wr = {0};
    int rc2 = strata_batch_commit(b, &wr);
    if (!rc)
        rc = rc2;
    strata_batch_free(b);
    res->samples = wr.samples;
    res->new_series = wr.new_series;
    if (!rc) /* metadata after the samples: a failure here loses no sample */
        rc = store_metadata(db, req, o, &res->metadata_skipped);
    return rc;
}
