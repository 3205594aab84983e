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

/* Steps of the bounded workload: every kind of call, few enough that a
 * cut at each of its syncs stays quick under ASan. */
#define BOUNDED_STEPS 8

/* Every sync boundary of one workload, each with a random cut. */
static void cut_at_every_sync(strata_sync sync, const char *tag)
{
    uint64_t seed = test_seed(7);
    char *base = test_tmpdir(tag);
    double t0 = pc_now_s();
    uint64_t total = pc_cut_once(sync, BOUNDED_STEPS, seed, seed, 0, false, base);
    assert_true(total > 10);
    for (uint64_t n = 1; n <= total; n++)
        pc_cut_once(sync, BOUNDED_STEPS, seed, test_mix(seed + n), n, n % 4 == 0, base);
    print_message("%s: %llu cuts (one per sync, and one after the end) in %.2f s\n", tag,
                  (unsigned long long)total + 1, pc_now_s() - t0);
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
