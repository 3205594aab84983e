/* Both planners against a model: random flushes, plans and job completions
 * in random order (outputs numbered when they finish, after flushes that
 * happened meanwhile), with files holding versioned keys. After every step
 * the reader's rule of compaction.h's AGE ORDER (lower level first, then
 * larger file_no) must find the newest version of every key, no key may be
 * lost, no file may be offered while in a job, and for the leveled planner
 * files of one level >= 1 must never share a key. */
#include <stdlib.h>

#include "compaction/compaction.h"
#include "testutil.h"

#define NS 24 /* sids */
#define NT 24 /* timestamps */
#define NK (NS * NT)
#define MAXF 512
#define KEY_BYTES 100

typedef struct mfile {
    bool live;
    uint64_t file_no;
    int level;
    bool busy;
    uint32_t ver[NK]; /* 0: absent */
} mfile;

typedef struct model {
    mfile f[MAXF];
    uint32_t latest[NK];
    uint64_t next_no;
    uint32_t next_ver;
    cpt_jobs running; /* jobs handed out and not yet finished */
    test_rng rng;
    bool leveled;
    size_t moves, merges, fulls;
} model;

static mfile *by_no(model *m, uint64_t no)
{
    for (int i = 0; i < MAXF; i++)
        if (m->f[i].live && m->f[i].file_no == no)
            return &m->f[i];
    fail_msg("file %llu not live", (unsigned long long)no);
    return NULL;
}

static mfile *new_file(model *m, int level)
{
    for (int i = 0; i < MAXF; i++)
        if (!m->f[i].live) {
            memset(&m->f[i], 0, sizeof m->f[i]);
            m->f[i].live = true;
            m->f[i].file_no = m->next_no++;
            m->f[i].level = level;
            return &m->f[i];
        }
    fail_msg("too many files");
    return NULL;
}

static void describe(const mfile *f, cpt_file *c)
{
    memset(c, 0, sizeof *c);
    c->file_no = f->file_no;
    c->level = f->level;
    c->compacting = f->busy;
    c->min_sid = UINT64_MAX;
    c->min_t = INT64_MAX;
    c->max_t = INT64_MIN;
    for (int k = 0; k < NK; k++) {
        if (!f->ver[k])
            continue;
        uint64_t sid = (uint64_t)(k / NT);
        int64_t t = k % NT;
        c->min_sid = MIN(c->min_sid, sid);
        c->max_sid = MAX(c->max_sid, sid);
        c->min_t = MIN(c->min_t, t);
        c->max_t = MAX(c->max_t, t);
        c->samples++;
        c->bytes += KEY_BYTES;
    }
}

static void flush(model *m)
{
    uint64_t a = test_rng_below(&m->rng, NS), w = test_rng_below(&m->rng, NS - a);
    uint64_t c = test_rng_below(&m->rng, NT), h = test_rng_below(&m->rng, NT - c);
    mfile *f = new_file(m, 0);
    size_t n = 0;
    for (uint64_t s = a; s <= a + w; s++)
        for (uint64_t t = c; t <= c + h; t++)
            if (test_rng_below(&m->rng, 2)) {
                int k = (int)(s * NT + t);
                f->ver[k] = m->latest[k] = ++m->next_ver;
                n++;
            }
    if (n == 0)
        f->live = false;
}

static void plan(model *m, cpt_planner *p)
{
    cpt_file files[MAXF];
    size_t n = 0;
    for (int i = 0; i < MAXF; i++)
        if (m->f[i].live)
            describe(&m->f[i], &files[n++]);
    bool cold = test_rng_below(&m->rng, 10) == 0;
    cpt_partition part = {files, n, 1000, cold ? 1000 + p->opts.cold_ms : 1001, .force_full = false};
    cpt_jobs jobs = {0};
    assert_int_equal(cpt_plan(p, &part, &jobs), STRATA_OK);
    for (size_t j = 0; j < jobs.n; j++) {
        cpt_job *job = &jobs.jobs[j];
        assert_true(job->n_inputs >= 1);
        int prev_level = -1;
        uint64_t prev_no = 0;
        for (size_t i = 0; i < job->n_inputs; i++) {
            mfile *f = by_no(m, job->inputs[i]);
            assert_false(f->busy); /* never offered twice, even within one plan */
            f->busy = true;
            /* newest first */
            if (f->level == prev_level)
                assert_true(f->file_no < prev_no);
            else
                assert_true(f->level > prev_level);
            prev_level = f->level;
            prev_no = f->file_no;
        }
        assert_true(job->out_level > job->in_level || job->kind == CPT_JOB_FULL);
        if (job->kind == CPT_JOB_MOVE)
            assert_int_equal(job->n_inputs, 1);
        cpt_job *grown = base_realloc(m->running.jobs, (m->running.n + 1) * sizeof *grown);
        assert_non_null(grown);
        m->running.jobs = grown;
        m->running.jobs[m->running.n++] = *job;
        memset(job, 0, sizeof *job); /* moved */
    }
    cpt_jobs_free(&jobs);
}

