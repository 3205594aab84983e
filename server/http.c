/*
 * http.c: the libmicrohttpd side of the server, and the only file that
 * sees it: I/O threads with keep-alive, a cap on connections, worker pools
 * per class of request, authentication, request bodies under a size limit,
 * the conversion of a request into an srv_req and of the handler's
 * srv_resp into a reply, and the graceful stop.
 *
 * A request goes through the access callback several times: first with no
 * body (route, authenticate, check Content-Length), then once per chunk of
 * body (appended to r->body, or dropped once over the limit), then once
 * more with no data, when the handler runs and its reply is queued.
 * Replies to requests refused early (401, 404, 405, 413) are queued at that
 * last call too, after the body was read and dropped, so the client, which
 * sends the whole body before reading, sees the status rather than a
 * reset; only a Content-Length far beyond the limit is refused at once.
 *
 * Isolation. libmicrohttpd's thread pool gives each polling thread a share
 * of the connections, and a handler that runs on it blocks every
 * connection that thread owns: four slow queries used to hold /health and
 * remote write for seconds. So the polling threads (--threads) only do
 * I/O: they read a request, and at its last call answer the cheap
 * endpoints (/health, /metrics) and the refusals themselves; every other
 * request is suspended (MHD_suspend_connection) and queued to the pool of
 * its class (srv_route_class): write (line protocol, remote write, import;
 * --write-threads), read (queries, series, labels, export, remote read;
 * --query-max-concurrency threads, at a lower CPU priority so that queries
 * running flat out leave the cores to ingest) and admin (delete,
 * snapshot, flush, merge). The worker runs the handler, marks the request
 * done and resumes the connection; its polling thread then calls us again
 * and we queue the reply. Each pool's queue is bounded (--queue-len): a
 * request that finds it full is answered 503 with Retry-After at once
 * rather than piling up. A query that waited in the queue longer than
 * --query-timeout is answered 503 without running, as the old query gate
 * did (that gate in h_query.c still exists; with the read pool no larger
 * than it, it never waits). Admission control inside the polling threads
 * could not give this: a thread blocked in a handler, even one waiting
 * for admission, serves none of its other connections.
 *
 * Connections. At most --max-connections are open (Prometheus' 512). A
 * connection that has no request in progress (it has not yet sent a whole
 * request header, or sits idle between keep-alive requests) is "idle";
 * when a new connection would pass the cap, the connection idle the
 * longest is shut down (nginx does the same with idle keep-alive
 * connections when it runs out): a thousand sockets that send half a
 * header and stall cannot keep /health out, and a new connection is
 * refused (closed at once) only when every open one has a request in
 * progress. libmicrohttpd's own limit is set a little above ours, for the
 * connections shut down but not yet closed; at its limit it stops
 * accepting until one closes. --connection-timeout closes a connection
 * that has been silent that long: libmicrohttpd's timeout is one of
 * inactivity (reset by every byte read or written), so it bounds each gap
 * while the header or body arrives and the idle time between requests,
 * not the whole transfer; a suspended connection (its handler running in
 * a pool) never times out.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "server.h"

/* ------------------------------------------------------------ replies */

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    srv_resp *w = cls;
    long n = w->stream(w->stream_ctx, buf, max);
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    srv_resp *w = cls;
    srv_resp_free(w);
    free(w);
}

/* Queues w as the reply; the body and any stream pass to libmicrohttpd
 * and w is left empty. Records the status in *status. */
