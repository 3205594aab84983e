/*
 * validity_labels.c: what the library takes as a series and what it writes
 * as JSON, through the public API (strata.h): NUL bytes never cut a label
 * and merge series, a new series must be valid UTF-8, --max-series takes
 * what fits and refuses the rest without leaving empty series, and
 * strata_json_quote writes valid JSON whatever the bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata.h"
#include "testutil.h"

#define T0 1700000000000

typedef struct fixture {
    char *dir;
    strata_db *db;
} fixture;

static strata_db *open_db(fixture *f, const char *tag, uint64_t max_series)
{
    f->dir = test_tmpdir(tag);
    strata_options o;
    strata_options_init(&o);
    o.dir = f->dir;
    o.sync = STRATA_SYNC_NONE;
    o.compaction_threads = 0;
    o.max_series = max_series;
    assert_int_equal(strata_open(&o, &f->db), STRATA_OK);
    return f->db;
}

static void close_db(fixture *f)
{
    assert_int_equal(strata_close(f->db), STRATA_OK);
    test_rmtree(f->dir);
    free(f->dir);
}

typedef struct rejects {
    int n;
    uint64_t line[8];
    char reason[8][200];
} rejects;

static void on_reject(void *ctx, uint64_t line_no, const char *reason)
{
    rejects *r = ctx;
    if (r->n < 8) {
        r->line[r->n] = line_no;
        snprintf(r->reason[r->n], sizeof r->reason[0], "%s", reason);
    }
    r->n++;
}

static uint64_t series_count(strata_db *db)
{
    strata_stats st;
    assert_int_equal(strata_get_stats(db, &st, sizeof st), STRATA_OK);
    return st.series;
}

/* Series with at least one sample over all time, and their samples. */
static uint64_t series_with_data(strata_db *db, uint64_t *samples)
{
    strata_cursor *c;
    assert_int_equal(strata_select(db, NULL, 0, INT64_MIN, INT64_MAX, &c), STRATA_OK);
    strata_sid sid;
    const strata_label *l;
    size_t nl, n;
    const int64_t *t;
    const double *v;
    uint64_t k = 0, s = 0;
    while (strata_cursor_next_series(c, &sid, &l, &nl) == 1) {
        size_t here = 0;
        while (strata_cursor_next_samples(c, &t, &v, &n) == 1)
            here += n;
        k += here > 0;
        s += here;
    }
    strata_cursor_close(c);
    if (samples)
        *samples = s;
    return k;
}

/* A NUL in a tag value, the measurement or a field key refuses the line;
 * before, "a\0b" was cut to "a" and its sample went into series a. */
static void lp_nul_refuses_the_line_and_never_merges_series(void **state)
{
    (void)state;
    fixture f;
    strata_db *db = open_db(&f, "validity-lp-nul", 0);
    static const char lp[] = "m,host=a\0b value=1 1700000000000\n"
                             "m,host=a value=2 1700000000000\n"
                             "m\0x,host=c value=3 1700000000000\n"
                             "m,host=d f\0g=4 1700000000000\n";
    rejects rj = {0};
    strata_write_result res;
    assert_int_equal(strata_write_lp(db, lp, sizeof lp - 1, STRATA_PRECISION_MS, T0, on_reject, &rj, &res),
                     STRATA_OK);
    assert_int_equal(rj.n, 3);
    assert_int_equal(rj.line[0], 1);
    assert_int_equal(rj.line[1], 3);
    assert_int_equal(rj.line[2], 4);
    assert_non_null(strstr(rj.reason[0], "NUL"));
    assert_int_equal(res.samples, 1);
    assert_int_equal(series_count(db), 1);
    strata_matcher m = {STRATA_MATCH_EQ, "host", "a"};
    strata_cursor *c;
    assert_int_equal(strata_select(db, &m, 1, INT64_MIN, INT64_MAX, &c), STRATA_OK);
    strata_sid sid;
    const strata_label *l;
    size_t nl, n;
    const int64_t *t;
    const double *v;
    assert_int_equal(strata_cursor_next_series(c, &sid, &l, &nl), 1);
    assert_int_equal(strata_cursor_next_samples(c, &t, &v, &n), 1);
    assert_int_equal(n, 1);
    assert_true(v[0] == 2.0);
    strata_cursor_close(c);
    close_db(&f);
}

/* JSON lines: \u0000 and a raw NUL are refused (as before); invalid UTF-8
 * in a label is refused now. */
