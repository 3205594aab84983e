/*
 * engine.h: what the layers above the engine (ingest, export, query) use
 * beyond the public API of strata.h. The engine itself is strata.h: open,
 * write, select, delete, flush, compact; this header adds only what a
 * protocol layer needs to be fast and to answer as the engine would.
 *
 * Slots: a layer above keeps per-database state (the ingest layer's
 * series-key cache) in a slot of the database, created on first use and
 * freed by strata_close, so the engine needs to know nothing of what it
 * holds. Slot lookups after the first take no lock.
 */
#ifndef STRATA_ENGINE_H
#define STRATA_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata.h"

typedef enum engine_slot_id {
    ENGINE_SLOT_INGEST = 0, /* ingest: the raw series-key cache */
    ENGINE_SLOT_METADATA,   /* the engine's own metric metadata (metadata.c), loaded on first use */
    ENGINE_SLOT_COUNT
} engine_slot_id;

typedef int (*engine_slot_new_fn)(strata_db *db, void **out);
typedef void (*engine_slot_free_fn)(void *state);

/* Lends the state in slot id, creating it with make on first use (make and
 * destroy must be the same on every call for an id). The state lives until
 * strata_close, which calls destroy. Returns make's error, if any. */
int engine_slot(strata_db *db, engine_slot_id id, engine_slot_new_fn make, engine_slot_free_fn destroy,
                void **out);

struct base_vfs;
/* strata_open with every file operation of the database going through vfs
 * (base/base.h; NULL: POSIX), which must outlive the handle: what tests
 * use to fail writes, fsyncs and renames or to cut the power. */
int engine_open_vfs(const strata_options *opts, const struct base_vfs *vfs, strata_db **out);

/* The options the database runs with (defaults filled in; partition_ms as
 * fixed at creation). Lent for the life of db. */
const strata_options *engine_options(const strata_db *db);

/* Whether a sample at t can be written now: STRATA_OK, or
 * STRATA_ERR_INVALID with *reason ("timestamp out of range": its partition
 * could not be represented; "timestamp older than the retention period").
 * retention_cut is engine_retention_cut()'s value, read once per request. */
int engine_check_time(const strata_db *db, int64_t t, int64_t retention_cut, const char **reason);

/* The oldest timestamp the retention lets in now for a series not known
 * yet: the cut of the longest retention of any series (retention rules
 * included; INT64_MIN: some series keeps everything). A sample of a
 * shorter-lived series that passes it is hidden from reads at once and
 * removed by compaction; strata_write checks each series' own. */
int64_t engine_retention_cut(const strata_db *db);

/* strata_write without its per-sample checks, for a caller that made them
 * (sids from strata_series_get_or_create, times through engine_check_time).
 * Batches of at most 65,536 samples. */
int engine_write_checked(strata_db *db, const strata_sample *samples, size_t n);

/* strata_series_get_or_create with the reason of a refusal: on an error
 * *reason (may be NULL) gets a static string. A series refused because
 * the database holds max_series series already is STRATA_ERR_LIMIT with
 * *reason == engine_max_series_reason (and is counted in
 * strata_stats.series_refused); a new series whose names or values are not
 * valid UTF-8 is STRATA_ERR_INVALID. */
int engine_series_get_or_create(strata_db *db, const strata_label *labels, size_t n_labels, strata_sid *out,
                                int *created, const char **reason);
extern const char engine_max_series_reason[];

/* Counts samples refused because their series was refused for max_series
 * (strata_stats.samples_refused). */
void engine_count_refused(strata_db *db, uint64_t samples);

#endif /* STRATA_ENGINE_H */