static void finish(model *m)
{
    if (m->running.n == 0)
        return;
    size_t ji = test_rng_below(&m->rng, m->running.n);
    cpt_job job = m->running.jobs[ji];
    m->running.jobs[ji] = m->running.jobs[--m->running.n];
    if (job.kind == CPT_JOB_MOVE) {
        mfile *f = by_no(m, job.inputs[0]);
        f->level = job.out_level;
        f->busy = false;
        m->moves++;
    } else {
        static uint32_t merged[NK];
        memset(merged, 0, sizeof merged);
        for (size_t i = 0; i < job.n_inputs; i++) {
            mfile *f = by_no(m, job.inputs[i]);
            for (int k = 0; k < NK; k++)
                if (f->ver[k]) {
                    /* the compactor keeps the first (newest) input's sample;
                     * it must be the newest version among the inputs */
                    if (!merged[k])
                        merged[k] = f->ver[k];
                    else
                        assert_true(merged[k] > f->ver[k]);
                }
            f->live = false;
        }
        /* outputs cut between series at the target size or at the
         * grandparent limit */
        cpt_gp_cutter gc;
        cpt_gp_cutter_init(&gc, job.gps, job.n_gps, job.max_gp_overlap_bytes);
        mfile *out = NULL;
        uint64_t out_bytes = 0;
        for (int s = 0; s < NS; s++) {
            bool any = false;
            for (int t = 0; t < NT; t++)
                any |= merged[s * NT + t] != 0;
            if (!any)
                continue;
            bool cut = cpt_gp_cutter_should_cut(&gc, (uint64_t)s);
            if (!out || cut || out_bytes >= job.target_file_bytes) {
                out = new_file(m, job.out_level);
                out_bytes = 0;
            }
            for (int t = 0; t < NT; t++)
                if (merged[s * NT + t]) {
                    out->ver[s * NT + t] = merged[s * NT + t];
                    out_bytes += KEY_BYTES;
                }
        }
        if (job.kind == CPT_JOB_FULL)
            m->fulls++;
        else
            m->merges++;
    }
    base_free(job.inputs);
    base_free(job.gps);
    base_free(job.splits);
}

static void check(model *m)
{
    const mfile *live[MAXF];
    size_t nl = 0;
    for (int i = 0; i < MAXF; i++)
        if (m->f[i].live)
            live[nl++] = &m->f[i];
    for (int k = 0; k < NK; k++) {
        const mfile *best = NULL;
        for (size_t i = 0; i < nl; i++) {
            const mfile *f = live[i];
            if (!f->ver[k])
                continue;
            if (!best || f->level < best->level || (f->level == best->level && f->file_no > best->file_no))
                best = f;
        }
        if (m->latest[k] == 0) {
            assert_null(best);
            continue;
        }
        assert_non_null(best);
        if (best->ver[k] != m->latest[k])
            fail_msg("key sid %d t %d: reader finds version %u in file %llu level %d, newest is %u", k / NT, k % NT,
                     best->ver[k], (unsigned long long)best->file_no, best->level, m->latest[k]);
    }
    if (m->leveled) {
        for (int k = 0; k < NK; k++) {
            int seen[STRATA_MAX_LEVELS] = {0};
            for (size_t i = 0; i < nl; i++)
                if (live[i]->ver[k] && live[i]->level > 0)
                    assert_true(++seen[live[i]->level] <= 1);
        }
    }
}

static void run(bool leveled, uint64_t seed, int steps)
{
    static model m;
    memset(&m, 0, sizeof m);
    m.next_no = 1;
    m.leveled = leveled;
    test_rng_init(&m.rng, seed);
    cpt_opts o;
    cpt_opts_init(&o);
    o.max_levels = 5;
    o.target_file_bytes = 60 * KEY_BYTES;
    o.base_level_bytes = 40 * KEY_BYTES;
    o.level_multiplier = 3;
    o.l0_trigger = 3;
    o.max_gp_overlap_bytes = 100 * KEY_BYTES;
    o.tier_group_l0 = 4;
    o.tier_group = 3;
    cpt_planner *p = NULL;
    assert_int_equal(leveled ? cpt_planner_leveled_new(&o, &p) : cpt_planner_tiered_new(&o, &p), STRATA_OK);
    for (int step = 0; step < steps; step++) {
        uint64_t r = test_rng_below(&m.rng, 10);
        if (r < 4)
            flush(&m);
        else if (r < 7)
            plan(&m, p);
        else
            finish(&m);
        check(&m);
    }
    while (m.running.n)
        finish(&m);
    check(&m);
    print_message("%s seed %llu: %zu merges, %zu moves, %zu full\n", p->name, (unsigned long long)seed, m.merges,
                  m.moves, m.fulls);
    assert_true(m.merges + m.fulls > 10);
    if (leveled)
        assert_true(m.moves > 0);
    else
        assert_true(m.fulls > 0);
    base_free(m.running.jobs);
    cpt_planner_free(p);
}

static void tiered_keeps_age_order_under_random_jobs(void **state)
{
    (void)state;
    uint64_t seed = test_seed(11);
    for (uint64_t i = 0; i < 4; i++)
        run(false, seed + i, 1500);
}

static void leveled_keeps_age_order_and_disjoint_levels(void **state)
{
    (void)state;
    uint64_t seed = test_seed(11);
    for (uint64_t i = 0; i < 4; i++)
        run(true, seed + i, 1500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tiered_keeps_age_order_under_random_jobs),
        cmocka_unit_test(leveled_keeps_age_order_and_disjoint_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
