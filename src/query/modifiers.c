/*
 * modifiers.c: what may follow an expression in PromQL before any
 * operator: a range [5m], a subquery [1h:5m] or [1h:], offset (negative
 * too), @ <time> / @ start() / @ end(), anchored, smoothed; and the
 * duration arithmetic of Prometheus 3 those take ([5m+1m], offset (1h*2),
 * step(), range(), min_of(a, b), max_of(a, b)).
 *
 * As in Prometheus' grammar, offset, @ and the range of a range selector
 * attach to the vector selector itself (a matrix selector keeps them on
 * its inner selector), and a duration that is a plain literal is stored as
 * milliseconds while arithmetic is kept as a DURATION tree for the
 * evaluator, which alone knows step() and range().
 */
#include <math.h>
#include <stdio.h>

#include "parse_priv.h"

#define PREC_POW 6

/* durationLiteralOutOfRange: seconds that overflow Go's time.Duration. */
static bool dur_out_of_range(double v) { return v > 9223372036.854775807 || v < -9223372036.854775808; }

static int64_t seconds_to_ms(double v) { return (int64_t)llround(v * 1000.0); }

static query_node *dur_node(parser *p, query_op op, int64_t start, int64_t end)
{
    query_node *n = query_parse_node(p, QUERY_NODE_DURATION, start, end);
    if (n) {
        n->type = QUERY_TYPE_SCALAR;
        n->u.duration.op = op;
    }
    return n;
}

static bool dur_children(parser *p, query_node *n)
{
    return query_parse_child(p, n, n->u.duration.lhs) && query_parse_child(p, n, n->u.duration.rhs);
}

/* wrapParenDurationExpr: (e) keeps its parentheses when printed. */
static query_node *dur_wrap(parser *p, query_node *e, int64_t start, int64_t end)
{
    if (e->kind == QUERY_NODE_DURATION) {
        e->u.duration.wrapped = true;
        return e;
    }
    query_node *n = dur_node(p, QUERY_OP_ADD, start, end);
    if (!n)
        return NULL;
    n->u.duration.rhs = e;
    n->u.duration.wrapped = true;
    return dur_children(p, n) ? n : NULL;
}

/* applyUnaryOpToDurationExpr */
static query_node *dur_unary(parser *p, const token *op, query_node *e)
{
    if (e->kind == QUERY_NODE_DURATION) {
        if (op->type != T_SUB)
            return e;
        query_node *n = dur_node(p, QUERY_OP_SUB, op->pos, e->pos_end);
        if (!n)
            return NULL;
        n->u.duration.rhs = e;
        return dur_children(p, n) ? n : NULL;
    }
    if (op->type == T_SUB)
        e->u.number.value = -e->u.number.value;
    if (dur_out_of_range(e->u.number.value)) {
        query_parse_fail(p, op->pos, "duration out of range");
        return NULL;
    }
    e->pos_start = op->pos;
    return e;
}

static query_node *dur_literal(parser *p)
{
    query_node *n = query_parse_node(p, QUERY_NODE_NUMBER, p->tok.pos, p->tok.pos + p->tok.len);
    if (!n || !query_parse_number_tok(p, &n->u.number.value))
        return NULL;
    n->type = QUERY_TYPE_SCALAR;
    n->u.number.is_duration = p->tok.type == T_DURATION;
    if (dur_out_of_range(n->u.number.value)) {
        query_parse_fail(p, n->pos_start, "duration out of range");
        return NULL;
    }
    query_parse_advance(p);
    return n;
}

static query_node *dur_expr(parser *p, int min_prec, const char *ctx, const char *expected);

static bool expect(parser *p, tok_type t, const char *ctx, const char *expected)
{
    if (p->tok.type != t) {
        query_parse_unexpected(p, ctx, expected);
        return false;
    }
    query_parse_advance(p);
    return true;
}

