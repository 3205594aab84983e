/* Leveled planner decisions on synthetic file sets: Badger's level targets
 * and base level, level-0 handling, adjusted scores, trivial moves, the
 * grandparent cut and sid-range splits. */
#include <stdlib.h>

#include "compaction/compaction.h"
#include "testutil.h"

#define MB (1ULL << 20)

static cpt_opts small_opts(void)
{
    cpt_opts o;
    cpt_opts_init(&o);
    o.max_levels = 7; /* 0..6 */
    o.base_level_bytes = 10 * MB;
    o.level_multiplier = 10;
    o.target_file_bytes = 2 * MB;
    o.l0_trigger = 4;
    o.cold_ms = 1000000;
    return o;
}

static cpt_file file(uint64_t no, int level, uint64_t bytes, uint64_t min_sid, uint64_t max_sid)
{
    cpt_file f = {0};
    f.file_no = no;
    f.level = level;
    f.bytes = bytes;
    f.min_sid = min_sid;
    f.max_sid = max_sid;
    f.min_t = 0;
    f.max_t = 1000;
    f.samples = bytes / 2;
    return f;
}

static cpt_partition hot(const cpt_file *f, size_t n)
{
    cpt_partition p = {f, n, 1000, 2000, .force_full = false};
    return p;
}

static bool has_input(const cpt_job *j, uint64_t no)
{
    for (size_t i = 0; i < j->n_inputs; i++)
        if (j->inputs[i] == no)
            return true;
    return false;
}

static void leveled_targets_follow_the_last_level(void **state)
{
    (void)state;
    cpt_opts o = small_opts();
    cpt_targets t;
    uint64_t b[STRATA_MAX_LEVELS] = {0};

    /* Empty partition: every target is the base size, level 0 goes to the last level. */
    cpt_level_targets(&o, b, &t);
    assert_int_equal(t.base_level, 6);
    for (int i = 1; i < 7; i++)
        assert_int_equal(t.target[i], 10 * MB);

    /* 1000 MB at the bottom: 1000, 100, 10 (base), then moved down past the
     * empty level 5 to the level just above the data. */
    b[6] = 1000 * MB;
    cpt_level_targets(&o, b, &t);
    assert_int_equal(t.target[6], 1000 * MB);
    assert_int_equal(t.target[5], 100 * MB);
    assert_int_equal(t.target[4], 10 * MB);
    assert_int_equal(t.target[3], 10 * MB);
    assert_int_equal(t.base_level, 5);

    /* Data at level 4 does not stop the move down: the loop only looks
     * below the base (the planner then sends level 0 to level 4, the
     * highest non-empty level, never past it). */
    b[4] = 1 * MB;
    cpt_level_targets(&o, b, &t);
    assert_int_equal(t.base_level, 5);
    b[5] = 1 * MB;
    cpt_level_targets(&o, b, &t);
    assert_int_equal(t.base_level, 4);
    b[5] = 0;

    /* Empty level 4 above a level 5 still under its target: base is 5. */
    b[4] = 0;
    b[5] = 50 * MB;
    cpt_level_targets(&o, b, &t);
    assert_int_equal(t.base_level, 5);

    /* 100 GB bottom: 100G, 10G, 1G, 100M, 10M -> base 2; level 3 holds
     * data so the base is not moved past it, but level 2 is empty and level
     * 3 under its 100M target, so level 3 becomes the base. */
    memset(b, 0, sizeof b);
    b[6] = 100000 * MB;
    b[3] = 5 * MB;
    cpt_level_targets(&o, b, &t);
    assert_int_equal(t.target[5], 10000 * MB);
    assert_int_equal(t.target[2], 10 * MB);
    assert_int_equal(t.base_level, 3);
    b[3] = 200 * MB; /* over its target: the base stays at 2 */
    cpt_level_targets(&o, b, &t);
    assert_int_equal(t.base_level, 2);

    /* A small last level: every target clamps to the base size. */
    memset(b, 0, sizeof b);
    b[6] = 3 * MB;
    cpt_level_targets(&o, b, &t);
    assert_int_equal(t.base_level, 6);
    assert_int_equal(t.target[6], 10 * MB);
}

