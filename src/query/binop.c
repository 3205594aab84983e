/*
 * binop.c: binary operators over scalars and vectors, with Prometheus'
 * vector matching (on / ignoring, group_left / group_right with included
 * labels, fill modifiers, bool) and its errors, word for word.
 *
 * Every series gets its matching signature once (a byte key of the labels
 * on() keeps or ignoring() leaves, always without __name__), interned to a
 * small integer. Then each step is Prometheus' per-step algorithm over
 * arrays indexed by signature, with generation stamps instead of clearing
 * maps, so a step costs a few array reads per series and no allocation.
 * Output series are found by their label set through a hash map, cached
 * per input series (or per pair under group_x with included labels).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "eval_int.h"

bool query_op_drops_name(query_op op)
{
    switch (op) {
    case QUERY_OP_ADD:
    case QUERY_OP_SUB:
    case QUERY_OP_MUL:
    case QUERY_OP_DIV:
    case QUERY_OP_MOD:
    case QUERY_OP_POW:
    case QUERY_OP_ATAN2:
        return true;
    default:
        return false;
    }
}

/* vectorElemBinop / scalarBinop: the value and whether a comparison holds. */
static double elem_op(query_op op, double l, double r, bool *keep)
{
    *keep = true;
    switch (op) {
    case QUERY_OP_ADD: return l + r;
    case QUERY_OP_SUB: return l - r;
    case QUERY_OP_MUL: return l * r;
    case QUERY_OP_DIV: return l / r;
    case QUERY_OP_POW: return pow(l, r);
    case QUERY_OP_MOD: return fmod(l, r);
    case QUERY_OP_ATAN2: return atan2(l, r);
    case QUERY_OP_EQL: *keep = l == r; return l;
    case QUERY_OP_NEQ: *keep = l != r; return l;
    case QUERY_OP_GTR: *keep = l > r; return l;
    case QUERY_OP_LSS: *keep = l < r; return l;
    case QUERY_OP_GTE: *keep = l >= r; return l;
    case QUERY_OP_LTE: *keep = l <= r; return l;
    default: *keep = false; return NAN;
    }
}

/* One series (op) scalar, in place: v / has over n steps; swap for
 * scalar (op) series. Comparisons clear the steps they filter out. */
void query_series_scalar_op(query_op op, bool ret_bool, bool swap, double *v, uint64_t *has, const double *sc,
                            size_t n)
{
    bool cmp = query_op_is_comparison(op);
    for (size_t w = 0; w < qbit_words(n); w++) {
        uint64_t bits = has[w];
        while (bits) {
            size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            double lf = v[i], rf = sc[i];
            if (swap) {
                double t = lf;
                lf = rf;
                rf = t;
            }
            bool keep;
            double r = elem_op(op, lf, rf, &keep);
            if (cmp && swap)
                r = rf;
            if (ret_bool) {
                r = keep ? 1 : 0;
                keep = true;
            }
            if (keep)
                v[i] = r;
            else
                qbit_clr(has, i);
        }
    }
}

/* ------------------------------------------------------------ scalar cases */

static int scalar_scalar(qctx *c, query_op op, qvalue *l, qvalue *r, qvalue *out)
{
    for (size_t i = 0; i < c->n_steps; i++) {
        bool keep;
        double v = elem_op(op, l->scalar[i], r->scalar[i], &keep);
        if (query_op_is_comparison(op))
            v = keep ? 1 : 0;
        l->scalar[i] = v;
    }
    *out = *l;
    memset(l, 0, sizeof *l);
    return 0;
}

/* vec op scalar (swap: scalar op vec) in place on vec. */
static int vector_scalar(qctx *c, query_op op, bool ret_bool, qvalue *vec, const qvalue *sc, bool swap, qvalue *out)
{
    for (size_t k = 0; k < vec->n; k++)
        query_series_scalar_op(op, ret_bool, swap, vec->s[k].v, vec->s[k].has, sc->scalar, c->n_steps);
    *out = *vec;
    memset(vec, 0, sizeof *vec);
    query_vector_prune(c, out);
    if (query_op_drops_name(op) || ret_bool)
        return query_vector_drop_names(c, out);
    return 0;
}

/* ------------------------------------------------------------ signatures */

