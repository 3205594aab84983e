/* The compactor on real table files: merging overlapping files equals a
 * model (newest input wins on equal timestamps, values bit-exact), blocks
 * that need no change are copied without decoding, tombstones and
 * retention cut, outputs rotate at the target size and at grandparent
 * cuts, sub-compaction splits add up to the whole, and an error or a
 * cancellation leaves no file behind. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "compaction/compaction.h"
#include "testutil.h"

#define NSID 40
#define NT 400 /* timestamps 0..NT-1 (times 1000 ms) */

typedef struct ctx {
    char *dir;
    uint64_t next_no;
    int fail_at;       /* allocation number that fails; -1 never */
    int cancel_at;     /* allocation number that raises cancel; -1 never */
    atomic_int cancel;
    int allocs;
} ctx;

static int alloc_no(void *p, uint64_t *no)
{
    ctx *c = p;
    c->allocs++;
    if (c->allocs == c->fail_at)
        return STRATA_ERR_NOSPACE;
    if (c->allocs == c->cancel_at)
        atomic_store(&c->cancel, 1);
    *no = c->next_no++;
    return STRATA_OK;
}

static void ctx_init(ctx *c, const char *tag)
{
    memset(c, 0, sizeof *c);
    c->dir = test_tmpdir(tag);
    c->next_no = 1000;
    c->fail_at = c->cancel_at = -1;
    atomic_init(&c->cancel, 0);
}

