/*
 * writer.c: writes a table file in one pass: blocks as series arrive, then
 * the index and the footer, to "<name>.tmp"; fsync, rename, fsync of the
 * directory.
 *
 * FORMAT (version 2; version 1 differs only where marked). All integers little-endian. "uvarint" is LEB128,
 * "svarint" a zig-zag LEB128 of an int64. Offsets are from the start of the
 * file unless said otherwise.
 *
 *   [block]...[index][footer]
 *
 * Block: the samples of one sid, count >= 1, timestamps strictly increasing.
 * Blocks follow each other without gaps in (sid, time) order from offset 0.
 * The count is in the index entry only (the index's CRC covers it).
 *   u8       codecs        ts codec id << 4 | value codec id (1..15 each)
 *   uvarint  ts_len        bytes of encoded timestamps
 *   ts_len bytes           codec_ts_encode output
 *   rest bytes             codec_val_encode output: the block's length (from
 *                          the index) minus everything else
 *   u32      crc           CRC32C of every byte of the block before it
 * Header and CRC take 6-7 bytes beside the payload.
 *
 * Aggregate block (version 2): one row per interval (end - res, end] of a
 * downsampled series (strata_agg), count rows, t_last strictly increasing.
 *   u8       0x00          TABLE_AGG_MARK (no raw block starts with it)
 *   uvarint  res           the resolution in ms, >= 1
 *   u8       ts codec id << 4 (0: regular, below)
 *   uvarint  ts_len, then ts_len bytes: codec_ts_encode of the rows' t_last,
 *                          or for id 0 (consecutive intervals, the middle
 *                          ones at one offset from their ends; the first
 *                          and last t_last are the index's mint and maxt)
 *                          svarint t_last[1] - t_last[0] when n >= 3
 *   8 columns, each       u8 value codec id, uvarint len, len bytes of
 *                          codec_val_encode: count, sum, min, max, first,
 *                          last, resets, span (t_last - t_first, whole ms),
 *                          in that order; a codec byte 0xe0 | k (k below
 *                          the column's index, a column not derived) and
 *                          len 0 say the column equals column k bit for
 *                          bit; 0xd0 | kind, a sum, min, max, first or
 *                          resets derived from count, first and last
 *                          (agg.c); 0xc0, every row the whole number
 *                          0 <= x < 2^53 whose uvarint the bytes are
 *   u32      crc           CRC32C of every byte of the block before it
 * The index entry's mint and maxt are the first and last rows' t_last. A
 * reader of raw samples sees an aggregate block as (t_last, last).
 *
 * Index (index_len bytes at index_off), covered by index_crc:
 *   directory: series entries of sid_width + off_width bytes, fixed width so
 *   a sid is found by binary search:
 *     sid_width bytes   sid - min_sid
 *     off_width bytes   offset of the sid's block list from index_off
 *   block lists, one per sid in sid order, each running to the next one's
 *   start (or to the end of the index):
 *     uvarint  n_blocks    >= 1
 *     uvarint  first_off   file offset of the sid's first block; the next
 *                          blocks follow it contiguously
 *     uvarint  first_mint - min_t (of the footer)
 *     n_blocks entries, each field a difference so that the full blocks of
 *     regular data cost one byte a field (except len):
 *       uvarint len        block bytes, header and CRC included
 *       svarint count - block_samples (of the footer); count 1..65536
 *       all but the first: svarint gap - previous gap, where gap = mint -
 *                          previous block's maxt (>= 1) and the first
 *                          "previous gap" is 0
 *       svarint span - previous span, where span = maxt - mint and the
 *                          first "previous span" is 0
 *     The differences are of uint64 values taken modulo 2^64.
 *   An entry costs about 5 bytes for regular 1000-sample blocks, a series
 *   about 10 more (directory entry, list header, its first span).
 *
 * Footer (116 bytes in version 2, 108 in version 1; the last of the file):
 *    0 u64 index_off      8 u64 index_len
 *   16 u64 min_sid       24 u64 max_sid
 *   32 i64 min_t         40 i64 max_t
 *   48 u64 samples       56 u64 series       64 u64 blocks
 *   72 u32 index_crc     CRC32C of the index bytes
 *   76 u32 block_samples the writer's option: the base of index counts
 *   80 u8  sid_width     81 u8 off_width (1..8 each)
 *   82 6 bytes max_res   the coarsest resolution (ms) of an aggregate block
 *                        in the file, 0 when it has none (version 1: zero)
 *   88 i64 rules_ms      wall clock when retention and downsampling rules
 *                        were applied to the whole file (0: never; a flush);
 *                        absent in version 1
 *   tail, the same in every version (version 1: at 88):
 *   96 u32 footer_len    116
 *  100 u32 version       TABLE_FORMAT_VERSION
 *  104 u32 footer_crc    CRC32C of footer bytes [0, 104)
 *  108 u64 magic         "STRATTBL"
 * A file without series has index_len 0 and zero sid/time fields.
 *
 * The constants and the rule for bumping the version are in table_format.h.
 */
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/codec.h"
#include "table.h"
#include "table_format.h"
#include "table_int.h"

