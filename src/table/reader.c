/*
 * reader.c: opens a table file (mmap), checks its footer and index, and
 * serves lookups: a sid's block list by binary search over the fixed-width
 * directory, and block decoding with the CRC checked first.
 *
 * table_open walks the whole index once (like its CRC, linear in the index,
 * not in the data) and checks that it describes exactly the blocks region:
 * blocks contiguous from offset 0 to index_off, counts, time bounds, sids
 * and totals matching the footer. Lookups afterwards still bound every read
 * so that nothing they do can leave the mapping. A block's bytes are
 * trusted only after its CRC matched, and the decoded timestamps must agree
 * with the index's count, first and last time, so a damaged file gives an
 * error, not wrong samples.
 */
#include <math.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/codec.h"
#include "table_format.h"
#include "table_int.h"

int table_fault_set(table_fault *f, int rc, int64_t off, const char *fmt, ...)
{
    if (f) {
        f->off = off;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->what, sizeof f->what, fmt, ap);
        va_end(ap);
    }
    return rc;
}

void table_fault_format(const table_fault *f, const char *path, char *err, size_t errlen)
{
    if (!err || !errlen)
        return;
    if (f->off >= 0)
        snprintf(err, errlen, "%s: %s at offset %lld", path, f->what, (long long)f->off);
    else
        snprintf(err, errlen, "%s: %s", path, f->what);
}

#define CORRUPT(f, off, ...) table_fault_set((f), STRATA_ERR_CORRUPT, (int64_t)(off), __VA_ARGS__)

/* ------------------------------------------------------------ block lists */

static uint64_t dir_sid(const table *t, size_t i)
{
    return t->meta.min_sid + table_load_w(t->index + i * (t->sid_w + t->off_w), t->sid_w);
}

static uint64_t dir_off(const table *t, size_t i)
{
    return table_load_w(t->index + i * (t->sid_w + t->off_w) + t->sid_w, t->off_w);
}

uint64_t table_sid_at(const table *t, size_t i) { return dir_sid(t, i); }

int table_list_at(const table *t, size_t i, table_block_list *out, table_fault *f)
{
    uint64_t start = dir_off(t, i);
    uint64_t end = i + 1 < t->meta.series ? dir_off(t, i + 1) : t->index_len;
    if (start < t->dir_len || end > t->index_len || start >= end)
        return CORRUPT(f, t->index_off + (i * (t->sid_w + t->off_w)), "bad block list position of series %zu", i);
    const uint8_t *p = t->index + start, *e = t->index + end;
    uint64_t n, first, dmint;
    size_t k = base_uvarint_get(p, e, &n);
    size_t k2 = k ? base_uvarint_get(p + k, e, &first) : 0;
    size_t k3 = k2 ? base_uvarint_get(p + k + k2, e, &dmint) : 0;
    /* Every entry takes at least 3 bytes; the first block starts in the
     * file's time range. */
    if (!k3 || n == 0 || n > (uint64_t)(e - p - (ptrdiff_t)(k + k2 + k3)) / 3 || first >= t->index_off ||
        dmint > (uint64_t)t->meta.max_t - (uint64_t)t->meta.min_t)
        return CORRUPT(f, t->index_off + start, "bad block list header of series %zu", i);
    out->t = t;
    out->sid = dir_sid(t, i);
    out->n_blocks = (uint32_t)n;
    out->i = 0;
    out->p = p + k + k2 + k3;
    out->end = e;
    out->next_off = first;
    out->first_mint = (int64_t)((uint64_t)t->meta.min_t + dmint);
    out->prev_maxt = 0;
    out->prev_gap = 0;
    out->prev_span = 0;
    return STRATA_OK;
}

