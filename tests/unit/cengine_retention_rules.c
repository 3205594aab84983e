/*
 * cengine_retention_rules.c: retention per series (strata_options'
 * retention_rules) at the engine level, through the public API only.
 *
 * Five series (label s = dev, devx, team, other, keep) get hourly samples
 * over six one-day partitions (now - 5 d .. now) written without rules,
 * flushed and closed. The database is then reopened with
 *     {env="dev"}:1d, {team="x"}:3d, and retention_ms 2d for the rest,
 * so dev and devx (env="dev"; devx also has team="x": the first rule wins)
 * keep 1 d, team 3 d (longer than the global retention), other and keep 2 d.
 *
 *  - reads_hide_each_series_at_its_own_retention: each series reads back
 *    exactly its samples not older than its own cut, at once (nothing was
 *    compacted); a series-only selection over an old range finds only the
 *    series that still keep data there; partitions entirely older than the
 *    longest retention (3 d) are dropped at open, the newer ones kept.
 *  - writes_are_refused_by_the_series_own_retention: strata_write refuses
 *    a sample older than its series' retention, with the reason in
 *    strata_errmsg, and takes the same timestamp for a longer-lived series;
 *    a batch holding one refused sample is refused whole.
 *  - no_global_retention_never_drops_partitions: with rules but no global
 *    retention, every partition stays (series without a rule keep all).
 *  - bad_rules_are_refused_at_open: selectors without matchers, durations
 *    not positive, downsampling rules out of order, not multiples, not
 *    dividing the partition width (given, or the directory's own).
 *
 * Compaction removing expired samples physically needs the compactor's
 * per-series cut (compact.c filling cpt_run_args.rules): the part of the
 * first test that checks it runs when COMPACTION_CUTS_PER_SERIES is 1.
 *
 * The cuts move with the clock while the test runs, so each check is made
 * against the cut taken before (lo) and after (hi) the read it judges.
 */
#include <stdbool.h>
#include <time.h>

#include "db_testlib.h"

#ifndef COMPACTION_CUTS_PER_SERIES
#define COMPACTION_CUTS_PER_SERIES 1
#endif

#define DAY_MS (24LL * 3600 * 1000)
#define HOUR_MS (3600 * 1000LL)
#define NS 5

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The series: the value of label s, env, team, and its retention under
 * the rules of rules_opts (0: keeps everything). */
static const struct {
    const char *s, *env, *team;
    int64_t ret_ms;
} series[NS] = {
    {"dev", "dev", "y", 1 * DAY_MS},
    {"devx", "dev", "x", 1 * DAY_MS}, /* both rules match: the first wins */
    {"team", "prod", "x", 3 * DAY_MS},
    {"other", "prod", "y", 2 * DAY_MS},
    {"keep", "prod", "z", 2 * DAY_MS},
};

typedef struct fixture {
    char *dir;
    int64_t start, last; /* first partition's start, newest timestamp written */
    strata_file_info *files; /* as of the close */
    size_t n_files;
    dbt_log lg;
    strata_matcher m_dev, m_team;
    strata_retention_rule rules[2];
} fixture;

static void base_opts(strata_options *o, fixture *f)
{
    dbt_options(o, f->dir);
    o->partition_ms = DAY_MS;
    o->sync = STRATA_SYNC_NONE;
    o->block_samples = 50;
    o->log_fn = dbt_log_fn;
    o->log_ctx = &f->lg;
}

static void rules_opts(strata_options *o, fixture *f, int64_t global_ms)
{
    base_opts(o, f);
    f->m_dev = (strata_matcher){STRATA_MATCH_EQ, "env", "dev"};
    f->m_team = (strata_matcher){STRATA_MATCH_RE, "team", "x|w"};
    f->rules[0] = (strata_retention_rule){&f->m_dev, 1, 1 * DAY_MS};
    f->rules[1] = (strata_retention_rule){&f->m_team, 1, 3 * DAY_MS};
    o->retention_ms = global_ms;
    o->retention_rules = f->rules;
    o->n_retention_rules = 2;
}

static strata_sid make_series(strata_db *db, int i)
{
    strata_label l[4] = {{"__name__", "m"}, {"env", series[i].env}, {"s", series[i].s}, {"team", series[i].team}};
    strata_sid sid;
    int rc = strata_series_get_or_create(db, l, 4, &sid, NULL);
    if (rc)
        fail_msg("get_or_create %s: %s", series[i].s, strata_strerror(rc));
    return sid;
}