static enum MHD_Result send_resp(struct MHD_Connection *c, srv_resp *w, unsigned *status)
{
    struct MHD_Response *resp;
    if (w->stream) {
        /* the stream's state outlives this call: a copy of w goes with it */
        srv_resp *keep = malloc(sizeof *keep);
        if (!keep) {
            srv_resp_free(w);
            return MHD_NO;
        }
        *keep = *w;
        memset(w, 0, sizeof *w);
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_read, keep, stream_free);
        if (!resp) {
            stream_free(keep);
            return MHD_NO;
        }
        w = keep;
    } else if (w->body.len) {
        resp = MHD_create_response_from_buffer_with_free_callback(w->body.len, w->body.data, free);
        if (!resp)
            return MHD_NO; /* w still owns the body */
        w->body.data = NULL;
        w->body.len = w->body.cap = 0;
    } else {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return MHD_NO;
    }
    if (w->ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, w->ctype);
    for (size_t i = 0; i < w->n_headers; i++)
        MHD_add_response_header(resp, w->headers[i].name, w->headers[i].value);
    *status = w->status;
    enum MHD_Result ret = MHD_queue_response(c, w->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* ------------------------------------------------------------ auth */

static int ct_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;
    for (size_t i = 0; i < la; i++)
        d |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return d == 0;
}

/* The credentials after scheme in an Authorization value: the scheme
 * name compares case-insensitively (RFC 9110 11.1), then one or more
 * spaces or tabs. NULL when h is of another scheme. */
static const char *auth_credentials(const char *h, const char *scheme)
{
    size_t n = strlen(scheme);
    if (strncasecmp(h, scheme, n) || (h[n] != ' ' && h[n] != '\t'))
        return NULL;
    for (h += n; *h == ' ' || *h == '\t'; h++)
        ;
    return h;
}

static int auth_ok(srv *s, const srv_req *r)
{
    if (!s->cfg.auth_token && !s->basic_expect)
        return 1;
    const char *h = srv_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h)
        return 0;
    const char *cred;
    if (s->cfg.auth_token && (cred = auth_credentials(h, "Bearer")) && ct_equal(cred, s->cfg.auth_token))
        return 1;
    if (s->basic_expect && (cred = auth_credentials(h, "Basic")) && ct_equal(cred, s->basic_expect))
        return 1;
    return 0;
}

/* The UI's page and scripts without credentials when the server takes a
 * bearer token only: a browser cannot send one with a page load (it can
 * with basic auth, asking for it), and these bytes are the same in every
 * strata binary, with no data in them. The UI asks for the token and
 * sends it with every API call, which stays guarded. */
static int ui_public(srv *s, const srv_req *r)
{
    return r->h == H_UI && s->cfg.auth_token && !s->basic_expect;
}

/* ------------------------------------------------------------ connections */

/* One open connection (its socket context). Guarded by srv_conns.mu. */
typedef struct conn_ent {
    struct conn_ent *prev, *next;
    int fd;
    int busy;                /* a request is in progress (first callback to completion) */
    int evicted;             /* shut down by us, not yet closed */
} conn_ent;

/* The open connections, oldest idle first: a connection goes to the tail
 * when it opens and when its request completes, so the first entry that
 * is neither busy nor evicted is the one idle the longest. */
typedef struct srv_conns {
    pthread_mutex_t mu;
    conn_ent list;           /* sentinel of a circular list */
    unsigned n_open;         /* in the list */
    unsigned n_evicted;      /* in the list and shut down */
    uint64_t evictions;      /* since start */
} srv_conns;

static void ent_unlink(conn_ent *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
}

static void ent_append(srv_conns *cs, conn_ent *e)
{
    e->prev = cs->list.prev;
    e->next = &cs->list;
    cs->list.prev->next = e;
    cs->list.prev = e;
}

