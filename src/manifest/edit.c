/*
 * edit.c: building manifest edits, and the byte layout of an edit.
 *
 * An edit (the payload of one manifest record, see log.c) is a sequence of
 * items, nothing before or after them:
 *
 *   item := tag:u8  body_len:uvarint  body[body_len]
 *
 * uv = unsigned LEB128 varint (1..10 bytes), sv = zig-zag signed varint.
 * A body must be consumed exactly by its fields: extra or missing bytes, an
 * unknown tag or a zero-length edit are corruption. Bodies by tag:
 *
 *   1 DB_OPTIONS        partition_ms:uv (> 0; fixed for the database's life)
 *   2 NEXT_FILE_NO      next:uv (never decreases; every table number < next)
 *   3 WAL_CHECKPOINT    segment:uv offset:uv (never goes back)
 *   4 ADD_TABLE         file_no:uv partition_ms:sv level:uv min_sid:uv
 *                       max_sid:uv min_t:sv max_t:sv samples:uv blocks:uv
 *                       bytes:uv created_ms:sv
 *   5 REMOVE_TABLE      file_no:uv
 *   6 ADD_TOMBSTONE     id:uv mint:sv maxt:sv n_sids:uv then n_sids sids:
 *                       the first as uv, each next as uv delta (>= 1) from
 *                       the one before (strictly increasing)
 *   7 REMOVE_TOMBSTONE  id:uv
 *   8 LEVEL_STATS       level:uv bytes_read:uv bytes_written:uv (added to
 *                       the level's totals)
 *
 * The rules an edit must follow to make sense are checked in state.c.
 * A snapshot is an edit applied to the empty state: DB_OPTIONS,
 * NEXT_FILE_NO, WAL_CHECKPOINT, LEVEL_STATS of each non-zero level,
 * ADD_TOMBSTONE of each tombstone, ADD_TABLE of each table.
 */
#include "manifest_int.h"

/* Appends tag, length and body. */
static int put_item(bbuf *b, uint8_t tag, const uint8_t *body, size_t n)
{
    int rc;
    if ((rc = base_buf_reserve(b, 1 + 10 + n)) != 0)
        return rc;
    b->data[b->len++] = tag;
    b->len += base_uvarint_put(b->data + b->len, n);
    if (n)
        memcpy(b->data + b->len, body, n);
    b->len += n;
    return STRATA_OK;
}

/* A small fixed body: at most 11 varints. */
typedef struct body {
    uint8_t p[11 * 10];
    size_t n;
} body;

static void put_uv(body *b, uint64_t v) { b->n += base_uvarint_put(b->p + b->n, v); }
static void put_sv(body *b, int64_t v) { b->n += base_uvarint_put(b->p + b->n, zigzag_enc(v)); }

int manifest_item_db_options(bbuf *b, int64_t partition_ms)
{
    body x = {.n = 0};
    put_uv(&x, (uint64_t)partition_ms);
    return put_item(b, MITEM_DB_OPTIONS, x.p, x.n);
}

int manifest_item_next_file_no(bbuf *b, uint64_t n)
{
    body x = {.n = 0};
    put_uv(&x, n);
    return put_item(b, MITEM_NEXT_FILE_NO, x.p, x.n);
}

int manifest_item_checkpoint(bbuf *b, manifest_wal_pos pos)
{
    body x = {.n = 0};
    put_uv(&x, pos.segment);
    put_uv(&x, pos.offset);
    return put_item(b, MITEM_WAL_CHECKPOINT, x.p, x.n);
}

int manifest_item_add_table(bbuf *b, const manifest_table *t)
{
    body x = {.n = 0};
    put_uv(&x, t->file_no);
    put_sv(&x, t->partition_ms);
    put_uv(&x, t->level);
    put_uv(&x, t->min_sid);
    put_uv(&x, t->max_sid);
    put_sv(&x, t->min_t_ms);
    put_sv(&x, t->max_t_ms);
    put_uv(&x, t->samples);
    put_uv(&x, t->blocks);
    put_uv(&x, t->bytes);
    put_sv(&x, t->created_ms);
    return put_item(b, MITEM_ADD_TABLE, x.p, x.n);
}

static int item_u64(bbuf *b, uint8_t tag, uint64_t v)
{
    body x = {.n = 0};
    put_uv(&x, v);
    return put_item(b, tag, x.p, x.n);
}

