/*
 * strata.h: the whole public API of strata, an embeddable time-series
 * storage engine.
 *
 * Conventions
 * - Every function that can fail returns an int status: STRATA_OK (0) or a
 *   negative STRATA_ERR_* code; strata_strerror() names it. Outputs go
 *   through pointers and are set only on success.
 * - The caller owns what it passes in; the library copies what it keeps.
 *   What the library hands over is freed by the matching strata_*_free or
 *   strata_*_close call; what it lends (const pointers out of a cursor) lives
 *   until the next call on that cursor, as each function says.
 * - A strata_db is thread-safe: any number of threads may write, read,
 *   flush and delete at once. A cursor belongs to one thread at a time.
 * - No global state: two databases in one process are independent.
 * - Timestamps are int64 milliseconds since the Unix epoch; values are
 *   float64 stored bit-exactly (NaN payloads included).
 */
#ifndef STRATA_H
#define STRATA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define STRATA_API __attribute__((visibility("default")))
#else
#define STRATA_API
#endif

#define STRATA_VERSION_MAJOR 0
#define STRATA_VERSION_MINOR 1
#define STRATA_VERSION_PATCH 0
/* MAJOR * 1000000 + MINOR * 1000 + PATCH, for #if and for comparing with
 * strata_libversion_number() (the library a program runs with). */
#define STRATA_VERSION_NUMBER (STRATA_VERSION_MAJOR * 1000000 + STRATA_VERSION_MINOR * 1000 + STRATA_VERSION_PATCH)
/* Version of the on-disk format (VERSION file, table footers, WAL).
 * 2 added downsampled (aggregate) table blocks and a table footer field;
 * a directory of version 1 is upgraded in place when opened for writing
 * (every version-1 file still reads). */
#define STRATA_FORMAT_VERSION 2

/* Status codes: one list generates the enum and strata_strerror(). */
#define STRATA_STATUS_LIST(X)                                                   \
    X(STRATA_OK, 0, "success")                                                  \
    X(STRATA_ERR_INVALID, -1, "invalid argument or input")                      \
    X(STRATA_ERR_CORRUPT, -2, "data is corrupted")                              \
    X(STRATA_ERR_IO, -3, "input/output error")                                  \
    X(STRATA_ERR_NOMEM, -4, "out of memory")                                    \
    X(STRATA_ERR_BUSY, -5, "database in use by another process")                \
    X(STRATA_ERR_NOTFOUND, -6, "not found")                                     \
    X(STRATA_ERR_VERSION, -7, "unsupported format version")                     \
    X(STRATA_ERR_NOSPACE, -8, "no space left on device")                        \
    X(STRATA_ERR_LIMIT, -9, "limit exceeded")                                   \
    X(STRATA_ERR_CLOSED, -10, "database is closed")                             \
    X(STRATA_ERR_CANCELLED, -11, "operation cancelled")                         \
    X(STRATA_ERR_READONLY, -12, "database is read-only")

enum strata_status {
#define STRATA_X_ENUM(name, code, msg) name = code,
    STRATA_STATUS_LIST(STRATA_X_ENUM)
#undef STRATA_X_ENUM
};

/* A static description of a status code; never NULL. */
STRATA_API const char *strata_strerror(int status);

/* "0.1.0 (format 1)": a static string. */
STRATA_API const char *strata_version(void);

/* STRATA_VERSION_NUMBER of the library itself: a program compiled against
 * another header can tell (the major version must match). */
STRATA_API int strata_libversion_number(void);

/* A message about the last error a strata call met in this thread, with
 * the file and the OS error when there was one ("open /data/wal/3.seg:
 * Permission denied"), or "" when there was none. Meaningful right after
 * a call returned an error (strata_open's included); a later failing call
 * in the same thread replaces it. Static storage of the thread, valid
 * until its next strata call. */
STRATA_API const char *strata_errmsg(void);

/* ------------------------------------------------------------ options */

typedef enum strata_sync {
    STRATA_SYNC_INTERVAL = 0, /* write(2) before returning, fsync every sync_interval_ms */
    STRATA_SYNC_ALWAYS = 1,   /* fsync before returning; concurrent writers share one */
    STRATA_SYNC_NONE = 2      /* write(2) before returning, never fsync */
} strata_sync;
/* Under INTERVAL a write is durable once the next fsync succeeded. When
 * one fails, Linux may drop the pages it covered, and no later fsync
 * writes them again: the database then writes its in-memory head to
 * tables at once (the records are still there), and until that is done
 * a clean close flushes first and strata_stats.wal_sync_lost is 1. */

typedef enum strata_planner {
    STRATA_PLANNER_TIERED = 0,
    STRATA_PLANNER_LEVELED = 1
} strata_planner;

/* Log levels passed to strata_options.log_fn. */
enum { STRATA_LOG_ERROR = 0, STRATA_LOG_WARN = 1, STRATA_LOG_INFO = 2, STRATA_LOG_DEBUG = 3 };

/* A retention rule: the series every matcher matches (strata_selector_parse
 * turns `{env="dev"}` into them) keep their samples retention_ms. The first
 * rule that matches a series wins; strata_options.retention_ms covers the
 * rest. Reads hide a series' samples older than its retention at once and
 * compaction removes them; a partition goes whole once it is older than
 * the longest retention (never while retention_ms keeps everything). */
typedef struct strata_retention_rule {
    const struct strata_matcher *matchers;
    size_t n_matchers;    /* >= 1 */
    int64_t retention_ms; /* > 0 */
} strata_retention_rule;

