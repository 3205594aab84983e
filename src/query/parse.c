/*
 * parse.c: the PromQL parser: tokens (lex.c) to the tree of ast.h.
 *
 * How it works
 * Prometheus generates its parser with yacc from generated_parser.y; this
 * is a hand-written recursive-descent parser for the same grammar, with
 * precedence climbing for the binary operators:
 *
 *   or  <  and unless  <  == != <= < >= > </ >/  <  + -  <  * / % atan2  <  ^
 *
 * all left-associative but ^. A unary sign binds like * (so -2^2 is
 * -(2^2) and -a*b is (-a)*b), and the postfix modifiers ([range],
 * [range:step], offset, @, anchored, smoothed) bind tighter than any
 * operator, as the precedence declarations of the grammar make them.
 * Inside brackets and after offset a second, smaller grammar reads
 * Prometheus 3's duration arithmetic (duration_expr in the grammar).
 *
 * Errors: the first one ends the parse, with Prometheus' position and
 * words: syntax errors where yacc would see them, semantic errors of the
 * grammar's actions (offset twice, ranges on non-selectors, unknown
 * function) where they arise, and type errors afterwards in check.c, which
 * walks the tree in the order of Prometheus' checkAST.
 *
 * Bounds: one token of lookahead beyond the current one; the input is read
 * once, nothing is copied but the strings kept in the tree; recursion is
 * limited to QUERY_MAX_DEPTH and trees to QUERY_MAX_HEIGHT.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "index/index.h"
#include "literals.h"
#include "parse_priv.h"

/* ------------------------------------------------------------ errors */

int query_parse_fail(parser *p, int64_t pos, const char *fmt, ...)
{
    if (p->rc != STRATA_OK)
        return p->rc;
    p->rc = STRATA_ERR_INVALID;
    if (p->err) {
        query_error *e = p->err;
        int line = 1;
        int64_t last_nl = -1;
        if (pos > p->len)
            pos = p->len;
        if (pos < 0)
            pos = 0;
        for (int64_t i = 0; i < pos; i++)
            if (p->s[i] == '\n')
                line++, last_nl = i;
        e->pos = pos;
        e->line = line;
        e->col = (int)(pos - last_nl);
        int k;
        if (p->len == 0)
            k = snprintf(e->msg, sizeof e->msg, "unknown position: parse error: ");
        else
            k = snprintf(e->msg, sizeof e->msg, "%d:%d: parse error: ", e->line, e->col);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg + k, sizeof e->msg - (size_t)k, fmt, ap);
        va_end(ap);
    }
    return p->rc;
}

int query_parse_nomem(parser *p)
{
    if (p->rc == STRATA_OK) {
        p->rc = STRATA_ERR_NOMEM;
        if (p->err) {
            memset(p->err, 0, sizeof *p->err);
            snprintf(p->err->msg, sizeof p->err->msg, "out of memory");
        }
    }
    return p->rc;
}

/* Go's "%.10q..." of long token text, else "%q"; n < 0: -n bytes, never
 * shortened (identifiers). */
static void quote_tok(const char *s, int64_t n, char *out, size_t cap)
{
    bool whole = n < 0;
    if (whole)
        n = -n;
    int64_t cut = n;
    bool more = false;
    int64_t runes = 0, i = 0;
    while (i < n) {
        int w;
        query_lex_utf8(s + i, n - i, &w);
        if (!whole && ++runes > 10 && n > 10) {
            cut = i;
            more = true;
            break;
        }
        i += w;
    }
    size_t o = 0;
    out[o++] = '"';
    for (int64_t k = 0; k < cut && o + 8 < cap; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c == '"' || c == '\\')
            out[o++] = '\\', out[o++] = (char)c;
        else if (c == '\n')
            out[o++] = '\\', out[o++] = 'n';
        else if (c == '\t')
            out[o++] = '\\', out[o++] = 't';
        else if (c == '\r')
            out[o++] = '\\', out[o++] = 'r';
        else if (c < 0x20 || c == 0x7f)
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o++] = '"';
    if (more && o + 4 < cap)
        memcpy(out + o, "...", 3), o += 3;
    out[o] = 0;
}

