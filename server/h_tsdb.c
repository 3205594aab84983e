/*
 * h_tsdb.c: GET /api/v1/status/tsdb, cardinality as Prometheus reports it
 * for its head (top metric names by series, label names by distinct
 * values and by bytes of values, label pairs by series), here over the
 * series that hold samples in [start, end] (default: all of time, as
 * VictoriaMetrics' takes a range), optionally only those match[] selects.
 *
 * The library counts every label pair's series in one ordered pass over
 * its label index (strata_label_pair_counts); this file only ranks: the
 * pairs of a name come together, so the per-name figures are folded
 * without a hash table, and each list keeps its top `limit` in a bounded
 * heap.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

/* One entry of a top-N list: its name (a, or a=b when b is set) and its
 * figure. */
typedef struct stat_ref {
    const char *a, *b;
    uint64_t v;
} stat_ref;

/* Larger first; ties by name, so the answer is the same every time. */
static int cmp_stat(const void *x_, const void *y_)
{
    const stat_ref *x = x_, *y = y_;
    if (x->v != y->v)
        return x->v > y->v ? -1 : 1;
    int c = strcmp(x->a, y->a);
    return c ? c : strcmp(x->b ? x->b : "", y->b ? y->b : "");
}

/* Keeps the limit best of the entries offered in a heap whose root is
 * the worst kept (cmp_stat order), so a million pairs cost n log limit
 * comparisons, not a sort of all of them. */
typedef struct top_heap {
    stat_ref *v;
    size_t n, limit;
} top_heap;

static void heap_sift_down(top_heap *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < h->n && cmp_stat(&h->v[l], &h->v[w]) > 0)
            w = l;
        if (r < h->n && cmp_stat(&h->v[r], &h->v[w]) > 0)
            w = r;
        if (w == i)
            return;
        stat_ref t = h->v[i];
        h->v[i] = h->v[w];
        h->v[w] = t;
        i = w;
    }
}

static void heap_offer(top_heap *h, stat_ref x)
{
    if (h->n < h->limit) { /* sift up */
        size_t i = h->n++;
        h->v[i] = x;
        while (i && cmp_stat(&h->v[i], &h->v[(i - 1) / 2]) > 0) {
            stat_ref t = h->v[i];
            h->v[i] = h->v[(i - 1) / 2];
            h->v[(i - 1) / 2] = t;
            i = (i - 1) / 2;
        }
    } else if (h->n && cmp_stat(&x, &h->v[0]) < 0) { /* better than the worst kept */
        h->v[0] = x;
        heap_sift_down(h, 0);
    }
}

/* Appends ,"field":[{"name":..,"value":..}, ...] from the kept entries. */
static int put_top(sbuf *b, const char *field, top_heap *h)
{
    qsort(h->v, h->n, sizeof *h->v, cmp_stat);
    int rc = json_raw(b, ",\"");
    rc = rc ? rc : json_raw(b, field);
    rc = rc ? rc : json_raw(b, "\":[");
    sbuf key = {0};
    for (size_t i = 0; i < h->n && !rc; i++) {
        char num[40];
        snprintf(num, sizeof num, ",\"value\":%" PRIu64 "}", h->v[i].v);
        sbuf_reset(&key);
        rc = sbuf_append(&key, h->v[i].a, strlen(h->v[i].a));
        if (!rc && h->v[i].b) {
            rc = sbuf_append(&key, "=", 1);
            rc = rc ? rc : sbuf_append(&key, h->v[i].b, strlen(h->v[i].b));
        }
        rc = rc ? rc : sbuf_append(&key, "", 1);
        rc = rc ? rc : json_raw(b, i ? ",{\"name\":" : "{\"name\":");
        rc = rc ? rc : json_str(b, (const char *)key.data);
        rc = rc ? rc : json_raw(b, num);
    }
    sbuf_free(&key);
    return rc ? rc : json_raw(b, "]");
}

enum { TOP_METRICS, TOP_VALUES, TOP_BYTES, TOP_PAIRS, TOP_N };

static const char *const top_fields[TOP_N] = {"seriesCountByMetricName", "labelValueCountByLabelName",
                                              "memoryInBytesByLabelName", "seriesCountByLabelValuePair"};

