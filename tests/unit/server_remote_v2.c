/* Remote write 2.0: the decoder (remote_v2.c) on requests built with
 * protobuf-c, and POST /api/v1/write with proto=io.prometheus.write.v2.Request
 * through the server's dispatch against a database in a temporary
 * directory: symbols resolved, references checked, written-count headers,
 * metadata stored, zeros at created timestamps, histograms and exemplars
 * refused as a partial write, the Content-Type's proto= parameter. */
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "remote_v2.h"
#include "server_testlib.h"

typedef Io__Prometheus__Write__V2__Request v2_request;
typedef Io__Prometheus__Write__V2__TimeSeries v2_series;
typedef Io__Prometheus__Write__V2__Sample v2_sample;

#define T0 1700000000000LL
#define MAXS 8

/* A request under construction: symbols, up to MAXS series of up to
 * MAXS samples each. */
typedef struct req_builder {
    ProtobufCBinaryData sym[32];
    v2_request rq;
    v2_series ts[MAXS];
    v2_series *tsp[MAXS];
    uint32_t refs[MAXS][2 * MAXS];
    v2_sample s[MAXS][MAXS];
    v2_sample *sp[MAXS][MAXS];
    Io__Prometheus__Write__V2__Metadata md[MAXS];
    Io__Prometheus__Write__V2__Histogram h;
    Io__Prometheus__Write__V2__Histogram *hp;
    Io__Prometheus__Write__V2__Exemplar ex;
    Io__Prometheus__Write__V2__Exemplar *exp;
} req_builder;

/* symbols: 0 "", 1 __name__, 2 up_total, 3 job, 4 api, 5 instance, 6 a:1,
 * 7 b:2, 8 "Requests.", 9 "requests", 10 trace_id, 11 abc */
static void builder_init(req_builder *b)
{
    static const char *syms[] = {"",   "__name__", "up_total", "job",       "api",      "instance",
                                 "a:1", "b:2",     "Requests.", "requests", "trace_id", "abc"};
    memset(b, 0, sizeof *b);
    io__prometheus__write__v2__request__init(&b->rq);
    for (size_t k = 0; k < sizeof syms / sizeof syms[0]; k++)
        b->sym[k] = (ProtobufCBinaryData){strlen(syms[k]), (uint8_t *)syms[k]};
    b->rq.symbols = b->sym;
    b->rq.n_symbols = sizeof syms / sizeof syms[0];
    b->rq.timeseries = b->tsp;
}

/* Adds a series with labels given as symbol references and n samples
 * (value i + 1 at T0 + i*1000); returns it. */
static v2_series *add_series(req_builder *b, const uint32_t *refs, size_t nrefs, size_t n)
{
    size_t i = b->rq.n_timeseries++;
    v2_series *ts = &b->ts[i];
    io__prometheus__write__v2__time_series__init(ts);
    memcpy(b->refs[i], refs, nrefs * sizeof *refs);
    ts->labels_refs = b->refs[i];
    ts->n_labels_refs = nrefs;
    for (size_t j = 0; j < n; j++) {
        io__prometheus__write__v2__sample__init(&b->s[i][j]);
        b->s[i][j].timestamp = T0 + (int64_t)j * 1000;
        b->s[i][j].value = (double)j + 1;
        b->sp[i][j] = &b->s[i][j];
    }
    ts->samples = b->sp[i];
    ts->n_samples = n;
    b->tsp[i] = ts;
    return ts;
}

/* The request as a snappy body. */
static void body_of_req(const req_builder *b, sbuf *out)
{
    size_t n = io__prometheus__write__v2__request__get_packed_size(&b->rq);
    uint8_t *raw = malloc(n ? n : 1);
    assert_non_null(raw);
    assert_int_equal(io__prometheus__write__v2__request__pack(&b->rq, raw), n);
    size_t cap = snappy_max_compressed_length(n);
    sbuf_reset(out);
    assert_int_equal(sbuf_reserve(out, cap), STRATA_OK);
    assert_int_equal(snappy_compress((const char *)raw, n, (char *)out->data, &cap), SNAPPY_OK);
    out->len = cap;
    free(raw);
}

static const rw_limits test_lim = {
    .max_labels = 4, .max_label_len = 64, .max_decoded = 1 << 20, .max_objects = 4 << 20, .max_samples = 1000};

