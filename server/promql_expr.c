/*
 * promql_expr.c: the part of PromQL beyond bare selectors that strata
 * evaluates: aggregations and range-vector functions, over instant and
 * range queries.
 *
 *   expr  := agg | func | selector
 *   agg   := (sum|avg|min|max|count) [by|without (l, ...)] ( expr ) [by|without (l, ...)]
 *   func  := (rate|increase|delta|irate|idelta|avg_over_time|sum_over_time|min_over_time|
 *             max_over_time|count_over_time|last_over_time) ( selector[range] )
 *
 * Semantics follow Prometheus: functions and aggregations drop __name__;
 * rate/increase/delta extrapolate as Prometheus' extrapolatedRate does;
 * range windows are (t - range, t] with staleness markers removed; an
 * instant selector inside an aggregation uses the 5-minute lookback.
 * Every node is evaluated for all steps at once: a selector is read once
 * for the whole query range, then walked with pointers per step.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql.h"

typedef struct vser {
    strata_label *labels; /* owned */
    size_t n_labels;
    double *v;            /* one per step */
    uint8_t *has;
} vser;

typedef struct vres {
    vser *s;
    size_t n, cap;
} vres;

typedef struct steps {
    int64_t start, step;
    size_t n;
} steps;

enum { F_RATE, F_INCREASE, F_DELTA, F_IRATE, F_IDELTA, F_AVG, F_SUM, F_MIN, F_MAX, F_COUNT, F_LAST };
static const char *const func_names[] = {"rate", "increase", "delta", "irate", "idelta", "avg_over_time",
                                         "sum_over_time", "min_over_time", "max_over_time", "count_over_time",
                                         "last_over_time"};
enum { A_SUM, A_AVG, A_MIN, A_MAX, A_COUNT };
static const char *const agg_names[] = {"sum", "avg", "min", "max", "count"};

typedef struct node {
    enum { N_SEL, N_FUNC, N_AGG } kind;
    int op;
    strata_selector sel;  /* N_SEL, N_FUNC */
    int has_sel;
    int without;          /* N_AGG */
    char **grp;
    size_t n_grp;
    struct node *child;
} node;

typedef struct parser {
    const char *s;
    size_t pos, len;
    char *err;
    size_t errlen;
} parser;

static void node_free(node *n)
{
    if (!n)
        return;
    if (n->has_sel)
        strata_selector_free(&n->sel);
    for (size_t i = 0; i < n->n_grp; i++)
        free(n->grp[i]);
    free(n->grp);
    node_free(n->child);
    free(n);
}

static void vres_free(vres *r)
{
    for (size_t i = 0; i < r->n; i++) {
        for (size_t j = 0; j < r->s[i].n_labels; j++) {
            free((char *)r->s[i].labels[j].name);
            free((char *)r->s[i].labels[j].value);
        }
        free(r->s[i].labels);
        free(r->s[i].v);
        free(r->s[i].has);
    }
    free(r->s);
    memset(r, 0, sizeof *r);
}

/* Adds a series with copies of the labels (skipping __name__ when
 * drop_name); returns it or NULL on NOMEM. */
static vser *vres_add(vres *r, const strata_label *l, size_t nl, int drop_name, size_t n_steps)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        vser *s = realloc(r->s, cap * sizeof *s);
        if (!s)
            return NULL;
        r->s = s;
        r->cap = cap;
    }
    vser *s = &r->s[r->n];
    memset(s, 0, sizeof *s);
    s->labels = calloc(nl ? nl : 1, sizeof *s->labels);
    s->v = calloc(n_steps ? n_steps : 1, sizeof *s->v);
    s->has = calloc(n_steps ? n_steps : 1, 1);
    r->n++;
    if (!s->labels || !s->v || !s->has)
        return NULL;
    for (size_t i = 0; i < nl; i++) {
        if (drop_name && !strcmp(l[i].name, "__name__"))
            continue;
        char *a = strdup(l[i].name), *b = strdup(l[i].value);
        if (!a || !b) {
            free(a);
            free(b);
            return NULL;
        }
        s->labels[s->n_labels].name = a;
        s->labels[s->n_labels].value = b;
        s->n_labels++;
    }
    return s;
}

