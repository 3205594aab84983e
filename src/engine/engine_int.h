/*
 * engine_int.h: the engine's private interface: the strata_db struct and the
 * functions the engine's files (src/engine/) share. Only the engine files in src/ include it.
 *
 * The engine wires the layers:
 *   writes   -> WAL (wal/) under the ingest lock (shared), then the active head
 *   series   -> index (index/), logged to the WAL
 *   flush    -> frozen head -> one level-0 table per partition (table/), one
 *               manifest edit (manifest/) with the WAL checkpoint
 *   reads    -> a pinned db_version: heads + opened tables, merged (read.c)
 *   compaction (compaction/) on background threads (compact.c)
 *
 * Locks, in the order they nest:
 *   tomb_gate rwlock: deletes exclusive, flush and compaction jobs shared
 *            (see struct strata_db).
 *   ingest   rwlock: writers hold it shared across WAL append + head insert;
 *            freeze and delete hold it exclusive, so a WAL cut divides the
 *            log exactly between the frozen head and the new one.
 *   edit_mu  serialises manifest edits and version installs (flush,
 *            compaction, delete, retention).
 *   state_mu guards db->cur (the version pointer swap and pinning).
 *
 * Age order: on equal (sid, t) the newer write wins: the active head, then
 * frozen heads newest first, then tables at lower levels, then at the same
 * level larger file numbers (see compaction.h, AGE ORDER).
 *
 * Tombstones: ids come from the manifest's file counter, so a table whose
 * file_no is below a tombstone's id was numbered before the delete and the
 * tombstone applies to it on read; newer tables never need it because the
 * flush or compaction that wrote them applied every tombstone it could see,
 * and an install is abandoned (and retried) when a delete arrived after the
 * job took its snapshot. Heads: a delete removes samples from the active
 * head at once; frozen heads apply tombstones whose id is above their
 * freeze number on read and when flushed.
 */
#ifndef STRATA_ENGINE_INT_H
#define STRATA_ENGINE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "base/base.h"
#include "compaction/compaction.h"
#include "engine.h"
#include "head/head.h"
#include "index/index.h"
#include "manifest/manifest.h"
#include "table/table.h"
#include "wal/wal.h"

#define DB_MAX_FROZEN 4

/* A head with its reference count. */
typedef struct db_head {
    _Atomic long refs;
    head *h;
    uint64_t freeze_no; /* file counter value when frozen; 0 while active */
    wal_pos wal_end;    /* the WAL cut that ends its records (frozen only) */
} db_head;

/* An opened table file with its manifest record. */
typedef struct db_table {
    table *t;
    manifest_table m;
} db_table;

/* What a reader sees: immutable once published, reference counted. */
typedef struct db_version {
    _Atomic long refs;
    manifest_version *mv;
    db_table *tables; /* parallel to manifest_version_tables(mv) */
    size_t n_tables;
    db_head *active;
    db_head *frozen[DB_MAX_FROZEN]; /* oldest first */
    size_t n_frozen;
} db_version;

/* rules.c: retention per series and downsampling rules. */
typedef struct db_rules db_rules;
typedef struct db_ds_rule {
    unsigned group; /* selector group: series follow the first group that matches */
    int64_t age_ms, resolution_ms;
} db_ds_rule;

struct strata_db {
    strata_options opts; /* rule arrays not kept: see rules */
    db_rules *rules;     /* compiled copies of the options' rules; NULL when none */
    char *dir, *table_dir, *wal_dir, *index_dir;
    base_log log;
    int lock_fd;
    bool read_only;
    /* Every file operation of the database and its layers goes through it
     * (engine_open_vfs; base_vfs_posix() from strata_open). Fixed at open. */
    const base_vfs *vfs;

    strata_index *idx;
    /* engine.h slots: states of the layers above, created once under
     * slot_mu and read without it after (acquire loads). */
    _Atomic(void *) slot[ENGINE_SLOT_COUNT];
    engine_slot_free_fn slot_free[ENGINE_SLOT_COUNT];
    pthread_mutex_t slot_mu;
    wal *wal;
    manifest *man;
    table_stats tstats;
    cpt_planner *planner;

    pthread_rwlock_t ingest;
    /* Flushes and compactions hold it shared from the moment they read the
     * tombstones until their tables are installed; a delete holds it
     * exclusive, so it never lands inside such a window (which would make
     * the job's outputs, numbered after the delete, ignore it). */
    pthread_rwlock_t tomb_gate;
    pthread_mutex_t edit_mu;
    pthread_mutex_t state_mu;
    db_version *cur; /* guarded by state_mu */

