/*
 * export.h: the export layer, text that goes out: JSON lines, CSV and line
 * protocol of stored series, the streaming export of strata.h over them,
 * times and durations in and out, and the text helpers of strata.h.
 */
#ifndef STRATA_EXPORT_H
#define STRATA_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "num/num.h"
#include "strata.h"

/* ================================================================ printers
 *
 * The hot-path printers of the export formats, behind strata_format_int64
 * and strata_json_quote (text.c). Neither writes a NUL. */

/* Bytes fmt_int64 may write: "-9223372036854775808". */
#define FMT_INT64_MAX 20
/* Writes v in decimal; returns the length. */
size_t fmt_int64(int64_t v, char *out);

/* Writes [s, s+n) as a quoted JSON string into out (6 * n + 2 bytes: a
 * byte becomes at most \u00XX): '"' and '\\' escaped, control bytes as
 * \b \f \n \r \t or \u00XX, valid UTF-8 as it is, and each byte that is
 * not part of valid UTF-8 as \ufffd (U+FFFD, as Go's encoding/json), so
 * the output is always valid JSON. Returns the length. */
size_t fmt_json_quote(const char *s, size_t n, char *out);

/* ================================================================ JSON lines
 *
 * One series a line, the VictoriaMetrics export format:
 *   {"metric":{"__name__":"cpu","host":"a"},"values":[1.5,2,NaN],"timestamps":[1700000000000,...]}
 */

/* Appends one line (with its '\n') to out: labels in the order given,
 * strings escaped by fmt_json_quote, values by num_format_double
 * (NaN, +Inf, -Inf unquoted), timestamps as integers. Errors:
 * STRATA_ERR_NOMEM (out keeps its earlier content). */
int jsonl_encode(bbuf *out, const base_label *labels, size_t n_labels, const int64_t *timestamps,
                 const double *values, size_t n_samples);

/* ================================================================ CSV and line protocol out
 *
 * CSV (RFC 4180), one row per sample, fixed columns:
 *   name,labels,timestamp,value
 *   cpu_usage_user,"host=""a"",region=""eu""",1700000000000,1.5
 * labels are the non-name labels as name="value" pairs (Prometheus text
 * style, values escaped with \\ \" \n) joined by ','; the field is quoted as
 * RFC 4180 requires when it holds a comma, quote or line break. timestamp
 * is milliseconds since the epoch; value as num_format_double.
 *
 * Line protocol: one line per sample,
 *   <__name__>[,label=value...] value=<float> <timestamp in ns>
 * with line-protocol escapes; labels with an empty value are left out;
 * samples whose value is NaN or infinite, or whose timestamp does not fit
 * in int64 nanoseconds, cannot be written and are skipped (counted). */

/* Appends "name,labels,timestamp,value\n". */
int fmt_csv_header(bbuf *out);
/* Appends one row per sample. The series name is the __name__ label. */
int fmt_csv_series(bbuf *out, const base_label *labels, size_t n_labels, const int64_t *timestamps,
                   const double *values, size_t n_samples);
/* Appends one line per sample; *skipped (may be NULL) gets how many could
 * not be written. A series without __name__ is written with measurement
 * "_". */
int fmt_lp_series(bbuf *out, const base_label *labels, size_t n_labels, const int64_t *timestamps,
                  const double *values, size_t n_samples, size_t *skipped);

/* ================================================================ times and durations */

/* Parses a point in time into ms since the epoch:
 *   RFC 3339         2024-01-01T12:00:00Z, 2024-01-01T12:00:00.123456+02:00
 *                    (also a space or 't' for 'T', 'z' for 'Z'; fraction
 *                    truncated to ms, flooring)
 *   Unix seconds     1704110400, 1704110400.5, -1.25 (truncated to ms, flooring)
 *   relative         now, now-5m, now+1h, -1h, +30s (a duration, see below)
 * Every time is within +-FMT_TIME_LIMIT_MS, checked before any arithmetic
 * (beyond it: "time out of range"; so is NaN or Inf); Prometheus' own
 * "no bound" strings (-292273086-05-16T16:47:06Z and
 * 292277025-08-18T07:12:54.999999999Z) read as -/+FMT_TIME_LIMIT_MS.
 * Errors: STRATA_ERR_INVALID with *reason (static; may be NULL). */
int fmt_time_parse(const char *s, size_t len, int64_t now_ms, int64_t *out_ms, const char **reason);
/* The widest time fmt_time_parse gives, 2^62 ms (about 146 million years
 * from 1970): the query evaluator's bound, so a parsed time plus or minus
 * any width it allows (2^61 ms) stays in int64. */
#define FMT_TIME_LIMIT_MS (INT64_C(1) << 62)

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

#endif /* STRATA_EXPORT_H */
