/*
 * server.h: the HTTP server's internal interface, shared by its files.
 *
 *   serve.c     `strata serve`: options, start, signals, graceful stop
 *   http.c      libmicrohttpd glue: routing, auth, bodies, limits, replies,
 *               request parameters, per-handler accounting
 *   h_write.c   line protocol (/write, /api/v2/write) and JSON-lines import
 *   h_remote.c  Prometheus remote write and read (codec in remote.c)
 *   h_query.c   Prometheus HTTP API: query, query_range, series, labels
 *   h_admin.c   export (streamed), delete_series, snapshot, force_flush,
 *               force_merge, /metrics, /health
 *   metrics.c   the server's own counters and latency histograms
 *
 * Threads: libmicrohttpd runs a pool; a request is handled entirely by one
 * pool thread. Everything shared (srv, metrics) is read-only after start or
 * updated with atomics; the strata_db is thread-safe.
 */
#ifndef STRATA_SERVER_H
#define STRATA_SERVER_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdint.h>

#include "../cli/cli.h"
#include "sbuf.h"
#include "strata.h"

/* Handlers, in the order of the routing table and of /metrics. */
typedef enum srv_handler {
    H_WRITE, H_PROM_WRITE, H_PROM_READ, H_QUERY, H_QUERY_RANGE, H_SERIES, H_LABELS, H_LABEL_VALUES,
    H_EXPORT, H_IMPORT, H_DELETE, H_SNAPSHOT, H_FLUSH, H_MERGE, H_METRICS, H_HEALTH, H_OTHER, H_COUNT
} srv_handler;

/* Error reasons counted in /metrics (strata_http_errors_total{reason}). */
typedef enum srv_reason {
    R_BAD_DATA, R_BAD_ENCODING, R_BAD_PROTOBUF, R_BAD_CONTENT_TYPE, R_TOO_LARGE, R_TOO_MANY_LABELS,
    R_BAD_MATCHER, R_BAD_TIME, R_PARTIAL_WRITE, R_UNAUTHORIZED, R_NOT_FOUND, R_METHOD, R_UNAVAILABLE,
    R_INTERNAL, R_COUNT
} srv_reason;

#define SRV_LAT_BUCKETS 12

typedef struct srv_metrics {
    uint64_t requests[H_COUNT][6];   /* by class: 1xx..5xx as [1..5], [0] other */
    uint64_t lat_bucket[H_COUNT][SRV_LAT_BUCKETS];
    uint64_t lat_count[H_COUNT];
    uint64_t lat_sum_ns[H_COUNT];
    uint64_t errors[R_COUNT];
    uint64_t samples_in[3];          /* influx, remote write, import */
    uint64_t lines_rejected;
    uint64_t series_created;
    uint64_t bytes_in;
    uint64_t samples_out;            /* by remote read and export */
    uint64_t in_flight;
} srv_metrics;

typedef struct srv_config {
    const char *listen;       /* host:port, [v6]:port or :port */
    const char *auth_token;   /* NULL: none */
    const char *basic_auth;   /* USER:PASS, NULL: none */
    size_t max_body;          /* bytes, compressed and decompressed */
    size_t max_labels;
    size_t max_label_len;
    size_t max_read_samples;  /* per remote read / export-free queries */
    unsigned threads;
} srv_config;

typedef struct srv {
    strata_db *db;
    const char *data_dir;
    srv_config cfg;
    char *basic_expect;       /* "Basic base64(user:pass)" */
    int64_t start_ms;
    srv_metrics m;
    int stopping;             /* atomic: new requests get 503 */
    pthread_mutex_t mu;       /* guards in-flight count for shutdown */
    pthread_cond_t idle;
    long active;
    struct MHD_Daemon *daemon;
} srv;

/* A (name, value) request parameter from the URL or a form body. */
typedef struct srv_param {
    char *name;
    char *value;
} srv_kv;

/* One request's state, from its first callback to completion. */
typedef struct srv_req {
    srv_handler h;
    const char *method;
    const char *url;
    char *path_arg;          /* NAME of /api/v1/label/NAME/values */
    sbuf body;
    int too_large;
    int status;              /* the status code replied */
    uint64_t t0_ns;
    srv_kv *params;
    size_t n_params, cap_params;
    int params_ready;
} srv_req;

