/*
 * printer.c: a tree back to text, three ways, each as Prometheus writes it:
 *   query_print   the one-line String() of promql/parser/printer.go, used
 *                 in messages and by /api/v1/parse_query; parsing it gives
 *                 an equal tree (the fuzzer holds us to that)
 *   query_pretty  Pretty() of prettier.go, /api/v1/format_query: a node
 *                 whose one-line form is longer than 100 bytes is split,
 *                 its operands indented two spaces a level
 *   query_json    translateAST of web/api/v1/translate_ast.go, the AST
 *                 as JSON, keys sorted as Go's encoding/json sorts them
 *
 * Numbers are written in Go's FormatFloat(v, 'f', -1) form (shortest
 * digits that read back, never an exponent), durations as model.Duration
 * (1h30m, 1w, 500ms), strings with Go's strconv.Quote escapes.
 *
 * Recursion follows the tree, whose height the parser bounds.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "num/num.h"
#include "parse_int.h"

#define PRETTY_WIDTH 100

static int put(bbuf *b, const char *s) { return base_buf_append(b, s, strlen(s)); }

/* ------------------------------------------------------------ numbers */

/* Splits num_format_double's shortest form into sign, digits and the
 * decimal exponent: value = 0.d1d2d3... * 10^exp. False for NaN/Inf. */
static bool shortest_digits(double v, bool *neg, char *digits, int *nd, int *exp)
{
    char s[NUM_DOUBLE_MAX + 1];
    size_t n = num_format_double(v, s);
    s[n] = 0;
    if (isnan(v) || isinf(v))
        return false;
    const char *p = s;
    *neg = *p == '-';
    if (*neg)
        p++;
    int k = 0, point = -1, e = 0;
    for (; *p && *p != 'e'; p++) {
        if (*p == '.') {
            point = k;
            continue;
        }
        digits[k++] = *p;
    }
    if (*p == 'e')
        e = atoi(p + 1);
    if (point < 0)
        point = k;
    /* strip leading zeros */
    int lead = 0;
    while (lead < k - 1 && digits[lead] == '0')
        lead++, point--;
    memmove(digits, digits + lead, (size_t)(k - lead));
    k -= lead;
    while (k > 1 && digits[k - 1] == '0')
        k--;
    *nd = k;
    *exp = point + e;
    if (k == 1 && digits[0] == '0')
        *exp = 1;
    return true;
}

/* FormatFloat(v, 'f', -1, 64) */
static int put_float_f(bbuf *b, double v)
{
    if (isnan(v))
        return put(b, "NaN");
    if (isinf(v))
        return put(b, v > 0 ? "+Inf" : "-Inf");
    bool neg;
    char d[40];
    int nd, exp;
    shortest_digits(v, &neg, d, &nd, &exp);
    int rc = neg ? put(b, "-") : STRATA_OK;
    if (exp <= 0) {
        rc |= put(b, "0.");
        for (int i = 0; i < -exp; i++)
            rc |= put(b, "0");
        rc |= base_buf_append(b, d, (size_t)nd);
    } else if (exp >= nd) {
        rc |= base_buf_append(b, d, (size_t)nd);
        for (int i = nd; i < exp; i++)
            rc |= put(b, "0");
    } else {
        rc |= base_buf_append(b, d, (size_t)exp);
        rc |= put(b, ".");
        rc |= base_buf_append(b, d + exp, (size_t)(nd - exp));
    }
    return rc ? STRATA_ERR_NOMEM : STRATA_OK;
}

/* Go's %v of a float64: %g with the shortest digits, exponent form when
 * the exponent is < -4 or >= 21 digits... as strconv does with eprec 6. */
