/*
 * eval_select.c: reading data for the evaluator through the public API
 * (strata_select and its cursor), one series at a time.
 *
 * Each selected series is read once for the whole query: the samples from
 * the earliest window start to the latest window end land in a scratch
 * buffer reused across series, and a callback turns them into the result
 * (a dense vector series for an instant selector, one output series of a
 * range function, a copy for a materialized matrix). Nothing is re-read
 * per step. Windows follow Prometheus 3: an instant selector sees the
 * latest sample in (t - lookback, t], a range selector the samples in
 * (t - range, t]; a staleness marker ends an instant selector's series and
 * is dropped from ranges.
 */
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "eval_int.h"

static int64_t sat_sub(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return b > 0 ? INT64_MIN : INT64_MAX;
    return r;
}

int query_scan(qctx *c, const strata_matcher *m, size_t n_m, int64_t mint, int64_t maxt, bool drop_stale,
               query_scan_fn fn, void *arg)
{
    return query_scan_ex(c, m, n_m, mint, maxt, drop_stale, 0, 0, fn, NULL, arg);
}

int query_scan_ex(qctx *c, const strata_matcher *m, size_t n_m, int64_t mint, int64_t maxt, bool drop_stale,
                  int64_t agg_res_ms, unsigned agg_fields, query_scan_fn fn, query_rows_fn rows_fn, void *arg)
{
    if (mint > maxt)
        return 0;
    strata_cursor *cur = NULL;
    int rc;
    if (c->max_source_res_ms >= 0 || (rows_fn && agg_res_ms > 0)) {
        strata_read_options ro;
        strata_read_options_init(&ro);
        ro.max_source_resolution_ms = c->max_source_res_ms;
        ro.agg_resolution_ms = rows_fn ? agg_res_ms : 0;
        ro.agg_fields = agg_fields;
        strata_selector sel = {(strata_matcher *)m, n_m, 0};
        rc = strata_select_ex(c->db, &sel, 1, mint, maxt, 0, &ro, &cur);
    } else {
        rc = strata_select(c->db, m, n_m, mint, maxt, &cur);
    }
    if (rc)
        return rc == STRATA_ERR_NOMEM ? query_nomem(c) : query_fail(c, QERR_INTERNAL, "select: %s", strata_strerror(rc));
    int64_t *bt = NULL;
    double *bv = NULL;
    size_t cap = 0;
    for (;;) {
        if ((rc = query_check(c)) != 0)
            break;
        strata_sid sid;
        const strata_label *labels;
        size_t n_labels;
        rc = strata_cursor_next_series(cur, &sid, &labels, &n_labels);
        if (rc <= 0) {
            if (rc < 0)
                rc = query_fail(c, QERR_INTERNAL, "reading series: %s", strata_strerror(rc));
            break;
        }
        size_t n = 0;
        const int64_t *t;
        const double *v;
        size_t k;
        const strata_agg *rows = NULL;
        size_t n_rows = 0;
        if (rows_fn && (rc = strata_cursor_next_aggs(cur, &rows, &n_rows)) != 1) {
            if (rc < 0) {
                rc = query_fail(c, QERR_INTERNAL, "reading series: %s", strata_strerror(rc));
                break;
            }
            rows = NULL;
            n_rows = 0;
        }
        /* a series' samples come in one run (strata.h), valid until the
         * next series: used in place when nothing of it is left out (no
         * copy of a year of samples), copied and filtered otherwise */
        const int64_t *ut = NULL;
        const double *uv = NULL;
        while ((rc = strata_cursor_next_samples(cur, &t, &v, &k)) == 1) {
            bool clean = n == 0 && !ut;
            for (size_t i = 0; clean && i < k; i++)
                clean = t[i] >= mint && t[i] <= maxt && !(drop_stale && query_is_stale(v[i]));
            if (clean) {
                ut = t;
                uv = v;
                n = k;
                continue;
            }
            if (ut) { /* more than one run after all: copy the first */
                size_t nc = cap;
                while (nc < n + k)
                    nc = nc ? nc * 2 : 1024;
                int64_t *nt = nc > cap ? base_realloc(bt, nc * sizeof *nt) : bt;
                if (nt)
                    bt = nt;
                double *nv = nc > cap ? base_realloc(bv, nc * sizeof *nv) : bv;
                if (nv)
                    bv = nv;
                if (!nt || !nv) {
                    rc = query_nomem(c);
                    goto out;
                }
                cap = nc;
                memcpy(bt, ut, n * sizeof *bt);
                memcpy(bv, uv, n * sizeof *bv);
                ut = NULL;
                uv = NULL;
            }
            if (n + k > cap) {
                size_t nc = cap ? cap : 1024;
                while (nc < n + k)
                    nc *= 2;
                int64_t *nt = base_realloc(bt, nc * sizeof *nt);
                if (nt)
                    bt = nt;
                double *nv = base_realloc(bv, nc * sizeof *nv);
                if (nv)
                    bv = nv;
                if (!nt || !nv) {
                    rc = query_nomem(c);
                    goto out;
                }
                cap = nc;
            }
            for (size_t i = 0; i < k; i++) {
                if (t[i] < mint || t[i] > maxt || (drop_stale && query_is_stale(v[i])))
                    continue;
                bt[n] = t[i];
                bv[n] = v[i];
                n++;
            }
        }
        if (rc < 0) {
            rc = query_fail(c, QERR_INTERNAL, "reading samples: %s", strata_strerror(rc));
            break;
        }
        c->total_loaded += n + n_rows;
        if ((rc = query_charge(c, n + n_rows)) != 0)
            break;
        const int64_t *st = ut ? ut : bt;
        const double *sv = ut ? uv : bv;
        rc = rows ? rows_fn(c, arg, labels, n_labels, rows, n_rows, st, sv, n) : fn(c, arg, labels, n_labels, st, sv, n);
        query_release(c, n + n_rows);
        if (rc)
            break;
    }
out:
    strata_cursor_close(cur);
    base_free(bt);
    base_free(bv);
    return rc;
}

