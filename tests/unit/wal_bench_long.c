/* WAL benchmark (label `long`): append throughput of 1000-sample batches
 * under the three sync policies, and replay speed with samples decoded.
 * Prints MB/s and samples/s; asserts only that every sample comes back.
 *   STRATA_WAL_BENCH_SAMPLES=20000000 ./build/test_wal_bench_long
 * (default 5,000,000 samples; TMPDIR chooses the disk). */
#include <math.h>

#include "wal_testlib.h"

#define BATCH 1000

typedef struct rcount {
    uint64_t samples;
    strata_sample *buf;
    size_t cap;
    double sum; /* keeps the decode from being optimised away */
} rcount;

static int decode_cb(void *ctx, uint8_t type, const uint8_t *p, size_t len, wal_pos end)
{
    (void)end;
    rcount *r = ctx;
    if (type != WAL_REC_SAMPLES)
        return STRATA_ERR_CORRUPT;
    size_t n;
    int rc = wal_samples_decode(p, len, &r->buf, &r->cap, &n);
    if (rc)
        return rc;
    r->samples += n;
    r->sum += r->buf[n - 1].value;
    return STRATA_OK;
}

/* devops-cpu shape: 100 hosts x 10 fields per tick, a random walk each. */
static void make_batch(test_rng *r, strata_sample *s, double *walk, int64_t t)
{
    for (size_t i = 0; i < BATCH; i++) {
        walk[i] += test_rng_double(r) - 0.5;
        if (walk[i] < 0)
            walk[i] = 0;
        if (walk[i] > 100)
            walk[i] = 100;
        s[i] = (strata_sample){1 + i, t, walk[i]};
    }
}

static double secs(uint64_t a, uint64_t b) { return (double)(b - a) / 1e9; }

static void run(const char *name, strata_sync sync, uint64_t total, int replay)
{
    char *dir = test_tmpdir("wal-bench");
    test_rng r;
    test_rng_init(&r, 77);
    strata_sample s[BATCH];
    double walk[BATCH];
    for (size_t i = 0; i < BATCH; i++)
        walk[i] = test_rng_double(&r) * 100;
    wal_opts o = test_wal_opts(dir, sync, 0, 0);
    wal *w = test_open_replay(&o, (wal_pos){0, 0}, NULL, NULL);
    bbuf rec = {0};
    uint64_t batches = total / BATCH, bytes = 0, enc_ns = 0;
    uint64_t t0 = base_mono_ns();
    for (uint64_t b = 0; b < batches; b++) {
        make_batch(&r, s, walk, 1704110400000 + (int64_t)b * 10000);
        uint64_t e0 = base_mono_ns();
        base_buf_reset(&rec);
        assert_int_equal(wal_samples_encode(&rec, s, BATCH), STRATA_OK);
        enc_ns += base_mono_ns() - e0;
        assert_int_equal(wal_append(w, WAL_REC_SAMPLES, rec.data, rec.len, NULL), STRATA_OK);
        bytes += rec.len;
    }
    assert_int_equal(wal_close(w), STRATA_OK); /* includes the final fsync */
    uint64_t t1 = base_mono_ns();
    double sec = secs(t0, t1);
    print_message("append %-8s %8llu samples %7.1f MB %6.2f s: %7.1f MB/s %6.2f M samples/s "
                  "(%.2f bytes/sample; encode alone %.1f M samples/s)\n",
                  name, (unsigned long long)(batches * BATCH), bytes / 1e6, sec, bytes / 1e6 / sec,
                  batches * BATCH / 1e6 / sec, (double)bytes / (double)(batches * BATCH),
                  batches * BATCH / 1e6 / ((double)enc_ns / 1e9));
    if (replay) {
        for (int pass = 0; pass < 2; pass++) {
            rcount rc = {0};
            wal_replay_stats st;
            assert_int_equal(wal_open(&o, &w), STRATA_OK);
            uint64_t r0 = base_mono_ns();
            assert_int_equal(wal_replay(w, (wal_pos){0, 0}, decode_cb, &rc, &st), STRATA_OK);
            uint64_t r1 = base_mono_ns();
            assert_int_equal(wal_close(w), STRATA_OK);
            assert_int_equal(rc.samples, batches * BATCH);
            assert_int_equal(st.corruptions, 0);
            print_message("replay  pass %d   %8llu samples %6.2f s: %7.1f MB/s %6.2f M samples/s (read, CRC, decode)\n",
                          pass, (unsigned long long)rc.samples, secs(r0, r1), bytes / 1e6 / secs(r0, r1),
                          rc.samples / 1e6 / secs(r0, r1));
            assert_false(isnan(rc.sum));
            base_free(rc.buf);
        }
    }
    base_buf_free(&rec);
    test_rmtree(dir);
    free(dir);
}

static void wal_bench_append_and_replay(void **state)
{
    (void)state;
    const char *env = getenv("STRATA_WAL_BENCH_SAMPLES");
    uint64_t total = env ? strtoull(env, NULL, 10) : 5000000;
    if (total < BATCH)
        total = BATCH;
    run("none", STRATA_SYNC_NONE, total, 1);
    run("interval", STRATA_SYNC_INTERVAL, total, 0);
    /* Every append waits for an fsync: a single writer measures fsync latency. */
    run("always", STRATA_SYNC_ALWAYS, MIN(total, 300000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wal_bench_append_and_replay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
