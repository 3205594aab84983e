/*
 * server.h: the HTTP server's internal interface, shared by its files.
 *
 *   serve.c     `strata serve`: options, start, signals, graceful stop
 *   http.c      libmicrohttpd glue, the only file that sees it: a request
 *               becomes an srv_req, the handler's srv_resp becomes the
 *               reply; auth, body limits, graceful stop
 *   route.c     the routing table and dispatch, made from SRV_ROUTES
 *   request.c   request parameters, headers, bodies; building replies;
 *               the JSON helpers
 *   h_write.c   line protocol (/write, /api/v2/write) and JSON-lines import
 *   h_import_prom.c  Prometheus text exposition import (expfmt.c)
 *   h_remote.c  Prometheus remote write and read (codec in remote.c;
 *               streamed read in rr_stream.c over xorchunk.c; external
 *               labels in extlabels.c)
 *   h_remote_v2.c  remote write 2.0 (codec in remote_v2.c)
 *   h_otlp.c    OpenTelemetry OTLP/HTTP metrics (codec and translation in
 *               otlp*.c)
 *   h_query.c   Prometheus HTTP API: query, query_range, series, labels
 *   h_admin.c   export (streamed), delete_series, snapshot, force_flush,
 *               force_merge, /metrics, /health
 *   metrics.c   the server's own counters and latency histograms
 *   pool.c      the worker pools that run the handlers of each class
 *   h_status.c  status and probe endpoints (buildinfo, flags, runtimeinfo,
 *               config, rules, alerts, targets, exemplars, /-/healthy...),
 *               metadata, format_query and parse_query
 *   h_tsdb.c    /api/v1/status/tsdb (cardinality)
 *   h_ui.c      the web UI's assets (compiled in from ui/dist) and
 *               /api/v1/status/storage
 *
 * A handler takes the request as an srv_req and fills an srv_resp, both
 * plain data of ours, so handlers run without a socket (the unit test
 * tests/unit/server_handlers.c builds requests in memory).
 *
 * Threads: libmicrohttpd's threads (--threads) do the I/O of every
 * connection and answer /health and /metrics themselves; every other
 * handler runs in the worker pool of its class (srv_class: write, read,
 * admin), each with its own threads and bounded queue, so that no class
 * can starve another (http.c says how). Everything shared (srv, metrics)
 * is read-only after start or updated with atomics; the strata_db is
 * thread-safe.
 */
#ifndef STRATA_SERVER_H
#define STRATA_SERVER_H

#include <pthread.h>
#include <stdint.h>

#include "../cli/clock.h" /* the program's clocks: cli_now_ns, cli_now_ms */
#include "sbuf.h"
#include "strata.h"

struct MHD_Daemon;

/* Methods a route takes (bits). */
enum { M_GET = 1, M_POST = 2, M_PUT = 4, M_HEAD = 8 };

/*
 * Every endpoint, one line each, in the order of routing (first match
 * wins) and of /metrics:
 *   ROUTE(methods, path, handler function, handler enum, metric name)
 *   ALSO(methods, path, handler enum)   another path to a ROUTE above
 * A path is exact, or holds one '*' that matches a non-empty part of the
 * URL, handed to the handler as r->path_arg. From this list come the
 * srv_handler enum, the handler prototypes, the routing table and the
 * dispatch (route.c) and srv_handler_names (metrics.c). A new endpoint is
 * a line here and its handler.
 */