/* ------------------------------------------------------------ instant selector */

typedef struct vsel_arg {
    qvalue *out;
    const int64_t *ts;
} vsel_arg;

/* Fills s->v / s->has for every step from the samples (t, v) in time order. */
void query_instant_points(const qctx *c, const int64_t *ts, size_t n_steps, const int64_t *t, const double *v,
                          size_t n, double *ov, uint64_t *has)
{
    size_t j = 0;
    for (size_t i = 0; i < n_steps; i++) {
        int64_t te = ts[i];
        if (i && te < ts[i - 1])
            j = 0; /* never with our grids; keeps any order correct */
        while (j < n && t[j] <= te)
            j++;
        if (j == 0)
            continue;
        size_t k = j - 1;
        if (t[k] <= sat_sub(te, c->lookback_ms) || query_is_stale(v[k]))
            continue;
        ov[i] = v[k];
        qbit_set(has, i);
    }
}

/* query_instant_points over rows and samples: a downsampled interval's
 * last value stands for its interval, so it stays current a resolution
 * longer than a raw sample (else a chart over downsampled data at a step
 * finer than the resolution would show a point now and then). At each
 * step the newer of the last row and the last sample counts. */
void query_instant_rows(const qctx *c, const int64_t *ts, size_t n_steps, const strata_agg *r, size_t n,
                        const int64_t *t, const double *v, size_t ns, double *ov, uint64_t *has)
{
    size_t j = 0, k = 0;
    for (size_t i = 0; i < n_steps; i++) {
        int64_t te = ts[i];
        if (i && te < ts[i - 1])
            j = k = 0;
        while (j < n && r[j].t_last <= te)
            j++;
        while (k < ns && t[k] <= te)
            k++;
        if (k && (!j || t[k - 1] > r[j - 1].t_last)) {
            if (t[k - 1] <= sat_sub(te, c->lookback_ms) || query_is_stale(v[k - 1]))
                continue;
            ov[i] = v[k - 1];
        } else if (j) {
            const strata_agg *x = &r[j - 1];
            int64_t reach = x->res_ms > INT64_MAX - c->lookback_ms ? INT64_MAX : c->lookback_ms + x->res_ms;
            if (x->t_last <= sat_sub(te, reach))
                continue;
            ov[i] = x->last;
        } else {
            continue;
        }
        qbit_set(has, i);
    }
}