/* Pending output is written out in chunks of about this size. */
#define OUT_CHUNK (1u << 20)

/* A finished series, for the index. */
typedef struct ser_rec {
    uint64_t sid;
    uint64_t n_blocks;
    uint64_t first_off;
    int64_t first_mint;
    size_t ent_off, ent_len; /* its entries in ents */
} ser_rec;

struct table_writer {
    char *tmp_path, *final_path, *dir_path;
    int fd;
    const base_vfs *vfs; /* from the options; NULL is POSIX */
    uint32_t block_samples;
    bbuf out;          /* bytes not yet written */
    uint64_t written;  /* bytes written to fd; file size = written + out.len */
    /* current series */
    int have_sid;
    uint64_t sid;
    int have_t;
    int64_t last_t;    /* last timestamp given for sid */
    int64_t *ts;       /* partial block, block_samples elements */
    double *v;
    size_t nbuf;
    uint32_t ser_blocks;
    uint64_t ser_first_off;
    int64_t ser_first_mint;
    int64_t ser_prev_maxt;
    uint64_t ser_prev_gap, ser_prev_span;
    size_t ser_ent_off; /* where the series' entries start in ents */
    /* index: the list headers depend on the file's min_t, known only at
     * finish, so entries are kept apart from the per-series fields */
    bbuf ents;         /* block entries of every series, in order */
    ser_rec *dir;      /* finished series */
    size_t n_dir, cap_dir;
    table_meta meta;
    bbuf enc_ts, enc_v;
    int64_t rules_ms;
    double *col;       /* the aggregate columns of a block, TABLE_AGG_COLS x block_samples */
    double *ts_scratch; /* 2 x block_samples doubles for agg.c */
    int failed;        /* an I/O error happened: only abort is allowed */
};

void table_file_name(char *buf, size_t cap, uint64_t file_no)
{
    snprintf(buf, cap, "%012llu.tbl", (unsigned long long)file_no);
}

int table_file_no_parse(const char *name, uint64_t *file_no)
{
    size_t len = strlen(name);
    if (len < 5 || len > 24 || strcmp(name + len - 4, ".tbl") != 0)
        return STRATA_ERR_INVALID;
    uint64_t v = 0;
    for (size_t i = 0; i + 4 < len; i++) {
        if (name[i] < '0' || name[i] > '9')
            return STRATA_ERR_INVALID;
        uint64_t digit = (uint64_t)(name[i] - '0');
        if (v > UINT64_MAX / 10 || (v == UINT64_MAX / 10 && digit > UINT64_MAX % 10))
            return STRATA_ERR_INVALID;
        v = v * 10 + digit;
    }
    *file_no = v;
    return STRATA_OK;
}

static void writer_free(table_writer *w)
{
    if (w->fd >= 0)
        (void)base_vfs_close(w->vfs, w->fd); /* only after an error: the file is being abandoned */
    base_free(w->tmp_path);
    base_free(w->final_path);
    base_free(w->dir_path);
    base_free(w->ts);
    base_free(w->v);
    base_free(w->col);
    base_free(w->ts_scratch);
    base_buf_free(&w->out);
    base_buf_free(&w->ents);
    base_buf_free(&w->enc_ts);
    base_buf_free(&w->enc_v);
    base_free(w->dir);
    base_free(w);
}

