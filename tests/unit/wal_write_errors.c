/* WAL write errors: a failed write (ENOSPC after a partial write, EFBIG
 * from RLIMIT_FSIZE, a failed end-of-segment marker) or a failed fsync under
 * sync=always returns the error, leaves nothing of the record for replay,
 * and a later append succeeds once the cause is gone. A failed fsync under
 * interval fails every later sync until its segment is retired. */
#include <signal.h>
#include <sys/resource.h>

#include "wal_testlib.h"
#include "wal/wal_int.h"

/* Fault hook: the write after `fail_write_after` more succeed writes half
 * its bytes and fails with NOSPACE; the fsync after `fail_fsync_after`
 * fails with IO. -1 disables each. */
typedef struct faults {
    int fail_write_after;
    int fail_fsync_after;
    int writes_failed, fsyncs_failed;
} faults;

static int f_pwrite(void *ctx, int fd, const void *p, size_t n, uint64_t off)
{
    faults *f = ctx;
    if (f->fail_write_after >= 0 && f->fail_write_after-- == 0) {
        f->writes_failed++;
        (void)base_file_pwrite_all(fd, p, n / 2, off); /* what a full disk lets through */
        return STRATA_ERR_NOSPACE;
    }
    return base_file_pwrite_all(fd, p, n, off);
}

static int f_fsync(void *ctx, int fd)
{
    faults *f = ctx;
    if (f->fail_fsync_after >= 0 && f->fail_fsync_after-- == 0) {
        f->fsyncs_failed++;
        return STRATA_ERR_IO;
    }
    return fdatasync(fd) == 0 ? STRATA_OK : STRATA_ERR_IO;
}

static void append_fails(wal *w, const gen *g, size_t i, int want)
{
    uint8_t *p = gen_payload(g, i);
    wal_pos before = wal_position(w), e = {0, 0};
    assert_int_equal(wal_append(w, gen_type(g, i), p, g->len[i], &e), want);
    free(p);
    assert_int_equal(e.segment, 0); /* not set on error */
    /* The position did not move: nothing partial stays behind it. */
    assert_int_equal(wal_pos_cmp(wal_position(w), before), 0);
}

static void replay_expect(const wal_opts *o0, const gen *g, size_t n)
{
    wal_opts o = *o0;
    o.vfs = NULL;
    check ck = {.g = g};
    wal_replay_stats st;
    wal *w = test_open_replay(&o, (wal_pos){0, 0}, &ck, &st);
    assert_int_equal(ck.bad, 0);
    assert_int_equal(ck.got, n);
    assert_int_equal(st.corruptions, 0);
    assert_int_equal(wal_close(w), STRATA_OK);
}

static void wal_failed_write_leaves_nothing_and_appends_resume(void **state)
{
    (void)state;
    char *dir = test_tmpdir("wal-enospc");
    gen g;
    gen_init(&g, test_seed(31), 40, 3000);
    faults f = {-1, -1, 0, 0};
    base_vfs io = *base_vfs_posix();
    io.pwrite = f_pwrite;
    io.fdatasync = f_fsync;
    io.ctx = &f;
    wal_opts o = test_wal_opts(dir, STRATA_SYNC_INTERVAL, 256, 1 << 30);
    o.vfs = &io;
    wal *w = test_open_replay(&o, (wal_pos){0, 0}, NULL, NULL);
    for (size_t i = 0; i < 10; i++)
        gen_append(w, &g, i, NULL);
    for (size_t i = 10; i < 40; i += 3) {
        f.fail_write_after = 0;
        append_fails(w, &g, i, STRATA_ERR_NOSPACE);
        char *p = test_seg_path(dir, 1);
        assert_int_equal(test_file_size(p), wal_position(w).offset); /* partial bytes cut */
        free(p);
        /* Space is back. */
        for (size_t j = i; j < MIN(i + 3, 40); j++)
            gen_append(w, &g, j, NULL);
    }
    wal_stats ws;
    wal_stats_get(w, &ws);
    assert_int_equal(ws.write_errors, f.writes_failed);
    assert_int_equal(ws.records, 40);
    assert_int_equal(wal_close(w), STRATA_OK);
    replay_expect(&o, &g, 40);
    gen_free(&g);
    test_rmtree(dir);
    free(dir);
}