/* libmicrohttpd calls this on the connection's polling thread when it
 * opens and when it closes (before its socket is closed, so an fd in the
 * list is always the connection's own). */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    srv *s = cls;
    srv_conns *cs = s->conns;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn_ent *e = ci ? calloc(1, sizeof *e) : NULL;
        if (!e)
            return; /* untracked: it counts for libmicrohttpd's limit only */
        e->fd = ci->connect_fd;
        *socket_context = e;
        pthread_mutex_lock(&cs->mu);
        ent_append(cs, e);
        cs->n_open++;
        if (cs->n_open - cs->n_evicted > s->cfg.max_connections) {
            conn_ent *v = cs->list.next;
            while (v != &cs->list && (v->busy || v->evicted))
                v = v->next;
            /* v may be e itself, the only idle one: then it is refused */
            if (v != &cs->list) {
                v->evicted = 1;
                cs->n_evicted++;
                cs->evictions++;
                /* its polling thread sees the end of the stream and closes it */
                if (shutdown(v->fd, SHUT_RDWR) != 0 && errno != ENOTCONN)
                    fprintf(stderr, "strata serve: shutdown of an idle connection: %s\n", strerror(errno));
            }
        }
        pthread_mutex_unlock(&cs->mu);
        return;
    }
    conn_ent *e = *socket_context;
    if (!e)
        return;
    pthread_mutex_lock(&cs->mu);
    ent_unlink(e);
    cs->n_open--;
    if (e->evicted)
        cs->n_evicted--;
    pthread_mutex_unlock(&cs->mu);
    free(e);
    *socket_context = NULL;
}

/* Marks c's connection busy (a request began) or idle (it completed). */
static void conn_busy(srv *s, struct MHD_Connection *c, int busy)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_ent *e = ci ? ci->socket_context : NULL;
    if (!e || !s->conns)
        return;
    pthread_mutex_lock(&s->conns->mu);
    e->busy = busy;
    if (!busy) { /* the newest idle one */
        ent_unlink(e);
        ent_append(s->conns, e);
    }
    pthread_mutex_unlock(&s->conns->mu);
}

void srv_conn_counts(srv *s, unsigned *open, uint64_t *evicted)
{
    *open = 0;
    *evicted = 0;
    if (!s->conns)
        return;
    pthread_mutex_lock(&s->conns->mu);
    *open = s->conns->n_open - s->conns->n_evicted;
    *evicted = s->conns->evictions;
    pthread_mutex_unlock(&s->conns->mu);
}

/* ------------------------------------------------------------ the callbacks */

/* Early refusals decided at the first callback, replied after the body. */
enum { EARLY_NONE, EARLY_AUTH, EARLY_METHOD, EARLY_STOPPING };

/* One request's state, from its first callback to completion. */
typedef struct req_box {
    srv_req r;
    srv_resp w;
    int early;
    int too_large;
    unsigned status;         /* the status replied; 0 until then */
    uint64_t t0_ns;
    /* a request handed to a pool: */
    srv_job job;
    srv *s;
    struct MHD_Connection *conn;
    int queued;              /* its connection is suspended (polling thread only) */
    int done;                /* atomic: the worker has run it; rc and w are its */
    int rc;                  /* the handler's return */
    uint64_t queued_ns;
} req_box;

static const char *mhd_header(void *ctx, const char *name)
{
    return MHD_lookup_connection_value(ctx, MHD_HEADER_KIND, name);
}

/* With the decoded lengths: a %00 in an argument is kept and flagged by
 * srv_param_add rather than cutting the value there. */
static enum MHD_Result url_arg(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                               const char *value, size_t value_size)
{
    (void)kind;
    srv_req *r = cls;
    if (!value)
        value = "", value_size = 0;
    return srv_param_add(r, key, key_size, value, value_size) ? MHD_NO : MHD_YES;
}

/* The reply to a request refused at its first callback. */
static int early_reply(srv *s, req_box *b)
{
    srv_resp *w = &b->w;
    switch (b->early) {
    case EARLY_STOPPING:
        metrics_error(s, R_UNAVAILABLE);
        w->status = HTTP_SERVICE_UNAVAILABLE;
        /* another node (or this one restarted) can take it: agents retry */
        if (srv_resp_header(w, "Retry-After", "5"))
            return STRATA_ERR_NOMEM;
        return srv_resp_header(w, MHD_HTTP_HEADER_CONNECTION, "close");
    case EARLY_AUTH: {
        static const char msg[] =
            "{\"status\":\"error\",\"errorType\":\"unauthorized\",\"error\":\"authentication required\"}\n";
        metrics_error(s, R_UNAUTHORIZED);
        int rc = srv_reply(w, HTTP_UNAUTHORIZED, "application/json", msg, sizeof msg - 1);
        return rc ? rc
                  : srv_resp_header(w, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                    s->basic_expect ? "Basic realm=\"strata\"" : "Bearer realm=\"strata\"");
    }
    default:
        return srv_reply_method(s, &b->r, w);
    }
}

