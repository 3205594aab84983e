/* PromQL parsing: the tree each query gives, written fully parenthesised
 * so precedence, associativity and where each modifier attaches are
 * visible: `1 + 2 * 3` is (+ 1 (* 2 3)). Also the errors of our own
 * cases (NUL bytes, deep nesting, positions across lines). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "query/query.h"
#include "testutil.h"

static void put(bbuf *b, const char *s) { assert_int_equal(base_buf_append(b, s, strlen(s)), STRATA_OK); }

static void putf(bbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(bbuf *b, const char *fmt, ...)
{
    char s[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s, sizeof s, fmt, ap);
    va_end(ap);
    put(b, s);
}

static void dump(const query_node *n, bbuf *b);

static void dump_labels(bbuf *b, const char *what, char **v, size_t n)
{
    putf(b, " %s(", what);
    for (size_t i = 0; i < n; i++)
        putf(b, "%s%s", i ? "," : "", v[i]);
    put(b, ")");
}

static void dump_mods(bbuf *b, int64_t off, const query_node *off_expr, query_at at, int64_t at_ms)
{
    if (off_expr) {
        put(b, " offset=");
        dump(off_expr, b);
    } else if (off) {
        putf(b, " offset=%lld", (long long)off);
    }
    if (at == QUERY_AT_TIMESTAMP)
        putf(b, " @%lld", (long long)at_ms);
    else if (at == QUERY_AT_START)
        put(b, " @start");
    else if (at == QUERY_AT_END)
        put(b, " @end");
}

static void dump(const query_node *n, bbuf *b)
{
    static const char *mt[] = {"=", "!=", "=~", "!~"};
    switch (n->kind) {
    case QUERY_NODE_NUMBER:
        putf(b, "%s%.17g", n->u.number.is_duration ? "d" : "", n->u.number.value);
        return;
    case QUERY_NODE_STRING:
        putf(b, "'%s'", n->u.string.value);
        return;
    case QUERY_NODE_PAREN:
        put(b, "(paren ");
        dump(n->u.paren.expr, b);
        put(b, ")");
        return;
    case QUERY_NODE_UNARY:
        putf(b, "(%s ", n->u.unary.op == QUERY_OP_SUB ? "neg" : "pos");
        dump(n->u.unary.expr, b);
        put(b, ")");
        return;
    case QUERY_NODE_BINARY: {
        const query_matching *m = &n->u.binary.matching;
        putf(b, "(%s", query_op_name(n->u.binary.op));
        if (n->u.binary.return_bool)
            put(b, " bool");
        if (n->u.binary.has_matching)
            dump_labels(b, m->on ? "on" : "ignoring", m->labels, m->n_labels);
        if (m->card == QUERY_CARD_MANY_TO_ONE || m->card == QUERY_CARD_ONE_TO_MANY)
            dump_labels(b, m->card == QUERY_CARD_MANY_TO_ONE ? "group_left" : "group_right", m->include,
                        m->n_include);
        if (m->fill_lhs)
            putf(b, " fill_left(%g)", m->fill_lhs_value);
        if (m->fill_rhs)
            putf(b, " fill_right(%g)", m->fill_rhs_value);
        put(b, " ");
        dump(n->u.binary.lhs, b);
        put(b, " ");
        dump(n->u.binary.rhs, b);
        put(b, ")");
        return;
    }
    case QUERY_NODE_AGGREGATE:
        putf(b, "(%s", query_agg_name(n->u.aggregate.op));
        if (n->u.aggregate.without || n->u.aggregate.n_grouping)
            dump_labels(b, n->u.aggregate.without ? "without" : "by", n->u.aggregate.grouping,
                        n->u.aggregate.n_grouping);
        if (n->u.aggregate.param) {
            put(b, " ");
            dump(n->u.aggregate.param, b);
        }
        put(b, " ");
        dump(n->u.aggregate.expr, b);
        put(b, ")");
        return;
    case QUERY_NODE_CALL:
        putf(b, "(%s", n->u.call.func->name);
        for (size_t i = 0; i < n->u.call.n_args; i++) {
            put(b, " ");
            dump(n->u.call.args[i], b);
        }
        put(b, ")");
        return;
    case QUERY_NODE_VECTOR_SELECTOR:
        put(b, "{");
        for (size_t i = 0; i < n->u.vs.n_matchers; i++) {
            const strata_matcher *m = &n->u.vs.matchers[i];
            putf(b, "%s%s%s'%s'", i ? "," : "", m->name, mt[m->type], m->value);
        }
        put(b, "}");
        dump_mods(b, n->u.vs.offset_ms, n->u.vs.offset_expr, n->u.vs.at, n->u.vs.at_ms);
        if (n->u.vs.anchored)
            put(b, " anchored");
        if (n->u.vs.smoothed)
            put(b, " smoothed");
        return;
    case QUERY_NODE_MATRIX_SELECTOR:
        put(b, "(range ");
        if (n->u.matrix.range_expr)
            dump(n->u.matrix.range_expr, b);
        else
            putf(b, "%lld", (long long)n->u.matrix.range_ms);
        put(b, " ");
        dump(n->u.matrix.vs, b);
        put(b, ")");
        return;
    case QUERY_NODE_SUBQUERY:
        put(b, "(subquery ");
        if (n->u.subquery.range_expr)
            dump(n->u.subquery.range_expr, b);
        else
            putf(b, "%lld", (long long)n->u.subquery.range_ms);
        put(b, ":");
        if (n->u.subquery.step_expr)
            dump(n->u.subquery.step_expr, b);
        else
            putf(b, "%lld", (long long)n->u.subquery.step_ms);
        dump_mods(b, n->u.subquery.offset_ms, n->u.subquery.offset_expr, n->u.subquery.at, n->u.subquery.at_ms);
        put(b, " ");
        dump(n->u.subquery.expr, b);
        put(b, ")");
        return;
    case QUERY_NODE_DURATION:
        putf(b, "[%s%s", n->u.duration.wrapped ? "wrapped " : "", query_op_name(n->u.duration.op));
        if (n->u.duration.lhs) {
            put(b, " ");
            dump(n->u.duration.lhs, b);
        }
        if (n->u.duration.rhs) {
            put(b, " ");
            dump(n->u.duration.rhs, b);
        }
        put(b, "]");
        return;
    }
}

static void expect_tree(const char *text, const char *want)
{
    query_ast *ast;
    query_error err;
    int rc = query_parse(text, strlen(text), QUERY_START_EXPR, &ast, &err);
    if (rc != STRATA_OK)
        fail_msg("%s: %s", text, err.msg);
    bbuf b = {0};
    dump(ast->root, &b);
    put(&b, "");
    assert_int_equal(base_buf_put_u8(&b, 0), STRATA_OK);
    if (strcmp((char *)b.data, want) != 0)
        fail_msg("%s\n  got  %s\n  want %s", text, (char *)b.data, want);
    /* ids number every node once */
    assert_true(ast->n_nodes > 0);
    base_buf_free(&b);
    query_ast_free(ast);
}