static void jsonl_nul_and_invalid_utf8_are_refused(void **state)
{
    (void)state;
    fixture f;
    strata_db *db = open_db(&f, "validity-jsonl", 0);
    static const char in[] =
        "{\"metric\":{\"__name__\":\"m\",\"host\":\"a\\u0000b\"},\"values\":[1],\"timestamps\":[1700000000000]}\n"
        "{\"metric\":{\"__name__\":\"m\",\"host\":\"a\xff\"},\"values\":[1],\"timestamps\":[1700000000000]}\n"
        "{\"metric\":{\"__name__\":\"m\",\"ho\xc0\xafst\":\"a\"},\"values\":[1],\"timestamps\":[1700000000000]}\n"
        "{\"metric\":{\"__name__\":\"m\",\"host\":\"\xc3\xa9t\xc3\xa9\"},\"values\":[2],\"timestamps\":[1700000000000]}\n";
    rejects rj = {0};
    strata_write_result res;
    assert_int_equal(strata_write_jsonl(db, in, sizeof in - 1, on_reject, &rj, &res), STRATA_OK);
    assert_int_equal(rj.n, 3);
    assert_non_null(strstr(rj.reason[0], "NUL"));
    assert_non_null(strstr(rj.reason[1], "UTF-8"));
    assert_non_null(strstr(rj.reason[2], "UTF-8"));
    assert_int_equal(res.samples, 1);
    assert_int_equal(series_count(db), 1);
    close_db(&f);
}

/* The C API: a new series must be valid UTF-8 (overlong forms, surrogates
 * and stray continuation bytes included); valid multi-byte text is taken. */
static void c_api_refuses_invalid_utf8(void **state)
{
    (void)state;
    fixture f;
    strata_db *db = open_db(&f, "validity-capi", 0);
    static const char *bad[] = {"\xff", "a\x80", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strata_label l[2] = {{"__name__", "m"}, {"v", bad[i]}};
        strata_sid sid;
        assert_int_equal(strata_series_get_or_create(db, l, 2, &sid, NULL), STRATA_ERR_INVALID);
        strata_label l2[2] = {{"__name__", "m"}, {bad[i], "x"}};
        assert_int_equal(strata_series_get_or_create(db, l2, 2, &sid, NULL), STRATA_ERR_INVALID);
    }
    strata_label ok[2] = {{"__name__", "m"}, {"v", "\xe2\x82\xac \xf0\x9f\x98\x80"}};
    strata_sid sid;
    int created = 0;
    assert_int_equal(strata_series_get_or_create(db, ok, 2, &sid, &created), STRATA_OK);
    assert_int_equal(created, 1);
    strata_batch *b;
    assert_int_equal(strata_batch_new(db, &b), STRATA_OK);
    strata_label lb[2] = {{"__name__", "m"}, {"v", "\xfe"}};
    int64_t t = T0;
    double v = 1;
    const char *why = NULL;
    assert_int_equal(strata_batch_add(b, lb, 2, &t, &v, 1, &why), STRATA_ERR_INVALID);
    assert_non_null(why);
    assert_non_null(strstr(why, "UTF-8"));
    assert_int_equal(strata_batch_commit(b, NULL), STRATA_OK);
    strata_batch_free(b);
    assert_int_equal(series_count(db), 1);
    close_db(&f);
}

/* max_series through a batch: existing series and new ones while room
 * remains are taken, the rest refused alone (STRATA_ERR_LIMIT, reason
 * naming max_series) and counted; a series without samples is not
 * created. Before, the refusal had the label limits' reason and nothing
 * was counted. */
static void batch_takes_what_fits_under_max_series(void **state)
{
    (void)state;
    fixture f;
    strata_db *db = open_db(&f, "validity-batch-max", 3);
    strata_batch *b;
    assert_int_equal(strata_batch_new(db, &b), STRATA_OK);
    int64_t t[2] = {T0, T0 + 1000};
    double v[2] = {1, 2};
    char name[16];
    int refused = 0;
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "s%d", i);
        strata_label l[2] = {{"__name__", "m"}, {"k", name}};
        const char *why = NULL;
        /* an empty series first: it must not take a place */
        assert_int_equal(strata_batch_add(b, l, 2, t, v, 0, &why), STRATA_OK);
        int rc = strata_batch_add(b, l, 2, t, v, 2, &why);
        if (rc) {
            assert_int_equal(rc, STRATA_ERR_LIMIT);
            assert_non_null(why);
            assert_non_null(strstr(why, "max_series"));
            refused++;
        }
    }
    assert_int_equal(refused, 2);
    /* the series that exist still take samples */
    strata_label l0[2] = {{"__name__", "m"}, {"k", "s0"}};
    int64_t t2 = T0 + 2000;
    assert_int_equal(strata_batch_add(b, l0, 2, &t2, v, 1, NULL), STRATA_OK);
    strata_write_result res;
    assert_int_equal(strata_batch_commit(b, &res), STRATA_OK);
    strata_batch_free(b);
    assert_int_equal(res.samples, 7);
    assert_int_equal(res.new_series, 3);
    assert_int_equal(series_count(db), 3);
    assert_int_equal(series_with_data(db, NULL), 3);
    strata_stats st;
    assert_int_equal(strata_get_stats(db, &st, sizeof st), STRATA_OK);
    assert_int_equal(st.series_refused, 2);
    assert_int_equal(st.samples_refused, 4);
    close_db(&f);
}

/* max_series through line protocol: a line whose fields name one series
 * that fits and one that does not stores the first and reports the line;
 * before, the line was refused whole and the series made for its first
 * field stayed in the index without a sample. */