/* A pool worker runs the handler of a suspended request, then resumes its
 * connection; the polling thread calls on_request again, which replies. */
static void run_job(srv_job *j, int abandon)
{
    req_box *b = (req_box *)(void *)((char *)j - offsetof(req_box, job));
    srv *s = b->s;
    srv_req *r = &b->r;
    int rc;
    uint64_t waited_ms = (cli_now_ns() - b->queued_ns) / 1000000;
    if (abandon) {
        rc = srv_reply_error(s, &b->w, HTTP_SERVICE_UNAVAILABLE, R_UNAVAILABLE, "unavailable", "server stopping");
        rc = rc ? rc : srv_resp_header(&b->w, "Retry-After", "5");
    } else if ((r->h == H_QUERY || r->h == H_QUERY_RANGE) && s->cfg.query_timeout_ms > 0 &&
               waited_ms >= (uint64_t)s->cfg.query_timeout_ms) {
        /* its time ran out in the queue, as it did in the old query gate */
        rc = srv_reply_error(s, &b->w, HTTP_SERVICE_UNAVAILABLE, R_QUERY_LIMIT, "timeout",
                             "query timed out in queue: %u queries already running", s->cfg.query_max_concurrency);
    } else {
        rc = srv_dispatch(s, r, &b->w);
    }
    b->rc = rc;
    __atomic_store_n(&b->done, 1, __ATOMIC_RELEASE);
}

/* After run_job, once its pool place is free: the answer goes out (the
 * client may send its next request at once and must find the place). */
static void resume_job(srv_job *j)
{
    req_box *b = (req_box *)(void *)((char *)j - offsetof(req_box, job));
    MHD_resume_connection(b->conn);
}