static void expect_error_n(const char *text, size_t len, const char *want)
{
    query_ast *ast = NULL;
    query_error err;
    int rc = query_parse(text, len, QUERY_START_EXPR, &ast, &err);
    if (rc != STRATA_ERR_INVALID)
        fail_msg("%.*s: rc %d, want STRATA_ERR_INVALID", (int)MIN(len, 80), text, rc);
    if (strcmp(err.msg, want) != 0)
        fail_msg("%.*s:\n  got  %s\n  want %s", (int)MIN(len, 80), text, err.msg, want);
}

static void expect_error(const char *text, const char *want)
{
    expect_error_n(text, strlen(text), want);
}

static void binary_operators_follow_prometheus_precedence(void **state)
{
    (void)state;
    expect_tree("1 + 2 * 3", "(+ 1 (* 2 3))");
    expect_tree("1 * 2 + 3", "(+ (* 1 2) 3)");
    expect_tree("a + b % c", "(+ {__name__='a'} (% {__name__='b'} {__name__='c'}))");
    expect_tree("a atan2 b * c", "(* (atan2 {__name__='a'} {__name__='b'}) {__name__='c'})");
    expect_tree("a == b + c", "(== {__name__='a'} (+ {__name__='b'} {__name__='c'}))");
    expect_tree("a < b and c > d", "(and (< {__name__='a'} {__name__='b'}) (> {__name__='c'} {__name__='d'}))");
    expect_tree("a or b and c", "(or {__name__='a'} (and {__name__='b'} {__name__='c'}))");
    expect_tree("a and b or c", "(or (and {__name__='a'} {__name__='b'}) {__name__='c'})");
    expect_tree("a unless b or c", "(or (unless {__name__='a'} {__name__='b'}) {__name__='c'})");
    expect_tree("a or b unless c", "(or {__name__='a'} (unless {__name__='b'} {__name__='c'}))");
    expect_tree("1 + 2 ^ 3 * 4", "(+ 1 (* (^ 2 3) 4))");
    expect_tree("(1 + 2) * 3", "(* (paren (+ 1 2)) 3)");
}