int table_list_next_fault(table_block_list *l, table_block *blk, table_fault *f)
{
    if (l->i >= l->n_blocks)
        return 0;
    const table *t = l->t;
    int64_t at = (int64_t)(t->index_off + (uint64_t)(l->p - t->index));
    uint64_t len, count, gap = 0, span;
    int64_t mint, dcount, d;
    size_t k, used = 0;
    if (!(k = base_uvarint_get(l->p, l->end, &len)))
        goto bad;
    used += k;
    if (!(k = base_svarint_get(l->p + used, l->end, &dcount)) || dcount < -(int64_t)TABLE_MAX_BLOCK_SAMPLES ||
        dcount > (int64_t)TABLE_MAX_BLOCK_SAMPLES)
        goto bad;
    used += k;
    count = (uint64_t)((int64_t)t->block_samples + dcount); /* checked against 1..65536 below */
    if (l->i == 0) {
        mint = l->first_mint;
    } else {
        /* mint = prev_maxt + gap, with gap >= 1 and no overflow */
        if (!(k = base_svarint_get(l->p + used, l->end, &d)))
            goto bad;
        used += k;
        gap = l->prev_gap + (uint64_t)d;
        if (gap == 0 || gap > (uint64_t)INT64_MAX - (uint64_t)l->prev_maxt)
            goto bad;
        mint = (int64_t)((uint64_t)l->prev_maxt + gap);
    }
    if (!(k = base_svarint_get(l->p + used, l->end, &d)))
        goto bad;
    used += k;
    span = l->prev_span + (uint64_t)d;
    if (span > (uint64_t)INT64_MAX - (uint64_t)mint)
        goto bad;
    if (len < TABLE_BLOCK_MIN_HDR + TABLE_BLOCK_CRC || len > UINT32_MAX || (int64_t)count < 1 ||
        count > TABLE_MAX_BLOCK_SAMPLES || span < count - 1 || (count == 1 && span != 0) ||
        len > t->index_off || l->next_off > t->index_off - len)
        goto bad;
    blk->off = l->next_off;
    blk->len = (uint32_t)len;
    blk->count = (uint32_t)count;
    blk->mint = mint;
    blk->maxt = (int64_t)((uint64_t)mint + span);
    l->next_off += len;
    l->prev_maxt = blk->maxt;
    l->prev_gap = gap;
    l->prev_span = span;
    l->p += used;
    l->i++;
    return 1;
bad:
    return CORRUPT(f, at, "bad block entry %u of sid %llu in the index", l->i, (unsigned long long)l->sid);
}

int table_block_list_next(table_block_list *l, table_block *blk) { return table_list_next_fault(l, blk, NULL); }

int table_find(const table *t, uint64_t sid, table_block_list *out)
{
    if (t->meta.series == 0 || sid < t->meta.min_sid || sid > t->meta.max_sid)
        return STRATA_ERR_NOTFOUND;
    size_t lo = 0, hi = (size_t)t->meta.series;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (dir_sid(t, mid) < sid)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == t->meta.series || dir_sid(t, lo) != sid)
        return STRATA_ERR_NOTFOUND;
    return table_list_at(t, lo, out, NULL);
}

int table_sids(const table *t, uint64_t **sids, size_t *n)
{
    uint64_t *s = NULL;
    if (t->meta.series) {
        s = base_malloc((size_t)t->meta.series * sizeof *s);
        if (!s)
            return STRATA_ERR_NOMEM;
        for (size_t i = 0; i < t->meta.series; i++)
            s[i] = dir_sid(t, i);
    }
    *sids = s;
    *n = (size_t)t->meta.series;
    return STRATA_OK;
}

/* ------------------------------------------------------------ blocks */

static void count_read(const table *t, uint64_t bytes)
{
    if (t->stats) {
        atomic_fetch_add_explicit(&t->stats->bytes_read, bytes, memory_order_relaxed);
        atomic_fetch_add_explicit(&t->stats->blocks_read, 1, memory_order_relaxed);
    }
}

/* Parsed header of a block whose CRC matched. For an aggregate block val
 * is the first value column and cols[] every column. */
typedef struct block_hdr {
    uint8_t ts_id, val_id;
    const uint8_t *ts, *val;
    size_t ts_len, val_len;
    int64_t res_ms; /* 0: a raw block */
    uint8_t col_id[TABLE_AGG_COLS];
    const uint8_t *col[TABLE_AGG_COLS];
    size_t col_len[TABLE_AGG_COLS];
} block_hdr;

