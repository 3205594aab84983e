/*
 * wal.h: the write-ahead log layer: numbered segment files in one directory,
 * records framed in 32 KiB pages (LevelDB style) with CRC32C, sync policies
 * always / interval / none with group commit, replay with repair of a torn or
 * corrupt tail, and the encoders/decoders of the engine's record kinds.
 *
 * The byte format is documented at the top of writer.c (framing) and
 * records.c (record payloads).
 *
 * Life of a log:
 *   wal_open -> wal_replay (exactly once, before any append) -> wal_append* /
 *   wal_cut / wal_remove_before -> wal_close.
 * wal_append, wal_appendv, wal_cut, wal_remove_before, wal_sync,
 * wal_position and wal_stats are thread-safe. wal_replay and wal_close are
 * not: call them while no other thread uses the handle.
 */
#ifndef STRATA_WAL_H
#define STRATA_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "strata.h"

#define WAL_DEFAULT_SEGMENT_BYTES (64u << 20)
#define WAL_DEFAULT_PAGE_BYTES 32768u
#define WAL_DEFAULT_SYNC_INTERVAL_MS 1000

/* A place in the log: a segment number and a byte offset inside it. Every
 * position the layer hands out is a record boundary; replay must be given
 * one. Positions order lexicographically (wal_pos_cmp). */
typedef struct wal_pos {
    uint64_t segment;
    uint64_t offset;
} wal_pos;

static inline int wal_pos_cmp(wal_pos a, wal_pos b)
{
    if (a.segment != b.segment)
        return a.segment < b.segment ? -1 : 1;
    return a.offset < b.offset ? -1 : a.offset > b.offset;
}

typedef struct wal_opts {
    const char *dir;            /* the segment directory; created if missing */
    strata_sync sync;           /* STRATA_SYNC_INTERVAL (default), ALWAYS, NONE */
    int64_t sync_interval_ms;   /* <= 0: 1000 */
    uint64_t segment_bytes;     /* 0: 64 MiB; a soft limit, see wal_append */
    const base_log *log;        /* NULL: silent; must outlive the handle */
    bool read_only;             /* replay repairs nothing, appends fail */
    /* 0: 32 KiB. Tests and fuzzing only (small pages exercise records that
     * span pages with small inputs): a log must be read with the page size
     * it was written with; the engine always uses the default. A power of
     * two in [64, 32768]. */
    uint32_t page_bytes;
    /* Every open, write, fdatasync, truncate, unlink and directory fsync
     * of the log goes through it (tests inject faults and power cuts
     * there). NULL: POSIX. Must outlive the handle. */
    const base_vfs *vfs;
    /* Called when an fsync failed under the interval policy (records that
     * were acknowledged may be lost from the page cache, see writer.c):
     * the owner must write what the log holds to durable storage
     * elsewhere and then call wal_remove_before past the failed segment.
     * Called with the log's lock held: it must only signal (take no lock
     * that is held while calling into the log). May be NULL. */
    void (*on_lost)(void *ctx);
    void *lost_ctx;
} wal_opts;

typedef struct wal wal;

/* Opens the log in opts->dir (creating the directory), listing its
 * segments; reads nothing else. *out is set on success; free with
 * wal_close. Errors: STRATA_ERR_INVALID (bad options), STRATA_ERR_IO,
 * STRATA_ERR_NOMEM. */
int wal_open(const wal_opts *opts, wal **out);

/* Called by wal_replay once per intact record, in log order. payload is
 * lent until the callback returns. Returning STRATA_OK continues; returning
 * STRATA_ERR_CORRUPT says "this record is bad" and replay treats it as
 * damage (stops before it and repairs there); any other status aborts
 * replay, repairs nothing, and is returned by wal_replay. */
typedef int (*wal_replay_fn)(void *ctx, uint8_t type, const uint8_t *payload, size_t len, wal_pos end);

typedef struct wal_replay_stats {
    uint64_t records;          /* records delivered */
    uint64_t payload_bytes;    /* their payload bytes */
    uint64_t segments;         /* segments read */
    uint64_t corruptions;      /* 1 when replay stopped at damage, else 0 */
    uint64_t bytes_truncated;  /* bytes cut: tail of the damaged segment plus the later segments deleted */
    uint64_t segments_removed; /* later segments deleted */
    uint64_t records_dropped;  /* intact-looking records found after the damage and dropped (best effort) */
    wal_pos damage;            /* where the damage starts (valid when corruptions) */
    wal_pos end;               /* end of the last good record: where appends continue */
} wal_replay_stats;

/* Reads every intact record from `from` (a record boundary; {0,0} is the
 * start of the log) to the end, calling fn (which may be NULL) for each. At
 * the first damaged fragment or record (bad CRC, impossible length, bad
 * fragment sequence, torn tail, gap in the segment numbers) it stops,
 * truncates that segment after the last good record, deletes the later
 * segments, logs a warning with the counts and returns STRATA_OK: the log
 * opens anyway. With read_only nothing is repaired (stats say what would
 * be). Segments before from.segment are not read. Must be called exactly
 * once, before the first append; appends then continue at stats->end
 * (never before `from`). stats may be NULL. */
int wal_replay(wal *w, wal_pos from, wal_replay_fn fn, void *ctx, wal_replay_stats *stats);

/* One record of a vectored append. len may be 0 (the type is kept). */
typedef struct wal_rec {
    uint8_t type;
    const void *payload;
    size_t len;
} wal_rec;