static void associativity_is_left_but_power_is_right(void **state)
{
    (void)state;
    expect_tree("1 - 2 - 3", "(- (- 1 2) 3)");
    expect_tree("8 / 4 / 2", "(/ (/ 8 4) 2)");
    expect_tree("2 ^ 3 ^ 2", "(^ 2 (^ 3 2))");
    expect_tree("a or b or c", "(or (or {__name__='a'} {__name__='b'}) {__name__='c'})");
    expect_tree("1 == bool 2 == bool 3", "(== bool (== bool 1 2) 3)");
}

static void unary_minus_binds_like_multiplication(void **state)
{
    (void)state;
    expect_tree("-1", "-1");
    expect_tree("-2 ^ 2", "(neg (^ 2 2))");
    expect_tree("-a * b", "(* (neg {__name__='a'}) {__name__='b'})");
    expect_tree("2 ^ -1", "(^ 2 -1)");
    expect_tree("- - 1", "1");
    expect_tree("+-+1", "-1");
    expect_tree("-(1)", "(neg (paren 1))");
    expect_tree("-foo offset 5m", "(neg {__name__='foo'} offset=300000)");
    expect_tree("1 - -1", "(- 1 -1)");
}

static void numbers_and_strings_read_as_prometheus(void **state)
{
    (void)state;
    expect_tree("0x1f", "31");
    expect_tree("0X1F", "31");
    expect_tree("010", "8");
    expect_tree("1e3", "1000");
    expect_tree(".5", "0.5");
    expect_tree("5.", "5");
    expect_tree("1_000", "1000");
    expect_tree("Inf", "inf");
    expect_tree("-inf", "-inf");
    expect_tree("NaN", "nan");
    expect_tree("nAn", "nan");
    expect_tree("5m", "d300");
    expect_tree("1h30m", "d5400");
    expect_tree("\"a\\tb\"", "'a\tb'");
    expect_tree("'it\\'s'", "'it's'");
    expect_tree("`raw\\n`", "'raw\\n'");
    expect_tree("\"\\u00e9\\x41\\101\"", "'\xc3\xa9" "AA'");
}

static void selectors_matchers_and_quoted_utf8_names(void **state)
{
    (void)state;
    expect_tree("foo", "{__name__='foo'}");
    expect_tree("foo:bar:rate5m", "{__name__='foo:bar:rate5m'}");
    expect_tree("foo{a=\"b\",c!=\"d\",e=~\"f.*\",g!~\"h\",}",
                "{a='b',c!='d',e=~'f.*',g!~'h',__name__='foo'}");
    expect_tree("{a=\"b\"}", "{a='b'}");
    expect_tree("{\"my.metric\", \"service.name\"=\"x\"}", "{__name__='my.metric',service.name='x'}");
    expect_tree("{__name__=~\"a|b\"}", "{__name__=~'a|b'}");
    /* Keywords are metric names where an expression starts. */
    expect_tree("sum", "{__name__='sum'}");
    expect_tree("offset", "{__name__='offset'}");
    expect_tree("by{a=\"b\"}", "{a='b',__name__='by'}");
    expect_tree("fill + fill", "(+ {__name__='fill'} {__name__='fill'})");
    /* Comments run to the end of the line. */
    expect_tree("foo # comment\n+ bar", "(+ {__name__='foo'} {__name__='bar'})");
}

static void keywords_are_case_insensitive(void **state)
{
    (void)state;
    expect_tree("SUM BY (x) (foo) AND ON (y) bar OFFSET 5m",
                "(and on(y) (sum by(x) {__name__='foo'}) {__name__='bar'} offset=300000)");
    expect_tree("Count WITHOUT (a) (foo) UNLESS IGNORING (b) bar",
                "(unless ignoring(b) (count without(a) {__name__='foo'}) {__name__='bar'})");
    expect_tree("a > BOOL b", "(> bool {__name__='a'} {__name__='b'})");
    expect_tree("a * ON (x) GROUP_LEFT (y) b", "(* on(x) group_left(y) {__name__='a'} {__name__='b'})");
    expect_tree("foo @ START()", "{__name__='foo'} @start");
    expect_tree("a ATAN2 b", "(atan2 {__name__='a'} {__name__='b'})");
}

