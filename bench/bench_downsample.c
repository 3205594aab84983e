/*
 * bench_downsample.c: `strata-bench downsample`, the figures of issue 14:
 * a year (--days) of node-like data ending now, written into two
 * databases, one without downsampling rules (raw) and one with --rules
 * (default 30d:5m,180d:1h, every series), each flushed and compacted
 * (strata_compact full, then strata_compact again so every rules job that
 * is due has run). Then:
 *
 *   bytes   table bytes and directory bytes of each, the raw database's
 *           bytes of the partitions younger than the first rule's age (the
 *           part the downsampled one keeps raw), and downsampled / raw;
 *   queries the year-long max_over_time(gauge[1d]) at a 1 d step and
 *           rate(counter[1h]) at a 1 h step over one series, and the same
 *           functions over up to 1,000 series, on both databases: wall and
 *           CPU time (the best of --reps runs, each in a forked child as
 *           `strata-bench promql` does, after one untimed run that warms
 *           the page cache), the speed-up, and how far the downsampled
 *           answer is from the raw one (max absolute and relative
 *           difference over the points both have, by age of the point,
 *           and the points only one of them has).
 *
 * Windows end on whole days and hours, so they hold whole 5 m and 1 h
 * intervals: max_over_time should match exactly, rate within the last
 * bits (func_agg.c).
 *
 * Each series carries a label metric equal to its name, so that functions
 * that drop the name keep the series of one instance apart.
 */
#include <ftw.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gen.h"
#include "strata.h"
#include "util.h"

#define DAY_MS 86400000ll
#define HOUR_MS 3600000ll
#define PER_INSTANCE 233 /* series of one node-like instance */
#define MAX_RULES 8

typedef struct ds_opts {
    size_t series;
    int days;
    int64_t interval_ms;
    const char *rules_text;
    strata_downsampling_rule rules[MAX_RULES];
    size_t n_rules;
    uint64_t seed;
    int reps;
    bool json, keep;
    const char *dir;
} ds_opts;

typedef struct db_figures {
    double load_s, flush_s, compact_s;
    uint64_t samples, table_bytes, dir_bytes, files, recent_bytes, recent_files;
    double write_amp;
} db_figures;

/* ------------------------------------------------------------ loading */

static int open_db(const char *dir, const ds_opts *o, bool rules, strata_db **db)
{
    strata_options so;
    strata_options_init(&so);
    so.dir = dir;
    so.sync = STRATA_SYNC_NONE;
    so.head_budget_bytes = 256ull << 20;
    so.compaction_threads = 1; /* two cores, shared */
    if (rules) {
        so.downsampling_rules = o->rules;
        so.n_downsampling_rules = o->n_rules;
    }
    return strata_open(&so, db);
}

static int create_series(strata_db *db, const bench_series *s, size_t n, strata_sid *sids)
{
    strata_label lab[16];
    for (size_t i = 0; i < n; i++) {
        size_t nl = 0;
        lab[nl++] = (strata_label){"__name__", s[i].name};
        lab[nl++] = (strata_label){"metric", s[i].name};
        for (size_t k = 0; k < s[i].nlabels && nl < 16; k++)
            lab[nl++] = (strata_label){s[i].labels[2 * k], s[i].labels[2 * k + 1]};
        int rc = strata_series_get_or_create(db, lab, nl, &sids[i], NULL);
        if (rc)
            return rc;
    }
    return STRATA_OK;
}

static uint64_t dir_bytes_sum;
static int dir_bytes_fn(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)path;
    (void)ftw;
    if (flag == FTW_F)
        dir_bytes_sum += (uint64_t)sb->st_size;
    return 0;
}

static uint64_t dir_bytes(const char *dir)
{
    dir_bytes_sum = 0;
    nftw(dir, dir_bytes_fn, 16, FTW_PHYS);
    return dir_bytes_sum;
}

/* Writes the data set [start_ms, end_ms] into a new database in dir,
 * time-major (each tick of every series, as scrapes arrive) in batches,
 * then flushes and compacts it; fills f. */
