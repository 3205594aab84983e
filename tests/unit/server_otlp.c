/* OTLP metrics ingest without HTTP: requests written as OTLP/JSON (and
 * re-encoded as protobuf) go through the decoders and the translation,
 * and the samples the translation hands out are checked one by one
 * against Prometheus 3's OTLP receiver rules (names with unit and type
 * suffixes, label sanitising, job/instance/target_info, histogram and
 * summary series, staleness, refusals counted). Then hostile bodies:
 * truncated and deeply nested protobuf, bad JSON, bodies over the limits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp.h"
#include "testutil.h"

#define T_NS "1700000000123456789"
#define T_MS 1700000000123LL

/* ---- a sink that keeps each sample as one line of text:
 *   name{a="x",b="y"} value @t   (labels sorted, __name__ first) */
typedef struct got {
    char lines[64][512];
    size_t n;
    uint64_t bits[64];
} got;

static int cmp_labels(const void *a, const void *b)
{
    return strcmp(((const strata_label *)a)->name, ((const strata_label *)b)->name);
}

static int collect(void *ctx, const strata_label *labels, size_t n, int64_t t, double v, const char **why)
{
    got *g = ctx;
    (void)why;
    assert_true(g->n < 64);
    strata_label sorted[64];
    assert_true(n <= 64);
    memcpy(sorted, labels, n * sizeof *labels);
    qsort(sorted, n, sizeof *sorted, cmp_labels);
    char *o = g->lines[g->n];
    size_t left = sizeof g->lines[0];
    const char *name = "";
    for (size_t i = 0; i < n; i++)
        if (!strcmp(sorted[i].name, "__name__"))
            name = sorted[i].value;
    int k = snprintf(o, left, "%s{", name);
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(sorted[i].name, "__name__"))
            continue;
        k += snprintf(o + k, left - (size_t)k, "%s%s=\"%s\"", first ? "" : ",", sorted[i].name, sorted[i].value);
        first = 0;
    }
    snprintf(o + k, left - (size_t)k, "} %.17g @%lld", v, (long long)t);
    memcpy(&g->bits[g->n], &v, 8);
    g->n++;
    return STRATA_OK;
}

static int has(const got *g, const char *line)
{
    for (size_t i = 0; i < g->n; i++)
        if (!strcmp(g->lines[i], line))
            return 1;
    return 0;
}

static void dump(const got *g)
{
    for (size_t i = 0; i < g->n; i++)
        fprintf(stderr, "  %s\n", g->lines[i]);
}

#define EXPECT(g, line)                                   \
    do {                                                  \
        if (!has(g, line)) {                              \
            fprintf(stderr, "missing: %s\ngot:\n", line); \
            dump(g);                                      \
            fail();                                       \
        }                                                 \
    } while (0)

static const otlp_limits lim = {1 << 20, 4 << 20};

/* Decodes json, translates into g with strategy st. */
static void translate_json(const char *json, otlp_strategy st, got *g, otlp_result *res)
{
    otlp_req *r = NULL;
    char err[256] = "";
    int rc = otlp_decode_json((const uint8_t *)json, strlen(json), &lim, &r, err, sizeof err);
    if (rc)
        fprintf(stderr, "decode: %s\n", err);
    assert_int_equal(rc, STRATA_OK);
    /* and the same request as protobuf gives the same samples */
    size_t n = protobuf_c_message_get_packed_size(&r->msg->base);
    uint8_t *pb = malloc(n ? n : 1);
    assert_non_null(pb);
    protobuf_c_message_pack(&r->msg->base, pb);
    otlp_req *r2 = NULL;
    assert_int_equal(otlp_decode_pb(pb, n, &lim, &r2, err, sizeof err), STRATA_OK);
    otlp_opts o = {st, 64, 1024};
    memset(g, 0, sizeof *g);
    assert_int_equal(otlp_translate(r->msg, &o, collect, g, res), STRATA_OK);
    got g2;
    memset(&g2, 0, sizeof g2);
    otlp_result res2;
    assert_int_equal(otlp_translate(r2->msg, &o, collect, &g2, &res2), STRATA_OK);
    assert_int_equal(g->n, g2.n);
    for (size_t i = 0; i < g->n; i++)
        assert_string_equal(g->lines[i], g2.lines[i]);
    otlp_free(r);
    otlp_free(r2);
    free(pb);
}

