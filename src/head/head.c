/*
 * head.c: per-series in-memory samples.
 *
 * Layout: sid -> series pointer through a two-level table (a directory of
 * HEAD_DIR chunks, each HEAD_CHUNK pointers, allocated on first use and
 * published with compare-and-swap), so a lookup is two loads and never
 * takes a head-wide lock. Sids are dense (the index hands them out from 1),
 * which keeps the chunks full.
 *
 * A series holds:
 *   run   Gorilla stream of strictly increasing timestamps (the common case:
 *         each scrape appends after the last sample);
 *   ooo   an array of (t, v) for samples at or before the run's last
 *         timestamp, in arrival order until a read sorts it (stably, so the
 *         later of two writes with one timestamp stays last and wins).
 */
#include "head.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "codec/codec.h"

#define HEAD_CHUNK_BITS 16
#define HEAD_CHUNK (1u << HEAD_CHUNK_BITS)
#define HEAD_DIR (1u << 16) /* HEAD_DIR * HEAD_CHUNK = 2^32 sids */

typedef struct ooo_sample {
    int64_t t;
    double v;
} ooo_sample;

typedef struct hseries {
    atomic_flag lock;
    bool ooo_sorted;     /* ooo sorted by t and deduplicated */
    uint32_t ooo_n, ooo_cap;
    ooo_sample *ooo;
    codec_xor_appender run;
} hseries;

typedef _Atomic(hseries *) hslot;

struct head {
    uint64_t seq;
    _Atomic(hslot *) *dir; /* HEAD_DIR chunk pointers */
    atomic_uint_fast64_t n_series, n_samples, bytes;
    _Atomic int64_t min_t, max_t, first_write_ms;
};

static void lock(hseries *s)
{
    while (atomic_flag_test_and_set_explicit(&s->lock, memory_order_acquire))
        ;
}

static void unlock(hseries *s) { atomic_flag_clear_explicit(&s->lock, memory_order_release); }

int head_new(uint64_t seq, head **out)
{
    head *h = base_calloc(1, sizeof *h);
    if (!h)
        return STRATA_ERR_NOMEM;
    h->dir = base_calloc(HEAD_DIR, sizeof *h->dir);
    if (!h->dir) {
        base_free(h);
        return STRATA_ERR_NOMEM;
    }
    h->seq = seq;
    atomic_init(&h->min_t, INT64_MAX);
    atomic_init(&h->max_t, INT64_MIN);
    atomic_init(&h->bytes, sizeof *h + HEAD_DIR * sizeof *h->dir);
    *out = h;
    return STRATA_OK;
}

static void series_free(hseries *s)
{
    codec_xor_appender_free(&s->run);
    base_free(s->ooo);
    base_free(s);
}

void head_free(head *h)
{
    if (!h)
        return;
    for (size_t d = 0; d < HEAD_DIR; d++) {
        hslot *chunk = atomic_load(&h->dir[d]);
        if (!chunk)
            continue;
        for (size_t i = 0; i < HEAD_CHUNK; i++) {
            hseries *s = atomic_load(&chunk[i]);
            if (s)
                series_free(s);
        }
        base_free(chunk);
    }
    base_free(h->dir);
    base_free(h);
}

uint64_t head_seq(const head *h) { return h->seq; }

/* The series slot of sid, or NULL when absent (create == false) or when
 * memory ran out (create == true). */
static hseries *series_get(head *h, uint64_t sid, bool create)
{
    if (sid >= (uint64_t)HEAD_DIR * HEAD_CHUNK)
        return NULL;
    size_t d = (size_t)(sid >> HEAD_CHUNK_BITS), i = (size_t)(sid & (HEAD_CHUNK - 1));
    hslot *chunk = atomic_load_explicit(&h->dir[d], memory_order_acquire);
    if (!chunk) {
        if (!create)
            return NULL;
        hslot *fresh = base_calloc(HEAD_CHUNK, sizeof *fresh);
        if (!fresh)
            return NULL;
        hslot *expected = NULL;
        if (atomic_compare_exchange_strong(&h->dir[d], &expected, fresh)) {
            chunk = fresh;
            atomic_fetch_add(&h->bytes, HEAD_CHUNK * sizeof *fresh);
        } else {
            base_free(fresh);
            chunk = expected;
        }
    }
    hslot *slot = &chunk[i];
    hseries *s = atomic_load_explicit(slot, memory_order_acquire);
    if (s || !create)
        return s;
    hseries *fresh = base_calloc(1, sizeof *fresh);
    if (!fresh)
        return NULL;
    atomic_flag_clear(&fresh->lock);
    codec_xor_appender_init(&fresh->run);
    hseries *expected = NULL;
    if (atomic_compare_exchange_strong(slot, &expected, fresh)) {
        atomic_fetch_add(&h->n_series, 1);
        atomic_fetch_add(&h->bytes, sizeof *fresh);
        return fresh;
    }
    series_free(fresh);
    return expected;
}

