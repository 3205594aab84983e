/*
 * request.c: what handlers use around an srv_req and an srv_resp, none of
 * it tied to libmicrohttpd: request parameters (URL arguments and
 * x-www-form-urlencoded bodies), headers, gzip/deflate bodies, times;
 * building replies, Prometheus' error envelope, and the JSON helpers.
 *
 * Strings go out through strata_json_quote, the library's escaper, so the
 * server and the export formats escape alike. json_str reserves the worst
 * case (6 * n + 2) and lets it escape: a separate copy loop for strings
 * that need no escaping, as the server once had, measured no faster (11.4
 * ns a label-sized string either way, CPU time).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gunzip.h"
#include "server.h"

/* ------------------------------------------------------------ replies */

void srv_resp_free(srv_resp *w)
{
    sbuf_free(&w->body);
    if (w->stream_free && w->stream_ctx)
        w->stream_free(w->stream_ctx);
    memset(w, 0, sizeof *w);
}

int srv_resp_header(srv_resp *w, const char *name, const char *value)
{
    if (w->n_headers == SRV_RESP_HEADERS)
        return STRATA_ERR_LIMIT;
    w->headers[w->n_headers].name = name;
    w->headers[w->n_headers].value = value;
    w->n_headers++;
    return STRATA_OK;
}

int srv_reply(srv_resp *w, unsigned status, const char *ctype, const void *body, size_t len)
{
    sbuf_reset(&w->body);
    int rc = sbuf_append(&w->body, body, len);
    if (rc)
        return rc;
    w->status = status;
    w->ctype = ctype;
    return STRATA_OK;
}

int srv_reply_owned(srv_resp *w, unsigned status, const char *ctype, void *body, size_t len, const char *encoding)
{
    if (encoding && srv_resp_header(w, "Content-Encoding", encoding)) {
        free(body);
        return STRATA_ERR_NOMEM;
    }
    sbuf_free(&w->body);
    w->body.data = body;
    w->body.len = w->body.cap = len;
    w->status = status;
    w->ctype = ctype;
    return STRATA_OK;
}

int srv_reply_json(srv_resp *w, unsigned status, sbuf *b)
{
    void *p = b->data;
    size_t n = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    if (!p)
        return srv_reply(w, status, "application/json", "", 0);
    return srv_reply_owned(w, status, "application/json", p, n, NULL);
}

int srv_reply_error(srv *s, srv_resp *w, unsigned status, srv_reason reason, const char *type, const char *fmt, ...)
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
        return srv_reply(w, status, "text/plain", msg, strlen(msg));
    }
    return srv_reply_json(w, status, &b);
}

int srv_reply_stream(srv_resp *w, unsigned status, const char *ctype, srv_stream_fn fn, void (*stream_free)(void *),
                     void *ctx)
{
    sbuf_free(&w->body);
    w->status = status;
    w->ctype = ctype;
    w->stream = fn;
    w->stream_free = stream_free;
    w->stream_ctx = ctx;
    return STRATA_OK;
}

/* ------------------------------------------------------------ JSON bits */

int json_raw(sbuf *b, const char *s)
{
    return sbuf_append(b, s, strlen(s));
}

int json_str(sbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (n > (SIZE_MAX - 2) / 6 || sbuf_reserve(b, n * 6 + 2))
        return STRATA_ERR_NOMEM;
    b->len += strata_json_quote(s, n, (char *)b->data + b->len);
    return STRATA_OK;
}

int json_time(sbuf *b, int64_t ms)
{
    /* float seconds as Prometheus prints them: 1700000000, 1700000000.5 */
    if (sbuf_reserve(b, STRATA_INT64_LEN + 6))
        return STRATA_ERR_NOMEM;
    char *o = (char *)b->data + b->len;
    uint64_t u = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
    unsigned frac = (unsigned)(u % 1000);
    if (ms < 0) /* -0.5 s has no sign in its whole seconds */
        *o++ = '-';
    o += strata_format_int64((int64_t)(u / 1000), o);
    if (frac) {
        *o++ = '.';
        *o++ = (char)('0' + frac / 100);
        *o++ = (char)('0' + frac / 10 % 10);
        *o++ = (char)('0' + frac % 10);
        while (o[-1] == '0')
            o--;
    }
    b->len = (size_t)(o - (char *)b->data);
    return STRATA_OK;
}

