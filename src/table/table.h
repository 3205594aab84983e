/*
 * table.h: the interface of the table layer: immutable table files holding
 * samples sorted by (sid, timestamp) in checksummed blocks, an index to find
 * a sid's blocks by binary search, and a footer. Written in one pass to a
 * temporary name and renamed; read through mmap. The byte layout is at the
 * top of writer.c.
 *
 * Ownership and lifetime
 * - table_writer: table_writer_open creates it; table_writer_finish or
 *   table_writer_abort frees it (exactly one of them, always).
 * - table: table_open returns it with one reference. table_ref adds one,
 *   table_unref drops one; the last unref unmaps and frees it, and unlinks
 *   the file when table_mark_obsolete was called (compaction marks its
 *   inputs; a query that pinned a version holds a reference until it is
 *   done, so an input is deleted only when no reader holds it). ref/unref
 *   and mark_obsolete are thread-safe; everything else on a table is
 *   read-only and may be used by many threads at once.
 * - Everything a table lends (block bytes, block lists) lives as long as the
 *   caller holds a reference.
 * - Iterators (table_iter, table_scan) are caller-owned structs used by one
 *   thread at a time; they do not take a reference.
 *
 * Errors: STRATA_ERR_CORRUPT for bad bytes (with a message naming the file
 * and the byte offset: through err/errlen, or table_iter_error /
 * table_scan_error), STRATA_ERR_VERSION for a file of another format
 * version, STRATA_ERR_IO / STRATA_ERR_NOSPACE / STRATA_ERR_NOMEM otherwise,
 * STRATA_ERR_INVALID for misuse (unsorted input). A damaged file yields an
 * error, never wrong samples.
 */
#ifndef STRATA_TABLE_H
#define STRATA_TABLE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* What a finished or opened file holds. For a file without series the sid
 * and time fields are 0. */
typedef struct table_meta {
    uint64_t file_no;
    uint64_t min_sid, max_sid;
    int64_t min_t, max_t; /* ms, inclusive */
    uint64_t samples;
    uint64_t series;
    uint64_t blocks;
    uint64_t file_bytes;
    int64_t rules_ms; /* wall clock when retention and downsampling rules were last applied to all of it; 0: never */
    int64_t max_res_ms; /* the coarsest resolution of its aggregate blocks; 0: raw samples only */
} table_meta;

/* One block of one series: where it is and what it covers. */
typedef struct table_block {
    uint64_t off;   /* file offset of the block's first byte */
    uint32_t len;   /* bytes, header and CRC included */
    uint32_t count; /* samples, 1..TABLE_MAX_BLOCK_SAMPLES (65536) */
    int64_t mint;   /* first timestamp */
    int64_t maxt;   /* last timestamp */
} table_block;

/* Counters an owner (the engine) passes to table_open; the table adds to
 * them from any thread. May be shared by many tables. */
typedef struct table_stats {
    _Atomic uint64_t bytes_read;  /* block bytes checked or decoded */
    _Atomic uint64_t blocks_read;
} table_stats;

/* "<file_no as %012llu>.tbl" into buf (at least 20 bytes). */
void table_file_name(char *buf, size_t cap, uint64_t file_no);
/* Parses such a name; 0 on success, STRATA_ERR_INVALID when it is not one. */
int table_file_no_parse(const char *name, uint64_t *file_no);

/* ------------------------------------------------------------ writer */

typedef struct table_writer table_writer;

typedef struct table_writer_opts {
    uint32_t block_samples; /* samples per block, 0 = 1000; at most 65536 */
    const base_vfs *vfs;    /* where the file is written, synced and renamed; NULL: POSIX */
    int64_t rules_ms;       /* table_meta.rules_ms of the file (0: rules never applied) */
} table_writer_opts;

/* Starts "<dir>/<name>.tmp" for table file_no (opts may be NULL). */
int table_writer_open(const char *dir, uint64_t file_no, const table_writer_opts *opts, table_writer **out);