/* A downsampling rule: the data of a series its matchers match (none:
 * every series) in partitions that ended age_ms ago or earlier is kept
 * as one row of aggregates per resolution_ms interval (strata_agg) instead
 * of its samples. Rules with the same selector form a group; a series
 * follows the first group whose selector matches it (the group without a
 * selector last), and within it the rule of the largest age its data has
 * reached (rules with equal matchers in the same order form a group).
 * Within a group, a larger age has a larger resolution, each a
 * multiple of the previous; every resolution divides the partition width. */
typedef struct strata_downsampling_rule {
    const struct strata_matcher *matchers;
    size_t n_matchers;
    int64_t age_ms;        /* > 0 */
    int64_t resolution_ms; /* > 0 */
} strata_downsampling_rule;

/* Options of strata_open. Fill with strata_options_init, then set fields:
 * the struct may grow in later versions (new fields at the end), and size
 * tells the library which fields a program compiled against an older
 * header knows; the rest keep their defaults. */
typedef struct strata_options {
    size_t size;                  /* sizeof(strata_options), set by strata_options_init */
    const char *dir;              /* data directory; created if missing */
    strata_sync sync;             /* default STRATA_SYNC_INTERVAL */
    int64_t sync_interval_ms;     /* default 1000 */
    int64_t partition_ms;         /* time partition width, default 1 day; fixed at creation */
    int64_t retention_ms;         /* 0: keep everything */
    strata_planner planner;       /* default tiered */
    uint64_t head_budget_bytes;   /* head memory that triggers a flush, default 64 MiB */
    int64_t head_max_age_ms;      /* oldest unflushed write that triggers a flush, default 2 h */
    int compaction_threads;       /* default 2; 0 disables background compaction */
    uint64_t compaction_rate_bytes; /* bytes/s written by compaction, 0 unlimited */
    int64_t cold_ms;              /* partition without writes this long gets a full compaction, default 4 h */
    uint32_t block_samples;       /* samples per table block, default 1000 */
    uint64_t wal_segment_bytes;   /* default 64 MiB */
    int read_only;                /* open without writing anything (verify, export) */
    uint64_t max_series;          /* series the database may hold, 0 unlimited (STRATA_ERR_LIMIT beyond) */
    uint32_t max_labels;          /* labels per series, default 256 */
    uint32_t max_label_name_len;  /* bytes, default 1024 */
    uint32_t max_label_value_len; /* bytes, default 65536 */
    /* Log sink; NULL logs nothing. Called from any thread. */
    void (*log_fn)(void *ctx, int level, const char *msg);
    void *log_ctx;
    /* Tuning: rewrite the manifest into a snapshot whenever its log passes
     * this many bytes (0: the default policy, at least 1 MiB and 4 times
     * the last snapshot). Small values make crash tests land inside
     * rewrites. */
    uint64_t manifest_rewrite_bytes;
    /* Retention per series and downsampling (rules above), copied at
     * open; none by default. */
    const strata_retention_rule *retention_rules;
    size_t n_retention_rules;
    const strata_downsampling_rule *downsampling_rules;
    size_t n_downsampling_rules;
} strata_options;

/* Fills *opts with the defaults above. */
STRATA_API void strata_options_init(strata_options *opts);

/* ------------------------------------------------------------ database */

typedef struct strata_db strata_db;

/* Opens (creating if needed) the database in opts->dir, replaying the WAL.
 * Errors: STRATA_ERR_BUSY another process holds the directory;
 * STRATA_ERR_VERSION the directory has another format version;
 * STRATA_ERR_INVALID options conflict with the directory (partition width);
 * STRATA_ERR_CORRUPT a file the manifest needs is missing or unreadable;
 * STRATA_ERR_IO. Details go to opts->log_fn. */
STRATA_API int strata_open(const strata_options *opts, strata_db **out);

/* Stops background work, syncs the WAL and releases the directory.
 * strata_close(NULL) is a no-op. Returns the first error met while closing;
 * the handle is freed in every case.
 * Errors: STRATA_ERR_IO or STRATA_ERR_NOSPACE (the final WAL sync or index sync failed: the
 * writes acknowledged before it were durable only under the sync policy). */
STRATA_API int strata_close(strata_db *db);

/* ------------------------------------------------------------ series and writes */

typedef struct strata_label {
    const char *name;
    const char *value;
} strata_label;

typedef uint64_t strata_sid;

/* Looks up or creates the series named by labels (any order; empty values
 * are dropped as in Prometheus; names must be unique). *created is set to 1
 * when the series is new (created may be NULL). Names and values are C
 * strings: a protocol that carries lengths must refuse a NUL byte itself
 * (strata's do) rather than let it cut the string. A new series' names and
 * values must be valid UTF-8 (a series stored by an earlier version with
 * other bytes is still found).
 * Errors: STRATA_ERR_INVALID (NULL arguments; a duplicate or empty label name; a name or
 * value of a new series that is not valid UTF-8),
 * STRATA_ERR_LIMIT (max_series: the database holds that many series already, and nothing
 * is created; max_labels or a label length), STRATA_ERR_READONLY,
 * STRATA_ERR_NOMEM, STRATA_ERR_IO or STRATA_ERR_NOSPACE (logging a new series). */
STRATA_API int strata_series_get_or_create(strata_db *db, const strata_label *labels, size_t n_labels,
                                           strata_sid *out, int *created);

typedef struct strata_sample {
    strata_sid sid;
    int64_t t_ms;
    double value;
} strata_sample;

/* Writes a batch, any order. When it returns STRATA_OK the batch is in the
 * WAL under the configured sync policy and visible to readers. On error
 * nothing of the batch is visible. STRATA_ERR_INVALID: an unknown sid, a
 * timestamp older than its series' retention (its retention rule's, else
 * retention_ms), or one within a partition width of the ends of the int64
 * range (its partition could not be represented); strata_errmsg says
 * which. */
STRATA_API int strata_write(strata_db *db, const strata_sample *samples, size_t n);

