/* fuzz_promql_parse.c: the PromQL parser on any bytes. It must never
 * crash, leak or run away; an input it accepts must print (String(),
 * Pretty(), JSON) and the printed text must parse again to a tree that
 * prints the same: print(parse(print(parse(x)))) == print(parse(x)). A
 * rejection must carry a position within the input and a message. */
#include <stdio.h>
#include <stdlib.h>

#include "query/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap);

static char *print_with(const query_ast *ast, int (*fn)(const query_node *, bbuf *))
{
    bbuf b = {0};
    if (fn(ast->root, &b) != STRATA_OK || base_buf_put_u8(&b, 0) != STRATA_OK)
        abort();
    return (char *)b.data;
}

static query_ast *must_parse(const char *text, const char *from)
{
    query_ast *ast;
    query_error err;
    if (query_parse(text, strlen(text), QUERY_START_EXPR, &ast, &err) != STRATA_OK) {
        fprintf(stderr, "printed text does not parse:\n  input   %s\n  printed %s\n  error   %s\n", from, text,
                err.msg);
        abort();
    }
    return ast;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    query_ast *ast;
    query_error err;
    int rc = query_parse((const char *)data, size, QUERY_START_EXPR, &ast, &err);
    if (rc != STRATA_OK) {
        if (rc != STRATA_ERR_INVALID || err.pos < 0 || (size_t)err.pos > size || !strstr(err.msg, "parse error: "))
            abort();
        return 0;
    }
    char *once = print_with(ast, query_print);
    char *pretty = print_with(ast, query_pretty);
    char *json = print_with(ast, query_json);
    query_ast *again = must_parse(once, once);
    char *twice = print_with(again, query_print);
    if (strcmp(once, twice) != 0) {
        fprintf(stderr, "reprint differs:\n  once  %s\n  twice %s\n", once, twice);
        abort();
    }
    query_ast *from_pretty = must_parse(pretty, once);
    char *thrice = print_with(from_pretty, query_print);
    if (strcmp(once, thrice) != 0) {
        fprintf(stderr, "pretty form parses differently:\n  once   %s\n  pretty %s\n  gives  %s\n", once, pretty,
                thrice);
        abort();
    }
    /* the selector grammar is a part of the expression grammar */
    query_ast *sel;
    if (query_parse((const char *)data, size, QUERY_START_SELECTOR, &sel, &err) == STRATA_OK) {
        if (ast->root->kind != QUERY_NODE_VECTOR_SELECTOR && ast->root->kind != QUERY_NODE_MATRIX_SELECTOR)
            abort();
        query_ast_free(sel);
    }
    base_free(once);
    base_free(pretty);
    base_free(json);
    base_free(twice);
    base_free(thrice);
    query_ast_free(ast);
    query_ast_free(again);
    query_ast_free(from_pretty);
    return 0;
}

size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap)
{
    static const char *seeds[] = {
        "sum by (instance) (rate(node_cpu_seconds_total{mode!=\"idle\"}[5m])) / on(instance) group_left(job) up",
        "100 * (1 - avg by (instance) (rate(cpu{mode=\"idle\"}[5m] offset -1h @ end())))",
        "topk(3, x) or bottomk by (a) (2, y) unless count_values(\"v\", z) > bool 0x1f",
        "histogram_quantile(0.9, sum(rate(h_bucket[1h30m:1m])) by (le)) ^ -2 ^ 0.5",
        "label_replace(x, \"dst\", \"$1\", \"src\", \"(.*)\") atan2 -Inf % NaN",
        "{\"my.metric\", \"service.name\"=~'a|b', `le`!=\"1e3\"}[5m+1m] anchored",
        "max_over_time(deriv(x[step()*2:range()])[1h:] offset (1h*2))",
        "a + on(b) fill_left(1) fill_right(-2) c == bool ignoring(d) group_right e",
        "SUM WITHOUT (x) (foo) AND ON (y) bar OFFSET 5m # comment\n",
        "quantile_over_time(0.5, x[1y2w3d4h5m6s7ms] smoothed @ 1609746000.5)",
        "info(rate(x[5m]), {k=~\".+\"}) - limitk(2, y) * limit_ratio(0.5, z)",
    };
    if (i >= sizeof seeds / sizeof seeds[0])
        return 0;
    size_t n = strlen(seeds[i]);
    if (n > cap)
        n = cap;
    memcpy(out, seeds[i], n);
    return n;
}