/* ------------------------------------------------------------ parsing */

static void skip_ws(parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n'))
        p->pos++;
}

static int is_ident(char c, int first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (!first && c >= '0' && c <= '9');
}

static size_t ident_len(parser *p)
{
    size_t i = p->pos;
    while (i < p->len && is_ident(p->s[i], i == p->pos))
        i++;
    return i - p->pos;
}

static int word_is(parser *p, size_t n, const char *w)
{
    return strlen(w) == n && !strncmp(p->s + p->pos, w, n);
}

static int fail(parser *p, const char *what)
{
    snprintf(p->err, p->errlen, "parse error at char %zu: %s", p->pos + 1, what);
    return STRATA_ERR_INVALID;
}

static int expect(parser *p, char c)
{
    skip_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != c) {
        char m[40];
        snprintf(m, sizeof m, "expected '%c'", c);
        return fail(p, m);
    }
    p->pos++;
    return STRATA_OK;
}

/* The extent of a selector: name, {...} with quoted strings, [range]. */
static int parse_selector(parser *p, node *n)
{
    skip_ws(p);
    size_t b = p->pos, i = p->pos;
    while (i < p->len && is_ident(p->s[i], i == b))
        i++;
    if (i < p->len && p->s[i] == '{') {
        int q = 0;
        for (; i < p->len; i++) {
            char c = p->s[i];
            if (q) {
                if (c == '\\')
                    i++;
                else if (c == q)
                    q = 0;
            } else if (c == '"' || c == '\'' || c == '`') {
                q = c;
            } else if (c == '}') {
                i++;
                break;
            }
        }
    }
    while (i < p->len && (p->s[i] == ' ' || p->s[i] == '\t'))
        i++;
    if (i < p->len && p->s[i] == '[') {
        while (i < p->len && p->s[i] != ']')
            i++;
        if (i < p->len)
            i++;
    }
    if (i == b)
        return fail(p, "expected a selector");
    char *text = strndup(p->s + b, i - b);
    if (!text)
        return STRATA_ERR_NOMEM;
    char err[200] = "";
    int rc = strata_selector_parse(text, &n->sel, err, sizeof err);
    free(text);
    if (rc == STRATA_ERR_INVALID) {
        snprintf(p->err, p->errlen, "parse error in selector at char %zu: %s", b + 1, err);
        return rc;
    }
    if (rc)
        return rc;
    n->has_sel = 1;
    p->pos = i;
    return STRATA_OK;
}

static int parse_grouping(parser *p, node *n)
{
    skip_ws(p);
    size_t w = ident_len(p);
    if (!word_is(p, w, "by") && !word_is(p, w, "without"))
        return STRATA_OK;
    if (n->grp || n->without)
        return fail(p, "grouping given twice");
    n->without = word_is(p, w, "without");
    p->pos += w;
    int rc = expect(p, '(');
    if (rc)
        return rc;
    for (;;) {
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ')') {
            p->pos++;
            break;
        }
        size_t l = ident_len(p);
        if (!l)
            return fail(p, "expected a label name");
        char **g = realloc(n->grp, (n->n_grp + 1) * sizeof *g);
        if (!g)
            return STRATA_ERR_NOMEM;
        n->grp = g;
        if (!(n->grp[n->n_grp] = strndup(p->s + p->pos, l)))
            return STRATA_ERR_NOMEM;
        n->n_grp++;
        p->pos += l;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',')
            p->pos++;
    }
    if (!n->grp)
        n->grp = calloc(1, sizeof *n->grp); /* "by ()" groups everything */
    return n->grp ? STRATA_OK : STRATA_ERR_NOMEM;
}