/* ---- http.c */
int srv_start(srv *s);
void srv_stop(srv *s);  /* stop accepting, wait for requests in flight, close */

/* Queue replies; each returns the MHD result and records the status. */
enum MHD_Result srv_reply(struct MHD_Connection *c, srv_req *r, unsigned status, const char *ctype,
                          const void *body, size_t len);
/* Takes ownership of body (free()d by MHD). */
enum MHD_Result srv_reply_owned(struct MHD_Connection *c, srv_req *r, unsigned status, const char *ctype,
                                void *body, size_t len, const char *encoding);
/* Prometheus' error envelope {"status":"error","errorType":..,"error":..}. */
enum MHD_Result srv_reply_error(srv *s, struct MHD_Connection *c, srv_req *r, unsigned status,
                                srv_reason reason, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
enum MHD_Result srv_reply_json(struct MHD_Connection *c, srv_req *r, unsigned status, sbuf *b);

/* Parameters of the URL and of an x-www-form-urlencoded body. */
int srv_params_load(struct MHD_Connection *c, srv_req *r);
const char *srv_param(const srv_req *r, const char *name);
/* Every value of name, in order; *out (free()) may be NULL when n is 0. */
int srv_param_all(const srv_req *r, const char *name, const char ***out, size_t *n);

/* Request headers. */
const char *srv_header(struct MHD_Connection *c, const char *name);

/* Decompresses a gzip / deflate body in place when Content-Encoding says
 * so (limit: max_body). Returns 0, or queues a 4xx and returns -1 with
 * *ret set. */
int srv_body_decode(srv *s, struct MHD_Connection *c, srv_req *r, enum MHD_Result *ret);

/* Times: RFC 3339, Unix seconds, or relative. 0 or STRATA_ERR_INVALID. */
int srv_time(const char *v, int64_t dflt, int64_t *out, const char **why);

/* JSON helpers for sbuf. */
int json_str(sbuf *b, const char *s);
int json_raw(sbuf *b, const char *s);
int json_time(sbuf *b, int64_t ms);    /* float seconds, shortest */
int json_value(sbuf *b, double v);     /* quoted, Prometheus style */

/* ---- handlers */
enum MHD_Result h_write(srv *s, struct MHD_Connection *c, srv_req *r);
enum MHD_Result h_import(srv *s, struct MHD_Connection *c, srv_req *r);
enum MHD_Result h_prom_write(srv *s, struct MHD_Connection *c, srv_req *r);
enum MHD_Result h_prom_read(srv *s, struct MHD_Connection *c, srv_req *r);
enum MHD_Result h_query(srv *s, struct MHD_Connection *c, srv_req *r);
enum MHD_Result h_query_range(srv *s, struct MHD_Connection *c, srv_req *r);
enum MHD_Result h_series(srv *s, struct MHD_Connection *c, srv_req *r);
enum MHD_Result h_labels(srv *s, struct MHD_Connection *c, srv_req *r);
enum MHD_Result h_label_values(srv *s, struct MHD_Connection *c, srv_req *r);
enum MHD_Result h_export(srv *s, struct MHD_Connection *c, srv_req *r);
enum MHD_Result h_delete(srv *s, struct MHD_Connection *c, srv_req *r);
enum MHD_Result h_snapshot(srv *s, struct MHD_Connection *c, srv_req *r);
enum MHD_Result h_flush(srv *s, struct MHD_Connection *c, srv_req *r);
enum MHD_Result h_merge(srv *s, struct MHD_Connection *c, srv_req *r);
enum MHD_Result h_metrics(srv *s, struct MHD_Connection *c, srv_req *r);

/* Parses the match[] selectors of r (required: at least one). On error
 * queues a 400 and returns -1 with *ret set. *sels freed by sels_free. */
int srv_selectors(srv *s, struct MHD_Connection *c, srv_req *r, int required, strata_selector **sels, size_t *n,
                  enum MHD_Result *ret);
void srv_selectors_free(strata_selector *sels, size_t n);

/* ---- metrics.c */
void metrics_request_done(srv *s, srv_req *r);
void metrics_error(srv *s, srv_reason reason);
#define METRIC_ADD(field, v) __atomic_fetch_add(&(field), (v), __ATOMIC_RELAXED)
int metrics_render(srv *s, sbuf *out);
extern const char *const srv_handler_names[H_COUNT];

#endif
