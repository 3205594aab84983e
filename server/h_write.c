/*
 * h_write.c: the write endpoints that take text: Influx line protocol
 * (POST /write, /api/v2/write) and JSON lines (POST /api/v1/import).
 *
 * Both store the valid lines and answer 400 naming the first rejected ones
 * (line number and reason) when some were refused, 204 when all were
 * stored. A line naming a new series over --max-series is one of those:
 * its series is refused alone (the line's other fields, and every sample
 * of existing series, are stored), so the answer is the same 400 as on
 * remote write, never a 5xx. A storage failure is a 5xx and the client
 * should retry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define MAX_REPORTED 10

typedef struct rejects {
    uint64_t n;
    uint64_t line[MAX_REPORTED];
    char reason[MAX_REPORTED][160];
} rejects;

static void on_reject(void *ctx, uint64_t line_no, const char *reason)
{
    rejects *rj = ctx;
    if (rj->n < MAX_REPORTED) {
        rj->line[rj->n] = line_no;
        snprintf(rj->reason[rj->n], sizeof rj->reason[0], "%s", reason ? reason : "rejected");
    }
    rj->n++;
}

/* 400 {"status":"error","errorType":"bad_data","error":"...","rejected_lines":N,
 *      "samples":N,"first_rejected":[{"line":N,"reason":"..."}]} */
static int reply_rejects(srv *s, srv_req *r, srv_resp *w, const rejects *rj, uint64_t lines,
                                     uint64_t samples)
{
    sbuf b = {0};
    char msg[256];
    snprintf(msg, sizeof msg, "partial write: %llu of %llu lines rejected; first: line %llu: %s",
             (unsigned long long)rj->n, (unsigned long long)lines, (unsigned long long)rj->line[0], rj->reason[0]);
    int rc = json_raw(&b, "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":");
    rc = rc ? rc : json_str(&b, msg);
    char tmp[96];
    snprintf(tmp, sizeof tmp, ",\"rejected_lines\":%llu,\"samples\":%llu,\"first_rejected\":[",
             (unsigned long long)rj->n, (unsigned long long)samples);
    rc = rc ? rc : json_raw(&b, tmp);
    for (uint64_t i = 0; i < rj->n && i < MAX_REPORTED && !rc; i++) {
        snprintf(tmp, sizeof tmp, "%s{\"line\":%llu,\"reason\":", i ? "," : "", (unsigned long long)rj->line[i]);
        rc = json_raw(&b, tmp);
        rc = rc ? rc : json_str(&b, rj->reason[i]);
        rc = rc ? rc : json_raw(&b, "}");
    }
    rc = rc ? rc : json_raw(&b, "]}\n");
    metrics_error(s, R_PARTIAL_WRITE);
    METRIC_ADD(s->m.lines_rejected, rj->n);
    if (rc) {
        sbuf_free(&b);
        return srv_reply(w, HTTP_BAD_REQUEST, "text/plain", msg, strlen(msg));
    }
    return srv_reply_json(w, HTTP_BAD_REQUEST, &b);
}

static int storage_error(srv *s, srv_req *r, srv_resp *w, int rc)
{
    unsigned st = rc == STRATA_ERR_INVALID ? HTTP_BAD_REQUEST
                  : (rc == STRATA_ERR_NOSPACE || rc == STRATA_ERR_NOMEM || rc == STRATA_ERR_LIMIT)
                      ? HTTP_SERVICE_UNAVAILABLE
                      : HTTP_INTERNAL_SERVER_ERROR;
    return srv_reply_error(s, w, st, st == HTTP_BAD_REQUEST ? R_BAD_DATA : R_INTERNAL,
                           st == HTTP_BAD_REQUEST ? "bad_data" : "internal", "storing failed: %s",
                           strata_strerror(rc));
}

/* Refuses bodies that are clearly not text. */
static int wrong_text_type(const srv_req *r)
{
    const char *ct = srv_header(r, "Content-Type");
    return ct && (!strncasecmp(ct, "application/x-protobuf", 22) || !strncasecmp(ct, "application/octet-stream", 24) ||
                  !strncasecmp(ct, "multipart/", 10));
}

static int parse_precision(const char *p, strata_precision *out)
{
    if (!p || !*p || !strcmp(p, "ns") || !strcmp(p, "n"))
        *out = STRATA_PRECISION_NS;
    else if (!strcmp(p, "us") || !strcmp(p, "u") || !strcmp(p, "µs"))
        *out = STRATA_PRECISION_US;
    else if (!strcmp(p, "ms"))
        *out = STRATA_PRECISION_MS;
    else if (!strcmp(p, "s"))
        *out = STRATA_PRECISION_S;
    else
        return -1;
    return 0;
}

int h_write(srv *s, srv_req *r, srv_resp *w)
{
    int ret;
    if (wrong_text_type(r))
        return srv_reply_error(s, w, HTTP_UNSUPPORTED_MEDIA_TYPE, R_BAD_CONTENT_TYPE, "bad_data",
                               "line protocol is text; Content-Type %.60s is not accepted",
                               srv_header(r, "Content-Type"));
    /* precision comes from the URL: the body is line protocol, never a
     * form (srv_params_load would decode it in place as one) */
    strata_precision prec;
    const char *p = srv_param(r, "precision");
    if (parse_precision(p, &prec))
        return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_DATA, "bad_data",
                               "bad precision '%.20s' (ns, us, ms, s; or n, u)", p);
    if (srv_body_decode(s, r, w, &ret))
        return ret;
    rejects rj;
    rj.n = 0;
    strata_write_result res;
    memset(&res, 0, sizeof res);
    int rc = strata_write_lp(s->db, (const char *)r->body.data, r->body.len, prec, cli_now_ms(), on_reject, &rj,
                             &res);
    METRIC_ADD(s->m.samples_in[0], res.samples);
    METRIC_ADD(s->m.series_created, res.new_series);
    if (rc)
        return storage_error(s, r, w, rc);
    if (rj.n)
        return reply_rejects(s, r, w, &rj, res.lines, res.samples);
    return srv_reply(w, HTTP_NO_CONTENT, NULL, "", 0);
}

/* ------------------------------------------------------------ import */

int h_import(srv *s, srv_req *r, srv_resp *w)
{
    int ret;
    if (wrong_text_type(r))
        return srv_reply_error(s, w, HTTP_UNSUPPORTED_MEDIA_TYPE, R_BAD_CONTENT_TYPE, "bad_data",
                               "JSON lines are text; Content-Type %.60s is not accepted",
                               srv_header(r, "Content-Type"));
    if (srv_body_decode(s, r, w, &ret))
        return ret;
    rejects rj;
    rj.n = 0;
    strata_write_result res;
    memset(&res, 0, sizeof res);
    int rc = strata_write_jsonl(s->db, (const char *)r->body.data, r->body.len, on_reject, &rj, &res);
    METRIC_ADD(s->m.samples_in[2], res.samples);
    METRIC_ADD(s->m.series_created, res.new_series);
    if (rc)
        return storage_error(s, r, w, rc);
    if (rj.n)
        return reply_rejects(s, r, w, &rj, res.lines, res.samples);
    return srv_reply(w, HTTP_NO_CONTENT, NULL, "", 0);
}