#define SRV_ROUTES(ROUTE, ALSO)                                                                        \
    ROUTE(M_POST, "/write", h_write, H_WRITE, "write")                                                 \
    ALSO(M_POST, "/api/v2/write", H_WRITE)                                                             \
    ROUTE(M_POST | M_PUT, "/api/v1/write", h_prom_write, H_PROM_WRITE, "prom_write")                   \
    ROUTE(M_POST, "/api/v1/read", h_prom_read, H_PROM_READ, "prom_read")                               \
    ROUTE(M_POST, "/opentelemetry/v1/metrics", h_otlp_metrics, H_OTLP, "otlp_metrics")                 \
    ALSO(M_POST, "/api/v1/otlp/v1/metrics", H_OTLP)                                                    \
    ROUTE(M_GET | M_POST, "/api/v1/query", h_query, H_QUERY, "query")                                  \
    ROUTE(M_GET | M_POST, "/api/v1/query_range", h_query_range, H_QUERY_RANGE, "query_range")          \
    ROUTE(M_GET | M_POST, "/api/v1/series", h_series, H_SERIES, "series")                              \
    ROUTE(M_GET | M_POST, "/api/v1/labels", h_labels, H_LABELS, "labels")                              \
    ROUTE(M_GET | M_POST, "/api/v1/label/*/values", h_label_values, H_LABEL_VALUES, "label_values")    \
    ROUTE(M_GET | M_POST, "/api/v1/export", h_export, H_EXPORT, "export")                              \
    ROUTE(M_POST | M_PUT, "/api/v1/import", h_import, H_IMPORT, "import")                              \
    ROUTE(M_POST | M_PUT, "/api/v1/import/prometheus", h_import_prom, H_IMPORT_PROM, "import_prometheus") \
    ROUTE(M_POST | M_PUT, "/api/v1/admin/tsdb/delete_series", h_delete, H_DELETE, "delete_series")     \
    ROUTE(M_POST | M_PUT, "/api/v1/admin/tsdb/snapshot", h_snapshot, H_SNAPSHOT, "snapshot")           \
    ROUTE(M_GET | M_POST, "/internal/force_flush", h_flush, H_FLUSH, "force_flush")                    \
    ROUTE(M_GET | M_POST, "/internal/force_merge", h_merge, H_MERGE, "force_merge")                    \
    ROUTE(M_GET | M_HEAD, "/metrics", h_metrics, H_METRICS, "metrics")                                 \
    ROUTE(M_GET | M_HEAD, "/health", h_health, H_HEALTH, "health")                                     \
    ROUTE(M_GET | M_HEAD, "/-/healthy", h_healthy, H_HEALTHY, "healthy")                               \
    ROUTE(M_GET | M_HEAD, "/-/ready", h_ready, H_READY, "ready")                                       \
    ROUTE(M_GET, "/api/v1/status/buildinfo", h_buildinfo, H_BUILDINFO, "buildinfo")                    \
    ROUTE(M_GET, "/api/v1/status/flags", h_flags, H_FLAGS, "flags")                                    \
    ROUTE(M_GET, "/api/v1/status/runtimeinfo", h_runtimeinfo, H_RUNTIMEINFO, "runtimeinfo")            \
    ROUTE(M_GET, "/api/v1/status/config", h_config, H_CONFIG, "config")                                \
    ROUTE(M_GET | M_POST, "/api/v1/status/tsdb", h_tsdb, H_TSDB, "tsdb")                               \
    ROUTE(M_GET | M_POST, "/api/v1/query_exemplars", h_exemplars, H_EXEMPLARS, "query_exemplars")      \
    ROUTE(M_GET, "/api/v1/rules", h_rules, H_RULES, "rules")                                           \
    ROUTE(M_GET, "/api/v1/alerts", h_alerts, H_ALERTS, "alerts")                                       \
    ROUTE(M_GET, "/api/v1/targets", h_targets, H_TARGETS, "targets")                                   \
    ROUTE(M_GET, "/api/v1/metadata", h_metadata, H_METADATA, "metadata")                               \
    ROUTE(M_GET | M_POST, "/api/v1/format_query", h_format_query, H_FORMAT_QUERY, "format_query")      \
    ROUTE(M_GET | M_POST, "/api/v1/parse_query", h_parse_query, H_PARSE_QUERY, "parse_query")          \
    ROUTE(M_GET, "/api/v1/status/storage", h_status_storage, H_STATUS_STORAGE, "status_storage")       \
    ROUTE(M_GET | M_HEAD, "/", h_ui, H_UI, "ui")                                                       \
    ALSO(M_GET | M_HEAD, "/assets/*", H_UI)