static void aggregations_take_grouping_before_or_after(void **state)
{
    (void)state;
    expect_tree("sum by (a, b) (x)", "(sum by(a,b) {__name__='x'})");
    expect_tree("sum(x) by (a, b)", "(sum by(a,b) {__name__='x'})");
    expect_tree("avg without (a) (x)", "(avg without(a) {__name__='x'})");
    expect_tree("max(x) without ()", "(max without() {__name__='x'})");
    expect_tree("sum by (\"service.name\") (x)", "(sum by(service.name) {__name__='x'})");
    expect_tree("sum by (sum, by, on) (x)", "(sum by(sum,by,on) {__name__='x'})");
    expect_tree("topk(3, x)", "(topk 3 {__name__='x'})");
    expect_tree("bottomk by (a) (3, x)", "(bottomk by(a) 3 {__name__='x'})");
    expect_tree("quantile(0.9, x)", "(quantile 0.90000000000000002 {__name__='x'})");
    expect_tree("count_values(\"v\", x)", "(count_values 'v' {__name__='x'})");
    expect_tree("limitk(2, x)", "(limitk 2 {__name__='x'})");
    expect_tree("limit_ratio(0.5, x)", "(limit_ratio 0.5 {__name__='x'})");
    expect_tree("group(x)", "(group {__name__='x'})");
    expect_tree("stddev(x) + stdvar(x)", "(+ (stddev {__name__='x'}) (stdvar {__name__='x'}))");
}

static void vector_matching_and_fill_modifiers(void **state)
{
    (void)state;
    expect_tree("a + on(b) c", "(+ on(b) {__name__='a'} {__name__='c'})");
    expect_tree("a + ignoring(b) group_right(x, y) c", "(+ ignoring(b) group_right(x,y) {__name__='a'} {__name__='c'})");
    expect_tree("a / on() group_left c", "(/ on() group_left() {__name__='a'} {__name__='c'})");
    expect_tree("a and on(b) c", "(and on(b) {__name__='a'} {__name__='c'})");
    expect_tree("a + fill(0) b", "(+ fill_left(0) fill_right(0) {__name__='a'} {__name__='b'})");
    expect_tree("a + on(x) fill_left(1) fill_right(-2) b",
                "(+ on(x) fill_left(1) fill_right(-2) {__name__='a'} {__name__='b'})");
    expect_tree("a - fill_right(3) fill_left(4) b", "(- fill_left(4) fill_right(3) {__name__='a'} {__name__='b'})");
    /* Matching of a scalar operation is dropped, as Prometheus drops it. */
    expect_tree("1 + on() a", "(+ 1 {__name__='a'})");
}

static void functions_check_arity_and_take_optional_arguments(void **state)
{
    (void)state;
    expect_tree("rate(x[5m])", "(rate (range 300000 {__name__='x'}))");
    expect_tree("round(x)", "(round {__name__='x'})");
    expect_tree("round(x, 5)", "(round {__name__='x'} 5)");
    expect_tree("label_join(x, \"d\", \",\", \"a\", \"b\", \"c\")",
                "(label_join {__name__='x'} 'd' ',' 'a' 'b' 'c')");
    expect_tree("label_replace(x, \"d\", \"$1\", \"s\", \"(.*)\")",
                "(label_replace {__name__='x'} 'd' '$1' 's' '(.*)')");
    expect_tree("histogram_quantile(0.9, sum by (le) (rate(x[5m])))",
                "(histogram_quantile 0.90000000000000002 (sum by(le) (rate (range 300000 {__name__='x'}))))");
    expect_tree("holt_winters(x[5m], 0.5, 0.5)", "(holt_winters (range 300000 {__name__='x'}) 0.5 0.5)");
    expect_tree("double_exponential_smoothing(x[5m], 0.5, 0.5)",
                "(double_exponential_smoothing (range 300000 {__name__='x'}) 0.5 0.5)");
    expect_tree("vector(time())", "(vector (time))");
    expect_tree("pi() * deg(x)", "(* (pi) (deg {__name__='x'}))");
    expect_tree("sort_by_label_desc(x, \"a\", \"b\")", "(sort_by_label_desc {__name__='x'} 'a' 'b')");
    expect_tree("ts_of_max_over_time(x[5m])", "(ts_of_max_over_time (range 300000 {__name__='x'}))");
    expect_tree("mad_over_time(x[5m])", "(mad_over_time (range 300000 {__name__='x'}))");
    expect_tree("info(x, {a=~\".*\"})", "(info {__name__='x'} {a=~'.*'})");
    expect_tree("day_of_week()", "(day_of_week)");
    expect_tree("clamp(x, 0, 1)", "(clamp {__name__='x'} 0 1)");
    expect_tree("absent_over_time(x[1h])", "(absent_over_time (range 3600000 {__name__='x'}))");
    expect_tree("scalar(x) > bool 1", "(> bool (scalar {__name__='x'}) 1)");
    expect_tree("step() + range()", "(+ (step) (range))");
}

