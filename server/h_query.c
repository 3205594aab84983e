/*
 * h_query.c: the Prometheus HTTP API's read side: /api/v1/query,
 * /api/v1/query_range, /api/v1/series, /api/v1/labels and
 * /api/v1/label/NAME/values, with Prometheus' JSON envelope:
 *   {"status":"success","data":...}
 *   {"status":"error","errorType":"bad_data","error":"..."}   (400)
 * Sample values are strings ("1.5", "NaN", "+Inf"), timestamps float
 * seconds (1700000000.5).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include "extlabels.h"
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

/* Prometheus' limit parameter of series, labels and label values: absent
 * or 0 is no limit, else a non-negative integer. Returns 0, or builds a
 * 400 and returns -1 with *ret set. */
static int limit_param(srv *s, srv_req *r, srv_resp *w, size_t *limit, int *ret)
{
    *limit = 0;
    const char *v = srv_param(r, "limit");
    if (!v || !*v)
        return 0;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (*end || errno || end == v) {
        *ret = srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_DATA, "bad_data",
                               "cannot parse \"%.80s\" to a valid limit", v);
        return -1;
    }
    if (x < 0) {
        *ret = srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_DATA, "bad_data", "limit must be non-negative");
        return -1;
    }
    *limit = (size_t)x;
    return 0;
}

