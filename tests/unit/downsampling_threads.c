/*
 * downsampling_threads.c: queries see the same answers while rules jobs
 * downsample the data under them. Forty old days of eight series (whole
 * numbers every 5 minutes, so every aggregate is exact) in a database with
 * rules (30d:1h for every series, a retention rule for one that expires
 * nothing) and two background compaction threads; reader threads run
 * count_over_time and sum_over_time over whole days again and again while
 * the main thread runs strata_compact and a writer adds recent samples to
 * other series. Every answer must be the one the raw data gives, before,
 * during and after the jobs. Run under TSan (make test SAN=thread) it also
 * checks the rules cache and the read paths for races. Seed: STRATA_SEED.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "strata.h"
#include "testutil.h"

#define DAY 86400000LL
#define NSER 8
#define DAYS 40
#define STEP (5 * 60000LL)

typedef struct shared {
    strata_db *db;
    int64_t start, end; /* aligned to days */
    uint64_t seed;
    _Atomic int stop;
    _Atomic int failed;
    _Atomic long reads;
    char why[768];
    double want[NSER][DAYS]; /* the day sums, written before the threads start */
} shared;

static double value(uint64_t seed, int k, int64_t t) { return (double)(test_mix(seed ^ (uint64_t)k << 48 ^ (uint64_t)t) % 1000); }

static void *reader(void *arg)
{
    shared *s = arg;
    while (!atomic_load(&s->stop) && !atomic_load(&s->failed)) {
        for (int f = 0; f < 2; f++) {
            const char *q = f ? "sum_over_time(m[1d])" : "count_over_time(m[1d])";
            strata_result *r = NULL;
            strata_query_error e;
            if (strata_query_range(s->db, q, strlen(q), s->start + DAY, s->end, DAY, NULL, &r, &e) != STRATA_OK) {
                snprintf(s->why, sizeof s->why, "%s: %s", q, e.msg);
                atomic_store(&s->failed, 1);
                return NULL;
            }
            size_t ns = strata_result_series_count(r);
            for (size_t i = 0; i < ns; i++) {
                strata_query_series qs;
                strata_result_series(r, i, &qs);
                int k = -1;
                for (size_t l = 0; l < qs.n_labels; l++)
                    if (!strcmp(qs.labels[l].name, "k"))
                        k = atoi(qs.labels[l].value);
                if (k < 0 || qs.n_points != DAYS) {
                    snprintf(s->why, sizeof s->why, "%s: series %d has %zu points", q, k, qs.n_points);
                    atomic_store(&s->failed, 1);
                    break;
                }
                for (size_t p = 0; p < qs.n_points; p++) {
                    double w = f ? s->want[k][p] : (double)(DAY / STEP);
                    if (qs.points[p].value != w) {
                        snprintf(s->why, sizeof s->why, "%s: series %d day %zu: %.17g, want %.17g", q, k, p,
                                 qs.points[p].value, w);
                        atomic_store(&s->failed, 1);
                        break;
                    }
                }
            }
            if (ns != NSER && !atomic_load(&s->failed)) {
                snprintf(s->why, sizeof s->why, "%s: %zu series", q, ns);
                atomic_store(&s->failed, 1);
            }
            strata_result_free(r);
        }
        atomic_fetch_add(&s->reads, 1);
    }
    return NULL;
}

static void *writer(void *arg)
{
    shared *s = arg;
    strata_label l[2] = {{"__name__", "recent"}, {"k", "0"}};
    strata_sid sid;
    if (strata_series_get_or_create(s->db, l, 2, &sid, NULL) != STRATA_OK) {
        atomic_store(&s->failed, 1);
        return NULL;
    }
    int64_t t = s->end + DAY * 30;
    for (int i = 0; i < 200000 && !atomic_load(&s->stop) && !atomic_load(&s->failed); i++) {
        strata_sample x = {sid, t, 1};
        if (strata_write(s->db, &x, 1) != STRATA_OK) {
            snprintf(s->why, sizeof s->why, "write failed");
            atomic_store(&s->failed, 1);
        }
        t += 1000;
    }
    return NULL;
}

static void queries_see_the_same_answers_while_rules_jobs_run(void **state)
{
    (void)state;
    shared s;
    memset(&s, 0, sizeof s);
    s.seed = test_seed(41);
    char *dir = test_tmpdir("ds_threads");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000;
    s.end = (now - 45 * DAY) / DAY * DAY;
    s.start = s.end - DAYS * DAY;
    strata_matcher keep = {STRATA_MATCH_EQ, "k", "3"};
    strata_retention_rule ret = {&keep, 1, 3650 * DAY};
    strata_downsampling_rule ds = {NULL, 0, 30 * DAY, 3600000};
    strata_options o;
    strata_options_init(&o);
    o.dir = dir;
    o.sync = STRATA_SYNC_NONE;
    o.compaction_threads = 2;
    o.retention_rules = &ret;
    o.n_retention_rules = 1;
    o.downsampling_rules = &ds;
    o.n_downsampling_rules = 1;
    assert_int_equal(strata_open(&o, &s.db), STRATA_OK);
    for (int k = 0; k < NSER; k++) {
        char kv[8];
        snprintf(kv, sizeof kv, "%d", k);
        strata_label l[2] = {{"__name__", "m"}, {"k", kv}};
        strata_sid sid;
        assert_int_equal(strata_series_get_or_create(s.db, l, 2, &sid, NULL), STRATA_OK);
        size_t n = (size_t)((s.end - s.start) / STEP) + 1, i = 0;
        strata_sample *b = malloc(n * sizeof *b);
        for (int64_t t = s.start; t <= s.end; t += STEP)
            b[i++] = (strata_sample){sid, t, value(s.seed, k, t)};
        assert_int_equal(strata_write(s.db, b, i), STRATA_OK);
        free(b);
    }
    for (int k = 0; k < NSER; k++)
        for (int d = 0; d < DAYS; d++) {
            double sum = 0;
            for (int64_t t = s.start + d * DAY + STEP; t <= s.start + (d + 1) * DAY; t += STEP)
                sum += value(s.seed, k, t);
            s.want[k][d] = sum;
        }
    pthread_t rd[2], wr;
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&rd[i], NULL, reader, &s), 0);
    assert_int_equal(pthread_create(&wr, NULL, writer, &s), 0);
    /* flush and downsample under the readers, then read on a while */
    assert_int_equal(strata_flush(s.db), STRATA_OK);
    for (int r = 0; r < 3 && !atomic_load(&s.failed); r++)
        assert_int_equal(strata_compact(s.db, r == 2), STRATA_OK);
    long seen = atomic_load(&s.reads);
    while (atomic_load(&s.reads) < seen + 4 && !atomic_load(&s.failed)) {
        struct timespec nap = {0, 10000000};
        nanosleep(&nap, NULL); /* waiting for reads to happen, not for a state */
    }
    atomic_store(&s.stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(rd[i], NULL);
    pthread_join(wr, NULL);
    strata_stats st;
    assert_int_equal(strata_get_stats(s.db, &st, sizeof st), STRATA_OK);
    printf("%ld reads, %llu compactions\n", atomic_load(&s.reads), (unsigned long long)st.compactions);
    if (atomic_load(&s.failed))
        fail_msg("%s", s.why);
    assert_true(st.compactions > 0);
    assert_int_equal(strata_close(s.db), STRATA_OK);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(queries_see_the_same_answers_while_rules_jobs_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
