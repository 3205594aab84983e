/*
 * value.c: the evaluator's value model: label sets (one allocation each,
 * sorted by name), grouping keys and the hash map that groups series by
 * them, vectors over the step grid, and the context's error, limit and
 * cancellation bookkeeping.
 *
 * A grouping key is the bytes name \0 value \0 ... of the labels a
 * grouping keeps, so equal keys mean equal label subsets exactly (the hash
 * only finds the slot; the bytes decide).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "eval_int.h"

/* ------------------------------------------------------------ context */

static int status_of(query_errtype t)
{
    switch (t) {
    case QERR_TIMEOUT:
    case QERR_CANCELED:
        return STRATA_ERR_CANCELLED;
    case QERR_TOO_MANY:
        return STRATA_ERR_LIMIT;
    case QERR_INTERNAL:
        return STRATA_ERR_NOMEM;
    default:
        return STRATA_ERR_INVALID;
    }
}

int query_fail(qctx *c, query_errtype t, const char *fmt, ...)
{
    if (c->etype == QERR_NONE) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->emsg, sizeof c->emsg, fmt, ap);
        va_end(ap);
        c->etype = t;
    }
    return status_of(c->etype);
}

int query_nomem(qctx *c)
{
    if (c->etype == QERR_NONE) {
        c->etype = QERR_INTERNAL;
        snprintf(c->emsg, sizeof c->emsg, "out of memory");
    }
    return STRATA_ERR_NOMEM;
}

int query_warn(qctx *c, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (size_t i = 0; i < c->n_warnings; i++)
        if (strcmp(c->warnings[i], buf) == 0)
            return 0;
    if (c->n_warnings >= 64)
        return 0; /* enough said */
    char **nw = base_realloc(c->warnings, (c->n_warnings + 1) * sizeof *nw);
    if (!nw)
        return query_nomem(c);
    c->warnings = nw;
    if (!(nw[c->n_warnings] = base_strdup(buf)))
        return query_nomem(c);
    c->n_warnings++;
    return 0;
}

int query_check(qctx *c)
{
    if (c->etype != QERR_NONE)
        return status_of(c->etype);
    if (c->cancel && *c->cancel)
        return query_fail(c, QERR_CANCELED, "query was canceled in expression evaluation");
    if (c->deadline_ns && (++c->check_tick & 15) == 0 && base_mono_ns() > c->deadline_ns)
        return query_fail(c, QERR_TIMEOUT, "query timed out in expression evaluation");
    return 0;
}

int query_check_now(qctx *c)
{
    if (c->etype != QERR_NONE)
        return status_of(c->etype);
    if (c->cancel && *c->cancel)
        return query_fail(c, QERR_CANCELED, "query was canceled in expression evaluation");
    if (c->deadline_ns && base_mono_ns() > c->deadline_ns)
        return query_fail(c, QERR_TIMEOUT, "query timed out in expression evaluation");
    return 0;
}

int query_charge(qctx *c, uint64_t n)
{
    c->cur_samples += n;
    if (c->cur_samples > c->peak_samples)
        c->peak_samples = c->cur_samples;
    if (c->max_samples && c->cur_samples > c->max_samples)
        return query_fail(c, QERR_TOO_MANY,
                          "query processing would load too many samples into memory in query execution");
    return query_check(c);
}

void query_release(qctx *c, uint64_t n) { c->cur_samples = n > c->cur_samples ? 0 : c->cur_samples - n; }

/* ------------------------------------------------------------ labels */

static int label_cmp(const void *a, const void *b)
{
    return strcmp(((const strata_label *)a)->name, ((const strata_label *)b)->name);
}

int query_labels_make(const strata_label *l, size_t n, qlabels *out)
{
    out->v = NULL;
    out->n = 0;
    if (n == 0)
        return 0;
    size_t bytes = n * sizeof(strata_label);
    for (size_t i = 0; i < n; i++)
        bytes += strlen(l[i].name) + strlen(l[i].value) + 2;
    char *blk = base_malloc(bytes);
    if (!blk)
        return STRATA_ERR_NOMEM;
    strata_label *v = (strata_label *)blk;
    char *p = blk + n * sizeof(strata_label);
    bool sorted = true;
    for (size_t i = 0; i < n; i++) {
        size_t a = strlen(l[i].name) + 1, b = strlen(l[i].value) + 1;
        memcpy(p, l[i].name, a);
        v[i].name = p;
        p += a;
        memcpy(p, l[i].value, b);
        v[i].value = p;
        p += b;
        if (i && strcmp(l[i - 1].name, l[i].name) > 0)
            sorted = false;
    }
    if (!sorted)
        qsort(v, n, sizeof *v, label_cmp);
    out->v = v;
    out->n = n;
    return 0;
}