/* The reply to a request whose class queue is full. */
static int reply_busy(srv *s, srv_resp *w, srv_class k)
{
    int rc = srv_reply_error(s, w, HTTP_SERVICE_UNAVAILABLE, R_UNAVAILABLE, "unavailable",
                             "too many %s requests waiting (%u); retry later", srv_class_names[k], s->cfg.queue_len);
    return rc ? rc : srv_resp_header(w, "Retry-After", "1");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    srv *s = cls;
    req_box *b = *con_cls;
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b)
            return MHD_NO;
        *con_cls = b;
        srv_req *r = &b->r;
        b->t0_ns = cli_now_ns();
        r->method = method;
        r->path = url;
        r->header = mhd_header;
        r->header_ctx = c;
        conn_busy(s, c, 1);
        pthread_mutex_lock(&s->mu);
        s->active++;
        pthread_mutex_unlock(&s->mu);
        METRIC_ADD(s->m.in_flight, 1);
        int allowed;
        if (srv_route(url, method, &r->h, &allowed, &r->path_arg))
            return MHD_NO;
        if (__atomic_load_n(&s->stopping, __ATOMIC_ACQUIRE))
            b->early = EARLY_STOPPING;
        else if (r->h != H_HEALTH && r->h != H_HEALTHY && r->h != H_READY && !ui_public(s, r) && !auth_ok(s, r))
            b->early = EARLY_AUTH;
        else if (!allowed)
            b->early = EARLY_METHOD;
        const char *cl = srv_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            unsigned long long n = strtoull(cl, &end, 10);
            if (n > (unsigned long long)s->cfg.max_body) {
                b->too_large = 1;
                if (n / 64 > (unsigned long long)s->cfg.max_body) { /* absurd: do not read it */
                    if (srv_reply_error(s, &b->w, HTTP_CONTENT_TOO_LARGE, R_TOO_LARGE, "bad_data",
                                        "body of %llu bytes is over the limit of %zu", n, s->cfg.max_body))
                        return MHD_NO;
                    return send_resp(c, &b->w, &b->status);
                }
            } else if (!b->early && n && sbuf_reserve(&r->body, (size_t)(n < (16u << 20) ? n + 1 : (16u << 20)))) {
                /* reserved up to 16 MiB ahead: a Content-Length alone cannot pin max_body per connection */
                return MHD_NO;
            }
        }
        return MHD_YES;
    }
    srv_req *r = &b->r;
    if (b->status) { /* replied already: drop whatever comes */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        METRIC_ADD(s->m.bytes_in, n);
        if (b->early || b->too_large)
            return MHD_YES;
        if (r->body.len + n > s->cfg.max_body) {
            b->too_large = 1;
            sbuf_free(&r->body);
            return MHD_YES;
        }
        return sbuf_append(&r->body, upload_data, n) ? MHD_NO : MHD_YES;
    }
    int rc;
    if (b->queued) {
        /* resumed: the worker ran the handler */
        if (!__atomic_load_n(&b->done, __ATOMIC_ACQUIRE))
            return MHD_NO; /* cannot happen: only the worker resumes */
        rc = b->rc;
    } else if (b->early) {
        rc = early_reply(s, b);
    } else if (b->too_large) {
        rc = srv_reply_error(s, &b->w, HTTP_CONTENT_TOO_LARGE, R_TOO_LARGE, "bad_data",
                             "body is over the limit of %zu bytes", s->cfg.max_body);
    } else if (MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, url_arg, r) < 0) {
        rc = STRATA_ERR_NOMEM;
    } else {
        srv_class k = srv_route_class(r->h);
        srv_pool *p = k == SRV_INLINE ? NULL : s->pools[k];
        if (!p) {
            rc = srv_dispatch(s, r, &b->w);
        } else if (srv_pool_admit(p)) {
            rc = reply_busy(s, &b->w, k);
        } else {
            /* suspended before it is queued: the worker may resume it at once */
            b->s = s;
            b->conn = c;
            b->job.run = run_job;
            b->job.done = resume_job;
            b->queued = 1;
            b->queued_ns = cli_now_ns();
            MHD_suspend_connection(c);
            srv_pool_push(p, &b->job);
            return MHD_YES;
        }
    }
    /* a handler that built no reply: never leave the client hanging */
    if (rc || !b->w.status)
        return MHD_NO;
    return send_resp(c, &b->w, &b->status);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    srv *s = cls;
    req_box *b = *con_cls;
    if (!b)
        return;
    conn_busy(s, c, 0);
    metrics_request_done(s, b->r.h, b->status, b->t0_ns);
    srv_req_free(&b->r);
    srv_resp_free(&b->w);
    free(b);
    *con_cls = NULL;
    METRIC_ADD(s->m.in_flight, (uint64_t)-1);
    pthread_mutex_lock(&s->mu);
    if (--s->active == 0)
        pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    fprintf(stderr, "strata serve: http: ");
    vfprintf(stderr, fmt, ap);
}

/* Parses host:port, [v6]:port or :port (all interfaces). */
static int parse_listen(const char *spec, struct sockaddr_storage *ss, int *v6)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    if (!colon || !colon[1])
        return -1;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return -1;
    size_t hl = (size_t)(colon - spec);
    if (hl >= sizeof host)
        return -1;
    memcpy(host, spec, hl);
    host[hl] = 0;
    memset(ss, 0, sizeof *ss);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = 0;
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
            return -1;
        *v6 = 1;
        return 0;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    *v6 = 0;
    if (!hl) {
        a->sin_addr.s_addr = htonl(INADDR_ANY);
        return 0;
    }
    if (!strcmp(host, "localhost"))
        strcpy(host, "127.0.0.1");
    return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