#define RES(attrs) "{\"resourceMetrics\":[{\"resource\":{\"attributes\":[" attrs "]},\"scopeMetrics\":[{\"metrics\":["
#define END "]}]}]}"
#define STR(k, v) "{\"key\":\"" k "\",\"value\":{\"stringValue\":\"" v "\"}}"

static void counters_get_total_and_units(void **state)
{
    (void)state;
    got g;
    otlp_result res;
    translate_json(
        RES(STR("service.name",
                "shop")) "{\"name\":\"http.requests\",\"unit\":\"{request}\",\"sum\":{"
                         "\"aggregationTemporality\":2,\"isMonotonic\":true,\"dataPoints\":[{\"asInt\":\"42\","
                         "\"timeUnixNano\":\"" T_NS "\",\"attributes\":[" STR(
                             "http.method",
                             "GET") "]}]}},"
                                    "{\"name\":\"bytes.sent\",\"unit\":\"By\",\"sum\":{\"aggregationTemporality\":"
                                    "\"AGGREGATION_"
                                    "TEMPORALITY_CUMULATIVE\",\"isMonotonic\":true,\"dataPoints\":[{\"asDouble\":1.5,"
                                    "\"timeUnixNano\":" T_NS "}]}}" END,
        OTLP_UNDERSCORE_ESCAPING_WITH_SUFFIXES, &g, &res);
    EXPECT(&g, "http_requests_total{http_method=\"GET\",job=\"shop\"} 42 @1700000000123");
    /* "bytes" is already a token of the name: not added again */
    EXPECT(&g, "bytes_sent_total{job=\"shop\"} 1.5 @1700000000123");
    assert_int_equal(res.points, 2);
    assert_int_equal(res.rejected_points, 0);
    assert_int_equal(g.n, 2); /* no target_info: the resource has only service.name */
}

static void updown_and_delta_sums_are_gauges(void **state)
{
    (void)state;
    got g;
    otlp_result res;
    translate_json(RES("") "{\"name\":\"queue.size\",\"unit\":\"1\",\"sum\":{\"aggregationTemporality\":2,"
                           "\"dataPoints\":[{\"asInt\":-3,\"timeUnixNano\":\"" T_NS "\"}]}},"
                           "{\"name\":\"jobs.done\",\"sum\":{\"aggregationTemporality\":1,\"isMonotonic\":true,"
                           "\"dataPoints\":[{\"asInt\":5,\"timeUnixNano\":\"" T_NS "\"}]}},"
                           "{\"name\":\"bad.sum\",\"sum\":{\"dataPoints\":[{\"asInt\":5,\"timeUnixNano\":\"" T_NS
                           "\"}]}},"
                           "{\"name\":\"cpu.utilization\",\"unit\":\"1\",\"gauge\":{\"dataPoints\":[{\"asDouble\":0.25,"
                           "\"timeUnixNano\":\"" T_NS "\"}]}}" END,
                   OTLP_UNDERSCORE_ESCAPING_WITH_SUFFIXES, &g, &res);
    EXPECT(&g, "queue_size{} -3 @1700000000123"); /* unit 1: _ratio on gauges only */
    EXPECT(&g, "jobs_done{} 5 @1700000000123");   /* delta: kept as the increment, no _total */
    EXPECT(&g, "cpu_utilization_ratio{} 0.25 @1700000000123");
    assert_int_equal(g.n, 3);
    assert_int_equal(res.rejected_points, 1);
    assert_int_equal(res.rejected_temporality, 1);
    assert_non_null(strstr(res.first_reason, "bad.sum"));
}

