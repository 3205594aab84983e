/*
 * table_roundtrip.c: what is written is read back exactly: every sample
 * bit for bit, through the series iterator (whole series and ranges at the
 * edges), the block scan and block decoding, raw block copies; absent sids
 * are absent; misordered input is refused.
 */
#include <stdint.h>

#include "table_testdata.h"

#define TABLE_MAX_BLOCK 65536

static void check_all(const td_set *d, const table *t, test_rng *r)
{
    const table_meta *m = table_get_meta(t);
    assert_int_equal(m->series, d->n_series);
    assert_int_equal(m->samples, d->samples);
    assert_int_equal(m->min_sid, d->s[0].sid);
    assert_int_equal(m->max_sid, d->s[d->n_series - 1].sid);
    table_iter it;
    table_iter_init(&it);
    for (size_t i = 0; i < d->n_series; i++) {
        const td_series *s = &d->s[i];
        assert_int_equal(table_sid_at(t, i), s->sid);
        assert_int_equal(td_check_range(&it, t, s->sid, s, INT64_MIN, INT64_MAX), STRATA_OK);
        int64_t first = s->ts[0], last = s->ts[s->n - 1];
        /* edges: exactly one sample, just outside, empty ranges */
        assert_int_equal(td_check_range(&it, t, s->sid, s, first, first), STRATA_OK);
        assert_int_equal(td_check_range(&it, t, s->sid, s, last, last), STRATA_OK);
        if (first > INT64_MIN)
            assert_int_equal(td_check_range(&it, t, s->sid, s, INT64_MIN, first - 1), STRATA_OK);
        if (last < INT64_MAX)
            assert_int_equal(td_check_range(&it, t, s->sid, s, last + 1, INT64_MAX), STRATA_OK);
        assert_int_equal(td_check_range(&it, t, s->sid, s, last, first - (first > INT64_MIN)), STRATA_OK);
        for (int q = 0; q < 6; q++) {
            size_t a = test_rng_below(r, s->n), b = a + test_rng_below(r, s->n - a);
            int64_t lo = s->ts[a] - (int64_t)test_rng_below(r, 2), hi = s->ts[b] + (int64_t)test_rng_below(r, 2);
            assert_int_equal(td_check_range(&it, t, s->sid, s, lo, hi), STRATA_OK);
        }
        /* the sid just above is absent (sids have gaps of 2..4) */
        table_block_list l;
        assert_int_equal(table_find(t, s->sid + 1, &l), STRATA_ERR_NOTFOUND);
        assert_int_equal(td_check_range(&it, t, s->sid + 1, NULL, INT64_MIN, INT64_MAX), STRATA_OK);
        /* the block list covers the series */
        assert_int_equal(table_find(t, s->sid, &l), STRATA_OK);
        table_block blk;
        size_t total = 0;
        int rc;
        while ((rc = table_block_list_next(&l, &blk)) == 1)
            total += blk.count;
        assert_int_equal(rc, 0);
        assert_int_equal(total, s->n);
    }
    table_block_list l;
    assert_int_equal(table_find(t, 0, &l), STRATA_ERR_NOTFOUND);
    assert_int_equal(table_find(t, UINT64_MAX, &l), STRATA_ERR_NOTFOUND);
    table_iter_free(&it);

    uint64_t *sids;
    size_t n;
    assert_int_equal(table_sids(t, &sids, &n), STRATA_OK);
    assert_int_equal(n, d->n_series);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(sids[i], d->s[i].sid);
    base_free(sids);
}

