/*
 * manifest.h: the database's file set (tables by partition and level, the
 * WAL position already in tables, tombstones, the file number counter and
 * the options fixed at creation) kept as an append-only log of checksummed
 * edits, in the manner of LevelDB's MANIFEST / VersionEdit / VersionSet and
 * Badger's manifest.
 *
 * On disk (in the data directory):
 *   CURRENT         "MANIFEST-000042\n": names the live manifest; replaced
 *                   atomically (write tmp, fsync, rename, fsync dir).
 *   MANIFEST-<n>    a header, then records; each record is one edit. The
 *                   first record of every manifest is a snapshot of the
 *                   whole state; later records are changes. Byte layout in
 *                   log.c (framing) and edit.c (edit items).
 *
 * An edit is applied atomically: manifest_apply() validates it against the
 * current state, appends it as one record, fsyncs, and only then installs a
 * new version. When the log has grown enough it is rewritten into a new
 * MANIFEST-<n> holding one snapshot, CURRENT is pointed at it, and the old
 * file is deleted.
 *
 * Versions: the state is an immutable, reference-counted manifest_version.
 * Readers pin one with manifest_current() and release it with
 * manifest_version_unref(); appliers install new ones. A pinned version
 * never changes, so it can be read without locks.
 *
 * Thread-safety: manifest_current, manifest_alloc_file_no and the version
 * accessors may be called from any thread. manifest_apply may be called
 * from any thread too (applies are serialised inside), though the engine
 * normally serialises them under its own lock.
 *
 * File numbers: tables, manifests and tombstone ids share one counter that
 * only grows. A number handed out by manifest_alloc_file_no becomes
 * durable with the next apply or rewrite; after a crash, numbers that were
 * handed out but never recorded may be handed out again, so the engine
 * removes unknown files (manifest_dir_check) before allocating at open.
 * Since tombstone ids come from the same counter, a table whose file_no is
 * smaller than a tombstone's id was numbered before the delete.
 *
 * Use by the engine (sketch):
 *   open:    manifest_open(dir, &o, &m)      (o.must_exist when VERSION says the
 *            database exists, so a lost CURRENT is an error, not a new database);
 *            v = manifest_current(m); manifest_dir_check(v, "tables", ...):
 *            remove orphans, fail on missing; replay the WAL from
 *            manifest_version_checkpoint(v).
 *   flush:   manifest_alloc_file_no per table; write the tables; one edit:
 *            _add_table per table + _set_checkpoint + _add_level_stats(0, 0, bytes);
 *            manifest_apply.
 *   compact: one edit: _remove_table per input, _add_table per output,
 *            _add_level_stats(level, read, written); apply; delete the inputs
 *            when the engine's own table handles are released (versions hold
 *            metadata only and never delete files).
 *   delete:  id = manifest_alloc_file_no; _add_tombstone; apply. Retire with
 *            _remove_tombstone in the compaction edit that purged it.
 */
#ifndef STRATA_MANIFEST_H
#define STRATA_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#define MANIFEST_MAX_LEVELS 8 /* equals STRATA_MAX_LEVELS */

/* ------------------------------------------------------------ plain data */

/* One table file as the manifest knows it. */
typedef struct manifest_table {
    uint64_t file_no;      /* table file number, unique for ever */
    int64_t partition_ms;  /* start of its time partition: a multiple of the partition width */
    uint32_t level;        /* < MANIFEST_MAX_LEVELS */
    uint64_t min_sid;      /* sid range held, inclusive */
    uint64_t max_sid;
    int64_t min_t_ms;      /* time range held, inclusive, inside the partition */
    int64_t max_t_ms;
    uint64_t samples;
    uint64_t blocks;
    uint64_t bytes;        /* file size */
    int64_t created_ms;    /* wall clock when written (the planner's age) */
} manifest_table;

/* A run of a version's tables (sorted by partition, then level, then
 * file_no) that share one partition. */
typedef struct manifest_partition {
    int64_t start_ms;
    size_t first; /* index into manifest_version_tables() */
    size_t n;
} manifest_partition;

/* A position in the write-ahead log: every record before it is in tables. */
typedef struct manifest_wal_pos {
    uint64_t segment;
    uint64_t offset;
} manifest_wal_pos;

/* A delete: the samples of sids in [mint_ms, maxt_ms] are gone. Immutable,
 * shared between versions; valid while a version holding it is pinned. */
typedef struct manifest_tombstone {
    uint64_t id;          /* from the file number counter */
    int64_t mint_ms;
    int64_t maxt_ms;
    size_t n_sids;
    const uint64_t *sids; /* strictly increasing */
} manifest_tombstone;

/* The tombstone rule, for every reader and the compactor: t hides the
 * samples of sid in [t->mint_ms, t->maxt_ms] held by a table numbered
 * file_no (or a head frozen when the counter stood at file_no) exactly
 * when the delete was numbered after that data (t->id > file_no) and
 * names sid. Data numbered after the delete was written with it applied. */