static void wal_failed_fsync_under_always_rolls_the_record_back(void **state)
{
    (void)state;
    char *dir = test_tmpdir("wal-eio");
    gen g;
    gen_init(&g, test_seed(32), 20, 500);
    faults f = {-1, -1, 0, 0};
    base_vfs io = *base_vfs_posix();
    io.pwrite = f_pwrite;
    io.fdatasync = f_fsync;
    io.ctx = &f;
    wal_opts o = test_wal_opts(dir, STRATA_SYNC_ALWAYS, 0, 0);
    o.vfs = &io;
    wal *w = test_open_replay(&o, (wal_pos){0, 0}, NULL, NULL);
    for (size_t i = 0; i < 5; i++)
        gen_append(w, &g, i, NULL);
    f.fail_fsync_after = 0;
    append_fails(w, &g, 5, STRATA_ERR_IO);
    for (size_t i = 5; i < 20; i++)
        gen_append(w, &g, i, NULL);
    wal_stats ws;
    wal_stats_get(w, &ws);
    assert_int_equal(ws.sync_errors, 1);
    assert_int_equal(wal_close(w), STRATA_OK);
    replay_expect(&o, &g, 20);
    gen_free(&g);
    test_rmtree(dir);
    free(dir);
}

static void count_lost(void *ctx)
{
    (*(int *)ctx)++;
}

/* Under interval the records were acknowledged before the fsync failed,
 * and Linux may have dropped their pages: no later sync may report them
 * durable until the owner has them elsewhere (wal_remove_before past the
 * failed segment); the owner is told once per failure. */
static void wal_failed_fsync_under_interval_fails_syncs_until_the_segment_is_retired(void **state)
{
    (void)state;
    char *dir = test_tmpdir("wal-eio-interval");
    gen g;
    gen_init(&g, test_seed(34), 12, 500);
    faults f = {-1, -1, 0, 0};
    base_vfs io = *base_vfs_posix();
    io.pwrite = f_pwrite;
    io.fdatasync = f_fsync;
    io.ctx = &f;
    int told = 0;
    wal_opts o = test_wal_opts(dir, STRATA_SYNC_INTERVAL, 0, 0);
    o.sync_interval_ms = 24LL * 3600 * 1000; /* the test drives every sync */
    o.vfs = &io;
    o.on_lost = count_lost;
    o.lost_ctx = &told;
    wal *w = test_open_replay(&o, (wal_pos){0, 0}, NULL, NULL);
    for (size_t i = 0; i < 4; i++)
        gen_append(w, &g, i, NULL);
    assert_int_equal(wal_sync(w), STRATA_OK);
    assert_false(wal_lost_pending(w));
    for (size_t i = 4; i < 8; i++)
        gen_append(w, &g, i, NULL);
    f.fail_fsync_after = 0;
    assert_int_equal(wal_sync(w), STRATA_ERR_IO);
    assert_int_equal(told, 1);
    assert_true(wal_lost_pending(w));
    /* The fault is gone and the fsync succeeds, but records 4..7 may be
     * lost: the sync still fails, with or without new records. */
    assert_int_equal(wal_sync(w), STRATA_ERR_IO);
    gen_append(w, &g, 8, NULL);
    assert_int_equal(wal_sync(w), STRATA_ERR_IO);
    wal_stats ws;
    wal_stats_get(w, &ws);
    assert_true(ws.lost_pending);
    assert_int_equal(ws.sync_errors, 1);
    /* The owner wrote them elsewhere and retires the segment. */
    wal_pos cut;
    assert_int_equal(wal_cut(w, &cut), STRATA_OK);
    assert_int_equal(wal_remove_before(w, cut.segment - 1), STRATA_OK); /* not past it: still failing */
    assert_int_equal(wal_sync(w), STRATA_ERR_IO);
    assert_int_equal(wal_remove_before(w, cut.segment), STRATA_OK);
    assert_false(wal_lost_pending(w));
    for (size_t i = 9; i < 12; i++)
        gen_append(w, &g, i, NULL);
    assert_int_equal(wal_sync(w), STRATA_OK);
    assert_int_equal(told, 1);
    assert_int_equal(wal_close(w), STRATA_OK);
    gen_free(&g);
    test_rmtree(dir);
    free(dir);
}

