/*
 * compaction_rollup.c: how aggregate rows combine (src/compaction/rollup.c).
 * A later row adds the drop between the two as a counter reset; a late
 * sample inside a row's span adds none (its predecessor is unknown: taking
 * the row's last would add a whole counter value to increase and rate);
 * samples roll up into intervals (end - res, end] with the sample at end
 * in its interval and the one just after in the next.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "compaction/compaction.h"
#include "testutil.h"

static void a_later_row_after_a_drop_adds_a_reset(void **state)
{
    (void)state;
    strata_agg a = {0, 60000, 5, 75, 10, 20, 10, 20, 0, 60000};
    strata_agg b = {61000, 120000, 5, 20, 2, 6, 2, 6, 0, 60000};
    cpt_agg_combine(&a, &b);
    assert_true(a.resets == 20 && a.count == 10 && a.first == 10 && a.last == 6 && a.min == 2 && a.max == 20);
    assert_true(a.t_first == 0 && a.t_last == 120000);
}

static void a_late_sample_inside_a_row_adds_no_reset(void **state)
{
    (void)state;
    strata_agg a = {0, 60000, 5, 75, 10, 20, 10, 20, 0, 60000};
    strata_agg late = {30000, 30000, 1, 15, 15, 15, 15, 15, 0, 0};
    cpt_agg_combine(&a, &late);
    assert_true(a.resets == 0);
    assert_true(a.count == 6 && a.sum == 90 && a.first == 10 && a.last == 20 && a.t_first == 0 && a.t_last == 60000);
    /* a late sample before the row's first becomes its first */
    strata_agg early = {-5000, -5000, 1, 9, 9, 9, 9, 9, 0, 0};
    cpt_agg_combine(&a, &early);
    assert_true(a.first == 9 && a.t_first == -5000 && a.min == 9 && a.resets == 0);
}

static void samples_roll_up_into_right_closed_intervals(void **state)
{
    (void)state;
    int64_t t[] = {-60000, -1, 0, 1, 59999, 60000, 60001};
    double v[] = {1, 2, 3, 4, 5, 6, 7};
    strata_agg *out = NULL;
    size_t n = 0, cap = 0;
    assert_int_equal(cpt_rollup(60000, t, v, 7, NULL, 0, &out, &n, &cap), STRATA_OK);
    /* (-120000, -60000] {1}, (-60000, 0] {2, 3}, (0, 60000] {4, 5, 6}, (60000, 120000] {7} */
    assert_int_equal(n, 4);
    assert_true(out[0].count == 1 && out[0].t_last == -60000);
    assert_true(out[1].count == 2 && out[1].t_first == -1 && out[1].t_last == 0 && out[1].sum == 5);
    assert_true(out[2].count == 3 && out[2].t_first == 1 && out[2].t_last == 60000 && out[2].sum == 15);
    assert_true(out[3].count == 1 && out[3].t_last == 60001);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(out[i].res_ms, 60000);
    base_free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_later_row_after_a_drop_adds_a_reset),
        cmocka_unit_test(a_late_sample_inside_a_row_adds_no_reset),
        cmocka_unit_test(samples_roll_up_into_right_closed_intervals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
