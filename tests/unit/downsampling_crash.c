/*
 * downsampling_crash.c: a downsampling job (a rules job: every file of a
 * partition merged into the last level with the rules applied) cut short
 * by a power cut or a SIGKILL leaves each partition either as it was
 * before the job or as the job makes it, never a mix, loses nothing, and
 * leaves no orphan table file.
 *
 * The template database: series m{s="0".."n-1"} (even: counters with
 * resets, odd: gauges) sampled each minute (jitter inside the minute, no
 * sample on a day boundary) in six one-day partitions: 2 days old (raw,
 * no rule due), 44 and 45 days old (30d:5m due), 60 days old (already
 * downsampled to 5 m when the template was built, then late writes
 * between its samples: its rules job rolls them into the rows), 199 and
 * 200 days old (180d:1h due); series 2 follows a group of its own
 * (10d:1h), series 3 a retention rule of 100 days (its data in the two
 * oldest partitions goes in their jobs; the rule is set after the
 * template is written). Three flushes per partition (overwrites of
 * stretches in the second), and deletes of series 1 in the 45- and
 * 200-day partitions, so each rules job merges several inputs, applies
 * tombstones and writes aggregate blocks. Manifest rewrites at almost
 * every edit (manifest_rewrite_bytes), so cuts land inside them too.
 *
 * The answers of a database are, per series and partition, its rows
 * (strata_select_ex with agg_resolution_ms: raw samples as rows of count
 * 1), and count_over_time, sum_over_time and max_over_time of m[1d] at 1 d
 * steps (strata_query_range; a window is one partition). PRE are the
 * template's, POST those after an uninterrupted strata_compact; PRE and
 * POST agree (count and max exactly, sum within 1e-9), but for series 3
 * beyond its retention, which POST no longer has.
 *
 * After each cut or kill: strata_verify_dir passes, the database opens,
 * tables/ holds exactly the manifest's tables (no orphan, no *.tmp, none
 * missing), each partition's rows are PRE for every series or POST for
 * every series (one manifest edit installs a partition's job), each query
 * answer is the one of that side, strata_verify_dir passes after the
 * close, and a strata_compact then reaches POST everywhere.
 *
 *  - power cuts (faultvfs): the file operations of strata_compact and the
 *    close after it are counted in an uninterrupted run; then one run per
 *    sync and per DSC_CUTS-th operation, the power cut just before that
 *    operation (every unsynced write and directory operation kept, lost
 *    or torn by the seed; a third of the cuts harsh: every one lost);
 *  - SIGKILL: a forked child opens a copy and compacts; it is killed at a
 *    seed-chosen file operation (SIGKILL sent to itself from the vfs hook)
 *    or by the parent after a seed-chosen delay; half the rounds continue
 *    on the database the previous kill left (after its check).
 *
 * Seed: STRATA_SEED. Cuts: STRATA_DSC_CUTS (0: every operation), kills:
 * STRATA_DSC_KILLS. downsampling_crash_long.c cuts at every operation and
 * kills hundreds of times.
 */
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>

#include "db_testlib.h"
#include "engine/engine.h"
#include "engine/engine_int.h"
#include "faultvfs.h"

#ifndef DSC_DEFAULT_CUTS
#define DSC_DEFAULT_CUTS 0 /* cuts besides one per sync; 0: every operation */
#endif
#ifndef DSC_DEFAULT_ROUNDS
#define DSC_DEFAULT_ROUNDS 1 /* templates (seeds) cut */
#endif
#ifndef DSC_DEFAULT_KILLS
#define DSC_DEFAULT_KILLS 16
#endif
#ifndef DSC_KILL_SERIES
#define DSC_KILL_SERIES 96 /* series of the SIGKILL template: a job long enough to be hit by a timer */
#endif
#define DSC_CUT_SERIES 4

#define DAY 86400000LL
#define HOUR 3600000LL
#define MIN_MS 60000LL
#define NP 6
static const int part_age_days[NP] = {2, 44, 45, 60, 199, 200};
#define PRE_DOWNSAMPLED 3 /* the 60-day partition */

enum { Q_COUNT, Q_SUM, Q_MAX, NQ };
static const char *const q_fn[NQ] = {"count_over_time", "sum_over_time", "max_over_time"};

/* ------------------------------------------------------------ options */

/* Every series 30d:5m,180d:1h but series 2 ({s="2"}: 10d:1h, a group of
 * its own); series 3 keeps 100 days (a retention rule: its two oldest
 * partitions go in their rules jobs). */
static const strata_matcher s2[1] = {{STRATA_MATCH_EQ, "s", "2"}}, s3[1] = {{STRATA_MATCH_EQ, "s", "3"}};
static const strata_downsampling_rule dsc_rules[3] = {
    {s2, 1, 10 * DAY, HOUR}, {NULL, 0, 30 * DAY, 5 * MIN_MS}, {NULL, 0, 180 * DAY, HOUR}};
