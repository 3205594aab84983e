/*
 * printer_json.c: query_json, the tree as Prometheus 3's /api/v1/parse_query
 * writes it (web/api/v1/translate_ast.go): one object per node with a
 * "type" ("aggregation", "binaryExpr", "call", "matrixSelector",
 * "subquery", "numberLiteral", "parenExpr", "stringLiteral", "unaryExpr",
 * "vectorSelector", "durationExpr"), keys in the sorted order Go's
 * encoding/json gives a map, strings escaped as it escapes them.
 */
#include <math.h>
#include <stdio.h>

#include "num/num.h"
#include "parse_int.h"

static int put(bbuf *b, const char *s) { return base_buf_append(b, s, strlen(s)); }

static int jstr(bbuf *b, const char *s, size_t n)
{
    int rc = put(b, "\"");
    for (size_t i = 0; i < n;) {
        int w;
        int32_t r = query_lex_utf8(s + i, (int64_t)(n - i), &w);
        char e[16];
        if (r < 0) {
            rc = rc || put(b, "\\ufffd");
        } else if (r == '"' || r == '\\') {
            e[0] = '\\', e[1] = (char)r, e[2] = 0;
            rc = rc || put(b, e);
        } else if (r == '\n') {
            rc = rc || put(b, "\\n");
        } else if (r == '\r') {
            rc = rc || put(b, "\\r");
        } else if (r == '\t') {
            rc = rc || put(b, "\\t");
        } else if (r < 0x20 || r == '<' || r == '>' || r == '&' || r == 0x2028 || r == 0x2029) {
            snprintf(e, sizeof e, "\\u%04x", (unsigned)r);
            rc = rc || put(b, e);
        } else {
            rc = rc || base_buf_append(b, s + i, (size_t)w);
        }
        i += (size_t)w;
    }
    return rc || put(b, "\"");
}

static int jkey(bbuf *b, const char *k, bool first)
{
    return (!first && put(b, ",")) || put(b, "\"") || put(b, k) || put(b, "\":");
}

static int jint(bbuf *b, int64_t v)
{
    char s[32];
    int n = snprintf(s, sizeof s, "%lld", (long long)v);
    return base_buf_append(b, s, (size_t)n);
}

static int jnumber_val(bbuf *b, double v)
{
    /* FormatFloat(v, 'f', -1) as a JSON string, through the printer */
    bbuf t = {0};
    query_node n = {.kind = QUERY_NODE_NUMBER};
    n.u.number.value = v;
    int rc = query_print(&n, &t) || jstr(b, (const char *)t.data, t.len);
    base_buf_free(&t);
    return rc;
}

static int jlist(bbuf *b, char **v, size_t n)
{
    int rc = put(b, "[");
    for (size_t i = 0; i < n; i++)
        rc = rc || (i && put(b, ",")) || jstr(b, v[i], strlen(v[i]));
    return rc || put(b, "]");
}

static const char *type_word(query_type t)
{
    switch (t) {
    case QUERY_TYPE_SCALAR: return "\"scalar\"";
    case QUERY_TYPE_VECTOR: return "\"vector\"";
    case QUERY_TYPE_MATRIX: return "\"matrix\"";
    case QUERY_TYPE_STRING: return "\"string\"";
    default: return "\"none\"";
    }
}

static int json(const query_node *n, bbuf *b);

static int jduration(const query_node *n, bbuf *b)
{
    if (!n)
        return put(b, "null");
    if (n->kind == QUERY_NODE_NUMBER)
        return put(b, "{\"duration\":") || put(b, n->u.number.is_duration ? "true" : "false") ||
               put(b, ",\"type\":\"numberLiteral\",\"val\":") || jnumber_val(b, n->u.number.value) || put(b, "}");
    if (n->kind != QUERY_NODE_DURATION)
        return json(n, b);
    return put(b, "{\"lhs\":") || jduration(n->u.duration.lhs, b) || put(b, ",\"op\":") ||
           jstr(b, query_op_name(n->u.duration.op), strlen(query_op_name(n->u.duration.op))) || put(b, ",\"rhs\":") ||
           jduration(n->u.duration.rhs, b) || put(b, ",\"type\":\"durationExpr\",\"wrapped\":") ||
           put(b, n->u.duration.wrapped ? "true" : "false") || put(b, "}");
}

