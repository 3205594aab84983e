/*
 * fuzz_remote_write2.c: the remote write 2.0 decoder of the server
 * (server/remote_v2.c: snappy block, protobuf io.prometheus.write.v2.Request,
 * symbol references, label validation) and the Content-Type parser, the
 * code POST /api/v1/write runs on untrusted remote write 2.0 bodies,
 * without HTTP.
 *
 * Input: byte 0 picks the mode, the rest is the payload:
 *   bit 0 clear  the payload is the HTTP body as sent (snappy-compressed)
 *   bit 0 set    the payload is the raw protobuf; it is snappy-compressed
 *                here first, so mutations reach the protobuf decoder and
 *                the reference checks instead of dying in snappy's framing
 *   bit 1 set    the payload (up to 200 bytes) is also read as a
 *                Content-Type
 * Every accepted Request must satisfy what rw2_decode promises: label
 * references in pairs and inside the symbol table, names non-empty,
 * unique and without NUL, within the limits, metadata references inside
 * the table, a sample or histogram per series, objects within the budget.
 */
#include <snappy-c.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../server/remote_v2.h"

static void check_request(const rw2_write *w, const rw_limits *lim)
{
    const Io__Prometheus__Write__V2__Request *req = w->msg;
    uint64_t samples = 0;
    for (size_t i = 0; i < req->n_timeseries; i++) {
        const Io__Prometheus__Write__V2__TimeSeries *ts = req->timeseries[i];
        if (ts->n_labels_refs % 2 || ts->n_labels_refs / 2 > lim->max_labels)
            abort();
        if (!ts->n_samples && !ts->n_histograms)
            abort();
        size_t nonempty = 0;
        for (size_t j = 0; j < ts->n_labels_refs; j += 2) {
            if (ts->labels_refs[j] >= req->n_symbols || ts->labels_refs[j + 1] >= req->n_symbols)
                abort();
            const ProtobufCBinaryData *nm = &req->symbols[ts->labels_refs[j]];
            const ProtobufCBinaryData *vl = &req->symbols[ts->labels_refs[j + 1]];
            if (!nm->len || nm->len > lim->max_label_len || vl->len > lim->max_label_len ||
                memchr(nm->data, 0, nm->len) || (vl->len && memchr(vl->data, 0, vl->len)))
                abort();
            nonempty += vl->len != 0;
            for (size_t k = 0; k < j; k += 2) {
                const ProtobufCBinaryData *o = &req->symbols[ts->labels_refs[k]];
                if (o->len == nm->len && !memcmp(o->data, nm->data, nm->len))
                    abort();
            }
        }
        if (!nonempty)
            abort();
        if (ts->metadata && (ts->metadata->help_ref >= req->n_symbols || ts->metadata->unit_ref >= req->n_symbols))
            abort();
        samples += ts->n_samples;
    }
    if (samples != w->samples)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    rw_limits lim = {
        .max_labels = 16, .max_label_len = 64, .max_decoded = 1 << 20, .max_objects = 4 << 20, .max_samples = 1000};
    const uint8_t *body = data + 1;
    size_t len = size - 1;
    if (data[0] & 2) {
        char ct[201];
        size_t n = len < 200 ? len : 200;
        memcpy(ct, body, n);
        ct[n] = 0;
        int v = rw_content_version(ct);
        if (v < 0 || v > 2)
            abort();
    }
    char *z = NULL;
    if (data[0] & 1) {
        size_t cap = snappy_max_compressed_length(len);
        z = malloc(cap ? cap : 1);
        if (!z || snappy_compress((const char *)body, len, z, &cap) != SNAPPY_OK) {
            free(z);
            return 0;
        }
        body = (const uint8_t *)z;
        len = cap;
    }
    char err[256];
    rw2_write *w = NULL;
    if (rw2_decode(body, len, &lim, &w, err, sizeof err) == STRATA_OK) {
        check_request(w, &lim);
        if (pb_arena_bytes(w->arena) > lim.max_objects) /* the object budget holds */
            abort();
        rw2_free(w);
    }
    free(z);
    return 0;
}

