/*
 * engine_model: a random sequence of writes (in order, out of order,
 * overwrites, late backfill into old partitions), deletes, flushes,
 * compactions under both planners and reopens; after every step the
 * database's content equals an in-memory model's.
 *
 * Seeds: a fixed list in CI; STRATA_SEED replays one; STRATA_MODEL_STEPS
 * sets the steps per seed (the _long variant runs many more).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata.h"
#include "testutil.h"

#define N_SERIES 8
#define T_RANGE 3000 /* timestamps 0..T_RANGE-1, partitions of 500 ms */

typedef struct model {
    uint64_t v[N_SERIES + 1][T_RANGE];
    uint8_t live[N_SERIES + 1][T_RANGE];
} model;

static uint64_t dbits(double d)
{
    uint64_t b;
    memcpy(&b, &d, 8);
    return b;
}

static double bitsd(uint64_t b)
{
    double d;
    memcpy(&d, &b, 8);
    return d;
}

static void log_to_stderr(void *ctx, int level, const char *msg)
{
    (void)ctx;
    if (level <= STRATA_LOG_WARN)
        fprintf(stderr, "strata: %s\n", msg);
}

typedef struct world {
    char *dir;
    strata_db *db;
    strata_sid sid[N_SERIES + 1];
    model *m;
    test_rng r;
    int planner;
} world;

static void open_db(world *w)
{
    strata_options o;
    strata_options_init(&o);
    o.dir = w->dir;
    o.partition_ms = 500;
    o.compaction_threads = 0; /* compactions only when the test says */
    o.block_samples = 16;
    o.sync = STRATA_SYNC_NONE;
    o.planner = w->planner ? STRATA_PLANNER_LEVELED : STRATA_PLANNER_TIERED;
    o.log_fn = log_to_stderr;
    assert_int_equal(strata_open(&o, &w->db), STRATA_OK);
    for (int s = 1; s <= N_SERIES; s++) {
        char name[16], grp[4];
        snprintf(name, sizeof name, "s%d", s);
        snprintf(grp, sizeof grp, "%d", s % 3);
        strata_label l[] = {{"__name__", "m"}, {"s", name}, {"g", grp}};
        assert_int_equal(strata_series_get_or_create(w->db, l, 3, &w->sid[s], NULL), STRATA_OK);
    }
}

static void check(world *w, int step)
{
    strata_cursor *c;
    assert_int_equal(strata_select(w->db, NULL, 0, INT64_MIN, INT64_MAX, &c), STRATA_OK);
    static uint8_t seen[N_SERIES + 1];
    memset(seen, 0, sizeof seen);
    strata_sid sid;
    const strata_label *l;
    size_t nl;
    int r;
    while ((r = strata_cursor_next_series(c, &sid, &l, &nl)) == 1) {
        int s = 0;
        for (int k = 1; k <= N_SERIES; k++)
            if (w->sid[k] == sid)
                s = k;
        assert_true(s > 0);
        seen[s] = 1;
        const int64_t *t;
        const double *v;
        size_t n;
        int64_t expect = 0;
        while ((r = strata_cursor_next_samples(c, &t, &v, &n)) == 1) {
            for (size_t i = 0; i < n; i++) {
                while (expect < T_RANGE && !w->m->live[s][expect])
                    expect++;
                if (expect != t[i] || dbits(v[i]) != w->m->v[s][expect])
                    fail_msg("step %d series %d: got t=%lld v=%016llx, model t=%lld v=%016llx", step, s,
                             (long long)t[i], (unsigned long long)dbits(v[i]), (long long)expect,
                             expect < T_RANGE ? (unsigned long long)w->m->v[s][expect] : 0ull);
                expect++;
            }
        }
        assert_int_equal(r, 0);
        while (expect < T_RANGE && !w->m->live[s][expect])
            expect++;
        if (expect != T_RANGE)
            fail_msg("step %d series %d: missing t=%lld", step, s, (long long)expect);
    }
    assert_int_equal(r, 0);
    strata_cursor_close(c);
    for (int s = 1; s <= N_SERIES; s++) {
        int any = 0;
        for (int t = 0; t < T_RANGE && !any; t++)
            any = w->m->live[s][t];
        if (any != seen[s])
            fail_msg("step %d series %d: present %d, model %d", step, s, seen[s], any);
    }
}

static uint64_t random_value(test_rng *r)
{
    switch (test_rng_below(r, 6)) {
    case 0: return 0x7ff0000000000002ull; /* stale marker */
    case 1: return test_rng_next(r);     /* any bit pattern, NaN payloads too */
    case 2: return dbits((double)test_rng_below(r, 1000));
    default: return dbits((double)test_rng_below(r, 100000) / 100.0);
    }
}

