/*
 * h_tsdb.c: GET /api/v1/status/tsdb, cardinality as Prometheus reports it
 * for its head (top metric names by series, label names by distinct
 * values and by bytes of values, label pairs by series), here over the
 * series that hold samples in [start, end] (default: all of time, as
 * VictoriaMetrics' takes a range), optionally only those match[] selects.
 *
 * One pass over the selected series (labels only, no samples decoded)
 * counts each label pair in an open-addressing table whose keys are
 * "name\0value" in one arena; the per-name figures are folded from the
 * pairs afterwards, so a series costs one hash probe per label.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "server.h"

typedef struct pair_slot {
    uint64_t hash;  /* 0: empty */
    size_t off;     /* key in the arena */
    uint32_t len;   /* key bytes: name, NUL, value */
    uint32_t name_len;
    uint64_t count; /* series holding the pair (or, in the name table, distinct values) */
    uint64_t bytes; /* name table: bytes of its distinct values */
} pair_slot;

typedef struct pair_table {
    pair_slot *slot;
    size_t cap, n; /* cap a power of two */
    sbuf arena;
} pair_table;

static uint64_t hash_bytes(const void *p, size_t n)
{
    const uint8_t *s = p;
    uint64_t h = 1469598103934665603ull; /* FNV-1a, then a final mix */
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h ? h : 1;
}

/* The slots of a large table in 2 MiB pages: a million series probe it
 * at random, and with 4 KiB pages nearly every probe is a TLB miss (on
 * this project's virtual machines, a microsecond each: most of the time
 * of a request). Small tables stay on the heap. */
#define HUGE_PAGE ((size_t)2 << 20)

static pair_slot *slots_alloc(size_t cap)
{
    size_t bytes = cap * sizeof(pair_slot);
    if (bytes < HUGE_PAGE)
        return calloc(cap, sizeof(pair_slot));
    bytes = (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    void *p = aligned_alloc(HUGE_PAGE, bytes);
    if (!p)
        return NULL;
    (void)madvise(p, bytes, MADV_HUGEPAGE); /* advice only: without it the table still works */
    memset(p, 0, bytes);
    return p;
}

static int table_grow(pair_table *t)
{
    size_t cap = t->cap ? t->cap * 2 : 1024;
    pair_slot *s = slots_alloc(cap);
    if (!s)
        return STRATA_ERR_NOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slot[i].hash)
            continue;
        size_t j = t->slot[i].hash & (cap - 1);
        while (s[j].hash)
            j = (j + 1) & (cap - 1);
        s[j] = t->slot[i];
    }
    free(t->slot);
    t->slot = s;
    t->cap = cap;
    return STRATA_OK;
}

/* The slot of key (klen bytes, name_len of them the name), created with
 * zero counts when new. */
static int table_get(pair_table *t, const char *key, size_t klen, size_t name_len, pair_slot **out)
{
    if (klen > UINT32_MAX)
        return STRATA_ERR_LIMIT;
    if ((t->n + 1) * 2 > t->cap && table_grow(t))
        return STRATA_ERR_NOMEM;
    uint64_t h = hash_bytes(key, klen);
    size_t j = h & (t->cap - 1);
    for (;; j = (j + 1) & (t->cap - 1)) {
        pair_slot *s = &t->slot[j];
        if (!s->hash)
            break;
        if (s->hash == h && s->len == klen && !memcmp(t->arena.data + s->off, key, klen)) {
            *out = s;
            return STRATA_OK;
        }
    }
    size_t off = t->arena.len;
    if (sbuf_append(&t->arena, key, klen))
        return STRATA_ERR_NOMEM;
    t->slot[j] = (pair_slot){.hash = h, .off = off, .len = (uint32_t)klen, .name_len = (uint32_t)name_len};
    t->n++;
    *out = &t->slot[j];
    return STRATA_OK;
}

static void table_free(pair_table *t)
{
    free(t->slot);
    sbuf_free(&t->arena);
}

/* One entry of a top-N list: what it prints and its figure. */
typedef struct stat_ref {
    const char *key;
    size_t len;
    uint64_t v;
} stat_ref;