static int put_float_v(bbuf *b, double v)
{
    if (isnan(v))
        return put(b, "NaN");
    if (isinf(v))
        return put(b, v > 0 ? "+Inf" : "-Inf");
    bool neg;
    char d[40];
    int nd, exp;
    shortest_digits(v, &neg, d, &nd, &exp);
    int x = exp - 1;
    if (x >= -4 && x < 6)
        return put_float_f(b, v);
    char s[64];
    int n = 0;
    if (neg)
        s[n++] = '-';
    s[n++] = d[0];
    if (nd > 1) {
        s[n++] = '.';
        memcpy(s + n, d + 1, (size_t)(nd - 1));
        n += nd - 1;
    }
    n += snprintf(s + n, sizeof s - (size_t)n, "e%c%02d", x < 0 ? '-' : '+', abs(x));
    return base_buf_append(b, s, (size_t)n);
}

int query_print_duration(int64_t ms, bbuf *out)
{
    static const struct {
        const char *unit;
        int64_t mult;
        bool exact;
    } units[] = {
        {"y", 365LL * 86400000, true}, {"w", 7LL * 86400000, true}, {"d", 86400000, false}, {"h", 3600000, false},
        {"m", 60000, false},           {"s", 1000, false},          {"ms", 1, false}};
    if (ms == 0)
        return put(out, "0s");
    int rc = STRATA_OK;
    if (ms < 0) {
        rc |= put(out, "-");
        ms = ms == INT64_MIN ? INT64_MAX : -ms;
    }
    for (size_t i = 0; i < ARRAY_LEN(units); i++) {
        if (units[i].exact && ms % units[i].mult != 0)
            continue;
        int64_t v = ms / units[i].mult;
        if (v > 0) {
            char s[32];
            int n = snprintf(s, sizeof s, "%lld%s", (long long)v, units[i].unit);
            rc |= base_buf_append(out, s, (size_t)n);
            ms -= v * units[i].mult;
        }
    }
    return rc ? STRATA_ERR_NOMEM : STRATA_OK;
}

/* A NumberLiteral written as a duration. Prometheus prints
 * model.Duration(seconds * 1e9), which truncates: 2343331667.25 s times
 * 1e9 is a hair below ...250 ms in float64, so it prints ...249ms and the
 * number drifts by 1 ms on every round trip. The milliseconds are
 * rounded here (the literal had whole milliseconds to begin with). */
static int put_seconds_duration(bbuf *b, double v)
{
    int rc = STRATA_OK;
    if (v < 0) {
        rc |= put(b, "-");
        v = -v;
    }
    double ms = round(v * 1000.0);
    return rc || query_print_duration(ms >= 9.2233720368547758e18 ? INT64_MAX : (int64_t)ms, b);
}

/* ------------------------------------------------------------ strings */

/* strconv.IsPrint for the runes it refuses that a query may plausibly
 * hold: C1 controls, spaces other than ' ', format characters, private
 * use (not the whole Unicode table). */
static bool go_printable(int32_t r)
{
    return !((r >= 0x80 && r <= 0xa0) || r == 0xad || r == 0x1680 || (r >= 0x2000 && r <= 0x200f) ||
             (r >= 0x2028 && r <= 0x202f) || (r >= 0x205f && r <= 0x206f) || r == 0x3000 || r == 0xfeff ||
             (r >= 0xfff9 && r <= 0xfffb) || (r >= 0xe000 && r <= 0xf8ff) || r >= 0xf0000);
}

/* strconv.Quote */
static int put_quoted(bbuf *b, const char *s, size_t n)
{
    int rc = put(b, "\"");
    for (size_t i = 0; i < n;) {
        int w;
        int32_t r = query_lex_utf8(s + i, (int64_t)(n - i), &w);
        char e[16];
        const char *o = NULL;
        if (r < 0) {
            snprintf(e, sizeof e, "\\x%02x", (unsigned char)s[i]);
            o = e;
        } else if (r == '"')
            o = "\\\"";
        else if (r == '\\')
            o = "\\\\";
        else if (r == '\a')
            o = "\\a";
        else if (r == '\b')
            o = "\\b";
        else if (r == '\f')
            o = "\\f";
        else if (r == '\n')
            o = "\\n";
        else if (r == '\r')
            o = "\\r";
        else if (r == '\t')
            o = "\\t";
        else if (r == '\v')
            o = "\\v";
        else if (r < 0x20 || r == 0x7f) {
            snprintf(e, sizeof e, "\\x%02x", (unsigned)r);
            o = e;
        } else if (!go_printable(r)) {
            snprintf(e, sizeof e, r > 0xffff ? "\\U%08x" : "\\u%04x", (unsigned)r);
            o = e;
        }
        if (o)
            rc |= put(b, o);
        else
            rc |= base_buf_append(b, s + i, (size_t)w);
        i += (size_t)w;
    }
    return rc || put(b, "\"");
}