/* Every block in order decodes to the next samples of the data set. */
static void check_scan(const td_set *d, const table *t)
{
    table_scan sc;
    table_scan_init(&sc, t);
    uint64_t sid;
    table_block blk;
    const uint8_t *bytes;
    size_t si = 0, k = 0, blocks = 0;
    int64_t *ts = malloc((TABLE_MAX_BLOCK + CODEC_PAD) * sizeof *ts);
    double *v = malloc((TABLE_MAX_BLOCK + CODEC_PAD) * sizeof *v);
    assert_true(ts && v);
    int rc;
    while ((rc = table_scan_next(&sc, &sid, &blk, &bytes)) == 1) {
        if (k == d->s[si].n) {
            si++;
            k = 0;
        }
        assert_int_equal(sid, d->s[si].sid);
        assert_non_null(bytes);
        assert_int_equal(table_block_decode(t, &blk, ts, v, NULL, 0), STRATA_OK);
        for (uint32_t j = 0; j < blk.count; j++, k++) {
            assert_int_equal(ts[j], d->s[si].ts[k]);
            assert_int_equal(td_u64(v[j]), td_u64(d->s[si].v[k]));
        }
        blocks++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(si, d->n_series - 1);
    assert_int_equal(k, d->s[si].n);
    assert_int_equal(blocks, table_get_meta(t)->blocks);
    free(ts);
    free(v);
}

static void round_trip(uint32_t block_samples, size_t n_series, uint64_t seed_offset)
{
    test_rng r;
    test_rng_init(&r, test_seed(11) + seed_offset);
    size_t bs = block_samples ? block_samples : 1000;
    size_t sizes[] = {1, bs, bs + 1, 2, bs - 1 ? bs - 1 : 1, 3 * bs + 7, 1 + 17 * bs / 3};
    td_set d = td_make(&r, n_series, sizes, sizeof sizes / sizeof sizes[0]);
    char *dir = test_tmpdir("table_roundtrip");
    table_meta meta;
    td_write(&r, &d, dir, 7, block_samples, &meta);
    assert_int_equal(meta.file_no, 7);
    assert_int_equal(meta.samples, d.samples);
    assert_int_equal(meta.series, n_series);
    char *path = td_path(dir, 7);
    table *t = NULL;
    char err[512];
    table_stats st = {0};
    assert_int_equal(table_open(path, &st, &t, err, sizeof err), STRATA_OK);
    const table_meta *m = table_get_meta(t);
    assert_int_equal(m->file_no, 7);
    assert_int_equal(m->file_bytes, meta.file_bytes);
    assert_int_equal(m->blocks, meta.blocks);
    assert_int_equal(m->min_t, meta.min_t);
    assert_int_equal(m->max_t, meta.max_t);
    check_all(&d, t, &r);
    check_scan(&d, t);
    assert_true(atomic_load(&st.bytes_read) > 0);
    assert_int_equal(table_verify(path, NULL, NULL), STRATA_OK);
    printf("block_samples %zu: %zu series, %llu samples, %llu blocks, %llu bytes (%.3f bytes/sample)\n", bs,
           n_series, (unsigned long long)d.samples, (unsigned long long)m->blocks,
           (unsigned long long)m->file_bytes, (double)m->file_bytes / (double)d.samples);
    table_unref(t);
    free(path);
    test_rmtree(dir);
    free(dir);
    td_free(&d);
}

static void table_round_trips_small_blocks(void **state) { (void)state; round_trip(7, 60, 0); }
static void table_round_trips_default_blocks(void **state) { (void)state; round_trip(0, 30, 1); }
static void table_round_trips_one_sample_blocks(void **state) { (void)state; round_trip(1, 10, 2); }

/* Timestamps at the ends of int64 exercise the index's deltas. */
static void table_round_trips_extreme_timestamps(void **state)
{
    (void)state;
    int64_t ts[] = {INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX - 1, INT64_MAX};
    double v[] = {1, 2, 3, 4, 5, 6, 7};
    char *dir = test_tmpdir("table_extreme");
    for (uint32_t bs = 1; bs <= 8; bs++) {
        table_writer *w;
        table_writer_opts o = {.block_samples = bs};
        assert_int_equal(table_writer_open(dir, bs, &o, &w), STRATA_OK);
        assert_int_equal(table_writer_add(w, 0, ts, v, 7), STRATA_OK);
        assert_int_equal(table_writer_add(w, UINT64_MAX, ts, v, 7), STRATA_OK);
        assert_int_equal(table_writer_finish(w, NULL), STRATA_OK);
        char *path = td_path(dir, bs);
        table *t;
        char err[512];
        assert_int_equal(table_open(path, NULL, &t, err, sizeof err), STRATA_OK);
        td_series s = {.sid = 0, .n = 7, .ts = ts, .v = v};
        table_iter it;
        table_iter_init(&it);
        for (int i = 0; i < 7; i++)
            for (int j = i; j < 7; j++) {
                s.sid = 0;
                assert_int_equal(td_check_range(&it, t, 0, &s, ts[i], ts[j]), STRATA_OK);
                s.sid = UINT64_MAX;
                assert_int_equal(td_check_range(&it, t, UINT64_MAX, &s, ts[i], ts[j]), STRATA_OK);
            }
        assert_int_equal(td_check_range(&it, t, 1, NULL, INT64_MIN, INT64_MAX), STRATA_OK);
        table_iter_free(&it);
        assert_int_equal(table_get_meta(t)->min_t, INT64_MIN);
        assert_int_equal(table_get_meta(t)->max_t, INT64_MAX);
        table_unref(t);
        free(path);
    }
    test_rmtree(dir);
    free(dir);
}

/* Copying every block raw (as compaction does) gives a file with the same
 * blocks and the same samples; raw blocks and added samples mix. */
static void table_raw_copy_reproduces_blocks(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(11) + 3);
    size_t sizes[] = {5, 16, 33, 1};
    td_set d = td_make(&r, 20, sizes, 4);
    char *dir = test_tmpdir("table_raw");
    td_write(&r, &d, dir, 1, 16, NULL);
    char *p1 = td_path(dir, 1), *p2 = td_path(dir, 2);
    table *a, *b;
    assert_int_equal(table_open(p1, NULL, &a, NULL, 0), STRATA_OK);
    table_writer *w;
    assert_int_equal(table_writer_open(dir, 2, &(table_writer_opts){.block_samples = 16}, &w), STRATA_OK);
    table_scan sc;
    table_scan_init(&sc, a);
    uint64_t sid;
    table_block blk;
    const uint8_t *bytes;
    int rc;
    while ((rc = table_scan_next(&sc, &sid, &blk, &bytes)) == 1)
        assert_int_equal(table_writer_add_raw(w, sid, &blk, bytes), STRATA_OK);
    assert_int_equal(rc, 0);
    /* a raw block may not go back in time or sid */
    assert_int_equal(table_writer_add_raw(w, sid, &blk, bytes), STRATA_ERR_INVALID);
    assert_int_equal(table_writer_finish(w, NULL), STRATA_OK);
    assert_int_equal(table_open(p2, NULL, &b, NULL, 0), STRATA_OK);
    /* the same file, byte for byte */
    const table_meta *ma = table_get_meta(a), *mb = table_get_meta(b);
    assert_int_equal(ma->file_bytes, mb->file_bytes);
    assert_int_equal(ma->blocks, mb->blocks);
    uint8_t *ba, *bb;
    size_t la, lb;
    assert_int_equal(base_file_read_all(p1, &ba, &la), STRATA_OK);
    assert_int_equal(base_file_read_all(p2, &bb, &lb), STRATA_OK);
    assert_int_equal(la, lb);
    assert_memory_equal(ba, bb, la);
    base_free(ba);
    base_free(bb);
    check_all(&d, b, &r);
    table_unref(b);

    /* mixed: first samples of each series added, the rest copied raw, into
     * a file whose block_samples (the base of its index counts) differs */
    assert_int_equal(table_writer_open(dir, 3, NULL, &w), STRATA_OK);
    table_scan_init(&sc, a);
    size_t si = 0;
    uint64_t prev = UINT64_MAX;
    while ((rc = table_scan_next(&sc, &sid, &blk, &bytes)) == 1) {
        if (sid != prev && blk.count > 1) {
            /* decode the first block and add it as samples in two pieces */
            int64_t ts[16 + CODEC_PAD];
            double v[16 + CODEC_PAD];
            assert_int_equal(table_block_decode(a, &blk, ts, v, NULL, 0), STRATA_OK);
            assert_int_equal(table_writer_add(w, sid, ts, v, 1), STRATA_OK);
            assert_int_equal(table_writer_add(w, sid, ts + 1, v + 1, blk.count - 1), STRATA_OK);
        } else {
            assert_int_equal(table_writer_add_raw(w, sid, &blk, bytes), STRATA_OK);
        }
        if (sid != prev)
            si++;
        prev = sid;
    }
    assert_int_equal(si, d.n_series);
    assert_int_equal(table_writer_finish(w, NULL), STRATA_OK);
    char *p3 = td_path(dir, 3);
    assert_int_equal(table_open(p3, NULL, &b, NULL, 0), STRATA_OK);
    check_all(&d, b, &r);
    check_scan(&d, b);
    table_unref(b);
    table_unref(a);
    free(p1);
    free(p2);
    free(p3);
    test_rmtree(dir);
    free(dir);
    td_free(&d);
}