static int block_parse(const table *t, const table_block *blk, block_hdr *h, table_fault *f)
{
    if (blk->len < TABLE_BLOCK_MIN_HDR + TABLE_BLOCK_CRC || blk->off > t->index_off ||
        blk->len > t->index_off - blk->off)
        return CORRUPT(f, blk->off, "block outside the data region");
    const uint8_t *b = t->map + blk->off;
    size_t body = blk->len - TABLE_BLOCK_CRC;
    if (base_crc32c(0, b, body) != load_u32le(b + body))
        return CORRUPT(f, blk->off, "block CRC mismatch (block of %u bytes)", blk->len);
    const uint8_t *e = b + body;
    uint64_t ts_len;
    size_t k;
    const uint8_t *p = b + 1;
    h->res_ms = 0;
    if (b[0] == TABLE_AGG_MARK) {
        uint64_t res;
        if (t->version < 2 || !(k = base_uvarint_get(p, e, &res)) || res == 0 || res > (uint64_t)t->meta.max_res_ms)
            return CORRUPT(f, blk->off, "bad aggregate block header");
        h->res_ms = (int64_t)res;
        p += k;
        if (p >= e)
            return CORRUPT(f, blk->off, "bad aggregate block header");
        h->ts_id = *p++ >> 4;
    } else {
        h->ts_id = b[0] >> 4;
        h->val_id = b[0] & 15;
    }
    if (!(k = base_uvarint_get(p, e, &ts_len)) || ts_len > (uint64_t)(e - (p + k)))
        return CORRUPT(f, blk->off, "bad timestamp length in block header");
    h->ts = p + k;
    h->ts_len = (size_t)ts_len;
    h->val = h->ts + ts_len;
    h->val_len = (size_t)(e - h->val);
    if (h->res_ms) {
        uint64_t len;
        p = h->val;
        for (unsigned c = 0; c < TABLE_AGG_COLS; c++) {
            if (p >= e)
                return CORRUPT(f, blk->off, "aggregate block ends before column %u", c);
            h->col_id[c] = *p++;
            if (!(k = base_uvarint_get(p, e, &len)) || len > (uint64_t)(e - (p + k)))
                return CORRUPT(f, blk->off, "bad length of aggregate column %u", c);
            h->col[c] = p + k;
            h->col_len[c] = (size_t)len;
            p += k + len;
        }
        if (p != e)
            return CORRUPT(f, blk->off, "bytes after the last aggregate column");
        /* the raw view reads the last column, or the one it repeats */
        unsigned c = TABLE_AGG_LAST;
        while ((h->col_id[c] & 0xf8) == TABLE_AGG_SAME) {
            unsigned r = h->col_id[c] & 7u;
            if (r >= c || h->col_len[c] != 0)
                return CORRUPT(f, blk->off, "aggregate column %u refers to column %u", c, r);
            c = r;
        }
        h->val_id = h->col_id[c];
        h->val = h->col[c];
        h->val_len = h->col_len[c];
    }
    return STRATA_OK;
}

/* The block's timestamps (an aggregate block's may be regular: its ends
 * from the index entry). */
static int decode_ts(const block_hdr *h, const table_block *blk, int64_t *ts)
{
    uint32_t count = blk->count;
    if (h->res_ms && h->ts_id == TABLE_AGG_TS_REGULAR) {
        ts[0] = blk->mint;
        ts[count - 1] = blk->maxt;
        if (count < 3)
            return h->ts_len == 0 ? STRATA_OK : STRATA_ERR_CORRUPT;
        int64_t d, step;
        if (base_svarint_get(h->ts, h->ts + h->ts_len, &d) != h->ts_len || d <= 0 ||
            __builtin_add_overflow(blk->mint, d, &ts[1]))
            return STRATA_ERR_CORRUPT;
        for (uint32_t i = 2; i + 1 < count; i++)
            if (__builtin_mul_overflow((int64_t)(i - 1), h->res_ms, &step) ||
                __builtin_add_overflow(ts[1], step, &ts[i]))
                return STRATA_ERR_CORRUPT;
        ts[count - 1] = blk->maxt;
        for (uint32_t i = 1; i < count; i++)
            if (ts[i] <= ts[i - 1])
                return STRATA_ERR_CORRUPT;
        return STRATA_OK;
    }
    return codec_ts_decode(h->ts_id, h->ts, h->ts_len, count, ts);
}

