/*
 * bench_engine.c: `strata bench ingest` and `strata bench query`: the
 * engine through its public API on the generated data sets.
 *
 * ingest: series created first, then samples written time-major (every
 * series' sample of one tick, as scrapes arrive) in batches, by 1 and by 2
 * threads (each owning half of the series); reports samples/s, head memory
 * per sample and per series, and the time to reopen (index load plus WAL
 * replay of the full head).
 * query: after a flush, one series over its whole range, and a matcher
 * selecting about 10% of the series over everything, in samples/s.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gen.h"
#include "util.h"
#include "strata.h"

typedef struct ingest_job {
    strata_db *db;
    bench_series *s;
    strata_sid *sids;
    size_t from, to; /* series range */
    size_t ticks;
    int rc;
} ingest_job;

static void *ingest_thread(void *p)
{
    ingest_job *j = p;
    size_t per = j->to - j->from, cap = 10000;
    strata_sample *b = malloc(cap * sizeof *b);
    if (!b) {
        j->rc = STRATA_ERR_NOMEM;
        return NULL;
    }
    size_t n = 0;
    for (size_t k = 0; k < j->ticks && !j->rc; k++) {
        for (size_t i = j->from; i < j->to; i++) {
            if (k >= j->s[i].n)
                continue;
            b[n++] = (strata_sample){j->sids[i], j->s[i].t[k], j->s[i].v[k]};
            if (n == cap) {
                j->rc = strata_write(j->db, b, n);
                n = 0;
            }
        }
    }
    if (!j->rc && n)
        j->rc = strata_write(j->db, b, n);
    (void)per;
    free(b);
    return NULL;
}

typedef struct opts {
    const char *dataset;
    int hosts, hours, threads; /* threads 0: 1 and 2 */
    uint64_t seed;
    bool json;
    const char *dir;
    strata_sync sync;
} opts;

static int open_db(const char *dir, strata_sync sync, int compaction_threads, strata_db **db)
{
    strata_options o;
    strata_options_init(&o);
    o.dir = dir;
    o.sync = sync;
    o.compaction_threads = compaction_threads;
    o.head_budget_bytes = 4ull << 30; /* the whole set stays in the head */
    return strata_open(&o, db);
}

static int create_series(strata_db *db, bench_series *s, size_t n, strata_sid *sids)
{
    strata_label lab[32];
    for (size_t i = 0; i < n; i++) {
        size_t nl = 0;
        lab[nl++] = (strata_label){"__name__", s[i].name};
        for (size_t k = 0; k < s[i].nlabels && nl < 32; k++)
            lab[nl++] = (strata_label){s[i].labels[2 * k], s[i].labels[2 * k + 1]};
        int rc = strata_series_get_or_create(db, lab, nl, &sids[i], NULL);
        if (rc)
            return rc;
    }
    return STRATA_OK;
}

