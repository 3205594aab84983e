/*
 * downsampling_model.c: downsampled data answers as the raw data does.
 *
 * Random series (counters with resets, gauges with NaN) over half a year
 * of simulated time (timestamps in the past: a rule's age is measured
 * from now), written in random order into two databases: one with random
 * downsampling rules (a group for {env="dev"} and one for every other
 * series, two ages each), one without rules, the model. After the rules
 * jobs have run, every range function that answers from aggregates
 * (count, sum, avg, min, max, last, first _over_time; rate, increase,
 * delta), over windows of whole intervals (1 d and 6 h, at steps equal to
 * the window), gives through strata_query_range what the model gives:
 * exactly for count, min, max, last, first, within 1e-9 relative for
 * sums, averages and rates (the sums add per interval, then across). So
 * nothing is lost or counted twice at partition, rule and raw/downsampled
 * boundaries.
 *
 * Then late writes into downsampled gauge data (timestamps between the
 * stored ones): the answers still equal the model's before the next
 * compaction (reads fold the raw samples into the rows) and after it (the
 * rules job rolls them up). max_source_resolution 0 reads raw data only.
 * Seed: STRATA_SEED.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "strata.h"
#include "testutil.h"

#define DAY (86400000LL)
#define HOUR (3600000LL)
#define MIN_MS (60000LL)
#define NSER 4
#define DAYS 200
#define SCRAPE (5 * MIN_MS)

typedef struct ser {
    char name[8];
    bool counter, dev;
    strata_sid sid_ds, sid_raw;
} ser;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static strata_db *open_db(const char *dir, const strata_downsampling_rule *rules, size_t n)
{
    strata_options o;
    strata_options_init(&o);
    o.dir = dir;
    o.sync = STRATA_SYNC_NONE;
    o.compaction_threads = 0;
    o.downsampling_rules = rules;
    o.n_downsampling_rules = n;
    strata_db *db = NULL;
    int rc = strata_open(&o, &db);
    if (rc)
        fprintf(stderr, "open: %s: %s\n", strata_strerror(rc), strata_errmsg());
    assert_int_equal(rc, STRATA_OK);
    return db;
}

static void make_series(strata_db *db, ser *s, strata_sid *sid)
{
    strata_label l[3] = {{"__name__", "m"}, {"s", s->name}, {"env", s->dev ? "dev" : "prod"}};
    assert_int_equal(strata_series_get_or_create(db, l, 3, sid, NULL), STRATA_OK);
}

static double value_at(const ser *s, test_rng *r, double prev)
{
    if (s->counter) {
        if (test_rng_below(r, 500) == 0)
            return (double)test_rng_below(r, 10); /* reset */
        return prev + (double)test_rng_below(r, 1000) / 4;
    }
    if (test_rng_below(r, 997) == 0)
        return NAN;
    double x = (isnan(prev) ? 0 : prev) + ((double)test_rng_below(r, 2001) - 1000) / 100;
    return round(x * 100) / 100;
}

static bool close_enough(double a, double b, bool exact)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    if (exact || a == b)
        return a == b;
    double d = fabs(a - b), m = fmax(fabs(a), fabs(b));
    return d <= 1e-9 * m || d < 1e-9;
}

/* Compares fn(m{s=name}[w]) at steps of w over [start, end] in both
 * databases; returns the number of points compared. */