/* An aggregate column: a constant whole number, or a value codec's bytes. */
static int decode_col(uint8_t id, const uint8_t *p, size_t len, uint32_t count, double *v)
{
    if (id == TABLE_AGG_CONSTINT) {
        uint64_t x[3] = {0, 0, 0};
        const uint8_t *q = p, *e = p + len;
        unsigned want = count < 3 ? count : 3;
        for (unsigned k = 0; k < want; k++) {
            size_t used = base_uvarint_get(q, e, &x[k]);
            if (!used || x[k] >= (1ull << 53))
                return STRATA_ERR_CORRUPT;
            q += used;
        }
        if (q != e)
            return STRATA_ERR_CORRUPT;
        for (uint32_t i = 0; i < count; i++)
            v[i] = (double)(i == 0 ? x[0] : i + 1 == count ? x[want - 1] : x[1]);
        return STRATA_OK;
    }
    return codec_val_decode(id, p, len, count, v);
}

int table_block_check(const table *t, const table_block *blk, table_fault *f)
{
    block_hdr h;
    int rc = block_parse(t, blk, &h, f);
    if (!rc)
        count_read(t, blk->len);
    return rc;
}

/* Parses blk (CRC checked), counts the read and decodes its timestamps,
 * which must agree with the index. */
static int parse_with_ts(const table *t, const table_block *blk, block_hdr *h, int64_t *ts, table_fault *f)
{
    int rc = block_parse(t, blk, h, f);
    if (rc)
        return rc;
    count_read(t, blk->len);
    if (decode_ts(h, blk, ts) != STRATA_OK)
        return CORRUPT(f, blk->off, "timestamps of block (codec %u) do not decode", h->ts_id);
    if (ts[0] != blk->mint || ts[blk->count - 1] != blk->maxt)
        return CORRUPT(f, blk->off, "block time range disagrees with the index");
    return STRATA_OK;
}

int table_block_decode_fault(const table *t, const table_block *blk, int64_t *ts, double *v, table_fault *f)
{
    block_hdr h;
    int rc = parse_with_ts(t, blk, &h, ts, f);
    if (rc)
        return rc;
    if (decode_col(h.val_id, h.val, h.val_len, blk->count, v) != STRATA_OK)
        return CORRUPT(f, blk->off, "values of block (codec %u) do not decode", h.val_id);
    return STRATA_OK;
}

int table_block_res(const table *t, const table_block *blk, int64_t *res_ms)
{
    *res_ms = 0;
    if (t->version < 2 || blk->len < TABLE_BLOCK_MIN_HDR + TABLE_BLOCK_CRC || blk->off >= t->size)
        return STRATA_OK;
    const uint8_t *b = t->map + blk->off;
    if (b[0] != TABLE_AGG_MARK)
        return STRATA_OK;
    uint64_t res;
    if (!base_uvarint_get(b + 1, b + blk->len, &res) || res == 0 || res > (uint64_t)t->meta.max_res_ms)
        return STRATA_ERR_CORRUPT;
    *res_ms = (int64_t)res;
    return STRATA_OK;
}

/* Column k of a decoded row (the span as a double, as stored). */
static double agg_col(const strata_agg *r, unsigned k)
{
    switch (k) {
    case TABLE_AGG_COUNT: return r->count;
    case TABLE_AGG_SUM: return r->sum;
    case TABLE_AGG_MIN: return r->min;
    case TABLE_AGG_MAX: return r->max;
    case TABLE_AGG_FIRST: return r->first;
    case TABLE_AGG_LAST: return r->last;
    case TABLE_AGG_RESETS: return r->resets;
    default: return (double)(r->t_last - r->t_first);
    }
}