static inline void prefetch_slot(head *h, uint64_t sid)
{
    if (sid >= (uint64_t)HEAD_DIR * HEAD_CHUNK)
        return;
    hslot *chunk = atomic_load_explicit(&h->dir[sid >> HEAD_CHUNK_BITS], memory_order_relaxed);
    if (chunk)
        __builtin_prefetch(&chunk[sid & (HEAD_CHUNK - 1)]);
}

static inline void prefetch_series(head *h, uint64_t sid)
{
    if (sid >= (uint64_t)HEAD_DIR * HEAD_CHUNK)
        return;
    /* acquire: the chunk's slots are read below, and another writer may
     * have just published the chunk (its zeroing must be visible first) */
    hslot *chunk = atomic_load_explicit(&h->dir[sid >> HEAD_CHUNK_BITS], memory_order_acquire);
    if (!chunk)
        return;
    hseries *s = atomic_load_explicit(&chunk[sid & (HEAD_CHUNK - 1)], memory_order_relaxed);
    if (s) {
        __builtin_prefetch(s, 1);
        __builtin_prefetch((const char *)s + 64, 1);
    }
}

static void update_min(_Atomic int64_t *a, int64_t v)
{
    int64_t cur = atomic_load_explicit(a, memory_order_relaxed);
    while (v < cur && !atomic_compare_exchange_weak(a, &cur, v))
        ;
}

static void update_max(_Atomic int64_t *a, int64_t v)
{
    int64_t cur = atomic_load_explicit(a, memory_order_relaxed);
    while (v > cur && !atomic_compare_exchange_weak(a, &cur, v))
        ;
}

static int ooo_push(hseries *s, int64_t t, double v, int64_t *grown)
{
    if (s->ooo_n == s->ooo_cap) {
        uint32_t cap = s->ooo_cap ? s->ooo_cap * 2 : 8;
        ooo_sample *p = base_realloc(s->ooo, (size_t)cap * sizeof *p);
        if (!p)
            return STRATA_ERR_NOMEM;
        *grown += (int64_t)(cap - s->ooo_cap) * (int64_t)sizeof *p;
        s->ooo = p;
        s->ooo_cap = cap;
    }
    s->ooo[s->ooo_n++] = (ooo_sample){t, v};
    s->ooo_sorted = false;
    return STRATA_OK;
}

int head_append(head *h, const strata_sample *smp, size_t n, uint64_t *n_ooo)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN, grown = 0;
    uint64_t ooo = 0;
    int rc = STRATA_OK;
    size_t i = 0;
    for (; i < n; i++) {
        /* A batch of a scrape touches a different series at every sample:
         * fetch ahead the slot, then the series, so the cache misses of
         * later samples overlap with the work on this one. */
        if (i + 8 < n)
            prefetch_slot(h, smp[i + 8].sid);
        if (i + 4 < n)
            prefetch_series(h, smp[i + 4].sid);
        hseries *s = series_get(h, smp[i].sid, true);
        if (!s) {
            rc = smp[i].sid >= (uint64_t)HEAD_DIR * HEAD_CHUNK ? STRATA_ERR_INVALID : STRATA_ERR_NOMEM;
            break;
        }
        int64_t t = smp[i].t_ms;
        lock(s);
        if (s->run.n == 0 || t > s->run.t_prev) {
            size_t cap = s->run.bytes.cap;
            rc = codec_xor_append(&s->run, t, smp[i].value);
            grown += (int64_t)(s->run.bytes.cap - cap);
        } else {
            rc = ooo_push(s, t, smp[i].value, &grown);
            ooo++;
        }
        unlock(s);
        if (rc)
            break;
        lo = MIN(lo, t);
        hi = MAX(hi, t);
    }
    if (i) {
        atomic_fetch_add(&h->n_samples, i);
        atomic_fetch_add(&h->bytes, (uint64_t)grown);
        update_min(&h->min_t, lo);
        update_max(&h->max_t, hi);
        int64_t zero = 0;
        if (atomic_load_explicit(&h->first_write_ms, memory_order_relaxed) == 0)
            atomic_compare_exchange_strong(&h->first_write_ms, &zero, base_now_ms());
    }
    if (n_ooo)
        *n_ooo += ooo;
    return rc;
}

