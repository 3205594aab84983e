/*
 * h_query.c: the Prometheus HTTP API's read side: /api/v1/query,
 * /api/v1/query_range, /api/v1/series, /api/v1/labels and
 * /api/v1/label/NAME/values, with Prometheus' JSON envelope:
 *   {"status":"success","data":...}
 *   {"status":"error","errorType":"bad_data","error":"..."}   (400)
 * Sample values are strings ("1.5", "NaN", "+Inf"), timestamps float
 * seconds (1700000000.5).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql.h"
#include "server.h"

/* Prometheus refuses range queries of more than 11,000 points per series. */
#define MAX_POINTS 11000

void srv_selectors_free(strata_selector *sels, size_t n)
{
    for (size_t i = 0; i < n; i++)
        strata_selector_free(&sels[i]);
    free(sels);
}

int srv_selectors(srv *s, srv_req *r, srv_resp *w, int required, strata_selector **out, size_t *n_out,
                  int *ret)
{
    const char **v = NULL;
    size_t n = 0;
    if (srv_param_all(r, "match[]", &v, &n)) {
        *ret = STRATA_ERR_NOMEM;
        return -1;
    }
    if (!n && required) {
        *ret = srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_MATCHER, "bad_data", "no match[] parameter provided");
        return -1;
    }
    strata_selector *sels = calloc(n ? n : 1, sizeof *sels);
    if (!sels) {
        free(v);
        *ret = STRATA_ERR_NOMEM;
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char err[200] = "";
        int rc = strata_selector_parse(v[i], &sels[i], err, sizeof err);
        if (rc == STRATA_OK && sels[i].range_ms) {
            strata_selector_free(&sels[i]);
            rc = STRATA_ERR_INVALID;
            snprintf(err, sizeof err, "a range selector is not a series selector");
        }
        if (rc) {
            srv_selectors_free(sels, i);
            *ret = srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_MATCHER, "bad_data",
                                   "invalid parameter \"match[]\": %.200s: %s", v[i], err);
            free(v);
            return -1;
        }
    }
    free(v);
    *out = sels;
    *n_out = n;
    return 0;
}

/* Parses start/end (defaults: all time). */
static int time_range(srv *s, srv_req *r, srv_resp *w, int64_t *start, int64_t *end,
                      int *ret)
{
    const char *why = NULL;
    const char *names[2] = {"start", "end"};
    int64_t *outs[2] = {start, end};
    int64_t dflt[2] = {INT64_MIN, INT64_MAX};
    for (int i = 0; i < 2; i++) {
        const char *v = srv_param(r, names[i]);
        if (srv_time(v, dflt[i], outs[i], &why)) {
            *ret = srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_TIME, "bad_data",
                                   "invalid parameter \"%s\": cannot parse \"%.80s\" to a valid timestamp%s%s", names[i],
                                   v, why ? ": " : "", why ? why : "");
            return -1;
        }
    }
    if (*end < *start) {
        *ret = srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_TIME, "bad_data",
                               "invalid parameter \"end\": end timestamp must not be before start time");
        return -1;
    }
    return 0;
}

/* Copies a string that needs no JSON escaping with its quotes; returns 0
 * when it does need escaping (nothing written then). o has room. */
static size_t plain_str(char *o, const char *str, size_t n)
{
    o[0] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)str[i];
        if (ch < 0x20 || ch == '"' || ch == '\\')
            return 0;
        o[i + 1] = (char)ch;
    }
    o[n + 1] = '"';
    return n + 2;
}

/* {"name":"value",...}: one reservation, escaping only when needed. */
static int put_metric(sbuf *b, const strata_label *l, size_t n)
{
    size_t need = 2;
    for (size_t i = 0; i < n; i++)
        need += strlen(l[i].name) + strlen(l[i].value) + 6;
    if (sbuf_reserve(b, need))
        return STRATA_ERR_NOMEM;
    b->data[b->len++] = '{';
    for (size_t i = 0; i < n; i++) {
        const char *str[2] = {l[i].name, l[i].value};
        if (i)
            b->data[b->len++] = ',';
        for (int k = 0; k < 2; k++) {
            size_t sl = strlen(str[k]);
            if (sbuf_reserve(b, sl + 4))
                return STRATA_ERR_NOMEM;
            size_t w = plain_str((char *)b->data + b->len, str[k], sl);
            if (w)
                b->len += w;
            else if (json_str(b, str[k]))
                return STRATA_ERR_NOMEM;
            if (!k)
                b->data[b->len++] = ':';
        }
    }
    if (sbuf_reserve(b, 1))
        return STRATA_ERR_NOMEM;
    b->data[b->len++] = '}';
    return STRATA_OK;
}

