/*
 * csv_lp.c: the CSV and line-protocol printers of `strata export --format
 * csv|lp` (the formats are documented in export.h). Each appends the
 * samples of one series to a bbuf; the caller writes the buffer out.
 */
#include <math.h>
#include <stdio.h>

#include "export.h"

static const base_label *find_name(const base_label *labels, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (labels[i].name_len == 8 && !memcmp(labels[i].name, "__name__", 8))
            return &labels[i];
    return NULL;
}

static int needs_csv_quotes(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r')
            return 1;
    return 0;
}

/* Appends s as one CSV field, quoted (with "" for ") when needed. */
static int put_csv_field(bbuf *b, const char *s, size_t n)
{
    int rc;
    if (!needs_csv_quotes(s, n))
        return base_buf_append(b, s, n);
    if ((rc = base_buf_put_u8(b, '"')) < 0)
        return rc;
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') {
            if ((rc = base_buf_append(b, s + from, i + 1 - from)) < 0 || (rc = base_buf_put_u8(b, '"')) < 0)
                return rc;
            from = i + 1;
        }
    }
    if ((rc = base_buf_append(b, s + from, n - from)) < 0)
        return rc;
    return base_buf_put_u8(b, '"');
}

int fmt_csv_header(bbuf *out) { return base_buf_append(out, "name,labels,timestamp,value\n", 28); }

int fmt_csv_series(bbuf *out, const base_label *labels, size_t n_labels, const int64_t *timestamps,
                   const double *values, size_t n_samples)
{
    /* The first two columns are the same for every row: build them once. */
    bbuf head = {0}, lab = {0};
    int rc = STRATA_OK;
    const base_label *name = find_name(labels, n_labels);
    if (name && (rc = put_csv_field(&head, name->value, name->value_len)) < 0)
        goto out;
    if ((rc = base_buf_put_u8(&head, ',')) < 0)
        goto out;
    for (size_t i = 0; i < n_labels; i++) {
        const base_label *l = &labels[i];
        if (l == name)
            continue;
        if (lab.len && (rc = base_buf_put_u8(&lab, ',')) < 0)
            goto out;
        if ((rc = base_buf_append(&lab, l->name, l->name_len)) < 0 || (rc = base_buf_append(&lab, "=\"", 2)) < 0)
            goto out;
        for (size_t j = 0; j < l->value_len; j++) {
            char ch = l->value[j];
            const char *esc = ch == '\\' ? "\\\\" : ch == '"' ? "\\\"" : ch == '\n' ? "\\n" : NULL;
            rc = esc ? base_buf_append(&lab, esc, 2) : base_buf_put_u8(&lab, (uint8_t)ch);
            if (rc < 0)
                goto out;
        }
        if ((rc = base_buf_put_u8(&lab, '"')) < 0)
            goto out;
    }
    if (lab.len && (rc = put_csv_field(&head, (const char *)lab.data, lab.len)) < 0)
        goto out;
    if ((rc = base_buf_put_u8(&head, ',')) < 0)
        goto out;
    for (size_t i = 0; i < n_samples; i++) {
        if ((rc = base_buf_reserve(out, head.len + 24 + NUM_DOUBLE_MAX + 2)) < 0)
            goto out;
        char *o = (char *)out->data + out->len;
        memcpy(o, head.data, head.len);
        o += head.len;
        o += fmt_int64(timestamps[i], o);
        *o++ = ',';
        o += num_format_double(values[i], o);
        *o++ = '\n';
        out->len = (size_t)(o - (char *)out->data);
    }
out:
    base_buf_free(&head);
    base_buf_free(&lab);
    return rc;
}

/* Appends s with a backslash before each byte of `special`. */
static int put_lp_escaped(bbuf *b, const char *s, size_t n, const char *special)
{
    int rc;
    for (size_t i = 0; i < n; i++) {
        if (strchr(special, s[i]) && s[i] != 0 && (rc = base_buf_put_u8(b, '\\')) < 0)
            return rc;
        if ((rc = base_buf_put_u8(b, (uint8_t)s[i])) < 0)
            return rc;
    }
    return STRATA_OK;
}

static int has_line_break(const char *s, size_t n) { return memchr(s, '\n', n) || memchr(s, '\r', n); }

int fmt_lp_series(bbuf *out, const base_label *labels, size_t n_labels, const int64_t *timestamps,
                  const double *values, size_t n_samples, size_t *skipped)
{
    bbuf head = {0};
    int rc = STRATA_OK;
    size_t skip = 0;
    const base_label *name = find_name(labels, n_labels);
    /* A line break cannot be written in line protocol, and a measurement
     * starting with '#' would read back as a comment: such a series is
     * skipped whole. */
    int writable = !(name && name->value_len && name->value[0] == '#');
    for (size_t i = 0; i < n_labels && writable; i++)
        if (has_line_break(labels[i].name, labels[i].name_len) || has_line_break(labels[i].value, labels[i].value_len))
            writable = 0;
    if (!writable) {
        skip = n_samples;
        goto out;
    }
    if (name && name->value_len)
        rc = put_lp_escaped(&head, name->value, name->value_len, ", \\");
    else
        rc = base_buf_put_u8(&head, '_');
    if (rc < 0)
        goto out;
    for (size_t i = 0; i < n_labels; i++) {
        const base_label *l = &labels[i];
        if (l == name || l->value_len == 0 || l->name_len == 0)
            continue;
        if ((rc = base_buf_put_u8(&head, ',')) < 0 || (rc = put_lp_escaped(&head, l->name, l->name_len, ",= \\")) < 0 ||
            (rc = base_buf_put_u8(&head, '=')) < 0 || (rc = put_lp_escaped(&head, l->value, l->value_len, ",= \\")) < 0)
            goto out;
    }
    if ((rc = base_buf_append(&head, " value=", 7)) < 0)
        goto out;
    for (size_t i = 0; i < n_samples; i++) {
        int64_t t = timestamps[i];
        if (!isfinite(values[i]) || t > INT64_MAX / 1000000 || t < INT64_MIN / 1000000) {
            skip++;
            continue;
        }
        if ((rc = base_buf_reserve(out, head.len + NUM_DOUBLE_MAX + 24)) < 0)
            goto out;
        char *o = (char *)out->data + out->len;
        memcpy(o, head.data, head.len);
        o += head.len;
        o += num_format_double(values[i], o);
        *o++ = ' ';
        o += fmt_int64(t * 1000000, o);
        *o++ = '\n';
        out->len = (size_t)(o - (char *)out->data);
    }
out:
    base_buf_free(&head);
    if (rc == STRATA_OK && skipped)
        *skipped = skip;
    return rc;
}
