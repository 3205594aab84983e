/*
 * otlp.c: an ExportMetricsServiceRequest into samples, as Prometheus'
 * OTLP receiver translates it (otlp.h has the rules), then into the
 * database through one strata_batch, and the metrics' metadata.
 *
 * Labels of a point: its attributes (names translated; attributes whose
 * names translate alike are joined with ";" in key order, as Prometheus
 * does; empty values are dropped, as Prometheus drops them), then job and
 * instance from the resource, then __name__ and le or quantile: each
 * later one replaces an earlier one of the same name. The strings of a
 * point live in one buffer (pool) and the labels are offsets into it,
 * turned into pointers once the buffer stops growing.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue kv_t;
typedef Opentelemetry__Proto__Common__V1__AnyValue any_t;
typedef Opentelemetry__Proto__Metrics__V1__Metric metric_t;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint num_pt;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint hist_pt;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint sum_pt;

#define STALE_NAN_BITS 0x7ff0000000000002ull
#define TEMP_DELTA OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA
#define TEMP_CUMULATIVE OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE

/* ------------------------------------------------------------ strings */

typedef struct pair {
    size_t name, value; /* offsets into the pool */
    size_t order;       /* position among the attributes, for stable joins */
} pair;

typedef struct lset {
    sbuf pool;
    pair *p;
    size_t n, cap;
} lset;

static int pool_add(sbuf *pool, const char *s, size_t n, size_t *at)
{
    *at = pool->len;
    int rc = sbuf_append(pool, s, n);
    return rc ? rc : sbuf_append(pool, "", 1);
}

static const char *pool_str(const sbuf *pool, size_t at) { return (const char *)pool->data + at; }

static int lset_push(lset *l, size_t name, size_t value)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        pair *np = realloc(l->p, cap * sizeof *np);
        if (!np)
            return STRATA_ERR_NOMEM;
        l->p = np;
        l->cap = cap;
    }
    l->p[l->n].name = name;
    l->p[l->n].value = value;
    l->p[l->n].order = l->n;
    l->n++;
    return STRATA_OK;
}

static void lset_clear(lset *l)
{
    sbuf_reset(&l->pool);
    l->n = 0;
}

static void lset_free(lset *l)
{
    sbuf_free(&l->pool);
    free(l->p);
}

/* ------------------------------------------------------------ values */

static int put_str(sbuf *b, const char *s) { return sbuf_append(b, s, strlen(s)); }

/* A double as Go's strconv.FormatFloat(v, 'g', -1, 64). */
static void fmt_g(double v, char *buf, size_t len)
{
    if (isnan(v) || isinf(v)) {
        snprintf(buf, len, "%s", isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf");
        return;
    }
    char e[40];
    int p = 1;
    for (; p <= 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, v);
        if (strtod(e, NULL) == v)
            break;
    }
    int exp10 = v == 0 ? 0 : atoi(strchr(e, 'e') + 1);
    if (exp10 < -4 || exp10 >= 6) /* shortest: %e from exponent 6 on */
        snprintf(buf, len, "%s", e);
    else
        snprintf(buf, len, "%.*f", p - 1 - exp10 > 0 ? p - 1 - exp10 : 0, v);
}

static int json_quote(sbuf *b, const char *s)
{
    int rc = sbuf_append(b, "\"", 1);
    for (const char *c = s; *c && !rc; c++) {
        unsigned char ch = (unsigned char)*c;
        char esc[8];
        if (ch == '"' || ch == '\\') {
            esc[0] = '\\';
            esc[1] = (char)ch;
            rc = sbuf_append(b, esc, 2);
        } else if (ch < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", ch);
            rc = sbuf_append(b, esc, 6);
        } else {
            rc = sbuf_append(b, c, 1);
        }
    }
    return rc ? rc : sbuf_append(b, "\"", 1);
}

static int any_str(sbuf *b, const any_t *v, int in_json);

