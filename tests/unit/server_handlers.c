/* The server's handlers without a socket: requests built in memory go
 * through the routing and dispatch http.c uses (srv_handle), against a
 * database in a temporary directory, and the replies are checked whole:
 * line protocol in then a query, series and labels out, the export stream,
 * a form body, and the 400, 404 and 405 refusals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server.h"
#include "testutil.h"

#define T0_S 1700000000LL

typedef struct fixture {
    char *dir;
    srv s;
} fixture;

/* ---- a request in memory */

typedef struct test_headers {
    const char *name[4], *value[4];
    size_t n;
} test_headers;

static const char *header_of(void *ctx, const char *name)
{
    const test_headers *h = ctx;
    for (size_t i = 0; i < h->n; i++)
        if (!strcasecmp(h->name[i], name))
            return h->value[i];
    return NULL;
}

/* Runs method path?query (query as name=value&... already decoded) with
 * body and an optional Content-Type; w gets the reply. */
static void run(fixture *f, const char *method, const char *path, const char *const *params, const char *ctype,
                const char *body, srv_resp *w)
{
    srv_req r;
    memset(&r, 0, sizeof r);
    test_headers h = {{0}, {0}, 0};
    if (ctype) {
        h.name[0] = "Content-Type";
        h.value[0] = ctype;
        h.n = 1;
    }
    r.method = method;
    r.path = path;
    r.header = header_of;
    r.header_ctx = &h;
    for (size_t i = 0; params && params[i]; i += 2)
        assert_int_equal(srv_param_add(&r, params[i], strlen(params[i]), params[i + 1], strlen(params[i + 1])),
                         STRATA_OK);
    if (body)
        assert_int_equal(sbuf_append(&r.body, body, strlen(body)), STRATA_OK);
    memset(w, 0, sizeof *w);
    assert_int_equal(srv_handle(&f->s, &r, w), STRATA_OK);
    srv_req_free(&r);
}

/* The reply's body as a string (the caller frees w). */
static const char *body_of(srv_resp *w)
{
    assert_int_equal(sbuf_append(&w->body, "", 1), STRATA_OK);
    w->body.len--;
    return (const char *)w->body.data;
}

static void expect(fixture *f, const char *method, const char *path, const char *const *params, unsigned status,
                   const char *ctype, const char *want_body)
{
    srv_resp w;
    run(f, method, path, params, NULL, NULL, &w);
    assert_int_equal(w.status, status);
    if (ctype)
        assert_string_equal(w.ctype, ctype);
    assert_string_equal(body_of(&w), want_body);
    srv_resp_free(&w);
}

/* ---- setup: a database with two series of cpu_usage */

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->dir = test_tmpdir("server_handlers");
    strata_options o;
    strata_options_init(&o);
    o.dir = f->dir;
    o.compaction_threads = 0;
    assert_int_equal(strata_open(&o, &f->s.db), STRATA_OK);
    f->s.data_dir = f->dir;
    f->s.cfg.max_body = 1 << 20;
    f->s.cfg.max_decoded = 4 << 20;
    f->s.cfg.max_labels = 256;
    f->s.cfg.max_label_len = 16384;
    f->s.cfg.max_read_samples = 1000000;
    f->s.start_ms = srv_now_ms();
    srv_resp w;
    static const char *const prec[] = {"precision", "s", NULL};
    run(f, "POST", "/write", prec, NULL, "cpu,host=a usage=1.5 1700000000\ncpu,host=b usage=-2 1700000000\n", &w);
    assert_int_equal(w.status, HTTP_NO_CONTENT);
    assert_int_equal(w.body.len, 0);
    srv_resp_free(&w);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    assert_int_equal(strata_close(f->s.db), STRATA_OK);
    test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* ---- tests */

static void query_returns_written_sample(void **state)
{
    static const char *const p[] = {"query", "cpu_usage{host=\"a\"}", "time", "1700000060", NULL};
    expect(*state, "GET", "/api/v1/query", p, HTTP_OK, "application/json",
           "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
           "{\"__name__\":\"cpu_usage\",\"host\":\"a\"},\"value\":[1700000060,\"1.5\"]}]}}\n");
}

