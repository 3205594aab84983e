/*
 * db_series_scale.c: many series (100k here, a million in
 * db_series_scale_long.c; STRATA_SCALE_SERIES overrides): every series is
 * created once, found again by its labels, selected by a matcher, counted
 * after reopen (index load + WAL replay) and after a flush; the head memory
 * per series and per sample and the process RSS are printed.
 */
#include <time.h>

#include "db_testlib.h"

#ifndef SCALE_DEFAULT_SERIES
#define SCALE_DEFAULT_SERIES 100000
#endif

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static void labels_of(uint64_t i, char *host, char *id, char *grp)
{
    snprintf(host, 32, "host_%" PRIu64, i / 100);
    snprintf(id, 32, "%" PRIu64, i);
    snprintf(grp, 32, "%" PRIu64, i % 10);
}

/* Counts series and samples the matchers select over all time. */
static void count(strata_db *db, const strata_matcher *m, size_t nm, uint64_t *series, uint64_t *samples)
{
    strata_cursor *c;
    assert_int_equal(strata_select(db, m, nm, INT64_MIN, INT64_MAX, &c), STRATA_OK);
    *series = *samples = 0;
    strata_sid sid;
    const strata_label *l;
    size_t nl, n;
    const int64_t *t;
    const double *v;
    int rc;
    while ((rc = strata_cursor_next_series(c, &sid, &l, &nl)) == 1) {
        (*series)++;
        while ((rc = strata_cursor_next_samples(c, &t, &v, &n)) == 1)
            *samples += n;
        assert_int_equal(rc, 0);
    }
    assert_int_equal(rc, 0);
    strata_cursor_close(c);
}

static void many_series_are_created_found_and_survive_reopen(void **state)
{
    (void)state;
    const char *e = getenv("STRATA_SCALE_SERIES");
    uint64_t n = e && *e ? strtoull(e, NULL, 10) : SCALE_DEFAULT_SERIES;
    char *dir = test_tmpdir("db_scale");
    strata_options o;
    dbt_options(&o, dir);
    o.head_budget_bytes = 4ull << 30; /* keep everything in the head for the memory figures */
    long rss0 = rss_kb();
    strata_db *db = dbt_open_ok(&o);
    const int64_t T = 1700000000000LL;
    enum { BATCH = 10000 };
    strata_sample *b = calloc(BATCH, sizeof *b);
    strata_sid *sids = calloc(n, sizeof *sids);
    assert_non_null(b);
    assert_non_null(sids);
    double t0 = now_s();
    char host[32], id[32], grp[32];
    size_t nb = 0;
    for (uint64_t i = 0; i < n; i++) {
        labels_of(i, host, id, grp);
        strata_label l[] = {{"__name__", "scale"}, {"host", host}, {"id", id}, {"g", grp}};
        int created = 0;
        int rc = strata_series_get_or_create(db, l, 4, &sids[i], &created);
        if (rc || !created)
            fail_msg("series %" PRIu64 ": %s, created %d", i, strata_strerror(rc), created);
        /* two samples per series */
        for (int k = 0; k < 2; k++) {
            b[nb++] = (strata_sample){sids[i], T + k * 15000, (double)i};
            if (nb == BATCH) {
                assert_int_equal(strata_write(db, b, nb), STRATA_OK);
                nb = 0;
            }
        }
    }
    if (nb)
        assert_int_equal(strata_write(db, b, nb), STRATA_OK);
    double t1 = now_s();
    strata_stats st;
    assert_int_equal(strata_get_stats(db, &st, sizeof st), STRATA_OK);
    long rss1 = rss_kb();
    assert_int_equal(st.series, n);
    assert_int_equal(st.head_samples, 2 * n);
    fprintf(stderr, "%" PRIu64 " series, %" PRIu64 " samples written in %.2f s; head %" PRIu64 " bytes: %.1f bytes/series, "
            "%.1f bytes/sample; RSS +%.1f MB (%.0f bytes/series)\n", n, 2 * n, t1 - t0, st.head_bytes,
            (double)st.head_bytes / (double)n, (double)st.head_bytes / (double)(2 * n), (double)(rss1 - rss0) / 1024,
            (double)(rss1 - rss0) * 1024 / (double)n);
    /* every series found again by its labels, in another order */
    for (uint64_t i = 0; i < n; i += 7) {
        labels_of(i, host, id, grp);
        strata_label l[] = {{"g", grp}, {"id", id}, {"host", host}, {"__name__", "scale"}};
        strata_sid sid;
        int created = -1;
        assert_int_equal(strata_series_get_or_create(db, l, 4, &sid, &created), STRATA_OK);
        assert_int_equal(created, 0);
        assert_int_equal(sid, sids[i]);
    }
    /* a matcher selecting 10% */
    strata_matcher m[] = {{STRATA_MATCH_EQ, "__name__", "scale"}, {STRATA_MATCH_EQ, "g", "3"}};
    uint64_t ns, nsamp;
    double t2 = now_s();
    count(db, m, 2, &ns, &nsamp);
    double t3 = now_s();
    assert_int_equal(ns, n / 10 + (n % 10 > 3));
    assert_int_equal(nsamp, 2 * ns);
    fprintf(stderr, "select 10%%: %" PRIu64 " series in %.3f s\n", ns, t3 - t2);
    assert_int_equal(strata_close(db), STRATA_OK);

    /* reopen: index load + WAL replay */
    double t4 = now_s();
    db = dbt_open_ok(&o);
    double t5 = now_s();
    assert_int_equal(strata_get_stats(db, &st, sizeof st), STRATA_OK);
    assert_int_equal(st.series, n);
    assert_int_equal(st.head_samples, 2 * n);
    strata_matcher all = {STRATA_MATCH_EQ, "__name__", "scale"};
    count(db, &all, 1, &ns, &nsamp);
    assert_int_equal(ns, n);
    assert_int_equal(nsamp, 2 * n);
    fprintf(stderr, "reopen (index load + WAL replay of %" PRIu64 " series, %" PRIu64 " samples): %.2f s\n", n, 2 * n,
            t5 - t4);
    double t6 = now_s();
    assert_int_equal(strata_flush(db), STRATA_OK);
    double t7 = now_s();
    count(db, m, 2, &ns, &nsamp);
    assert_int_equal(ns, n / 10 + (n % 10 > 3));
    assert_int_equal(nsamp, 2 * ns);
    assert_int_equal(strata_close(db), STRATA_OK);
    double t8 = now_s();
    db = dbt_open_ok(&o);
    double t9 = now_s();
    count(db, &all, 1, &ns, &nsamp);
    assert_int_equal(ns, n);
    assert_int_equal(nsamp, 2 * n);
    fprintf(stderr, "flush: %.2f s; reopen with everything in tables: %.2f s\n", t7 - t6, t9 - t8);
    assert_int_equal(strata_close(db), STRATA_OK);
    free(b);
    free(sids);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(many_series_are_created_found_and_survive_reopen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
