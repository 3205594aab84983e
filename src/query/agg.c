/*
 * agg.c: aggregation operators (sum, min, max, avg, group, stddev, stdvar,
 * count, count_values, quantile, topk, bottomk, limitk, limit_ratio) with
 * by / without.
 *
 * Grouping is one pass over the input series: each series' grouping key
 * (the bytes of the labels it keeps) is looked up in a hash map that gives
 * its group; the per-group accumulators are dense arrays over the steps,
 * so the inner loop runs over one series' steps with no lookups and no
 * allocation. Input series are visited in their order, as Prometheus'
 * per-step loop visits them, so sums add in the same order (Kahan, with
 * the same fallback to an incremental mean for avg).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "eval_int.h"
#include "query.h"

typedef struct agg_state {
    double *val, *kc, *mean, *cnt;
    uint8_t *flags; /* bit 0 seen, bit 1 incremental mean */
} agg_state;

static const char *const *grouping_names(const query_node *n) { return (const char *const *)n->u.aggregate.grouping; }

/* Output labels of a group: by keeps the grouping labels, without drops them and the name. */
static int group_labels(const query_node *n, const qlabels *in, qlabels *out)
{
    if (n->u.aggregate.without) {
        qlabels tmp;
        int rc = query_labels_filter(in, grouping_names(n), n->u.aggregate.n_grouping, false, &tmp);
        if (rc)
            return rc;
        rc = query_labels_drop_name(&tmp, out);
        query_labels_free(&tmp);
        return rc;
    }
    return query_labels_filter(in, grouping_names(n), n->u.aggregate.n_grouping, true, out);
}

/* Assigns every input series its group; *n_groups, first[g] the first
 * series of group g. */
static int assign_groups(qctx *c, const query_node *n, const qvalue *in, uint32_t *grp, size_t *first,
                         size_t *n_groups)
{
    qmap map = {0};
    qkey key = {0};
    int rc = 0;
    *n_groups = 0;
    for (size_t k = 0; k < in->n; k++) {
        if (query_key_build(&key, &in->s[k].lab, grouping_names(n), n->u.aggregate.n_grouping,
                            !n->u.aggregate.without, true) != 0) {
            rc = query_nomem(c);
            break;
        }
        int found;
        uint32_t g;
        if (query_map_get_or_add(&map, key.p, key.len, (uint32_t)*n_groups, &g, &found) != 0) {
            rc = query_nomem(c);
            break;
        }
        if (!found)
            first[(*n_groups)++] = k;
        grp[k] = g;
    }
    query_map_free(&map);
    query_key_free(&key);
    return rc;
}

/* ------------------------------------------------------------ xxhash64 (limit_ratio) */

#define XXP1 0x9E3779B185EBCA87ull
#define XXP2 0xC2B2AE3D27D4EB4Full
#define XXP3 0x165667B19E3779F9ull
#define XXP4 0x85EBCA77C2B2AE63ull
#define XXP5 0x27D4EB2F165667C5ull

static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static uint64_t xx_round(uint64_t acc, uint64_t in) { return rotl(acc + in * XXP2, 31) * XXP1; }
static uint64_t xx_merge(uint64_t acc, uint64_t v) { return (acc ^ xx_round(0, v)) * XXP1 + XXP4; }

static uint64_t xxhash64(const uint8_t *p, size_t len)
{
    const uint8_t *end = p + len;
    uint64_t h;
    if (len >= 32) {
        uint64_t v1 = XXP1 + XXP2, v2 = XXP2, v3 = 0, v4 = -XXP1;
        do {
            uint64_t w[4];
            memcpy(w, p, 32);
            v1 = xx_round(v1, w[0]);
            v2 = xx_round(v2, w[1]);
            v3 = xx_round(v3, w[2]);
            v4 = xx_round(v4, w[3]);
            p += 32;
        } while (p + 32 <= end);
        h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
        h = xx_merge(h, v1);
        h = xx_merge(h, v2);
        h = xx_merge(h, v3);
        h = xx_merge(h, v4);
    } else {
        h = XXP5;
    }
    h += len;
    for (; p + 8 <= end; p += 8) {
        uint64_t k;
        memcpy(&k, p, 8);
        h ^= xx_round(0, k);
        h = rotl(h, 27) * XXP1 + XXP4;
    }
    if (p + 4 <= end) {
        uint32_t k;
        memcpy(&k, p, 4);
        h ^= (uint64_t)k * XXP1;
        h = rotl(h, 23) * XXP2 + XXP3;
        p += 4;
    }
    for (; p < end; p++) {
        h ^= (uint64_t)*p * XXP5;
        h = rotl(h, 11) * XXP1;
    }
    h ^= h >> 33;
    h *= XXP2;
    h ^= h >> 29;
    h *= XXP3;
    h ^= h >> 32;
    return h;
}