static int base64(sbuf *b, const uint8_t *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int rc = STRATA_OK;
    for (size_t i = 0; i < n && !rc; i += 3) {
        uint32_t x = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        char o[4] = {tab[x >> 18 & 63], tab[x >> 12 & 63], i + 1 < n ? tab[x >> 6 & 63] : '=',
                     i + 2 < n ? tab[x & 63] : '='};
        rc = sbuf_append(b, o, 4);
    }
    return rc;
}

/* An attribute value as a label value (pcommon's AsString): arrays and
 * key-value lists as JSON. Nesting is bounded by OTLP_MAX_DEPTH (the
 * decoders refuse deeper). */
static int any_str(sbuf *b, const any_t *v, int in_json)
{
    char tmp[64];
    if (!v)
        return in_json ? put_str(b, "null") : STRATA_OK;
    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        return in_json ? json_quote(b, v->string_value) : put_str(b, v->string_value);
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        return put_str(b, v->bool_value ? "true" : "false");
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        snprintf(tmp, sizeof tmp, "%" PRId64, v->int_value);
        return put_str(b, tmp);
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        fmt_g(v->double_value, tmp, sizeof tmp);
        return in_json && !isfinite(v->double_value) ? json_quote(b, tmp) : put_str(b, tmp);
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE: {
        int rc = in_json ? sbuf_append(b, "\"", 1) : STRATA_OK;
        rc = rc ? rc : base64(b, v->bytes_value.data, v->bytes_value.len);
        return rc ? rc : in_json ? sbuf_append(b, "\"", 1) : STRATA_OK;
    }
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE: {
        int rc = sbuf_append(b, "[", 1);
        const Opentelemetry__Proto__Common__V1__ArrayValue *a = v->array_value;
        for (size_t i = 0; a && i < a->n_values && !rc; i++) {
            if (i)
                rc = sbuf_append(b, ",", 1);
            rc = rc ? rc : any_str(b, a->values[i], 1);
        }
        return rc ? rc : sbuf_append(b, "]", 1);
    }
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE: {
        int rc = sbuf_append(b, "{", 1);
        const Opentelemetry__Proto__Common__V1__KeyValueList *l = v->kvlist_value;
        for (size_t i = 0; l && i < l->n_values && !rc; i++) {
            if (i)
                rc = sbuf_append(b, ",", 1);
            rc = rc ? rc : json_quote(b, l->values[i]->key);
            rc = rc ? rc : sbuf_append(b, ":", 1);
            rc = rc ? rc : any_str(b, l->values[i]->value, 1);
        }
        return rc ? rc : sbuf_append(b, "}", 1);
    }
    default: return in_json ? put_str(b, "null") : STRATA_OK;
    }
}

/* ------------------------------------------------------------ label sets */

typedef struct ctx {
    const otlp_opts *o;
    otlp_sink_fn sink;
    void *sink_ctx;
    otlp_result *res;
    sbuf name, val;       /* scratch */
    lset base;            /* the point's attributes, job, instance */
    strata_label *labels; /* the labels of one sample */
    size_t labels_cap;
    const char *job, *instance; /* of the resource, NULL when absent */
    sbuf job_buf;
    int64_t res_max_t; /* latest time of the resource's points */
    int point_refused; /* the point being translated had a refusal */
} ctx;

/* Adds attributes to l: translated names, values as strings, empty ones
 * dropped; skip (may be NULL) names keys left out. Then sorts by name and
 * joins the values of equal names with ";". */
