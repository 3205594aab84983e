/*
 * h_otlp.c: POST /opentelemetry/v1/metrics and /api/v1/otlp/v1/metrics,
 * OTLP/HTTP metrics export (codec and translation in otlp*.c).
 *
 * Answers as the OTLP/HTTP specification asks, in the encoding of the
 * request (protobuf or JSON):
 *   200  ExportMetricsServiceResponse; when points were refused (an
 *        exponential or delta histogram, a name that translates to
 *        nothing, a series over --max-series or the label limits, a time
 *        out of range) its partial_success says how many and why, and the
 *        rest is stored. The client does not retry those.
 *   400  a body that is no ExportMetricsServiceRequest (nothing stored),
 *   413  over --max-body / --max-decoded-bytes,
 *   415  a Content-Type other than application/x-protobuf or
 *        application/json, a Content-Encoding other than gzip/deflate,
 *        each with a google.rpc.Status body;
 *   503  with Retry-After when storing failed (disk full, no memory, an
 *        I/O error): retryable, so never a 4xx. A full write pool is
 *        answered 503 + Retry-After before the handler runs (http.c).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gunzip.h"
#include "otlp.h"
#include "server.h"

/* google.rpc.Code */
enum { RPC_INVALID_ARGUMENT = 3, RPC_RESOURCE_EXHAUSTED = 8, RPC_UNAVAILABLE = 14 };

/* A google.rpc.Status {code = 1, message = 2} reply, protobuf or JSON. */
static int reply_status(srv *s, srv_resp *w, int json, unsigned http, srv_reason reason, int code, const char *msg)
{
    metrics_error(s, reason);
    sbuf b = {0};
    int rc;
    if (json) {
        char head[48];
        snprintf(head, sizeof head, "{\"code\":%d,\"message\":", code);
        rc = json_raw(&b, head);
        rc = rc ? rc : json_str(&b, msg);
        rc = rc ? rc : json_raw(&b, "}\n");
    } else {
        size_t n = strlen(msg);
        rc = sbuf_append(&b, "\x08", 1);
        rc = rc ? rc : sbuf_append_uvarint(&b, (uint64_t)code);
        rc = rc ? rc : sbuf_append(&b, "\x12", 1);
        rc = rc ? rc : sbuf_append_uvarint(&b, n);
        rc = rc ? rc : sbuf_append(&b, msg, n);
    }
    if (rc) {
        sbuf_free(&b);
        return rc;
    }
    rc = srv_reply_owned(w, http, json ? "application/json" : "application/x-protobuf", b.data, b.len, NULL);
    if (!rc && (http == HTTP_SERVICE_UNAVAILABLE || http == 429))
        rc = srv_resp_header(w, "Retry-After", "1");
    return rc;
}

/* 200 with ExportMetricsServiceResponse, partial_success when points
 * were refused. */
static int reply_ok(srv *s, srv_resp *w, int json, const otlp_result *res)
{
    char msg[320] = "";
    if (res->rejected_points) {
        snprintf(msg, sizeof msg,
                 "%llu of %llu data points rejected (exponential histograms %llu, temporality %llu, names %llu, "
                 "series refused %llu); first: %s",
                 (unsigned long long)res->rejected_points, (unsigned long long)res->points,
                 (unsigned long long)res->rejected_exphist, (unsigned long long)res->rejected_temporality,
                 (unsigned long long)res->rejected_name, (unsigned long long)res->rejected_series, res->first_reason);
        metrics_error(s, R_PARTIAL_WRITE);
    }
    sbuf b = {0};
    int rc = STRATA_OK;
    if (json) {
        if (res->rejected_points) {
            char head[96];
            snprintf(head, sizeof head, "{\"partialSuccess\":{\"rejectedDataPoints\":\"%llu\",\"errorMessage\":",
                     (unsigned long long)res->rejected_points);
            rc = json_raw(&b, head);
            rc = rc ? rc : json_str(&b, msg);
            rc = rc ? rc : json_raw(&b, "}}\n");
        } else {
            rc = json_raw(&b, "{}\n");
        }
    } else if (res->rejected_points) {
        /* ExportMetricsServiceResponse { partial_success = 1 {
         *   rejected_data_points = 1 (int64), error_message = 2 } } */
        sbuf ps = {0};
        size_t n = strlen(msg);
        rc = sbuf_append(&ps, "\x08", 1);
        rc = rc ? rc : sbuf_append_uvarint(&ps, res->rejected_points);
        rc = rc ? rc : sbuf_append(&ps, "\x12", 1);
        rc = rc ? rc : sbuf_append_uvarint(&ps, n);
        rc = rc ? rc : sbuf_append(&ps, msg, n);
        rc = rc ? rc : sbuf_append(&b, "\x0a", 1);
        rc = rc ? rc : sbuf_append_uvarint(&b, ps.len);
        rc = rc ? rc : sbuf_append(&b, ps.data, ps.len);
        sbuf_free(&ps);
    }
    if (rc) {
        sbuf_free(&b);
        return rc;
    }
    return srv_reply_owned(w, HTTP_OK, json ? "application/json" : "application/x-protobuf", b.data, b.len, NULL);
}