/* step(), range(), min_of(a, b), max_of(a, b) with the keyword current. */
static query_node *dur_function(parser *p, const char *ctx, const char *expected)
{
    tok_type t = p->tok.type;
    query_op op = t == T_STEP     ? QUERY_OP_STEP
                  : t == T_RANGE  ? QUERY_OP_RANGE
                  : t == T_MIN_OF ? QUERY_OP_MIN_OF
                                  : QUERY_OP_MAX_OF;
    query_node *n = dur_node(p, op, p->tok.pos, 0);
    if (!n)
        return NULL;
    query_parse_advance(p);
    if (!expect(p, T_LPAREN, ctx, expected))
        return NULL;
    if (op == QUERY_OP_MIN_OF || op == QUERY_OP_MAX_OF) {
        if (!(n->u.duration.lhs = dur_expr(p, 0, NULL, NULL)) || !expect(p, T_COMMA, NULL, NULL) ||
            !(n->u.duration.rhs = dur_expr(p, 0, NULL, NULL)))
            return NULL;
    }
    n->pos_end = p->tok.pos + 1;
    if (!expect(p, T_RPAREN, ctx, expected))
        return NULL;
    return dur_children(p, n) ? n : NULL;
}

static query_node *dur_primary(parser *p, const char *ctx, const char *expected)
{
    switch (p->tok.type) {
    case T_NUMBER:
    case T_DURATION: return dur_literal(p);
    case T_STEP:
    case T_RANGE:
    case T_MIN_OF:
    case T_MAX_OF: return dur_function(p, ctx, expected);
    case T_LPAREN: {
        int64_t start = p->tok.pos;
        query_parse_advance(p);
        query_node *e = dur_expr(p, 0, NULL, NULL);
        if (!e)
            return NULL;
        int64_t end = p->tok.pos + 1;
        if (!expect(p, T_RPAREN, NULL, NULL))
            return NULL;
        return dur_wrap(p, e, start, end);
    }
    case T_ADD:
    case T_SUB: {
        token op = p->tok;
        query_parse_advance(p);
        query_node *e = dur_expr(p, PREC_POW, ctx, expected);
        return e ? dur_unary(p, &op, e) : NULL;
    }
    default: query_parse_unexpected(p, ctx, expected); return NULL;
    }
}

static query_node *dur_expr(parser *p, int min_prec, const char *ctx, const char *expected)
{
    if (++p->depth > QUERY_MAX_DEPTH) {
        query_parse_fail(p, p->tok.pos, "query is nested too deeply (more than %d levels)", QUERY_MAX_DEPTH);
        return NULL;
    }
    query_node *lhs = dur_primary(p, ctx, expected);
    while (lhs) {
        tok_type t = p->tok.type;
        int prec = t == T_ADD || t == T_SUB ? 4 : t == T_MUL || t == T_DIV || t == T_MOD ? 5 : t == T_POW ? 6 : 0;
        if (!prec || prec < min_prec)
            break;
        token op = p->tok;
        query_parse_advance(p);
        query_node *rhs = dur_expr(p, t == T_POW ? prec : prec + 1, NULL, NULL);
        if (!rhs)
            return NULL;
        if ((t == T_DIV || t == T_MOD) && rhs->kind == QUERY_NODE_NUMBER && rhs->u.number.value == 0) {
            query_parse_fail(p, op.pos, t == T_DIV ? "division by zero" : "modulo by zero");
            return NULL;
        }
        query_op qop = t == T_ADD   ? QUERY_OP_ADD
                       : t == T_SUB ? QUERY_OP_SUB
                       : t == T_MUL ? QUERY_OP_MUL
                       : t == T_DIV ? QUERY_OP_DIV
                       : t == T_MOD ? QUERY_OP_MOD
                                    : QUERY_OP_POW;
        query_node *n = dur_node(p, qop, lhs->pos_start, rhs->pos_end);
        if (!n)
            return NULL;
        n->u.duration.lhs = lhs;
        n->u.duration.rhs = rhs;
        if (!dur_children(p, n))
            return NULL;
        lhs = n;
    }
    p->depth--;
    return lhs;
}

