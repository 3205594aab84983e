/*
 * db_diskfull.c: writes into a small filesystem (a tmpfs mounted with
 * size=4m) until it is full, then space is freed (a filler file created
 * first is deleted): while full every write fails with STRATA_ERR_NOSPACE
 * and nothing of it is visible, nothing acknowledged is lost (read back
 * while full, after freeing, after close/reopen), `strata_verify_dir`
 * passes, and writes resume once space returns.
 *
 * Two runs: one with the default head budget (the WAL fills the disk), one
 * with a small budget (background flushes fail on the full disk too).
 *
 * Needs root (mount(2)); when the mount fails the test FAILS loudly rather
 * than skipping, because a disk-full path nobody runs is a disk-full path
 * nobody knows works. The tmpfs is unmounted by the teardown even when a
 * check fails.
 */
#include <sys/mount.h>

#include "db_testlib.h"

#define FILLER_BYTES (1536u << 10)

typedef struct full {
    char *root;
    char mnt[4096], db[4096], filler[4096];
    int mounted;
} full;

static int full_setup(void **state)
{
    full *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->root = test_tmpdir("db_diskfull");
    dbt_fmt(f->mnt, sizeof f->mnt, "%s/mnt", f->root);
    dbt_fmt(f->db, sizeof f->db, "%s/db", f->mnt);
    dbt_fmt(f->filler, sizeof f->filler, "%s/filler", f->mnt);
    assert_int_equal(mkdir(f->mnt, 0755), 0);
    if (mount("tmpfs", f->mnt, "tmpfs", 0, "size=4m") != 0) {
        fprintf(stderr, "\n*** db_diskfull: CANNOT MOUNT a tmpfs on %s: %s.\n"
                        "*** This test needs root (CAP_SYS_ADMIN) to make a small filesystem; it does not skip.\n\n",
                f->mnt, strerror(errno));
        test_rmtree(f->root);
        free(f->root);
        free(f);
        return -1;
    }
    f->mounted = 1;
    *state = f;
    return 0;
}

static int full_teardown(void **state)
{
    full *f = *state;
    if (!f)
        return 0;
    if (f->mounted && umount2(f->mnt, MNT_DETACH) != 0) {
        fprintf(stderr, "db_diskfull: umount %s: %s\n", f->mnt, strerror(errno));
        return -1;
    }
    test_rmtree(f->root);
    free(f->root);
    free(f);
    return 0;
}

static void make_filler(const char *path)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    char buf[65536];
    memset(buf, 0xa5, sizeof buf);
    for (unsigned i = 0; i < FILLER_BYTES / sizeof buf; i++)
        assert_int_equal(fwrite(buf, 1, sizeof buf, fp), sizeof buf);
    assert_int_equal(fclose(fp), 0);
}

static void check_all(strata_db *db, dbt_set *truth, const char *phase)
{
    dbt_set want = {0}, got = {0};
    for (size_t i = 0; i < truth->n; i++)
        dbt_set_add(&want, truth->v[i].series, truth->v[i].t, truth->v[i].bits);
    dbt_set_finish(&want);
    int rc = dbt_read_all(db, &got);
    if (rc)
        fail_msg("%s: read: %s", phase, strata_strerror(rc));
    size_t d = dbt_set_diff(&want, &got, phase);
    dbt_set_free(&want);
    dbt_set_free(&got);
    if (d)
        fail_msg("%s: %zu differences between acknowledged writes and the database", phase, d);
}

enum { SERIES = 50, PER = 400 };

/* Batch n: PER samples over SERIES series, values that the WAL cannot
 * shrink much (hashes), distinct timestamps per batch. */
static void batch(uint64_t n, const strata_sid *sids, strata_sample *b)
{
    for (unsigned i = 0; i < PER; i++) {
        b[i].sid = sids[i % SERIES];
        /* irregular times and random bits: the WAL cannot shrink them much */
        b[i].t_ms = 1700000000000LL + (int64_t)(n * (PER / SERIES) + i / SERIES) * 1000 + (int64_t)(test_mix(n + i) % 997);
        b[i].value = dbt_from_bits(test_mix(n * PER + i));
    }
}

static void add_truth(dbt_set *truth, const strata_sample *b)
{
    char text[64];
    for (unsigned i = 0; i < PER; i++) {
        snprintf(text, sizeof text, "__name__=full,s=%u", i % SERIES);
        dbt_set_add(truth, text, b[i].t_ms, dbt_bits(b[i].value));
    }
}

/* Files in DIR/tables that the database does not list: leftovers of the
 * failed flushes must be gone after a reopen. */
