/*
 * eval_int.h: the PromQL evaluator's private types (value model, context)
 * shared by eval*.c, value.c, func*.c, agg.c, binop.c and result.c.
 *
 * Every expression is evaluated once over a grid of steps
 * t_i = start + i * step, i < n_steps (an instant query is a grid of one
 * step). Values over the grid:
 *
 *   scalar   one double per step, always present.
 *   vector   series, each with a label set and one dense double per step
 *            plus a presence bitmap (a series has no value at a step where
 *            its bit is clear). Aggregations and binary operators work
 *            series by series over these arrays and group with hash maps.
 *   matrix   (range vector) series with their raw samples in time order,
 *            read once for the whole grid, and per step the end of the
 *            window wend[i]: step i sees the samples in
 *            (wend[i] - range_ms, wend[i]]. Range functions slide two
 *            pointers over the samples instead of re-reading windows.
 *   string   a string literal.
 *
 * Errors are recorded in the context (type and Prometheus' message) and
 * every function returns a status; no partial answer escapes.
 */
#ifndef STRATA_QUERY_EVAL_INT_H
#define STRATA_QUERY_EVAL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ast.h"
#include "strata.h"

#define QUERY_STALE_NAN_BITS 0x7ff0000000000002ull
#define QUERY_DEFAULT_LOOKBACK_MS (5 * 60 * 1000)
#define QUERY_DEFAULT_MAX_SAMPLES 50000000ull
#define QUERY_MAX_POINTS 11000
/* Bounds that keep window arithmetic in int64: times within +-2^62 ms,
 * ranges, steps and the lookback within 2^61 ms. */
#define QUERY_MAX_ABS_MS (INT64_C(1) << 62)
#define QUERY_MAX_WIDTH_MS (INT64_C(1) << 61)

/* Error classes, mapped by the HTTP layer to Prometheus' errorType. */
typedef enum query_errtype {
    QERR_NONE = 0,
    QERR_BAD_DATA,     /* 400: the query or its parameters are invalid */
    QERR_EXECUTION,    /* 422: evaluation failed (many-to-many, duplicates...) */
    QERR_TIMEOUT,      /* 503 */
    QERR_CANCELED,     /* 503 */
    QERR_TOO_MANY,     /* 422: too many samples */
    QERR_INTERNAL      /* 500: out of memory, I/O */
} query_errtype;

/* ------------------------------------------------------------ labels */

/* A label set sorted by name, in one allocation (the array followed by the
 * strings); v is NULL when n == 0. Owned by whoever holds it. */
typedef struct qlabels {
    strata_label *v;
    size_t n;
} qlabels;

int query_labels_make(const strata_label *l, size_t n, qlabels *out); /* l sorted or not */
int query_labels_copy(const qlabels *in, qlabels *out);
void query_labels_free(qlabels *l);
const char *query_labels_get(const qlabels *l, const char *name); /* NULL when absent */
/* New set with name=value (value "" deletes it); in is left alone. */
int query_labels_set(const qlabels *in, const char *name, const char *value, qlabels *out);
/* New set without __name__ (and Prometheus' other reserved metadata labels). */
int query_labels_drop_name(const qlabels *in, qlabels *out);
/* Keeps (keep=true) or drops the labels named in names[0..n). */
int query_labels_filter(const qlabels *in, const char *const *names, size_t n, bool keep, qlabels *out);
int query_labels_cmp(const qlabels *a, const qlabels *b);
bool query_labels_eq(const qlabels *a, const qlabels *b);
bool query_labels_has_name(const qlabels *l);
/* Prometheus 3 label names: any non-empty valid UTF-8. */
bool query_valid_label_name(const char *s);

/* A byte key of the labels that a grouping selects: by (keep=true) or
 * without (keep=false) names; without also drops __name__. Appended to
 * *buf (grown), length in *len. */