static void leveled_adjusted_scores_serve_a_full_lower_level_first(void **state)
{
    (void)state;
    cpt_opts o = small_opts();
    uint64_t b[STRATA_MAX_LEVELS] = {0}, busy[STRATA_MAX_LEVELS] = {0};
    cpt_targets t;
    cpt_score s[STRATA_MAX_LEVELS];
    /* targets 1000/100/10 at levels 6/5/4, base 4 */
    b[6] = 1000 * MB;
    b[5] = 400 * MB; /* score 4 */
    b[4] = 20 * MB;  /* score 2 */
    cpt_level_targets(&o, b, &t);
    assert_int_equal(t.base_level, 4);
    cpt_level_scores(&o, 8, b, busy, &t, s);
    assert_true(s[0].score == 2.0);   /* 8 files / trigger 4 */
    assert_true(s[4].score == 2.0);
    assert_true(s[5].score == 4.0);
    /* L0 divided by L4's score, L4 by L5's, L5 by L6's (1.0). */
    assert_true(s[0].adjusted == 1.0);
    assert_true(s[4].adjusted == 0.5);
    assert_true(s[5].adjusted == 4.0);

    /* Bytes in running jobs do not count against the target. */
    busy[5] = 300 * MB;
    cpt_level_scores(&o, 8, b, busy, &t, s);
    assert_true(s[5].score == 1.0);
    assert_true(s[4].adjusted == 2.0);

    /* Below 1, the next level does not matter: no division. Over an empty
     * next level, the floor 0.01 caps the boost. */
    memset(busy, 0, sizeof busy);
    b[5] = 0;
    cpt_level_scores(&o, 2, b, busy, &t, s);
    assert_true(s[0].adjusted == 0.5);
    assert_true(s[4].adjusted == 2.0 / 0.01);

    /* The planner serves level 5 (adjusted 4) before level 4 and level 0. */
    cpt_file f[] = {
        file(1, 6, 1000 * MB, 0, 999),
        file(2, 5, 200 * MB, 0, 499), file(3, 5, 200 * MB, 500, 999),
        file(4, 4, 10 * MB, 0, 300), file(5, 4, 10 * MB, 600, 900),
        file(6, 0, 1 * MB, 0, 999), file(7, 0, 1 * MB, 0, 999), file(8, 0, 1 * MB, 0, 999),
        file(9, 0, 1 * MB, 0, 999), file(10, 0, 1 * MB, 0, 999), file(11, 0, 1 * MB, 0, 999),
        file(12, 0, 1 * MB, 0, 999), file(13, 0, 1 * MB, 0, 999),
    };
    cpt_planner *p;
    assert_int_equal(cpt_planner_leveled_new(&o, &p), STRATA_OK);
    cpt_partition part = hot(f, ARRAY_LEN(f));
    cpt_jobs jobs = {0};
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    assert_true(jobs.n >= 1);
    assert_int_equal(jobs.jobs[0].in_level, 5);
    assert_int_equal(jobs.jobs[0].out_level, 6);
    assert_true(has_input(&jobs.jobs[0], 1));
    cpt_jobs_free(&jobs);
    cpt_planner_free(p);
}

static void leveled_level0_waits_for_trigger_then_merges_into_base(void **state)
{
    (void)state;
    cpt_opts o = small_opts();
    cpt_planner *p;
    assert_int_equal(cpt_planner_leveled_new(&o, &p), STRATA_OK);
    cpt_file f[5];
    for (int i = 0; i < 5; i++)
        f[i] = file(10 + (uint64_t)i, 0, 1 * MB, 0, 100);
    cpt_jobs jobs = {0};
    cpt_partition part = hot(f, 3);
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    assert_int_equal(jobs.n, 0); /* 3 < trigger 4 */

    part = hot(f, 4);
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    assert_int_equal(jobs.n, 1);
    const cpt_job *j = &jobs.jobs[0];
    assert_int_equal(j->kind, CPT_JOB_MERGE);
    assert_int_equal(j->in_level, 0);
    assert_int_equal(j->out_level, 6); /* empty partition: base = last */
    assert_int_equal(j->n_inputs, 4);
    /* newest first */
    assert_int_equal(j->inputs[0], 13);
    assert_int_equal(j->inputs[3], 10);
    assert_int_equal(j->input_bytes, 4 * MB);
    cpt_jobs_free(&jobs);

    /* With data at level 3 and level 5 (base 5 by targets), level 0 must not
     * jump over level 3: it goes to the highest non-empty level. */
    cpt_file g[] = {f[0], f[1], f[2], f[3], file(20, 3, 1 * MB, 500, 600), file(21, 6, 1000 * MB, 0, 999)};
    part = hot(g, ARRAY_LEN(g));
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    assert_true(jobs.n >= 1);
    assert_int_equal(jobs.jobs[0].in_level, 0);
    assert_int_equal(jobs.jobs[0].out_level, 3);
    cpt_jobs_free(&jobs);
    cpt_planner_free(p);
}