/* Prometheus' labels.Hash(): xxhash64 of name 0xff value 0xff ... */
static int labels_hash(const qlabels *l, uint64_t *out)
{
    size_t len = 0;
    for (size_t i = 0; i < l->n; i++)
        len += strlen(l->v[i].name) + strlen(l->v[i].value) + 2;
    uint8_t stack[1024], *b = len <= sizeof stack ? stack : base_malloc(len);
    if (!b)
        return STRATA_ERR_NOMEM;
    size_t o = 0;
    for (size_t i = 0; i < l->n; i++) {
        size_t a = strlen(l->v[i].name), v = strlen(l->v[i].value);
        memcpy(b + o, l->v[i].name, a);
        o += a;
        b[o++] = 0xff;
        memcpy(b + o, l->v[i].value, v);
        o += v;
        b[o++] = 0xff;
    }
    *out = xxhash64(b, len);
    if (b != stack)
        base_free(b);
    return 0;
}

/* ------------------------------------------------------------ simple aggregations */

static void agg_add(query_agg_op op, agg_state *st, size_t i, double f)
{
    if (!(st->flags[i] & 1)) {
        st->flags[i] = 1;
        st->val[i] = f;
        st->mean[i] = f;
        st->cnt[i] = 1;
        st->kc[i] = 0;
        if (op == QUERY_AGG_STDDEV || op == QUERY_AGG_STDVAR)
            st->val[i] = (isnan(f) || isinf(f)) ? NAN : 0;
        else if (op == QUERY_AGG_GROUP)
            st->val[i] = 1;
        return;
    }
    switch (op) {
    case QUERY_AGG_SUM:
        st->val[i] = query_kahan_inc(f, st->val[i], &st->kc[i]);
        break;
    case QUERY_AGG_AVG: {
        st->cnt[i]++;
        double cnt = st->cnt[i];
        if (!(st->flags[i] & 2)) {
            double nc = st->kc[i];
            double nv = query_kahan_inc(f, st->val[i], &nc);
            if (!isinf(nv)) {
                st->val[i] = nv;
                st->kc[i] = nc;
                break;
            }
            st->flags[i] |= 2;
            st->mean[i] = st->val[i] / (cnt - 1);
            st->kc[i] /= cnt - 1;
        }
        double q = (cnt - 1) / cnt;
        st->kc[i] = q * st->kc[i];
        st->mean[i] = query_kahan_inc(f / cnt, q * st->mean[i], &st->kc[i]);
        break;
    }
    case QUERY_AGG_MAX:
        if (st->val[i] < f || isnan(st->val[i]))
            st->val[i] = f;
        break;
    case QUERY_AGG_MIN:
        if (st->val[i] > f || isnan(st->val[i]))
            st->val[i] = f;
        break;
    case QUERY_AGG_COUNT:
        st->cnt[i]++;
        break;
    case QUERY_AGG_STDDEV:
    case QUERY_AGG_STDVAR: {
        st->cnt[i]++;
        double delta = f - st->mean[i];
        st->mean[i] += delta / st->cnt[i];
        st->val[i] += delta * (f - st->mean[i]);
        break;
    }
    default:
        break;
    }
}

static double agg_final(query_agg_op op, const agg_state *st, size_t i)
{
    switch (op) {
    case QUERY_AGG_AVG:
        if (st->flags[i] & 2)
            return st->mean[i] + st->kc[i];
        return st->val[i] / st->cnt[i] + st->kc[i] / st->cnt[i];
    case QUERY_AGG_COUNT:
        return st->cnt[i];
    case QUERY_AGG_STDVAR:
        return st->val[i] / st->cnt[i];
    case QUERY_AGG_STDDEV:
        return sqrt(st->val[i] / st->cnt[i]);
    case QUERY_AGG_SUM:
        return st->val[i] + st->kc[i];
    default:
        return st->val[i];
    }
}