int h_otlp_metrics(srv *s, srv_req *r, srv_resp *w)
{
    const char *ct = srv_header(r, "Content-Type");
    int json;
    if (!ct || !strncasecmp(ct, "application/x-protobuf", 22))
        json = 0;
    else if (!strncasecmp(ct, "application/json", 16))
        json = 1;
    else
        return reply_status(s, w, 0, HTTP_UNSUPPORTED_MEDIA_TYPE, R_BAD_CONTENT_TYPE, RPC_INVALID_ARGUMENT,
                            "unsupported Content-Type: want application/x-protobuf or application/json");
    const char *enc = srv_header(r, "Content-Encoding");
    if (enc && *enc && strcasecmp(enc, "identity")) {
        int gzip = !strcasecmp(enc, "gzip") || !strcasecmp(enc, "x-gzip");
        if (!gzip && strcasecmp(enc, "deflate"))
            return reply_status(s, w, json, HTTP_UNSUPPORTED_MEDIA_TYPE, R_BAD_ENCODING, RPC_INVALID_ARGUMENT,
                                "unsupported Content-Encoding: want gzip, deflate or identity");
        sbuf out = {0};
        const char *why = NULL;
        int rc = srv_gunzip(r->body.data, r->body.len, gzip, s->cfg.max_body, &out, &why);
        if (rc) {
            sbuf_free(&out);
            char msg[160];
            snprintf(msg, sizeof msg, "bad %s body: %s", gzip ? "gzip" : "deflate", why ? why : "corrupt stream");
            if (rc == STRATA_ERR_LIMIT)
                return reply_status(s, w, json, HTTP_CONTENT_TOO_LARGE, R_TOO_LARGE, RPC_RESOURCE_EXHAUSTED,
                                    "decompressed body is over --max-body");
            if (rc == STRATA_ERR_INVALID)
                return reply_status(s, w, json, HTTP_BAD_REQUEST, R_BAD_ENCODING, RPC_INVALID_ARGUMENT, msg);
            return reply_status(s, w, json, HTTP_SERVICE_UNAVAILABLE, R_INTERNAL, RPC_UNAVAILABLE, "out of memory");
        }
        sbuf_free(&r->body);
        r->body = out;
    }
    /* --max-decoded-bytes bounds the protobuf (a JSON body's too, once
     * re-encoded) and 4x that the objects unpacked, as on remote write */
    otlp_limits lim = {s->cfg.max_decoded, s->cfg.max_decoded > SIZE_MAX / 4 ? SIZE_MAX : s->cfg.max_decoded * 4};
    char err[256] = "";
    otlp_req *req = NULL;
    int rc = json ? otlp_decode_json(r->body.data, r->body.len, &lim, &req, err, sizeof err)
                  : otlp_decode_pb(r->body.data, r->body.len, &lim, &req, err, sizeof err);
    if (rc == STRATA_ERR_INVALID)
        return reply_status(s, w, json, HTTP_BAD_REQUEST, json ? R_BAD_DATA : R_BAD_PROTOBUF, RPC_INVALID_ARGUMENT,
                            err);
    if (rc == STRATA_ERR_LIMIT)
        return reply_status(s, w, json, HTTP_CONTENT_TOO_LARGE, R_TOO_LARGE, RPC_RESOURCE_EXHAUSTED, err);
    if (rc)
        return reply_status(s, w, json, HTTP_SERVICE_UNAVAILABLE, R_INTERNAL, RPC_UNAVAILABLE, strata_strerror(rc));
    otlp_opts o = {(otlp_strategy)s->cfg.otlp_strategy, s->cfg.max_labels, s->cfg.max_label_len};
    otlp_result res;
    rc = otlp_store(s->db, req->msg, &o, &res);
    otlp_free(req);
    METRIC_ADD(s->m.samples_in[3], res.samples);
    METRIC_ADD(s->m.series_created, res.new_series);
    METRIC_ADD(s->m.otlp_rejected[0], res.rejected_exphist);
    METRIC_ADD(s->m.otlp_rejected[1], res.rejected_temporality);
    METRIC_ADD(s->m.otlp_rejected[2], res.rejected_name);
    METRIC_ADD(s->m.otlp_rejected[3], res.rejected_series);
    if (rc) {
        /* retryable: the client sends the request again later (samples
         * stored before the failure are stored again, the same values) */
        char msg[160];
        snprintf(msg, sizeof msg, "storing failed: %s", strata_strerror(rc));
        return reply_status(s, w, json, HTTP_SERVICE_UNAVAILABLE, R_INTERNAL, RPC_UNAVAILABLE, msg);
    }
    return reply_ok(s, w, json, &res);
}