/* Ends a list answer: ] then Prometheus' warning when it was cut. */
static int end_list(sbuf *b, int truncated)
{
    return json_raw(b, truncated ? "],\"warnings\":[\"results truncated due to limit\"]}\n" : "]}\n");
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

/* put_metric with the external labels (--external-label) merged in. */
static int put_metric_ext(const srv *s, sbuf *b, const strata_label *l, size_t n)
{
    size_t n_ext = s->cfg.n_ext_labels;
    if (!n_ext)
        return put_metric(b, l, n);
    strata_label *m = malloc((n + n_ext) * sizeof *m);
    if (!m)
        return STRATA_ERR_NOMEM;
    int rc = put_metric(b, m, el_merge(l, n, s->cfg.ext_labels, n_ext, m));
    free(m);
    return rc;
}

/* The answer of a query, Prometheus' envelope and shapes:
 *   scalar / string  "result":[<t>,"<value>"]
 *   vector           "result":[{"metric":{...},"value":[<t>,"<v>"]},...]
 *   matrix           "result":[{"metric":{...},"values":[[<t>,"<v>"],...]},...]
 * and "warnings":[...] when the evaluation noted any. */
static int put_point(sbuf *b, int64_t t, double v)
{
    /* [<time>,"<value>"] written in place: the hot loop of big answers */
    if (sbuf_reserve(b, 41 + STRATA_DOUBLE_MAX))
        return STRATA_ERR_NOMEM;
    b->data[b->len++] = '[';
    json_time(b, t);
    b->data[b->len++] = ',';
    b->data[b->len++] = '"';
    b->len += srv_format_value(v, (char *)b->data + b->len);
    b->data[b->len++] = '"';
    b->data[b->len++] = ']';
    return STRATA_OK;
}

/* The answer's text, produced piece by piece so that a big matrix can be
 * streamed from a small buffer: the whole of it (small answers, one
 * buffer, a Content-Length) or as libmicrohttpd asks for it (answers of
 * more than STREAM_POINTS points: the first bytes leave as soon as the
 * query is evaluated, the encoding overlaps the sending, and no buffer of
 * the whole answer, 30 MB for a day of 1,000 series, is allocated and
 * faulted in). Both give the same bytes. The writer owns the result. */
#define STREAM_POINTS 100000

typedef struct answer {
    const srv *s;  /* for the external labels */
    strata_result *res;
    strata_value_type type;
    size_t n;      /* series */
    size_t i;      /* the series being written */
    size_t j;      /* its next point; SIZE_MAX: its head is not written */
    int stage;     /* 0 the envelope's head, 1 the series, 2 done */
    sbuf b;        /* written and not yet taken */
    size_t off;    /* taken from b */
} answer;

static void answer_free(void *ctx)
{
    answer *a = ctx;
    strata_result_free(a->res);
    sbuf_free(&a->b);
    free(a);
}

/* Writes pieces of the answer into a->b until it holds at least want bytes
 * or the answer is complete. */
static int answer_fill(answer *a, size_t want)
{
    static const char *const names[] = {"", "scalar", "vector", "matrix", "string"};
    sbuf *b = &a->b;
    int rc = STRATA_OK;
    int matrix = a->type == STRATA_VALUE_MATRIX;
    while (!rc && a->stage < 2 && b->len < want) {
        if (a->stage == 0) {
            rc = json_raw(b, "{\"status\":\"success\",\"data\":{\"resultType\":\"");
            rc = rc ? rc : json_raw(b, names[a->type >= 1 && a->type <= 4 ? a->type : 0]);
            rc = rc ? rc : json_raw(b, "\",\"result\":");
            if (a->type == STRATA_VALUE_SCALAR) {
                int64_t t = 0;
                double v = strata_result_scalar(a->res, &t);
                rc = rc ? rc : put_point(b, t, v);
                a->i = a->n = 0;
            } else if (a->type == STRATA_VALUE_STRING) {
                int64_t t = 0;
                const char *str = strata_result_string(a->res, &t);
                rc = rc ? rc : json_raw(b, "[");
                rc = rc ? rc : json_time(b, t);
                rc = rc ? rc : json_raw(b, ",");
                rc = rc ? rc : json_str(b, str ? str : "");
                rc = rc ? rc : json_raw(b, "]");
                a->i = a->n = 0;
            } else {
                rc = rc ? rc : json_raw(b, "[");
            }
            a->j = SIZE_MAX;
            a->stage = 1;
        } else if (a->i < a->n) {
            strata_query_series qs;
            strata_result_series(a->res, a->i, &qs);
            if (a->j == SIZE_MAX) {
                rc = json_raw(b, a->i ? ",{\"metric\":" : "{\"metric\":");
                rc = rc ? rc : put_metric_ext(a->s, b, qs.labels, qs.n_labels);
                rc = rc ? rc : json_raw(b, matrix ? ",\"values\":[" : ",\"value\":");
                a->j = 0;
            }
            /* a vector's series has one point, written without brackets */
            size_t np = matrix ? qs.n_points : qs.n_points ? 1 : 0;
            for (; a->j < np && b->len < want && !rc; a->j++) {
                if (a->j && (rc = json_raw(b, ",")) != 0)
                    break;
                rc = put_point(b, qs.points[a->j].t_ms, qs.points[a->j].value);
            }
            if (!rc && a->j >= np) {
                rc = json_raw(b, matrix ? "]}" : "}");
                a->i++;
                a->j = SIZE_MAX;
            }
        } else {
            if (a->type != STRATA_VALUE_SCALAR && a->type != STRATA_VALUE_STRING)
                rc = json_raw(b, "]");
            rc = rc ? rc : json_raw(b, "}");
            size_t nw = strata_result_warning_count(a->res);
            for (size_t k = 0; k < nw && !rc; k++) {
                rc = json_raw(b, k ? "," : ",\"warnings\":[");
                rc = rc ? rc : json_str(b, strata_result_warning(a->res, k));
                if (!rc && k + 1 == nw)
                    rc = json_raw(b, "]");
            }
            rc = rc ? rc : json_raw(b, "}\n");
            a->stage = 2;
        }
    }
    return rc;
}

/* srv_stream_fn: up to max bytes of the answer; 0 at its end, -1 when out
 * of memory (the connection is cut: a truncated answer, never a wrong one). */
static long answer_read(void *ctx, char *buf, size_t max)
{
    answer *a = ctx;
    if (a->off == a->b.len) {
        a->b.len = a->off = 0;
        if (answer_fill(a, max))
            return -1;
    }
    size_t n = a->b.len - a->off;
    if (n > max)
        n = max;
    memcpy(buf, a->b.data + a->off, n);
    a->off += n;
    return (long)n;
}

/* Answers res, which passes to the reply (freed here or by the stream). */
static int reply_result(srv *s, srv_resp *w, strata_result *res)
{
    answer *a = calloc(1, sizeof *a);
    if (!a) {
        strata_result_free(res);
        return srv_reply_error(s, w, HTTP_SERVICE_UNAVAILABLE, R_INTERNAL, "internal", "out of memory");
    }
    a->s = s;
    a->res = res;
    a->type = strata_result_type(res);
    a->n = a->type == STRATA_VALUE_MATRIX || a->type == STRATA_VALUE_VECTOR ? strata_result_series_count(res) : 0;
    size_t points = 0, guess = 64;
    for (size_t i = 0; i < a->n; i++) {
        strata_query_series qs;
        strata_result_series(res, i, &qs);
        points += qs.n_points;
        guess += 128 + qs.n_points * 32;
    }
    if (points > STREAM_POINTS)
        return srv_reply_stream(w, HTTP_OK, "application/json", answer_read, answer_free, a);
    int rc = sbuf_reserve(&a->b, guess);
    rc = rc ? rc : answer_fill(a, SIZE_MAX);
    if (rc) {
        answer_free(a);
        return srv_reply_error(s, w, HTTP_SERVICE_UNAVAILABLE, R_INTERNAL, "internal", "out of memory");
    }
    rc = srv_reply_json(w, HTTP_OK, &a->b);
    answer_free(a);
    return rc;
}

/* Prometheus' answer to a failed query: errorType and status code by class
 * (web/api/v1: bad_data 400, execution 422, timeout 503, canceled 499,
 * internal 500). */
static int eval_error(srv *s, srv_resp *w, int rc, const strata_query_error *e)
{
    const char *msg = e->msg[0] ? e->msg : strata_strerror(rc);
    switch (e->type) {
    case STRATA_QUERY_ERR_BAD_DATA:
        return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_DATA, "bad_data", "%s", msg);
    case STRATA_QUERY_ERR_EXECUTION:
    case STRATA_QUERY_ERR_TOO_MANY_SAMPLES:
        return srv_reply_error(s, w, HTTP_UNPROCESSABLE_CONTENT, R_QUERY_LIMIT, "execution", "%s", msg);
    case STRATA_QUERY_ERR_TIMEOUT:
        return srv_reply_error(s, w, HTTP_SERVICE_UNAVAILABLE, R_QUERY_LIMIT, "timeout", "%s", msg);
    case STRATA_QUERY_ERR_CANCELED:
        return srv_reply_error(s, w, 499, R_QUERY_LIMIT, "canceled", "%s", msg);
    default:
        if (rc == STRATA_ERR_INVALID)
            return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_DATA, "bad_data", "%s", msg);
        return srv_reply_error(s, w, HTTP_INTERNAL_SERVER_ERROR, R_INTERNAL, "internal", "%s", msg);
    }
}

