/*
 * format.h: the format layer, parsers and printers of text that comes from
 * or goes to the outside world. It knows nothing about storage; it turns
 * bytes into (labels, timestamps, values) and back.
 *
 *   line protocol   Influx line protocol in (lp_*), one line at a time
 *   numbers         exact decimal <-> double (fmt_parse_double, fmt_format_double)
 *   JSON lines      the VictoriaMetrics export format in and out (jsonl_*)
 *   CSV / LP out    export printers of one series (fmt_csv_*, fmt_lp_series)
 *   times           RFC 3339, Unix seconds, relative times, durations (fmt_time_*)
 *
 * Every parser takes untrusted bytes: it never reads outside [p, p+len),
 * needs no NUL terminator, and answers bad input with STRATA_ERR_INVALID
 * and a reason, never a crash. Reasons are static strings or live in the
 * parser object until its next call, as each function says.
 */
#ifndef STRATA_FORMAT_H
#define STRATA_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
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

/* ================================================================ numbers */

/* Parses the whole of [s, s+len) as a decimal float (optional sign, digits,
 * optional fraction, optional exponent; no hex, inf or nan, no blanks), the
 * result bit-exact to strtod in the C locale. Overflow to infinity is
 * STRATA_ERR_INVALID; underflow gives the subnormal or zero strtod gives. */
int fmt_parse_double(const char *s, size_t len, double *out);

/* Maximum bytes fmt_format_double writes (no NUL is written). */
#define FMT_DOUBLE_MAX 32

/* Writes v in the shortest decimal form that reads back (strtod) to the
 * same bits: integers plainly ("2", "-0"), otherwise like JavaScript's
 * Number.toString ("1.5", "0.001", "1e-7", "1.5e+300"); NaN as "NaN",
 * infinities "+Inf" / "-Inf". Returns the length written into out, which
 * must hold FMT_DOUBLE_MAX bytes. */
size_t fmt_format_double(double v, char *out);

/* ================================================================ JSON lines
 *
 * One series a line, the VictoriaMetrics export format:
 *   {"metric":{"__name__":"cpu","host":"a"},"values":[1.5,2,NaN],"timestamps":[1700000000000,...]}
 */

/* A label of a decoded or encoded series. Decoded strings are also
 * NUL-terminated (name[name_len] == 0). */
typedef struct fmt_label {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} fmt_label;

/* Appends one line (with its '\n') to out: labels in the order given,
 * strings escaped as JSON (", \, control bytes as \n \t \u00XX; other
 * bytes as they are, so UTF-8 stays UTF-8), values by fmt_format_double
 * (NaN, +Inf, -Inf unquoted), timestamps as integers. Errors:
 * STRATA_ERR_NOMEM (out keeps its earlier content). */
int jsonl_encode(bbuf *out, const fmt_label *labels, size_t n_labels, const int64_t *timestamps,
                 const double *values, size_t n_samples);

typedef struct jsonl_limits {
    size_t max_labels;      /* default 256 */
    size_t max_name_len;    /* label name bytes after unescaping; default 4096 */
    size_t max_value_len;   /* label value bytes after unescaping; default 16384 */
    size_t max_samples;     /* per line; default 100,000,000 (the line length bounds it anyway) */
} jsonl_limits;

void jsonl_limits_init(jsonl_limits *lim);

typedef struct jsonl_series {
    fmt_label *labels; /* in input order, names unique */
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
 * \uXXXX surrogate pairs included, and become UTF-8; a lone surrogate is
 * rejected. *out lives until the next call or jsonl_decoder_free. */
int jsonl_decode_line(jsonl_decoder *d, const char *line, size_t len, jsonl_series *out, const char **reason,
                      size_t *err_pos);

/* ================================================================ CSV and line protocol out
 *
 * CSV (RFC 4180), one row per sample, fixed columns:
 *   name,labels,timestamp,value
 *   cpu_usage_user,"host=""a"",region=""eu""",1700000000000,1.5
 * labels are the non-name labels as name="value" pairs (Prometheus text
 * style, values escaped with \\ \" \n) joined by ','; the field is quoted as
 * RFC 4180 requires when it holds a comma, quote or line break. timestamp
 * is milliseconds since the epoch; value as fmt_format_double.
 *
 * Line protocol: one line per sample,
 *   <__name__>[,label=value...] value=<float> <timestamp in ns>
 * with line-protocol escapes; labels with an empty value are left out;
 * samples whose value is NaN or infinite, or whose timestamp does not fit
 * in int64 nanoseconds, cannot be written and are skipped (counted). */

/* Appends "name,labels,timestamp,value\n". */
int fmt_csv_header(bbuf *out);
/* Appends one row per sample. The series name is the __name__ label. */
int fmt_csv_series(bbuf *out, const fmt_label *labels, size_t n_labels, const int64_t *timestamps,
                   const double *values, size_t n_samples);
/* Appends one line per sample; *skipped (may be NULL) gets how many could
 * not be written. A series without __name__ is written with measurement
 * "_". */
int fmt_lp_series(bbuf *out, const fmt_label *labels, size_t n_labels, const int64_t *timestamps,
                  const double *values, size_t n_samples, size_t *skipped);

/* ================================================================ times and durations */

/* Parses a point in time into ms since the epoch:
 *   RFC 3339         2024-01-01T12:00:00Z, 2024-01-01T12:00:00.123456+02:00
 *                    (also a space or 't' for 'T', 'z' for 'Z'; fraction
 *                    truncated to ms, flooring)
 *   Unix seconds     1704110400, 1704110400.5, -1.25 (truncated to ms, flooring)
 *   relative         now, now-5m, now+1h, -1h, +30s (a duration, see below)
 * Errors: STRATA_ERR_INVALID with *reason (static; may be NULL). */
int fmt_time_parse(const char *s, size_t len, int64_t now_ms, int64_t *out_ms, const char **reason);

/* Parses a Prometheus duration into ms: units ms s m h d w y (y = 365d),
 * each at most once and in that descending order, e.g. 5m, 1h30m, 500ms,
 * 1d, 1w, 1y; or a plain number of seconds ("15", "0.5") as Prometheus'
 * step parameter takes. Negative durations are rejected. */
int fmt_duration_parse(const char *s, size_t len, int64_t *out_ms, const char **reason);

/* Maximum bytes fmt_time_format writes (no NUL is written). */
#define FMT_TIME_MAX 40
/* Writes ms as RFC 3339 in UTC: 2024-01-01T12:00:00Z, with ".123" when
 * ms % 1000 != 0. Years outside 0000-9999 are written with a sign and more
 * digits (+10000-01-01T00:00:00Z). Returns the length. */
size_t fmt_time_format(int64_t ms, char *out);

#endif /* STRATA_FORMAT_H */
