/*
 * ingest.h: the ingest layer, text and wire protocols turned into series
 * and samples above the engine, through its public write API (strata.h)
 * and the services of engine.h. The engine knows nothing of any protocol.
 *
 *   line protocol   Influx line protocol, one line at a time (lp_*), and
 *                   strata_write_lp over it (write_lp.c)
 *   JSON lines      the VictoriaMetrics export format in (jsonl_decode_*),
 *                   and strata_write_jsonl over it (write_jsonl.c)
 *   key cache       raw series key of a line -> sid, one per database,
 *                   shared by every writer (keycache.c)
 *
 * Every parser takes untrusted bytes: it never reads outside [p, p+len),
 * needs no NUL terminator, bounds the memory a request can make it use,
 * and answers bad input with STRATA_ERR_INVALID and a reason, never a
 * crash. Reasons are static strings or live in the parser object until its
 * next call, as each function says.
 */
#ifndef STRATA_INGEST_H
#define STRATA_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "num/num.h"
#include "strata.h"

/* ================================================================ line protocol
 *
 * measurement[,tag=value...] field=value[,field=value...] [timestamp]
 *
 * - measurement: escapes "\," and "\ " (and "\\"); tag keys, tag values and
 *   field keys: escapes "\,", "\=", "\ " (and "\\"). A backslash before any
 *   other byte is kept literally, as InfluxDB does.
 * - field values: floats (strtod's decimal syntax without hex, inf or nan:
 *   "1", "-1.5", ".5", "1.", "1e-3", "2E+10"); integers "123i" (int64 range);
 *   unsigned "123u" (uint64 range); booleans t T true True TRUE f F false
 *   False FALSE (1.0 / 0.0); strings "..." with \" and \\ escapes, which are
 *   skipped and counted in n_string_fields (a line of string fields only is
 *   still a valid line with n_fields == 0).
 * - timestamp: a signed decimal integer in the parser's precision, converted
 *   to ms by flooring toward -inf (sub-ms dropped); absent: has_ts = 0.
 * - Blank lines and lines whose first non-blank byte is '#' are skipped
 *   (return 0). Leading blanks and a trailing '\r' are ignored.
 * - Rejected: empty measurement, tag without '=' or with an empty key or
 *   value, duplicate tag keys, a tag named __name__ (reserved for the
 *   series name), no field, bad numbers, numbers out of range (a float that
 *   overflows to infinity included), unterminated strings, junk after the
 *   timestamp, and anything over the limits.
 * Floats are bit-exact to strtod in the C locale (round to nearest even).
 */

typedef struct lp_kv {
    const char *key;
    size_t key_len;
    const char *val;
    size_t val_len;
} lp_kv; /* unescaped; valid until the next lp_parse_line */

typedef struct lp_field {
    const char *key; /* unescaped; valid until the next lp_parse_line */
    size_t key_len;
    double value;
} lp_field;

typedef struct lp_line {
    const char *measurement; /* unescaped; valid until the next lp_parse_line */
    size_t measurement_len;
    lp_kv *tags; /* in input order; keys are unique */
    size_t n_tags;
    lp_field *fields; /* numeric and boolean fields, in input order */
    size_t n_fields;
    size_t n_string_fields; /* string fields skipped */
    int has_ts;
    int64_t ts_ms;
} lp_line;

/* Limits a line must respect; over a limit the line is rejected. */
typedef struct lp_limits {
    size_t max_tags;          /* default 256 */
    size_t max_fields;        /* default 1024 (string fields included) */
    size_t max_name_len;      /* measurement, tag key, field key bytes after unescaping; default 4096 */
    size_t max_value_len;     /* tag value bytes after unescaping; default 16384 */
} lp_limits;

void lp_limits_init(lp_limits *lim);

typedef struct lp_parser lp_parser;

/* A parser for one thread; timestamps are read in `precision`. Free with
 * lp_parser_free (NULL is a no-op). Errors: STRATA_ERR_INVALID (bad
 * precision), STRATA_ERR_NOMEM. */
