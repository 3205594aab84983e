/*
 * h_status.c: the status endpoints of Prometheus' HTTP API that clients
 * probe when they first meet a server (Grafana's data source, promtool,
 * load balancers): build, flags, runtime, config and TSDB (cardinality)
 * status, and the endpoints of features strata has no part of (rules,
 * alerts, targets, exemplars), which answer an empty success so that
 * clients stop probing instead of reporting an error.
 *
 * Shapes follow Prometheus 3's web/api/v1 (field names and types); the
 * values are strata's own.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

/* The Prometheus version strata answers for: Grafana's Prometheus data
 * source gates features on it (as VictoriaMetrics answers 2.24.0), and
 * strata follows Prometheus 3's PromQL and API. */
#define SRV_PROM_COMPAT_VERSION "3.0.0"

/* Ends an answer built in b: appends tail and replies 200, or frees b
 * and returns the first error met (rc, or the append's). */
static int finish(srv_resp *w, sbuf *b, int rc, const char *tail)
{
    rc = rc ? rc : json_raw(b, tail);
    if (rc) {
        sbuf_free(b);
        return rc;
    }
    return srv_reply_json(w, HTTP_OK, b);
}

static int reply_data(srv_resp *w, const char *data_json)
{
    sbuf b = {0};
    int rc = json_raw(&b, "{\"status\":\"success\",\"data\":");
    rc = rc ? rc : json_raw(&b, data_json);
    return finish(w, &b, rc, "}\n");
}

/* ------------------------------------------------------------ probes */

int h_healthy(srv *s, srv_req *r, srv_resp *w)
{
    (void)s;
    (void)r;
    static const char msg[] = "strata is Healthy.\n";
    return srv_reply(w, HTTP_OK, "text/plain; charset=utf-8", msg, sizeof msg - 1);
}

/* Ready once the database is open, which strata serve does before it
 * listens; not ready while stopping. */
int h_ready(srv *s, srv_req *r, srv_resp *w)
{
    (void)r;
    if (__atomic_load_n(&s->stopping, __ATOMIC_ACQUIRE)) {
        static const char msg[] = "strata is stopping.\n";
        return srv_reply(w, HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", msg, sizeof msg - 1);
    }
    static const char msg[] = "strata is Ready.\n";
    return srv_reply(w, HTTP_OK, "text/plain; charset=utf-8", msg, sizeof msg - 1);
}

/* ------------------------------------------------------------ empty features */

int h_rules(srv *s, srv_req *r, srv_resp *w)
{
    (void)s;
    (void)r;
    return reply_data(w, "{\"groups\":[]}");
}

int h_alerts(srv *s, srv_req *r, srv_resp *w)
{
    (void)s;
    (void)r;
    return reply_data(w, "{\"alerts\":[]}");
}

int h_targets(srv *s, srv_req *r, srv_resp *w)
{
    (void)s;
    (void)r;
    return reply_data(w, "{\"activeTargets\":[],\"droppedTargets\":[]}");
}

/* No exemplars are stored; the query is still checked, as Prometheus
 * checks it, so a client learns of a bad one. */
int h_exemplars(srv *s, srv_req *r, srv_resp *w)
{
    if (srv_params_load(r))
        return STRATA_ERR_NOMEM;
    const char *q = srv_param(r, "query");
    if (!q)
        return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_DATA, "bad_data", "query is required");
    strata_query *pq = NULL;
    strata_query_error err;
    int rc = strata_query_parse(q, strlen(q), &pq, &err);
    strata_query_free(pq);
    if (rc == STRATA_ERR_NOMEM)
        return rc;
    if (rc)
        return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_DATA, "bad_data", "%s", err.msg);
    int64_t start, end;
    int ret;
    if (srv_time_range(s, r, w, &start, &end, &ret))
        return ret;
    return reply_data(w, "[]");
}

/* ------------------------------------------------------------ build, flags, runtime, config */

int h_buildinfo(srv *s, srv_req *r, srv_resp *w)
{
    (void)s;
    (void)r;
    sbuf b = {0};
    int rc = json_raw(&b, "{\"status\":\"success\",\"data\":{\"version\":\"" SRV_PROM_COMPAT_VERSION "\"");
    rc = rc ? rc : json_raw(&b, ",\"revision\":\"\",\"branch\":\"\",\"buildUser\":\"\",\"buildDate\":\"\"");
    rc = rc ? rc : json_raw(&b, ",\"goVersion\":\"\",\"application\":\"strata\",\"strataVersion\":");
    rc = rc ? rc : json_str(&b, strata_version());
    return finish(w, &b, rc, "}}\n");
}