int table_writer_open(const char *dir, uint64_t file_no, const table_writer_opts *opts, table_writer **out)
{
    uint32_t bs = opts && opts->block_samples ? opts->block_samples : TABLE_DEFAULT_BLOCK_SAMPLES;
    if (bs > TABLE_MAX_BLOCK_SAMPLES)
        return STRATA_ERR_INVALID;
    int rc = STRATA_ERR_NOMEM;
    table_writer *w = base_calloc(1, sizeof *w);
    if (!w)
        return STRATA_ERR_NOMEM;
    w->fd = -1;
    w->vfs = opts ? opts->vfs : NULL;
    w->block_samples = bs;
    w->rules_ms = opts ? opts->rules_ms : 0;
    w->meta.file_no = file_no;
    char name[40];
    table_file_name(name, sizeof name, file_no);
    w->dir_path = base_strdup(dir);
    w->final_path = base_path_join(dir, name);
    w->ts = base_malloc(bs * sizeof *w->ts);
    w->v = base_malloc(bs * sizeof *w->v);
    if (!w->dir_path || !w->final_path || !w->ts || !w->v)
        goto out;
    size_t plen = strlen(w->final_path);
    w->tmp_path = base_malloc(plen + 5);
    if (!w->tmp_path)
        goto out;
    memcpy(w->tmp_path, w->final_path, plen);
    memcpy(w->tmp_path + plen, ".tmp", 5);
    /* A stale .tmp left by a crash is garbage: truncate it. */
    if ((rc = base_vfs_open(w->vfs, w->tmp_path, O_WRONLY | O_CREAT | O_TRUNC, &w->fd)) != 0) {
        w->fd = -1;
        goto out;
    }
    *out = w;
    return STRATA_OK;
out:
    writer_free(w);
    return rc;
}

static uint64_t file_pos(const table_writer *w) { return w->written + w->out.len; }

uint64_t table_writer_bytes(const table_writer *w) { return file_pos(w); }

static int out_drain(table_writer *w, size_t keep_below)
{
    if (w->out.len < keep_below)
        return STRATA_OK;
    int rc = base_vfs_pwrite(w->vfs, w->fd, w->out.data, w->out.len, w->written);
    if (rc)
        return rc;
    w->written += w->out.len;
    base_buf_reset(&w->out);
    return STRATA_OK;
}

/* Records a block just appended to out in the series' entry list. */
static int note_block(table_writer *w, uint64_t off, uint32_t len, uint32_t count, int64_t mint, int64_t maxt)
{
    int rc;
    if (w->ser_blocks == 0) {
        w->ser_first_off = off;
        w->ser_first_mint = mint;
        w->ser_ent_off = w->ents.len;
        w->ser_prev_gap = 0;
        w->ser_prev_span = 0;
    }
    if ((rc = base_buf_put_uvarint(&w->ents, len)) ||
        (rc = base_buf_put_svarint(&w->ents, (int64_t)count - (int64_t)w->block_samples)))
        return rc;
    if (w->ser_blocks > 0) {
        uint64_t gap = (uint64_t)mint - (uint64_t)w->ser_prev_maxt;
        if ((rc = base_buf_put_svarint(&w->ents, (int64_t)(gap - w->ser_prev_gap))))
            return rc;
        w->ser_prev_gap = gap;
    }
    uint64_t span = (uint64_t)maxt - (uint64_t)mint;
    if ((rc = base_buf_put_svarint(&w->ents, (int64_t)(span - w->ser_prev_span))))
        return rc;
    w->ser_prev_span = span;
    w->ser_blocks++;
    w->ser_prev_maxt = maxt;
    if (w->meta.blocks == 0 || mint < w->meta.min_t)
        w->meta.min_t = mint;
    if (w->meta.blocks == 0 || maxt > w->meta.max_t)
        w->meta.max_t = maxt;
    w->meta.blocks++;
    w->meta.samples += count;
    return STRATA_OK;
}

