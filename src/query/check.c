/*
 * check.c: type checking of a parsed tree, Prometheus' checkAST: operand
 * types of operators, functions and aggregations, vector matching rules,
 * selectors that would match every series. It visits the tree in the
 * order Prometheus does and stops at the first error, so the error
 * reported is Prometheus' first one. It also numbers the nodes in
 * preorder (query_node.id).
 */
#include <stdio.h>

#include "index/index.h"
#include "parse_priv.h"

/* Go's %s of a ValueType (not the documented names). */
static const char *type_word(query_type t)
{
    switch (t) {
    case QUERY_TYPE_SCALAR: return "scalar";
    case QUERY_TYPE_VECTOR: return "vector";
    case QUERY_TYPE_MATRIX: return "matrix";
    case QUERY_TYPE_STRING: return "string";
    default: return "none";
    }
}

/* The start of the operator of a binary node: after the left operand's
 * end, blanks skipped (opRange in checkAST). */
static int64_t op_pos(parser *p, const query_node *n)
{
    int64_t i = n->u.binary.lhs->pos_end;
    while (i < p->len && query_lex_is_space((unsigned char)p->s[i]))
        i++;
    return i;
}

static bool matches_empty(parser *p, const strata_matcher *m, bool *out)
{
    switch (m->type) {
    case STRATA_MATCH_EQ: *out = m->value[0] == 0; return true;
    case STRATA_MATCH_NEQ: *out = m->value[0] != 0; return true;
    default: break;
    }
    index_matcher *im;
    int rc = index_matcher_compile(m, &im, NULL, 0);
    if (rc != STRATA_OK) {
        if (rc == STRATA_ERR_NOMEM)
            query_parse_nomem(p);
        else
            query_parse_fail(p, 0, "error parsing regexp");
        return false;
    }
    *out = index_matcher_matches(im, "", 0) != 0;
    index_matcher_free(im);
    return true;
}

static query_type check(parser *p, query_node *n);

static bool expect_type(parser *p, query_node *n, query_type want, const char *context)
{
    query_type t = check(p, n);
    if (p->rc != STRATA_OK)
        return false;
    if (t != want) {
        query_parse_fail(p, n->pos_start, "expected type %s in %s, got %s", query_type_name(want), context,
                         query_type_name(t));
        return false;
    }
    return true;
}

static void check_binary(parser *p, query_node *n)
{
    query_type lt = check(p, n->u.binary.lhs);
    if (p->rc != STRATA_OK)
        return;
    query_type rt = check(p, n->u.binary.rhs);
    if (p->rc != STRATA_OK)
        return;
    query_op op = n->u.binary.op;
    query_matching *m = &n->u.binary.matching;
    if (n->u.binary.return_bool && !query_op_is_comparison(op)) {
        query_parse_fail(p, op_pos(p, n), "bool modifier can only be used on comparison operators");
        return;
    }
    if (query_op_is_comparison(op) && !n->u.binary.return_bool && lt == QUERY_TYPE_SCALAR && rt == QUERY_TYPE_SCALAR) {
        query_parse_fail(p, op_pos(p, n), "comparisons between scalars must use BOOL modifier");
        return;
    }
    if (query_op_is_set(op) && m->card == QUERY_CARD_ONE_TO_ONE)
        m->card = QUERY_CARD_MANY_TO_MANY;
    if (m->on)
        for (size_t i = 0; i < m->n_labels; i++)
            for (size_t j = 0; j < m->n_include; j++)
                if (strcmp(m->labels[i], m->include[j]) == 0) {
                    query_parse_fail(p, op_pos(p, n), "label \"%s\" must not occur in ON and GROUP clause at once",
                                     m->labels[i]);
                    return;
                }
    if (lt != QUERY_TYPE_SCALAR && lt != QUERY_TYPE_VECTOR) {
        query_parse_fail(p, n->u.binary.lhs->pos_start,
                         "binary expression must contain only scalar and instant vector types");
        return;
    }
    if (rt != QUERY_TYPE_SCALAR && rt != QUERY_TYPE_VECTOR) {
        query_parse_fail(p, n->u.binary.rhs->pos_start,
                         "binary expression must contain only scalar and instant vector types");
        return;
    }
    if (lt != QUERY_TYPE_VECTOR || rt != QUERY_TYPE_VECTOR) {
        if (m->n_labels > 0) {
            query_parse_fail(p, n->pos_start, "vector matching only allowed between instant vectors");
            return;
        }
        if (m->fill_lhs || m->fill_rhs) {
            query_parse_fail(p, n->pos_start, "filling in missing series only allowed between instant vectors");
            return;
        }
        /* Prometheus drops the matching of a scalar operation. */
        memset(m, 0, sizeof *m);
        n->u.binary.has_matching = false;
    } else if (query_op_is_set(op)) {
        if (m->card == QUERY_CARD_ONE_TO_MANY || m->card == QUERY_CARD_MANY_TO_ONE) {
            query_parse_fail(p, n->pos_start, "no grouping allowed for \"%s\" operation", query_op_name(op));
            return;
        }
        if (m->fill_lhs || m->fill_rhs) {
            query_parse_fail(p, n->pos_start, "filling in missing series not allowed for set operators");
            return;
        }
    }
    if ((lt == QUERY_TYPE_SCALAR || rt == QUERY_TYPE_SCALAR) && query_op_is_set(op))
        query_parse_fail(p, n->pos_start, "set operator \"%s\" not allowed in binary scalar expression",
                         query_op_name(op));
}

