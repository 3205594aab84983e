/*
 * manifest_testlib.h: what the manifest tests share: an independent model
 * of the manifest state (plain arrays, no shared code with src/manifest),
 * random valid edits applied to both, and comparisons of a version with
 * the model or with another version. Header-only (static functions), so
 * each test executable stays one file plus this.
 */
#ifndef STRATA_MANIFEST_TESTLIB_H
#define STRATA_MANIFEST_TESTLIB_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "manifest/manifest.h"
#include "testutil.h"

#define TW 3600000 /* partition width used by the tests: one hour */
#define MODEL_MAX 4096
#define TOMB_SIDS 8

typedef struct manifest_tomb_model {
    uint64_t id;
    int64_t mint, maxt;
    size_t n;
    uint64_t sids[TOMB_SIDS];
} manifest_tomb_model;

typedef struct model {
    manifest_table tables[MODEL_MAX]; /* unsorted */
    size_t n_tables;
    manifest_tomb_model tombs[256];
    size_t n_tombs;
    manifest_wal_pos ck;
    manifest_level_stats levels[MANIFEST_MAX_LEVELS];
} model;

static inline void rand_table(test_rng *r, uint64_t file_no, manifest_table *t)
{
    memset(t, 0, sizeof *t);
    t->file_no = file_no;
    t->partition_ms = ((int64_t)test_rng_below(r, 60) - 5) * TW;
    t->level = (uint32_t)test_rng_below(r, MANIFEST_MAX_LEVELS);
    t->min_sid = test_rng_below(r, 1u << 20);
    t->max_sid = t->min_sid + test_rng_below(r, 1u << 30);
    t->min_t_ms = t->partition_ms + (int64_t)test_rng_below(r, TW / 2);
    t->max_t_ms = t->min_t_ms + (int64_t)test_rng_below(r, TW / 2);
    t->samples = test_rng_next(r) >> (test_rng_below(r, 64));
    t->blocks = test_rng_below(r, 100000);
    t->bytes = test_rng_next(r) >> 20;
    t->created_ms = 1700000000000 + (int64_t)test_rng_below(r, 1u << 30);
}

static inline bool table_eq(const manifest_table *a, const manifest_table *b)
{
    return a->file_no == b->file_no && a->partition_ms == b->partition_ms && a->level == b->level &&
           a->min_sid == b->min_sid && a->max_sid == b->max_sid && a->min_t_ms == b->min_t_ms &&
           a->max_t_ms == b->max_t_ms && a->samples == b->samples && a->blocks == b->blocks &&
           a->bytes == b->bytes && a->created_ms == b->created_ms;
}

/* Structural invariants of a version: table order, partition index. */
static inline void check_version_shape(const manifest_version *v)
{
    size_t n, np;
    const manifest_table *t = manifest_version_tables(v, &n);
    const manifest_partition *p = manifest_version_partitions(v, &np);
    size_t covered = 0;
    for (size_t i = 0; i < np; i++) {
        assert_int_equal(p[i].first, covered);
        assert_true(p[i].n > 0);
        if (i)
            assert_true(p[i].start_ms > p[i - 1].start_ms);
        for (size_t k = p[i].first; k < p[i].first + p[i].n; k++) {
            assert_int_equal(t[k].partition_ms, p[i].start_ms);
            if (k > p[i].first)
                assert_true(t[k].level > t[k - 1].level ||
                            (t[k].level == t[k - 1].level && t[k].file_no > t[k - 1].file_no));
            assert_ptr_equal(manifest_version_find_table(v, t[k].file_no) != NULL, true);
            assert_true(t[k].file_no < manifest_version_next_file_no(v));
        }
        covered += p[i].n;
    }
    assert_int_equal(covered, n);
}