/* Appends a block: the header hdr[0..h), the encoded timestamps and
 * values in enc_ts and enc_v, the CRC; and notes it in the index. */
static int put_block(table_writer *w, const uint8_t *hdr, size_t h, uint32_t count, int64_t mint, int64_t maxt)
{
    int rc;
    uint64_t off = file_pos(w);
    size_t len = h + w->enc_ts.len + w->enc_v.len + TABLE_BLOCK_CRC;
    if (len > UINT32_MAX)
        return STRATA_ERR_LIMIT;
    uint32_t crc = base_crc32c(0, hdr, h);
    crc = base_crc32c(crc, w->enc_ts.data, w->enc_ts.len);
    crc = base_crc32c(crc, w->enc_v.data, w->enc_v.len);
    if ((rc = base_buf_reserve(&w->out, len)))
        return rc;
    base_buf_append(&w->out, hdr, h);
    base_buf_append(&w->out, w->enc_ts.data, w->enc_ts.len);
    base_buf_append(&w->out, w->enc_v.data, w->enc_v.len);
    base_buf_put_u32le(&w->out, crc);
    return note_block(w, off, (uint32_t)len, count, mint, maxt);
}

/* Encodes the buffered partial block and appends it. */
static int flush_block(table_writer *w)
{
    if (w->nbuf == 0)
        return STRATA_OK;
    int rc;
    uint8_t tsid = 0, vid = 0;
    base_buf_reset(&w->enc_ts);
    base_buf_reset(&w->enc_v);
    if ((rc = codec_ts_encode(w->ts, w->nbuf, &w->enc_ts, &tsid)) ||
        (rc = codec_val_encode(w->v, w->nbuf, &w->enc_v, &vid)))
        return rc;
    if (tsid == 0 || tsid > TABLE_CODEC_ID_MAX || vid == 0 || vid > TABLE_CODEC_ID_MAX)
        return STRATA_ERR_LIMIT;
    uint8_t hdr[16];
    size_t h = 0;
    hdr[h++] = (uint8_t)(tsid << 4 | vid);
    h += base_uvarint_put(hdr + h, w->enc_ts.len);
    if ((rc = put_block(w, hdr, h, (uint32_t)w->nbuf, w->ts[0], w->ts[w->nbuf - 1])))
        return rc;
    w->nbuf = 0;
    return out_drain(w, OUT_CHUNK);
}

/* Closes the current series: its last block and its block list. */
static int end_series(table_writer *w)
{
    int rc;
    if (!w->have_sid)
        return STRATA_OK;
    if ((rc = flush_block(w)))
        return rc;
    if (w->ser_blocks == 0) { /* the sid was given zero samples */
        w->have_sid = 0;
        return STRATA_OK;
    }
    if (w->n_dir == w->cap_dir) {
        size_t cap = w->cap_dir ? w->cap_dir * 2 : 256;
        ser_rec *d = base_realloc(w->dir, cap * sizeof *d);
        if (!d)
            return STRATA_ERR_NOMEM;
        w->dir = d;
        w->cap_dir = cap;
    }
    w->dir[w->n_dir] = (ser_rec){.sid = w->sid,
                                 .n_blocks = w->ser_blocks,
                                 .first_off = w->ser_first_off,
                                 .first_mint = w->ser_first_mint,
                                 .ent_off = w->ser_ent_off,
                                 .ent_len = w->ents.len - w->ser_ent_off};
    if (w->n_dir == 0)
        w->meta.min_sid = w->sid;
    w->meta.max_sid = w->sid;
    w->meta.series++;
    w->n_dir++;
    w->ser_blocks = 0;
    w->have_sid = 0;
    return STRATA_OK;
}

/* Moves to sid (ascending), closing the previous series. */
static int start_sid(table_writer *w, uint64_t sid)
{
    int rc;
    if (w->have_sid && sid == w->sid)
        return STRATA_OK;
    if ((rc = end_series(w)))
        return rc;
    w->have_sid = 1;
    w->sid = sid;
    w->have_t = 0;
    return STRATA_OK;
}

