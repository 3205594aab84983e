/* Tiered planner decisions on synthetic file sets: groups of 8 at level 0
 * (TSM's level 1) and 4 above, oldest first, one job per level at a time,
 * the cold full compaction that happens once, forced full compaction. */
#include <stdlib.h>

#include "compaction/compaction.h"
#include "testutil.h"

#define MB (1ULL << 20)
#define HOUR (3600LL * 1000)

static cpt_file file(uint64_t no, int level, uint64_t bytes, uint64_t min_sid, uint64_t max_sid)
{
    cpt_file f = {0};
    f.file_no = no;
    f.level = level;
    f.bytes = bytes;
    f.min_sid = min_sid;
    f.max_sid = max_sid;
    f.max_t = 1000;
    return f;
}

static cpt_planner *tiered(void)
{
    cpt_planner *p = NULL;
    assert_int_equal(cpt_planner_tiered_new(NULL, &p), STRATA_OK); /* defaults: cold 4 h, 8 levels */
    assert_string_equal(p->name, "tiered");
    return p;
}

static cpt_partition hot(const cpt_file *f, size_t n)
{
    cpt_partition part = {f, n, 10 * HOUR, 10 * HOUR + 60000, .force_full = false};
    return part;
}

static void tiered_level0_merges_the_oldest_eight(void **state)
{
    (void)state;
    cpt_planner *p = tiered();
    cpt_file f[12];
    /* file numbers out of order in the array: the planner sorts */
    for (int i = 0; i < 12; i++)
        f[i] = file(100 - (uint64_t)i, 0, MB, 0, 999);
    cpt_jobs jobs = {0};
    cpt_partition part = hot(f, 7);
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    assert_int_equal(jobs.n, 0);

    part = hot(f, 12);
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    assert_int_equal(jobs.n, 1);
    const cpt_job *j = &jobs.jobs[0];
    assert_int_equal(j->kind, CPT_JOB_MERGE);
    assert_int_equal(j->in_level, 0);
    assert_int_equal(j->out_level, 1);
    assert_int_equal(j->n_inputs, 8);
    /* the 8 oldest are 89..96, newest first */
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(j->inputs[i], 96 - i);
    assert_int_equal(j->input_bytes, 8 * MB);
    assert_int_equal(j->n_gps, 0);
    assert_true(j->n_splits >= 1);
    cpt_jobs_free(&jobs);
    cpt_planner_free(p);
}

static void tiered_upper_levels_merge_in_fours(void **state)
{
    (void)state;
    cpt_planner *p = tiered();
    cpt_file f[] = {
        file(1, 1, 8 * MB, 0, 999), file(2, 1, 8 * MB, 0, 999), file(3, 1, 8 * MB, 0, 999),
        file(4, 2, 32 * MB, 0, 999), file(5, 2, 32 * MB, 0, 999), file(6, 2, 32 * MB, 0, 999),
        file(7, 2, 32 * MB, 0, 999), file(8, 2, 32 * MB, 0, 999),
    };
    cpt_jobs jobs = {0};
    cpt_partition part = hot(f, ARRAY_LEN(f));
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    /* level 1 has 3: nothing; level 2 has 5: the oldest 4 */
    assert_int_equal(jobs.n, 1);
    assert_int_equal(jobs.jobs[0].in_level, 2);
    assert_int_equal(jobs.jobs[0].out_level, 3);
    assert_int_equal(jobs.jobs[0].n_inputs, 4);
    assert_int_equal(jobs.jobs[0].inputs[0], 7);
    assert_int_equal(jobs.jobs[0].inputs[3], 4);
    cpt_jobs_free(&jobs);

    /* The fourth level-1 file: both levels get a job, disjoint inputs. */
    cpt_file g[ARRAY_LEN(f) + 1];
    memcpy(g, f, sizeof f);
    g[ARRAY_LEN(f)] = file(9, 1, 8 * MB, 0, 999);
    part = hot(g, ARRAY_LEN(g));
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    assert_int_equal(jobs.n, 2);
    assert_int_equal(jobs.jobs[0].in_level, 1);
    assert_int_equal(jobs.jobs[0].n_inputs, 4);
    assert_int_equal(jobs.jobs[1].in_level, 2);
    cpt_jobs_free(&jobs);

    /* Tier merges never write the last level (reserved for full compaction). */
    cpt_file h[4];
    for (int i = 0; i < 4; i++)
        h[i] = file(20 + (uint64_t)i, 6, 100 * MB, 0, 999);
    part = hot(h, 4);
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    assert_int_equal(jobs.n, 0);
    for (int i = 0; i < 4; i++)
        h[i].level = 5;
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    assert_int_equal(jobs.n, 1);
    assert_int_equal(jobs.jobs[0].out_level, 6);
    cpt_jobs_free(&jobs);
    cpt_planner_free(p);
}

static void tiered_never_offers_files_in_a_running_job(void **state)
{
    (void)state;
    cpt_planner *p = tiered();
    cpt_file f[20];
    for (int i = 0; i < 16; i++)
        f[i] = file(1 + (uint64_t)i, 0, MB, 0, 999);
    for (int i = 16; i < 20; i++)
        f[i] = file(1 + (uint64_t)i, 1, 8 * MB, 0, 999);
    /* 1..8 are being merged: level 0 waits for that job (its output must be
     * numbered before the next group's), level 1 is free. */
    for (int i = 0; i < 8; i++)
        f[i].compacting = true;
    cpt_jobs jobs = {0};
    cpt_partition part = hot(f, 20);
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    assert_int_equal(jobs.n, 1);
    assert_int_equal(jobs.jobs[0].in_level, 1);
    for (size_t i = 0; i < jobs.jobs[0].n_inputs; i++)
        assert_true(jobs.jobs[0].inputs[i] > 16);
    cpt_jobs_free(&jobs);

    /* Cold, but a job runs: the full compaction waits. */
    part.last_write_ms = 0;
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    assert_int_equal(jobs.n, 0);
    cpt_planner_free(p);
}

