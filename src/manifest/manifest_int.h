/*
 * manifest_int.h: private to src/manifest/: the item tags of an edit, the
 * mutable state an edit is applied to, the version struct and the record
 * framing shared by edit.c, state.c, version.c, log.c and manifest.c.
 * Nothing outside the layer includes it.
 *
 * Format versions: MANIFEST_FORMAT_VERSION is in the header of every
 * manifest file. Bump it when an item's layout changes or a new item type
 * appears (an older build must refuse such a file, not misread it); old
 * versions stay readable by keeping their decoder.
 */
#ifndef STRATA_MANIFEST_INT_H
#define STRATA_MANIFEST_INT_H

#include <stdatomic.h>

#include "manifest.h"

#define MANIFEST_FORMAT_VERSION 1u
#define MANIFEST_MAGIC "STRMANIF"     /* 8 bytes, no terminator on disk */
#define MANIFEST_HEADER_BYTES 16u     /* magic, version, header crc */
#define MANIFEST_RECORD_HEADER_BYTES 12u /* len, payload crc, header crc */

/* Item tags (edit.c documents each body). */
enum {
    MITEM_DB_OPTIONS = 1,
    MITEM_NEXT_FILE_NO = 2,
    MITEM_WAL_CHECKPOINT = 3,
    MITEM_ADD_TABLE = 4,
    MITEM_REMOVE_TABLE = 5,
    MITEM_ADD_TOMBSTONE = 6,
    MITEM_REMOVE_TOMBSTONE = 7,
    MITEM_LEVEL_STATS = 8,
};

/* A tombstone shared by every version holding it. */
typedef struct mtomb {
    atomic_long refs;
    manifest_tombstone pub; /* pub.sids points at sids below */
    uint64_t sids[];
} mtomb;

void manifest_tomb_ref(const manifest_tombstone *t);
void manifest_tomb_unref(const manifest_tombstone *t);

/* The mutable state edits are applied to: built from a version (apply) or
 * from nothing (replay), then frozen into a new version. */
typedef struct mstate {
    int64_t partition_ms;     /* 0 until the options item was seen */
    uint64_t next_file_no;
    manifest_wal_pos checkpoint;
    manifest_table *tables;   /* sorted by file_no */
    size_t n_tables, cap_tables;
    const manifest_tombstone **tombs; /* sorted by id; each holds one reference */
    size_t n_tombs, cap_tombs;
    manifest_level_stats levels[MANIFEST_MAX_LEVELS];
    uint64_t seq;
    /* Set by manifest_state_from_version: the version's table list in partition
     * order (borrowed; the version outlives s) and the numbers of tables
     * added or removed since, so freezing merges instead of sorting all. */
    const manifest_table *base_sorted;
    size_t n_base_sorted;
    uint64_t *touched;
    size_t n_touched, cap_touched;
} mstate;

struct manifest_version {
    atomic_long refs;
    uint64_t seq;
    int64_t partition_ms;
    uint64_t next_file_no;
    manifest_wal_pos checkpoint;
    manifest_table *by_no;     /* sorted by file_no */
    manifest_table *tables;    /* sorted by (partition, level, file_no) */
    size_t n_tables;
    manifest_partition *parts;
    size_t n_parts;
    const manifest_tombstone **tombs; /* sorted by id, one reference each */
    size_t n_tombs;
    manifest_level_stats levels[MANIFEST_MAX_LEVELS];
};

/* state.c */
void manifest_state_init(mstate *s);
void manifest_state_free(mstate *s);
/* Copies v's state into the empty s. */
int manifest_state_from_version(mstate *s, const manifest_version *v);
/* Applies one encoded edit. STRATA_ERR_CORRUPT with a reason in why when
 * it is malformed or makes no sense; s is then partly changed (callers
 * throw it away). */
int manifest_state_apply(mstate *s, const uint8_t *p, size_t n, char *why, size_t why_len);
/* Freezes s into a new version with one reference; s is left empty. */
int manifest_state_freeze(mstate *s, manifest_version **out);

/* edit.c: item encoders shared by the edit helpers and the snapshot. */
int manifest_item_db_options(bbuf *b, int64_t partition_ms);
int manifest_item_next_file_no(bbuf *b, uint64_t n);
int manifest_item_checkpoint(bbuf *b, manifest_wal_pos pos);
int manifest_item_add_table(bbuf *b, const manifest_table *t);
int manifest_item_add_tombstone(bbuf *b, uint64_t id, int64_t mint, int64_t maxt, const uint64_t *sids, size_t n);
int manifest_item_level_stats(bbuf *b, uint32_t level, uint64_t rd, uint64_t wr);
/* The payload of a snapshot edit recreating v (with next_file_no). */
int manifest_encode_snapshot(const manifest_version *v, uint64_t next_file_no, bbuf *out);

/* log.c: framing. */
int manifest_log_put_header(bbuf *b);
int manifest_log_put_record(bbuf *b, const uint8_t *payload, size_t n);

#endif /* STRATA_MANIFEST_INT_H */