/* Prometheus' Item.desc(): how a token is named in "unexpected ..." */
static void tok_desc(parser *p, const token *t, char *out, size_t cap)
{
    const char *s = p->s + t->pos;
    int n = (int)MIN(t->len, 60);
    char q[128];
    switch (t->type) {
    case T_EOF: snprintf(out, cap, "end of input"); return;
    case T_IDENT:
        quote_tok(s, -n, q, sizeof q);
        snprintf(out, cap, "identifier %s", q);
        return;
    case T_METRIC_IDENT:
        quote_tok(s, -n, q, sizeof q);
        snprintf(out, cap, "metric identifier %s", q);
        return;
    case T_STRING:
    case T_NUMBER:
    case T_DURATION:
        quote_tok(s, t->len, q, sizeof q);
        snprintf(out, cap, "%s %s", t->type == T_STRING ? "string" : t->type == T_NUMBER ? "number" : "duration", q);
        return;
    default: break;
    }
    if (t->type > T_OPS_START && t->type < T_OPS_END)
        snprintf(out, cap, "<op:%.*s>", n, s);
    else if (t->type > T_AGGS_START && t->type < T_AGGS_END)
        snprintf(out, cap, "<aggr:%.*s>", n, s);
    else if (t->type > T_KEYWORDS_START && t->type < T_KEYWORDS_END)
        snprintf(out, cap, "<%.*s>", n, s);
    else {
        quote_tok(s, n, q, sizeof q);
        snprintf(out, cap, "%s", q);
    }
}

/* Prometheus' parser.unexpected: the current token is not what the
 * grammar wants here. A lexer error is reported as itself. */
/* noinline here and below: message buffers stay out of the frames of the
 * recursive descent, which may be QUERY_MAX_DEPTH deep. */
__attribute__((noinline)) int query_parse_unexpected(parser *p, const char *context, const char *expected)
{
    if (p->tok.type == T_ERROR)
        return query_parse_fail(p, p->tok.pos, "%s", p->lx.err);
    char d[160];
    tok_desc(p, &p->tok, d, sizeof d);
    return query_parse_fail(p, p->tok.pos, "unexpected %s%s%s%s%s", d, context ? " in " : "", context ? context : "",
                            expected ? ", expected " : "", expected ? expected : "");
}

/* ------------------------------------------------------------ tokens */

static void fetch(parser *p, token *t)
{
    query_lex_next(&p->lx, t);
    switch (t->type) {
    case T_RBRACE:
    case T_RPAREN:
    case T_RBRACKET:
    case T_DURATION:
    case T_NUMBER: p->last_closing = t->pos + t->len; break;
    default: break;
    }
}

void query_parse_advance(parser *p)
{
    p->at_start = false;
    if (p->has_ahead) {
        p->tok = p->ahead;
        p->has_ahead = false;
    } else {
        fetch(p, &p->tok);
    }
}

const token *query_parse_peek(parser *p)
{
    if (!p->has_ahead) {
        fetch(p, &p->ahead);
        p->has_ahead = true;
    }
    return &p->ahead;
}

/* ------------------------------------------------------------ nodes */

query_node *query_parse_node(parser *p, query_node_kind kind, int64_t start, int64_t end)
{
    query_node *n = query_arena_alloc(p->arena, sizeof *n);
    if (!n) {
        query_parse_nomem(p);
        return NULL;
    }
    n->kind = kind;
    n->pos_start = start;
    n->pos_end = end;
    n->height = 1;
    return n;
}

/* Records that child hangs below n; false when the tree grows too tall. */
bool query_parse_child(parser *p, query_node *n, const query_node *child)
{
    if (child && child->height + 1 > n->height)
        n->height = child->height + 1;
    if (n->height > QUERY_MAX_HEIGHT) {
        query_parse_fail(p, n->pos_start, "query is nested too deeply (more than %d levels)", QUERY_MAX_HEIGHT);
        return false;
    }
    return true;
}

char *query_parse_strdup(parser *p, const char *s, size_t n)
{
    char *c = query_arena_alloc(p->arena, n + 1);
    if (!c) {
        query_parse_nomem(p);
        return NULL;
    }
    memcpy(c, s, n);
    c[n] = 0;
    return c;
}

/* The unquoted text of the current STRING token, NUL-terminated in the
 * arena; NUL bytes written as escapes are refused (strings reach C APIs). */
