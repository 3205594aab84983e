/*
 * h_remote.c: POST /api/v1/write and POST /api/v1/read, Prometheus'
 * remote storage protocols, over the codec of remote.c.
 *
 * Remote write answers 204 when every sample is stored, 400 when the body
 * is not snappy + WriteRequest or a series is invalid (nothing of that
 * request stored: Prometheus drops a 4xx batch, so it must not be half
 * stored either), 413 over a limit, 5xx when storing failed (Prometheus
 * retries those).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "remote.h"
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

int h_prom_write(srv *s, srv_req *r, srv_resp *w)
{
    int bad;
    int ret = check_proto_headers(s, r, w, &bad);
    if (bad)
        return ret;
    rw_limits lim;
    limits_of(s, &lim);
    char err[256] = "";
    rw_write *req = NULL;
    int rc = rw_decode(r->body.data, r->body.len, &lim, &req, err, sizeof err);
    if (rc)
        return decode_error(s, r, w, rc, err);
    uint64_t samples = 0, created = 0;
    rc = rw_store(s->db, req, &samples, &created);
    rw_free(req);
    if (rc)
        return srv_reply_error(s, w,
                               rc == STRATA_ERR_INVALID ? HTTP_BAD_REQUEST : HTTP_INTERNAL_SERVER_ERROR,
                               rc == STRATA_ERR_INVALID ? R_BAD_DATA : R_INTERNAL,
                               rc == STRATA_ERR_INVALID ? "bad_data" : "internal", "storing failed: %s",
                               strata_strerror(rc));
    METRIC_ADD(s->m.samples_in[1], samples);
    METRIC_ADD(s->m.series_created, created);
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