typedef enum strata_precision {
    STRATA_PRECISION_NS = 0,
    STRATA_PRECISION_US = 1,
    STRATA_PRECISION_MS = 2,
    STRATA_PRECISION_S = 3
} strata_precision;

/* What a text write (line protocol, JSON lines) did. */
typedef struct strata_write_result {
    uint64_t samples;        /* samples stored */
    uint64_t new_series;     /* series created */
    uint64_t lines;          /* non-empty, non-comment lines seen */
    uint64_t rejected_lines; /* lines refused (reported through on_reject) */
    uint64_t skipped_fields; /* line protocol: string fields skipped */
} strata_write_result;
typedef strata_write_result strata_lp_result; /* its earlier name */

/* Called once per rejected line; line_no counts from 1, reason is a short
 * static or temporary string valid during the call. */
typedef void (*strata_reject_fn)(void *ctx, uint64_t line_no, const char *reason);

/* Writes Influx line protocol: series `measurement_field`, tags as labels.
 * Valid lines are stored even when others are rejected; the call returns
 * STRATA_OK unless storing failed. now_ms stamps lines without a timestamp.
 * A line holding a NUL byte in its measurement, tags or field keys is
 * rejected, as is one naming a new series that is not valid UTF-8. Each
 * field's series is taken or refused alone: when max_series refuses some
 * (reason "series limit reached (max_series) (k of n fields refused, the
 * others stored)"), the line's other samples are stored, the line is
 * reported through on_reject and counted in rejected_lines.
 * Errors: STRATA_ERR_INVALID (NULL arguments), STRATA_ERR_READONLY, STRATA_ERR_NOMEM,
 * STRATA_ERR_IO, STRATA_ERR_NOSPACE (storing failed; lines stored before it stay). */
STRATA_API int strata_write_lp(strata_db *db, const char *buf, size_t len, strata_precision precision,
                               int64_t now_ms, strata_reject_fn on_reject, void *ctx,
                               strata_write_result *result);

/* Writes JSON lines in the export format (one series a line:
 * {"metric":{...},"values":[...],"timestamps":[...]}), as `strata import`
 * and /api/v1/import do. Lines are checked one by one: a line that does
 * not decode, names an invalid series or carries a timestamp the database
 * cannot take is reported through on_reject (its reason names the byte
 * for a decoding error) and the rest are stored. Returns STRATA_OK unless
 * storing failed. buf holds whole lines (a last line without '\n' is one).
 * Errors: as strata_write_lp. */
STRATA_API int strata_write_jsonl(strata_db *db, const char *buf, size_t len, strata_reject_fn on_reject, void *ctx,
                                  strata_write_result *result);

/* A batch of samples of series named by labels: what a protocol that
 * names series by labels (JSON lines, remote write, OTLP) writes through.
 * Each strata_batch_add checks its samples' times and finds or creates
 * the series; what the database cannot take is refused alone
 * (STRATA_ERR_INVALID or STRATA_ERR_LIMIT with *reason, a static string)
 * and the rest stays in the batch. A new series over max_series is
 * STRATA_ERR_LIMIT with the reason "series limit reached (max_series)"
 * (its samples counted in strata_stats.samples_refused); the samples of
 * existing series and of new series while room remains are taken. A call
 * with n == 0 does nothing (no series is created without samples). strata_batch_commit writes every
 * accepted sample (in chunks: a long batch is written as it grows).
 * A batch belongs to one thread; any number may be open on one database.
 * Errors of add and commit beyond a refusal: STRATA_ERR_NOMEM,
 * STRATA_ERR_IO, STRATA_ERR_NOSPACE, STRATA_ERR_READONLY (storing failed:
 * samples written before stay; the batch keeps failing). */
typedef struct strata_batch strata_batch;
STRATA_API int strata_batch_new(strata_db *db, strata_batch **out);
STRATA_API int strata_batch_add(strata_batch *b, const strata_label *labels, size_t n_labels, const int64_t *t_ms,
                                const double *values, size_t n, const char **reason);
/* Fills result's samples and new_series (result may be NULL). */
STRATA_API int strata_batch_commit(strata_batch *b, strata_write_result *result);
/* strata_batch_free(NULL) is a no-op; uncommitted samples are dropped. */
STRATA_API void strata_batch_free(strata_batch *b);

/* ------------------------------------------------------------ selection */

typedef enum strata_match_type {
    STRATA_MATCH_EQ = 0,  /* =  */
    STRATA_MATCH_NEQ = 1, /* != */
    STRATA_MATCH_RE = 2,  /* =~ fully anchored, Go's (RE2) syntax, as Prometheus */
    STRATA_MATCH_NRE = 3  /* !~ */
} strata_match_type;

typedef struct strata_matcher {
    strata_match_type type;
    const char *name;
    const char *value;
} strata_matcher;

/* A parsed PromQL selector: `name{a="b",c=~"d.*"}`. Owned by the caller,
 * freed with strata_selector_free. */
typedef struct strata_selector {
    strata_matcher *matchers;
    size_t n_matchers;
    int64_t range_ms; /* the [5m] of a range selector, 0 when absent */
} strata_selector;

/* Parses the NUL-terminated text, a PromQL vector selector with an optional
 * range (`name{a="b"}[5m]`, as Prometheus 3 reads it: quoted UTF-8 names,
 * Go escapes, durations or seconds), into *out; the metric name written up
 * front is the first matcher. On STRATA_ERR_INVALID, when errbuf is not
 * NULL it receives Prometheus' message with the position
 * ("1:8: parse error: ..."). Thread-safe. */
STRATA_API int strata_selector_parse(const char *text, strata_selector *out, char *errbuf, size_t errlen);
STRATA_API void strata_selector_free(strata_selector *sel);

typedef struct strata_cursor strata_cursor;