char *query_parse_string_tok(parser *p, size_t *len)
{
    char *out = query_arena_alloc(p->arena, (size_t)p->tok.len + 1);
    if (!out) {
        query_parse_nomem(p);
        return NULL;
    }
    size_t n = query_lit_unquote(p->s + p->tok.pos, p->tok.len, out);
    if (memchr(out, 0, n)) {
        query_parse_fail(p, p->tok.pos, "NUL bytes are not supported in strings");
        return NULL;
    }
    if (len)
        *len = n;
    return out;
}

/* NUMBER or DURATION token to seconds, as Prometheus' number_duration_literal. */
__attribute__((noinline)) bool query_parse_number_tok(parser *p, double *v)
{
    char why[512];
    if (p->tok.type == T_DURATION) {
        int64_t ms;
        if (query_lit_duration(p->s + p->tok.pos, p->tok.len, &ms, why, sizeof why) != STRATA_OK) {
            query_parse_fail(p, p->tok.pos, "%s", why);
            return false;
        }
        *v = (double)ms / 1000.0;
        return true;
    }
    int rc = query_lit_number(p->s + p->tok.pos, p->tok.len, v, why, sizeof why);
    if (rc == STRATA_ERR_NOMEM) {
        query_parse_nomem(p);
        return false;
    }
    if (rc != STRATA_OK) {
        query_parse_fail(p, p->tok.pos, "%s", why);
        return false;
    }
    return true;
}

static bool depth_enter(parser *p)
{
    if (++p->depth > QUERY_MAX_DEPTH) {
        query_parse_fail(p, p->tok.pos, "query is nested too deeply (more than %d levels)", QUERY_MAX_DEPTH);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------ selectors */

static bool is_match_op(tok_type t) { return t == T_ASSIGN || t == T_NEQ || t == T_EQL_REGEX || t == T_NEQ_REGEX; }

static strata_match_type match_type(tok_type t)
{
    switch (t) {
    case T_NEQ: return STRATA_MATCH_NEQ;
    case T_EQL_REGEX: return STRATA_MATCH_RE;
    case T_NEQ_REGEX: return STRATA_MATCH_NRE;
    default: return STRATA_MATCH_EQ;
    }
}

/* Checks that a regex compiles, as labels.NewMatcher does. */
__attribute__((noinline)) static bool check_regex(parser *p, const strata_matcher *m, int64_t pos)
{
    if (m->type != STRATA_MATCH_RE && m->type != STRATA_MATCH_NRE)
        return true;
    index_matcher *im;
    char why[160] = "";
    int rc = index_matcher_compile(m, &im, why, sizeof why);
    if (rc == STRATA_ERR_NOMEM) {
        query_parse_nomem(p);
        return false;
    }
    if (rc != STRATA_OK) {
        query_parse_fail(p, pos, "error parsing regexp: %s", why[0] ? why : "invalid regular expression");
        return false;
    }
    index_matcher_free(im);
    return true;
}

typedef struct mvec {
    strata_matcher *v;
    size_t n, cap;
} mvec;

static bool mvec_push(parser *p, mvec *m, strata_match_type t, const char *name, const char *value)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 4;
        strata_matcher *v = query_arena_alloc(p->arena, cap * sizeof *v);
        if (!v) {
            query_parse_nomem(p);
            return false;
        }
        if (m->n)
            memcpy(v, m->v, m->n * sizeof *v);
        m->v = v;
        m->cap = cap;
    }
    m->v[m->n++] = (strata_matcher){t, name, value};
    return true;
}

