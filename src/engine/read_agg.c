/*
 * read_agg.c: reading downsampled data (strata_select_ex).
 *
 * A series' data in a range may be raw samples (heads, raw blocks) and
 * aggregate rows (blocks a downsampling wrote, strata_agg). With
 * agg_resolution_ms set, the aggregate blocks of a resolution up to it are
 * decoded as rows; a raw sample that falls into such a row's interval (a
 * late write into downsampled data, not yet rolled up by the compactor)
 * is added to that row, and the series is returned as its rows by time
 * beside its other raw samples (staleness markers included). Blocks
 * coarser than agg_resolution_ms, and every block without it, read as
 * samples (an aggregate block as its rows' last samples). Blocks coarser
 * than max_source_resolution_ms are not read at all.
 *
 * Age order is as in read.c: on equal timestamps the newer source wins;
 * rows and samples never share a timestamp's identity (a row stands for
 * its interval), so they are not deduplicated against each other.
 */
#include <math.h>
#include <stdlib.h>

#include "codec/codec.h"
#include "engine_int.h"

void strata_read_options_init(strata_read_options *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->max_source_resolution_ms = -1;
    o->agg_resolution_ms = 0;
}

static int cmp_row(const void *x, const void *y)
{
    const strata_agg *a = x, *b = y;
    if (a->t_last != b->t_last)
        return a->t_last < b->t_last ? -1 : 1;
    return a->t_first < b->t_first ? -1 : a->t_first > b->t_first;
}

/* true when a[0..n) is in order by cmp already */
static bool sorted(const void *a, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    const char *p = a;
    for (size_t i = 1; i < n; i++)
        if (cmp(p + (i - 1) * size, p + i * size) > 0)
            return false;
    return true;
}

static bool tomb_hides(const manifest_tombstone *const *ts, size_t n_ts, uint64_t min_id, uint64_t sid, int64_t t)
{
    for (size_t k = 0; k < n_ts; k++)
        if (manifest_tombstone_applies(ts[k], min_id, sid) && t >= ts[k]->mint_ms && t <= ts[k]->maxt_ms)
            return true;
    return false;
}

/* Reads one table's blocks of sid in [mint, maxt]: rows into *rows
 * (decoded in place, then filtered), samples into src (sorted; rows and
 * samples of one table never overlap in time as its blocks do not). */
static int read_table(strata_db *db, const db_table *dt, uint64_t sid, int64_t mint, int64_t maxt,
                      const strata_read_options *ro, const manifest_tombstone *const *ts, size_t n_ts,
                      head_samples *src, strata_agg **rows, size_t *n_rows, size_t *cap_rows, int64_t **bt,
                      double **bv, size_t *bcap)
{
    table_block_list l;
    int rc = table_find(dt->t, sid, &l);
    if (rc == STRATA_ERR_NOTFOUND)
        return STRATA_OK;
    if (rc)
        return rc;
    table_block blk;
    char err[320];
    unsigned cols = ro->agg_fields ? ro->agg_fields : ~0u;
    while ((rc = table_block_list_next(&l, &blk)) == 1) {
        if (blk.maxt < mint)
            continue;
        if (blk.mint > maxt)
            break;
        int64_t res;
        if ((rc = table_block_res(dt->t, &blk, &res)) != 0)
            return rc;
        if (ro->max_source_resolution_ms >= 0 && res > ro->max_source_resolution_ms)
            continue;
        if (blk.count + CODEC_PAD > *bcap) {
            size_t nc = blk.count + CODEC_PAD;
            int64_t *t = base_realloc(*bt, nc * sizeof *t);
            if (t)
                *bt = t;
            double *v = base_realloc(*bv, nc * sizeof *v);
            if (v)
                *bv = v;
            if (!t || !v)
                return STRATA_ERR_NOMEM;
            *bcap = nc;
        }
        if (res > 0 && ro->agg_resolution_ms >= res) {
            if (base_grow((void **)rows, cap_rows, *n_rows + blk.count, sizeof **rows))
                return STRATA_ERR_NOMEM;
            strata_agg *r = *rows + *n_rows;
            int64_t r2;
            if ((rc = table_block_decode_agg_cols(dt->t, &blk, *bt, *bv, r, &r2, cols, err, sizeof err)) != 0) {
                base_logf(&db->log, STRATA_LOG_ERROR, "%s", err);
                return rc;
            }
            size_t k = 0;
            for (uint32_t i = 0; i < blk.count; i++) {
                if (r[i].t_last < mint || r[i].t_last > maxt ||
                    (n_ts && tomb_hides(ts, n_ts, dt->m.file_no, sid, r[i].t_last)))
                    continue;
                r[k++] = r[i];
            }
            *n_rows += k;
            continue;
        }
        if ((rc = table_block_decode(dt->t, &blk, *bt, *bv, err, sizeof err)) != 0) {
            base_logf(&db->log, STRATA_LOG_ERROR, "%s", err);
            return rc;
        }
        size_t lo = 0, hi = blk.count;
        while (lo < hi && (*bt)[lo] < mint)
            lo++;
        while (hi > lo && (*bt)[hi - 1] > maxt)
            hi--;
        if (hi > lo && (rc = head_samples_append(src, *bt + lo, *bv + lo, hi - lo)) != 0)
            return rc;
    }
    if (rc < 0)
        return rc;
    db_apply_tombstones(ts, n_ts, dt->m.file_no, sid, src);
    return STRATA_OK;
}

static bool stale(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b == 0x7ff0000000000002ull;
}