static int parse_expr(parser *p, node **out, int depth)
{
    if (depth > 32)
        return fail(p, "expression nested too deeply");
    skip_ws(p);
    node *n = calloc(1, sizeof *n);
    if (!n)
        return STRATA_ERR_NOMEM;
    int rc = STRATA_OK;
    size_t w = ident_len(p);
    size_t save = p->pos;
    int op = -1, fn = -1;
    for (int i = 0; i < (int)(sizeof agg_names / sizeof *agg_names); i++)
        if (word_is(p, w, agg_names[i]))
            op = i;
    for (int i = 0; i < (int)(sizeof func_names / sizeof *func_names); i++)
        if (word_is(p, w, func_names[i]))
            fn = i;
    if (op >= 0 || fn >= 0) {
        p->pos += w;
        skip_ws(p);
        size_t w2 = ident_len(p);
        int is_call = p->pos < p->len && (p->s[p->pos] == '(' || (op >= 0 && (word_is(p, w2, "by") || word_is(p, w2, "without"))));
        if (!is_call)
            p->pos = save; /* a metric named like a function */
    }
    if (p->pos != save && op >= 0) {
        n->kind = N_AGG;
        n->op = op;
        if ((rc = parse_grouping(p, n)) || (rc = expect(p, '(')) || (rc = parse_expr(p, &n->child, depth + 1)) ||
            (rc = expect(p, ')')) || (rc = parse_grouping(p, n)))
            goto err;
    } else if (p->pos != save && fn >= 0) {
        n->kind = N_FUNC;
        n->op = fn;
        if ((rc = expect(p, '(')) || (rc = parse_selector(p, n)) || (rc = expect(p, ')')))
            goto err;
        if (n->sel.range_ms <= 0) {
            rc = fail(p, "expected a range vector argument");
            goto err;
        }
    } else {
        n->kind = N_SEL;
        if ((rc = parse_selector(p, n)) != 0)
            goto err;
        if (n->sel.range_ms > 0 && depth > 0) {
            rc = fail(p, "a range vector where an instant vector is expected");
            goto err;
        }
    }
    *out = n;
    return STRATA_OK;
err:
    node_free(n);
    return rc;
}

/* ------------------------------------------------------------ evaluation */

static int is_stale(double v)
{
    uint64_t b;
    memcpy(&b, &v, 8);
    return b == PQ_STALE_NAN_BITS;
}

/* Prometheus' extrapolatedRate over samples t[0..n) in window (lo, hi]. */
static int extrapolated(const int64_t *t, const double *v, size_t n, int64_t lo, int64_t hi, int counter, int rate,
                        double *out)
{
    if (n < 2)
        return 0;
    double result = v[n - 1] - v[0];
    if (counter)
        for (size_t i = 1; i < n; i++)
            if (v[i] < v[i - 1])
                result += v[i - 1];
    double to_start = (double)(t[0] - lo) / 1000.0, to_end = (double)(hi - t[n - 1]) / 1000.0;
    double sampled = (double)(t[n - 1] - t[0]) / 1000.0;
    double avg = sampled / (double)(n - 1);
    if (counter && result > 0 && v[0] >= 0) {
        double to_zero = sampled * (v[0] / result);
        if (to_zero < to_start)
            to_start = to_zero;
    }
    double thr = avg * 1.1, interval = sampled;
    interval += to_start < thr ? to_start : avg / 2;
    interval += to_end < thr ? to_end : avg / 2;
    result *= interval / sampled;
    if (rate)
        result /= (double)(hi - lo) / 1000.0;
    *out = result;
    return 1;
}

static int func_value(int fn, const int64_t *t, const double *v, size_t n, int64_t lo, int64_t hi, double *out)
{
    if (!n)
        return 0;
    switch (fn) {
    case F_RATE: return extrapolated(t, v, n, lo, hi, 1, 1, out);
    case F_INCREASE: return extrapolated(t, v, n, lo, hi, 1, 0, out);
    case F_DELTA: return extrapolated(t, v, n, lo, hi, 0, 0, out);
    case F_IRATE:
    case F_IDELTA: {
        if (n < 2)
            return 0;
        double d = v[n - 1] - v[n - 2];
        if (fn == F_IRATE) {
            if (v[n - 1] < v[n - 2])
                d = v[n - 1];
            d /= (double)(t[n - 1] - t[n - 2]) / 1000.0;
        }
        *out = d;
        return 1;
    }
    case F_AVG: {
        /* Prometheus' incremental mean, for the same rounding */
        double mean = v[0];
        for (size_t i = 1; i < n; i++)
            mean += v[i] / (double)(i + 1) - mean / (double)(i + 1);
        *out = mean;
        return 1;
    }
    case F_SUM: {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += v[i];
        *out = s;
        return 1;
    }
    case F_MIN:
    case F_MAX: {
        double m = v[0];
        for (size_t i = 1; i < n; i++)
            if ((fn == F_MIN ? v[i] < m : v[i] > m) || isnan(m))
                m = v[i];
        *out = m;
        return 1;
    }
    case F_COUNT: *out = (double)n; return 1;
    case F_LAST: *out = v[n - 1]; return 1;
    }
    return 0;
}