    /* background: flush thread and compaction threads */
    pthread_mutex_t bg_mu;
    pthread_cond_t bg_cond;   /* work for the background threads */
    pthread_cond_t done_cond; /* a flush or compaction finished */
    atomic_bool closing;     /* written under bg_mu; read by the flush loop without it */
    bool flush_requested;
    uint64_t flushes_done;   /* guarded by bg_mu */
    int bg_error;            /* last background failure, reported by the next flush call */
    pthread_t flush_thread;
    bool flush_thread_started;
    pthread_t *compact_threads;
    int n_compact_threads;
    uint64_t *compacting;    /* file_nos in running jobs, guarded by bg_mu */
    size_t n_compacting, cap_compacting;
    int compactions_running; /* guarded by bg_mu */
    bool compact_full;       /* a strata_compact(full) is waiting */
    _Atomic int cancel;      /* set at close: compactions stop */

    /* counters (atomics: read by strata_get_stats from any thread) */
    atomic_uint_fast64_t samples_written, samples_ooo, write_errors, flushes, flush_bytes;
    atomic_uint_fast64_t compactions, comp_read, comp_written, comp_copied, comp_merged;
    atomic_uint_fast64_t quarantined, samples_too_old;
    atomic_uint_fast64_t series_refused, samples_refused; /* max_series refusals */
    _Atomic int64_t last_write_ms; /* wall clock of the newest write */
    uint64_t wal_corrupt_records, wal_truncated_bytes;
};

/* dir.c: LOCK, VERSION, DIRTY and quarantine (see the top of dir.c). */
int dbdir_lock(const base_vfs *vfs, const char *dir, const base_log *log, int *fd_out);
int dbdir_check_version(const base_vfs *vfs, const char *dir, bool creating, bool read_only, const base_log *log);
int dbdir_mark_dirty(const base_vfs *vfs, const char *dir, bool *was_dirty);
int dbdir_clear_dirty(const base_vfs *vfs, const char *dir);
int dbdir_quarantine(const base_vfs *vfs, const char *dir, const char *subdir, const char *name, const char *reason,
                     const base_log *log);
bool dbdir_is_empty(const char *dir);
/* Whether dir holds only names strata writes (so a crashed creation can start over). */
bool dbdir_only_own_files(const char *dir);

/* version.c: versions. */
db_version *db_version_pin(strata_db *db);
void db_version_unpin(db_version *v);
void db_head_unref(db_head *h);
/* Builds a version from mv (pinned by the caller; the version takes that
 * pin), reusing the opened tables of prev where the file numbers match and
 * opening the others. Heads are set by the caller (and referenced). */
int db_version_build(strata_db *db, manifest_version *mv, const db_version *prev, db_version **out);
/* Publishes v as current (takes the caller's reference) and drops the old. */
void db_version_install(strata_db *db, db_version *v);
/* Installs a version built from the manifest's current state with cur's
 * heads, less its drop_frozen oldest frozen heads (the ones a flush just
 * wrote out). Caller holds edit_mu. */
int db_version_reinstall(strata_db *db, const db_version *cur, size_t drop_frozen);
/* A copy of the current version with its own references (for edits). */
int db_version_clone(strata_db *db, const db_version *src, db_version **out);

/* slot.c: frees the slots' states (strata_close, failed open). */
void db_slots_free(strata_db *db);

/* write.c */
int db_write_samples(strata_db *db, const strata_sample *s, size_t n);
int db_log_series(strata_db *db, strata_sid sid, const strata_label *labels, size_t n);

/* flush.c */
int db_flush_start(strata_db *db);
void db_flush_stop(strata_db *db);
/* Freezes the active head (if it holds anything) and waits until every
 * frozen head is in tables. */
int db_flush_all(strata_db *db);
/* Wakes the background threads when the head passed its budget or age. */
void db_maybe_trigger_flush(strata_db *db);
/* Asks the flush thread for a round (ctx is the strata_db): the WAL's
 * on_lost hook. Takes only bg_mu. */
void db_request_flush(void *ctx);
/* Applies retention: drops partitions entirely older than the cut. */
int db_apply_retention(strata_db *db);

/* read.c: merges the samples of one series from every source of v into
 * out (sorted, deduplicated newest-wins, tombstones applied). */