/* Ranks the pairs into the four lists. Bytes by label name are those of
 * its distinct values: Prometheus 2's "memory in bytes by label name" and
 * what strata's index holds (values are interned once); Prometheus 3
 * estimates the Go memory of every copy of a label instead, which has no
 * meaning here. */
static void rank_pairs(const strata_label_pairs *p, top_heap top[TOP_N])
{
    for (size_t i = 0; i < p->n;) {
        const char *name = p->v[i].name;
        uint64_t values = 0, bytes = 0;
        int is_metric = !strcmp(name, "__name__");
        for (; i < p->n && p->v[i].name == name; i++) { /* one name: adjacent, one pointer */
            const strata_label_pair *x = &p->v[i];
            values++;
            bytes += strlen(x->value);
            if (is_metric)
                heap_offer(&top[TOP_METRICS], (stat_ref){x->value, NULL, x->series});
            heap_offer(&top[TOP_PAIRS], (stat_ref){name, x->value, x->series});
        }
        heap_offer(&top[TOP_VALUES], (stat_ref){name, NULL, values});
        heap_offer(&top[TOP_BYTES], (stat_ref){name, NULL, bytes});
    }
}

int h_tsdb(srv *s, srv_req *r, srv_resp *w)
{
    int ret;
    if (srv_params_load(r))
        return STRATA_ERR_NOMEM;
    size_t limit = 10;
    const char *lv = srv_param(r, "limit");
    if (lv) {
        char *end;
        unsigned long long v = strtoull(lv, &end, 10);
        if (end == lv || *end || *lv == '-' || v == 0)
            return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_DATA, "bad_data", "limit must be a positive number");
        limit = v > SIZE_MAX ? SIZE_MAX : (size_t)v;
    }
    int64_t start, end;
    if (srv_time_range(s, r, w, &start, &end, &ret))
        return ret;
    strata_selector *sels;
    size_t n_sels;
    if (srv_selectors(s, r, w, 0, &sels, &n_sels, &ret))
        return ret;
    strata_stats st;
    strata_label_pairs pairs = {0};
    int rc = strata_get_stats(s->db, &st, sizeof st);
    rc = rc ? rc : strata_label_pair_counts(s->db, sels, n_sels, start, end, &pairs);
    srv_selectors_free(sels, n_sels);
    top_heap top[TOP_N] = {{0}};
    for (int k = 0; k < TOP_N && !rc; k++) {
        top[k].limit = limit < pairs.n ? limit : pairs.n;
        if (!(top[k].v = malloc((top[k].limit ? top[k].limit : 1) * sizeof *top[k].v)))
            rc = STRATA_ERR_NOMEM;
    }
    if (!rc)
        rank_pairs(&pairs, top);
    sbuf b = {0};
    if (!rc) {
        int64_t mint = st.min_t_ms > start ? st.min_t_ms : start;
        int64_t maxt = st.max_t_ms < end ? st.max_t_ms : end;
        if (!pairs.series) /* Prometheus' empty head */
            mint = INT64_MAX, maxt = INT64_MIN;
        char head[256];
        snprintf(head, sizeof head,
                 "{\"status\":\"success\",\"data\":{\"headStats\":{\"numSeries\":%" PRIu64 ",\"numLabelPairs\":%zu"
                 ",\"chunkCount\":%" PRIu64 ",\"minTime\":%" PRId64 ",\"maxTime\":%" PRId64 "}",
                 pairs.series, pairs.n, st.table_blocks, mint, maxt);
        rc = json_raw(&b, head);
    }
    for (int k = 0; k < TOP_N && !rc; k++)
        rc = put_top(&b, top_fields[k], &top[k]);
    rc = rc ? rc : json_raw(&b, "}}\n");
    for (int k = 0; k < TOP_N; k++)
        free(top[k].v);
    strata_label_pairs_free(&pairs);
    if (rc) {
        sbuf_free(&b);
        if (rc == STRATA_ERR_NOMEM)
            return rc;
        return srv_reply_error(s, w, rc == STRATA_ERR_INVALID ? HTTP_BAD_REQUEST : HTTP_INTERNAL_SERVER_ERROR,
                               rc == STRATA_ERR_INVALID ? R_BAD_MATCHER : R_INTERNAL,
                               rc == STRATA_ERR_INVALID ? "bad_data" : "internal", "%s", strata_strerror(rc));
    }
    return srv_reply_json(w, HTTP_OK, &b);
}
