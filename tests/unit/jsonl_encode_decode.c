/* JSON lines (number printing itself is tested in format_number.c):
 * encode/decode round trips of random series with hostile labels, special
 * values, malformed lines rejected with a reason and position, and the CSV
 * and line-protocol export printers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ingest/ingest.h"
#include "export/export.h"
#include "testutil.h"

static double from_bits(uint64_t b)
{
    double d;
    memcpy(&d, &b, 8);
    return d;
}

static uint64_t to_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, 8);
    return b;
}

/* A random label string: quotes, backslashes, control bytes, UTF-8
 * sequences of 2, 3 and 4 bytes, never NUL (not representable). */
static size_t random_label(test_rng *r, char *buf, size_t max)
{
    static const char *pieces[] = {"\"", "\\", "\n", "\t", "\x01", "\x1f", "a", "host_1", "\xc3\xa9",
                                   "\xe2\x82\xac", "\xf0\x9f\x98\x80", "/", " ", ",", "=", "\x7f"};
    size_t n = 0, k = test_rng_below(r, 8);
    for (size_t i = 0; i < k; i++) {
        const char *p = pieces[test_rng_below(r, ARRAY_LEN(pieces))];
        size_t l = strlen(p);
        if (n + l > max)
            break;
        memcpy(buf + n, p, l);
        n += l;
    }
    return n;
}

static double random_value(test_rng *r)
{
    switch (test_rng_below(r, 8)) {
    case 0: return NAN;
    case 1: return INFINITY;
    case 2: return -INFINITY;
    case 3: return -0.0;
    case 4: return from_bits(test_rng_next(r) & 0x800FFFFFFFFFFFFFull); /* subnormal */
    case 5: return (double)(int64_t)test_rng_next(r);
    default: {
        double v = from_bits(test_rng_next(r));
        return isnan(v) ? 1.0 : v;
    }
    }
}

static void jsonl_round_trips_random_series(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(11));
    jsonl_decoder *d = NULL;
    assert_int_equal(jsonl_decoder_new(NULL, &d), STRATA_OK);
    bbuf b = {0};
    char names[8][64], vals[8][64];
    base_label labels[8];
    int64_t ts[64];
    double v[64];
    for (int iter = 0; iter < 5000; iter++) {
        size_t nl = test_rng_below(&r, 8);
        for (size_t i = 0; i < nl; i++) {
            /* unique names: a numeric prefix */
            int p = snprintf(names[i], sizeof names[i], "l%zu", i);
            labels[i].name = names[i];
            labels[i].name_len = (size_t)p + random_label(&r, names[i] + p, 40);
            labels[i].value = vals[i];
            labels[i].value_len = random_label(&r, vals[i], 60);
        }
        size_t ns = test_rng_below(&r, 64);
        for (size_t i = 0; i < ns; i++) {
            ts[i] = (int64_t)test_rng_next(&r) >> test_rng_below(&r, 64);
            v[i] = random_value(&r);
        }
        base_buf_reset(&b);
        assert_int_equal(jsonl_encode(&b, labels, nl, ts, v, ns), STRATA_OK);
        assert_true(b.len > 0 && b.data[b.len - 1] == '\n');
        assert_null(memchr(b.data, '\n', b.len - 1));
        jsonl_series s;
        const char *reason = NULL;
        size_t pos = 0;
        int rc = jsonl_decode_line(d, (const char *)b.data, b.len - 1, &s, &reason, &pos);
        if (rc != 1)
            fail_msg("decode of '%.*s' failed: %s at %zu", (int)b.len, (const char *)b.data, reason, pos);
        assert_int_equal(s.n_labels, nl);
        for (size_t i = 0; i < nl; i++) {
            assert_int_equal(s.labels[i].name_len, labels[i].name_len);
            assert_memory_equal(s.labels[i].name, labels[i].name, labels[i].name_len);
            assert_int_equal(s.labels[i].name[s.labels[i].name_len], 0);
            assert_int_equal(s.labels[i].value_len, labels[i].value_len);
            assert_memory_equal(s.labels[i].value, labels[i].value, labels[i].value_len);
        }
        assert_int_equal(s.n_samples, ns);
        for (size_t i = 0; i < ns; i++) {
            assert_int_equal(s.timestamps[i], ts[i]);
            if (isnan(v[i]))
                assert_true(isnan(s.values[i]));
            else if (to_bits(s.values[i]) != to_bits(v[i]))
                fail_msg("value %a came back as %a", v[i], s.values[i]);
        }
    }
    base_buf_free(&b);
    jsonl_decoder_free(d);
}