/* Label names: bare when they are legacy names ([a-zA-Z_][a-zA-Z0-9_]*). */
static bool legacy_name(const char *s)
{
    if (!*s)
        return false;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')))
            return false;
    }
    return true;
}

static int put_label(bbuf *b, const char *s) { return legacy_name(s) ? put(b, s) : put_quoted(b, s, strlen(s)); }

static int put_labels(bbuf *b, char **v, size_t n)
{
    int rc = STRATA_OK;
    for (size_t i = 0; i < n; i++) {
        if (i)
            rc |= put(b, ", ");
        rc |= put_label(b, v[i]);
    }
    return rc;
}

/* ------------------------------------------------------------ String() */

static int print(const query_node *n, bbuf *b);

static const char *match_op(strata_match_type t)
{
    switch (t) {
    case STRATA_MATCH_NEQ: return "!=";
    case STRATA_MATCH_RE: return "=~";
    case STRATA_MATCH_NRE: return "!~";
    default: return "=";
    }
}

static int cmp_str(const void *a, const void *b)
{
    const bbuf *x = a, *y = b;
    size_t n = MIN(x->len, y->len);
    int c = memcmp(x->data, y->data, n);
    return c ? c : (x->len < y->len ? -1 : x->len > y->len);
}

static int put_offset(bbuf *b, int64_t ms, const query_node *expr)
{
    if (expr)
        return put(b, " offset ") || print(expr, b);
    if (ms > 0)
        return put(b, " offset ") || query_print_duration(ms, b);
    if (ms < 0)
        return put(b, " offset -") || query_print_duration(ms == INT64_MIN ? INT64_MAX : -ms, b);
    return STRATA_OK;
}

static int put_at(bbuf *b, query_at at, int64_t at_ms)
{
    if (at == QUERY_AT_TIMESTAMP) {
        /* Prometheus' %.3f of at_ms / 1000, in integers so that times far
         * from the epoch keep their last millisecond. */
        char s[64];
        uint64_t u = at_ms < 0 ? 0 - (uint64_t)at_ms : (uint64_t)at_ms;
        int n = snprintf(s, sizeof s, " @ %s%llu.%03u", at_ms < 0 ? "-" : "", (unsigned long long)(u / 1000),
                         (unsigned)(u % 1000));
        return base_buf_append(b, s, (size_t)n);
    }
    if (at == QUERY_AT_START)
        return put(b, " @ start()");
    if (at == QUERY_AT_END)
        return put(b, " @ end()");
    return STRATA_OK;
}

/* name{sorted matchers}, without the modifiers. */
static int print_selector_core(const query_node *n, bbuf *b)
{
    const char *name = n->u.vs.name;
    int rc = name ? put(b, name) : STRATA_OK;
    size_t k = n->u.vs.n_matchers, m = 0;
    bbuf *parts = base_calloc(k ? k : 1, sizeof *parts);
    if (!parts)
        return STRATA_ERR_NOMEM;
    for (size_t i = 0; i < k; i++) {
        const strata_matcher *mt = &n->u.vs.matchers[i];
        if (name && mt->type == STRATA_MATCH_EQ && strcmp(mt->name, "__name__") == 0 && strcmp(mt->value, name) == 0 &&
            *mt->value)
            continue;
        bbuf *pb = &parts[m++];
        rc |= put_label(pb, mt->name);
        rc |= put(pb, match_op(mt->type));
        rc |= put_quoted(pb, mt->value, strlen(mt->value));
    }
    if (m) {
        qsort(parts, m, sizeof *parts, cmp_str);
        rc |= put(b, "{");
        for (size_t i = 0; i < m; i++) {
            if (i)
                rc |= put(b, ",");
            rc |= base_buf_append(b, parts[i].data, parts[i].len);
        }
        rc |= put(b, "}");
    }
    for (size_t i = 0; i < m; i++)
        base_buf_free(&parts[i]);
    base_free(parts);
    return rc;
}