void head_samples_free(head_samples *s)
{
    base_free(s->t);
    base_free(s->v);
    s->t = NULL;
    s->v = NULL;
    s->n = s->cap = 0;
}

static int samples_reserve(head_samples *s, size_t need)
{
    if (need <= s->cap)
        return STRATA_OK;
    size_t cap = s->cap ? s->cap : 64;
    while (cap < need)
        cap *= 2;
    int64_t *t = base_realloc(s->t, cap * sizeof *t);
    if (!t)
        return STRATA_ERR_NOMEM;
    s->t = t;
    double *v = base_realloc(s->v, cap * sizeof *v);
    if (!v)
        return STRATA_ERR_NOMEM;
    s->v = v;
    s->cap = cap;
    return STRATA_OK;
}

int head_samples_push(head_samples *s, int64_t t, double v)
{
    if (s->n == s->cap) {
        int rc = samples_reserve(s, s->n + 1);
        if (rc)
            return rc;
    }
    s->t[s->n] = t;
    s->v[s->n] = v;
    s->n++;
    return STRATA_OK;
}

int head_samples_append(head_samples *s, const int64_t *t, const double *v, size_t n)
{
    int rc = samples_reserve(s, s->n + n);
    if (rc)
        return rc;
    memcpy(s->t + s->n, t, n * sizeof *t);
    memcpy(s->v + s->n, v, n * sizeof *v);
    s->n += n;
    return STRATA_OK;
}

/* Stable merge sort of a[0..n) by t, tmp of n elements. */
static void ooo_sort(ooo_sample *a, ooo_sample *tmp, size_t n)
{
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = MIN(lo + w, n), hi = MIN(lo + 2 * w, n), i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = a[j].t < a[i].t ? a[j++] : a[i++];
            while (i < mid)
                tmp[k++] = a[i++];
            while (j < hi)
                tmp[k++] = a[j++];
        }
        memcpy(a, tmp, n * sizeof *a);
    }
}

/* Sorts s->ooo and keeps the last write of each timestamp. Caller holds the lock. */
static int ooo_normalise(hseries *s)
{
    if (s->ooo_sorted || s->ooo_n == 0)
        return STRATA_OK;
    ooo_sample *tmp = base_malloc((size_t)s->ooo_n * sizeof *tmp);
    if (!tmp)
        return STRATA_ERR_NOMEM;
    ooo_sort(s->ooo, tmp, s->ooo_n);
    base_free(tmp);
    uint32_t w = 0;
    for (uint32_t r = 0; r < s->ooo_n; r++) {
        if (w && s->ooo[w - 1].t == s->ooo[r].t)
            s->ooo[w - 1] = s->ooo[r];
        else
            s->ooo[w++] = s->ooo[r];
    }
    s->ooo_n = w;
    s->ooo_sorted = true;
    return STRATA_OK;
}