static int load(const ds_opts *o, const char *dir, bool rules, int64_t start_ms, int64_t end_ms, int64_t now_ms,
                strata_db **out, db_figures *f)
{
    memset(f, 0, sizeof *f);
    bench_rm_rf(dir);
    int inst = (int)((o->series + PER_INSTANCE - 1) / PER_INSTANCE);
    size_t chunk = (size_t)(DAY_MS / o->interval_ms);
    bench_stream *st;
    bench_series *s;
    size_t n;
    if (bench_stream_open(o->seed, inst, o->series, start_ms, o->interval_ms, chunk, &st, &s, &n))
        return STRATA_ERR_INVALID;
    strata_db *db = NULL;
    strata_sid *sids = calloc(n, sizeof *sids);
    size_t cap = 65536, nb = 0;
    strata_sample *b = malloc(cap * sizeof *b);
    int rc = !sids || !b ? STRATA_ERR_NOMEM : open_db(dir, o, rules, &db);
    if (rc || (rc = create_series(db, s, n, sids)) != 0)
        goto out;
    double t0 = bench_now_s();
    size_t k;
    while (!rc && (k = bench_stream_next(st, end_ms)) > 0) {
        for (size_t j = 0; j < k && !rc; j++)
            for (size_t i = 0; i < n && !rc; i++) {
                b[nb++] = (strata_sample){sids[i], s[i].t[j], s[i].v[j]};
                f->samples++;
                if (nb == cap) {
                    rc = strata_write(db, b, nb);
                    nb = 0;
                }
            }
    }
    if (!rc && nb)
        rc = strata_write(db, b, nb);
    double t1 = bench_now_s();
    if (rc || (rc = strata_flush(db)) != 0)
        goto out;
    double t2 = bench_now_s();
    if ((rc = strata_compact(db, 1)) != 0 || (rc = strata_compact(db, 0)) != 0)
        goto out;
    double t3 = bench_now_s();
    f->load_s = t1 - t0;
    f->flush_s = t2 - t1;
    f->compact_s = t3 - t2;
    strata_file_info *fi;
    size_t nf;
    if ((rc = strata_list_files(db, &fi, &nf)) != 0)
        goto out;
    int64_t recent_age = o->n_rules ? o->rules[0].age_ms : 30 * DAY_MS;
    for (size_t i = 0; i < o->n_rules; i++)
        recent_age = o->rules[i].age_ms < recent_age ? o->rules[i].age_ms : recent_age;
    for (size_t i = 0; i < nf; i++) {
        f->table_bytes += fi[i].bytes;
        f->files++;
        /* a partition the youngest rule has not reached yet (partition
         * width 1 day, the default) */
        if (fi[i].partition_start_ms + DAY_MS + recent_age > now_ms) {
            f->recent_bytes += fi[i].bytes;
            f->recent_files++;
        }
    }
    strata_free(fi);
    strata_stats sst;
    if ((rc = strata_get_stats(db, &sst, sizeof sst)) != 0)
        goto out;
    f->write_amp = sst.write_amplification;
    f->dir_bytes = dir_bytes(dir);
out:
    if (rc && db) {
        strata_close(db);
        db = NULL;
    }
    *out = db;
    free(b);
    free(sids);
    bench_stream_close(st);
    return rc;
}

/* ------------------------------------------------------------ queries */

typedef struct q_figures {
    double ms, cpu_ms;
    uint64_t samples_loaded, series, points;
} q_figures;

static double cpu_ms_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int run_query(strata_db *db, const char *q, int64_t start, int64_t end, int64_t step, q_figures *f,
                     strata_result **keep)
{
    strata_query_options qo;
    strata_query_options_init(&qo);
    qo.timeout_ms = 0;
    qo.max_samples = 0;
    strata_result *r = NULL;
    strata_query_error err;
    memset(f, 0, sizeof *f);
    double c0 = cpu_ms_now(), t0 = bench_now_s();
    int rc = strata_query_range(db, q, strlen(q), start, end, step, &qo, &r, &err);
    f->ms = (bench_now_s() - t0) * 1e3;
    f->cpu_ms = cpu_ms_now() - c0;
    if (rc) {
        fprintf(stderr, "bench downsample: %s: %s\n", q, err.msg);
        return rc;
    }
    strata_query_stats st;
    strata_result_stats(r, &st);
    f->samples_loaded = st.samples_loaded;
    f->series = strata_result_series_count(r);
    for (size_t i = 0; i < f->series; i++) {
        strata_query_series qs;
        strata_result_series(r, i, &qs);
        f->points += qs.n_points;
    }
    if (keep)
        *keep = r;
    else
        strata_result_free(r);
    return STRATA_OK;
}