/* Reads a selector over the whole query and fills one vser per series. */
static int eval_leaf(strata_db *db, const node *nd, const steps *st, vres *out)
{
    int64_t window = nd->kind == N_FUNC ? nd->sel.range_ms : PQ_LOOKBACK_MS;
    int64_t t_end = st->start + (int64_t)(st->n - 1) * st->step;
    strata_cursor *c;
    int rc = strata_select(db, nd->sel.matchers, nd->sel.n_matchers, st->start - window + 1, t_end, &c);
    if (rc)
        return rc;
    int64_t *bt = NULL;
    double *bv = NULL;
    size_t bcap = 0;
    strata_sid sid;
    const strata_label *labels;
    size_t nl;
    while ((rc = strata_cursor_next_series(c, &sid, &labels, &nl)) == 1) {
        size_t bn = 0;
        /* range functions never see staleness markers */
        rc = pq_read_series(c, nd->kind == N_FUNC, &bt, &bv, &bn, &bcap);
        if (rc < 0)
            break;
        vser *s = NULL;
        size_t lo = 0, hi = 0;
        for (size_t i = 0; i < st->n; i++) {
            int64_t at = st->start + (int64_t)i * st->step;
            while (hi < bn && bt[hi] <= at)
                hi++;
            while (lo < hi && bt[lo] <= at - window)
                lo++;
            double val;
            int ok;
            if (nd->kind == N_FUNC)
                ok = func_value(nd->op, bt + lo, bv + lo, hi - lo, at - window, at, &val);
            else {
                ok = hi > lo && !is_stale(bv[hi - 1]);
                val = ok ? bv[hi - 1] : 0;
            }
            if (!ok)
                continue;
            if (!s && !(s = vres_add(out, labels, nl, nd->kind == N_FUNC, st->n))) {
                rc = STRATA_ERR_NOMEM;
                break;
            }
            s->v[i] = val;
            s->has[i] = 1;
        }
        if (rc < 0)
            break;
    }
    strata_cursor_close(c);
    free(bt);
    free(bv);
    return rc < 0 ? rc : STRATA_OK;
}

static int in_list(char *const *l, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(l[i], name))
            return 1;
    return 0;
}

static int eval_node(strata_db *db, const node *nd, const steps *st, vres *out);

