/*
 * table_int.h: what reader.c and verify.c share inside src/table: the
 * table struct and the internal forms of open and decode that report a
 * problem as (offset, message) rather than as one formatted string.
 */
#ifndef STRATA_TABLE_INT_H
#define STRATA_TABLE_INT_H

#include "table.h"

/* A problem found in a file: byte offset (-1 when none) and what it is. */
typedef struct table_fault {
    int64_t off;
    char what[240];
} table_fault;

int table_fault_set(table_fault *f, int rc, int64_t off, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* "<path>: <what> at offset <off>" into err (err may be NULL). */
void table_fault_format(const table_fault *f, const char *path, char *err, size_t errlen);

struct table {
    char *path;
    const base_vfs *vfs;   /* opened, mapped and unlinked through it; NULL: POSIX */
    const uint8_t *map;    /* the whole file, read-only */
    size_t size;           /* bytes */
    table_meta meta;
    uint64_t index_off, index_len;
    const uint8_t *index;  /* map + index_off */
    unsigned sid_w, off_w; /* directory field widths */
    uint32_t block_samples; /* base of the counts in block entries */
    uint32_t version;      /* format version of the file */
    uint64_t dir_len;      /* series * (sid_w + off_w) */
    table_stats *stats;    /* may be NULL; owned by the caller of table_open */
    _Atomic long refs;
    _Atomic int obsolete;
};

int table_open_fault(const base_vfs *vfs, const char *path, table_stats *stats, table **out, table_fault *f);
/* The block list of the i-th series (i < meta.series). */
int table_list_at(const table *t, size_t i, table_block_list *out, table_fault *f);
int table_list_next_fault(table_block_list *l, table_block *blk, table_fault *f);
/* Checks the CRC and header of blk; returns the payload split. */
int table_block_check(const table *t, const table_block *blk, table_fault *f);
int table_block_decode_fault(const table *t, const table_block *blk, int64_t *ts, double *v, table_fault *f);
int table_block_decode_agg_fault(const table *t, const table_block *blk, int64_t *ts, double *v, strata_agg *rows,
                                 int64_t *res_ms, unsigned cols, table_fault *f);

/* agg.c: a sum, min or max column (kind TABLE_XF_*) as residuals from the
 * count, first and last columns. encode appends the bytes after the codec
 * byte and length to out, STRATA_ERR_INVALID when the form does not apply
 * (scratch: n doubles); decode reads them back into out (n + CODEC_PAD)
 * from rows whose count, first and last are decoded. */
int table_agg_xform_encode(unsigned kind, const double *x, const double *count, const double *first,
                           const double *last, size_t n, double *scratch, bbuf *out);
int table_agg_xform_decode(unsigned kind, const uint8_t *p, size_t len, size_t n, const strata_agg *rows,
                           double *out);
/* The resets column as (k, resets - k first) (agg.c, TABLE_XF_RESETS);
 * ks and rs n doubles of scratch; decoding uses rows' resets field as
 * scratch and leaves the column in out (n + CODEC_PAD). */
int table_agg_resets_encode(const double *x, const double *first, size_t n, double *ks, double *rs, bbuf *out);
int table_agg_resets_decode(const uint8_t *p, size_t len, size_t n, strata_agg *rows, double *out);

#endif /* STRATA_TABLE_INT_H */
