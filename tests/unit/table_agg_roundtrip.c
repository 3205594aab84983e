/*
 * table_agg_roundtrip.c: aggregate blocks (src/table/writer.c, agg.c) read
 * back bit for bit: random rows (counters with resets, gauges, NaN, -0,
 * infinities, huge values, columns equal to each other, cut ends) written
 * with table_writer_add_agg in blocks of 1..8 rows and decoded under every
 * column mask, every field asked for equal to what was written, and the
 * raw view (t_last, last) too; a series far in the past (regular
 * timestamps near INT64_MIN) reads back; a crafted span that would
 * overflow t_first is reported as corruption. Seed: STRATA_SEED.
 */
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/base.h"
#include "codec/codec.h"
#include "table/table.h"
#include "table/table_format.h"
#include "testutil.h"

static uint64_t g_no = 1;

/* writes rows as one series, reads back with mask; returns rc of decode;
 * compares fields asked for */
static int roundtrip(const char *dir, const strata_agg *rows, size_t n, int64_t res, unsigned mask, int *mismatch,
                     uint32_t bs)
{
    table_writer *w;
    table_writer_opts o = {.block_samples = bs};
    uint64_t no = g_no++;
    assert_int_equal(table_writer_open(dir, no, &o, &w), 0);
    int rc = table_writer_add_agg(w, 7, res, rows, n);
    if (rc) {
        table_writer_abort(w);
        return 1000 + rc;
    }
    table_meta m;
    assert_int_equal(table_writer_finish(w, &m), 0);
    char name[64], path[512];
    table_file_name(name, sizeof name, no);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    table *t;
    char err[256];
    rc = table_open(path, NULL, &t, err, sizeof err);
    if (rc) {
        printf("open: %s\n", err);
        return rc;
    }
    table_block_list l;
    assert_int_equal(table_find(t, 7, &l), 0);
    table_block blk;
    size_t at = 0;
    *mismatch = 0;
    int64_t *ts = malloc((70000 + CODEC_PAD) * 8);
    double *v = malloc((70000 + CODEC_PAD) * 8);
    strata_agg *r = malloc(70000 * sizeof *r);
    while ((rc = table_block_list_next(&l, &blk)) == 1) {
        int64_t rr;
        rc = table_block_decode_agg_cols(t, &blk, ts, v, r, &rr, mask, err, sizeof err);
        if (rc) {
            printf("decode (mask %#x): %s\n", mask, err);
            break;
        }
        /* raw view too */
        int rc2 = table_block_decode(t, &blk, ts, v, err, sizeof err);
        if (rc2) {
            printf("raw decode: %s\n", err);
            rc = rc2;
            break;
        }
        for (uint32_t i = 0; i < blk.count; i++, at++) {
            const strata_agg *a = &rows[at], *b = &r[i];
#define CMPF(bit, f)                                                                                                   \
    if ((mask >> bit & 1) && memcmp(&a->f, &b->f, 8)) {                                                                \
        printf("row %zu field " #f ": wrote %.17g read %.17g (mask %#x)\n", at, a->f, b->f, mask);                   \
        (*mismatch)++;                                                                                                 \
    }
            CMPF(0, count) CMPF(1, sum) CMPF(2, min) CMPF(3, max) CMPF(4, first) CMPF(5, last) CMPF(6, resets)
            if ((mask >> 7 & 1) && a->t_first != b->t_first) {
                printf("row %zu t_first\n", at);
                (*mismatch)++;
            }
            if (a->t_last != b->t_last || ts[i] != a->t_last || memcmp(&v[i], &a->last, 8)) {
                printf("row %zu t_last/raw view\n", at);
                (*mismatch)++;
            }
        }
        rc = 0;
    }
    free(ts);
    free(v);
    free(r);
    table_unref(t);
    return rc;
}

static double pick(test_rng *g, double base)
{
    switch (test_rng_below(g, 12)) {
    case 0: return NAN;
    case 1: return -0.0;
    case 2: return INFINITY;
    case 3: return -INFINITY;
    case 4: return 1e300;
    case 5: return 0.1 * (double)test_rng_below(g, 1000);
    case 6: return (double)(int64_t)test_rng_below(g, 1ull << 60);
    case 7: return base;
    default: return round(base * 1000) / 1000;
    }
}

static void gen(test_rng *g, strata_agg *rows, size_t n, int64_t res, int64_t t0, int flavor)
{
    double lvl = 100.0 + (double)test_rng_below(g, 100000) / 100;
    for (size_t i = 0; i < n; i++) {
        int64_t end = t0 + (int64_t)(i + 1) * res;
        strata_agg *r = &rows[i];
        r->t_last = end - (flavor & 1 ? 0 : (int64_t)test_rng_below(g, (uint64_t)res / 2));
        r->t_first = r->t_last - (flavor & 2 ? res / 2 : (int64_t)test_rng_below(g, (uint64_t)res / 2));
        r->count = flavor & 4 ? 20 : (double)(1 + test_rng_below(g, 30));
        double f = lvl + (double)i * 0.25, l = f + 0.5 * (double)test_rng_below(g, 4);
        if (flavor & 8) {
            f = pick(g, f);
            l = pick(g, l);
        }
        r->first = f;
        r->last = l;
        r->min = test_rng_below(g, 2) ? (f < l ? f : l) : (f < l ? f : l) - 0.125 * (double)test_rng_below(g, 8);
        r->max = test_rng_below(g, 2) ? (f > l ? f : l) : (f > l ? f : l) + 0.125 * (double)test_rng_below(g, 8);
        r->sum = round(r->count * (f + l) / 2 * 1000) / 1000;
        r->resets = test_rng_below(g, 3) ? 0 : f * (double)test_rng_below(g, 3) + 0.001 * (double)test_rng_below(g, 5);
        if (flavor & 16) {
            r->sum = pick(g, r->sum);
            r->min = pick(g, r->min);
            r->max = pick(g, r->max);
            r->resets = pick(g, r->resets);
        }
        if (flavor & 32) { /* columns equal to others */
            switch (test_rng_below(g, 4)) {
            case 0: r->last = r->first = r->min = r->max = r->sum = (double)test_rng_below(g, 3); break;
            case 1: r->resets = r->count; break;
            case 2: r->last = r->max; r->first = r->min; break;
            default: r->min = r->first; r->max = r->last; break;
            }
        }
        if (flavor & 64) { /* a counter: first one scrape after the previous last */
            double prev = i ? rows[i - 1].last : lvl;
            r->first = prev + 0.5 * (double)test_rng_below(g, 3);
            r->last = r->first + 0.25 * (double)test_rng_below(g, 40);
            if (test_rng_below(g, 8) == 0) r->first = 0.5 * (double)test_rng_below(g, 3); /* reset */
            r->min = test_rng_below(g, 2) ? r->first : fmin(r->first, r->last);
            r->max = r->last;
            if (test_rng_below(g, 4) == 0) r->last = r->max = r->first;
            r->sum = round(r->count * (r->first + r->last) / 2 * 4) / 4;
        }
        r->res_ms = res;
    }
}

static void agg_blocks_read_back_bit_for_bit_under_every_mask(void **state)
{
    (void)state;
    char *dir = test_tmpdir("table_agg_rt");
    test_rng g;
    test_rng_init(&g, test_seed(14));
    strata_agg rows[64];
    long bad = 0, runs = 0, wrerr = 0;
    for (int it = 0; it < 1500; it++) {
        size_t n = 1 + test_rng_below(&g, it % 3 ? 6 : 60);
        int flavor = (int)test_rng_below(&g, 128);
        int64_t res = (int64_t)(1 + test_rng_below(&g, 3)) * 60000;
        int64_t t0 = ((int64_t)test_rng_below(&g, 1ull << 40) - (1ll << 39)) / res * res;
        gen(&g, rows, n, res, t0, flavor);
        unsigned mask = it % 4 == 0 ? ~0u : (unsigned)test_rng_below(&g, 256);
        int mm = 0;
        int rc = roundtrip(dir, rows, n, res, mask, &mm, 1 + (uint32_t)test_rng_below(&g, 8));
        runs++;
        if (rc >= 1000) {
            wrerr++;
            continue;
        }
        if (rc || mm) {
            bad++;
            printf("it %d: n %zu flavor %d mask %#x rc %d mismatches %d\n", it, n, flavor, mask, rc, mm);
            if (bad > 10)
                break;
        }
    }
    printf("runs %ld bad %ld write errors %ld\n", runs, bad, wrerr);
    test_rmtree(dir);
    free(dir);
    assert_int_equal(bad, 0);
}

/* a downsampled series far in the past (accepted by db_time_ok) */
static void agg_blocks_far_in_the_past_read_back(void **state)
{
    (void)state;
    char *dir = test_tmpdir("table_agg_far");
    strata_agg rows[5];
    int64_t res = 60000, t0 = -4000000000000000000ll / res * res;
    for (int i = 0; i < 5; i++)
        rows[i] = (strata_agg){t0 + (i + 1) * res - 10, t0 + (i + 1) * res, 2, 3, 1, 2, 1, 2, 0, res};
    int mm = 0;
    int rc = roundtrip(dir, rows, 5, res, ~0u, &mm, 1000);
    printf("far past: rc %d mismatches %d\n", rc, mm);
    test_rmtree(dir);
    free(dir);
    assert_int_equal(rc, 0);
}

/* crafted: span column patched so t_last - span overflows */
static void agg_span_that_overflows_is_corruption(void **state)
{
    (void)state;
    char *dir = test_tmpdir("table_agg_span");
    strata_agg row = {INT64_MIN + 95, INT64_MIN + 100, 2, 3, 1, 2, 1, 2, 0.5, 60000};
    table_writer *w;
    assert_int_equal(table_writer_open(dir, 1, NULL, &w), 0);
    assert_int_equal(table_writer_add_agg(w, 7, 60000, &row, 1), 0);
    table_meta m;
    assert_int_equal(table_writer_finish(w, &m), 0);
    char name[64], path[512], err[256];
    table_file_name(name, sizeof name, 1);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    table *t;
    assert_int_equal(table_open(path, NULL, &t, err, sizeof err), 0);
    table_block_list l;
    table_block blk;
    assert_int_equal(table_find(t, 7, &l), 0);
    assert_int_equal(table_block_list_next(&l, &blk), 1);
    table_unref(t);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b[256];
    assert_true(blk.len <= sizeof b);
    assert_int_equal(pread(fd, b, blk.len, (off_t)blk.off), blk.len);
    size_t body = blk.len - 4;
    assert_int_equal(b[body - 3], 0xc0); /* span: CONSTINT, len 1, 0 */
    b[body - 1] = 0x7f;
    uint32_t crc = base_crc32c(0, b, body);
    memcpy(b + body, &crc, 4);
    assert_int_equal(pwrite(fd, b, blk.len, (off_t)blk.off), blk.len);
    close(fd);
    assert_int_equal(table_open(path, NULL, &t, err, sizeof err), 0);
    assert_int_equal(table_find(t, 7, &l), 0);
    assert_int_equal(table_block_list_next(&l, &blk), 1);
    int64_t ts[1 + CODEC_PAD], rr;
    double v[1 + CODEC_PAD];
    strata_agg r[1];
    int rc = table_block_decode_agg_cols(t, &blk, ts, v, r, &rr, ~0u, err, sizeof err);
    printf("crafted span: %s\n", err);
    assert_int_equal(rc, STRATA_ERR_CORRUPT);
    table_unref(t);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(agg_blocks_far_in_the_past_read_back),
        cmocka_unit_test(agg_blocks_read_back_bit_for_bit_under_every_mask),
        cmocka_unit_test(agg_span_that_overflows_is_corruption),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