static int agg_simple(qctx *c, const query_node *n, qvalue *in, const uint32_t *grp, const size_t *first,
                      size_t n_groups, const double *param, qvalue *out)
{
    query_agg_op op = n->u.aggregate.op;
    size_t steps = c->n_steps;
    int rc = 0;
    for (size_t g = 0; g < n_groups; g++) {
        qlabels lab;
        qseries *s;
        if (group_labels(n, &in->s[first[g]].lab, &lab) != 0)
            return query_nomem(c);
        if ((rc = query_vector_add(c, out, &lab, &s)) != 0) {
            query_labels_free(&lab);
            return rc;
        }
    }
    if (op == QUERY_AGG_QUANTILE) {
        /* per group and step: the values, then Prometheus' quantile */
        size_t *cnt = base_calloc(n_groups + 1, sizeof *cnt), *members = base_malloc((in->n + 1) * sizeof *members);
        double *vals = base_malloc((in->n + 1) * sizeof *vals);
        if (!cnt || !members || !vals)
            rc = query_nomem(c);
        if (rc == 0) {
            for (size_t k = 0; k < in->n; k++)
                cnt[grp[k] + 1]++;
            for (size_t g = 0; g < n_groups; g++)
                cnt[g + 1] += cnt[g];
            size_t *fill = base_malloc((n_groups + 1) * sizeof *fill);
            if (!fill) {
                rc = query_nomem(c);
            } else {
                memcpy(fill, cnt, n_groups * sizeof *fill);
                for (size_t k = 0; k < in->n; k++)
                    members[fill[grp[k]]++] = k;
                base_free(fill);
            }
        }
        for (size_t g = 0; rc == 0 && g < n_groups; g++) {
            qseries *o = &out->s[g];
            for (size_t i = 0; i < steps; i++) {
                size_t nv = 0;
                for (size_t m = cnt[g]; m < cnt[g + 1]; m++)
                    if (qbit(in->s[members[m]].has, i))
                        vals[nv++] = in->s[members[m]].v[i];
                if (!nv)
                    continue;
                o->v[i] = query_quantile(param[i], vals, nv);
                qbit_set(o->has, i);
            }
            rc = query_check(c);
        }
        base_free(cnt);
        base_free(members);
        base_free(vals);
        return rc;
    }
    agg_state st;
    size_t cells = n_groups * steps;
    st.val = base_malloc((cells + 1) * sizeof(double));
    st.kc = base_malloc((cells + 1) * sizeof(double));
    st.mean = base_malloc((cells + 1) * sizeof(double));
    st.cnt = base_malloc((cells + 1) * sizeof(double));
    st.flags = base_calloc(cells + 1, 1);
    if (!st.val || !st.kc || !st.mean || !st.cnt || !st.flags)
        rc = query_nomem(c);
    for (size_t k = 0; rc == 0 && k < in->n; k++) {
        const qseries *s = &in->s[k];
        size_t base = (size_t)grp[k] * steps;
        agg_state row = {st.val + base, st.kc + base, st.mean + base, st.cnt + base, st.flags + base};
        for (size_t w = 0; w < qbit_words(steps); w++) {
            uint64_t bits = s->has[w];
            while (bits) {
                size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
                bits &= bits - 1;
                agg_add(op, &row, i, s->v[i]);
            }
        }
        if ((k & 1023) == 0)
            rc = query_check(c);
    }
    for (size_t g = 0; rc == 0 && g < n_groups; g++) {
        qseries *o = &out->s[g];
        size_t base = g * steps;
        agg_state row = {st.val + base, st.kc + base, st.mean + base, st.cnt + base, st.flags + base};
        for (size_t i = 0; i < steps; i++) {
            if (!(row.flags[i] & 1))
                continue;
            o->v[i] = agg_final(op, &row, i);
            qbit_set(o->has, i);
        }
    }
    base_free(st.val);
    base_free(st.kc);
    base_free(st.mean);
    base_free(st.cnt);
    base_free(st.flags);
    return rc;
}

/* ------------------------------------------------------------ count_values */

/* Go's strconv.FormatFloat(f, 'f', -1, 64): the shortest digits that read
 * back, written without an exponent. */