static void jsonl_decodes_escapes_specials_and_whitespace(void **state)
{
    (void)state;
    jsonl_decoder *d = NULL;
    assert_int_equal(jsonl_decoder_new(NULL, &d), STRATA_OK);
    const char *line = " { \"values\" : [ \"1.5\" , NaN,\"-Inf\", Inf , +Inf,\"nan\", -0, 1e3, \"inf\" ] ,"
                       "\"timestamps\":[1,-2,3,4,5,6,7,8,9], \"metric\" : { \"__name__\":\"a\\u00e9\\u20ac\\ud83d\\ude00\","
                       "\"q\\\"\\\\\\/\\b\\f\\n\\r\\t\":\"\"} } ";
    jsonl_series s;
    const char *reason = NULL;
    size_t pos = 0;
    int rc = jsonl_decode_line(d, line, strlen(line), &s, &reason, &pos);
    if (rc != 1)
        fail_msg("rejected: %s at %zu", reason, pos);
    assert_int_equal(s.n_labels, 2);
    assert_string_equal(s.labels[0].name, "__name__");
    assert_string_equal(s.labels[0].value, "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    assert_string_equal(s.labels[1].name, "q\"\\/\b\f\n\r\t");
    assert_int_equal(s.labels[1].value_len, 0);
    assert_int_equal(s.n_samples, 9);
    assert_true(s.values[0] == 1.5);
    assert_true(isnan(s.values[1]));
    assert_true(s.values[2] == -INFINITY);
    assert_true(s.values[3] == INFINITY && s.values[4] == INFINITY && s.values[8] == INFINITY);
    assert_true(isnan(s.values[5]));
    assert_true(s.values[6] == 0 && signbit(s.values[6]));
    assert_true(s.values[7] == 1000);
    assert_int_equal(s.timestamps[1], -2);
    /* blank line */
    assert_int_equal(jsonl_decode_line(d, "  \r", 3, &s, &reason, &pos), 0);
    /* extreme timestamps */
    const char *ext = "{\"metric\":{},\"values\":[1,2],\"timestamps\":[-9223372036854775808,9223372036854775807]}";
    assert_int_equal(jsonl_decode_line(d, ext, strlen(ext), &s, &reason, &pos), 1);
    assert_true(s.timestamps[0] == INT64_MIN && s.timestamps[1] == INT64_MAX);
    jsonl_decoder_free(d);
}

