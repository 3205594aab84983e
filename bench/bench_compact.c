/*
 * bench_compact.c: `strata bench compact`: compaction on the generated data
 * sets (gen.h), through the public API only.
 *
 * For each data set and planner, in a fresh directory (partition 1 day,
 * head budget 8 MiB so a day is flushed as many level-0 files, the default
 * 2 compaction threads running):
 *   1. ingest: series created, then every sample written in time order
 *      (time-major: each tick's sample of every series, as scrapes arrive)
 *      in batches of 10000; strata_flush; strata_compact(full = 0) drains
 *      what the background planner still has planned. Reports the write
 *      amplification of this steady state and per-level bytes written.
 *   2. reopen without compaction threads; reads before full compaction: all
 *      series over everything (samples/s, best of 3) and one series over
 *      the whole range (median latency over 24 series x 3).
 *   3. strata_compact(full = 1), timed: compaction throughput in samples/s
 *      (samples in the tables / seconds) and MB/s written.
 *   4. the same reads after the full compaction; close; the whole data
 *      directory measured (every file: tables, index, manifest, WAL) in
 *      bytes per sample, with the parts listed to explain a miss.
 *
 * Goals (issue 4): write amplification <= 4 with the tiered planner for a
 * day of either data set in time order; after full compaction <= 0.6
 * bytes/sample node-like and <= 6.5 devops-cpu for the whole directory.
 */
#include <dirent.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "gen.h"
#include "util.h"
#include "strata.h"

#define BATCH 10000
#define LAT_SERIES 24
#define LAT_REPS 3

typedef struct bc_opts {
    const char *dataset; /* devops-cpu, node-like or all */
    const char *planner; /* tiered, leveled or both */
    int hosts, hours;
    uint64_t head_budget;
    uint64_t seed;
    bool json, keep;
    const char *dir;
} bc_opts;

/* Bytes of the files under dir (apparent sizes), by top-level part. */
typedef struct bc_du {
    uint64_t tables, index, wal, manifest, other, total;
} bc_du;

static uint64_t du_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (!S_ISDIR(st.st_mode))
        return S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    uint64_t sum = 0;
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[4096];
        int w = snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        if (w < 0 || (size_t)w >= sizeof p)
            continue;
        sum += du_tree(p);
    }
    closedir(d);
    return sum;
}

static void du_dir(const char *dir, bc_du *out)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[4096];
        int w = snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (w < 0 || (size_t)w >= sizeof p)
            continue;
        uint64_t b = du_tree(p);
        if (!strcmp(e->d_name, "tables"))
            out->tables += b;
        else if (!strcmp(e->d_name, "index"))
            out->index += b;
        else if (!strcmp(e->d_name, "wal"))
            out->wal += b;
        else if (!strncmp(e->d_name, "MANIFEST", 8) || !strcmp(e->d_name, "CURRENT"))
            out->manifest += b;
        else
            out->other += b;
        out->total += b;
    }
    closedir(d);
}

static int bc_open(const bc_opts *o, const char *dir, strata_planner planner, int threads, strata_db **db)
{
    strata_options so;
    strata_options_init(&so);
    so.dir = dir;
    so.sync = STRATA_SYNC_NONE; /* the WAL's fsyncs are not what is measured */
    so.planner = planner;
    so.compaction_threads = threads;
    so.head_budget_bytes = o->head_budget;
    return strata_open(&so, db);
}

static int bc_create_series(strata_db *db, const bench_series *s, size_t n, strata_sid *sids)
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

/* Writes every sample time-major in batches. */
static int bc_ingest(strata_db *db, const bench_series *s, size_t n, const strata_sid *sids)
{
    size_t ticks = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i].n > ticks)
            ticks = s[i].n;
    strata_sample *b = malloc(BATCH * sizeof *b);
    if (!b)
        return STRATA_ERR_NOMEM;
    size_t m = 0;
    int rc = STRATA_OK;
    for (size_t k = 0; k < ticks && !rc; k++)
        for (size_t i = 0; i < n && !rc; i++) {
            if (k >= s[i].n)
                continue;
            b[m++] = (strata_sample){sids[i], s[i].t[k], s[i].v[k]};
            if (m == BATCH) {
                rc = strata_write(db, b, m);
                m = 0;
            }
        }
    if (!rc && m)
        rc = strata_write(db, b, m);
    free(b);
    return rc;
}