static void check_call(parser *p, query_node *n)
{
    const query_func *f = n->u.call.func;
    size_t nargs = f->n_arg_types, got = n->u.call.n_args;
    if (f->variadic == 0) {
        if (nargs != got) {
            query_parse_fail(p, n->pos_start, "expected %zu argument(s) in call to \"%s\", got %zu", nargs, f->name,
                             got);
            return;
        }
    } else {
        size_t na = nargs - 1;
        if (na > got) {
            query_parse_fail(p, n->pos_start, "expected at least %zu argument(s) in call to \"%s\", got %zu", na,
                             f->name, got);
            return;
        }
        if (f->variadic > 0 && na + (size_t)f->variadic < got) {
            query_parse_fail(p, n->pos_start, "expected at most %zu argument(s) in call to \"%s\", got %zu",
                             na + (size_t)f->variadic, f->name, got);
            return;
        }
    }
    if (f->id == QUERY_FN_INFO && got > 1) {
        query_node *a = n->u.call.args[1];
        if (a->type != QUERY_TYPE_VECTOR) {
            query_parse_fail(p, n->pos_start, "expected type instant vector in call to function \"info\", got %s",
                             query_type_name(a->type));
            return;
        }
        if (a->kind == QUERY_NODE_VECTOR_SELECTOR && a->u.vs.name) {
            query_parse_fail(p, a->pos_start, "expected label selectors only, got vector selector instead");
            return;
        }
        if (a->kind != QUERY_NODE_VECTOR_SELECTOR) {
            query_parse_fail(p, a->pos_start, "expected label selectors only");
            return;
        }
        a->u.vs.bypass_empty_check = true;
    }
    for (size_t i = 0; i < got; i++) {
        size_t k = i;
        if (k >= nargs) {
            if (f->variadic == 0)
                break;
            k = nargs - 1;
        }
        query_type t = check(p, n->u.call.args[i]);
        if (p->rc != STRATA_OK)
            return;
        if (t != f->arg_types[k]) {
            query_parse_fail(p, n->u.call.args[i]->pos_start, "expected type %s in call to function \"%s\", got %s",
                             query_type_name(f->arg_types[k]), f->name, query_type_name(t));
            return;
        }
    }
}

static void check_selector(parser *p, query_node *n)
{
    const strata_matcher *m = n->u.vs.matchers;
    size_t k = n->u.vs.n_matchers;
    if (n->u.vs.name) {
        /* The last matcher is the name written up front. */
        for (size_t i = 0; i + 1 < k; i++)
            if (strcmp(m[i].name, "__name__") == 0) {
                query_parse_fail(p, n->pos_start, "metric name must not be set twice: \"%s\" or \"%s\"", n->u.vs.name,
                                 m[i].value);
                return;
            }
        return;
    }
    if (n->u.vs.bypass_empty_check)
        return;
    for (size_t i = 0; i < k; i++) {
        bool empty;
        if (!matches_empty(p, &m[i], &empty))
            return;
        if (!empty)
            return;
    }
    query_parse_fail(p, n->pos_start, "vector selector must contain at least one non-empty matcher");
}