static int decode(const req_builder *b, char *err, size_t errlen)
{
    sbuf body = {0};
    body_of_req(b, &body);
    rw2_write *w = NULL;
    int rc = rw2_decode(body.data, body.len, &test_lim, &w, err, errlen);
    rw2_free(w);
    sbuf_free(&body);
    return rc;
}

/* ---- the decoder */

static void decoder_resolves_symbols_and_counts_what_a_request_carries(void **state)
{
    (void)state;
    req_builder *b = malloc(sizeof *b);
    assert_non_null(b);
    builder_init(b);
    const uint32_t l1[] = {1, 2, 3, 4, 5, 6};
    add_series(b, l1, 6, 3);
    v2_series *ts = add_series(b, l1, 4, 0);
    io__prometheus__write__v2__histogram__init(&b->h);
    b->hp = &b->h;
    ts->histograms = &b->hp;
    ts->n_histograms = 1;
    sbuf body = {0};
    body_of_req(b, &body);
    rw2_write *w = NULL;
    char err[256] = "";
    assert_int_equal(rw2_decode(body.data, body.len, &test_lim, &w, err, sizeof err), STRATA_OK);
    assert_int_equal(w->samples, 3);
    assert_int_equal(w->histograms, 1);
    assert_int_equal(w->exemplars, 0);
    assert_int_equal(w->msg->n_timeseries, 2);
    rw2_free(w);
    sbuf_free(&body);
    free(b);
}

static void decoder_refuses_malformed_series_whole(void **state)
{
    (void)state;
    static const struct {
        uint32_t refs[10];
        size_t nrefs, samples;
        int rc;
        const char *why;
    } cases[] = {
        {{1, 2, 3}, 3, 1, STRATA_ERR_INVALID, "odd number of label references"},
        {{1, 2, 3, 99}, 4, 1, STRATA_ERR_INVALID, "label reference 99 outside the symbol table of 12"},
        {{0, 2}, 2, 1, STRATA_ERR_INVALID, "empty label name"},
        {{1, 2, 1, 4}, 4, 1, STRATA_ERR_INVALID, "duplicate label name __name__"},
        {{1, 0, 3, 0}, 4, 1, STRATA_ERR_INVALID, "has no labels"},
        {{1, 2}, 2, 0, STRATA_ERR_INVALID, "no samples or histograms"},
        {{1, 2, 3, 4, 5, 6, 8, 9, 10, 11}, 10, 1, STRATA_ERR_LIMIT, "5 labels, over the limit of 4"},
    };
    req_builder *b = malloc(sizeof *b);
    assert_non_null(b);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        builder_init(b);
        const uint32_t ok[] = {1, 2};
        add_series(b, ok, 2, 1);
        add_series(b, cases[i].refs, cases[i].nrefs, cases[i].samples);
        char err[256] = "";
        int rc = decode(b, err, sizeof err);
        if (rc != cases[i].rc || !strstr(err, cases[i].why) || !strstr(err, "series 1"))
            fail_msg("case %zu: status %d, error '%s', want '%s'", i, rc, err, cases[i].why);
    }
    /* a NUL byte inside a symbol used as a label, a metadata reference outside */
    builder_init(b);
    b->sym[4] = (ProtobufCBinaryData){3, (uint8_t *)"a\0b"};
    const uint32_t l[] = {1, 2, 3, 4};
    add_series(b, l, 4, 1);
    char err[256] = "";
    assert_int_equal(decode(b, err, sizeof err), STRATA_ERR_INVALID);
    assert_non_null(strstr(err, "NUL"));
    builder_init(b);
    v2_series *ts = add_series(b, l, 4, 1);
    io__prometheus__write__v2__metadata__init(&b->md[0]);
    b->md[0].help_ref = 12;
    ts->metadata = &b->md[0];
    assert_int_equal(decode(b, err, sizeof err), STRATA_ERR_INVALID);
    assert_non_null(strstr(err, "metadata reference 12 outside"));
    /* not a Request at all */
    static const char junk[] = "\xff\xff\xff\xff";
    size_t cap = snappy_max_compressed_length(4);
    char *z = malloc(cap);
    assert_non_null(z);
    assert_int_equal(snappy_compress(junk, 4, z, &cap), SNAPPY_OK);
    rw2_write *w = NULL;
    assert_int_equal(rw2_decode((const uint8_t *)z, cap, &test_lim, &w, err, sizeof err), STRATA_ERR_INVALID);
    assert_non_null(strstr(err, "protobuf"));
    free(z);
    free(b);
}