/* Appends n samples of sid. sids ascend across calls; consecutive calls may
 * continue one sid with strictly increasing timestamps. Samples are buffered
 * until a block of block_samples fills or the sid changes. STRATA_ERR_INVALID
 * when the order is broken; after any error the writer only accepts abort. */
int table_writer_add(table_writer *w, uint64_t sid, const int64_t *ts, const double *v, size_t n);

/* Copies an encoded block verbatim (blk->len bytes at bytes, as lent by
 * table_scan_next): same ordering rules as table_writer_add, blk->mint above
 * every sample already given for sid. A partial block buffered for sid is
 * written out first. */
int table_writer_add_raw(table_writer *w, uint64_t sid, const table_block *blk, const uint8_t *bytes);

/* Appends n aggregate rows of sid at resolution res_ms (> 0) as aggregate
 * blocks: same ordering rules as table_writer_add with t_last as the
 * timestamp; each row's t_first after the previous row's t_last and not
 * after its own t_last, count >= 1 and whole. A partial raw block pending
 * for sid is written out first. */
int table_writer_add_agg(table_writer *w, uint64_t sid, int64_t res_ms, const strata_agg *rows, size_t n);

/* Bytes written so far (blocks only): for rotating outputs at a size. */
uint64_t table_writer_bytes(const table_writer *w);

/* Writes the index and footer, fsyncs, renames to the final name, fsyncs
 * the directory, fills *out (may be NULL) and frees w. w is freed in every
 * case. On an error before the rename the temporary file is removed and no
 * final-named file exists; when only the directory fsync fails the file
 * exists under its final name but may not survive a crash (the caller
 * should not install it). */
int table_writer_finish(table_writer *w, table_meta *out);

/* Removes the temporary file and frees w. NULL is a no-op. */
void table_writer_abort(table_writer *w);

/* ------------------------------------------------------------ reader */

typedef struct table table;

/* Maps path and checks the footer (magic, version, CRC), the index CRC and
 * the index structure. stats may be NULL. On failure err (may be NULL)
 * receives "<path>: <problem> at offset <n>". The table's file_no is parsed
 * from the file name when it is a table name, else 0. */
int table_open(const char *path, table_stats *stats, table **out, char *err, size_t errlen);
/* table_open through vfs (NULL: POSIX), which also unmaps the file and
 * unlinks it when it is marked obsolete; vfs must outlive the table. */
int table_open_vfs(const base_vfs *vfs, const char *path, table_stats *stats, table **out, char *err, size_t errlen);

void table_ref(table *t);
/* Drops a reference; NULL is a no-op. */
void table_unref(table *t);
/* The last unref will unlink the file. */
void table_mark_obsolete(table *t);

const table_meta *table_get_meta(const table *t);
const char *table_path(const table *t);

/* The i-th sid of the file in ascending order, i < meta.series. */
uint64_t table_sid_at(const table *t, size_t i);
/* All sids of the file, ascending, into a new array (caller base_frees);
 * *n = meta.series. With no series *sids is NULL. */
int table_sids(const table *t, uint64_t **sids, size_t *n);

/* A sid's block entries, lent by the table. */
typedef struct table_block_list {
    const table *t;
    uint64_t sid;
    uint32_t n_blocks, i;
    const uint8_t *p, *end; /* remaining encoded entries */
    uint64_t next_off;
    int64_t first_mint;
    int64_t prev_maxt;
    uint64_t prev_gap, prev_span;
} table_block_list;

/* Binary search for sid: STRATA_OK with *out set, STRATA_ERR_NOTFOUND when
 * the file does not hold it. */
int table_find(const table *t, uint64_t sid, table_block_list *out);
/* 1 with the next block in time order, 0 after the last,
 * STRATA_ERR_CORRUPT (cannot happen for an index table_open accepted). */
int table_block_list_next(table_block_list *l, table_block *blk);

/* Checks blk's CRC and decodes it into ts and v, each with room for
 * blk->count + CODEC_PAD elements. err (may be NULL) gets file and offset.
 * An aggregate block decodes as its rows' (t_last, last): the samples a
 * reader that knows nothing of aggregates sees. */