int manifest_item_add_tombstone(bbuf *b, uint64_t id, int64_t mint, int64_t maxt, const uint64_t *sids, size_t n)
{
    bbuf tmp = {0};
    int rc;
    if ((rc = base_buf_put_uvarint(&tmp, id)) != 0 || (rc = base_buf_put_svarint(&tmp, mint)) != 0 ||
        (rc = base_buf_put_svarint(&tmp, maxt)) != 0 || (rc = base_buf_put_uvarint(&tmp, n)) != 0 ||
        (rc = base_buf_reserve(&tmp, n * 10)) != 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        tmp.len += base_uvarint_put(tmp.data + tmp.len, i ? sids[i] - sids[i - 1] : sids[0]);
    rc = put_item(b, MITEM_ADD_TOMBSTONE, tmp.data, tmp.len);
out:
    base_buf_free(&tmp);
    return rc;
}

int manifest_item_level_stats(bbuf *b, uint32_t level, uint64_t rd, uint64_t wr)
{
    body x = {.n = 0};
    put_uv(&x, level);
    put_uv(&x, rd);
    put_uv(&x, wr);
    return put_item(b, MITEM_LEVEL_STATS, x.p, x.n);
}

/* ------------------------------------------------------------ edit helpers */

void manifest_edit_init(manifest_edit *e) { memset(e, 0, sizeof *e); }

void manifest_edit_free(manifest_edit *e)
{
    if (!e)
        return;
    base_buf_free(&e->buf);
    memset(e, 0, sizeof *e);
}

void manifest_edit_reset(manifest_edit *e)
{
    base_buf_reset(&e->buf);
    e->n_items = 0;
    e->err = STRATA_OK;
}

/* Records the outcome of a helper: the first failure sticks. */
static int done(manifest_edit *e, int rc)
{
    if (rc == STRATA_OK)
        e->n_items++;
    else if (e->err == STRATA_OK)
        e->err = rc;
    return rc;
}

int manifest_edit_add_table(manifest_edit *e, const manifest_table *t)
{
    if (t->level >= MANIFEST_MAX_LEVELS || t->min_sid > t->max_sid || t->min_t_ms > t->max_t_ms)
        return done(e, STRATA_ERR_INVALID);
    return done(e, manifest_item_add_table(&e->buf, t));
}

int manifest_edit_remove_table(manifest_edit *e, uint64_t file_no)
{
    return done(e, item_u64(&e->buf, MITEM_REMOVE_TABLE, file_no));
}

int manifest_edit_set_checkpoint(manifest_edit *e, manifest_wal_pos pos)
{
    return done(e, manifest_item_checkpoint(&e->buf, pos));
}

int manifest_edit_add_tombstone(manifest_edit *e, uint64_t id, int64_t mint_ms, int64_t maxt_ms,
                                const uint64_t *sids, size_t n_sids)
{
    if (mint_ms > maxt_ms || (n_sids && !sids))
        return done(e, STRATA_ERR_INVALID);
    for (size_t i = 1; i < n_sids; i++)
        if (sids[i] <= sids[i - 1])
            return done(e, STRATA_ERR_INVALID);
    return done(e, manifest_item_add_tombstone(&e->buf, id, mint_ms, maxt_ms, sids, n_sids));
}

int manifest_edit_remove_tombstone(manifest_edit *e, uint64_t id)
{
    return done(e, item_u64(&e->buf, MITEM_REMOVE_TOMBSTONE, id));
}

int manifest_edit_add_level_stats(manifest_edit *e, uint32_t level, uint64_t bytes_read, uint64_t bytes_written)
{
    if (level >= MANIFEST_MAX_LEVELS)
        return done(e, STRATA_ERR_INVALID);
    return done(e, manifest_item_level_stats(&e->buf, level, bytes_read, bytes_written));
}

/* ------------------------------------------------------------ snapshot */

int manifest_encode_snapshot(const manifest_version *v, uint64_t next_file_no, bbuf *out)
{
    int rc;
    if ((rc = manifest_item_db_options(out, v->partition_ms)) != 0 ||
        (rc = manifest_item_next_file_no(out, MAX(next_file_no, v->next_file_no))) != 0 ||
        (rc = manifest_item_checkpoint(out, v->checkpoint)) != 0)
        return rc;
    for (uint32_t l = 0; l < MANIFEST_MAX_LEVELS; l++) {
        const manifest_level_stats *s = &v->levels[l];
        if ((s->bytes_read || s->bytes_written) &&
            (rc = manifest_item_level_stats(out, l, s->bytes_read, s->bytes_written)) != 0)
            return rc;
    }
    for (size_t i = 0; i < v->n_tombs; i++) {
        const manifest_tombstone *t = v->tombs[i];
        if ((rc = manifest_item_add_tombstone(out, t->id, t->mint_ms, t->maxt_ms, t->sids, t->n_sids)) != 0)
            return rc;
    }
    for (size_t i = 0; i < v->n_tables; i++)
        if ((rc = manifest_item_add_table(out, &v->by_no[i])) != 0)
            return rc;
    return STRATA_OK;
}