/* "{" matchers "}" with the current token the "{". */
static bool parse_matchers(parser *p, mvec *m, int64_t *end)
{
    query_parse_advance(p);
    if (p->tok.type == T_RBRACE) {
        *end = p->tok.pos + 1;
        query_parse_advance(p);
        return true;
    }
    for (;;) {
        const char *name;
        int64_t name_pos = p->tok.pos;
        bool quoted = p->tok.type == T_STRING;
        if (p->tok.type == T_IDENT) {
            name = query_parse_strdup(p, p->s + p->tok.pos, (size_t)p->tok.len);
        } else if (quoted) {
            name = query_parse_string_tok(p, NULL);
        } else {
            query_parse_unexpected(p, "label matching", "identifier or \"}\"");
            return false;
        }
        if (!name)
            return false;
        query_parse_advance(p);
        if (is_match_op(p->tok.type)) {
            strata_match_type t = match_type(p->tok.type);
            query_parse_advance(p);
            if (p->tok.type != T_STRING) {
                query_parse_unexpected(p, "label matching", "string");
                return false;
            }
            const char *value = query_parse_string_tok(p, NULL);
            if (!value || !mvec_push(p, m, t, name, value) || !check_regex(p, &m->v[m->n - 1], name_pos))
                return false;
            query_parse_advance(p);
        } else if (quoted) {
            /* A lone quoted string is the metric name: {"my.metric"}. */
            if (!mvec_push(p, m, STRATA_MATCH_EQ, "__name__", name))
                return false;
        } else {
            query_parse_unexpected(p, "label matching", "label matching operator");
            return false;
        }
        if (p->tok.type == T_COMMA) {
            query_parse_advance(p);
            if (p->tok.type == T_RBRACE)
                break;
            continue;
        }
        if (p->tok.type == T_RBRACE)
            break;
        query_parse_unexpected(p, "label matching", "\",\" or \"}\"");
        return false;
    }
    *end = p->tok.pos + 1;
    query_parse_advance(p);
    return true;
}

/* A vector selector: [name] ["{" matchers "}"]; the current token is the
 * name (has_name) or the "{". */
query_node *query_parse_selector(parser *p, bool has_name)
{
    int64_t start = p->tok.pos, end = p->tok.pos + p->tok.len;
    query_node *n = query_parse_node(p, QUERY_NODE_VECTOR_SELECTOR, start, end);
    if (!n)
        return NULL;
    n->type = QUERY_TYPE_VECTOR;
    mvec m = {0};
    if (has_name) {
        n->u.vs.name = query_parse_strdup(p, p->s + p->tok.pos, (size_t)p->tok.len);
        if (!n->u.vs.name)
            return NULL;
        query_parse_advance(p);
    }
    if (p->tok.type == T_LBRACE && !parse_matchers(p, &m, &n->pos_end))
        return NULL;
    /* As Prometheus: the name written up front becomes the last matcher. */
    if (has_name && !mvec_push(p, &m, STRATA_MATCH_EQ, "__name__", n->u.vs.name))
        return NULL;
    n->u.vs.matchers = m.v;
    n->u.vs.n_matchers = m.n;
    return n;
}

/* ------------------------------------------------------------ grouping labels */

static bool is_label_tok(tok_type t)
{
    switch (t) {
    case T_IDENT:
    case T_METRIC_IDENT:
    case T_LAND:
    case T_LOR:
    case T_LUNLESS:
    case T_ATAN2:
    case T_START:
    case T_END:
    case T_STEP:
    case T_RANGE:
    case T_MAX_OF:
    case T_MIN_OF: return true;
    default: return (t > T_AGGS_START && t < T_AGGS_END) || (t > T_KEYWORDS_START && t < T_KEYWORDS_END);
    }
}

/* "(" [label {"," label} [","]] ")" with the current token the "(". */
bool query_parse_grouping(parser *p, char ***out, size_t *n_out)
{
    if (p->tok.type != T_LPAREN) {
        query_parse_unexpected(p, "grouping opts", "\"(\"");
        return false;
    }
    query_parse_advance(p);
    char **v = NULL;
    size_t n = 0, cap = 0;
    while (p->tok.type != T_RPAREN) {
        char *label;
        if (is_label_tok(p->tok.type)) {
            label = query_parse_strdup(p, p->s + p->tok.pos, (size_t)p->tok.len);
            if (label && p->tok.type == T_METRIC_IDENT) {
                query_parse_fail(p, p->tok.pos, "invalid label name for grouping: \"%s\"", label);
                return false;
            }
        } else if (p->tok.type == T_STRING) {
            size_t len;
            label = query_parse_string_tok(p, &len);
            if (label && len == 0) {
                query_parse_fail(p, p->tok.pos, "invalid label name for grouping: \"\"");
                return false;
            }
        } else {
            query_parse_unexpected(p, "grouping opts", "label");
            return false;
        }
        if (!label)
            return false;
        if (n == cap) {
            cap = cap ? cap * 2 : 4;
            char **nv = query_arena_alloc(p->arena, cap * sizeof *nv);
            if (!nv) {
                query_parse_nomem(p);
                return false;
            }
            if (n)
                memcpy(nv, v, n * sizeof *nv);
            v = nv;
        }
        v[n++] = label;
        query_parse_advance(p);
        if (p->tok.type == T_COMMA) {
            query_parse_advance(p);
            continue;
        }
        if (p->tok.type != T_RPAREN) {
            query_parse_unexpected(p, "grouping opts", "\",\" or \")\"");
            return false;
        }
    }
    query_parse_advance(p);
    *out = v;
    *n_out = n;
    return true;
}