static int print_matching(const query_node *n, bbuf *b)
{
    const query_matching *m = &n->u.binary.matching;
    int rc = STRATA_OK;
    bool group = m->card == QUERY_CARD_MANY_TO_ONE || m->card == QUERY_CARD_ONE_TO_MANY;
    if (m->n_labels > 0 || m->on || group) {
        rc |= put(b, m->on ? " on (" : " ignoring (");
        rc |= put_labels(b, m->labels, m->n_labels);
        rc |= put(b, ")");
    }
    if (group) {
        rc |= put(b, m->card == QUERY_CARD_MANY_TO_ONE ? " group_left (" : " group_right (");
        rc |= put_labels(b, m->include, m->n_include);
        rc |= put(b, ")");
    }
    if (m->fill_lhs && m->fill_rhs && (m->fill_lhs_value == m->fill_rhs_value)) {
        rc |= put(b, " fill (") || put_float_v(b, m->fill_lhs_value) || put(b, ")");
    } else {
        if (m->fill_lhs)
            rc |= put(b, " fill_left (") || put_float_v(b, m->fill_lhs_value) || put(b, ")");
        if (m->fill_rhs)
            rc |= put(b, " fill_right (") || put_float_v(b, m->fill_rhs_value) || put(b, ")");
    }
    return rc;
}

static int print_agg_op(const query_node *n, bbuf *b)
{
    int rc = put(b, query_agg_name(n->u.aggregate.op));
    if (n->u.aggregate.without || n->u.aggregate.n_grouping) {
        rc |= put(b, n->u.aggregate.without ? " without (" : " by (");
        rc |= put_labels(b, n->u.aggregate.grouping, n->u.aggregate.n_grouping);
        rc |= put(b, ") ");
    }
    return rc;
}

static int print_subquery_suffix(const query_node *n, bbuf *b)
{
    int rc = put(b, "[");
    rc |=
        n->u.subquery.range_expr ? print(n->u.subquery.range_expr, b) : query_print_duration(n->u.subquery.range_ms, b);
    rc |= put(b, ":");
    if (n->u.subquery.step_ms != 0)
        rc |= query_print_duration(n->u.subquery.step_ms, b);
    else if (n->u.subquery.step_expr)
        rc |= print(n->u.subquery.step_expr, b);
    rc |= put(b, "]");
    rc |= put_at(b, n->u.subquery.at, n->u.subquery.at_ms);
    rc |= put_offset(b, n->u.subquery.offset_ms, n->u.subquery.offset_expr);
    return rc;
}

/* +Inf as the base of ^ is written "Inf": Prometheus' "+Inf ^ 2" would
 * read back as +(Inf ^ 2), and grow a "+" with every round trip. */
static bool inf_base(const query_node *n)
{
    const query_node *l = n->u.binary.lhs;
    return n->u.binary.op == QUERY_OP_POW && l->kind == QUERY_NODE_NUMBER && !l->u.number.is_duration &&
           isinf(l->u.number.value) && l->u.number.value > 0;
}

