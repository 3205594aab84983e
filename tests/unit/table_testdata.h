/*
 * table_testdata.h: random series sets for the table tests, the writer
 * that stores them, and the check that a table holds exactly them.
 * Header-only (static functions) so each test executable stays one file.
 */
#ifndef STRATA_TABLE_TESTDATA_H
#define STRATA_TABLE_TESTDATA_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "table/table.h"
#include "testutil.h"

typedef struct td_series {
    uint64_t sid;
    size_t n;
    int64_t *ts;
    double *v;
} td_series;

typedef struct td_set {
    size_t n_series;
    td_series *s;
    uint64_t samples;
} td_set;

static inline double td_bits(uint64_t b)
{
    double d;
    memcpy(&d, &b, 8);
    return d;
}

static inline uint64_t td_u64(double d)
{
    uint64_t b;
    memcpy(&b, &d, 8);
    return b;
}

/* Values in the shapes monitoring data has, and adversarial bit patterns. */
static inline double td_value(test_rng *r, int shape, size_t i, double *state)
{
    switch (shape) {
    case 0: /* random bit patterns: NaN payloads, infinities, subnormals, -0.0 */
        return td_bits(test_rng_next(r));
    case 1: /* constant */
        return 42.5;
    case 2: /* integer counter */
        *state += (double)test_rng_below(r, 100);
        return *state;
    case 3: /* decimal gauge */
        return (double)(int64_t)test_rng_below(r, 100000) / 100.0;
    default: { /* a few specials */
        static const uint64_t sp[] = {0x7ff8000000000001ull, 0x8000000000000000ull, 0x7ff0000000000000ull,
                                      0x0000000000000001ull, 0xfff0000000000000ull, 0x7ff4000000000bad};
        return td_bits(sp[i % (sizeof sp / sizeof sp[0])]);
    }
    }
}

/* n_series series with sample counts drawn from sizes (cycled), sids ascending
 * with gaps (so absent sids exist between them). */
static inline td_set td_make(test_rng *r, size_t n_series, const size_t *sizes, size_t n_sizes)
{
    td_set d = {.n_series = n_series, .s = calloc(n_series, sizeof(td_series))};
    assert_non_null(d.s);
    uint64_t sid = 1 + test_rng_below(r, 5);
    for (size_t i = 0; i < n_series; i++) {
        td_series *s = &d.s[i];
        s->sid = sid;
        sid += 2 + test_rng_below(r, 3);
        s->n = sizes[i % n_sizes];
        s->ts = malloc((s->n + 1) * sizeof *s->ts);
        s->v = malloc((s->n + 1) * sizeof *s->v);
        assert_true(s->ts && s->v);
        int64_t t = (int64_t)test_rng_below(r, 2000000) - 1000000 + 1600000000000ll;
        int gap_kind = (int)test_rng_below(r, 3);
        int shape = (int)test_rng_below(r, 5);
        double state = 0;
        for (size_t k = 0; k < s->n; k++) {
            s->ts[k] = t;
            s->v[k] = td_value(r, shape, k, &state);
            if (gap_kind == 0)
                t += 15000;
            else if (gap_kind == 1)
                t += 1 + (int64_t)test_rng_below(r, 30000);
            else
                t += 1 + (int64_t)test_rng_below(r, 1ull << 40); /* huge gaps */
        }
        d.samples += s->n;
    }
    return d;
}

static inline void td_free(td_set *d)
{
    for (size_t i = 0; i < d->n_series; i++) {
        free(d->s[i].ts);
        free(d->s[i].v);
    }
    free(d->s);
    d->s = NULL;
}

/* Writes d through table_writer_add in random-sized pieces per series. */
static inline void td_write(test_rng *r, const td_set *d, const char *dir, uint64_t file_no, uint32_t block_samples,
                     table_meta *meta)
{
    table_writer *w = NULL;
    table_writer_opts o = {.block_samples = block_samples};
    assert_int_equal(table_writer_open(dir, file_no, &o, &w), STRATA_OK);
    for (size_t i = 0; i < d->n_series; i++) {
        const td_series *s = &d->s[i];
        size_t k = 0;
        while (k < s->n) {
            size_t take = 1 + test_rng_below(r, s->n - k);
            if (test_rng_below(r, 2))
                take = s->n - k;
            assert_int_equal(table_writer_add(w, s->sid, s->ts + k, s->v + k, take), STRATA_OK);
            k += take;
        }
    }
    assert_int_equal(table_writer_finish(w, meta), STRATA_OK);
}

static inline char *td_path(const char *dir, uint64_t file_no)
{
    char name[40];
    table_file_name(name, sizeof name, file_no);
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    assert_non_null(p);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

/* Samples of s within [mint, maxt] as [lo, hi). */
static inline void td_range(const td_series *s, int64_t mint, int64_t maxt, size_t *lo, size_t *hi)
{
    size_t a = 0;
    while (a < s->n && s->ts[a] < mint)
        a++;
    size_t b = a;
    while (b < s->n && s->ts[b] <= maxt)
        b++;
    *lo = a;
    *hi = b;
}

/* Reads sid over [mint, maxt] through a table_iter. Returns the status of
 * the read; on STRATA_OK asserts that exactly s's samples in the range came
 * back, bit for bit (s NULL: none). On an error, checks the message names
 * the file and an offset. */
static inline int td_check_range(table_iter *it, const table *t, uint64_t sid, const td_series *s, int64_t mint,
                          int64_t maxt)
{
    int rc = table_iter_seek(it, t, sid, mint, maxt);
    assert_int_equal(rc, STRATA_OK);
    size_t lo = 0, hi = 0;
    if (s)
        td_range(s, mint, maxt, &lo, &hi);
    size_t k = lo;
    const int64_t *ts;
    const double *v;
    size_t n;
    while ((rc = table_iter_next(it, &ts, &v, &n)) == 1) {
        assert_true(n >= 1);
        assert_true(k + n <= hi);
        for (size_t j = 0; j < n; j++, k++) {
            assert_int_equal(ts[j], s->ts[k]);
            assert_int_equal(td_u64(v[j]), td_u64(s->v[k]));
        }
    }
    if (rc < 0) {
        const char *e = table_iter_error(it);
        assert_non_null(strstr(e, table_path(t)));
        if (rc == STRATA_ERR_CORRUPT)
            assert_non_null(strstr(e, "offset"));
        assert_int_equal(table_iter_next(it, &ts, &v, &n), rc); /* the error sticks */
        return rc;
    }
    assert_int_equal(k, hi);
    return STRATA_OK;
}

#endif /* STRATA_TABLE_TESTDATA_H */