/* positive_duration_expr: a literal must be > 0. */
static bool dur_positive(parser *p, query_node *d, int64_t *ms, query_node **expr)
{
    if (d->kind == QUERY_NODE_NUMBER) {
        if (d->u.number.value <= 0 || isnan(d->u.number.value)) {
            query_parse_fail(p, d->pos_start, "duration must be greater than 0");
            return false;
        }
        /* Storage has millisecond resolution: a positive range below 1 ms
         * is 1 ms (Prometheus would keep nanoseconds, and print "0s"). */
        *ms = MAX(seconds_to_ms(d->u.number.value), 1);
        *expr = NULL;
    } else {
        *ms = 0;
        *expr = d;
    }
    return true;
}

/* "[" range "]" or "[" range ":" [step] "]" after e. */
static query_node *parse_brackets(parser *p, query_node *e)
{
    static const char *first = "number, duration, step(), or range()";
    int64_t open = p->tok.pos;
    query_parse_advance(p);
    query_node *r = dur_expr(p, 0, "subquery or range selector", first);
    int64_t range_ms;
    query_node *range_expr;
    if (!r || !dur_positive(p, r, &range_ms, &range_expr))
        return NULL;
    if (p->tok.type == T_RBRACKET) {
        const char *why = NULL;
        if (e->kind != QUERY_NODE_VECTOR_SELECTOR)
            why = "ranges only allowed for vector selectors";
        else if (e->u.vs.offset_ms != 0 || e->u.vs.offset_expr)
            why = "no offset modifiers allowed before range";
        else if (e->u.vs.at != QUERY_AT_NONE)
            why = "no @ modifiers allowed before range";
        if (why) {
            query_parse_fail(p, open, "%s", why);
            return NULL;
        }
        query_node *n = query_parse_node(p, QUERY_NODE_MATRIX_SELECTOR, e->pos_start, p->tok.pos + 1);
        if (!n)
            return NULL;
        query_parse_advance(p);
        n->type = QUERY_TYPE_MATRIX;
        n->u.matrix.vs = e;
        n->u.matrix.range_ms = range_ms;
        n->u.matrix.range_expr = range_expr;
        return query_parse_child(p, n, e) && query_parse_child(p, n, range_expr) ? n : NULL;
    }
    if (p->tok.type != T_COLON) {
        query_parse_unexpected(p, "subquery or range", "\":\" or \"]\"");
        return NULL;
    }
    query_parse_advance(p);
    query_node *n = query_parse_node(p, QUERY_NODE_SUBQUERY, e->pos_start, 0);
    if (!n)
        return NULL;
    n->type = QUERY_TYPE_MATRIX;
    n->u.subquery.expr = e;
    n->u.subquery.range_ms = range_ms;
    n->u.subquery.range_expr = range_expr;
    if (p->tok.type != T_RBRACKET) {
        query_node *s = dur_expr(p, 0, "subquery selector", "number, duration, step(), range(), or \"]\"");
        if (!s || !dur_positive(p, s, &n->u.subquery.step_ms, &n->u.subquery.step_expr))
            return NULL;
        if (p->tok.type != T_RBRACKET) {
            query_parse_unexpected(p, "subquery selector", "\"]\"");
            return NULL;
        }
    }
    n->pos_end = p->tok.pos + 1;
    query_parse_advance(p);
    return query_parse_child(p, n, e) && query_parse_child(p, n, range_expr) &&
                   query_parse_child(p, n, n->u.subquery.step_expr)
               ? n
               : NULL;
}

/* offset_duration_expr: one signed literal, step(), range(), min_of(),
 * max_of() or a parenthesised duration expression, so that
 * `foo offset 5s - 8` is (foo offset 5s) - 8 as in Prometheus. */