typedef struct q_args {
    strata_db *db;
    const char *q;
    int64_t start, end, step;
} q_args;

static int query_child(void *ctx, void *out)
{
    q_args *a = ctx;
    return run_query(a->db, a->q, a->start, a->end, a->step, out, NULL);
}

/* One run in a forked child (its CPU time its own, the parent's heap
 * untouched), figures back through a pipe. */
static int query_forked(strata_db *db, const char *q, int64_t start, int64_t end, int64_t step, q_figures *out)
{
    q_args a = {db, q, start, end, step};
    return bench_forked(query_child, &a, out, sizeof *out) ? STRATA_ERR_IO : STRATA_OK;
}

/* The best wall time and the best CPU time of reps forked runs. */
static int query_best(strata_db *db, const char *q, int64_t start, int64_t end, int64_t step, int reps, q_figures *best)
{
    for (int i = 0; i < reps; i++) {
        q_figures f;
        int rc = query_forked(db, q, start, end, step, &f);
        if (rc)
            return rc;
        if (i == 0) {
            *best = f;
        } else {
            best->ms = f.ms < best->ms ? f.ms : best->ms;
            best->cpu_ms = f.cpu_ms < best->cpu_ms ? f.cpu_ms : best->cpu_ms;
        }
    }
    return STRATA_OK;
}

/* ------------------------------------------------------------ answers compared */

#define N_BANDS 3 /* ages: below the first rule, up to the second, beyond (for two rules) */

typedef struct diff_figures {
    uint64_t common, only_raw, only_ds, differing, series_only_raw, series_only_ds;
    double max_abs, max_rel;
    double band_max_rel[N_BANDS];
    uint64_t band_points[N_BANDS];
} diff_figures;

typedef struct keyed {
    char *key;
    size_t i;
} keyed;

static int keyed_cmp(const void *a, const void *b) { return strcmp(((const keyed *)a)->key, ((const keyed *)b)->key); }

static keyed *series_keys(strata_result *r, size_t *n)
{
    *n = strata_result_series_count(r);
    keyed *k = calloc(*n ? *n : 1, sizeof *k);
    if (!k)
        abort();
    for (size_t i = 0; i < *n; i++) {
        strata_query_series qs;
        strata_result_series(r, i, &qs);
        size_t len = 1;
        for (size_t l = 0; l < qs.n_labels; l++)
            len += strlen(qs.labels[l].name) + strlen(qs.labels[l].value) + 2;
        k[i].key = malloc(len);
        if (!k[i].key)
            abort();
        char *p = k[i].key;
        *p = 0;
        for (size_t l = 0; l < qs.n_labels; l++)
            p += sprintf(p, "%s=%s,", qs.labels[l].name, qs.labels[l].value);
        k[i].i = i;
    }
    qsort(k, *n, sizeof *k, keyed_cmp);
    return k;
}

static int band_of(int64_t t, int64_t now_ms, const ds_opts *o)
{
    int64_t age = now_ms - t;
    int b = 0;
    for (size_t i = 0; i < o->n_rules && b < N_BANDS - 1; i++)
        if (age >= o->rules[i].age_ms)
            b = (int)i + 1;
    return b;
}