/* sid must not go back; within a sid, timestamps from first_t on must be above
 * what was given. */
static int order_ok(const table_writer *w, uint64_t sid, int64_t first_t)
{
    if (w->n_dir && sid <= w->dir[w->n_dir - 1].sid)
        return 0;
    if (w->have_sid && sid < w->sid)
        return 0;
    if (w->have_sid && sid == w->sid && w->have_t && first_t <= w->last_t)
        return 0;
    return 1;
}

int table_writer_add(table_writer *w, uint64_t sid, const int64_t *ts, const double *v, size_t n)
{
    if (w->failed)
        return STRATA_ERR_INVALID;
    if (n == 0)
        return STRATA_OK;
    if (!order_ok(w, sid, ts[0]))
        return STRATA_ERR_INVALID;
    for (size_t i = 1; i < n; i++)
        if (ts[i] <= ts[i - 1])
            return STRATA_ERR_INVALID;
    int rc = start_sid(w, sid);
    for (size_t i = 0; !rc && i < n;) {
        size_t take = MIN(n - i, w->block_samples - w->nbuf);
        memcpy(w->ts + w->nbuf, ts + i, take * sizeof *ts);
        memcpy(w->v + w->nbuf, v + i, take * sizeof *v);
        w->nbuf += take;
        i += take;
        if (w->nbuf == w->block_samples)
            rc = flush_block(w);
    }
    if (rc) {
        w->failed = 1;
        return rc;
    }
    w->have_t = 1;
    w->last_t = ts[n - 1];
    return STRATA_OK;
}

int table_writer_add_raw(table_writer *w, uint64_t sid, const table_block *blk, const uint8_t *bytes)
{
    if (w->failed)
        return STRATA_ERR_INVALID;
    /* The bytes are not re-checked (the scan that lent them checked their
     * CRC); the entry must describe a possible block. */
    if (blk->len < TABLE_BLOCK_MIN_HDR + TABLE_BLOCK_CRC || blk->count == 0 || blk->count > TABLE_MAX_BLOCK_SAMPLES ||
        blk->maxt < blk->mint || (blk->count == 1) != (blk->maxt == blk->mint) ||
        (uint64_t)blk->maxt - (uint64_t)blk->mint < blk->count - 1)
        return STRATA_ERR_INVALID;
    if (!order_ok(w, sid, blk->mint))
        return STRATA_ERR_INVALID;
    int rc = start_sid(w, sid);
    if (!rc)
        rc = flush_block(w);
    uint64_t off = file_pos(w);
    if (!rc)
        rc = base_buf_append(&w->out, bytes, blk->len);
    if (!rc)
        rc = note_block(w, off, blk->len, blk->count, blk->mint, blk->maxt);
    uint64_t res;
    if (!rc && bytes[0] == TABLE_AGG_MARK && base_uvarint_get(bytes + 1, bytes + blk->len, &res) && res < (1ull << 48))
        w->meta.max_res_ms = MAX(w->meta.max_res_ms, (int64_t)res);
    if (!rc)
        rc = out_drain(w, OUT_CHUNK);
    if (rc) {
        w->failed = 1;
        return rc;
    }
    w->have_t = 1;
    w->last_t = blk->maxt;
    return STRATA_OK;
}