/* The value written at t: derived from the seed, so a read can be checked. */
static double value_at(uint64_t seed, int i, int64_t t)
{
    return (double)(test_mix(seed ^ (uint64_t)t ^ (uint64_t)i << 56) >> 20);
}

static uint64_t seed;

static void fixture_build(fixture *f, const char *tag)
{
    memset(f, 0, sizeof *f);
    f->lg.quiet = 1;
    f->dir = test_tmpdir(tag);
    seed = test_seed(0x7e7e);
    int64_t now = wall_ms();
    f->start = (now - 5 * DAY_MS) / DAY_MS * DAY_MS;
    f->last = now - 60000;
    strata_options o;
    base_opts(&o, f);
    strata_db *db = dbt_open_ok(&o);
    for (int i = 0; i < NS; i++) {
        strata_sid sid = make_series(db, i);
        for (int64_t t = f->start + i * 1000; t <= f->last; t += HOUR_MS) {
            strata_sample smp = {sid, t, value_at(seed, i, t)};
            assert_int_equal(strata_write(db, &smp, 1), STRATA_OK);
        }
    }
    assert_int_equal(strata_flush(db), STRATA_OK);
    assert_int_equal(strata_list_files(db, &f->files, &f->n_files), STRATA_OK);
    assert_true(f->n_files >= 5);
    assert_int_equal(strata_close(db), STRATA_OK);
}

static void fixture_free(fixture *f)
{
    test_rmtree(f->dir);
    free(f->dir);
    strata_free(f->files);
}

/* Samples series i has in [t0, t1] as written. */
static size_t written(const fixture *f, int i, int64_t t0, int64_t t1)
{
    size_t n = 0;
    for (int64_t t = f->start + i * 1000; t <= f->last; t += HOUR_MS)
        n += t >= t0 && t <= t1;
    return n;
}

/* Reads series i whole: count, oldest timestamp; checks every value. */
static size_t read_series(strata_db *db, int i, int64_t *oldest)
{
    strata_matcher m = {STRATA_MATCH_EQ, "s", series[i].s};
    strata_cursor *c = NULL;
    assert_int_equal(strata_select(db, &m, 1, INT64_MIN, INT64_MAX, &c), STRATA_OK);
    size_t n = 0;
    *oldest = INT64_MAX;
    strata_sid sid;
    const strata_label *l;
    size_t nl;
    int r;
    while ((r = strata_cursor_next_series(c, &sid, &l, &nl)) == 1) {
        const int64_t *t;
        const double *v;
        size_t k;
        while (strata_cursor_next_samples(c, &t, &v, &k) == 1)
            for (size_t j = 0; j < k; j++, n++) {
                if (v[j] != value_at(seed, i, t[j]))
                    fail_msg("%s at %lld: %g, written %g", series[i].s, (long long)t[j], v[j],
                             value_at(seed, i, t[j]));
                if (t[j] < *oldest)
                    *oldest = t[j];
            }
    }
    assert_int_equal(r, 0);
    strata_cursor_close(c);
    return n;
}

/* Each series reads back exactly what its retention keeps. */
static void check_reads(strata_db *db, const fixture *f, const int64_t *ret_ms, const char *what)
{
    for (int i = 0; i < NS; i++) {
        int64_t lo = wall_ms();
        int64_t oldest;
        size_t n = read_series(db, i, &oldest);
        int64_t hi = wall_ms();
        int64_t cut_lo = ret_ms[i] ? lo - ret_ms[i] : INT64_MIN, cut_hi = ret_ms[i] ? hi - ret_ms[i] : INT64_MIN;
        size_t n_min = written(f, i, cut_hi, INT64_MAX), n_max = written(f, i, cut_lo, INT64_MAX);
        printf("  %s: %s: %zu samples read (expected %zu..%zu), oldest %lld, cut %lld\n", what, series[i].s, n,
               n_min, n_max, (long long)oldest, (long long)cut_lo);
        if (n < n_min || n > n_max)
            fail_msg("%s: series %s: %zu samples read, expected %zu..%zu", what, series[i].s, n, n_min, n_max);
        if (n && oldest < cut_lo)
            fail_msg("%s: series %s: a sample at %lld, older than its cut %lld", what, series[i].s,
                     (long long)oldest, (long long)cut_lo);
    }
}