static void lp_max_series_takes_what_fits_and_leaves_no_empty_series(void **state)
{
    (void)state;
    fixture f;
    strata_db *db = open_db(&f, "validity-lp-max", 2);
    static const char lp[] = "cpu,host=a user=1 1700000000000\n"
                             "cpu,host=b user=2,system=3 1700000000000\n"
                             "cpu,host=a user=4 1700000001000\n"
                             "cpu,host=c user=5 1700000000000\n";
    rejects rj = {0};
    strata_write_result res;
    assert_int_equal(strata_write_lp(db, lp, sizeof lp - 1, STRATA_PRECISION_MS, T0, on_reject, &rj, &res),
                     STRATA_OK);
    assert_int_equal(rj.n, 2);
    assert_int_equal(rj.line[0], 2);
    assert_non_null(strstr(rj.reason[0], "max_series"));
    assert_non_null(strstr(rj.reason[0], "1 of 2 fields refused"));
    assert_int_equal(rj.line[1], 4);
    assert_int_equal(res.samples, 3);
    assert_int_equal(res.rejected_lines, 2);
    assert_int_equal(series_count(db), 2);
    uint64_t samples;
    assert_int_equal(series_with_data(db, &samples), 2);
    assert_int_equal(samples, 3);
    strata_stats st;
    assert_int_equal(strata_get_stats(db, &st, sizeof st), STRATA_OK);
    assert_int_equal(st.series_refused, 2);
    assert_int_equal(st.samples_refused, 2);
    close_db(&f);
}

/* JSON lines under max_series: lines of existing series and of new ones
 * while room remains are stored, the rest refused with the reason. */
static void jsonl_max_series_refuses_only_the_rest(void **state)
{
    (void)state;
    fixture f;
    strata_db *db = open_db(&f, "validity-jsonl-max", 1);
    static const char in[] =
        "{\"metric\":{\"__name__\":\"a\"},\"values\":[1,2],\"timestamps\":[1700000000000,1700000001000]}\n"
        "{\"metric\":{\"__name__\":\"b\"},\"values\":[1,2],\"timestamps\":[1700000000000,1700000001000]}\n"
        "{\"metric\":{\"__name__\":\"a\"},\"values\":[3],\"timestamps\":[1700000002000]}\n";
    rejects rj = {0};
    strata_write_result res;
    assert_int_equal(strata_write_jsonl(db, in, sizeof in - 1, on_reject, &rj, &res), STRATA_OK);
    assert_int_equal(rj.n, 1);
    assert_int_equal(rj.line[0], 2);
    assert_non_null(strstr(rj.reason[0], "max_series"));
    assert_int_equal(res.samples, 3);
    assert_int_equal(series_count(db), 1);
    strata_stats st;
    assert_int_equal(strata_get_stats(db, &st, sizeof st), STRATA_OK);
    assert_int_equal(st.samples_refused, 2);
    close_db(&f);
}

static void quote(const char *s, size_t n, char *out)
{
    size_t k = strata_json_quote(s, n, out);
    assert_true(k <= 6 * n + 2);
    out[k] = 0;
}

/* Every byte that is not part of valid UTF-8 becomes \ufffd; valid UTF-8
 * is copied; before, invalid bytes were copied raw (invalid JSON). */
static void json_quote_replaces_invalid_utf8(void **state)
{
    (void)state;
    char out[256];
    quote("a\xff" "b", 3, out);
    assert_string_equal(out, "\"a\\ufffdb\"");
    quote("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9, out);
    assert_string_equal(out, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    quote("\xc0\xaf", 2, out); /* overlong '/' */
    assert_string_equal(out, "\"\\ufffd\\ufffd\"");
    quote("\xed\xa0\x80", 3, out); /* a surrogate */
    assert_string_equal(out, "\"\\ufffd\\ufffd\\ufffd\"");
    quote("x\xe2\x82", 3, out); /* cut short */
    assert_string_equal(out, "\"x\\ufffd\\ufffd\"");
    quote("\xf4\x90\x80\x80", 4, out); /* above U+10FFFF */
    assert_string_equal(out, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
    quote("a\0\"\\\n", 5, out);
    assert_string_equal(out, "\"a\\u0000\\\"\\\\\\n\"");
    /* the worst case fits the documented bound */
    char in[40];
    memset(in, 0xff, sizeof in);
    char big[6 * sizeof in + 2 + 1];
    quote(in, sizeof in, big);
    assert_int_equal(strlen(big), 6 * sizeof in + 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lp_nul_refuses_the_line_and_never_merges_series),
        cmocka_unit_test(jsonl_nul_and_invalid_utf8_are_refused),
        cmocka_unit_test(c_api_refuses_invalid_utf8),
        cmocka_unit_test(batch_takes_what_fits_under_max_series),
        cmocka_unit_test(lp_max_series_takes_what_fits_and_leaves_no_empty_series),
        cmocka_unit_test(jsonl_max_series_refuses_only_the_rest),
        cmocka_unit_test(json_quote_replaces_invalid_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