static size_t compare(strata_db *ds, strata_db *raw, const char *fn, const ser *s, int64_t w, int64_t start,
                      int64_t end, int64_t max_src)
{
    char q[160];
    snprintf(q, sizeof q, "%s(m{s=\"%s\"}[%llds])", fn, s->name, (long long)(w / 1000));
    strata_query_options o;
    strata_query_options_init(&o);
    o.max_source_resolution_ms = max_src;
    strata_result *a = NULL, *b = NULL;
    strata_query_error err;
    int rc = strata_query_range(ds, q, strlen(q), start, end, w, &o, &a, &err);
    if (rc)
        fprintf(stderr, "%s: %s\n", q, err.msg);
    assert_int_equal(rc, STRATA_OK);
    assert_int_equal(strata_query_range(raw, q, strlen(q), start, end, w, NULL, &b, &err), STRATA_OK);
    strata_query_series sa = {0}, sb = {0};
    size_t na = strata_result_series_count(a), nb = strata_result_series_count(b);
    if (na)
        strata_result_series(a, 0, &sa);
    if (nb)
        strata_result_series(b, 0, &sb);
    bool exact = !strcmp(fn, "count_over_time") || !strcmp(fn, "min_over_time") || !strcmp(fn, "max_over_time") ||
                 !strcmp(fn, "last_over_time") || !strcmp(fn, "first_over_time");
    size_t i = 0, j = 0, n = 0;
    while (i < sa.n_points || j < sb.n_points) {
        if (j == sb.n_points || (i < sa.n_points && sa.points[i].t_ms < sb.points[j].t_ms)) {
            fprintf(stderr, "%s at %lld: only the downsampled database answers (%.17g)\n", q,
                    (long long)sa.points[i].t_ms, sa.points[i].value);
            fail();
        }
        if (i == sa.n_points || sb.points[j].t_ms < sa.points[i].t_ms) {
            if (max_src == 0) { /* raw data only: the downsampled windows are missing */
                j++;
                continue;
            }
            fprintf(stderr, "%s at %lld: only the model answers (%.17g)\n", q, (long long)sb.points[j].t_ms,
                    sb.points[j].value);
            fail();
        }
        if (!close_enough(sa.points[i].value, sb.points[j].value, exact)) {
            fprintf(stderr, "%s at %lld (%.1f days ago): %.17g, the model %.17g\n", q, (long long)sa.points[i].t_ms,
                    (double)(now_ms() - sa.points[i].t_ms) / DAY, sa.points[i].value, sb.points[j].value);
            fail();
        }
        i++;
        j++;
        n++;
    }
    strata_result_free(a);
    strata_result_free(b);
    return n;
}

static const char *fns[] = {"count_over_time", "sum_over_time", "avg_over_time", "min_over_time", "max_over_time",
                            "last_over_time", "first_over_time", "rate", "increase", "delta"};

static size_t compare_all(strata_db *ds, strata_db *raw, const ser *s, int64_t start, int64_t end, bool gauges_late)
{
    size_t n = 0;
    int64_t windows[2] = {DAY, 6 * HOUR};
    for (size_t w = 0; w < 2; w++)
        for (size_t f = 0; f < sizeof fns / sizeof fns[0]; f++) {
            bool rate_like = !strcmp(fns[f], "rate") || !strcmp(fns[f], "increase");
            if (gauges_late && rate_like && !s->counter)
                continue; /* interleaved late samples: resets are estimated (rollup.c) */
            int64_t a = (start / windows[w] + 1) * windows[w];
            n += compare(ds, raw, fns[f], s, windows[w], a, end, -1);
        }
    return n;
}

static uint64_t table_bytes(strata_db *db)
{
    strata_stats st;
    assert_int_equal(strata_get_stats(db, &st, sizeof st), STRATA_OK);
    return st.table_bytes;
}

