/*
 * http.c: the libmicrohttpd side of the server: a thread pool with
 * keep-alive, routing, authentication, request bodies under a size limit,
 * request parameters, replies and the graceful stop.
 *
 * A request goes through the access callback several times: first with no
 * body (route, authenticate, check Content-Length), then once per chunk of
 * body (appended to r->body, or dropped once over the limit), then once
 * more with no data, when the handler runs and queues the reply. Replies to
 * requests refused early (401, 404, 405, 413) are queued at that last call
 * too, after the body was read and dropped, so the client, which sends the
 * whole body before reading, sees the status rather than a reset; only a
 * Content-Length far beyond the limit is refused at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "server.h"

/* ------------------------------------------------------------ routing */

enum { M_GET = 1, M_POST = 2, M_PUT = 4, M_HEAD = 8 };

typedef struct route {
    const char *path;
    srv_handler h;
    int methods;
} route;

static const route routes[] = {
    {"/write", H_WRITE, M_POST},
    {"/api/v2/write", H_WRITE, M_POST},
    {"/api/v1/write", H_PROM_WRITE, M_POST | M_PUT},
    {"/api/v1/read", H_PROM_READ, M_POST},
    {"/api/v1/query", H_QUERY, M_GET | M_POST},
    {"/api/v1/query_range", H_QUERY_RANGE, M_GET | M_POST},
    {"/api/v1/series", H_SERIES, M_GET | M_POST},
    {"/api/v1/labels", H_LABELS, M_GET | M_POST},
    {"/api/v1/export", H_EXPORT, M_GET | M_POST},
    {"/api/v1/import", H_IMPORT, M_POST | M_PUT},
    {"/api/v1/admin/tsdb/delete_series", H_DELETE, M_POST | M_PUT},
    {"/api/v1/admin/tsdb/snapshot", H_SNAPSHOT, M_POST | M_PUT},
    {"/internal/force_flush", H_FLUSH, M_GET | M_POST},
    {"/internal/force_merge", H_MERGE, M_GET | M_POST},
    {"/metrics", H_METRICS, M_GET | M_HEAD},
    {"/health", H_HEALTH, M_GET | M_HEAD},
};

static int method_bit(const char *m)
{
    if (!strcmp(m, "GET"))
        return M_GET;
    if (!strcmp(m, "POST"))
        return M_POST;
    if (!strcmp(m, "PUT"))
        return M_PUT;
    if (!strcmp(m, "HEAD"))
        return M_HEAD;
    return 0;
}

/* Returns the route's handler, or H_OTHER; *allowed says whether the
 * method is one the route takes. */
static srv_handler route_of(const char *url, const char *method, int *allowed, char **path_arg)
{
    int mb = method_bit(method);
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (!strcmp(url, routes[i].path)) {
            *allowed = (routes[i].methods & mb) != 0;
            return routes[i].h;
        }
    static const char pre[] = "/api/v1/label/", suf[] = "/values";
    size_t ul = strlen(url), pl = sizeof pre - 1, sl = sizeof suf - 1;
    if (ul > pl + sl && !strncmp(url, pre, pl) && !strcmp(url + ul - sl, suf)) {
        *path_arg = strndup(url + pl, ul - pl - sl);
        *allowed = (mb & (M_GET | M_POST)) != 0;
        return H_LABEL_VALUES;
    }
    *allowed = 1;
    return H_OTHER;
}

/* ------------------------------------------------------------ replies */

static void add_common_headers(struct MHD_Response *resp, const char *ctype)
{
    if (ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
}

static enum MHD_Result queue(struct MHD_Connection *c, srv_req *r, unsigned status, struct MHD_Response *resp)
{
    if (!resp)
        return MHD_NO;
    r->status = (int)status;
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result srv_reply(struct MHD_Connection *c, srv_req *r, unsigned status, const char *ctype,
                          const void *body, size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (resp)
        add_common_headers(resp, ctype);
    return queue(c, r, status, resp);
}

enum MHD_Result srv_reply_owned(struct MHD_Connection *c, srv_req *r, unsigned status, const char *ctype,
                                void *body, size_t len, const char *encoding)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(len, body, free);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    add_common_headers(resp, ctype);
    if (encoding)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, encoding);
    return queue(c, r, status, resp);
}