static int print(const query_node *n, bbuf *b)
{
    int rc = STRATA_OK;
    switch (n->kind) {
    case QUERY_NODE_NUMBER:
        if (n->u.number.is_duration)
            return put_seconds_duration(b, n->u.number.value);
        return put_float_f(b, n->u.number.value);
    case QUERY_NODE_STRING: return put_quoted(b, n->u.string.value, n->u.string.len);
    case QUERY_NODE_PAREN: return put(b, "(") || print(n->u.paren.expr, b) || put(b, ")");
    case QUERY_NODE_UNARY: return put(b, query_op_name(n->u.unary.op)) || print(n->u.unary.expr, b);
    case QUERY_NODE_BINARY:
        rc |= inf_base(n) ? put(b, "Inf") : print(n->u.binary.lhs, b);
        rc |= put(b, " ");
        rc |= put(b, query_op_name(n->u.binary.op));
        if (n->u.binary.return_bool)
            rc |= put(b, " bool");
        rc |= print_matching(n, b);
        rc |= put(b, " ");
        return rc || print(n->u.binary.rhs, b);
    case QUERY_NODE_AGGREGATE:
        rc |= print_agg_op(n, b);
        rc |= put(b, "(");
        if (n->u.aggregate.param)
            rc |= print(n->u.aggregate.param, b) || put(b, ", ");
        return rc || print(n->u.aggregate.expr, b) || put(b, ")");
    case QUERY_NODE_CALL:
        rc |= put(b, n->u.call.func->name);
        rc |= put(b, "(");
        for (size_t i = 0; i < n->u.call.n_args; i++) {
            if (i)
                rc |= put(b, ", ");
            rc |= print(n->u.call.args[i], b);
        }
        return rc || put(b, ")");
    case QUERY_NODE_VECTOR_SELECTOR:
        rc |= print_selector_core(n, b);
        rc |= put_at(b, n->u.vs.at, n->u.vs.at_ms);
        if (n->u.vs.anchored)
            rc |= put(b, " anchored");
        else if (n->u.vs.smoothed)
            rc |= put(b, " smoothed");
        return rc || put_offset(b, n->u.vs.offset_ms, n->u.vs.offset_expr);
    case QUERY_NODE_MATRIX_SELECTOR: {
        const query_node *vs = n->u.matrix.vs;
        rc |= print_selector_core(vs, b);
        rc |= put(b, "[");
        rc |= n->u.matrix.range_expr ? print(n->u.matrix.range_expr, b) : query_print_duration(n->u.matrix.range_ms, b);
        rc |= put(b, "]");
        if (vs->u.vs.anchored)
            rc |= put(b, " anchored");
        else if (vs->u.vs.smoothed)
            rc |= put(b, " smoothed");
        rc |= put_at(b, vs->u.vs.at, vs->u.vs.at_ms);
        return rc || put_offset(b, vs->u.vs.offset_ms, vs->u.vs.offset_expr);
    }
    case QUERY_NODE_SUBQUERY: return print(n->u.subquery.expr, b) || print_subquery_suffix(n, b);
    case QUERY_NODE_DURATION: {
        const query_node *l = n->u.duration.lhs, *r = n->u.duration.rhs;
        if (n->u.duration.wrapped)
            rc |= put(b, "(");
        switch (n->u.duration.op) {
        case QUERY_OP_STEP: rc |= put(b, "step()"); break;
        case QUERY_OP_RANGE: rc |= put(b, "range()"); break;
        case QUERY_OP_MIN_OF:
        case QUERY_OP_MAX_OF:
            rc |= put(b, n->u.duration.op == QUERY_OP_MIN_OF ? "min_of(" : "max_of(");
            rc |= print(l, b) || put(b, ", ") || print(r, b) || put(b, ")");
            break;
        default:
            if (!l) {
                if (n->u.duration.op == QUERY_OP_SUB)
                    rc |= put(b, "-");
                rc |= print(r, b);
            } else {
                rc |=
                    print(l, b) || put(b, " ") || put(b, query_op_name(n->u.duration.op)) || put(b, " ") || print(r, b);
            }
        }
        if (n->u.duration.wrapped)
            rc |= put(b, ")");
        return rc;
    }
    }
    return STRATA_OK;
}