/* v holds exactly the model's state. */
static inline void check_model(const model *m, const manifest_version *v)
{
    check_version_shape(v);
    size_t n;
    manifest_version_tables(v, &n);
    assert_int_equal(n, m->n_tables);
    for (size_t i = 0; i < m->n_tables; i++) {
        const manifest_table *t = manifest_version_find_table(v, m->tables[i].file_no);
        assert_non_null(t);
        assert_true(table_eq(t, &m->tables[i]));
    }
    size_t nt;
    const manifest_tombstone *const *ts = manifest_version_tombstones(v, &nt);
    assert_int_equal(nt, m->n_tombs);
    for (size_t i = 0; i < nt; i++) {
        const manifest_tomb_model *mt = NULL;
        for (size_t k = 0; k < m->n_tombs; k++)
            if (m->tombs[k].id == ts[i]->id)
                mt = &m->tombs[k];
        assert_non_null(mt);
        if (i)
            assert_true(ts[i]->id > ts[i - 1]->id);
        assert_int_equal(ts[i]->mint_ms, mt->mint);
        assert_int_equal(ts[i]->maxt_ms, mt->maxt);
        assert_int_equal(ts[i]->n_sids, mt->n);
        for (size_t k = 0; k < mt->n; k++)
            assert_int_equal(ts[i]->sids[k], mt->sids[k]);
    }
    manifest_wal_pos ck = manifest_version_checkpoint(v);
    assert_int_equal(ck.segment, m->ck.segment);
    assert_int_equal(ck.offset, m->ck.offset);
    const manifest_level_stats *ls = manifest_version_level_stats(v);
    for (int l = 0; l < MANIFEST_MAX_LEVELS; l++) {
        assert_int_equal(ls[l].bytes_read, m->levels[l].bytes_read);
        assert_int_equal(ls[l].bytes_written, m->levels[l].bytes_written);
    }
    assert_int_equal(manifest_version_partition_ms(v), TW);
}

/* Two versions hold the same state (seq and the file counter aside). */
static inline bool same_state(const manifest_version *a, const manifest_version *b)
{
    size_t na, nb;
    const manifest_table *ta = manifest_version_tables(a, &na), *tb = manifest_version_tables(b, &nb);
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (!table_eq(&ta[i], &tb[i]))
            return false;
    const manifest_tombstone *const *xa = manifest_version_tombstones(a, &na);
    const manifest_tombstone *const *xb = manifest_version_tombstones(b, &nb);
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++) {
        if (xa[i]->id != xb[i]->id || xa[i]->mint_ms != xb[i]->mint_ms || xa[i]->maxt_ms != xb[i]->maxt_ms ||
            xa[i]->n_sids != xb[i]->n_sids ||
            (xa[i]->n_sids && memcmp(xa[i]->sids, xb[i]->sids, xa[i]->n_sids * sizeof(uint64_t)) != 0))
            return false;
    }
    manifest_wal_pos ca = manifest_version_checkpoint(a), cb = manifest_version_checkpoint(b);
    return ca.segment == cb.segment && ca.offset == cb.offset &&
           memcmp(manifest_version_level_stats(a), manifest_version_level_stats(b),
                  MANIFEST_MAX_LEVELS * sizeof(manifest_level_stats)) == 0 &&
           manifest_version_partition_ms(a) == manifest_version_partition_ms(b);
}

/* Builds a random valid edit for the model's state into e, and the model
 * it leads to into *next (a copy of *m changed). Numbers come from mf. */
