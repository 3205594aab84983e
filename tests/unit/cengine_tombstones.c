/*
 * cengine_tombstones.c: deletes through compaction, at the engine level
 * (public API only), under both planners:
 *
 *  - tombstones_retired_by_full_compaction: deletes over data spread over
 *    several partitions and several level-0 files (overwrites included),
 *    writes into a deleted range after the delete; a full compaction leaves
 *    no tombstone (strata_get_stats().tombstones == 0), no deleted sample
 *    comes back after the compaction, after a reopen, after a second full
 *    compaction; what was written after the delete stays; table_samples
 *    equals the model's count (the deleted samples are physically gone).
 *  - tombstone_kept_while_an_older_file_overlaps: a compaction that does
 *    not touch the deleted file's partition keeps the tombstone (the file
 *    still holds the deleted samples) and the data stays hidden across a
 *    reopen; the full compaction then retires it.
 *  - delete_of_a_whole_partition_empties_it: every sample of a partition
 *    deleted; after a full compaction it holds no file.
 *
 * The model is a grid: series x ticks of 10 s over 4 one-hour partitions.
 * Seed: STRATA_SEED.
 */
#include "db_testlib.h"

#define NS 6
#define TICKS 1440 /* 4 h of 10 s */
#define STEP_MS 10000
#define PART_MS 3600000LL
#define T0 (472222LL * PART_MS) /* hour-aligned, Nov 2023 */

typedef struct grid {
    uint64_t v[NS][TICKS];
    uint8_t live[NS][TICKS];
} grid;

typedef struct world {
    char *dir;
    strata_db *db;
    strata_sid sid[NS];
    grid *g;
    test_rng r;
    strata_planner planner;
    dbt_log lg;
} world;

static int64_t t_of(int k) { return T0 + (int64_t)k * STEP_MS; }

static void w_open(world *w)
{
    strata_options o;
    dbt_options(&o, w->dir);
    o.partition_ms = PART_MS;
    o.planner = w->planner;
    o.block_samples = 64;
    o.sync = STRATA_SYNC_NONE;
    o.log_fn = dbt_log_fn;
    o.log_ctx = &w->lg;
    w->db = dbt_open_ok(&o);
    for (int s = 0; s < NS; s++) {
        char v[8];
        snprintf(v, sizeof v, "s%d", s);
        w->sid[s] = dbt_series(w->db, "m", "s", v);
    }
}

static void w_close(world *w)
{
    assert_int_equal(strata_close(w->db), STRATA_OK);
    w->db = NULL;
}

/* Writes series s at ticks [k0, k1) with fresh values (every `every`-th tick). */
static void w_write(world *w, int s, int k0, int k1, int every)
{
    strata_sample b[TICKS];
    size_t n = 0;
    for (int k = k0; k < k1; k += every) {
        uint64_t bits = test_mix(test_rng_next(&w->r)) & 0x3fffffffffffffffull; /* finite */
        b[n].sid = w->sid[s];
        b[n].t_ms = t_of(k);
        b[n].value = dbt_from_bits(bits);
        w->g->v[s][k] = bits;
        w->g->live[s][k] = 1;
        n++;
    }
    /* shuffle: out-of-order writes inside the batch */
    for (size_t i = n; i > 1; i--) {
        size_t j = test_rng_below(&w->r, i);
        strata_sample t = b[i - 1];
        b[i - 1] = b[j];
        b[j] = t;
    }
    assert_int_equal(strata_write(w->db, b, n), STRATA_OK);
}

/* Deletes series s (or every series when s < 0) over [t_lo, t_hi] ms. */
static void w_delete(world *w, int s, int64_t t_lo, int64_t t_hi)
{
    char v[8];
    snprintf(v, sizeof v, "s%d", s);
    strata_matcher m[2] = {{STRATA_MATCH_EQ, "__name__", "m"}, {STRATA_MATCH_EQ, "s", v}};
    assert_int_equal(strata_delete(w->db, m, s < 0 ? 1 : 2, t_lo, t_hi), STRATA_OK);
    for (int q = 0; q < NS; q++) {
        if (s >= 0 && q != s)
            continue;
        for (int k = 0; k < TICKS; k++)
            if (t_of(k) >= t_lo && t_of(k) <= t_hi)
                w->g->live[q][k] = 0;
    }
}