typedef struct bc_reads {
    double all_samples_per_s;
    uint64_t all_samples;
    double one_series_ms_median, one_series_ms_max;
} bc_reads;

static int count_select(strata_db *db, const strata_matcher *m, size_t nm, uint64_t *samples)
{
    strata_cursor *c;
    int rc = strata_select(db, m, nm, INT64_MIN, INT64_MAX, &c);
    if (rc)
        return rc;
    uint64_t total = 0;
    strata_sid sid;
    const strata_label *l;
    size_t nl;
    while ((rc = strata_cursor_next_series(c, &sid, &l, &nl)) == 1) {
        const int64_t *t;
        const double *v;
        size_t k;
        while ((rc = strata_cursor_next_samples(c, &t, &v, &k)) == 1)
            total += k;
        if (rc < 0)
            break;
    }
    strata_cursor_close(c);
    if (rc < 0)
        return rc;
    *samples = total;
    return STRATA_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int bc_read(strata_db *db, const bench_series *s, size_t n, bc_reads *out)
{
    memset(out, 0, sizeof *out);
    strata_matcher all = {STRATA_MATCH_RE, "__name__", ".+"};
    for (int rep = 0; rep < 3; rep++) {
        uint64_t got = 0;
        double t0 = bench_now_s();
        int rc = count_select(db, &all, 1, &got);
        double dt = bench_now_s() - t0;
        if (rc)
            return rc;
        out->all_samples = got;
        if (dt > 0 && (double)got / dt > out->all_samples_per_s)
            out->all_samples_per_s = (double)got / dt;
    }
    double lat[LAT_SERIES * LAT_REPS];
    size_t nlat = 0;
    for (int rep = 0; rep < LAT_REPS; rep++)
        for (size_t q = 0; q < LAT_SERIES; q++) {
            const bench_series *x = &s[(q * 7919) % n];
            strata_matcher m[32];
            size_t nm = 0;
            m[nm++] = (strata_matcher){STRATA_MATCH_EQ, "__name__", x->name};
            for (size_t k = 0; k < x->nlabels && nm < 32; k++)
                m[nm++] = (strata_matcher){STRATA_MATCH_EQ, x->labels[2 * k], x->labels[2 * k + 1]};
            uint64_t got = 0;
            double t0 = bench_now_s();
            int rc = count_select(db, m, nm, &got);
            double dt = bench_now_s() - t0;
            if (rc)
                return rc;
            if (got != x->n) {
                fprintf(stderr, "bench compact: series %s: %llu samples read, %zu written\n", x->name,
                        (unsigned long long)got, x->n);
                return STRATA_ERR_CORRUPT;
            }
            lat[nlat++] = dt * 1e3;
        }
    qsort(lat, nlat, sizeof *lat, cmp_double);
    out->one_series_ms_median = lat[nlat / 2];
    out->one_series_ms_max = lat[nlat - 1];
    return STRATA_OK;
}

static void print_levels(const strata_stats *st, bool json)
{
    bool first = true;
    for (int l = 0; l < STRATA_MAX_LEVELS; l++) {
        if (!st->levels[l].bytes_written && !st->levels[l].files)
            continue;
        if (json)
            printf("%s{\"level\":%d,\"files\":%llu,\"bytes\":%llu,\"bytes_written\":%llu,\"bytes_read\":%llu}",
                   first ? "" : ",", l, (unsigned long long)st->levels[l].files,
                   (unsigned long long)st->levels[l].bytes, (unsigned long long)st->levels[l].bytes_written,
                   (unsigned long long)st->levels[l].bytes_read);
        else
            printf("    L%d: %3llu files %9.2f MiB  written %9.2f MiB  read %9.2f MiB\n", l,
                   (unsigned long long)st->levels[l].files, (double)st->levels[l].bytes / 1048576.0,
                   (double)st->levels[l].bytes_written / 1048576.0, (double)st->levels[l].bytes_read / 1048576.0);
        first = false;
    }
}

static int run_one(const bc_opts *o, const char *ds, const bench_series *s, size_t n, uint64_t total,
                   strata_planner planner)
{
    const char *pname = planner == STRATA_PLANNER_LEVELED ? "leveled" : "tiered";
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/compact-%s-%s", o->dir, ds, pname);
    bench_rm_rf(dir);
    strata_sid *sids = calloc(n, sizeof *sids);
    strata_db *db = NULL;
    int rc = sids ? bc_open(o, dir, planner, 2, &db) : STRATA_ERR_NOMEM;
    if (rc)
        goto out;
    double t0 = bench_now_s();
    if ((rc = bc_create_series(db, s, n, sids)) != 0 || (rc = bc_ingest(db, s, n, sids)) != 0)
        goto out;
    double t1 = bench_now_s();
    if ((rc = strata_flush(db)) != 0)
        goto out;
    double t2 = bench_now_s();
    if ((rc = strata_compact(db, 0)) != 0)
        goto out;
    double t3 = bench_now_s();
    strata_stats st_ing;
    if ((rc = strata_get_stats(db, &st_ing, sizeof st_ing)) != 0 || (rc = strata_close(db)) != 0)
        goto out;
    db = NULL;

    if ((rc = bc_open(o, dir, planner, 0, &db)) != 0)
        goto out;
    bc_reads before, after;
    if ((rc = bc_read(db, s, n, &before)) != 0)
        goto out;
    strata_stats st_pre;
    if ((rc = strata_get_stats(db, &st_pre, sizeof st_pre)) != 0)
        goto out;
    double t4 = bench_now_s();
    if ((rc = strata_compact(db, 1)) != 0)
        goto out;
    double t5 = bench_now_s();
    strata_stats st;
    if ((rc = strata_get_stats(db, &st, sizeof st)) != 0 || (rc = bc_read(db, s, n, &after)) != 0)
        goto out;
    if (after.all_samples != total || before.all_samples != total) {
        fprintf(stderr, "bench compact: %s/%s: read %llu then %llu samples, wrote %llu\n", ds, pname,
                (unsigned long long)before.all_samples, (unsigned long long)after.all_samples,
                (unsigned long long)total);
        rc = STRATA_ERR_CORRUPT;
        goto out;
    }
    rc = strata_close(db);
    db = NULL;
    if (rc)
        goto out;
    bc_du du;
    du_dir(dir, &du);
    double full_s = t5 - t4;
    uint64_t full_written = st.compaction_bytes_written; /* since the reopen: the full compaction */
    double bps = (double)du.total / (double)total;
    if (o->json) {
        printf("{\"bench\":\"compact\",\"dataset\":\"%s\",\"planner\":\"%s\",\"series\":%zu,\"samples\":%llu,"
               "\"ingest_s\":%.3f,\"ingest_samples_per_s\":%.0f,\"flush_s\":%.3f,\"drain_s\":%.3f,"
               "\"flushes\":%llu,\"compactions_during_ingest\":%llu,\"files_before_full\":%llu,"
               "\"l0_files_before_full\":%llu,\"write_amplification_ingest\":%.3f,"
               "\"write_amplification\":%.3f,\"full_compaction_s\":%.3f,\"full_compaction_samples_per_s\":%.0f,"
               "\"full_compaction_mb_written_per_s\":%.2f,\"blocks_copied\":%llu,\"blocks_merged\":%llu,"
               "\"files_after\":%llu,\"read_all_samples_per_s_before\":%.0f,\"read_all_samples_per_s_after\":%.0f,"
               "\"one_series_ms_before\":%.3f,\"one_series_ms_after\":%.3f,\"dir_bytes\":%llu,"
               "\"tables_bytes\":%llu,\"index_bytes\":%llu,\"wal_bytes\":%llu,\"manifest_bytes\":%llu,"
               "\"other_bytes\":%llu,\"bytes_per_sample\":%.4f,\"table_bytes_per_sample\":%.4f,\"levels\":[",
               ds, pname, n, (unsigned long long)total, t1 - t0, (double)total / (t1 - t0), t2 - t1, t3 - t2,
               (unsigned long long)st_ing.flushes, (unsigned long long)st_ing.compactions,
               (unsigned long long)st_pre.table_files, (unsigned long long)st_pre.levels[0].files,
               st_ing.write_amplification, st.write_amplification, full_s,
               (double)st_pre.table_samples / full_s, (double)full_written / full_s / 1e6,
               (unsigned long long)st.compaction_blocks_copied, (unsigned long long)st.compaction_blocks_merged,
               (unsigned long long)st.table_files, before.all_samples_per_s, after.all_samples_per_s,
               before.one_series_ms_median, after.one_series_ms_median, (unsigned long long)du.total,
               (unsigned long long)du.tables, (unsigned long long)du.index, (unsigned long long)du.wal,
               (unsigned long long)du.manifest, (unsigned long long)du.other, bps,
               (double)du.tables / (double)total);
        print_levels(&st, true);
        printf("]}\n");
    } else {
        printf("%s / %s: %zu series, %llu samples\n", ds, pname, n, (unsigned long long)total);
        printf("  ingest   %.2f s (%.2f M samples/s), flush %.2f s, drain %.2f s: %llu flushes, %llu compactions\n",
               t1 - t0, (double)total / (t1 - t0) / 1e6, t2 - t1, t3 - t2, (unsigned long long)st_ing.flushes,
               (unsigned long long)st_ing.compactions);
        printf("  write amplification: %.2f after ingest (%llu files, %llu at L0), %.2f after full compaction\n",
               st_ing.write_amplification, (unsigned long long)st_pre.table_files,
               (unsigned long long)st_pre.levels[0].files, st.write_amplification);
        print_levels(&st, false);
        printf("  full compaction %.2f s: %.2f M samples/s, %.1f MB/s written, blocks copied %llu merged %llu, "
               "%llu files after\n",
               full_s, (double)st_pre.table_samples / full_s / 1e6, (double)full_written / full_s / 1e6,
               (unsigned long long)st.compaction_blocks_copied, (unsigned long long)st.compaction_blocks_merged,
               (unsigned long long)st.table_files);
        printf("  read all: %.2f M samples/s before, %.2f after; one series: %.3f ms before, %.3f ms after "
               "(median; max %.3f / %.3f)\n",
               before.all_samples_per_s / 1e6, after.all_samples_per_s / 1e6, before.one_series_ms_median,
               after.one_series_ms_median, before.one_series_ms_max, after.one_series_ms_max);
        printf("  directory %.2f MiB = %.4f bytes/sample (tables %.4f, index %.4f, wal %.4f, manifest %.4f, "
               "other %.4f)\n",
               (double)du.total / 1048576.0, bps, (double)du.tables / (double)total, (double)du.index / (double)total,
               (double)du.wal / (double)total, (double)du.manifest / (double)total, (double)du.other / (double)total);
    }
    fflush(stdout);
    if (!o->keep)
        bench_rm_rf(dir);
out:
    if (db)
        strata_close(db);
    if (rc)
        fprintf(stderr, "bench compact: %s/%s: %s\n", ds, pname, strata_strerror(rc));
    free(sids);
    return rc;
}

static int run_dataset(const bc_opts *o, const char *ds)
{
    bench_series *s;
    size_t n;
    int rc = bench_gen(ds, o->seed, o->hosts, o->hours, &s, &n);
    if (rc) {
        fprintf(stderr, "bench compact: generating %s: %s\n", ds, strata_strerror(rc));
        return rc;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += s[i].n;
    if (strcmp(o->planner, "leveled") != 0)
        rc = run_one(o, ds, s, n, total, STRATA_PLANNER_TIERED);
    if (!rc && strcmp(o->planner, "tiered") != 0)
        rc = run_one(o, ds, s, n, total, STRATA_PLANNER_LEVELED);
    bench_series_free(s, n);
    return rc;
}

static const char *bc_help =
    "usage: strata bench compact [--dataset devops-cpu|node-like|all] [--hours N] [--hosts N]\n"
    "                            [--planner tiered|leveled|both] [--head-budget BYTES] [--dir DIR]\n"
    "                            [--seed N] [--keep] [--json]\n"
    "Ingests the generated data in time order with compaction running (partition 1 day,\n"
    "head budget 8 MiB by default), then a full compaction. Reports write amplification,\n"
    "per-level bytes, compaction throughput, reads before/after, and bytes per sample of\n"
    "the whole data directory. Defaults: all data sets, 24 hours, both planners.\n";

int bench_compact_main(int argc, char **argv)
{
    enum { O_DATASET = 256, O_HOURS, O_HOSTS, O_PLANNER, O_BUDGET, O_DIR, O_SEED, O_KEEP, O_JSON };
    static const struct option longopts[] = {
        {"dataset", required_argument, NULL, O_DATASET}, {"hours", required_argument, NULL, O_HOURS},
        {"hosts", required_argument, NULL, O_HOSTS},     {"planner", required_argument, NULL, O_PLANNER},
        {"head-budget", required_argument, NULL, O_BUDGET}, {"dir", required_argument, NULL, O_DIR},
        {"seed", required_argument, NULL, O_SEED},       {"keep", no_argument, NULL, O_KEEP},
        {"json", no_argument, NULL, O_JSON},             {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    bc_opts o = {.dataset = "all", .planner = "both", .hours = 24, .head_budget = 8ull << 20, .seed = 1};
    char tmpl[] = "/tmp/strata-bench-compact.XXXXXX";
    bool own_dir = false;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        char *end = NULL;
        switch (opt) {
        case O_DATASET: o.dataset = optarg; break;
        case O_PLANNER: o.planner = optarg; break;
        case O_HOURS: o.hours = (int)strtol(optarg, &end, 10); break;
        case O_HOSTS: o.hosts = (int)strtol(optarg, &end, 10); break;
        case O_BUDGET: o.head_budget = strtoull(optarg, &end, 10) << 20; break;
        case O_DIR: o.dir = optarg; break;
        case O_SEED: o.seed = strtoull(optarg, &end, 10); break;
        case O_KEEP: o.keep = true; break;
        case O_JSON: o.json = true; break;
        case 'h': fputs(bc_help, stdout); return 0;
        default: fputs(bc_help, stderr); return 2;
        }
        if (end && *end) {
            fprintf(stderr, "bench compact: bad number '%s' (--head-budget is in MiB)\n", optarg);
            return 2;
        }
    }
    bool ds_ok = !strcmp(o.dataset, "all") || !strcmp(o.dataset, "devops-cpu") || !strcmp(o.dataset, "node-like");
    bool pl_ok = !strcmp(o.planner, "both") || !strcmp(o.planner, "tiered") || !strcmp(o.planner, "leveled");
    if (!ds_ok || !pl_ok || o.hours <= 0 || o.hosts < 0 || o.head_budget == 0 || optind != argc) {
        fputs(bc_help, stderr);
        return 2;
    }
    if (!o.dir) {
        if (!mkdtemp(tmpl)) {
            perror("bench compact: mkdtemp");
            return 1;
        }
        o.dir = tmpl;
        own_dir = true;
    }
    int rc = STRATA_OK;
    if (!strcmp(o.dataset, "all") || !strcmp(o.dataset, "devops-cpu"))
        rc = run_dataset(&o, "devops-cpu");
    if (!rc && (!strcmp(o.dataset, "all") || !strcmp(o.dataset, "node-like")))
        rc = run_dataset(&o, "node-like");
    if (own_dir && !o.keep)
        bench_rm_rf(o.dir);
    return rc ? 1 : 0;
}