int query_format_go_f(double f, char *buf, size_t cap)
{
    if (isnan(f))
        return snprintf(buf, cap, "NaN");
    if (isinf(f))
        return snprintf(buf, cap, f > 0 ? "+Inf" : "-Inf");
    char e[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, f);
        if (strtod(e, NULL) == f)
            break;
    }
    /* e is [-]d.ddde[+-]xx: rebuild it as fixed notation */
    char digits[32];
    size_t nd = 0;
    const char *p = e;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            digits[nd++] = *p;
    int exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    size_t o = 0;
    char out[400];
    if (neg)
        out[o++] = '-';
    int point = exp10 + 1; /* digits before the decimal point */
    if (point <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -point; i++)
            out[o++] = '0';
        for (size_t i = 0; i < nd; i++)
            out[o++] = digits[i];
    } else {
        for (int i = 0; i < point; i++)
            out[o++] = (size_t)i < nd ? digits[i] : '0';
        if ((size_t)point < nd) {
            out[o++] = '.';
            for (size_t i = (size_t)point; i < nd; i++)
                out[o++] = digits[i];
        }
    }
    out[o] = 0;
    if (strcmp(out, "-0") == 0)
        return snprintf(buf, cap, "-0");
    return snprintf(buf, cap, "%s", out);
}

static int agg_count_values(qctx *c, const query_node *n, qvalue *in, const char *label, qvalue *out)
{
    qmap map = {0};
    qkey key = {0};
    int rc = 0;
    char num[400];
    for (size_t k = 0; rc == 0 && k < in->n; k++) {
        const qseries *s = &in->s[k];
        for (size_t i = 0; rc == 0 && i < c->n_steps; i++) {
            if (!qbit(s->has, i))
                continue;
            query_format_go_f(s->v[i], num, sizeof num);
            qlabels with;
            if (query_labels_set(&s->lab, label, num, &with) != 0) {
                rc = query_nomem(c);
                break;
            }
            const char *const *names = grouping_names(n);
            size_t nn = n->u.aggregate.n_grouping;
            /* the new label always takes part in the grouping */
            const char **names2 = base_malloc((nn + 1) * sizeof *names2);
            if (!names2) {
                query_labels_free(&with);
                rc = query_nomem(c);
                break;
            }
            for (size_t j = 0; j < nn; j++)
                names2[j] = names[j];
            size_t nn2 = nn;
            /* by: the value label joins the grouping; without: the list
             * stays as written, as Prometheus does */
            if (!n->u.aggregate.without)
                names2[nn2++] = label;
            rc = query_key_build(&key, &with, names2, nn2, !n->u.aggregate.without, true);
            int found = 0;
            uint32_t g = 0;
            if (rc == 0)
                rc = query_map_get_or_add(&map, key.p, key.len, (uint32_t)out->n, &g, &found);
            if (rc) {
                rc = query_nomem(c);
            } else if (!found) {
                qlabels lab;
                qseries *o;
                if (n->u.aggregate.without) {
                    qlabels tmp;
                    rc = query_labels_filter(&with, names2, nn2, false, &tmp);
                    if (rc == 0) {
                        rc = query_labels_drop_name(&tmp, &lab);
                        query_labels_free(&tmp);
                    }
                } else {
                    rc = query_labels_filter(&with, names2, nn2, true, &lab);
                }
                if (rc)
                    rc = query_nomem(c);
                else if ((rc = query_vector_add(c, out, &lab, &o)) != 0)
                    query_labels_free(&lab);
            }
            if (rc == 0) {
                qseries *o = &out->s[g];
                if (!qbit(o->has, i)) {
                    o->v[i] = 0;
                    qbit_set(o->has, i);
                }
                o->v[i] += 1;
            }
            base_free(names2);
            query_labels_free(&with);
        }
    }
    query_map_free(&map);
    query_key_free(&key);
    return rc;
}

/* ------------------------------------------------------------ topk, bottomk, limitk, limit_ratio */

typedef struct kitem {
    double v;
    size_t series;
} kitem;

/* true when a should be evicted before b (a is "smaller" for topk) */
static bool k_less(query_agg_op op, double a, double b)
{
    if (op == QUERY_AGG_TOPK)
        return isnan(a) ? true : (isnan(b) ? false : a < b);
    /* bottomk: vectorByReverseValueHeap, NaN counts as the biggest */
    return isnan(a) ? true : (isnan(b) ? false : a > b);
}

static void heap_down(query_agg_op op, kitem *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && k_less(op, h[l].v, h[m].v))
            m = l;
        if (l + 1 < n && k_less(op, h[l + 1].v, h[m].v))
            m = l + 1;
        if (m == i)
            return;
        kitem t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void heap_up(query_agg_op op, kitem *h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!k_less(op, h[i].v, h[p].v))
            return;
        kitem t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