int table_block_decode_agg_fault(const table *t, const table_block *blk, int64_t *ts, double *v, strata_agg *rows,
                                 int64_t *res_ms, unsigned cols, table_fault *f)
{
    block_hdr h;
    int rc = parse_with_ts(t, blk, &h, ts, f);
    if (rc)
        return rc;
    *res_ms = h.res_ms;
    if (!h.res_ms) { /* raw samples: rows of one sample */
        if (codec_val_decode(h.val_id, h.val, h.val_len, blk->count, v) != STRATA_OK)
            return CORRUPT(f, blk->off, "values of block (codec %u) do not decode", h.val_id);
        for (uint32_t i = 0; i < blk->count; i++)
            rows[i] = (strata_agg){ts[i], ts[i], 1, v[i], v[i], v[i], v[i], v[i], 0, 0};
        return STRATA_OK;
    }
    for (uint32_t i = 0; i < blk->count; i++)
        rows[i] = (strata_agg){ts[i], ts[i], 1, NAN, NAN, NAN, NAN, NAN, NAN, h.res_ms};
    /* the columns asked for, those they repeat and those a derived one
     * needs (to a fixed point: a need can point up or down) */
    for (unsigned prev = 0; prev != cols;) {
        prev = cols;
        for (unsigned c = 0; c < TABLE_AGG_COLS; c++) {
            if (!(cols >> c & 1))
                continue;
            if ((h.col_id[c] & 0xf8) == TABLE_AGG_SAME)
                cols |= 1u << (h.col_id[c] & 7u);
            if ((h.col_id[c] & 0xf0) == TABLE_AGG_XFORM)
                switch (h.col_id[c] & 15u) {
                case TABLE_XF_SUM: cols |= 1u << TABLE_AGG_COUNT | 1u << TABLE_AGG_FIRST | 1u << TABLE_AGG_LAST; break;
                case TABLE_XF_FIRST: cols |= 1u << TABLE_AGG_LAST; break;
                case TABLE_XF_RESETS: cols |= 1u << TABLE_AGG_FIRST; break;
                default: cols |= 1u << TABLE_AGG_FIRST | 1u << TABLE_AGG_LAST; break;
                }
        }
    }
    /* plain columns first, then a derived first (from last), then the
     * other derived ones (from count, first and last) */
    for (int pass = 0; pass < 3; pass++)
        for (unsigned c = 0; c < TABLE_AGG_COLS; c++) {
            bool xf = (h.col_id[c] & 0xf0) == TABLE_AGG_XFORM;
            int want = !xf ? 0 : c == TABLE_AGG_FIRST ? 1 : 2;
            if (!(cols >> c & 1) || want != pass)
                continue;
            if ((h.col_id[c] & 0xf8) == TABLE_AGG_SAME) {
                unsigned k = h.col_id[c] & 7u;
                if (k >= c || h.col_len[c] != 0 || (h.col_id[k] & 0xf0) == TABLE_AGG_XFORM)
                    return CORRUPT(f, blk->off, "aggregate column %u refers to column %u", c, k);
                for (uint32_t i = 0; i < blk->count; i++)
                    v[i] = agg_col(&rows[i], k);
            } else if (xf) {
                unsigned kind = h.col_id[c] & 15u;
                if ((c != TABLE_AGG_SUM || kind != TABLE_XF_SUM) && (c != TABLE_AGG_MIN || kind != TABLE_XF_MIN) &&
                    (c != TABLE_AGG_MAX || kind != TABLE_XF_MAX) && (c != TABLE_AGG_FIRST || kind != TABLE_XF_FIRST) &&
                    (c != TABLE_AGG_RESETS || kind != TABLE_XF_RESETS))
                    return CORRUPT(f, blk->off, "aggregate column %u has a derived form it cannot have", c);
                if ((kind == TABLE_XF_RESETS
                         ? table_agg_resets_decode(h.col[c], h.col_len[c], blk->count, rows, v)
                         : table_agg_xform_decode(kind, h.col[c], h.col_len[c], blk->count, rows, v)) != STRATA_OK)
                    return CORRUPT(f, blk->off, "derived aggregate column %u of block does not decode", c);
            } else if (decode_col(h.col_id[c], h.col[c], h.col_len[c], blk->count, v) != STRATA_OK) {
                return CORRUPT(f, blk->off, "aggregate column %u of block (codec %u) does not decode", c,
                               h.col_id[c]);
            }
            for (uint32_t i = 0; i < blk->count; i++) {
                strata_agg *r = &rows[i];
                switch (c) {
                case TABLE_AGG_COUNT: r->count = v[i]; break;
                case TABLE_AGG_SUM: r->sum = v[i]; break;
                case TABLE_AGG_MIN: r->min = v[i]; break;
                case TABLE_AGG_MAX: r->max = v[i]; break;
                case TABLE_AGG_FIRST: r->first = v[i]; break;
                case TABLE_AGG_LAST: r->last = v[i]; break;
                case TABLE_AGG_RESETS: r->resets = v[i]; break;
                default: /* TABLE_AGG_SPAN: t_last - t_first, a whole number of ms */
                    if (!(v[i] >= 0 && v[i] <= 9.0e15) || v[i] != floor(v[i]) ||
                        __builtin_sub_overflow(r->t_last, (int64_t)v[i], &r->t_first))
                        return CORRUPT(f, blk->off, "bad interval span in aggregate block");
                }
            }
        }
    for (uint32_t i = 0; i < blk->count; i++)
        if (!(rows[i].count >= 1) || rows[i].count != floor(rows[i].count) ||
            (i && rows[i].t_first <= rows[i - 1].t_last))
            return CORRUPT(f, blk->off, "aggregate row %u of block is inconsistent", i);

    return STRATA_OK;
}

