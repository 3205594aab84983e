/*
 * cengine_retention.c: retention at the engine level (public API only).
 *
 * Data is written relative to the wall clock over six one-day partitions
 * (now - 5 days .. now) without retention, flushed into two level-0 files
 * per partition, and the database closed. It is then reopened with a
 * retention of 2 days:
 *
 *  - expired_partitions_are_dropped_unread: every partition entirely older
 *    than now - 2 d is gone (not listed, its files unlinked), the newer ones
 *    are all there; the open read no table block (table_bytes_read == 0);
 *    no sample older than the cut is returned, every newer one is, bit-exact;
 *    a full compaction removes the expired samples of the partition that
 *    straddles the cut from the files (table_samples); reopened without
 *    retention, nothing expired comes back.
 *  - expired_partitions_are_dropped_unread_after_a_crash: the same after an
 *    unclean shutdown (DIRTY left behind, so the open runs recovery), with
 *    one block of an expired file damaged: the expired file must simply go
 *    (not be read, so not found damaged, not quarantined and kept on disk).
 *
 * The cut moves with the clock while the test runs, so every check is made
 * against the cut taken before (c_lo) and after (c_hi) the step it judges:
 * samples older than c_lo must be gone, samples not older than c_hi there.
 */
#include <stdbool.h>
#include <time.h>

#include "db_testlib.h"

#define NS 4
#define DAY_MS (24LL * 3600 * 1000)
#define STEP_MS (5 * 60 * 1000LL)
#define RET_MS (2 * DAY_MS)

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct fixture {
    char *dir;
    int64_t start; /* first partition's start */
    int64_t last;  /* newest timestamp written */
    dbt_set truth; /* finished */
    strata_file_info *files; /* as of the close */
    size_t n_files;
    dbt_log lg;
} fixture;

static void opts(strata_options *o, fixture *f, int64_t retention)
{
    dbt_options(o, f->dir);
    o->partition_ms = DAY_MS;
    o->retention_ms = retention;
    o->sync = STRATA_SYNC_NONE;
    o->block_samples = 100;
    o->log_fn = dbt_log_fn;
    o->log_ctx = &f->lg;
}

static void fixture_build(fixture *f, const char *tag)
{
    memset(f, 0, sizeof *f);
    f->lg.quiet = 1;
    f->dir = test_tmpdir(tag);
    test_rng r;
    test_rng_init(&r, test_seed(0x2e7e));
    int64_t now = wall_ms();
    f->start = (now - 5 * DAY_MS) / DAY_MS * DAY_MS;
    f->last = now - 60000;
    strata_options o;
    opts(&o, f, 0);
    strata_db *db = dbt_open_ok(&o);
    strata_sid sid[NS];
    char text[NS][64];
    for (int s = 0; s < NS; s++) {
        char v[8];
        snprintf(v, sizeof v, "h%d", s);
        sid[s] = dbt_series(db, "ret", "host", v);
        snprintf(text[s], sizeof text[s], "__name__=ret,host=h%d", s);
    }
    /* two passes (even, then odd steps), a flush after each: two level-0
     * files per partition */
    for (int pass = 0; pass < 2; pass++) {
        size_t cap = 8192, n = 0;
        strata_sample *b = malloc(cap * sizeof *b);
        assert_non_null(b);
        for (int64_t t = f->start + pass * STEP_MS; t <= f->last; t += 2 * STEP_MS) {
            for (int s = 0; s < NS; s++) {
                if (n == cap) {
                    assert_int_equal(strata_write(db, b, n), STRATA_OK);
                    n = 0;
                }
                uint64_t bits = test_mix(test_rng_next(&r)) & 0x3fffffffffffffffull;
                b[n++] = (strata_sample){sid[s], t, dbt_from_bits(bits)};
                dbt_set_add(&f->truth, text[s], t, bits);
            }
        }
        assert_int_equal(strata_write(db, b, n), STRATA_OK);
        free(b);
        assert_int_equal(strata_flush(db), STRATA_OK);
    }
    dbt_set_finish(&f->truth);
    assert_int_equal(strata_list_files(db, &f->files, &f->n_files), STRATA_OK);
    assert_true(f->n_files >= 10); /* 6 partitions (5 when the day just turned) x 2 */
    assert_int_equal(strata_close(db), STRATA_OK);
}