static int jmatchers(const query_node *vs, bbuf *b)
{
    static const char *types[] = {"=", "!=", "=~", "!~"};
    int rc = put(b, "[");
    for (size_t i = 0; i < vs->u.vs.n_matchers; i++) {
        const strata_matcher *m = &vs->u.vs.matchers[i];
        rc = rc || (i && put(b, ",")) || put(b, "{\"name\":") || jstr(b, m->name, strlen(m->name)) ||
             put(b, ",\"type\":\"") || put(b, types[m->type & 3]) || put(b, "\",\"value\":") ||
             jstr(b, m->value, strlen(m->value)) || put(b, "}");
    }
    return rc || put(b, "]");
}

static int jat(bbuf *b, query_at at, int64_t at_ms)
{
    int rc = jkey(b, "startOrEnd", false) || put(b, at == QUERY_AT_START ? "\"start\""
                                                    : at == QUERY_AT_END ? "\"end\""
                                                                         : "null");
    rc = rc || jkey(b, "timestamp", false) || (at == QUERY_AT_TIMESTAMP ? jint(b, at_ms) : put(b, "null"));
    return rc;
}

/* The fields vectorSelector and matrixSelector share, in key order around
 * "range"/"rangeExpr" (written by the caller between name and offset). */
static int jselector(const query_node *vs, bbuf *b, const query_node *matrix)
{
    const char *name = vs->u.vs.name ? vs->u.vs.name : "";
    int rc = put(b, "{") || jkey(b, "anchored", true) || put(b, vs->u.vs.anchored ? "true" : "false") ||
             jkey(b, "matchers", false) || jmatchers(vs, b) || jkey(b, "name", false) || jstr(b, name, strlen(name)) ||
             jkey(b, "offset", false) || jint(b, vs->u.vs.offset_ms) || jkey(b, "offsetExpr", false) ||
             jduration(vs->u.vs.offset_expr, b);
    if (matrix)
        rc = rc || jkey(b, "range", false) || jint(b, matrix->u.matrix.range_ms) || jkey(b, "rangeExpr", false) ||
             jduration(matrix->u.matrix.range_expr, b);
    rc = rc || jkey(b, "smoothed", false) || put(b, vs->u.vs.smoothed ? "true" : "false") ||
         jat(b, vs->u.vs.at, vs->u.vs.at_ms) || jkey(b, "type", false) ||
         put(b, matrix ? "\"matrixSelector\"" : "\"vectorSelector\"") || put(b, "}");
    return rc;
}

/* A JSON number as encoding/json writes a float64 (null for NaN/Inf,
 * which Go could not encode at all). */
static int jnumber_raw(bbuf *b, double v)
{
    if (!isfinite(v))
        return put(b, "null");
    char s[NUM_DOUBLE_MAX];
    size_t n = num_format_double(v, s);
    return base_buf_append(b, s, n);
}