static int bad_param(srv *s, srv_resp *w, const char *name, const char *v, const char *why)
{
    return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_TIME, "bad_data",
                           "invalid parameter \"%s\": cannot parse \"%.80s\"%s%s", name, v ? v : "", why ? ": " : "",
                           why ? why : "");
}

/* A query's options from the server's flags and the request's timeout=
 * and lookback_delta= (each may only narrow what the server allows). */
static int query_options(srv *s, srv_req *r, srv_resp *w, strata_query_options *o, int *ret)
{
    strata_query_options_init(o);
    o->max_samples = s->cfg.query_max_samples;
    o->timeout_ms = s->cfg.query_timeout_ms;
    if (s->cfg.query_lookback_ms > 0)
        o->lookback_ms = s->cfg.query_lookback_ms;
    const char *why = NULL, *tv = srv_param(r, "timeout"), *lv = srv_param(r, "lookback_delta");
    int64_t d;
    if (tv && *tv) {
        if (strata_parse_duration(tv, strlen(tv), &d, &why) || d <= 0) {
            *ret = bad_param(s, w, "timeout", tv, why);
            return -1;
        }
        if (!o->timeout_ms || d < o->timeout_ms)
            o->timeout_ms = d;
    }
    if (lv && *lv) {
        if (strata_parse_duration(lv, strlen(lv), &d, &why) || d <= 0) {
            *ret = bad_param(s, w, "lookback_delta", lv, why);
            return -1;
        }
        o->lookback_ms = d;
    }
    /* Thanos' max_source_resolution: auto (every resolution), raw or 0s
     * (raw data only), or a duration (resolutions up to it) */
    const char *mv = srv_param(r, "max_source_resolution");
    if (mv && *mv && strcmp(mv, "auto") != 0) {
        if (strcmp(mv, "raw") == 0)
            o->max_source_resolution_ms = 0;
        else if (strata_parse_duration(mv, strlen(mv), &d, &why) || d < 0) {
            *ret = bad_param(s, w, "max_source_resolution", mv, why);
            return -1;
        } else
            o->max_source_resolution_ms = d;
    }
    return 0;
}

/* Admission: at most query_max_concurrency queries evaluate at once; the
 * others wait for a slot within their own timeout, as Prometheus' query
 * gate does. 0 when a slot was taken, -1 when the wait timed out. */