static void ranges_offsets_and_at_attach_to_the_selector(void **state)
{
    (void)state;
    expect_tree("x[1h30m]", "(range 5400000 {__name__='x'})");
    expect_tree("x[1y]", "(range 31536000000 {__name__='x'})");
    expect_tree("x[1w]", "(range 604800000 {__name__='x'})");
    expect_tree("x[1d]", "(range 86400000 {__name__='x'})");
    expect_tree("x[500ms]", "(range 500 {__name__='x'})");
    expect_tree("x[90]", "(range 90000 {__name__='x'})");
    expect_tree("x offset 5m", "{__name__='x'} offset=300000");
    expect_tree("x offset -5m", "{__name__='x'} offset=-300000");
    expect_tree("x[5m] offset 1h", "(range 300000 {__name__='x'} offset=3600000)");
    expect_tree("x @ 1609746000", "{__name__='x'} @1609746000000");
    expect_tree("x @ 100.5", "{__name__='x'} @100500");
    expect_tree("x @ -1", "{__name__='x'} @-1000");
    expect_tree("x @ -0.5", "{__name__='x'} @-500");
    expect_tree("x @ 1e3", "{__name__='x'} @1000000");
    /* a plain decimal is read exactly, even where float64 seconds are too
     * coarse for milliseconds */
    expect_tree("x @ 9007199254740.993", "{__name__='x'} @9007199254740993");
    expect_tree("x @ end() offset 5m", "{__name__='x'} offset=300000 @end");
    expect_tree("x offset 5m @ end()", "{__name__='x'} offset=300000 @end");
    expect_tree("x[5m] @ start()", "(range 300000 {__name__='x'} @start)");
    expect_tree("x offset 5s - 8", "(- {__name__='x'} offset=5000 8)");
    expect_tree("x offset -1^1", "(^ {__name__='x'} offset=-1000 1)");
    expect_tree("a + b offset 1m", "(+ {__name__='a'} {__name__='b'} offset=60000)");
}

static void subqueries_and_duration_arithmetic(void **state)
{
    (void)state;
    expect_tree("rate(x[5m])[30m:1m]", "(subquery 1800000:60000 (rate (range 300000 {__name__='x'})))");
    expect_tree("x[1h:]", "(subquery 3600000:0 {__name__='x'})");
    expect_tree("max_over_time(rate(x[5m])[1h:1m] offset 1m)",
                "(max_over_time (subquery 3600000:60000 offset=60000 (rate (range 300000 {__name__='x'}))))");
    expect_tree("(a + b)[5m:] @ end()", "(subquery 300000:0 @end (paren (+ {__name__='a'} {__name__='b'})))");
    expect_tree("x[5m+1m]", "(range [+ d300 d60] {__name__='x'})");
    expect_tree("x[5m:step()*2]", "(subquery 300000:[* [step] 2] {__name__='x'})");
    expect_tree("x[step()]", "(range [step] {__name__='x'})");
    expect_tree("x[range()]", "(range [range] {__name__='x'})");
    expect_tree("x[max_of(step(), 5m)]", "(range [max_of [step] d300] {__name__='x'})");
    expect_tree("x offset (1h*2)", "{__name__='x'} offset=[wrapped * d3600 2]");
    expect_tree("x offset -step()", "{__name__='x'} offset=[- [step]]");
    expect_tree("x offset (5)", "{__name__='x'} offset=[wrapped + 5]");
    expect_tree("x[2^3^2]", "(range [^ 2 [^ 3 2]] {__name__='x'})");
    expect_tree("x[1m-2s-3s]", "(range [- [- d60 d2] d3] {__name__='x'})");
    expect_tree("x[-2^2]", "(range [- [^ 2 2]] {__name__='x'})");
}