bool manifest_tombstone_applies(const manifest_tombstone *t, uint64_t file_no, uint64_t sid);

/* Bytes compactions read from and wrote into a level, over the database's
 * life (flushes count as writes into level 0). */
typedef struct manifest_level_stats {
    uint64_t bytes_read;
    uint64_t bytes_written;
} manifest_level_stats;

/* The start of the partition holding t for a width w > 0 (floor division,
 * so negative times land in the partition below them). */
static inline int64_t manifest_partition_start(int64_t t_ms, int64_t width_ms)
{
    int64_t q = t_ms / width_ms, r = t_ms % width_ms;
    if (r < 0)
        q--;
    return q * width_ms;
}

/* ------------------------------------------------------------ edits
 * An edit is an ordered list of items applied all or nothing. Build it on
 * the stack: manifest_edit_init, the _add/_remove/_set helpers (each
 * returns STRATA_OK, STRATA_ERR_NOMEM, or STRATA_ERR_INVALID for arguments
 * that can never be valid), manifest_apply, manifest_edit_free. A failed
 * helper poisons the edit: manifest_apply then returns that error. The
 * items are applied in the order they were added, so "remove 7, add 7 at
 * level 2" moves a table. */
typedef struct manifest_edit {
    bbuf buf;       /* encoded items (edit.c) */
    size_t n_items;
    int err;        /* first failure of a helper, sticky */
} manifest_edit;

void manifest_edit_init(manifest_edit *e);
void manifest_edit_free(manifest_edit *e);
/* Empties the edit for reuse (keeps its memory). */
void manifest_edit_reset(manifest_edit *e);
int manifest_edit_add_table(manifest_edit *e, const manifest_table *t);
int manifest_edit_remove_table(manifest_edit *e, uint64_t file_no);
int manifest_edit_set_checkpoint(manifest_edit *e, manifest_wal_pos pos);
/* sids must be strictly increasing (copied); mint_ms <= maxt_ms. */
int manifest_edit_add_tombstone(manifest_edit *e, uint64_t id, int64_t mint_ms, int64_t maxt_ms,
                                const uint64_t *sids, size_t n_sids);
int manifest_edit_remove_tombstone(manifest_edit *e, uint64_t id);
/* Adds to the level's life-time counters. */
int manifest_edit_add_level_stats(manifest_edit *e, uint32_t level, uint64_t bytes_read, uint64_t bytes_written);

/* ------------------------------------------------------------ versions */

typedef struct manifest_version manifest_version;

void manifest_version_ref(manifest_version *v);
/* Releases a pin; NULL is a no-op. The last release frees the version. */
void manifest_version_unref(manifest_version *v);

/* Every accessor lends memory owned by v, valid while v is pinned. */
uint64_t manifest_version_seq(const manifest_version *v);          /* +1 per installed edit */
int64_t manifest_version_partition_ms(const manifest_version *v);   /* partition width */
uint64_t manifest_version_next_file_no(const manifest_version *v); /* as of this version */
manifest_wal_pos manifest_version_checkpoint(const manifest_version *v);
/* Tables sorted by (partition_ms, level, file_no). */
const manifest_table *manifest_version_tables(const manifest_version *v, size_t *n);
/* Partitions in increasing start order, each indexing the table array. */
const manifest_partition *manifest_version_partitions(const manifest_version *v, size_t *n);
/* The table numbered file_no, or NULL. O(log n). */
const manifest_table *manifest_version_find_table(const manifest_version *v, uint64_t file_no);
/* The partitions that overlap [mint_ms, maxt_ms] (a sub-array, *n of them,
 * possibly empty). O(log n). */
const manifest_partition *manifest_version_partitions_in(const manifest_version *v, int64_t mint_ms, int64_t maxt_ms,
                                                         size_t *n);
/* Tombstones sorted by id; *n gets the count. */
const manifest_tombstone *const *manifest_version_tombstones(const manifest_version *v, size_t *n);
const manifest_level_stats *manifest_version_level_stats(const manifest_version *v); /* MANIFEST_MAX_LEVELS entries */

/* The sorted numbers of every table v needs, in a new array the caller
 * frees with base_free (*out is NULL when there are none). */
int manifest_live_files(const manifest_version *v, uint64_t **out, size_t *n);

/* ------------------------------------------------------------ the manifest */

typedef struct manifest manifest;