static const strata_retention_rule dsc_retention[1] = {{s3, 1, 100 * DAY}};
#define RETAINED_DAYS 100
#define OWN_GROUP_SERIES 2
#define RETAINED_SERIES 3

static bool expired(int k, int p) { return k == RETAINED_SERIES && part_age_days[p] > RETAINED_DAYS; }

/* with_retention: the retention rule too (not while the template is
 * written: writes beyond a series' retention may be refused). */
static void dsc_opts_r(strata_options *o, const char *dir, bool with_retention)
{
    strata_options_init(o);
    o->dir = dir;
    o->sync = STRATA_SYNC_ALWAYS;
    o->sync_interval_ms = 24 * HOUR;
    o->compaction_threads = 0;
    o->block_samples = 128;
    o->manifest_rewrite_bytes = 1024;
    o->downsampling_rules = dsc_rules;
    o->n_downsampling_rules = 3;
    if (with_retention) {
        o->retention_rules = dsc_retention;
        o->n_retention_rules = 1;
    }
}

static void dsc_opts(strata_options *o, const char *dir) { dsc_opts_r(o, dir, true); }

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ the template */

typedef struct dsc_tpl {
    char *dir;
    int n_series;
    int64_t part[NP]; /* partition starts */
    uint64_t seed;
} dsc_tpl;

static strata_sid dsc_series(strata_db *db, int k)
{
    char v[16];
    snprintf(v, sizeof v, "%d", k);
    strata_label l[2] = {{"__name__", "m"}, {"s", v}};
    strata_sid sid;
    assert_int_equal(strata_series_get_or_create(db, l, 2, &sid, NULL), STRATA_OK);
    return sid;
}

/* Minute i of partition p of series k: inside the minute, never on it. */
static int64_t dsc_time(const dsc_tpl *t, int k, int p, int i)
{
    return t->part[p] + i * MIN_MS + 1 + (int64_t)(test_mix(t->seed ^ (uint64_t)k << 40 ^ (uint64_t)p << 32 ^ (uint64_t)i) % 30000);
}

/* Writes minutes [lo, hi) of partition p of every series; values follow
 * the series' kind (counters count up by whole quarters and now and then
 * reset; gauges are hundredths), bumped by `bump` for overwrites. */
static void dsc_write(strata_db *db, const dsc_tpl *t, const strata_sid *sids, int p, int lo, int hi, double bump,
                      int64_t shift)
{
    strata_sample *b = malloc((size_t)(hi - lo) * sizeof *b);
    assert_non_null(b);
    for (int k = 0; k < t->n_series; k++) {
        test_rng r;
        test_rng_init(&r, t->seed ^ test_mix((uint64_t)k * 100 + (uint64_t)p));
        double v = 0;
        size_t n = 0;
        for (int i = 0; i < hi; i++) {
            if (k % 2 == 0)
                v = test_rng_below(&r, 400) == 0 ? (double)test_rng_below(&r, 8) : v + (double)test_rng_below(&r, 40) / 4;
            else
                v = round(((double)test_rng_below(&r, 200001) - 100000)) / 100;
            if (i >= lo)
                b[n++] = (strata_sample){sids[k], dsc_time(t, k, p, i) + shift, v + bump};
        }
        assert_int_equal(strata_write(db, b, n), STRATA_OK);
    }
    free(b);
}

static void dsc_build(dsc_tpl *t, int n_series, uint64_t seed, const char *tag)
{
    t->dir = test_tmpdir(tag);
    t->n_series = n_series;
    t->seed = seed;
    int64_t today = wall_ms() / DAY * DAY;
    for (int p = 0; p < NP; p++)
        t->part[p] = today - part_age_days[p] * DAY;
    strata_options o;
    dsc_opts_r(&o, t->dir, false);
    o.sync = STRATA_SYNC_NONE;
    strata_db *db = NULL;
    assert_int_equal(strata_open(&o, &db), STRATA_OK);
    strata_sid *sids = malloc((size_t)n_series * sizeof *sids);
    assert_non_null(sids);
    for (int k = 0; k < n_series; k++)
        sids[k] = dsc_series(db, k);
    /* the 60-day partition first, downsampled alone */
    dsc_write(db, t, sids, PRE_DOWNSAMPLED, 0, 1440, 0, 0);
    assert_int_equal(strata_flush(db), STRATA_OK);
    assert_int_equal(strata_compact(db, 0), STRATA_OK);
    test_rng r;
    test_rng_init(&r, seed);
    for (int p = 0; p < NP; p++)
        if (p != PRE_DOWNSAMPLED)
            dsc_write(db, t, sids, p, 0, 1440, 0, 0);
    assert_int_equal(strata_flush(db), STRATA_OK);
    for (int p = 0; p < NP; p++) {
        int lo = (int)test_rng_below(&r, 1200);
        if (p == PRE_DOWNSAMPLED) /* late writes between its samples */
            dsc_write(db, t, sids, p, lo, lo + 200, 0.5, 40000);
        else /* overwrites */
            dsc_write(db, t, sids, p, lo, lo + 200, 0.25, 0);
    }
    assert_int_equal(strata_flush(db), STRATA_OK);
    strata_matcher one[2] = {{STRATA_MATCH_EQ, "__name__", "m"}, {STRATA_MATCH_EQ, "s", "1"}};
    assert_int_equal(strata_delete(db, one, 2, t->part[2] + 3 * HOUR, t->part[2] + 5 * HOUR), STRATA_OK);
    assert_int_equal(strata_delete(db, one, 2, t->part[5] + 20 * HOUR, t->part[5] + 26 * HOUR), STRATA_OK);
    for (int p = 1; p < NP; p += 2) {
        int lo = (int)test_rng_below(&r, 1200);
        dsc_write(db, t, sids, p, lo, lo + 100, 0, 45000);
    }
    assert_int_equal(strata_flush(db), STRATA_OK);
    assert_int_equal(strata_close(db), STRATA_OK);
    free(sids);
}