/* Selects the series matched by every matcher that have samples in
 * [mint_ms, maxt_ms] (inclusive), as of the call: later writes are not
 * seen. The cursor pins the files it reads; it never blocks writers.
 * Free it with strata_cursor_close.
 * Errors: STRATA_ERR_INVALID (NULL arguments, a regular expression that does not compile),
 * STRATA_ERR_NOMEM. */
STRATA_API int strata_select(strata_db *db, const strata_matcher *matchers, size_t n_matchers,
                             int64_t mint_ms, int64_t maxt_ms, strata_cursor **out);

/* Like strata_select for callers that want the series only (the series
 * and label APIs): a series is returned when it has a sample in the range,
 * found without decoding more than it takes to see one;
 * strata_cursor_next_samples returns 0 at once.
 * Errors: as strata_select. */
STRATA_API int strata_select_series(strata_db *db, const strata_matcher *matchers, size_t n_matchers,
                                    int64_t mint_ms, int64_t maxt_ms, strata_cursor **out);

/* The aggregates of one interval (end - res_ms, end] of a downsampled
 * series, over the samples it held (staleness markers left out):
 * t_first/first and t_last/last its first and last sample, count, sum,
 * min and max over the values (min and max ignore NaN unless every value
 * is NaN, as min_over_time and max_over_time), and resets the sum of the
 * values that a lower next value followed (what rate and increase add back
 * for counter resets). A raw sample read as a row has count 1 and
 * res_ms 0. */
typedef struct strata_agg {
    int64_t t_first, t_last; /* ms */
    double count, sum, min, max, first, last, resets;
    int64_t res_ms;          /* the interval's width; 0: a raw sample */
} strata_agg;

/* How strata_select_ex reads downsampled data. */
typedef struct strata_read_options {
    size_t size;                 /* sizeof(strata_read_options), set by init */
    /* Data kept at a resolution coarser than this is not read: -1 (the
     * default) reads every resolution, 0 raw data only. */
    int64_t max_source_resolution_ms;
    /* Intervals of a resolution up to this (> 0) are returned as rows by
     * strata_cursor_next_aggs (with the raw samples that fall inside
     * them), the series' other samples by strata_cursor_next_samples;
     * coarser intervals, and every interval when 0 (the default), read as
     * their last sample through strata_cursor_next_samples. */
    int64_t agg_resolution_ms;
    /* The fields of the rows the caller reads (STRATA_AGG_* bits; 0: all):
     * the others may be NaN (t_first: t_last, count: 1), and reading costs
     * what is asked for. */
    unsigned agg_fields;
} strata_read_options;

enum {
    STRATA_AGG_COUNT = 1 << 0,
    STRATA_AGG_SUM = 1 << 1,
    STRATA_AGG_MIN = 1 << 2,
    STRATA_AGG_MAX = 1 << 3,
    STRATA_AGG_FIRST = 1 << 4,
    STRATA_AGG_LAST = 1 << 5,
    STRATA_AGG_RESETS = 1 << 6,
    STRATA_AGG_T_FIRST = 1 << 7
};

STRATA_API void strata_read_options_init(strata_read_options *o);

/* The coarsest resolution of the database's downsampling rules and of the
 * downsampled data it holds (0: neither): how far back an instant query
 * must read for a downsampled interval's last value, and whether reads
 * need to ask for aggregate rows at all. */
STRATA_API int64_t strata_max_resolution(strata_db *db);

/* strata_select_any with read options (NULL: defaults). */
STRATA_API int strata_select_ex(strata_db *db, const strata_selector *selectors, size_t n_selectors,
                                int64_t mint_ms, int64_t maxt_ms, unsigned flags, const strata_read_options *ro,
                                strata_cursor **out);

/* After strata_cursor_next_series: 1 with the current series' aggregate
 * rows in time order (by t_last; lent until the next
 * strata_cursor_next_series or strata_cursor_close) when it
 * has some (strata_read_options.agg_resolution_ms), 0 when not. Its other
 * samples come from strata_cursor_next_samples either way. */
STRATA_API int strata_cursor_next_aggs(strata_cursor *c, const strata_agg **rows, size_t *n);

/* Flags of strata_select_any. */
enum { STRATA_SELECT_SERIES_ONLY = 1 /* as strata_select_series: no samples */ };

/* Like strata_select over the union of several selectors (as Prometheus
 * takes several match[]): the series matched by any of them, each once,
 * in sid order. A selector with no matchers matches every series;
 * n_selectors must be at least 1. Only the matchers of each selector are
 * used (not range_ms).
 * Errors: as strata_select. */
STRATA_API int strata_select_any(strata_db *db, const strata_selector *selectors, size_t n_selectors,
                                 int64_t mint_ms, int64_t maxt_ms, unsigned flags, strata_cursor **out);

/* Advances to the next series (in sid order). Returns 1 and lends its
 * labels (sorted by name, valid until the next call of next_series or
 * close), 0 at the end, or a negative status. */
STRATA_API int strata_cursor_next_series(strata_cursor *c, strata_sid *sid, const strata_label **labels,
                                         size_t *n_labels);

/* Lends the next run of samples of the current series, in time order with
 * no duplicates: returns 1 with *n >= 1 (arrays valid until the next
 * strata_cursor_next_series or close), 0 when the series is exhausted, or
 * a negative status. A series' samples come in one run. */
STRATA_API int strata_cursor_next_samples(strata_cursor *c, const int64_t **t_ms, const double **values,
                                          size_t *n);

STRATA_API void strata_cursor_close(strata_cursor *c);

/* A list of strings handed to the caller; free with strata_strings_free. */
typedef struct strata_strings {
    size_t n;
    char **v;
} strata_strings;

STRATA_API void strata_strings_free(strata_strings *s);

