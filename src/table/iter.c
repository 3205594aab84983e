/*
 * iter.c: the two ways through a table's data: a series iterator (one
 * sid's samples within [mint, maxt], decoding only the blocks that overlap
 * the range and cutting the first and last to it) and a block scan (every
 * block in file order, CRC checked, bytes lent for verbatim copies).
 */
#include <stdio.h>

#include "codec/codec.h"
#include "table_format.h"
#include "table_int.h"

/* ------------------------------------------------------------ series iterator */

void table_iter_init(table_iter *it)
{
    memset(it, 0, sizeof *it);
    it->done = 1;
}

void table_iter_free(table_iter *it)
{
    base_free(it->ts);
    base_free(it->v);
    table_iter_init(it);
}

const char *table_iter_error(const table_iter *it) { return it->err; }

int table_iter_seek(table_iter *it, const table *t, uint64_t sid, int64_t mint, int64_t maxt)
{
    it->t = t;
    it->mint = mint;
    it->maxt = maxt;
    it->err[0] = '\0';
    it->done = 1;
    it->status = STRATA_OK;
    if (mint > maxt || maxt < t->meta.min_t || mint > t->meta.max_t)
        return STRATA_OK;
    int rc = table_find(t, sid, &it->list);
    if (rc == STRATA_ERR_NOTFOUND)
        return STRATA_OK;
    if (rc) {
        snprintf(it->err, sizeof it->err, "%s: bad index entry for sid %llu", t->path, (unsigned long long)sid);
        it->status = rc;
        return rc;
    }
    it->done = 0;
    return STRATA_OK;
}

static int iter_reserve(table_iter *it, size_t n)
{
    if (n <= it->cap)
        return STRATA_OK;
    size_t cap = MAX(n, 2 * it->cap);
    int64_t *ts = base_realloc(it->ts, (cap + CODEC_PAD) * sizeof *ts);
    if (!ts)
        return STRATA_ERR_NOMEM;
    it->ts = ts;
    double *v = base_realloc(it->v, (cap + CODEC_PAD) * sizeof *v);
    if (!v)
        return STRATA_ERR_NOMEM;
    it->v = v;
    it->cap = cap;
    return STRATA_OK;
}

/* First index in ts[0..n) with ts[i] >= x (n when none). */
static size_t lower_bound(const int64_t *ts, size_t n, int64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ts[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int table_iter_next(table_iter *it, const int64_t **ts, const double **v, size_t *n)
{
    table_fault f;
    table_block blk;
    int rc;
    if (it->status)
        return it->status;
    while (!it->done) {
        rc = table_list_next_fault(&it->list, &blk, &f);
        if (rc == 0 || (rc == 1 && blk.mint > it->maxt)) {
            it->done = 1;
            break;
        }
        if (rc < 0)
            goto fail;
        if (blk.maxt < it->mint)
            continue;
        if ((rc = iter_reserve(it, blk.count))) {
            table_fault_set(&f, rc, -1, "out of memory");
            goto fail;
        }
        if ((rc = table_block_decode_fault(it->t, &blk, it->ts, it->v, &f)))
            goto fail;
        size_t lo = blk.mint >= it->mint ? 0 : lower_bound(it->ts, blk.count, it->mint);
        size_t hi = blk.maxt <= it->maxt ? blk.count : lower_bound(it->ts, blk.count, it->maxt == INT64_MAX ? it->maxt : it->maxt + 1);
        if (hi > lo) {
            *ts = it->ts + lo;
            *v = it->v + lo;
            *n = hi - lo;
            return 1;
        }
    }
    return 0;
fail:
    it->done = 1;
    it->status = rc;
    table_fault_format(&f, it->t->path, it->err, sizeof it->err);
    return rc;
}

/* ------------------------------------------------------------ block scan */

void table_scan_init(table_scan *s, const table *t)
{
    memset(s, 0, sizeof *s);
    s->t = t;
}

const char *table_scan_error(const table_scan *s) { return s->err; }

int table_scan_next(table_scan *s, uint64_t *sid, table_block *blk, const uint8_t **bytes)
{
    table_fault f;
    int rc;
    if (s->status)
        return s->status;
    for (;;) {
        if (s->list.t) {
            rc = table_list_next_fault(&s->list, blk, &f);
            if (rc < 0)
                goto fail;
            if (rc == 1)
                break;
            s->list.t = NULL;
        }
        if (s->series_i >= s->t->meta.series)
            return 0;
        if ((rc = table_list_at(s->t, s->series_i++, &s->list, &f)))
            goto fail;
    }
    if ((rc = table_block_check(s->t, blk, &f)))
        goto fail;
    *sid = s->list.sid;
    *bytes = s->t->map + blk->off;
    return 1;
fail:
    s->status = rc;
    table_fault_format(&f, s->t->path, s->err, sizeof s->err);
    return rc;
}