static size_t count_files(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* A model: value per (sid, t index) or absent. */
typedef struct mdl {
    bool has[NSID][NT];
    double v[NSID][NT];
} mdl;

/* Writes a table of the samples present in m (file number no). */
static table *write_table(const char *dir, uint64_t no, const mdl *m, uint32_t block_samples)
{
    table_writer *w;
    table_writer_opts o = {.block_samples = block_samples};
    assert_int_equal(table_writer_open(dir, no, &o, &w), STRATA_OK);
    int64_t ts[NT];
    double v[NT];
    for (uint64_t s = 0; s < NSID; s++) {
        size_t n = 0;
        for (int t = 0; t < NT; t++)
            if (m->has[s][t]) {
                ts[n] = (int64_t)t * 1000;
                v[n++] = m->v[s][t];
            }
        if (n)
            assert_int_equal(table_writer_add(w, s, ts, v, n), STRATA_OK);
    }
    table_meta meta;
    assert_int_equal(table_writer_finish(w, &meta), STRATA_OK);
    char name[64];
    table_file_name(name, sizeof name, no);
    char *path = base_path_join(dir, name);
    table *t;
    char err[256];
    assert_int_equal(table_open(path, NULL, &t, err, sizeof err), STRATA_OK);
    base_free(path);
    return t;
}

/* Reads outputs back into got and checks their sid ranges ascend and do
 * not overlap. */
static void read_outputs(const char *dir, const table_meta *outs, size_t n, mdl *got)
{
    uint64_t prev_max = 0;
    for (size_t i = 0; i < n; i++) {
        if (i)
            assert_true(outs[i].min_sid > prev_max);
        prev_max = outs[i].max_sid;
        char name[64];
        table_file_name(name, sizeof name, outs[i].file_no);
        char *path = base_path_join(dir, name);
        table *t;
        char err[256];
        assert_int_equal(table_open(path, NULL, &t, err, sizeof err), STRATA_OK);
        base_free(path);
        assert_int_equal(table_get_meta(t)->samples, outs[i].samples);
        uint64_t *sids;
        size_t ns;
        assert_int_equal(table_sids(t, &sids, &ns), STRATA_OK);
        table_iter it;
        table_iter_init(&it);
        for (size_t k = 0; k < ns; k++) {
            assert_int_equal(table_iter_seek(&it, t, sids[k], INT64_MIN, INT64_MAX), STRATA_OK);
            const int64_t *ts;
            const double *v;
            size_t m;
            int rc;
            while ((rc = table_iter_next(&it, &ts, &v, &m)) == 1)
                for (size_t j = 0; j < m; j++) {
                    int ti = (int)(ts[j] / 1000);
                    assert_false(got->has[sids[k]][ti]); /* each key once */
                    got->has[sids[k]][ti] = true;
                    got->v[sids[k]][ti] = v[j];
                }
            assert_int_equal(rc, 0);
        }
        table_iter_free(&it);
        base_free(sids);
        table_unref(t);
    }
}

static void assert_same(const mdl *want, const mdl *got)
{
    for (int s = 0; s < NSID; s++)
        for (int t = 0; t < NT; t++) {
            if (want->has[s][t] != got->has[s][t])
                fail_msg("sid %d t %d: want %d got %d", s, t, want->has[s][t], got->has[s][t]);
            if (want->has[s][t] && memcmp(&want->v[s][t], &got->v[s][t], sizeof(double)) != 0)
                fail_msg("sid %d t %d: value differs", s, t);
        }
}

static void unref_all(table **t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        table_unref(t[i]);
}

static cpt_run_args args_for(ctx *c, table **in, size_t n, uint32_t bs)
{
    cpt_run_args a;
    cpt_job job = {0};
    cpt_run_args_from_job(&a, &job, 0);
    a.inputs = in;
    a.n_inputs = n;
    a.dir = c->dir;
    a.alloc = alloc_no;
    a.alloc_ctx = c;
    a.block_samples = bs;
    a.cancel = &c->cancel;
    return a;
}

static void compaction_merge_equals_model_newest_wins(void **state)
{
    (void)state;
    test_rng rng;
    test_rng_init(&rng, test_seed(7));
    static mdl in[4], want, got;
    for (int round = 0; round < 6; round++) {
        ctx c;
        ctx_init(&c, "cpt_merge");
        memset(&want, 0, sizeof want);
        table *tabs[4];
        /* input 0 is the newest: fill the model oldest first */
        for (int k = 3; k >= 0; k--) {
            memset(&in[k], 0, sizeof in[k]);
            for (int s = 0; s < NSID; s++) {
                int a = (int)test_rng_below(&rng, NT), b = (int)test_rng_below(&rng, NT);
                if (a > b) { int x = a; a = b; b = x; }
                int density = 1 + (int)test_rng_below(&rng, 4);
                for (int t = a; t <= b; t++)
                    if (test_rng_below(&rng, (uint64_t)density) == 0) {
                        uint64_t bits = test_rng_next(&rng); /* any bit pattern, NaNs included */
                        memcpy(&in[k].v[s][t], &bits, 8);
                        in[k].has[s][t] = true;
                        want.has[s][t] = true;
                        want.v[s][t] = in[k].v[s][t];
                    }
            }
            tabs[k] = write_table(c.dir, 10 + (uint64_t)(3 - k), &in[k], 16);
        }
        cpt_run_args a = args_for(&c, tabs, 4, 16);
        a.target_file_bytes = round % 2 ? 4096 : 0;
        cpt_run_stats st = {0};
        table_meta *outs = NULL;
        size_t n_outs = 0;
        assert_int_equal(cpt_run(&a, &outs, &n_outs, &st), STRATA_OK);
        memset(&got, 0, sizeof got);
        read_outputs(c.dir, outs, n_outs, &got);
        assert_same(&want, &got);
        assert_true(st.blocks_merged > 0);
        uint64_t total = 0;
        for (size_t i = 0; i < n_outs; i++)
            total += outs[i].samples;
        assert_int_equal(total, st.samples_written);
        base_free(outs);

        /* The same job in three sid-range splits adds up to the same. */
        memset(&got, 0, sizeof got);
        uint64_t bounds[4] = {0, 9, 25, UINT64_MAX};
        for (int sp = 0; sp < 3; sp++) {
            cpt_run_args b = a;
            b.sid_lo = sp ? bounds[sp] + 1 : 0;
            b.sid_hi = bounds[sp + 1];
            assert_int_equal(cpt_run(&b, &outs, &n_outs, NULL), STRATA_OK);
            for (size_t i = 0; i < n_outs; i++)
                assert_true(outs[i].min_sid >= b.sid_lo && outs[i].max_sid <= b.sid_hi);
            read_outputs(c.dir, outs, n_outs, &got);
            base_free(outs);
        }
        assert_same(&want, &got);
        unref_all(tabs, 4);
        test_rmtree(c.dir);
        free(c.dir);
    }
}

static void compaction_copies_blocks_that_need_no_change(void **state)
{
    (void)state;
    ctx c;
    ctx_init(&c, "cpt_copy");
    static mdl a, b, want, got;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    /* Per sid: older file t 0..29 (3 full blocks of 10), newer file t
     * 100..129: nothing overlaps, every block is full: all copied. */
    for (int s = 0; s < 5; s++)
        for (int t = 0; t < 30; t++) {
            a.has[s][t] = true;
            a.v[s][t] = s + t * 0.5;
            b.has[s][100 + t] = true;
            b.v[s][100 + t] = -t;
        }
    table *tabs[2] = {write_table(c.dir, 2, &b, 10), write_table(c.dir, 1, &a, 10)};
    cpt_run_args args = args_for(&c, tabs, 2, 10);
    cpt_run_stats st = {0};
    table_meta *outs;
    size_t n_outs;
    assert_int_equal(cpt_run(&args, &outs, &n_outs, &st), STRATA_OK);
    assert_int_equal(st.blocks_copied, 5 * 6);
    assert_int_equal(st.blocks_merged, 0);
    assert_int_equal(n_outs, 1);
    assert_int_equal(outs[0].blocks, 30);
    assert_int_equal(outs[0].samples, 300);
    base_free(outs);
    unref_all(tabs, 2);

    /* Older file with a partial tail (25 = 10 + 10 + 5) then the newer one
     * (30): the two full blocks are copied, the tail is decoded and absorbs
     * the following blocks so the output has full blocks: 55 = 5 x 10 + 5. */
    memset(&a, 0, sizeof a);
    for (int t = 0; t < 25; t++) {
        a.has[0][t] = true;
        a.v[0][t] = t;
    }
    tabs[0] = write_table(c.dir, 4, &b, 10);
    tabs[1] = write_table(c.dir, 3, &a, 10);
    memset(&st, 0, sizeof st);
    args.sid_hi = 0; /* sid 0 only */
    assert_int_equal(cpt_run(&args, &outs, &n_outs, &st), STRATA_OK);
    assert_int_equal(st.blocks_copied, 2);
    assert_int_equal(st.blocks_merged, 4);
    assert_int_equal(outs[0].samples, 55);
    assert_int_equal(outs[0].blocks, 6);
    base_free(outs);
    unref_all(tabs, 2);

    /* A series' only (partial) block and a last partial block are copied;
     * overlapping blocks are merged, the newer value winning. */
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&want, 0, sizeof want);
    for (int t = 0; t < 7; t++) { /* sid 1: only block, 7 samples */
        a.has[1][t] = want.has[1][t] = true;
        a.v[1][t] = want.v[1][t] = 1.5 * t;
    }
    for (int t = 0; t < 20; t++) { /* sid 2: older 0..19 */
        a.has[2][t] = want.has[2][t] = true;
        a.v[2][t] = want.v[2][t] = 100 + t;
    }
    for (int t = 0; t < 20; t++) { /* newer 10..29 */
        b.has[2][10 + t] = want.has[2][10 + t] = true;
        b.v[2][10 + t] = want.v[2][10 + t] = 200 + t;
    }
    tabs[0] = write_table(c.dir, 6, &b, 10);
    tabs[1] = write_table(c.dir, 5, &a, 10);
    memset(&st, 0, sizeof st);
    args.sid_hi = UINT64_MAX;
    assert_int_equal(cpt_run(&args, &outs, &n_outs, &st), STRATA_OK);
    /* sid 1: 1 copied; sid 2: a's first block (0..9) copied, a's 10..19
     * overlaps b's 10..19: merged with it, then b's 20..29 follows a
     * pending-free state? no: 10 merged samples fill exactly one block, so
     * b's last block is copied too. */
    assert_int_equal(st.blocks_copied, 3);
    assert_int_equal(st.blocks_merged, 2);
    assert_int_equal(st.samples_shadowed, 10);
    memset(&got, 0, sizeof got);
    read_outputs(c.dir, outs, n_outs, &got);
    assert_same(&want, &got);
    base_free(outs);
    unref_all(tabs, 2);
    test_rmtree(c.dir);
    free(c.dir);
}