#define SRV_X_ENUM(methods, path, fn, name, metric) name,
#define SRV_X_NONE(methods, path, name)
/* Handlers; H_OTHER counts requests no route took (404s). */
typedef enum srv_handler { SRV_ROUTES(SRV_X_ENUM, SRV_X_NONE) H_OTHER, H_COUNT } srv_handler;
#undef SRV_X_ENUM

/* HTTP status codes the server replies with. */
enum {
    HTTP_OK = 200,
    HTTP_NO_CONTENT = 204,
    HTTP_BAD_REQUEST = 400,
    HTTP_UNAUTHORIZED = 401,
    HTTP_NOT_FOUND = 404,
    HTTP_METHOD_NOT_ALLOWED = 405,
    HTTP_CONTENT_TOO_LARGE = 413,
    HTTP_UNSUPPORTED_MEDIA_TYPE = 415,
    HTTP_UNPROCESSABLE_CONTENT = 422,
    HTTP_INTERNAL_SERVER_ERROR = 500,
    HTTP_SERVICE_UNAVAILABLE = 503
};

/* Classes of request, each served by its own worker pool (http.c):
 * inline ones (/health, /metrics, and every refusal) are answered by the
 * I/O thread at once. */
typedef enum srv_class { SRV_INLINE, SRV_WRITE, SRV_READ, SRV_ADMIN, SRV_CLASS_COUNT } srv_class;

/* Error reasons counted in /metrics (strata_http_errors_total{reason}). */
typedef enum srv_reason {
    R_BAD_DATA, R_BAD_ENCODING, R_BAD_PROTOBUF, R_BAD_CONTENT_TYPE, R_TOO_LARGE, R_TOO_MANY_LABELS,
    R_BAD_MATCHER, R_BAD_TIME, R_PARTIAL_WRITE, R_UNAUTHORIZED, R_NOT_FOUND, R_METHOD, R_UNAVAILABLE,
    R_INTERNAL, R_QUERY_LIMIT, R_COUNT
} srv_reason;

#define SRV_LAT_BUCKETS 12

typedef struct srv_metrics {
    uint64_t requests[H_COUNT][6];   /* by class: 1xx..5xx as [1..5], [0] other */
    uint64_t lat_bucket[H_COUNT][SRV_LAT_BUCKETS];
    uint64_t lat_count[H_COUNT];
    uint64_t lat_sum_ns[H_COUNT];
    uint64_t errors[R_COUNT];
    uint64_t samples_in[4];          /* influx, remote write, import, otlp */
    uint64_t otlp_rejected[4];       /* OTLP points refused: exponential histograms, temporality, names, series */
    uint64_t lines_rejected;
    uint64_t series_created;
    uint64_t bytes_in;
    uint64_t samples_out;            /* by remote read and export */
    uint64_t query_samples;          /* loaded by PromQL queries */
    uint64_t in_flight;
} srv_metrics;

typedef struct srv_config {
    const char *listen;       /* host:port, [v6]:port or :port */
    const char *auth_token;   /* NULL: none */
    const char *basic_auth;   /* USER:PASS, NULL: none */
    size_t max_body;          /* bytes, compressed and decompressed */
    size_t max_decoded;       /* bytes of a decompressed protobuf body (snappy); its objects get 4x that */
    size_t max_labels;
    size_t max_label_len;
    size_t max_read_samples;  /* per remote read / export-free queries */
    unsigned threads;         /* libmicrohttpd's I/O threads */
    unsigned write_threads;   /* the write pool's threads */
    unsigned admin_threads;   /* the admin pool's threads */
    unsigned queue_len;       /* requests of one class waiting for a worker; more: 503 */
    unsigned max_connections; /* open connections; past it the oldest idle one is closed */
    unsigned conn_timeout_s;  /* a connection silent this long (reading or writing) is closed */
    uint64_t query_max_samples;      /* points a query may hold */
    int64_t query_timeout_ms;        /* evaluation, waiting for a slot included */
    unsigned query_max_concurrency;  /* queries evaluated at once: the read pool's threads */
    int64_t query_lookback_ms;       /* default lookback delta */
    strata_label *ext_labels;        /* --external-label, sorted by name (extlabels.h) */
    size_t n_ext_labels;
    unsigned otlp_strategy;          /* otlp_strategy (otlp.h): how OTLP names are translated */
    /* --retention-filter and --downsampling as given, each flag's
     * arguments joined by ',' (NULL: none); for /api/v1/status/flags */
    char *retention_filter, *downsampling;
} srv_config;