/* ------------------------------------------------------------ answers */

typedef struct dsc_rows {
    strata_agg *v;
    size_t n, cap;
} dsc_rows;

typedef struct dsc_ans {
    bool has;
    double v;
} dsc_ans;

/* A database's answers: per series k and partition p, rows[k * NP + p],
 * q[(k * NP + p) * NQ + f]. */
typedef struct dsc_state {
    int n_series;
    dsc_rows *rows;
    dsc_ans *q;
} dsc_state;

static void state_init(dsc_state *s, int n_series)
{
    s->n_series = n_series;
    s->rows = calloc((size_t)n_series * NP, sizeof *s->rows);
    s->q = calloc((size_t)n_series * NP * NQ, sizeof *s->q);
    assert_non_null(s->rows);
    assert_non_null(s->q);
}

static void state_free(dsc_state *s)
{
    for (int i = 0; i < s->n_series * NP; i++)
        free(s->rows[i].v);
    free(s->rows);
    free(s->q);
}

static int part_of(const dsc_tpl *t, int64_t ts)
{
    for (int p = 0; p < NP; p++)
        if (ts >= t->part[p] && ts < t->part[p] + DAY)
            return p;
    return -1;
}

static int series_of(const strata_label *l, size_t nl)
{
    for (size_t i = 0; i < nl; i++)
        if (!strcmp(l[i].name, "s"))
            return atoi(l[i].value);
    return -1;
}

static void rows_push(dsc_state *s, const dsc_tpl *t, int k, const strata_agg *a, const char *what)
{
    int p = part_of(t, a->t_last);
    if (k < 0 || k >= s->n_series || p < 0)
        fail_msg("%s: series %d has a row outside the partitions written (t_last %" PRId64 ")", what, k, a->t_last);
    dsc_rows *r = &s->rows[k * NP + p];
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 256;
        r->v = realloc(r->v, r->cap * sizeof *r->v);
        assert_non_null(r->v);
    }
    r->v[r->n++] = *a;
}

static void state_read(strata_db *db, const dsc_tpl *t, dsc_state *s, const char *what)
{
    state_init(s, t->n_series);
    strata_matcher m = {STRATA_MATCH_EQ, "__name__", "m"};
    strata_selector sel = {&m, 1, 0};
    strata_read_options ro;
    strata_read_options_init(&ro);
    ro.agg_resolution_ms = DAY;
    int64_t lo = t->part[NP - 1], hi = t->part[0] + DAY;
    strata_cursor *c = NULL;
    assert_int_equal(strata_select_ex(db, &sel, 1, lo, hi, 0, &ro, &c), STRATA_OK);
    strata_sid sid;
    const strata_label *l;
    size_t nl;
    int rc;
    while ((rc = strata_cursor_next_series(c, &sid, &l, &nl)) == 1) {
        int k = series_of(l, nl);
        const strata_agg *rows;
        size_t n;
        if (strata_cursor_next_aggs(c, &rows, &n) == 1) /* the rows, then the other samples */
            for (size_t i = 0; i < n; i++)
                rows_push(s, t, k, &rows[i], what);
        const int64_t *ts;
        const double *v;
        while ((rc = strata_cursor_next_samples(c, &ts, &v, &n)) == 1)
            for (size_t i = 0; i < n; i++) {
                strata_agg a = {ts[i], ts[i], 1, v[i], v[i], v[i], v[i], v[i], 0, 0};
                rows_push(s, t, k, &a, what);
            }
        if (rc != 0)
            fail_msg("%s: reading samples: %s", what, strata_strerror(rc));
    }
    if (rc != 0)
        fail_msg("%s: reading series: %s", what, strata_strerror(rc));
    strata_cursor_close(c);

    for (int f = 0; f < NQ; f++) {
        char q[64];
        snprintf(q, sizeof q, "%s(m[1d])", q_fn[f]);
        strata_result *res = NULL;
        strata_query_error err;
        rc = strata_query_range(db, q, strlen(q), lo + DAY, hi, DAY, NULL, &res, &err);
        if (rc)
            fail_msg("%s: %s: %s", what, q, err.msg);
        for (size_t i = 0; i < strata_result_series_count(res); i++) {
            strata_query_series qs;
            strata_result_series(res, i, &qs);
            int k = series_of(qs.labels, qs.n_labels);
            for (size_t j = 0; j < qs.n_points; j++) {
                int p = part_of(t, qs.points[j].t_ms - DAY);
                if (k < 0 || k >= s->n_series || p < 0)
                    fail_msg("%s: %s answers for series %d at %" PRId64 ", where nothing was written", what, q, k,
                             qs.points[j].t_ms);
                s->q[(k * NP + p) * NQ + f] = (dsc_ans){true, qs.points[j].value};
            }
        }
        strata_result_free(res);
    }
}