int table_block_decode(const table *t, const table_block *blk, int64_t *ts, double *v, char *err, size_t errlen);

/* The resolution of blk from its header, unchecked (0: raw samples; the
 * CRC is checked when it is decoded). STRATA_ERR_CORRUPT when the header
 * cannot be read. */
int table_block_res(const table *t, const table_block *blk, int64_t *res_ms);

/* Decodes blk as rows (blk->count of them; a raw block gives rows of one
 * sample) and its resolution (*res_ms 0 for a raw block); ts and v are
 * scratch of blk->count + CODEC_PAD elements. Errors as table_block_decode. */
int table_block_decode_agg(const table *t, const table_block *blk, int64_t *ts, double *v, strata_agg *rows,
                           int64_t *res_ms, char *err, size_t errlen);
/* The same decoding only the columns in the mask cols (bit c: column c in
 * the order of writer.c, count 0 .. span 7; strata_read_options'
 * STRATA_AGG_* bits); the other fields are NaN (t_first: t_last, count:
 * 1). What a read needs costs what it reads. */
int table_block_decode_agg_cols(const table *t, const table_block *blk, int64_t *ts, double *v, strata_agg *rows,
                                int64_t *res_ms, unsigned cols, char *err, size_t errlen);

/* ------------------------------------------------------------ series iterator
 * The samples of one sid within [mint, maxt], a decoded block at a time:
 *   table_iter it; table_iter_init(&it);
 *   rc = table_iter_seek(&it, t, sid, mint, maxt);
 *   while ((rc = table_iter_next(&it, &ts, &v, &n)) == 1) ...
 *   table_iter_free(&it);
 * One iterator can be seeked again and again (buffers are reused). */
typedef struct table_iter {
    const table *t;
    table_block_list list;
    int64_t mint, maxt;
    int done;
    int status;  /* the error that ended the iteration, returned again */
    int64_t *ts; /* decode buffers, cap + CODEC_PAD elements */
    double *v;
    size_t cap;
    char err[320];
} table_iter;

void table_iter_init(table_iter *it);
/* Positions on sid's samples in [mint, maxt]; an absent sid gives an
 * iterator that is at its end (not an error). */
int table_iter_seek(table_iter *it, const table *t, uint64_t sid, int64_t mint, int64_t maxt);
/* 1 with a run of n >= 1 samples (arrays valid until the next call),
 * 0 at the end, or a negative status (message in table_iter_error), which
 * every later call returns again until the next seek. */
int table_iter_next(table_iter *it, const int64_t **ts, const double **v, size_t *n);
const char *table_iter_error(const table_iter *it);
void table_iter_free(table_iter *it);

/* ------------------------------------------------------------ block scan
 * Every block of the file in (sid, time) order, CRC checked, bytes lent
 * (valid while the caller holds a reference): what compaction copies with
 * table_writer_add_raw or decodes with table_block_decode. */
typedef struct table_scan {
    const table *t;
    size_t series_i;
    table_block_list list;
    int status;
    char err[320];
} table_scan;

void table_scan_init(table_scan *s, const table *t);
/* 1 with the next block, 0 at the end, or a negative status (returned
 * again by every later call). */
int table_scan_next(table_scan *s, uint64_t *sid, table_block *blk, const uint8_t **bytes);
const char *table_scan_error(const table_scan *s);

/* ------------------------------------------------------------ verification */

/* Called once per problem: file, byte offset (-1 when none applies), message. */
typedef void (*table_verify_fn)(void *ctx, const char *file, int64_t offset, const char *message);

/* Checks everything: footer, index, every block's CRC and decoding
 * (counts, time bounds, strictly increasing timestamps). Returns STRATA_OK
 * when sound, STRATA_ERR_CORRUPT or STRATA_ERR_VERSION after reporting, or
 * STRATA_ERR_IO / NOMEM. fn may be NULL. */
int table_verify(const char *path, table_verify_fn fn, void *ctx);

#endif /* STRATA_TABLE_H */