int query_labels_copy(const qlabels *in, qlabels *out) { return query_labels_make(in->v, in->n, out); }

void query_labels_free(qlabels *l)
{
    base_free(l->v);
    l->v = NULL;
    l->n = 0;
}

const char *query_labels_get(const qlabels *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].name, name) == 0)
            return l->v[i].value;
    return NULL;
}

int query_labels_set(const qlabels *in, const char *name, const char *value, qlabels *out)
{
    strata_label stackbuf[32] = {{NULL, NULL}};
    strata_label *tmp = in->n + 1 <= 32 ? stackbuf : base_malloc((in->n + 1) * sizeof *tmp);
    if (!tmp)
        return STRATA_ERR_NOMEM;
    size_t k = 0;
    bool done = false;
    for (size_t i = 0; i < in->n; i++) {
        if (strcmp(in->v[i].name, name) == 0) {
            done = true;
            if (value[0])
                tmp[k++] = (strata_label){name, value};
            continue;
        }
        tmp[k++] = in->v[i];
    }
    if (!done && value[0])
        tmp[k++] = (strata_label){name, value};
    int rc = query_labels_make(tmp, k, out);
    if (tmp != stackbuf)
        base_free(tmp);
    return rc;
}

static bool is_reserved_meta(const char *name)
{
    return strcmp(name, "__name__") == 0 || strcmp(name, "__type__") == 0 || strcmp(name, "__unit__") == 0;
}

int query_labels_drop_name(const qlabels *in, qlabels *out)
{
    strata_label stackbuf[32] = {{NULL, NULL}};
    strata_label *tmp = in->n <= 32 ? stackbuf : base_malloc(in->n * sizeof *tmp);
    if (!tmp)
        return STRATA_ERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < in->n; i++)
        if (!is_reserved_meta(in->v[i].name))
            tmp[k++] = in->v[i];
    int rc = query_labels_make(tmp, k, out);
    if (tmp != stackbuf)
        base_free(tmp);
    return rc;
}

static bool in_names(const char *name, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

int query_labels_filter(const qlabels *in, const char *const *names, size_t n, bool keep, qlabels *out)
{
    strata_label stackbuf[32] = {{NULL, NULL}};
    strata_label *tmp = in->n <= 32 ? stackbuf : base_malloc(in->n * sizeof *tmp);
    if (!tmp)
        return STRATA_ERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < in->n; i++)
        if (in_names(in->v[i].name, names, n) == keep)
            tmp[k++] = in->v[i];
    int rc = query_labels_make(tmp, k, out);
    if (tmp != stackbuf)
        base_free(tmp);
    return rc;
}

int query_labels_cmp(const qlabels *a, const qlabels *b)
{
    size_t n = a->n < b->n ? a->n : b->n;
    for (size_t i = 0; i < n; i++) {
        int d = strcmp(a->v[i].name, b->v[i].name);
        if (d)
            return d;
        d = strcmp(a->v[i].value, b->v[i].value);
        if (d)
            return d;
    }
    return a->n < b->n ? -1 : a->n > b->n ? 1 : 0;
}

bool query_labels_eq(const qlabels *a, const qlabels *b) { return a->n == b->n && query_labels_cmp(a, b) == 0; }

bool query_labels_has_name(const qlabels *l) { return query_labels_get(l, "__name__") != NULL; }