static int vsel_series(qctx *c, vsel_arg *a, const strata_label *labels, size_t n_labels, const int64_t *t,
                       const double *v, size_t n, const strata_agg *rows, size_t n_rows)
{
    qlabels lab;
    if (query_labels_make(labels, n_labels, &lab) != 0)
        return query_nomem(c);
    qseries *s;
    int rc = query_vector_add(c, a->out, &lab, &s);
    if (rc) {
        query_labels_free(&lab);
        return rc;
    }
    if (rows)
        query_instant_rows(c, a->ts, a->out->n_steps, rows, n_rows, t, v, n, s->v, s->has);
    else
        query_instant_points(c, a->ts, a->out->n_steps, t, v, n, s->v, s->has);
    bool any = false;
    for (size_t w = 0; w < qbit_words(a->out->n_steps) && !any; w++)
        any = s->has[w] != 0;
    if (!any) {
        /* no point at any step: drop it again (it stays the last one) */
        a->out->n--;
        query_labels_free(&s->lab);
        base_free(s->v);
        base_free(s->has);
        a->out->samples -= a->out->n_steps;
        query_release(c, a->out->n_steps);
    }
    return 0;
}

static int vsel_cb(qctx *c, void *argp, const strata_label *labels, size_t n_labels, const int64_t *t,
                   const double *v, size_t n)
{
    return vsel_series(c, argp, labels, n_labels, t, v, n, NULL, 0);
}

static int vsel_rows_cb(qctx *c, void *argp, const strata_label *labels, size_t n_labels, const strata_agg *rows,
                        size_t n_rows, const int64_t *t, const double *v, size_t n)
{
    return vsel_series(c, argp, labels, n_labels, t, v, n, rows, n_rows);
}

static void ts_bounds(const int64_t *ts, size_t n, int64_t *lo, int64_t *hi)
{
    *lo = INT64_MAX;
    *hi = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        if (ts[i] < *lo)
            *lo = ts[i];
        if (ts[i] > *hi)
            *hi = ts[i];
    }
}

int query_select_vector(qctx *c, const strata_matcher *m, size_t n_m, const int64_t *ts, qvalue *out)
{
    query_vector_init(c, out);
    if (c->n_steps == 0)
        return 0;
    int64_t lo, hi;
    ts_bounds(ts, c->n_steps, &lo, &hi);
    vsel_arg a = {out, ts};
    int64_t mint = sat_sub(lo, query_instant_reach(c));
    if (mint < INT64_MAX)
        mint++;
    /* rows only where downsampled data may be: else the plain, faster read */
    bool rows = query_instant_reach(c) != c->lookback_ms;
    int rc = query_scan_ex(c, m, n_m, mint, hi, false, rows ? INT64_MAX : 0, STRATA_AGG_LAST, vsel_cb,
                           rows ? vsel_rows_cb : NULL, &a);
    if (rc)
        query_value_free(c, out);
    return rc;
}

/* ------------------------------------------------------------ range selector */

