/* Manifest: edits survive reopen and rewrite exactly, numbers are never
 * reused, the partition width is fixed, nonsense edits are refused without
 * changing anything, pinned versions stay valid, directory check. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "manifest_testlib.h"

static model M, NEXT; /* large: static */

static void reopen(manifest **mf, const char *dir, const manifest_options *o)
{
    manifest_close(*mf);
    *mf = NULL;
    assert_int_equal(manifest_open(dir, o, mf), STRATA_OK);
}

static void check_current(manifest *mf, const model *m)
{
    manifest_version *v = manifest_current(mf);
    check_model(m, v);
    manifest_version_unref(v);
}

/* Random edits; the model is checked after each and across reopen. */
static void run_random(const char *tag, manifest_options o, int steps, int reopen_every)
{
    test_rng r;
    test_rng_init(&r, test_seed(11));
    char *dir = test_tmpdir(tag);
    manifest *mf = NULL;
    memset(&M, 0, sizeof M);
    assert_int_equal(manifest_open(dir, &o, &mf), STRATA_OK);
    check_current(mf, &M);
    manifest_edit e;
    manifest_edit_init(&e);
    for (int step = 1; step <= steps; step++) {
        manifest_edit_reset(&e);
        random_edit(&r, mf, &M, &NEXT, &e);
        assert_int_equal(manifest_apply(mf, &e), STRATA_OK);
        M = NEXT;
        check_current(mf, &M);
        if (step % reopen_every == 0) {
            reopen(&mf, dir, &o);
            check_current(mf, &M);
            assert_int_equal(count_manifests(dir), 1);
        }
    }
    manifest_edit_free(&e);
    manifest_close(mf);
    test_rmtree(dir);
    free(dir);
}

static void manifest_edits_round_trip_across_reopen(void **state)
{
    (void)state;
    manifest_options o = test_opts();
    o.rewrite_min_bytes = 1u << 30; /* no rewrite: one long log */
    run_random("manifest_rt", o, 200, 37);
}

static void manifest_rewrite_after_every_edit_keeps_state(void **state)
{
    (void)state;
    manifest_options o = test_opts();
    o.rewrite_min_bytes = 1;
    o.rewrite_ratio = 0;
    run_random("manifest_rw", o, 80, 11);
}

static void manifest_rewrite_bounds_the_log(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(12));
    char *dir = test_tmpdir("manifest_bound");
    manifest_options o = test_opts();
    o.rewrite_min_bytes = 2048;
    manifest *mf = NULL;
    assert_int_equal(manifest_open(dir, &o, &mf), STRATA_OK);
    uint64_t first = manifest_number(mf);
    memset(&M, 0, sizeof M);
    manifest_edit e;
    manifest_edit_init(&e);
    bbuf snap = {0};
    uint64_t prev = 0;
    /* Churn: add two, remove one, so the log grows faster than the state.
     * The log never exceeds the larger of the minimum and 4 snapshots. */
    for (int i = 0; i < 400; i++) {
        manifest_edit_reset(&e);
        manifest_table t;
        uint64_t no;
        assert_int_equal(manifest_alloc_file_no(mf, &no), STRATA_OK);
        rand_table(&r, no, &t);
        assert_int_equal(manifest_edit_add_table(&e, &t), STRATA_OK);
        if (i % 2)
            assert_int_equal(manifest_edit_remove_table(&e, prev), STRATA_OK);
        prev = no;
        assert_int_equal(manifest_apply(mf, &e), STRATA_OK);
        manifest_version *cv = manifest_current(mf);
        base_buf_reset(&snap);
        assert_int_equal(manifest_encode_file(cv, 0, &snap), STRATA_OK);
        manifest_version_unref(cv);
        assert_true(manifest_log_bytes(mf) <= MAX(2048, 4 * snap.len) + 200);
    }
    base_buf_free(&snap);
    assert_true(manifest_number(mf) > first);
    assert_int_equal(count_manifests(dir), 1);
    manifest_version *v = manifest_current(mf);
    size_t n;
    manifest_version_tables(v, &n);
    assert_int_equal(n, 200);
    manifest_close(mf);
    mf = NULL;
    assert_int_equal(manifest_open(dir, &o, &mf), STRATA_OK);
    manifest_version *w = manifest_current(mf);
    assert_true(same_state(v, w));
    manifest_version_unref(v);
    manifest_version_unref(w);
    manifest_edit_free(&e);
    manifest_close(mf);
    test_rmtree(dir);
    free(dir);
}