/* Valid inputs: a raw Request (mode 1) with metadata, a start timestamp,
 * an exemplar and a histogram, and the same as a snappy body (mode 0). */
size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap)
{
    if (i >= 3)
        return 0;
    static const char *syms[] = {"", "__name__", "http_requests_total", "job", "api", "instance", "a:9090",
                                 "Requests served.", "requests", "trace_id", "abc123"};
    ProtobufCBinaryData sym[11];
    for (int k = 0; k < 11; k++)
        sym[k] = (ProtobufCBinaryData){strlen(syms[k]), (uint8_t *)syms[k]};
    uint32_t refs[6] = {1, 2, 5, 6, 3, 4};
    uint32_t ex_refs[2] = {9, 10};
    Io__Prometheus__Write__V2__Sample s[2];
    Io__Prometheus__Write__V2__Sample *sp[2];
    for (int k = 0; k < 2; k++) {
        io__prometheus__write__v2__sample__init(&s[k]);
        s[k].timestamp = 1700000000000 + k * 15000;
        s[k].value = 10 + k;
        s[k].start_timestamp = 1699999990000;
        sp[k] = &s[k];
    }
    Io__Prometheus__Write__V2__Metadata md;
    io__prometheus__write__v2__metadata__init(&md);
    md.type = IO__PROMETHEUS__WRITE__V2__METADATA__METRIC_TYPE__METRIC_TYPE_COUNTER;
    md.help_ref = 7;
    md.unit_ref = 8;
    Io__Prometheus__Write__V2__Exemplar ex;
    Io__Prometheus__Write__V2__Exemplar *exp = &ex;
    io__prometheus__write__v2__exemplar__init(&ex);
    ex.n_labels_refs = 2;
    ex.labels_refs = ex_refs;
    ex.value = 1;
    ex.timestamp = 1700000000000;
    Io__Prometheus__Write__V2__Histogram h;
    Io__Prometheus__Write__V2__Histogram *hp = &h;
    io__prometheus__write__v2__histogram__init(&h);
    h.count_case = IO__PROMETHEUS__WRITE__V2__HISTOGRAM__COUNT_COUNT_INT;
    h.count_int = 3;
    h.sum = 4.5;
    h.timestamp = 1700000000000;
    Io__Prometheus__Write__V2__TimeSeries ts[2];
    Io__Prometheus__Write__V2__TimeSeries *tsp[2] = {&ts[0], &ts[1]};
    io__prometheus__write__v2__time_series__init(&ts[0]);
    ts[0].n_labels_refs = 6;
    ts[0].labels_refs = refs;
    ts[0].n_samples = 2;
    ts[0].samples = sp;
    ts[0].metadata = &md;
    ts[0].n_exemplars = 1;
    ts[0].exemplars = &exp;
    io__prometheus__write__v2__time_series__init(&ts[1]);
    ts[1].n_labels_refs = 4;
    ts[1].labels_refs = refs;
    ts[1].n_histograms = 1;
    ts[1].histograms = &hp;
    Io__Prometheus__Write__V2__Request rq;
    io__prometheus__write__v2__request__init(&rq);
    rq.n_symbols = 11;
    rq.symbols = sym;
    rq.n_timeseries = i == 2 ? 1 : 2;
    rq.timeseries = tsp;
    uint8_t raw[4096];
    if (io__prometheus__write__v2__request__get_packed_size(&rq) > sizeof raw)
        return 0;
    size_t n = io__prometheus__write__v2__request__pack(&rq, raw);
    if (i != 1) { /* raw protobuf */
        if (n + 1 > cap)
            return 0;
        out[0] = 1;
        memcpy(out + 1, raw, n);
        return n + 1;
    }
    size_t zl = cap - 1;
    if (snappy_max_compressed_length(n) > zl ||
        snappy_compress((const char *)raw, n, (char *)out + 1, &zl) != SNAPPY_OK)
        return 0;
    out[0] = 0;
    return zl + 1;
}
