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
 * promql: range queries at a 60 s step over every series of the set
 * (`--hosts 1000` of devops-cpu is 10,000 series), samples read per second
 * of evaluation, and the resident memory each query added.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
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
    const char *query; /* promql: this query instead of the set */
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

/* one_name: every series is named one_name, its own name going to the
 * label "metric" (so functions that drop the name keep series apart). */
static int create_series(strata_db *db, bench_series *s, size_t n, strata_sid *sids, const char *one_name)
{
    strata_label lab[32];
    for (size_t i = 0; i < n; i++) {
        size_t nl = 0;
        lab[nl++] = (strata_label){"__name__", one_name ? one_name : s[i].name};
        if (one_name)
            lab[nl++] = (strata_label){"metric", s[i].name};
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
    if ((rc = create_series(db, s, n, sids, NULL)) != 0)
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

/* Generates data set ds, writes it into a new database under o->dir
 * (*dir_out, to be removed), flushes and fully compacts it. On success the
 * caller owns *db, *s (n series) and *sids. */
static int load(const opts *o, const char *ds, const char *one_name, char *dir_out, size_t dir_cap, strata_db **db,
                bench_series **s, size_t *n, strata_sid **sids)
{
    int rc = bench_gen(ds, o->seed, o->hosts, o->hours, s, n);
    if (rc)
        return rc;
    snprintf(dir_out, dir_cap, "%s/query-%s", o->dir, ds);
    bench_rm_rf(dir_out);
    *sids = calloc(*n, sizeof **sids);
    if (!*sids) {
        rc = STRATA_ERR_NOMEM;
        goto fail;
    }
    if ((rc = open_db(dir_out, STRATA_SYNC_NONE, 2, db)) != 0)
        goto fail;
    size_t ticks = 0;
    for (size_t i = 0; i < *n; i++)
        ticks = (*s)[i].n > ticks ? (*s)[i].n : ticks;
    ingest_job j = {*db, *s, *sids, 0, *n, ticks, 0};
    if ((rc = create_series(*db, *s, *n, *sids, one_name)) == 0) {
        ingest_thread(&j);
        rc = j.rc;
    }
    if (rc || (rc = strata_flush(*db)) != 0 || (rc = strata_compact(*db, 1)) != 0) {
        strata_close(*db);
        bench_rm_rf(dir_out);
        goto fail;
    }
    return STRATA_OK;
fail:
    free(*sids);
    bench_series_free(*s, *n);
    return rc;
}

static int run_query(const opts *o, const char *ds)
{
    bench_series *s;
    size_t n;
    strata_db *db;
    strata_sid *sids;
    char dir[4096];
    int rc = load(o, ds, NULL, dir, sizeof dir, &db, &s, &n, &sids);
    if (rc)
        return rc;
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
out_close:
    strata_close(db);
    bench_rm_rf(dir);
    free(sids);
    bench_series_free(s, n);
    return rc;
}

/* The resident set of this process now, in KiB (0 when unknown). */
static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

typedef struct promql_figures {
    double ms, cpu_ms; /* wall time; CPU time of the query's process (steadier on a shared machine) */
    uint64_t samples_loaded, peak_samples, series, points;
    long rss_growth_kib; /* the query's peak resident set over the process's before it */
} promql_figures;

typedef struct promql_args {
    strata_db *db;
    const char *q;
    int64_t start, end, step;
} promql_args;

/* The query and its figures, in the child. */
static int promql_child(void *ctx, void *out)
{
    promql_args *a = ctx;
    promql_figures *f = out;
    memset(f, 0, sizeof *f);
    long before = rss_kib();
    struct rusage ru0;
    getrusage(RUSAGE_SELF, &ru0);
    double cpu0_ms = (double)(ru0.ru_utime.tv_sec + ru0.ru_stime.tv_sec) * 1e3 +
                     (double)(ru0.ru_utime.tv_usec + ru0.ru_stime.tv_usec) / 1e3;
    strata_query_options qo;
    strata_query_options_init(&qo);
    qo.timeout_ms = 0;
    strata_result *r = NULL;
    strata_query_error err;
    double t0 = bench_now_s();
    int rc = strata_query_range(a->db, a->q, strlen(a->q), a->start, a->end, a->step, &qo, &r, &err);
    f->ms = (bench_now_s() - t0) * 1e3;
    if (rc == STRATA_OK) {
        strata_query_stats st;
        strata_result_stats(r, &st);
        f->samples_loaded = st.samples_loaded;
        f->peak_samples = st.peak_samples;
        f->series = strata_result_series_count(r);
        for (size_t i = 0; i < f->series; i++) {
            strata_query_series qs;
            strata_result_series(r, i, &qs);
            f->points += qs.n_points;
        }
        strata_result_free(r);
    } else {
        fprintf(stderr, "bench promql: %s: %s\n", a->q, err.msg);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    f->rss_growth_kib = ru.ru_maxrss - before;
    f->cpu_ms = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3 - cpu0_ms;
    return rc;
}

/* Runs one range query in a child process, so that its peak resident set
 * (getrusage of the child) is the query's alone on top of the open
 * database, and reports the figures through a pipe. */
static int promql_once(strata_db *db, const char *q, int64_t start, int64_t end, int64_t step, promql_figures *out)
{
    promql_args a = {db, q, start, end, step};
    return bench_forked(promql_child, &a, out, sizeof *out) ? STRATA_ERR_IO : STRATA_OK;
}

/* Range queries through the PromQL evaluator over every series of the
 * data set, its whole time range at a 60 s step: samples read per second
 * of evaluation and the memory a query takes. */
static int run_promql(const opts *o, const char *ds)
{
    bench_series *s;
    size_t n;
    strata_db *db;
    strata_sid *sids;
    char dir[4096];
    int rc = load(o, ds, "m", dir, sizeof dir, &db, &s, &n, &sids);
    if (rc)
        return rc;
    int64_t start = INT64_MAX, end = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        if (s[i].n && s[i].t[0] < start)
            start = s[i].t[0];
        if (s[i].n && s[i].t[s[i].n - 1] > end)
            end = s[i].t[s[i].n - 1];
    }
    bool devops = !strcmp(ds, "devops-cpu");
    const char *all = "m"; /* every series, named alike by load() */
    char qs[4][256];
    int nq = 4;
    if (o->query) {
        snprintf(qs[0], sizeof qs[0], "%s", o->query);
        nq = 1;
    } else {
        snprintf(qs[0], sizeof qs[0], "%s", all);
    }
    snprintf(qs[1], sizeof qs[1], "avg_over_time(%s[5m])", all);
    snprintf(qs[2], sizeof qs[2], "sum by (%s) (rate(%s[5m]))", devops ? "hostname" : "instance", all);
    snprintf(qs[3], sizeof qs[3], "max_over_time(%s[1h])", all);
    for (int k = 0; k < nq && !rc; k++) {
        promql_figures best = {0};
        for (int rep = 0; rep < 3 && !rc; rep++) { /* the best of three: the machine is shared */
            promql_figures f;
            rc = promql_once(db, qs[k], start, end, 60000, &f);
            if (!rc && (rep == 0 || f.cpu_ms < best.cpu_ms))
                best = f;
        }
        if (rc)
            break;
        double sps = (double)best.samples_loaded / (best.ms / 1e3);
        double sps_cpu = (double)best.samples_loaded / (best.cpu_ms / 1e3);
        if (o->json)
            printf("{\"bench\":\"promql\",\"dataset\":\"%s\",\"query\":\"%s\",\"series_in\":%zu,\"step_s\":60,"
                   "\"latency_ms\":%.1f,\"cpu_ms\":%.1f,\"samples_loaded\":%llu,\"samples_per_s\":%.0f,"
                   "\"samples_per_cpu_s\":%.0f,\"series_out\":%llu,"
                   "\"points_out\":%llu,\"peak_samples\":%llu,\"rss_growth_bytes\":%lld}\n",
                   ds, o->query ? o->query : k == 0 ? "selector" : k == 1 ? "avg_over_time_5m" : k == 2 ? "sum_by_rate_5m" : "max_over_time_1h",
                   n, best.ms, best.cpu_ms, (unsigned long long)best.samples_loaded, sps, sps_cpu,
                   (unsigned long long)best.series,
                   (unsigned long long)best.points, (unsigned long long)best.peak_samples,
                   (long long)best.rss_growth_kib * 1024);
        else
            printf("%-10s %-40s %zu series, 60 s step: %8.1f ms (CPU %8.1f ms), %6.1f M samples/s (%6.1f per CPU s), "
                   "%llu series out, peak %llu points, +%.0f MiB RSS\n",
                   ds, qs[k], n, best.ms, best.cpu_ms, sps / 1e6, sps_cpu / 1e6, (unsigned long long)best.series,
                   (unsigned long long)best.peak_samples, (double)best.rss_growth_kib / 1024.0);
    }
    strata_close(db);
    bench_rm_rf(dir);
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
                                       {"query", required_argument, NULL, 'q'},   {"help", no_argument, NULL, '?'},
                                       {0, 0, 0, 0}};
    *o = (opts){"all", 0, 24, 0, 1, false, "/tmp", STRATA_SYNC_INTERVAL, NULL};
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
        case 'q': o->query = optarg; break;
        case 'd': o->dir = optarg; break;
        case 'S':
            o->sync = !strcmp(optarg, "always") ? STRATA_SYNC_ALWAYS : !strcmp(optarg, "none") ? STRATA_SYNC_NONE
                                                                                               : STRATA_SYNC_INTERVAL;
            break;
        default:
            fprintf(stderr,
                    "usage: strata bench %s [--dataset devops-cpu|node-like|all] [--hosts N] [--hours N] [--seed N]\n"
                    "                    [--threads 1|2] [--sync always|interval|none] [--dir TMP] [--json]\n"
                    "                    [--query PROMQL] (promql: over series all named m, their own name in label metric)\n",
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

/* Parses the options of command `what` and runs run on each data set
 * asked for. */
static int each_dataset(int argc, char **argv, const char *what, int (*run)(const opts *o, const char *ds))
{
    opts o;
    int r = parse(argc, argv, &o, what);
    if (r)
        return r;
    const char *sets[] = {"devops-cpu", "node-like"};
    for (int d = 0; d < 2; d++) {
        if (strcmp(o.dataset, "all") && strcmp(o.dataset, sets[d]))
            continue;
        int rc = run(&o, sets[d]);
        if (rc) {
            fprintf(stderr, "bench %s: %s\n", what, strata_strerror(rc));
            return 1;
        }
    }
    return 0;
}

int bench_promql_main(int argc, char **argv) { return each_dataset(argc, argv, "promql", run_promql); }

int bench_query_main(int argc, char **argv) { return each_dataset(argc, argv, "query", run_query); }
