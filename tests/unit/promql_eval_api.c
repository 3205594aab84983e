/*
 * promql_eval_api.c: the public evaluation API (strata_query_instant,
 * strata_query_range, strata_result_*) over a small database: exact
 * answers for the benchmark's dashboard panels, result shapes and
 * accessors, parameter checks, limits (samples, series), timeout and
 * cancellation, error types and messages.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata.h"
#include "testutil.h"

#define T0 1700000000000ll

typedef struct fixture {
    char *dir;
    strata_db *db;
} fixture;

/* node_cpu_seconds_total{instance, mode} for 4 instances x 2 modes, a
 * counter growing by (mode idle: 0.9, user: 0.1) * (instance+1) per second,
 * sampled every 15 s for an hour. */
static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = test_tmpdir("promql_api");
    strata_options o;
    strata_options_init(&o);
    o.dir = f->dir;
    o.sync = STRATA_SYNC_NONE;
    o.compaction_threads = 0;
    assert_int_equal(strata_open(&o, &f->db), STRATA_OK);
    static const char *modes[] = {"idle", "user"};
    for (int i = 0; i < 4; i++)
        for (int m = 0; m < 2; m++) {
            char inst[16];
            snprintf(inst, sizeof inst, "host%d", i);
            strata_label l[] = {{"__name__", "node_cpu_seconds_total"}, {"instance", inst}, {"mode", modes[m]}};
            strata_sid sid;
            assert_int_equal(strata_series_get_or_create(f->db, l, 3, &sid, NULL), STRATA_OK);
            strata_sample s[241];
            for (int k = 0; k <= 240; k++)
                s[k] = (strata_sample){sid, T0 + k * 15000ll, k * 15.0 * (m ? 0.1 : 0.9) * (i + 1)};
            assert_int_equal(strata_write(f->db, s, 241), STRATA_OK);
        }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    strata_close(f->db);
    test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static strata_result *q_instant(fixture *f, const char *q, int64_t t)
{
    strata_result *r = NULL;
    strata_query_error err;
    int rc = strata_query_instant(f->db, q, strlen(q), t, NULL, &r, &err);
    if (rc != STRATA_OK)
        fail_msg("%s: %s (%d)", q, err.msg, rc);
    return r;
}

static void dashboard_rate_sum_by_instance_is_exact(void **state)
{
    fixture *f = *state;
    strata_result *r = q_instant(f, "sum by (instance) (rate(node_cpu_seconds_total[5m]))", T0 + 1800000);
    assert_int_equal(strata_result_type(r), STRATA_VALUE_VECTOR);
    assert_int_equal(strata_result_series_count(r), 4);
    for (size_t i = 0; i < 4; i++) {
        strata_query_series s;
        strata_result_series(r, i, &s);
        assert_int_equal(s.n_labels, 1);
        assert_string_equal(s.labels[0].name, "instance");
        char want[16];
        snprintf(want, sizeof want, "host%zu", i);
        assert_string_equal(s.labels[0].value, want);
        assert_int_equal(s.n_points, 1);
        assert_int_equal(s.points[0].t_ms, T0 + 1800000);
        /* a perfectly regular counter: the rate is its slope exactly */
        double expect = 1.0 * (double)(i + 1);
        if (fabs(s.points[0].value - expect) > 1e-9)
            fail_msg("host%zu: %.17g, want %.17g", i, s.points[0].value, expect);
    }
    strata_result_free(r);
}