static void manifest_file_numbers_are_never_reused(void **state)
{
    (void)state;
    char *dir = test_tmpdir("manifest_nums");
    manifest_options o = test_opts();
    manifest *mf = NULL;
    assert_int_equal(manifest_open(dir, &o, &mf), STRATA_OK);
    uint64_t seen_max = manifest_number(mf), no;
    manifest_edit e;
    manifest_edit_init(&e);
    test_rng r;
    test_rng_init(&r, test_seed(13));
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < 5; i++) {
            assert_int_equal(manifest_alloc_file_no(mf, &no), STRATA_OK);
            assert_true(no > seen_max);
            seen_max = no;
        }
        /* Record the last one in a table; the others only through the counter. */
        manifest_edit_reset(&e);
        manifest_table t;
        rand_table(&r, no, &t);
        assert_int_equal(manifest_edit_add_table(&e, &t), STRATA_OK);
        assert_int_equal(manifest_apply(mf, &e), STRATA_OK);
        if (round % 2) {
            assert_int_equal(manifest_rewrite(mf), STRATA_OK);
            assert_true(manifest_number(mf) > seen_max);
            seen_max = manifest_number(mf);
        }
        manifest_close(mf);
        mf = NULL;
        assert_int_equal(manifest_open(dir, &o, &mf), STRATA_OK);
    }
    /* An empty edit still records numbers handed out. */
    assert_int_equal(manifest_alloc_file_no(mf, &no), STRATA_OK);
    manifest_edit_reset(&e);
    assert_int_equal(manifest_apply(mf, &e), STRATA_OK);
    manifest_close(mf);
    mf = NULL;
    assert_int_equal(manifest_open(dir, &o, &mf), STRATA_OK);
    uint64_t after;
    assert_int_equal(manifest_alloc_file_no(mf, &after), STRATA_OK);
    assert_true(after > no);
    manifest_edit_free(&e);
    manifest_close(mf);
    test_rmtree(dir);
    free(dir);
}