static void step_write(world *w)
{
    strata_sample b[256];
    size_t n = 0;
    int kind = (int)test_rng_below(&w->r, 4);
    int s = 1 + (int)test_rng_below(&w->r, N_SERIES);
    int64_t t = (int64_t)test_rng_below(&w->r, T_RANGE);
    size_t len = 1 + test_rng_below(&w->r, 200);
    for (size_t i = 0; i < len && n < 256; i++) {
        if (kind == 0) { /* an in-order run of one series */
            if (t >= T_RANGE)
                break;
            b[n++] = (strata_sample){w->sid[s], t, bitsd(random_value(&w->r))};
            t += 1 + (int64_t)test_rng_below(&w->r, 3);
        } else if (kind == 1) { /* random points anywhere: out of order, backfill */
            int ss = 1 + (int)test_rng_below(&w->r, N_SERIES);
            b[n++] = (strata_sample){w->sid[ss], (int64_t)test_rng_below(&w->r, T_RANGE), bitsd(random_value(&w->r))};
        } else if (kind == 2) { /* overwrites of existing points */
            int ss = 1 + (int)test_rng_below(&w->r, N_SERIES);
            int64_t tt = (int64_t)test_rng_below(&w->r, T_RANGE);
            b[n++] = (strata_sample){w->sid[ss], tt, bitsd(random_value(&w->r))};
            if (n < 256) /* and the same point again in one batch: the later wins */
                b[n++] = (strata_sample){w->sid[ss], tt, bitsd(random_value(&w->r))};
        } else { /* a scrape: every series at one time */
            int64_t tt = (int64_t)test_rng_below(&w->r, T_RANGE);
            for (int k = 1; k <= N_SERIES && n < 256; k++)
                b[n++] = (strata_sample){w->sid[k], tt, bitsd(random_value(&w->r))};
            break;
        }
    }
    assert_int_equal(strata_write(w->db, b, n), STRATA_OK);
    for (size_t i = 0; i < n; i++) {
        int ss = 0;
        for (int k = 1; k <= N_SERIES; k++)
            if (w->sid[k] == b[i].sid)
                ss = k;
        w->m->v[ss][b[i].t_ms] = dbits(b[i].value);
        w->m->live[ss][b[i].t_ms] = 1;
    }
}

static void step_delete(world *w)
{
    char grp[4];
    snprintf(grp, sizeof grp, "%d", (int)test_rng_below(&w->r, 3));
    strata_matcher m = {STRATA_MATCH_EQ, "g", grp};
    int64_t a = (int64_t)test_rng_below(&w->r, T_RANGE), b = a + (int64_t)test_rng_below(&w->r, 800);
    int rc = strata_delete(w->db, &m, 1, a, b);
    if (rc)
        fail_msg("delete g=%s [%lld, %lld]: %s", grp, (long long)a, (long long)b, strata_strerror(rc));
    for (int s = 1; s <= N_SERIES; s++) {
        if (s % 3 != grp[0] - '0')
            continue;
        for (int64_t t = a; t <= b && t < T_RANGE; t++)
            w->m->live[s][t] = 0;
    }
}

static void run_seed(uint64_t seed, int steps)
{
    world w = {0};
    w.m = calloc(1, sizeof *w.m);
    assert_non_null(w.m);
    test_rng_init(&w.r, seed);
    w.dir = test_tmpdir("model");
    w.planner = (int)(seed & 1);
    open_db(&w);
    for (int step = 0; step < steps; step++) {
        uint64_t op = test_rng_below(&w.r, 100);
        if (op < 55)
            step_write(&w);
        else if (op < 62)
            step_delete(&w);
        else if (op < 78)
            assert_int_equal(strata_flush(w.db), STRATA_OK);
        else if (op < 90)
            assert_int_equal(strata_compact(w.db, 0), STRATA_OK);
        else if (op < 94)
            assert_int_equal(strata_compact(w.db, 1), STRATA_OK);
        else {
            assert_int_equal(strata_close(w.db), STRATA_OK);
            w.planner = (int)test_rng_below(&w.r, 2);
            open_db(&w);
        }
        check(&w, step);
    }
    strata_stats st;
    assert_int_equal(strata_get_stats(w.db, &st, sizeof st), STRATA_OK);
    fprintf(stderr, "seed %llu: %d steps, %llu flushes, %llu compactions, %llu table files, %llu tombstones\n",
            (unsigned long long)seed, steps, (unsigned long long)st.flushes, (unsigned long long)st.compactions,
            (unsigned long long)st.table_files, (unsigned long long)st.tombstones);
    assert_int_equal(strata_close(w.db), STRATA_OK);
    assert_int_equal(strata_verify_dir(w.dir, NULL, NULL), STRATA_OK);
    test_rmtree(w.dir);
    free(w.dir);
    free(w.m);
}

static void engine_content_equals_model_after_every_step(void **state)
{
    (void)state;
    const char *e = getenv("STRATA_MODEL_STEPS");
    int steps = e ? atoi(e) : 500;
    if (getenv("STRATA_SEED")) {
        run_seed(test_seed(0), steps);
        return;
    }
    static const uint64_t seeds[] = {1, 2, 3, 4, 5, 6};
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        run_seed(seeds[i], steps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(engine_content_equals_model_after_every_step)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
