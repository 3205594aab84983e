/*
 * select.c: selection of series by matchers, and label names and values
 * of a selection, computed on postings.
 *
 * Semantics (Prometheus): series s matches matcher m when m accepts the
 * value of m.name in s, or "" when s has no such label. So for each m:
 * - m rejects "": the series matched are the union of the postings of the
 *   values m accepts; the candidates are intersected with it;
 * - m accepts "": the series NOT matched are the union of the postings of
 *   the values m rejects; they are subtracted from the candidates.
 * Without any matcher of the first kind the candidates start as every
 * series (or the caller's `within` set).
 *
 * Plan: matchers that reject "" go first, equality and literal sets
 * (direct postings look-ups) before the others. Once the candidates are
 * fewer than the values of a label, a matcher on that label is checked on
 * each candidate's own labels instead of scanning every value. A union of
 * several postings lists becomes a bitmap over the sid space when large,
 * a sorted array otherwise. Everything runs under the postings reader lock.
 */
#include <stdlib.h>

#include "index_int.h"

typedef struct sidv {
    uint32_t *v;
    size_t n, cap;
} sidv;

static int sidv_reserve(sidv *s, size_t n)
{
    if (n <= s->cap)
        return STRATA_OK;
    size_t cap = s->cap ? s->cap : 16;
    while (cap < n)
        cap *= 2;
    uint32_t *v = base_realloc(s->v, cap * sizeof *v);
    if (!v)
        return STRATA_ERR_NOMEM;
    s->v = v;
    s->cap = cap;
    return STRATA_OK;
}

static int sidv_copy(sidv *s, const uint32_t *v, size_t n)
{
    int rc = sidv_reserve(s, n);
    if (rc == 0) {
        if (n)
            memcpy(s->v, v, n * sizeof *v);
        s->n = n;
    }
    return rc;
}

