/*
 * wal_int.h: private to src/wal: the handle, the framing constants (the
 * byte format itself is described at the top of writer.c) and the helpers
 * shared by writer.c, reader.c and segment.c.
 */
#ifndef STRATA_WAL_INT_H
#define STRATA_WAL_INT_H

#include <pthread.h>

#include "wal.h"

/* Fragment header: type u8, length u16le, crc32c u32le. */
#define WAL_HDR 7

/* Fragment types. 0 is never a valid header: zero bytes are page padding. */
enum {
    WAL_FRAG_ZERO = 0,
    WAL_FRAG_FULL = 1,
    WAL_FRAG_FIRST = 2,
    WAL_FRAG_MIDDLE = 3,
    WAL_FRAG_LAST = 4,
    WAL_FRAG_EOS = 5 /* end of segment, no data */
};
/* Largest framed end-of-segment marker: padding + header. */
#define WAL_EOS_MAX (2 * WAL_HDR - 1)

/* Segment file names: the number in decimal, zero-padded to 8 digits. */
#define WAL_SEG_NAME_LEN 8

typedef struct wal_seg {
    uint64_t num;
    uint64_t size; /* bytes; for the active segment see wal.off */
} wal_seg;

#define WAL_MAX_FAILS 16

/* Sequence numbers of records that a failed fsync rolled back: (lo, hi]. */
typedef struct wal_fail {
    uint64_t lo, hi;
    int rc;
} wal_fail;

struct wal {
    /* Options, fixed after open. */
    char *dir;
    strata_sync sync;
    int64_t interval_ms;
    uint64_t seg_bytes;
    uint32_t page;
    const base_log *log;
    bool read_only;
    const base_vfs *vfs; /* never NULL after open */

    pthread_mutex_t mu;   /* guards everything below */
    pthread_cond_t synced; /* broadcast when a sync finishes or the log rotates */
    pthread_cond_t tick;  /* wakes the interval thread to stop */
    pthread_t bg;
    bool bg_started, stop;

    bool replayed;        /* appends are allowed only after replay */
    wal_seg *segs;        /* segments on disk, ascending; the last is active once replayed */
    size_t n_segs, cap_segs;

    int fd;               /* the active segment, write-only; -1 before replay */
    uint64_t seg;         /* its number */
    uint64_t off;         /* bytes of whole records in it: the next write goes here */
    bool tail_dirty;      /* a failed write may have left bytes past off (truncate failed) */

    /* Group commit. Every record written gets a sequence number. */
    uint64_t seq_written; /* last sequence number written */
    uint64_t seq_synced;  /* every record <= this is durable, except failed ones */
    uint64_t synced_off;  /* offset in the active segment covered by the last fsync */
    bool syncing;         /* a leader (or the interval thread) is in fsync */
    int n_waiters;        /* appenders waiting for their fsync */
    wal_fail fails[WAL_MAX_FAILS]; /* rolled-back ranges, kept while anyone waits */
    size_t n_fails;

    /* Interval policy: an fsync failed, so records of segments up to
     * lost_seg that were acknowledged may be gone from the page cache.
     * Set by the failure, cleared by wal_remove_before past lost_seg. */
    bool lost;
    uint64_t lost_seg;
    int lost_rc;
    void (*on_lost)(void *ctx);
    void *lost_ctx;

    bbuf frame;           /* scratch for framing, guarded by mu */

    /* Counters for wal_stats. */
    uint64_t n_records, n_appends, n_bytes_written, n_fsyncs, n_write_errors, n_sync_errors;
};

/* segment.c */
int wal_seg_path(const wal *w, uint64_t num, char **out);
int wal_seg_list(wal *w);                       /* fills w->segs from the directory */
int wal_seg_push(wal *w, uint64_t num, uint64_t size);
int wal_seg_unlink(wal *w, uint64_t num);       /* unlinks the file and drops it from w->segs */
int wal_seg_open_active(wal *w, uint64_t num, uint64_t off, bool create);

/* writer.c: framing, shared with tests through wal_frame_record. */
int wal_frame_record(bbuf *b, uint32_t page, uint64_t off, uint8_t rtype, const uint8_t *p, size_t len,
                     uint64_t *new_off);
uint64_t wal_framed_end(uint32_t page, uint64_t off, size_t len);
/* Frames the end-of-segment marker at off into out (at least WAL_EOS_MAX
 * bytes); returns its length. */
size_t wal_frame_eos(uint8_t *out, uint32_t page, uint64_t off);
int wal_interval_start(wal *w);  /* starts the interval thread (policy interval) */
int wal_writer_shutdown(wal *w); /* stops it and syncs; mu not held */

#endif /* STRATA_WAL_INT_H */