static manifest_tombstone tomb(uint64_t id, int64_t mint, int64_t maxt, const uint64_t *sids, size_t n)
{
    manifest_tombstone t = {id, mint, maxt, n, sids};
    return t;
}

static void compaction_drops_deleted_range_and_expired_samples(void **state)
{
    (void)state;
    ctx c;
    ctx_init(&c, "cpt_tomb");
    static mdl old, young, want, got;
    memset(&old, 0, sizeof old);
    memset(&young, 0, sizeof young);
    for (int s = 0; s < 6; s++)
        for (int t = 0; t < 100; t++) {
            old.has[s][t] = true;
            old.v[s][t] = t;
            if (t >= 50) {
                young.has[s][t + 100] = true;
                young.v[s][t + 100] = -t;
            }
        }
    /* old is file 10, young file 30; tombstone 20 (after old, before young)
     * hides sids 1 and 3 in t [25 s, 39.999 s] and [100 s, 199 s]: only old's
     * samples; tombstone 40 hides sid 5 entirely from both. Retention drops
     * t < 10 s. */
    table *tabs[2] = {write_table(c.dir, 30, &young, 10), write_table(c.dir, 10, &old, 10)};
    uint64_t s13[] = {1, 3}, s5[] = {5};
    manifest_tombstone t1 = tomb(20, 25000, 39999, s13, 2), t2 = tomb(20, 100000, 199000, s13, 2),
                       t3 = tomb(40, INT64_MIN, INT64_MAX, s5, 1);
    const manifest_tombstone *ts[] = {&t1, &t2, &t3};
    memset(&want, 0, sizeof want);
    for (int s = 0; s < 6; s++)
        for (int t = 0; t < NT; t++) {
            bool in_old = old.has[s][t], in_young = young.has[s][t];
            if (!in_old && !in_young)
                continue;
            if (s == 5 || t < 10)
                continue;
            if (in_young) {
                want.has[s][t] = true;
                want.v[s][t] = young.v[s][t];
            } else if (!((s == 1 || s == 3) && ((t >= 25 && t < 40) || (t >= 100 && t <= 199)))) {
                want.has[s][t] = true;
                want.v[s][t] = old.v[s][t];
            }
        }
    cpt_run_args a = args_for(&c, tabs, 2, 10);
    a.tombstones = ts;
    a.n_tombstones = 3;
    a.retention_before_ms = 10000;
    cpt_run_stats st = {0};
    table_meta *outs;
    size_t n_outs;
    assert_int_equal(cpt_run(&a, &outs, &n_outs, &st), STRATA_OK);
    memset(&got, 0, sizeof got);
    read_outputs(c.dir, outs, n_outs, &got);
    assert_same(&want, &got);
    /* Blocks wholly hidden are dropped without decoding: sid 5's 15
     * blocks, the first block (t 0..9) of sids 0..4 and, for sids 1 and 3,
     * block 30..39. Their block 20..29 is cut (5 samples left), and the
     * partial block that leaves makes the rest of the series be decoded
     * to come out in full blocks: 6 more old blocks and 5 young ones. */
    assert_int_equal(st.samples_deleted, 150 + 5 * 10 + 2 * 15);
    assert_int_equal(st.blocks_merged, 2 * (1 + 6 + 5));
    assert_int_equal(st.blocks_copied, 3 * 14 + 2 * 1); /* sids 1, 3: block 10..19 before the cut */
    base_free(outs);

    /* Everything deleted: no output at all. */
    size_t files = count_files(c.dir);
    a.retention_before_ms = INT64_MAX;
    assert_int_equal(cpt_run(&a, &outs, &n_outs, NULL), STRATA_OK);
    assert_int_equal(n_outs, 0);
    assert_null(outs);
    assert_int_equal(count_files(c.dir), files);
    unref_all(tabs, 2);
    test_rmtree(c.dir);
    free(c.dir);
}