static void compare(strata_result *raw, strata_result *ds, int64_t now_ms, const ds_opts *o, diff_figures *d)
{
    memset(d, 0, sizeof *d);
    size_t na, nb;
    keyed *ka = series_keys(raw, &na), *kb = series_keys(ds, &nb);
    size_t i = 0, j = 0;
    while (i < na || j < nb) {
        int c = i == na ? 1 : j == nb ? -1 : strcmp(ka[i].key, kb[j].key);
        strata_query_series a, b;
        if (c < 0) {
            strata_result_series(raw, ka[i++].i, &a);
            d->series_only_raw++;
            d->only_raw += a.n_points;
            continue;
        }
        if (c > 0) {
            strata_result_series(ds, kb[j++].i, &b);
            d->series_only_ds++;
            d->only_ds += b.n_points;
            continue;
        }
        strata_result_series(raw, ka[i++].i, &a);
        strata_result_series(ds, kb[j++].i, &b);
        size_t x = 0, y = 0;
        while (x < a.n_points || y < b.n_points) {
            if (y == b.n_points || (x < a.n_points && a.points[x].t_ms < b.points[y].t_ms)) {
                d->only_raw++;
                x++;
                continue;
            }
            if (x == a.n_points || b.points[y].t_ms < a.points[x].t_ms) {
                d->only_ds++;
                y++;
                continue;
            }
            double va = a.points[x].value, vb = b.points[y].value;
            int band = band_of(a.points[x].t_ms, now_ms, o);
            x++;
            y++;
            d->common++;
            d->band_points[band]++;
            double abs_d, rel;
            if (isnan(va) || isnan(vb)) {
                abs_d = isnan(va) && isnan(vb) ? 0 : INFINITY;
                rel = isnan(va) && isnan(vb) ? 0 : 1;
            } else if (va == vb) {
                abs_d = rel = 0;
            } else {
                abs_d = fabs(va - vb);
                double m = fmax(fabs(va), fabs(vb));
                rel = m > 0 ? abs_d / m : 0;
            }
            if (abs_d > 0)
                d->differing++;
            d->max_abs = fmax(d->max_abs, abs_d);
            d->max_rel = fmax(d->max_rel, rel);
            d->band_max_rel[band] = fmax(d->band_max_rel[band], rel);
        }
    }
    for (size_t k = 0; k < na; k++)
        free(ka[k].key);
    for (size_t k = 0; k < nb; k++)
        free(kb[k].key);
    free(ka);
    free(kb);
}

/* ------------------------------------------------------------ the run */

static const char *fmt_bytes(uint64_t b, char *buf, size_t cap)
{
    if (b >= 10ull << 30)
        snprintf(buf, cap, "%.2f GiB", (double)b / (double)(1ull << 30));
    else if (b >= 10ull << 20)
        snprintf(buf, cap, "%.1f MiB", (double)b / (double)(1ull << 20));
    else
        snprintf(buf, cap, "%.1f KiB", (double)b / 1024.0);
    return buf;
}

static void print_db(const ds_opts *o, const char *name, const db_figures *f)
{
    char b1[32], b2[32], b3[32];
    if (o->json) {
        printf("{\"bench\":\"downsample\",\"dataset\":\"node-like\",\"series\":%zu,\"days\":%d,\"interval_s\":%.0f,"
               "\"rules\":\"%s\",\"what\":\"bytes\",\"db\":\"%s\",\"samples_written\":%llu,\"load_s\":%.2f,"
               "\"flush_s\":%.2f,\"compact_s\":%.2f,\"table_files\":%llu,\"table_bytes\":%llu,\"dir_bytes\":%llu,"
               "\"table_bytes_per_sample\":%.4f,\"recent_table_bytes\":%llu,\"write_amplification\":%.2f}\n",
               o->series, o->days, (double)o->interval_ms / 1e3, o->rules_text, name,
               (unsigned long long)f->samples, f->load_s, f->flush_s, f->compact_s, (unsigned long long)f->files,
               (unsigned long long)f->table_bytes, (unsigned long long)f->dir_bytes,
               (double)f->table_bytes / (double)f->samples, (unsigned long long)f->recent_bytes, f->write_amp);
        return;
    }
    printf("%-12s %8.1f %7.1f %9.1f %7llu %12s %12s %9.3f %12s %6.2f\n", name, f->load_s, f->flush_s, f->compact_s,
           (unsigned long long)f->files, fmt_bytes(f->table_bytes, b1, sizeof b1),
           fmt_bytes(f->dir_bytes, b2, sizeof b2), (double)f->table_bytes / (double)f->samples,
           fmt_bytes(f->recent_bytes, b3, sizeof b3), f->write_amp);
}