static void jsonl_rejects_malformed_lines_with_reason_and_position(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        const char *reason;
        size_t pos;
    } cases[] = {
        {"[]", "expected '{'", 0},
        {"{\"metric\":{},\"values\":[1]}", "missing \"timestamps\"", 26},
        {"{\"metric\":{},\"values\":[1],\"timestamps\":[1,2]}", "differ in length", 0},
        {"{\"metric\":{},\"values\":[x],\"timestamps\":[1]}", "invalid value", 23},
        {"{\"metric\":{},\"values\":[null],\"timestamps\":[1]}", "invalid value", 23},
        {"{\"metric\":{},\"values\":[1e999],\"timestamps\":[1]}", "invalid value", 23},
        {"{\"metric\":{},\"values\":[1],\"timestamps\":[1.5]}", "integer milliseconds", 40},
        {"{\"metric\":{},\"values\":[1],\"timestamps\":[9223372036854775808]}", "out of range", 40},
        {"{\"metric\":{},\"values\":[1],\"timestamps\":[1],\"x\":1}", "unknown key", 43},
        {"{\"metric\":{\"a\":\"b\",\"a\":\"c\"},\"values\":[],\"timestamps\":[]}", "duplicate label", 19},
        {"{\"metric\":{\"a\":\"\\ud800\"},\"values\":[],\"timestamps\":[]}", "surrogate", 16},
        {"{\"metric\":{\"a\":\"\\udc00\"},\"values\":[],\"timestamps\":[]}", "surrogate", 16},
        {"{\"metric\":{\"a\":\"\\u12\"},\"values\":[],\"timestamps\":[]}", "\\u escape", 16},
        {"{\"metric\":{\"a\":\"\\u0000\"},\"values\":[],\"timestamps\":[]}", "NUL", 16},
        {"{\"metric\":{\"a\":\"\\x\"},\"values\":[],\"timestamps\":[]}", "invalid escape", 16},
        {"{\"metric\":{\"a\":\"b\x01\"},\"values\":[],\"timestamps\":[]}", "control character", 17},
        {"{\"metric\":{\"a\":\"b}", "unterminated string", 15},
        {"{\"metric\":{\"a\":1},\"values\":[],\"timestamps\":[]}", "expected a string", 15},
        {"{\"metric\":{},\"metric\":{},\"values\":[],\"timestamps\":[]}", "duplicate key", 13},
        {"{\"metric\":{},\"values\":[],\"timestamps\":[]} x", "text after", 42},
        {"{\"metric\":{},\"values\":[1,],\"timestamps\":[1]}", "invalid value", 25},
        {"{\"metric\":{},\"values\":[1 2],\"timestamps\":[1,2]}", "expected ',' or ']'", 25},
        {"{\"metric\":{}", "expected ',' or '}'", 12}, {"{\"metric\":{},", "expected a key", 13},
    };
    jsonl_decoder *d = NULL;
    assert_int_equal(jsonl_decoder_new(NULL, &d), STRATA_OK);
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        jsonl_series s;
        const char *reason = NULL;
        size_t pos = 999;
        int rc = jsonl_decode_line(d, cases[i].line, strlen(cases[i].line), &s, &reason, &pos);
        if (rc != STRATA_ERR_INVALID || !strstr(reason, cases[i].reason) || pos != cases[i].pos)
            fail_msg("'%s': rc %d reason '%s' at %zu, want '%s' at %zu", cases[i].line, rc, reason ? reason : "",
                     pos, cases[i].reason, cases[i].pos);
    }
    /* limits */
    jsonl_limits lim;
    jsonl_limits_init(&lim);
    lim.max_labels = 1;
    lim.max_value_len = 2;
    lim.max_samples = 2;
    jsonl_decoder_free(d);
    assert_int_equal(jsonl_decoder_new(&lim, &d), STRATA_OK);
    jsonl_series s;
    const char *reason;
    size_t pos;
    const char *l1 = "{\"metric\":{\"a\":\"b\",\"c\":\"d\"},\"values\":[],\"timestamps\":[]}";
    assert_int_equal(jsonl_decode_line(d, l1, strlen(l1), &s, &reason, &pos), STRATA_ERR_INVALID);
    assert_non_null(strstr(reason, "too many labels"));
    const char *l2 = "{\"metric\":{\"a\":\"bcd\"},\"values\":[],\"timestamps\":[]}";
    assert_int_equal(jsonl_decode_line(d, l2, strlen(l2), &s, &reason, &pos), STRATA_ERR_INVALID);
    assert_non_null(strstr(reason, "too long"));
    const char *l3 = "{\"metric\":{},\"values\":[1,2,3],\"timestamps\":[1,2,3]}";
    assert_int_equal(jsonl_decode_line(d, l3, strlen(l3), &s, &reason, &pos), STRATA_ERR_INVALID);
    assert_non_null(strstr(reason, "too many samples"));
    jsonl_decoder_free(d);
}