size_t srv_format_value(double v, char *out)
{
    size_t n = strata_format_double(v, out);
    /* the shortest form's exponent is one digit only for e-7 .. e-9 */
    if (n >= 3 && out[n - 3] == 'e' && out[n - 2] == '-') {
        out[n] = out[n - 1];
        out[n - 1] = '0';
        n++;
    }
    return n;
}

int json_value(sbuf *b, double v)
{
    char tmp[STRATA_DOUBLE_MAX + 3];
    tmp[0] = '"';
    size_t n = srv_format_value(v, tmp + 1) + 1;
    tmp[n++] = '"';
    return sbuf_append(b, tmp, n);
}

/* ------------------------------------------------------------ parameters */

const char *srv_header(const srv_req *r, const char *name)
{
    return r->header ? r->header(r->header_ctx, name) : NULL;
}

void srv_req_free(srv_req *r)
{
    sbuf_free(&r->body);
    for (size_t i = 0; i < r->n_params; i++) {
        free(r->params[i].name);
        free(r->params[i].value);
    }
    free(r->params);
    free(r->path_arg);
    r->params = NULL;
    r->path_arg = NULL;
    r->n_params = r->cap_params = 0;
}

int srv_param_add(srv_req *r, const char *name, size_t nl, const char *value, size_t vl)
{
    if (r->n_params == r->cap_params) {
        size_t cap = r->cap_params ? r->cap_params * 2 : 8;
        srv_kv *p = realloc(r->params, cap * sizeof *p);
        if (!p)
            return STRATA_ERR_NOMEM;
        r->params = p;
        r->cap_params = cap;
    }
    /* copied whole: a NUL byte (%00) flags the request, which is refused
     * (srv_dispatch), instead of cutting the value and widening a selector */
    if (memchr(name, 0, nl) || memchr(value, 0, vl))
        r->has_nul = 1;
    char *n = malloc(nl + 1), *v = malloc(vl + 1);
    if (n) {
        memcpy(n, name, nl);
        n[nl] = 0;
    }
    if (v) {
        memcpy(v, value, vl);
        v[vl] = 0;
    }
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

int srv_params_load(srv_req *r)
{
    if (r->form_loaded)
        return STRATA_OK;
    r->form_loaded = 1;
    const char *ct = srv_header(r, "Content-Type");
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
        if (nl && srv_param_add(r, s + i, nl, eq < j ? s + eq + 1 : "", vl))
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

int srv_body_decode(srv *s, srv_req *r, srv_resp *w, int *ret)
{
    const char *enc = srv_header(r, "Content-Encoding");
    if (!enc || !*enc || !strcasecmp(enc, "identity"))
        return 0;
    int gzip;
    if (!strcasecmp(enc, "gzip") || !strcasecmp(enc, "x-gzip"))
        gzip = 1;
    else if (!strcasecmp(enc, "deflate"))
        gzip = 0; /* zlib or gzip, auto-detected */
    else {
        *ret = srv_reply_error(s, w, HTTP_UNSUPPORTED_MEDIA_TYPE, R_BAD_ENCODING, "bad_data",
                               "unsupported Content-Encoding %.40s (gzip, deflate or identity)", enc);
        return -1;
    }
    sbuf out = {0};
    const char *why = NULL;
    int rc = srv_gunzip(r->body.data, r->body.len, gzip, s->cfg.max_body, &out, &why);
    if (rc == STRATA_OK) {
        sbuf_free(&r->body);
        r->body = out;
        return 0;
    }
    sbuf_free(&out);
    if (rc == STRATA_ERR_LIMIT)
        *ret = srv_reply_error(s, w, HTTP_CONTENT_TOO_LARGE, R_TOO_LARGE, "bad_data",
                               "decompressed body is over the limit of %zu bytes", s->cfg.max_body);
    else if (rc == STRATA_ERR_INVALID)
        *ret = srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_ENCODING, "bad_data", "bad %s body: %s", enc,
                               why ? why : "corrupt stream");
    else
        *ret = srv_reply_error(s, w, HTTP_SERVICE_UNAVAILABLE, R_INTERNAL, "internal", "out of memory");
    return -1;
}

int srv_form_load(srv *s, srv_req *r, srv_resp *w, int *ret)
{
    /* a form body may come compressed like any other; an empty one (GET)
     * has nothing to inflate whatever the headers say */
    if (!r->form_loaded && r->body.len && srv_body_decode(s, r, w, ret))
        return -1;
    if (srv_params_load(r)) {
        *ret = STRATA_ERR_NOMEM;
        return -1;
    }
    return 0;
}