static void dashboard_idle_ratio_range_is_exact(void **state)
{
    fixture *f = *state;
    const char *q = "100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode=\"idle\"}[5m])))";
    strata_result *r = NULL;
    strata_query_error err;
    assert_int_equal(strata_query_range(f->db, q, strlen(q), T0 + 600000, T0 + 3600000, 60000, NULL, &r, &err),
                     STRATA_OK);
    assert_int_equal(strata_result_type(r), STRATA_VALUE_MATRIX);
    assert_int_equal(strata_result_series_count(r), 4);
    strata_query_series s;
    strata_result_series(r, 1, &s);
    assert_int_equal(s.n_points, 51);
    for (size_t k = 0; k < s.n_points; k++) {
        assert_int_equal(s.points[k].t_ms, T0 + 600000 + (int64_t)k * 60000);
        if (fabs(s.points[k].value - 100 * (1 - 0.9 * 2)) > 1e-9)
            fail_msg("point %zu: %.17g", k, s.points[k].value);
    }
    strata_query_stats st;
    strata_result_stats(r, &st);
    assert_true(st.samples_loaded > 0);
    assert_int_equal(st.series, 4);
    strata_result_free(r);
}

static void scalar_and_string_answers(void **state)
{
    fixture *f = *state;
    strata_result *r = q_instant(f, "1+1", T0);
    assert_int_equal(strata_result_type(r), STRATA_VALUE_SCALAR);
    int64_t t;
    assert_true(strata_result_scalar(r, &t) == 2.0);
    assert_int_equal(t, T0);
    assert_int_equal(strata_result_series_count(r), 0);
    strata_result_free(r);
    r = q_instant(f, "\"hello\"", T0);
    assert_int_equal(strata_result_type(r), STRATA_VALUE_STRING);
    assert_string_equal(strata_result_string(r, NULL), "hello");
    strata_result_free(r);
    /* a range query over a scalar: one series without labels */
    strata_query_error err;
    assert_int_equal(strata_query_range(f->db, "time()", 6, 0, 120000, 60000, NULL, &r, &err), STRATA_OK);
    assert_int_equal(strata_result_series_count(r), 1);
    strata_query_series s;
    strata_result_series(r, 0, &s);
    assert_int_equal(s.n_labels, 0);
    assert_int_equal(s.n_points, 3);
    assert_true(s.points[2].value == 120.0);
    strata_result_free(r);
    strata_result_free(NULL);
}

static void matrix_answer_of_an_instant_range_selector(void **state)
{
    fixture *f = *state;
    strata_result *r = q_instant(f, "node_cpu_seconds_total{instance=\"host0\", mode=\"idle\"}[1m]", T0 + 600000);
    assert_int_equal(strata_result_type(r), STRATA_VALUE_MATRIX);
    strata_query_series s;
    strata_result_series(r, 0, &s);
    assert_int_equal(s.n_points, 4); /* (t-60s, t]: 15 s, 30 s, 45 s, 60 s back */
    assert_int_equal(s.points[3].t_ms, T0 + 600000);
    strata_result_free(r);
}

static void errors_have_prometheus_types_and_words(void **state)
{
    fixture *f = *state;
    strata_result *r = NULL;
    strata_query_error err;
    int rc = strata_query_instant(f->db, "sum(", 4, T0, NULL, &r, &err);
    assert_int_equal(rc, STRATA_ERR_INVALID);
    assert_int_equal(err.type, STRATA_QUERY_ERR_BAD_DATA);
    assert_int_equal(err.pos, 4);
    assert_int_equal(err.line, 1);
    assert_int_equal(err.col, 5);
    rc = strata_query_range(f->db, "up", 2, 10, 0, 1, NULL, &r, &err);
    assert_int_equal(rc, STRATA_ERR_INVALID);
    assert_int_equal(err.type, STRATA_QUERY_ERR_BAD_DATA);
    assert_string_equal(err.msg, "end timestamp must not be before start time");
    rc = strata_query_range(f->db, "up", 2, 0, 10, 0, NULL, &r, &err);
    assert_string_equal(err.msg,
                        "zero or negative query resolution step widths are not accepted. Try a positive integer");
    rc = strata_query_range(f->db, "up", 2, 0, 11001, 1, NULL, &r, &err);
    assert_int_equal(rc, STRATA_ERR_INVALID);
    rc = strata_query_range(f->db, "up", 2, 0, 11000, 1, NULL, &r, &err);
    assert_int_equal(rc, STRATA_OK);
    strata_result_free(r);
    const char *q = "node_cpu_seconds_total[5m]";
    rc = strata_query_range(f->db, q, strlen(q), 0, 10, 1, NULL, &r, &err);
    assert_int_equal(rc, STRATA_ERR_INVALID);
    assert_string_equal(err.msg,
                        "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector");
    q = "node_cpu_seconds_total / on(instance) node_cpu_seconds_total";
    rc = strata_query_instant(f->db, q, strlen(q), T0 + 60000, NULL, &r, &err);
    assert_int_equal(rc, STRATA_ERR_INVALID);
    assert_int_equal(err.type, STRATA_QUERY_ERR_EXECUTION);
    assert_non_null(strstr(err.msg, "found duplicate series for the match group {instance=\"host0\"} on the right "
                                    "hand-side of the operation"));
}

