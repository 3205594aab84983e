/*
 * index_int.h: private structures of the index layer, shared by its files
 * (labels.c, dict.c, log.c, matcher.c, select.c, selector.c). Nothing
 * outside src/index/ includes this.
 *
 * Memory layout
 * - Strings (names, values) are interned once, in an arena, by the
 *   postings maps: one ix_name per label name, one ix_value per (name,
 *   value) pair. A series record (ix_series) holds its hash and its
 *   canonical strata_label array pointing at the interned strings; it is
 *   immutable once published.
 * - Lock-free lookups: the sid directory (ix_dir) and the hash table
 *   (ix_htab) are arrays replaced by bigger copies when they grow; readers
 *   load the current pointer with acquire order and the old arrays are
 *   kept ("retired") until index_close, so a reader holding an old one
 *   still reads valid memory. Entries are written once (0 -> value) with
 *   release order after the record they point to is complete.
 * - A hash slot is one 64-bit word: high 32 bits the top of the hash (a
 *   tag), low 32 bits the sid; 0 is empty. Linear probing, load <= 1/2.
 */
#ifndef STRATA_INDEX_INT_H
#define STRATA_INDEX_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "index.h"

/* Hard limits of the format, whatever the configured limits. */
#define INDEX_HARD_MAX_LABELS 65535u
#define INDEX_HARD_MAX_STR ((1u << 24) - 64u)
#define INDEX_MAX_SID 0xFFFFFFFEu
/* A replayed or loaded sid may be at most this far above the next free
 * sid: a larger jump is damage, not a lost tail. */
#define INDEX_MAX_SID_GAP (1u << 16)

/* A sorted array of sids. */
typedef struct pvec {
    uint32_t *v;
    uint32_t n, cap;
} pvec;

struct ix_name;

typedef struct ix_value {
    const char *str;       /* interned, NUL-terminated */
    uint32_t len;
    uint32_t vhash;        /* hash of the value string (values map) */
    uint64_t phash;        /* hash of the (name, value) pair */
    uint32_t log_id;       /* pair id in series.log, UINT32_MAX until written */
    uint8_t utf8_ok;       /* the value is valid UTF-8 */
    struct ix_name *name;
    pvec post;             /* guarded by plock */
} ix_value;

typedef struct ix_name {
    const char *str;
    uint32_t len;
    uint32_t nhash;
    uint32_t log_id;       /* name id in series.log, UINT32_MAX until written */
    pvec post;             /* series carrying this name */
    ix_value **vals;       /* dense, creation order */
    uint32_t nvals, capvals;
    uint32_t *vtab;        /* open addressing: index+1 into vals, 0 empty */
    uint32_t vmask;
} ix_name;

typedef struct ix_series {
    uint64_t hash;
    uint32_t sid;
    uint32_t n;
    strata_label l[];
} ix_series;

typedef struct ix_dir {
    size_t cap;
    _Atomic(ix_series *) e[];
} ix_dir;

typedef struct ix_htab {
    size_t mask;
    _Atomic uint64_t s[];
} ix_htab;

typedef struct ix_chunk {
    struct ix_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} ix_chunk;

struct strata_index {
    index_options opts;
    pthread_mutex_t wmu;      /* serialises creations and log I/O */
    pthread_rwlock_t plock;   /* names, values, postings */

    _Atomic(ix_htab *) htab;
    _Atomic(ix_dir *) dir;
    void **retired;           /* old tables, freed at close (wmu) */
    size_t n_retired, cap_retired;
    _Atomic uint64_t n_series;
    _Atomic uint32_t next_sid; /* written under wmu */

    ix_chunk *arena;          /* wmu */
    uint64_t mem_bytes;       /* approximate (wmu) */

    ix_name **names;          /* plock */
    uint32_t n_names, cap_names;
    uint32_t *ntab;
    uint32_t nmask;
    pvec all;                 /* every sid (plock) */

    /* series.log (wmu) */
    int fd;                   /* -1 when memory-only or read-only */
    char *path;
    char *dirpath;
    int dir_unsynced;
    int loading;              /* index_open's load: no other thread yet, no plock */         /* the file was created since the last sync */
    uint64_t log_size;        /* bytes durable-or-written; appends go here */
    bbuf pending;             /* records not yet written */
    uint64_t synced_size;     /* bytes covered by the last successful fsync */
    bbuf unsynced;            /* the bytes written since: [synced_size, log_size) */
    int resync;               /* an fsync failed: rewrite unsynced before the next */
    uint32_t log_names, log_pairs; /* ids given so far */
    uint64_t log_write_errors;
    uint64_t load_records, load_corrupt, load_truncated, load_ms;
};

/* Interned strings (arena_str in dict.c) carry their length in the 4
 * bytes before the first character. */
static inline uint32_t ix_slen(const char *s)
{
    uint32_t n;
    memcpy(&n, s - 4, 4);
    return n;
}

/* The record of an interned value string (dict.c allocates the record
 * just before the string, the length between them). */
static inline ix_value *ix_value_of(const char *s)
{
    return (ix_value *)(uintptr_t)(s - 4 - sizeof(ix_value));
}

/* ---- labels.c */
/* A length no interned string has: the input string is NULL or longer
 * than INDEX_HARD_MAX_STR, so it matches nothing. */
