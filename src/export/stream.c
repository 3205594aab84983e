/*
 * stream.c: strata_export_*, the streaming export of strata.h: a cursor
 * over the union of the selectors (strata_select_any), each series'
 * samples gathered and encoded as one piece of text (JSON lines, CSV or
 * line protocol), handed out in pieces of the caller's size. The CLI
 * writes it to stdout and the server to a response it streams, so
 * memory stays bounded by the largest series, whatever the number of
 * series.
 */
#include <string.h>

#include "export.h"

struct strata_export {
    strata_cursor *cur;
    strata_export_format format;
    bbuf out;          /* encoded text of the current series */
    size_t out_pos;    /* bytes of out already handed out */
    int done;
    base_label *labels;
    size_t labels_cap;
    int64_t *t;
    double *v;
    size_t cap;        /* of t and v */
    uint64_t series, samples;
};

int strata_export_open(strata_db *db, const strata_selector *selectors, size_t n_selectors, int64_t mint_ms,
                       int64_t maxt_ms, strata_export_format format, strata_export **out)
{
    if (!db || !out || (unsigned)format > STRATA_EXPORT_LP)
        return STRATA_ERR_INVALID;
    strata_export *e = base_calloc(1, sizeof *e);
    if (!e)
        return STRATA_ERR_NOMEM;
    e->format = format;
    strata_selector all = {0};
    int rc = strata_select_any(db, n_selectors ? selectors : &all, n_selectors ? n_selectors : 1, mint_ms,
                               maxt_ms, 0, &e->cur);
    if (!rc && format == STRATA_EXPORT_CSV)
        rc = fmt_csv_header(&e->out);
    if (rc) {
        strata_export_close(e);
        return rc;
    }
    *out = e;
    return STRATA_OK;
}

/* Encodes the next series with samples into e->out. 1 when it did, 0 at
 * the end, or a negative status. */
static int next_series(strata_export *e)
{
    for (;;) {
        strata_sid sid;
        const strata_label *l;
        size_t nl;
        int rc = strata_cursor_next_series(e->cur, &sid, &l, &nl);
        if (rc <= 0)
            return rc;
        size_t n = 0, k;
        const int64_t *t;
        const double *v;
        while ((rc = strata_cursor_next_samples(e->cur, &t, &v, &k)) == 1) {
            if (n + k > e->cap) {
                size_t cap = e->cap ? e->cap : 1024;
                while (cap < n + k)
                    cap *= 2;
                int64_t *nt = base_realloc(e->t, cap * sizeof *nt);
                if (!nt)
                    return STRATA_ERR_NOMEM;
                e->t = nt;
                double *nv = base_realloc(e->v, cap * sizeof *nv);
                if (!nv)
                    return STRATA_ERR_NOMEM;
                e->v = nv;
                e->cap = cap;
            }
            memcpy(e->t + n, t, k * sizeof *t);
            memcpy(e->v + n, v, k * sizeof *v);
            n += k;
        }
        if (rc < 0)
            return rc;
        if (!n)
            continue;
        if (nl > e->labels_cap) {
            base_label *nb = base_realloc(e->labels, nl * sizeof *nb);
            if (!nb)
                return STRATA_ERR_NOMEM;
            e->labels = nb;
            e->labels_cap = nl;
        }
        for (size_t i = 0; i < nl; i++)
            e->labels[i] = (base_label){l[i].name, strlen(l[i].name), l[i].value, strlen(l[i].value)};
        if (e->format == STRATA_EXPORT_JSONL)
            rc = jsonl_encode(&e->out, e->labels, nl, e->t, e->v, n);
        else if (e->format == STRATA_EXPORT_CSV)
            rc = fmt_csv_series(&e->out, e->labels, nl, e->t, e->v, n);
        else
            rc = fmt_lp_series(&e->out, e->labels, nl, e->t, e->v, n, NULL);
        if (rc)
            return rc;
        e->series++;
        e->samples += n;
        return 1;
    }
}

int strata_export_read(strata_export *e, char *buf, size_t cap, size_t *n)
{
    if (!e || !buf || !cap || !n)
        return STRATA_ERR_INVALID;
    while (e->out_pos == e->out.len) {
        if (e->done)
            return 0;
        e->out.len = 0;
        e->out_pos = 0;
        int rc = next_series(e);
        if (rc < 0)
            return rc;
        if (rc == 0)
            e->done = 1;
    }
    size_t k = e->out.len - e->out_pos;
    if (k > cap)
        k = cap;
    memcpy(buf, e->out.data + e->out_pos, k);
    e->out_pos += k;
    *n = k;
    return 1;
}

void strata_export_counts(const strata_export *e, uint64_t *series, uint64_t *samples)
{
    if (series)
        *series = e ? e->series : 0;
    if (samples)
        *samples = e ? e->samples : 0;
}

void strata_export_close(strata_export *e)
{
    if (!e)
        return;
    strata_cursor_close(e->cur);
    base_buf_free(&e->out);
    base_free(e->labels);
    base_free(e->t);
    base_free(e->v);
    base_free(e);
}