static void tiered_cold_partition_is_fully_compacted_once(void **state)
{
    (void)state;
    cpt_planner *p = tiered();
    cpt_file f[] = {
        file(1, 0, MB, 0, 999), file(2, 0, MB, 0, 999), file(3, 1, 8 * MB, 0, 999), file(4, 2, 32 * MB, 0, 999),
    };
    cpt_jobs jobs = {0};
    cpt_partition part = hot(f, ARRAY_LEN(f));
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    assert_int_equal(jobs.n, 0); /* hot, no group full */

    /* 4 h without writes (the default cold_ms): one full job of everything. */
    part.now_ms = part.last_write_ms + 4 * HOUR;
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    assert_int_equal(jobs.n, 1);
    const cpt_job *j = &jobs.jobs[0];
    assert_int_equal(j->kind, CPT_JOB_FULL);
    assert_int_equal(j->n_inputs, 4);
    assert_int_equal(j->out_level, STRATA_MAX_LEVELS - 1);
    assert_int_equal(j->in_level, 0);
    assert_int_equal(j->inputs[0], 2); /* newest first: level 0 by number, then 1, then 2 */
    assert_int_equal(j->inputs[1], 1);
    assert_int_equal(j->inputs[2], 3);
    assert_int_equal(j->inputs[3], 4);
    cpt_jobs_free(&jobs);

    /* Its outputs: two big files at the last level on disjoint sids. Still
     * cold, nothing changed: no job again. */
    cpt_file done[] = {file(10, 7, 30 * MB, 0, 499), file(11, 7, 12 * MB, 500, 999)};
    cpt_partition after = part;
    after.files = done;
    after.n_files = 2;
    assert_int_equal(cpt_plan(p, &after, &jobs), STRATA_OK);
    assert_int_equal(jobs.n, 0);
    after.force_full = true; /* compact --full on a fully compacted partition */
    assert_int_equal(cpt_plan(p, &after, &jobs), STRATA_OK);
    assert_int_equal(jobs.n, 0);
    after.force_full = false;

    /* A delete touches the second file: rewrite it alone. */
    done[1].tombstones = 1;
    assert_int_equal(cpt_plan(p, &after, &jobs), STRATA_OK);
    assert_int_equal(jobs.n, 1);
    assert_int_equal(jobs.jobs[0].n_inputs, 1);
    assert_int_equal(jobs.jobs[0].inputs[0], 11);
    cpt_jobs_free(&jobs);
    done[1].tombstones = 0;

    /* Late backfill for sids 100..200 lands at level 0 and the partition
     * goes cold again: merged with the last-level file it overlaps only. */
    cpt_file late[] = {done[0], done[1], file(12, 0, MB, 100, 200)};
    after.files = late;
    after.n_files = 3;
    assert_int_equal(cpt_plan(p, &after, &jobs), STRATA_OK);
    assert_int_equal(jobs.n, 1);
    assert_int_equal(jobs.jobs[0].n_inputs, 2);
    assert_int_equal(jobs.jobs[0].inputs[0], 12);
    assert_int_equal(jobs.jobs[0].inputs[1], 10);
    cpt_jobs_free(&jobs);

    /* Forced full on a hot partition. */
    part.now_ms = part.last_write_ms + 1;
    part.force_full = true;
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    assert_int_equal(jobs.n, 1);
    assert_int_equal(jobs.jobs[0].kind, CPT_JOB_FULL);
    cpt_jobs_free(&jobs);

    /* An empty partition plans nothing. */
    cpt_partition empty = {NULL, 0, 0, 10 * HOUR, .force_full = true};
    assert_int_equal(cpt_plan(p, &empty, &jobs), STRATA_OK);
    assert_int_equal(jobs.n, 0);
    cpt_planner_free(p);
}

static void tiered_plan_appends_and_fails_cleanly(void **state)
{
    (void)state;
    cpt_planner *p = tiered();
    cpt_file f[8];
    for (int i = 0; i < 8; i++)
        f[i] = file(1 + (uint64_t)i, 0, MB, 0, 99);
    cpt_partition part = hot(f, 8);
    cpt_jobs jobs = {0};
    /* Two partitions' jobs accumulate in one list. */
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    assert_int_equal(jobs.n, 2);
    /* Allocation failure: the list keeps what it had. */
    for (long k = 0; k < 6; k++) {
        base_alloc_fail_after(k);
        int rc = cpt_plan(p, &part, &jobs);
        base_alloc_fail_after(-1);
        if (rc == STRATA_OK) {
            assert_int_equal(jobs.n, 3);
            break;
        }
        assert_int_equal(rc, STRATA_ERR_NOMEM);
        assert_int_equal(jobs.n, 2);
    }
    cpt_jobs_free(&jobs);
    assert_null(jobs.jobs);
    cpt_planner_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tiered_level0_merges_the_oldest_eight),
        cmocka_unit_test(tiered_upper_levels_merge_in_fours),
        cmocka_unit_test(tiered_never_offers_files_in_a_running_job),
        cmocka_unit_test(tiered_cold_partition_is_fully_compacted_once),
        cmocka_unit_test(tiered_plan_appends_and_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