static void fixture_free(fixture *f)
{
    test_rmtree(f->dir);
    free(f->dir);
    dbt_set_free(&f->truth);
    strata_free(f->files);
}

static void file_path(const fixture *f, uint64_t file_no, char *buf, size_t cap)
{
    dbt_fmt(buf, cap, "%s/tables/%012llu.tbl", f->dir, (unsigned long long)file_no);
}

/* Samples of truth with t >= cut. */
static size_t count_from(const dbt_set *s, int64_t cut)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += s->v[i].t >= cut;
    return n;
}

/* Reads everything and checks it against truth as cut by retention. */
static void check_content(strata_db *db, const fixture *f, const char *what)
{
    int64_t c_lo = wall_ms() - RET_MS;
    dbt_set got = {0};
    assert_int_equal(dbt_read_all(db, &got), 0);
    int64_t c_hi = wall_ms() - RET_MS;
    dbt_set want = {0};
    for (size_t i = 0; i < got.n; i++)
        if (got.v[i].t < c_lo)
            fail_msg("%s: sample at %lld, older than the cut %lld", what, (long long)got.v[i].t, (long long)c_lo);
    /* the model: samples not older than c_hi, plus those in [c_lo, c_hi)
     * the read returned (either answer is right for them) */
    size_t j = 0;
    for (size_t i = 0; i < f->truth.n; i++) {
        const dbt_sample *s = &f->truth.v[i];
        if (s->t >= c_hi) {
            dbt_set_add(&want, s->series, s->t, s->bits);
            continue;
        }
        if (s->t < c_lo)
            continue;
        while (j < got.n && dbt_cmp(&got.v[j], s) < 0)
            j++;
        if (j < got.n && dbt_cmp(&got.v[j], s) == 0)
            dbt_set_add(&want, s->series, s->t, s->bits);
    }
    dbt_set_finish(&want);
    size_t d = dbt_set_diff(&want, &got, what);
    dbt_set_free(&want);
    dbt_set_free(&got);
    if (d)
        fail_msg("%s: content differs from the model cut by retention", what);
}

/* Opens with retention and checks which files went. */
static strata_db *open_with_retention(fixture *f, bool crashed)
{
    strata_options o;
    opts(&o, f, RET_MS);
    int64_t c_lo = wall_ms() - RET_MS;
    strata_db *db = dbt_open_ok(&o);
    int64_t c_hi = wall_ms() - RET_MS;
    strata_stats st;
    assert_int_equal(strata_get_stats(db, &st, sizeof st), STRATA_OK);
    assert_int_equal(st.table_bytes_read, 0); /* nothing read to drop them */
    /* recovery (open_tables' full verification after a crash) must not
     * read expired files: had it read them, the damaged one would have been
     * quarantined (kept on disk) instead of dropped */
    if (crashed && st.quarantined_files)
        fail_msg("an expired file was read at recovery and quarantined instead of dropped");
    strata_file_info *now = NULL;
    size_t n_now = 0;
    assert_int_equal(strata_list_files(db, &now, &n_now), STRATA_OK);
    size_t expired = 0, kept = 0;
    for (size_t i = 0; i < f->n_files; i++) {
        const strata_file_info *fi = &f->files[i];
        bool listed = false;
        for (size_t k = 0; k < n_now; k++)
            listed |= now[k].file_no == fi->file_no;
        char p[4096];
        file_path(f, fi->file_no, p, sizeof p);
        bool on_disk = dbt_file_size(p) >= 0;
        if (fi->partition_start_ms + DAY_MS <= c_lo) {
            expired++;
            if (listed || on_disk)
                fail_msg("file %llu of expired partition %lld: listed %d, on disk %d", (unsigned long long)fi->file_no,
                         (long long)fi->partition_start_ms, listed, on_disk);
        } else if (fi->partition_start_ms + DAY_MS > c_hi) {
            kept++;
            if (!listed || !on_disk)
                fail_msg("file %llu of live partition %lld: listed %d, on disk %d", (unsigned long long)fi->file_no,
                         (long long)fi->partition_start_ms, listed, on_disk);
        }
    }
    strata_free(now);
    assert_true(expired >= 4); /* days -5 and -4 at least */
    assert_true(kept >= 4);    /* days -1 and 0 at least */
    char q[4096];
    dbt_fmt(q, sizeof q, "%s/quarantine", f->dir);
    DIR *d = opendir(q);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.')
                fail_msg("quarantine/%s: an expired file was kept on disk", e->d_name);
        closedir(d);
    }
    return db;
}