static int cmp_kitem(const void *a, const void *b, void *arg)
{
    const kitem *x = a, *y = b;
    query_agg_op sort_op = *(const query_agg_op *)arg;
    /* best first: topk descending with NaN last, bottomk ascending with NaN last */
    if (k_less(sort_op, x->v, y->v))
        return 1;
    if (k_less(sort_op, y->v, x->v))
        return -1;
    return 0;
}

static int agg_k(qctx *c, const query_node *n, qvalue *in, const uint32_t *grp, size_t n_groups, const double *param,
                 qvalue *out)
{
    query_agg_op op = n->u.aggregate.op;
    size_t steps = c->n_steps;
    int rc = 0;
    /* validate the parameter like Prometheus */
    if (op == QUERY_AGG_LIMIT_RATIO) {
        for (size_t i = 0; i < steps; i++) {
            if (isnan(param[i]))
                return query_fail(c, QERR_EXECUTION, "Ratio value is NaN");
            if (param[i] > 1 || param[i] < -1)
                query_warn(c, "PromQL warning: ratio value should be between -1 and 1, got %g, capping to %d",
                           param[i], param[i] > 1 ? 1 : -1);
        }
    } else {
        for (size_t i = 0; i < steps; i++) {
            if (isnan(param[i]))
                return query_fail(c, QERR_EXECUTION, "Parameter value is NaN");
            if (param[i] <= -9.223372036854775808e18)
                return query_fail(c, QERR_EXECUTION, "Scalar value %g underflows int64", param[i]);
            if (param[i] >= 9.223372036854775807e18)
                return query_fail(c, QERR_EXECUTION, "Scalar value %g overflows int64", param[i]);
        }
    }
    /* output: the input series, each present where it was selected */
    uint64_t *sel = base_calloc(in->n * qbit_words(steps) + 1, sizeof *sel);
    size_t *gcount = base_malloc((n_groups + 1) * sizeof *gcount);
    kitem *heaps = base_malloc((in->n + 1) * sizeof *heaps);
    size_t *gstart = base_calloc(n_groups + 1, sizeof *gstart);
    double *offs = NULL;
    if (!sel || !gcount || !heaps || !gstart)
        rc = query_nomem(c);
    if (rc == 0 && op == QUERY_AGG_LIMIT_RATIO) {
        offs = base_malloc((in->n + 1) * sizeof *offs);
        if (!offs)
            rc = query_nomem(c);
        for (size_t k = 0; rc == 0 && k < in->n; k++) {
            uint64_t h = 0;
            if (labels_hash(&in->s[k].lab, &h) != 0)
                rc = query_nomem(c);
            offs[k] = (double)h / 18446744073709551615.0;
        }
    }
    /* every group gets room for all its members */
    if (rc == 0) {
        size_t *cnt = base_calloc(n_groups + 1, sizeof *cnt);
        if (!cnt)
            rc = query_nomem(c);
        for (size_t k = 0; cnt && k < in->n; k++)
            cnt[grp[k]]++;
        for (size_t g = 0; cnt && g < n_groups; g++)
            gstart[g + 1] = gstart[g] + cnt[g];
        base_free(cnt);
    }
    /* instant queries keep Prometheus' order: groups as first seen, each sorted */
    kitem *order = NULL;
    size_t n_order = 0;
    if (rc == 0 && steps == 1 && (op == QUERY_AGG_TOPK || op == QUERY_AGG_BOTTOMK)) {
        order = base_malloc((in->n + 1) * sizeof *order);
        if (!order)
            rc = query_nomem(c);
    }
    for (size_t i = 0; rc == 0 && i < steps; i++) {
        double p = param[i];
        int64_t k = 0;
        double r = 0;
        if (op == QUERY_AGG_LIMIT_RATIO) {
            if (p == 0)
                continue;
            r = p < -1 ? -1 : p > 1 ? 1 : p;
        } else {
            k = (int64_t)p;
            if (k > (int64_t)in->n)
                k = (int64_t)in->n;
            if (k < 1)
                continue;
        }
        for (size_t g = 0; g < n_groups; g++)
            gcount[g] = 0;
        for (size_t s = 0; s < in->n; s++) {
            if (!qbit(in->s[s].has, i))
                continue;
            uint32_t g = grp[s];
            kitem *h = heaps + gstart[g];
            double v = in->s[s].v[i];
            switch (op) {
            case QUERY_AGG_TOPK:
            case QUERY_AGG_BOTTOMK:
                if ((int64_t)gcount[g] < k) {
                    h[gcount[g]] = (kitem){v, s};
                    heap_up(op, h, gcount[g]++);
                } else if ((isnan(h[0].v) && !isnan(v)) ||
                           (op == QUERY_AGG_TOPK ? h[0].v < v : h[0].v > v)) {
                    h[0] = (kitem){v, s};
                    heap_down(op, h, gcount[g], 0);
                }
                break;
            case QUERY_AGG_LIMITK:
                if ((int64_t)gcount[g] < k)
                    h[gcount[g]++] = (kitem){v, s};
                break;
            default: /* limit_ratio */
                if (r >= 0 ? offs[s] < r : offs[s] >= 1 + r)
                    h[gcount[g]++] = (kitem){v, s};
                break;
            }
        }
        for (size_t g = 0; g < n_groups; g++) {
            kitem *h = heaps + gstart[g];
            if (order) {
                qsort_r(h, gcount[g], sizeof *h, cmp_kitem, &op);
                memcpy(order + n_order, h, gcount[g] * sizeof *h);
                n_order += gcount[g];
            }
            for (size_t j = 0; j < gcount[g]; j++)
                qbit_set(sel + h[j].series * qbit_words(steps), i);
        }
        rc = query_check(c);
    }
    /* build the output: series selected at least once */
    for (size_t m = 0; rc == 0 && m < (order ? n_order : in->n); m++) {
        size_t s = order ? order[m].series : m;
        uint64_t *b = sel + s * qbit_words(steps);
        bool any = false;
        for (size_t w = 0; w < qbit_words(steps) && !any; w++)
            any = b[w] != 0;
        if (!any)
            continue;
        qlabels lab;
        qseries *o;
        if (query_labels_copy(&in->s[s].lab, &lab) != 0) {
            rc = query_nomem(c);
            break;
        }
        if ((rc = query_vector_add(c, out, &lab, &o)) != 0) {
            query_labels_free(&lab);
            break;
        }
        memcpy(o->v, in->s[s].v, steps * sizeof(double));
        memcpy(o->has, b, qbit_words(steps) * sizeof(uint64_t));
    }
    if (order)
        out->ordered = true;
    base_free(order);
    base_free(sel);
    base_free(gcount);
    base_free(heaps);
    base_free(gstart);
    base_free(offs);
    return rc;
}