int db_read_series_ex(strata_db *db, db_version *v, uint64_t sid, int64_t mint, int64_t maxt,
                      const strata_read_options *ro, head_samples *out, head_samples *scratch, strata_agg **rows_out,
                      size_t *n_rows_out, size_t *cap_rows_out)
{
    size_t n_ts = 0;
    const manifest_tombstone *const *ts = manifest_version_tombstones(v->mv, &n_ts);
    head_samples src = {0};
    strata_agg *rows = *rows_out;
    size_t n_rows = 0, cap_rows = *cap_rows_out, bcap = 0;
    int64_t *bt = NULL;
    double *bv = NULL;
    *n_rows_out = 0;
    out->n = 0;
    int rc = head_read(v->active->h, sid, mint, maxt, out);
    for (size_t i = v->n_frozen; !rc && i-- > 0;) {
        if ((rc = head_read(v->frozen[i]->h, sid, mint, maxt, &src)) != 0)
            break;
        db_apply_tombstones(ts, n_ts, v->frozen[i]->freeze_no, sid, &src);
        rc = db_merge_older(out, &src, scratch);
    }
    /* tables by partition, newest first within one, as read.c reads them */
    const db_table **list = NULL;
    size_t n_cand = 0;
    if (!rc && v->n_tables && !(list = base_malloc(v->n_tables * sizeof *list)))
        rc = STRATA_ERR_NOMEM;
    for (size_t i = 0; !rc && i < v->n_tables; i++) {
        const manifest_table *m = &v->tables[i].m;
        if (sid < m->min_sid || sid > m->max_sid || m->max_t_ms < mint || m->min_t_ms > maxt)
            continue;
        list[n_cand++] = &v->tables[i];
    }
    if (n_cand > 1)
        qsort(list, n_cand, sizeof *list, db_table_read_cmp);
    db_tables_acc tacc = {0};
    for (size_t c = 0; !rc && c < n_cand; c++) {
        src.n = 0;
        rc = read_table(db, list[c], sid, mint, maxt, ro, ts, n_ts, &src, &rows, &n_rows, &cap_rows, &bt, &bv, &bcap);
        if (!rc)
            rc = db_tables_add(&tacc, list[c]->m.partition_ms, &src, scratch);
    }
    int rc2 = db_tables_finish(&tacc, out, scratch);
    if (!rc)
        rc = rc2;
    base_free(list);
    /* retention hides what is older than the series' cut */
    int64_t ret = 0;
    int group = -1;
    if (!rc)
        rc = db_rules_of(db, sid, &ret, &group);
    int64_t cut = ret > 0 ? base_now_ms() - ret : INT64_MIN;
    if (!rc && cut != INT64_MIN) {
        size_t k = 0, w = 0;
        while (k < out->n && out->t[k] < cut)
            k++;
        if (k) { /* out->t may be NULL when there is nothing */
            memmove(out->t, out->t + k, (out->n - k) * sizeof *out->t);
            memmove(out->v, out->v + k, (out->n - k) * sizeof *out->v);
            out->n -= k;
        }
        for (size_t i = 0; i < n_rows; i++)
            if (rows[i].t_last >= cut)
                rows[w++] = rows[i];
        n_rows = w;
    }
    if (!rc && n_rows) {
        /* the series as rows: raw samples inside a row's interval join it,
         * the others stay samples (in out) */
        /* tables are read by partition, so rows usually arrive in order:
         * sort only when they did not (glibc's merge sort costs n log n
         * even on sorted input) */
        if (!sorted(rows, n_rows, sizeof *rows, cmp_row))
            qsort(rows, n_rows, sizeof *rows, cmp_row);
        /* only samples within the rows' span can fall in an interval */
        int64_t span_lo = cpt_interval_end(rows[0].t_last, rows[0].res_ms) - rows[0].res_ms;
        int64_t span_hi = cpt_interval_end(rows[n_rows - 1].t_last, rows[n_rows - 1].res_ms);
        size_t a = 0, b, kept, j = 0;
        while (a < out->n && out->t[a] <= span_lo)
            a++;
        b = a;
        while (b < out->n && out->t[b] <= span_hi)
            b++;
        kept = a;
        for (size_t i = a; i < b; i++) {
            int64_t t = out->t[i];
            double x = out->v[i];
            bool joined = false;
            if (!stale(x)) { /* a marker stays a sample: it ends the series for an instant selector */
                while (j < n_rows && cpt_interval_end(rows[j].t_last, rows[j].res_ms) < t)
                    j++;
                if (j < n_rows) {
                    int64_t end = cpt_interval_end(rows[j].t_last, rows[j].res_ms);
                    if (t > end - rows[j].res_ms) {
                        strata_agg one = {t, t, 1, x, x, x, x, x, 0, 0};
                        cpt_agg_combine(&rows[j], &one);
                        joined = true;
                    }
                }
            }
            if (!joined) {
                out->t[kept] = t;
                out->v[kept++] = x;
            }
        }
        if (kept < b) {
            memmove(out->t + kept, out->t + b, (out->n - b) * sizeof *out->t);
            memmove(out->v + kept, out->v + b, (out->n - b) * sizeof *out->v);
        }
        out->n = kept + (out->n - b);
        *n_rows_out = n_rows;
    }
    head_samples_free(&src);
    *rows_out = rows; /* grown in place: the caller's buffer */
    *cap_rows_out = cap_rows;
    base_free(bt);
    base_free(bv);
    return rc;
}

int64_t strata_max_resolution(strata_db *db)
{
    if (!db)
        return 0;
    int64_t m = db_rules_max_resolution(db->rules);
    db_version *v = db_version_pin(db);
    for (size_t i = 0; i < v->n_tables; i++)
        m = MAX(m, table_get_meta(v->tables[i].t)->max_res_ms);
    db_version_unpin(v);
    return m;
}