static void histograms_become_cumulative_buckets(void **state)
{
    (void)state;
    got g;
    otlp_result res;
    translate_json(
        RES("") "{\"name\":\"http.server.duration\",\"unit\":\"ms\",\"histogram\":{"
                "\"aggregationTemporality\":2,\"dataPoints\":[{\"timeUnixNano\":\"" T_NS "\",\"count\":\"10\","
                "\"sum\":123.5,\"bucketCounts\":[\"1\",2,\"3\",\"4\"],\"explicitBounds\":[0.005,10,1e6]},"
                "{\"timeUnixNano\":\"" T_NS "\",\"count\":2,\"bucketCounts\":[2],\"attributes\":[" STR(
                    "a",
                    "nosum") "]}]}},"
                             "{\"name\":\"delta.h\",\"histogram\":{\"aggregationTemporality\":1,\"dataPoints\":[{}]}},"
                             "{\"name\":\"exp.h\",\"exponentialHistogram\":{\"aggregationTemporality\":2,"
                             "\"dataPoints\":[{},{}]}}" END,
        OTLP_UNDERSCORE_ESCAPING_WITH_SUFFIXES, &g, &res);
    EXPECT(&g, "http_server_duration_milliseconds_bucket{le=\"0.005\"} 1 @1700000000123");
    EXPECT(&g, "http_server_duration_milliseconds_bucket{le=\"10\"} 3 @1700000000123");
    EXPECT(&g, "http_server_duration_milliseconds_bucket{le=\"1000000\"} 6 @1700000000123");
    EXPECT(&g, "http_server_duration_milliseconds_bucket{le=\"+Inf\"} 10 @1700000000123");
    EXPECT(&g, "http_server_duration_milliseconds_sum{} 123.5 @1700000000123");
    EXPECT(&g, "http_server_duration_milliseconds_count{} 10 @1700000000123");
    /* a point without a sum has no _sum series; no bounds: only +Inf */
    EXPECT(&g, "http_server_duration_milliseconds_count{a=\"nosum\"} 2 @1700000000123");
    EXPECT(&g, "http_server_duration_milliseconds_bucket{a=\"nosum\",le=\"+Inf\"} 2 @1700000000123");
    assert_int_equal(g.n, 8);
    assert_int_equal(res.points, 5);
    assert_int_equal(res.rejected_points, 3);
    assert_int_equal(res.rejected_exphist, 2);
    assert_int_equal(res.rejected_temporality, 1);
}

static void summaries_have_quantiles(void **state)
{
    (void)state;
    got g;
    otlp_result res;
    translate_json(RES("") "{\"name\":\"rpc.latency\",\"unit\":\"s\",\"summary\":{\"dataPoints\":[{"
                           "\"timeUnixNano\":\"" T_NS "\",\"count\":\"4\",\"sum\":2,\"quantileValues\":["
                           "{\"quantile\":0.5,\"value\":0.4},{\"quantile\":0.99,\"value\":\"Infinity\"}]}]}}" END,
                   OTLP_UNDERSCORE_ESCAPING_WITH_SUFFIXES, &g, &res);
    EXPECT(&g, "rpc_latency_seconds{quantile=\"0.5\"} 0.40000000000000002 @1700000000123");
    EXPECT(&g, "rpc_latency_seconds{quantile=\"0.99\"} inf @1700000000123");
    EXPECT(&g, "rpc_latency_seconds_sum{} 2 @1700000000123");
    EXPECT(&g, "rpc_latency_seconds_count{} 4 @1700000000123");
    assert_int_equal(g.n, 4);
}

static void resource_gives_job_instance_and_target_info(void **state)
{
    (void)state;
    got g;
    otlp_result res;
    translate_json(RES(STR("service.name", "api") "," STR("service.namespace", "prod") "," STR(
                       "service.instance.id", "pod-7") "," STR("host.name",
                                                               "h1") ","
                                                                     "{\"key\":\"k8s.pod.ready\",\"value\":{"
                                                                     "\"boolValue\":true}},"
                                                                     "{\"key\":\"cores\",\"value\":{\"intValue\":\"8\"}"
                                                                     "}") "{\"name\":\"up.time\",\"unit\":\"s\","
                                                                          "\"gauge\":{\"dataPoints\":[{\"asInt\":1,"
                                                                          "\"timeUnixNano\":\"" T_NS
                                                                          "\",\"attributes\":[" STR(
                                                                              "job",
                                                                              "mine") "]},{\"asInt\":2,"
                                                                                      "\"timeUnixNano\":"
                                                                                      "\"1700000005000000000\"}]}}" END,
                   OTLP_UNDERSCORE_ESCAPING_WITH_SUFFIXES, &g, &res);
    /* the resource's job replaces an attribute named job, as Prometheus does */
    EXPECT(&g, "up_time_seconds{instance=\"pod-7\",job=\"prod/api\"} 1 @1700000000123");
    EXPECT(&g, "up_time_seconds{instance=\"pod-7\",job=\"prod/api\"} 2 @1700000005000");
    EXPECT(&g, "target_info{cores=\"8\",host_name=\"h1\",instance=\"pod-7\",job=\"prod/api\",k8s_pod_ready=\"true\"} "
               "1 @1700000005000");
    assert_int_equal(g.n, 3);
    assert_int_equal(res.points, 2);
}