static void compaction_rotates_outputs_at_target_and_grandparent_cut(void **state)
{
    (void)state;
    ctx c;
    ctx_init(&c, "cpt_rotate");
    static mdl m, got;
    memset(&m, 0, sizeof m);
    test_rng rng;
    test_rng_init(&rng, test_seed(3));
    for (int s = 0; s < NSID; s++)
        for (int t = 0; t < 200; t++) {
            m.has[s][t] = true;
            m.v[s][t] = (double)test_rng_below(&rng, 1000000) / 7.0;
        }
    table *tabs[1] = {write_table(c.dir, 1, &m, 50)};
    cpt_run_args a = args_for(&c, tabs, 1, 50);
    a.target_file_bytes = 8000;
    table_meta *outs;
    size_t n_outs;
    cpt_run_stats st = {0};
    assert_int_equal(cpt_run(&a, &outs, &n_outs, &st), STRATA_OK);
    assert_true(n_outs >= 3);
    for (size_t i = 0; i + 1 < n_outs; i++)
        assert_true(outs[i].file_bytes >= 8000);
    assert_int_equal(st.blocks_copied, NSID * 4); /* a single input: every block copied */
    memset(&got, 0, sizeof got);
    read_outputs(c.dir, outs, n_outs, &got);
    assert_same(&m, &got);
    for (size_t i = 0; i < n_outs; i++) {
        char name[64];
        table_file_name(name, sizeof name, outs[i].file_no);
        char *p = base_path_join(c.dir, name);
        remove(p);
        base_free(p);
    }
    base_free(outs);

    /* Grandparents of 1000 bytes per 4 sids with a 2500-byte limit: cut
     * after passing three of them, i.e. every 12 sids. */
    cpt_gp gps[10];
    for (int i = 0; i < 10; i++)
        gps[i] = (cpt_gp){(uint64_t)(100 + i), (uint64_t)i * 4, (uint64_t)i * 4 + 3, 1000};
    a.target_file_bytes = 0;
    a.gps = gps;
    a.n_gps = 10;
    a.max_gp_overlap_bytes = 2500;
    assert_int_equal(cpt_run(&a, &outs, &n_outs, NULL), STRATA_OK);
    assert_int_equal(n_outs, 4);
    assert_int_equal(outs[0].max_sid, 11);
    assert_int_equal(outs[1].min_sid, 12);
    assert_int_equal(outs[1].max_sid, 23);
    assert_int_equal(outs[3].max_sid, NSID - 1);
    memset(&got, 0, sizeof got);
    read_outputs(c.dir, outs, n_outs, &got);
    assert_same(&m, &got);
    base_free(outs);
    unref_all(tabs, 1);
    test_rmtree(c.dir);
    free(c.dir);
}