static int flag_str(sbuf *b, int *first, const char *name, const char *value)
{
    int rc = json_raw(b, *first ? "" : ",");
    *first = 0;
    rc = rc ? rc : json_str(b, name);
    rc = rc ? rc : json_raw(b, ":");
    return rc ? rc : json_str(b, value ? value : "");
}

static int flag_u64(sbuf *b, int *first, const char *name, uint64_t v)
{
    char t[24];
    snprintf(t, sizeof t, "%" PRIu64, v);
    return flag_str(b, first, name, t);
}

/* A duration in Prometheus' flag form ("15d", "2m", "0s"). */
static void dur_text(char *t, size_t len, int64_t ms)
{
    static const struct {
        int64_t ms;
        const char *unit;
    } units[] = {{86400000 * 365LL, "y"}, {86400000 * 7LL, "w"}, {86400000, "d"}, {3600000, "h"},
                 {60000, "m"},           {1000, "s"},          {1, "ms"}};
    snprintf(t, len, "0s");
    for (size_t i = 0; ms > 0 && i < sizeof units / sizeof units[0]; i++)
        if (ms % units[i].ms == 0) {
            snprintf(t, len, "%" PRId64 "%s", ms / units[i].ms, units[i].unit);
            break;
        }
}

static int flag_dur(sbuf *b, int *first, const char *name, int64_t ms)
{
    char t[32];
    dur_text(t, sizeof t, ms);
    return flag_str(b, first, name, t);
}

/* Every option strata serve runs with, by its command-line name, as
 * Prometheus lists every flag with its effective value. */
int h_flags(srv *s, srv_req *r, srv_resp *w)
{
    (void)r;
    const strata_options *o = &s->opts;
    static const char *const sync_names[] = {"interval", "always", "none"};
    sbuf b = {0};
    int first = 1;
    int rc = json_raw(&b, "{\"status\":\"success\",\"data\":{");
    rc = rc ? rc : flag_str(&b, &first, "data", s->data_dir);
    rc = rc ? rc : flag_str(&b, &first, "listen", s->cfg.listen);
    rc = rc ? rc : flag_str(&b, &first, "sync", (unsigned)o->sync < 3 ? sync_names[o->sync] : "?");
    rc = rc ? rc : flag_dur(&b, &first, "sync-interval", o->sync_interval_ms);
    rc = rc ? rc : flag_dur(&b, &first, "partition", o->partition_ms);
    rc = rc ? rc : flag_dur(&b, &first, "retention", o->retention_ms);
    rc = rc ? rc : flag_str(&b, &first, "retention-filter", s->cfg.retention_filter);
    rc = rc ? rc : flag_str(&b, &first, "downsampling", s->cfg.downsampling);
    rc = rc ? rc : flag_str(&b, &first, "planner", o->planner == STRATA_PLANNER_LEVELED ? "leveled" : "tiered");
    rc = rc ? rc : flag_u64(&b, &first, "head-budget", o->head_budget_bytes);
    rc = rc ? rc : flag_u64(&b, &first, "compaction-threads", (uint64_t)o->compaction_threads);
    rc = rc ? rc : flag_u64(&b, &first, "max-series", o->max_series);
    rc = rc ? rc : flag_u64(&b, &first, "max-body", s->cfg.max_body);
    rc = rc ? rc : flag_u64(&b, &first, "max-labels", s->cfg.max_labels);
    rc = rc ? rc : flag_u64(&b, &first, "max-label-len", s->cfg.max_label_len);
    rc = rc ? rc : flag_u64(&b, &first, "max-read-samples", s->cfg.max_read_samples);
    rc = rc ? rc : flag_u64(&b, &first, "threads", s->cfg.threads);
    rc = rc ? rc : flag_u64(&b, &first, "query-max-samples", s->cfg.query_max_samples);
    rc = rc ? rc : flag_dur(&b, &first, "query-timeout", s->cfg.query_timeout_ms);
    rc = rc ? rc : flag_u64(&b, &first, "query-max-concurrency", s->cfg.query_max_concurrency);
    rc = rc ? rc : flag_dur(&b, &first, "query-lookback-delta", s->cfg.query_lookback_ms);
    rc = rc ? rc : flag_str(&b, &first, "auth", s->cfg.auth_token ? "bearer" : s->cfg.basic_auth ? "basic" : "none");
    return finish(w, &b, rc, "}}\n");
}