typedef struct sigs {
    uint32_t *l, *r; /* signature ordinal of each series */
    size_t n;        /* distinct signatures */
} sigs;

static int compute_sigs(qctx *c, const query_matching *m, const qvalue *l, const qvalue *r, sigs *out)
{
    qmap map = {0};
    qkey key = {0};
    out->l = base_malloc((l->n + 1) * sizeof *out->l);
    out->r = base_malloc((r->n + 1) * sizeof *out->r);
    out->n = 0;
    int rc = (out->l && out->r) ? 0 : query_nomem(c);
    for (int side = 0; side < 2 && rc == 0; side++) {
        const qvalue *v = side ? r : l;
        uint32_t *dst = side ? out->r : out->l;
        for (size_t k = 0; k < v->n; k++) {
            int found;
            uint32_t idx;
            if (query_key_build(&key, &v->s[k].lab, (const char *const *)m->labels, m->n_labels, m->on, true) != 0 ||
                query_map_get_or_add(&map, key.p, key.len, (uint32_t)out->n, &idx, &found) != 0) {
                rc = query_nomem(c);
                break;
            }
            if (!found)
                out->n++;
            dst[k] = idx;
        }
    }
    query_map_free(&map);
    query_key_free(&key);
    return rc;
}

static void sigs_free(sigs *s)
{
    base_free(s->l);
    base_free(s->r);
}

/* ------------------------------------------------------------ set operators */

static int set_op(qctx *c, const query_node *n, qvalue *l, qvalue *r, qvalue *out)
{
    query_op op = n->u.binary.op;
    const query_matching *m = &n->u.binary.matching;
    sigs sg;
    int rc = compute_sigs(c, m, l, r, &sg);
    size_t words = qbit_words(c->n_steps);
    /* per signature: the steps where the other side has it */
    uint64_t *pres = rc ? NULL : base_calloc(sg.n * words + 1, sizeof *pres);
    if (rc == 0 && !pres)
        rc = query_nomem(c);
    if (rc == 0) {
        const qvalue *other = op == QUERY_OP_OR ? l : r;
        const uint32_t *osig = op == QUERY_OP_OR ? sg.l : sg.r;
        for (size_t k = 0; k < other->n; k++) {
            uint64_t *p = pres + (size_t)osig[k] * words;
            for (size_t w = 0; w < words; w++)
                p[w] |= other->s[k].has[w];
        }
        if (op == QUERY_OP_OR) {
            for (size_t k = 0; k < r->n; k++) {
                const uint64_t *p = pres + (size_t)sg.r[k] * words;
                for (size_t w = 0; w < words; w++)
                    r->s[k].has[w] &= ~p[w];
            }
        } else {
            for (size_t k = 0; k < l->n; k++) {
                const uint64_t *p = pres + (size_t)sg.l[k] * words;
                for (size_t w = 0; w < words; w++)
                    l->s[k].has[w] &= op == QUERY_OP_AND ? p[w] : ~p[w];
            }
        }
    }
    base_free(pres);
    sigs_free(&sg);
    if (rc)
        return rc;
    *out = *l;
    memset(l, 0, sizeof *l);
    if (op == QUERY_OP_OR) {
        /* append the right side's series that are left */
        for (size_t k = 0; k < r->n; k++) {
            qseries *s;
            if ((rc = query_vector_add(c, out, &r->s[k].lab, &s)) != 0)
                return rc;
            memcpy(s->v, r->s[k].v, c->n_steps * sizeof(double));
            memcpy(s->has, r->s[k].has, words * sizeof(uint64_t));
        }
    }
    query_vector_prune(c, out);
    return op == QUERY_OP_OR ? query_vector_dedupe(c, out) : 0;
}

/* ------------------------------------------------------------ arithmetic and comparison */

/* Prometheus' Labels.String(): {__name__="x", a="b"}. */
static void labels_string(const qlabels *l, char *buf, size_t cap)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, o < cap ? cap - o : 0, "{");
    for (size_t i = 0; i < l->n; i++)
        o += (size_t)snprintf(buf + o, o < cap ? cap - o : 0, "%s%s=\"%s\"", i ? ", " : "", l->v[i].name,
                              l->v[i].value);
    snprintf(buf + o, o < cap ? cap - o : 0, "}");
}