/* ------------------------------------------------------------ calls and aggregations */

/* "(" [expr {"," expr}] ")" with the current token the "(". */
static bool parse_args(parser *p, query_node ***out, size_t *n_out)
{
    query_parse_advance(p);
    query_node **v = NULL;
    size_t n = 0, cap = 0;
    if (p->tok.type != T_RPAREN) {
        for (;;) {
            query_node *a = query_parse_expr(p, 0);
            if (!a)
                return false;
            if (n == cap) {
                cap = cap ? cap * 2 : 4;
                query_node **nv = query_arena_alloc(p->arena, cap * sizeof *nv);
                if (!nv) {
                    query_parse_nomem(p);
                    return false;
                }
                if (n)
                    memcpy(nv, v, n * sizeof *nv);
                v = nv;
            }
            v[n++] = a;
            if (p->tok.type == T_COMMA) {
                int64_t comma = p->tok.pos;
                query_parse_advance(p);
                if (p->tok.type == T_RPAREN) {
                    query_parse_fail(p, comma, "trailing commas not allowed in function call args");
                    return false;
                }
                continue;
            }
            if (p->tok.type == T_RPAREN)
                break;
            query_parse_unexpected(p, NULL, NULL);
            return false;
        }
    }
    query_parse_advance(p);
    *out = v;
    *n_out = n;
    return true;
}

static query_node *parse_call(parser *p)
{
    token name = p->tok;
    query_node *n = query_parse_node(p, QUERY_NODE_CALL, name.pos, name.pos + name.len);
    if (!n)
        return NULL;
    query_parse_advance(p); /* to the "(" */
    if (!parse_args(p, &n->u.call.args, &n->u.call.n_args))
        return NULL;
    n->pos_end = p->last_closing;
    const query_func *f = query_func_lookup(p->s + name.pos, (size_t)name.len);
    if (!f) {
        query_parse_fail(p, name.pos, "unknown function with name \"%.*s\"", (int)MIN(name.len, 100), p->s + name.pos);
        return NULL;
    }
    n->u.call.func = f;
    n->type = f->return_type;
    for (size_t i = 0; i < n->u.call.n_args; i++)
        if (!query_parse_child(p, n, n->u.call.args[i]))
            return NULL;
    return n;
}

static query_agg_op agg_op(tok_type t)
{
    switch (t) {
    case T_SUM: return QUERY_AGG_SUM;
    case T_MIN: return QUERY_AGG_MIN;
    case T_MAX: return QUERY_AGG_MAX;
    case T_AVG: return QUERY_AGG_AVG;
    case T_GROUP: return QUERY_AGG_GROUP;
    case T_STDDEV: return QUERY_AGG_STDDEV;
    case T_STDVAR: return QUERY_AGG_STDVAR;
    case T_COUNT: return QUERY_AGG_COUNT;
    case T_COUNT_VALUES: return QUERY_AGG_COUNT_VALUES;
    case T_BOTTOMK: return QUERY_AGG_BOTTOMK;
    case T_TOPK: return QUERY_AGG_TOPK;
    case T_QUANTILE: return QUERY_AGG_QUANTILE;
    case T_LIMITK: return QUERY_AGG_LIMITK;
    default: return QUERY_AGG_LIMIT_RATIO;
    }
}

static bool agg_has_param(query_agg_op op)
{
    return op == QUERY_AGG_TOPK || op == QUERY_AGG_BOTTOMK || op == QUERY_AGG_COUNT_VALUES ||
           op == QUERY_AGG_QUANTILE || op == QUERY_AGG_LIMITK || op == QUERY_AGG_LIMIT_RATIO;
}

static bool parse_agg_modifier(parser *p, query_node *n)
{
    n->u.aggregate.without = p->tok.type == T_WITHOUT;
    query_parse_advance(p);
    return query_parse_grouping(p, &n->u.aggregate.grouping, &n->u.aggregate.n_grouping);
}