static void query_reads_form_body(void **state)
{
    srv_resp w;
    run(*state, "POST", "/api/v1/query", NULL, "application/x-www-form-urlencoded",
        "query=cpu_usage%7Bhost%3D%22b%22%7D&time=1700000000.5", &w);
    assert_int_equal(w.status, HTTP_OK);
    assert_string_equal(body_of(&w), "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
                                     "{\"__name__\":\"cpu_usage\",\"host\":\"b\"},\"value\":[1700000000.5,\"-2\"]}]}}\n");
    srv_resp_free(&w);
}

static void series_and_labels_list_what_was_written(void **state)
{
    static const char *const sel[] = {"match[]", "cpu_usage", NULL};
    expect(*state, "GET", "/api/v1/series", sel, HTTP_OK, "application/json",
           "{\"status\":\"success\",\"data\":[{\"__name__\":\"cpu_usage\",\"host\":\"a\"},"
           "{\"__name__\":\"cpu_usage\",\"host\":\"b\"}]}\n");
    expect(*state, "GET", "/api/v1/labels", NULL, HTTP_OK, "application/json",
           "{\"status\":\"success\",\"data\":[\"__name__\",\"host\"]}\n");
    expect(*state, "GET", "/api/v1/label/host/values", NULL, HTTP_OK, "application/json",
           "{\"status\":\"success\",\"data\":[\"a\",\"b\"]}\n");
    static const char *const only_b[] = {"match[]", "{host=\"b\"}", NULL};
    expect(*state, "POST", "/api/v1/label/__name__/values", only_b, HTTP_OK, "application/json",
           "{\"status\":\"success\",\"data\":[\"cpu_usage\"]}\n");
}

static void strings_are_escaped_as_the_export_formats_do(void **state)
{
    /* a tag value with a quote, a backslash, \b, \f and a control byte */
    static const char *const prec[] = {"precision", "s", NULL};
    srv_resp w;
    run(*state, "POST", "/write", prec, NULL, "esc,tag=q\"b\\\\s\bb\ff\x01x v=1 1700000000\n", &w);
    assert_int_equal(w.status, HTTP_NO_CONTENT);
    srv_resp_free(&w);
    expect(*state, "GET", "/api/v1/label/tag/values", NULL, HTTP_OK, "application/json",
           "{\"status\":\"success\",\"data\":[\"q\\\"b\\\\s\\bb\\ff\\u0001x\"]}\n");
}

static void export_streams_json_lines(void **state)
{
    static const char *const p[] = {"match[]", "{host=\"a\"}", NULL};
    srv_resp w;
    run(*state, "GET", "/api/v1/export", p, NULL, NULL, &w);
    assert_int_equal(w.status, HTTP_OK);
    assert_string_equal(w.ctype, "application/stream+json");
    assert_non_null(w.stream);
    char out[4096];
    size_t len = 0;
    long n;
    /* small reads: the producer must resume where it stopped */
    while ((n = w.stream(w.stream_ctx, out + len, 7)) > 0)
        len += (size_t)n;
    assert_int_equal(n, 0);
    out[len] = 0;
    assert_string_equal(out, "{\"metric\":{\"__name__\":\"cpu_usage\",\"host\":\"a\"},\"values\":[1.5],"
                             "\"timestamps\":[1700000000000]}\n");
    srv_resp_free(&w);
}

static void bad_matcher_is_400(void **state)
{
    static const char *const p[] = {"match[]", "{", NULL};
    srv_resp w;
    run(*state, "GET", "/api/v1/series", p, NULL, NULL, &w);
    assert_int_equal(w.status, HTTP_BAD_REQUEST);
    static const char want[] = "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter "
                               "\\\"match[]\\\": {: ";
    const char *b = body_of(&w);
    assert_memory_equal(b, want, sizeof want - 1); /* then the parser's reason */
    assert_true(strlen(b) > sizeof want + 4);
    srv_resp_free(&w);
    /* a label name the Prometheus API would refuse, from the path */
    expect(*state, "GET", "/api/v1/label/bad-name/values", NULL, HTTP_BAD_REQUEST, "application/json",
           "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid label name: \\\"bad-name\\\"\"}\n");
}