/* Writes the selector of one series into buf. */
static void selector_of(const bench_series *s, char *buf, size_t cap)
{
    size_t len = (size_t)snprintf(buf, cap, "%s{", s->name);
    for (size_t l = 0; l < s->nlabels && len < cap; l++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s=\"%s\"", l ? "," : "", s->labels[2 * l],
                                s->labels[2 * l + 1]);
    if (len < cap)
        snprintf(buf + len, cap - len, "}");
}

/* The one-series queries' series: node_load1 and eth0's
 * node_network_receive_bytes_total of the first instance when the scale
 * holds them, else the first decimal gauge (or any gauge) and the first
 * integer counter (or any counter) of the set. */
static int pick_series(const ds_opts *o, char *gauge, size_t gcap, char *counter, size_t ccap)
{
    int inst = (int)((o->series + PER_INSTANCE - 1) / PER_INSTANCE);
    bench_stream *st;
    bench_series *s;
    size_t n;
    if (bench_stream_open(o->seed, inst, o->series, 0, o->interval_ms, 1, &st, &s, &n))
        return STRATA_ERR_INVALID;
    long g = -1, c = -1;
    for (size_t i = 0; i < n; i++) {
        bool is_g = s[i].kind[1] == 'g', is_c = s[i].kind[1] == 'c';
        if (is_g && (g < 0 || !strcmp(s[i].name, "node_load1") || (s[g].kind[0] != 'd' && s[i].kind[0] == 'd')) &&
            (g < 0 || strcmp(s[g].name, "node_load1")))
            g = (long)i;
        if (is_c && (c < 0 || (!strcmp(s[i].name, "node_network_receive_bytes_total") &&
                               strcmp(s[c].name, "node_network_receive_bytes_total")) ||
                     (s[c].kind[0] != 'i' && s[i].kind[0] == 'i')))
            c = (long)i;
    }
    if (g < 0)
        g = 0;
    if (c < 0)
        c = 0;
    selector_of(&s[g], gauge, gcap);
    selector_of(&s[c], counter, ccap);
    bench_stream_close(st);
    return STRATA_OK;
}

