/*
 * head.h: the in-memory part of the database: recent samples per series,
 * not yet in table files.
 *
 * Per series the head keeps an in-order run compressed with the Gorilla
 * appender (a few bytes per sample) and a small buffer for samples that
 * arrive out of order or repeat the last timestamp. On a read the two are
 * merged; on equal timestamps the out-of-order buffer wins because its
 * samples were written later, and within it the later write wins.
 *
 * A head is active (takes writes) or frozen (read-only, being flushed).
 * The engine swaps in a new active head when the old one passes its
 * memory budget or age limit; readers hold heads by reference.
 *
 * Thread-safety: head_append, head_read and head_delete may be called from
 * any number of threads at once; each series has its own spin lock, held
 * only for the copy or append of that series. head_free needs exclusive
 * access (the engine's reference count ensures it).
 */
#ifndef STRATA_HEAD_H
#define STRATA_HEAD_H

#include <stdint.h>

#include "base/base.h"

typedef struct head head;

/* seq: the flush sequence number this head's table files will carry. */
int head_new(uint64_t seq, head **out);
void head_free(head *h);

uint64_t head_seq(const head *h);

/* Inserts n samples, any order; *n_ooo (may be NULL) is increased by the
 * number that went to out-of-order buffers. STRATA_ERR_NOMEM leaves the
 * samples before the failing one inserted: the engine treats that as
 * fatal for the batch (its WAL record replays all of them). */
int head_append(head *h, const strata_sample *s, size_t n, uint64_t *n_ooo);

/* Growable sample arrays that head_read fills; zero-initialised is empty.
 * Free with head_samples_free. */
typedef struct head_samples {
    int64_t *t;
    double *v;
    size_t n, cap;
} head_samples;

void head_samples_free(head_samples *s);
int head_samples_push(head_samples *s, int64_t t, double v);
/* Appends n samples at once. */
int head_samples_append(head_samples *s, const int64_t *t, const double *v, size_t n);

/* Replaces out's content with the samples of sid in [mint, maxt], sorted by
 * time, one per timestamp (the newest write). Returns STRATA_OK with
 * out->n == 0 when the head has nothing there. */
int head_read(head *h, uint64_t sid, int64_t mint, int64_t maxt, head_samples *out);

/* Removes the samples of the given sids in [mint, maxt]. */
int head_delete(head *h, const uint64_t *sids, size_t n, int64_t mint, int64_t maxt);

/* The sids that have samples, ascending; *out is freed by the caller with
 * base_free. */
int head_sids(head *h, uint64_t **out, size_t *n);

typedef struct head_stats {
    uint64_t series;     /* series with at least one sample */
    uint64_t samples;    /* samples inserted (duplicates included) */
    uint64_t bytes;      /* memory held for samples and series */
    int64_t min_t, max_t;         /* INT64_MAX / INT64_MIN when empty */
    int64_t first_write_ms;       /* wall clock of the first append, 0 when empty */
} head_stats;

void head_get_stats(head *h, head_stats *out);

#endif /* STRATA_HEAD_H */