static void check_after_open(strata_db *db, fixture *f)
{
    uint64_t live_bytes = 0;
    strata_file_info *now = NULL;
    size_t n_now = 0;
    assert_int_equal(strata_list_files(db, &now, &n_now), STRATA_OK);
    for (size_t k = 0; k < n_now; k++)
        live_bytes += now[k].bytes;
    strata_free(now);
    check_content(db, f, "after the open with retention");
    strata_stats st;
    assert_int_equal(strata_get_stats(db, &st, sizeof st), STRATA_OK);
    /* a full read touches at most the live files' bytes */
    assert_true(st.table_bytes_read <= live_bytes);

    /* a full compaction cuts the straddling partition at the cut too */
    int64_t c_lo = wall_ms() - RET_MS;
    assert_int_equal(strata_compact(db, 1), STRATA_OK);
    int64_t c_hi = wall_ms() - RET_MS;
    assert_int_equal(strata_get_stats(db, &st, sizeof st), STRATA_OK);
    assert_true(st.table_samples >= count_from(&f->truth, c_hi));
    assert_true(st.table_samples <= count_from(&f->truth, c_lo));
    check_content(db, f, "after the full compaction");
    assert_int_equal(strata_close(db), STRATA_OK);

    /* without retention nothing expired comes back */
    strata_options o;
    opts(&o, f, 0);
    db = dbt_open_ok(&o);
    dbt_set got = {0};
    assert_int_equal(dbt_read_all(db, &got), 0);
    int64_t c_last = wall_ms() - RET_MS;
    for (size_t i = 0; i < got.n; i++)
        if (got.v[i].t < c_last - 60000)
            fail_msg("expired sample at %lld came back", (long long)got.v[i].t);
    dbt_set_free(&got);
    assert_int_equal(strata_close(db), STRATA_OK);
}

static void expired_partitions_are_dropped_unread(void **state)
{
    (void)state;
    fixture f;
    fixture_build(&f, "cengine_retention");
    strata_db *db = open_with_retention(&f, false);
    check_after_open(db, &f);
    fixture_free(&f);
}

static void expired_partitions_are_dropped_unread_after_a_crash(void **state)
{
    (void)state;
    fixture f;
    fixture_build(&f, "cengine_retention_crash");
    /* the oldest partition's first file: one byte of its first block flipped */
    char p[4096];
    file_path(&f, f.files[0].file_no, p, sizeof p);
    assert_true(f.files[0].partition_start_ms == f.start);
    int64_t size = dbt_file_size(p);
    assert_true(size > 256);
    dbt_flip_byte(p, size / 4, 0x10);
    /* an unclean shutdown: the open runs recovery */
    char dirty[4096];
    dbt_fmt(dirty, sizeof dirty, "%s/DIRTY", f.dir);
    FILE *fp = fopen(dirty, "w");
    assert_non_null(fp);
    assert_int_equal(fclose(fp), 0);
    strata_db *db = open_with_retention(&f, true);
    check_after_open(db, &f);
    fixture_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(expired_partitions_are_dropped_unread),
        cmocka_unit_test(expired_partitions_are_dropped_unread_after_a_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