static query_node *parse_aggregate(parser *p)
{
    query_node *n = query_parse_node(p, QUERY_NODE_AGGREGATE, p->tok.pos, p->tok.pos + p->tok.len);
    if (!n)
        return NULL;
    n->type = QUERY_TYPE_VECTOR;
    n->u.aggregate.op = agg_op(p->tok.type);
    query_parse_advance(p);
    bool modified = false;
    if (p->tok.type == T_BY || p->tok.type == T_WITHOUT) {
        if (!parse_agg_modifier(p, n))
            return NULL;
        modified = true;
    }
    if (p->tok.type != T_LPAREN) {
        query_parse_unexpected(p, "aggregation", NULL);
        return NULL;
    }
    query_node **args;
    size_t n_args;
    if (!parse_args(p, &args, &n_args))
        return NULL;
    n->pos_end = p->last_closing;
    if (!modified && (p->tok.type == T_BY || p->tok.type == T_WITHOUT)) {
        if (!parse_agg_modifier(p, n))
            return NULL;
        n->pos_end = p->last_closing;
    }
    if (n_args == 0) {
        query_parse_fail(p, n->pos_start, "no arguments for aggregate expression provided");
        return NULL;
    }
    size_t want = agg_has_param(n->u.aggregate.op) ? 2 : 1;
    if (n_args != want) {
        query_parse_fail(p, n->pos_start,
                         "wrong number of arguments for aggregate expression provided, expected %zu, got %zu", want,
                         n_args);
        return NULL;
    }
    n->u.aggregate.param = want == 2 ? args[0] : NULL;
    n->u.aggregate.expr = args[want - 1];
    if (!query_parse_child(p, n, n->u.aggregate.param) || !query_parse_child(p, n, n->u.aggregate.expr))
        return NULL;
    return n;
}

/* ------------------------------------------------------------ primaries */

/* Keywords that may also name a metric (metric_identifier of the grammar). */
static bool is_metric_keyword(tok_type t)
{
    switch (t) {
    case T_BY:
    case T_WITHOUT:
    case T_OFFSET:
    case T_FILL:
    case T_FILL_LEFT:
    case T_FILL_RIGHT:
    case T_LAND:
    case T_LOR:
    case T_LUNLESS:
    case T_START:
    case T_END:
    case T_STEP:
    case T_RANGE:
    case T_ANCHORED:
    case T_SMOOTHED:
    case T_MAX_OF:
    case T_MIN_OF: return true;
    default: return t > T_AGGS_START && t < T_AGGS_END;
    }
}

static query_node *parse_primary(parser *p)
{
    tok_type t = p->tok.type;
    if (p->selector_only) {
        if (t == T_IDENT || t == T_METRIC_IDENT || is_metric_keyword(t))
            return query_parse_selector(p, true);
        if (t == T_LBRACE)
            return query_parse_selector(p, false);
        query_parse_unexpected(p, NULL, NULL);
        return NULL;
    }
    switch (t) {
    case T_NUMBER:
    case T_DURATION: {
        query_node *n = query_parse_node(p, QUERY_NODE_NUMBER, p->tok.pos, p->tok.pos + p->tok.len);
        if (!n || !query_parse_number_tok(p, &n->u.number.value))
            return NULL;
        n->type = QUERY_TYPE_SCALAR;
        n->u.number.is_duration = t == T_DURATION;
        query_parse_advance(p);
        return n;
    }
    case T_STRING: {
        query_node *n = query_parse_node(p, QUERY_NODE_STRING, p->tok.pos, p->tok.pos + p->tok.len);
        if (!n || !(n->u.string.value = query_parse_string_tok(p, &n->u.string.len)))
            return NULL;
        n->type = QUERY_TYPE_STRING;
        query_parse_advance(p);
        return n;
    }
    case T_LPAREN: {
        query_node *n = query_parse_node(p, QUERY_NODE_PAREN, p->tok.pos, 0);
        if (!n)
            return NULL;
        query_parse_advance(p);
        query_node *e = query_parse_expr(p, 0);
        if (!e)
            return NULL;
        if (p->tok.type != T_RPAREN) {
            query_parse_unexpected(p, NULL, NULL);
            return NULL;
        }
        n->pos_end = p->tok.pos + 1;
        query_parse_advance(p);
        n->u.paren.expr = e;
        n->type = e->type;
        return query_parse_child(p, n, e) ? n : NULL;
    }
    case T_LBRACE: return query_parse_selector(p, false);
    case T_IDENT:
        if (query_parse_peek(p)->type == T_LPAREN)
            return parse_call(p);
        return query_parse_selector(p, true);
    case T_METRIC_IDENT: return query_parse_selector(p, true);
    default: break;
    }
    if (t > T_AGGS_START && t < T_AGGS_END) {
        tok_type next = query_parse_peek(p)->type;
        if (next == T_LPAREN || next == T_BY || next == T_WITHOUT)
            return parse_aggregate(p);
        return query_parse_selector(p, true);
    }
    if (t == T_START || t == T_END || t == T_STEP || t == T_RANGE || t == T_MAX_OF || t == T_MIN_OF) {
        if (query_parse_peek(p)->type == T_LPAREN)
            return parse_call(p);
        return query_parse_selector(p, true);
    }
    if (is_metric_keyword(t))
        return query_parse_selector(p, true);
    if (t == T_EOF && p->at_start) {
        query_parse_fail(p, 0, "no expression found in input");
        return NULL;
    }
    query_parse_unexpected(p, NULL, NULL);
    return NULL;
}