typedef struct head_samples head_samples;
int db_read_series(strata_db *db, db_version *v, uint64_t sid, int64_t mint, int64_t maxt, head_samples *out,
                   head_samples *scratch);
/* read_agg.c: db_read_series with read options: the series' rows of a
 * resolution up to ro->agg_resolution_ms in the range go to *rows (grown,
 * *cap its capacity; *n_rows of them, by time) with the raw samples that
 * fall in their intervals folded in; out holds the other samples. */
int db_read_series_ex(strata_db *db, db_version *v, uint64_t sid, int64_t mint, int64_t maxt,
                      const strata_read_options *ro, head_samples *out, head_samples *scratch, strata_agg **rows,
                      size_t *n_rows, size_t *cap);
/* read.c pieces read_agg.c shares: merges older (sorted, unique) into acc,
 * acc winning on equal timestamps (tmp scratch); qsort order of db_table
 * pointers from newest to oldest. */
int db_merge_older(head_samples *acc, head_samples *older, head_samples *tmp);
int db_table_age_cmp(const void *a, const void *b);
/* One series' samples from tables visited in db_table_read_cmp order
 * (partitions ascending, newest first within one): each table's samples
 * (db_tables_add) merge into their partition's, and a finished partition
 * is appended to the rest, as partitions hold disjoint times; so a series
 * read across many partitions is copied a few times, not once per
 * partition. db_tables_finish merges it all into out (the heads' samples,
 * which win) and frees acc. Zero-initialise acc. */
typedef struct db_tables_acc {
    head_samples part, all;
    int64_t part_ms;
} db_tables_acc;
int db_table_read_cmp(const void *a, const void *b);
int db_tables_add(db_tables_acc *acc, int64_t partition_ms, head_samples *src, head_samples *tmp);
int db_tables_finish(db_tables_acc *acc, head_samples *out, head_samples *tmp);
/* Removes from s the samples of sid deleted by tombstones that apply. */
void db_apply_tombstones(const manifest_tombstone *const *ts, size_t n_ts, uint64_t min_id, uint64_t sid,
                         head_samples *s);

/* rules.c. db_rules_open copies and checks the rules of o (STRATA_ERR_INVALID
 * with base_error_set's message when they are wrong); *out is freed with
 * db_rules_free (NULL is a no-op). */
int db_rules_open(const strata_options *o, db_rules **out);
/* Checks that every downsampling resolution divides partition_ms, the
 * width the database has (db_rules_open checks the width given, when one
 * is; an existing directory's own is known only once its manifest is
 * read). STRATA_ERR_INVALID with a message. */
int db_rules_check_width(const db_rules *r, int64_t partition_ms);
void db_rules_free(db_rules *r);
bool db_rules_any(const db_rules *r);
/* sid's retention (the global one when no rule matches; 0 keeps all) and
 * downsampling group (-1: none). Thread-safe. */
int db_rules_of(strata_db *db, uint64_t sid, int64_t *retention_ms, int *group);
/* The resolution a group's data has once it is age_ms old (0: raw). */
int64_t db_rules_resolution(const db_rules *r, int group, int64_t age_ms);
/* The rules sorted by (group, age), lent. */
const db_ds_rule *db_rules_downsampling(const db_rules *r, size_t *n);
void db_rules_retention(const db_rules *r, const int64_t **ms, size_t *n);
/* The coarsest resolution of the downsampling rules (0: none). */
int64_t db_rules_max_resolution(const db_rules *r);
/* The longest retention of any series (0: some series keeps everything). */
int64_t db_max_retention(const strata_db *db);

/* compact.c */
int db_compact_start(strata_db *db);
void db_compact_stop(strata_db *db);
void db_compact_wake(strata_db *db);

/* Whether t can be stored: its partition [start, start + width) must be
 * representable in int64, which leaves out one partition width at each end
 * of the int64 range. */
static inline bool db_time_ok(const strata_db *db, int64_t t)
{
    return t >= INT64_MIN + db->opts.partition_ms && t <= INT64_MAX - db->opts.partition_ms;
}

/* The partition start of t. */
static inline int64_t db_partition_of(const strata_db *db, int64_t t)
{
    return manifest_partition_start(t, db->opts.partition_ms);
}

/* metadata.c: copies the METADATA file, if any, into dir (a snapshot),
 * by durable replace. */
int engine_metadata_copy(strata_db *db, const char *dir);

#endif