static bool rows_equal(const dsc_rows *a, const dsc_rows *b)
{
    return a->n == b->n && (a->n == 0 || memcmp(a->v, b->v, a->n * sizeof *a->v) == 0);
}

static bool ans_equal(dsc_ans a, dsc_ans b)
{
    return a.has == b.has && (!a.has || dbt_bits(a.v) == dbt_bits(b.v));
}

/* PRE and POST answer alike (the job changes the form, not the answers),
 * and POST differs from PRE where a rule applies. */
static void check_pre_post(const dsc_tpl *t, const dsc_state *pre, const dsc_state *post)
{
    int changed = 0;
    for (int k = 0; k < t->n_series; k++)
        for (int p = 0; p < NP; p++) {
            if (!rows_equal(&pre->rows[k * NP + p], &post->rows[k * NP + p]))
                changed++;
            for (int f = 0; f < NQ; f++) {
                dsc_ans a = pre->q[(k * NP + p) * NQ + f], b = post->q[(k * NP + p) * NQ + f];
                if (expired(k, p)) {
                    if (b.has)
                        fail_msg("series %d, partition of %d days: %s answers beyond the series' retention", k,
                                 part_age_days[p], q_fn[f]);
                    continue;
                }
                if (!a.has || !b.has)
                    fail_msg("series %d, partition of %d days: %s answers before the job %d, after %d", k,
                             part_age_days[p], q_fn[f], a.has, b.has);
                double d = fabs(a.v - b.v), tol = f == Q_SUM ? 1e-9 * fmax(fabs(a.v), fabs(b.v)) : 0;
                if (d > tol)
                    fail_msg("series %d, partition of %d days: %s %.17g before the job, %.17g after", k,
                             part_age_days[p], q_fn[f], a.v, b.v);
            }
        }
    /* every partition but the raw one changes form (the expired ones of
     * the retained series may read as nothing before the job already) */
    int want = t->n_series * (NP - 1) - 2;
    if (changed < want)
        fail_msg("the rules jobs changed only %d series' partitions, want at least %d", changed, want);
    /* the 1 h partitions hold at most 24 rows a series, the 5 m ones 288;
     * the expired ones nothing */
    for (int k = 0; k < t->n_series; k++) {
        assert_true(post->rows[k * NP + 0].n > 1000);
        for (int p = 1; p < NP; p++) {
            size_t n = post->rows[k * NP + p].n;
            bool hourly = part_age_days[p] > 180 || k == OWN_GROUP_SERIES;
            if (expired(k, p) ? n != 0 : n < 1 || n > (hourly ? 24u : 288u))
                fail_msg("series %d, partition of %d days: %zu rows after the job", k, part_age_days[p], n);
        }
    }
}

/* Each partition PRE for every series or POST for every series; each
 * answer of its side. Returns a bit set of the partitions at POST (only
 * those differing from PRE). */
static unsigned check_state(const dsc_tpl *t, const dsc_state *pre, const dsc_state *post, const dsc_state *got,
                            const char *what)
{
    unsigned at_post = 0;
    for (int p = 0; p < NP; p++) {
        int n_pre = 0, n_post = 0;
        for (int k = 0; k < t->n_series; k++) {
            const dsc_rows *g = &got->rows[k * NP + p];
            bool is_pre = rows_equal(g, &pre->rows[k * NP + p]), is_post = rows_equal(g, &post->rows[k * NP + p]);
            if (!is_pre && !is_post)
                fail_msg("%s: series %d, partition of %d days: %zu rows, neither the %zu before the job nor the %zu "
                         "after it",
                         what, k, part_age_days[p], g->n, pre->rows[k * NP + p].n, post->rows[k * NP + p].n);
            n_pre += is_pre && !is_post;
            n_post += is_post && !is_pre;
            for (int f = 0; f < NQ; f++) {
                size_t i = (size_t)(k * NP + p) * NQ + (size_t)f;
                dsc_ans a = got->q[i];
                bool ok = (is_pre && ans_equal(a, pre->q[i])) || (is_post && ans_equal(a, post->q[i]));
                if (!ok)
                    fail_msg("%s: series %d, partition of %d days: %s = %.17g (present %d), before the job %.17g, "
                             "after %.17g, rows %s",
                             what, k, part_age_days[p], q_fn[f], a.v, a.has, pre->q[i].v, post->q[i].v,
                             is_pre ? "as before" : "as after");
            }
        }
        if (n_pre && n_post)
            fail_msg("%s: partition of %d days half done: %d series as before the job, %d as after", what,
                     part_age_days[p], n_pre, n_post);
        if (n_post)
            at_post |= 1u << p;
    }
    return at_post;
}

