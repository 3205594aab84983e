/*
 * dict.c: the series dictionary: canonical labels -> sid (hash table),
 * sid -> labels (directory), and the interning of names and (name, value)
 * pairs that carry the postings. Layout and lock rules: index_int.h.
 *
 * Invariants
 * - Every mutation happens with wmu held; mutations of names, values and
 *   postings also hold plock as writer.
 * - A series is published in this order: record complete -> directory
 *   entry -> postings -> hash slot. So whoever finds a sid (in postings or
 *   the hash table) finds its record.
 * - Everything a creation may fail on (memory for the record, the tables,
 *   the postings, the log buffer) is reserved before the first visible
 *   change, so a failed creation leaves no half-made series; at worst an
 *   interned name or value with empty postings, which queries skip.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "index_int.h"

#define CHUNK_BYTES (64u * 1024u)

/* arena_rec_str keeps the string behind its record 8-aligned. */
_Static_assert(sizeof(ix_value) % 8 == 0 && sizeof(ix_name) % 8 == 0, "record sizes");
#define STACK_LABELS 128

/* ------------------------------------------------------------ arena */

void *ix_arena_alloc(strata_index *idx, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    ix_chunk *c = idx->arena;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > CHUNK_BYTES / 4 ? n : CHUNK_BYTES - sizeof(ix_chunk);
        ix_chunk *nc = base_malloc(sizeof(ix_chunk) + cap);
        if (!nc)
            return NULL;
        nc->used = 0;
        nc->cap = cap;
        idx->mem_bytes += sizeof(ix_chunk) + cap;
        if (c && cap != CHUNK_BYTES - sizeof(ix_chunk) && c->cap - c->used > 256) {
            /* A big one-off: keep filling the current chunk afterwards. */
            nc->next = c->next;
            c->next = nc;
            c = nc;
        } else {
            nc->next = c;
            idx->arena = c = nc;
        }
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

/* Asks for transparent huge pages on the 2 MiB-aligned interior of a big
 * allocation: a freshly loaded index touches a few hundred MiB at once,
 * and at 4 KiB a page the faults cost about a third of the load. Only a
 * hint: where it is unsupported or refused nothing changes. With THP
 * defrag=madvise the kernel may compact memory at the first fault (seen
 * once as +0.4 s sys on a loaded machine); build with -DIX_NO_HUGEPAGE to
 * leave it out. */
void ix_hugepage_hint(void *p, size_t n)
{
#if defined(MADV_HUGEPAGE) && !defined(IX_NO_HUGEPAGE)
    const uintptr_t H = (uintptr_t)2 << 20;
    uintptr_t a = ((uintptr_t)p + H - 1) & ~(H - 1), b = ((uintptr_t)p + n) & ~(H - 1);
    if (b > a)
        (void)madvise((void *)a, b - a, MADV_HUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

int ix_arena_reserve(strata_index *idx, size_t bytes)
{
    if (bytes <= CHUNK_BYTES)
        return STRATA_OK;
    ix_chunk *nc = base_malloc(sizeof(ix_chunk) + bytes);
    if (!nc)
        return STRATA_ERR_NOMEM;
    ix_hugepage_hint(nc, sizeof(ix_chunk) + bytes);
    nc->used = 0;
    nc->cap = bytes;
    nc->next = idx->arena;
    idx->arena = nc;
    idx->mem_bytes += sizeof(ix_chunk) + bytes;
    return STRATA_OK;
}

/* An interned name or value: its record (hdr bytes, a multiple of 8),
 * then u32 length (ix_slen), the bytes, a NUL, in one allocation, so
 * that the string leads back to its record (ix_value_of). Returns the
 * record; *str the string. */
static void *arena_rec_str(strata_index *idx, size_t hdr, const char *s, size_t len, const char **str)
{
    char *d = ix_arena_alloc(idx, hdr + len + 5);
    if (!d)
        return NULL;
    memset(d, 0, hdr);
    uint32_t l32 = (uint32_t)len; /* len <= INDEX_HARD_MAX_STR */
    memcpy(d + hdr, &l32, 4);
    memcpy(d + hdr + 4, s, len);
    d[hdr + 4 + len] = 0;
    *str = d + hdr + 4;
    return d;
}

static int retire(strata_index *idx, void *p)
{
    if (idx->n_retired == idx->cap_retired) {
        size_t cap = idx->cap_retired ? idx->cap_retired * 2 : 16;
        void **r = base_realloc(idx->retired, cap * sizeof *r);
        if (!r)
            return STRATA_ERR_NOMEM;
        idx->retired = r;
        idx->cap_retired = cap;
    }
    idx->retired[idx->n_retired++] = p;
    return STRATA_OK;
}

/* ------------------------------------------------------------ postings vectors */

int ix_pvec_grow(pvec *p, uint32_t extra, uint64_t *mem)
{
    uint64_t cap = p->cap ? (uint64_t)p->cap * 2 : 2;
    while (cap < (uint64_t)p->n + extra)
        cap *= 2;
    if (cap > UINT32_MAX)
        return STRATA_ERR_LIMIT;
    uint32_t *v = base_realloc(p->v, (size_t)cap * sizeof *v);
    if (!v)
        return STRATA_ERR_NOMEM;
    *mem += (cap - p->cap) * sizeof *v;
    p->v = v;
    p->cap = (uint32_t)cap;
    return STRATA_OK;
}

void ix_pvec_insert(pvec *p, uint32_t sid)
{
    uint32_t lo = 0, hi = p->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (p->v[mid] < sid)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (p->v[lo] == sid)
        return;
    memmove(p->v + lo + 1, p->v + lo, (size_t)(p->n - lo) * sizeof *p->v);
    p->v[lo] = sid;
    p->n++;
}

/* ------------------------------------------------------------ names and values */

static uint32_t str_hash32(const char *s, size_t len, uint64_t seed)
{
    return (uint32_t)ix_hash_bytes(s, len, seed);
}

ix_name *ix_name_find(strata_index *idx, const char *s, size_t len, uint32_t h)
{
    if (!idx->ntab)
        return NULL;
    for (uint32_t i = h & idx->nmask;; i = (i + 1) & idx->nmask) {
        uint32_t e = idx->ntab[i];
        if (!e)
            return NULL;
        ix_name *nm = idx->names[e - 1];
        if (nm->nhash == h && nm->len == len && memcmp(nm->str, s, len) == 0)
            return nm;
    }
}

ix_value *ix_value_find(ix_name *nm, const char *s, size_t len, uint32_t h)
{
    if (!nm->vtab)
        return NULL;
    for (uint32_t i = h & nm->vmask;; i = (i + 1) & nm->vmask) {
        uint32_t e = nm->vtab[i];
        if (!e)
            return NULL;
        ix_value *v = nm->vals[e - 1];
        if (v->vhash == h && v->len == len && memcmp(v->str, s, len) == 0)
            return v;
    }
}

/* Makes room for one more entry in an open-addressing table of indexes
 * into an array whose elements hash by hashof(); load at most 1/2. */
static int tab_grow(uint32_t **tab, uint32_t *mask, uint32_t count, void *const *arr,
                    uint32_t (*hashof)(const void *), uint64_t *mem)
{
    if (*tab && ((uint64_t)count + 1) * 2 <= (uint64_t)*mask + 1)
        return STRATA_OK;
    uint64_t size = *tab ? ((uint64_t)*mask + 1) * 2 : 8;
    if (size > (1ull << 31))
        return STRATA_ERR_LIMIT;
    uint32_t *t = base_calloc((size_t)size, sizeof *t);
    if (!t)
        return STRATA_ERR_NOMEM;
    uint32_t m = (uint32_t)(size - 1);
    for (uint32_t k = 0; k < count; k++) {
        uint32_t i = hashof(arr[k]) & m;
        while (t[i])
            i = (i + 1) & m;
        t[i] = k + 1;
    }
    *mem += size * sizeof *t - (*tab ? ((uint64_t)*mask + 1) * sizeof *t : 0);
    base_free(*tab);
    *tab = t;
    *mask = m;
    return STRATA_OK;
}

static uint32_t name_hashof(const void *p) { return ((const ix_name *)p)->nhash; }
static uint32_t value_hashof(const void *p) { return ((const ix_value *)p)->vhash; }

/* With wmu and plock (writer) held. */
ix_name *ix_name_intern(strata_index *idx, const char *s, size_t len)
{
    uint32_t h = str_hash32(s, len, 1);
    ix_name *nm = ix_name_find(idx, s, len, h);
    if (nm)
        return nm;
    if (idx->n_names == idx->cap_names) {
        uint32_t cap = idx->cap_names ? idx->cap_names * 2 : 16;
        ix_name **a = base_realloc(idx->names, cap * sizeof *a);
        if (!a)
            return NULL;
        idx->mem_bytes += (cap - idx->cap_names) * sizeof *a;
        idx->names = a;
        idx->cap_names = cap;
    }
    if (tab_grow(&idx->ntab, &idx->nmask, idx->n_names, (void *const *)idx->names, name_hashof,
                 &idx->mem_bytes) != 0)
        return NULL;
    const char *str;
    if (!(nm = arena_rec_str(idx, sizeof *nm, s, len, &str)))
        return NULL;
    nm->str = str;
    nm->len = (uint32_t)len;
    nm->nhash = h;
    nm->log_id = UINT32_MAX;
    uint32_t i = h & idx->nmask;
    while (idx->ntab[i])
        i = (i + 1) & idx->nmask;
    idx->names[idx->n_names++] = nm;
    idx->ntab[i] = idx->n_names;
    return nm;
}

/* With wmu and plock (writer) held. */
ix_value *ix_value_intern(strata_index *idx, ix_name *nm, const char *s, size_t len)
{
    uint32_t h = str_hash32(s, len, 2);
    ix_value *v = ix_value_find(nm, s, len, h);
    if (v)
        return v;
    if (nm->nvals == nm->capvals) {
        uint32_t cap = nm->capvals ? nm->capvals * 2 : 4;
        ix_value **a = base_realloc(nm->vals, cap * sizeof *a);
        if (!a)
            return NULL;
        idx->mem_bytes += (cap - nm->capvals) * sizeof *a;
        nm->vals = a;
        nm->capvals = cap;
    }
    if (tab_grow(&nm->vtab, &nm->vmask, nm->nvals, (void *const *)nm->vals, value_hashof, &idx->mem_bytes) != 0)
        return NULL;
    const char *str;
    if (!(v = arena_rec_str(idx, sizeof *v, s, len, &str)))
        return NULL;
    v->str = str;
    v->len = (uint32_t)len;
    v->vhash = h;
    v->phash = ix_pair_hash(nm->str, nm->len, s, len);
    v->log_id = UINT32_MAX;
    v->utf8_ok = (uint8_t)ix_utf8_valid((const uint8_t *)s, len);
    v->name = nm;
    uint32_t i = h & nm->vmask;
    while (nm->vtab[i])
        i = (i + 1) & nm->vmask;
    nm->vals[nm->nvals++] = v;
    nm->vtab[i] = nm->nvals;
    return v;
}

/* ------------------------------------------------------------ directory and hash table */

ix_series *ix_series_get(strata_index *idx, uint64_t sid)
{
    ix_dir *d = atomic_load_explicit(&idx->dir, memory_order_acquire);
    if (sid >= d->cap)
        return NULL;
    return atomic_load_explicit(&d->e[sid], memory_order_acquire);
}

static int dir_ensure(strata_index *idx, uint32_t sid)
{
    ix_dir *d = atomic_load_explicit(&idx->dir, memory_order_relaxed);
    if (sid < d->cap)
        return STRATA_OK;
    size_t cap = d->cap * 2;
    while (cap <= sid)
        cap *= 2;
    ix_dir *nd = base_malloc(sizeof *nd + cap * sizeof nd->e[0]);
    if (!nd)
        return STRATA_ERR_NOMEM;
    ix_hugepage_hint(nd, sizeof *nd + cap * sizeof nd->e[0]);
    if (retire(idx, d) != 0) {
        base_free(nd);
        return STRATA_ERR_NOMEM;
    }
    nd->cap = cap;
    for (size_t i = 0; i < cap; i++)
        atomic_init(&nd->e[i], i < d->cap ? atomic_load_explicit(&d->e[i], memory_order_relaxed) : NULL);
    idx->mem_bytes += cap * sizeof nd->e[0];
    atomic_store_explicit(&idx->dir, nd, memory_order_release);
    return STRATA_OK;
}

int ix_presize(strata_index *idx, uint64_t n)
{
    if (n > INDEX_MAX_SID)
        n = INDEX_MAX_SID;
    int rc = dir_ensure(idx, (uint32_t)n + 1);
    ix_htab *t = atomic_load_explicit(&idx->htab, memory_order_relaxed);
    if (rc != 0 || atomic_load(&idx->n_series) != 0 || (n + 1) * 2 <= t->mask + 1)
        return rc;
    size_t size = t->mask + 1;
    while ((n + 1) * 2 > size)
        size *= 2;
    ix_htab *nt = base_malloc(sizeof *nt + size * sizeof nt->s[0]);
    if (!nt)
        return STRATA_ERR_NOMEM;
    ix_hugepage_hint(nt, sizeof *nt + size * sizeof nt->s[0]);
    nt->mask = size - 1;
    for (size_t i = 0; i < size; i++)
        atomic_init(&nt->s[i], 0);
    idx->mem_bytes += size * sizeof nt->s[0];
    atomic_store_explicit(&idx->htab, nt, memory_order_release);
    base_free(t); /* empty and unpublished: nobody reads it */
    return STRATA_OK;
}

static inline uint64_t eff_hash(const strata_index *idx, uint64_t h)
{
    return idx->opts.test_constant_hash ? 0x9e3779b97f4a7c15ull : h;
}

static void htab_put(ix_htab *t, uint64_t hash, uint32_t sid)
{
    size_t i = hash & t->mask;
    while (atomic_load_explicit(&t->s[i], memory_order_relaxed))
        i = (i + 1) & t->mask;
    atomic_store_explicit(&t->s[i], (hash & 0xffffffff00000000ull) | sid, memory_order_release);
}

static int htab_ensure(strata_index *idx)
{
    ix_htab *t = atomic_load_explicit(&idx->htab, memory_order_relaxed);
    uint64_t n = atomic_load_explicit(&idx->n_series, memory_order_relaxed);
    if ((n + 1) * 2 <= t->mask + 1)
        return STRATA_OK;
    size_t size = (t->mask + 1) * 2;
    ix_htab *nt = base_malloc(sizeof *nt + size * sizeof nt->s[0]);
    if (!nt)
        return STRATA_ERR_NOMEM;
    if (retire(idx, t) != 0) {
        base_free(nt);
        return STRATA_ERR_NOMEM;
    }
    nt->mask = size - 1;
    for (size_t i = 0; i < size; i++)
        atomic_init(&nt->s[i], 0);
    for (size_t i = 0; i <= t->mask; i++) {
        uint64_t w = atomic_load_explicit(&t->s[i], memory_order_relaxed);
        if (w) {
            ix_series *s = ix_series_get(idx, (uint32_t)w);
            htab_put(nt, eff_hash(idx, s->hash), (uint32_t)w);
        }
    }
    idx->mem_bytes += size * sizeof nt->s[0];
    atomic_store_explicit(&idx->htab, nt, memory_order_release);
    return STRATA_OK;
}

/* ------------------------------------------------------------ lookup */

/* Inline equality of short C strings: cheaper than a call to strcmp for
 * the few bytes of a label. */
static inline int streq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

static int eq_canon(const ix_series *s, const strata_label *const *c, size_t n)
{
    if (s->n != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!streq(s->l[i].value, c[i]->value) || !streq(s->l[i].name, c[i]->name))
            return 0;
    return 1;
}

static inline uint64_t rd8(const char *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint32_t rd4(const char *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* Equality of n bytes, both sides known to hold n bytes: up to 16 bytes
 * (nearly every label) as two overlapping loads per side and no branch
 * per byte. */
static inline int eq_bytes(const char *a, const char *b, size_t n)
{
    if (n <= 8) {
        if (n >= 4)
            return ((rd4(a) ^ rd4(b)) | (rd4(a + n - 4) ^ rd4(b + n - 4))) == 0;
        return n == 0 || ((a[0] ^ b[0]) | (a[n >> 1] ^ b[n >> 1]) | (a[n - 1] ^ b[n - 1])) == 0;
    }
    if (n <= 16)
        return ((rd8(a) ^ rd8(b)) | (rd8(a + n - 8) ^ rd8(b + n - 8))) == 0;
    return memcmp(a, b, n) == 0;
}

/* Interned string s equals the input string in of length len. */
static inline int str_eq(const char *s, const char *in, size_t len)
{
    return ix_slen(s) == len && eq_bytes(s, in, len);
}

/* Compares the raw input with a series: first as if the input were
 * already canonical (the common case, no sorting), then, on a mismatch,
 * canonicalised. lens: the input lengths as ix_labels_hash_lens gives
 * them, or NULL (measured here: strlen, then word comparisons against
 * the interned strings, whose lengths are known, is far cheaper than a
 * byte loop with a branch per byte). *canon caches the canonical form
 * across candidates: state 0 not computed, 1 computed, -1 the input is no
 * valid set. */
struct canon_cache {
    int state;
    size_t n;
    const strata_label **c;
    const strata_label *stackv[STACK_LABELS];
};

/* The input taken as canonical already, lengths known: no call, no
 * branch per byte. A NULL string has length IX_LEN_NONE and so fails
 * str_eq before it is read. */
static int eq_lens(const ix_series *s, const strata_label *in, size_t n, const uint32_t *lens)
{
    const strata_label *x = s->l, *xe = s->l + s->n;
    for (size_t i = 0; i < n; i++) {
        uint32_t vl = lens[2 * i + 1];
        if (vl == 0)
            continue;
        if (x == xe)
            return 0;
        /* Pointer equality first: labels lent by index_labels come back. */
        const char *v = in[i].value, *nm = in[i].name;
        if ((x->value != v && !str_eq(x->value, v, vl)) || (x->name != nm && !str_eq(x->name, nm, lens[2 * i])))
            return 0;
        x++;
    }
    return x == xe;
}

/* The same without lengths (more than STACK_LABELS labels). */
static int eq_nolens(const ix_series *s, const strata_label *in, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        const char *v = in[i].value, *nm = in[i].name;
        if (!v || !nm)
            return 0;
        if (!*v)
            continue;
        if (j == s->n)
            return 0;
        const strata_label *x = &s->l[j++];
        if ((x->value != v && !streq(x->value, v)) || (x->name != nm && !streq(x->name, nm)))
            return 0;
    }
    return j == s->n;
}

static void fill_lens(const strata_label *in, size_t n, uint32_t *lens)
{
    for (size_t i = 0; i < n; i++) {
        const char *v = in[i].value, *nm = in[i].name;
        if (!v || !nm) {
            lens[2 * i] = lens[2 * i + 1] = IX_LEN_NONE;
            continue;
        }
        size_t nl = strlen(nm), vl = *v ? strlen(v) : 0;
        lens[2 * i] = nl <= INDEX_HARD_MAX_STR ? (uint32_t)nl : IX_LEN_NONE;
        lens[2 * i + 1] = vl <= INDEX_HARD_MAX_STR ? (uint32_t)vl : IX_LEN_NONE;
    }
}

static int eq_raw(const ix_series *s, const strata_label *in, size_t n, const uint32_t *lens,
                  struct canon_cache *cc)
{
    if (lens ? eq_lens(s, in, n, lens) : eq_nolens(s, in, n))
        return 1;
    if (cc->state == 0) {
        cc->c = cc->stackv;
        if (n > STACK_LABELS && !(cc->c = base_malloc(n * sizeof *cc->c))) {
            cc->state = -1;
            return 0;
        }
        cc->state = ix_canon(in, n, cc->c, n, &cc->n) == 0 ? 1 : -1;
    }
    return cc->state == 1 && eq_canon(s, cc->c, cc->n);
}

/* lens: as ix_labels_hash_lens gives them, or NULL: then they are
 * measured at the first candidate (a hit needs them all anyway). */
static int lookup_raw(strata_index *idx, const strata_label *labels, size_t n, uint64_t hash,
                      const uint32_t *lens, uint32_t *sid)
{
    struct canon_cache cc;
    uint32_t lensv[2 * STACK_LABELS];
    cc.state = 0;
    hash = eff_hash(idx, hash);
    ix_htab *t = atomic_load_explicit(&idx->htab, memory_order_acquire);
    uint32_t tag = (uint32_t)(hash >> 32);
    int rc = STRATA_ERR_NOTFOUND;
    for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
        uint64_t w = atomic_load_explicit(&t->s[i], memory_order_acquire);
        if (!w)
            break;
        if ((uint32_t)(w >> 32) != tag)
            continue;
        ix_series *s = ix_series_get(idx, (uint32_t)w);
        if (!s || eff_hash(idx, s->hash) != hash)
            continue;
        if (!lens && n <= STACK_LABELS) {
            fill_lens(labels, n, lensv);
            lens = lensv;
        }
        if (eq_raw(s, labels, n, lens, &cc)) {
            *sid = (uint32_t)w;
            rc = STRATA_OK;
            break;
        }
    }
    if (cc.state != 0 && cc.c != cc.stackv)
        base_free(cc.c);
    return rc;
}

/* By labels pointing at interned strings (the loader): pointer
 * comparison of the values suffices (a value record belongs to one name). */
ix_series *ix_find_interned(strata_index *idx, const strata_label *l, size_t n, uint64_t hash)
{
    hash = eff_hash(idx, hash);
    ix_htab *t = atomic_load_explicit(&idx->htab, memory_order_acquire);
    uint32_t tag = (uint32_t)(hash >> 32);
    for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
        uint64_t w = atomic_load_explicit(&t->s[i], memory_order_acquire);
        if (!w)
            return NULL;
        if ((uint32_t)(w >> 32) != tag)
            continue;
        ix_series *s = ix_series_get(idx, (uint32_t)w);
        if (!s || s->n != n)
            continue;
        size_t k = 0;
        while (k < n && s->l[k].value == l[k].value)
            k++;
        if (k == n)
            return s;
    }
}

int index_lookup_hashed(strata_index *idx, const strata_label *labels, size_t n, uint64_t hash,
                        strata_sid *sid)
{
    uint32_t s;
    int rc = lookup_raw(idx, labels, n, hash, NULL, &s);
    if (rc == 0)
        *sid = s;
    return rc;
}

int index_lookup(strata_index *idx, const strata_label *labels, size_t n, strata_sid *sid)
{
    if (n > STACK_LABELS)
        return index_lookup_hashed(idx, labels, n, index_labels_hash(labels, n), sid);
    /* One strlen per string, shared by the hash and the comparison. */
    uint32_t lens[2 * STACK_LABELS];
    uint64_t hash = ix_labels_hash_lens(labels, n, lens);
    uint32_t s;
    int rc = lookup_raw(idx, labels, n, hash, lens, &s);
    if (rc == 0)
        *sid = s;
    return rc;
}

int index_labels(strata_index *idx, strata_sid sid, const strata_label **labels, size_t *n)
{
    if (sid == 0 || sid > INDEX_MAX_SID)
        return STRATA_ERR_NOTFOUND;
    ix_series *s = ix_series_get(idx, sid);
    if (!s)
        return STRATA_ERR_NOTFOUND;
    *labels = s->l;
    *n = s->n;
    return STRATA_OK;
}

uint64_t index_series_count(strata_index *idx) { return atomic_load(&idx->n_series); }

strata_sid index_max_sid(strata_index *idx) { return (strata_sid)atomic_load(&idx->next_sid) - 1; }

/* ------------------------------------------------------------ creation */

int ix_series_add(strata_index *idx, ix_value *const *vals, size_t n, uint64_t hash, uint32_t sid,
                  ix_series **out)
{
    int rc;
    uint32_t next = atomic_load_explicit(&idx->next_sid, memory_order_relaxed);
    if (sid == 0)
        sid = next;
    if (sid == 0 || sid > INDEX_MAX_SID)
        return STRATA_ERR_LIMIT;
    ix_series *s = ix_arena_alloc(idx, sizeof *s + n * sizeof s->l[0]);
    if (!s)
        return STRATA_ERR_NOMEM;
    if ((rc = dir_ensure(idx, sid)) != 0 || (rc = htab_ensure(idx)) != 0)
        return rc;
    s->hash = hash;
    s->sid = sid;
    s->n = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        s->l[i].name = vals[i]->name->str;
        s->l[i].value = vals[i]->str;
    }
    if (!idx->loading)
        pthread_rwlock_wrlock(&idx->plock);
    rc = pvec_reserve(&idx->all, 1, &idx->mem_bytes);
    for (size_t i = 0; i < n && rc == 0; i++)
        if ((rc = pvec_reserve(&vals[i]->post, 1, &idx->mem_bytes)) == 0)
            rc = pvec_reserve(&vals[i]->name->post, 1, &idx->mem_bytes);
    if (rc == 0) {
        ix_dir *d = atomic_load_explicit(&idx->dir, memory_order_relaxed);
        atomic_store_explicit(&d->e[sid], s, memory_order_release);
        pvec_add(&idx->all, sid);
        for (size_t i = 0; i < n; i++) {
            pvec_add(&vals[i]->post, sid);
            pvec_add(&vals[i]->name->post, sid);
        }
        /* Inside plock: a selection reads next_sid after taking plock and
         * sizes its bitmaps by it, so no posting it sees may hold a sid at
         * or past the value it read. */
        if (sid >= next)
            atomic_store_explicit(&idx->next_sid, sid + 1, memory_order_release);
    }
    if (!idx->loading)
        pthread_rwlock_unlock(&idx->plock);
    if (rc != 0)
        return rc;
    htab_put(atomic_load_explicit(&idx->htab, memory_order_relaxed), eff_hash(idx, hash), sid);
    atomic_fetch_add_explicit(&idx->n_series, 1, memory_order_release);
    *out = s;
    return STRATA_OK;
}

/* Loading (index_open, no other thread): publishes a series record the
 * loader filled completely. Postings are not built here: each value's and
 * name's post.n only counts its series until ix_load_postings. */
int ix_series_load(strata_index *idx, ix_series *s)
{
    int rc;
    ix_dir *d = atomic_load_explicit(&idx->dir, memory_order_relaxed);
    ix_htab *t = atomic_load_explicit(&idx->htab, memory_order_relaxed);
    uint64_t ns = atomic_load_explicit(&idx->n_series, memory_order_relaxed);
    /* Presized: these grow only when sids leave gaps. */
    if (s->sid >= d->cap || (ns + 1) * 2 > t->mask + 1) {
        if ((rc = dir_ensure(idx, s->sid)) != 0 || (rc = htab_ensure(idx)) != 0)
            return rc;
        d = atomic_load_explicit(&idx->dir, memory_order_relaxed);
    }
    atomic_store_explicit(&d->e[s->sid], s, memory_order_relaxed);
    htab_put(atomic_load_explicit(&idx->htab, memory_order_relaxed), eff_hash(idx, s->hash), s->sid);
    for (uint32_t i = 0; i < s->n; i++) {
        ix_value *v = ix_value_of(s->l[i].value);
        v->post.n++;
        v->name->post.n++;
    }
    idx->all.n++;
    atomic_store_explicit(&idx->n_series, atomic_load_explicit(&idx->n_series, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    if (s->sid >= atomic_load_explicit(&idx->next_sid, memory_order_relaxed))
        atomic_store_explicit(&idx->next_sid, s->sid + 1, memory_order_relaxed);
    return STRATA_OK;
}

/* A counted postings vector gets its exact allocation, emptied. */
static int post_alloc(pvec *p, uint64_t *mem)
{
    uint32_t n = p->n;
    p->n = 0;
    if (!n)
        return STRATA_OK;
    if (!(p->v = base_malloc((size_t)n * sizeof *p->v)))
        return STRATA_ERR_NOMEM;
    ix_hugepage_hint(p->v, (size_t)n * sizeof *p->v);
    p->cap = n;
    *mem += (uint64_t)n * sizeof *p->v;
    return STRATA_OK;
}

int ix_load_postings(strata_index *idx)
{
    int rc = post_alloc(&idx->all, &idx->mem_bytes);
    for (uint32_t i = 0; i < idx->n_names && rc == 0; i++) {
        ix_name *nm = idx->names[i];
        rc = post_alloc(&nm->post, &idx->mem_bytes);
        for (uint32_t j = 0; j < nm->nvals && rc == 0; j++)
            rc = post_alloc(&nm->vals[j]->post, &idx->mem_bytes);
    }
    if (rc != 0)
        return rc; /* index_open fails: nothing reads the half-built lists */
    /* In sid order, so every list comes out sorted whatever the order of
     * the records in the file. */
    ix_dir *d = atomic_load_explicit(&idx->dir, memory_order_relaxed);
    uint32_t next = atomic_load_explicit(&idx->next_sid, memory_order_relaxed);
    for (uint32_t sid = 1; sid < next; sid++) {
        ix_series *s = atomic_load_explicit(&d->e[sid], memory_order_relaxed);
        if (!s)
            continue;
        idx->all.v[idx->all.n++] = sid;
        for (uint32_t j = 0; j < s->n; j++) {
            ix_value *v = ix_value_of(s->l[j].value);
            ix_name *nm = v->name;
            v->post.v[v->post.n++] = sid;
            nm->post.v[nm->post.n++] = sid;
        }
    }
    return STRATA_OK;
}

/* Interns the canonical labels and creates the series (wmu held). */
static int create_locked(strata_index *idx, const strata_label *const *c, size_t k, uint64_t hash, uint32_t sid,
                         uint32_t *out)
{
    ix_value *stackv[STACK_LABELS], **vals = stackv;
    ix_series *s = NULL;
    int rc = STRATA_OK;
    if (k > STACK_LABELS && !(vals = base_malloc(k * sizeof *vals)))
        return STRATA_ERR_NOMEM;
    pthread_rwlock_wrlock(&idx->plock);
    for (size_t i = 0; i < k && rc == 0; i++) {
        ix_name *nm = ix_name_intern(idx, c[i]->name, strlen(c[i]->name));
        if (!nm || !(vals[i] = ix_value_intern(idx, nm, c[i]->value, strlen(c[i]->value))))
            rc = STRATA_ERR_NOMEM;
    }
    pthread_rwlock_unlock(&idx->plock);
    if (rc != 0)
        goto out;
    if (idx->fd >= 0) {
        /* Reserve the log bytes first so that appending cannot fail. */
        size_t need = 32 + 5 * k;
        for (size_t i = 0; i < k; i++) {
            if (vals[i]->name->log_id == UINT32_MAX)
                need += 16 + vals[i]->name->len;
            if (vals[i]->log_id == UINT32_MAX)
                need += 24 + vals[i]->len;
        }
        if ((rc = base_buf_reserve(&idx->pending, need)) != 0)
            goto out;
    }
    if ((rc = ix_series_add(idx, vals, k, hash, sid, &s)) != 0)
        goto out;
    if (idx->fd >= 0)
        ix_log_append_series(idx, s, vals); /* failures are counted and retried */
    *out = s->sid;
out:
    if (vals != stackv)
        base_free(vals);
    return rc;
}

/* Canonical copy of the input in c (caller's buffer of n entries). */
const char index_max_series_reason[] = "series limit reached (max_series)";

/* Why canon_checked refused a label set, as a static string. */
static const char *canon_reason(int rc)
{
    return rc == STRATA_ERR_LIMIT ? "labels over the limits (count or length)"
                                  : "invalid labels (no label left, empty or duplicate name)";
}

static int canon_checked(strata_index *idx, const strata_label *labels, size_t n, const strata_label **c,
                         size_t *k, int hard_only)
{
    int rc = ix_canon(labels, n, c, n, k);
    if (rc != 0)
        return rc;
    if (*k == 0)
        return STRATA_ERR_INVALID;
    index_limits hard = {INDEX_HARD_MAX_LABELS, INDEX_HARD_MAX_STR, INDEX_HARD_MAX_STR};
    return ix_check_limits(c, *k, hard_only ? &hard : &idx->opts.limits);
}

/* A new series' names and values must be valid UTF-8 (checked on creation
 * only: a series an earlier version stored with other bytes still opens
 * and is still found). */
static int utf8_checked(const strata_label *const *c, size_t k)
{
    for (size_t i = 0; i < k; i++)
        if (!ix_utf8_valid((const uint8_t *)c[i]->name, strlen(c[i]->name)) ||
            !ix_utf8_valid((const uint8_t *)c[i]->value, strlen(c[i]->value)))
            return STRATA_ERR_INVALID;
    return STRATA_OK;
}

static int get_or_create(strata_index *idx, const strata_label *labels, size_t n, uint64_t max_series,
                         int check_utf8, strata_sid *sid, int *created, const char **reason);

/* Without the engine's checks: any bytes but NUL (as series written by
 * earlier versions may hold), no series limit. */
int index_get_or_create(strata_index *idx, const strata_label *labels, size_t n, strata_sid *sid,
                        int *created)
{
    return get_or_create(idx, labels, n, 0, 0, sid, created, NULL);
}

int index_get_or_create_max(strata_index *idx, const strata_label *labels, size_t n, uint64_t max_series,
                            strata_sid *sid, int *created, const char **reason)
{
    return get_or_create(idx, labels, n, max_series, 1, sid, created, reason);
}

static int get_or_create(strata_index *idx, const strata_label *labels, size_t n, uint64_t max_series,
                         int check_utf8, strata_sid *sid, int *created, const char **reason)
{
    uint32_t lensv[2 * STACK_LABELS], *lens = n <= STACK_LABELS ? lensv : NULL;
    uint64_t hash = lens ? ix_labels_hash_lens(labels, n, lens) : index_labels_hash(labels, n);
    uint32_t s;
    const strata_label *stackv[STACK_LABELS], **c = stackv;
    size_t k = 0;
    int rc, made = 0;
    const char *why = NULL;
    if (lookup_raw(idx, labels, n, hash, lens, &s) == 0)
        goto found;
    if (idx->opts.read_only)
        return STRATA_ERR_READONLY;
    if (n > STACK_LABELS && !(c = base_malloc(n * sizeof *c)))
        return STRATA_ERR_NOMEM;
    if ((rc = canon_checked(idx, labels, n, c, &k, 0)) != 0) {
        why = canon_reason(rc);
        goto out;
    }
    if (check_utf8 && (rc = utf8_checked(c, k)) != 0) {
        why = "label name or value is not valid UTF-8";
        goto out;
    }
    pthread_mutex_lock(&idx->wmu);
    if (lookup_raw(idx, labels, n, hash, lens, &s) != 0) {
        /* under wmu, so concurrent creators never pass the limit together */
        if (max_series && atomic_load(&idx->n_series) >= max_series) {
            rc = STRATA_ERR_LIMIT;
            why = index_max_series_reason;
        } else {
            rc = create_locked(idx, c, k, hash, 0, &s);
            made = 1;
        }
    }
    pthread_mutex_unlock(&idx->wmu);
    if (rc != 0)
        goto out;
found:
    *sid = s;
    if (created)
        *created = made;
    rc = STRATA_OK;
out:
    if (rc && reason)
        *reason = why ? why : strata_strerror(rc);
    if (c != stackv)
        base_free(c);
    return rc;
}

int index_insert_with_sid(strata_index *idx, const strata_label *labels, size_t n, strata_sid sid,
                          int *created)
{
    uint64_t hash = index_labels_hash(labels, n);
    const strata_label *stackv[STACK_LABELS], **c = stackv;
    size_t k = 0;
    uint32_t s;
    int rc, made = 0;
    if (idx->opts.read_only)
        return STRATA_ERR_READONLY;
    if (n > STACK_LABELS && !(c = base_malloc(n * sizeof *c)))
        return STRATA_ERR_NOMEM;
    /* Replayed labels were checked against the limits when first created;
     * a lowered limit must not make the replay fail. */
    if ((rc = canon_checked(idx, labels, n, c, &k, 1)) != 0)
        goto out;
    pthread_mutex_lock(&idx->wmu);
    uint32_t next = atomic_load_explicit(&idx->next_sid, memory_order_relaxed);
    if (lookup_raw(idx, labels, n, hash, NULL, &s) == 0) {
        rc = s == sid ? STRATA_OK : STRATA_ERR_CORRUPT;
    } else if (sid == 0 || sid > INDEX_MAX_SID || sid > (uint64_t)next + INDEX_MAX_SID_GAP ||
               ix_series_get(idx, sid)) {
        rc = STRATA_ERR_CORRUPT;
    } else {
        rc = create_locked(idx, c, k, hash, (uint32_t)sid, &s);
        made = rc == 0;
    }
    pthread_mutex_unlock(&idx->wmu);
    if (rc == 0 && created)
        *created = made;
out:
    if (c != stackv)
        base_free(c);
    return rc;
}

/* ------------------------------------------------------------ open, close, stats */

void index_options_init(index_options *opts)
{
    memset(opts, 0, sizeof *opts);
    index_limits_init(&opts->limits);
}

int index_open(const char *dir, const index_options *opts, strata_index **out)
{
    int rc = STRATA_ERR_NOMEM;
    strata_index *idx = base_calloc(1, sizeof *idx);
    if (!idx)
        return STRATA_ERR_NOMEM;
    if (opts) {
        idx->opts = *opts;
    } else {
        index_options_init(&idx->opts);
    }
    idx->fd = -1;
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
#ifdef __GLIBC__
    /* Creations must not starve behind a stream of queries. */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    pthread_rwlock_init(&idx->plock, &attr);
    pthread_rwlockattr_destroy(&attr);
    pthread_mutex_init(&idx->wmu, NULL);
    atomic_init(&idx->n_series, 0);
    atomic_init(&idx->next_sid, 1);
    ix_dir *d = base_malloc(sizeof *d + 64 * sizeof d->e[0]);
    ix_htab *t = base_malloc(sizeof *t + 64 * sizeof t->s[0]);
    atomic_init(&idx->dir, d);
    atomic_init(&idx->htab, t);
    if (!d || !t)
        goto fail;
    d->cap = 64;
    t->mask = 63;
    for (size_t i = 0; i < 64; i++) {
        atomic_init(&d->e[i], NULL);
        atomic_init(&t->s[i], 0);
    }
    if (dir) {
        pthread_mutex_lock(&idx->wmu);
        rc = ix_log_open(idx, dir);
        pthread_mutex_unlock(&idx->wmu);
        if (rc != 0)
            goto fail;
    }
    *out = idx;
    return STRATA_OK;
fail:
    index_close(idx);
    return rc;
}

int index_close(strata_index *idx)
{
    if (!idx)
        return STRATA_OK;
    int rc = STRATA_OK;
    if (idx->fd >= 0)
        rc = ix_log_flush(idx);
    ix_log_close(idx);
    for (uint32_t i = 0; i < idx->n_names; i++) {
        ix_name *nm = idx->names[i];
        for (uint32_t j = 0; j < nm->nvals; j++)
            base_free(nm->vals[j]->post.v);
        base_free(nm->vals);
        base_free(nm->vtab);
        base_free(nm->post.v);
    }
    base_free(idx->names);
    base_free(idx->ntab);
    base_free(idx->all.v);
    for (size_t i = 0; i < idx->n_retired; i++)
        base_free(idx->retired[i]);
    base_free(idx->retired);
    base_free(atomic_load(&idx->dir));
    base_free(atomic_load(&idx->htab));
    while (idx->arena) {
        ix_chunk *c = idx->arena;
        idx->arena = c->next;
        base_free(c);
    }
    pthread_rwlock_destroy(&idx->plock);
    pthread_mutex_destroy(&idx->wmu);
    base_free(idx);
    return rc;
}

void index_get_stats(strata_index *idx, index_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&idx->wmu);
    out->series = atomic_load(&idx->n_series);
    out->names = idx->n_names;
    for (uint32_t i = 0; i < idx->n_names; i++)
        out->pairs += idx->names[i]->nvals;
    out->memory_bytes = idx->mem_bytes + sizeof *idx;
    out->log_bytes = idx->log_size;
    out->log_pending_bytes = idx->pending.len;
    out->log_write_errors = idx->log_write_errors;
    out->load_records = idx->load_records;
    out->load_corrupt_records = idx->load_corrupt;
    out->load_truncated_bytes = idx->load_truncated;
    out->load_ms = idx->load_ms;
    pthread_mutex_unlock(&idx->wmu);
}
