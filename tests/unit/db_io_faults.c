/* db_io_faults.c: EIO and ENOSPC at the Nth write, fsync or rename of the
 * engine's workload (powercut_lib.h), for N swept over the workload. The
 * fault fires once; the workload goes on past it (the fault has cleared).
 * Then the power is cut with nothing unsynced surviving, the database is
 * reopened without faults, and every sample whose call was acknowledged
 * must be there (a call that claimed success for data it had not made
 * durable would lose it here), acknowledged deletes must hold, and verify
 * must be clean. A fault in a foreground path must fail its call. */
#include <stdlib.h>
#include <unistd.h>

#include "powercut_lib.h"

typedef struct sweep_stats {
    unsigned runs, fired, surfaced;
} sweep_stats;

static void fault_once(strata_sync sync, fv_op op, long n, int status, uint64_t seed, const char *base,
                       sweep_stats *st)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/db", base);
    test_rmtree(dir);
    static pc_run r;
    memset(&r, 0, sizeof r);
    r.sync = sync;
    r.steps = 8;
    r.seed = seed;
    faultvfs *fv = faultvfs_new(dir, seed);
    assert_non_null(fv);
    faultvfs_set_harsh(fv, true);
    faultvfs_fail(fv, op, n, status);
    pc_workload(&r, dir, faultvfs_vfs(fv), false);
    st->runs++;
    if (faultvfs_failed(fv)) {
        st->fired++;
        if (r.calls_failed)
            st->surfaced++;
    }
    faultvfs_cut_now(fv);
    assert_int_equal(faultvfs_apply_cut(fv, NULL, NULL, NULL), 0);
    faultvfs_free(fv);
    char what[160];
    snprintf(what, sizeof what, "%s at %s number %ld, sync %s, workload seed %llu",
             status == STRATA_ERR_NOSPACE ? "ENOSPC" : "EIO",
             op == FV_PWRITE ? "pwrite" : op == FV_FSYNC ? "fsync" : "rename", n + 1,
             sync == STRATA_SYNC_ALWAYS ? "always" : "interval", (unsigned long long)seed);
    pc_check(&r, dir, what);
}

/* Counts the operations of a clean run, then fails each (or every step-th,
 * for at most max runs) once. */
static void sweep(strata_sync sync, fv_op op, const char *tag, long max)
{
    uint64_t seed = test_seed(5);
    char *base = test_tmpdir(tag);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/db", base);
    static pc_run r;
    memset(&r, 0, sizeof r);
    r.sync = sync;
    r.steps = 8;
    r.seed = seed;
    faultvfs *fv = faultvfs_new(dir, seed);
    pc_workload(&r, dir, faultvfs_vfs(fv), true);
    assert_int_equal(r.calls_failed, 0);
    long total = (long)faultvfs_count(fv, op);
    faultvfs_free(fv);
    long step = total > max ? (total + max - 1) / max : 1;
    sweep_stats st = {0};
    double t0 = pc_now_s();
    for (long n = 0; n < total; n += step)
        fault_once(sync, op, n, n / step % 2 ? STRATA_ERR_IO : STRATA_ERR_NOSPACE, seed, base, &st);
    print_message("%s: %ld operations, %u faulted runs (%u fired, %u failed a call) in %.2f s\n", tag, total, st.runs,
                  st.fired, st.surfaced, pc_now_s() - t0);
    assert_int_equal(st.fired, st.runs);
    test_rmtree(base);
    free(base);
}

/* Faulted runs per kind of operation: 16 under make test (every
 * operation is swept when there are fewer), STRATA_IO_FAULT_RUNS for more. */
static long max_runs(void)
{
    const char *e = getenv("STRATA_IO_FAULT_RUNS");
    return e && atol(e) > 0 ? atol(e) : 16;
}

static void failed_writes_lose_nothing_acknowledged(void **state)
{
    (void)state;
    sweep(STRATA_SYNC_ALWAYS, FV_PWRITE, "iofault_pwrite", max_runs());
}

static void failed_fsyncs_lose_nothing_acknowledged(void **state)
{
    (void)state;
    sweep(STRATA_SYNC_ALWAYS, FV_FSYNC, "iofault_fsync", max_runs());
}

static void failed_renames_lose_nothing_acknowledged(void **state)
{
    (void)state;
    sweep(STRATA_SYNC_ALWAYS, FV_RENAME, "iofault_rename", max_runs());
}

/* Under interval a failed fsync (the background thread's, driven here by
 * the workload's explicit syncs) was only logged, and the next good fsync
 * claimed the pages the failed one lost: a sync that reports success must
 * cover every write acknowledged before it. */
static void failed_interval_fsyncs_lose_nothing_a_later_sync_claimed(void **state)
{
    (void)state;
    sweep(STRATA_SYNC_INTERVAL, FV_FSYNC, "iofault_fsync_interval", max_runs());
}

int main(void)
{
    if (!getenv("TMPDIR") && access("/dev/shm", W_OK) == 0)
        setenv("TMPDIR", "/dev/shm", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(failed_writes_lose_nothing_acknowledged),
        cmocka_unit_test(failed_fsyncs_lose_nothing_acknowledged),
        cmocka_unit_test(failed_renames_lose_nothing_acknowledged),
        cmocka_unit_test(failed_interval_fsyncs_lose_nothing_a_later_sync_claimed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