/* ------------------------------------------------------------ fused: aggregation of a range function */

/* sum/avg/min/max/count/group over rate(x[5m]) and its family: each
 * series' function result is added to its group as it is computed, so the
 * intermediate vector (series x steps) is never built. Equal label sets
 * after the name is dropped would be an error or a merge in Prometheus;
 * then the stream stops and the caller takes the ordinary path. */
typedef struct fused {
    const query_node *n;
    qvalue *out;
    qmap groups, seen;
    qkey key;
    agg_state *st; /* per group */
    size_t n_st, cap;
    bool dup;
    bool check_dup;          /* names were dropped: label sets may collide */
    const query_node *bin;   /* series (op) number, or NULL */
    bool swap;               /* number (op) series */
    double *num;             /* the number over the grid */
} fused;

static const char *const no_names[1] = {NULL};

static int fused_add(qctx *c, fused *f, const qlabels *lab, const double *v, const uint64_t *has);

static int fused_sink(qctx *c, void *arg, const qlabels *lab, double *v, uint64_t *has)
{
    fused *f = arg;
    if (!f->bin)
        return fused_add(c, f, lab, v, has);
    const query_node *b = f->bin;
    query_series_scalar_op(b->u.binary.op, b->u.binary.return_bool, f->swap, v, has, f->num, c->n_steps);
    bool any = false;
    for (size_t w = 0; w < qbit_words(c->n_steps) && !any; w++)
        any = has[w] != 0;
    if (!any)
        return 0;
    if (!(query_op_drops_name(b->u.binary.op) || b->u.binary.return_bool) || !query_labels_has_name(lab))
        return fused_add(c, f, lab, v, has);
    qlabels nl;
    if (query_labels_drop_name(lab, &nl) != 0)
        return query_nomem(c);
    int rc = fused_add(c, f, &nl, v, has);
    query_labels_free(&nl);
    return rc;
}