/* Appends one record of the caller's type (any byte; the framing does not
 * interpret it). Returns after write(2) under the interval and none
 * policies, after an fsync covering the record under always (concurrent
 * callers share one fsync). *end (may be NULL) is the position just after
 * the record. A record never spans segments: one that does not fit in the
 * current segment starts a new one; one larger than a whole segment gets a
 * segment of its own that grows past segment_bytes.
 * On error (STRATA_ERR_NOSPACE, STRATA_ERR_IO) nothing of the record is
 * visible to a later replay and the log stays usable: a later append
 * succeeds once the cause is gone. STRATA_ERR_INVALID before wal_replay or
 * when read-only. */
int wal_append(wal *w, uint8_t type, const void *payload, size_t len, wal_pos *end);

/* Appends n records with one write (and under always one shared fsync), in
 * order and in one segment. On error none of them is visible; a crash may
 * keep a prefix of them (each record whole). */
int wal_appendv(wal *w, const wal_rec *recs, size_t n, wal_pos *end);

/* Makes everything appended so far durable (fsync), whatever the policy.
 * Under interval, after a failed fsync it keeps failing (STRATA_ERR_IO,
 * or the status of that fsync) even when its own fsync succeeds, until
 * wal_remove_before has been called past the segment that failed: the
 * failed fsync may have dropped pages that no later fsync writes. */
int wal_sync(wal *w);

/* Whether an fsync failed under interval and the records it covered are
 * not yet durable elsewhere (see wal_sync). */
bool wal_lost_pending(wal *w);

/* Starts a new segment (syncing the current one unless the policy is none)
 * so that everything before *pos is in whole segments < pos->segment. When
 * the current segment is empty it is kept. *pos = {new segment, 0}. */
int wal_cut(wal *w, wal_pos *pos);

/* Deletes the segments numbered below `segment` (never the one being
 * written); their data must be in tables. The caller states that every
 * record before `segment` is durable elsewhere: a failed fsync of such a
 * segment stops counting (wal_sync). */
int wal_remove_before(wal *w, uint64_t segment);

/* The position after the last appended record. */
wal_pos wal_position(wal *w);

typedef struct wal_stats {
    uint64_t bytes;           /* bytes in the segments on disk */
    uint64_t segments;        /* segments on disk */
    uint64_t first_segment;   /* lowest segment number on disk (0: none) */
    uint64_t last_segment;    /* the segment being written */
    uint64_t records;         /* records appended since open */
    uint64_t appends;         /* wal_append/wal_appendv calls that succeeded */
    uint64_t bytes_written;   /* framed bytes written since open */
    uint64_t fsyncs;          /* fsyncs of segment files since open */
    uint64_t write_errors;    /* failed writes (each rolled back) */
    uint64_t sync_errors;     /* failed fsyncs */
    bool lost_pending;        /* see wal_lost_pending */
} wal_stats;

void wal_stats_get(wal *w, wal_stats *out);

/* Stops the interval thread, syncs (unless the policy is none), closes.
 * Returns the first error met; the handle is freed in every case.
 * wal_close(NULL) is a no-op. */
int wal_close(wal *w);

/* ------------------------------------------------------------ records
 * Payload encoders/decoders of the engine's three record kinds. Encoders
 * append to a bbuf. Decoders take outside bytes: every length is checked;
 * any inconsistency is STRATA_ERR_CORRUPT, never a crash or an over-read. */

/* Suggested type bytes for the engine's records. */
enum { WAL_REC_SERIES = 1, WAL_REC_SAMPLES = 2, WAL_REC_DELETE = 3 };

/* Series: a record holds one or more (sid, labels) entries. The record
 * occupies out from its start: wal_series_begin takes an empty out and
 * writes the header; wal_series_add appends an entry and counts it in the
 * header. On error out is as before the call. */
int wal_series_begin(bbuf *out);
int wal_series_add(bbuf *out, strata_sid sid, const strata_label *labels, size_t n_labels);

/* Iterates the entries of a series record. The iterator keeps pointers
 * into p (which must outlive it) and owns scratch memory: release it with
 * wal_series_iter_free. */
typedef struct wal_series_iter {
    const uint8_t *p, *end;
    size_t left;          /* entries not yet read */
    strata_label *labels; /* scratch: labels of the current entry */
    size_t labels_cap;
    char *arena;          /* scratch: NUL-terminated copies of the strings */
    size_t arena_cap;
} wal_series_iter;

int wal_series_iter_init(wal_series_iter *it, const uint8_t *p, size_t len);
/* Returns 1 with the next entry (labels valid until the next call or free),
 * 0 at the end, STRATA_ERR_CORRUPT or STRATA_ERR_NOMEM. */
int wal_series_iter_next(wal_series_iter *it, strata_sid *sid, const strata_label **labels, size_t *n_labels);
void wal_series_iter_free(wal_series_iter *it);

/* Samples: a batch in input order. Appends one whole record payload. */
int wal_samples_encode(bbuf *out, const strata_sample *s, size_t n);
/* Decodes a samples payload into *buf (grown with base_realloc as needed;
 * *cap in samples; the caller frees *buf with base_free), *n samples. */
int wal_samples_decode(const uint8_t *p, size_t len, strata_sample **buf, size_t *cap, size_t *n);

/* Delete: sids strictly ascending, mint <= maxt (else STRATA_ERR_INVALID). */
int wal_delete_encode(bbuf *out, const strata_sid *sids, size_t n, int64_t mint_ms, int64_t maxt_ms);
/* Decodes into *sids (grown like wal_samples_decode; caller frees). */
int wal_delete_decode(const uint8_t *p, size_t len, strata_sid **sids, size_t *cap, size_t *n, int64_t *mint_ms,
                      int64_t *maxt_ms);

#endif /* STRATA_WAL_H */