static int add_attrs(ctx *c, lset *l, kv_t **attrs, size_t n, int (*skip)(const char *key))
{
    for (size_t i = 0; i < n; i++) {
        const kv_t *kv = attrs[i];
        if (skip && skip(kv->key))
            continue;
        int rc = otlp_label_name(kv->key, c->o->strategy, &c->name);
        if (rc)
            return rc;
        if (!c->name.len)
            continue;
        sbuf_reset(&c->val);
        if ((rc = any_str(&c->val, kv->value, 0)) != 0)
            return rc;
        if (!c->val.len)
            continue;
        size_t na, va;
        if ((rc = pool_add(&l->pool, (const char *)c->name.data, c->name.len, &na)) != 0 ||
            (rc = pool_add(&l->pool, (const char *)c->val.data, c->val.len, &va)) != 0 ||
            (rc = lset_push(l, na, va)) != 0)
            return rc;
    }
    /* sorted by name, key order kept among equal names */
    if (l->n > 1) {
        /* insertion sort: a point has a handful of attributes */
        for (size_t i = 1; i < l->n; i++) {
            pair x = l->p[i];
            size_t j = i;
            while (j > 0) {
                int cm = strcmp(pool_str(&l->pool, l->p[j - 1].name), pool_str(&l->pool, x.name));
                if (cm < 0 || (cm == 0 && l->p[j - 1].order < x.order))
                    break;
                l->p[j] = l->p[j - 1];
                j--;
            }
            l->p[j] = x;
        }
    }
    size_t o = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (o && !strcmp(pool_str(&l->pool, l->p[o - 1].name), pool_str(&l->pool, l->p[i].name))) {
            sbuf_reset(&c->val);
            int rc = put_str(&c->val, pool_str(&l->pool, l->p[o - 1].value));
            rc = rc ? rc : sbuf_append(&c->val, ";", 1);
            rc = rc ? rc : put_str(&c->val, pool_str(&l->pool, l->p[i].value));
            size_t va;
            rc = rc ? rc : pool_add(&l->pool, (const char *)c->val.data, c->val.len, &va);
            if (rc)
                return rc;
            l->p[o - 1].value = va;
            continue;
        }
        l->p[o++] = l->p[i];
    }
    l->n = o;
    return STRATA_OK;
}

/* Sets name to value in l, replacing an entry of that name. */
static int lset_set(lset *l, const char *name, const char *value)
{
    size_t na, va;
    int rc = pool_add(&l->pool, name, strlen(name), &na);
    rc = rc ? rc : pool_add(&l->pool, value, strlen(value), &va);
    if (rc)
        return rc;
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(pool_str(&l->pool, l->p[i].name), name)) {
            l->p[i].name = na;
            l->p[i].value = va;
            return STRATA_OK;
        }
    return lset_push(l, na, va);
}

static void refuse(ctx *c, const char *metric, const char *why)
{
    if (!c->point_refused) {
        c->point_refused = 1;
        c->res->rejected_points++;
    }
    if (!c->res->first_reason[0])
        snprintf(c->res->first_reason, sizeof c->res->first_reason, "%.80s: %s", metric, why);
}

/* Hands one sample to the sink: base labels but those named like an
 * extra, then __name__ = name and the extra (xname = xvalue, xname may be
 * NULL). */
static int emit(ctx *c, const char *metric, const char *name, const char *xname, const char *xvalue, int64_t t,
                double v)
{
    lset *l = &c->base;
    size_t need = l->n + 2;
    if (need > c->labels_cap) {
        strata_label *nl = realloc(c->labels, need * sizeof *nl);
        if (!nl)
            return STRATA_ERR_NOMEM;
        c->labels = nl;
        c->labels_cap = need;
    }
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++) {
        const char *ln = pool_str(&l->pool, l->p[i].name);
        if (!strcmp(ln, "__name__") || (xname && !strcmp(ln, xname)))
            continue;
        c->labels[n].name = ln;
        c->labels[n++].value = pool_str(&l->pool, l->p[i].value);
    }
    c->labels[n].name = "__name__";
    c->labels[n++].value = name;
    if (xname) {
        c->labels[n].name = xname;
        c->labels[n++].value = xvalue;
    }
    if (n > c->o->max_labels) {
        c->res->rejected_series++;
        refuse(c, metric, "more labels than --max-labels");
        return STRATA_OK;
    }
    for (size_t i = 0; i < n; i++)
        if (strlen(c->labels[i].name) > c->o->max_label_len || strlen(c->labels[i].value) > c->o->max_label_len) {
            c->res->rejected_series++;
            refuse(c, metric, "a label longer than --max-label-len");
            return STRATA_OK;
        }
    const char *why = NULL;
    int rc = c->sink(c->sink_ctx, c->labels, n, t, v, &why);
    if (rc == STRATA_ERR_INVALID || rc == STRATA_ERR_LIMIT) {
        c->res->rejected_series++;
        refuse(c, metric, why ? why : strata_strerror(rc));
        return STRATA_OK;
    }
    if (!rc) {
        c->res->samples++;
        if (t > c->res_max_t)
            c->res_max_t = t;
    }
    return rc;
}