static void sample_limit_fails_cleanly(void **state)
{
    fixture *f = *state;
    strata_query_options o;
    strata_query_options_init(&o);
    o.max_samples = 100;
    strata_result *r = NULL;
    strata_query_error err;
    const char *q = "sum(rate(node_cpu_seconds_total[5m]))";
    int rc = strata_query_range(f->db, q, strlen(q), T0, T0 + 3600000, 15000, &o, &r, &err);
    assert_int_equal(rc, STRATA_ERR_LIMIT);
    assert_null(r);
    assert_int_equal(err.type, STRATA_QUERY_ERR_TOO_MANY_SAMPLES);
    assert_string_equal(err.msg, "query processing would load too many samples into memory in query execution");
    o.max_samples = 0; /* unlimited */
    assert_int_equal(strata_query_range(f->db, q, strlen(q), T0, T0 + 3600000, 15000, &o, &r, &err), STRATA_OK);
    strata_result_free(r);
}

static void series_limit_fails_cleanly(void **state)
{
    fixture *f = *state;
    strata_query_options o;
    strata_query_options_init(&o);
    o.max_series = 3;
    strata_result *r = NULL;
    strata_query_error err;
    const char *q = "node_cpu_seconds_total";
    assert_int_equal(strata_query_instant(f->db, q, strlen(q), T0, &o, &r, &err), STRATA_ERR_INVALID);
    assert_int_equal(err.type, STRATA_QUERY_ERR_EXECUTION);
    o.max_series = 8;
    assert_int_equal(strata_query_instant(f->db, q, strlen(q), T0, &o, &r, &err), STRATA_OK);
    strata_result_free(r);
}

static void cancel_flag_stops_a_query(void **state)
{
    fixture *f = *state;
    volatile int cancel = 1;
    strata_query_options o;
    strata_query_options_init(&o);
    o.cancel = &cancel;
    strata_result *r = NULL;
    strata_query_error err;
    const char *q = "rate(node_cpu_seconds_total[5m])";
    assert_int_equal(strata_query_instant(f->db, q, strlen(q), T0, &o, &r, &err), STRATA_ERR_CANCELLED);
    assert_int_equal(err.type, STRATA_QUERY_ERR_CANCELED);
    assert_null(r);
}

static void timeout_stops_a_long_query(void **state)
{
    fixture *f = *state;
    strata_query_options o;
    strata_query_options_init(&o);
    o.timeout_ms = 1;
    o.max_samples = 0;
    strata_result *r = NULL;
    strata_query_error err;
    /* millions of inner steps of nested subqueries: far beyond 1 ms */
    const char *q = "max_over_time(sum_over_time(node_cpu_seconds_total[1h:1s])[1h:1m])";
    int rc = strata_query_range(f->db, q, strlen(q), T0, T0 + 3600000, 60000, &o, &r, &err);
    assert_int_equal(rc, STRATA_ERR_CANCELLED);
    assert_int_equal(err.type, STRATA_QUERY_ERR_TIMEOUT);
    assert_string_equal(err.msg, "query timed out in expression evaluation");
}