enum MHD_Result srv_reply_json(struct MHD_Connection *c, srv_req *r, unsigned status, sbuf *b)
{
    void *p = b->data;
    size_t n = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    if (!p)
        return srv_reply(c, r, status, "application/json", "", 0);
    return srv_reply_owned(c, r, status, "application/json", p, n, NULL);
}

enum MHD_Result srv_reply_error(srv *s, struct MHD_Connection *c, srv_req *r, unsigned status, srv_reason reason,
                                const char *type, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    metrics_error(s, reason);
    sbuf b = {0};
    int rc = json_raw(&b, "{\"status\":\"error\",\"errorType\":");
    rc = rc ? rc : json_str(&b, type);
    rc = rc ? rc : json_raw(&b, ",\"error\":");
    rc = rc ? rc : json_str(&b, msg);
    rc = rc ? rc : json_raw(&b, "}\n");
    if (rc) {
        sbuf_free(&b);
        return srv_reply(c, r, status, "text/plain", msg, strlen(msg));
    }
    return srv_reply_json(c, r, status, &b);
}

/* ------------------------------------------------------------ JSON bits */

int json_raw(sbuf *b, const char *s)
{
    return sbuf_append(b, s, strlen(s));
}

static int json_str_slow(sbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (sbuf_reserve(b, n * 6 + 2))
        return STRATA_ERR_NOMEM;
    char *o = (char *)b->data + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\') {
            *o++ = (char)ch;
            continue;
        }
        *o++ = '\\';
        switch (ch) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\t': *o++ = 't'; break;
        case '\r': *o++ = 'r'; break;
        default: *o++ = 'u'; *o++ = '0'; *o++ = '0'; *o++ = hex[ch >> 4]; *o++ = hex[ch & 15];
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - (char *)b->data);
    return STRATA_OK;
}

int json_str(sbuf *b, const char *s)
{
    /* fast path: copy while no byte needs escaping (label values mostly) */
    size_t n = strlen(s);
    if (sbuf_reserve(b, n + 2))
        return STRATA_ERR_NOMEM;
    char *o = (char *)b->data + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == '"' || ch == '\\')
            return json_str_slow(b, s, n);
        o[i] = (char)ch;
    }
    o[n] = '"';
    b->len += n + 2;
    return STRATA_OK;
}

static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                   "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                   "8081828384858687888990919293949596979899";

/* Writes u in decimal at the end of tmp[0..24), returns the start. */
static char *u64_dec(uint64_t u, char *end)
{
    char *p = end;
    while (u >= 100) {
        unsigned k = (unsigned)(u % 100) * 2;
        u /= 100;
        *--p = digit_pairs[k + 1];
        *--p = digit_pairs[k];
    }
    if (u >= 10) {
        *--p = digit_pairs[u * 2 + 1];
        *--p = digit_pairs[u * 2];
    } else {
        *--p = (char)('0' + u);
    }
    return p;
}

int json_time(sbuf *b, int64_t ms)
{
    /* float seconds as Prometheus prints them: 1700000000, 1700000000.5 */
    if (sbuf_reserve(b, 32))
        return STRATA_ERR_NOMEM;
    char tmp[32], *end = tmp + 24;
    uint64_t u = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
    unsigned frac = (unsigned)(u % 1000);
    char *p = u64_dec(u / 1000, end);
    if (ms < 0)
        *--p = '-';
    if (frac) {
        *end++ = '.';
        *end++ = (char)('0' + frac / 100);
        *end++ = (char)('0' + frac / 10 % 10);
        *end++ = (char)('0' + frac % 10);
        while (end[-1] == '0')
            end--;
    }
    size_t n = (size_t)(end - p);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return STRATA_OK;
}

int json_value(sbuf *b, double v)
{
    char tmp[STRATA_DOUBLE_MAX + 2];
    tmp[0] = '"';
    size_t n = strata_format_double(v, tmp + 1) + 1;
    tmp[n++] = '"';
    return sbuf_append(b, tmp, n);
}

/* ------------------------------------------------------------ parameters */