static void compaction_cancel_or_error_leaves_no_file(void **state)
{
    (void)state;
    ctx c;
    ctx_init(&c, "cpt_cancel");
    static mdl m;
    memset(&m, 0, sizeof m);
    for (int s = 0; s < NSID; s++)
        for (int t = 0; t < 100; t++) {
            m.has[s][t] = true;
            m.v[s][t] = s * t;
        }
    table *tabs[2] = {write_table(c.dir, 2, &m, 10), write_table(c.dir, 1, &m, 10)};
    size_t base_files = count_files(c.dir);
    table_meta *outs = (table_meta *)1;
    size_t n_outs = 77;

    /* cancelled before it starts */
    cpt_run_args a = args_for(&c, tabs, 2, 10);
    atomic_store(&c.cancel, 1);
    assert_int_equal(cpt_run(&a, &outs, &n_outs, NULL), STRATA_ERR_CANCELLED);
    assert_true(outs == (table_meta *)1 && n_outs == 77); /* untouched */
    assert_int_equal(count_files(c.dir), base_files);

    /* cancelled while the third output is being written: the two finished
     * ones are removed too */
    atomic_store(&c.cancel, 0);
    c.cancel_at = 3;
    a.target_file_bytes = 2000;
    cpt_run_stats st = {0};
    assert_int_equal(cpt_run(&a, &outs, &n_outs, &st), STRATA_ERR_CANCELLED);
    assert_true(st.bytes_written > 0);
    assert_int_equal(count_files(c.dir), base_files);

    /* the allocator fails on the fourth output */
    atomic_store(&c.cancel, 0);
    c.cancel_at = -1;
    c.allocs = 0;
    c.fail_at = 4;
    assert_int_equal(cpt_run(&a, &outs, &n_outs, NULL), STRATA_ERR_NOSPACE);
    assert_int_equal(count_files(c.dir), base_files);

    /* memory fails at every point in turn: an error or success, never a leak or a file left */
    c.fail_at = -1;
    for (long k = 0; k < 400; k += 7) {
        base_alloc_fail_after(k);
        int rc = cpt_run(&a, &outs, &n_outs, NULL);
        base_alloc_fail_after(-1);
        if (rc == STRATA_OK) {
            for (size_t i = 0; i < n_outs; i++) {
                char name[64];
                table_file_name(name, sizeof name, outs[i].file_no);
                char *p = base_path_join(c.dir, name);
                remove(p);
                base_free(p);
            }
            base_free(outs);
            break;
        }
        assert_int_equal(rc, STRATA_ERR_NOMEM);
        assert_int_equal(count_files(c.dir), base_files);
    }
    unref_all(tabs, 2);
    test_rmtree(c.dir);
    free(c.dir);
}