static int run_ingest(const opts *o, const char *ds, int threads)
{
    bench_series *s;
    size_t n;
    int rc = bench_gen(ds, o->seed, o->hosts, o->hours, &s, &n);
    if (rc)
        return rc;
    uint64_t total = 0;
    size_t ticks = 0;
    for (size_t i = 0; i < n; i++) {
        total += s[i].n;
        if (s[i].n > ticks)
            ticks = s[i].n;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/ingest-%s-%d", o->dir, ds, threads);
    bench_rm_rf(dir);
    strata_db *db;
    strata_sid *sids = calloc(n, sizeof *sids);
    if (!sids || (rc = open_db(dir, o->sync, 0, &db)) != 0)
        goto out;
    double t0 = bench_now_s();
    if ((rc = create_series(db, s, n, sids)) != 0)
        goto out_close;
    double t1 = bench_now_s();
    ingest_job jobs[2];
    pthread_t th[2];
    for (int k = 0; k < threads; k++) {
        jobs[k] = (ingest_job){db, s, sids, n * (size_t)k / (size_t)threads, n * (size_t)(k + 1) / (size_t)threads,
                               ticks, 0};
        if (pthread_create(&th[k], NULL, ingest_thread, &jobs[k]) != 0) {
            rc = STRATA_ERR_NOMEM;
            threads = k;
            break;
        }
    }
    for (int k = 0; k < threads; k++) {
        pthread_join(th[k], NULL);
        if (jobs[k].rc && !rc)
            rc = jobs[k].rc;
    }
    double t2 = bench_now_s();
    strata_stats st;
    int rc_st = strata_get_stats(db, &st, sizeof st);
    if (!rc && rc_st)
        rc = rc_st;
    double rate = (double)total / (t2 - t1);
    int rc2 = strata_close(db);
    if (!rc)
        rc = rc2;
    double t3 = bench_now_s();
    rc2 = open_db(dir, o->sync, 0, &db);
    double t4 = bench_now_s();
    if (!rc)
        rc = rc2;
    if (!rc2)
        strata_close(db);
    if (rc)
        goto out;
    const char *sync = o->sync == STRATA_SYNC_ALWAYS ? "always" : o->sync == STRATA_SYNC_NONE ? "none" : "interval";
    if (o->json)
        printf("{\"bench\":\"ingest\",\"dataset\":\"%s\",\"threads\":%d,\"sync\":\"%s\",\"series\":%zu,\"samples\":%llu,"
               "\"samples_per_s\":%.0f,\"series_create_per_s\":%.0f,\"head_bytes\":%llu,"
               "\"head_bytes_per_sample\":%.3f,\"head_bytes_per_series\":%.1f,\"open_s\":%.3f}\n",
               ds, threads, sync, n, (unsigned long long)total, rate, (double)n / (t1 - t0),
               (unsigned long long)st.head_bytes, (double)st.head_bytes / (double)total,
               (double)st.head_bytes / (double)n, t4 - t3);
    else
        printf("%-10s threads=%d sync=%-8s %7zu series %10llu samples  %6.2f M samples/s  head %.2f B/sample "
               "%.0f B/series  reopen %.3f s\n",
               ds, threads, sync, n, (unsigned long long)total, rate / 1e6, (double)st.head_bytes / (double)total,
               (double)st.head_bytes / (double)n, t4 - t3);
    bench_rm_rf(dir);
    goto out;
out_close:
    strata_close(db);
out:
    free(sids);
    bench_series_free(s, n);
    return rc;
}

static int run_query(const opts *o, const char *ds)
{
    bench_series *s;
    size_t n;
    int rc = bench_gen(ds, o->seed, o->hosts, o->hours, &s, &n);
    if (rc)
        return rc;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/query-%s", o->dir, ds);
    bench_rm_rf(dir);
    strata_db *db;
    strata_sid *sids = calloc(n, sizeof *sids);
    if (!sids || (rc = open_db(dir, STRATA_SYNC_NONE, 2, &db)) != 0)
        goto out;
    if ((rc = create_series(db, s, n, sids)) != 0)
        goto out_close;
    size_t ticks = 0;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        ticks = s[i].n > ticks ? s[i].n : ticks;
        total += s[i].n;
    }
    ingest_job j = {db, s, sids, 0, n, ticks, 0};
    ingest_thread(&j);
    if ((rc = j.rc) != 0 || (rc = strata_flush(db)) != 0 || (rc = strata_compact(db, 1)) != 0)
        goto out_close;
    /* one series, whole range, repeated */
    strata_matcher m1[8];
    size_t nm = 0;
    m1[nm++] = (strata_matcher){STRATA_MATCH_EQ, "__name__", s[0].name};
    for (size_t k = 0; k < s[0].nlabels && nm < 8; k++)
        m1[nm++] = (strata_matcher){STRATA_MATCH_EQ, s[0].labels[2 * k], s[0].labels[2 * k + 1]};
    int reps = 200;
    uint64_t got = 0;
    double t0 = bench_now_s();
    for (int r = 0; r < reps && !rc; r++) {
        strata_cursor *c;
        if ((rc = strata_select(db, m1, nm, INT64_MIN, INT64_MAX, &c)) != 0)
            break;
        strata_sid sid;
        const strata_label *l;
        size_t nl, k;
        const int64_t *t;
        const double *v;
        while (strata_cursor_next_series(c, &sid, &l, &nl) == 1)
            while (strata_cursor_next_samples(c, &t, &v, &k) == 1)
                got += k;
        strata_cursor_close(c);
    }
    double t1 = bench_now_s();
    double one_rate = (double)got / (t1 - t0), one_lat = (t1 - t0) / reps * 1e3;
    /* about 10% of the series */
    strata_matcher m2 = !strcmp(ds, "devops-cpu") ? (strata_matcher){STRATA_MATCH_EQ, "__name__", "cpu_usage_user"}
                                                  : (strata_matcher){STRATA_MATCH_RE, "instance", "host-0[01]:9100"};
    uint64_t got2 = 0, series2 = 0;
    double t2 = bench_now_s();
    strata_cursor *c;
    if (!rc && (rc = strata_select(db, &m2, 1, INT64_MIN, INT64_MAX, &c)) == 0) {
        strata_sid sid;
        const strata_label *l;
        size_t nl, k;
        const int64_t *t;
        const double *v;
        while (strata_cursor_next_series(c, &sid, &l, &nl) == 1) {
            series2++;
            while (strata_cursor_next_samples(c, &t, &v, &k) == 1)
                got2 += k;
        }
        strata_cursor_close(c);
    }
    double t3 = bench_now_s();
    if (rc)
        goto out_close;
    if (o->json) {
        printf("{\"bench\":\"query\",\"dataset\":\"%s\",\"query\":\"one_series\",\"samples\":%llu,\"samples_per_s\":%.0f,"
               "\"latency_ms\":%.3f}\n",
               ds, (unsigned long long)(got / (uint64_t)reps), one_rate, one_lat);
        printf("{\"bench\":\"query\",\"dataset\":\"%s\",\"query\":\"ten_percent\",\"series\":%llu,\"series_fraction\":%.3f,"
               "\"samples\":%llu,\"samples_per_s\":%.0f,\"latency_ms\":%.3f}\n",
               ds, (unsigned long long)series2, (double)series2 / (double)n, (unsigned long long)got2,
               (double)got2 / (t3 - t2), (t3 - t2) * 1e3);
    } else {
        printf("%-10s one series over %llu samples: %.3f ms, %.1f M samples/s\n", ds,
               (unsigned long long)(got / (uint64_t)reps), one_lat, one_rate / 1e6);
        printf("%-10s %llu series (%.1f%%), %llu samples: %.1f ms, %.1f M samples/s\n", ds,
               (unsigned long long)series2, 100.0 * (double)series2 / (double)n, (unsigned long long)got2,
               (t3 - t2) * 1e3, (double)got2 / (t3 - t2) / 1e6);
    }
    (void)total;
out_close:
    strata_close(db);
    bench_rm_rf(dir);
out:
    free(sids);
    bench_series_free(s, n);
    return rc;
}