static void wal_failed_rotation_keeps_the_segment_usable(void **state)
{
    (void)state;
    char *dir = test_tmpdir("wal-rot");
    gen g;
    gen_init(&g, test_seed(33), 60, 300);
    faults f = {-1, -1, 0, 0};
    base_vfs io = *base_vfs_posix();
    io.pwrite = f_pwrite;
    io.fdatasync = f_fsync;
    io.ctx = &f;
    wal_opts o = test_wal_opts(dir, STRATA_SYNC_ALWAYS, 128, 1024);
    o.vfs = &io;
    wal *w = test_open_replay(&o, (wal_pos){0, 0}, NULL, NULL);
    size_t done = 0;
    for (int round = 0; round < 4; round++) {
        /* Fill until the next append must rotate. */
        while (done < g.n) {
            wal_pos p = wal_position(w);
            if (p.offset > 0 && wal_framed_end(128, p.offset, g.len[done]) > 1024)
                break;
            gen_append(w, &g, done++, NULL);
        }
        if (done + 1 >= g.n)
            break;
        uint64_t seg = wal_position(w).segment;
        if (round % 2 == 0) {
            f.fail_write_after = 0; /* the end-of-segment marker fails */
            append_fails(w, &g, done, STRATA_ERR_NOSPACE);
        } else {
            f.fail_fsync_after = 0; /* its fsync fails */
            append_fails(w, &g, done, STRATA_ERR_IO);
        }
        assert_int_equal(wal_position(w).segment, seg);
        gen_append(w, &g, done++, NULL); /* the retry rotates */
        assert_int_equal(wal_position(w).segment, seg + 1);
    }
    assert_int_equal(wal_close(w), STRATA_OK);
    replay_expect(&o, &g, done);
    gen_free(&g);
    test_rmtree(dir);
    free(dir);
}

/* A real kernel partial write: RLIMIT_FSIZE makes write(2) stop at the
 * limit and then fail with EFBIG (SIGXFSZ ignored). */
static void wal_file_size_limit_write_is_rolled_back(void **state)
{
    (void)state;
    char *dir = test_tmpdir("wal-fsize");
    gen g;
    gen_init(&g, test_seed(34), 12, 200);
    g.len[10] = 5000;
    wal_opts o = test_wal_opts(dir, STRATA_SYNC_NONE, 0, 0);
    wal *w = test_open_replay(&o, (wal_pos){0, 0}, NULL, NULL);
    for (size_t i = 0; i < 10; i++)
        gen_append(w, &g, i, NULL);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = (rlim_t)(wal_position(w).offset + 1000);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    append_fails(w, &g, 10, STRATA_ERR_IO);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    char *p = test_seg_path(dir, 1);
    assert_int_equal(test_file_size(p), wal_position(w).offset);
    free(p);
    gen_append(w, &g, 10, NULL);
    gen_append(w, &g, 11, NULL);
    assert_int_equal(wal_close(w), STRATA_OK);
    replay_expect(&o, &g, 12);
    gen_free(&g);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wal_failed_write_leaves_nothing_and_appends_resume),
        cmocka_unit_test(wal_failed_fsync_under_always_rolls_the_record_back),
        cmocka_unit_test(wal_failed_fsync_under_interval_fails_syncs_until_the_segment_is_retired),
        cmocka_unit_test(wal_failed_rotation_keeps_the_segment_usable),
        cmocka_unit_test(wal_file_size_limit_write_is_rolled_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