/* ------------------------------------------------------------ unary and binary */

static int binary_prec(tok_type t)
{
    switch (t) {
    case T_LOR: return 1;
    case T_LAND:
    case T_LUNLESS: return 2;
    case T_EQLC:
    case T_NEQ:
    case T_LTE:
    case T_LSS:
    case T_GTE:
    case T_GTR:
    case T_TRIM_UPPER:
    case T_TRIM_LOWER: return 3;
    case T_ADD:
    case T_SUB: return 4;
    case T_MUL:
    case T_DIV:
    case T_MOD:
    case T_ATAN2: return 5;
    case T_POW: return 6;
    default: return 0;
    }
}

#define PREC_POW 6

static query_op binary_op(tok_type t)
{
    switch (t) {
    case T_LOR: return QUERY_OP_OR;
    case T_LAND: return QUERY_OP_AND;
    case T_LUNLESS: return QUERY_OP_UNLESS;
    case T_EQLC: return QUERY_OP_EQL;
    case T_NEQ: return QUERY_OP_NEQ;
    case T_LTE: return QUERY_OP_LTE;
    case T_LSS: return QUERY_OP_LSS;
    case T_GTE: return QUERY_OP_GTE;
    case T_GTR: return QUERY_OP_GTR;
    case T_TRIM_UPPER: return QUERY_OP_TRIM_UPPER;
    case T_TRIM_LOWER: return QUERY_OP_TRIM_LOWER;
    case T_ADD: return QUERY_OP_ADD;
    case T_SUB: return QUERY_OP_SUB;
    case T_MUL: return QUERY_OP_MUL;
    case T_DIV: return QUERY_OP_DIV;
    case T_MOD: return QUERY_OP_MOD;
    case T_ATAN2: return QUERY_OP_ATAN2;
    default: return QUERY_OP_POW;
    }
}

/* fill_value: "(" [+|-] number ")" */
static bool parse_fill_value(parser *p, double *v)
{
    query_parse_advance(p); /* the fill keyword; the lexer made it one only before "(" */
    if (p->tok.type != T_LPAREN) {
        query_parse_unexpected(p, NULL, NULL);
        return false;
    }
    query_parse_advance(p);
    bool neg = false;
    if (p->tok.type == T_ADD || p->tok.type == T_SUB) {
        neg = p->tok.type == T_SUB;
        query_parse_advance(p);
    }
    if (p->tok.type != T_NUMBER && p->tok.type != T_DURATION) {
        query_parse_unexpected(p, NULL, NULL);
        return false;
    }
    if (!query_parse_number_tok(p, v))
        return false;
    if (neg)
        *v = -*v;
    query_parse_advance(p);
    if (p->tok.type != T_RPAREN) {
        query_parse_unexpected(p, NULL, NULL);
        return false;
    }
    query_parse_advance(p);
    return true;
}