static int json(const query_node *n, bbuf *b)
{
    int rc = STRATA_OK;
    switch (n->kind) {
    case QUERY_NODE_AGGREGATE: {
        const char *op = query_agg_name(n->u.aggregate.op);
        rc = put(b, "{") || jkey(b, "expr", true) || json(n->u.aggregate.expr, b) || jkey(b, "grouping", false) ||
             jlist(b, n->u.aggregate.grouping, n->u.aggregate.n_grouping) || jkey(b, "op", false) ||
             jstr(b, op, strlen(op)) || jkey(b, "param", false) ||
             (n->u.aggregate.param ? json(n->u.aggregate.param, b) : put(b, "null")) || jkey(b, "type", false) ||
             put(b, "\"aggregation\"") || jkey(b, "without", false) ||
             put(b, n->u.aggregate.without ? "true" : "false") || put(b, "}");
        return rc;
    }
    case QUERY_NODE_BINARY: {
        const query_matching *m = &n->u.binary.matching;
        const char *op = query_op_name(n->u.binary.op);
        bool vectors = n->u.binary.lhs->type == QUERY_TYPE_VECTOR && n->u.binary.rhs->type == QUERY_TYPE_VECTOR;
        static const char *cards[] = {"one-to-one", "many-to-one", "one-to-many", "many-to-many"};
        rc = put(b, "{") || jkey(b, "bool", true) || put(b, n->u.binary.return_bool ? "true" : "false") ||
             jkey(b, "lhs", false) || json(n->u.binary.lhs, b) || jkey(b, "matching", false);
        if (!rc && vectors) {
            rc = put(b, "{\"card\":\"") || put(b, cards[m->card & 3]) || put(b, "\",\"fillValues\":{\"lhs\":");
            rc = rc || (m->fill_lhs ? jnumber_raw(b, m->fill_lhs_value) : put(b, "null"));
            rc = rc || put(b, ",\"rhs\":") || (m->fill_rhs ? jnumber_raw(b, m->fill_rhs_value) : put(b, "null"));
            rc = rc || put(b, "},\"include\":") || jlist(b, m->include, m->n_include) || put(b, ",\"labels\":") ||
                 jlist(b, m->labels, m->n_labels) || put(b, ",\"on\":") || put(b, m->on ? "true" : "false") ||
                 put(b, "}");
        } else if (!rc) {
            rc = put(b, "null");
        }
        return rc || jkey(b, "op", false) || jstr(b, op, strlen(op)) || jkey(b, "rhs", false) ||
               json(n->u.binary.rhs, b) || jkey(b, "type", false) || put(b, "\"binaryExpr\"") || put(b, "}");
    }
    case QUERY_NODE_CALL: {
        const query_func *f = n->u.call.func;
        rc = put(b, "{\"args\":[");
        for (size_t i = 0; i < n->u.call.n_args; i++)
            rc = rc || (i && put(b, ",")) || json(n->u.call.args[i], b);
        rc = rc || put(b, "],\"func\":{\"argTypes\":[");
        for (size_t i = 0; i < f->n_arg_types; i++)
            rc = rc || (i && put(b, ",")) || put(b, type_word(f->arg_types[i]));
        rc = rc || put(b, "],\"name\":") || jstr(b, f->name, strlen(f->name)) || put(b, ",\"returnType\":") ||
             put(b, type_word(f->return_type)) || put(b, ",\"variadic\":") || jint(b, f->variadic) ||
             put(b, "},\"type\":\"call\"}");
        return rc;
    }
    case QUERY_NODE_MATRIX_SELECTOR: return jselector(n->u.matrix.vs, b, n);
    case QUERY_NODE_VECTOR_SELECTOR: return jselector(n, b, NULL);
    case QUERY_NODE_SUBQUERY:
        rc = put(b, "{") || jkey(b, "expr", true) || json(n->u.subquery.expr, b) || jkey(b, "offset", false) ||
             jint(b, n->u.subquery.offset_ms) || jkey(b, "offsetExpr", false) ||
             jduration(n->u.subquery.offset_expr, b) || jkey(b, "range", false) || jint(b, n->u.subquery.range_ms) ||
             jkey(b, "rangeExpr", false) || jduration(n->u.subquery.range_expr, b);
        {
            query_at at = n->u.subquery.at;
            rc = rc || jkey(b, "startOrEnd", false) ||
                 put(b, at == QUERY_AT_START ? "\"start\""
                        : at == QUERY_AT_END ? "\"end\""
                                             : "null") ||
                 jkey(b, "step", false) || jint(b, n->u.subquery.step_ms) || jkey(b, "stepExpr", false) ||
                 jduration(n->u.subquery.step_expr, b) || jkey(b, "timestamp", false) ||
                 (at == QUERY_AT_TIMESTAMP ? jint(b, n->u.subquery.at_ms) : put(b, "null"));
        }
        return rc || jkey(b, "type", false) || put(b, "\"subquery\"") || put(b, "}");
    case QUERY_NODE_NUMBER:
        return put(b, "{\"type\":\"numberLiteral\",\"val\":") || jnumber_val(b, n->u.number.value) || put(b, "}");
    case QUERY_NODE_PAREN:
        return put(b, "{\"expr\":") || json(n->u.paren.expr, b) || put(b, ",\"type\":\"parenExpr\"}");
    case QUERY_NODE_STRING:
        return put(b, "{\"type\":\"stringLiteral\",\"val\":") || jstr(b, n->u.string.value, n->u.string.len) ||
               put(b, "}");
    case QUERY_NODE_UNARY:
        return put(b, "{\"expr\":") || json(n->u.unary.expr, b) || put(b, ",\"op\":") ||
               jstr(b, query_op_name(n->u.unary.op), 1) || put(b, ",\"type\":\"unaryExpr\"}");
    case QUERY_NODE_DURATION: return jduration(n, b);
    }
    return rc;
}

int query_json(const query_node *node, bbuf *out) { return json(node, out) ? STRATA_ERR_NOMEM : STRATA_OK; }