/* Label names (sorted) of the series matched that have data in the range;
 * n_matchers == 0 means every series.
 * Errors: STRATA_ERR_INVALID (NULL arguments, a bad regular expression), STRATA_ERR_NOMEM,
 * STRATA_ERR_CORRUPT or STRATA_ERR_IO (a block read to see whether a series has data). */
STRATA_API int strata_label_names(strata_db *db, const strata_matcher *matchers, size_t n_matchers,
                                  int64_t mint_ms, int64_t maxt_ms, strata_strings *out);

/* Values (sorted) of label `name` over the series matched.
 * Errors: as strata_label_names. */
STRATA_API int strata_label_values(strata_db *db, const char *name, const strata_matcher *matchers,
                                   size_t n_matchers, int64_t mint_ms, int64_t maxt_ms, strata_strings *out);

/* One label pair and how many of the selected series hold it. */
typedef struct strata_label_pair {
    const char *name, *value;
    uint64_t series;
} strata_label_pair;

/* Label pairs handed to the caller; free with strata_label_pairs_free. */
typedef struct strata_label_pairs {
    size_t n;
    strata_label_pair *v; /* the pairs of one name are adjacent */
    uint64_t series;      /* series selected */
    char *text;           /* holds the strings v points into */
} strata_label_pairs;

/* Cardinality: every label pair of the series the selectors pick (their
 * union; n_selectors == 0 means every series) that have a sample in
 * [mint_ms, maxt_ms] not hidden by a delete, with how many of those series
 * hold it; pairs no such series holds are left out. What
 * /api/v1/status/tsdb reports is folded from it. One pass over the label
 * index's postings after the selection.
 * Errors: STRATA_ERR_INVALID (NULL arguments, a bad regular expression), STRATA_ERR_NOMEM,
 * STRATA_ERR_CORRUPT or STRATA_ERR_IO (a block read to see whether a series has data). */
STRATA_API int strata_label_pair_counts(strata_db *db, const strata_selector *selectors, size_t n_selectors,
                                        int64_t mint_ms, int64_t maxt_ms, strata_label_pairs *out);
STRATA_API void strata_label_pairs_free(strata_label_pairs *p);

/* ------------------------------------------------------------ metric metadata */

/* What a client says of a metric family: its type ("counter", "gauge",
 * "histogram", "gaugehistogram", "summary", "info", "stateset" or
 * "unknown"), help text and unit, as Prometheus' /api/v1/metadata lists
 * them. */
typedef struct strata_metadata {
    const char *metric;
    const char *type;
    const char *help; /* NULL is "" */
    const char *unit; /* NULL is "" */
} strata_metadata;

/* Stores the n entries, durably (the file is synced before the call
 * returns) and once each: an entry equal in all four fields to a stored
 * one is not stored again. All or none are stored.
 * Errors: STRATA_ERR_INVALID (NULL arguments, an empty metric, an unknown
 * type, text that is not UTF-8), STRATA_ERR_LIMIT (a text over 64 KiB, over
 * a million entries), STRATA_ERR_READONLY, STRATA_ERR_NOMEM, STRATA_ERR_IO,
 * STRATA_ERR_NOSPACE. */
STRATA_API int strata_metadata_put(strata_db *db, const strata_metadata *m, size_t n);

/* The stored entries sorted by metric (then type, help, unit): of metric
 * only when it is not NULL, of at most limit metrics and limit_per_metric
 * entries each (0: no limit). *out is one allocation holding the entries
 * and their text, freed with strata_free; NULL when *n is 0.
 * Errors: STRATA_ERR_INVALID (NULL arguments), STRATA_ERR_NOMEM, STRATA_ERR_IO. */
STRATA_API int strata_metadata_get(strata_db *db, const char *metric, size_t limit, size_t limit_per_metric,
                                   strata_metadata **out, size_t *n);

/* ------------------------------------------------------------ export */

typedef enum strata_export_format {
    STRATA_EXPORT_JSONL = 0, /* one series a line: {"metric":{...},"values":[...],"timestamps":[...]} */
    STRATA_EXPORT_CSV = 1,   /* name,labels,timestamp,value with a header row, one row per sample */
    STRATA_EXPORT_LP = 2     /* Influx line protocol, one line per sample, ns timestamps */
} strata_export_format;

typedef struct strata_export strata_export;

/* Opens a streaming export of the series matched by any of the selectors
 * (strata_select_any) with their samples in [mint_ms, maxt_ms], as text in
 * format. Series without samples in the range are left out. The export
 * pins what it reads as a cursor does; free it with strata_export_close.
 * Errors: as strata_select; strata_export_read also STRATA_ERR_CORRUPT or STRATA_ERR_IO
 * (a damaged block) and STRATA_ERR_NOMEM. */
STRATA_API int strata_export_open(strata_db *db, const strata_selector *selectors, size_t n_selectors,
                                  int64_t mint_ms, int64_t maxt_ms, strata_export_format format,
                                  strata_export **out);

/* Copies the next bytes of the export into buf (at most cap, cap > 0):
 * returns 1 with *n > 0, 0 at the end, or a negative status. Memory stays
 * bounded by the largest series, whatever the number of series. */
STRATA_API int strata_export_read(strata_export *e, char *buf, size_t cap, size_t *n);

/* Series and samples written so far. */
STRATA_API void strata_export_counts(const strata_export *e, uint64_t *series, uint64_t *samples);

/* strata_export_close(NULL) is a no-op. */
STRATA_API void strata_export_close(strata_export *e);

/* ------------------------------------------------------------ deletes and maintenance */

/* Deletes the samples in [mint_ms, maxt_ms] of the series matched: invisible
 * when it returns, durable under the sync policy, purged by compaction.
 * Errors: STRATA_ERR_INVALID (NULL arguments, a bad regular expression: nothing is deleted),
 * STRATA_ERR_READONLY, STRATA_ERR_NOMEM, STRATA_ERR_IO, STRATA_ERR_NOSPACE. */