static int fused_add(qctx *c, fused *f, const qlabels *lab, const double *v, const uint64_t *has)
{
    const query_node *n = f->n;
    int found;
    uint32_t idx;
    if (f->check_dup) {
        if (query_key_build(&f->key, lab, no_names, 0, false, false) != 0 ||
            query_map_get_or_add(&f->seen, f->key.p, f->key.len, 0, &idx, &found) != 0)
            return query_nomem(c);
        if (found) {
            f->dup = true;
            return 1;
        }
    }
    if (query_key_build(&f->key, lab, grouping_names(n), n->u.aggregate.n_grouping, !n->u.aggregate.without,
                        true) != 0 ||
        query_map_get_or_add(&f->groups, f->key.p, f->key.len, (uint32_t)f->out->n, &idx, &found) != 0)
        return query_nomem(c);
    size_t steps = c->n_steps;
    if (!found) {
        if (f->out->n == f->cap) {
            size_t nc = f->cap ? f->cap * 2 : 16;
            agg_state *ns = base_realloc(f->st, nc * sizeof *ns);
            if (!ns)
                return query_nomem(c);
            f->st = ns;
            f->cap = nc;
        }
        agg_state *st = &f->st[f->n_st];
        size_t cells = steps ? steps : 1;
        st->val = base_malloc(cells * sizeof(double));
        st->kc = base_malloc(cells * sizeof(double));
        st->mean = base_malloc(cells * sizeof(double));
        st->cnt = base_malloc(cells * sizeof(double));
        st->flags = base_calloc(cells, 1);
        qlabels gl;
        qseries *o;
        int rc = 0;
        if (!st->val || !st->kc || !st->mean || !st->cnt || !st->flags || group_labels(n, lab, &gl) != 0)
            rc = query_nomem(c);
        else if ((rc = query_vector_add(c, f->out, &gl, &o)) != 0)
            query_labels_free(&gl);
        f->n_st++; /* freed by agg_fused from now on */
        if (rc)
            return rc;
    }
    agg_state *st = &f->st[idx];
    for (size_t w = 0; w < qbit_words(steps); w++) {
        uint64_t bits = has[w];
        while (bits) {
            size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            agg_add(n->u.aggregate.op, st, i, v[i]);
        }
    }
    return 0;
}

/* 1 when done (out filled), 0 when the ordinary path must run, <0 error. */
static int agg_fused(qctx *c, const query_node *n, qvalue *out)
{
    switch (n->u.aggregate.op) {
    case QUERY_AGG_SUM:
    case QUERY_AGG_AVG:
    case QUERY_AGG_MIN:
    case QUERY_AGG_MAX:
    case QUERY_AGG_COUNT:
    case QUERY_AGG_GROUP:
        break;
    default:
        return 0;
    }
    /* the source: a range function over a selector, or a selector, maybe
     * compared with or combined with a number */
    const query_node *src = query_unwrap(n->u.aggregate.expr), *bin = NULL;
    bool swap = false;
    if (src->kind == QUERY_NODE_BINARY && !query_op_is_set(src->u.binary.op) &&
        src->u.binary.op != QUERY_OP_TRIM_UPPER && src->u.binary.op != QUERY_OP_TRIM_LOWER) {
        const query_node *l = query_unwrap(src->u.binary.lhs), *r = query_unwrap(src->u.binary.rhs);
        bin = src;
        if (r->kind == QUERY_NODE_NUMBER) {
            src = l;
        } else if (l->kind == QUERY_NODE_NUMBER) {
            src = r;
            swap = true;
        } else {
            return 0;
        }
    }
    bool is_call = query_range_call_streamable(src);
    if (!is_call && (src->kind != QUERY_NODE_VECTOR_SELECTOR || src->u.vs.smoothed || src->u.vs.anchored))
        return 0;
    fused f;
    memset(&f, 0, sizeof f);
    f.n = n;
    f.out = out;
    f.bin = bin;
    f.swap = swap;
    f.check_dup = is_call || (bin && (query_op_drops_name(bin->u.binary.op) || bin->u.binary.return_bool));
    if (bin) {
        const query_node *num = query_unwrap(swap ? bin->u.binary.lhs : bin->u.binary.rhs);
        f.num = base_malloc((c->n_steps ? c->n_steps : 1) * sizeof *f.num);
        if (!f.num)
            return query_nomem(c);
        for (size_t i = 0; i < c->n_steps; i++)
            f.num[i] = num->u.number.value;
    }
    query_vector_init(c, out);
    int rc = is_call ? query_range_call_stream(c, src, fused_sink, &f) : query_select_stream(c, src, fused_sink, &f);
    if (rc == 0 && !f.dup) {
        for (size_t g = 0; g < out->n; g++) {
            qseries *o = &out->s[g];
            for (size_t i = 0; i < c->n_steps; i++) {
                if (!(f.st[g].flags[i] & 1))
                    continue;
                o->v[i] = agg_final(n->u.aggregate.op, &f.st[g], i);
                qbit_set(o->has, i);
            }
        }
        query_vector_prune(c, out);
    }
    for (size_t g = 0; g < f.n_st; g++) {
        base_free(f.st[g].val);
        base_free(f.st[g].kc);
        base_free(f.st[g].mean);
        base_free(f.st[g].cnt);
        base_free(f.st[g].flags);
    }
    base_free(f.st);
    base_free(f.num);
    query_map_free(&f.groups);
    query_map_free(&f.seen);
    query_key_free(&f.key);
    if (rc < 0 || f.dup) {
        query_value_free(c, out);
        return rc < 0 ? rc : 0;
    }
    return 1;
}