/* resultMetric: the output labels of lhs matched with rhs (rhs may be NULL under fill). */
static int result_labels(const query_node *n, const qlabels *lhs, const qlabels *rhs, qlabels *out)
{
    const query_matching *m = &n->u.binary.matching;
    qlabels cur, tmp;
    int rc;
    if (query_op_drops_name(n->u.binary.op) || n->u.binary.return_bool)
        rc = query_labels_drop_name(lhs, &cur);
    else
        rc = query_labels_copy(lhs, &cur);
    if (rc)
        return rc;
    if (m->card == QUERY_CARD_ONE_TO_ONE) {
        rc = query_labels_filter(&cur, (const char *const *)m->labels, m->n_labels, m->on, &tmp);
        query_labels_free(&cur);
        if (rc)
            return rc;
        cur = tmp;
    }
    for (size_t i = 0; i < m->n_include; i++) {
        const char *v = rhs ? query_labels_get(rhs, m->include[i]) : NULL;
        rc = query_labels_set(&cur, m->include[i], v ? v : "", &tmp);
        query_labels_free(&cur);
        if (rc)
            return rc;
        cur = tmp;
    }
    *out = cur;
    return 0;
}

/* The labels on()/ignoring() match: MatchLabels for fill's stand-in series. */
static int match_labels(const query_matching *m, const qlabels *l, qlabels *out)
{
    if (m->on)
        return query_labels_filter(l, (const char *const *)m->labels, m->n_labels, true, out);
    qlabels tmp;
    int rc = query_labels_filter(l, (const char *const *)m->labels, m->n_labels, false, &tmp);
    if (rc)
        return rc;
    rc = query_labels_drop_name(&tmp, out);
    query_labels_free(&tmp);
    return rc;
}

typedef struct outset {
    qmap map; /* output label key -> output series */
    qkey key;
} outset;

static int out_series(qctx *c, outset *os, qvalue *out, qlabels *lab, uint32_t *idx)
{
    static const char *const none[1] = {NULL};
    if (query_key_build(&os->key, lab, none, 0, false, false) != 0)
        return query_nomem(c);
    int found;
    if (query_map_get_or_add(&os->map, os->key.p, os->key.len, (uint32_t)out->n, idx, &found) != 0)
        return query_nomem(c);
    if (found) {
        query_labels_free(lab);
        return 0;
    }
    qseries *s;
    int rc = query_vector_add(c, out, lab, &s);
    if (rc)
        query_labels_free(lab);
    return rc;
}