/* libmicrohttpd's limit above ours: room for the connections shut down
 * (evicted) but not yet closed by their polling threads. */
#define CONN_SLACK 64

static void stop_pools(srv *s, int abandon)
{
    for (int k = 0; k < SRV_CLASS_COUNT; k++)
        if (abandon)
            srv_pool_abandon(s->pools[k]);
    for (int k = 0; k < SRV_CLASS_COUNT; k++) {
        srv_pool_close(s->pools[k]);
        s->pools[k] = NULL;
    }
}

static void free_conns(srv *s)
{
    if (!s->conns)
        return;
    pthread_mutex_destroy(&s->conns->mu);
    free(s->conns);
    s->conns = NULL;
}

int srv_start(srv *s)
{
    struct sockaddr_storage ss;
    int v6 = 0;
    if (parse_listen(s->cfg.listen, &ss, &v6)) {
        fprintf(stderr, "strata serve: bad --listen '%s' (want HOST:PORT, [V6]:PORT or :PORT)\n", s->cfg.listen);
        return STRATA_ERR_INVALID;
    }
    if (!s->cfg.max_connections || !s->cfg.queue_len || !s->cfg.threads || !s->cfg.write_threads ||
        !s->cfg.admin_threads || !s->cfg.query_max_concurrency || !s->cfg.conn_timeout_s)
        return STRATA_ERR_INVALID;
    s->conns = calloc(1, sizeof *s->conns);
    if (!s->conns)
        return STRATA_ERR_NOMEM;
    pthread_mutex_init(&s->conns->mu, NULL);
    s->conns->list.next = s->conns->list.prev = &s->conns->list;
    static const int nice_of[SRV_CLASS_COUNT] = {[SRV_READ] = 10};
    unsigned n_of[SRV_CLASS_COUNT] = {[SRV_WRITE] = s->cfg.write_threads, [SRV_READ] = s->cfg.query_max_concurrency,
                                      [SRV_ADMIN] = s->cfg.admin_threads};
    for (int k = SRV_INLINE + 1; k < SRV_CLASS_COUNT; k++) {
        int rc = srv_pool_open(srv_class_names[k], n_of[k], s->cfg.queue_len, nice_of[k], &s->pools[k]);
        if (rc) {
            stop_pools(s, 0);
            free_conns(s);
            return rc;
        }
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME;
    if (v6)
        flags |= MHD_USE_IPv6;
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                                 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                                 MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)s->cfg.threads,
                                 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned int)(s->cfg.max_connections + CONN_SLACK),
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)s->cfg.conn_timeout_s,
                                 MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_END);
    if (!s->daemon) {
        fprintf(stderr, "strata serve: cannot listen on %s: %s\n", s->cfg.listen, strerror(errno));
        stop_pools(s, 0);
        free_conns(s);
        return STRATA_ERR_IO;
    }
    return STRATA_OK;
}

void srv_stop(srv *s)
{
    if (!s->daemon)
        return;
    __atomic_store_n(&s->stopping, 1, __ATOMIC_RELEASE);
    MHD_quiesce_daemon(s->daemon); /* no new connections */
    /* requests in flight finish (bounded: 120 s), queued ones included */
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 120;
    int late = 0;
    pthread_mutex_lock(&s->mu);
    while (s->active > 0 && !late)
        late = pthread_cond_timedwait(&s->idle, &s->mu, &dl) == ETIMEDOUT;
    pthread_mutex_unlock(&s->mu);
    /* past the deadline, requests still queued are answered 503 without
     * running; the ones running finish. Closing the pools resumes every
     * suspended connection, which libmicrohttpd requires before it stops. */
    stop_pools(s, late);
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    free_conns(s);
}