/* One series whose range function alone would run for many seconds (a
 * quantile over 40,000 points at each of 11,000 steps): the timeout stops
 * it inside the series, not after it (it ran to the end, 15 s, before). */
static void timeout_stops_a_single_long_series(void **state)
{
    fixture *f = *state;
    strata_query_options o;
    strata_query_options_init(&o);
    o.timeout_ms = 50;
    o.max_samples = 0;
    strata_result *r = NULL;
    strata_query_error err;
    const char *q = "quantile_over_time(0.5, vector(time())[40000s:1s])";
    int rc = strata_query_range(f->db, q, strlen(q), T0, T0 + 11000000, 1000, &o, &r, &err);
    assert_int_equal(rc, STRATA_ERR_CANCELLED);
    assert_int_equal(err.type, STRATA_QUERY_ERR_TIMEOUT);
    assert_null(r);
}

/* The streamed aggregations (a range function or selector folded into its
 * groups series by series) must answer exactly what the general path does;
 * `* on() group_left vector(1)` forces the general path. */
/* sinh and cosh are Go's math.Sinh and math.Cosh over Go's amd64 Exp, bit
 * for bit. The expected bits were printed by Go (1.19, amd64) with and
 * without its FMA path (GODEBUG=cpu.fma=off), which agree on each of
 * these; the C library's sinh/cosh differ on each finite one. At the top:
 * Go's Exp is +Inf from 709.436 on, so sinh(709.44) is +Inf where C's
 * sinh is finite up to 710.47 (found by the differential test with
 * sinh(709.8)). */
static void sinh_and_cosh_are_gos_bit_for_bit(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *fn, *x;
        uint64_t bits;
    } cases[] = {
        {"sinh", "1e-08", 0x3e45798ee2308c3aull},
        {"sinh", "0.1", 0x3fb9a487337b59b4ull},
        {"sinh", "0.5", 0x3fe0acd00fe63b97ull},
        {"sinh", "0.5000000000000001", 0x3fe0acd00fe63b98ull},
        {"sinh", "0.7", 0x3fe8465153d5bdbeull},
        {"sinh", "0.93284642851843402", 0x3ff12fb8b48189aaull},
        {"sinh", "21", 0x41c3a6e1fd9eecfdull},
        {"sinh", "21.000000000000004", 0x41c3a6e1fd9eed11ull},
        {"sinh", "30", 0x429370470aec28ecull},
        {"sinh", "-30", 0xc29370470aec28ecull},
        {"cosh", "0.29311424455385804", 0x3ff0b1382311fb0cull},
        {"cosh", "-0.29311424455385804", 0x3ff0b1382311fb0cull},
        {"cosh", "19.125205373331994", 0x41981d5ac742be8aull},
        {"cosh", "21.850349981886509", 0x41d6ff4dfb34564aull},
        {"sinh", "709.44", 0x7ff0000000000000ull},
        {"sinh", "709.8", 0x7ff0000000000000ull},
        {"sinh", "-709.8", 0xfff0000000000000ull},
        {"cosh", "-709.44", 0x7ff0000000000000ull},
        {"sinh", "0", 0},
        {"sinh", "0 * -1", 0x8000000000000000ull},
        {"cosh", "0", 0x3ff0000000000000ull},
        {"sinh", "-Inf", 0xfff0000000000000ull},
        {"cosh", "-Inf", 0x7ff0000000000000ull},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char q[128];
        snprintf(q, sizeof q, "%s(vector(%s))", cases[i].fn, cases[i].x);
        strata_result *r = q_instant(f, q, T0);
        strata_query_series s;
        assert_int_equal(strata_result_series_count(r), 1);
        strata_result_series(r, 0, &s);
        uint64_t got;
        memcpy(&got, &s.points[0].value, sizeof got);
        if (got != cases[i].bits)
            fail_msg("%s = %.17g (0x%016llx), Go 0x%016llx", q, s.points[0].value, (unsigned long long)got,
                     (unsigned long long)cases[i].bits);
        strata_result_free(r);
    }
    strata_result *r = q_instant(f, "sinh(vector(NaN))", T0);
    strata_query_series s;
    strata_result_series(r, 0, &s);
    assert_true(isnan(s.points[0].value));
    strata_result_free(r);
}