#define IX_LEN_NONE UINT32_MAX
uint64_t ix_hash_bytes(const void *p, size_t n, uint64_t seed);
/* index_labels_hash that also stores each label's name and value lengths
 * in lens[2i], lens[2i+1] (IX_LEN_NONE as above; 0 for an empty value). */
uint64_t ix_labels_hash_lens(const strata_label *labels, size_t n, uint32_t *lens);
uint64_t ix_pair_hash(const char *name, size_t nlen, const char *value, size_t vlen);
uint64_t ix_mix(uint64_t h);
/* Canonicalises labels into out[] (pointers to the input, sorted, empty
 * values dropped; cap entries): STRATA_OK, STRATA_ERR_INVALID, or
 * STRATA_ERR_LIMIT when more than cap survive. */
int ix_canon(const strata_label *in, size_t n, const strata_label **out, size_t cap, size_t *nout);
int ix_check_limits(const strata_label *const *c, size_t n, const index_limits *lim);
int ix_utf8_valid(const uint8_t *s, size_t n);

/* ---- dict.c */
void *ix_arena_alloc(strata_index *idx, size_t n);
/* Makes the next `bytes` of arena allocations one chunk (the loader, which
 * knows the total from the file). */
int ix_arena_reserve(strata_index *idx, size_t bytes);
void ix_hugepage_hint(void *p, size_t n);
ix_name *ix_name_find(strata_index *idx, const char *s, size_t len, uint32_t h);
ix_value *ix_value_find(ix_name *nm, const char *s, size_t len, uint32_t h);
ix_name *ix_name_intern(strata_index *idx, const char *s, size_t len);
ix_value *ix_value_intern(strata_index *idx, ix_name *nm, const char *s, size_t len);
/* Creates a series from canonical labels given as interned values; with
 * wmu held. sid 0 assigns the next one. */
int ix_series_add(strata_index *idx, ix_value *const *vals, size_t n, uint64_t hash, uint32_t sid,
                  ix_series **out);
ix_series *ix_series_get(strata_index *idx, uint64_t sid);
ix_series *ix_find_interned(strata_index *idx, const strata_label *l, size_t n, uint64_t hash);
int ix_pvec_grow(pvec *p, uint32_t extra, uint64_t *mem);
void ix_pvec_insert(pvec *p, uint32_t sid);
/* Ensures room for extra more sids. */
static inline int pvec_reserve(pvec *p, uint32_t extra, uint64_t *mem)
{
    return (uint64_t)p->n + extra <= p->cap ? STRATA_OK : ix_pvec_grow(p, extra, mem);
}
/* Adds sid (room reserved: cannot fail). Sids arrive in increasing order
 * except in WAL replay filling a gap (pvec_insert). */
static inline void pvec_add(pvec *p, uint32_t sid)
{
    if (!p->n || p->v[p->n - 1] < sid)
        p->v[p->n++] = sid;
    else
        ix_pvec_insert(p, sid);
}
/* Loading: publishes a complete series record (postings deferred), then,
 * after the last record, builds every postings list at its final size. */
int ix_series_load(strata_index *idx, ix_series *s);
int ix_load_postings(strata_index *idx);
/* Pre-sizes the directory and hash table for n series (loading). */
int ix_presize(strata_index *idx, uint64_t n);

/* ---- log.c */
int ix_log_open(strata_index *idx, const char *dir);
int ix_log_append_series(strata_index *idx, const ix_series *s, ix_value *const *vals);
int ix_log_flush(strata_index *idx);
void ix_log_close(strata_index *idx);

/* ---- matcher.c */
enum ix_mkind {
    IXM_EQ,      /* value == lit */
    IXM_SET,     /* value in set (literal alternation) */
    IXM_ANY,     /* .* : every value */
    IXM_NONEMPTY,/* .+ : every non-empty value */
    IXM_PREFIX,  /* lit.* or lit.+ */
    IXM_SUFFIX,  /* .*lit */
    IXM_CONTAINS,/* .*lit.* */
    IXM_RE2      /* anything else: RE2 (re2_shim.h) */
};

struct ix_re2;

/* A compiled matcher is used by one thread at a time (scratch). */
struct index_matcher {
    strata_match_type type;
    const char *name;        /* borrowed from the strata_matcher */
    int neg;                 /* != or !~ */
    enum ix_mkind kind;
    char **set;              /* IXM_SET; IXM_EQ, PREFIX, SUFFIX, CONTAINS: 1 entry */
    size_t *set_len;
    size_t n_set;
    int nonempty_rest;       /* lit.+ : at least one byte after the prefix */
    struct ix_re2 *re;       /* IXM_RE2 */
    char *pre;               /* IXM_RE2: every match begins with these bytes */
    size_t pre_len;
    char *scratch;           /* a value decoded as Go decodes it (invalid bytes -> U+FFFD) */
    size_t scratch_cap;      /* bytes */
    int matches_empty;       /* the matcher as a whole (negation applied) matches "" */
};

/* Whether the positive part (=, =~) accepts value: 1 yes, 0 no, or a
 * negative status (STRATA_ERR_NOMEM), never to be read as either answer.
 * utf8_ok as ix_value's (only RE2 looks at it). */
int ix_matcher_raw(index_matcher *im, const char *v, size_t len, int utf8_ok);

#endif /* STRATA_INDEX_INT_H */
