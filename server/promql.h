/*
 * promql.h: evaluation of PromQL selectors over a strata database, with
 * Prometheus' semantics, shared by `strata query` and the HTTP API.
 *
 *   instant vector  m{a="b"} at time t: per series the latest sample in
 *                   (t - lookback, t], lookback 5 minutes; a series whose
 *                   latest sample there is a staleness marker (Prometheus'
 *                   NaN with payload 0x7ff0000000000002) has no value.
 *   range vector    m{a="b"}[d] at time t: the samples in (t - d, t],
 *                   staleness markers removed.
 *   range query     an instant vector evaluated at start, start+step, ...,
 *                   end: per series the points where it had a value.
 *   expressions     sum/avg/min/max/count [by|without] over rate, increase,
 *                   delta, irate, idelta, *_over_time or selectors
 *                   (promql_expr.c).
 */
#ifndef STRATA_PROMQL_H
#define STRATA_PROMQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata.h"

#define PQ_LOOKBACK_MS (5 * 60 * 1000)
#define PQ_STALE_NAN_BITS 0x7ff0000000000002ull

typedef struct pq_series {
    strata_label *labels; /* owned copies */
    size_t n_labels;
    int64_t *t;
    double *v;
    size_t n;
} pq_series;

typedef enum pq_kind { PQ_VECTOR, PQ_MATRIX } pq_kind;

typedef struct pq_result {
    pq_kind kind; /* VECTOR: one point per series (at the evaluation time) */
    pq_series *series;
    size_t n_series;
    char error[256]; /* set when an evaluation fails with STRATA_ERR_INVALID */
} pq_result;

/* Evaluates query at time t. STRATA_ERR_INVALID for a query it cannot
 * parse or does not implement (result->error says which). */
int pq_eval_instant(strata_db *db, const char *query, int64_t t, pq_result *result);

/* Evaluates an instant-vector query over [start, end] by step (> 0). */
int pq_eval_range(strata_db *db, const char *query, int64_t start, int64_t end, int64_t step, pq_result *result);

void pq_result_free(pq_result *r);

/* Reads every sample of the cursor's current series into *t / *v (grown
 * with realloc; *cap in samples; the caller frees them), *n the count.
 * skip_stale leaves staleness markers out. Returns 0 or a negative status. */
int pq_read_series(strata_cursor *c, bool skip_stale, int64_t **t, double **v, size_t *n, size_t *cap);

/* Aggregations (sum, avg, min, max, count with by/without) and range
 * functions (rate, increase, delta, irate, idelta, *_over_time) over
 * [start, end] by step (step 0: the instant start), in promql_expr.c.
 * pq_eval_instant and pq_eval_range fall back to it for what is not a
 * bare selector. r must be zeroed; r->error says why on INVALID. */
int pq_eval_expr(strata_db *db, const char *query, int64_t start, int64_t end, int64_t step, pq_result *r);

#endif