typedef struct srv {
    strata_db *db;
    const char *data_dir;
    strata_options opts;      /* the database was opened with (for /api/v1/status/flags) */
    srv_config cfg;
    char *basic_expect;       /* base64(user:pass), the credentials after "Basic " */
    int64_t start_ms;
    srv_metrics m;
    int stopping;             /* atomic: new requests get 503 */
    pthread_mutex_t mu;       /* guards in-flight count for shutdown */
    pthread_cond_t idle;
    long active;
    struct MHD_Daemon *daemon;
    struct srv_pool *pools[SRV_CLASS_COUNT]; /* [SRV_INLINE] stays NULL */
    struct srv_conns *conns;  /* open connections, for the cap (http.c) */
    pthread_mutex_t query_mu;  /* guards queries_running (query admission) */
    pthread_cond_t query_cond; /* a query slot came free */
    unsigned queries_running;
} srv;

/* A (name, value) request parameter from the URL or a form body. */
typedef struct srv_kv {
    char *name;
    char *value;
} srv_kv;

/* Looks a request header up (case-insensitive); NULL when absent. */
typedef const char *(*srv_header_fn)(void *ctx, const char *name);

/* A request as the handlers see it. http.c fills it from libmicrohttpd; a
 * test fills it by hand. Freed with srv_req_free. */
typedef struct srv_req {
    srv_handler h;           /* set by routing */
    const char *method;      /* "GET", "POST", ... */
    const char *path;        /* the URL path, without the query string */
    char *path_arg;          /* the '*' of a pattern route (NAME of /api/v1/label/NAME/values) */
    sbuf body;               /* as received; srv_body_decode inflates it in place */
    srv_header_fn header;    /* may be NULL: no headers */
    void *header_ctx;
    srv_kv *params;          /* URL arguments (decoded), then the form body's */
    size_t n_params, cap_params;
    int form_loaded;         /* srv_params_load parsed the form body */
    int has_nul;             /* a parameter name or value holds a NUL byte (refused with 400) */
} srv_req;

/* Produces a streamed body: writes up to max bytes into buf and returns
 * how many, 0 at the end, -1 on an error (the connection is then cut). */
typedef long (*srv_stream_fn)(void *ctx, char *buf, size_t max);

#define SRV_RESP_HEADERS 8

/* A reply as the handlers build it; http.c turns it into libmicrohttpd's.
 * Strings are static (or live as long as the srv). Freed with
 * srv_resp_free. */
typedef struct srv_resp {
    unsigned status;         /* 0: no reply built */
    const char *ctype;       /* Content-Type, NULL for none */
    struct {
        const char *name, *value;
    } headers[SRV_RESP_HEADERS]; /* extra headers */
    size_t n_headers;
    char header_text[4][24]; /* room for header values a handler formats (counts) */
    sbuf body;
    srv_stream_fn stream;    /* set: the body is streamed instead */
    void (*stream_free)(void *ctx);
    void *stream_ctx;        /* owned by the srv_resp until http.c takes it */
} srv_resp;

/* ---- route.c */
/* The route of path and method: *allowed says whether the route takes the
 * method (1 for H_OTHER); *path_arg (free()) gets the part of the path a
 * '*' matched, else stays NULL. STRATA_OK or STRATA_ERR_NOMEM. */
