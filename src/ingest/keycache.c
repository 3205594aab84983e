/*
 * keycache.c: the line-protocol series cache: raw series key of a line
 * ("measurement,tags" exactly as written) plus a field key -> sid, shared
 * by every writer of the database, as VictoriaMetrics caches raw names.
 *
 * A repeated series then costs a hash and a memcmp instead of building,
 * sorting, hashing and comparing its labels in the index.
 *
 * Readers take no lock: the table is open addressing over pointers to
 * immutable entries, published with release stores; a table that grows is
 * replaced by a copy and the old one is kept until the cache is freed, so a
 * reader still walking it stays safe (it may miss a new entry, and then
 * takes the slow path, which is correct). Inserts are serialised by a
 * mutex. The cache stops growing at max_bytes: beyond that, new series
 * are simply looked up in the index every time.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "ingest.h"

typedef struct kc_entry {
    uint64_t hash;
    strata_sid sid;
    uint32_t l1, l2; /* lengths of the raw key and the field key */
    char key[];      /* raw key, then field key */
} kc_entry;

typedef struct kc_table {
    size_t cap; /* a power of two */
    _Atomic(kc_entry *) slot[];
} kc_table;

#define KC_ARENA_BLOCK (1u << 20)

struct ingest_keycache {
    _Atomic(kc_table *) tab;
    pthread_mutex_t mu; /* inserts, and everything below */
    size_t n;
    uint64_t bytes, max_bytes;
    kc_table **old;
    size_t n_old;
    char *arena;        /* current block: [arena_used, KC_ARENA_BLOCK) free */
    size_t arena_used;
    char **blocks;
    size_t n_blocks;
};

static kc_table *table_new(size_t cap)
{
    kc_table *t = base_calloc(1, sizeof *t + cap * sizeof t->slot[0]);
    if (t)
        t->cap = cap;
    return t;
}

int ingest_keycache_new(uint64_t max_bytes, ingest_keycache **out)
{
    ingest_keycache *c = base_calloc(1, sizeof *c);
    kc_table *t = table_new(4096);
    if (!c || !t) {
        base_free(c);
        base_free(t);
        return STRATA_ERR_NOMEM;
    }
    atomic_init(&c->tab, t);
    pthread_mutex_init(&c->mu, NULL);
    c->max_bytes = max_bytes;
    c->bytes = sizeof *t + t->cap * sizeof t->slot[0];
    *out = c;
    return STRATA_OK;
}

void ingest_keycache_free(ingest_keycache *c)
{
    if (!c)
        return;
    base_free(atomic_load(&c->tab));
    for (size_t i = 0; i < c->n_old; i++)
        base_free(c->old[i]);
    base_free(c->old);
    for (size_t i = 0; i < c->n_blocks; i++)
        base_free(c->blocks[i]);
    base_free(c->blocks);
    pthread_mutex_destroy(&c->mu);
    base_free(c);
}

static bool entry_is(const kc_entry *e, uint64_t h, const char *k1, size_t l1, const char *k2, size_t l2)
{
    return e->hash == h && e->l1 == l1 && e->l2 == l2 && !memcmp(e->key, k1, l1) && !memcmp(e->key + l1, k2, l2);
}

int ingest_keycache_find(ingest_keycache *c, uint64_t h, const char *k1, size_t l1, const char *k2, size_t l2,
                     strata_sid *sid)
{
    kc_table *t = atomic_load_explicit(&c->tab, memory_order_acquire);
    for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        kc_entry *e = atomic_load_explicit(&t->slot[i], memory_order_acquire);
        if (!e)
            return 0;
        if (entry_is(e, h, k1, l1, k2, l2)) {
            *sid = e->sid;
            return 1;
        }
    }
}

/* Caller holds c->mu. */
static int grow(ingest_keycache *c)
{
    kc_table *t = atomic_load_explicit(&c->tab, memory_order_relaxed);
    kc_table *nt = table_new(t->cap * 2);
    kc_table **old = base_realloc(c->old, (c->n_old + 1) * sizeof *old);
    if (!nt || !old) {
        base_free(nt);
        if (old)
            c->old = old;
        return STRATA_ERR_NOMEM;
    }
    c->old = old;
    for (size_t i = 0; i < t->cap; i++) {
        kc_entry *e = atomic_load_explicit(&t->slot[i], memory_order_relaxed);
        if (!e)
            continue;
        size_t j = e->hash & (nt->cap - 1);
        while (atomic_load_explicit(&nt->slot[j], memory_order_relaxed))
            j = (j + 1) & (nt->cap - 1);
        atomic_store_explicit(&nt->slot[j], e, memory_order_relaxed);
    }
    atomic_store_explicit(&c->tab, nt, memory_order_release);
    c->old[c->n_old++] = t; /* readers may still be in it */
    c->bytes += sizeof *nt + nt->cap * sizeof nt->slot[0];
    return STRATA_OK;
}

static kc_entry *entry_alloc(ingest_keycache *c, size_t size)
{
    size = (size + 7) & ~(size_t)7;
    if (size > KC_ARENA_BLOCK / 4)
        return NULL; /* keys this long are not worth caching */
    if (!c->arena || c->arena_used + size > KC_ARENA_BLOCK) {
        char **blocks = base_realloc(c->blocks, (c->n_blocks + 1) * sizeof *blocks);
        if (!blocks)
            return NULL;
        c->blocks = blocks;
        char *b = base_malloc(KC_ARENA_BLOCK);
        if (!b)
            return NULL;
        c->blocks[c->n_blocks++] = b;
        c->arena = b;
        c->arena_used = 0;
        c->bytes += KC_ARENA_BLOCK;
    }
    kc_entry *e = (kc_entry *)(void *)(c->arena + c->arena_used);
    c->arena_used += size;
    return e;
}

void ingest_keycache_put(ingest_keycache *c, uint64_t h, const char *k1, size_t l1, const char *k2, size_t l2,
                     strata_sid sid)
{
    if (l1 > UINT32_MAX || l2 > UINT32_MAX)
        return;
    pthread_mutex_lock(&c->mu);
    if (c->bytes >= c->max_bytes)
        goto out;
    kc_table *t = atomic_load_explicit(&c->tab, memory_order_relaxed);
    if (2 * (c->n + 1) > t->cap) {
        if (grow(c))
            goto out;
        t = atomic_load_explicit(&c->tab, memory_order_relaxed);
    }
    size_t i = h & (t->cap - 1);
    for (;; i = (i + 1) & (t->cap - 1)) {
        kc_entry *e = atomic_load_explicit(&t->slot[i], memory_order_relaxed);
        if (!e)
            break;
        if (entry_is(e, h, k1, l1, k2, l2))
            goto out; /* another writer was first */
    }
    kc_entry *e = entry_alloc(c, sizeof *e + l1 + l2);
    if (!e)
        goto out;
    e->hash = h;
    e->sid = sid;
    e->l1 = (uint32_t)l1;
    e->l2 = (uint32_t)l2;
    memcpy(e->key, k1, l1);
    memcpy(e->key + l1, k2, l2);
    atomic_store_explicit(&t->slot[i], e, memory_order_release);
    c->n++;
out:
    pthread_mutex_unlock(&c->mu);
}
