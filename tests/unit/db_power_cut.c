/* db_power_cut.c: the engine under power cuts at every sync. A faultvfs
 * models the page cache; the workload of powercut_lib.h runs once to count
 * its syncs (fsync, fdatasync, directory fsync), then once per sync with
 * the power cut just before that sync (and once after a clean close):
 * every write not synced is kept, dropped or torn, every directory
 * operation not synced kept or dropped, chosen by a seeded RNG. After each
 * cut the database must open, hold every acknowledged sample (sync=always;
 * under interval every sample acknowledged before the last sync the
 * workload drove), keep acknowledged deletes, and verify clean. */
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "powercut_lib.h"

/* Runs the workload with the power cut at sync n (0: after the end) and
 * checks the result; returns the syncs the run made. */
static uint64_t cut_once(strata_sync sync, uint64_t wseed, uint64_t cseed, uint64_t n, bool harsh, const char *base)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/db", base);
    test_rmtree(dir);
    static pc_run r;
    memset(&r, 0, sizeof r);
    r.sync = sync;
    r.seed = wseed;
    faultvfs *fv = faultvfs_new(dir, cseed);
    assert_non_null(fv);
    faultvfs_set_harsh(fv, harsh);
    faultvfs_cut_at_sync(fv, n);
    pc_workload(&r, dir, faultvfs_vfs(fv), true);
    uint64_t syncs = faultvfs_syncs(fv);
    if (r.calls_failed && !faultvfs_cut_done(fv))
        fail_msg("a call failed (at call %d) without a power cut", r.first_error);
    faultvfs_cut_now(fv);
    unsigned kept = 0, dropped = 0, torn = 0;
    assert_int_equal(faultvfs_apply_cut(fv, &kept, &dropped, &torn), 0);
    faultvfs_free(fv);
    char what[160];
    snprintf(what, sizeof what, "%s, workload seed %llu, cut seed %llu, cut at sync %llu%s",
             sync == STRATA_SYNC_ALWAYS ? "always" : "interval", (unsigned long long)wseed, (unsigned long long)cseed,
             (unsigned long long)n, harsh ? " (harsh)" : "");
    pc_check(&r, dir, what);
    return syncs;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Every sync boundary of one workload, each with a random cut. */
static void cut_at_every_sync(strata_sync sync, const char *tag)
{
    uint64_t seed = test_seed(7);
    char *base = test_tmpdir(tag);
    double t0 = now_s();
    uint64_t total = cut_once(sync, seed, seed, 0, false, base);
    assert_true(total > 10);
    for (uint64_t n = 1; n <= total; n++)
        cut_once(sync, seed, test_mix(seed + n), n, n % 4 == 0, base);
    print_message("%s: %llu cuts (one per sync, and one after the end) in %.2f s\n", tag,
                  (unsigned long long)total + 1, now_s() - t0);
    test_rmtree(base);
    free(base);
}

static void power_cut_at_every_sync_keeps_what_sync_always_acknowledged(void **state)
{
    (void)state;
    cut_at_every_sync(STRATA_SYNC_ALWAYS, "powercut_always");
}

static void power_cut_at_every_sync_keeps_what_the_last_interval_sync_covered(void **state)
{
    (void)state;
    cut_at_every_sync(STRATA_SYNC_INTERVAL, "powercut_interval");
}

int main(void)
{
    /* hundreds of databases written and checked: use memory when the
     * caller did not choose */
    if (!getenv("TMPDIR") && access("/dev/shm", W_OK) == 0)
        setenv("TMPDIR", "/dev/shm", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(power_cut_at_every_sync_keeps_what_sync_always_acknowledged),
        cmocka_unit_test(power_cut_at_every_sync_keeps_what_the_last_interval_sync_covered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
