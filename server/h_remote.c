/*
 * h_remote.c: POST /api/v1/write and POST /api/v1/read, Prometheus'
 * remote storage protocols, over the codec of remote.c.
 *
 * Remote write answers 204 when every sample is stored; 400 when the body
 * is not snappy + WriteRequest or a series is malformed (empty or
 * duplicate names, a NUL byte: nothing of that request is stored); 400
 * too when the database refused some series (the series limit, a
 * timestamp out of range, labels not valid UTF-8): the rest is stored,
 * the body says how much was refused, and the client does not retry (as
 * Prometheus' own receiver answers); 413 over a size limit; 5xx when
 * storing failed (Prometheus and vmagent retry those): 503 with
 * Retry-After when the cause clears (disk full, memory; http.c answers
 * so too when the server stops or the write queue is full), 500 for the
 * rest.
 *
 * Remote read answers as the client asks (the first of its
 * accepted_response_types strata knows): SAMPLES, one snappy
 * ReadResponse built whole under --max-read-samples, or
 * STREAMED_XOR_CHUNKS, framed chunks streamed series by series
 * (rr_stream.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "remote.h"
#include "remote_v2.h"
#include "server.h"

static void limits_of(const srv *s, rw_limits *lim)
{
    lim->max_labels = s->cfg.max_labels;
    lim->max_label_len = s->cfg.max_label_len;
    /* --max-decoded-bytes (32 MiB as VictoriaMetrics' -maxInsertRequestSize;
     * Prometheus sends a few hundred KiB) and 4x that for the objects
     * unpacked from it: a realistic request takes 2-3x its decoded size */
    lim->max_decoded = s->cfg.max_decoded;
    lim->max_objects = s->cfg.max_decoded > SIZE_MAX / 4 ? SIZE_MAX : s->cfg.max_decoded * 4;
    lim->max_samples = s->cfg.max_read_samples;
    lim->ext = s->cfg.ext_labels;
    lim->n_ext = s->cfg.n_ext_labels;
}

static int check_proto_headers(srv *s, srv_req *r, srv_resp *w, int *bad)
{
    const char *ct = srv_header(r, "Content-Type");
    const char *enc = srv_header(r, "Content-Encoding");
    *bad = 1;
    if (ct && strncasecmp(ct, "application/x-protobuf", 22))
        return srv_reply_error(s, w, HTTP_UNSUPPORTED_MEDIA_TYPE, R_BAD_CONTENT_TYPE, "bad_data",
                               "Content-Type %.60s: want application/x-protobuf", ct);
    if (enc && strcasecmp(enc, "snappy"))
        return srv_reply_error(s, w, HTTP_UNSUPPORTED_MEDIA_TYPE, R_BAD_ENCODING, "bad_data",
                               "Content-Encoding %.40s: want snappy", enc);
    *bad = 0;
    return STRATA_OK;
}

static int decode_error(srv *s, srv_req *r, srv_resp *w, int rc, const char *err)
{
    if (rc == STRATA_ERR_LIMIT)
        return srv_reply_error(s, w, strstr(err, "label") ? HTTP_BAD_REQUEST : HTTP_CONTENT_TOO_LARGE,
                               strstr(err, "label") ? R_TOO_MANY_LABELS : R_TOO_LARGE, "bad_data", "%s", err);
    if (rc == STRATA_ERR_INVALID)
        return srv_reply_error(s, w, HTTP_BAD_REQUEST,
                               strstr(err, "snappy") ? R_BAD_ENCODING : strstr(err, "protobuf") ? R_BAD_PROTOBUF
                                                                                                  : R_BAD_DATA,
                               "bad_data", "%s", err);
    return srv_reply_error(s, w, HTTP_SERVICE_UNAVAILABLE, R_INTERNAL, "internal", "%s",
                           strata_strerror(rc));
}

/* Some series were refused, the rest stored: 400, as Prometheus' own
 * receiver answers a partly refused request. A 4xx is not retried by a
 * remote-write client (Prometheus retries 5xx and 429 only), so an
 * over-limit series never stalls the queue; the body says what was
 * stored and refused:
 * {"status":"error","errorType":"bad_data","error":"partial write: ...",
 *  "samples":N,"refused_series":N,"refused_samples":N} */