static inline void random_edit(test_rng *r, manifest *mf, const model *m, model *next, manifest_edit *e)
{
    *next = *m;
    int items = 1 + (int)test_rng_below(r, 4);
    for (int i = 0; i < items; i++) {
        unsigned k = (unsigned)test_rng_below(r, 100);
        if (k < 40 && next->n_tables < MODEL_MAX) {
            manifest_table t;
            uint64_t no;
            assert_int_equal(manifest_alloc_file_no(mf, &no), STRATA_OK);
            rand_table(r, no, &t);
            assert_int_equal(manifest_edit_add_table(e, &t), STRATA_OK);
            next->tables[next->n_tables++] = t;
        } else if (k < 60 && next->n_tables) {
            size_t j = test_rng_below(r, next->n_tables);
            assert_int_equal(manifest_edit_remove_table(e, next->tables[j].file_no), STRATA_OK);
            next->tables[j] = next->tables[--next->n_tables];
        } else if (k < 68 && next->n_tables) { /* a trivial move: same file, next level */
            size_t j = test_rng_below(r, next->n_tables);
            manifest_table t = next->tables[j];
            t.level = (t.level + 1) % MANIFEST_MAX_LEVELS;
            assert_int_equal(manifest_edit_remove_table(e, t.file_no), STRATA_OK);
            assert_int_equal(manifest_edit_add_table(e, &t), STRATA_OK);
            next->tables[j] = t;
        } else if (k < 80) {
            if (test_rng_below(r, 4) == 0) {
                next->ck.segment++;
                next->ck.offset = test_rng_below(r, 1u << 26);
            } else {
                next->ck.offset += test_rng_below(r, 1u << 20);
            }
            assert_int_equal(manifest_edit_set_checkpoint(e, next->ck), STRATA_OK);
        } else if (k < 88 && next->n_tombs < 256) {
            manifest_tomb_model t = {0};
            assert_int_equal(manifest_alloc_file_no(mf, &t.id), STRATA_OK);
            t.mint = (int64_t)test_rng_below(r, 1u << 30) - (1 << 29);
            t.maxt = t.mint + (int64_t)test_rng_below(r, 1u << 30);
            t.n = test_rng_below(r, TOMB_SIDS + 1);
            uint64_t sid = test_rng_below(r, 100);
            for (size_t s = 0; s < t.n; s++) {
                t.sids[s] = sid;
                sid += 1 + test_rng_below(r, s % 2 ? 3 : 1u << 20);
            }
            assert_int_equal(manifest_edit_add_tombstone(e, t.id, t.mint, t.maxt, t.sids, t.n), STRATA_OK);
            next->tombs[next->n_tombs++] = t;
        } else if (k < 93 && next->n_tombs) {
            size_t j = test_rng_below(r, next->n_tombs);
            assert_int_equal(manifest_edit_remove_tombstone(e, next->tombs[j].id), STRATA_OK);
            next->tombs[j] = next->tombs[--next->n_tombs];
        } else {
            uint32_t l = (uint32_t)test_rng_below(r, MANIFEST_MAX_LEVELS);
            uint64_t rd = test_rng_below(r, 1u << 30), wr = test_rng_below(r, 1u << 30);
            assert_int_equal(manifest_edit_add_level_stats(e, l, rd, wr), STRATA_OK);
            next->levels[l].bytes_read += rd;
            next->levels[l].bytes_written += wr;
        }
    }
}

static inline manifest_options test_opts(void)
{
    manifest_options o;
    manifest_options_init(&o);
    o.partition_ms = TW;
    return o;
}

/* Copies file src to dst, keeping only the first keep bytes. */
static inline void copy_prefix(const char *src, const char *dst, size_t keep)
{
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[4096];
    size_t n;
    while (keep && (n = fread(buf, 1, MIN(sizeof buf, keep), in)) > 0) {
        assert_int_equal(fwrite(buf, 1, n, out), n);
        keep -= n;
    }
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

static inline uint8_t *slurp(const char *path, size_t *len)
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

static inline void spit(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static inline char *mpath(const char *dir, uint64_t number)
{
    char *p = malloc(strlen(dir) + 32);
    assert_non_null(p);
    sprintf(p, "%s/MANIFEST-%06llu", dir, (unsigned long long)number);
    return p;
}

/* Number of MANIFEST-* files in dir. */
static inline int count_manifests(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        n += strncmp(de->d_name, "MANIFEST-", 9) == 0;
    closedir(d);
    return n;
}

#endif