int srv_route(const char *path, const char *method, srv_handler *h, int *allowed, char **path_arg);
/* Runs the handler of r->h (404 for H_OTHER). */
int srv_dispatch(srv *s, srv_req *r, srv_resp *w);
/* The 405 reply to r. */
int srv_reply_method(srv *s, const srv_req *r, srv_resp *w);
/* Routes, refuses a wrong method and dispatches: what http.c does in
 * stages, for a caller (a test) that holds a whole request. */
int srv_handle(srv *s, srv_req *r, srv_resp *w);

/* The class of a handler's requests. */
srv_class srv_route_class(srv_handler h);
extern const char *const srv_class_names[SRV_CLASS_COUNT];

/* ---- pool.c: worker threads over a bounded FIFO of jobs */
/* A job, kept inside the caller's own state (no allocation). run is
 * called once on a pool thread; abandon says the pool is being closed
 * after its deadline and the job should answer without working. done (may
 * be NULL) is called after run on the same thread once the job's place in
 * the pool is free again; the pool no longer touches j after calling it
 * (done may free j or let another thread do so). Why two steps: a job
 * that answered a client from run would let the client's next request
 * find the pool still full of it. */
typedef struct srv_job {
    struct srv_job *next;
    void (*run)(struct srv_job *j, int abandon);
    void (*done)(struct srv_job *j);
} srv_job;
typedef struct srv_pool srv_pool;
/* Starts n_threads threads (at nice level nice when not 0) over a queue of
 * at most max_waiting jobs. STRATA_OK, STRATA_ERR_INVALID (0 threads or
 * queue) or STRATA_ERR_NOMEM (no memory or no thread). */
int srv_pool_open(const char *name, unsigned n_threads, unsigned max_waiting, int nice, srv_pool **out);
/* Reserves a place: 0, or -1 when n_threads + max_waiting jobs already
 * run or wait (or the pool is closing). Each 0 must be followed by one
 * push. */
int srv_pool_admit(srv_pool *p);
/* Queues j on the place admitted; a worker may run it at once. */
void srv_pool_push(srv_pool *p, srv_job *j);
/* Jobs taken from now on run with abandon set. */
void srv_pool_abandon(srv_pool *p);
/* Jobs waiting and running now (for /metrics; p may be NULL). */
void srv_pool_counts(const srv_pool *p, unsigned *waiting, unsigned *running);
/* Runs every job admitted, joins the threads, frees. NULL: nothing. */
void srv_pool_close(srv_pool *p);

/* ---- request.c: requests */
void srv_req_free(srv_req *r);
/* Appends a decoded parameter. STRATA_OK or STRATA_ERR_NOMEM. */
int srv_param_add(srv_req *r, const char *name, size_t name_len, const char *value, size_t value_len);
/* Adds the parameters of an x-www-form-urlencoded body (once, decoding the
 * body in place) when Content-Type says so. */
int srv_params_load(srv_req *r);
const char *srv_param(const srv_req *r, const char *name);
/* Every value of name, in order; *out (free()) may be NULL when n is 0. */
int srv_param_all(const srv_req *r, const char *name, const char ***out, size_t *n);
const char *srv_header(const srv_req *r, const char *name);

/* Decompresses a gzip / deflate body in place when Content-Encoding says
 * so (limit: max_body; every member of a multi-member gzip body, trailing
 * data refused: gunzip.h). Returns 0, or builds a 4xx in w and returns -1
 * with *ret set to what the handler returns. */
int srv_body_decode(srv *s, srv_req *r, srv_resp *w, int *ret);
/* srv_body_decode then srv_params_load: what a handler taking form
 * parameters calls. 0, or -1 with *ret set (and a reply built in w unless
 * *ret is STRATA_ERR_NOMEM). */
int srv_form_load(srv *s, srv_req *r, srv_resp *w, int *ret);

