/* The server's handlers without a socket: requests built in memory go
 * through the routing and dispatch http.c uses (srv_handle), against a
 * database in a temporary directory, and the replies are checked whole:
 * line protocol in then a query, series and labels out, the export stream,
 * a form body, and the 400, 404 and 405 refusals; multi-member and broken
 * gzip bodies, extreme times on every endpoint, snappy bombs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <snappy-c.h>
#include <zlib.h>

#include "server_testlib.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define T0_S 1700000000LL

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

static void expect(fixture *f, const char *method, const char *path, const char *const *params, unsigned status,
                   const char *ctype, const char *want_body)
{
    srv_resp w;
    run(f, method, path, params, NULL, NULL, &w);
    assert_int_equal(w.status, status);
    if (ctype)
        assert_string_equal(w.ctype, ctype);
    assert_string_equal(srvt_body(&w), want_body);
    srv_resp_free(&w);
}

/* ---- setup: a database with two series of cpu_usage */

static int setup(void **state)
{
    fixture *f = srvt_open("server_handlers");
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
    srvt_close(*state);
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

/* Values as Prometheus' API writes them (util/jsonutil MarshalValue: Go's
 * 'f' format, 'e' below 1e-6 and from 1e21 with a two-digit exponent at
 * least), here through scalar answers. */
static void values_are_written_as_prometheus_writes_them(void **state)
{
    static const struct {
        const char *q, *want;
    } cases[] = {
        {"1e-7", "1e-07"},       {"-1.5e-9", "-1.5e-09"}, {"9.99e-7", "9.99e-07"}, {"1e-6", "0.000001"},
        {"1.25e-10", "1.25e-10"}, {"123456.5", "123456.5"}, {"1e20", "100000000000000000000"},
        {"1e21", "1e+21"},       {"-2.5e300", "-2.5e+300"}, {"0", "0"},               {"-0", "-0"},
        {"NaN", "NaN"},          {"-Inf", "-Inf"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *const p[] = {"query", cases[i].q, "time", "1700000000", NULL};
        char want[256];
        snprintf(want, sizeof want,
                 "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1700000000,\"%s\"]}}\n",
                 cases[i].want);
        expect(*state, "GET", "/api/v1/query", p, HTTP_OK, "application/json", want);
    }
}

static void query_reads_form_body(void **state)
{
    srv_resp w;
    run(*state, "POST", "/api/v1/query", NULL, "application/x-www-form-urlencoded",
        "query=cpu_usage%7Bhost%3D%22b%22%7D&time=1700000000.5", &w);
    assert_int_equal(w.status, HTTP_OK);
    assert_string_equal(srvt_body(&w), "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
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
    const char *b = srvt_body(&w);
    assert_memory_equal(b, want, sizeof want - 1); /* then the parser's reason */
    assert_true(strlen(b) > sizeof want + 4);
    srv_resp_free(&w);
    /* Prometheus 3 takes any UTF-8 label name from the path (2.x refused
     * this one): no series has it, so no values */
    expect(*state, "GET", "/api/v1/label/bad-name/values", NULL, HTTP_OK, "application/json",
           "{\"status\":\"success\",\"data\":[]}\n");
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

/* ---- hostile bodies and times */

/* Runs a request with a binary body and up to three headers. */
static void run_raw(fixture *f, const char *method, const char *path, const char *const *params,
                    const char *const *headers, const void *body, size_t len, srv_resp *w)
{
    srv_req r;
    memset(&r, 0, sizeof r);
    test_headers h = {{0}, {0}, 0};
    for (size_t i = 0; headers && headers[i] && h.n < 4; i += 2, h.n++) {
        h.name[h.n] = headers[i];
        h.value[h.n] = headers[i + 1];
    }
    r.method = method;
    r.path = path;
    r.header = header_of;
    r.header_ctx = &h;
    for (size_t i = 0; params && params[i]; i += 2)
        assert_int_equal(srv_param_add(&r, params[i], strlen(params[i]), params[i + 1], strlen(params[i + 1])),
                         STRATA_OK);
    if (len)
        assert_int_equal(sbuf_append(&r.body, body, len), STRATA_OK);
    memset(w, 0, sizeof *w);
    assert_int_equal(srv_handle(&f->s, &r, w), STRATA_OK);
    srv_req_free(&r);
}

/* Appends text as one gzip member. */
static void gz_member(sbuf *out, const char *text)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t n = strlen(text), cap = deflateBound(&z, (uLong)n);
    assert_int_equal(sbuf_reserve(out, cap), STRATA_OK);
    z.next_in = (Bytef *)(uintptr_t)text;
    z.avail_in = (uInt)n;
    z.next_out = out->data + out->len;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    out->len += cap - z.avail_out;
    deflateEnd(&z);
}

static void expect_status(srv_resp *w, unsigned status, const char *needle)
{
    const char *b = srvt_body(w);
    if (w->status != status || (needle && !strstr(b, needle)))
        fail_msg("status %u want %u, body %s (want '%s' in it)", w->status, status, b, needle ? needle : "");
    srv_resp_free(w);
}

static void gzip_bodies_are_read_member_by_member(void **state)
{
    fixture *f = *state;
    static const char *const gzip_h[] = {"Content-Encoding", "gzip", NULL};
    static const char *const prec[] = {"precision", "s", NULL};
    srv_resp w;
    sbuf b = {0};
    gz_member(&b, "gz,k=a v=1 1700000000\n");
    gz_member(&b, "gz,k=b v=2 1700000000\n");
    gz_member(&b, "gz,k=c v=3 1700000000\n");
    run_raw(f, "POST", "/write", prec, gzip_h, b.data, b.len, &w);
    expect_status(&w, HTTP_NO_CONTENT, NULL);
    /* a form body in two members: the query in one, its time in the other */
    static const char *const form_gz[] = {"Content-Type", "application/x-www-form-urlencoded", "Content-Encoding",
                                          "gzip", NULL};
    sbuf q = {0};
    gz_member(&q, "query=count(gz_v)&");
    gz_member(&q, "time=1700000001");
    run_raw(f, "POST", "/api/v1/query", NULL, form_gz, q.data, q.len, &w);
    expect_status(&w, HTTP_OK, "\"value\":[1700000001,\"3\"]");
    /* garbage after the last member, a truncated and a corrupt member: 400
     * on every endpoint taking a body, nothing stored */
    static const char *const paths[] = {"/write", "/api/v1/import", "/api/v1/query", "/api/v1/series",
                                        "/api/v1/admin/tsdb/delete_series"};
    sbuf bad = {0};
    for (int k = 0; k < 4; k++) {
        sbuf_reset(&bad);
        gz_member(&bad, "gz,k=d v=4 1700000000\n");
        const char *needle = "trailing data";
        if (k == 0)
            assert_int_equal(sbuf_append(&bad, "garbage", 7), STRATA_OK);
        else if (k == 1)
            assert_int_equal(sbuf_append(&bad, "\0\0\0\0", 4), STRATA_OK);
        else if (k == 2) {
            assert_int_equal(sbuf_append(&bad, b.data, 12), STRATA_OK); /* a member's first 12 bytes */
            needle = "truncated";
        } else {
            size_t at = bad.len;
            gz_member(&bad, "gz,k=e v=5 1700000000\n");
            bad.data[at + 12] ^= 0xff; /* inside the deflate data of the second member */
            needle = "bad gzip body";
        }
        for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
            const char *const *h = strstr(paths[i], "/write") || strstr(paths[i], "import") ? gzip_h : form_gz;
            run_raw(f, "POST", paths[i], prec, h, bad.data, bad.len, &w);
            expect_status(&w, HTTP_BAD_REQUEST, needle);
        }
    }
    static const char *const cnt[] = {"query", "count(gz_v)", "time", "1700000001", NULL};
    run_raw(f, "GET", "/api/v1/query", cnt, NULL, NULL, 0, &w);
    expect_status(&w, HTTP_OK, "\"value\":[1700000001,\"3\"]");
    /* a bomb: 8 MiB of zeros in a few KiB, over max_body (1 MiB) */
    sbuf bomb = {0};
    char *zeros = calloc(1, 8u << 20);
    assert_non_null(zeros);
    memset(zeros, 'a', (8u << 20) - 1);
    gz_member(&bomb, zeros);
    free(zeros);
    assert_true(bomb.len < 65536);
    run_raw(f, "POST", "/write", prec, gzip_h, bomb.data, bomb.len, &w);
    expect_status(&w, HTTP_CONTENT_TOO_LARGE, "over the limit");
    /* an encoding no endpoint knows is 415, also on a form endpoint */
    static const char *const br[] = {"Content-Type", "application/x-www-form-urlencoded", "Content-Encoding", "br",
                                     NULL};
    run_raw(f, "POST", "/api/v1/query", NULL, br, "query=1", 7, &w);
    expect_status(&w, HTTP_UNSUPPORTED_MEDIA_TYPE, "br");
    sbuf_free(&b);
    sbuf_free(&q);
    sbuf_free(&bad);
    sbuf_free(&bomb);
}

static void extreme_times_are_400_on_every_endpoint(void **state)
{
    fixture *f = *state;
    static const char *const values[] = {
        "-9223372036854775", "9223372036854779", "9223372036854775807", "1e300", "-1e300", "NaN", "Inf", "-Inf",
        "99999-01-01T00:00:00Z", "292277025-08-18T07:12:54Z", "now-9999999999999999d", "9999999999999999d",
        "4611686018427388", "-4611686018427387.905",
    };
    static const struct {
        const char *method, *path, *fixed[6], *names[2];
    } eps[] = {
        {"GET", "/api/v1/query", {"query", "1", NULL}, {"time", NULL}},
        {"GET", "/api/v1/query_range", {"query", "1", "step", "15", NULL}, {"start", "end"}},
        {"GET", "/api/v1/series", {"match[]", "cpu_usage", NULL}, {"start", "end"}},
        {"GET", "/api/v1/labels", {NULL}, {"start", "end"}},
        {"GET", "/api/v1/label/host/values", {NULL}, {"start", "end"}},
        {"GET", "/api/v1/export", {"match[]", "cpu_usage", NULL}, {"start", "end"}},
        {"POST", "/api/v1/admin/tsdb/delete_series", {"match[]", "cpu_usage", NULL}, {"start", "end"}},
    };
    for (size_t e = 0; e < ARRAY_LEN(eps); e++)
        for (size_t n = 0; n < 2 && eps[e].names[n]; n++)
            for (size_t v = 0; v < ARRAY_LEN(values); v++) {
                const char *p[12];
                size_t k = 0;
                for (size_t i = 0; eps[e].fixed[i]; i++)
                    p[k++] = eps[e].fixed[i];
                /* query_range needs both ends: the other one valid */
                if (!strcmp(eps[e].path, "/api/v1/query_range")) {
                    p[k++] = n ? "start" : "end";
                    p[k++] = n ? "1700000000" : "1700000060";
                }
                p[k++] = eps[e].names[n];
                p[k++] = values[v];
                p[k] = NULL;
                srv_resp w;
                run_raw(f, eps[e].method, eps[e].path, p, NULL, NULL, 0, &w);
                const char *b = srvt_body(&w);
                if (w.status != HTTP_BAD_REQUEST || !strstr(b, "bad_data"))
                    fail_msg("%s %s=%s: %u %s", eps[e].path, eps[e].names[n], values[v], w.status, b);
                srv_resp_free(&w);
            }
    /* the whole range at once, start at -2^62 ms and end at 2^62 ms: end -
     * start is 2^63 (it overflowed int64 in the point count) */
    static const char *const whole[] = {"query", "1", "start", "-4611686018427387.904", "end",
                                        "4611686018427387.904", "step", "1000000000000000", NULL};
    srv_resp w;
    run_raw(f, "GET", "/api/v1/query_range", whole, NULL, NULL, 0, &w);
    expect_status(&w, HTTP_OK, "[-4611686018427387.904,\"1\"]");
    static const char *const wide[] = {"match[]", "cpu_usage", "start", "-292273086-05-16T16:47:06Z", "end",
                                       "292277025-08-18T07:12:54.999999999Z", NULL};
    run_raw(f, "GET", "/api/v1/series", wide, NULL, NULL, 0, &w);
    expect_status(&w, HTTP_OK, "\"host\":\"b\"");
}

/* A snappy block of n bytes: unit repeated. */
static void snappy_of(const char *unit, size_t unit_len, size_t n, sbuf *out)
{
    char *raw = malloc(n);
    assert_non_null(raw);
    for (size_t i = 0; i < n; i++)
        raw[i] = unit[i % unit_len];
    size_t cap = snappy_max_compressed_length(n);
    sbuf_reset(out);
    assert_int_equal(sbuf_reserve(out, cap), STRATA_OK);
    assert_int_equal(snappy_compress(raw, n, (char *)out->data, &cap), SNAPPY_OK);
    out->len = cap;
    free(raw);
}

static void remote_bodies_are_bounded_decoded_and_unpacked(void **state)
{
    fixture *f = *state; /* max_decoded 4 MiB: objects 16 MiB */
    static const char *const proto[] = {"Content-Type", "application/x-protobuf", "Content-Encoding", "snappy",
                                        NULL};
    sbuf b = {0};
    srv_resp w;
    /* over the decoded limit by the snappy header: refused before decoding */
    snappy_of("\x0a\x00", 2, (4u << 20) + 2, &b);
    run_raw(f, "POST", "/api/v1/write", NULL, proto, b.data, b.len, &w);
    expect_status(&w, HTTP_CONTENT_TOO_LARGE, "over the limit of 4194304");
    run_raw(f, "POST", "/api/v1/read", NULL, proto, b.data, b.len, &w);
    expect_status(&w, HTTP_CONTENT_TOO_LARGE, "over the limit of 4194304");
    /* under it, but empty messages unpack to some 50 bytes per byte */
    static const struct {
        const char *path, *unit;
    } bombs[] = {
        {"/api/v1/write", "\x0a\x00"}, /* empty TimeSeries */
        {"/api/v1/write", "\x78\x00"}, /* unknown field 15 */
        {"/api/v1/read", "\x0a\x00"},  /* empty Query */
    };
    for (size_t i = 0; i < ARRAY_LEN(bombs); i++) {
        snappy_of(bombs[i].unit, 2, 4u << 20, &b);
        run_raw(f, "POST", bombs[i].path, NULL, proto, b.data, b.len, &w);
        expect_status(&w, HTTP_CONTENT_TOO_LARGE, "objects");
    }
    sbuf_free(&b);
    /* the server still answers */
    static const char *const p[] = {"query", "count(cpu_usage)", "time", "1700000000", NULL};
    run_raw(f, "GET", "/api/v1/query", p, NULL, NULL, 0, &w);
    expect_status(&w, HTTP_OK, "\"2\"");
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
        {"/api/v1/import/prometheus", H_IMPORT_PROM, NULL},
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
    const char *b = srvt_body(&w);
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
        cmocka_unit_test_setup_teardown(values_are_written_as_prometheus_writes_them, setup, teardown),
        cmocka_unit_test_setup_teardown(series_and_labels_list_what_was_written, setup, teardown),
        cmocka_unit_test_setup_teardown(strings_are_escaped_as_the_export_formats_do, setup, teardown),
        cmocka_unit_test_setup_teardown(export_streams_json_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_matcher_is_400, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_path_is_404_and_wrong_method_405, setup, teardown),
        cmocka_unit_test(routes_come_from_one_list),
        cmocka_unit_test_setup_teardown(gzip_bodies_are_read_member_by_member, setup, teardown),
        cmocka_unit_test_setup_teardown(extreme_times_are_400_on_every_endpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(remote_bodies_are_bounded_decoded_and_unpacked, setup, teardown),
        cmocka_unit_test_setup_teardown(health_and_metrics_answer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