static void reads_hide_each_series_at_its_own_retention(void **state)
{
    (void)state;
    fixture f;
    fixture_build(&f, "cengine_retention_rules");
    strata_options o;
    rules_opts(&o, &f, 2 * DAY_MS);
    int64_t open_lo = wall_ms();
    strata_db *db = dbt_open_ok(&o);
    int64_t open_hi = wall_ms();
    int64_t ret[NS];
    for (int i = 0; i < NS; i++)
        ret[i] = series[i].ret_ms;
    check_reads(db, &f, ret, "after open");

    /* series-only selections over a range only older series still keep:
     * 2.5 d .. 1.5 d ago holds data of team (3 d), not of dev, devx (1 d),
     * and other, keep (2 d) only in its last half day */
    int64_t now = wall_ms();
    strata_matcher all = {STRATA_MATCH_EQ, "__name__", "m"};
    strata_cursor *c = NULL;
    assert_int_equal(strata_select_series(db, &all, 1, now - 60 * HOUR_MS, now - 49 * HOUR_MS, &c), STRATA_OK);
    strata_sid sid;
    const strata_label *l;
    size_t nl;
    int r, found = 0;
    while ((r = strata_cursor_next_series(c, &sid, &l, &nl)) == 1) {
        for (size_t k = 0; k < nl; k++)
            if (!strcmp(l[k].name, "s")) {
                if (strcmp(l[k].value, "team") != 0)
                    fail_msg("series %s listed in a range older than its retention", l[k].value);
                found++;
            }
    }
    assert_int_equal(r, 0);
    assert_int_equal(found, 1);
    strata_cursor_close(c);

    /* partitions: entirely older than the longest retention (3 d) dropped
     * at open; every newer one of the close still there */
    strata_file_info *files = NULL;
    size_t n = 0;
    assert_int_equal(strata_list_files(db, &files, &n), STRATA_OK);
    for (size_t i = 0; i < n; i++)
        if (files[i].partition_start_ms + DAY_MS <= open_lo - 3 * DAY_MS)
            fail_msg("partition %lld kept, older than the longest retention", (long long)files[i].partition_start_ms);
    for (size_t i = 0; i < f.n_files; i++) {
        bool kept = false;
        for (size_t k = 0; k < n; k++)
            kept |= files[k].file_no == f.files[i].file_no;
        if (f.files[i].partition_start_ms + DAY_MS > open_hi - 3 * DAY_MS && !kept)
            fail_msg("partition %lld dropped, newer than the longest retention",
                     (long long)f.files[i].partition_start_ms);
    }
    printf("  %zu table files at the close, %zu after the open with rules\n", f.n_files, n);
    assert_true(n < f.n_files);
    strata_free(files);

#if COMPACTION_CUTS_PER_SERIES
    /* a full compaction removes what each series' retention expired */
    assert_int_equal(strata_compact(db, 1), STRATA_OK);
    check_reads(db, &f, ret, "after a full compaction");
    assert_int_equal(strata_close(db), STRATA_OK);
    /* reopened without any retention: nothing expired comes back (the
     * 1-minute slack covers the time since the compaction's cut) */
    base_opts(&o, &f);
    db = dbt_open_ok(&o);
    for (int i = 0; i < NS; i++) {
        int64_t oldest;
        size_t got = read_series(db, i, &oldest);
        if (got && oldest < wall_ms() - series[i].ret_ms - 60000)
            fail_msg("series %s: a sample at %lld came back after compaction", series[i].s, (long long)oldest);
    }
#endif
    assert_int_equal(strata_close(db), STRATA_OK);
    fixture_free(&f);
}