/* ------------------------------------------------------------ entry */

int query_eval_aggregate(qctx *c, const query_node *n, qvalue *out)
{
    query_agg_op op = n->u.aggregate.op;
    qvalue param, in;
    memset(&param, 0, sizeof param);
    memset(&in, 0, sizeof in);
    int rc = 0;
    if (n->u.aggregate.param) {
        rc = query_eval_node(c, n->u.aggregate.param, &param);
        if (rc)
            return rc;
        if (op == QUERY_AGG_COUNT_VALUES ? param.kind != QV_STRING : param.kind != QV_SCALAR) {
            query_value_free(c, &param);
            return query_fail(c, QERR_BAD_DATA, "wrong parameter type for %s", query_agg_name(op));
        }
    }
    if (!n->u.aggregate.param && (rc = agg_fused(c, n, out)) != 0) {
        if (rc > 0)
            rc = 0;
        goto out_fused;
    }
    if ((rc = query_eval_node(c, n->u.aggregate.expr, &in)) != 0)
        goto out;
    if (in.kind != QV_VECTOR) {
        rc = query_fail(c, QERR_BAD_DATA, "expected an instant vector in aggregation");
        goto out;
    }
    query_vector_init(c, out);
    if (op == QUERY_AGG_COUNT_VALUES) {
        const char *label = param.str;
        if (!query_valid_label_name(label)) {
            rc = query_fail(c, QERR_EXECUTION, "invalid label name \"%s\"", label);
            goto out;
        }
        rc = agg_count_values(c, n, &in, label, out);
        goto out;
    }
    if (op == QUERY_AGG_QUANTILE) {
        for (size_t i = 0; i < c->n_steps; i++) {
            double q = param.scalar[i];
            if (isnan(q) || q < 0 || q > 1) {
                query_warn(c, "PromQL warning: quantile value should be between 0 and 1, got %g", q);
                break;
            }
        }
    }
    uint32_t *grp = base_malloc((in.n + 1) * sizeof *grp);
    size_t *first = base_malloc((in.n + 1) * sizeof *first);
    size_t n_groups = 0;
    if (!grp || !first)
        rc = query_nomem(c);
    if (rc == 0)
        rc = assign_groups(c, n, &in, grp, first, &n_groups);
    if (rc == 0) {
        if (op == QUERY_AGG_TOPK || op == QUERY_AGG_BOTTOMK || op == QUERY_AGG_LIMITK || op == QUERY_AGG_LIMIT_RATIO)
            rc = agg_k(c, n, &in, grp, n_groups, param.scalar, out);
        else
            rc = agg_simple(c, n, &in, grp, first, n_groups, param.scalar, out);
    }
    base_free(grp);
    base_free(first);
    if (rc == 0)
        query_vector_prune(c, out);
out:
    query_value_free(c, &param);
    query_value_free(c, &in);
    if (rc)
        query_value_free(c, out);
    return rc;
out_fused:
    query_value_free(c, &param);
    return rc;
}
