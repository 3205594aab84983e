/* db_power_cut_long.c: the long run of db_power_cut.c (make test-long):
 * 1,000 power cuts, each at a random sync of a workload with its own seed
 * and sync policy, with random (or harsh: nothing unsynced survives)
 * choices at the cut; the same checks after each (powercut_lib.h). */
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "powercut_lib.h"

/* 1,000 cuts, each with its own workload seed, policy, cut point and
 * choices; STRATA_POWERCUT_CUTS changes the number. */
static void power_cut_at_random_syncs_of_random_workloads(void **state)
{
    (void)state;
    uint64_t seed = test_seed(11);
    long cuts = 1000;
    const char *e = getenv("STRATA_POWERCUT_CUTS");
    if (e && atol(e) > 0)
        cuts = atol(e);
    char *base = test_tmpdir("powercut_long");
    test_rng r;
    test_rng_init(&r, seed);
    double t0 = pc_now_s();
    uint64_t total = pc_cut_once(STRATA_SYNC_ALWAYS, PC_STEPS, seed, seed, 0, false, base);
    for (long i = 0; i < cuts; i++) {
        strata_sync sync = test_rng_below(&r, 3) ? STRATA_SYNC_ALWAYS : STRATA_SYNC_INTERVAL;
        uint64_t wseed = test_rng_next(&r), cseed = test_rng_next(&r);
        /* a few past the end: the cut then falls after a clean close */
        uint64_t n = 1 + test_rng_below(&r, total + 3);
        pc_cut_once(sync, PC_STEPS, wseed, cseed, n, test_rng_below(&r, 5) == 0, base);
    }
    print_message("powercut_long: %ld random cuts in %.2f s\n", cuts, pc_now_s() - t0);
    test_rmtree(base);
    free(base);
}

int main(void)
{
    /* a thousand databases written and checked: use memory when the
     * caller did not choose */
    if (!getenv("TMPDIR") && access("/dev/shm", W_OK) == 0)
        setenv("TMPDIR", "/dev/shm", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(power_cut_at_random_syncs_of_random_workloads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
