/* PromQL parsing and printing when memory runs out: every allocation in
 * turn fails; each run ends in STRATA_ERR_NOMEM or success, never a crash
 * or a leak (the sanitizer build checks the latter). */
#include <stdio.h>
#include <stdlib.h>

#include "query/query.h"
#include "testutil.h"

static const char *queries[] = {
    /* one literal: clang warns about concatenation inside an array */
    "sum by (job) (rate(http_requests_total{code=~\"5..\",\"service.name\"!=\"x\"}[5m] offset 1h)) / on (job) group_left (team) max(team_info) > bool 0.5",
    "histogram_quantile(0.99, sum without (pod) (rate(h_bucket[5m+1m:step()] @ end())))",
    "label_join(topk(3, x), \"d\", \",\", \"a\", \"b\", \"c\", \"e\", \"f\", \"g\", \"h\", \"i\") or -vector(1)",
};

static void parse_and_print_survive_every_failed_allocation(void **state)
{
    (void)state;
    for (size_t q = 0; q < sizeof queries / sizeof queries[0]; q++) {
        int ok = 0;
        for (long n = 0; n < 100000 && !ok; n++) {
            base_alloc_fail_after(n);
            query_ast *ast;
            query_error err;
            int rc = query_parse(queries[q], strlen(queries[q]), QUERY_START_EXPR, &ast, &err);
            if (rc == STRATA_OK) {
                bbuf b = {0};
                int p1 = query_print(ast->root, &b);
                int p2 = query_pretty(ast->root, &b);
                int p3 = query_json(ast->root, &b);
                base_buf_free(&b);
                query_ast_free(ast);
                ok = p1 == STRATA_OK && p2 == STRATA_OK && p3 == STRATA_OK;
                if (!ok && p1 != STRATA_ERR_NOMEM && p2 != STRATA_ERR_NOMEM && p3 != STRATA_ERR_NOMEM)
                    fail_msg("query %zu, failing allocation %ld: printers returned %d %d %d", q, n, p1, p2, p3);
            } else if (rc != STRATA_ERR_NOMEM) {
                fail_msg("query %zu, failing allocation %ld: rc %d (%s)", q, n, rc, err.msg);
            }
        }
        base_alloc_fail_after(-1);
        assert_true(ok);
    }
}

static void public_parse_and_format(void **state)
{
    (void)state;
    strata_query *q;
    strata_query_error err;
    const char *text = "sum(rate(x[5m])) by (job)";
    assert_int_equal(strata_query_parse(text, strlen(text), &q, &err), STRATA_OK);
    char *s;
    size_t len;
    assert_int_equal(strata_query_format(q, STRATA_QUERY_FORMAT_COMPACT, &s, &len), STRATA_OK);
    assert_string_equal(s, "sum by (job) (rate(x[5m]))");
    assert_int_equal(len, strlen(s));
    base_free(s); /* strata_free, which lives in the engine library */
    assert_int_equal(strata_query_format(q, STRATA_QUERY_FORMAT_JSON, &s, NULL), STRATA_OK);
    assert_non_null(strstr(s, "\"type\":\"aggregation\""));
    base_free(s); /* strata_free, which lives in the engine library */
    assert_int_equal(strata_query_format(q, (strata_query_format_style)7, &s, NULL), STRATA_ERR_INVALID);
    strata_query_free(q);
    strata_query_free(NULL);

    text = "foo{a=\"b\"}\n  + on(x) * 2";
    assert_int_equal(strata_query_parse(text, strlen(text), &q, &err), STRATA_ERR_INVALID);
    assert_int_equal(err.type, STRATA_QUERY_ERR_BAD_DATA);
    assert_int_equal(err.pos, 21);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.col, 11);
    assert_string_equal(err.msg, "2:11: parse error: unexpected <op:*>");
    /* the text need not be NUL-terminated */
    assert_int_equal(strata_query_parse("1+1junk", 3, &q, &err), STRATA_OK);
    assert_int_equal(strata_query_format(q, STRATA_QUERY_FORMAT_PRETTY, &s, NULL), STRATA_OK);
    assert_string_equal(s, "1 + 1");
    base_free(s); /* strata_free, which lives in the engine library */
    strata_query_free(q);
    assert_int_equal(strata_query_parse(NULL, 0, &q, &err), STRATA_ERR_INVALID);
    assert_string_equal(err.msg, "unknown position: parse error: no expression found in input");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_and_print_survive_every_failed_allocation),
        cmocka_unit_test(public_parse_and_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