static int query_slot_take(srv *s, int64_t timeout_ms)
{
    if (!s->cfg.query_max_concurrency)
        return 0;
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    int64_t ns = (int64_t)dl.tv_nsec + (timeout_ms > 0 ? timeout_ms % 1000 : 0) * 1000000;
    dl.tv_sec += (timeout_ms > 0 ? timeout_ms / 1000 : 3600) + ns / 1000000000;
    dl.tv_nsec = ns % 1000000000;
    int rc = 0;
    pthread_mutex_lock(&s->query_mu);
    while (s->queries_running >= s->cfg.query_max_concurrency && rc == 0)
        rc = pthread_cond_timedwait(&s->query_cond, &s->query_mu, &dl);
    int ok = s->queries_running < s->cfg.query_max_concurrency;
    if (ok)
        s->queries_running++;
    pthread_mutex_unlock(&s->query_mu);
    return ok ? 0 : -1;
}

static void query_slot_give(srv *s)
{
    if (!s->cfg.query_max_concurrency)
        return;
    pthread_mutex_lock(&s->query_mu);
    s->queries_running--;
    pthread_cond_signal(&s->query_cond);
    pthread_mutex_unlock(&s->query_mu);
}

/* Evaluates (instant when step is 0) and answers. */
static int run_query(srv *s, srv_req *r, srv_resp *w, const char *q, int64_t start, int64_t end, int64_t step)
{
    int ret;
    strata_query_options o;
    if (query_options(s, r, w, &o, &ret))
        return ret;
    if (query_slot_take(s, o.timeout_ms))
        return srv_reply_error(s, w, HTTP_SERVICE_UNAVAILABLE, R_QUERY_LIMIT, "timeout",
                               "query timed out in queue: %u queries already running",
                               s->cfg.query_max_concurrency);
    strata_result *res = NULL;
    strata_query_error e;
    memset(&e, 0, sizeof e);
    int rc = step ? strata_query_range(s->db, q, strlen(q), start, end, step, &o, &res, &e)
                  : strata_query_instant(s->db, q, strlen(q), start, &o, &res, &e);
    query_slot_give(s);
    if (rc)
        return eval_error(s, w, rc, &e);
    strata_query_stats st;
    strata_result_stats(res, &st);
    METRIC_ADD(s->m.query_samples, st.samples_loaded);
    return reply_result(s, w, res);
}

int h_query(srv *s, srv_req *r, srv_resp *w)
{
    int ret;
    if (srv_form_load(s, r, w, &ret))
        return ret;
    const char *q = srv_param(r, "query"), *tv = srv_param(r, "time"), *why = NULL;
    if (!q || !*q)
        return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_DATA, "bad_data", "invalid parameter \"query\": empty");
    int64_t t;
    if (srv_time(tv, cli_now_ms(), &t, &why))
        return bad_param(s, w, "time", tv, why);
    return run_query(s, r, w, q, t, t, 0);
}

int h_query_range(srv *s, srv_req *r, srv_resp *w)
{
    int ret;
    if (srv_form_load(s, r, w, &ret))
        return ret;
    const char *q = srv_param(r, "query"), *why = NULL;
    const char *sv = srv_param(r, "start"), *ev = srv_param(r, "end"), *stv = srv_param(r, "step");
    if (!q || !*q)
        return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_DATA, "bad_data", "invalid parameter \"query\": empty");
    int64_t start, end, step;
    if (!sv || srv_time(sv, 0, &start, &why))
        return bad_param(s, w, "start", sv, why ? why : "missing");
    if (!ev || srv_time(ev, 0, &end, &why))
        return bad_param(s, w, "end", ev, why ? why : "missing");
    if (!stv || strata_parse_duration(stv, strlen(stv), &step, &why))
        return bad_param(s, w, "step", stv, why ? why : "missing");
    if (end < start)
        return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_TIME, "bad_data",
                               "invalid parameter \"end\": end timestamp must not be before start time");
    if (step <= 0)
        return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_TIME, "bad_data",
                               "zero or negative query resolution step widths are not accepted. Try a positive integer");
    if (((uint64_t)end - (uint64_t)start) / (uint64_t)step > MAX_POINTS) /* end >= start: no wrap */
        return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_TIME, "bad_data",
                               "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query "
                               "resolution (?step=XX)");
    return run_query(s, r, w, q, start, end, step);
}

/* ------------------------------------------------------------ series */


