/*
 * expfmt.h: a parser of Prometheus' text exposition format (0.0.4), for
 * POST /api/v1/import/prometheus, without HTTP.
 *
 * One line at a time, in one pass, holding nothing but the current line's
 * labels (a scratch buffer as long as the longest line, and at most
 * max_labels + 1 labels):
 *   name[{label="value",...}] value [timestamp-ms]
 *   # HELP name text        (escapes \\ and \n)
 *   # TYPE name type        (counter gauge histogram summary untyped;
 *                            OpenMetrics' info stateset gaugehistogram unknown)
 *   # UNIT name unit        (as OpenMetrics)
 * other comments and blank lines are skipped. Label values take the
 * escapes \\, \" and \n; values are Go floats (NaN, +Inf, -Inf, Inf in any
 * case, decimal and exponent forms); a missing timestamp is the caller's
 * default time. Names are the classic ones ([a-zA-Z_:][a-zA-Z0-9_:]*,
 * labels without ':'). Stale markers cannot be written in text (a NaN
 * read is the ordinary NaN).
 */
#ifndef STRATA_SERVER_EXPFMT_H
#define STRATA_SERVER_EXPFMT_H

#include <stddef.h>
#include <stdint.h>

#include "strata.h"

typedef struct ef_limits {
    size_t max_labels;    /* labels per sample, the metric name included */
    size_t max_label_len; /* bytes of a label name or value, of help text */
} ef_limits;

/* A sample: labels sorted as written, __name__ first; valid during the call. */
typedef int (*ef_sample_fn)(void *ctx, const strata_label *labels, size_t n, double v, int64_t t_ms);
/* A # HELP, # TYPE or # UNIT line: kind is "help", "type" or "unit";
 * type texts are those strata_metadata takes ("untyped" comes as
 * "unknown"). Valid during the call. */
typedef int (*ef_meta_fn)(void *ctx, const char *kind, const char *metric, const char *text);

/* Parses buf[0, len). Either callback may be NULL (a dry run checks the
 * whole body). Returns STRATA_OK; STRATA_ERR_INVALID or STRATA_ERR_LIMIT
 * with err ("line N: why"), nothing more called after it;
 * STRATA_ERR_NOMEM; or the first non-zero status a callback returned. */
int ef_parse(const char *buf, size_t len, int64_t default_t_ms, const ef_limits *lim, ef_sample_fn on_sample,
             ef_meta_fn on_meta, void *ctx, char *err, size_t errlen);

#endif