static void writes_are_refused_by_the_series_own_retention(void **state)
{
    (void)state;
    fixture f;
    fixture_build(&f, "cengine_retention_rules_write");
    strata_options o;
    rules_opts(&o, &f, 2 * DAY_MS);
    strata_db *db = dbt_open_ok(&o);
    strata_sid sid[NS];
    for (int i = 0; i < NS; i++)
        sid[i] = make_series(db, i);
    int64_t now = wall_ms();
    /* 1.5 d ago: older than dev's and devx's 1 d, within the others' */
    int64_t t = now - 36 * HOUR_MS;
    for (int i = 0; i < NS; i++) {
        strata_sample s = {sid[i], t, value_at(seed, i, t)};
        int rc = strata_write(db, &s, 1);
        bool refused = series[i].ret_ms < 36 * HOUR_MS;
        if (refused) {
            assert_int_equal(rc, STRATA_ERR_INVALID);
            assert_string_equal(strata_errmsg(), "timestamp older than the retention period");
        } else {
            assert_int_equal(rc, STRATA_OK);
        }
    }
    /* 2.5 d ago: only team (3 d) takes it */
    t = now - 60 * HOUR_MS;
    for (int i = 0; i < NS; i++) {
        strata_sample s = {sid[i], t, value_at(seed, i, t)};
        assert_int_equal(strata_write(db, &s, 1), i == 2 ? STRATA_OK : STRATA_ERR_INVALID);
    }
    /* a batch with one refused sample is refused whole */
    int64_t oldest;
    size_t before = read_series(db, 2, &oldest);
    strata_sample b[2] = {{sid[2], now - 1000, value_at(seed, 2, now - 1000)}, {sid[0], now - 36 * HOUR_MS, 7}};
    assert_int_equal(strata_write(db, b, 2), STRATA_ERR_INVALID);
    assert_int_equal(read_series(db, 2, &oldest), before);
    b[1] = (strata_sample){sid[0], now - 1000, value_at(seed, 0, now - 1000)};
    assert_int_equal(strata_write(db, b, 2), STRATA_OK);
    assert_int_equal(read_series(db, 2, &oldest), before + 1);
    /* beyond every retention: refused for every series */
    for (int i = 0; i < NS; i++) {
        strata_sample s = {sid[i], now - 4 * DAY_MS, 1};
        assert_int_equal(strata_write(db, &s, 1), STRATA_ERR_INVALID);
    }
    assert_int_equal(strata_close(db), STRATA_OK);
    fixture_free(&f);
}

static void no_global_retention_never_drops_partitions(void **state)
{
    (void)state;
    fixture f;
    fixture_build(&f, "cengine_retention_rules_keep");
    strata_options o;
    rules_opts(&o, &f, 0);
    strata_db *db = dbt_open_ok(&o);
    strata_file_info *files = NULL;
    size_t n = 0;
    assert_int_equal(strata_list_files(db, &files, &n), STRATA_OK);
    assert_int_equal(n, f.n_files);
    strata_free(files);
    /* series without a rule keep everything; the others their own */
    int64_t ret[NS];
    for (int i = 0; i < NS; i++)
        ret[i] = !strcmp(series[i].env, "dev") ? DAY_MS : !strcmp(series[i].team, "x") ? 3 * DAY_MS : 0;
    check_reads(db, &f, ret, "no global retention");
    /* an old sample of a series without a rule is taken */
    strata_sid s4 = make_series(db, 4);
    strata_sample s = {s4, f.start, 1};
    assert_int_equal(strata_write(db, &s, 1), STRATA_OK);
    assert_int_equal(strata_close(db), STRATA_OK);
    fixture_free(&f);
}

/* strata_open must refuse o with STRATA_ERR_INVALID and a message. */
static void expect_refused(strata_options *o, const char *what)
{
    strata_db *db = NULL;
    int rc = strata_open(o, &db);
    if (rc != STRATA_ERR_INVALID) {
        if (!rc)
            strata_close(db);
        fail_msg("%s: strata_open gave %d (%s), want STRATA_ERR_INVALID", what, rc, strata_strerror(rc));
    }
    const char *msg = strata_errmsg();
    printf("  %s: refused: %s\n", what, msg);
    if (!*msg)
        fail_msg("%s: refused without a message", what);
}

