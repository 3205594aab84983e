/*
 * fuzz_remote_write.c: the remote-write and remote-read decoders of the
 * server (server/remote.c: snappy block, protobuf WriteRequest/ReadRequest,
 * label validation), the code POST /api/v1/write and /api/v1/read run on
 * untrusted bodies, without HTTP.
 *
 * Input: byte 0 picks the mode, the rest is the payload:
 *   even  the payload is the HTTP body as sent (snappy-compressed)
 *   odd   the payload is the raw protobuf; it is snappy-compressed here
 *         first, so mutations reach the protobuf decoder and the label
 *         checks instead of dying in snappy's checksum-free framing
 * Every accepted WriteRequest must satisfy what rw_decode promises: label
 * counts and lengths within the limits, names non-empty and unique, its
 * objects within the byte budget (max_objects). Every accepted
 * ReadRequest gets a response type and, per query, a range inside the
 * query's own (hints only narrow it).
 */
#include <snappy-c.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../server/remote.h"

static void check_write(const Prometheus__WriteRequest *req, const rw_limits *lim)
{
    for (size_t i = 0; i < req->n_timeseries; i++) {
        const Prometheus__TimeSeries *ts = req->timeseries[i];
        if (ts->n_labels > lim->max_labels)
            abort();
        for (size_t j = 0; j < ts->n_labels; j++) {
            const ProtobufCBinaryData *nm = &ts->labels[j]->name, *vl = &ts->labels[j]->value;
            if (!nm->len || nm->len > lim->max_label_len || vl->len > lim->max_label_len ||
                memchr(nm->data, 0, nm->len) || (vl->len && memchr(vl->data, 0, vl->len)))
                abort();
            for (size_t k = 0; k < j; k++)
                if (ts->labels[k]->name.len == nm->len && !memcmp(ts->labels[k]->name.data, nm->data, nm->len))
                    abort();
        }
        for (size_t j = 0; j < ts->n_samples; j++)
            (void)ts->samples[j]->timestamp;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    rw_limits lim = {
        .max_labels = 16, .max_label_len = 64, .max_decoded = 1 << 20, .max_objects = 4 << 20, .max_samples = 1000};
    const uint8_t *body = data + 1;
    size_t len = size - 1;
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
    rw_write *w = NULL;
    if (rw_decode(body, len, &lim, &w, err, sizeof err) == STRATA_OK) {
        check_write(w->msg, &lim);
        if (pb_arena_bytes(w->arena) > lim.max_objects) /* the object budget holds */
            abort();
        rw_free(w);
    }
    rr_read *rd = NULL;
    if (rr_decode(body, len, &lim, &rd, err, sizeof err) == STRATA_OK) {
        const Prometheus__ReadRequest *r = rd->msg;
        for (size_t i = 0; i < r->n_queries; i++)
            for (size_t j = 0; j < r->queries[i]->n_matchers; j++)
                if ((unsigned)r->queries[i]->matchers[j]->type > 3 || !r->queries[i]->matchers[j]->name.len ||
                    memchr(r->queries[i]->matchers[j]->name.data, 0, r->queries[i]->matchers[j]->name.len))
                    abort();
        /* the response type and the hinted range: defined for every request */
        int type = rr_response_type(r);
        if (type < -1 || type > 1)
            abort();
        for (size_t i = 0; i < r->n_queries; i++) {
            int64_t mint, maxt;
            int some = rr_query_range(r->queries[i], &mint, &maxt);
            if (some != (mint <= maxt) || mint < r->queries[i]->start_timestamp_ms ||
                maxt > r->queries[i]->end_timestamp_ms)
                abort();
        }
        rr_free(rd);
    }
    free(z);
    return 0;
}

/* Valid inputs: raw WriteRequests (mode 1) and snappy bodies (mode 0),
 * with staleness NaNs, many labels, and a ReadRequest. */
size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap)
{
    if (i >= 4)
        return 0;
    Prometheus__Label l[4];
    Prometheus__Label *lp[4];
    static const char *names[4] = {"__name__", "instance", "job", "le"};
    static const char *values[4] = {"http_requests_total", "127.0.0.1:9090", "prometheus", "+Inf"};
    for (int k = 0; k < 4; k++) {
        prometheus__label__init(&l[k]);
        l[k].name = (ProtobufCBinaryData){strlen(names[k]), (uint8_t *)names[k]};
        l[k].value = (ProtobufCBinaryData){strlen(values[k]), (uint8_t *)values[k]};
        lp[k] = &l[k];
    }
    Prometheus__Sample s[3];
    Prometheus__Sample *sp[3];
    uint64_t stale = 0x7ff0000000000002ull;
    for (int k = 0; k < 3; k++) {
        prometheus__sample__init(&s[k]);
        s[k].timestamp = 1700000000000 + k * 15000;
        s[k].value = k * 1.5;
        sp[k] = &s[k];
    }
    memcpy(&s[2].value, &stale, 8);
    Prometheus__TimeSeries ts;
    Prometheus__TimeSeries *tsp = &ts;
    prometheus__time_series__init(&ts);
    ts.n_labels = i == 2 ? 2 : 4;
    ts.labels = lp;
    ts.n_samples = 3;
    ts.samples = sp;
    uint8_t raw[4096];
    size_t n;
    if (i == 3) {
        Prometheus__LabelMatcher m;
        Prometheus__LabelMatcher *mp = &m;
        prometheus__label_matcher__init(&m);
        m.type = PROMETHEUS__LABEL_MATCHER__TYPE__RE;
        m.name = (ProtobufCBinaryData){3, (uint8_t *)"job"};
        m.value = (ProtobufCBinaryData){6, (uint8_t *)"prom.*"};
        Prometheus__Query q;
        Prometheus__Query *qp = &q;
        prometheus__query__init(&q);
        q.start_timestamp_ms = 1700000000000;
        q.end_timestamp_ms = 1700000600000;
        q.n_matchers = 1;
        q.matchers = &mp;
        Prometheus__ReadHints h;
        prometheus__read_hints__init(&h);
        h.start_ms = 1700000300000;
        h.end_ms = 1700000600000;
        h.step_ms = 15000;
        h.func = (ProtobufCBinaryData){4, (uint8_t *)"rate"};
        q.hints = &h;
        Prometheus__ReadRequest__ResponseType acc[2] = {PROMETHEUS__READ_REQUEST__RESPONSE_TYPE__STREAMED_XOR_CHUNKS,
                                                        PROMETHEUS__READ_REQUEST__RESPONSE_TYPE__SAMPLES};
        Prometheus__ReadRequest rr;
        prometheus__read_request__init(&rr);
        rr.n_queries = 1;
        rr.queries = &qp;
        rr.n_accepted_response_types = 2;
        rr.accepted_response_types = acc;
        if (prometheus__read_request__get_packed_size(&rr) > sizeof raw)
            return 0;
        n = prometheus__read_request__pack(&rr, raw);
    } else {
        Prometheus__WriteRequest w;
        prometheus__write_request__init(&w);
        w.n_timeseries = 1;
        w.timeseries = &tsp;
        if (prometheus__write_request__get_packed_size(&w) > sizeof raw)
            return 0;
        n = prometheus__write_request__pack(&w, raw);
    }
    if (i == 0 || i == 2) { /* raw protobuf */
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
