/*
 * remote.h: Prometheus remote write and remote read, without HTTP.
 *
 * Remote write bodies are a snappy block (not framed) holding a protobuf
 * WriteRequest (prom.proto). rw_decode checks the form of everything a
 * request says before anything is stored (label count, lengths, empty,
 * duplicate names, NUL bytes), so a malformed request stores nothing;
 * rw_store writes a decoded request through one strata_batch, where a
 * series the database refuses (max_series, time, UTF-8) is refused alone.
 *
 * Remote read: rr_decode reads a snappy ReadRequest; rr_execute answers
 * every query with a SAMPLES ReadResponse, snappy-compressed. The response
 * is encoded by hand (it is four nested length-delimited messages) so a
 * large answer costs one buffer, not a protobuf-c object per sample.
 *
 * Decoding is bounded twice, on every protobuf path (pb_decode_snappy; a
 * future one, OTLP or remote write 2.0, calls pb_unpack too): the
 * decompressed size, read from the snappy header before anything is
 * allocated, and the bytes of objects protobuf-c builds from it (a
 * budgeted arena), since an empty message costs two bytes on the wire and
 * some hundred bytes unpacked.
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
    size_t max_objects;     /* bytes of the objects unpacked from it */
    size_t max_samples;     /* samples a remote read may return */
    const strata_label *ext; /* external labels, sorted by name (extlabels.h); NULL: none */
    size_t n_ext;
} rw_limits;

/* Status of a decode: STRATA_OK, STRATA_ERR_INVALID (bad snappy, bad
 * protobuf, bad labels: err says which), STRATA_ERR_LIMIT (over a limit:
 * err says which), STRATA_ERR_NOMEM. */

/* The objects of one unpacked message. protobuf-c makes one allocation
 * per label and per sample; a bump allocator freed at once makes decoding
 * several times cheaper than malloc/free, and counts what it hands out. */
typedef struct pb_arena pb_arena;
void pb_arena_free(pb_arena *a);
/* Bytes of objects the arena holds now. */
size_t pb_arena_bytes(const pb_arena *a);

/* Unpacks raw[0, n) as a message of desc with every object in a new arena
 * of at most max_bytes. STRATA_OK with *msg (valid until *arena is freed
 * with pb_arena_free), STRATA_ERR_LIMIT when the objects would take more,
 * STRATA_ERR_INVALID when raw is no such message, STRATA_ERR_NOMEM. */
int pb_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *raw, size_t n, size_t max_bytes,
              ProtobufCMessage **msg, pb_arena **arena, char *err, size_t errlen);
/* Decompresses a snappy block of at most lim->max_decoded bytes (the
 * length header is checked before anything is allocated: STRATA_ERR_LIMIT
 * over it) and unpacks it with pb_unpack under lim->max_objects. */
int pb_decode_snappy(const ProtobufCMessageDescriptor *desc, const uint8_t *body, size_t len, const rw_limits *lim,
                     ProtobufCMessage **msg, pb_arena **arena, char *err, size_t errlen);

/* A decoded WriteRequest and the arena holding it. */
typedef struct rw_write {
    Prometheus__WriteRequest *msg;
    pb_arena *arena;
} rw_write;

/* Decodes and validates a remote-write body. *out is freed with rw_free. */
int rw_decode(const uint8_t *body, size_t len, const rw_limits *lim, rw_write **out, char *err, size_t errlen);
void rw_free(rw_write *w);

/* What rw_store did. */
typedef struct rw_stored {
    uint64_t samples;            /* samples stored */
    uint64_t new_series;         /* series created */
    uint64_t refused_series;     /* series refused alone (their samples not stored) */
    uint64_t refused_samples;    /* samples of those series */
    uint64_t refused_max_series; /* of them, samples refused for the series limit */
    size_t first_refused;        /* index in the request of the first refused series */
    char first_reason[128];      /* and why */
} rw_stored;

/* Stores the samples of w (validated by rw_decode) through one batch. A
 * series the database refuses (the series limit, a timestamp out of
 * range, labels it cannot take: not valid UTF-8) is refused alone and
 * counted in *out; the rest is stored. Returns a storage error (the
 * samples added before it may be stored), or STRATA_OK. */
int rw_store(strata_db *db, const rw_write *w, rw_stored *out);

/* A decoded ReadRequest and the arena holding it. */
typedef struct rr_read {
    Prometheus__ReadRequest *msg;
    pb_arena *arena;
} rr_read;

/* Decodes a remote-read body. *out is freed with rr_free. */
int rr_decode(const uint8_t *body, size_t len, const rw_limits *lim, rr_read **out, char *err, size_t errlen);
void rr_free(rr_read *rd);

/* The response type to answer req with, as Prometheus chooses it: the
 * first of the client's accepted_response_types the server knows
 * (PROMETHEUS__READ_REQUEST__RESPONSE_TYPE__SAMPLES or __STREAMED_XOR_CHUNKS),
 * SAMPLES when it lists none, -1 when it lists only unknown ones. */
int rr_response_type(const Prometheus__ReadRequest *req);

/* The range a query selects: [start, end] of the query narrowed to its
 * ReadHints' [start_ms, end_ms] when those are set (Prometheus' engine
 * sets them to what the selector needs). Returns 0 when nothing is left. */
int rr_query_range(const Prometheus__Query *q, int64_t *mint, int64_t *maxt);

/* The matchers of q as strata's (*out, one allocation: free()), with
 * Prometheus' treatment of external labels: an equality matcher on an
 * external label's name and value becomes NAME="" (the stored series do
 * not hold that label). STRATA_OK or STRATA_ERR_NOMEM. */
int rr_matchers(const Prometheus__Query *q, const strata_label *ext, size_t n_ext, strata_matcher **out);

/* Protobuf wire helpers for the hand-written answers: a varint; a tag,
 * varint length and the bytes. STRATA_OK or STRATA_ERR_NOMEM. */
int pb_put_varint(sbuf *b, uint64_t v);
int pb_put_bytes(sbuf *b, uint8_t tag, const void *p, size_t n);

/* Runs every query; *out (free()) gets the snappy-compressed ReadResponse.
 * STRATA_ERR_INVALID for a bad matcher, STRATA_ERR_LIMIT when the answer
 * would exceed lim->max_samples (err says which). */
int rr_execute(strata_db *db, const Prometheus__ReadRequest *req, const rw_limits *lim, uint8_t **out,
               size_t *out_len, uint64_t *samples, char *err, size_t errlen);

/* Stores the metadata entries of a decoded write request (strata's
 * strata_metadata_put); entries that could not be stored as they are (a
 * NUL byte, text that is not UTF-8, an empty name, an unknown type) are
 * skipped and counted in *skipped. A status of the store. */
int rw_store_metadata(strata_db *db, const rw_write *w, size_t *skipped);

/* A protobuf bytes field of metadata as a new C string (free()); NULL
 * when it holds a NUL, is over 64 KiB or memory ran out (*nomem then
 * set). */
char *rw_metadata_text(const ProtobufCBinaryData *d, int *nomem);

/* rr_stream.c: answers req (which it takes, freed in every case) with a
 * STREAMED_XOR_CHUNKS body into w: frames of ChunkedReadResponse, one
 * series (or a part of one) each, made as the socket drains. */
struct srv;
struct srv_resp;
int rr_reply_streamed(struct srv *s, rr_read *req, struct srv_resp *w);

#endif