/* ------------------------------------------------------------ the directory */

static void verify_problem(void *ctx, const char *file, int64_t off, const char *message)
{
    int *n = ctx;
    (*n)++;
    print_error("verify: %s at %" PRId64 ": %s\n", file, off, message);
}

static void verify_ok(const char *dir, const char *what, const char *when)
{
    int problems = 0;
    int rc = strata_verify_dir(dir, verify_problem, &problems);
    if (rc != STRATA_OK || problems)
        fail_msg("%s: verify %s: %s, %d problem(s)", what, when, strata_strerror(rc), problems);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* tables/ holds exactly the tables of db's manifest. */
static void no_orphans(strata_db *db, const char *dir, const char *what)
{
    db_version *v = db_version_pin(db);
    size_t n = v->n_tables;
    uint64_t *want = malloc((n + 1) * sizeof *want);
    assert_non_null(want);
    for (size_t i = 0; i < n; i++)
        want[i] = v->tables[i].m.file_no;
    db_version_unpin(v);
    qsort(want, n, sizeof *want, cmp_u64);
    char path[4096];
    dbt_fmt(path, sizeof path, "%s/tables", dir);
    DIR *d = opendir(path);
    assert_non_null(d);
    struct dirent *e;
    size_t found = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *end = NULL;
        unsigned long long no = strtoull(e->d_name, &end, 10);
        if (!end || strcmp(end, ".tbl") != 0 || strlen(e->d_name) != 16)
            fail_msg("%s: tables/%s left after recovery", what, e->d_name);
        uint64_t key = no;
        if (!bsearch(&key, want, n, sizeof *want, cmp_u64))
            fail_msg("%s: orphan tables/%s: not in the manifest (%zu tables)", what, e->d_name, n);
        found++;
    }
    closedir(d);
    if (found != n)
        fail_msg("%s: the manifest has %zu tables, tables/ %zu", what, n, found);
    free(want);
}

/* The whole check of a directory left by a cut or a kill. Returns the
 * partitions found at POST. */
static unsigned check_dir(const dsc_tpl *t, const dsc_state *pre, const dsc_state *post, const char *dir,
                          const char *what, bool complete)
{
    verify_ok(dir, what, "before recovery");
    strata_options o;
    dsc_opts(&o, dir);
    strata_db *db = NULL;
    int rc = strata_open(&o, &db);
    if (rc)
        fail_msg("%s: open: %s (%s)", what, strata_strerror(rc), strata_errmsg());
    no_orphans(db, dir, what);
    dsc_state got;
    state_read(db, t, &got, what);
    unsigned at_post = check_state(t, pre, post, &got, what);
    state_free(&got);
    assert_int_equal(strata_close(db), STRATA_OK);
    verify_ok(dir, what, "after recovery");
    if (complete) { /* and the work completes */
        char w2[300];
        snprintf(w2, sizeof w2, "%s, then compacted", what);
        assert_int_equal(strata_open(&o, &db), STRATA_OK);
        rc = strata_compact(db, 0);
        if (rc)
            fail_msg("%s: %s", w2, strata_strerror(rc));
        no_orphans(db, dir, w2);
        state_read(db, t, &got, w2);
        unsigned done = check_state(t, pre, post, &got, w2);
        state_free(&got);
        assert_int_equal(strata_close(db), STRATA_OK);
        if (done != (1u << NP) - 2u)
            fail_msg("%s: partitions at the post-job state: %#x", w2, done);
        verify_ok(dir, w2, "after the compaction");
    }
    return at_post;
}

/* PRE and POST of a template, from copies. */
static void read_pre_post(const dsc_tpl *t, const char *base, dsc_state *pre, dsc_state *post)
{
    char dir[4096];
    dbt_fmt(dir, sizeof dir, "%s/prepost", base);
    test_rmtree(dir);
    dbt_copy_tree(t->dir, dir);
    strata_options o;
    dsc_opts(&o, dir);
    strata_db *db = NULL;
    assert_int_equal(strata_open(&o, &db), STRATA_OK);
    state_read(db, t, pre, "before the job");
    assert_int_equal(strata_compact(db, 0), STRATA_OK);
    assert_int_equal(strata_close(db), STRATA_OK);
    assert_int_equal(strata_open(&o, &db), STRATA_OK);
    no_orphans(db, dir, "after the job");
    state_read(db, t, post, "after the job");
    assert_int_equal(strata_close(db), STRATA_OK);
    verify_ok(dir, "after the job", "");
    check_pre_post(t, pre, post);
    test_rmtree(dir);
}

/* ------------------------------------------------------------ the vfs hook */

