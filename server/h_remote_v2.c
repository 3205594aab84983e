/*
 * h_remote_v2.c: POST /api/v1/write with a remote write 2.0 body
 * (Content-Type application/x-protobuf;proto=io.prometheus.write.v2.Request),
 * over the codec of remote_v2.c.
 *
 * Every answer carries X-Prometheus-Remote-Write-Samples-Written,
 * -Histograms-Written and -Exemplars-Written: what of the request was
 * stored, as the spec requires, so a sender can tell a partial write.
 *   204  everything was stored.
 *   400  the body is not snappy + Request or a series is malformed (a
 *        reference outside the symbol table, an odd number of label
 *        references, empty or duplicate names, a NUL byte, no samples):
 *        nothing is stored, all counts 0. Also 400 for a partial write:
 *        the request held native histograms or exemplars (strata stores
 *        float samples only) or the database refused some series (the
 *        series limit, a time out of range, text not UTF-8); the rest is
 *        stored and counted, the body says what was refused. A 4xx is
 *        not retried, so what cannot be stored never stalls the sender.
 *   413  over a size limit.
 *   503  with Retry-After when storing failed (out of memory, disk full,
 *        read-only, I/O): the sender retries the whole request, and
 *        samples stored twice are one sample (equal timestamps merge).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "remote_v2.h"
#include "server.h"

/* Adds the three written-count headers; their text lives in w. */
static int written_headers(srv_resp *w, uint64_t samples, uint64_t histograms, uint64_t exemplars)
{
    static const char *const names[3] = {"X-Prometheus-Remote-Write-Samples-Written",
                                         "X-Prometheus-Remote-Write-Histograms-Written",
                                         "X-Prometheus-Remote-Write-Exemplars-Written"};
    const uint64_t v[3] = {samples, histograms, exemplars};
    int rc = STRATA_OK;
    for (int i = 0; i < 3 && !rc; i++) {
        snprintf(w->header_text[i], sizeof w->header_text[i], "%llu", (unsigned long long)v[i]);
        rc = srv_resp_header(w, names[i], w->header_text[i]);
    }
    return rc;
}

static void limits_of(const srv *s, rw_limits *lim)
{
    lim->max_labels = s->cfg.max_labels;
    lim->max_label_len = s->cfg.max_label_len;
    lim->max_decoded = s->cfg.max_decoded; /* as remote write 1.0: see h_remote.c */
    lim->max_objects = s->cfg.max_decoded > SIZE_MAX / 4 ? SIZE_MAX : s->cfg.max_decoded * 4;
    lim->max_samples = s->cfg.max_read_samples;
}

static int decode_error(srv *s, srv_resp *w, int rc, const char *err)
{
    int r;
    if (rc == STRATA_ERR_LIMIT && !strstr(err, "label"))
        r = srv_reply_error(s, w, HTTP_CONTENT_TOO_LARGE, R_TOO_LARGE, "bad_data", "%s", err);
    else if (rc == STRATA_ERR_LIMIT)
        r = srv_reply_error(s, w, HTTP_BAD_REQUEST, R_TOO_MANY_LABELS, "bad_data", "%s", err);
    else if (rc == STRATA_ERR_INVALID)
        r = srv_reply_error(s, w, HTTP_BAD_REQUEST,
                            strstr(err, "snappy") ? R_BAD_ENCODING : strstr(err, "protobuf") ? R_BAD_PROTOBUF
                                                                                               : R_BAD_DATA,
                            "bad_data", "%s", err);
    else {
        r = srv_reply_error(s, w, HTTP_SERVICE_UNAVAILABLE, R_INTERNAL, "internal", "%s", strata_strerror(rc));
        r = r ? r : srv_resp_header(w, "Retry-After", "1");
    }
    return r ? r : written_headers(w, 0, 0, 0);
}

/* Storing failed: 503 with Retry-After (longer when the disk is full or
 * the database read-only: an operator has to act). Counts 0: the sender
 * retries everything. */