static void labels_are_sanitised_and_joined(void **state)
{
    (void)state;
    got g;
    otlp_result res;
    translate_json(
        RES("") "{\"name\":\"m\",\"gauge\":{\"dataPoints\":[{\"asInt\":1,\"timeUnixNano\":\"" T_NS "\","
                "\"attributes\":[" STR("a.b", "1") "," STR("a_b", "2") "," STR("0day", "x") "," STR(
                    "_hidden", "y") "," STR("__keep",
                                            "z") "," STR("empty",
                                                         "") "," STR("caf\xc3\xa9",
                                                                     "w") ","
                                                                          "{\"key\":\"list\",\"value\":{\"arrayValue\":"
                                                                          "{\"values\":[{\"intValue\":1},"
                                                                          "{\"stringValue\":\"q\\\"\"}]}}}]}]}}" END,
        OTLP_UNDERSCORE_ESCAPING_WITH_SUFFIXES, &g, &res);
    EXPECT(&g, "m{__keep=\"z\",a_b=\"1;2\",caf_=\"w\",key_0day=\"x\",key_hidden=\"y\",list=\"[1,\"q\\\"\"]\"} 1 "
               "@1700000000123");
    assert_int_equal(g.n, 1);
}

static void utf8_strategies_keep_names(void **state)
{
    (void)state;
    got g;
    otlp_result res;
    const char *req = RES("") "{\"name\":\"http.server.duration\",\"unit\":\"ms\",\"sum\":{"
                              "\"aggregationTemporality\":2,\"isMonotonic\":true,\"dataPoints\":[{\"asInt\":1,"
                              "\"timeUnixNano\":\"" T_NS "\",\"attributes\":[" STR("http.method", "GET") "]}]}}" END;
    translate_json(req, OTLP_NO_UTF8_ESCAPING_WITH_SUFFIXES, &g, &res);
    EXPECT(&g, "http.server.duration_milliseconds_total{http.method=\"GET\"} 1 @1700000000123");
    translate_json(req, OTLP_NO_TRANSLATION, &g, &res);
    EXPECT(&g, "http.server.duration{http.method=\"GET\"} 1 @1700000000123");
    translate_json(req, OTLP_UNDERSCORE_ESCAPING_WITHOUT_SUFFIXES, &g, &res);
    EXPECT(&g, "http_server_duration{http_method=\"GET\"} 1 @1700000000123");
}

