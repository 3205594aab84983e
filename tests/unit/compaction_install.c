/* The whole path the engine takes, on a real manifest: tables written and
 * recorded, the planner's view built from the version (tombstone counts
 * included), a tiered plan, cpt_run over the opened inputs with the
 * manifest's file numbers, and the one edit that installs the result; and
 * a trivial move edit. */
#include <stdlib.h>

#include "compaction/compaction.h"
#include "testutil.h"

#define PW 3600000LL /* partition width: one hour */

static int alloc_from_manifest(void *ctx, uint64_t *no)
{
    return manifest_alloc_file_no(ctx, no);
}

static bool busy_none_but_7(void *ctx, uint64_t no)
{
    (void)ctx;
    return no == 7;
}

static void compaction_job_installs_with_one_edit(void **state)
{
    (void)state;
    char *dir = test_tmpdir("cpt_install");
    manifest_options mo;
    manifest_options_init(&mo);
    mo.partition_ms = PW;
    manifest *m;
    assert_int_equal(manifest_open(dir, &mo, &m), STRATA_OK);

    /* 8 flushes into partition [PW, 2 PW): sids 0..9, each flush 60 samples
     * a series, the next flush overlapping the previous one by 10. */
    manifest_edit e;
    manifest_edit_init(&e);
    uint64_t nos[8];
    uint64_t total = 0;
    for (int f = 0; f < 8; f++) {
        assert_int_equal(manifest_alloc_file_no(m, &nos[f]), STRATA_OK);
        table_writer *w;
        table_writer_opts wo = {.block_samples = 32};
        assert_int_equal(table_writer_open(dir, nos[f], &wo, &w), STRATA_OK);
        for (uint64_t sid = 0; sid < 10; sid++) {
            int64_t ts[60];
            double v[60];
            for (int i = 0; i < 60; i++) {
                ts[i] = PW + (int64_t)(f * 50 + i) * 1000;
                v[i] = (double)f; /* the flush number: newest must win */
            }
            assert_int_equal(table_writer_add(w, sid, ts, v, 60), STRATA_OK);
        }
        table_meta tm;
        assert_int_equal(table_writer_finish(w, &tm), STRATA_OK);
        manifest_table t = {tm.file_no, PW, 0, tm.min_sid, tm.max_sid, tm.min_t, tm.max_t,
                            tm.samples, tm.blocks, tm.file_bytes, 1000 + f};
        assert_int_equal(manifest_edit_add_table(&e, &t), STRATA_OK);
    }
    total = 8 * 10 * 60 - 7 * 10 * 10; /* distinct samples */
    /* a delete of sid 3 after every flush, over the first 100 s */
    uint64_t tid, sid3 = 3;
    assert_int_equal(manifest_alloc_file_no(m, &tid), STRATA_OK);
    assert_int_equal(manifest_edit_add_tombstone(&e, tid, PW, PW + 99999, &sid3, 1), STRATA_OK);
    assert_int_equal(manifest_apply(m, &e), STRATA_OK);
    manifest_edit_free(&e);

    manifest_version *v = manifest_current(m);
    size_t np;
    const manifest_partition *parts = manifest_version_partitions(v, &np);
    assert_int_equal(np, 1);
    cpt_file *files;
    size_t nf;
    assert_int_equal(cpt_files_from_version(v, &parts[0], busy_none_but_7, NULL, &files, &nf), STRATA_OK);
    assert_int_equal(nf, 8);
    for (size_t i = 0; i < nf; i++) {
        assert_int_equal(files[i].level, 0);
        assert_int_equal(files[i].compacting, files[i].file_no == 7);
        /* flushes 0 and 1 cover t < 100 s */
        assert_int_equal(files[i].tombstones, files[i].min_t < PW + 100000 ? 1 : 0);
        files[i].compacting = false;
    }

    cpt_planner *p;
    assert_int_equal(cpt_planner_tiered_new(NULL, &p), STRATA_OK);
    cpt_partition part = {files, nf, 0, 1000, .force_full = false};
    cpt_jobs jobs = {0};
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    assert_int_equal(jobs.n, 1);
    cpt_job *job = &jobs.jobs[0];
    assert_int_equal(job->n_inputs, 8);

    /* open the inputs in job order and run every split */
    table *in[8];
    for (size_t i = 0; i < 8; i++) {
        char name[64];
        table_file_name(name, sizeof name, job->inputs[i]);
        char *path = base_path_join(dir, name);
        assert_int_equal(table_open(path, NULL, &in[i], NULL, 0), STRATA_OK);
        base_free(path);
    }
    size_t nt;
    const manifest_tombstone *const *tombs = manifest_version_tombstones(v, &nt);
    table_meta *all = NULL;
    size_t n_all = 0;
    cpt_run_stats st = {0};
    for (size_t s = 0; s < job->n_splits; s++) {
        cpt_run_args a;
        cpt_run_args_from_job(&a, job, s);
        a.inputs = in;
        a.n_inputs = 8;
        a.tombstones = tombs;
        a.n_tombstones = nt;
        a.dir = dir;
        a.alloc = alloc_from_manifest;
        a.alloc_ctx = m;
        a.block_samples = 32;
        table_meta *outs;
        size_t n_outs;
        assert_int_equal(cpt_run(&a, &outs, &n_outs, &st), STRATA_OK);
        all = base_realloc(all, (n_all + n_outs + 1) * sizeof *all);
        assert_non_null(all);
        memcpy(all + n_all, outs, n_outs * sizeof *outs);
        n_all += n_outs;
        base_free(outs);
    }
    assert_int_equal(st.samples_written, total - 100); /* sid 3 lost t 0..99 s */
    assert_int_equal(st.samples_deleted, 60 + 50); /* sid 3: flush 0 (t 0..59 s), flush 1 (t 50..99 s) */

    manifest_edit_init(&e);
    assert_int_equal(cpt_edit_for_job(&e, v, job, all, n_all, 5000), STRATA_OK);
    assert_int_equal(manifest_apply(m, &e), STRATA_OK);
    manifest_edit_free(&e);
    manifest_version *v2 = manifest_current(m);
    size_t n2;
    const manifest_table *t2 = manifest_version_tables(v2, &n2);
    assert_int_equal(n2, n_all);
    uint64_t samples = 0;
    for (size_t i = 0; i < n2; i++) {
        assert_int_equal(t2[i].level, 1);
        assert_int_equal(t2[i].partition_ms, PW);
        assert_int_equal(t2[i].created_ms, 5000);
        samples += t2[i].samples;
    }
    assert_int_equal(samples, total - 100);
    const manifest_level_stats *ls = manifest_version_level_stats(v2);
    assert_int_equal(ls[0].bytes_read, job->input_bytes);
    assert_int_equal(ls[1].bytes_written, st.bytes_written);
    for (size_t i = 0; i < 8; i++) {
        table_mark_obsolete(in[i]);
        table_unref(in[i]);
    }

    /* a trivial move of the first output to level 3 */
    cpt_job mv = {0};
    uint64_t no = t2[0].file_no;
    mv.kind = CPT_JOB_MOVE;
    mv.inputs = &no;
    mv.n_inputs = 1;
    mv.out_level = 3;
    manifest_edit_init(&e);
    assert_int_equal(cpt_edit_for_job(&e, v2, &mv, NULL, 0, 6000), STRATA_OK);
    assert_int_equal(manifest_apply(m, &e), STRATA_OK);
    manifest_edit_free(&e);
    manifest_version *v3 = manifest_current(m);
    const manifest_table *moved = manifest_version_find_table(v3, no);
    assert_non_null(moved);
    assert_int_equal(moved->level, 3);
    assert_int_equal(moved->created_ms, t2[0].created_ms);
    /* an unknown input is refused */
    uint64_t bogus = 999999;
    mv.inputs = &bogus;
    manifest_edit_init(&e);
    assert_int_equal(cpt_edit_for_job(&e, v3, &mv, NULL, 0, 6000), STRATA_ERR_INVALID);
    manifest_edit_free(&e);

    manifest_version_unref(v3);
    manifest_version_unref(v2);
    manifest_version_unref(v);
    base_free(all);
    base_free(files);
    cpt_jobs_free(&jobs);
    cpt_planner_free(p);
    manifest_close(m);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compaction_job_installs_with_one_edit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