static int rt_u64(sbuf *b, const char *name, uint64_t v)
{
    char t[64];
    snprintf(t, sizeof t, ",\"%s\":%" PRIu64, name, v);
    return json_raw(b, t);
}

/* Prometheus' runtimeinfo fields where strata has them (Go's runtime
 * fields have no meaning here and are left out), then strata's own. */
int h_runtimeinfo(srv *s, srv_req *r, srv_resp *w)
{
    (void)r;
    strata_stats st;
    int rc = strata_get_stats(s->db, &st, sizeof st);
    if (rc)
        return srv_reply_error(s, w, HTTP_INTERNAL_SERVER_ERROR, R_INTERNAL, "internal", "%s", strata_strerror(rc));
    char t[STRATA_TIME_MAX + 1];
    sbuf b = {0};
    t[strata_format_time(s->start_ms, t)] = 0; /* it writes no NUL */
    rc = json_raw(&b, "{\"status\":\"success\",\"data\":{\"startTime\":");
    rc = rc ? rc : json_str(&b, t);
    rc = rc ? rc : json_raw(&b, ",\"CWD\":");
    rc = rc ? rc : json_str(&b, s->data_dir);
    rc = rc ? rc : json_raw(&b, ",\"reloadConfigSuccess\":true,\"lastConfigTime\":");
    rc = rc ? rc : json_str(&b, t);
    rc = rc ? rc : json_raw(&b, ",\"storageRetention\":");
    if (!rc) {
        /* Prometheus' form ("15d"), then the rules per series, if any */
        char d[32] = "unlimited";
        if (s->opts.retention_ms > 0)
            dur_text(d, sizeof d, s->opts.retention_ms);
        const char *f = s->cfg.retention_filter;
        if (f && *f) {
            size_t len = strlen(d) + strlen(f) + 16;
            char *text = malloc(len);
            rc = text ? STRATA_OK : STRATA_ERR_NOMEM;
            if (text)
                snprintf(text, len, "%s, per series: %s", d, f);
            rc = rc ? rc : json_str(&b, text);
            free(text);
        } else {
            rc = json_str(&b, d);
        }
    }
    rc = rc ? rc : rt_u64(&b, "corruptionCount", st.quarantined_files + st.wal_corrupt_records);
    rc = rc ? rc : rt_u64(&b, "series", st.series);
    rc = rc ? rc : rt_u64(&b, "headSeries", st.head_series);
    rc = rc ? rc : rt_u64(&b, "headSamples", st.head_samples);
    rc = rc ? rc : rt_u64(&b, "headBytes", st.head_bytes);
    rc = rc ? rc : rt_u64(&b, "walBytes", st.wal_bytes);
    rc = rc ? rc : rt_u64(&b, "walSegments", st.wal_segments);
    rc = rc ? rc : rt_u64(&b, "partitions", st.partitions);
    rc = rc ? rc : rt_u64(&b, "tableFiles", st.table_files);
    rc = rc ? rc : rt_u64(&b, "tableBytes", st.table_bytes);
    rc = rc ? rc : rt_u64(&b, "tableSamples", st.table_samples);
    return finish(w, &b, rc, "}}\n");
}

/* A configuration document as Prometheus serves its own: strata scrapes
 * nothing, so the YAML holds the global evaluation settings only. */
int h_config(srv *s, srv_req *r, srv_resp *w)
{
    (void)s;
    (void)r;
    static const char yaml[] = "global:\n  scrape_interval: 1m\n  scrape_timeout: 10s\n  evaluation_interval: 1m\n"
                               "  query_log_file: \"\"\nscrape_configs: []\n";
    sbuf b = {0};
    int rc = json_raw(&b, "{\"status\":\"success\",\"data\":{\"yaml\":");
    rc = rc ? rc : json_str(&b, yaml);
    return finish(w, &b, rc, "}}\n");
}

/* ------------------------------------------------------------ metadata */