/* bool, on/ignoring (...), group_left/right [(...)], fill... */
static bool parse_bin_modifiers(parser *p, query_node *n)
{
    query_matching *m = &n->u.binary.matching;
    if (p->tok.type == T_BOOL) {
        n->u.binary.return_bool = true;
        query_parse_advance(p);
    }
    if (p->tok.type == T_ON || p->tok.type == T_IGNORING) {
        m->on = p->tok.type == T_ON;
        n->u.binary.has_matching = true;
        query_parse_advance(p);
        if (!query_parse_grouping(p, &m->labels, &m->n_labels))
            return false;
        if (p->tok.type == T_GROUP_LEFT || p->tok.type == T_GROUP_RIGHT) {
            m->card = p->tok.type == T_GROUP_LEFT ? QUERY_CARD_MANY_TO_ONE : QUERY_CARD_ONE_TO_MANY;
            query_parse_advance(p);
            if (p->tok.type == T_LPAREN && !query_parse_grouping(p, &m->include, &m->n_include))
                return false;
        }
    }
    if (p->tok.type == T_FILL) {
        if (!parse_fill_value(p, &m->fill_lhs_value))
            return false;
        m->fill_rhs_value = m->fill_lhs_value;
        m->fill_lhs = m->fill_rhs = true;
    } else if (p->tok.type == T_FILL_LEFT) {
        if (!parse_fill_value(p, &m->fill_lhs_value))
            return false;
        m->fill_lhs = true;
        if (p->tok.type == T_FILL_RIGHT) {
            if (!parse_fill_value(p, &m->fill_rhs_value))
                return false;
            m->fill_rhs = true;
        }
    } else if (p->tok.type == T_FILL_RIGHT) {
        if (!parse_fill_value(p, &m->fill_rhs_value))
            return false;
        m->fill_rhs = true;
        if (p->tok.type == T_FILL_LEFT) {
            if (!parse_fill_value(p, &m->fill_lhs_value))
                return false;
            m->fill_lhs = true;
        }
    }
    return true;
}

static query_node *parse_unary(parser *p)
{
    if (p->tok.type != T_ADD && p->tok.type != T_SUB)
        return query_parse_postfix(p, parse_primary(p));
    if (!depth_enter(p))
        return NULL;
    token op = p->tok;
    query_parse_advance(p);
    query_node *e = query_parse_expr(p, PREC_POW);
    p->depth--;
    if (!e)
        return NULL;
    if (e->kind == QUERY_NODE_NUMBER) {
        /* -1 is the number -1, as Prometheus folds it. */
        if (op.type == T_SUB)
            e->u.number.value = -e->u.number.value;
        e->pos_start = op.pos;
        return e;
    }
    query_node *n = query_parse_node(p, QUERY_NODE_UNARY, op.pos, e->pos_end);
    if (!n)
        return NULL;
    n->u.unary.op = op.type == T_SUB ? QUERY_OP_SUB : QUERY_OP_ADD;
    n->u.unary.expr = e;
    n->type = e->type;
    return query_parse_child(p, n, e) ? n : NULL;
}

query_node *query_parse_expr(parser *p, int min_prec)
{
    if (!depth_enter(p))
        return NULL;
    query_node *lhs = parse_unary(p);
    while (lhs) {
        int prec = p->selector_only ? 0 : binary_prec(p->tok.type);
        if (!prec || prec < min_prec)
            break;
        query_node *n = query_parse_node(p, QUERY_NODE_BINARY, lhs->pos_start, 0);
        if (!n)
            return NULL;
        n->u.binary.op = binary_op(p->tok.type);
        query_parse_advance(p);
        if (!parse_bin_modifiers(p, n))
            return NULL;
        query_node *rhs = query_parse_expr(p, n->u.binary.op == QUERY_OP_POW ? prec : prec + 1);
        if (!rhs)
            return NULL;
        n->u.binary.lhs = lhs;
        n->u.binary.rhs = rhs;
        n->pos_end = rhs->pos_end;
        n->type =
            lhs->type == QUERY_TYPE_SCALAR && rhs->type == QUERY_TYPE_SCALAR ? QUERY_TYPE_SCALAR : QUERY_TYPE_VECTOR;
        if (!query_parse_child(p, n, lhs) || !query_parse_child(p, n, rhs))
            return NULL;
        lhs = n;
    }
    p->depth--;
    return lhs;
}