/* Prometheus 3 accepts any non-empty valid UTF-8 label name. */
bool query_valid_label_name(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    if (!*p)
        return false;
    while (*p) {
        unsigned n = *p < 0x80 ? 0 : (*p >> 5) == 6 ? 1 : (*p >> 4) == 14 ? 2 : (*p >> 3) == 30 ? 3 : 4;
        if (n == 4)
            return false;
        uint32_t cp = n == 0 ? *p : (uint32_t)(*p & (0x3f >> n));
        p++;
        for (unsigned i = 0; i < n; i++, p++) {
            if ((*p & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (*p & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------ keys and map */

static int key_put(qkey *k, const char *s)
{
    size_t n = strlen(s) + 1;
    if (k->len + n > k->cap) {
        size_t nc = k->cap ? k->cap * 2 : 256;
        while (nc < k->len + n)
            nc *= 2;
        char *p = base_realloc(k->p, nc);
        if (!p)
            return STRATA_ERR_NOMEM;
        k->p = p;
        k->cap = nc;
    }
    memcpy(k->p + k->len, s, n);
    k->len += n;
    return 0;
}

int query_key_build(qkey *k, const qlabels *l, const char *const *names, size_t n, bool keep, bool drop_name)
{
    k->len = 0;
    if (key_put(k, "") != 0) /* never an empty key: a map slot needs len >= 1 */
        return STRATA_ERR_NOMEM;
    for (size_t i = 0; i < l->n; i++) {
        const char *name = l->v[i].name;
        bool listed = in_names(name, names, n);
        if (keep ? !listed : (listed || (drop_name && strcmp(name, "__name__") == 0)))
            continue;
        if (key_put(k, name) != 0 || key_put(k, l->v[i].value) != 0)
            return STRATA_ERR_NOMEM;
    }
    return 0;
}

void query_key_free(qkey *k)
{
    base_free(k->p);
    k->p = NULL;
    k->len = k->cap = 0;
}

struct qmap_slot {
    uint64_t hash;
    size_t off, len; /* in the arena; len 0: empty */
    uint32_t idx;
};

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return h;
}

static int map_grow(qmap *m)
{
    size_t nc = m->cap ? m->cap * 2 : 64;
    struct qmap_slot *ns = base_calloc(nc, sizeof *ns);
    if (!ns)
        return STRATA_ERR_NOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        struct qmap_slot *s = &m->slots[i];
        if (!s->len)
            continue;
        size_t j = s->hash & (nc - 1);
        while (ns[j].len)
            j = (j + 1) & (nc - 1);
        ns[j] = *s;
    }
    base_free(m->slots);
    m->slots = ns;
    m->cap = nc;
    return 0;
}

int query_map_find(const qmap *m, const char *key, size_t len, uint32_t *idx)
{
    if (!m->cap)
        return 0;
    uint64_t h = hash_bytes(key, len);
    for (size_t j = h & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
        const struct qmap_slot *s = &m->slots[j];
        if (!s->len)
            return 0;
        if (s->hash == h && s->len == len && memcmp(m->arena + s->off, key, len) == 0) {
            *idx = s->idx;
            return 1;
        }
    }
}

int query_map_get_or_add(qmap *m, const char *key, size_t len, uint32_t next, uint32_t *idx, int *found)
{
    if (query_map_find(m, key, len, idx)) {
        *found = 1;
        return 0;
    }
    *found = 0;
    if ((m->n + 1) * 4 > m->cap * 3 && map_grow(m) != 0)
        return STRATA_ERR_NOMEM;
    if (m->arena_len + len > m->arena_cap) {
        size_t nc = m->arena_cap ? m->arena_cap * 2 : 1024;
        while (nc < m->arena_len + len)
            nc *= 2;
        char *p = base_realloc(m->arena, nc);
        if (!p)
            return STRATA_ERR_NOMEM;
        m->arena = p;
        m->arena_cap = nc;
    }
    memcpy(m->arena + m->arena_len, key, len);
    uint64_t h = hash_bytes(key, len);
    size_t j = h & (m->cap - 1);
    while (m->slots[j].len)
        j = (j + 1) & (m->cap - 1);
    m->slots[j] = (struct qmap_slot){h, m->arena_len, len, next};
    m->arena_len += len;
    m->n++;
    *idx = next;
    return 0;
}

void query_map_free(qmap *m)
{
    base_free(m->slots);
    base_free(m->arena);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------ values */

void query_value_free(qctx *c, qvalue *v)
{
    if (!v)
        return;
    for (size_t i = 0; v->s && i < v->n; i++) {
        query_labels_free(&v->s[i].lab);
        base_free(v->s[i].v);
        base_free(v->s[i].has);
    }
    for (size_t i = 0; v->ms && i < v->n; i++) {
        query_labels_free(&v->ms[i].lab);
        base_free(v->ms[i].t);
        base_free(v->ms[i].v);
    }
    base_free(v->s);
    base_free(v->ms);
    base_free(v->scalar);
    base_free(v->wend);
    base_free(v->str);
    if (c)
        query_release(c, v->samples);
    memset(v, 0, sizeof *v);
}

int query_scalar_new(qctx *c, qvalue *v, double x)
{
    memset(v, 0, sizeof *v);
    v->kind = QV_SCALAR;
    v->n_steps = c->n_steps;
    /* charged like a series, so a subquery of millions of steps fails
     * before it allocates */
    v->samples = c->n_steps;
    int rc = query_charge(c, c->n_steps);
    if (rc)
        return rc;
    v->scalar = base_malloc((c->n_steps ? c->n_steps : 1) * sizeof(double));
    if (!v->scalar)
        return query_nomem(c);
    for (size_t i = 0; i < c->n_steps; i++)
        v->scalar[i] = x;
    return 0;
}

int query_vector_init(qctx *c, qvalue *v)
{
    memset(v, 0, sizeof *v);
    v->kind = QV_VECTOR;
    v->n_steps = c->n_steps;
    return 0;
}

int query_vector_add(qctx *c, qvalue *v, qlabels *lab, qseries **out)
{
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 16;
        qseries *ns = base_realloc(v->s, nc * sizeof *ns);
        if (!ns)
            return query_nomem(c);
        v->s = ns;
        v->cap = nc;
    }
    size_t steps = v->n_steps ? v->n_steps : 1;
    /* Charged per series and step, like Prometheus counts points held,
     * before allocating. */
    v->samples += v->n_steps;
    int rc = query_charge(c, v->n_steps);
    if (rc)
        return rc;
    qseries *s = &v->s[v->n];
    s->v = base_malloc(steps * sizeof(double));
    s->has = base_calloc(qbit_words(steps), sizeof(uint64_t));
    if (!s->v || !s->has) {
        base_free(s->v);
        base_free(s->has);
        return query_nomem(c);
    }
    s->lab = *lab;
    lab->v = NULL;
    lab->n = 0;
    v->n++;
    *out = s;
    return 0;
}

size_t query_series_count(const qseries *s, size_t n_steps)
{
    size_t k = 0;
    for (size_t w = 0; w < qbit_words(n_steps); w++)
        k += (size_t)__builtin_popcountll(s->has[w]);
    return k;
}

static void series_free(qseries *s)
{
    query_labels_free(&s->lab);
    base_free(s->v);
    base_free(s->has);
}

void query_vector_prune(qctx *c, qvalue *v)
{
    size_t k = 0;
    for (size_t i = 0; i < v->n; i++) {
        bool any = false;
        for (size_t w = 0; w < qbit_words(v->n_steps) && !any; w++)
            any = v->s[i].has[w] != 0;
        if (!any) {
            series_free(&v->s[i]);
            if (v->samples >= v->n_steps) {
                v->samples -= v->n_steps;
                query_release(c, v->n_steps);
            }
            continue;
        }
        v->s[k++] = v->s[i];
    }
    v->n = k;
}

static int cmp_idx_labels_ctx_sort(const void *a, const void *b, void *arg)
{
    const qseries *s = arg;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int d = query_labels_cmp(&s[i].lab, &s[j].lab);
    return d ? d : (i < j ? -1 : i > j);
}

int query_vector_dedupe(qctx *c, qvalue *v)
{
    if (v->n < 2)
        return 0;
    size_t *ord = base_malloc(v->n * sizeof *ord);
    if (!ord)
        return query_nomem(c);
    for (size_t i = 0; i < v->n; i++)
        ord[i] = i;
    qsort_r(ord, v->n, sizeof *ord, cmp_idx_labels_ctx_sort, v->s);
    int rc = 0;
    bool merged = false;
    for (size_t a = 0; a < v->n && rc == 0;) {
        size_t b = a + 1;
        while (b < v->n && query_labels_eq(&v->s[ord[a]].lab, &v->s[ord[b]].lab))
            b++;
        for (size_t k = a + 1; k < b; k++) {
            qseries *dst = &v->s[ord[a]], *src = &v->s[ord[k]];
            for (size_t w = 0; w < qbit_words(v->n_steps); w++)
                if (dst->has[w] & src->has[w]) {
                    rc = query_fail(c, QERR_EXECUTION, "vector cannot contain metrics with the same labelset");
                    break;
                }
            if (rc)
                break;
            for (size_t i = 0; i < v->n_steps; i++)
                if (qbit(src->has, i)) {
                    dst->v[i] = src->v[i];
                    qbit_set(dst->has, i);
                }
            memset(src->has, 0, qbit_words(v->n_steps) * sizeof(uint64_t));
            merged = true;
        }
        a = b;
    }
    base_free(ord);
    if (rc == 0 && merged)
        query_vector_prune(c, v);
    return rc;
}

int query_vector_drop_names(qctx *c, qvalue *v)
{
    bool any = false;
    for (size_t i = 0; i < v->n; i++) {
        bool has = false;
        for (size_t j = 0; j < v->s[i].lab.n && !has; j++)
            has = is_reserved_meta(v->s[i].lab.v[j].name);
        if (!has)
            continue;
        qlabels nl;
        if (query_labels_drop_name(&v->s[i].lab, &nl) != 0)
            return query_nomem(c);
        query_labels_free(&v->s[i].lab);
        v->s[i].lab = nl;
        any = true;
    }
    return any ? query_vector_dedupe(c, v) : 0;
}