static size_t model_count(const world *w)
{
    size_t n = 0;
    for (int s = 0; s < NS; s++)
        for (int k = 0; k < TICKS; k++)
            n += w->g->live[s][k];
    return n;
}

static void w_check(world *w, const char *what)
{
    dbt_set want = {0}, got = {0};
    for (int s = 0; s < NS; s++) {
        char text[64];
        snprintf(text, sizeof text, "__name__=m,s=s%d", s);
        for (int k = 0; k < TICKS; k++)
            if (w->g->live[s][k])
                dbt_set_add(&want, text, t_of(k), w->g->v[s][k]);
    }
    dbt_set_finish(&want);
    assert_int_equal(dbt_read_all(w->db, &got), 0);
    size_t d = dbt_set_diff(&want, &got, what);
    dbt_set_free(&want);
    dbt_set_free(&got);
    if (d)
        fail_msg("%s: content differs from the model (planner %d)", what, (int)w->planner);
}

static strata_stats w_stats(world *w)
{
    strata_stats st;
    assert_int_equal(strata_get_stats(w->db, &st, sizeof st), STRATA_OK);
    return st;
}

static void w_init(world *w, strata_planner planner, const char *tag)
{
    memset(w, 0, sizeof *w);
    w->dir = test_tmpdir(tag);
    w->g = calloc(1, sizeof *w->g);
    assert_non_null(w->g);
    test_rng_init(&w->r, test_seed(0x70b5) ^ (uint64_t)planner);
    w->planner = planner;
    w->lg.quiet = 1;
    w_open(w);
}

static void w_done(world *w)
{
    if (w->db)
        w_close(w);
    test_rmtree(w->dir);
    free(w->dir);
    free(w->g);
}

/* Four rounds of writes over every partition (later rounds overwrite part
 * of the earlier ones), a flush after each: several level-0 files per
 * partition whose blocks overlap. */
static void fill(world *w)
{
    for (int round = 0; round < 4; round++) {
        for (int s = 0; s < NS; s++)
            w_write(w, s, round * 37 % 90, TICKS, round ? 1 + (int)test_rng_below(&w->r, 4) : 1);
        assert_int_equal(strata_flush(w->db), STRATA_OK);
    }
}

static void run_retired_by_full_compaction(strata_planner planner)
{
    world w;
    w_init(&w, planner, "cengine_tomb_full");
    fill(&w);
    w_check(&w, "filled");
    /* series 1 and 3 lose 30 min .. 2 h 30 min (across three partitions) */
    w_delete(&w, 1, t_of(180), t_of(900) + 5);
    w_delete(&w, 3, t_of(180) - 3, t_of(900));
    /* a delete of data only in the head: written, deleted, not flushed */
    w_write(&w, 4, 1000, 1100, 1);
    w_delete(&w, 4, t_of(1020), t_of(1080));
    assert_true(w_stats(&w).tombstones >= 2);
    /* written after the delete into its range: must stay */
    w_write(&w, 1, 400, 500, 3);
    w_check(&w, "after deletes");
    assert_int_equal(strata_compact(w.db, 0), STRATA_OK);
    w_check(&w, "after a compaction");
    assert_int_equal(strata_flush(w.db), STRATA_OK);
    w_write(&w, 3, 600, 650, 1); /* in the head across the full compaction */
    assert_int_equal(strata_compact(w.db, 1), STRATA_OK);
    w_check(&w, "after the full compaction");
    assert_int_equal(strata_flush(w.db), STRATA_OK);
    assert_int_equal(strata_compact(w.db, 1), STRATA_OK);
    strata_stats st = w_stats(&w);
    assert_int_equal(st.tombstones, 0);
    /* the deleted samples are gone from the files, not just hidden */
    assert_int_equal(st.table_samples, model_count(&w));
    assert_int_equal(st.head_samples, 0);
    w_close(&w);
    w_open(&w);
    w_check(&w, "after reopen");
    assert_int_equal(w_stats(&w).tombstones, 0);
    assert_int_equal(strata_compact(w.db, 1), STRATA_OK);
    w_check(&w, "after reopen and a second full compaction");
    w_done(&w);
}

static void tombstones_retired_by_full_compaction_tiered(void **state)
{
    (void)state;
    run_retired_by_full_compaction(STRATA_PLANNER_TIERED);
}

static void tombstones_retired_by_full_compaction_leveled(void **state)
{
    (void)state;
    run_retired_by_full_compaction(STRATA_PLANNER_LEVELED);
}