/* First index i >= lo with a[i] >= x (galloping then binary search). */
static size_t gallop(const uint32_t *a, size_t lo, size_t n, uint32_t x)
{
    size_t step = 1, hi = lo;
    while (hi < n && a[hi] < x) {
        lo = hi + 1;
        hi += step;
        step *= 2;
    }
    if (hi > n)
        hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* c := c ∩ b (keep = 1) or c := c \ b (keep = 0), in place. */
static void sidv_apply_sorted(sidv *c, const uint32_t *b, size_t bn, int keep)
{
    size_t w = 0, j = 0;
    for (size_t i = 0; i < c->n; i++) {
        uint32_t x = c->v[i];
        j = bn > c->n * 8 ? gallop(b, j, bn, x) : j;
        while (j < bn && b[j] < x)
            j++;
        int in = j < bn && b[j] == x;
        if (in == keep)
            c->v[w++] = x;
    }
    c->n = w;
}

static void sidv_apply_bitmap(sidv *c, const uint64_t *bm, size_t nbits, int keep)
{
    size_t w = 0;
    for (size_t i = 0; i < c->n; i++) {
        uint32_t x = c->v[i];
        int in = x < nbits && (bm[x >> 6] >> (x & 63) & 1);
        if (in == keep)
            c->v[w++] = x;
    }
    c->n = w;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The candidates and the state of one selection. */
typedef struct sel {
    strata_index *idx;
    sidv cand;
    int have;          /* cand is meaningful (else: every series) */
    uint32_t nbits;    /* sid space: max sid + 1 */
    const pvec **lists;
    size_t n_lists, cap_lists;
} sel;

static int add_list(sel *s, const pvec *p)
{
    if (s->n_lists == s->cap_lists) {
        size_t cap = s->cap_lists ? s->cap_lists * 2 : 16;
        const pvec **l = base_realloc(s->lists, cap * sizeof *l);
        if (!l)
            return STRATA_ERR_NOMEM;
        s->lists = l;
        s->cap_lists = cap;
    }
    s->lists[s->n_lists++] = p;
    return STRATA_OK;
}

/* Applies the union of s->lists to the candidates: keep = 1 intersects,
 * keep = 0 subtracts. */
static int apply_union(sel *s, int keep)
{
    int rc = STRATA_OK;
    size_t total = 0;
    for (size_t i = 0; i < s->n_lists; i++)
        total += s->lists[i]->n;
    if (!s->have) {
        if (keep == 0) { /* start from every series */
            if ((rc = sidv_copy(&s->cand, s->idx->all.v, s->idx->all.n)) != 0)
                return rc;
            s->have = 1;
        } else if (s->n_lists == 1) {
            s->have = 1;
            return sidv_copy(&s->cand, s->lists[0]->v, s->lists[0]->n);
        }
    }
    if (s->n_lists == 0) {
        if (keep)
            s->cand.n = 0, s->have = 1;
        return STRATA_OK;
    }
    if (s->n_lists == 1) {
        sidv_apply_sorted(&s->cand, s->lists[0]->v, s->lists[0]->n, keep);
        return STRATA_OK;
    }
    if (total < s->nbits / 64 || (s->have && total < 4096)) {
        /* Small: a sorted array. Lists of one label are disjoint. */
        sidv u = {0};
        if ((rc = sidv_reserve(&u, total)) != 0)
            return rc;
        for (size_t i = 0; i < s->n_lists; i++) {
            memcpy(u.v + u.n, s->lists[i]->v, s->lists[i]->n * sizeof *u.v);
            u.n += s->lists[i]->n;
        }
        qsort(u.v, u.n, sizeof *u.v, cmp_u32);
        if (!s->have) {
            base_free(s->cand.v);
            s->cand = u;
            s->have = 1;
            return STRATA_OK;
        }
        sidv_apply_sorted(&s->cand, u.v, u.n, keep);
        base_free(u.v);
        return STRATA_OK;
    }
    size_t words = ((size_t)s->nbits + 63) / 64;
    uint64_t *bm = base_calloc(words, sizeof *bm);
    if (!bm)
        return STRATA_ERR_NOMEM;
    for (size_t i = 0; i < s->n_lists; i++)
        for (uint32_t j = 0; j < s->lists[i]->n; j++) {
            uint32_t x = s->lists[i]->v[j];
            if (x < s->nbits) /* always, by ix_series_add's order; kept as a bound on bm */
                bm[x >> 6] |= 1ull << (x & 63);
        }
    if (!s->have) {
        if ((rc = sidv_reserve(&s->cand, total)) == 0) {
            size_t n = 0;
            for (size_t w = 0; w < words; w++)
                for (uint64_t b = bm[w]; b; b &= b - 1)
                    s->cand.v[n++] = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(b));
            s->cand.n = n;
            s->have = 1;
        }
    } else {
        sidv_apply_bitmap(&s->cand, bm, s->nbits, keep);
    }
    base_free(bm);
    return rc;
}

/* Checks matcher im on each candidate's own labels. */
static int filter_each(sel *s, index_matcher *im, const ix_name *nm)
{
    size_t w = 0;
    for (size_t i = 0; i < s->cand.n; i++) {
        uint32_t sid = s->cand.v[i];
        const ix_series *ser = ix_series_get(s->idx, sid);
        const ix_value *val = NULL;
        for (uint32_t k = 0; ser && k < ser->n; k++)
            if (ser->l[k].name == nm->str) { /* interned: pointer equality */
                val = ix_value_of(ser->l[k].value); /* its length and UTF-8 check are kept */
                break;
            }
        int r = val ? ix_matcher_raw(im, val->str, val->len, val->utf8_ok) : ix_matcher_raw(im, "", 0, 1);
        if (r < 0) /* an error is no answer: the selection fails */
            return r;
        if (r ^ im->neg)
            s->cand.v[w++] = sid;
    }
    s->cand.n = w;
    return STRATA_OK;
}

static int is_literal(const index_matcher *im) { return im->kind == IXM_EQ || im->kind == IXM_SET; }

/* Applies one matcher. */
static int apply_matcher(sel *s, index_matcher *im)
{
    const char *name = im->name;
    size_t nlen = strlen(name);
    ix_name *nm = ix_name_find(s->idx, name, nlen, (uint32_t)ix_hash_bytes(name, nlen, 1));
    if (!nm) /* no series has the label: all behave as "" */
        return im->matches_empty ? STRATA_OK : (s->cand.n = 0, s->have = 1, STRATA_OK);
    if (s->have && s->cand.n < nm->nvals && !(is_literal(im) && !im->neg)) {
        return filter_each(s, im, nm);
    }
    /* The values whose postings to gather: accepted ones (keep = 1) when
     * the matcher rejects "", else rejected ones (keep = 0). */
    int keep = !im->matches_empty;
    int want_raw = keep ^ im->neg; /* raw result of the values gathered */
    s->n_lists = 0;
    int rc;
    if (is_literal(im) && want_raw) {
        for (size_t i = 0; i < im->n_set; i++) {
            uint32_t h = (uint32_t)ix_hash_bytes(im->set[i], im->set_len[i], 2);
            ix_value *v = ix_value_find(nm, im->set[i], im->set_len[i], h);
            if (v && v->post.n && (rc = add_list(s, &v->post)) != 0)
                return rc;
        }
        return apply_union(s, keep);
    }
    size_t nonempty = 0;
    for (uint32_t i = 0; i < nm->nvals; i++) {
        ix_value *v = nm->vals[i];
        if (!v->post.n)
            continue;
        nonempty++;
        int r = ix_matcher_raw(im, v->str, v->len, v->utf8_ok);
        if (r < 0) /* an error is no answer: the selection fails */
            return r;
        if (r == want_raw && (rc = add_list(s, &v->post)) != 0)
            return rc;
    }
    if (s->n_lists == nonempty && nonempty > 1) { /* every value: the name's postings */
        s->n_lists = 0;
        if ((rc = add_list(s, &nm->post)) != 0)
            return rc;
    }
    return apply_union(s, keep);
}

static int rank(const index_matcher *im)
{
    if (im->matches_empty)
        return 3;
    return is_literal(im) && !im->neg ? 0 : im->kind == IXM_RE2 ? 2 : 1;
}

static int cmp_rank(const void *a, const void *b)
{
    int x = rank(*(index_matcher *const *)a), y = rank(*(index_matcher *const *)b);
    return x - y;
}

/* Computes the selection into s (with plock held). */
static int run(sel *s, index_matcher **ims, size_t n, const index_sids *within)
{
    int rc;
    s->nbits = atomic_load_explicit(&s->idx->next_sid, memory_order_acquire);
    if (within) {
        if ((rc = sidv_reserve(&s->cand, within->n)) != 0)
            return rc;
        for (size_t i = 0; i < within->n; i++)
            if (within->v[i] > 0 && within->v[i] < s->nbits && (i == 0 || within->v[i] > within->v[i - 1]))
                s->cand.v[s->cand.n++] = (uint32_t)within->v[i];
        s->have = 1;
    }
    qsort(ims, n, sizeof *ims, cmp_rank);
    for (size_t i = 0; i < n; i++) {
        if (s->have && s->cand.n == 0)
            break;
        if ((rc = apply_matcher(s, ims[i])) != 0)
            return rc;
    }
    if (!s->have) {
        if ((rc = sidv_copy(&s->cand, s->idx->all.v, s->idx->all.n)) != 0)
            return rc;
        s->have = 1;
    }
    return STRATA_OK;
}

static void free_ims(index_matcher **ims, size_t n)
{
    for (size_t i = 0; i < n; i++)
        index_matcher_free(ims[i]);
    base_free(ims);
}

static int compile_all(const strata_matcher *m, size_t n, index_matcher ***out)
{
    index_matcher **ims = base_calloc(n ? n : 1, sizeof *ims);
    if (!ims)
        return STRATA_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        int rc = index_matcher_compile(&m[i], &ims[i], NULL, 0);
        if (rc != 0) {
            free_ims(ims, i);
            return rc;
        }
    }
    *out = ims;
    return STRATA_OK;
}