int table_block_decode_agg(const table *t, const table_block *blk, int64_t *ts, double *v, strata_agg *rows,
                           int64_t *res_ms, char *err, size_t errlen)
{
    return table_block_decode_agg_cols(t, blk, ts, v, rows, res_ms, ~0u, err, errlen);
}

int table_block_decode_agg_cols(const table *t, const table_block *blk, int64_t *ts, double *v, strata_agg *rows,
                                int64_t *res_ms, unsigned cols, char *err, size_t errlen)
{
    table_fault f;
    int rc = table_block_decode_agg_fault(t, blk, ts, v, rows, res_ms, cols, &f);
    if (rc)
        table_fault_format(&f, t->path, err, errlen);
    return rc;
}

int table_block_decode(const table *t, const table_block *blk, int64_t *ts, double *v, char *err, size_t errlen)
{
    table_fault f;
    int rc = table_block_decode_fault(t, blk, ts, v, &f);
    if (rc)
        table_fault_format(&f, t->path, err, errlen);
    return rc;
}

/* ------------------------------------------------------------ open */

/* Walks the directory and every block list, checking they describe exactly
 * the blocks region and agree with the footer. */
static int index_walk(const table *t, table_fault *f)
{
    uint64_t next_off = 0, samples = 0, blocks = 0;
    int64_t min_t = INT64_MAX, max_t = INT64_MIN;
    uint64_t prev_list = t->dir_len;
    for (size_t i = 0; i < t->meta.series; i++) {
        uint64_t dsid = table_load_w(t->index + i * (t->sid_w + t->off_w), t->sid_w);
        uint64_t entry_at = t->index_off + i * (t->sid_w + t->off_w);
        if ((i == 0 && dsid != 0) || (i > 0 && dsid <= dir_sid(t, i - 1) - t->meta.min_sid) ||
            (i + 1 == t->meta.series && dsid != t->meta.max_sid - t->meta.min_sid))
            return CORRUPT(f, entry_at, "sid directory out of order at entry %zu", i);
        uint64_t lo = dir_off(t, i);
        if ((i == 0 && lo != t->dir_len) || (i > 0 && lo <= prev_list))
            return CORRUPT(f, entry_at, "block list offsets out of order at entry %zu", i);
        prev_list = lo;
        table_block_list l;
        table_block blk;
        int rc = table_list_at(t, i, &l, f);
        if (rc)
            return rc;
        if (l.next_off != next_off)
            return CORRUPT(f, t->index_off + lo, "blocks of sid %llu do not follow the previous series'",
                           (unsigned long long)l.sid);
        while ((rc = table_list_next_fault(&l, &blk, f)) == 1) {
            samples += blk.count;
            blocks++;
            min_t = MIN(min_t, blk.mint);
            max_t = MAX(max_t, blk.maxt);
        }
        if (rc < 0)
            return rc;
        if (l.p != l.end)
            return CORRUPT(f, t->index_off + (uint64_t)(l.p - t->index), "trailing bytes after block list of sid %llu",
                           (unsigned long long)l.sid);
        next_off = l.next_off;
    }
    if (next_off != t->index_off)
        return CORRUPT(f, next_off, "blocks end at %llu but the index starts at %llu", (unsigned long long)next_off,
                       (unsigned long long)t->index_off);
    if (samples != t->meta.samples || blocks != t->meta.blocks ||
        (t->meta.series && (min_t != t->meta.min_t || max_t != t->meta.max_t)))
        return CORRUPT(f, t->index_off + t->index_len, "footer totals disagree with the index");
    return STRATA_OK;
}