static int eval_agg(strata_db *db, const node *nd, const steps *st, vres *out)
{
    vres in = {0};
    int rc = eval_node(db, nd->child, st, &in);
    if (rc)
        return rc;
    double *cnt = NULL;
    size_t cnt_cap = 0;
    strata_label *kl = NULL;
    for (size_t i = 0; i < in.n && !rc; i++) {
        vser *s = &in.s[i];
        /* the group's labels: by keeps the listed, without drops them */
        free(kl);
        kl = calloc(s->n_labels ? s->n_labels : 1, sizeof *kl);
        if (!kl) {
            rc = STRATA_ERR_NOMEM;
            break;
        }
        size_t nk = 0;
        for (size_t j = 0; j < s->n_labels; j++) {
            const char *ln = s->labels[j].name;
            int keep = nd->without ? !in_list(nd->grp, nd->n_grp, ln) && strcmp(ln, "__name__")
                                   : in_list(nd->grp, nd->n_grp, ln);
            if (keep)
                kl[nk++] = s->labels[j];
        }
        size_t g;
        for (g = 0; g < out->n; g++) {
            if (out->s[g].n_labels != nk)
                continue;
            size_t j = 0;
            while (j < nk && !strcmp(out->s[g].labels[j].name, kl[j].name) &&
                   !strcmp(out->s[g].labels[j].value, kl[j].value))
                j++;
            if (j == nk)
                break;
        }
        if (g == out->n) {
            if (!vres_add(out, kl, nk, 0, st->n)) {
                rc = STRATA_ERR_NOMEM;
                break;
            }
            if (out->n > cnt_cap) {
                size_t nc = cnt_cap ? cnt_cap * 2 : 16;
                double *c2 = realloc(cnt, nc * st->n * sizeof *c2);
                if (!c2) {
                    rc = STRATA_ERR_NOMEM;
                    break;
                }
                cnt = c2;
                cnt_cap = nc;
            }
            memset(cnt + g * st->n, 0, st->n * sizeof *cnt);
        }
        vser *o = &out->s[g];
        double *gc = cnt + g * st->n;
        for (size_t k = 0; k < st->n; k++) {
            if (!s->has[k])
                continue;
            double x = s->v[k];
            gc[k] += 1;
            if (!o->has[k]) {
                o->has[k] = 1;
                o->v[k] = nd->op == A_COUNT ? 1 : x;
                continue;
            }
            switch (nd->op) {
            case A_SUM: o->v[k] += x; break;
            case A_AVG: o->v[k] += x / gc[k] - o->v[k] / gc[k]; break; /* incremental mean */
            case A_MIN: if (x < o->v[k] || isnan(o->v[k])) o->v[k] = x; break;
            case A_MAX: if (x > o->v[k] || isnan(o->v[k])) o->v[k] = x; break;
            case A_COUNT: o->v[k] += 1; break;
            }
        }
    }
    free(kl);
    free(cnt);
    vres_free(&in);
    return rc;
}

static int eval_node(strata_db *db, const node *nd, const steps *st, vres *out)
{
    if (nd->kind == N_AGG)
        return eval_agg(db, nd, st, out);
    return eval_leaf(db, nd, st, out);
}

/* Moves a vres into a pq_result (points where a series has a value). */
static int to_result(vres *v, const steps *st, pq_result *r)
{
    r->series = calloc(v->n ? v->n : 1, sizeof *r->series);
    if (!r->series)
        return STRATA_ERR_NOMEM;
    for (size_t i = 0; i < v->n; i++) {
        vser *s = &v->s[i];
        pq_series *p = &r->series[r->n_series];
        size_t n = 0;
        for (size_t k = 0; k < st->n; k++)
            n += s->has[k];
        if (!n)
            continue;
        p->t = malloc(n * sizeof *p->t);
        p->v = malloc(n * sizeof *p->v);
        r->n_series++;
        if (!p->t || !p->v)
            return STRATA_ERR_NOMEM;
        for (size_t k = 0; k < st->n; k++)
            if (s->has[k]) {
                p->t[p->n] = st->start + (int64_t)k * st->step;
                p->v[p->n] = s->v[k];
                p->n++;
            }
        p->labels = s->labels;
        p->n_labels = s->n_labels;
        s->labels = NULL;
        s->n_labels = 0;
    }
    return STRATA_OK;
}

int pq_eval_expr(strata_db *db, const char *query, int64_t start, int64_t end, int64_t step, pq_result *r)
{
    parser p = {query, 0, strlen(query), r->error, sizeof r->error};
    node *root = NULL;
    int rc = parse_expr(&p, &root, 0);
    if (!rc) {
        skip_ws(&p);
        if (p.pos != p.len)
            rc = fail(&p, "unexpected text after the expression (only selectors, sum/avg/min/max/count and "
                          "rate/increase/delta/irate/idelta/*_over_time are implemented)");
    }
    if (rc) {
        node_free(root);
        return rc;
    }
    if (root->kind == N_SEL && root->sel.range_ms > 0) {
        node_free(root);
        return STRATA_ERR_NOTFOUND; /* a bare range selector: the caller's path */
    }
    steps st = {start, step > 0 ? step : 1, step > 0 ? (size_t)((end - start) / step) + 1 : 1};
    vres v = {0};
    rc = eval_node(db, root, &st, &v);
    node_free(root);
    if (!rc)
        rc = to_result(&v, &st, r);
    vres_free(&v);
    if (rc)
        pq_result_free(r);
    return rc;
}