int h_series(srv *s, srv_req *r, srv_resp *w)
{
    int ret;
    if (srv_form_load(s, r, w, &ret))
        return ret;
    strata_selector *sels;
    size_t n;
    int64_t start, end;
    if (srv_selectors(s, r, w, 1, &sels, &n, &ret))
        return ret;
    size_t limit;
    if (time_range(s, r, w, &start, &end, &ret) || limit_param(s, r, w, &limit, &ret)) {
        srv_selectors_free(sels, n);
        return ret;
    }
    sbuf b = {0};
    int rc = json_raw(&b, "{\"status\":\"success\",\"data\":[");
    size_t count = 0;
    int truncated = 0;
    strata_cursor *cur = NULL;
    if (!rc)
        rc = strata_select_any(s->db, sels, n, start, end, STRATA_SELECT_SERIES_ONLY, &cur);
    if (!rc) {
        strata_sid sid;
        const strata_label *l;
        size_t nl;
        while ((rc = strata_cursor_next_series(cur, &sid, &l, &nl)) == 1) {
            if (limit && count == limit) {
                truncated = 1;
                rc = 0;
                break;
            }
            rc = json_raw(&b, count++ ? "," : "");
            rc = rc ? rc : put_metric_ext(s, &b, l, nl);
            if (rc)
                break;
        }
        if (rc > 0)
            rc = 0;
    }
    strata_cursor_close(cur);
    srv_selectors_free(sels, n);
    rc = rc ? rc : end_list(&b, truncated);
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
    if (srv_form_load(s, r, w, &ret))
        return ret;
    strata_selector *sels;
    size_t n;
    int64_t start, end;
    if (srv_selectors(s, r, w, 0, &sels, &n, &ret))
        return ret;
    size_t limit;
    if (time_range(s, r, w, &start, &end, &ret) || limit_param(s, r, w, &limit, &ret)) {
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
    int truncated = 0;
    for (size_t i = 0, k = 0; i < n_all && !rc; i++) {
        if (i && !strcmp(all[i], all[i - 1]))
            continue;
        if (limit && k == limit) {
            truncated = 1;
            break;
        }
        rc = json_raw(&b, k++ ? "," : "");
        rc = rc ? rc : json_str(&b, all[i]);
    }
    rc = rc ? rc : end_list(&b, truncated);
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

/* Prometheus 3's unescaping of a label name in a URL path (Grafana sends
 * names that are not [a-zA-Z_][a-zA-Z0-9_]* so): after the prefix U__,
 * "__" is "_", "_HEX_" is the code point HEX, anything else stands for
 * itself; a name that is not a valid escape stays as it is. Writes into
 * out (at least strlen(in) + 1 bytes). */
static void unescape_name(const char *in, char *out)
{
    size_t n = strlen(in);
    memcpy(out, in, n + 1);
    if (strncmp(in, "U__", 3))
        return;
    char *o = out;
    for (size_t i = 3; i < n;) {
        if (in[i] != '_') {
            *o++ = in[i++];
            continue;
        }
        if (i + 1 < n && in[i + 1] == '_') {
            *o++ = '_';
            i += 2;
            continue;
        }
        size_t j = i + 1;
        unsigned long cp = 0;
        while (j < n && j - i <= 8 && isxdigit((unsigned char)in[j]))
            cp = cp * 16 + (unsigned long)(isdigit((unsigned char)in[j]) ? in[j] - '0' : (in[j] | 0x20) - 'a' + 10), j++;
        if (j == i + 1 || j >= n || in[j] != '_' || cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            memcpy(out, in, n + 1); /* not a valid escape: the name as sent */
            return;
        }
        if (cp < 0x80) {
            *o++ = (char)cp;
        } else if (cp < 0x800) {
            *o++ = (char)(0xc0 | cp >> 6), *o++ = (char)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            *o++ = (char)(0xe0 | cp >> 12), *o++ = (char)(0x80 | (cp >> 6 & 0x3f)), *o++ = (char)(0x80 | (cp & 0x3f));
        } else {
            *o++ = (char)(0xf0 | cp >> 18), *o++ = (char)(0x80 | (cp >> 12 & 0x3f));
            *o++ = (char)(0x80 | (cp >> 6 & 0x3f)), *o++ = (char)(0x80 | (cp & 0x3f));
        }
        i = j + 1;
    }
    *o = 0;
}

int h_label_values(srv *s, srv_req *r, srv_resp *w)
{
    const char *raw = r->path_arg;
    if (!raw || !*raw)
        return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_DATA, "bad_data", "empty label name");
    /* a code point's UTF-8 is at most 4 bytes, its escape at least 3 */
    char *name = malloc(strlen(raw) * 2 + 1);
    if (!name)
        return STRATA_ERR_NOMEM;
    unescape_name(raw, name);
    /* Prometheus 3 takes any UTF-8 name; the library refuses what it
     * cannot hold (a NUL never reaches here: the path is a C string). */
    int ret = strings_reply(s, r, w, name);
    free(name);
    return ret;
}

int srv_time_range(srv *s, srv_req *r, srv_resp *w, int64_t *start, int64_t *end, int *ret)
{
    return time_range(s, r, w, start, end, ret);
}