static int parse(int argc, char **argv, opts *o, const char *what)
{
    static const struct option lo[] = {{"dataset", required_argument, NULL, 'D'}, {"hosts", required_argument, NULL, 'H'},
                                       {"hours", required_argument, NULL, 'h'},   {"seed", required_argument, NULL, 's'},
                                       {"threads", required_argument, NULL, 't'}, {"json", no_argument, NULL, 'j'},
                                       {"dir", required_argument, NULL, 'd'},     {"sync", required_argument, NULL, 'S'},
                                       {"help", no_argument, NULL, '?'},          {0, 0, 0, 0}};
    *o = (opts){"all", 0, 24, 0, 1, false, "/tmp", STRATA_SYNC_INTERVAL};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'D': o->dataset = optarg; break;
        case 'H': o->hosts = atoi(optarg); break;
        case 'h': o->hours = atoi(optarg); break;
        case 's': o->seed = strtoull(optarg, NULL, 10); break;
        case 't': o->threads = atoi(optarg); break;
        case 'j': o->json = true; break;
        case 'd': o->dir = optarg; break;
        case 'S':
            o->sync = !strcmp(optarg, "always") ? STRATA_SYNC_ALWAYS : !strcmp(optarg, "none") ? STRATA_SYNC_NONE
                                                                                               : STRATA_SYNC_INTERVAL;
            break;
        default:
            fprintf(stderr,
                    "usage: strata bench %s [--dataset devops-cpu|node-like|all] [--hosts N] [--hours N] [--seed N]\n"
                    "                    [--threads 1|2] [--sync always|interval|none] [--dir TMP] [--json]\n",
                    what);
            return 2;
        }
    }
    return 0;
}

int bench_ingest_main(int argc, char **argv)
{
    opts o;
    int r = parse(argc, argv, &o, "ingest");
    if (r)
        return r;
    const char *sets[] = {"devops-cpu", "node-like"};
    for (int d = 0; d < 2; d++) {
        if (strcmp(o.dataset, "all") && strcmp(o.dataset, sets[d]))
            continue;
        for (int t = 1; t <= 2; t++) {
            if (o.threads && o.threads != t)
                continue;
            int rc = run_ingest(&o, sets[d], t);
            if (rc) {
                fprintf(stderr, "bench ingest: %s\n", strata_strerror(rc));
                return 1;
            }
        }
    }
    return 0;
}

int bench_query_main(int argc, char **argv)
{
    opts o;
    int r = parse(argc, argv, &o, "query");
    if (r)
        return r;
    const char *sets[] = {"devops-cpu", "node-like"};
    for (int d = 0; d < 2; d++) {
        if (strcmp(o.dataset, "all") && strcmp(o.dataset, sets[d]))
            continue;
        int rc = run_query(&o, sets[d]);
        if (rc) {
            fprintf(stderr, "bench query: %s\n", strata_strerror(rc));
            return 1;
        }
    }
    return 0;
}