static void metric_names_follow_otlptranslator(void **state)
{
    (void)state;
    static const struct {
        const char *name, *unit;
        otlp_kind kind;
        const char *want;
    } cases[] = {
        {"http.server.duration", "ms", OTLP_K_HISTOGRAM, "http_server_duration_milliseconds"},
        {"system.network.io", "By", OTLP_K_COUNTER, "system_network_io_bytes_total"},
        {"requests.total", "1", OTLP_K_COUNTER, "requests_total"},
        {"throughput", "By/s", OTLP_K_GAUGE, "throughput_bytes_per_second"},
        {"latency_seconds", "s", OTLP_K_GAUGE, "latency_seconds"},
        {"rate", "{packets}/s", OTLP_K_GAUGE, "rate_per_second"},
        {"temp", "Cel", OTLP_K_GAUGE, "temp_celsius"},
        {"foo__bar...baz", "", OTLP_K_GAUGE, "foo_bar_baz"},
        {"2xx.responses", "", OTLP_K_COUNTER, "_2xx_responses_total"},
        {"ratio.used", "1", OTLP_K_GAUGE, "used_ratio"},
        {"ns:metric", "", OTLP_K_GAUGE, "ns:metric"},
        {"odd", "m/h", OTLP_K_UPDOWN, "odd_meters_per_hour"},
    };
    sbuf out = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(
            otlp_metric_name(cases[i].name, cases[i].unit, cases[i].kind, OTLP_UNDERSCORE_ESCAPING_WITH_SUFFIXES, &out),
            STRATA_OK);
        if (strcmp((const char *)out.data, cases[i].want))
            fprintf(stderr, "%s [%s]: got %s want %s\n", cases[i].name, cases[i].unit, (const char *)out.data,
                    cases[i].want);
        assert_string_equal((const char *)out.data, cases[i].want);
    }
    /* names that translate to nothing are refused */
    assert_int_equal(otlp_metric_name("...", "", OTLP_K_GAUGE, OTLP_UNDERSCORE_ESCAPING_WITH_SUFFIXES, &out),
                     STRATA_ERR_INVALID);
    assert_int_equal(otlp_metric_name("", "", OTLP_K_GAUGE, OTLP_NO_TRANSLATION, &out), STRATA_ERR_INVALID);
    assert_int_equal(otlp_unit_name("By/s", OTLP_UNDERSCORE_ESCAPING_WITH_SUFFIXES, &out), STRATA_OK);
    assert_string_equal((const char *)out.data, "bytes_per_second");
    char le[OTLP_FLOAT_BUF];
    otlp_format_le(0.1, le);
    assert_string_equal(le, "0.1");
    otlp_format_le(2.5e-7, le);
    assert_string_equal(le, "0.00000025");
    otlp_format_le(1e21, le);
    assert_string_equal(le, "1000000000000000000000");
    otlp_format_le(-3, le);
    assert_string_equal(le, "-3");
    sbuf_free(&out);
}

static void no_recorded_value_is_stale_nan(void **state)
{
    (void)state;
    got g;
    otlp_result res;
    translate_json(RES("") "{\"name\":\"g\",\"gauge\":{\"dataPoints\":[{\"asDouble\":3,\"flags\":1,"
                           "\"timeUnixNano\":\"" T_NS "\"},{\"asDouble\":\"NaN\",\"timeUnixNano\":\"" T_NS "\"}]}}" END,
                   OTLP_UNDERSCORE_ESCAPING_WITH_SUFFIXES, &g, &res);
    assert_int_equal(g.n, 2);
    assert_true(g.bits[0] == 0x7ff0000000000002ull);
    assert_true(g.bits[1] != 0x7ff0000000000002ull);
}

static void bad_json_is_refused(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "[]",
        "{\"resourceMetrics\":",
        "{\"resourceMetrics\":{}}",
        "{\"resourceMetrics\":[1]}",
        "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"gauge\":{\"dataPoints\":[{\"asInt\":\"x\"}]}}]}]}]}",
        ("{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"gauge\":{\"dataPoints\":[{\"timeUnixNano\":-1}]}}]}]"
         "}]}"),
        "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"a\\u0000b\"}]}]}]}",
        "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":7}]}]}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        otlp_req *r = NULL;
        char err[256] = "";
        assert_int_equal(otlp_decode_json((const uint8_t *)bad[i], strlen(bad[i]), &lim, &r, err, sizeof err),
                         STRATA_ERR_INVALID);
        assert_true(err[0]);
        assert_null(r);
    }
    /* unknown keys are ignored */
    const char *ok = "{\"resourceMetrics\":[],\"future\":{\"x\":[1,2]}}";
    otlp_req *r = NULL;
    char err[256];
    assert_int_equal(otlp_decode_json((const uint8_t *)ok, strlen(ok), &lim, &r, err, sizeof err), STRATA_OK);
    otlp_free(r);
}