static int footer_parse(table *t, table_fault *f)
{
    uint64_t size = t->size;
    if (size < TABLE_TAIL_SIZE)
        return CORRUPT(f, size, "file of %llu bytes is too short for a table footer", (unsigned long long)size);
    const uint8_t *tail = t->map + size - TABLE_TAIL_SIZE;
    if (load_u64le(tail + (TF_MAGIC - TF_FOOTER_LEN)) != TABLE_MAGIC)
        return CORRUPT(f, size - 8, "no table magic (truncated or not a table file)");
    /* The tail is the same in every version: the footer CRC covers the
     * footer from its start (size - flen) up to the CRC itself, version
     * included. Check it before believing the version, so a damaged
     * version field reads as damage, not as a newer format. */
    uint32_t flen = load_u32le(tail);
    if (flen < TABLE_TAIL_SIZE || flen > size)
        return CORRUPT(f, size - TABLE_TAIL_SIZE, "bad footer length %u", flen);
    const uint8_t *fstart = t->map + size - flen;
    size_t crc_at = flen - (TF_MAGIC - TF_FOOTER_CRC) - 8; /* offset of the CRC within the footer */
    if (base_crc32c(0, fstart, crc_at) != load_u32le(fstart + crc_at))
        return CORRUPT(f, size - flen, "footer CRC mismatch");
    uint32_t version = load_u32le(tail + (TF_VERSION - TF_FOOTER_LEN));
    if (version < TABLE_FORMAT_OLDEST || version > TABLE_FORMAT_VERSION)
        return table_fault_set(f, STRATA_ERR_VERSION, (int64_t)(size - TABLE_TAIL_SIZE + 4),
                               "table format version %u, this build reads versions %u to %u", version,
                               TABLE_FORMAT_OLDEST, TABLE_FORMAT_VERSION);
    if (flen != (version == 1 ? TABLE_FOOTER_SIZE_V1 : TABLE_FOOTER_SIZE))
        return CORRUPT(f, size - TABLE_TAIL_SIZE, "bad footer length %u", flen);
    uint64_t foff = size - flen;
    t->version = version;
    const uint8_t *ft = t->map + foff;
    t->index_off = load_u64le(ft + TF_INDEX_OFF);
    t->index_len = load_u64le(ft + TF_INDEX_LEN);
    t->meta.min_sid = load_u64le(ft + TF_MIN_SID);
    t->meta.max_sid = load_u64le(ft + TF_MAX_SID);
    t->meta.min_t = (int64_t)load_u64le(ft + TF_MIN_T);
    t->meta.max_t = (int64_t)load_u64le(ft + TF_MAX_T);
    t->meta.samples = load_u64le(ft + TF_SAMPLES);
    t->meta.series = load_u64le(ft + TF_SERIES);
    t->meta.blocks = load_u64le(ft + TF_BLOCKS);
    t->meta.file_bytes = size;
    t->sid_w = ft[TF_SID_WIDTH];
    t->block_samples = load_u32le(ft + TF_BLOCK_SAMPLES);
    t->off_w = ft[TF_OFF_WIDTH];
    t->meta.rules_ms = version >= 2 ? (int64_t)load_u64le(ft + TF_RULES_MS) : 0;
    t->meta.max_res_ms = (int64_t)table_load_w(ft + TF_MAX_RES, 6);
    static const uint8_t zero[6];
    if (t->index_off > foff || t->index_len != foff - t->index_off || t->sid_w < 1 || t->sid_w > 8 ||
        t->off_w < 1 || t->off_w > 8 || t->block_samples < 1 || t->block_samples > TABLE_MAX_BLOCK_SAMPLES || (version == 1 && memcmp(ft + TF_MAX_RES, zero, sizeof zero) != 0) ||
        t->meta.min_sid > t->meta.max_sid || t->meta.min_t > t->meta.max_t ||
        t->meta.series > t->index_len / (t->sid_w + t->off_w) || t->meta.blocks < t->meta.series ||
        (t->meta.series == 0) != (t->meta.blocks == 0) || (t->meta.series == 0 && t->index_len != 0))
        return CORRUPT(f, foff, "inconsistent footer fields");
    t->index = t->map + t->index_off;
    t->dir_len = t->meta.series * (t->sid_w + t->off_w);
    if (base_crc32c(0, t->index, t->index_len) != load_u32le(ft + TF_INDEX_CRC))
        return CORRUPT(f, t->index_off, "index CRC mismatch");
    return STRATA_OK;
}