const char *srv_header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static int param_add(srv_req *r, const char *name, size_t nl, const char *value, size_t vl)
{
    if (r->n_params == r->cap_params) {
        size_t cap = r->cap_params ? r->cap_params * 2 : 8;
        srv_kv *p = realloc(r->params, cap * sizeof *p);
        if (!p)
            return STRATA_ERR_NOMEM;
        r->params = p;
        r->cap_params = cap;
    }
    char *n = strndup(name, nl), *v = strndup(value, vl);
    if (!n || !v) {
        free(n);
        free(v);
        return STRATA_ERR_NOMEM;
    }
    r->params[r->n_params].name = n;
    r->params[r->n_params].value = v;
    r->n_params++;
    return STRATA_OK;
}

static enum MHD_Result url_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    srv_req *r = cls;
    if (!value)
        value = "";
    return param_add(r, key, strlen(key), value, strlen(value)) ? MHD_NO : MHD_YES;
}

static int unhex(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Decodes x-www-form-urlencoded text in place; returns the new length. */
static size_t form_unescape(char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+')
            s[o++] = ' ';
        else if (s[i] == '%' && i + 2 < n && unhex((unsigned char)s[i + 1]) >= 0 &&
                 unhex((unsigned char)s[i + 2]) >= 0) {
            s[o++] = (char)(unhex((unsigned char)s[i + 1]) * 16 + unhex((unsigned char)s[i + 2]));
            i += 2;
        } else
            s[o++] = s[i];
    }
    return o;
}

int srv_params_load(struct MHD_Connection *c, srv_req *r)
{
    if (r->params_ready)
        return STRATA_OK;
    r->params_ready = 1;
    if (MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, url_arg, r) < 0)
        return STRATA_ERR_NOMEM;
    const char *ct = srv_header(c, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) || !r->body.len)
        return STRATA_OK;
    char *s = (char *)r->body.data;
    size_t n = r->body.len, i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '&')
            j++;
        size_t eq = i;
        while (eq < j && s[eq] != '=')
            eq++;
        size_t nl = form_unescape(s + i, eq - i);
        size_t vl = eq < j ? form_unescape(s + eq + 1, j - eq - 1) : 0;
        if (nl && param_add(r, s + i, nl, eq < j ? s + eq + 1 : "", vl))
            return STRATA_ERR_NOMEM;
        i = j + 1;
    }
    return STRATA_OK;
}

const char *srv_param(const srv_req *r, const char *name)
{
    for (size_t i = 0; i < r->n_params; i++)
        if (!strcmp(r->params[i].name, name))
            return r->params[i].value;
    return NULL;
}

int srv_param_all(const srv_req *r, const char *name, const char ***out, size_t *n)
{
    size_t k = 0;
    for (size_t i = 0; i < r->n_params; i++)
        k += !strcmp(r->params[i].name, name);
    *out = NULL;
    *n = 0;
    if (!k)
        return STRATA_OK;
    const char **v = malloc(k * sizeof *v);
    if (!v)
        return STRATA_ERR_NOMEM;
    k = 0;
    for (size_t i = 0; i < r->n_params; i++)
        if (!strcmp(r->params[i].name, name))
            v[k++] = r->params[i].value;
    *out = v;
    *n = k;
    return STRATA_OK;
}

int srv_time(const char *v, int64_t dflt, int64_t *out, const char **why)
{
    if (!v || !*v) {
        *out = dflt;
        return STRATA_OK;
    }
    return strata_parse_time(v, strlen(v), cli_now_ms(), out, why);
}

/* ------------------------------------------------------------ bodies */