static int reply_refused(srv *s, srv_resp *w, const rw_stored *st, size_t n_series)
{
    char msg[320];
    snprintf(msg, sizeof msg, "partial write: %llu of %zu series refused (%llu samples), %llu samples stored; first: series %zu: %s",
             (unsigned long long)st->refused_series, n_series, (unsigned long long)st->refused_samples,
             (unsigned long long)st->samples, st->first_refused, st->first_reason);
    sbuf b = {0};
    char tmp[160];
    int rc = json_raw(&b, "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":");
    rc = rc ? rc : json_str(&b, msg);
    snprintf(tmp, sizeof tmp, ",\"samples\":%llu,\"refused_series\":%llu,\"refused_samples\":%llu}\n",
             (unsigned long long)st->samples, (unsigned long long)st->refused_series,
             (unsigned long long)st->refused_samples);
    rc = rc ? rc : json_raw(&b, tmp);
    metrics_error(s, R_PARTIAL_WRITE);
    if (rc) {
        sbuf_free(&b);
        return srv_reply(w, HTTP_BAD_REQUEST, "text/plain", msg, strlen(msg));
    }
    return srv_reply_json(w, HTTP_BAD_REQUEST, &b);
}

int h_prom_write(srv *s, srv_req *r, srv_resp *w)
{
    int bad;
    int ret = check_proto_headers(s, r, w, &bad);
    if (bad)
        return ret;
    /* the proto= parameter names the message (remote write 2.0 spec):
     * 1.0 without one, 2.0's Request, 415 for any other */
    const char *ct = srv_header(r, "Content-Type");
    int version = rw_content_version(ct);
    if (version == 2)
        return h_prom_write_v2(s, r, w);
    if (version != 1)
        return srv_reply_error(s, w, HTTP_UNSUPPORTED_MEDIA_TYPE, R_BAD_CONTENT_TYPE, "bad_data",
                               "Content-Type %.100s: want proto=prometheus.WriteRequest (remote write 1.0) or "
                               "proto=io.prometheus.write.v2.Request (2.0)",
                               ct);
    rw_limits lim;
    limits_of(s, &lim);
    char err[256] = "";
    rw_write *req = NULL;
    int rc = rw_decode(r->body.data, r->body.len, &lim, &req, err, sizeof err);
    if (rc)
        return decode_error(s, r, w, rc, err);
    rw_stored st;
    size_t md_skipped = 0;
    rc = rw_store(s->db, req, &st);
    if (!rc) /* metadata after the samples: a failure here loses no sample */
        rc = rw_store_metadata(s->db, req, &md_skipped);
    size_t n_series = req->msg->n_timeseries;
    rw_free(req);
    METRIC_ADD(s->m.samples_in[1], st.samples);
    METRIC_ADD(s->m.series_created, st.new_series);
    if (rc == STRATA_ERR_NOSPACE || rc == STRATA_ERR_NOMEM) {
        /* a condition that clears (space freed, retention, memory): 503
         * with Retry-After, so the agent keeps the samples queued and
         * sends them again; what was stored before is stored twice, which
         * the database takes (same time, same value) */
        int e = srv_reply_error(s, w, HTTP_SERVICE_UNAVAILABLE, R_UNAVAILABLE, "unavailable",
                                "storing failed: %s; retry later", strata_strerror(rc));
        return e ? e : srv_resp_header(w, "Retry-After", "30");
    }
    if (rc)
        return srv_reply_error(s, w, HTTP_INTERNAL_SERVER_ERROR, R_INTERNAL, "internal", "storing failed: %s",
                               strata_strerror(rc));
    if (st.refused_series)
        return reply_refused(s, w, &st, n_series);
    return srv_reply(w, HTTP_NO_CONTENT, NULL, "", 0);
}

int h_prom_read(srv *s, srv_req *r, srv_resp *w)
{
    int bad;
    int ret = check_proto_headers(s, r, w, &bad);
    if (bad)
        return ret;
    rw_limits lim;
    limits_of(s, &lim);
    char err[256] = "";
    rr_read *req = NULL;
    int rc = rr_decode(r->body.data, r->body.len, &lim, &req, err, sizeof err);
    if (rc)
        return decode_error(s, r, w, rc, err);
    int type = rr_response_type(req->msg);
    if (type < 0) {
        rr_free(req);
        return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_DATA, "bad_data",
                               "none of the accepted response types is supported (SAMPLES, STREAMED_XOR_CHUNKS)");
    }
    if (type == PROMETHEUS__READ_REQUEST__RESPONSE_TYPE__STREAMED_XOR_CHUNKS)
        return rr_reply_streamed(s, req, w); /* rr_stream.c */
    uint8_t *out = NULL;
    size_t out_len = 0;
    uint64_t samples = 0;
    rc = rr_execute(s->db, req->msg, &lim, &out, &out_len, &samples, err, sizeof err);
    rr_free(req);
    if (rc == STRATA_ERR_INVALID)
        return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_MATCHER, "bad_data", "%s", err);
    if (rc == STRATA_ERR_LIMIT)
        return srv_reply_error(s, w, HTTP_UNPROCESSABLE_CONTENT, R_TOO_LARGE, "execution", "%s", err);
    if (rc)
        return srv_reply_error(s, w, HTTP_INTERNAL_SERVER_ERROR, R_INTERNAL, "internal", "%s",
                               strata_strerror(rc));
    METRIC_ADD(s->m.samples_out, samples);
    return srv_reply_owned(w, HTTP_OK, "application/x-protobuf", out, out_len, "snappy");
}