static int msel_cb(qctx *c, void *argp, const strata_label *labels, size_t n_labels, const int64_t *t,
                   const double *v, size_t n)
{
    qvalue *out = argp;
    if (n == 0)
        return 0;
    if (out->n == out->cap) {
        size_t nc = out->cap ? out->cap * 2 : 16;
        qmseries *ns = base_realloc(out->ms, nc * sizeof *ns);
        if (!ns)
            return query_nomem(c);
        out->ms = ns;
        out->cap = nc;
    }
    qmseries *s = &out->ms[out->n];
    memset(s, 0, sizeof *s);
    s->t = base_malloc(n * sizeof *s->t);
    s->v = base_malloc(n * sizeof *s->v);
    if (!s->t || !s->v || query_labels_make(labels, n_labels, &s->lab) != 0) {
        base_free(s->t);
        base_free(s->v);
        return query_nomem(c);
    }
    memcpy(s->t, t, n * sizeof *t);
    memcpy(s->v, v, n * sizeof *v);
    s->n = n;
    out->n++;
    out->samples += n;
    return query_charge(c, n);
}

int query_matrix_init(qctx *c, const int64_t *ts, int64_t range_ms, qvalue *out)
{
    memset(out, 0, sizeof *out);
    out->kind = QV_MATRIX;
    out->n_steps = c->n_steps;
    out->range_ms = range_ms;
    out->wend = base_malloc((c->n_steps ? c->n_steps : 1) * sizeof *out->wend);
    if (!out->wend)
        return query_nomem(c);
    memcpy(out->wend, ts, c->n_steps * sizeof *ts);
    return 0;
}

int query_select_matrix(qctx *c, const strata_matcher *m, size_t n_m, const int64_t *ts, int64_t range_ms,
                        int64_t before_ms, int64_t after_ms, qvalue *out)
{
    int rc = query_matrix_init(c, ts, range_ms, out);
    if (rc)
        return rc;
    if (c->n_steps == 0)
        return 0;
    int64_t lo, hi;
    ts_bounds(ts, c->n_steps, &lo, &hi);
    int64_t mint = sat_sub(sat_sub(lo, range_ms), before_ms);
    if (mint < INT64_MAX)
        mint++;
    rc = query_scan(c, m, n_m, mint, hi + after_ms, true, msel_cb, out);
    if (rc)
        query_value_free(c, out);
    return rc;
}

int query_matrix_bounds(const qctx *c, const int64_t *ts, int64_t range_ms, int64_t *mint, int64_t *maxt)
{
    int64_t lo, hi;
    ts_bounds(ts, c->n_steps, &lo, &hi);
    *mint = sat_sub(lo, range_ms);
    if (*mint < INT64_MAX)
        (*mint)++;
    *maxt = hi;
    return 0;
}

/* ------------------------------------------------------------ anchored, smoothed */

static double interp(int64_t t1, double y1, int64_t t2, double y2, int64_t t)
{
    return y1 + (y2 - y1) * (double)(t - t1) / (double)(t2 - t1);
}

/* Prometheus' extendFloats for a matrix answered as such (one step): the
 * window's samples framed by a point at its start and one at its end,
 * taken from the last sample before it (anchored) or interpolated
 * (smoothed). */