/* Encodes rows [0, n) (n <= block_samples) as one aggregate block. */
static int put_agg_block(table_writer *w, int64_t res_ms, const strata_agg *rows, size_t n)
{
    int rc;
    uint8_t tsid = 0;
    rc = STRATA_OK;
    bool regular = true;
    for (size_t i = 0; i < n; i++) {
        w->ts[i] = rows[i].t_last;
        /* the middle rows one interval apart (the ends may be cut) */
        regular = regular && (i < 2 || i + 1 == n || rows[i].t_last - rows[i - 1].t_last == res_ms);
    }
    base_buf_reset(&w->enc_ts);
    base_buf_reset(&w->enc_v);
    if (regular) { /* consecutive intervals at one offset: the ends are the index's, one step says the rest */
        tsid = TABLE_AGG_TS_REGULAR;
        if (n >= 3)
            rc = base_buf_put_svarint(&w->enc_ts, rows[1].t_last - rows[0].t_last);
    } else if ((rc = codec_ts_encode(w->ts, n, &w->enc_ts, &tsid)) == 0 && (tsid == 0 || tsid > TABLE_CODEC_ID_MAX)) {
        rc = STRATA_ERR_LIMIT;
    }
    if (rc)
        return rc;
    size_t bs = w->block_samples;
    for (unsigned c = 0; c < TABLE_AGG_COLS; c++) {
        double *col = w->col + (size_t)c * bs;
        for (size_t i = 0; i < n; i++) {
            const strata_agg *r = &rows[i];
            double x;
            switch (c) {
            case TABLE_AGG_COUNT: x = r->count; break;
            case TABLE_AGG_SUM: x = r->sum; break;
            case TABLE_AGG_MIN: x = r->min; break;
            case TABLE_AGG_MAX: x = r->max; break;
            case TABLE_AGG_FIRST: x = r->first; break;
            case TABLE_AGG_LAST: x = r->last; break;
            case TABLE_AGG_RESETS: x = r->resets; break;
            default: x = (double)(r->t_last - r->t_first); break;
            }
            col[i] = x;
        }
    }
    /* each column as the smallest of: a repeat of an earlier column that
     * is stored plainly, a derived form (sum, min, max), its own encoding */
    bool derived[TABLE_AGG_COLS] = {false};
    for (unsigned c = 0; c < TABLE_AGG_COLS; c++) {
        double *col = w->col + (size_t)c * bs;
        uint8_t id = 0;
        bbuf one = {0}, alt = {0};
        for (unsigned k = 0; k < c && !id; k++)
            if (!derived[k] && memcmp(col, w->col + (size_t)k * bs, n * sizeof *col) == 0)
                id = (uint8_t)(TABLE_AGG_SAME | k);
        bool constint = !id;
        for (size_t i = 0; constint && i < n; i++)
            constint = col[i] >= 0 && col[i] < 9007199254740992.0 && col[i] == floor(col[i]) && !signbit(col[i]) &&
                       (i < 2 || i + 1 == n || col[i] == col[1]);
        if (constint) { /* counts and spans of regular data: first, middle, last */
            id = TABLE_AGG_CONSTINT;
            rc = base_buf_put_uvarint(&one, (uint64_t)col[0]);
            if (!rc && n >= 2)
                rc = base_buf_put_uvarint(&one, (uint64_t)col[1]);
            if (!rc && n >= 3)
                rc = base_buf_put_uvarint(&one, (uint64_t)col[n - 1]);
        }
        if (!id)
            rc = codec_val_encode(col, n, &one, &id);
        int kind = c == TABLE_AGG_SUM ? TABLE_XF_SUM : c == TABLE_AGG_MIN ? TABLE_XF_MIN
                 : c == TABLE_AGG_MAX ? TABLE_XF_MAX : c == TABLE_AGG_FIRST ? TABLE_XF_FIRST
                 : c == TABLE_AGG_RESETS ? TABLE_XF_RESETS : -1;
        const double *cnt = w->col + (size_t)TABLE_AGG_COUNT * bs, *fst = w->col + (size_t)TABLE_AGG_FIRST * bs,
                     *lst = w->col + (size_t)TABLE_AGG_LAST * bs;
        if (!rc && kind >= 0 && (id & 0xf8) != TABLE_AGG_SAME && id != TABLE_AGG_CONSTINT &&
            (kind == TABLE_XF_RESETS
                 ? table_agg_resets_encode(col, fst, n, w->ts_scratch, w->ts_scratch + bs, &alt)
                 : table_agg_xform_encode((unsigned)kind, col, cnt, fst, lst, n, w->ts_scratch, &alt)) == STRATA_OK &&
            alt.len < one.len) {
            bbuf x = one;
            one = alt;
            alt = x;
            id = (uint8_t)(TABLE_AGG_XFORM | (unsigned)kind);
            derived[c] = true;
        }
        base_buf_free(&alt);
        if (!rc && (id == 0 || (id > TABLE_CODEC_ID_MAX && (id & 0xf8) != TABLE_AGG_SAME &&
                                (id & 0xf0) != TABLE_AGG_XFORM && id != TABLE_AGG_CONSTINT)))
            rc = STRATA_ERR_LIMIT;
        uint8_t hdr[12];
        size_t h = 0;
        hdr[h++] = id;
        h += base_uvarint_put(hdr + h, one.len);
        if (!rc)
            rc = base_buf_append(&w->enc_v, hdr, h);
        if (!rc)
            rc = base_buf_append(&w->enc_v, one.data, one.len);
        base_buf_free(&one);
        if (rc)
            return rc;
    }
    uint8_t hdr[24];
    size_t h = 0;
    hdr[h++] = TABLE_AGG_MARK;
    h += base_uvarint_put(hdr + h, (uint64_t)res_ms);
    hdr[h++] = (uint8_t)(tsid << 4);
    h += base_uvarint_put(hdr + h, w->enc_ts.len);
    if ((rc = put_block(w, hdr, h, (uint32_t)n, rows[0].t_last, rows[n - 1].t_last)))
        return rc;
    w->meta.max_res_ms = MAX(w->meta.max_res_ms, res_ms);
    return out_drain(w, OUT_CHUNK);
}