STRATA_API int strata_delete(strata_db *db, const strata_matcher *matchers, size_t n_matchers,
                             int64_t mint_ms, int64_t maxt_ms);

/* Writes the head out to tables and returns when they are installed.
 * Errors: STRATA_ERR_IO, STRATA_ERR_NOSPACE (the head stays in memory and in the WAL; a
 * later flush retries), STRATA_ERR_NOMEM, STRATA_ERR_READONLY. */
STRATA_API int strata_flush(strata_db *db);

/* Runs compactions until none is planned (full: compacts every partition
 * fully) and returns when done.
 * Errors: STRATA_ERR_IO, STRATA_ERR_NOSPACE, STRATA_ERR_NOMEM, STRATA_ERR_CORRUPT (an input
 * file is damaged: it is quarantined), STRATA_ERR_CANCELLED (the database is closing),
 * STRATA_ERR_READONLY. A failed compaction leaves the data as it was. */
STRATA_API int strata_compact(strata_db *db, int full);

/* A consistent copy of the database (hard links for tables) in dir, which
 * must not exist.
 * Errors: STRATA_ERR_INVALID (NULL arguments, dir exists), STRATA_ERR_IO, STRATA_ERR_NOSPACE,
 * STRATA_ERR_NOMEM. */
STRATA_API int strata_snapshot(strata_db *db, const char *dir);

#define STRATA_MAX_LEVELS 8

typedef struct strata_level_stats {
    uint64_t files;
    uint64_t bytes;
    uint64_t samples;
    uint64_t bytes_read;    /* by compactions reading this level */
    uint64_t bytes_written; /* by flushes or compactions writing this level */
} strata_level_stats;

typedef struct strata_stats {
    uint64_t series;
    uint64_t head_samples;
    uint64_t head_bytes;
    uint64_t head_series;
    uint64_t wal_bytes;
    uint64_t wal_segments;
    uint64_t wal_corrupt_records;   /* dropped by repair at open */
    uint64_t wal_truncated_bytes;   /* cut by repair at open */
    uint64_t samples_written;       /* since open */
    uint64_t samples_out_of_order;  /* since open */
    uint64_t flushes;
    uint64_t flush_bytes;
    uint64_t compactions;
    uint64_t compaction_bytes_read;
    uint64_t compaction_bytes_written;
    uint64_t compaction_blocks_copied;  /* moved without decoding */
    uint64_t compaction_blocks_merged;  /* decoded and re-encoded */
    uint64_t compaction_pending_bytes;
    uint64_t partitions;
    uint64_t table_files;
    uint64_t table_bytes;
    uint64_t table_samples;
    uint64_t table_bytes_read;      /* by queries and compactions, since open */
    uint64_t tombstones;
    uint64_t quarantined_files;
    uint64_t write_errors;
    double write_amplification;     /* bytes written by flush+compaction / bytes flushed */
    strata_level_stats levels[STRATA_MAX_LEVELS];
    /* Times of the samples held (deleted ones may still count until
     * compaction drops them): INT64_MAX / INT64_MIN when there are none. */
    int64_t head_min_t_ms, head_max_t_ms; /* in the head (not yet flushed) */
    int64_t min_t_ms, max_t_ms;           /* head and table files */
    uint64_t table_blocks;                /* compressed blocks in table files */
    /* since open: new series refused because the database held max_series
     * series (each refusal counts, a series refused twice counts twice),
     * and the samples of those series that strata_batch_add,
     * strata_write_lp and strata_write_jsonl refused with them */
    uint64_t series_refused;
    uint64_t samples_refused;
    /* WAL fsyncs that failed since open; and 1 while, under sync
     * interval, one failed and the head it covered is not yet in tables
     * (a flush is under way: see STRATA_SYNC_INTERVAL) */
    uint64_t wal_sync_errors;
    uint64_t wal_sync_lost;
    uint64_t compactions_running; /* compaction jobs running now */
} strata_stats;

/* Fills the first out_size bytes of *out (pass sizeof *out: the struct
 * may grow in later versions, and a program compiled against an older
 * header gets the fields it knows).
 * Errors: STRATA_ERR_INVALID (NULL arguments or out_size 0). */
STRATA_API int strata_get_stats(strata_db *db, strata_stats *out, size_t out_size);

/* One table file of the current version. */
typedef struct strata_file_info {
    uint64_t file_no;
    int64_t partition_start_ms;
    int level;
    uint64_t bytes;
    uint64_t samples;
    uint64_t series;
    uint64_t blocks;
    int64_t min_t_ms, max_t_ms;
} strata_file_info;

/* Lists the table files, ordered by partition, level, file number, into a
 * new array freed with strata_free.
 * Errors: STRATA_ERR_INVALID (NULL arguments), STRATA_ERR_NOMEM. */
STRATA_API int strata_list_files(strata_db *db, strata_file_info **out, size_t *n);

/* Frees memory the library handed over where the function says so. */
STRATA_API void strata_free(void *p);

/* ------------------------------------------------------------ text helpers
 * The number and time syntax the CLI, the server and the file formats use,
 * for programs that read or write the same text. Pure functions: no
 * database, any thread. */

/* Bytes strata_format_double and strata_format_time may write (no NUL). */
#define STRATA_DOUBLE_MAX 32
#define STRATA_TIME_MAX 40

/* Writes v in the shortest decimal form that reads back to the same bits
 * ("2", "1.5", "1e-7"; "NaN", "+Inf", "-Inf") into out (STRATA_DOUBLE_MAX
 * bytes) and returns the length. */
STRATA_API size_t strata_format_double(double v, char *out);