int table_open_fault(const base_vfs *vfs, const char *path, table_stats *stats, table **out, table_fault *f)
{
    int rc;
    table *t = base_calloc(1, sizeof *t);
    if (!t)
        return table_fault_set(f, STRATA_ERR_NOMEM, -1, "out of memory");
    t->vfs = vfs;
    t->stats = stats;
    atomic_init(&t->refs, 1);
    atomic_init(&t->obsolete, 0);
    t->path = base_strdup(path);
    if (!t->path) {
        rc = table_fault_set(f, STRATA_ERR_NOMEM, -1, "out of memory");
        goto out;
    }
    const char *base = strrchr(path, '/');
    if (table_file_no_parse(base ? base + 1 : path, &t->meta.file_no) != STRATA_OK)
        t->meta.file_no = 0;
    int fd = -1;
    if ((rc = base_vfs_open(vfs, path, O_RDONLY, &fd)) != 0) {
        rc = table_fault_set(f, rc, -1, "cannot open: %s", strata_strerror(rc));
        goto out;
    }
    /* The size comes from the file itself, outside the seam: a vfs keeps
     * the real file in step with what it reports (see base.h). */
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        (void)base_vfs_close(vfs, fd);
        rc = table_fault_set(f, base_errno_status(e), -1, "cannot stat: %s", strerror(e));
        goto out;
    }
    t->size = (size_t)st.st_size;
    if (t->size < TABLE_TAIL_SIZE) {
        (void)base_vfs_close(vfs, fd);
        rc = CORRUPT(f, t->size, "file of %zu bytes is too short for a table footer", t->size);
        goto out;
    }
    const void *m = NULL;
    rc = base_vfs_mmap_ro(vfs, fd, t->size, &m);
    (void)base_vfs_close(vfs, fd); /* read-only; the mapping keeps the file */
    if (rc) {
        rc = table_fault_set(f, rc, -1, "cannot mmap: %s", strata_strerror(rc));
        goto out;
    }
    t->map = m;
    if ((rc = footer_parse(t, f)) || (rc = index_walk(t, f)))
        goto out;
    *out = t;
    return STRATA_OK;
out:
    if (t->map)
        base_vfs_munmap(vfs, t->map, t->size);
    base_free(t->path);
    base_free(t);
    return rc;
}

int table_open(const char *path, table_stats *stats, table **out, char *err, size_t errlen)
{
    return table_open_vfs(NULL, path, stats, out, err, errlen);
}

int table_open_vfs(const base_vfs *vfs, const char *path, table_stats *stats, table **out, char *err, size_t errlen)
{
    table_fault f = {.off = -1, .what = ""};
    int rc = table_open_fault(vfs, path, stats, out, &f);
    if (rc)
        table_fault_format(&f, path, err, errlen);
    return rc;
}

void table_ref(table *t) { atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed); }

void table_unref(table *t)
{
    if (!t || atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
        return;
    base_vfs_munmap(t->vfs, t->map, t->size);
    /* Best effort: a file left behind is an orphan, removed at open. */
    if (atomic_load(&t->obsolete))
        (void)base_vfs_unlink(t->vfs, t->path);
    base_free(t->path);
    base_free(t);
}

void table_mark_obsolete(table *t) { atomic_store(&t->obsolete, 1); }

const table_meta *table_get_meta(const table *t) { return &t->meta; }

const char *table_path(const table *t) { return t->path; }
