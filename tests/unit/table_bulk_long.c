/*
 * table_bulk_long.c: a table of ~20 M node-like samples (the benchmark
 * generator's data: 16 instances x 233 series x 24 h at 15 s) is written,
 * read back exactly, and timed: writing, a series-by-series scan through
 * table_iter, a scan of every block with decoding, one series read
 * repeatedly. Also checks what the table layer adds to the codec's bytes
 * (block headers, CRCs, index, footer) stays small per sample.
 * Scale with STRATA_TABLE_BULK_HOURS (default 24, the peers' data set).
 */
#include <stdlib.h>
#include <time.h>

#include "../../bench/gen.c" /* the generator is self-contained; the test compiles it in */
#include "table_testdata.h"

static double secs(uint64_t ns) { return (double)ns / 1e9; }

/* CPU time of this thread: on a shared machine, steadier than wall time. */
static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void table_bulk_node_like_round_trips_and_is_timed(void **state)
{
    (void)state;
    const char *h = getenv("STRATA_TABLE_BULK_HOURS");
    int hours = h ? atoi(h) : 24;
    bench_series *bs;
    size_t ns;
    assert_int_equal(bench_gen("node-like", test_seed(5), 16, hours, &bs, &ns), 0);
    uint64_t samples = 0;
    for (size_t i = 0; i < ns; i++)
        samples += bs[i].n;

    /* codec bytes for the same 1000-sample blocks, for the overhead figure */
    uint64_t codec_bytes = 0;
    bbuf b = {0};
    for (size_t i = 0; i < ns; i++)
        for (size_t k = 0; k < bs[i].n; k += 1000) {
            size_t n = MIN(1000, bs[i].n - k);
            uint8_t id;
            base_buf_reset(&b);
            assert_int_equal(codec_ts_encode(bs[i].t + k, n, &b, &id), STRATA_OK);
            assert_int_equal(codec_val_encode(bs[i].v + k, n, &b, &id), STRATA_OK);
            codec_bytes += b.len;
        }
    base_buf_free(&b);

    char *dir = test_tmpdir("table_bulk");
    table_writer *w;
    table_meta meta;
    uint64_t t0 = base_mono_ns(), c0 = cpu_ns();
    assert_int_equal(table_writer_open(dir, 1, NULL, &w), STRATA_OK);
    for (size_t i = 0; i < ns; i++)
        assert_int_equal(table_writer_add(w, i + 1, bs[i].t, bs[i].v, bs[i].n), STRATA_OK);
    assert_int_equal(table_writer_finish(w, &meta), STRATA_OK);
    uint64_t t_write = base_mono_ns() - t0, c_write = cpu_ns() - c0;
    assert_int_equal(meta.samples, samples);
    double overhead = (double)(meta.file_bytes - codec_bytes) / (double)samples;
    printf("node-like: %zu series, %llu samples, %llu blocks, file %llu bytes = %.4f bytes/sample "
           "(codec payload %.4f, table overhead %.4f: %.1f bytes/block)\n",
           ns, (unsigned long long)samples, (unsigned long long)meta.blocks, (unsigned long long)meta.file_bytes,
           (double)meta.file_bytes / (double)samples, (double)codec_bytes / (double)samples, overhead,
           (double)(meta.file_bytes - codec_bytes) / (double)meta.blocks);
    printf("write (encode + I/O + fsync): wall %.3f s = %.1f M samples/s; cpu %.3f s = %.1f M samples/s\n",
           secs(t_write), (double)samples / secs(t_write) / 1e6, secs(c_write),
           (double)samples / secs(c_write) / 1e6);
    /* headers, CRCs and index: at most ~0.02 bytes/sample once series span
     * several 1000-sample blocks (24 h: 6 blocks a series) */
    assert_true(overhead < (hours >= 12 ? 0.02 : 0.06));

    char *path = td_path(dir, 1);
    table *t;
    table_stats st = {0};
    t0 = base_mono_ns();
    assert_int_equal(table_open(path, &st, &t, NULL, 0), STRATA_OK);
    uint64_t t_open = base_mono_ns() - t0;

    /* series by series, whole range: timed pass, then an exact comparison pass */
    table_iter it;
    table_iter_init(&it);
    const int64_t *ts;
    const double *v;
    size_t n;
    uint64_t got = 0, sum = 0;
    t0 = base_mono_ns();
    c0 = cpu_ns();
    for (size_t i = 0; i < ns; i++) {
        assert_int_equal(table_iter_seek(&it, t, i + 1, INT64_MIN, INT64_MAX), STRATA_OK);
        while (table_iter_next(&it, &ts, &v, &n) == 1) {
            got += n;
            sum += (uint64_t)ts[n - 1];
        }
    }
    uint64_t t_series = base_mono_ns() - t0, c_series = cpu_ns() - c0;
    assert_int_equal(got, samples);
    assert_true(sum != 0);
    for (size_t i = 0; i < ns; i++) {
        td_series s = {.sid = i + 1, .n = bs[i].n, .ts = bs[i].t, .v = bs[i].v};
        assert_int_equal(td_check_range(&it, t, i + 1, &s, INT64_MIN, INT64_MAX), STRATA_OK);
    }

    /* one series over and over */
    size_t one = ns / 2, reps = 2000;
    t0 = base_mono_ns();
    c0 = cpu_ns();
    got = 0;
    for (size_t r = 0; r < reps; r++) {
        assert_int_equal(table_iter_seek(&it, t, one + 1, INT64_MIN, INT64_MAX), STRATA_OK);
        while (table_iter_next(&it, &ts, &v, &n) == 1)
            got += n;
    }
    uint64_t t_one = base_mono_ns() - t0, c_one = cpu_ns() - c0;
    assert_int_equal(got, reps * bs[one].n);
    table_iter_free(&it);

    /* every block: scan (CRC) + decode */
    int64_t *dts = malloc((1000 + CODEC_PAD) * sizeof *dts);
    double *dv = malloc((1000 + CODEC_PAD) * sizeof *dv);
    assert_true(dts && dv);
    table_scan sc;
    table_scan_init(&sc, t);
    uint64_t sid;
    table_block blk;
    const uint8_t *bytes;
    got = 0;
    t0 = base_mono_ns();
    c0 = cpu_ns();
    int rc;
    while ((rc = table_scan_next(&sc, &sid, &blk, &bytes)) == 1) {
        assert_int_equal(table_block_decode(t, &blk, dts, dv, NULL, 0), STRATA_OK);
        got += blk.count;
    }
    uint64_t t_blocks = base_mono_ns() - t0, c_blocks = cpu_ns() - c0;
    assert_int_equal(rc, 0);
    assert_int_equal(got, samples);

    printf("open (footer, index CRC and walk): %.3f ms\n", secs(t_open) * 1e3);
    printf("series-by-series scan (table_iter, all %zu series): wall %.3f s = %.1f M samples/s; cpu %.3f s = %.1f M samples/s\n",
           ns, secs(t_series), (double)samples / secs(t_series) / 1e6, secs(c_series),
           (double)samples / secs(c_series) / 1e6);
    printf("one series (%zu samples) x %zu: wall %.1f M samples/s; cpu %.1f M samples/s\n", bs[one].n, reps,
           (double)(reps * bs[one].n) / secs(t_one) / 1e6, (double)(reps * bs[one].n) / secs(c_one) / 1e6);
    printf("all blocks (table_scan + table_block_decode): wall %.3f s = %.1f M samples/s; cpu %.3f s = %.1f M samples/s\n",
           secs(t_blocks), (double)samples / secs(t_blocks) / 1e6, secs(c_blocks),
           (double)samples / secs(c_blocks) / 1e6);
    printf("table_bytes_read counted: %llu\n", (unsigned long long)atomic_load(&st.bytes_read));
    free(dts);
    free(dv);
    table_unref(t);
    free(path);
    test_rmtree(dir);
    free(dir);
    bench_series_free(bs, ns);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_bulk_node_like_round_trips_and_is_timed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