static int vector_vector(qctx *c, const query_node *n, qvalue *lv, qvalue *rv, qvalue *out)
{
    query_op op = n->u.binary.op;
    const query_matching *m = &n->u.binary.matching;
    bool ret_bool = n->u.binary.return_bool;
    query_card card = m->card;
    bool swap = card == QUERY_CARD_ONE_TO_MANY;
    qvalue *l = swap ? rv : lv, *r = swap ? lv : rv;
    bool fill_r = m->fill_rhs, fill_l = m->fill_lhs;
    double fill_rv = m->fill_rhs_value, fill_lv = m->fill_lhs_value;
    sigs sg = {0};
    outset os = {0};
    query_vector_init(c, out);
    int rc = compute_sigs(c, m, l, r, &sg);
    if (rc)
        return rc;
    size_t ns = sg.n ? sg.n : 1;
    uint32_t *rs_at = base_malloc(ns * sizeof *rs_at);
    size_t *rs_gen = base_calloc(ns, sizeof *rs_gen), *match_gen = base_calloc(ns, sizeof *match_gen);
    uint32_t *out_of_l = base_malloc((l->n + 1) * sizeof *out_of_l);
    qmap pairs = {0};
    if (!rs_at || !rs_gen || !match_gen || !out_of_l)
        rc = query_nomem(c);
    for (size_t k = 0; out_of_l && k < l->n; k++)
        out_of_l[k] = UINT32_MAX;
    bool per_pair = card != QUERY_CARD_ONE_TO_ONE && m->n_include > 0;
    char msg_a[256], msg_b[256];
    for (size_t i = 0; rc == 0 && i < c->n_steps; i++) {
        size_t gen = i + 1;
        /* Prometheus' short-circuit comes first: with either side empty at
         * this step (both, or one and no fill) nothing matches, and no
         * duplicate on the other side is an error. */
        bool any_r = false, any_l = false;
        for (size_t k = 0; k < r->n && !any_r; k++)
            any_r = qbit(r->s[k].has, i);
        for (size_t k = 0; k < l->n && !any_l; k++)
            any_l = qbit(l->s[k].has, i);
        if (!any_l && !any_r)
            continue;
        if ((!any_l || !any_r) && !fill_l && !fill_r)
            continue;
        /* the "one" side: at most one series per signature */
        for (size_t k = 0; k < r->n; k++) {
            if (!qbit(r->s[k].has, i))
                continue;
            uint32_t sgn = sg.r[k];
            if (rs_gen[sgn] == gen) {
                qlabels ml;
                char mg[256] = "{}";
                if (match_labels(m, &r->s[k].lab, &ml) == 0) {
                    labels_string(&ml, mg, sizeof mg);
                    query_labels_free(&ml);
                }
                labels_string(&r->s[k].lab, msg_a, sizeof msg_a);
                labels_string(&r->s[rs_at[sgn]].lab, msg_b, sizeof msg_b);
                const char *d1 = msg_a, *d2 = msg_b;
                if (strcmp(d1, d2) > 0) {
                    d1 = msg_b;
                    d2 = msg_a;
                }
                rc = query_fail(c, QERR_EXECUTION,
                                "found duplicate series for the match group %s on the %s hand-side of the operation: "
                                "[%s, %s];many-to-many matching not allowed: matching labels must be unique on one side",
                                mg, swap ? "left" : "right", d1, d2);
                break;
            }
            rs_gen[sgn] = gen;
            rs_at[sgn] = (uint32_t)k;
        }
        if (rc)
            break;
        for (size_t k = 0; rc == 0 && k < l->n; k++) {
            if (!qbit(l->s[k].has, i))
                continue;
            uint32_t sgn = sg.l[k];
            bool have_r = rs_gen[sgn] == gen;
            if (!have_r && !fill_r)
                continue;
            double fl = l->s[k].v[i], fr = have_r ? r->s[rs_at[sgn]].v[i] : fill_rv;
            if (swap) {
                double t = fl;
                fl = fr;
                fr = t;
            }
            bool keep;
            double v = elem_op(op, fl, fr, &keep);
            if (ret_bool)
                v = keep ? 1 : 0;
            uint32_t oi;
            if (card == QUERY_CARD_ONE_TO_ONE) {
                if (match_gen[sgn] == gen) {
                    rc = query_fail(c, QERR_EXECUTION,
                                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)");
                    break;
                }
            }
            match_gen[sgn] = gen;
            if (!have_r || (per_pair && have_r)) {
                qlabels lab, stand_in = {0};
                const qlabels *rl = NULL;
                if (have_r) {
                    rl = &r->s[rs_at[sgn]].lab;
                } else if (match_labels(m, &l->s[k].lab, &stand_in) == 0) {
                    rl = &stand_in;
                }
                if (!have_r && !rl) {
                    rc = query_nomem(c);
                    break;
                }
                uint32_t pair_idx = UINT32_MAX;
                int found = 0;
                uint64_t pk[2] = {k, have_r ? rs_at[sgn] : UINT32_MAX};
                if (have_r && query_map_find(&pairs, (const char *)pk, sizeof pk, &pair_idx))
                    found = 1;
                if (found) {
                    oi = pair_idx;
                } else {
                    rc = result_labels(n, &l->s[k].lab, rl, &lab);
                    if (rc == 0)
                        rc = out_series(c, &os, out, &lab, &oi);
                    else
                        rc = query_nomem(c);
                    if (rc == 0 && have_r &&
                        query_map_get_or_add(&pairs, (const char *)pk, sizeof pk, oi, &pair_idx, &found) != 0)
                        rc = query_nomem(c);
                }
                query_labels_free(&stand_in);
                if (rc)
                    break;
            } else {
                if (out_of_l[k] == UINT32_MAX) {
                    qlabels lab;
                    if (result_labels(n, &l->s[k].lab, &r->s[rs_at[sgn]].lab, &lab) != 0) {
                        rc = query_nomem(c);
                        break;
                    }
                    if ((rc = out_series(c, &os, out, &lab, &out_of_l[k])) != 0)
                        break;
                }
                oi = out_of_l[k];
            }
            qseries *o = &out->s[oi];
            if (!keep && !ret_bool)
                continue;
            if (qbit(o->has, i)) {
                rc = card == QUERY_CARD_ONE_TO_ONE
                         ? query_fail(c, QERR_EXECUTION, "vector cannot contain metrics with the same labelset")
                         : query_fail(c, QERR_EXECUTION,
                                      "multiple matches for labels: grouping labels must ensure unique matches");
                break;
            }
            o->v[i] = v;
            qbit_set(o->has, i);
        }
        if (rc || !fill_l)
            continue;
        /* fill for the left: right series nothing matched */
        for (size_t k = 0; rc == 0 && k < r->n; k++) {
            if (!qbit(r->s[k].has, i) || match_gen[sg.r[k]] == gen)
                continue;
            qlabels stand_in, lab;
            if (match_labels(m, &r->s[k].lab, &stand_in) != 0) {
                rc = query_nomem(c);
                break;
            }
            double fl = fill_lv, fr = r->s[k].v[i];
            if (swap) {
                double t = fl;
                fl = fr;
                fr = t;
            }
            bool keep;
            double v = elem_op(op, fl, fr, &keep);
            if (ret_bool)
                v = keep ? 1 : 0;
            rc = result_labels(n, &stand_in, &r->s[k].lab, &lab);
            query_labels_free(&stand_in);
            uint32_t oi;
            if (rc) {
                rc = query_nomem(c);
                break;
            }
            if ((rc = out_series(c, &os, out, &lab, &oi)) != 0)
                break;
            if (!keep && !ret_bool)
                continue;
            if (qbit(out->s[oi].has, i)) {
                rc = query_fail(c, QERR_EXECUTION, "vector cannot contain metrics with the same labelset");
                break;
            }
            out->s[oi].v[i] = v;
            qbit_set(out->s[oi].has, i);
        }
        if (rc == 0)
            rc = query_check(c);
    }
    base_free(rs_at);
    base_free(rs_gen);
    base_free(match_gen);
    base_free(out_of_l);
    query_map_free(&pairs);
    query_map_free(&os.map);
    query_key_free(&os.key);
    sigs_free(&sg);
    if (rc == 0)
        query_vector_prune(c, out);
    return rc;
}