static void leveled_trivial_move_when_nothing_overlaps(void **state)
{
    (void)state;
    cpt_opts o = small_opts();
    cpt_planner *p;
    assert_int_equal(cpt_planner_leveled_new(&o, &p), STRATA_OK);
    /* Four level-0 files on disjoint sids: the oldest moves to the base level. */
    cpt_file f[] = {file(1, 0, MB, 0, 9), file(2, 0, MB, 10, 19), file(3, 0, MB, 20, 29), file(4, 0, MB, 30, 39)};
    cpt_partition part = hot(f, 4);
    cpt_jobs jobs = {0};
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    assert_int_equal(jobs.n, 1);
    assert_int_equal(jobs.jobs[0].kind, CPT_JOB_MOVE);
    assert_int_equal(jobs.jobs[0].n_inputs, 1);
    assert_int_equal(jobs.jobs[0].inputs[0], 1);
    assert_int_equal(jobs.jobs[0].out_level, 6);
    cpt_jobs_free(&jobs);

    /* Same sids but time-disjoint from the base file: still a move. */
    cpt_file g[] = {f[0], f[1], f[2], f[3], file(9, 6, MB, 0, 9)};
    g[4].min_t = 5000;
    g[4].max_t = 6000;
    part = hot(g, 5);
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    assert_int_equal(jobs.jobs[0].kind, CPT_JOB_MOVE);
    cpt_jobs_free(&jobs);

    /* Overlapping the base file: a merge with it. */
    g[4].min_t = 0;
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    assert_int_equal(jobs.jobs[0].kind, CPT_JOB_MERGE);
    assert_int_equal(jobs.jobs[0].n_inputs, 2);
    assert_true(has_input(&jobs.jobs[0], 1) && has_input(&jobs.jobs[0], 9));
    assert_int_equal(jobs.jobs[0].inputs[0], 1); /* level 0 before level 6 */
    cpt_jobs_free(&jobs);

    /* No move when the grandparent overlap is too large (LevelDB). */
    cpt_opts o2 = small_opts();
    o2.max_gp_overlap_bytes = 5 * MB;
    cpt_planner *p2;
    assert_int_equal(cpt_planner_leveled_new(&o2, &p2), STRATA_OK);
    cpt_file h[] = {
        file(1, 6, 1000 * MB, 0, 999),                                /* targets 1000/100/10: base 4 */
        file(2, 5, 100 * MB, 0, 99),                                  /* level 5 */
        file(3, 4, 15 * MB, 100, 199),                                /* level 4 over its 10 MB target */
        file(4, 6, 6 * MB, 1000, 1100),                               /* unrelated */
    };
    /* level 4's file overlaps nothing at 5 but 1000 MB at 6: merge, not move */
    part = hot(h, ARRAY_LEN(h));
    assert_int_equal(cpt_plan(p2, &part, &jobs), STRATA_OK);
    assert_true(jobs.n >= 1);
    bool found = false;
    for (size_t i = 0; i < jobs.n; i++)
        if (jobs.jobs[i].in_level == 4) {
            found = true;
            assert_int_equal(jobs.jobs[i].kind, CPT_JOB_MERGE);
            assert_int_equal(jobs.jobs[i].n_inputs, 1);
            assert_int_equal(jobs.jobs[i].n_gps, 1);
            assert_int_equal(jobs.jobs[i].gps[0].file_no, 1);
            assert_int_equal(jobs.jobs[i].max_gp_overlap_bytes, 5 * MB);
        }
    assert_true(found);
    cpt_jobs_free(&jobs);
    cpt_planner_free(p2);
    cpt_planner_free(p);
}