static void streamed_aggregations_match_the_general_path(void **state)
{
    fixture *f = *state;
    static const char *aggs[] = {"sum", "avg", "min", "max", "count", "group"};
    static const char *inner[] = {"rate(node_cpu_seconds_total[5m])", "node_cpu_seconds_total",
                                  "rate(node_cpu_seconds_total[2m]) > 0.5", "10 - node_cpu_seconds_total",
                                  "increase(node_cpu_seconds_total[10m]) > bool 100"};
    for (size_t a = 0; a < 6; a++)
        for (size_t i = 0; i < 5; i++) {
            char q1[512], q2[512];
            snprintf(q1, sizeof q1, "%s by (instance) (%s)", aggs[a], inner[i]);
            snprintf(q2, sizeof q2, "%s by (instance) ((%s) * on() group_left vector(1))", aggs[a], inner[i]);
            strata_result *r1 = NULL, *r2 = NULL;
            strata_query_error err;
            assert_int_equal(strata_query_range(f->db, q1, strlen(q1), T0, T0 + 3600000, 30000, NULL, &r1, &err), 0);
            assert_int_equal(strata_query_range(f->db, q2, strlen(q2), T0, T0 + 3600000, 30000, NULL, &r2, &err), 0);
            assert_int_equal(strata_result_series_count(r1), strata_result_series_count(r2));
            for (size_t k = 0; k < strata_result_series_count(r1); k++) {
                strata_query_series s1, s2;
                strata_result_series(r1, k, &s1);
                strata_result_series(r2, k, &s2);
                assert_int_equal(s1.n_points, s2.n_points);
                for (size_t p = 0; p < s1.n_points; p++) {
                    assert_int_equal(s1.points[p].t_ms, s2.points[p].t_ms);
                    if (memcmp(&s1.points[p].value, &s2.points[p].value, sizeof(double)) != 0)
                        fail_msg("%s: point %zu: %.17g vs %.17g", q1, p, s1.points[p].value, s2.points[p].value);
                }
            }
            strata_result_free(r1);
            strata_result_free(r2);
        }
}

typedef struct thr {
    fixture *f;
    int failures;
} thr;

static void *worker(void *p)
{
    thr *t = p;
    for (int i = 0; i < 20; i++) {
        strata_result *r = NULL;
        strata_query_error err;
        const char *q = "topk(2, sum by (instance) (rate(node_cpu_seconds_total[5m])))";
        if (strata_query_instant(t->f->db, q, strlen(q), T0 + 1800000, NULL, &r, &err) != STRATA_OK ||
            strata_result_series_count(r) != 2)
            t->failures++;
        strata_result_free(r);
    }
    return NULL;
}

static void queries_run_concurrently(void **state)
{
    pthread_t th[4];
    thr t[4];
    for (int i = 0; i < 4; i++) {
        t[i] = (thr){*state, 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker, &t[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].failures, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dashboard_rate_sum_by_instance_is_exact),
        cmocka_unit_test(dashboard_idle_ratio_range_is_exact),
        cmocka_unit_test(scalar_and_string_answers),
        cmocka_unit_test(matrix_answer_of_an_instant_range_selector),
        cmocka_unit_test(errors_have_prometheus_types_and_words),
        cmocka_unit_test(sample_limit_fails_cleanly),
        cmocka_unit_test(series_limit_fails_cleanly),
        cmocka_unit_test(cancel_flag_stops_a_query),
        cmocka_unit_test(timeout_stops_a_long_query),
        cmocka_unit_test(timeout_stops_a_single_long_series),
        cmocka_unit_test(queries_run_concurrently),
        cmocka_unit_test(streamed_aggregations_match_the_general_path),
        cmocka_unit_test(sinh_and_cosh_are_gos_bit_for_bit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