static void jsonl_encodes_the_export_format(void **state)
{
    (void)state;
    base_label l[2] = {{"__name__", 8, "cpu_usage_user", 14}, {"hostname", 8, "host_1", 6}};
    int64_t ts[3] = {1700000000000, 1700000010000, 1700000020000};
    double v[3] = {1.5, 2, NAN};
    bbuf b = {0};
    assert_int_equal(jsonl_encode(&b, l, 2, ts, v, 3), STRATA_OK);
    const char *want = "{\"metric\":{\"__name__\":\"cpu_usage_user\",\"hostname\":\"host_1\"},\"values\":[1.5,2,NaN],"
                       "\"timestamps\":[1700000000000,1700000010000,1700000020000]}\n";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    base_buf_free(&b);
}

static void export_prints_csv_and_line_protocol(void **state)
{
    (void)state;
    base_label l[3] = {{"host", 4, "a\"b", 3}, {"__name__", 8, "cpu usage,x", 11}, {"empty", 5, "", 0}};
    int64_t ts[3] = {1700000000000, -1, INT64_MAX};
    double v[3] = {1.5, NAN, 2};
    bbuf b = {0};
    assert_int_equal(fmt_csv_header(&b), STRATA_OK);
    assert_int_equal(fmt_csv_series(&b, l, 3, ts, v, 2), STRATA_OK);
    const char *want_csv = "name,labels,timestamp,value\n"
                           "\"cpu usage,x\",\"host=\"\"a\\\"\"b\"\",empty=\"\"\"\"\",1700000000000,1.5\n"
                           "\"cpu usage,x\",\"host=\"\"a\\\"\"b\"\",empty=\"\"\"\"\",-1,NaN\n";
    if (b.len != strlen(want_csv) || memcmp(b.data, want_csv, b.len))
        fail_msg("csv:\n%.*s\nwant:\n%s", (int)b.len, (const char *)b.data, want_csv);
    base_buf_reset(&b);
    size_t skipped = 99;
    assert_int_equal(fmt_lp_series(&b, l, 3, ts, v, 3, &skipped), STRATA_OK);
    assert_int_equal(skipped, 2); /* NaN and a timestamp past int64 ns */
    const char *want_lp = "cpu\\ usage\\,x,host=a\"b value=1.5 1700000000000000000\n";
    if (b.len != strlen(want_lp) || memcmp(b.data, want_lp, b.len))
        fail_msg("lp: %.*s want %s", (int)b.len, (const char *)b.data, want_lp);
    /* and it reads back through the parser */
    lp_parser *p = NULL;
    assert_int_equal(lp_parser_new(STRATA_PRECISION_NS, &p), STRATA_OK);
    lp_line line;
    const char *reason;
    assert_int_equal(lp_parse_line(p, (const char *)b.data, b.len - 1, &line, &reason), 1);
    assert_int_equal(line.measurement_len, 11);
    assert_memory_equal(line.measurement, "cpu usage,x", 11);
    assert_int_equal(line.n_tags, 1);
    assert_memory_equal(line.tags[0].val, "a\"b", 3);
    assert_true(line.fields[0].value == 1.5);
    assert_int_equal(line.ts_ms, 1700000000000);
    lp_parser_free(p);
    /* a line break cannot be written: the series is skipped */
    base_label nl[1] = {{"__name__", 8, "a\nb", 3}};
    base_buf_reset(&b);
    assert_int_equal(fmt_lp_series(&b, nl, 1, ts, v, 1, &skipped), STRATA_OK);
    assert_int_equal(skipped, 1);
    assert_int_equal(b.len, 0);
    base_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jsonl_round_trips_random_series),
        cmocka_unit_test(jsonl_decodes_escapes_specials_and_whitespace),
        cmocka_unit_test(jsonl_rejects_malformed_lines_with_reason_and_position),
        cmocka_unit_test(jsonl_encodes_the_export_format),
        cmocka_unit_test(export_prints_csv_and_line_protocol),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