static void run_kept_while_older_file_overlaps(strata_planner planner)
{
    world w;
    w_init(&w, planner, "cengine_tomb_kept");
    /* partition 0: one file */
    for (int s = 0; s < NS; s++)
        w_write(&w, s, 0, 360, 1);
    assert_int_equal(strata_flush(w.db), STRATA_OK);
    w_delete(&w, 2, t_of(100), t_of(200));
    assert_int_equal(w_stats(&w).tombstones, 1);
    /* partition 3: enough level-0 files for a tiered merge and a leveled
     * level-0 compaction, none touching partition 0 */
    for (int i = 0; i < 9; i++) {
        for (int s = 0; s < NS; s++)
            w_write(&w, s, 1080 + i * 30, 1080 + i * 30 + 40, 1);
        assert_int_equal(strata_flush(w.db), STRATA_OK);
    }
    assert_int_equal(strata_compact(w.db, 0), STRATA_OK);
    w_check(&w, "after a compaction elsewhere");
    /* partition 0's file is still the level-0 flush output, so the
     * tombstone must still be there: that file holds the deleted samples */
    strata_file_info *f = NULL;
    size_t n = 0;
    assert_int_equal(strata_list_files(w.db, &f, &n), STRATA_OK);
    int untouched = 0;
    for (size_t i = 0; i < n; i++)
        if (f[i].partition_start_ms == T0 && f[i].level == 0)
            untouched = 1;
    strata_free(f);
    assert_true(untouched); /* one level-0 file: no planner merges it */
    assert_int_equal(w_stats(&w).tombstones, 1);
    w_close(&w);
    w_open(&w);
    w_check(&w, "after reopen");
    assert_int_equal(strata_compact(w.db, 1), STRATA_OK);
    w_check(&w, "after the full compaction");
    assert_int_equal(w_stats(&w).tombstones, 0);
    assert_int_equal(w_stats(&w).table_samples, model_count(&w));
    w_close(&w);
    w_open(&w);
    w_check(&w, "after the second reopen");
    w_done(&w);
}

static void tombstone_kept_while_an_older_file_overlaps_tiered(void **state)
{
    (void)state;
    run_kept_while_older_file_overlaps(STRATA_PLANNER_TIERED);
}

static void tombstone_kept_while_an_older_file_overlaps_leveled(void **state)
{
    (void)state;
    run_kept_while_older_file_overlaps(STRATA_PLANNER_LEVELED);
}

static void run_whole_partition(strata_planner planner)
{
    world w;
    w_init(&w, planner, "cengine_tomb_part");
    fill(&w);
    /* every series, all of partition 1 (and a margin either side) */
    w_delete(&w, -1, T0 + PART_MS - 1000, T0 + 2 * PART_MS + 999);
    w_check(&w, "after the delete");
    assert_int_equal(strata_compact(w.db, 1), STRATA_OK);
    w_check(&w, "after the full compaction");
    strata_stats st = w_stats(&w);
    assert_int_equal(st.tombstones, 0);
    assert_int_equal(st.table_samples, model_count(&w));
    strata_file_info *f = NULL;
    size_t n = 0;
    assert_int_equal(strata_list_files(w.db, &f, &n), STRATA_OK);
    for (size_t i = 0; i < n; i++) {
        assert_true(f[i].samples > 0);
        if (f[i].partition_start_ms == T0 + PART_MS)
            fail_msg("file %llu of the emptied partition is still listed", (unsigned long long)f[i].file_no);
    }
    strata_free(f);
    w_close(&w);
    w_open(&w);
    w_check(&w, "after reopen");
    w_done(&w);
}

static void delete_of_a_whole_partition_empties_it_tiered(void **state)
{
    (void)state;
    run_whole_partition(STRATA_PLANNER_TIERED);
}

static void delete_of_a_whole_partition_empties_it_leveled(void **state)
{
    (void)state;
    run_whole_partition(STRATA_PLANNER_LEVELED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tombstones_retired_by_full_compaction_tiered),
        cmocka_unit_test(tombstones_retired_by_full_compaction_leveled),
        cmocka_unit_test(tombstone_kept_while_an_older_file_overlaps_tiered),
        cmocka_unit_test(tombstone_kept_while_an_older_file_overlaps_leveled),
        cmocka_unit_test(delete_of_a_whole_partition_empties_it_tiered),
        cmocka_unit_test(delete_of_a_whole_partition_empties_it_leveled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