/* Parses all of [s, s+len) as a decimal float, bit-exact to strtod.
 * STRATA_ERR_INVALID for anything else and for overflow. */
STRATA_API int strata_parse_double(const char *s, size_t len, double *out);

/* Parses a point in time into ms since the epoch: RFC 3339, Unix seconds
 * (fractions allowed), or relative to now_ms ("now", "now-5m", "-1h").
 * The result lies within +-2^62 ms (about 146 million years from 1970),
 * checked before any arithmetic: beyond it, NaN or Inf is an error, never
 * a wrapped time; Prometheus' "no bound" strings
 * (-292273086-05-16T16:47:06Z, 292277025-08-18T07:12:54.999999999Z) give
 * -2^62 and 2^62.
 * STRATA_ERR_INVALID with *reason (a static string; reason may be NULL). */
STRATA_API int strata_parse_time(const char *s, size_t len, int64_t now_ms, int64_t *out_ms, const char **reason);

/* Parses a Prometheus duration ("5m", "1h30m", "500ms", "1w", or plain
 * seconds "15", "0.5") into ms. STRATA_ERR_INVALID as above. */
STRATA_API int strata_parse_duration(const char *s, size_t len, int64_t *out_ms, const char **reason);

/* Writes ms as RFC 3339 in UTC ("2024-01-01T12:00:00Z", ".123" when there
 * are milliseconds) into out (STRATA_TIME_MAX bytes); returns the length. */
STRATA_API size_t strata_format_time(int64_t ms, char *out);

/* Bytes strata_format_int64 may write (no NUL): "-9223372036854775808". */
#define STRATA_INT64_LEN 20

/* Writes v in decimal ("-42", "1700000000000") into out (STRATA_INT64_LEN
 * bytes) and returns the length. */
STRATA_API size_t strata_format_int64(int64_t v, char *out);

/* Writes [s, s+n) as a JSON string, with its quotes, into out, which must
 * hold 6 * n + 2 bytes, and returns the length. '"' and '\\' are escaped,
 * control bytes as \b \f \n \r \t or \u00XX; valid UTF-8 is copied as it
 * is, and each byte that is not part of valid UTF-8 is written as \ufffd
 * (U+FFFD, as Go's encoding/json and Prometheus do), so the output is
 * valid JSON whatever s holds. s may hold NUL bytes (written as \u0000). */
STRATA_API size_t strata_json_quote(const char *s, size_t n, char *out);

/* ------------------------------------------------------------ verification */

/* Called once per problem found; file and message valid during the call;
 * offset is the byte offset in that file, or -1 when not applicable. */
typedef void (*strata_verify_fn)(void *ctx, const char *file, int64_t offset, const char *message);

/* Checks every checksum of every file of the database in dir (without
 * taking the lock, read-only). Returns STRATA_OK when all is sound,
 * STRATA_ERR_CORRUPT when something was reported. */
STRATA_API int strata_verify_dir(const char *dir, strata_verify_fn fn, void *ctx);

/* Checks one table file.
 * Errors: STRATA_ERR_CORRUPT (reported through fn), STRATA_ERR_NOTFOUND, STRATA_ERR_IO,
 * STRATA_ERR_NOMEM. */
STRATA_API int strata_verify_table(const char *path, strata_verify_fn fn, void *ctx);

/* ------------------------------------------------------------ queries: evaluation */

/* PromQL evaluation with the semantics of Prometheus 3 (float samples only):
 * lookback delta, staleness markers, rate extrapolation, vector matching,
 * every aggregation and float function. Results are exact: a query either
 * answers fully or fails with a status and a strata_query_error; never a
 * partial answer.
 *
 * Thread safety: any number of queries may run at once on one strata_db,
 * alongside writes; each works on the data as of its own reads. A
 * strata_result belongs to whoever holds it and is immutable. */

/* Prometheus' error classes, so an HTTP layer can answer errorType and the
 * status code: BAD_DATA 400, EXECUTION 422, TOO_MANY_SAMPLES 422,
 * TIMEOUT 503, CANCELED 503 ("canceled" is Prometheus' errorType), INTERNAL 500. */
typedef enum strata_query_errtype {
    STRATA_QUERY_ERR_NONE = 0,
    STRATA_QUERY_ERR_BAD_DATA = 1,
    STRATA_QUERY_ERR_EXECUTION = 2,
    STRATA_QUERY_ERR_TIMEOUT = 3,
    STRATA_QUERY_ERR_CANCELED = 4,
    STRATA_QUERY_ERR_TOO_MANY_SAMPLES = 5,
    STRATA_QUERY_ERR_INTERNAL = 6
} strata_query_errtype;

/* Why a query failed. pos is the byte offset of a parse error in the text
 * (-1 for errors of evaluation); msg is Prometheus' wording. */
typedef struct strata_query_error {
    strata_query_errtype type;
    int64_t pos;
    int line, col; /* of pos, 1-based (col in bytes); 0 for errors of evaluation */
    char msg[512];
} strata_query_error;

typedef struct strata_query_options {
    size_t size;                /* sizeof(strata_query_options), set by init */
    int64_t lookback_ms;        /* default 300000 (5 m) */
    uint64_t max_samples;       /* points held at once, default 50,000,000; 0 unlimited */
    int64_t timeout_ms;         /* default 120000 (2 m); 0 none */
    const volatile int *cancel; /* non-NULL: set *cancel != 0 from any thread to cancel */
    uint64_t max_series;        /* series in the answer, 0 unlimited (default) */
    int64_t subquery_step_ms;   /* step of a subquery written without one, default 60000 */
    /* strata_read_options.max_source_resolution_ms: -1 (default) every
     * resolution, 0 raw data only. Range functions whose window is at
     * least a downsampled interval (rate, increase, delta, *_over_time for
     * avg, min, max, sum, count, last, first, present) use its aggregates;
     * everything else reads an interval as its last sample. */
    int64_t max_source_resolution_ms;
} strata_query_options;