static void content_type_names_the_message(void **state)
{
    (void)state;
    static const struct {
        const char *ct;
        int v;
    } cases[] = {
        {NULL, 1},
        {"application/x-protobuf", 1},
        {"application/x-protobuf;proto=prometheus.WriteRequest", 1},
        {"application/x-protobuf;proto=io.prometheus.write.v2.Request", 2},
        {"Application/X-Protobuf ; charset=x; proto=\"io.prometheus.write.v2.Request\"", 2},
        {"application/x-protobuf;proto=io.prometheus.write.v3.Request", 0},
        {"application/x-protobuf;proto=", 0},
        {"application/x-protobufz", 0},
        {"application/json", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (rw_content_version(cases[i].ct) != cases[i].v)
            fail_msg("'%s': %d, want %d", cases[i].ct ? cases[i].ct : "(none)", rw_content_version(cases[i].ct),
                     cases[i].v);
}

/* ---- the handler */

static int setup(void **state)
{
    fixture *f = srvt_open("server_remote_v2");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    srvt_close(*state);
    return 0;
}

static const char *hdr_of(void *ctx, const char *name)
{
    const char *const *h = ctx;
    for (size_t i = 0; h[i]; i += 2)
        if (!strcasecmp(h[i], name))
            return h[i + 1];
    return NULL;
}

#define CT_V2 "application/x-protobuf;proto=io.prometheus.write.v2.Request"

static void post(fixture *f, const char *ctype, const sbuf *body, srv_resp *w)
{
    const char *h[] = {"Content-Type", ctype, "Content-Encoding", "snappy", NULL};
    srv_req r;
    memset(&r, 0, sizeof r);
    r.method = "POST";
    r.path = "/api/v1/write";
    r.header = hdr_of;
    r.header_ctx = h;
    assert_int_equal(sbuf_append(&r.body, body->data, body->len), STRATA_OK);
    memset(w, 0, sizeof *w);
    assert_int_equal(srv_handle(&f->s, &r, w), STRATA_OK);
    srv_req_free(&r);
}

static const char *resp_header(const srv_resp *w, const char *name)
{
    for (size_t i = 0; i < w->n_headers; i++)
        if (!strcasecmp(w->headers[i].name, name))
            return w->headers[i].value;
    return NULL;
}

static void expect_written(const srv_resp *w, const char *samples, const char *histograms, const char *exemplars)
{
    const char *s = resp_header(w, "X-Prometheus-Remote-Write-Samples-Written");
    const char *h = resp_header(w, "X-Prometheus-Remote-Write-Histograms-Written");
    const char *e = resp_header(w, "X-Prometheus-Remote-Write-Exemplars-Written");
    assert_non_null(s);
    assert_non_null(h);
    assert_non_null(e);
    assert_string_equal(s, samples);
    assert_string_equal(h, histograms);
    assert_string_equal(e, exemplars);
}

static const char *body_text(srv_resp *w)
{
    assert_int_equal(sbuf_append(&w->body, "", 1), STRATA_OK);
    w->body.len--;
    return (const char *)w->body.data;
}

/* The samples stored for the selector text: count and their sum, with
 * the time of the first. */
static void stored(fixture *f, const char *sel, size_t *n, double *sum, int64_t *first_t, size_t *series)
{
    strata_selector s;
    char err[128];
    assert_int_equal(strata_selector_parse(sel, &s, err, sizeof err), STRATA_OK);
    strata_cursor *c = NULL;
    assert_int_equal(strata_select(f->s.db, s.matchers, s.n_matchers, 0, INT64_MAX, &c), STRATA_OK);
    *n = 0;
    *sum = 0;
    *series = 0;
    *first_t = 0;
    strata_sid sid;
    const strata_label *l;
    size_t nl;
    int rc;
    while ((rc = strata_cursor_next_series(c, &sid, &l, &nl)) == 1) {
        ++*series;
        const int64_t *t;
        const double *v;
        size_t k;
        while ((rc = strata_cursor_next_samples(c, &t, &v, &k)) == 1)
            for (size_t i = 0; i < k; i++) {
                if (!*n)
                    *first_t = t[i];
                ++*n;
                *sum += v[i];
            }
        assert_int_equal(rc, 0);
    }
    assert_int_equal(rc, 0);
    strata_cursor_close(c);
    strata_selector_free(&s);
}

static void v2_write_stores_samples_and_metadata_and_says_what_it_wrote(void **state)
{
    fixture *f = *state;
    req_builder *b = malloc(sizeof *b);
    assert_non_null(b);
    builder_init(b);
    const uint32_t l1[] = {1, 2, 5, 6, 3, 4}, l2[] = {1, 2, 5, 7, 3, 4};
    v2_series *a = add_series(b, l1, 6, 3);
    v2_series *c = add_series(b, l2, 6, 2);
    io__prometheus__write__v2__metadata__init(&b->md[0]);
    b->md[0].type = IO__PROMETHEUS__WRITE__V2__METADATA__METRIC_TYPE__METRIC_TYPE_COUNTER;
    b->md[0].help_ref = 8;
    b->md[0].unit_ref = 9;
    a->metadata = c->metadata = &b->md[0]; /* the same metadata twice: one entry */
    sbuf body = {0};
    body_of_req(b, &body);
    srv_resp w;
    post(f, CT_V2, &body, &w);
    assert_int_equal(w.status, HTTP_NO_CONTENT);
    expect_written(&w, "5", "0", "0");
    srv_resp_free(&w);
    size_t n, series;
    double sum;
    int64_t t;
    stored(f, "up_total{job=\"api\"}", &n, &sum, &t, &series);
    assert_int_equal(series, 2);
    assert_int_equal(n, 5);
    assert_true(sum == 1 + 2 + 3 + 1 + 2);
    strata_metadata *md = NULL;
    size_t nmd = 0;
    assert_int_equal(strata_metadata_get(f->s.db, NULL, 0, 0, &md, &nmd), STRATA_OK);
    assert_int_equal(nmd, 1);
    assert_string_equal(md[0].metric, "up_total");
    assert_string_equal(md[0].type, "counter");
    assert_string_equal(md[0].help, "Requests.");
    assert_string_equal(md[0].unit, "requests");
    strata_free(md);
    sbuf_free(&body);
    free(b);
}

static void created_timestamp_stores_one_zero_before_the_counter(void **state)
{
    fixture *f = *state;
    req_builder *b = malloc(sizeof *b);
    assert_non_null(b);
    const uint32_t l1[] = {1, 2, 3, 4};
    sbuf body = {0};
    srv_resp w;
    for (int round = 0; round < 2; round++) { /* the second request: the same start, later samples */
        builder_init(b);
        v2_series *ts = add_series(b, l1, 4, 2);
        for (size_t j = 0; j < 2; j++) {
            b->s[0][j].start_timestamp = T0 - 5000;
            b->s[0][j].timestamp += round * 10000;
        }
        (void)ts;
        body_of_req(b, &body);
        post(f, CT_V2, &body, &w);
        assert_int_equal(w.status, HTTP_NO_CONTENT);
        expect_written(&w, "2", "0", "0"); /* the zero is not counted */
        srv_resp_free(&w);
    }
    size_t n, series;
    double sum;
    int64_t t;
    stored(f, "up_total", &n, &sum, &t, &series);
    assert_int_equal(series, 1);
    assert_int_equal(n, 5); /* one zero, four samples */
    assert_int_equal(t, T0 - 5000);
    assert_true(sum == 1 + 2 + 1 + 2);
    /* a start not before the sample gives no zero */
    builder_init(b);
    const uint32_t l2[] = {1, 2, 3, 6};
    add_series(b, l2, 4, 1);
    b->s[0][0].start_timestamp = T0;
    body_of_req(b, &body);
    post(f, CT_V2, &body, &w);
    assert_int_equal(w.status, HTTP_NO_CONTENT);
    srv_resp_free(&w);
    stored(f, "up_total{job=\"a:1\"}", &n, &sum, &t, &series);
    assert_int_equal(n, 1);
    sbuf_free(&body);
    free(b);
}

static void histograms_and_exemplars_are_a_partial_write(void **state)
{
    fixture *f = *state;
    req_builder *b = malloc(sizeof *b);
    assert_non_null(b);
    builder_init(b);
    const uint32_t l1[] = {1, 2, 3, 4}, ex[] = {10, 11};
    v2_series *a = add_series(b, l1, 4, 2);
    io__prometheus__write__v2__exemplar__init(&b->ex);
    b->ex.labels_refs = (uint32_t *)ex;
    b->ex.n_labels_refs = 2;
    b->exp = &b->ex;
    a->exemplars = &b->exp;
    a->n_exemplars = 1;
    const uint32_t l2[] = {1, 2, 3, 6};
    v2_series *h = add_series(b, l2, 4, 0);
    io__prometheus__write__v2__histogram__init(&b->h);
    b->hp = &b->h;
    h->histograms = &b->hp;
    h->n_histograms = 1;
    sbuf body = {0};
    body_of_req(b, &body);
    srv_resp w;
    post(f, CT_V2, &body, &w);
    assert_int_equal(w.status, HTTP_BAD_REQUEST);
    expect_written(&w, "2", "0", "0");
    const char *t = body_text(&w);
    if (!strstr(t, "1 native histogram samples refused") || !strstr(t, "1 exemplars refused") ||
        !strstr(t, "\"refused_histograms\":1") || !strstr(t, "\"refused_exemplars\":1"))
        fail_msg("body %s", t);
    srv_resp_free(&w);
    size_t n, series;
    double sum;
    int64_t t0;
    stored(f, "up_total", &n, &sum, &t0, &series);
    assert_int_equal(n, 2);
    sbuf_free(&body);
    free(b);
}

static void malformed_v2_body_is_400_and_stores_nothing(void **state)
{
    fixture *f = *state;
    req_builder *b = malloc(sizeof *b);
    assert_non_null(b);
    builder_init(b);
    const uint32_t ok[] = {1, 2}, bad[] = {1, 2, 3, 40};
    add_series(b, ok, 2, 3);
    add_series(b, bad, 4, 1);
    sbuf body = {0};
    body_of_req(b, &body);
    srv_resp w;
    post(f, CT_V2, &body, &w);
    assert_int_equal(w.status, HTTP_BAD_REQUEST);
    expect_written(&w, "0", "0", "0");
    assert_non_null(strstr(body_text(&w), "series 1: label reference 40 outside the symbol table"));
    srv_resp_free(&w);
    size_t n, series;
    double sum;
    int64_t t;
    stored(f, "up_total", &n, &sum, &t, &series);
    assert_int_equal(n, 0);
    /* the same body named as another message: 415 */
    post(f, "application/x-protobuf;proto=io.prometheus.write.v3.Request", &body, &w);
    assert_int_equal(w.status, HTTP_UNSUPPORTED_MEDIA_TYPE);
    srv_resp_free(&w);
    /* a 1.0 body named as 1.0 is stored as before */
    sbuf v1 = {0};
    Prometheus__Label lab;
    Prometheus__Label *labp = &lab;
    prometheus__label__init(&lab);
    lab.name = (ProtobufCBinaryData){8, (uint8_t *)"__name__"};
    lab.value = (ProtobufCBinaryData){5, (uint8_t *)"v1_up"};
    Prometheus__Sample smp;
    Prometheus__Sample *smpp = &smp;
    prometheus__sample__init(&smp);
    smp.timestamp = T0;
    smp.value = 7;
    Prometheus__TimeSeries ts;
    Prometheus__TimeSeries *tsp = &ts;
    prometheus__time_series__init(&ts);
    ts.labels = &labp;
    ts.n_labels = 1;
    ts.samples = &smpp;
    ts.n_samples = 1;
    Prometheus__WriteRequest wr;
    prometheus__write_request__init(&wr);
    wr.timeseries = &tsp;
    wr.n_timeseries = 1;
    uint8_t raw[256];
    size_t rn = prometheus__write_request__pack(&wr, raw);
    size_t cap = snappy_max_compressed_length(rn);
    assert_int_equal(sbuf_reserve(&v1, cap), STRATA_OK);
    assert_int_equal(snappy_compress((const char *)raw, rn, (char *)v1.data, &cap), SNAPPY_OK);
    v1.len = cap;
    post(f, "application/x-protobuf;proto=prometheus.WriteRequest", &v1, &w);
    assert_int_equal(w.status, HTTP_NO_CONTENT);
    srv_resp_free(&w);
    stored(f, "v1_up", &n, &sum, &t, &series);
    assert_int_equal(n, 1);
    sbuf_free(&v1);
    sbuf_free(&body);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decoder_resolves_symbols_and_counts_what_a_request_carries),
        cmocka_unit_test(decoder_refuses_malformed_series_whole),
        cmocka_unit_test(content_type_names_the_message),
        cmocka_unit_test_setup_teardown(v2_write_stores_samples_and_metadata_and_says_what_it_wrote, setup, teardown),
        cmocka_unit_test_setup_teardown(created_timestamp_stores_one_zero_before_the_counter, setup, teardown),
        cmocka_unit_test_setup_teardown(histograms_and_exemplars_are_a_partial_write, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_v2_body_is_400_and_stores_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