typedef struct dsc_hook {
    faultvfs *fv;
    atomic_bool armed;
    atomic_ulong n;      /* operations since armed */
    uint64_t at;         /* 0: none; else the operation to cut (or kill) before */
    bool kill;           /* SIGKILL instead of a power cut */
    uint64_t *syncs;     /* operation numbers of the syncs (when recording) */
    size_t n_syncs, cap_syncs;
    fv_op at_op;         /* what was cut */
    char at_path[256];
} dsc_hook;

static const char *const op_name[FV_N_OPS] = {"open", "close", "pwrite", "pread", "ftruncate",
                                             "fsync", "rename", "unlink", "mkdir", "fsync_dir"};

static int dsc_hook_fn(void *ctx, fv_op op, const char *path, uint64_t off)
{
    (void)off;
    dsc_hook *h = ctx;
    if (!atomic_load(&h->armed))
        return 0;
    uint64_t n = atomic_fetch_add(&h->n, 1) + 1;
    if (h->syncs && (op == FV_FSYNC || op == FV_FSYNC_DIR)) {
        if (h->n_syncs == h->cap_syncs) {
            h->cap_syncs = h->cap_syncs ? h->cap_syncs * 2 : 64;
            h->syncs = realloc(h->syncs, h->cap_syncs * sizeof *h->syncs);
            if (!h->syncs)
                abort();
        }
        h->syncs[h->n_syncs++] = n;
    }
    if (h->at && n == h->at) {
        h->at_op = op;
        snprintf(h->at_path, sizeof h->at_path, "%s", path);
        if (h->kill)
            kill(getpid(), SIGKILL);
        faultvfs_cut_now(h->fv);
        return STRATA_ERR_IO;
    }
    return 0;
}

/* Opens dir through fv, arms the hook, compacts and closes. */
static int dsc_compact_vfs(const char *dir, faultvfs *fv, dsc_hook *h)
{
    strata_options o;
    dsc_opts(&o, dir);
    strata_db *db = NULL;
    int rc = engine_open_vfs(&o, faultvfs_vfs(fv), &db);
    if (rc)
        return rc;
    atomic_store(&h->armed, true);
    rc = strata_compact(db, 0);
    int rc2 = strata_close(db);
    atomic_store(&h->armed, false);
    return rc ? rc : rc2;
}

/* ------------------------------------------------------------ power cuts */

static long env_long(const char *name, long dflt)
{
    const char *e = getenv(name);
    return e && *e ? atol(e) : dflt;
}

static void cut_once(const dsc_tpl *t, const dsc_state *pre, const dsc_state *post, const char *base, uint64_t at,
                     uint64_t cseed, bool harsh, unsigned *post_seen, unsigned *kept, unsigned *dropped,
                     unsigned *torn)
{
    char dir[4096];
    dbt_fmt(dir, sizeof dir, "%s/cut", base);
    test_rmtree(dir);
    dbt_copy_tree(t->dir, dir);
    faultvfs *fv = faultvfs_new(dir, cseed);
    assert_non_null(fv);
    faultvfs_set_harsh(fv, harsh);
    dsc_hook h = {.fv = fv, .at = at};
    faultvfs_set_hook(fv, dsc_hook_fn, &h);
    int rc = dsc_compact_vfs(dir, fv, &h);
    if (rc != STRATA_OK && !faultvfs_cut_done(fv))
        fail_msg("cut before operation %" PRIu64 ": failed without a cut: %s", at, strata_strerror(rc));
    faultvfs_cut_now(fv);
    unsigned k = 0, d = 0, tn = 0;
    assert_int_equal(faultvfs_apply_cut(fv, &k, &d, &tn), 0);
    faultvfs_free(fv);
    *kept += k;
    *dropped += d;
    *torn += tn;
    char what[512];
    snprintf(what, sizeof what, "seed %llu: power cut before operation %llu (%s %s), cut seed %llu%s",
             (unsigned long long)t->seed, (unsigned long long)at, h.at ? op_name[h.at_op] : "-", h.at_path,
             (unsigned long long)cseed, harsh ? " (harsh)" : "");
    *post_seen |= check_dir(t, pre, post, dir, what, true);
}

/* One template (seed): its rules jobs cut at every sync and every
 * stride-th operation (cuts: their number besides the syncs; 0 every
 * operation). */
