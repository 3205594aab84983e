/*
 * remote_v2.h: Prometheus remote write 2.0 (io.prometheus.write.v2.Request,
 * server/io/prometheus/write/v2/types.proto), without HTTP.
 *
 * The body is a snappy block holding a Request: a symbol table and series
 * whose labels and metadata are indices into it. rw2_decode unpacks it
 * under the same two bounds as remote write 1.0 (pb_decode_snappy: the
 * decompressed size, then the bytes of unpacked objects) and checks the
 * form of every series before anything is stored: an even number of label
 * references, each inside the symbol table, names non-empty, unique,
 * without NUL bytes, within the label limits, at least one non-empty
 * value, metadata references inside the table, at least one sample or
 * histogram. A request that fails any of these stores nothing.
 *
 * rw2_store writes float samples through one strata_batch (a series the
 * database refuses is refused alone, as in remote write 1.0), the
 * metadata the series carry (type, help, unit, keyed by the series'
 * metric name) through strata_metadata_put, and counts the native
 * histograms and exemplars it cannot store (strata keeps float samples
 * only): the caller answers those with a 400 and the written counts.
 *
 * Created (start) timestamps: as Prometheus 3's receiver does with
 * --enable-feature=created-timestamp-zero-ingestion, a sample with a
 * start timestamp st, 0 < st < its timestamp, also stores a zero at st,
 * so rate() and increase() see the counter's start. Prometheus only does
 * so while st is after the series' newest sample (its head refuses older
 * samples); strata takes out-of-order samples, so the zero is stored when
 * the series has no sample at st yet: a start written once stays one
 * sample, and a zero at the counter's start is true however late it
 * arrives. Zero samples are not counted as written: the counts answer for
 * the samples the client sent.
 */
#ifndef STRATA_SERVER_REMOTE_V2_H
#define STRATA_SERVER_REMOTE_V2_H

#include <stddef.h>
#include <stdint.h>

#include "io/prometheus/write/v2/types.pb-c.h"
#include "remote.h"

/* A decoded Request, the arena holding it and what it carries. */
typedef struct rw2_write {
    Io__Prometheus__Write__V2__Request *msg;
    pb_arena *arena;
    uint64_t samples, histograms, exemplars; /* in the whole request */
} rw2_write;

/* Decodes and validates a remote write 2.0 body (snappy block). Status as
 * rw_decode: STRATA_ERR_INVALID (err says which series and why),
 * STRATA_ERR_LIMIT (over a limit), STRATA_ERR_NOMEM. *out is freed with
 * rw2_free. */
int rw2_decode(const uint8_t *body, size_t len, const rw_limits *lim, rw2_write **out, char *err, size_t errlen);
void rw2_free(rw2_write *w);

/* What rw2_store did. */
typedef struct rw2_stored {
    uint64_t samples;             /* float samples stored (zero samples at start timestamps not counted) */
    uint64_t start_zeros;         /* zero samples stored at created timestamps */
    uint64_t new_series;          /* series created */
    uint64_t refused_series;      /* series the database refused alone */
    uint64_t refused_samples;     /* their samples */
    uint64_t refused_histograms;  /* native histogram samples: not stored by strata */
    uint64_t refused_exemplars;   /* exemplars: not stored by strata */
    uint64_t metadata_skipped;    /* metadata entries that could not be stored as they are */
    size_t first_refused;         /* index of the first refused series */
    char first_reason[128];       /* and why */
} rw2_stored;

/* Stores w (validated by rw2_decode): samples, zeros at created
 * timestamps, then metadata. Returns a storage error (samples added
 * before it may be stored; the counts of *out stay those of the samples
 * committed), or STRATA_OK. */
int rw2_store(strata_db *db, const rw2_write *w, rw2_stored *out);

/* Which message a remote-write Content-Type names, by its proto=
 * parameter: 1 for remote write 1.0 (no Content-Type, no proto=, or
 * proto=prometheus.WriteRequest), 2 for io.prometheus.write.v2.Request,
 * 0 for another message or media type (the spec's 415). */
int rw_content_version(const char *content_type);

#endif