static void manifest_partition_width_is_fixed_at_creation(void **state)
{
    (void)state;
    char *dir = test_tmpdir("manifest_width");
    manifest_options o = test_opts();
    manifest *mf = NULL;
    o.partition_ms = 0;
    assert_int_equal(manifest_open(dir, &o, &mf), STRATA_ERR_INVALID); /* creating needs a width */
    o.must_exist = true;
    o.partition_ms = TW;
    assert_int_equal(manifest_open(dir, &o, &mf), STRATA_ERR_NOTFOUND);
    o.must_exist = false;
    o.read_only = true;
    assert_int_equal(manifest_open(dir, &o, &mf), STRATA_ERR_NOTFOUND);
    assert_int_equal(count_manifests(dir), 0);
    o.read_only = false;
    assert_int_equal(manifest_open(dir, &o, &mf), STRATA_OK);
    manifest_close(mf);
    mf = NULL;
    o.partition_ms = 2 * TW;
    assert_int_equal(manifest_open(dir, &o, &mf), STRATA_ERR_INVALID);
    assert_null(mf);
    o.partition_ms = 0; /* accept what is stored */
    assert_int_equal(manifest_open(dir, &o, &mf), STRATA_OK);
    manifest_version *v = manifest_current(mf);
    assert_int_equal(manifest_version_partition_ms(v), TW);
    manifest_version_unref(v);
    manifest_close(mf);
    test_rmtree(dir);
    free(dir);
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

/* The edit is refused with STRATA_ERR_INVALID, nothing changes. */
static void expect_refused(manifest *mf, const manifest_edit *e, const char *dir)
{
    manifest_version *before = manifest_current(mf);
    char *path = mpath(dir, manifest_number(mf));
    uint64_t size = file_size(path);
    assert_int_equal(manifest_apply(mf, e), STRATA_ERR_INVALID);
    manifest_version *after = manifest_current(mf);
    assert_ptr_equal(before, after);
    assert_int_equal(file_size(path), size);
    manifest_version_unref(before);
    manifest_version_unref(after);
    free(path);
}

static void manifest_refuses_edits_that_make_no_sense(void **state)
{
    (void)state;
    char *dir = test_tmpdir("manifest_refuse");
    manifest_options o = test_opts();
    o.rewrite_min_bytes = 1u << 30;
    manifest *mf = NULL;
    assert_int_equal(manifest_open(dir, &o, &mf), STRATA_OK);
    manifest_edit e;
    manifest_edit_init(&e);
    uint64_t a, b;
    assert_int_equal(manifest_alloc_file_no(mf, &a), STRATA_OK);
    assert_int_equal(manifest_alloc_file_no(mf, &b), STRATA_OK);
    manifest_table t = {.file_no = a, .partition_ms = 5 * TW, .level = 0, .min_sid = 1, .max_sid = 9,
                        .min_t_ms = 5 * TW, .max_t_ms = 6 * TW - 1, .samples = 10, .blocks = 1, .bytes = 100};
    assert_int_equal(manifest_edit_add_table(&e, &t), STRATA_OK);
    assert_int_equal(manifest_edit_set_checkpoint(&e, (manifest_wal_pos){3, 100}), STRATA_OK);
    uint64_t sids[] = {1, 5, 9};
    assert_int_equal(manifest_edit_add_tombstone(&e, b, 0, 10, sids, 3), STRATA_OK);
    assert_int_equal(manifest_apply(mf, &e), STRATA_OK);

    manifest_edit_reset(&e); /* remove an unknown table */
    manifest_edit_remove_table(&e, b + 7);
    expect_refused(mf, &e, dir);
    manifest_edit_reset(&e); /* add a known table */
    manifest_edit_add_table(&e, &t);
    expect_refused(mf, &e, dir);
    manifest_edit_reset(&e); /* a table crossing its partition's end */
    manifest_table u = t;
    assert_int_equal(manifest_alloc_file_no(mf, &u.file_no), STRATA_OK);
    u.max_t_ms = 6 * TW;
    manifest_edit_add_table(&e, &u);
    expect_refused(mf, &e, dir);
    manifest_edit_reset(&e); /* a partition start that is no multiple of the width */
    u = t;
    assert_int_equal(manifest_alloc_file_no(mf, &u.file_no), STRATA_OK);
    u.partition_ms = 5 * TW + 1;
    u.min_t_ms = u.partition_ms;
    manifest_edit_add_table(&e, &u);
    expect_refused(mf, &e, dir);
    manifest_edit_reset(&e); /* a number never handed out */
    u = t;
    u.file_no = b + 1000;
    manifest_edit_add_table(&e, &u);
    expect_refused(mf, &e, dir);
    manifest_edit_reset(&e); /* the checkpoint going back */
    manifest_edit_set_checkpoint(&e, (manifest_wal_pos){3, 99});
    expect_refused(mf, &e, dir);
    manifest_edit_reset(&e); /* a tombstone twice, removing an unknown one */
    manifest_edit_add_tombstone(&e, b, 0, 1, sids, 1);
    expect_refused(mf, &e, dir);
    manifest_edit_reset(&e);
    manifest_edit_remove_tombstone(&e, a);
    expect_refused(mf, &e, dir);
    manifest_edit_reset(&e); /* all or nothing: a good item before a bad one is not applied */
    assert_int_equal(manifest_edit_remove_table(&e, a), STRATA_OK);
    manifest_edit_remove_table(&e, a);
    expect_refused(mf, &e, dir);

    /* Helpers refuse what can never be valid and poison the edit. */
    manifest_edit_reset(&e);
    u = t;
    u.level = MANIFEST_MAX_LEVELS;
    assert_int_equal(manifest_edit_add_table(&e, &u), STRATA_ERR_INVALID);
    assert_int_equal(manifest_edit_remove_table(&e, a), STRATA_OK);
    assert_int_equal(manifest_apply(mf, &e), STRATA_ERR_INVALID);
    manifest_edit_reset(&e);
    uint64_t unsorted[] = {3, 3};
    assert_int_equal(manifest_edit_add_tombstone(&e, 99, 0, 1, unsorted, 2), STRATA_ERR_INVALID);
    manifest_edit_reset(&e);
    assert_int_equal(manifest_edit_add_tombstone(&e, 99, 2, 1, sids, 1), STRATA_ERR_INVALID);

    /* Still in the first state after a reopen. */
    manifest_close(mf);
    mf = NULL;
    assert_int_equal(manifest_open(dir, &o, &mf), STRATA_OK);
    manifest_version *v = manifest_current(mf);
    const manifest_table *f = manifest_version_find_table(v, a);
    assert_non_null(f);
    assert_true(table_eq(f, &t));
    size_t n;
    manifest_version_tombstones(v, &n);
    assert_int_equal(n, 1);
    assert_int_equal(manifest_version_checkpoint(v).offset, 100);
    manifest_version_unref(v);
    manifest_edit_free(&e);
    manifest_close(mf);
    test_rmtree(dir);
    free(dir);
}

typedef struct reader_arg {
    manifest *mf;
    atomic_int stop;
    long pins;
    long bad;
} reader_arg;

static void *reader(void *p)
{
    reader_arg *a = p;
    uint64_t last_seq = 0;
    /* No cmocka asserts off the main thread: count problems instead. */
    while (!atomic_load(&a->stop)) {
        manifest_version *v = manifest_current(a->mf);
        a->bad += manifest_version_seq(v) < last_seq;
        last_seq = manifest_version_seq(v);
        size_t n;
        const manifest_table *t = manifest_version_tables(v, &n);
        for (size_t i = 0; i < n; i++)
            a->bad += manifest_version_find_table(v, t[i].file_no) == NULL ||
                      (i && t[i].partition_ms < t[i - 1].partition_ms);
        manifest_version_unref(v);
        a->pins++;
    }
    return NULL;
}

static void manifest_pinned_versions_stay_valid_while_edits_land(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(14));
    char *dir = test_tmpdir("manifest_pin");
    manifest_options o = test_opts();
    o.rewrite_min_bytes = 4096;
    manifest *mf = NULL;
    assert_int_equal(manifest_open(dir, &o, &mf), STRATA_OK);
    memset(&M, 0, sizeof M);
    reader_arg a = {.mf = mf, .pins = 0, .bad = 0};
    atomic_init(&a.stop, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, reader, &a), 0);
    manifest_edit e;
    manifest_edit_init(&e);
    manifest_version *pinned = NULL;
    static model pinned_model;
    for (int i = 0; i < 150; i++) {
        manifest_edit_reset(&e);
        random_edit(&r, mf, &M, &NEXT, &e);
        assert_int_equal(manifest_apply(mf, &e), STRATA_OK);
        M = NEXT;
        if (i == 50) {
            pinned = manifest_current(mf);
            pinned_model = M;
        }
    }
    atomic_store(&a.stop, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(a.pins > 0);
    assert_int_equal(a.bad, 0);
    check_model(&pinned_model, pinned); /* 100 edits and some rewrites later */
    manifest_version_unref(pinned);
    manifest_close(mf);
    manifest_edit_free(&e);
    test_rmtree(dir);
    free(dir);
}

