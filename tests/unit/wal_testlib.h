/*
 * wal_testlib.h: what the WAL tests share: a deterministic record
 * generator (record i of a seed has a fixed type, length and content) and a
 * replay callback that checks each replayed record against it.
 */
#ifndef STRATA_WAL_TESTLIB_H
#define STRATA_WAL_TESTLIB_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "wal/wal.h"

typedef struct gen {
    uint64_t seed;
    size_t n;
    size_t *len; /* length of record i */
} gen;

static inline uint8_t gen_type(const gen *g, size_t i) { return (uint8_t)test_mix(g->seed * 7919 + i); }
static inline uint8_t gen_byte(const gen *g, size_t i, size_t j)
{
    return (uint8_t)(test_mix((g->seed << 20) ^ (i * 1000003u)) >> (j % 7 * 8)) ^ (uint8_t)j;
}

/* Record lengths: mostly small, some spanning pages, a few huge. */
static inline void gen_init(gen *g, uint64_t seed, size_t n, size_t max_len)
{
    test_rng r;
    test_rng_init(&r, seed);
    g->seed = seed;
    g->n = n;
    g->len = malloc((n ? n : 1) * sizeof *g->len);
    assert_non_null(g->len);
    for (size_t i = 0; i < n; i++) {
        uint64_t k = test_rng_below(&r, 10);
        size_t cap = k < 6 ? MIN(max_len, 200) : k < 9 ? MIN(max_len, 3000) : max_len;
        g->len[i] = (size_t)test_rng_below(&r, cap + 1);
    }
}

static inline void gen_free(gen *g) { free(g->len); }

/* Payload of record i into a malloc'd buffer. */
static inline uint8_t *gen_payload(const gen *g, size_t i)
{
    uint8_t *p = malloc(g->len[i] + 1);
    assert_non_null(p);
    for (size_t j = 0; j < g->len[i]; j++)
        p[j] = gen_byte(g, i, j);
    return p;
}

static inline void gen_append(wal *w, const gen *g, size_t i, wal_pos *end)
{
    uint8_t *p = gen_payload(g, i);
    int rc = wal_append(w, gen_type(g, i), p, g->len[i], end);
    free(p);
    assert_int_equal(rc, STRATA_OK);
}

/* Replay checker: record k delivered must be generator record first + k. */
typedef struct check {
    const gen *g;
    size_t first;  /* index of the first expected record */
    size_t got;    /* records seen */
    size_t bad;    /* records that differ from the generator (must stay 0) */
    wal_pos *ends; /* optional: end position of each record seen */
} check;

static inline int check_cb(void *ctx, uint8_t type, const uint8_t *p, size_t len, wal_pos end)
{
    check *c = ctx;
    size_t i = c->first + c->got;
    if (i >= c->g->n || type != gen_type(c->g, i) || len != c->g->len[i]) {
        c->bad++;
    } else {
        for (size_t j = 0; j < len; j++) {
            if (p[j] != gen_byte(c->g, i, j)) {
                c->bad++;
                break;
            }
        }
    }
    if (c->ends)
        c->ends[c->got] = end;
    c->got++;
    return STRATA_OK;
}

static inline wal_opts test_wal_opts(const char *dir, strata_sync sync, uint32_t page, uint64_t seg_bytes)
{
    wal_opts o;
    memset(&o, 0, sizeof o);
    o.dir = dir;
    o.sync = sync;
    o.page_bytes = page;
    o.segment_bytes = seg_bytes;
    return o;
}

/* Opens and replays from `from`, checking against g from record `first`. */
static inline wal *test_open_replay(const wal_opts *o, wal_pos from, check *c, wal_replay_stats *st)
{
    wal *w = NULL;
    assert_int_equal(wal_open(o, &w), STRATA_OK);
    assert_int_equal(wal_replay(w, from, c ? check_cb : NULL, c, st), STRATA_OK);
    return w;
}

static inline char *test_seg_path(const char *dir, uint64_t num)
{
    char *p = malloc(strlen(dir) + 32);
    assert_non_null(p);
    sprintf(p, "%s/%08llu", dir, (unsigned long long)num);
    return p;
}

static inline uint64_t test_file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return UINT64_MAX;
    return (uint64_t)st.st_size;
}

/* Reads a whole file (malloc'd). */
static inline uint8_t *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

static inline void test_write_file(const char *path, const uint8_t *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (len)
        assert_int_equal(fwrite(p, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

#endif
