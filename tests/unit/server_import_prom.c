/* POST /api/v1/import/prometheus through the server's dispatch against a
 * database in a temporary directory: samples with escapes, NaN and
 * infinities, timestamps given or not, # TYPE/# HELP/# UNIT stored as
 * metadata; a bad line refuses the whole body. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server_testlib.h"

static int setup(void **state)
{
    fixture *f = srvt_open("server_import_prom");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    srvt_close(*state);
    return 0;
}

static const char *no_header(void *ctx, const char *name)
{
    (void)ctx;
    (void)name;
    return NULL;
}

static void post(fixture *f, const char *text, srv_resp *w)
{
    srv_req r;
    memset(&r, 0, sizeof r);
    r.method = "POST";
    r.path = "/api/v1/import/prometheus";
    r.header = no_header;
    assert_int_equal(sbuf_append(&r.body, text, strlen(text)), STRATA_OK);
    memset(w, 0, sizeof *w);
    assert_int_equal(srv_handle(&f->s, &r, w), STRATA_OK);
    srv_req_free(&r);
    assert_int_equal(sbuf_append(&w->body, "", 1), STRATA_OK);
    w->body.len--;
}

/* Samples of sel: count, the last value and time, the series' labels. */
static size_t stored(fixture *f, const char *sel, double *last, int64_t *last_t, char *labels, size_t cap)
{
    strata_selector s;
    char err[128];
    assert_int_equal(strata_selector_parse(sel, &s, err, sizeof err), STRATA_OK);
    strata_cursor *c = NULL;
    assert_int_equal(strata_select(f->s.db, s.matchers, s.n_matchers, INT64_MIN, INT64_MAX, &c), STRATA_OK);
    size_t n = 0;
    strata_sid sid;
    const strata_label *l;
    size_t nl;
    int rc;
    labels[0] = 0;
    while ((rc = strata_cursor_next_series(c, &sid, &l, &nl)) == 1) {
        size_t o = strlen(labels);
        for (size_t i = 0; i < nl && o < cap; i++)
            o += (size_t)snprintf(labels + o, cap - o, "%s=%s;", l[i].name, l[i].value);
        const int64_t *t;
        const double *v;
        size_t k;
        while ((rc = strata_cursor_next_samples(c, &t, &v, &k)) == 1) {
            n += k;
            *last = v[k - 1];
            *last_t = t[k - 1];
        }
        assert_int_equal(rc, 0);
    }
    assert_int_equal(rc, 0);
    strata_cursor_close(c);
    strata_selector_free(&s);
    return n;
}

static void text_import_stores_samples_and_metadata(void **state)
{
    fixture *f = *state;
    srv_resp w;
    int64_t before = cli_now_ms();
    post(f,
         "# HELP http_requests_total The total number of HTTP requests.\n"
         "# TYPE http_requests_total counter\n"
         "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
         "http_requests_total{method=\"post\",code=\"200\"} 1028 1395066364000\n"
         "  http_requests_total { method = \"get\" , code=\"400\", }  3 1395066363000\r\n"
         "# a comment\n\n"
         "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} "
         "1.458255915e9\n"
         "# UNIT temp_celsius celsius\n"
         "# HELP temp_celsius Temperature \\\\ with\\nlines.\n"
         "temp_celsius +Inf 1395066363000\n"
         "temp_celsius -inf 1395066364000\n"
         "nan_gauge NaN\n",
         &w);
    if (w.status != HTTP_NO_CONTENT)
        fail_msg("status %u: %s", w.status, (const char *)w.body.data);
    srv_resp_free(&w);
    int64_t after = cli_now_ms();
    double v = 0;
    int64_t t = 0;
    char labels[512];
    assert_int_equal(stored(f, "http_requests_total{code=\"200\"}", &v, &t, labels, sizeof labels), 2);
    assert_true(v == 1028 && t == 1395066364000);
    assert_int_equal(stored(f, "http_requests_total{method=\"get\"}", &v, &t, labels, sizeof labels), 1);
    assert_string_equal(labels, "__name__=http_requests_total;code=400;method=get;");
    assert_int_equal(stored(f, "msdos_file_access_time_seconds", &v, &t, labels, sizeof labels), 1);
    assert_string_equal(labels,
                        "__name__=msdos_file_access_time_seconds;error=Cannot find file:\n\"FILE.TXT\";path=C:\\DIR\\FILE.TXT;");
    assert_true(v == 1.458255915e9 && t >= before && t <= after); /* no timestamp: the time of the request */
    assert_int_equal(stored(f, "temp_celsius", &v, &t, labels, sizeof labels), 2);
    assert_true(isinf(v) && v < 0);
    assert_int_equal(stored(f, "nan_gauge", &v, &t, labels, sizeof labels), 1);
    assert_true(isnan(v));
    strata_metadata *md = NULL;
    size_t n = 0;
    assert_int_equal(strata_metadata_get(f->s.db, NULL, 0, 0, &md, &n), STRATA_OK);
    assert_int_equal(n, 2);
    assert_string_equal(md[0].metric, "http_requests_total");
    assert_string_equal(md[0].type, "counter");
    assert_string_equal(md[0].help, "The total number of HTTP requests.");
    assert_string_equal(md[0].unit, "");
    assert_string_equal(md[1].metric, "temp_celsius");
    assert_string_equal(md[1].type, "unknown");
    assert_string_equal(md[1].help, "Temperature \\ with\nlines.");
    assert_string_equal(md[1].unit, "celsius");
    strata_free(md);
}

static void a_bad_line_refuses_the_whole_body(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *body, *why;
    } cases[] = {
        {"ok 1\nbad{a=\"x} 1\n", "line 2: label a: expected a quoted value"},
        {"ok 1\nbad{a=\"x\",a=\"y\"} 1\n", "line 2: duplicate label name a"},
        {"ok 1\nbad 1 2 3\n", "line 2: bad: text after the timestamp"},
        {"ok 1\nbad one\n", "line 2: bad: bad value 'one'"},
        {"ok 1\nbad 1 1.5\n", "line 2: bad: bad timestamp '1.5'"},
        {"ok 1\n# TYPE bad countr\n", "line 2: # TYPE bad: unknown type 'countr'"},
        {"ok 1\n{a=\"b\"} 1\n", "line 2: expected a metric name"},
        {"ok 1\nbad{a=\"\\t\"} 1\n", "line 2: label a: expected a quoted value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        srv_resp w;
        post(f, cases[i].body, &w);
        if (w.status != HTTP_BAD_REQUEST || !strstr((const char *)w.body.data, cases[i].why))
            fail_msg("case %zu: status %u body %s, want '%s'", i, w.status, (const char *)w.body.data, cases[i].why);
        srv_resp_free(&w);
    }
    double v;
    int64_t t;
    char labels[64];
    assert_int_equal(stored(f, "ok", &v, &t, labels, sizeof labels), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(text_import_stores_samples_and_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(a_bad_line_refuses_the_whole_body, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