static void unknown_path_is_404_and_wrong_method_405(void **state)
{
    expect(*state, "GET", "/api/v1/nope", NULL, HTTP_NOT_FOUND, "application/json",
           "{\"status\":\"error\",\"errorType\":\"not_found\",\"error\":\"no such endpoint\"}\n");
    /* a pattern needs a non-empty part where its '*' is */
    expect(*state, "GET", "/api/v1/label//values", NULL, HTTP_NOT_FOUND, NULL,
           "{\"status\":\"error\",\"errorType\":\"not_found\",\"error\":\"no such endpoint\"}\n");
    expect(*state, "GET", "/write", NULL, HTTP_METHOD_NOT_ALLOWED, "application/json",
           "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"method GET not allowed on /write\"}\n");
    expect(*state, "DELETE", "/api/v1/query", NULL, HTTP_METHOD_NOT_ALLOWED, NULL,
           "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"method DELETE not allowed on "
           "/api/v1/query\"}\n");
}

static void routes_come_from_one_list(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        srv_handler h;
        const char *arg;
    } cases[] = {
        {"/write", H_WRITE, NULL},
        {"/api/v2/write", H_WRITE, NULL},
        {"/api/v1/write", H_PROM_WRITE, NULL},
        {"/api/v1/label/job/values", H_LABEL_VALUES, "job"},
        {"/api/v1/label/a/b/values", H_LABEL_VALUES, "a/b"},
        {"/api/v1/label/values", H_OTHER, NULL},
        {"/health", H_HEALTH, NULL},
        {"/healthz", H_OTHER, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        srv_handler h;
        int allowed;
        char *arg = NULL;
        assert_int_equal(srv_route(cases[i].path, "POST", &h, &allowed, &arg), STRATA_OK);
        assert_int_equal(h, cases[i].h);
        if (cases[i].arg)
            assert_string_equal(arg, cases[i].arg);
        else
            assert_null(arg);
        free(arg);
    }
    /* every handler has its metric name, in the order /metrics lists them */
    assert_string_equal(srv_handler_names[H_WRITE], "write");
    assert_string_equal(srv_handler_names[H_LABEL_VALUES], "label_values");
    assert_string_equal(srv_handler_names[H_HEALTH], "health");
    assert_string_equal(srv_handler_names[H_OTHER], "other");
    for (int i = 0; i < H_COUNT; i++)
        assert_non_null(srv_handler_names[i]);
}

static void health_and_metrics_answer(void **state)
{
    expect(*state, "GET", "/health", NULL, HTTP_OK, "text/plain", "OK\n");
    srv_resp w;
    run(*state, "GET", "/metrics", NULL, NULL, NULL, &w);
    assert_int_equal(w.status, HTTP_OK);
    assert_string_equal(w.ctype, "text/plain; version=0.0.4");
    const char *b = body_of(&w);
    assert_non_null(strstr(b, "\nstrata_series 2\n"));
    assert_non_null(strstr(b, "strata_http_requests_total{handler=\"label_values\",code=\"2xx\"} 0\n"));
    assert_non_null(strstr(b, "strata_http_errors_total{reason=\"not_found\"} "));
    srv_resp_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(query_returns_written_sample, setup, teardown),
        cmocka_unit_test_setup_teardown(query_reads_form_body, setup, teardown),
        cmocka_unit_test_setup_teardown(series_and_labels_list_what_was_written, setup, teardown),
        cmocka_unit_test_setup_teardown(strings_are_escaped_as_the_export_formats_do, setup, teardown),
        cmocka_unit_test_setup_teardown(export_streams_json_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_matcher_is_400, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_path_is_404_and_wrong_method_405, setup, teardown),
        cmocka_unit_test(routes_come_from_one_list),
        cmocka_unit_test_setup_teardown(health_and_metrics_answer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