/* Prometheus' limit parameters: absent or negative is no limit; 0 lists
 * nothing (as Prometheus answers it). Returns 0, or -1 after a 400. */
static int md_limit(srv *s, srv_req *r, srv_resp *w, const char *name, long long *out, int *ret)
{
    *out = -1;
    const char *v = srv_param(r, name);
    if (!v || !*v)
        return 0;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (*end || errno) {
        *ret = srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_DATA, "bad_data", "%s must be a number", name);
        return -1;
    }
    *out = x;
    return 0;
}

/* GET /api/v1/metadata: {"metric": [{"type","help","unit"}, ...], ...}. */
int h_metadata(srv *s, srv_req *r, srv_resp *w)
{
    int ret;
    if (srv_params_load(r))
        return STRATA_ERR_NOMEM;
    long long limit, per;
    if (md_limit(s, r, w, "limit", &limit, &ret) || md_limit(s, r, w, "limit_per_metric", &per, &ret))
        return ret;
    const char *metric = srv_param(r, "metric");
    strata_metadata *m = NULL;
    size_t n = 0;
    int rc = STRATA_OK;
    if (limit != 0 && per != 0)
        rc = strata_metadata_get(s->db, metric && *metric ? metric : NULL, limit < 0 ? 0 : (size_t)limit,
                                 per < 0 ? 0 : (size_t)per, &m, &n);
    if (rc) {
        if (rc == STRATA_ERR_NOMEM)
            return rc;
        return srv_reply_error(s, w, HTTP_INTERNAL_SERVER_ERROR, R_INTERNAL, "internal", "%s", strata_strerror(rc));
    }
    sbuf b = {0};
    rc = json_raw(&b, "{\"status\":\"success\",\"data\":{");
    for (size_t i = 0; i < n && !rc; i++) {
        int first = !i || strcmp(m[i - 1].metric, m[i].metric);
        if (first) {
            rc = json_raw(&b, i ? "]," : "");
            rc = rc ? rc : json_str(&b, m[i].metric);
            rc = rc ? rc : json_raw(&b, ":[");
        } else {
            rc = json_raw(&b, ",");
        }
        rc = rc ? rc : json_raw(&b, "{\"type\":");
        rc = rc ? rc : json_str(&b, m[i].type);
        rc = rc ? rc : json_raw(&b, ",\"help\":");
        rc = rc ? rc : json_str(&b, m[i].help);
        rc = rc ? rc : json_raw(&b, ",\"unit\":");
        rc = rc ? rc : json_str(&b, m[i].unit);
        rc = rc ? rc : json_raw(&b, "}");
    }
    strata_free(m);
    return finish(w, &b, rc, n ? "]}}\n" : "}}\n");
}

/* ------------------------------------------------------------ format_query, parse_query */

/* Parses the query parameter and answers it printed in style: a string
 * for format_query, the AST's JSON for parse_query (as Prometheus 3). */
static int query_printed(srv *s, srv_req *r, srv_resp *w, strata_query_format_style style)
{
    if (srv_params_load(r))
        return STRATA_ERR_NOMEM;
    const char *q = srv_param(r, "query");
    if (!q)
        return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_DATA, "bad_data", "query is required");
    strata_query *pq = NULL;
    strata_query_error err;
    int rc = strata_query_parse(q, strlen(q), &pq, &err);
    if (rc == STRATA_ERR_NOMEM)
        return rc;
    if (rc)
        return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_DATA, "bad_data", "%s", err.msg);
    char *text = NULL;
    rc = strata_query_format(pq, style, &text, NULL);
    strata_query_free(pq);
    if (rc)
        return rc;
    sbuf b = {0};
    rc = json_raw(&b, "{\"status\":\"success\",\"data\":");
    rc = rc ? rc : style == STRATA_QUERY_FORMAT_JSON ? json_raw(&b, text) : json_str(&b, text);
    strata_free(text);
    return finish(w, &b, rc, "}\n");
}

int h_format_query(srv *s, srv_req *r, srv_resp *w)
{
    return query_printed(s, r, w, STRATA_QUERY_FORMAT_PRETTY);
}

int h_parse_query(srv *s, srv_req *r, srv_resp *w)
{
    return query_printed(s, r, w, STRATA_QUERY_FORMAT_JSON);
}
