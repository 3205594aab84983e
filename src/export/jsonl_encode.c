/*
 * jsonl_encode.c: JSON lines out, the VictoriaMetrics export format, one
 * series a line (the format is in export.h):
 *   {"metric":{"__name__":"m","a":"b"},"values":[1.5,NaN],"timestamps":[1,2]}
 *
 * The encoder reserves the worst case of a line once and then writes
 * without checks: a label byte becomes at most 6 bytes (\u00XX), a value at
 * most NUM_DOUBLE_MAX, a timestamp at most 20 digits, plus separators.
 */
#include "export.h"

/* ------------------------------------------------------------ encoder */

int jsonl_encode(bbuf *out, const base_label *labels, size_t n_labels, const int64_t *timestamps,
                 const double *values, size_t n_samples)
{
    /* worst case, with overflow checks: sizes come from the caller */
    size_t need = 64, t;
    for (size_t i = 0; i < n_labels; i++) {
        if (labels[i].name_len > SIZE_MAX / 16 || labels[i].value_len > SIZE_MAX / 16)
            return STRATA_ERR_NOMEM;
        t = 6 * (labels[i].name_len + labels[i].value_len) + 8;
        if (need > SIZE_MAX - t)
            return STRATA_ERR_NOMEM;
        need += t;
    }
    if (n_samples > (SIZE_MAX - need) / (NUM_DOUBLE_MAX + 24))
        return STRATA_ERR_NOMEM;
    need += n_samples * (NUM_DOUBLE_MAX + 24);
    int rc = base_buf_reserve(out, need);
    if (rc < 0)
        return rc;
    char *o = (char *)out->data + out->len;
    memcpy(o, "{\"metric\":{", 11);
    o += 11;
    for (size_t i = 0; i < n_labels; i++) {
        if (i)
            *o++ = ',';
        o += fmt_json_quote(labels[i].name, labels[i].name_len, o);
        *o++ = ':';
        o += fmt_json_quote(labels[i].value, labels[i].value_len, o);
    }
    memcpy(o, "},\"values\":[", 12);
    o += 12;
    for (size_t i = 0; i < n_samples; i++) {
        if (i)
            *o++ = ',';
        o += num_format_double(values[i], o);
    }
    memcpy(o, "],\"timestamps\":[", 16);
    o += 16;
    for (size_t i = 0; i < n_samples; i++) {
        if (i)
            *o++ = ',';
        o += fmt_int64(timestamps[i], o);
    }
    memcpy(o, "]}\n", 3);
    o += 3;
    out->len = (size_t)(o - (char *)out->data);
    return STRATA_OK;
}