static int reply_result(srv *s, srv_req *r, srv_resp *w, const pq_result *res)
{
    sbuf b = {0};
    int matrix = res->kind == PQ_MATRIX;
    size_t guess = 64;
    for (size_t i = 0; i < res->n_series; i++)
        guess += 128 + res->series[i].n * 32;
    int rc = sbuf_reserve(&b, guess);
    rc = rc ? rc : json_raw(&b, matrix ? "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
                                       : "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[");
    for (size_t i = 0; i < res->n_series && !rc; i++) {
        const pq_series *ps = &res->series[i];
        rc = json_raw(&b, i ? ",{\"metric\":" : "{\"metric\":");
        rc = rc ? rc : put_metric(&b, ps->labels, ps->n_labels);
        rc = rc ? rc : json_raw(&b, matrix ? ",\"values\":[" : ",\"value\":");
        for (size_t j = 0; j < ps->n && !rc; j++) {
            /* [<time>,"<value>"] written in place: the hot loop of big answers */
            if ((rc = sbuf_reserve(&b, 40 + STRATA_DOUBLE_MAX)) != 0)
                break;
            if (j)
                b.data[b.len++] = ',';
            b.data[b.len++] = '[';
            json_time(&b, ps->t[j]);
            b.data[b.len++] = ',';
            b.data[b.len++] = '"';
            b.len += strata_format_double(ps->v[j], (char *)b.data + b.len);
            b.data[b.len++] = '"';
            b.data[b.len++] = ']';
            if (!matrix)
                break;
        }
        rc = rc ? rc : json_raw(&b, matrix ? "]}" : "}");
    }
    rc = rc ? rc : json_raw(&b, "]}}\n");
    if (rc) {
        sbuf_free(&b);
        return srv_reply_error(s, w, HTTP_SERVICE_UNAVAILABLE, R_INTERNAL, "internal", "out of memory");
    }
    return srv_reply_json(w, HTTP_OK, &b);
}

static int eval_error(srv *s, srv_req *r, srv_resp *w, int rc, const pq_result *res)
{
    if (rc == STRATA_ERR_INVALID)
        return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_DATA, "bad_data", "%s",
                               res->error[0] ? res->error : "invalid query");
    return srv_reply_error(s, w, HTTP_INTERNAL_SERVER_ERROR, R_INTERNAL, "internal", "%s", strata_strerror(rc));
}

static int bad_param(srv *s, srv_req *r, srv_resp *w, const char *name, const char *v,
                                 const char *why)
{
    return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_TIME, "bad_data",
                           "invalid parameter \"%s\": cannot parse \"%.80s\"%s%s", name, v ? v : "", why ? ": " : "",
                           why ? why : "");
}

int h_query(srv *s, srv_req *r, srv_resp *w)
{
    if (srv_params_load(r))
        return STRATA_ERR_NOMEM;
    const char *q = srv_param(r, "query"), *tv = srv_param(r, "time"), *why = NULL;
    if (!q || !*q)
        return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_DATA, "bad_data", "invalid parameter \"query\": empty");
    int64_t t;
    if (srv_time(tv, srv_now_ms(), &t, &why))
        return bad_param(s, r, w, "time", tv, why);
    pq_result res;
    int rc = pq_eval_instant(s->db, q, t, &res);
    if (rc)
        return eval_error(s, r, w, rc, &res);
    int ret = reply_result(s, r, w, &res);
    pq_result_free(&res);
    return ret;
}

int h_query_range(srv *s, srv_req *r, srv_resp *w)
{
    if (srv_params_load(r))
        return STRATA_ERR_NOMEM;
    const char *q = srv_param(r, "query"), *why = NULL;
    const char *sv = srv_param(r, "start"), *ev = srv_param(r, "end"), *stv = srv_param(r, "step");
    if (!q || !*q)
        return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_DATA, "bad_data", "invalid parameter \"query\": empty");
    int64_t start, end, step;
    if (!sv || srv_time(sv, 0, &start, &why))
        return bad_param(s, r, w, "start", sv, why ? why : "missing");
    if (!ev || srv_time(ev, 0, &end, &why))
        return bad_param(s, r, w, "end", ev, why ? why : "missing");
    if (!stv || strata_parse_duration(stv, strlen(stv), &step, &why))
        return bad_param(s, r, w, "step", stv, why ? why : "missing");
    if (end < start)
        return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_TIME, "bad_data",
                               "invalid parameter \"end\": end timestamp must not be before start time");
    if (step <= 0)
        return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_TIME, "bad_data",
                               "zero or negative query resolution step widths are not accepted. Try a positive integer");
    if ((uint64_t)(end - start) / (uint64_t)step > MAX_POINTS)
        return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_TIME, "bad_data",
                               "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query "
                               "resolution (?step=XX)");
    pq_result res;
    int rc = pq_eval_range(s->db, q, start, end, step, &res);
    if (rc)
        return eval_error(s, r, w, rc, &res);
    int ret = reply_result(s, r, w, &res);
    pq_result_free(&res);
    return ret;
}

/* ------------------------------------------------------------ series */