static void leveled_picks_least_overlap_and_skips_running_files(void **state)
{
    (void)state;
    cpt_opts o = small_opts();
    cpt_planner *p;
    assert_int_equal(cpt_planner_leveled_new(&o, &p), STRATA_OK);
    /* base 4 (targets 1000/100/10); level 4 at 30 MB: score 3. */
    cpt_file f[] = {
        file(1, 6, 1000 * MB, 0, 999),
        file(2, 5, 40 * MB, 0, 199), file(3, 5, 5 * MB, 200, 399), file(4, 5, 40 * MB, 400, 999),
        file(5, 4, 10 * MB, 0, 150),   /* overlaps 40 MB below: ratio 4 */
        file(6, 4, 10 * MB, 250, 350), /* overlaps 5 MB: ratio 0.5 */
        file(7, 4, 10 * MB, 500, 600), /* overlaps 40 MB */
    };
    cpt_partition part = hot(f, ARRAY_LEN(f));
    cpt_jobs jobs = {0};
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    assert_int_equal(jobs.n, 1);
    assert_int_equal(jobs.jobs[0].in_level, 4);
    assert_int_equal(jobs.jobs[0].n_inputs, 2);
    assert_true(has_input(&jobs.jobs[0], 6) && has_input(&jobs.jobs[0], 3));
    assert_int_equal(jobs.jobs[0].n_gps, 1); /* the level-6 file */
    cpt_jobs_free(&jobs);

    /* The next-level file of the best candidate is busy: the next best. */
    f[2].compacting = true;
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    assert_int_equal(jobs.n, 1);
    assert_false(has_input(&jobs.jobs[0], 3));
    assert_false(has_input(&jobs.jobs[0], 6));
    for (size_t i = 0; i < jobs.jobs[0].n_inputs; i++)
        assert_true(jobs.jobs[0].inputs[i] != 3);
    cpt_jobs_free(&jobs);

    /* Everything busy: nothing. */
    for (size_t i = 0; i < ARRAY_LEN(f); i++)
        f[i].compacting = true;
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    assert_int_equal(jobs.n, 0);
    cpt_planner_free(p);
}

static void leveled_overlapping_files_of_one_level_go_together(void **state)
{
    (void)state;
    /* Left by the tiered planner: level 5 files sharing keys. Picking one
     * must take the others too, or an older copy would stay above. */
    cpt_opts o = small_opts();
    cpt_planner *p;
    assert_int_equal(cpt_planner_leveled_new(&o, &p), STRATA_OK);
    cpt_file f[] = {
        file(1, 6, 100 * MB, 0, 999), /* targets 100/10: base 5 */
        file(2, 5, 6 * MB, 0, 500), file(3, 5, 6 * MB, 400, 999), file(4, 5, 6 * MB, 900, 999),
    };
    cpt_partition part = hot(f, ARRAY_LEN(f));
    cpt_jobs jobs = {0};
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    assert_int_equal(jobs.n, 1);
    assert_int_equal(jobs.jobs[0].n_inputs, 4);
    assert_int_equal(jobs.jobs[0].inputs[0], 4); /* level 5 newest first, then level 6 */
    assert_int_equal(jobs.jobs[0].inputs[1], 3);
    assert_int_equal(jobs.jobs[0].inputs[2], 2);
    assert_int_equal(jobs.jobs[0].inputs[3], 1);
    cpt_jobs_free(&jobs);
    cpt_planner_free(p);
}

static void leveled_grandparent_cut_limits_output_overlap(void **state)
{
    (void)state;
    cpt_gp gps[] = {{1, 0, 9, 4 * MB}, {2, 10, 19, 4 * MB}, {3, 20, 29, 4 * MB}, {4, 30, 39, 4 * MB}};
    cpt_gp_cutter c;
    cpt_gp_cutter_init(&c, gps, 4, 6 * MB);
    /* Series 0..39: the output passes gp 1 at sid 10 (4 MB), gp 2 at sid 20
     * (8 MB > 6): cut before 20; then gp 3 passed at 30 (4 MB): no cut. */
    int cuts[64], nc = 0;
    for (uint64_t sid = 0; sid < 40; sid++)
        if (cpt_gp_cutter_should_cut(&c, sid))
            cuts[nc++] = (int)sid;
    assert_int_equal(nc, 1);
    assert_int_equal(cuts[0], 20);

    /* A sparse output jumping over grandparents counts all it passes. */
    cpt_gp_cutter_init(&c, gps, 4, 6 * MB);
    assert_false(cpt_gp_cutter_should_cut(&c, 5));
    assert_true(cpt_gp_cutter_should_cut(&c, 35)); /* passed 1, 2, 3: 12 MB */
    assert_false(cpt_gp_cutter_should_cut(&c, 39));

    /* No limit: never cuts. */
    cpt_gp_cutter_init(&c, gps, 4, 0);
    for (uint64_t sid = 0; sid < 40; sid++)
        assert_false(cpt_gp_cutter_should_cut(&c, sid));
}