static int run(const ds_opts *o)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    int64_t end_ms = now_ms - now_ms % o->interval_ms;
    int64_t start_ms = end_ms - (int64_t)o->days * DAY_MS + o->interval_ms;
    char raw_dir[4096], ds_dir[4096];
    snprintf(raw_dir, sizeof raw_dir, "%s/downsample-raw", o->dir);
    snprintf(ds_dir, sizeof ds_dir, "%s/downsample-rules", o->dir);
    int inst = (int)((o->series + PER_INSTANCE - 1) / PER_INSTANCE);
    uint64_t per_series = (uint64_t)((end_ms - start_ms) / o->interval_ms + 1);
    char ts0[STRATA_TIME_MAX + 1], ts1[STRATA_TIME_MAX + 1];
    ts0[strata_format_time(start_ms, ts0)] = 0;
    ts1[strata_format_time(end_ms, ts1)] = 0;
    if (!o->json)
        printf("node-like: %zu series (%s%d instance%s of %d), a sample every %.0f s over %d days (%s .. %s):\n"
               "%llu samples per series, %llu in all, written to each database; rules %s\n\n",
               o->series, o->series % PER_INSTANCE ? "evenly spaced over " : "", inst, inst > 1 ? "s" : "", PER_INSTANCE, (double)o->interval_ms / 1e3, o->days, ts0, ts1,
               (unsigned long long)per_series, (unsigned long long)(per_series * o->series), o->rules_text);

    strata_db *raw = NULL, *ds = NULL;
    db_figures fr, fd;
    int rc = load(o, raw_dir, false, start_ms, end_ms, now_ms, &raw, &fr);
    if (rc)
        goto out;
    rc = load(o, ds_dir, true, start_ms, end_ms, now_ms, &ds, &fd);
    if (rc)
        goto out;
    int64_t recent_age = o->rules[0].age_ms;
    for (size_t i = 0; i < o->n_rules; i++)
        recent_age = o->rules[i].age_ms < recent_age ? o->rules[i].age_ms : recent_age;
    double ratio = (double)fd.table_bytes / (double)fr.table_bytes;
    double dir_ratio = (double)fd.dir_bytes / (double)fr.dir_bytes;
    double recent_frac = (double)fr.recent_bytes / (double)fr.table_bytes;
    if (!o->json) {
        printf("database         load s flush s compact s   files  table bytes    dir bytes B/sample %12s  w-amp\n",
               "young bytes");
        print_db(o, "raw", &fr);
        print_db(o, "downsampled", &fd);
        printf("\n(young bytes: the partitions younger than %lld days, which both keep raw)\n",
               (long long)(recent_age / DAY_MS));
        printf("downsampled / raw: %.3f of the table bytes, %.3f of the directory (goal < 0.25)\n", ratio, dir_ratio);
        printf("the raw database's last %lld days alone: %.3f of its table bytes\n\n", (long long)(recent_age / DAY_MS),
               recent_frac);
    } else {
        print_db(o, "raw", &fr);
        print_db(o, "downsampled", &fd);
        printf("{\"bench\":\"downsample\",\"dataset\":\"node-like\",\"series\":%zu,\"days\":%d,\"interval_s\":%.0f,"
               "\"rules\":\"%s\",\"what\":\"ratio\",\"table_bytes_ratio\":%.4f,\"dir_bytes_ratio\":%.4f,"
               "\"raw_recent_days\":%lld,\"raw_recent_fraction\":%.4f}\n",
               o->series, o->days, (double)o->interval_ms / 1e3, o->rules_text, ratio, dir_ratio,
               (long long)(recent_age / DAY_MS), recent_frac);
    }

    /* The queries: one gauge and one counter of the first instance, and
     * the same functions over up to 1,000 series (whole instances). */
    char many_sel[128];
    size_t many_series = o->series;
    if (o->series > 1000) {
        int k = 1000 / PER_INSTANCE;
        snprintf(many_sel, sizeof many_sel, "{job=\"node\",instance=~\"host-(0[0-%d]):9100\"}", k - 1);
        many_series = (size_t)k * PER_INSTANCE;
    } else {
        snprintf(many_sel, sizeof many_sel, "{job=\"node\"}");
    }
    struct {
        const char *name;
        char q[512];
        int64_t step;
        size_t series_in;
    } qs[4] = {
        {"max_over_time_1d_one", "", DAY_MS, 1},
        {"rate_1h_one", "", HOUR_MS, 1},
        {"max_over_time_1d_many", "", DAY_MS, many_series},
        {"rate_1h_many", "", HOUR_MS, many_series},
    };
    char gauge[256], counter[256];
    if ((rc = pick_series(o, gauge, sizeof gauge, counter, sizeof counter)) != 0)
        goto out;
    snprintf(qs[0].q, sizeof qs[0].q, "max_over_time(%s[1d])", gauge);
    snprintf(qs[1].q, sizeof qs[1].q, "rate(%s[1h])", counter);
    snprintf(qs[2].q, sizeof qs[2].q, "max_over_time(%s[1d])", many_sel);
    snprintf(qs[3].q, sizeof qs[3].q, "rate(%s[1h])", many_sel);
    if (!o->json)
        printf("queries over the whole span (best of %d runs; wall / CPU ms):\n", o->reps);
    for (int k = 0; k < 4 && !rc; k++) {
        int64_t qend = now_ms - now_ms % qs[k].step;
        int64_t qstart = qend - (int64_t)o->days * DAY_MS + qs[k].step;
        strata_result *ra = NULL, *rd = NULL;
        q_figures w0, w1, br, bd;
        /* an untimed run each, whose answers are compared */
        if ((rc = run_query(raw, qs[k].q, qstart, qend, qs[k].step, &w0, &ra)) != 0 ||
            (rc = run_query(ds, qs[k].q, qstart, qend, qs[k].step, &w1, &rd)) != 0 ||
            (rc = query_best(raw, qs[k].q, qstart, qend, qs[k].step, o->reps, &br)) != 0 ||
            (rc = query_best(ds, qs[k].q, qstart, qend, qs[k].step, o->reps, &bd)) != 0) {
            strata_result_free(ra);
            strata_result_free(rd);
            break;
        }
        diff_figures d;
        compare(ra, rd, now_ms, o, &d);
        strata_result_free(ra);
        strata_result_free(rd);
        if (o->json) {
            printf("{\"bench\":\"downsample\",\"dataset\":\"node-like\",\"series\":%zu,\"days\":%d,\"interval_s\":%.0f,"
                   "\"rules\":\"%s\",\"what\":\"query\",\"query\":\"%s\",\"promql\":\"",
                   o->series, o->days, (double)o->interval_ms / 1e3, o->rules_text, qs[k].name);
            for (const char *p = qs[k].q; *p; p++)
                printf(*p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
            printf("\",\"step_s\":%lld,\"series_in\":%zu,\"series_out\":%llu,\"points_out\":%llu,"
                   "\"raw_latency_ms\":%.2f,\"raw_cpu_ms\":%.2f,\"raw_samples_loaded\":%llu,"
                   "\"ds_latency_ms\":%.2f,\"ds_cpu_ms\":%.2f,\"ds_samples_loaded\":%llu,"
                   "\"speedup_wall\":%.2f,\"speedup_cpu\":%.2f,\"points_common\":%llu,\"points_only_raw\":%llu,"
                   "\"points_only_ds\":%llu,\"points_differing\":%llu,\"max_abs_diff\":%.17g,\"max_rel_diff\":%.3e,"
                   "\"max_rel_diff_young\":%.3e,\"max_rel_diff_mid\":%.3e,\"max_rel_diff_old\":%.3e}\n",
                   (long long)(qs[k].step / 1000), qs[k].series_in, (unsigned long long)w0.series,
                   (unsigned long long)w0.points, br.ms, br.cpu_ms, (unsigned long long)br.samples_loaded, bd.ms,
                   bd.cpu_ms, (unsigned long long)bd.samples_loaded, br.ms / bd.ms, br.cpu_ms / bd.cpu_ms,
                   (unsigned long long)d.common, (unsigned long long)d.only_raw, (unsigned long long)d.only_ds,
                   (unsigned long long)d.differing, d.max_abs, d.max_rel, d.band_max_rel[0], d.band_max_rel[1],
                   d.band_max_rel[2]);
        } else {
            printf("\n%s  (%zu series in, step %lld s)\n", qs[k].q, qs[k].series_in, (long long)(qs[k].step / 1000));
            printf("  raw          %9.1f / %9.1f ms  %11llu samples loaded  %llu series, %llu points out\n", br.ms,
                   br.cpu_ms, (unsigned long long)br.samples_loaded, (unsigned long long)w0.series,
                   (unsigned long long)w0.points);
            printf("  downsampled  %9.1f / %9.1f ms  %11llu samples loaded  %llu series, %llu points out\n", bd.ms,
                   bd.cpu_ms, (unsigned long long)bd.samples_loaded, (unsigned long long)w1.series,
                   (unsigned long long)w1.points);
            printf("  speed-up     %9.1fx / %8.1fx (goal >= 10x, %s)\n", br.ms / bd.ms, br.cpu_ms / bd.cpu_ms,
                   qs[k].series_in == 1 ? "< 100 ms" : "< 2 s for 1,000 series");
            printf("  answers      %llu points in both, %llu differ (max abs %.6g, max rel %.3g; max rel by age "
                   "< %lldd: %.3g, to %lldd: %.3g, older: %.3g); only raw %llu, only downsampled %llu\n",
                   (unsigned long long)d.common, (unsigned long long)d.differing, d.max_abs, d.max_rel,
                   (long long)(o->rules[0].age_ms / DAY_MS), d.band_max_rel[0],
                   (long long)(o->rules[o->n_rules > 1 ? 1 : 0].age_ms / DAY_MS), d.band_max_rel[1],
                   d.band_max_rel[2], (unsigned long long)d.only_raw, (unsigned long long)d.only_ds);
        }
    }
out:
    if (rc)
        fprintf(stderr, "bench downsample: %s\n", strata_strerror(rc));
    strata_close(raw);
    strata_close(ds);
    if (!o->keep) {
        bench_rm_rf(raw_dir);
        bench_rm_rf(ds_dir);
    }
    return rc ? 1 : 0;
}