int srv_body_decode(srv *s, struct MHD_Connection *c, srv_req *r, enum MHD_Result *ret)
{
    const char *enc = srv_header(c, MHD_HTTP_HEADER_CONTENT_ENCODING);
    if (!enc || !*enc || !strcasecmp(enc, "identity"))
        return 0;
    int wbits;
    if (!strcasecmp(enc, "gzip") || !strcasecmp(enc, "x-gzip"))
        wbits = 16 + MAX_WBITS;
    else if (!strcasecmp(enc, "deflate"))
        wbits = 32 + MAX_WBITS; /* zlib or raw-with-header, auto-detected */
    else {
        *ret = srv_reply_error(s, c, r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, R_BAD_ENCODING, "bad_data",
                               "unsupported Content-Encoding %.40s (gzip, deflate or identity)", enc);
        return -1;
    }
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, wbits) != Z_OK) {
        *ret = srv_reply_error(s, c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, R_INTERNAL, "internal", "inflateInit failed");
        return -1;
    }
    sbuf out = {0};
    int zr = Z_OK, too_large = 0, nomem = 0;
    z.next_in = r->body.data;
    z.avail_in = (uInt)r->body.len;
    while (zr == Z_OK) {
        if (out.len == s->cfg.max_body) {
            too_large = 1;
            break;
        }
        size_t chunk = r->body.len * 4 + 65536;
        if (chunk > s->cfg.max_body - out.len)
            chunk = s->cfg.max_body - out.len;
        if (sbuf_reserve(&out, chunk)) {
            nomem = 1;
            break;
        }
        z.next_out = out.data + out.len;
        z.avail_out = (uInt)(out.cap - out.len > s->cfg.max_body - out.len ? s->cfg.max_body - out.len
                                                                           : out.cap - out.len);
        zr = inflate(&z, Z_NO_FLUSH);
        out.len = (size_t)(z.next_out - out.data);
        if (zr == Z_BUF_ERROR && z.avail_in == 0)
            break; /* truncated stream */
        if (zr == Z_BUF_ERROR)
            zr = Z_OK; /* output full: grow and go on */
    }
    inflateEnd(&z);
    if (too_large) {
        sbuf_free(&out);
        *ret = srv_reply_error(s, c, r, MHD_HTTP_CONTENT_TOO_LARGE, R_TOO_LARGE, "bad_data",
                               "decompressed body is over the limit of %zu bytes", s->cfg.max_body);
        return -1;
    }
    if (nomem) {
        sbuf_free(&out);
        *ret = srv_reply_error(s, c, r, MHD_HTTP_SERVICE_UNAVAILABLE, R_INTERNAL, "internal", "out of memory");
        return -1;
    }
    if (zr != Z_STREAM_END) {
        sbuf_free(&out);
        *ret = srv_reply_error(s, c, r, MHD_HTTP_BAD_REQUEST, R_BAD_ENCODING, "bad_data",
                               "bad %s body: %s", enc, z.msg ? z.msg : "truncated or corrupt stream");
        return -1;
    }
    sbuf_free(&r->body);
    r->body = out;
    return 0;
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

static int auth_ok(srv *s, struct MHD_Connection *c)
{
    if (!s->cfg.auth_token && !s->basic_expect)
        return 1;
    const char *h = srv_header(c, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h)
        return 0;
    if (s->cfg.auth_token && !strncasecmp(h, "Bearer ", 7) && ct_equal(h + 7, s->cfg.auth_token))
        return 1;
    if (s->basic_expect && ct_equal(h, s->basic_expect))
        return 1;
    return 0;
}

/* ------------------------------------------------------------ the callbacks */

static enum MHD_Result dispatch(srv *s, struct MHD_Connection *c, srv_req *r)
{
    switch (r->h) {
    case H_WRITE: return h_write(s, c, r);
    case H_PROM_WRITE: return h_prom_write(s, c, r);
    case H_PROM_READ: return h_prom_read(s, c, r);
    case H_QUERY: return h_query(s, c, r);
    case H_QUERY_RANGE: return h_query_range(s, c, r);
    case H_SERIES: return h_series(s, c, r);
    case H_LABELS: return h_labels(s, c, r);
    case H_LABEL_VALUES: return h_label_values(s, c, r);
    case H_EXPORT: return h_export(s, c, r);
    case H_IMPORT: return h_import(s, c, r);
    case H_DELETE: return h_delete(s, c, r);
    case H_SNAPSHOT: return h_snapshot(s, c, r);
    case H_FLUSH: return h_flush(s, c, r);
    case H_MERGE: return h_merge(s, c, r);
    case H_METRICS: return h_metrics(s, c, r);
    case H_HEALTH: return srv_reply(c, r, MHD_HTTP_OK, "text/plain", "OK\n", 3);
    default: break;
    }
    return srv_reply_error(s, c, r, MHD_HTTP_NOT_FOUND, R_NOT_FOUND, "not_found", "no such endpoint");
}