static void check_cover(const cpt_job *j)
{
    assert_true(j->n_splits >= 1);
    assert_int_equal(j->splits[0].sid_lo, 0);
    assert_true(j->splits[j->n_splits - 1].sid_hi == UINT64_MAX);
    for (size_t i = 1; i < j->n_splits; i++) {
        assert_true(j->splits[i].sid_lo == j->splits[i - 1].sid_hi + 1);
        assert_true(j->splits[i].sid_lo <= j->splits[i].sid_hi);
    }
}

static void leveled_subcompactions_split_by_sid_range(void **state)
{
    (void)state;
    cpt_opts o = small_opts();
    o.max_subcompactions = 4;
    cpt_planner *p;
    assert_int_equal(cpt_planner_leveled_new(&o, &p), STRATA_OK);
    /* Level 0 (4 x 2 MB over sids 0..999) into level 6 made of 8 files:
     * splits at the level-6 files' boundaries, at most 4. */
    cpt_file f[12];
    for (int i = 0; i < 4; i++)
        f[i] = file(100 + (uint64_t)i, 0, 2 * MB, 0, 999);
    for (int i = 0; i < 8; i++)
        f[4 + i] = file(1 + (uint64_t)i, 6, 1 * MB, (uint64_t)i * 125, (uint64_t)i * 125 + 124);
    cpt_partition part = hot(f, 12);
    cpt_jobs jobs = {0};
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    assert_int_equal(jobs.n, 1);
    const cpt_job *j = &jobs.jobs[0];
    assert_int_equal(j->n_inputs, 12);
    assert_int_equal(j->n_splits, 4);
    check_cover(j);
    assert_int_equal(j->splits[0].sid_hi, 249);
    assert_int_equal(j->splits[1].sid_hi, 499);
    assert_int_equal(j->splits[2].sid_hi, 749);
    cpt_jobs_free(&jobs);

    /* Nothing below: even pieces of the sid span, about one per target. */
    part = hot(f, 4); /* 8 MB of input, 2 MB target: 4 pieces */
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    j = &jobs.jobs[0];
    assert_int_equal(j->n_splits, 4);
    check_cover(j);
    for (size_t i = 0; i + 2 < j->n_splits; i++) {
        uint64_t w = j->splits[i + 1].sid_hi - j->splits[i].sid_hi;
        assert_true(w >= 240 && w <= 260);
    }
    cpt_jobs_free(&jobs);

    /* A small job is one piece. */
    for (int i = 0; i < 4; i++)
        f[i].bytes = 100;
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    assert_int_equal(jobs.jobs[0].n_splits, 1);
    check_cover(&jobs.jobs[0]);
    cpt_jobs_free(&jobs);
    cpt_planner_free(p);
}

static void leveled_rejects_bad_options(void **state)
{
    (void)state;
    cpt_opts o = small_opts();
    cpt_planner *p = NULL;
    o.max_levels = 9;
    assert_int_equal(cpt_planner_leveled_new(&o, &p), STRATA_ERR_INVALID);
    o.max_levels = 2;
    assert_int_equal(cpt_planner_tiered_new(&o, &p), STRATA_ERR_INVALID);
    o = small_opts();
    o.level_multiplier = 1;
    assert_int_equal(cpt_planner_leveled_new(&o, &p), STRATA_ERR_INVALID);
    assert_null(p);
    assert_int_equal(cpt_planner_leveled_new(NULL, &p), STRATA_OK);
    assert_string_equal(p->name, "leveled");
    assert_int_equal(p->opts.max_levels, STRATA_MAX_LEVELS);
    cpt_planner_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(leveled_targets_follow_the_last_level),
        cmocka_unit_test(leveled_adjusted_scores_serve_a_full_lower_level_first),
        cmocka_unit_test(leveled_level0_waits_for_trigger_then_merges_into_base),
        cmocka_unit_test(leveled_trivial_move_when_nothing_overlaps),
        cmocka_unit_test(leveled_picks_least_overlap_and_skips_running_files),
        cmocka_unit_test(leveled_overlapping_files_of_one_level_go_together),
        cmocka_unit_test(leveled_grandparent_cut_limits_output_overlap),
        cmocka_unit_test(leveled_subcompactions_split_by_sid_range),
        cmocka_unit_test(leveled_rejects_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