typedef struct qkey {
    char *p;
    size_t len, cap;
} qkey;
int query_key_build(qkey *k, const qlabels *l, const char *const *names, size_t n, bool keep, bool drop_name);
void query_key_free(qkey *k);

/* Open-addressing hash map from byte keys to indexes. */
typedef struct qmap {
    struct qmap_slot *slots;
    size_t cap, n;
    char *arena;
    size_t arena_len, arena_cap;
} qmap;
/* Finds key; when absent inserts it with value next and sets *found = 0.
 * *idx receives the value. */
int query_map_get_or_add(qmap *m, const char *key, size_t len, uint32_t next, uint32_t *idx, int *found);
int query_map_find(const qmap *m, const char *key, size_t len, uint32_t *idx); /* 1 found, 0 not */
void query_map_free(qmap *m);

/* ------------------------------------------------------------ values */

typedef enum qkind { QV_NONE = 0, QV_SCALAR, QV_VECTOR, QV_MATRIX, QV_STRING } qkind;

typedef struct qseries {
    qlabels lab;
    double *v;    /* [n_steps] */
    uint64_t *has; /* presence bitmap, [(n_steps + 63) / 64] */
} qseries;

typedef struct qmseries {
    qlabels lab;
    int64_t *t;
    double *v;
    size_t n;
} qmseries;

typedef struct qvalue {
    qkind kind;
    size_t n_steps;
    double *scalar;      /* SCALAR: [n_steps] */
    qseries *s;          /* VECTOR */
    qmseries *ms;        /* MATRIX */
    size_t n, cap;       /* series count, capacity */
    int64_t range_ms;    /* MATRIX: window width */
    int64_t *wend;       /* MATRIX: [n_steps] window ends (inclusive) */
    char *str;           /* STRING */
    uint64_t samples;    /* points charged to the context for this value */
    bool ordered;        /* VECTOR: series already in the order to answer (topk) */
    bool windowed;       /* MATRIX: samples already cut to the window (anchored, smoothed) */
} qvalue;

static inline bool qbit(const uint64_t *b, size_t i) { return (b[i >> 6] >> (i & 63)) & 1; }
static inline void qbit_set(uint64_t *b, size_t i) { b[i >> 6] |= 1ull << (i & 63); }
static inline void qbit_clr(uint64_t *b, size_t i) { b[i >> 6] &= ~(1ull << (i & 63)); }
static inline size_t qbit_words(size_t n) { return (n + 63) / 64; }

static inline bool query_is_stale(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b == QUERY_STALE_NAN_BITS;
}

/* ------------------------------------------------------------ context */

typedef struct query_warning {
    char *msg;
} query_warning;

typedef struct qctx {
    strata_db *db;
    /* the grid of the expression being evaluated (subqueries swap it) */
    int64_t start_ms, step_ms;
    size_t n_steps;
    /* the query's outer grid, for start() / end() */
    int64_t q_start_ms, q_end_ms, q_step_ms;
    int64_t lookback_ms;
    int64_t max_source_res_ms; /* strata_read_options.max_source_resolution_ms */
    int64_t ds_res_ms;         /* strata_max_resolution: 0 when nothing is downsampled (plain reads) */
    int64_t subquery_step_ms; /* a subquery without a step uses this */
    int depth;
    uint64_t max_samples;   /* points held at once */
    uint64_t cur_samples;
    uint64_t peak_samples;
    uint64_t total_loaded;  /* raw samples read from the database */
    uint64_t max_series;
    uint64_t deadline_ns;   /* 0: none */
    const volatile int *cancel;
    unsigned check_tick;
    query_errtype etype;
    char emsg[512];
    char **warnings;
    size_t n_warnings;
} qctx;

/* Records the first error (later ones are ignored) and returns the status
 * matching it (STRATA_ERR_INVALID, _LIMIT, _CANCELLED...). */