/* Larger first; ties by key, so the answer does not depend on hashing. */
static int cmp_stat(const void *a, const void *b)
{
    const stat_ref *x = a, *y = b;
    if (x->v != y->v)
        return x->v > y->v ? -1 : 1;
    int c = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

typedef enum top_kind {
    TOP_METRICS, /* pairs of __name__, named by their value, by series */
    TOP_PAIRS,   /* pairs, named name=value, by series */
    TOP_VALUES,  /* names, by distinct values */
    TOP_BYTES    /* names, by bytes of distinct values */
} top_kind;

/* Appends ,"field":[{"name":..,"value":..}, ...] with the limit largest
 * entries of t as kind says. Pair keys are rewritten in place from
 * name\0value to name=value (the table is not probed again). */
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

static int put_top(sbuf *b, const char *field, pair_table *t, top_kind kind, size_t limit)
{
    top_heap h = {.limit = limit < t->n ? limit : t->n};
    h.v = malloc((h.limit ? h.limit : 1) * sizeof *h.v);
    if (!h.v)
        return STRATA_ERR_NOMEM;
    for (size_t i = 0; i < t->cap && h.limit; i++) {
        pair_slot *s = &t->slot[i];
        char *k = (char *)t->arena.data + s->off;
        if (!s->hash)
            continue;
        if (kind == TOP_METRICS) {
            if (s->name_len == 8 && !memcmp(k, "__name__", 8))
                heap_offer(&h, (stat_ref){k + 9, s->len - 9, s->count});
        } else if (kind == TOP_PAIRS) {
            k[s->name_len] = '=';
            heap_offer(&h, (stat_ref){k, s->len, s->count});
        } else {
            heap_offer(&h, (stat_ref){k, s->len, kind == TOP_BYTES ? s->bytes : s->count});
        }
    }
    stat_ref *v = h.v;
    size_t n = h.n;
    qsort(v, n, sizeof *v, cmp_stat);
    int rc = json_raw(b, ",\"");
    rc = rc ? rc : json_raw(b, field);
    rc = rc ? rc : json_raw(b, "\":[");
    sbuf key = {0};
    for (size_t i = 0; i < n && i < limit && !rc; i++) {
        char num[40];
        snprintf(num, sizeof num, ",\"value\":%" PRIu64 "}", v[i].v);
        sbuf_reset(&key);
        rc = sbuf_append(&key, v[i].key, v[i].len);
        rc = rc ? rc : sbuf_append(&key, "", 1);
        rc = rc ? rc : json_raw(b, i ? ",{\"name\":" : "{\"name\":");
        rc = rc ? rc : json_str(b, (const char *)key.data);
        rc = rc ? rc : json_raw(b, num);
    }
    sbuf_free(&key);
    free(v);
    return rc ? rc : json_raw(b, "]");
}

/* Counts the label pairs of every series the cursor yields. */
static int count_pairs(strata_cursor *cur, pair_table *pairs, uint64_t *series)
{
    sbuf key = {0};
    strata_sid sid;
    const strata_label *l;
    size_t nl;
    int rc;
    while ((rc = strata_cursor_next_series(cur, &sid, &l, &nl)) == 1) {
        ++*series;
        for (size_t i = 0; i < nl && rc == 1; i++) {
            size_t nn = strlen(l[i].name), vn = strlen(l[i].value);
            pair_slot *s;
            sbuf_reset(&key);
            if (sbuf_append(&key, l[i].name, nn + 1) || sbuf_append(&key, l[i].value, vn))
                rc = STRATA_ERR_NOMEM;
            else if ((rc = table_get(pairs, (const char *)key.data, nn + 1 + vn, nn, &s)) == STRATA_OK) {
                s->count++;
                rc = 1;
            }
        }
        if (rc != 1)
            break;
    }
    sbuf_free(&key);
    return rc < 0 ? rc : STRATA_OK;
}

/* Folds the pairs into per-name figures: distinct values, and bytes of
 * the distinct values. The latter is Prometheus 2's "memory in bytes by
 * label name" and what strata's index holds (values are interned once);
 * Prometheus 3 estimates the Go memory of every copy of a label instead,
 * which has no meaning here. */
static int fold_names(const pair_table *pairs, pair_table *names, uint64_t *n_pairs)
{
    for (size_t i = 0; i < pairs->cap; i++) {
        const pair_slot *p = &pairs->slot[i];
        if (!p->hash)
            continue;
        ++*n_pairs;
        pair_slot *s;
        int rc = table_get(names, (const char *)pairs->arena.data + p->off, p->name_len, p->name_len, &s);
        if (rc)
            return rc;
        s->count++;
        s->bytes += (uint64_t)(p->len - p->name_len - 1);
    }
    return STRATA_OK;
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
    strata_selector *sels, all = {0};
    size_t n_sels;
    if (srv_selectors(s, r, w, 0, &sels, &n_sels, &ret))
        return ret;
    strata_stats st;
    pair_table pairs = {0}, names = {0};
    uint64_t n_series = 0, n_pairs = 0;
    strata_cursor *cur = NULL;
    int rc = strata_get_stats(s->db, &st, sizeof st);
    rc = rc ? rc
            : strata_select_any(s->db, n_sels ? sels : &all, n_sels ? n_sels : 1, start, end,
                                STRATA_SELECT_SERIES_ONLY, &cur);
    /* every series holds at least a name: start the table that large */
    while (!rc && pairs.cap < 2 * st.series && pairs.cap < ((size_t)1 << 26))
        rc = table_grow(&pairs);
    rc = rc ? rc : count_pairs(cur, &pairs, &n_series);
    strata_cursor_close(cur);
    srv_selectors_free(sels, n_sels);
    rc = rc ? rc : fold_names(&pairs, &names, &n_pairs);
    sbuf b = {0};
    if (!rc) {
        int64_t mint = st.min_t_ms > start ? st.min_t_ms : start;
        int64_t maxt = st.max_t_ms < end ? st.max_t_ms : end;
        if (!n_series) /* Prometheus' empty head */
            mint = INT64_MAX, maxt = INT64_MIN;
        char head[256];
        snprintf(head, sizeof head,
                 "{\"status\":\"success\",\"data\":{\"headStats\":{\"numSeries\":%" PRIu64 ",\"numLabelPairs\":%" PRIu64
                 ",\"chunkCount\":%" PRIu64 ",\"minTime\":%" PRId64 ",\"maxTime\":%" PRId64 "}",
                 n_series, n_pairs, st.table_blocks, mint, maxt);
        rc = json_raw(&b, head);
    }
    rc = rc ? rc : put_top(&b, "seriesCountByMetricName", &pairs, TOP_METRICS, limit);
    rc = rc ? rc : put_top(&b, "labelValueCountByLabelName", &names, TOP_VALUES, limit);
    rc = rc ? rc : put_top(&b, "memoryInBytesByLabelName", &names, TOP_BYTES, limit);
    rc = rc ? rc : put_top(&b, "seriesCountByLabelValuePair", &pairs, TOP_PAIRS, limit); /* last: rewrites keys */
    rc = rc ? rc : json_raw(&b, "}}\n");
    table_free(&pairs);
    table_free(&names);
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