static void no_stray_tables(strata_db *db, const char *dir)
{
    char tables[4096];
    dbt_fmt(tables, sizeof tables, "%s/tables", dir);
    strata_file_info *fi = NULL;
    size_t nfi = 0;
    assert_int_equal(strata_list_files(db, &fi, &nfi), STRATA_OK);
    DIR *d = opendir(tables);
    assert_non_null(d);
    struct dirent *e;
    size_t on_disk = 0;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            on_disk++;
    closedir(d);
    strata_free(fi);
    if (on_disk != nfi)
        fail_msg("%zu files in %s but the database lists %zu: leftovers of failed writes", on_disk, tables, nfi);
}

static void fill_free_resume(full *f, uint64_t budget)
{
    make_filler(f->filler);
    strata_options o;
    dbt_options(&o, f->db);
    o.sync = STRATA_SYNC_ALWAYS;
    o.wal_segment_bytes = 256 << 10;
    if (budget)
        o.head_budget_bytes = budget;
    dbt_log lg = {1};
    o.log_fn = dbt_log_fn;
    o.log_ctx = &lg;
    strata_db *db = dbt_open_ok(&o);
    strata_sid sids[SERIES];
    for (int k = 0; k < SERIES; k++) {
        char v[16];
        snprintf(v, sizeof v, "%d", k);
        sids[k] = dbt_series(db, "full", "s", v);
    }
    dbt_set truth = {0};
    strata_sample b[PER];
    uint64_t n = 0, acked = 0;
    int rc = STRATA_OK;
    /* fill */
    for (; n < 100000; n++) {
        batch(n, sids, b);
        rc = strata_write(db, b, PER);
        if (rc)
            break;
        add_truth(&truth, b);
        acked++;
    }
    if (rc != STRATA_ERR_NOSPACE)
        fail_msg("filling 4 MB: write %" PRIu64 " returned %s, want STRATA_ERR_NOSPACE", n, strata_strerror(rc));
    fprintf(stderr, "budget %" PRIu64 ": full after %" PRIu64 " acked batches (%" PRIu64 " samples)\n", budget,
            acked, acked * PER);
    /* while full: writes fail with NOSPACE and nothing of them is visible;
     * acked data stays readable. A background flush that fails for want
     * of space removes its partial table, which can free a few KB: a write
     * may then succeed, and is acknowledged data like any other. */
    int refused = 0;
    /* until 20 writes were refused: a failed background flush may free a
     * little space at any moment (timing, not correctness), so a fixed
     * number of tries is not enough under load; 1,000 batches are more
     * than the whole 4 MB */
    for (int i = 0; i < 1000 && refused < 20; i++) {
        batch(n + 1 + (uint64_t)i, sids, b);
        rc = strata_write(db, b, PER);
        if (rc == STRATA_OK) {
            add_truth(&truth, b);
            continue;
        }
        assert_int_equal(rc, STRATA_ERR_NOSPACE);
        refused++;
    }
    if (!refused)
        fail_msg("no write was refused while the disk was full");
    check_all(db, &truth, "while full");
    rc = strata_flush(db);
    fprintf(stderr, "flush while full: %s\n", strata_strerror(rc));
    strata_stats st;
    assert_int_equal(strata_get_stats(db, &st, sizeof st), STRATA_OK);
    assert_true(st.write_errors > 0);
    /* free space: writes resume at once */
    assert_int_equal(unlink(f->filler), 0);
    n += 1002; /* new timestamps, past every batch tried while full: the refused ones never existed */
    for (int i = 0; i < 50; i++, n++) {
        batch(n, sids, b);
        rc = strata_write(db, b, PER);
        if (rc)
            fail_msg("write %d after freeing %u bytes: %s", i, FILLER_BYTES, strata_strerror(rc));
        add_truth(&truth, b);
    }
    rc = strata_flush(db);
    fprintf(stderr, "flush after freeing: %s\n", strata_strerror(rc));
    check_all(db, &truth, "after the flush that followed freeing");
    rc = strata_close(db);
    fprintf(stderr, "close: %s\n", strata_strerror(rc));
    assert_int_equal(strata_verify_dir(f->db, NULL, NULL), STRATA_OK);
    db = dbt_open_ok(&o);
    check_all(db, &truth, "after reopen");
    no_stray_tables(db, f->db);
    /* and it still takes writes */
    batch(n, sids, b);
    assert_int_equal(strata_write(db, b, PER), STRATA_OK);
    add_truth(&truth, b);
    check_all(db, &truth, "write after reopen");
    assert_int_equal(strata_close(db), STRATA_OK);
    assert_int_equal(strata_verify_dir(f->db, NULL, NULL), STRATA_OK);
    dbt_set_free(&truth);
}

static void disk_full_wal_fills_then_writes_resume(void **state) { fill_free_resume(*state, 0); }

static void disk_full_during_flushes_then_writes_resume(void **state) { fill_free_resume(*state, 256 << 10); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(disk_full_wal_fills_then_writes_resume, full_setup, full_teardown),
        cmocka_unit_test_setup_teardown(disk_full_during_flushes_then_writes_resume, full_setup, full_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
