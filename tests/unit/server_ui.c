/* The web UI's handlers without a socket: "/" is the compiled-in
 * index.html, uncached (no-cache) with an ETag that gives 304; a hashed
 * asset is immutable and comes gzipped only to a client that takes gzip;
 * an unknown asset is 404; /api/v1/status/storage gives the figures of
 * strata_get_stats and strata_list_files in `strata inspect --json`'s
 * keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server_testlib.h"
#include "ui_assets.h"

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

/* GET path with up to one request header; w gets the reply. */
static void get(fixture *f, const char *path, const char *hname, const char *hvalue, srv_resp *w)
{
    srv_req r;
    memset(&r, 0, sizeof r);
    test_headers h = {{hname}, {hvalue}, hname ? 1 : 0};
    r.method = "GET";
    r.path = path;
    r.header = header_of;
    r.header_ctx = &h;
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

static int setup(void **state)
{
    fixture *f = srvt_open("server_ui");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    srvt_close(*state);
    return 0;
}

static const ui_asset *first_hashed_asset(void)
{
    for (size_t i = 0; i < ui_n_assets; i++)
        if (ui_assets[i].immutable && ui_assets[i].gz)
            return &ui_assets[i];
    return NULL;
}

static void root_is_index_html_revalidated(void **state)
{
    srv_resp w;
    get(*state, "/", NULL, NULL, &w);
    assert_int_equal(w.status, HTTP_OK);
    assert_string_equal(w.ctype, "text/html; charset=utf-8");
    assert_string_equal(resp_header(&w, "Cache-Control"), "no-cache");
    assert_non_null(strstr(srvt_body(&w), "<!doctype html>"));
    const char *etag = resp_header(&w, "ETag");
    assert_non_null(etag);
    srv_resp w2;
    get(*state, "/", "If-None-Match", etag, &w2);
    assert_int_equal(w2.status, 304);
    assert_int_equal(w2.body.len, 0);
    srv_resp_free(&w2);
    srv_resp_free(&w);
}

static void hashed_asset_is_immutable_and_gzipped_on_request(void **state)
{
    const ui_asset *a = first_hashed_asset();
    assert_non_null(a);
    srv_resp w;
    get(*state, a->path, "Accept-Encoding", "gzip, deflate, br", &w);
    assert_int_equal(w.status, HTTP_OK);
    assert_string_equal(w.ctype, a->ctype);
    assert_string_equal(resp_header(&w, "Content-Encoding"), "gzip");
    assert_string_equal(resp_header(&w, "Cache-Control"), "public, max-age=31536000, immutable");
    assert_string_equal(resp_header(&w, "Vary"), "Accept-Encoding");
    assert_int_equal(w.body.len, a->gz_len);
    srv_resp_free(&w);
    /* gzip refused (q=0) or not offered: the bytes as they are */
    const char *no_gzip[] = {"gzip;q=0, identity", NULL};
    for (int i = 0; i < 2; i++) {
        get(*state, a->path, no_gzip[i] ? "Accept-Encoding" : NULL, no_gzip[i], &w);
        assert_int_equal(w.status, HTTP_OK);
        assert_null(resp_header(&w, "Content-Encoding"));
        assert_int_equal(w.body.len, a->len);
        assert_memory_equal(w.body.data, a->data, a->len);
        srv_resp_free(&w);
    }
}

static void unknown_asset_is_404(void **state)
{
    srv_resp w;
    get(*state, "/assets/nope.js", NULL, NULL, &w);
    assert_int_equal(w.status, HTTP_NOT_FOUND);
    srv_resp_free(&w);
}

static void storage_status_has_inspects_figures(void **state)
{
    fixture *f = *state;
    strata_label l[] = {{"__name__", "ui_test"}, {"k", "v"}};
    strata_sid sid;
    assert_int_equal(strata_series_get_or_create(f->s.db, l, 2, &sid, NULL), STRATA_OK);
    strata_sample smp[3] = {{sid, 1700000000000, 1}, {sid, 1700000010000, 2}, {sid, 1700000020000, 3}};
    assert_int_equal(strata_write(f->s.db, smp, 3), STRATA_OK);
    assert_int_equal(strata_flush(f->s.db), STRATA_OK);
    strata_stats st;
    assert_int_equal(strata_get_stats(f->s.db, &st, sizeof st), STRATA_OK);
    srv_resp w;
    get(f, "/api/v1/status/storage", NULL, NULL, &w);
    assert_int_equal(w.status, HTTP_OK);
    assert_string_equal(w.ctype, "application/json");
    const char *b = srvt_body(&w);
    char want[256];
    assert_non_null(strstr(b, "{\"status\":\"success\",\"data\":{\"series\":1,\"partitions\":1,"));
    snprintf(want, sizeof want, "\"table_files\":%llu,\"table_bytes\":%llu,\"table_samples\":3,",
             (unsigned long long)st.table_files, (unsigned long long)st.table_bytes);
    assert_non_null(strstr(b, want));
    snprintf(want, sizeof want, "\"bytes_per_sample\":%.4f,", (double)st.table_bytes / 3.0);
    assert_non_null(strstr(b, want));
    assert_non_null(strstr(b, "\"levels\":[{\"level\":0,"));
    assert_non_null(strstr(b, "\"files\":[{\"file\":"));
    assert_non_null(strstr(b, ",\"samples\":3,\"series\":1,"));
    assert_string_equal(b + strlen(b) - 4, "]}}\n");
    srv_resp_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(root_is_index_html_revalidated, setup, teardown),
        cmocka_unit_test_setup_teardown(hashed_asset_is_immutable_and_gzipped_on_request, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_asset_is_404, setup, teardown),
        cmocka_unit_test_setup_teardown(storage_status_has_inspects_figures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
