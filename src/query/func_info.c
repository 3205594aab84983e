/*
 * func_info.c: info(v [, {data label matchers}]), Prometheus 3's join of
 * info metrics (target_info by default) into a vector, as promql/info.go:
 *
 * - The info series are selected at the times of the first selector of
 *   v (its @ and offset, or those of the subqueries around it), among
 *   those whose identifying labels (instance, job) take values v has.
 * - At each step every series of v takes, from each info metric whose
 *   identifying labels equal its own, the data labels it lacks (only those
 *   the matchers name, when given); where two info series of one metric
 *   match, the one with the newer sample wins, equal times are an error;
 *   two info metrics giving one label different values is an error.
 * - A series of v without any matching info series is kept unchanged only
 *   when every data matcher accepts the empty value; series of v that are
 *   info series themselves pass through.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "eval_int.h"
#include "index/index.h"

static const char *const ident[2] = {"instance", "job"};

/* subqueries nested around the first selector that are looked at */
#define QUERY_MAX_SUBQ 64

/* ------------------------------------------------------------ matchers in memory */

/* A matcher of the second argument or a name matcher, compiled as the
 * index compiles label matchers (Prometheus' labels.Matcher: Go's regexp,
 * anchored, through RE2). */
typedef struct imatch {
    strata_matcher m;
    index_matcher *im;
} imatch;

static int imatch_init(qctx *c, imatch *im, const strata_matcher *m)
{
    memset(im, 0, sizeof *im);
    im->m = *m;
    char why[160] = "";
    int rc = index_matcher_compile(m, &im->im, why, sizeof why);
    if (rc == STRATA_ERR_NOMEM)
        return query_nomem(c);
    if (rc != STRATA_OK) /* the parser checked them: not reached */
        return query_fail(c, QERR_BAD_DATA, "error parsing regexp: %s", why[0] ? why : "invalid regular expression");
    return 0;
}

static void imatch_free(imatch *im) { index_matcher_free(im->im); }

/* 1 when v satisfies the matcher, 0 when not, a status (out of memory). */
static int imatch_ok(const imatch *im, const char *v) { return index_matcher_matches(im->im, v, strlen(v)); }

/* ------------------------------------------------------------ where and when the info series are read */

typedef struct when {
    bool found;
    query_at at;
    int64_t at_ms, offset_ms;
} when;

/* infoSelectTimestampAndOffset: the first selector (preorder) and, while
 * it has no @, the offsets and @ of the subqueries around it, inner first. */
static int first_selector(qctx *c, const query_node *n, const query_node **subs, size_t n_subs, when *w)
{
    if (!n || w->found)
        return 0;
    if (n->kind == QUERY_NODE_VECTOR_SELECTOR) {
        w->found = true;
        int rc = query_duration_ms(c, n->u.vs.offset_expr, n->u.vs.offset_ms, &w->offset_ms);
        w->at = n->u.vs.at;
        w->at_ms = n->u.vs.at_ms;
        for (size_t i = n_subs; rc == 0 && w->at == QUERY_AT_NONE && i-- > 0;) {
            int64_t o;
            rc = query_duration_ms(c, subs[i]->u.subquery.offset_expr, subs[i]->u.subquery.offset_ms, &o);
            w->offset_ms += o;
            w->at = subs[i]->u.subquery.at;
            w->at_ms = subs[i]->u.subquery.at_ms;
        }
        return rc;
    }
    const query_node *stack[QUERY_MAX_SUBQ];
    size_t ns = n_subs;
    if (ns >= QUERY_MAX_SUBQ)
        return 0;
    if (n_subs)
        memcpy(stack, subs, n_subs * sizeof *subs);
    int rc = 0;
    switch (n->kind) {
    case QUERY_NODE_PAREN:
        return first_selector(c, n->u.paren.expr, subs, n_subs, w);
    case QUERY_NODE_UNARY:
        return first_selector(c, n->u.unary.expr, subs, n_subs, w);
    case QUERY_NODE_BINARY:
        if ((rc = first_selector(c, n->u.binary.lhs, subs, n_subs, w)) != 0)
            return rc;
        return first_selector(c, n->u.binary.rhs, subs, n_subs, w);
    case QUERY_NODE_AGGREGATE:
        if ((rc = first_selector(c, n->u.aggregate.param, subs, n_subs, w)) != 0)
            return rc;
        return first_selector(c, n->u.aggregate.expr, subs, n_subs, w);
    case QUERY_NODE_CALL:
        for (size_t i = 0; rc == 0 && i < n->u.call.n_args; i++)
            rc = first_selector(c, n->u.call.args[i], subs, n_subs, w);
        return rc;
    case QUERY_NODE_MATRIX_SELECTOR:
        return first_selector(c, n->u.matrix.vs, subs, n_subs, w);
    case QUERY_NODE_SUBQUERY:
        stack[ns++] = n;
        return first_selector(c, n->u.subquery.expr, stack, ns, w);
    default:
        return 0;
    }
}