/* "30d:5m,180d:1h" into o->rules (no matchers: every series). */
static int parse_rules(ds_opts *o)
{
    const char *p = o->rules_text;
    o->n_rules = 0;
    while (*p) {
        const char *colon = strchr(p, ':'), *comma = strchr(p, ',');
        if (!comma)
            comma = p + strlen(p);
        if (!colon || colon > comma || o->n_rules == MAX_RULES)
            return -1;
        strata_downsampling_rule *r = &o->rules[o->n_rules++];
        memset(r, 0, sizeof *r);
        if (strata_parse_duration(p, (size_t)(colon - p), &r->age_ms, NULL) ||
            strata_parse_duration(colon + 1, (size_t)(comma - colon - 1), &r->resolution_ms, NULL))
            return -1;
        p = *comma ? comma + 1 : comma;
    }
    return o->n_rules ? 0 : -1;
}

int bench_downsample_main(int argc, char **argv)
{
    static const struct option lo[] = {{"series", required_argument, NULL, 'n'}, {"days", required_argument, NULL, 'D'},
                                       {"interval", required_argument, NULL, 'i'}, {"rules", required_argument, NULL, 'r'},
                                       {"seed", required_argument, NULL, 's'},     {"reps", required_argument, NULL, 'R'},
                                       {"dir", required_argument, NULL, 'd'},      {"keep", no_argument, NULL, 'k'},
                                       {"json", no_argument, NULL, 'j'},           {"help", no_argument, NULL, '?'},
                                       {0, 0, 0, 0}};
    ds_opts o = {.series = 58, .days = 365, .interval_ms = 15000, .rules_text = "30d:5m,180d:1h",
                 .seed = 2, .reps = 3, .dir = "/tmp"};
    const char *interval = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'n': o.series = strtoull(optarg, NULL, 10); break;
        case 'D': o.days = atoi(optarg); break;
        case 'i': interval = optarg; break;
        case 'r': o.rules_text = optarg; break;
        case 's': o.seed = strtoull(optarg, NULL, 10); break;
        case 'R': o.reps = atoi(optarg); break;
        case 'd': o.dir = optarg; break;
        case 'k': o.keep = true; break;
        case 'j': o.json = true; break;
        default:
            fprintf(stderr,
                    "usage: strata-bench downsample [--series N] [--days N] [--interval D] [--rules AGE:RES,...]\n"
                    "                               [--reps N] [--seed N] [--dir TMP] [--keep] [--json]\n"
                    "  node-like data (233 series an instance; default 58 series, 365 days at 15 s) ending now,\n"
                    "  into a raw database and one with the rules (default 30d:5m,180d:1h): bytes on disk,\n"
                    "  year-long max_over_time[1d] and rate[1h] latency on both, and the answers' difference\n");
            return 2;
        }
    }
    if (interval && strata_parse_duration(interval, strlen(interval), &o.interval_ms, NULL)) {
        fprintf(stderr, "bench downsample: bad --interval '%s'\n", interval);
        return 2;
    }
    if (o.series == 0 || o.days <= 0 || o.reps <= 0 || o.interval_ms <= 0 || DAY_MS % o.interval_ms) {
        fprintf(stderr, "bench downsample: --series, --days, --reps must be positive, --interval divide a day\n");
        return 2;
    }
    if (parse_rules(&o)) {
        fprintf(stderr, "bench downsample: bad --rules '%s' (AGE:RESOLUTION,...: 30d:5m,180d:1h)\n", o.rules_text);
        return 2;
    }
    return run(&o);
}