int lp_parser_new(strata_precision precision, lp_parser **out);
void lp_parser_free(lp_parser *p);
/* Replaces the default limits (copied). */
void lp_parser_set_limits(lp_parser *p, const lp_limits *lim);

/* Parses one line without its newline.
 * Returns 1 when *out holds a line, 0 for a blank or comment line,
 * STRATA_ERR_INVALID with *reason set when the line is rejected, or
 * STRATA_ERR_NOMEM. *reason is a static string or text inside the parser
 * (it may name the field), valid until the next lp_parse_line. Everything
 * *out points to lives until the next lp_parse_line or lp_parser_free; it
 * may point into `line` itself, so `line` must outlive that too. */
int lp_parse_line(lp_parser *p, const char *line, size_t len, lp_line *out, const char **reason);

/* Length of the line starting at buf (up to, excluding, the next '\n' or
 * the end). The caller then skips the newline itself. */
static inline size_t lp_line_len(const char *buf, size_t len)
{
    const char *nl = (const char *)memchr(buf, '\n', len);
    return nl ? (size_t)(nl - buf) : len;
}

/* ================================================================ JSON lines
 *
 * One series a line, the VictoriaMetrics export format:
 *   {"metric":{"__name__":"cpu","host":"a"},"values":[1.5,2,NaN],"timestamps":[1700000000000,...]}
 */

typedef struct jsonl_limits {
    size_t max_labels;      /* default 256 */
    size_t max_name_len;    /* label name bytes after unescaping; default 4096 */
    size_t max_value_len;   /* label value bytes after unescaping; default 16384 */
    size_t max_samples;     /* per line; default 100,000,000 (the line length bounds it anyway) */
} jsonl_limits;

void jsonl_limits_init(jsonl_limits *lim);

typedef struct jsonl_series {
    base_label *labels; /* in input order, names unique */
    size_t n_labels;
    int64_t *timestamps;
    double *values;
    size_t n_samples;
} jsonl_series;

typedef struct jsonl_decoder jsonl_decoder;

/* lim NULL: defaults. Free with jsonl_decoder_free (NULL is a no-op). */
int jsonl_decoder_new(const jsonl_limits *lim, jsonl_decoder **out);
void jsonl_decoder_free(jsonl_decoder *d);

/* Decodes one line (without its newline; surrounding blanks allowed).
 * Returns 1 with *out set, 0 for a blank line, STRATA_ERR_INVALID with
 * *reason (static) and *err_pos (byte offset in line) set, or
 * STRATA_ERR_NOMEM. Keys other than metric/values/timestamps are rejected;
 * "values" and "timestamps" must have equal lengths; values are numbers,
 * null is rejected, NaN / Inf / +Inf / -Inf are taken bare or quoted (any
 * number quoted too, as VictoriaMetrics writes none but some tools do);
 * timestamps are integers (ms). Label strings take every JSON escape,
 * \uXXXX surrogate pairs included, and become UTF-8; a lone surrogate,
 * \u0000 (labels are C strings: a NUL would cut one) and raw bytes that
 * are not valid UTF-8 are rejected. *out lives until the next call or jsonl_decoder_free. */
int jsonl_decode_line(jsonl_decoder *d, const char *line, size_t len, jsonl_series *out, const char **reason,
                      size_t *err_pos);

/* ================================================================ key cache
 *
 * Raw series key of a line ("measurement,tags" exactly as written) plus a
 * field key -> sid; lock-free to read (see the top of keycache.c). */
typedef struct ingest_keycache ingest_keycache;
int ingest_keycache_new(uint64_t max_bytes, ingest_keycache **out);
void ingest_keycache_free(ingest_keycache *c);
/* 1 with *sid when (k1, k2) is cached, 0 when not. */
int ingest_keycache_find(ingest_keycache *c, uint64_t h, const char *k1, size_t l1, const char *k2, size_t l2,
                         strata_sid *sid);
/* Remembers (k1, k2) -> sid unless the cache is full (best effort). */
void ingest_keycache_put(ingest_keycache *c, uint64_t h, const char *k1, size_t l1, const char *k2, size_t l2,
                         strata_sid sid);

#endif /* STRATA_INGEST_H */