/* ------------------------------------------------------------ reading the info series */

typedef struct iser {
    qlabels lab;
    int64_t *t; /* per step: time of the sample seen, or INT64_MIN */
    uint32_t sig;
} iser;

typedef struct info_read {
    const int64_t *ts;
    iser *s;
    size_t n, cap;
} info_read;

static int info_cb(qctx *c, void *argp, const strata_label *labels, size_t n_labels, const int64_t *t,
                   const double *v, size_t n)
{
    info_read *a = argp;
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 16;
        iser *ns = base_realloc(a->s, nc * sizeof *ns);
        if (!ns)
            return query_nomem(c);
        a->s = ns;
        a->cap = nc;
    }
    iser *s = &a->s[a->n];
    memset(s, 0, sizeof *s);
    s->t = base_malloc((c->n_steps ? c->n_steps : 1) * sizeof *s->t);
    if (!s->t || query_labels_make(labels, n_labels, &s->lab) != 0) {
        base_free(s->t);
        return query_nomem(c);
    }
    a->n++;
    int rc = query_charge(c, c->n_steps);
    size_t j = 0;
    for (size_t i = 0; i < c->n_steps; i++) {
        s->t[i] = INT64_MIN;
        if (i && a->ts[i] < a->ts[i - 1])
            j = 0;
        while (j < n && t[j] <= a->ts[i])
            j++;
        if (j == 0)
            continue;
        size_t k = j - 1;
        if (t[k] <= a->ts[i] - c->lookback_ms || query_is_stale(v[k]))
            continue;
        s->t[i] = t[k];
    }
    return rc;
}

/* Appends v, quoted as regexp.QuoteMeta quotes when quote. */
static int append_re(char **buf, size_t *len, size_t *cap, const char *v, bool quote)
{
    if (*len + 1 > *cap || !*buf) {
        size_t nc = *cap ? *cap * 2 : 256;
        char *nb = base_realloc(*buf, nc);
        if (!nb)
            return STRATA_ERR_NOMEM;
        *buf = nb;
        *cap = nc;
        (*buf)[*len] = 0;
    }
    for (const char *p = v; *p; p++) {
        if (*len + 3 > *cap) {
            size_t nc = *cap * 2;
            char *nb = base_realloc(*buf, nc);
            if (!nb)
                return STRATA_ERR_NOMEM;
            *buf = nb;
            *cap = nc;
        }
        if (quote && strchr("\\.+*?()|[]{}^$", *p))
            (*buf)[(*len)++] = '\\';
        (*buf)[(*len)++] = *p;
    }
    (*buf)[*len] = 0;
    return 0;
}

/* ------------------------------------------------------------ info() */

typedef struct ctxs {
    imatch *data;     /* data label matchers (name matchers removed) */
    size_t n_data;
    imatch *names;    /* effective name matchers */
    size_t n_names;
} ctxs;

static bool data_named(const ctxs *x, const char *name)
{
    for (size_t i = 0; i < x->n_data; i++)
        if (strcmp(x->data[i].m.name, name) == 0)
            return true;
    return false;
}