int query_fail(qctx *c, query_errtype t, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int query_nomem(qctx *c);
int query_warn(qctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Checks cancellation and the deadline every so often; cheap. */
int query_check(qctx *c);
/* The same, reading the clock at every call: for loops whose every
 * iteration may be long. */
int query_check_now(qctx *c);
/* Charges n points to the query; fails with too-many-samples. */
int query_charge(qctx *c, uint64_t n);
void query_release(qctx *c, uint64_t n);

static inline int64_t query_step_t(const qctx *c, size_t i) { return c->start_ms + (int64_t)i * c->step_ms; }

/* Values. */
void query_value_free(qctx *c, qvalue *v);
int query_scalar_new(qctx *c, qvalue *v, double x); /* every step x */
int query_vector_init(qctx *c, qvalue *v);
/* Appends a series with labels taken over (lab is zeroed on success),
 * values zero and no presence; *out points into v->s (valid until the next
 * add). */
int query_vector_add(qctx *c, qvalue *v, qlabels *lab, qseries **out);
/* Drops series with no point at all, compacting v->s. */
void query_vector_prune(qctx *c, qvalue *v);
/* After a change of labels: series with equal label sets are merged when
 * their points do not overlap, else "vector cannot contain metrics with the
 * same labelset" (execution error). */
int query_vector_dedupe(qctx *c, qvalue *v);
/* Drops __name__ from every series, then dedupes. */
int query_vector_drop_names(qctx *c, qvalue *v);
size_t query_series_count(const qseries *s, size_t n_steps);

/* ------------------------------------------------------------ data access (eval_select.c) */

/* Called once per selected series with its samples in [mint, maxt] in time
 * order (arrays lent for the call). */
typedef int (*query_scan_fn)(qctx *c, void *arg, const strata_label *labels, size_t n_labels, const int64_t *t,
                             const double *v, size_t n);
/* Reads every series the matchers select, one at a time; drop_stale leaves
 * staleness markers out. */
int query_scan(qctx *c, const strata_matcher *m, size_t n_m, int64_t mint, int64_t maxt, bool drop_stale,
               query_scan_fn fn, void *arg);
/* Called for a series with aggregate rows (by t_last) in the range, with
 * its other samples (time order; the rows and samples do not overlap). */
typedef int (*query_rows_fn)(qctx *c, void *arg, const strata_label *labels, size_t n_labels, const strata_agg *rows,
                             size_t n_rows, const int64_t *t, const double *v, size_t n);
/* query_scan that asks for the aggregate rows of resolutions up to
 * agg_res_ms: a series with such rows in the range goes to rows_fn, the
 * others to fn. */
int query_scan_ex(qctx *c, const strata_matcher *m, size_t n_m, int64_t mint, int64_t maxt, bool drop_stale,
                  int64_t agg_res_ms, unsigned agg_fields, query_scan_fn fn, query_rows_fn rows_fn, void *arg);
/* The instant-selector rule over samples: per step ts[i], the latest sample
 * in (ts[i] - lookback, ts[i]] unless a staleness marker. */
void query_instant_points(const qctx *c, const int64_t *ts, size_t n_steps, const int64_t *t, const double *v,
                          size_t n, double *ov, uint64_t *has);
/* The same over aggregate rows (by t_last): a row of a downsampled
 * interval is current for the lookback plus its resolution. */
void query_instant_rows(const qctx *c, const int64_t *ts, size_t n_steps, const strata_agg *rows, size_t n,
                        const int64_t *t, const double *v, size_t ns, double *ov, uint64_t *has);
/* How far before a step an instant selector reads: the lookback plus the
 * coarsest resolution a row may have (the lookback when no rule
 * downsamples). */
int64_t query_instant_reach(const qctx *c);
/* An empty matrix with windows ending at ts[i] (copied). */
int query_matrix_init(qctx *c, const int64_t *ts, int64_t range_ms, qvalue *out);
/* The sample interval [mint, maxt] the windows (ts[i] - range, ts[i]] cover. */
int query_matrix_bounds(const qctx *c, const int64_t *ts, int64_t range_ms, int64_t *mint, int64_t *maxt);
/* Instant vector selector: for each step, the latest sample in
 * (t - lookback, t] (t = ts[i]) unless it is a staleness marker. */
int query_select_vector(qctx *c, const strata_matcher *m, size_t n_m, const int64_t *ts, qvalue *out);
/* Range selector: windows (ts[i] - range, ts[i]]. */
int query_select_matrix(qctx *c, const strata_matcher *m, size_t n_m, const int64_t *ts, int64_t range_ms,
                        int64_t before_ms, int64_t after_ms, qvalue *out);
/* Prometheus 3's smoothed instant selector: values interpolated at each
 * step's time from the samples a lookback around it. */
int query_select_vector_smoothed(qctx *c, const strata_matcher *m, size_t n_m, const int64_t *ts, qvalue *out);
/* An anchored / smoothed matrix answered as such: framed by points at the
 * window's start and end (sets windowed). */
int query_matrix_extend(qctx *c, qvalue *m, bool smoothed);

/* ------------------------------------------------------------ functions (func*.c) */

typedef enum qrange_fn {
    QRF_RATE, QRF_INCREASE, QRF_DELTA, QRF_IRATE, QRF_IDELTA,
    QRF_AVG, QRF_MIN, QRF_MAX, QRF_SUM, QRF_COUNT, QRF_STDDEV, QRF_STDVAR,
    QRF_LAST, QRF_FIRST, QRF_PRESENT, QRF_QUANTILE, QRF_MAD,
    QRF_TS_FIRST, QRF_TS_LAST, QRF_TS_MIN, QRF_TS_MAX,
    QRF_CHANGES, QRF_RESETS, QRF_DERIV, QRF_PREDICT_LINEAR, QRF_HOLT_WINTERS,
    QRF_ABSENT_OVER_TIME
} qrange_fn;

/* Applies range function fn to one series' samples (t, v, n in time order)
 * for every step i < n_steps: the window is (wend[i] - range_ms, wend[i]],
 * tstep[i] the evaluation time (predict_linear), p1/p2 per-step scalar
 * arguments (quantile, predict_linear's duration, smoothing factors) or
 * NULL. Writes ov[i] and sets bit i of has where the function has a value. */
/* Streaming of a range function over a selector, one output series at a
 * time (labels with the name already dropped, values and presence over the
 * grid, all lent for the call; the sink may change v and has in place): a
 * positive return stops the stream and is returned as is. */
typedef int (*query_series_sink)(qctx *c, void *arg, const qlabels *lab, double *v, uint64_t *has);
struct query_node;
bool query_range_call_streamable(const struct query_node *call);
/* An instant vector selector streamed the same way (labels as stored). */
int query_select_stream(qctx *c, const struct query_node *vs, query_series_sink sink, void *arg);
/* binop.c: series (op) scalar in place (swap: scalar (op) series). */
void query_series_scalar_op(query_op op, bool ret_bool, bool swap, double *v, uint64_t *has, const double *sc,
                            size_t n);
bool query_op_drops_name(query_op op);
int query_range_call_stream(qctx *c, const struct query_node *call, query_series_sink sink, void *arg);

/* Prometheus 3's anchored / smoothed range selectors. */
typedef enum qext { QEXT_NONE = 0, QEXT_ANCHORED, QEXT_SMOOTHED } qext;
/* As query_range_series for rate, increase, delta (and, anchored, resets,
 * changes) over windows reaching a lookback further (the samples must be
 * read that far). */
int query_range_series_ext(qrange_fn fn, qext ext, int64_t lookback_ms, const int64_t *t, const double *v, size_t n,
                           const int64_t *wend, int64_t range_ms, const int64_t *tstep, size_t n_steps,
                           const double *p1, const double *p2, double *ov, uint64_t *has);
int query_range_series(qrange_fn fn, const int64_t *t, const double *v, size_t n, const int64_t *wend,
                       int64_t range_ms, const int64_t *tstep, size_t n_steps, const double *p1, const double *p2,
                       double *ov, uint64_t *has);

double query_quantile(double q, double *v, size_t n); /* sorts v */
/* extrapolatedRate's extrapolation of result (last - first, resets added)
 * over the window ending at wend: first and last sample times, the first
 * value, the sample count (>= 2). */
double query_extrapolate(double result, int64_t first_t, int64_t last_t, double first_v, double cnt, int64_t wend,
                         int64_t range_ms, bool counter, bool is_rate, bool *ok);
/* Range function fn over aggregate rows (strata_agg, by t_last) of one
 * series: a row is in the window (wend[i] - range, wend[i]] when its
 * t_last is. Only fn for which query_range_rows_ok is true. */
bool query_range_rows_ok(qrange_fn fn);
/* The row fields (STRATA_AGG_*) query_range_rows reads for fn. */
unsigned query_range_rows_fields(qrange_fn fn);
int query_range_rows(qrange_fn fn, const strata_agg *rows, size_t n, const int64_t *wend, int64_t range_ms,
                     size_t n_steps, double *ov, uint64_t *has);
/* fn over rows and samples (time order each, not overlapping): steps
 * whose window holds no row use the sample kernel (query_range_series),
 * the others query_range_rows over the rows and the samples they reach
 * taken as rows of one sample. */
int query_range_mixed(qrange_fn fn, const strata_agg *rows, size_t n_rows, const int64_t *t, const double *v,
                      size_t n, const int64_t *wend, int64_t range_ms, size_t n_steps, double *ov, uint64_t *has);
double query_kahan_inc(double inc, double sum, double *c);

/* Date functions over seconds since the epoch (UTC). */
typedef enum qdate_fn { QD_DAYS_IN_MONTH, QD_DAY_OF_MONTH, QD_DAY_OF_WEEK, QD_DAY_OF_YEAR, QD_HOUR, QD_MINUTE,
                        QD_MONTH, QD_YEAR } qdate_fn;
double query_date(qdate_fn fn, double secs);

/* histogram_quantile over the buckets of one series group at one step. */
typedef struct qbucket {
    double le, count;
} qbucket;
double query_bucket_quantile(double q, qbucket *b, size_t n, bool *forced_monotonic);
/* natsort's order (digit runs as numbers): true when a sorts before b. */
bool query_natsort_less(const char *a, const char *b);
/* Go's strconv.FormatFloat(f, 'f', -1, 64) into buf; returns its length. */
int query_format_go_f(double f, char *buf, size_t cap);

/* ------------------------------------------------------------ the walk (eval.c and friends) */

int query_eval_node(qctx *c, const query_node *n, qvalue *out);
int query_eval_binary(qctx *c, const query_node *n, qvalue *out);    /* binop.c */
int query_eval_aggregate(qctx *c, const query_node *n, qvalue *out); /* agg.c */
int query_eval_call(qctx *c, const query_node *n, qvalue *out);      /* func.c */
int query_eval_subquery(qctx *c, const query_node *n, qvalue *out);
int query_eval_info(qctx *c, const query_node *n, qvalue *out);      /* func_info.c */
/* A duration field: the constant, or the DURATION expression evaluated. */
int query_duration_ms(qctx *c, const query_node *expr, int64_t constant, int64_t *out);
/* Per step: (@ time or the step's time) - offset; *out freed by the caller. */
int query_sel_times(qctx *c, query_at at, int64_t at_ms, int64_t offset_ms, int64_t **out);
/* Window ends and width of a matrix argument (selector or subquery). */
int query_matrix_windows(qctx *c, const query_node *n, int64_t **wend, int64_t *range_ms);
const query_node *query_unwrap(const query_node *n); /* skips parentheses */
/* The caller's answer from the root's value (result.c); takes over labels. */
int query_result_build(qctx *c, qvalue *v, const query_node *root, bool instant, strata_result **out);
void query_result_set_eval_ns(strata_result *r, int64_t ns);

#endif