/* Compiles, locks, runs; on success s->cand holds the sorted sids. */
static int select_sids(strata_index *idx, const strata_matcher *m, size_t n, const index_sids *within, sel *s)
{
    index_matcher **ims;
    int rc;
    if (n && !m)
        return STRATA_ERR_INVALID;
    if ((rc = compile_all(m, n, &ims)) != 0)
        return rc;
    memset(s, 0, sizeof *s);
    s->idx = idx;
    pthread_rwlock_rdlock(&idx->plock);
    rc = run(s, ims, n, within);
    pthread_rwlock_unlock(&idx->plock);
    free_ims(ims, n);
    base_free(s->lists);
    s->lists = NULL;
    if (rc != 0) {
        base_free(s->cand.v);
        s->cand.v = NULL;
    }
    return rc;
}

void index_sids_free(index_sids *s)
{
    if (!s)
        return;
    base_free(s->v);
    s->v = NULL;
    s->n = 0;
}

int index_select_within(strata_index *idx, const strata_matcher *m, size_t n, const index_sids *within,
                        index_sids *out)
{
    sel s;
    int rc = select_sids(idx, m, n, within, &s);
    if (rc != 0)
        return rc;
    strata_sid *v = base_malloc((s.cand.n ? s.cand.n : 1) * sizeof *v);
    if (!v) {
        base_free(s.cand.v);
        return STRATA_ERR_NOMEM;
    }
    for (size_t i = 0; i < s.cand.n; i++)
        v[i] = s.cand.v[i];
    out->v = v;
    out->n = s.cand.n;
    base_free(s.cand.v);
    return STRATA_OK;
}

