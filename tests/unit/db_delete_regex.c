/*
 * db_delete_regex.c: a delete driven by a regular expression deletes
 * exactly what Prometheus would, whatever the pattern costs a backtracking
 * engine (public API only).
 *
 *  - delete_by_pathological_nre_deletes_what_prometheus_deletes: series
 *    whose label l is 40 or 1,600 a's (where (a+)+[bc] backtracks 2^n ways),
 *    "ab" x 800, "aaab", "x" and none; then
 *      {l!~"(a+)+[bc]|.*"}  deletes nothing (.* matches every value),
 *      {l!~"(a|b)*"}        deletes only l="x",
 *      {l!~"(a+)+[bc]"}     deletes all but l="aaab";
 *    after each, a selection of everything shows exactly the survivors,
 *    and so does a reopen.
 *  - delete_with_refused_syntax_deletes_nothing: (a)\1, (?=a), \C ... are
 *    STRATA_ERR_INVALID and leave every sample.
 */
#include "db_testlib.h"

#define NSER 6

typedef struct world {
    char *dir;
    strata_db *db;
    char *val[NSER];
    int live[NSER];
} world;

static void w_open(world *w)
{
    strata_options o;
    dbt_options(&o, w->dir);
    o.sync = STRATA_SYNC_NONE;
    w->db = dbt_open_ok(&o);
}

static void w_setup(world *w, const char *tag)
{
    memset(w, 0, sizeof *w);
    w->dir = test_tmpdir(tag);
    w_open(w);
    size_t lens[NSER] = {40, 1600, 1600, 4, 1, 0};
    for (int i = 0; i < NSER; i++) {
        w->val[i] = calloc(lens[i] + 1, 1);
        memset(w->val[i], 'a', lens[i]);
        w->live[i] = 1;
    }
    for (size_t k = 0; k < lens[2]; k++)
        w->val[2][k] = "ab"[k & 1];
    w->val[3][3] = 'b';
    w->val[4][0] = 'x';
    for (int i = 0; i < NSER; i++) {
        char id[4];
        snprintf(id, sizeof id, "%d", i);
        strata_label l[] = {{"__name__", "m"}, {"id", id}, {"l", w->val[i]}};
        strata_sid sid;
        assert_int_equal(strata_series_get_or_create(w->db, l, 3, &sid, NULL), STRATA_OK);
        strata_sample s = {sid, 1000 + i, (double)i};
        assert_int_equal(strata_write(w->db, &s, 1), STRATA_OK);
    }
}

/* Which series have their sample: must be exactly w->live. */
static void w_check(world *w, const char *after)
{
    strata_matcher all = {STRATA_MATCH_EQ, "__name__", "m"};
    strata_cursor *c;
    assert_int_equal(strata_select(w->db, &all, 1, INT64_MIN, INT64_MAX, &c), STRATA_OK);
    int seen[NSER] = {0};
    strata_sid sid;
    const strata_label *l;
    size_t nl;
    int rc;
    while ((rc = strata_cursor_next_series(c, &sid, &l, &nl)) == 1) {
        int id = -1;
        for (size_t k = 0; k < nl; k++)
            if (strcmp(l[k].name, "id") == 0)
                id = atoi(l[k].value);
        assert_true(id >= 0 && id < NSER);
        const int64_t *t;
        const double *v;
        size_t n;
        while (strata_cursor_next_samples(c, &t, &v, &n) == 1)
            seen[id] += (int)n;
    }
    assert_int_equal(rc, 0);
    strata_cursor_close(c);
    for (int i = 0; i < NSER; i++)
        if (seen[i] != w->live[i])
            fail_msg("after %s: series %d (l of %zu bytes) has %d samples, want %d", after, i, strlen(w->val[i]),
                     seen[i], w->live[i]);
}

static void w_delete(world *w, const char *re, int rc_want)
{
    strata_matcher m[] = {{STRATA_MATCH_EQ, "__name__", "m"}, {STRATA_MATCH_NRE, "l", re}};
    assert_int_equal(strata_delete(w->db, m, 2, INT64_MIN, INT64_MAX), rc_want);
    w_check(w, re);
}

static void w_teardown(world *w)
{
    assert_int_equal(strata_close(w->db), STRATA_OK);
    test_rmtree(w->dir);
    free(w->dir);
    for (int i = 0; i < NSER; i++)
        free(w->val[i]);
}

static void delete_by_pathological_nre_deletes_what_prometheus_deletes(void **state)
{
    (void)state;
    world w;
    w_setup(&w, "delete_regex");
    w_check(&w, "writing");
    w_delete(&w, "(a+)+[bc]|.*", STRATA_OK); /* .* matches everything: nothing goes */
    w.live[4] = 0;
    w_delete(&w, "(a|b)*", STRATA_OK);       /* only "x" is not made of a and b */
    w.live[0] = w.live[1] = w.live[2] = w.live[5] = 0;
    w_delete(&w, "(a+)+[bc]", STRATA_OK);    /* only "aaab" matches */
    assert_int_equal(strata_close(w.db), STRATA_OK);
    w_open(&w);
    w_check(&w, "reopening");
    w_teardown(&w);
}

static void delete_with_refused_syntax_deletes_nothing(void **state)
{
    (void)state;
    world w;
    w_setup(&w, "delete_regex_bad");
    static const char *BAD[] = {"(a)\\1", "(?=a)", "(?!x).*", "(?<=a)a", "a++", "\\C*", "(?R)", "(?>a*)"};
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++)
        w_delete(&w, BAD[i], STRATA_ERR_INVALID);
    w_teardown(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(delete_by_pathological_nre_deletes_what_prometheus_deletes),
        cmocka_unit_test(delete_with_refused_syntax_deletes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