int query_print(const query_node *node, bbuf *out) { return print(node, out) ? STRATA_ERR_NOMEM : STRATA_OK; }

/* ------------------------------------------------------------ Pretty() */

static size_t string_len(const query_node *n, int *rc)
{
    bbuf t = {0};
    *rc |= print(n, &t);
    size_t len = t.len;
    base_buf_free(&t);
    return len;
}

static int indent(bbuf *b, int level)
{
    int rc = STRATA_OK;
    for (int i = 0; i < level; i++)
        rc |= put(b, "  ");
    return rc;
}

static int pretty(const query_node *n, int level, size_t width, bbuf *b)
{
    int rc = STRATA_OK;
    bool split = false;
    switch (n->kind) {
    case QUERY_NODE_AGGREGATE:
    case QUERY_NODE_BINARY:
    case QUERY_NODE_CALL:
    case QUERY_NODE_PAREN:
    case QUERY_NODE_SUBQUERY: split = string_len(n, &rc) > width; break;
    default: break;
    }
    if (n->kind == QUERY_NODE_SUBQUERY) {
        if (!split)
            return rc || print(n, b); /* without indentation, as prettier.go */
        return rc || pretty(n->u.subquery.expr, level, width, b) || print_subquery_suffix(n, b);
    }
    if (n->kind == QUERY_NODE_UNARY) {
        bbuf child = {0};
        rc |= pretty(n->u.unary.expr, level, width, &child);
        size_t s = 0, e = child.len;
        while (s < e && query_lex_is_space(child.data[s]))
            s++;
        while (e > s && query_lex_is_space(child.data[e - 1]))
            e--;
        rc |= indent(b, level) || put(b, query_op_name(n->u.unary.op)) || base_buf_append(b, child.data + s, e - s);
        base_buf_free(&child);
        return rc;
    }
    if (!split)
        return rc || indent(b, level) || print(n, b);
    switch (n->kind) {
    case QUERY_NODE_AGGREGATE:
        rc |= indent(b, level) || print_agg_op(n, b) || put(b, "(\n");
        if (n->u.aggregate.param)
            rc |= pretty(n->u.aggregate.param, level + 1, width, b) || put(b, ",\n");
        return rc || pretty(n->u.aggregate.expr, level + 1, width, b) || put(b, "\n") || indent(b, level) ||
               put(b, ")");
    case QUERY_NODE_BINARY:
        rc |= (inf_base(n) ? indent(b, level + 1) || put(b, "Inf") : pretty(n->u.binary.lhs, level + 1, width, b)) ||
              put(b, "\n") || indent(b, level);
        rc |= put(b, query_op_name(n->u.binary.op));
        if (n->u.binary.return_bool)
            rc |= put(b, " bool");
        rc |= print_matching(n, b) || put(b, "\n");
        return rc || pretty(n->u.binary.rhs, level + 1, width, b);
    case QUERY_NODE_CALL:
        rc |= indent(b, level) || put(b, n->u.call.func->name) || put(b, "(\n");
        for (size_t i = 0; i < n->u.call.n_args; i++) {
            if (i)
                rc |= put(b, ",\n");
            rc |= pretty(n->u.call.args[i], level + 1, width, b);
        }
        return rc || put(b, "\n") || indent(b, level) || put(b, ")");
    case QUERY_NODE_PAREN:
        rc |= indent(b, level) || put(b, "(\n") || pretty(n->u.paren.expr, level + 1, width, b);
        return rc || put(b, "\n") || indent(b, level) || put(b, ")");
    default: return rc || indent(b, level) || print(n, b);
    }
}

int query_pretty(const query_node *node, bbuf *out) { return query_pretty_width(node, PRETTY_WIDTH, out); }

int query_pretty_width(const query_node *node, size_t width, bbuf *out)
{
    return pretty(node, 0, width, out) ? STRATA_ERR_NOMEM : STRATA_OK;
}