int table_writer_add_agg(table_writer *w, uint64_t sid, int64_t res_ms, const strata_agg *rows, size_t n)
{
    if (w->failed || res_ms <= 0 || (uint64_t)res_ms >> 48)
        return STRATA_ERR_INVALID;
    if (n == 0)
        return STRATA_OK;
    if (!order_ok(w, sid, rows[0].t_first))
        return STRATA_ERR_INVALID;
    for (size_t i = 0; i < n; i++)
        if (rows[i].t_first > rows[i].t_last || (i && rows[i].t_first <= rows[i - 1].t_last) ||
            !(rows[i].count >= 1) || rows[i].count != (double)(uint64_t)rows[i].count)
            return STRATA_ERR_INVALID;
    if (!w->col && !(w->col = base_malloc(TABLE_AGG_COLS * w->block_samples * sizeof *w->col)))
        return STRATA_ERR_NOMEM;
    if (!w->ts_scratch && !(w->ts_scratch = base_malloc(2 * w->block_samples * sizeof *w->ts_scratch)))
        return STRATA_ERR_NOMEM;
    int rc = start_sid(w, sid);
    if (!rc)
        rc = flush_block(w);
    for (size_t i = 0; !rc && i < n;) {
        size_t take = MIN(n - i, w->block_samples);
        rc = put_agg_block(w, res_ms, rows + i, take);
        i += take;
    }
    if (rc) {
        w->failed = 1;
        return rc;
    }
    w->have_t = 1;
    w->last_t = rows[n - 1].t_last;
    return STRATA_OK;
}

/* The header of series d's block list. */
static size_t list_hdr(const table_writer *w, const ser_rec *d, uint8_t *p)
{
    size_t k = base_uvarint_put(p, d->n_blocks);
    k += base_uvarint_put(p + k, d->first_off);
    k += base_uvarint_put(p + k, (uint64_t)d->first_mint - (uint64_t)w->meta.min_t);
    return k;
}