static query_node *parse_offset_value(parser *p)
{
    static const char *ctx = "offset", *expected = "number, duration, step(), or range()";
    token sign = {0};
    bool has_sign = false;
    if (p->tok.type == T_ADD || p->tok.type == T_SUB) {
        sign = p->tok;
        has_sign = true;
        query_parse_advance(p);
    }
    query_node *d;
    switch (p->tok.type) {
    case T_NUMBER:
    case T_DURATION: d = dur_literal(p); break;
    case T_STEP:
    case T_RANGE:
    case T_MIN_OF:
    case T_MAX_OF: d = dur_function(p, ctx, expected); break;
    case T_LPAREN: {
        int64_t start = p->tok.pos;
        query_parse_advance(p);
        query_node *e = dur_expr(p, 0, NULL, NULL);
        if (!e)
            return NULL;
        int64_t end = p->tok.pos + 1;
        if (!expect(p, T_RPAREN, NULL, NULL))
            return NULL;
        d = dur_wrap(p, e, start, end);
        break;
    }
    default: query_parse_unexpected(p, ctx, expected); return NULL;
    }
    if (!d)
        return NULL;
    return has_sign ? dur_unary(p, &sign, d) : d;
}

static query_node *apply_offset(parser *p, query_node *e)
{
    query_parse_advance(p);
    query_node *d = parse_offset_value(p);
    if (!d)
        return NULL;
    int64_t *ms;
    query_node **expr;
    if (e->kind == QUERY_NODE_VECTOR_SELECTOR) {
        ms = &e->u.vs.offset_ms, expr = &e->u.vs.offset_expr;
    } else if (e->kind == QUERY_NODE_MATRIX_SELECTOR) {
        ms = &e->u.matrix.vs->u.vs.offset_ms, expr = &e->u.matrix.vs->u.vs.offset_expr;
    } else if (e->kind == QUERY_NODE_SUBQUERY) {
        ms = &e->u.subquery.offset_ms, expr = &e->u.subquery.offset_expr;
    } else {
        query_parse_fail(p, e->pos_start,
                         "offset modifier must be preceded by an instant vector selector or range vector selector or a "
                         "subquery");
        return NULL;
    }
    if (*ms != 0 || *expr) {
        query_parse_fail(p, e->pos_start, "offset may not be set multiple times");
        return NULL;
    }
    if (d->kind == QUERY_NODE_NUMBER) {
        *ms = seconds_to_ms(d->u.number.value);
    } else {
        *expr = d;
        if (!query_parse_child(p, e, d))
            return NULL;
    }
    e->pos_end = p->last_closing;
    return e;
}

/* Milliseconds of a plain decimal "123.456" (at most 3 decimals), exactly:
 * the float path loses them for times far from the epoch, and the printer
 * writes @ times in this form. */