static int store_error(srv *s, srv_resp *w, int rc)
{
    int r = srv_reply_error(s, w, HTTP_SERVICE_UNAVAILABLE, R_INTERNAL, "internal", "storing failed: %s",
                            strata_strerror(rc));
    r = r ? r : srv_resp_header(w, "Retry-After", rc == STRATA_ERR_NOSPACE || rc == STRATA_ERR_READONLY ? "30" : "1");
    return r ? r : written_headers(w, 0, 0, 0);
}

/* A partial write: 400, the counts of what was stored, and a body that
 * says what was not:
 * {"status":"error","errorType":"bad_data","error":"partial write: ...",
 *  "samples":N,"refused_series":N,"refused_samples":N,
 *  "refused_histograms":N,"refused_exemplars":N} */
static int reply_partial(srv *s, srv_resp *w, const rw2_stored *st, size_t n_series)
{
    char msg[512];
    int o = snprintf(msg, sizeof msg, "partial write: %llu samples stored",
                     (unsigned long long)st->samples);
    if (st->refused_series && o > 0 && (size_t)o < sizeof msg)
        o += snprintf(msg + o, sizeof msg - (size_t)o,
                      "; %llu of %zu series refused (%llu samples), first: series %zu: %s",
                      (unsigned long long)st->refused_series, n_series, (unsigned long long)st->refused_samples,
                      st->first_refused, st->first_reason);
    if (st->refused_histograms && o > 0 && (size_t)o < sizeof msg)
        o += snprintf(msg + o, sizeof msg - (size_t)o,
                      "; %llu native histogram samples refused: strata stores float samples only",
                      (unsigned long long)st->refused_histograms);
    if (st->refused_exemplars && o > 0 && (size_t)o < sizeof msg)
        snprintf(msg + o, sizeof msg - (size_t)o, "; %llu exemplars refused: strata does not store exemplars",
                 (unsigned long long)st->refused_exemplars);
    sbuf b = {0};
    char tmp[256];
    int rc = json_raw(&b, "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":");
    rc = rc ? rc : json_str(&b, msg);
    snprintf(tmp, sizeof tmp,
             ",\"samples\":%llu,\"refused_series\":%llu,\"refused_samples\":%llu,\"refused_histograms\":%llu,"
             "\"refused_exemplars\":%llu}\n",
             (unsigned long long)st->samples, (unsigned long long)st->refused_series,
             (unsigned long long)st->refused_samples, (unsigned long long)st->refused_histograms,
             (unsigned long long)st->refused_exemplars);
    rc = rc ? rc : json_raw(&b, tmp);
    metrics_error(s, R_PARTIAL_WRITE);
    if (rc) {
        sbuf_free(&b);
        rc = srv_reply(w, HTTP_BAD_REQUEST, "text/plain", msg, strlen(msg));
    } else {
        rc = srv_reply_json(w, HTTP_BAD_REQUEST, &b);
    }
    return rc ? rc : written_headers(w, st->samples, 0, 0);
}

int h_prom_write_v2(srv *s, srv_req *r, srv_resp *w)
{
    rw_limits lim;
    limits_of(s, &lim);
    char err[256] = "";
    rw2_write *req = NULL;
    int rc = rw2_decode(r->body.data, r->body.len, &lim, &req, err, sizeof err);
    if (rc)
        return decode_error(s, w, rc, err);
    rw2_stored st;
    rc = rw2_store(s->db, req, &st);
    size_t n_series = req->msg->n_timeseries;
    rw2_free(req);
    METRIC_ADD(s->m.samples_in[1], st.samples + st.start_zeros);
    METRIC_ADD(s->m.series_created, st.new_series);
    if (rc)
        return store_error(s, w, rc);
    if (st.refused_series || st.refused_histograms || st.refused_exemplars)
        return reply_partial(s, w, &st, n_series);
    rc = srv_reply(w, HTTP_NO_CONTENT, NULL, "", 0);
    return rc ? rc : written_headers(w, st.samples, 0, 0);
}