static void bad_rules_are_refused_at_open(void **state)
{
    (void)state;
    char *dir = test_tmpdir("cengine_retention_rules_bad");
    dbt_log lg = {1};
    strata_options o;
    strata_matcher dev = {STRATA_MATCH_EQ, "env", "dev"};
    strata_matcher bad_re = {STRATA_MATCH_RE, "env", "(dev"};
    strata_retention_rule rr[2];
    strata_downsampling_rule dr[3];
#define RESET()                          \
    do {                                 \
        dbt_options(&o, dir);            \
        o.partition_ms = DAY_MS;         \
        o.log_fn = dbt_log_fn;           \
        o.log_ctx = &lg;                 \
    } while (0)
#define RET(i, m, n, ms) (rr[i] = (strata_retention_rule){(m), (n), (ms)})
#define DS(i, m, n, age, res) (dr[i] = (strata_downsampling_rule){(m), (n), (age), (res)})

    RESET();
    RET(0, &dev, 1, DAY_MS);
    RET(1, NULL, 0, DAY_MS);
    o.retention_rules = rr;
    o.n_retention_rules = 2;
    expect_refused(&o, "a retention rule without matchers");
    RET(1, &dev, 1, 0);
    expect_refused(&o, "a retention of 0");
    RET(1, &dev, 1, -DAY_MS);
    expect_refused(&o, "a negative retention");
    RET(1, &bad_re, 1, DAY_MS);
    expect_refused(&o, "a regular expression that does not compile");
    o.retention_rules = NULL;
    expect_refused(&o, "n_retention_rules without an array");

    RESET();
    o.downsampling_rules = dr;
    o.n_downsampling_rules = 1;
    DS(0, NULL, 0, 0, 300000);
    expect_refused(&o, "a downsampling age of 0");
    DS(0, NULL, 0, 30 * DAY_MS, 0);
    expect_refused(&o, "a resolution of 0");
    DS(0, NULL, 0, 30 * DAY_MS, -300000);
    expect_refused(&o, "a negative resolution");
    DS(0, NULL, 0, 30 * DAY_MS, 7 * 60000);
    expect_refused(&o, "a resolution that does not divide the partition width");
    o.n_downsampling_rules = 2;
    DS(0, NULL, 0, 30 * DAY_MS, 3600000);
    DS(1, NULL, 0, 180 * DAY_MS, 300000);
    expect_refused(&o, "an older age with a finer resolution");
    DS(1, NULL, 0, 180 * DAY_MS, 3600000);
    expect_refused(&o, "an older age with the same resolution");
    DS(0, NULL, 0, 30 * DAY_MS, 2 * 60000);
    DS(1, NULL, 0, 180 * DAY_MS, 5 * 60000);
    expect_refused(&o, "a resolution that is not a multiple of the younger one's");
    DS(1, NULL, 0, 30 * DAY_MS, 4 * 60000);
    expect_refused(&o, "two rules of one age");

    /* the ordering holds within a group only: other selectors, other groups */
    o.n_downsampling_rules = 3;
    DS(0, NULL, 0, 30 * DAY_MS, 5 * 60000);
    DS(1, &dev, 1, 7 * DAY_MS, 3600000);
    DS(2, NULL, 0, 180 * DAY_MS, 3600000);
    strata_db *db = dbt_open_ok(&o);
    assert_int_equal(strata_close(db), STRATA_OK);
    DS(2, &dev, 1, 30 * DAY_MS, 5 * 60000);
    expect_refused(&o, "a finer resolution for an older age in the selector's group");

    /* the width of an existing directory, not given at open, is checked
     * once it is known: a 2 h directory refuses a 1 d resolution */
    test_rmtree(dir);
    free(dir);
    dir = test_tmpdir("cengine_retention_rules_bad2");
    RESET();
    o.partition_ms = 2 * HOUR_MS;
    db = dbt_open_ok(&o);
    assert_int_equal(strata_close(db), STRATA_OK);
    RESET();
    o.partition_ms = 0;
    o.downsampling_rules = dr;
    o.n_downsampling_rules = 1;
    DS(0, NULL, 0, 30 * DAY_MS, DAY_MS);
    expect_refused(&o, "a resolution that does not divide the directory's own width");
    DS(0, NULL, 0, 30 * DAY_MS, HOUR_MS);
    db = dbt_open_ok(&o);
    assert_int_equal(strata_close(db), STRATA_OK);
#undef RESET
#undef RET
#undef DS
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_hide_each_series_at_its_own_retention),
        cmocka_unit_test(writes_are_refused_by_the_series_own_retention),
        cmocka_unit_test(no_global_retention_never_drops_partitions),
        cmocka_unit_test(bad_rules_are_refused_at_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