static void anchored_and_smoothed_modifiers(void **state)
{
    (void)state;
    expect_tree("rate(x[5m] anchored)", "(rate (range 300000 {__name__='x'} anchored))");
    expect_tree("increase(x[5m] smoothed)", "(increase (range 300000 {__name__='x'} smoothed))");
    expect_tree("x smoothed", "{__name__='x'} smoothed");
    expect_error("x[5m] anchored smoothed", "1:1: parse error: anchored and smoothed modifiers cannot be used together");
    expect_error("x[5m:] anchored", "1:1: parse error: anchored modifier is not supported for subqueries");
    expect_error("sum(x) smoothed", "1:1: parse error: smoothed modifier not implemented");
}

static void errors_name_position_across_lines(void **state)
{
    (void)state;
    expect_error("sum(\n  rate(x[5m])\n  +\n)", "4:1: parse error: unexpected \")\"");
    expect_error("foo\n  and bar\n  offset", "3:9: parse error: unexpected end of input in offset, expected number, duration, step(), or range()");
    expect_error("a +", "1:4: parse error: unexpected end of input");
    expect_error("", "unknown position: parse error: no expression found in input");
    expect_error("foo{{a=\"b\"}}", "1:5: parse error: unexpected left brace '{'");
    expect_error("rate(x[5m]) offset 1m",
                 "1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector "
                 "selector or a subquery");
    expect_error("x @ 1 @ 2", "1:1: parse error: @ <timestamp> may not be set multiple times");
    expect_error("RATE(x[5m])", "1:1: parse error: unknown function with name \"RATE\"");
    expect_error("sum(x) by (a) by (b)", "1:15: parse error: unexpected <by>");
    expect_error("a + on(b) 1", "1:1: parse error: vector matching only allowed between instant vectors");
    expect_error("a and fill(0) b", "1:1: parse error: filling in missing series not allowed for set operators");
    expect_error("\"a\" + 1", "1:1: parse error: binary expression must contain only scalar and instant vector types");
    expect_error("label_join(x, \"a\")", "1:1: parse error: expected at least 3 argument(s) in call to \"label_join\", got 2");
    expect_error("round(x, 1, 2)", "1:1: parse error: expected at most 2 argument(s) in call to \"round\", got 3");
    expect_error("{a=\"\\x00\"}", "1:4: parse error: NUL bytes are not supported in strings");
}

static void nul_bytes_are_an_error_anywhere(void **state)
{
    (void)state;
    expect_error_n("foo\0bar", 7, "1:4: parse error: unexpected character: '\\x00'");
    expect_error_n("foo{a=\"x\0\"}", 11, "1:9: parse error: unexpected character: '\\x00'");
    expect_error_n("\0", 1, "1:1: parse error: unexpected character: '\\x00'");
}

static char *repeat(const char *open, size_t n, const char *mid, const char *close)
{
    size_t lo = strlen(open), lm = strlen(mid), lc = strlen(close);
    char *s = malloc(n * (lo + lc) + lm + 1), *p = s;
    assert_non_null(s);
    for (size_t i = 0; i < n; i++, p += lo)
        memcpy(p, open, lo);
    memcpy(p, mid, lm);
    p += lm;
    for (size_t i = 0; i < n; i++, p += lc)
        memcpy(p, close, lc);
    *p = 0;
    return s;
}

