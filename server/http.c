/*
 * http.c: the libmicrohttpd side of the server, and the only file that
 * sees it: a thread pool with keep-alive, authentication, request bodies
 * under a size limit, the conversion of a request into an srv_req and of
 * the handler's srv_resp into a reply, and the graceful stop.
 *
 * A request goes through the access callback several times: first with no
 * body (route, authenticate, check Content-Length), then once per chunk of
 * body (appended to r->body, or dropped once over the limit), then once
 * more with no data, when the handler runs and its reply is queued.
 * Replies to requests refused early (401, 404, 405, 413) are queued at that
 * last call too, after the body was read and dropped, so the client, which
 * sends the whole body before reading, sees the status rather than a
 * reset; only a Content-Length far beyond the limit is refused at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

static int auth_ok(srv *s, const srv_req *r)
{
    if (!s->cfg.auth_token && !s->basic_expect)
        return 1;
    const char *h = srv_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h)
        return 0;
    if (s->cfg.auth_token && !strncasecmp(h, "Bearer ", 7) && ct_equal(h + 7, s->cfg.auth_token))
        return 1;
    if (s->basic_expect && ct_equal(h, s->basic_expect))
        return 1;
    return 0;
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
        b->t0_ns = srv_now_ns();
        r->method = method;
        r->path = url;
        r->header = mhd_header;
        r->header_ctx = c;
        pthread_mutex_lock(&s->mu);
        s->active++;
        pthread_mutex_unlock(&s->mu);
        METRIC_ADD(s->m.in_flight, 1);
        int allowed;
        if (srv_route(url, method, &r->h, &allowed, &r->path_arg))
            return MHD_NO;
        if (__atomic_load_n(&s->stopping, __ATOMIC_ACQUIRE))
            b->early = EARLY_STOPPING;
        else if (r->h != H_HEALTH && r->h != H_HEALTHY && r->h != H_READY && !auth_ok(s, r))
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
    if (b->early)
        rc = early_reply(s, b);
    else if (b->too_large)
        rc = srv_reply_error(s, &b->w, HTTP_CONTENT_TOO_LARGE, R_TOO_LARGE, "bad_data",
                             "body is over the limit of %zu bytes", s->cfg.max_body);
    else if (MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, url_arg, r) < 0)
        rc = STRATA_ERR_NOMEM;
    else
        rc = srv_dispatch(s, r, &b->w);
    /* a handler that built no reply: never leave the client hanging */
    if (rc || !b->w.status)
        return MHD_NO;
    return send_resp(c, &b->w, &b->status);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)c;
    (void)toe;
    srv *s = cls;
    req_box *b = *con_cls;
    if (!b)
        return;
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

int srv_start(srv *s)
{
    struct sockaddr_storage ss;
    int v6 = 0;
    if (parse_listen(s->cfg.listen, &ss, &v6)) {
        fprintf(stderr, "strata serve: bad --listen '%s' (want HOST:PORT, [V6]:PORT or :PORT)\n", s->cfg.listen);
        return STRATA_ERR_INVALID;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (v6)
        flags |= MHD_USE_IPv6;
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                                 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                                 MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)s->cfg.threads,
                                 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)300,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_END);
    if (!s->daemon) {
        fprintf(stderr, "strata serve: cannot listen on %s: %s\n", s->cfg.listen, strerror(errno));
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
    /* requests in flight finish (bounded: 120 s) */
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 120;
    pthread_mutex_lock(&s->mu);
    while (s->active > 0)
        if (pthread_cond_timedwait(&s->idle, &s->mu, &dl) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&s->mu);
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
}
