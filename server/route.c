/*
 * route.c: the routing table and the dispatch, both made from SRV_ROUTES
 * (server.h), so a route, its handler and its enum cannot fall out of
 * step.
 *
 * Routing is a scan of the table in order, first match wins: an exact
 * path compares whole; a pattern "pre*suf" matches a URL longer than
 * pre + suf that starts with pre and ends with suf, and what lies between
 * (never empty) becomes r->path_arg. Sixteen string compares per request
 * cost nothing beside the handlers; a trie would buy nothing here.
 */
#include <stdlib.h>
#include <string.h>

#include "server.h"

typedef struct route {
    const char *path;
    srv_handler h;
    int methods;
} route;

#define SRV_X_ROUTE(methods, path, fn, name, metric) {path, name, methods},
#define SRV_X_ALSO(methods, path, name) {path, name, methods},
static const route routes[] = {SRV_ROUTES(SRV_X_ROUTE, SRV_X_ALSO)};
#undef SRV_X_ROUTE
#undef SRV_X_ALSO

typedef int (*handler_fn)(srv *s, srv_req *r, srv_resp *w);

#define SRV_X_FN(methods, path, fn, name, metric) [name] = fn,
static const handler_fn handlers[H_COUNT] = {SRV_ROUTES(SRV_X_FN, SRV_X_NONE)};
#undef SRV_X_FN

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

/* Whether url matches the route's path; *arg_at / *arg_len give the part a
 * '*' matched (length 0 for an exact path). */
static int path_matches(const char *pat, const char *url, size_t ul, size_t *arg_at, size_t *arg_len)
{
    const char *star = strchr(pat, '*');
    *arg_at = *arg_len = 0;
    if (!star)
        return !strcmp(pat, url);
    size_t pl = (size_t)(star - pat), sl = strlen(star + 1);
    if (ul <= pl + sl || strncmp(url, pat, pl) || strcmp(url + ul - sl, star + 1))
        return 0;
    *arg_at = pl;
    *arg_len = ul - pl - sl;
    return 1;
}

int srv_route(const char *path, const char *method, srv_handler *h, int *allowed, char **path_arg)
{
    size_t ul = strlen(path), at, len;
    *h = H_OTHER;
    *allowed = 1;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!path_matches(routes[i].path, path, ul, &at, &len))
            continue;
        if (len && !(*path_arg = strndup(path + at, len)))
            return STRATA_ERR_NOMEM;
        *h = routes[i].h;
        *allowed = (routes[i].methods & method_bit(method)) != 0;
        break;
    }
    return STRATA_OK;
}

/* Whether the handler's body is data (line protocol, JSON lines, text exposition,
 * protobuf), never form parameters, whatever its Content-Type says (curl
 * --data-binary sends application/x-www-form-urlencoded). */
static int body_is_data(srv_handler h)
{
    return h == H_WRITE || h == H_IMPORT || h == H_IMPORT_PROM || h == H_PROM_WRITE || h == H_PROM_READ ||
           h == H_OTLP;
}

int srv_dispatch(srv *s, srv_req *r, srv_resp *w)
{
    /* Parameters are C strings: a NUL byte in one (%00) would cut it, and
     * a cut selector matches more than was asked (a delete_series of
     * `up{job="x%00"}` would delete every `up`). Refused on every
     * endpoint, the form body's parameters included (inflated first when
     * the form came compressed). */
    int ret;
    if ((unsigned)r->h < H_OTHER && !body_is_data(r->h) && srv_form_load(s, r, w, &ret))
        return ret;
    if (r->has_nul)
        return srv_reply_error(s, w, HTTP_BAD_REQUEST, R_BAD_DATA, "bad_data",
                               "a request parameter holds a NUL byte");
    if ((unsigned)r->h < H_OTHER && handlers[r->h])
        return handlers[r->h](s, r, w);
    return srv_reply_error(s, w, HTTP_NOT_FOUND, R_NOT_FOUND, "not_found", "no such endpoint");
}

int srv_reply_method(srv *s, const srv_req *r, srv_resp *w)
{
    return srv_reply_error(s, w, HTTP_METHOD_NOT_ALLOWED, R_METHOD, "bad_data", "method %.16s not allowed on %.200s",
                           r->method, r->path);
}

int srv_handle(srv *s, srv_req *r, srv_resp *w)
{
    int allowed;
    int rc = srv_route(r->path, r->method, &r->h, &allowed, &r->path_arg);
    if (rc)
        return rc;
    if (!allowed)
        return srv_reply_method(s, r, w);
    return srv_dispatch(s, r, w);
}

const char *const srv_class_names[SRV_CLASS_COUNT] = {"inline", "write", "read", "admin"};

/* Which pool runs a handler (http.c). Writes are the ingest paths; reads
 * are everything that evaluates or walks stored data and can take long;
 * admin is the rest of the work on the database. Inline handlers must
 * never wait on the database for long: /health answers from nothing, and
 * /metrics reads counters and the engine's stats. */
srv_class srv_route_class(srv_handler h)
{
    switch (h) {
    case H_WRITE:
    case H_PROM_WRITE:
    case H_IMPORT:
    case H_IMPORT_PROM:
    case H_OTLP:
        return SRV_WRITE;
    case H_PROM_READ:
    case H_QUERY:
    case H_QUERY_RANGE:
    case H_SERIES:
    case H_LABELS:
    case H_LABEL_VALUES:
    case H_EXPORT:
    case H_TSDB:
    case H_EXEMPLARS:
    case H_STATUS_STORAGE:
    case H_METADATA:
    case H_FORMAT_QUERY: /* parsing is linear, but a query may be megabytes */
    case H_PARSE_QUERY:
        return SRV_READ;
    case H_METRICS:
    case H_HEALTH:
    case H_HEALTHY:
    case H_READY:
    case H_BUILDINFO:
    case H_FLAGS:
    case H_RUNTIMEINFO:
    case H_CONFIG:
    case H_RULES:
    case H_ALERTS:
    case H_TARGETS:
    case H_UI: /* compiled-in assets: the page loads whatever the queries do */
    case H_OTHER:
        return SRV_INLINE;
    default:
        return SRV_ADMIN;
    }
}
