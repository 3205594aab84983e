/* head: in-order runs, out-of-order and duplicate samples (newest wins), deletes, concurrency. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "head/head.h"
#include "testutil.h"

static uint64_t bits(double v) { uint64_t b; memcpy(&b, &v, 8); return b; }

/* Model: per (sid, t) the last value written. */
typedef struct model { int64_t t; double v; int live; } model;

static void head_matches_model_with_out_of_order_and_duplicates(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(7));
    enum { SIDS = 20, TS = 300 };
    static model m[SIDS + 1][TS];
    memset(m, 0, sizeof m);
    head *h;
    assert_int_equal(head_new(1, &h), STRATA_OK);
    uint64_t ooo = 0;
    for (int step = 0; step < 20000; step++) {
        strata_sample s;
        s.sid = 1 + test_rng_below(&r, SIDS);
        /* mostly increasing, sometimes back in time or repeating */
        int slot = (int)test_rng_below(&r, TS);
        s.t_ms = (int64_t)slot * 1000 - 50000;
        uint64_t b = test_rng_next(&r);
        if (test_rng_below(&r, 10) == 0)
            b = 0x7ff0000000000002ull; /* stale marker */
        memcpy(&s.value, &b, 8);
        if (isnan(s.value) && b != 0x7ff0000000000002ull)
            s.value = (double)step;
        assert_int_equal(head_append(h, &s, 1, &ooo), STRATA_OK);
        m[s.sid][slot] = (model){s.t_ms, s.value, 1};
    }
    assert_true(ooo > 0);
    head_samples out = {0};
    for (uint64_t sid = 1; sid <= SIDS; sid++) {
        assert_int_equal(head_read(h, sid, INT64_MIN, INT64_MAX, &out), STRATA_OK);
        size_t k = 0;
        for (int slot = 0; slot < TS; slot++) {
            if (!m[sid][slot].live)
                continue;
            assert_true(k < out.n);
            assert_int_equal(out.t[k], m[sid][slot].t);
            assert_int_equal(bits(out.v[k]), bits(m[sid][slot].v));
            k++;
        }
        assert_int_equal(k, out.n);
        /* a sub-range */
        assert_int_equal(head_read(h, sid, 0, 99000, &out), STRATA_OK);
        for (size_t i = 0; i < out.n; i++)
            assert_true(out.t[i] >= 0 && out.t[i] <= 99000);
    }
    /* delete a range of two series */
    uint64_t del[] = {3, 5};
    assert_int_equal(head_delete(h, del, 2, -10000, 10000), STRATA_OK);
    for (int d = 0; d < 2; d++) {
        assert_int_equal(head_read(h, del[d], INT64_MIN, INT64_MAX, &out), STRATA_OK);
        size_t k = 0;
        for (int slot = 0; slot < TS; slot++) {
            model *e = &m[del[d]][slot];
            if (!e->live || (e->t >= -10000 && e->t <= 10000))
                continue;
            assert_int_equal(out.t[k], e->t);
            assert_int_equal(bits(out.v[k]), bits(e->v));
            k++;
        }
        assert_int_equal(k, out.n);
    }
    uint64_t *sids;
    size_t n;
    assert_int_equal(head_sids(h, &sids, &n), STRATA_OK);
    assert_int_equal(n, SIDS);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(sids[i], i + 1);
    free(sids);
    head_stats st;
    head_get_stats(h, &st);
    assert_int_equal(st.samples, 20000);
    assert_int_equal(st.series, SIDS);
    assert_true(st.bytes > 0);
    head_samples_free(&out);
    head_free(h);
}

typedef struct writer_arg { head *h; uint64_t sid0; } writer_arg;

static void *writer(void *p)
{
    writer_arg *a = p;
    for (int64_t t = 0; t < 20000; t++) {
        strata_sample s[4];
        for (int k = 0; k < 4; k++)
            s[k] = (strata_sample){a->sid0 + (uint64_t)k, t, (double)t};
        if (head_append(a->h, s, 4, NULL) != STRATA_OK)
            return (void *)1;
    }
    return NULL;
}

static void head_concurrent_writers_and_readers_lose_nothing(void **state)
{
    (void)state;
    head *h;
    assert_int_equal(head_new(1, &h), STRATA_OK);
    pthread_t th[2];
    writer_arg args[2] = {{h, 1}, {h, 3}}; /* sids 3 and 4 are shared by both */
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, writer, &args[i]), 0);
    head_samples out = {0};
    for (int i = 0; i < 200; i++)
        assert_int_equal(head_read(h, 3, INT64_MIN, INT64_MAX, &out), STRATA_OK);
    for (int i = 0; i < 2; i++) {
        void *res;
        assert_int_equal(pthread_join(th[i], &res), 0);
        assert_null(res);
    }
    for (uint64_t sid = 1; sid <= 6; sid++) {
        assert_int_equal(head_read(h, sid, INT64_MIN, INT64_MAX, &out), STRATA_OK);
        assert_int_equal(out.n, 20000);
        for (size_t i = 0; i < out.n; i++)
            assert_int_equal(out.t[i], (int64_t)i);
    }
    head_samples_free(&out);
    head_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(head_matches_model_with_out_of_order_and_duplicates),
        cmocka_unit_test(head_concurrent_writers_and_readers_lose_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