int query_matrix_extend(qctx *c, qvalue *m, bool smoothed)
{
    int64_t we = m->wend[0], ws = we - m->range_ms;
    size_t k = 0;
    for (size_t s = 0; s < m->n; s++) {
        qmseries *ser = &m->ms[s];
        const int64_t *t = ser->t;
        const double *v = ser->v;
        size_t n = ser->n, last = n - 1, j = 0;
        while (j < last && !(t[j] > ws))
            j++;
        size_t first = j > 0 ? j - 1 : 0;
        if (smoothed) {
            size_t e = 0;
            while (e < last && !(t[e] >= we))
                e++;
            last = e;
        }
        if (t[last] <= ws) {
            query_labels_free(&ser->lab);
            base_free(ser->t);
            base_free(ser->v);
            continue;
        }
        double left = v[first], right = v[last];
        if (smoothed && t[first] < ws)
            left = interp(t[first], v[first], t[first + 1], v[first + 1], ws);
        if (smoothed && last > 0 && t[last] > we)
            right = interp(t[last - 1], v[last - 1], t[last], v[last], we);
        ptrdiff_t a = (ptrdiff_t)first, b = (ptrdiff_t)last;
        if (t[a] <= ws)
            a++;
        if (t[b] >= we)
            b--;
        size_t cnt = b >= a ? (size_t)(b - a + 1) : 0;
        int64_t *nt = base_malloc((cnt + 2) * sizeof *nt);
        double *nv = base_malloc((cnt + 2) * sizeof *nv);
        if (!nt || !nv) {
            base_free(nt);
            base_free(nv);
            for (size_t r = s; r < m->n; r++)
                m->ms[k++] = m->ms[r];
            m->n = k;
            return query_nomem(c);
        }
        nt[0] = ws;
        nv[0] = left;
        for (size_t i = 0; i < cnt; i++) {
            nt[i + 1] = t[(size_t)a + i];
            nv[i + 1] = v[(size_t)a + i];
        }
        nt[cnt + 1] = we;
        nv[cnt + 1] = right;
        base_free(ser->t);
        base_free(ser->v);
        ser->t = nt;
        ser->v = nv;
        ser->n = cnt + 2;
        m->ms[k++] = *ser;
    }
    m->n = k;
    m->windowed = true;
    return 0;
}

typedef struct smooth_arg {
    qvalue *out;
    const int64_t *ts;
} smooth_arg;

/* smoothSeries: per step the value at the step's time, interpolated
 * between the samples around it (within a lookback each way), the sample
 * itself on an exact hit, the last one when none follows. */
static int smooth_cb(qctx *c, void *argp, const strata_label *labels, size_t n_labels, const int64_t *t,
                     const double *v, size_t n)
{
    smooth_arg *a = argp;
    qlabels lab;
    if (query_labels_make(labels, n_labels, &lab) != 0)
        return query_nomem(c);
    qseries *s;
    int rc = query_vector_add(c, a->out, &lab, &s);
    if (rc) {
        query_labels_free(&lab);
        return rc;
    }
    size_t lo = 0, hi = 0;
    for (size_t i = 0; i < a->out->n_steps; i++) {
        int64_t d = a->ts[i];
        if (i && d < a->ts[i - 1])
            lo = hi = 0;
        /* the samples in (d - lookback, d + lookback] */
        while (lo < n && t[lo] <= sat_sub(d, c->lookback_ms))
            lo++;
        if (hi < lo)
            hi = lo;
        while (hi < n && t[hi] <= d + c->lookback_ms)
            hi++;
        if (lo == hi)
            continue;
        size_t j = lo;
        while (j < hi && t[j] < d)
            j++;
        if (j < hi && t[j] == d)
            s->v[i] = v[j];
        else if (j > lo && j < hi)
            s->v[i] = interp(t[j - 1], v[j - 1], t[j], v[j], d);
        else if (j > lo)
            s->v[i] = v[j - 1];
        else
            continue;
        qbit_set(s->has, i);
    }
    return 0;
}

int query_select_vector_smoothed(qctx *c, const strata_matcher *m, size_t n_m, const int64_t *ts, qvalue *out)
{
    query_vector_init(c, out);
    if (c->n_steps == 0)
        return 0;
    int64_t lo, hi;
    ts_bounds(ts, c->n_steps, &lo, &hi);
    int64_t mint = sat_sub(lo, c->lookback_ms);
    if (mint < INT64_MAX)
        mint++;
    smooth_arg a = {out, ts};
    int rc = query_scan(c, m, n_m, mint, hi + c->lookback_ms, true, smooth_cb, &a);
    if (rc == 0)
        query_vector_prune(c, out);
    else
        query_value_free(c, out);
    return rc;
}

int64_t query_instant_reach(const qctx *c)
{
    int64_t extra = c->ds_res_ms;
    if (c->max_source_res_ms >= 0 && c->max_source_res_ms < extra)
        extra = c->max_source_res_ms;
    return c->lookback_ms > INT64_MAX - extra ? INT64_MAX : c->lookback_ms + extra;
}
