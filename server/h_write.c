/*
 * h_write.c: the write endpoints that take text: Influx line protocol
 * (POST /write, /api/v2/write) and JSON lines (POST /api/v1/import).
 *
 * Both store the valid lines and answer 400 naming the first rejected ones
 * (line number and reason) when some were refused, 204 when all were
 * stored. A storage failure is a 5xx and the client should retry.
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
static enum MHD_Result reply_rejects(srv *s, struct MHD_Connection *c, srv_req *r, const rejects *rj, uint64_t lines,
                                     uint64_t samples)
{
    bbuf b = {0};
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
        buf_free(&b);
        return srv_reply(c, r, MHD_HTTP_BAD_REQUEST, "text/plain", msg, strlen(msg));
    }
    return srv_reply_json(c, r, MHD_HTTP_BAD_REQUEST, &b);
}

static enum MHD_Result storage_error(srv *s, struct MHD_Connection *c, srv_req *r, int rc)
{
    unsigned st = rc == STRATA_ERR_INVALID ? MHD_HTTP_BAD_REQUEST
                  : (rc == STRATA_ERR_NOSPACE || rc == STRATA_ERR_NOMEM || rc == STRATA_ERR_LIMIT)
                      ? MHD_HTTP_SERVICE_UNAVAILABLE
                      : MHD_HTTP_INTERNAL_SERVER_ERROR;
    return srv_reply_error(s, c, r, st, st == MHD_HTTP_BAD_REQUEST ? R_BAD_DATA : R_INTERNAL,
                           st == MHD_HTTP_BAD_REQUEST ? "bad_data" : "internal", "storing failed: %s",
                           strata_strerror(rc));
}

/* Refuses bodies that are clearly not text. */
static int wrong_text_type(struct MHD_Connection *c)
{
    const char *ct = srv_header(c, MHD_HTTP_HEADER_CONTENT_TYPE);
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

enum MHD_Result h_write(srv *s, struct MHD_Connection *c, srv_req *r)
{
    enum MHD_Result ret;
    if (wrong_text_type(c))
        return srv_reply_error(s, c, r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, R_BAD_CONTENT_TYPE, "bad_data",
                               "line protocol is text; Content-Type %.60s is not accepted",
                               srv_header(c, MHD_HTTP_HEADER_CONTENT_TYPE));
    if (srv_params_load(c, r))
        return MHD_NO;
    strata_precision prec;
    const char *p = srv_param(r, "precision");
    if (parse_precision(p, &prec))
        return srv_reply_error(s, c, r, MHD_HTTP_BAD_REQUEST, R_BAD_DATA, "bad_data",
                               "bad precision '%.20s' (ns, us, ms, s; or n, u)", p);
    if (srv_body_decode(s, c, r, &ret))
        return ret;
    rejects rj;
    rj.n = 0;
    strata_lp_result res;
    memset(&res, 0, sizeof res);
    int rc = strata_write_lp(s->db, (const char *)r->body.data, r->body.len, prec, srv_now_ms(), on_reject, &rj,
                             &res);
    METRIC_ADD(s->m.samples_in[0], res.samples);
    METRIC_ADD(s->m.series_created, res.new_series);
    if (rc)
        return storage_error(s, c, r, rc);
    if (rj.n)
        return reply_rejects(s, c, r, &rj, res.lines, res.samples);
    return srv_reply(c, r, MHD_HTTP_NO_CONTENT, NULL, "", 0);
}

/* ------------------------------------------------------------ import */

typedef struct import_state {
    strata_sample *batch;
    size_t n, cap;
    strata_label *labels;
    size_t labels_cap;
    uint64_t samples, created;
} import_state;

static int import_flush(srv *s, import_state *st)
{
    if (!st->n)
        return STRATA_OK;
    int rc = strata_write(s->db, st->batch, st->n);
    if (!rc)
        st->samples += st->n;
    st->n = 0;
    return rc;
}

/* Stores one decoded line. STRATA_ERR_INVALID: the series is refused. */
static int import_series(srv *s, import_state *st, const jsonl_series *js)
{
    if (js->n_labels > st->labels_cap) {
        strata_label *l = realloc(st->labels, js->n_labels * sizeof *l);
        if (!l)
            return STRATA_ERR_NOMEM;
        st->labels = l;
        st->labels_cap = js->n_labels;
    }
    for (size_t i = 0; i < js->n_labels; i++) {
        st->labels[i].name = js->labels[i].name;
        st->labels[i].value = js->labels[i].value;
    }
    strata_sid sid;
    int created = 0;
    int rc = strata_series_get_or_create(s->db, st->labels, js->n_labels, &sid, &created);
    if (rc)
        return rc;
    st->created += created != 0;
    for (size_t i = 0; i < js->n_samples; i++) {
        if (st->n == st->cap) {
            if (st->cap >= 65536 && (rc = import_flush(s, st)) != 0)
                return rc;
            if (st->n == st->cap) {
                size_t cap = st->cap ? st->cap * 2 : 4096;
                strata_sample *b = realloc(st->batch, cap * sizeof *b);
                if (!b)
                    return STRATA_ERR_NOMEM;
                st->batch = b;
                st->cap = cap;
            }
        }
        st->batch[st->n].sid = sid;
        st->batch[st->n].t_ms = js->timestamps[i];
        st->batch[st->n].value = js->values[i];
        st->n++;
    }
    return STRATA_OK;
}

enum MHD_Result h_import(srv *s, struct MHD_Connection *c, srv_req *r)
{
    enum MHD_Result ret;
    if (wrong_text_type(c))
        return srv_reply_error(s, c, r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, R_BAD_CONTENT_TYPE, "bad_data",
                               "JSON lines are text; Content-Type %.60s is not accepted",
                               srv_header(c, MHD_HTTP_HEADER_CONTENT_TYPE));
    if (srv_body_decode(s, c, r, &ret))
        return ret;
    jsonl_limits lim;
    jsonl_limits_init(&lim);
    lim.max_labels = s->cfg.max_labels;
    lim.max_name_len = s->cfg.max_label_len;
    lim.max_value_len = s->cfg.max_label_len;
    jsonl_decoder *d = NULL;
    if (jsonl_decoder_new(&lim, &d))
        return srv_reply_error(s, c, r, MHD_HTTP_SERVICE_UNAVAILABLE, R_INTERNAL, "internal", "out of memory");
    import_state st;
    memset(&st, 0, sizeof st);
    rejects rj;
    rj.n = 0;
    const char *buf = (const char *)r->body.data;
    size_t len = r->body.len, pos = 0;
    uint64_t line_no = 0, lines = 0;
    int rc = STRATA_OK;
    while (pos < len && !rc) {
        size_t ll = lp_line_len(buf + pos, len - pos);
        line_no++;
        jsonl_series js;
        const char *reason = NULL;
        size_t err_pos = 0;
        int k = jsonl_decode_line(d, buf + pos, ll, &js, &reason, &err_pos);
        if (k == 1) {
            lines++;
            int src = import_series(s, &st, &js);
            if (src == STRATA_ERR_INVALID)
                on_reject(&rj, line_no, "invalid series labels (empty, duplicate or reserved names)");
            else
                rc = src;
        } else if (k == STRATA_ERR_INVALID) {
            lines++;
            char why[160];
            snprintf(why, sizeof why, "%s at byte %zu", reason ? reason : "invalid JSON line", err_pos);
            on_reject(&rj, line_no, why);
        } else if (k < 0) {
            rc = k;
        }
        pos += ll + 1;
    }
    if (!rc)
        rc = import_flush(s, &st);
    METRIC_ADD(s->m.samples_in[2], st.samples);
    METRIC_ADD(s->m.series_created, st.created);
    free(st.batch);
    free(st.labels);
    jsonl_decoder_free(d);
    if (rc)
        return storage_error(s, c, r, rc);
    if (rj.n)
        return reply_rejects(s, c, r, &rj, lines, st.samples);
    return srv_reply(c, r, MHD_HTTP_NO_CONTENT, NULL, "", 0);
}