typedef struct manifest_options {
    /* Partition width. Creating: required (> 0). Opening: 0 accepts what
     * is stored; another value than the stored one is STRATA_ERR_INVALID. */
    int64_t partition_ms;
    /* Rewrite when the log is larger than rewrite_min_bytes and larger than
     * rewrite_ratio times its last snapshot (ratio 0: the minimum alone).
     * Defaults 1 MiB and 4. */
    uint64_t rewrite_min_bytes;
    uint32_t rewrite_ratio;
    bool read_only;     /* never write: no create, no tail truncation, no cleanup; apply is STRATA_ERR_READONLY */
    bool must_exist;    /* no CURRENT: STRATA_ERR_NOTFOUND instead of creating */
    const base_log *log; /* warnings (torn tail dropped, rewrite failed); may be NULL */
    /* Every file operation on the manifest and CURRENT goes through it
     * (tests fail or cut the power there); NULL: POSIX. Must outlive m. */
    const base_vfs *vfs;
} manifest_options;

void manifest_options_init(manifest_options *o);

/* Opens the manifest of dir: loads CURRENT -> MANIFEST-n and replays it, or
 * creates a fresh one when dir has neither CURRENT nor a MANIFEST-* file.
 * A torn last record is dropped (and the file cut there unless read-only)
 * and logged. Leftovers of an interrupted rewrite (CURRENT.tmp, manifests
 * CURRENT does not name) are removed unless read-only.
 * Errors: STRATA_ERR_CORRUPT (logged with file and offset: a bad record
 * followed by more data, an unknown item, an edit that makes no sense, a
 * damaged CURRENT or header), STRATA_ERR_VERSION (another format version),
 * STRATA_ERR_INVALID (partition width differs, or creating without one),
 * STRATA_ERR_NOTFOUND (must_exist or read_only and nothing there),
 * STRATA_ERR_IO / NOSPACE / NOMEM. *out is set only on success. */
int manifest_open(const char *dir, const manifest_options *opts, manifest **out);

/* Frees m (NULL is a no-op). Versions still pinned stay valid. Every apply
 * was already fsynced, so nothing is lost. */
void manifest_close(manifest *m);

/* The current version, pinned: release it with manifest_version_unref. */
manifest_version *manifest_current(manifest *m);

/* Hands out a new file number (tables, tombstone ids). */
int manifest_alloc_file_no(manifest *m, uint64_t *out);

/* Validates e against the current state, appends it durably and installs
 * the resulting version; maybe rewrites the log afterwards (a failed
 * rewrite is logged and retried later; the edit stays applied).
 * Errors: STRATA_ERR_INVALID (the edit makes no sense: adds a known table,
 * removes an unknown one, a table outside its partition or numbered beyond
 * the counter, a checkpoint going back, ...), STRATA_ERR_IO / NOSPACE
 * (nothing changed: the file is cut back to its previous end, so a later
 * apply works once the cause is gone), STRATA_ERR_READONLY, a helper's
 * error recorded in e. */
int manifest_apply(manifest *m, const manifest_edit *e);

/* Forces a rewrite now (compaction of the log itself). */
int manifest_rewrite(manifest *m);

/* The number of the live MANIFEST file and its size in bytes. */
uint64_t manifest_number(manifest *m);
uint64_t manifest_log_bytes(manifest *m);

/* ------------------------------------------------------------ directory hygiene */

/* Parses a file name of the engine's naming scheme into its number;
 * returns false for names that are not such files (left alone). */
typedef bool (*manifest_name_parse_fn)(void *ctx, const char *name, uint64_t *file_no);

/* Compares the files of table_dir with what v needs. *orphans gets the
 * names (each and the array freed with manifest_strings_free) of files
 * parse accepts whose number v does not know; *missing the sorted numbers
 * v needs that have no file (base_free). Meant for open, before any file
 * number is allocated: a file being written by a running flush would look
 * like an orphan. */
int manifest_dir_check(const manifest_version *v, const char *table_dir, manifest_name_parse_fn parse,
                       void *ctx, char ***orphans, size_t *n_orphans, uint64_t **missing, size_t *n_missing);
void manifest_strings_free(char **v, size_t n);

/* ------------------------------------------------------------ replay without a directory
 * What manifest_open does with the bytes of MANIFEST-n, exposed for the
 * fuzzer and for verify. name labels log messages. On success *out is a
 * new pinned version and info says how much of buf is valid; a torn tail
 * is reported in info (torn_bytes > 0), not as an error. info is filled on
 * failure too (bad_offset: where the damage is). */
typedef struct manifest_replay_info {
    size_t valid_bytes;    /* header plus every good record */
    size_t torn_bytes;     /* dropped at the end */
    size_t records;        /* good records replayed */
    size_t snapshot_bytes; /* size of the first record (the snapshot) */
    uint64_t bad_offset;   /* offset of the torn or bad record, when any */
} manifest_replay_info;

int manifest_replay(const uint8_t *buf, size_t len, const char *name, const base_log *log,
                    manifest_version **out, manifest_replay_info *info);

/* Encodes a complete manifest file (header + one snapshot record) holding
 * v's state into out (appended). Used by rewrite, tests and the fuzzer. */
int manifest_encode_file(const manifest_version *v, uint64_t next_file_no, bbuf *out);

#endif /* STRATA_MANIFEST_H */