static void deep_nesting_is_refused(void **state)
{
    (void)state;
    /* JSON: attribute arrays in arrays */
    sbuf j = {0};
    const char *head = "{\"resourceMetrics\":[{\"resource\":{\"attributes\":[{\"key\":\"k\",\"value\":";
    assert_int_equal(sbuf_append(&j, head, strlen(head)), 0);
    for (int i = 0; i < 40; i++)
        assert_int_equal(sbuf_append(&j, "{\"arrayValue\":{\"values\":[", 26), 0);
    for (int i = 0; i < 40; i++)
        assert_int_equal(sbuf_append(&j, "]}}", 3), 0);
    assert_int_equal(sbuf_append(&j, "}]}}]}", 6), 0);
    otlp_req *r = NULL;
    char err[256] = "";
    assert_int_equal(otlp_decode_json(j.data, j.len, &lim, &r, err, sizeof err), STRATA_ERR_INVALID);
    sbuf_free(&j);
    /* protobuf: Request.resource_metrics(1).resource(1).attributes(1).value(2) = AnyValue whose
     * array_value(5) holds values(1) = AnyValue ... 2000 deep, built from the inside out */
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap), *tmp = malloc(cap);
    assert_non_null(buf);
    assert_non_null(tmp);
    for (int i = 0; i < 4000 + 4; i++) {
        uint8_t tag = i < 4000 ? ((i % 2) ? 0x2a : 0x0a) : i == 4000 ? 0x12 : 0x0a;
        size_t h = 0;
        tmp[h++] = tag;
        size_t v = len;
        while (v >= 0x80) {
            tmp[h++] = (uint8_t)(v | 0x80);
            v >>= 7;
        }
        tmp[h++] = (uint8_t)v;
        assert_true(h + len <= cap);
        memcpy(tmp + h, buf, len);
        memcpy(buf, tmp, h + len);
        len += h;
    }
    assert_int_equal(otlp_decode_pb(buf, len, &lim, &r, err, sizeof err), STRATA_ERR_INVALID);
    free(buf);
    free(tmp);
}

static void truncated_protobuf_and_limits(void **state)
{
    (void)state;
    const char *json = RES(STR("service.name", "x")) "{\"name\":\"g\",\"gauge\":{\"dataPoints\":[{\"asDouble\":3,"
                                                     "\"timeUnixNano\":\"" T_NS "\"}]}}" END;
    otlp_req *r = NULL;
    char err[256];
    assert_int_equal(otlp_decode_json((const uint8_t *)json, strlen(json), &lim, &r, err, sizeof err), STRATA_OK);
    size_t n = protobuf_c_message_get_packed_size(&r->msg->base);
    uint8_t *pb = malloc(n);
    assert_non_null(pb);
    protobuf_c_message_pack(&r->msg->base, pb);
    otlp_free(r);
    for (size_t cut = 1; cut < n; cut++) {
        otlp_req *x = NULL;
        int rc = otlp_decode_pb(pb, cut, &lim, &x, err, sizeof err);
        /* a cut at a field boundary is a shorter valid message */
        assert_true(rc == STRATA_OK || rc == STRATA_ERR_INVALID);
        otlp_free(x);
    }
    /* over max_decoded: 413 material */
    otlp_limits tiny = {n - 1, 1 << 20};
    assert_int_equal(otlp_decode_pb(pb, n, &tiny, &r, err, sizeof err), STRATA_ERR_LIMIT);
    otlp_limits few_objects = {1 << 20, 64};
    assert_int_equal(otlp_decode_pb(pb, n, &few_objects, &r, err, sizeof err), STRATA_ERR_LIMIT);
    /* the JSON tree is bounded too */
    assert_int_equal(otlp_decode_json((const uint8_t *)json, strlen(json), &few_objects, &r, err, sizeof err),
                     STRATA_ERR_LIMIT);
    free(pb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counters_get_total_and_units),
        cmocka_unit_test(updown_and_delta_sums_are_gauges),
        cmocka_unit_test(histograms_become_cumulative_buckets),
        cmocka_unit_test(summaries_have_quantiles),
        cmocka_unit_test(resource_gives_job_instance_and_target_info),
        cmocka_unit_test(labels_are_sanitised_and_joined),
        cmocka_unit_test(utf8_strategies_keep_names),
        cmocka_unit_test(metric_names_follow_otlptranslator),
        cmocka_unit_test(no_recorded_value_is_stale_nan),
        cmocka_unit_test(bad_json_is_refused),
        cmocka_unit_test(deep_nesting_is_refused),
        cmocka_unit_test(truncated_protobuf_and_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