static query_type check(parser *p, query_node *n)
{
    n->id = p->n_nodes++;
    switch (n->kind) {
    case QUERY_NODE_AGGREGATE: {
        query_agg_op op = n->u.aggregate.op;
        if (!expect_type(p, n->u.aggregate.expr, QUERY_TYPE_VECTOR, "aggregation expression"))
            break;
        if (op == QUERY_AGG_TOPK || op == QUERY_AGG_BOTTOMK || op == QUERY_AGG_QUANTILE || op == QUERY_AGG_LIMITK ||
            op == QUERY_AGG_LIMIT_RATIO)
            expect_type(p, n->u.aggregate.param, QUERY_TYPE_SCALAR, "aggregation parameter");
        else if (op == QUERY_AGG_COUNT_VALUES)
            expect_type(p, n->u.aggregate.param, QUERY_TYPE_STRING, "aggregation parameter");
        break;
    }
    case QUERY_NODE_BINARY: check_binary(p, n); break;
    case QUERY_NODE_CALL: check_call(p, n); break;
    case QUERY_NODE_PAREN: check(p, n->u.paren.expr); break;
    case QUERY_NODE_UNARY: {
        query_type t = check(p, n->u.unary.expr);
        if (p->rc == STRATA_OK && t != QUERY_TYPE_SCALAR && t != QUERY_TYPE_VECTOR)
            query_parse_fail(
                p, n->pos_start,
                "unary expression only allowed on expressions of type scalar or instant vector, got \"%s\"",
                query_type_name(t));
        break;
    }
    case QUERY_NODE_SUBQUERY: {
        query_type t = check(p, n->u.subquery.expr);
        if (p->rc == STRATA_OK && t != QUERY_TYPE_VECTOR)
            query_parse_fail(p, n->pos_start, "subquery is only allowed on instant vector, got %s instead",
                             type_word(t));
        break;
    }
    case QUERY_NODE_MATRIX_SELECTOR: check(p, n->u.matrix.vs); break;
    case QUERY_NODE_VECTOR_SELECTOR: check_selector(p, n); break;
    default: break;
    }
    return n->type;
}

/* Numbers the DURATION trees hanging off selectors and subqueries, which
 * checkAST does not visit. */
static void number_durations(parser *p, query_node *d)
{
    if (!d)
        return;
    d->id = p->n_nodes++;
    if (d->kind == QUERY_NODE_DURATION) {
        number_durations(p, d->u.duration.lhs);
        number_durations(p, d->u.duration.rhs);
    }
}

static void number_rest(parser *p, query_node *n)
{
    switch (n->kind) {
    case QUERY_NODE_AGGREGATE:
        if (n->u.aggregate.param)
            number_rest(p, n->u.aggregate.param);
        number_rest(p, n->u.aggregate.expr);
        break;
    case QUERY_NODE_BINARY:
        number_rest(p, n->u.binary.lhs);
        number_rest(p, n->u.binary.rhs);
        break;
    case QUERY_NODE_CALL:
        for (size_t i = 0; i < n->u.call.n_args; i++)
            number_rest(p, n->u.call.args[i]);
        break;
    case QUERY_NODE_PAREN: number_rest(p, n->u.paren.expr); break;
    case QUERY_NODE_UNARY: number_rest(p, n->u.unary.expr); break;
    case QUERY_NODE_SUBQUERY:
        number_rest(p, n->u.subquery.expr);
        number_durations(p, n->u.subquery.range_expr);
        number_durations(p, n->u.subquery.step_expr);
        number_durations(p, n->u.subquery.offset_expr);
        break;
    case QUERY_NODE_MATRIX_SELECTOR:
        number_rest(p, n->u.matrix.vs);
        number_durations(p, n->u.matrix.range_expr);
        break;
    case QUERY_NODE_VECTOR_SELECTOR: number_durations(p, n->u.vs.offset_expr); break;
    default: break;
    }
}

int query_parse_check(parser *p, query_node *root)
{
    p->n_nodes = 0;
    check(p, root);
    if (p->rc == STRATA_OK)
        number_rest(p, root);
    return p->rc;
}