/* The start and end parameters of r (default: all of time), end not
 * before start. Returns 0, or builds a 400 and returns -1 with *ret set. */
int srv_time_range(srv *s, srv_req *r, srv_resp *w, int64_t *start, int64_t *end, int *ret);
/* Times: RFC 3339, Unix seconds, or relative. 0 or STRATA_ERR_INVALID. */
int srv_time(const char *v, int64_t dflt, int64_t *out, const char **why);

/* ---- request.c: replies. Each returns STRATA_OK, or STRATA_ERR_NOMEM
 * when no reply could be built (the handler returns that and the
 * connection is dropped). */
int srv_reply(srv_resp *w, unsigned status, const char *ctype, const void *body, size_t len);
/* Takes ownership of body (malloc()ed); encoding may be NULL. */
int srv_reply_owned(srv_resp *w, unsigned status, const char *ctype, void *body, size_t len, const char *encoding);
/* Takes b's buffer, leaving b empty. */
int srv_reply_json(srv_resp *w, unsigned status, sbuf *b);
/* Prometheus' error envelope {"status":"error","errorType":..,"error":..}. */
int srv_reply_error(srv *s, srv_resp *w, unsigned status, srv_reason reason, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* A streamed body; the srv_resp owns ctx (freed by stream_free) from here. */
int srv_reply_stream(srv_resp *w, unsigned status, const char *ctype, srv_stream_fn fn, void (*stream_free)(void *),
                     void *ctx);
int srv_resp_header(srv_resp *w, const char *name, const char *value);
void srv_resp_free(srv_resp *w);

/* JSON helpers for sbuf. */
int json_str(sbuf *b, const char *s);
int json_raw(sbuf *b, const char *s);
int json_time(sbuf *b, int64_t ms);    /* float seconds, shortest */
int json_value(sbuf *b, double v);     /* quoted, as srv_format_value */
/* A sample value as Prometheus' HTTP API writes it (Go's strconv 'f' -1,
 * and 'e' below 1e-6 and from 1e21, whose exponent has two digits at
 * least: "1e-07" where strata_format_double writes "1e-7"). out holds
 * STRATA_DOUBLE_MAX + 1 bytes; the length is returned, no NUL. */
size_t srv_format_value(double v, char *out);

/* ---- http.c */
int srv_start(srv *s);
void srv_stop(srv *s);  /* stop accepting, wait for requests in flight, close */
/* Connections open now (past those being shut down) and connections shut
 * down because the cap was reached, since start. */
void srv_conn_counts(srv *s, unsigned *open, uint64_t *evicted);

/* ---- handlers: each answers r in w and returns STRATA_OK, or a negative
 * status when not even an error reply could be built. */
#define SRV_X_PROTO(methods, path, fn, name, metric) int fn(srv *s, srv_req *r, srv_resp *w);
SRV_ROUTES(SRV_X_PROTO, SRV_X_NONE)
#undef SRV_X_PROTO
/* POST /api/v1/write of a remote write 2.0 body (h_remote_v2.c), called
 * by h_prom_write once the Content-Type named io.prometheus.write.v2.Request. */
int h_prom_write_v2(srv *s, srv_req *r, srv_resp *w);

/* Parses the match[] selectors of r (required: at least one). On error
 * builds a 400 and returns -1 with *ret set. *sels freed by sels_free. */
int srv_selectors(srv *s, srv_req *r, srv_resp *w, int required, strata_selector **sels, size_t *n, int *ret);
void srv_selectors_free(strata_selector *sels, size_t n);

/* ---- metrics.c */
void metrics_request_done(srv *s, srv_handler h, unsigned status, uint64_t t0_ns);
void metrics_error(srv *s, srv_reason reason);
#define METRIC_ADD(field, v) __atomic_fetch_add(&(field), (v), __ATOMIC_RELAXED)
int metrics_render(srv *s, sbuf *out);
extern const char *const srv_handler_names[H_COUNT];

#endif