static void deep_nesting_is_an_error_not_a_stack_overflow(void **state)
{
    (void)state;
    query_ast *ast;
    query_error err;
    const char *opens[] = {"(", "-", "abs(", "sum(", "", "-(", "(-", "(", "("};
    const char *closes[] = {")", "", ")", ")", "[1m:]", ")", ")", ")", ")"};
    const char *mids[] = {"1", "1", "1", "1", "x", "1", "1", "x[()", "x offset ()"};
    for (size_t k = 0; k < sizeof opens / sizeof opens[0]; k++) {
        char *s = k < 7 ? repeat(opens[k], 10000, mids[k], closes[k]) : repeat("(", 10000, "1m", ")");
        if (k >= 7) {
            /* x[((((1m))))] and x offset ((((1m)))): duration arithmetic */
            size_t len = strlen(s), pre = strlen(mids[k]) - 2;
            char *t = malloc(len + pre + 2);
            assert_non_null(t);
            memcpy(t, mids[k], pre);
            memcpy(t + pre, s, len);
            strcpy(t + pre + len, k == 7 ? "]" : "");
            free(s);
            s = t;
        }
        int rc = query_parse(s, strlen(s), QUERY_START_EXPR, &ast, &err);
        if (rc != STRATA_ERR_INVALID || !strstr(err.msg, "nested too deeply"))
            fail_msg("%s x 10000: rc %d %s", opens[k], rc, err.msg);
        free(s);
    }
    /* A long flat chain grows the tree, not the parser's stack. */
    size_t n = 5000;
    char *s = malloc(n * 4 + 2);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * 4, "1 + ", 4);
    strcpy(s + n * 4, "1");
    assert_int_equal(query_parse(s, strlen(s), QUERY_START_EXPR, &ast, &err), STRATA_ERR_INVALID);
    assert_non_null(strstr(err.msg, "nested too deeply"));
    /* ... while what real dashboards write is well within the bounds */
    s[400 * 4 + 1] = 0;
    assert_int_equal(query_parse(s, strlen(s), QUERY_START_EXPR, &ast, &err), STRATA_OK);
    query_ast_free(ast);
    free(s);
    s = repeat("(", QUERY_MAX_DEPTH / 2 - 2, "1", ")");
    assert_int_equal(query_parse(s, strlen(s), QUERY_START_EXPR, &ast, &err), STRATA_OK);
    query_ast_free(ast);
    free(s);
}

static void parse_time_is_linear_in_the_input(void **state)
{
    (void)state;
    /* A selector with 100,000 matchers and a 1 MB string parse at once
     * (a quadratic parser would take minutes). */
    size_t n = 100000;
    bbuf b = {0};
    put(&b, "foo{");
    for (size_t i = 0; i < n; i++)
        putf(&b, "l%zu=\"v\",", i);
    put(&b, "}");
    query_ast *ast;
    query_error err;
    uint64_t t0 = base_mono_ns();
    assert_int_equal(query_parse((char *)b.data, b.len, QUERY_START_EXPR, &ast, &err), STRATA_OK);
    assert_int_equal(ast->root->u.vs.n_matchers, n + 1);
    query_ast_free(ast);
    base_buf_reset(&b);
    put(&b, "label_replace(x, \"a\", \"");
    for (size_t i = 0; i < 1000000 / 8; i++)
        put(&b, "abcdefg\\");
    put(&b, "\\\", \"b\", \".*\")");
    assert_int_equal(query_parse((char *)b.data, b.len, QUERY_START_EXPR, &ast, &err), STRATA_OK);
    query_ast_free(ast);
    double s = (double)(base_mono_ns() - t0) / 1e9;
    if (s > 5)
        fail_msg("parsing took %.1f s", s);
    base_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(binary_operators_follow_prometheus_precedence),
        cmocka_unit_test(associativity_is_left_but_power_is_right),
        cmocka_unit_test(unary_minus_binds_like_multiplication),
        cmocka_unit_test(numbers_and_strings_read_as_prometheus),
        cmocka_unit_test(selectors_matchers_and_quoted_utf8_names),
        cmocka_unit_test(keywords_are_case_insensitive),
        cmocka_unit_test(aggregations_take_grouping_before_or_after),
        cmocka_unit_test(vector_matching_and_fill_modifiers),
        cmocka_unit_test(functions_check_arity_and_take_optional_arguments),
        cmocka_unit_test(ranges_offsets_and_at_attach_to_the_selector),
        cmocka_unit_test(subqueries_and_duration_arithmetic),
        cmocka_unit_test(anchored_and_smoothed_modifiers),
        cmocka_unit_test(errors_name_position_across_lines),
        cmocka_unit_test(nul_bytes_are_an_error_anywhere),
        cmocka_unit_test(deep_nesting_is_an_error_not_a_stack_overflow),
        cmocka_unit_test(parse_time_is_linear_in_the_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