static void cut_round(uint64_t seed, long cuts, int round, const char *base)
{
    double t0 = mono_s();
    dsc_tpl t;
    dsc_build(&t, DSC_CUT_SERIES, seed, "ds_cut_tpl");
    dsc_state pre, post;
    read_pre_post(&t, base, &pre, &post);
    double t1 = mono_s();

    /* an uninterrupted run through the vfs: its operations and syncs */
    char dir[4096];
    dbt_fmt(dir, sizeof dir, "%s/cal", base);
    dbt_copy_tree(t.dir, dir);
    faultvfs *fv = faultvfs_new(dir, seed);
    assert_non_null(fv);
    dsc_hook h = {.fv = fv, .syncs = malloc(64 * sizeof(uint64_t)), .cap_syncs = 64};
    assert_non_null(h.syncs);
    faultvfs_set_hook(fv, dsc_hook_fn, &h);
    assert_int_equal(dsc_compact_vfs(dir, fv, &h), STRATA_OK);
    faultvfs_free(fv);
    uint64_t total = atomic_load(&h.n);
    unsigned done = check_dir(&t, &pre, &post, dir, "uninterrupted through the fault vfs", false);
    assert_int_equal(done, (1u << NP) - 2u);
    test_rmtree(dir);

    uint64_t stride = cuts > 0 && (uint64_t)cuts < total ? total / (uint64_t)cuts : 1;
    /* the cut points: every sync, every stride-th operation, the last */
    uint64_t *at = malloc((total + h.n_syncs + 2) * sizeof *at);
    assert_non_null(at);
    size_t n_at = 0;
    for (size_t i = 0; i < h.n_syncs; i++)
        at[n_at++] = h.syncs[i];
    for (uint64_t n = 1; n <= total; n += stride)
        at[n_at++] = n;
    at[n_at++] = total;
    qsort(at, n_at, sizeof *at, cmp_u64);
    size_t m = 0;
    for (size_t i = 0; i < n_at; i++)
        if (m == 0 || at[i] != at[m - 1])
            at[m++] = at[i];
    unsigned kept = 0, dropped = 0, torn = 0;
    int by_count[NP + 1] = {0};
    for (size_t i = 0; i < m; i++) {
        unsigned seen = 0;
        cut_once(&t, &pre, &post, base, at[i], test_mix(seed + at[i]), (i + (size_t)round) % 3 == 2, &seen, &kept,
                 &dropped, &torn);
        by_count[__builtin_popcount(seen)]++;
    }
    /* the cuts landed before, inside and after the jobs */
    assert_true(by_count[0] > 0);
    assert_true(by_count[NP - 1] > 0);
    print_message("seed %llu: rules jobs of %d partitions: %llu file operations, %zu syncs; %zu power cuts (every "
                  "sync, every %llu-th operation); partitions done at the cut: ",
                  (unsigned long long)seed, NP - 1, (unsigned long long)total, h.n_syncs, m,
                  (unsigned long long)stride);
    for (int i = 0; i <= NP - 1; i++)
        print_message("%d:%d ", i, by_count[i]);
    print_message("\n  unsynced sectors kept %u, dropped %u, torn %u; template %.2f s, cuts %.2f s\n", kept, dropped,
                  torn, t1 - t0, mono_s() - t1);
    free(at);
    free(h.syncs);
    state_free(&pre);
    state_free(&post);
    test_rmtree(t.dir);
    free(t.dir);
}

static void power_cut_during_rules_jobs_leaves_each_partition_before_or_after(void **state)
{
    (void)state;
    uint64_t seed = test_seed(1414);
    char *base = test_tmpdir("ds_cut");
    long cuts = env_long("STRATA_DSC_CUTS", DSC_DEFAULT_CUTS);
    long rounds = env_long("STRATA_DSC_ROUNDS", DSC_DEFAULT_ROUNDS);
    for (long i = 0; i < rounds; i++)
        cut_round(i ? test_mix(seed + (uint64_t)i) : seed, cuts, (int)i, base);
    test_rmtree(base);
    free(base);
}

/* ------------------------------------------------------------ SIGKILL */

/* The child: compacts dir, killing itself before operation at (0: never)
 * or waiting for the parent's kill after writing a byte to fd. Never
 * returns. */
static void child_compact(const char *dir, uint64_t at, int fd)
{
    int rc;
    if (at) {
        faultvfs *fv = faultvfs_new(dir, 1);
        if (!fv)
            _exit(3);
        dsc_hook h = {.fv = fv, .at = at, .kill = true};
        faultvfs_set_hook(fv, dsc_hook_fn, &h);
        rc = dsc_compact_vfs(dir, fv, &h);
    } else {
        strata_options o;
        dsc_opts(&o, dir);
        strata_db *db = NULL;
        rc = strata_open(&o, &db);
        if (rc == STRATA_OK) {
            char c = 'o';
            if (write(fd, &c, 1) != 1)
                _exit(4);
            rc = strata_compact(db, 0);
            int rc2 = strata_close(db);
            rc = rc ? rc : rc2;
        }
    }
    if (rc)
        fprintf(stderr, "child: %s\n", strata_strerror(rc));
    _exit(rc ? 2 : 0);
}

/* Runs a child on dir; kills it at operation at, or delay_s after it
 * opened the database. Returns whether it was killed (else it finished)
 * and the time from open to exit in *run_s. */
static bool run_child(const char *dir, uint64_t at, double delay_s, double *run_s)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        child_compact(dir, at, p[1]);
    }
    close(p[1]);
    double t0 = mono_s();
    if (!at) {
        char c;
        if (read(p[0], &c, 1) != 1)
            fail_msg("the child did not open %s", dir);
        t0 = mono_s();
        if (delay_s >= 0) {
            struct timespec ts = {(time_t)delay_s, (long)((delay_s - (double)(time_t)delay_s) * 1e9)};
            nanosleep(&ts, NULL);
            kill(pid, SIGKILL);
        }
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    *run_s = mono_s() - t0;
    close(p[0]);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        return true;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("the child ended with status %#x before any kill", status);
    return false;
}