/* Appends the samples of s in [mint, maxt] to out, merged. Caller holds the lock. */
static int series_collect(hseries *s, int64_t mint, int64_t maxt, head_samples *out)
{
    int rc = ooo_normalise(s);
    if (rc)
        return rc;
    if ((rc = samples_reserve(out, out->n + s->run.n + s->ooo_n)) != 0)
        return rc;
    codec_xor_iter it;
    codec_xor_iter_init(&it, s->run.bytes.data, s->run.bytes.len, s->run.n);
    int64_t t = 0;
    double v = 0;
    int more = codec_xor_iter_next(&it, &t, &v);
    uint32_t j = 0;
    while (more > 0 || j < s->ooo_n) {
        int64_t tt;
        double vv;
        if (more > 0 && (j == s->ooo_n || t < s->ooo[j].t)) {
            tt = t;
            vv = v;
            more = codec_xor_iter_next(&it, &t, &v);
        } else {
            if (more > 0 && t == s->ooo[j].t) /* ooo is the later write */
                more = codec_xor_iter_next(&it, &t, &v);
            tt = s->ooo[j].t;
            vv = s->ooo[j].v;
            j++;
        }
        if (tt >= mint && tt <= maxt) {
            out->t[out->n] = tt;
            out->v[out->n] = vv;
            out->n++;
        }
    }
    return more < 0 ? more : STRATA_OK;
}

int head_read(head *h, uint64_t sid, int64_t mint, int64_t maxt, head_samples *out)
{
    out->n = 0;
    hseries *s = series_get(h, sid, false);
    if (!s)
        return STRATA_OK;
    lock(s);
    int rc = series_collect(s, mint, maxt, out);
    unlock(s);
    return rc;
}

/* Rebuilds s without the samples in [mint, maxt]. Caller holds the lock. */
static int series_delete(hseries *s, int64_t mint, int64_t maxt, int64_t *grown)
{
    head_samples all = {0};
    int rc = series_collect(s, INT64_MIN, INT64_MAX, &all);
    if (rc)
        goto out;
    codec_xor_appender run;
    codec_xor_appender_init(&run);
    for (size_t i = 0; i < all.n; i++) {
        if (all.t[i] >= mint && all.t[i] <= maxt)
            continue;
        if ((rc = codec_xor_append(&run, all.t[i], all.v[i])) != 0) {
            codec_xor_appender_free(&run);
            goto out;
        }
    }
    *grown += (int64_t)run.bytes.cap - (int64_t)s->run.bytes.cap - (int64_t)s->ooo_cap * (int64_t)sizeof *s->ooo;
    codec_xor_appender_free(&s->run);
    s->run = run;
    base_free(s->ooo);
    s->ooo = NULL;
    s->ooo_n = s->ooo_cap = 0;
    s->ooo_sorted = true;
out:
    head_samples_free(&all);
    return rc;
}

int head_delete(head *h, const uint64_t *sids, size_t n, int64_t mint, int64_t maxt)
{
    int64_t grown = 0;
    int rc = STRATA_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        hseries *s = series_get(h, sids[i], false);
        if (!s)
            continue;
        lock(s);
        rc = series_delete(s, mint, maxt, &grown);
        unlock(s);
    }
    atomic_fetch_add(&h->bytes, (uint64_t)grown);
    return rc;
}

int head_sids(head *h, uint64_t **out, size_t *n)
{
    size_t cap = 1024, k = 0;
    uint64_t *v = base_malloc(cap * sizeof *v);
    if (!v)
        return STRATA_ERR_NOMEM;
    for (size_t d = 0; d < HEAD_DIR; d++) {
        hslot *chunk = atomic_load(&h->dir[d]);
        if (!chunk)
            continue;
        for (size_t i = 0; i < HEAD_CHUNK; i++) {
            hseries *s = atomic_load(&chunk[i]);
            if (!s)
                continue;
            lock(s);
            bool any = s->run.n || s->ooo_n;
            unlock(s);
            if (!any)
                continue;
            if (k == cap) {
                cap *= 2;
                uint64_t *p = base_realloc(v, cap * sizeof *v);
                if (!p) {
                    base_free(v);
                    return STRATA_ERR_NOMEM;
                }
                v = p;
            }
            v[k++] = ((uint64_t)d << HEAD_CHUNK_BITS) | i;
        }
    }
    *out = v;
    *n = k;
    return STRATA_OK;
}

void head_get_stats(head *h, head_stats *out)
{
    out->series = atomic_load(&h->n_series);
    out->samples = atomic_load(&h->n_samples);
    out->bytes = atomic_load(&h->bytes);
    out->min_t = atomic_load(&h->min_t);
    out->max_t = atomic_load(&h->max_t);
    out->first_write_ms = atomic_load(&h->first_write_ms);
}