static void test_downsampled_answers_equal_raw(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(14));
    /* rules: two ages per group, resolutions that divide each other and a day */
    static const int64_t res1[] = {15 * MIN_MS, 30 * MIN_MS}, res2[] = {2 * HOUR, 6 * HOUR};
    int64_t age1 = (10 + (int64_t)test_rng_below(&r, 30)) * DAY, age2 = (60 + (int64_t)test_rng_below(&r, 60)) * DAY;
    int64_t r1 = res1[test_rng_below(&r, 2)], r2 = res2[test_rng_below(&r, 2)];
    int64_t dev_age = (3 + (int64_t)test_rng_below(&r, 10)) * DAY;
    strata_matcher dev = {STRATA_MATCH_EQ, "env", "dev"};
    strata_downsampling_rule rules[3] = {
        {NULL, 0, age1, r1}, {NULL, 0, age2, r2}, {&dev, 1, dev_age, HOUR}};
    printf("rules %llds:%llds, %llds:%llds, {env=\"dev\"}:%llds:1h\n", (long long)(age1 / 1000),
           (long long)(r1 / 1000), (long long)(age2 / 1000), (long long)(r2 / 1000), (long long)(dev_age / 1000));
    char *d1 = test_tmpdir("ds_model"), *d2 = test_tmpdir("ds_model_raw");
    strata_db *ds = open_db(d1, rules, 3), *raw = open_db(d2, NULL, 0);
    ser s[NSER] = {{"c0", true, false, 0, 0}, {"c1", true, true, 0, 0}, {"g0", false, false, 0, 0},
                   {"g1", false, true, 0, 0}};
    for (int k = 0; k < NSER; k++) {
        make_series(ds, &s[k], &s[k].sid_ds);
        make_series(raw, &s[k], &s[k].sid_raw);
    }
    int64_t now = now_ms(), end = now / DAY * DAY - 2 * HOUR, start = end - DAYS * DAY;
    /* every day's samples of every series, written day by day in random order */
    int order[DAYS];
    for (int i = 0; i < DAYS; i++)
        order[i] = i;
    for (int i = DAYS - 1; i > 0; i--) {
        int j = (int)test_rng_below(&r, (uint64_t)i + 1), x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    size_t per_day = (size_t)(DAY / SCRAPE);
    strata_sample *b1 = malloc(per_day * sizeof *b1), *b2 = malloc(per_day * sizeof *b2);
    double *last = calloc((size_t)NSER * DAYS, sizeof *last);
    for (int k = 0; k < NSER; k++) {
        double prev = 0;
        for (int dd = 0; dd < DAYS; dd++) { /* values in time order, so counters count up */
            test_rng vr;
            test_rng_init(&vr, test_mix((uint64_t)k * 1000 + (uint64_t)dd) ^ r.s[0]);
            for (size_t i = 0; i < per_day; i++)
                prev = value_at(&s[k], &vr, prev);
            last[k * DAYS + dd] = prev;
        }
    }
    for (int oi = 0; oi < DAYS; oi++) {
        int dd = order[oi];
        for (int k = 0; k < NSER; k++) {
            test_rng vr;
            test_rng_init(&vr, test_mix((uint64_t)k * 1000 + (uint64_t)dd) ^ r.s[0]);
            double prev = dd ? last[k * DAYS + dd - 1] : 0;
            for (size_t i = 0; i < per_day; i++) {
                int64_t t = start + dd * DAY + (int64_t)i * SCRAPE +
                            (int64_t)(test_mix((uint64_t)k << 40 ^ (uint64_t)dd << 20 ^ i) % 3000);
                prev = value_at(&s[k], &vr, prev);
                b1[i] = (strata_sample){s[k].sid_ds, t, prev};
                b2[i] = (strata_sample){s[k].sid_raw, t, prev};
            }
            assert_int_equal(strata_write(ds, b1, per_day), STRATA_OK);
            assert_int_equal(strata_write(raw, b2, per_day), STRATA_OK);
        }
    }
    assert_int_equal(strata_flush(ds), STRATA_OK);
    assert_int_equal(strata_flush(raw), STRATA_OK);
    assert_int_equal(strata_compact(ds, 0), STRATA_OK);
    assert_int_equal(strata_compact(raw, 0), STRATA_OK);
    uint64_t bd = table_bytes(ds), br = table_bytes(raw);
    printf("tables: downsampled %llu bytes, raw %llu bytes\n", (unsigned long long)bd, (unsigned long long)br);
    assert_true(bd < br);
    /* the old data is rows now: of r2 beyond age2 (whole partitions) */
    strata_matcher mc = {STRATA_MATCH_EQ, "s", "c0"};
    strata_selector sel = {&mc, 1, 0};
    strata_read_options ro;
    strata_read_options_init(&ro);
    ro.agg_resolution_ms = DAY;
    strata_cursor *cur;
    int64_t old_end = (now - age2) / DAY * DAY - DAY - 1;
    assert_int_equal(strata_select_ex(ds, &sel, 1, start, old_end, 0, &ro, &cur), STRATA_OK);
    strata_sid sid;
    const strata_label *lab;
    size_t nl, nr = 0;
    const strata_agg *rows;
    assert_int_equal(strata_cursor_next_series(cur, &sid, &lab, &nl), 1);
    assert_int_equal(strata_cursor_next_aggs(cur, &rows, &nr), 1);
    double cnt = 0;
    for (size_t i = 0; i < nr; i++) {
        assert_true(i == 0 || rows[i].t_last / r2 > rows[i - 1].t_last / r2 - (rows[i - 1].t_last % r2 == 0));
        cnt += rows[i].count;
    }
    printf("c0 beyond %lld days: %zu rows for %.0f samples\n", (long long)(age2 / DAY), nr, cnt);
    assert_true(nr > 0 && (double)nr * (double)(r2 / SCRAPE) <= cnt + (double)(r2 / SCRAPE));
    strata_cursor_close(cur);

    size_t n = 0;
    for (int k = 0; k < NSER; k++)
        n += compare_all(ds, raw, &s[k], start, end, false);
    printf("after the rules jobs: %zu points equal\n", n);

    /* a plain selector at a 1 h step sees a value at every step, a
     * downsampled interval's last sample standing for the interval's width
     * beyond the lookback */
    for (int k = 0; k < NSER; k++) {
        char q[160];
        snprintf(q, sizeof q, "m{s=\"%.8s\"}", s[k].name);
        strata_result *a = NULL, *b = NULL;
        strata_query_error err;
        int64_t a0 = (start / HOUR + 2) * HOUR;
        assert_int_equal(strata_query_range(ds, q, strlen(q), a0, end, HOUR, NULL, &a, &err), STRATA_OK);
        assert_int_equal(strata_query_range(raw, q, strlen(q), a0, end, HOUR, NULL, &b, &err), STRATA_OK);
        strata_query_series sa, sb;
        strata_result_series(a, 0, &sa);
        strata_result_series(b, 0, &sb);
        printf("%s at 1 h steps: %zu points downsampled, %zu raw\n", q, sa.n_points, sb.n_points);
        /* no fewer (the raw data misses a step where jitter left more than
         * the 5 m lookback between two samples; an interval does not) */
        assert_true(sa.n_points >= sb.n_points && sa.n_points + 8 >= (size_t)((end - a0) / HOUR + 1));
        strata_result_free(a);
        strata_result_free(b);
    }

    /* raw data only: no window older than the youngest rule's age answers */
    for (int k = 0; k < NSER; k++)
        compare(ds, raw, "count_over_time", &s[k], DAY, (start / DAY + 1) * DAY, end, 0);

    /* late writes between stored gauge samples of downsampled days */
    for (int rep = 0; rep < 20; rep++) {
        int k = 2 + (int)test_rng_below(&r, 2);
        int dd = (int)test_rng_below(&r, DAYS / 2);
        size_t m = 1 + test_rng_below(&r, 50);
        for (size_t i = 0; i < m; i++) {
            int64_t t = start + dd * DAY + (int64_t)test_rng_below(&r, (uint64_t)(DAY / SCRAPE)) * SCRAPE + 3001 +
                        (int64_t)test_rng_below(&r, 60000);
            double v = (double)test_rng_below(&r, 10000) / 100;
            b1[0] = (strata_sample){s[k].sid_ds, t, v};
            b2[0] = (strata_sample){s[k].sid_raw, t, v};
            assert_int_equal(strata_write(ds, b1, 1), STRATA_OK);
            assert_int_equal(strata_write(raw, b2, 1), STRATA_OK);
        }
    }
    n = 0;
    for (int k = 0; k < NSER; k++)
        n += compare_all(ds, raw, &s[k], start, end, true);
    printf("late writes, read before compaction: %zu points equal\n", n);
    assert_int_equal(strata_flush(ds), STRATA_OK);
    assert_int_equal(strata_flush(raw), STRATA_OK);
    n = 0;
    for (int k = 0; k < NSER; k++)
        n += compare_all(ds, raw, &s[k], start, end, true);
    printf("late writes flushed: %zu points equal\n", n);
    assert_int_equal(strata_compact(ds, 0), STRATA_OK);
    n = 0;
    for (int k = 0; k < NSER; k++)
        n += compare_all(ds, raw, &s[k], start, end, true);
    printf("late writes rolled up: %zu points equal\n", n);

    /* and after a restart */
    assert_int_equal(strata_close(ds), STRATA_OK);
    ds = open_db(d1, rules, 3);
    n = 0;
    for (int k = 0; k < NSER; k++)
        n += compare_all(ds, raw, &s[k], start, end, true);
    printf("after reopening: %zu points equal\n", n);
    free(b1);
    free(b2);
    free(last);
    assert_int_equal(strata_close(ds), STRATA_OK);
    assert_int_equal(strata_close(raw), STRATA_OK);
    test_rmtree(d1);
    test_rmtree(d2);
    free(d1);
    free(d2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_downsampled_answers_equal_raw),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