/* Early refusals decided at the first callback, replied after the body. */
enum { EARLY_NONE, EARLY_AUTH, EARLY_METHOD, EARLY_STOPPING };

typedef struct req_box {
    srv_req r;
    int early;
    int allowed;
} req_box;

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
        r->t0_ns = cli_now_ns();
        r->method = method;
        r->url = url;
        r->h = route_of(url, method, &b->allowed, &r->path_arg);
        pthread_mutex_lock(&s->mu);
        s->active++;
        pthread_mutex_unlock(&s->mu);
        METRIC_ADD(s->m.in_flight, 1);
        if (__atomic_load_n(&s->stopping, __ATOMIC_ACQUIRE))
            b->early = EARLY_STOPPING;
        else if (r->h != H_HEALTH && !auth_ok(s, c))
            b->early = EARLY_AUTH;
        else if (!b->allowed)
            b->early = EARLY_METHOD;
        const char *cl = srv_header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            unsigned long long n = strtoull(cl, &end, 10);
            if (n > (unsigned long long)s->cfg.max_body) {
                r->too_large = 1;
                if (n / 64 > (unsigned long long)s->cfg.max_body) /* absurd: do not read it */
                    return srv_reply_error(s, c, r, MHD_HTTP_CONTENT_TOO_LARGE, R_TOO_LARGE, "bad_data",
                                           "body of %llu bytes is over the limit of %zu", n, s->cfg.max_body);
            } else if (!b->early && n && sbuf_reserve(&r->body, (size_t)(n < (16u << 20) ? n + 1 : (16u << 20)))) {
                /* reserved up to 16 MiB ahead: a Content-Length alone cannot pin max_body per connection */
                return MHD_NO;
            }
        }
        return MHD_YES;
    }
    srv_req *r = &b->r;
    if (r->status) { /* replied already: drop whatever comes */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        METRIC_ADD(s->m.bytes_in, n);
        if (b->early || r->too_large)
            return MHD_YES;
        if (r->body.len + n > s->cfg.max_body) {
            r->too_large = 1;
            sbuf_free(&r->body);
            return MHD_YES;
        }
        return sbuf_append(&r->body, upload_data, n) ? MHD_NO : MHD_YES;
    }
    switch (b->early) {
    case EARLY_STOPPING: {
        struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (resp)
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
        metrics_error(s, R_UNAVAILABLE);
        return queue(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, resp);
    }
    case EARLY_AUTH: {
        static const char msg[] = "{\"status\":\"error\",\"errorType\":\"unauthorized\",\"error\":\"authentication required\"}\n";
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(sizeof msg - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
        if (resp) {
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
            MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                    s->basic_expect ? "Basic realm=\"strata\"" : "Bearer realm=\"strata\"");
        }
        metrics_error(s, R_UNAUTHORIZED);
        return queue(c, r, MHD_HTTP_UNAUTHORIZED, resp);
    }
    case EARLY_METHOD:
        return srv_reply_error(s, c, r, MHD_HTTP_METHOD_NOT_ALLOWED, R_METHOD, "bad_data",
                               "method %.16s not allowed on %.200s", method, url);
    default: break;
    }
    if (r->too_large)
        return srv_reply_error(s, c, r, MHD_HTTP_CONTENT_TOO_LARGE, R_TOO_LARGE, "bad_data",
                               "body is over the limit of %zu bytes", s->cfg.max_body);
    enum MHD_Result ret = dispatch(s, c, r);
    if (!r->status) /* a handler that queued nothing: never leave the client hanging */
        return MHD_NO;
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)c;
    (void)toe;
    srv *s = cls;
    req_box *b = *con_cls;
    if (!b)
        return;
    srv_req *r = &b->r;
    metrics_request_done(s, r);
    sbuf_free(&r->body);
    for (size_t i = 0; i < r->n_params; i++) {
        free(r->params[i].name);
        free(r->params[i].value);
    }
    free(r->params);
    free(r->path_arg);
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