int index_select(strata_index *idx, const strata_matcher *m, size_t n, index_sids *out)
{
    return index_select_within(idx, m, n, NULL, out);
}

/* ------------------------------------------------------------ label names and values */

void index_strs_free(index_strs *s)
{
    if (!s)
        return;
    base_free((void *)s->v);
    s->v = NULL;
    s->n = 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Whether sorted a and b share an element. */
static int meets(const uint32_t *a, size_t an, const uint32_t *b, size_t bn)
{
    if (an > bn) {
        const uint32_t *t = a;
        a = b, b = t;
        size_t tn = an;
        an = bn, bn = tn;
    }
    size_t j = 0;
    for (size_t i = 0; i < an; i++) {
        j = gallop(b, j, bn, a[i]);
        if (j == bn)
            return 0;
        if (b[j] == a[i])
            return 1;
    }
    return 0;
}

static int finish_strs(const char **v, size_t n, index_strs *out)
{
    qsort(v, n, sizeof *v, cmp_str);
    out->v = v;
    out->n = n;
    return STRATA_OK;
}

int index_label_names(strata_index *idx, const strata_matcher *m, size_t n, const index_sids *within,
                      index_strs *out)
{
    sel s = {0};
    int rc, all = n == 0 && !within;
    if (!all && (rc = select_sids(idx, m, n, within, &s)) != 0)
        return rc;
    pthread_rwlock_rdlock(&idx->plock);
    const char **v = base_malloc((idx->n_names ? idx->n_names : 1) * sizeof *v);
    size_t k = 0;
    if (v) {
        for (uint32_t i = 0; i < idx->n_names; i++) {
            const ix_name *nm = idx->names[i];
            if (nm->post.n && (all || meets(nm->post.v, nm->post.n, s.cand.v, s.cand.n)))
                v[k++] = nm->str;
        }
    }
    pthread_rwlock_unlock(&idx->plock);
    base_free(s.cand.v);
    if (!v)
        return STRATA_ERR_NOMEM;
    return finish_strs(v, k, out);
}

int index_label_values(strata_index *idx, const char *name, const strata_matcher *m, size_t n,
                       const index_sids *within, index_strs *out)
{
    sel s = {0};
    int rc, all = n == 0 && !within;
    if (!name)
        return STRATA_ERR_INVALID;
    if (!all && (rc = select_sids(idx, m, n, within, &s)) != 0)
        return rc;
    size_t nlen = strlen(name), k = 0;
    const char **v = NULL;
    rc = STRATA_OK;
    pthread_rwlock_rdlock(&idx->plock);
    ix_name *nm = ix_name_find(idx, name, nlen, (uint32_t)ix_hash_bytes(name, nlen, 1));
    if (!nm || (!all && s.cand.n == 0)) {
        v = base_malloc(sizeof *v);
    } else if (all || s.cand.n >= nm->nvals) {
        /* Per value: does its postings list meet the selection? */
        if ((v = base_malloc(nm->nvals * sizeof *v)))
            for (uint32_t i = 0; i < nm->nvals; i++) {
                const ix_value *x = nm->vals[i];
                if (x->post.n && (all || meets(x->post.v, x->post.n, s.cand.v, s.cand.n)))
                    v[k++] = x->str;
            }
    } else {
        /* Per series: fewer selected series than values. */
        if ((v = base_malloc(s.cand.n * sizeof *v)))
            for (size_t i = 0; i < s.cand.n; i++) {
                const ix_series *ser = ix_series_get(idx, s.cand.v[i]);
                for (uint32_t j = 0; ser && j < ser->n; j++)
                    if (ser->l[j].name == nm->str) {
                        v[k++] = ser->l[j].value;
                        break;
                    }
            }
        if (v) { /* interned: equal strings are the same pointer */
            qsort(v, k, sizeof *v, cmp_str);
            size_t w = 0;
            for (size_t i = 0; i < k; i++)
                if (!w || v[w - 1] != v[i])
                    v[w++] = v[i];
            k = w;
        }
    }
    pthread_rwlock_unlock(&idx->plock);
    base_free(s.cand.v);
    if (!v)
        return STRATA_ERR_NOMEM;
    return finish_strs(v, k, out);
}

int index_pair_counts(strata_index *idx, const index_sids *within, index_pair_count **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!within->n)
        return STRATA_OK;
    strata_sid top = within->v[within->n - 1];
    if (top > INDEX_MAX_SID)
        return STRATA_ERR_INVALID;
    size_t words = (size_t)(top / 64 + 1);
    uint64_t *bm = base_calloc(words, sizeof *bm);
    if (!bm)
        return STRATA_ERR_NOMEM;
    for (size_t i = 0; i < within->n; i++)
        bm[within->v[i] >> 6] |= 1ull << (within->v[i] & 63);
    index_pair_count *v = NULL;
    size_t k = 0, cap = 0;
    int rc = STRATA_OK;
    pthread_rwlock_rdlock(&idx->plock);
    for (uint32_t i = 0; i < idx->n_names && !rc; i++) {
        const ix_name *nm = idx->names[i];
        for (uint32_t j = 0; j < nm->nvals && !rc; j++) {
            const ix_value *x = nm->vals[j];
            uint64_t c = 0;
            for (uint32_t q = 0; q < x->post.n; q++) {
                uint32_t sid = x->post.v[q];
                c += sid <= top && (bm[sid >> 6] >> (sid & 63) & 1);
            }
            if (!c)
                continue;
            if ((rc = base_grow((void **)&v, &cap, k + 1, sizeof *v)) != 0)
                break;
            v[k++] = (index_pair_count){nm->str, x->str, nm->len, x->len, c};
        }
    }
    pthread_rwlock_unlock(&idx->plock);
    base_free(bm);
    if (rc) {
        base_free(v);
        return rc;
    }
    *out = v;
    *n = k;
    return STRATA_OK;
}