static bool exact_ms(const char *s, int64_t n, uint64_t *out)
{
    uint64_t v = 0;
    int64_t i = 0;
    int frac = -1;
    if (n == 0)
        return false;
    for (; i < n; i++) {
        if (s[i] == '.' && frac < 0) {
            frac = 0;
            continue;
        }
        if (s[i] < '0' || s[i] > '9' || frac >= 3 || v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (frac >= 0)
            frac++;
    }
    if (frac < 0)
        frac = 0;
    if (s[0] == '0' && n > 1 && s[1] != '.')
        return false; /* 010 is octal to Prometheus */
    for (; frac < 3; frac++) {
        if (v > UINT64_MAX / 10)
            return false;
        v *= 10;
    }
    *out = v;
    return true;
}

/* Go's %f for the message about a bad @ time. */
static void go_f(double v, char *out, size_t cap)
{
    if (isnan(v))
        snprintf(out, cap, "NaN");
    else if (isinf(v))
        snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
    else
        snprintf(out, cap, "%f", v);
}

static query_node *apply_at(parser *p, query_node *e)
{
    query_parse_advance(p);
    query_at at;
    double ts = 0;
    bool neg = false, exact = false;
    uint64_t exact_v = 0;
    if (p->tok.type == T_START || p->tok.type == T_END) {
        at = p->tok.type == T_START ? QUERY_AT_START : QUERY_AT_END;
        query_parse_advance(p);
        if (!expect(p, T_LPAREN, "@", "timestamp") || !expect(p, T_RPAREN, "@", "timestamp"))
            return NULL;
    } else {
        if (p->tok.type == T_ADD || p->tok.type == T_SUB) {
            neg = p->tok.type == T_SUB;
            query_parse_advance(p);
        }
        if (p->tok.type != T_NUMBER && p->tok.type != T_DURATION) {
            query_parse_unexpected(p, "@", "timestamp");
            return NULL;
        }
        exact = exact_ms(p->s + p->tok.pos, p->tok.type == T_NUMBER ? p->tok.len : 0, &exact_v);
        if (!query_parse_number_tok(p, &ts))
            return NULL;
        query_parse_advance(p);
        if (neg)
            ts = -ts;
        at = QUERY_AT_TIMESTAMP;
        if (isnan(ts) || isinf(ts) || ts >= 9223372036854775807.0 || ts <= -9223372036854775808.0) {
            char f[400];
            go_f(ts, f, sizeof f);
            query_parse_fail(p, e->pos_start, "timestamp out of bounds for @ modifier: %s", f);
            return NULL;
        }
    }
    query_at *atp;
    int64_t *msp;
    if (e->kind == QUERY_NODE_VECTOR_SELECTOR) {
        atp = &e->u.vs.at, msp = &e->u.vs.at_ms;
    } else if (e->kind == QUERY_NODE_MATRIX_SELECTOR) {
        atp = &e->u.matrix.vs->u.vs.at, msp = &e->u.matrix.vs->u.vs.at_ms;
    } else if (e->kind == QUERY_NODE_SUBQUERY) {
        atp = &e->u.subquery.at, msp = &e->u.subquery.at_ms;
    } else {
        query_parse_fail(
            p, e->pos_start,
            "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery");
        return NULL;
    }
    if (*atp != QUERY_AT_NONE) {
        query_parse_fail(p, e->pos_start, "@ <timestamp> may not be set multiple times");
        return NULL;
    }
    *atp = at;
    if (at == QUERY_AT_TIMESTAMP) {
        /* timestamp.FromFloatSeconds; what overflows int64 becomes
         * math.MinInt64, as Go's conversion does on amd64. */
        double ms = round(ts * 1000.0);
        if (exact && exact_v <= (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
            *msp = neg ? (int64_t)(0 - exact_v) : (int64_t)exact_v;
        else
            *msp = ms >= -9223372036854775808.0 && ms < 9223372036854775808.0 ? (int64_t)ms : INT64_MIN;
    }
    e->pos_end = p->last_closing;
    return e;
}

static query_node *apply_flag(parser *p, query_node *e, bool anchored)
{
    const char *what = anchored ? "anchored" : "smoothed";
    query_node *vs = e->kind == QUERY_NODE_VECTOR_SELECTOR   ? e
                     : e->kind == QUERY_NODE_MATRIX_SELECTOR ? e->u.matrix.vs
                                                             : NULL;
    if (!vs) {
        if (e->kind == QUERY_NODE_SUBQUERY)
            query_parse_fail(p, e->pos_start, "%s modifier is not supported for subqueries", what);
        else
            query_parse_fail(p, e->pos_start, "%s modifier not implemented", what);
        return NULL;
    }
    if (anchored)
        vs->u.vs.anchored = true;
    else
        vs->u.vs.smoothed = true;
    if (vs->u.vs.anchored && vs->u.vs.smoothed) {
        query_parse_fail(p, e->pos_start, "anchored and smoothed modifiers cannot be used together");
        return NULL;
    }
    e->pos_end = p->tok.pos + p->tok.len;
    query_parse_advance(p);
    return e;
}

query_node *query_parse_postfix(parser *p, query_node *e)
{
    while (e) {
        switch (p->tok.type) {
        case T_LBRACKET: e = parse_brackets(p, e); break;
        case T_OFFSET:
            if (p->selector_only)
                return e;
            e = apply_offset(p, e);
            break;
        case T_AT:
            if (p->selector_only)
                return e;
            e = apply_at(p, e);
            break;
        case T_ANCHORED:
        case T_SMOOTHED:
            if (p->selector_only)
                return e;
            e = apply_flag(p, e, p->tok.type == T_ANCHORED);
            break;
        default: return e;
        }
    }
    return NULL;
}
