/*
 * otlp.h: OpenTelemetry metrics (OTLP/HTTP) ingest, without HTTP.
 *
 *   otlp_pb.c    protobuf body -> ExportMetricsServiceRequest (pb_unpack's
 *                byte-budgeted arena, after a check of nesting depth)
 *   otlp_json.c  OTLP/JSON body -> the same message: jansson parses under a
 *                byte budget, the tree is re-encoded as protobuf and unpacked
 *                as above, so both bodies meet one translator
 *   otlp_name.c  metric and label names as Prometheus' OTLP receiver makes
 *                them (the four translation strategies of otlptranslator)
 *   otlp.c       the translation into samples
 *   otlp_store.c the batch write and the metadata
 *   h_otlp.c     the endpoints and the OTLP/HTTP answers
 *
 * Translation (Prometheus 3's OTLP receiver, otlptranslator):
 *   gauge                          -> gauge NAME (unit "1": NAME_ratio)
 *   sum, cumulative, monotonic     -> counter NAME_total
 *   sum, cumulative, not monotonic -> gauge NAME
 *   sum, delta                     -> kept as it comes: a gauge NAME whose
 *                                     samples are the increments (as
 *                                     VictoriaMetrics stores them; Prometheus
 *                                     refuses them); sum_over_time() adds up
 *   histogram, cumulative          -> NAME_bucket{le} (cumulative counts,
 *                                     le="+Inf" is the count), NAME_sum
 *                                     (when the point has a sum), NAME_count
 *   histogram, delta; exponential histogram; temporality unspecified
 *                                  -> refused per point, counted
 *   summary                        -> NAME{quantile}, NAME_sum, NAME_count
 * Resource: service.namespace/service.name -> job, service.instance.id ->
 * instance on every series; the other resource attributes go to one
 * target_info{job,instance,...} series (value 1) at the latest time of the
 * resource's points. A point flagged NoRecordedValue is stored as
 * Prometheus' staleness NaN. Times are nanoseconds, stored as ms.
 */
#ifndef STRATA_SERVER_OTLP_H
#define STRATA_SERVER_OTLP_H

#include <stddef.h>
#include <stdint.h>

#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "remote.h"
#include "sbuf.h"
#include "strata.h"

typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest otlp_export_req;

/* How metric and label names are translated: Prometheus' names. */
typedef enum otlp_strategy {
    OTLP_UNDERSCORE_ESCAPING_WITH_SUFFIXES, /* the default */
    OTLP_UNDERSCORE_ESCAPING_WITHOUT_SUFFIXES,
    OTLP_NO_UTF8_ESCAPING_WITH_SUFFIXES,
    OTLP_NO_TRANSLATION
} otlp_strategy;

/* 0 and *out, or -1 for a name none of the four. */
int otlp_strategy_parse(const char *name, otlp_strategy *out);
const char *otlp_strategy_name(otlp_strategy st);

/* What kind of Prometheus metric an OTLP metric becomes (for its name). */
typedef enum otlp_kind { OTLP_K_GAUGE, OTLP_K_COUNTER, OTLP_K_UPDOWN, OTLP_K_HISTOGRAM, OTLP_K_SUMMARY } otlp_kind;

/* ---- otlp_name.c. Each writes a NUL-terminated name into *out (reset
 * first; the caller frees it with sbuf_free). */
/* The metric name: STRATA_OK, STRATA_ERR_INVALID when the translation
 * leaves no valid name (empty, or only underscores), STRATA_ERR_NOMEM. */
int otlp_metric_name(const char *name, const char *unit, otlp_kind kind, otlp_strategy st, sbuf *out);
/* The unit as Prometheus' metadata gives it ("ms" -> "milliseconds",
 * "By/s" -> "bytes_per_second", "1" -> ""). */
int otlp_unit_name(const char *unit, otlp_strategy st, sbuf *out);
/* A label name from an attribute key ("" when the key is empty). */
int otlp_label_name(const char *key, otlp_strategy st, sbuf *out);
/* A bound or quantile as Go's strconv.FormatFloat(v, 'f', -1, 64) writes
 * it, infinities as "+Inf"/"-Inf": buf of at least OTLP_FLOAT_BUF. */
#define OTLP_FLOAT_BUF 400
void otlp_format_le(double v, char *buf);

/* ---- decoding (otlp_pb.c, otlp_json.c) */
typedef struct otlp_limits {
    size_t max_decoded; /* bytes of protobuf (the JSON body re-encoded) */
    size_t max_objects; /* bytes of objects unpacked, and of the JSON tree */
} otlp_limits;

/* A decoded request and the arena holding it. */
typedef struct otlp_req {
    otlp_export_req *msg;
    pb_arena *arena;
} otlp_req;

/* Status: STRATA_OK with *out (otlp_free), STRATA_ERR_INVALID (not such a
 * message: err says why), STRATA_ERR_LIMIT (over a limit), NOMEM. */
int otlp_decode_pb(const uint8_t *body, size_t len, const otlp_limits *lim, otlp_req **out, char *err, size_t errlen);
int otlp_decode_json(const uint8_t *body, size_t len, const otlp_limits *lim, otlp_req **out, char *err, size_t errlen);
void otlp_free(otlp_req *r);
/* Nesting deeper than this (attribute values hold arrays and lists of
 * themselves) is refused before protobuf-c, which recurses, sees it. */
#define OTLP_MAX_DEPTH 24

/* ---- translation and store (otlp.c) */
typedef struct otlp_opts {
    otlp_strategy strategy;
    size_t max_labels;    /* labels per series; a point over it is refused */
    size_t max_label_len; /* bytes of a label name or value */
} otlp_opts;

/* Receives each sample the translation makes. Returns STRATA_OK, a
 * refusal of that series (STRATA_ERR_INVALID or STRATA_ERR_LIMIT, with
 * *why static), or an error that stops the translation. */
typedef int (*otlp_sink_fn)(void *ctx, const strata_label *labels, size_t n, int64_t t_ms, double v, const char **why);

typedef struct otlp_result {
    uint64_t points;               /* data points in the request */
    uint64_t samples;              /* samples handed to the sink and taken */
    uint64_t rejected_points;      /* points refused, whole or in part */
    uint64_t rejected_exphist;     /* of them: exponential histograms */
    uint64_t rejected_temporality; /* delta histograms, unspecified temporality */
    uint64_t rejected_name;        /* names that translate to nothing */
    uint64_t rejected_series;      /* a series refused by the sink (labels, max_series, time) */
    uint64_t new_series;           /* otlp_store: series created */
    uint64_t metadata_skipped;     /* otlp_store: metadata entries not stored */
    char first_reason[192];        /* why the first point was refused */
} otlp_result;

/* Translates every point of req into samples for sink (in request order;
 * one target_info sample per resource with attributes other than the
 * service's). Counts in *res (zeroed first). Returns the sink's error. */
int otlp_translate(const otlp_export_req *req, const otlp_opts *o, otlp_sink_fn sink, void *ctx, otlp_result *res);

/* otlp_translate into one strata_batch, committed, then the metrics'
 * metadata (type, help = description, unit) through strata_metadata_put.
 * A storage error (the samples added before it may be stored) or
 * STRATA_OK. */
int otlp_store(strata_db *db, const otlp_export_req *req, const otlp_opts *o, otlp_result *res);

#endif