/* ------------------------------------------------------------ entry */

int query_eval_binary(qctx *c, const query_node *n, qvalue *out)
{
    query_op op = n->u.binary.op;
    if (op == QUERY_OP_TRIM_UPPER || op == QUERY_OP_TRIM_LOWER)
        return query_fail(c, QERR_BAD_DATA, "histogram trim operators need native histograms, which strata does not store");
    qvalue l, r;
    int rc = query_eval_node(c, n->u.binary.lhs, &l);
    if (rc)
        return rc;
    if ((rc = query_eval_node(c, n->u.binary.rhs, &r)) != 0) {
        query_value_free(c, &l);
        return rc;
    }
    memset(out, 0, sizeof *out);
    if (l.kind == QV_SCALAR && r.kind == QV_SCALAR) {
        rc = scalar_scalar(c, op, &l, &r, out);
    } else if (l.kind == QV_VECTOR && r.kind == QV_SCALAR) {
        rc = vector_scalar(c, op, n->u.binary.return_bool, &l, &r, false, out);
    } else if (l.kind == QV_SCALAR && r.kind == QV_VECTOR) {
        rc = vector_scalar(c, op, n->u.binary.return_bool, &r, &l, true, out);
    } else if (l.kind == QV_VECTOR && r.kind == QV_VECTOR) {
        if (query_op_is_set(op))
            rc = set_op(c, n, &l, &r, out);
        else
            rc = vector_vector(c, n, &l, &r, out);
    } else {
        rc = query_fail(c, QERR_BAD_DATA, "binary expression must contain only scalar and instant vector types");
    }
    query_value_free(c, &l);
    query_value_free(c, &r);
    if (rc)
        query_value_free(c, out);
    return rc;
}