static void manifest_partitions_in_a_range_match_a_scan(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(15));
    char *dir = test_tmpdir("manifest_prange");
    manifest_options o = test_opts();
    o.rewrite_min_bytes = 1u << 30;
    manifest *mf = NULL;
    assert_int_equal(manifest_open(dir, &o, &mf), STRATA_OK);
    memset(&M, 0, sizeof M);
    manifest_edit e;
    manifest_edit_init(&e);
    for (int i = 0; i < 40; i++) {
        manifest_edit_reset(&e);
        random_edit(&r, mf, &M, &NEXT, &e);
        assert_int_equal(manifest_apply(mf, &e), STRATA_OK);
        M = NEXT;
    }
    manifest_version *v = manifest_current(mf);
    size_t np;
    const manifest_partition *all = manifest_version_partitions(v, &np);
    assert_true(np > 5);
    for (int i = 0; i < 2000; i++) {
        int64_t a = ((int64_t)test_rng_below(&r, 70 * TW) - 10 * TW), b = a + (int64_t)test_rng_below(&r, 8 * TW);
        if (i % 10 == 0)
            b = a + (int64_t)test_rng_below(&r, 3); /* tiny ranges at partition edges too */
        size_t n, want = 0, first = np;
        const manifest_partition *p = manifest_version_partitions_in(v, a, b, &n);
        for (size_t k = 0; k < np; k++)
            if (all[k].start_ms <= b && all[k].start_ms + TW - 1 >= a) {
                want++;
                first = MIN(first, k);
            }
        assert_int_equal(n, want);
        if (n)
            assert_ptr_equal(p, all + first);
    }
    size_t n;
    manifest_version_partitions_in(v, 5, 4, &n);
    assert_int_equal(n, 0);
    manifest_version_unref(v);
    manifest_edit_free(&e);
    manifest_close(mf);
    test_rmtree(dir);
    free(dir);
}

