/*
 * remote.h: Prometheus remote write and remote read, without HTTP.
 *
 * Remote write bodies are a snappy block (not framed) holding a protobuf
 * WriteRequest (prom.proto). rw_decode checks everything a request says
 * before anything is stored, so a bad request stores nothing; rw_store
 * writes a decoded request as one strata_write batch (all or nothing).
 *
 * Remote read: rr_decode reads a snappy ReadRequest; rr_execute answers
 * every query with a SAMPLES ReadResponse, snappy-compressed. The response
 * is encoded by hand (it is four nested length-delimited messages) so a
 * large answer costs one buffer, not a protobuf-c object per sample.
 *
 * Values are copied as bits: Prometheus' staleness NaN (0x7ff0000000000002)
 * goes in and comes out unchanged.
 */
#ifndef STRATA_SERVER_REMOTE_H
#define STRATA_SERVER_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include "prom.pb-c.h"
#include "sbuf.h"
#include "strata.h"

typedef struct rw_limits {
    size_t max_labels;      /* labels per series */
    size_t max_label_len;   /* bytes of a label name or value */
    size_t max_decoded;     /* bytes of the decompressed protobuf */
    size_t max_samples;     /* samples a remote read may return */
} rw_limits;

/* Status of a decode: STRATA_OK, STRATA_ERR_INVALID (bad snappy, bad
 * protobuf, bad labels: err says which), STRATA_ERR_LIMIT (over a limit:
 * err says which), STRATA_ERR_NOMEM. */

/* A decoded WriteRequest. Its objects live in an arena (protobuf-c makes
 * one allocation per label and per sample; a bump allocator freed at once
 * makes decoding several times cheaper than malloc/free). */
typedef struct rw_arena_chunk rw_arena_chunk;
typedef struct rw_write {
    Prometheus__WriteRequest *msg;
    rw_arena_chunk *arena;
} rw_write;

/* Decodes and validates a remote-write body. *out is freed with rw_free. */
int rw_decode(const uint8_t *body, size_t len, const rw_limits *lim, rw_write **out, char *err, size_t errlen);
void rw_free(rw_write *w);

/* Stores every sample of w (validated by rw_decode) in one batch. */
int rw_store(strata_db *db, const rw_write *w, uint64_t *samples, uint64_t *new_series);

/* Decodes a remote-read body. *out is freed with rr_free. */
int rr_decode(const uint8_t *body, size_t len, const rw_limits *lim, Prometheus__ReadRequest **out, char *err,
              size_t errlen);
void rr_free(Prometheus__ReadRequest *req);

/* Runs every query; *out (free()) gets the snappy-compressed ReadResponse.
 * STRATA_ERR_INVALID for a bad matcher, STRATA_ERR_LIMIT when the answer
 * would exceed lim->max_samples (err says which). */
int rr_execute(strata_db *db, const Prometheus__ReadRequest *req, const rw_limits *lim, uint8_t **out,
               size_t *out_len, uint64_t *samples, char *err, size_t errlen);

#endif