static void compaction_limiter_paces_and_cancels(void **state)
{
    (void)state;
    cpt_limiter *l;
    atomic_int cancel;
    atomic_init(&cancel, 0);
    assert_int_equal(cpt_limiter_new(0, &l), STRATA_OK);
    assert_int_equal(cpt_limiter_take(l, 1 << 30, &cancel), STRATA_OK); /* unlimited */
    cpt_limiter_free(l);

    assert_int_equal(cpt_limiter_new(200000, &l), STRATA_OK);
    uint64_t t0 = base_mono_ns();
    assert_int_equal(cpt_limiter_take(l, 200000, &cancel), STRATA_OK); /* the burst */
    assert_int_equal(cpt_limiter_take(l, 40000, &cancel), STRATA_OK);  /* 0.2 s of debt */
    uint64_t dt = base_mono_ns() - t0;
    assert_true(dt >= 150ULL * 1000 * 1000);
    atomic_store(&cancel, 1);
    assert_int_equal(cpt_limiter_take(l, 1 << 30, &cancel), STRATA_ERR_CANCELLED);
    cpt_limiter_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compaction_merge_equals_model_newest_wins),
        cmocka_unit_test(compaction_copies_blocks_that_need_no_change),
        cmocka_unit_test(compaction_drops_deleted_range_and_expired_samples),
        cmocka_unit_test(compaction_rotates_outputs_at_target_and_grandparent_cut),
        cmocka_unit_test(compaction_cancel_or_error_leaves_no_file),
        cmocka_unit_test(compaction_limiter_paces_and_cancels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