/* The point's base labels: attributes, then job and instance. */
static int point_labels(ctx *c, kv_t **attrs, size_t n)
{
    lset_clear(&c->base);
    int rc = add_attrs(c, &c->base, attrs, n, NULL);
    if (!rc && c->job)
        rc = lset_set(&c->base, "job", c->job);
    if (!rc && c->instance)
        rc = lset_set(&c->base, "instance", c->instance);
    return rc;
}

static int64_t ns_to_ms(uint64_t ns) { return (int64_t)(ns / 1000000u); }

static double stale_or(uint32_t flags, double v)
{
    if (flags & OPENTELEMETRY__PROTO__METRICS__V1__DATA_POINT_FLAGS__DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK) {
        uint64_t bits = STALE_NAN_BITS;
        memcpy(&v, &bits, sizeof v);
    }
    return v;
}

static int number_points(ctx *c, const metric_t *m, const char *name, num_pt **pts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const num_pt *p = pts[i];
        c->res->points++;
        c->point_refused = 0;
        int rc = point_labels(c, p->attributes, p->n_attributes);
        if (rc)
            return rc;
        double v =
            p->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT      ? (double)p->as_int
            : p->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE ? p->as_double
                                                                                                     : 0;
        if ((rc = emit(c, m->name, name, NULL, NULL, ns_to_ms(p->time_unix_nano), stale_or(p->flags, v))) != 0)
            return rc;
    }
    return STRATA_OK;
}

static int histogram_points(ctx *c, const metric_t *m, const char *name, hist_pt **pts, size_t n)
{
    char le[OTLP_FLOAT_BUF];
    size_t blen = strlen(name);
    char *names = malloc(3 * (blen + 8));
    if (!names)
        return STRATA_ERR_NOMEM;
    char *bucket = names, *sum = names + blen + 8, *count = names + 2 * (blen + 8);
    snprintf(bucket, blen + 8, "%s_bucket", name);
    snprintf(sum, blen + 8, "%s_sum", name);
    snprintf(count, blen + 8, "%s_count", name);
    int rc = STRATA_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        const hist_pt *p = pts[i];
        c->res->points++;
        c->point_refused = 0;
        if ((rc = point_labels(c, p->attributes, p->n_attributes)) != 0)
            break;
        int64_t t = ns_to_ms(p->time_unix_nano);
        if (p->_sum_case == OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM &&
            (rc = emit(c, m->name, sum, NULL, NULL, t, stale_or(p->flags, p->sum))) != 0)
            break;
        if ((rc = emit(c, m->name, count, NULL, NULL, t, stale_or(p->flags, (double)p->count))) != 0)
            break;
        uint64_t cum = 0;
        for (size_t b = 0; b < p->n_explicit_bounds && b < p->n_bucket_counts && !rc; b++) {
            cum += p->bucket_counts[b];
            otlp_format_le(p->explicit_bounds[b], le);
            rc = emit(c, m->name, bucket, "le", le, t, stale_or(p->flags, (double)cum));
        }
        if (!rc)
            rc = emit(c, m->name, bucket, "le", "+Inf", t, stale_or(p->flags, (double)p->count));
    }
    free(names);
    return rc;
}