/* Fills *o with the defaults above. */
STRATA_API void strata_query_options_init(strata_query_options *o);

typedef enum strata_value_type {
    STRATA_VALUE_SCALAR = 1,
    STRATA_VALUE_VECTOR = 2, /* instant vector: one point per series */
    STRATA_VALUE_MATRIX = 3, /* range vector, or any range query's answer */
    STRATA_VALUE_STRING = 4
} strata_value_type;

typedef struct strata_point {
    int64_t t_ms;
    double value;
} strata_point;

/* One series of a result, lent by strata_result_series: valid as long as
 * the result. Labels sorted by name. */
typedef struct strata_query_series {
    const strata_label *labels;
    size_t n_labels;
    const strata_point *points; /* time order */
    size_t n_points;
} strata_query_series;

typedef struct strata_query_stats {
    uint64_t samples_loaded; /* samples read from the database */
    uint64_t peak_samples;   /* most points held at once */
    uint64_t series;         /* series in the answer */
    int64_t eval_ns;         /* wall time of parse and evaluation */
} strata_query_stats;

typedef struct strata_result strata_result;

/* Evaluates the PromQL text [text, text+len) at t_ms. o may be NULL
 * (defaults). On success *out holds the answer (free it with
 * strata_result_free). Errors: STRATA_ERR_INVALID (bad query or
 * parameters: err->type BAD_DATA; an evaluation error or more series than
 * max_series: EXECUTION), STRATA_ERR_LIMIT (TOO_MANY_SAMPLES),
 * STRATA_ERR_CANCELLED (TIMEOUT or CANCELED), STRATA_ERR_NOMEM (INTERNAL);
 * err (may be NULL) says which and why. */
STRATA_API int strata_query_instant(strata_db *db, const char *text, size_t len, int64_t t_ms,
                                    const strata_query_options *o, strata_result **out, strata_query_error *err);

/* Evaluates text at start_ms, start_ms + step_ms, ... <= end_ms, as
 * Prometheus' query_range: the answer is a matrix (a scalar expression
 * gives one series without labels). Refused as Prometheus refuses them:
 * end before start, step <= 0, more than 11,000 points per series, an
 * expression of type range vector or string (STRATA_ERR_INVALID, BAD_DATA).
 * Errors: as strata_query_instant. */
STRATA_API int strata_query_range(strata_db *db, const char *text, size_t len, int64_t start_ms, int64_t end_ms,
                                  int64_t step_ms, const strata_query_options *o, strata_result **out,
                                  strata_query_error *err);

STRATA_API strata_value_type strata_result_type(const strata_result *r);
/* Series of a VECTOR or MATRIX answer (0 for others). */
STRATA_API size_t strata_result_series_count(const strata_result *r);
/* Lends series i (< count) into *out. */
STRATA_API void strata_result_series(const strata_result *r, size_t i, strata_query_series *out);
/* The value and time of a SCALAR answer (NaN and 0 for others). */
STRATA_API double strata_result_scalar(const strata_result *r, int64_t *t_ms);
/* The text of a STRING answer (NULL for others), valid as long as r. */
STRATA_API const char *strata_result_string(const strata_result *r, int64_t *t_ms);
/* Warnings (Prometheus' "PromQL warning: ..." and info annotations). */
STRATA_API size_t strata_result_warning_count(const strata_result *r);
STRATA_API const char *strata_result_warning(const strata_result *r, size_t i);
STRATA_API void strata_result_stats(const strata_result *r, strata_query_stats *out);
/* strata_result_free(NULL) is a no-op. */
STRATA_API void strata_result_free(strata_result *r);

/* ------------------------------------------------------------ queries: parsing */

/* A parsed PromQL expression (Prometheus 3 syntax, float samples only):
 * immutable, and safe to read from any number of threads at once. */
typedef struct strata_query strata_query;

/* Parses the PromQL text [text, text+len) (no NUL terminator needed; a NUL
 * byte inside is an error). On success *out holds the expression, to be
 * freed with strata_query_free. Errors: STRATA_ERR_INVALID when the text
 * is not valid PromQL, with err (may be NULL) filled in: type BAD_DATA,
 * pos/line/col of the offending byte, and msg in Prometheus' words and
 * form, e.g. "1:5: parse error: unexpected <op:+>" (the same position and
 * message Prometheus' parser reports); STRATA_ERR_NOMEM. Parsing takes
 * time linear in len; nesting deeper than 500 levels (or trees taller than
 * 1000) is an error, not a deep stack. Thread-safe; no global state. */
STRATA_API int strata_query_parse(const char *text, size_t len, strata_query **out, strata_query_error *err);

typedef enum strata_query_format_style {
    STRATA_QUERY_FORMAT_COMPACT = 0, /* one line, as Prometheus' String(): `sum by (job) (rate(x[5m]))` */
    STRATA_QUERY_FORMAT_PRETTY = 1,  /* Prometheus' /api/v1/format_query: split above 100 columns */
    STRATA_QUERY_FORMAT_JSON = 2     /* the AST as Prometheus' /api/v1/parse_query "data" */
} strata_query_format_style;

/* Writes q as text in the given style into a new NUL-terminated string
 * *out (freed with strata_free); *len (may be NULL) gets its length.
 * Parsing COMPACT or PRETTY output gives back an equal expression.
 * Errors: STRATA_ERR_INVALID (bad style), STRATA_ERR_NOMEM. */
STRATA_API int strata_query_format(const strata_query *q, strata_query_format_style style, char **out, size_t *len);

/* strata_query_free(NULL) is a no-op. */
STRATA_API void strata_query_free(strata_query *q);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_H */
