/*
 * fuzz_jsonl.c: the JSON-lines decoder on arbitrary bytes. Whatever decodes
 * must encode and decode again to the same labels, timestamps and value
 * bits (NaN as NaN). The first 8 bytes also go straight to the number
 * printer as a double's bits: the text must fit NUM_DOUBLE_MAX, nothing
 * past it may be written, and it must parse back to the same bits.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "export/export.h"

static const char *seeds[] = {
    "{\"metric\":{\"__name__\":\"cpu_usage_user\",\"hostname\":\"host_1\"},\"values\":[1.5,2],\"timestamps\":[1700000000000,1700000010000]}",
    "{\"values\":[\"NaN\",+Inf,-Inf,\"1e3\",-0],\"timestamps\":[1,2,3,4,-5],\"metric\":{\"a\\u00e9\\ud83d\\ude00\":\"\\\"\\\\\\n\"}}",
    " {\"metric\":{},\"values\":[],\"timestamps\":[]} ",
    "{\"metric\":{\"a\":\"b\",\"a\":\"c\"},\"values\":[1,2],\"timestamps\":[1]}",
};

size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap)
{
    if (i >= sizeof seeds / sizeof seeds[0])
        return 0;
    size_t n = strlen(seeds[i]);
    if (n > cap)
        n = cap;
    memcpy(out, seeds[i], n);
    return n;
}

static int same_value(double a, double b) { return (isnan(a) && isnan(b)) || !memcmp(&a, &b, 8); }

static void check_number(const uint8_t *data, size_t size)
{
    if (size < 8)
        return;
    double v, back;
    memcpy(&v, data, 8);
    char out[NUM_DOUBLE_MAX + 8];
    memset(out, 'x', sizeof out);
    size_t n = num_format_double(v, out);
    if (n == 0 || n > NUM_DOUBLE_MAX)
        abort();
    for (size_t i = n; i < sizeof out; i++)
        if (out[i] != 'x')
            abort();
    if (isnan(v)) {
        if (n != 3 || memcmp(out, "NaN", 3))
            abort();
    } else if (isinf(v)) {
        if (n != 4 || memcmp(out, v < 0 ? "-Inf" : "+Inf", 4))
            abort();
    } else if (num_parse_double(out, n, &back) != STRATA_OK || !same_value(v, back)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_number(data, size);
    jsonl_decoder *d = NULL, *d2 = NULL;
    bbuf b = {0};
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    if (jsonl_decoder_new(NULL, &d) != STRATA_OK || jsonl_decoder_new(NULL, &d2) != STRATA_OK)
        goto out;
    jsonl_series s, s2;
    const char *reason = NULL;
    size_t pos = 0;
    int rc = jsonl_decode_line(d, buf, size, &s, &reason, &pos);
    if (rc == STRATA_ERR_INVALID) {
        if (!reason || pos > size)
            abort();
        goto out;
    }
    if (rc != 1)
        goto out;
    /* labels reach C strings: none may hold a NUL (it would cut it); and
     * none may hold invalid UTF-8 (the encoder would replace it, so the
     * round trip below would differ) */
    for (size_t i = 0; i < s.n_labels; i++)
        if (strlen(s.labels[i].name) != s.labels[i].name_len || strlen(s.labels[i].value) != s.labels[i].value_len)
            abort();
    if (jsonl_encode(&b, s.labels, s.n_labels, s.timestamps, s.values, s.n_samples) != STRATA_OK)
        goto out;
    if (jsonl_decode_line(d2, (const char *)b.data, b.len - 1, &s2, &reason, &pos) != 1)
        abort();
    if (s2.n_labels != s.n_labels || s2.n_samples != s.n_samples)
        abort();
    for (size_t i = 0; i < s.n_labels; i++)
        if (s.labels[i].name_len != s2.labels[i].name_len || s.labels[i].value_len != s2.labels[i].value_len ||
            memcmp(s.labels[i].name, s2.labels[i].name, s.labels[i].name_len) ||
            memcmp(s.labels[i].value, s2.labels[i].value, s.labels[i].value_len))
            abort();
    for (size_t i = 0; i < s.n_samples; i++)
        if (s.timestamps[i] != s2.timestamps[i] || !same_value(s.values[i], s2.values[i]))
            abort();
out:
    base_buf_free(&b);
    jsonl_decoder_free(d);
    jsonl_decoder_free(d2);
    free(buf);
    return 0;
}