static int summary_points(ctx *c, const metric_t *m, const char *name, sum_pt **pts, size_t n)
{
    char q[OTLP_FLOAT_BUF];
    size_t blen = strlen(name);
    char *names = malloc(2 * (blen + 8));
    if (!names)
        return STRATA_ERR_NOMEM;
    char *sum = names, *count = names + blen + 8;
    snprintf(sum, blen + 8, "%s_sum", name);
    snprintf(count, blen + 8, "%s_count", name);
    int rc = STRATA_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        const sum_pt *p = pts[i];
        c->res->points++;
        c->point_refused = 0;
        if ((rc = point_labels(c, p->attributes, p->n_attributes)) != 0)
            break;
        int64_t t = ns_to_ms(p->time_unix_nano);
        if ((rc = emit(c, m->name, sum, NULL, NULL, t, stale_or(p->flags, p->sum))) != 0 ||
            (rc = emit(c, m->name, count, NULL, NULL, t, stale_or(p->flags, (double)p->count))) != 0)
            break;
        for (size_t k = 0; k < p->n_quantile_values && !rc; k++) {
            otlp_format_le(p->quantile_values[k]->quantile, q);
            rc = emit(c, m->name, name, "quantile", q, t, stale_or(p->flags, p->quantile_values[k]->value));
        }
    }
    free(names);
    return rc;
}

/* Counts n points refused for why. */
static void refuse_all(ctx *c, const metric_t *m, size_t n, uint64_t *counter, const char *why)
{
    for (size_t i = 0; i < n; i++) {
        c->res->points++;
        c->point_refused = 0;
        refuse(c, m->name, why);
    }
    *counter += n;
}

/* The kind a metric becomes, or -1 when its points are refused (counted). */
static int kind_of(ctx *c, const metric_t *m, otlp_kind *k)
{
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE: *k = OTLP_K_GAUGE; return 0;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        if (m->sum->aggregation_temporality == TEMP_CUMULATIVE) {
            *k = m->sum->is_monotonic ? OTLP_K_COUNTER : OTLP_K_UPDOWN;
            return 0;
        }
        if (m->sum->aggregation_temporality == TEMP_DELTA) {
            *k = OTLP_K_UPDOWN; /* kept as increments: a gauge (otlp.h) */
            return 0;
        }
        refuse_all(c, m, m->sum->n_data_points, &c->res->rejected_temporality, "sum without aggregation temporality");
        return -1;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        if (m->histogram->aggregation_temporality == TEMP_CUMULATIVE) {
            *k = OTLP_K_HISTOGRAM;
            return 0;
        }
        refuse_all(c, m, m->histogram->n_data_points, &c->res->rejected_temporality,
                   "histogram not of cumulative temporality (delta histograms are not taken)");
        return -1;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY: *k = OTLP_K_SUMMARY; return 0;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        refuse_all(c, m, m->exponential_histogram->n_data_points, &c->res->rejected_exphist,
                   "exponential histograms are not supported");
        return -1;
    default: return -1; /* no data: no points */
    }
}

static size_t points_of(const metric_t *m)
{
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE: return m->gauge->n_data_points;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM: return m->sum->n_data_points;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM: return m->histogram->n_data_points;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY: return m->summary->n_data_points;
    default: return 0;
    }
}

static int one_metric(ctx *c, const metric_t *m)
{
    otlp_kind k;
    if (kind_of(c, m, &k))
        return STRATA_OK;
    int rc = otlp_metric_name(m->name, m->unit, k, c->o->strategy, &c->name);
    if (rc == STRATA_ERR_INVALID) {
        refuse_all(c, m, points_of(m), &c->res->rejected_name, "the name translates to no valid metric name");
        return STRATA_OK;
    }
    if (rc)
        return rc;
    /* c->name is scratch for the attributes: the metric's name is kept */
    char *name = strndup((const char *)c->name.data, c->name.len);
    if (!name)
        return STRATA_ERR_NOMEM;
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        rc = number_points(c, m, name, m->gauge->data_points, m->gauge->n_data_points);
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        rc = number_points(c, m, name, m->sum->data_points, m->sum->n_data_points);
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        rc = histogram_points(c, m, name, m->histogram->data_points, m->histogram->n_data_points);
        break;
    default: rc = summary_points(c, m, name, m->summary->data_points, m->summary->n_data_points); break;
    }
    free(name);
    return rc;
}