int query_eval_info(qctx *c, const query_node *n, qvalue *out)
{
    when w = {0};
    int rc = first_selector(c, n->u.call.args[0], NULL, 0, &w);
    if (rc)
        return rc;
    qvalue base;
    if ((rc = query_eval_node(c, n->u.call.args[0], &base)) != 0)
        return rc;
    if (base.kind != QV_VECTOR) {
        query_value_free(c, &base);
        return query_fail(c, QERR_BAD_DATA, "expected an instant vector argument");
    }
    const query_node *sel = n->u.call.n_args > 1 ? query_unwrap(n->u.call.args[1]) : NULL;
    size_t n_sel = sel && sel->kind == QUERY_NODE_VECTOR_SELECTOR ? sel->u.vs.n_matchers : 0;
    ctxs x = {0};
    x.data = base_calloc(n_sel + 1, sizeof *x.data);
    x.names = base_calloc(n_sel + 2, sizeof *x.names);
    info_read ir = {0};
    qmap sigmap = {0};
    qkey key = {0};
    strata_matcher *im = NULL;
    char *re_buf[2] = {NULL, NULL};
    bool *ignored = NULL;
    uint32_t *bsig = NULL; /* per base series and info name: signature or UINT32_MAX */
    char **inames = NULL;
    size_t n_inames = 0;
    int64_t *ts = NULL;
    if (!x.data || !x.names) {
        rc = query_nomem(c);
        goto out;
    }
    /* name matchers, and data matchers without them */
    bool name_eq_or_re = false;
    size_t n_name = 0;
    for (size_t i = 0; i < n_sel && rc == 0; i++) {
        const strata_matcher *m = &sel->u.vs.matchers[i];
        if (strcmp(m->name, "__name__") == 0) {
            name_eq_or_re |= m->type == STRATA_MATCH_EQ || m->type == STRATA_MATCH_RE;
            n_name++;
            continue;
        }
        rc = imatch_init(c, &x.data[x.n_data++], m);
    }
    if (rc)
        goto out;
    static const strata_matcher target = {STRATA_MATCH_EQ, "__name__", "target_info"};
    static const strata_matcher any_info = {STRATA_MATCH_RE, "__name__", ".+_info"};
    if (n_name == 0) {
        rc = imatch_init(c, &x.names[x.n_names++], &target);
    } else {
        if (!name_eq_or_re)
            rc = imatch_init(c, &x.names[x.n_names++], &any_info);
        for (size_t i = 0; i < n_sel && rc == 0; i++)
            if (strcmp(sel->u.vs.matchers[i].name, "__name__") == 0)
                rc = imatch_init(c, &x.names[x.n_names++], &sel->u.vs.matchers[i]);
    }
    if (rc)
        goto out;
    /* base series that are info series pass through; the others give the
     * identifying values to look for */
    ignored = base_calloc(base.n + 1, sizeof *ignored);
    if (!ignored) {
        rc = query_nomem(c);
        goto out;
    }
    size_t lens[2] = {0, 0}, caps[2] = {0, 0};
    for (size_t k = 0; k < base.n && rc == 0; k++) {
        const char *name = query_labels_get(&base.s[k].lab, "__name__");
        bool all = true;
        for (size_t i = 0; i < x.n_names && all; i++) {
            int r = imatch_ok(&x.names[i], name ? name : "");
            if (r < 0) {
                rc = query_nomem(c);
                goto out;
            }
            all = r;
        }
        ignored[k] = all;
        if (all)
            continue;
        for (int l = 0; l < 2 && rc == 0; l++) {
            const char *v = query_labels_get(&base.s[k].lab, ident[l]);
            if (!v || !*v)
                continue;
            /* duplicates in the alternation are harmless */
            if (lens[l] && (rc = append_re(&re_buf[l], &lens[l], &caps[l], "|", false)) != 0)
                break;
            rc = append_re(&re_buf[l], &lens[l], &caps[l], v, true);
        }
        if (rc)
            rc = query_nomem(c);
    }
    if (rc)
        goto out;
    if (lens[0] || lens[1]) {
        /* select the info series at the times of the first selector */
        im = base_calloc(2 + x.n_data + x.n_names, sizeof *im);
        if (!im) {
            rc = query_nomem(c);
            goto out;
        }
        size_t k = 0;
        for (int l = 0; l < 2; l++)
            if (lens[l])
                im[k++] = (strata_matcher){STRATA_MATCH_RE, ident[l], re_buf[l]};
        for (size_t i = 0; i < x.n_data; i++)
            im[k++] = x.data[i].m;
        for (size_t i = 0; i < x.n_names; i++)
            im[k++] = x.names[i].m;
        if ((rc = query_sel_times(c, w.at, w.at_ms, w.offset_ms, &ts)) != 0)
            goto out;
        int64_t lo = INT64_MAX, hi = INT64_MIN;
        for (size_t i = 0; i < c->n_steps; i++) {
            lo = ts[i] < lo ? ts[i] : lo;
            hi = ts[i] > hi ? ts[i] : hi;
        }
        ir.ts = ts;
        if (c->n_steps && (rc = query_scan(c, im, k, lo - c->lookback_ms + 1, hi, false, info_cb, &ir)) != 0)
            goto out;
    }
    /* signatures: {__name__=<info name>, instance, job} */
    inames = base_calloc(ir.n + 1, sizeof *inames);
    if (!inames) {
        rc = query_nomem(c);
        goto out;
    }
    for (size_t k = 0; k < ir.n && rc == 0; k++) {
        const char *name = query_labels_get(&ir.s[k].lab, "__name__");
        name = name ? name : "";
        bool seen = false;
        for (size_t i = 0; i < n_inames && !seen; i++)
            seen = strcmp(inames[i], name) == 0;
        if (!seen)
            inames[n_inames++] = (char *)name;
        qlabels idl;
        if (query_labels_filter(&ir.s[k].lab, ident, 2, true, &idl) != 0) {
            rc = query_nomem(c);
            break;
        }
        qlabels sl;
        rc = query_labels_set(&idl, "__name__", name, &sl);
        query_labels_free(&idl);
        int found;
        if (rc || query_key_build(&key, &sl, NULL, 0, false, false) != 0 ||
            query_map_get_or_add(&sigmap, key.p, key.len, (uint32_t)sigmap.n, &ir.s[k].sig, &found) != 0)
            rc = query_nomem(c);
        query_labels_free(&sl);
    }
    if (rc)
        goto out;
    bsig = base_malloc((base.n * n_inames + 1) * sizeof *bsig);
    if (!bsig) {
        rc = query_nomem(c);
        goto out;
    }
    for (size_t k = 0; k < base.n && rc == 0; k++) {
        qlabels idl;
        if (query_labels_filter(&base.s[k].lab, ident, 2, true, &idl) != 0) {
            rc = query_nomem(c);
            break;
        }
        for (size_t i = 0; i < n_inames && rc == 0; i++) {
            qlabels sl;
            if (query_labels_set(&idl, "__name__", inames[i], &sl) != 0 ||
                query_key_build(&key, &sl, NULL, 0, false, false) != 0) {
                rc = query_nomem(c);
                break;
            }
            uint32_t sg;
            bsig[k * n_inames + i] = query_map_find(&sigmap, key.p, key.len, &sg) ? sg : UINT32_MAX;
            query_labels_free(&sl);
        }
        query_labels_free(&idl);
    }
    if (rc)
        goto out;
    bool all_match_empty = true;
    for (size_t i = 0; i < x.n_data; i++) {
        int r = imatch_ok(&x.data[i], "");
        if (r < 0) {
            rc = query_nomem(c);
            goto out;
        }
        all_match_empty &= r;
    }
    /* per step: the newest info series of each signature, then the join */
    size_t n_sigs = sigmap.n ? sigmap.n : 1;
    uint32_t *best = base_malloc(n_sigs * sizeof *best);
    size_t *gen = base_calloc(n_sigs, sizeof *gen);
    qmap outmap = {0};
    query_vector_init(c, out);
    if (!best || !gen)
        rc = query_nomem(c);
    strata_label *add = base_malloc((64 + 1) * sizeof *add);
    size_t add_cap = 64;
    if (!add)
        rc = query_nomem(c);
    for (size_t i = 0; rc == 0 && i < c->n_steps; i++) {
        size_t g = i + 1;
        for (size_t k = 0; k < ir.n && rc == 0; k++) {
            int64_t t = ir.s[k].t[i];
            if (t == INT64_MIN)
                continue;
            uint32_t sg = ir.s[k].sig;
            if (gen[sg] != g) {
                gen[sg] = g;
                best[sg] = (uint32_t)k;
                continue;
            }
            int64_t et = ir.s[best[sg]].t[i];
            if (et < t) {
                best[sg] = (uint32_t)k;
            } else if (et == t) {
                char a[256], b[256];
                size_t o = 0;
                for (int side = 0; side < 2; side++) {
                    const qlabels *l = side ? &ir.s[k].lab : &ir.s[best[sg]].lab;
                    char *buf = side ? b : a;
                    o = (size_t)snprintf(buf, 256, "{");
                    for (size_t j = 0; j < l->n && o < 256; j++)
                        o += (size_t)snprintf(buf + o, 256 - o, "%s%s=\"%s\"", j ? ", " : "", l->v[j].name,
                                              l->v[j].value);
                    if (o < 256)
                        snprintf(buf + o, 256 - o, "}");
                }
                rc = query_fail(c, QERR_EXECUTION,
                                "found duplicate series for info metric: existing %s @ %lld, new %s @ %lld", a,
                                (long long)et, b, (long long)t);
            }
        }
        for (size_t k = 0; rc == 0 && k < base.n; k++) {
            const qseries *bs = &base.s[k];
            if (!qbit(bs->has, i))
                continue;
            size_t n_add = 0;
            bool seen_any = false;
            for (size_t m = 0; !ignored[k] && m < n_inames && rc == 0; m++) {
                uint32_t sg = bsig[k * n_inames + m];
                if (sg == UINT32_MAX || gen[sg] != g)
                    continue;
                const qlabels *il = &ir.s[best[sg]].lab;
                for (size_t j = 0; j < il->n; j++) {
                    const char *ln = il->v[j].name, *lv = il->v[j].value;
                    if (strcmp(ln, "__name__") == 0)
                        continue;
                    if (x.n_data && !data_named(&x, ln))
                        continue;
                    size_t e;
                    for (e = 0; e < n_add; e++)
                        if (strcmp(add[e].name, ln) == 0)
                            break;
                    if (e < n_add) {
                        if (strcmp(add[e].value, lv) != 0) {
                            rc = query_fail(c, QERR_EXECUTION, "conflicting label: %s", ln);
                            break;
                        }
                        continue;
                    }
                    if (query_labels_get(&bs->lab, ln))
                        continue;
                    if (n_add == add_cap) {
                        strata_label *na = base_realloc(add, (add_cap * 2 + 1) * sizeof *na);
                        if (!na) {
                            rc = query_nomem(c);
                            break;
                        }
                        add = na;
                        add_cap *= 2;
                    }
                    add[n_add++] = (strata_label){ln, lv};
                }
                seen_any = true;
            }
            if (rc)
                break;
            if (!ignored[k] && !seen_any && !all_match_empty)
                continue;
            /* the output series: base labels plus the added ones */
            qlabels ol;
            strata_label *all = base_malloc((bs->lab.n + n_add + 1) * sizeof *all);
            if (!all) {
                rc = query_nomem(c);
                break;
            }
            memcpy(all, bs->lab.v, bs->lab.n * sizeof *all);
            memcpy(all + bs->lab.n, add, n_add * sizeof *all);
            rc = query_labels_make(all, bs->lab.n + n_add, &ol);
            base_free(all);
            uint32_t oi;
            int found;
            if (rc || query_key_build(&key, &ol, NULL, 0, false, false) != 0 ||
                query_map_get_or_add(&outmap, key.p, key.len, (uint32_t)out->n, &oi, &found) != 0) {
                query_labels_free(&ol);
                rc = query_nomem(c);
                break;
            }
            if (!found) {
                qseries *os;
                if ((rc = query_vector_add(c, out, &ol, &os)) != 0) {
                    query_labels_free(&ol);
                    break;
                }
            } else {
                query_labels_free(&ol);
            }
            qseries *os = &out->s[oi];
            if (qbit(os->has, i)) {
                rc = query_fail(c, QERR_EXECUTION, "vector cannot contain metrics with the same labelset");
                break;
            }
            os->v[i] = bs->v[i];
            qbit_set(os->has, i);
        }
        if (rc == 0)
            rc = query_check(c);
    }
    base_free(add);
    base_free(best);
    base_free(gen);
    query_map_free(&outmap);
    if (rc)
        query_value_free(c, out);
    else
        query_vector_prune(c, out);
out:
    for (size_t i = 0; i < x.n_data; i++)
        imatch_free(&x.data[i]);
    for (size_t i = 0; i < x.n_names; i++)
        imatch_free(&x.names[i]);
    base_free(x.data);
    base_free(x.names);
    for (size_t k = 0; k < ir.n; k++) {
        query_labels_free(&ir.s[k].lab);
        base_free(ir.s[k].t);
    }
    if (ir.n)
        query_release(c, (uint64_t)ir.n * c->n_steps);
    base_free(ir.s);
    query_map_free(&sigmap);
    query_key_free(&key);
    base_free(im);
    base_free(re_buf[0]);
    base_free(re_buf[1]);
    base_free(ignored);
    base_free(bsig);
    base_free(inames);
    base_free(ts);
    query_value_free(c, &base);
    return rc;
}