static void sigkill_during_rules_jobs_leaves_each_partition_before_or_after(void **state)
{
    (void)state;
    uint64_t seed = test_seed(1414);
    char *base = test_tmpdir("ds_kill");
    double t0 = mono_s();
    dsc_tpl t;
    dsc_build(&t, DSC_KILL_SERIES, seed ^ 0x5eed, "ds_kill_tpl");
    dsc_state pre, post;
    read_pre_post(&t, base, &pre, &post);

    /* calibration: an uninterrupted child, its time and its operations */
    char dir[4096];
    dbt_fmt(dir, sizeof dir, "%s/cal", base);
    dbt_copy_tree(t.dir, dir);
    double cal_s;
    assert_false(run_child(dir, 0, -1, &cal_s));
    test_rmtree(dir);
    dbt_copy_tree(t.dir, dir);
    faultvfs *fv = faultvfs_new(dir, seed);
    assert_non_null(fv);
    dsc_hook h = {.fv = fv};
    faultvfs_set_hook(fv, dsc_hook_fn, &h);
    assert_int_equal(dsc_compact_vfs(dir, fv, &h), STRATA_OK);
    faultvfs_free(fv);
    uint64_t total = atomic_load(&h.n);
    test_rmtree(dir);
    print_message("SIGKILL: %d series, the uninterrupted job %.3f s, %llu file operations\n", DSC_KILL_SERIES, cal_s,
                  (unsigned long long)total);

    long kills = env_long("STRATA_DSC_KILLS", DSC_DEFAULT_KILLS);
    test_rng r;
    test_rng_init(&r, seed);
    dbt_fmt(dir, sizeof dir, "%s/work", base);
    int fresh = 0, finished = 0, timed_finished = 0, tmp_left = 0, by_count[NP + 1] = {0};
    unsigned seen = 0;
    for (long i = 0; i < kills; i++) {
        if (i == 0 || test_rng_below(&r, 2)) {
            test_rmtree(dir);
            dbt_copy_tree(t.dir, dir);
            fresh++;
            seen = 0;
        }
        /* the operations left: about those of the partitions not done */
        uint64_t left = total * (uint64_t)(NP - 1 - __builtin_popcount(seen)) / (NP - 1);
        bool timed = i % 2 == 1;
        uint64_t at = timed ? 0 : 1 + test_rng_below(&r, left ? left : 1);
        double delay = timed ? test_rng_double(&r) * cal_s * 1.1 * (double)left / (double)total : -1, run_s;
        char what[300];
        if (timed)
            snprintf(what, sizeof what, "seed %llu, kill %ld: SIGKILL %.4f s after the open", (unsigned long long)seed,
                     i, delay);
        else
            snprintf(what, sizeof what, "seed %llu, kill %ld: SIGKILL before file operation %llu",
                     (unsigned long long)seed, i, (unsigned long long)at);
        bool killed = run_child(dir, at, delay, &run_s);
        if (!killed) {
            finished++;
            timed_finished += timed;
        }
        if (getenv("STRATA_DSC_VERBOSE"))
            print_message("%s: %s after %.4f s\n", what, killed ? "killed" : "finished", run_s);
        char tables[4096];
        dbt_fmt(tables, sizeof tables, "%s/tables", dir);
        DIR *d = opendir(tables);
        assert_non_null(d);
        struct dirent *e;
        bool tmp = false;
        while ((e = readdir(d)))
            tmp |= strstr(e->d_name, ".tmp") != NULL;
        closedir(d);
        tmp_left += tmp;
        bool complete = i % 4 == 3;
        unsigned got = check_dir(&t, &pre, &post, dir, what, complete);
        by_count[__builtin_popcount(got)]++;
        seen = complete ? (1u << NP) - 2u : got;
    }
    print_message("%ld kills (%d from the template; finished before the kill %d, %d of them timed; *.tmp at the "
                  "kill %d); partitions done at the kill: ",
                  kills, fresh, finished, timed_finished, tmp_left);
    for (int i = 0; i <= NP - 1; i++)
        print_message("%d:%d ", i, by_count[i]);
    print_message("\n%.2f s\n", mono_s() - t0);
    state_free(&pre);
    state_free(&post);
    test_rmtree(t.dir);
    free(t.dir);
    test_rmtree(base);
    free(base);
}

int main(void)
{
    /* many copies written and checked: use memory when the caller did not choose */
    if (!getenv("TMPDIR") && access("/dev/shm", W_OK) == 0)
        setenv("TMPDIR", "/dev/shm", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(power_cut_during_rules_jobs_leaves_each_partition_before_or_after),
        cmocka_unit_test(sigkill_during_rules_jobs_leaves_each_partition_before_or_after),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