static int identifying(const char *key)
{
    return !strcmp(key, "service.name") || !strcmp(key, "service.namespace") || !strcmp(key, "service.instance.id");
}

static const any_t *resource_attr(const Opentelemetry__Proto__Resource__V1__Resource *r, const char *key)
{
    for (size_t i = 0; r && i < r->n_attributes; i++)
        if (!strcmp(r->attributes[i]->key, key))
            return r->attributes[i]->value;
    return NULL;
}

/* job and instance of a resource (ns/name, instance id) into c. */
static int resource_ids(ctx *c, const Opentelemetry__Proto__Resource__V1__Resource *r, sbuf *inst)
{
    const any_t *name = resource_attr(r, "service.name"), *ns = resource_attr(r, "service.namespace"),
                *id = resource_attr(r, "service.instance.id");
    c->job = c->instance = NULL;
    sbuf_reset(&c->job_buf);
    sbuf_reset(inst);
    int rc = STRATA_OK;
    if (name) {
        if (ns) {
            rc = any_str(&c->job_buf, ns, 0);
            rc = rc ? rc : sbuf_append(&c->job_buf, "/", 1);
        }
        rc = rc ? rc : any_str(&c->job_buf, name, 0);
        rc = rc ? rc : sbuf_append(&c->job_buf, "", 1);
        if (!rc && c->job_buf.len > 1)
            c->job = (const char *)c->job_buf.data;
    }
    if (!rc && id) {
        rc = any_str(inst, id, 0);
        rc = rc ? rc : sbuf_append(inst, "", 1);
        if (!rc && inst->len > 1)
            c->instance = (const char *)inst->data;
    }
    return rc;
}

/* target_info{job, instance, other resource attributes} 1 at the latest
 * time of the resource's samples. */
static int target_info(ctx *c, const Opentelemetry__Proto__Resource__V1__Resource *r)
{
    size_t others = 0;
    for (size_t i = 0; r && i < r->n_attributes; i++)
        others += !identifying(r->attributes[i]->key);
    if (!others || c->res_max_t == INT64_MIN)
        return STRATA_OK;
    lset_clear(&c->base);
    int rc = add_attrs(c, &c->base, r->attributes, r->n_attributes, identifying);
    if (!rc && c->job)
        rc = lset_set(&c->base, "job", c->job);
    if (!rc && c->instance)
        rc = lset_set(&c->base, "instance", c->instance);
    c->point_refused = 1; /* not a point of the request: never counted as one */
    return rc ? rc : emit(c, "target_info", "target_info", NULL, NULL, c->res_max_t, 1);
}

int otlp_translate(const otlp_export_req *req, const otlp_opts *o, otlp_sink_fn sink, void *sink_ctx, otlp_result *res)
{
    memset(res, 0, sizeof *res);
    ctx c;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.sink = sink;
    c.sink_ctx = sink_ctx;
    c.res = res;
    sbuf inst = {0};
    int rc = STRATA_OK;
    for (size_t i = 0; i < req->n_resource_metrics && !rc; i++) {
        const Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm = req->resource_metrics[i];
        c.res_max_t = INT64_MIN;
        if ((rc = resource_ids(&c, rm->resource, &inst)) != 0)
            break;
        for (size_t j = 0; j < rm->n_scope_metrics && !rc; j++) {
            const Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = rm->scope_metrics[j];
            for (size_t k = 0; k < sm->n_metrics && !rc; k++)
                rc = one_metric(&c, sm->metrics[k]);
        }
        if (!rc)
            rc = target_info(&c, rm->resource);
    }
    sbuf_free(&inst);
    sbuf_free(&c.name);
    sbuf_free(&c.val);
    sbuf_free(&c.job_buf);
    lset_free(&c.base);
    free(c.labels);
    return rc;
}
