/*
 * table_format.h: the on-disk constants of table files, private to
 * src/table. The byte-by-byte layout is documented at the top of writer.c;
 * this header holds the numbers both the writer and the reader must agree
 * on, and the small helpers that read and write them.
 *
 * Versioning rule: TABLE_FORMAT_VERSION is bumped whenever a reader of the
 * previous version would misread a file written by the new code (any change
 * to the block header, the index encoding or the footer body). The last
 * TABLE_TAIL_SIZE bytes of the file (footer length, version, footer CRC,
 * magic) keep their layout in every version, so any reader can name the
 * version of a file it cannot read. Adding a codec id is not a format change
 * (codec ids are never renumbered, and an unknown one is reported as
 * corruption by the codec layer).
 */
#ifndef STRATA_TABLE_FORMAT_H
#define STRATA_TABLE_FORMAT_H

#include <stdint.h>

#include "base/base.h"

#define TABLE_FORMAT_VERSION 2u
/* The oldest version this build reads (version 1: no aggregate blocks,
 * a 108-byte footer without rules_ms). */
#define TABLE_FORMAT_OLDEST 1u
/* "STRATTBL" read as a little-endian u64. */
#define TABLE_MAGIC 0x4c42545441525453ull

/* Footer of version 2 (of version 1: 108 bytes, without rules_ms, the
 * tail at 88): body then tail. */
#define TABLE_FOOTER_SIZE 116u
#define TABLE_FOOTER_SIZE_V1 108u
#define TABLE_TAIL_SIZE 20u

/* Offsets inside the footer. */
#define TF_INDEX_OFF 0
#define TF_INDEX_LEN 8
#define TF_MIN_SID 16
#define TF_MAX_SID 24
#define TF_MIN_T 32
#define TF_MAX_T 40
#define TF_SAMPLES 48
#define TF_SERIES 56
#define TF_BLOCKS 64
#define TF_INDEX_CRC 72
#define TF_BLOCK_SAMPLES 76
#define TF_SID_WIDTH 80
#define TF_OFF_WIDTH 81
#define TF_MAX_RES 82 /* 6 bytes: the coarsest aggregate block resolution, ms (version 1: zero) */
#define TF_RULES_MS 88 /* version 2 */
/* tail: identical in every version (offsets of version 2) */
#define TF_FOOTER_LEN 96
#define TF_VERSION 100
#define TF_FOOTER_CRC 104 /* CRC32C of footer bytes [0, 104) */
#define TF_MAGIC 108

/* The first byte of an aggregate block (version 2): no raw block starts
 * with it, as a raw block's timestamp codec id (its high nibble) is 1..15. */
#define TABLE_AGG_MARK 0x00
/* Value columns of an aggregate block, in order (see writer.c). */
#define TABLE_AGG_COLS 8
/* An aggregate column's codec byte TABLE_AGG_SAME | k (k < the column's
 * index) says the column is bit for bit column k, with no bytes after its
 * length (0): a counter without resets has min = first and max = last. */
#define TABLE_AGG_SAME 0xe0
/* Codec byte TABLE_AGG_CONSTINT: whole numbers 0 <= x < 2^53, the same in
 * every row but maybe the first and the last (a partition's ends cut its
 * first and last intervals); the bytes are uvarints of the first row's,
 * the middle rows' and the last row's (as many as there are rows, up to
 * three): counts and spans of regular data. */
#define TABLE_AGG_CONSTINT 0xc0
/* Timestamp codec id 0 in an aggregate block: consecutive intervals, the
 * middle rows at one offset from their ends. t_last[0] and t_last[n-1]
 * are the index entry's mint and maxt; the bytes are (n >= 3) svarint
 * t_last[1] - t_last[0], and t_last[k] = t_last[1] + (k-1) res for
 * 0 < k < n-1. */
#define TABLE_AGG_TS_REGULAR 0
/* Codec byte TABLE_AGG_XFORM | kind: the column in a derived form (agg.c). */
#define TABLE_AGG_XFORM 0xd0
enum { TABLE_XF_SUM = 0, TABLE_XF_MIN = 1, TABLE_XF_MAX = 2, TABLE_XF_FIRST = 3, TABLE_XF_RESETS = 4 };
enum { TABLE_AGG_COUNT, TABLE_AGG_SUM, TABLE_AGG_MIN, TABLE_AGG_MAX, TABLE_AGG_FIRST, TABLE_AGG_LAST,
       TABLE_AGG_RESETS, TABLE_AGG_SPAN };

/* Bytes of a block that are not payload: header (codec byte, ts length
 * varint) and the CRC. */
#define TABLE_BLOCK_MIN_HDR 2u
#define TABLE_BLOCK_CRC 4u
/* The largest count a block may claim; bounds decode buffers. */
#define TABLE_MAX_BLOCK_SAMPLES 65536u
#define TABLE_DEFAULT_BLOCK_SAMPLES 1000u
/* Codec ids share one byte: timestamps in the high nibble, values in the
 * low one; an id above 15 needs a new format version. */
#define TABLE_CODEC_ID_MAX 15u

/* Fixed-width little-endian integers of 1..8 bytes (the sid directory). */
static inline void table_store_w(uint8_t *p, uint64_t v, unsigned w)
{
    for (unsigned i = 0; i < w; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t table_load_w(const uint8_t *p, unsigned w)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < w; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Bytes needed to hold v (at least 1). */
static inline unsigned table_width(uint64_t v)
{
    unsigned w = 1;
    while (w < 8 && (v >> (8 * w)) != 0)
        w++;
    return w;
}

#endif /* STRATA_TABLE_FORMAT_H */