static bool parse_tbl(void *ctx, const char *name, uint64_t *no)
{
    (void)ctx;
    char *end;
    if (name[0] < '0' || name[0] > '9')
        return false;
    unsigned long long v = strtoull(name, &end, 10);
    if (strcmp(end, ".tbl") != 0)
        return false;
    *no = v;
    return true;
}

static void manifest_dir_check_finds_orphans_and_missing_files(void **state)
{
    (void)state;
    char *dir = test_tmpdir("manifest_dircheck");
    manifest_options o = test_opts();
    manifest *mf = NULL;
    assert_int_equal(manifest_open(dir, &o, &mf), STRATA_OK);
    manifest_edit e;
    manifest_edit_init(&e);
    uint64_t nos[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(manifest_alloc_file_no(mf, &nos[i]), STRATA_OK);
        manifest_table t = {.file_no = nos[i], .partition_ms = 0, .min_t_ms = 0, .max_t_ms = 10};
        if (i < 3)
            assert_int_equal(manifest_edit_add_table(&e, &t), STRATA_OK);
    }
    assert_int_equal(manifest_apply(mf, &e), STRATA_OK);
    char tdir[512], f[600];
    snprintf(tdir, sizeof tdir, "%s/tables", dir);
    assert_int_equal(base_file_mkdir(tdir), STRATA_OK);
    /* nos[0] and nos[2] present, nos[1] missing, nos[3] and 999 unknown, README ignored. */
    uint64_t present[] = {nos[0], nos[2], nos[3], 999};
    for (int i = 0; i < 4; i++) {
        snprintf(f, sizeof f, "%s/%06llu.tbl", tdir, (unsigned long long)present[i]);
        spit(f, (const uint8_t *)"x", 1);
    }
    snprintf(f, sizeof f, "%s/README", tdir);
    spit(f, (const uint8_t *)"x", 1);
    manifest_version *v = manifest_current(mf);
    uint64_t *live, *missing;
    size_t n_live, n_orph, n_missing;
    char **orph;
    assert_int_equal(manifest_live_files(v, &live, &n_live), STRATA_OK);
    assert_int_equal(n_live, 3);
    assert_int_equal(live[0], nos[0]);
    assert_int_equal(live[2], nos[2]);
    assert_int_equal(manifest_dir_check(v, tdir, parse_tbl, NULL, &orph, &n_orph, &missing, &n_missing), STRATA_OK);
    assert_int_equal(n_missing, 1);
    assert_int_equal(missing[0], nos[1]);
    assert_int_equal(n_orph, 2);
    for (size_t i = 0; i < n_orph; i++)
        assert_true(strcmp(orph[i], "000999.tbl") == 0 || atoll(orph[i]) == (long long)nos[3]);
    manifest_strings_free(orph, n_orph);
    base_free(missing);
    base_free(live);
    manifest_version_unref(v);
    manifest_edit_free(&e);
    manifest_close(mf);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(manifest_edits_round_trip_across_reopen),
        cmocka_unit_test(manifest_rewrite_after_every_edit_keeps_state),
        cmocka_unit_test(manifest_rewrite_bounds_the_log),
        cmocka_unit_test(manifest_file_numbers_are_never_reused),
        cmocka_unit_test(manifest_partition_width_is_fixed_at_creation),
        cmocka_unit_test(manifest_refuses_edits_that_make_no_sense),
        cmocka_unit_test(manifest_pinned_versions_stay_valid_while_edits_land),
        cmocka_unit_test(manifest_dir_check_finds_orphans_and_missing_files),
        cmocka_unit_test(manifest_partitions_in_a_range_match_a_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