/* Appends index and footer to out. */
static int put_index_footer(table_writer *w)
{
    int rc;
    uint64_t index_off = file_pos(w);
    uint8_t hdr[32];
    uint64_t lists_len = 0;
    for (size_t i = 0; i < w->n_dir; i++)
        lists_len += list_hdr(w, &w->dir[i], hdr) + w->dir[i].ent_len;
    unsigned sid_w = table_width(w->meta.max_sid - w->meta.min_sid);
    unsigned off_w = 1;
    while (off_w < 8 && table_width(w->n_dir * (sid_w + off_w) + lists_len) > off_w)
        off_w++;
    uint64_t dir_len = w->n_dir * (sid_w + off_w);
    uint64_t index_len = dir_len + lists_len;
    if ((rc = base_buf_reserve(&w->out, index_len + TABLE_FOOTER_SIZE)))
        return rc;
    uint8_t *idx = w->out.data + w->out.len;
    uint64_t list_off = dir_len;
    for (size_t i = 0; i < w->n_dir; i++) {
        uint8_t *e = idx + i * (sid_w + off_w);
        table_store_w(e, w->dir[i].sid - w->meta.min_sid, sid_w);
        table_store_w(e + sid_w, list_off, off_w);
        list_off += list_hdr(w, &w->dir[i], hdr) + w->dir[i].ent_len;
    }
    w->out.len += dir_len;
    for (size_t i = 0; i < w->n_dir; i++) {
        base_buf_append(&w->out, hdr, list_hdr(w, &w->dir[i], hdr));
        base_buf_append(&w->out, w->ents.data + w->dir[i].ent_off, w->dir[i].ent_len);
    }
    uint32_t index_crc = base_crc32c(0, idx, index_len);

    uint8_t f[TABLE_FOOTER_SIZE];
    memset(f, 0, sizeof f);
    store_u64le(f + TF_INDEX_OFF, index_off);
    store_u64le(f + TF_INDEX_LEN, index_len);
    store_u64le(f + TF_MIN_SID, w->meta.min_sid);
    store_u64le(f + TF_MAX_SID, w->meta.max_sid);
    store_u64le(f + TF_MIN_T, (uint64_t)w->meta.min_t);
    store_u64le(f + TF_MAX_T, (uint64_t)w->meta.max_t);
    store_u64le(f + TF_SAMPLES, w->meta.samples);
    store_u64le(f + TF_SERIES, w->meta.series);
    store_u64le(f + TF_BLOCKS, w->meta.blocks);
    store_u32le(f + TF_INDEX_CRC, index_crc);
    store_u32le(f + TF_BLOCK_SAMPLES, w->block_samples);
    store_u64le(f + TF_RULES_MS, (uint64_t)w->rules_ms);
    table_store_w(f + TF_MAX_RES, (uint64_t)w->meta.max_res_ms, 6);
    f[TF_SID_WIDTH] = (uint8_t)sid_w;
    f[TF_OFF_WIDTH] = (uint8_t)off_w;
    store_u32le(f + TF_FOOTER_LEN, TABLE_FOOTER_SIZE);
    store_u32le(f + TF_VERSION, TABLE_FORMAT_VERSION);
    store_u32le(f + TF_FOOTER_CRC, base_crc32c(0, f, TF_FOOTER_CRC));
    store_u64le(f + TF_MAGIC, TABLE_MAGIC);
    base_buf_append(&w->out, f, sizeof f);
    return STRATA_OK;
}

int table_writer_finish(table_writer *w, table_meta *out)
{
    int rc = STRATA_ERR_INVALID;
    if (w->failed)
        goto out;
    if ((rc = end_series(w)) || (rc = put_index_footer(w)))
        goto out;
    w->meta.file_bytes = file_pos(w);
    w->meta.rules_ms = w->rules_ms;
    /* The data must be durable before the name: a rename that reaches the
     * disk first would give the final name to a file with holes. */
    if ((rc = out_drain(w, 0)) || (rc = base_vfs_fsync(w->vfs, w->fd)))
        goto out;
    rc = base_vfs_close(w->vfs, w->fd);
    w->fd = -1;
    if (rc)
        goto out;
    if ((rc = base_vfs_rename(w->vfs, w->tmp_path, w->final_path)) != 0)
        goto out;
    /* From here the file exists under its final name; a failed directory
     * fsync leaves it possibly undurable, so report the error but remove
     * nothing that a crash could not remove anyway. */
    rc = base_vfs_fsync_dir(w->vfs, w->dir_path);
    if (!rc && out)
        *out = w->meta;
    writer_free(w);
    return rc;
out:
    table_writer_abort(w);
    return rc;
}

void table_writer_abort(table_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0) {
        (void)base_vfs_close(w->vfs, w->fd); /* abandoned: its bytes do not matter */
        w->fd = -1;
    }
    (void)base_vfs_unlink(w->vfs, w->tmp_path); /* best effort: a stale .tmp is removed at open */
    writer_free(w);
}