static void table_writer_refuses_misordered_input(void **state)
{
    (void)state;
    char *dir = test_tmpdir("table_order");
    table_writer *w;
    assert_int_equal(table_writer_open(dir, 1, NULL, &w), STRATA_OK);
    int64_t ts[] = {10, 20, 20, 30};
    double v[] = {1, 2, 3, 4};
    assert_int_equal(table_writer_add(w, 5, ts, v, 2), STRATA_OK);
    assert_int_equal(table_writer_add(w, 5, ts + 1, v + 1, 1), STRATA_ERR_INVALID); /* t 20 again */
    assert_int_equal(table_writer_add(w, 5, ts + 2, v + 2, 2), STRATA_ERR_INVALID); /* 20 not above 20 */
    assert_int_equal(table_writer_add(w, 4, ts, v, 1), STRATA_ERR_INVALID);         /* sid back */
    assert_int_equal(table_writer_add(w, 6, ts + 1, v + 1, 3), STRATA_ERR_INVALID); /* 20, 20 inside */
    assert_int_equal(table_writer_add(w, 5, ts + 3, v + 3, 1), STRATA_OK);          /* refusals changed nothing */
    assert_int_equal(table_writer_add(w, 6, ts, v, 1), STRATA_OK);
    assert_int_equal(table_writer_add(w, 5, ts + 3, v + 3, 1), STRATA_ERR_INVALID); /* sid 5 is closed */
    table_meta m;
    assert_int_equal(table_writer_finish(w, &m), STRATA_OK);
    assert_int_equal(m.samples, 4);
    assert_int_equal(m.series, 2);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_round_trips_small_blocks),
        cmocka_unit_test(table_round_trips_default_blocks),
        cmocka_unit_test(table_round_trips_one_sample_blocks),
        cmocka_unit_test(table_round_trips_extreme_timestamps),
        cmocka_unit_test(table_raw_copy_reproduces_blocks),
        cmocka_unit_test(table_writer_refuses_misordered_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