int h_series(srv *s, srv_req *r, srv_resp *w)
{
    int ret;
    if (srv_params_load(r))
        return STRATA_ERR_NOMEM;
    strata_selector *sels;
    size_t n;
    int64_t start, end;
    if (srv_selectors(s, r, w, 1, &sels, &n, &ret))
        return ret;
    if (time_range(s, r, w, &start, &end, &ret)) {
        srv_selectors_free(sels, n);
        return ret;
    }
    sbuf b = {0};
    int rc = json_raw(&b, "{\"status\":\"success\",\"data\":[");
    size_t count = 0;
    strata_cursor *cur = NULL;
    if (!rc)
        rc = strata_select_any(s->db, sels, n, start, end, STRATA_SELECT_SERIES_ONLY, &cur);
    if (!rc) {
        strata_sid sid;
        const strata_label *l;
        size_t nl;
        while ((rc = strata_cursor_next_series(cur, &sid, &l, &nl)) == 1) {
            rc = json_raw(&b, count++ ? "," : "");
            rc = rc ? rc : put_metric(&b, l, nl);
            if (rc)
                break;
        }
        if (rc > 0)
            rc = 0;
    }
    strata_cursor_close(cur);
    srv_selectors_free(sels, n);
    rc = rc ? rc : json_raw(&b, "]}\n");
    if (rc) {
        sbuf_free(&b);
        return srv_reply_error(s, w, rc == STRATA_ERR_INVALID ? HTTP_BAD_REQUEST : HTTP_INTERNAL_SERVER_ERROR,
                               rc == STRATA_ERR_INVALID ? R_BAD_MATCHER : R_INTERNAL,
                               rc == STRATA_ERR_INVALID ? "bad_data" : "internal", "%s", strata_strerror(rc));
    }
    return srv_reply_json(w, HTTP_OK, &b);
}

/* ------------------------------------------------------------ labels */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Answers a sorted, de-duplicated list of strings gathered per selector
 * (or once for all series when there is none). name NULL: label names. */
static int strings_reply(srv *s, srv_req *r, srv_resp *w, const char *name)
{
    int ret;
    if (srv_params_load(r))
        return STRATA_ERR_NOMEM;
    strata_selector *sels;
    size_t n;
    int64_t start, end;
    if (srv_selectors(s, r, w, 0, &sels, &n, &ret))
        return ret;
    if (time_range(s, r, w, &start, &end, &ret)) {
        srv_selectors_free(sels, n);
        return ret;
    }
    char **all = NULL;
    size_t n_all = 0;
    strata_strings *lists = calloc(n ? n : 1, sizeof *lists);
    int rc = lists ? STRATA_OK : STRATA_ERR_NOMEM;
    size_t runs = n ? n : 1;
    for (size_t i = 0; i < runs && !rc; i++) {
        const strata_matcher *m = n ? sels[i].matchers : NULL;
        size_t nm = n ? sels[i].n_matchers : 0;
        rc = name ? strata_label_values(s->db, name, m, nm, start, end, &lists[i])
                  : strata_label_names(s->db, m, nm, start, end, &lists[i]);
        if (!rc)
            n_all += lists[i].n;
    }
    if (!rc && n_all) {
        all = malloc(n_all * sizeof *all);
        if (!all)
            rc = STRATA_ERR_NOMEM;
        size_t k = 0;
        for (size_t i = 0; i < runs && all; i++)
            for (size_t j = 0; j < lists[i].n; j++)
                all[k++] = lists[i].v[j];
        if (all && runs > 1)
            qsort(all, n_all, sizeof *all, cmp_str);
    }
    sbuf b = {0};
    if (!rc)
        rc = json_raw(&b, "{\"status\":\"success\",\"data\":[");
    for (size_t i = 0, k = 0; i < n_all && !rc; i++) {
        if (i && !strcmp(all[i], all[i - 1]))
            continue;
        rc = json_raw(&b, k++ ? "," : "");
        rc = rc ? rc : json_str(&b, all[i]);
    }
    rc = rc ? rc : json_raw(&b, "]}\n");
    free(all);
    for (size_t i = 0; lists && i < runs; i++)
        strata_strings_free(&lists[i]);
    free(lists);
    srv_selectors_free(sels, n);
    if (rc) {
        sbuf_free(&b);
        return srv_reply_error(s, w, rc == STRATA_ERR_INVALID ? HTTP_BAD_REQUEST : HTTP_INTERNAL_SERVER_ERROR,
                               rc == STRATA_ERR_INVALID ? R_BAD_MATCHER : R_INTERNAL,
                               rc == STRATA_ERR_INVALID ? "bad_data" : "internal", "%s", strata_strerror(rc));
    }
    return srv_reply_json(w, HTTP_OK, &b);
}

int h_labels(srv *s, srv_req *r, srv_resp *w)
{
    return strings_reply(s, r, w, NULL);
}

int h_label_values(srv *s, srv_req *r, srv_resp *w)
{
    const char *name = r->path_arg;
    if (!name || !*name)
        return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_DATA, "bad_data", "empty label name");
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || (p > name && *p >= '0' && *p <= '9')))
            return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_DATA, "bad_data",
                                   "invalid label name: \"%.100s\"", name);
    return strings_reply(s, r, w, name);
}
