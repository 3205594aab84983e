/* strata_selector_parse, the selector grammar of the query layer: valid
 * selectors give the matchers Prometheus
 * would; invalid ones an error naming the position. */
#include <stdio.h>
#include <stdlib.h>

#include "strata.h"
#include <string.h>
#include "testutil.h"

typedef struct want_m {
    strata_match_type t;
    const char *name, *value;
} want_m;

static void expect_ok(const char *text, int64_t range_ms, size_t n, const want_m *w)
{
    strata_selector sel;
    char err[256];
    int rc = strata_selector_parse(text, &sel, err, sizeof err);
    if (rc != STRATA_OK)
        fail_msg("%s: %s", text, err);
    assert_int_equal(sel.range_ms, range_ms);
    if (sel.n_matchers != n)
        fail_msg("%s: %zu matchers, want %zu", text, sel.n_matchers, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(sel.matchers[i].type, w[i].t);
        assert_string_equal(sel.matchers[i].name, w[i].name);
        assert_string_equal(sel.matchers[i].value, w[i].value);
    }
    strata_selector_free(&sel);
}

static void expect_err(const char *text, const char *pos, const char *words)
{
    strata_selector sel = {0};
    char err[256];
    int rc = strata_selector_parse(text, &sel, err, sizeof err);
    if (rc != STRATA_ERR_INVALID)
        fail_msg("%s: rc %d, want STRATA_ERR_INVALID", text, rc);
    if (strncmp(err, pos, strlen(pos)) != 0 || !strstr(err, words))
        fail_msg("%s: error \"%s\", want it to start with \"%s\" and say \"%s\"", text, err, pos, words);
}

#define EQ STRATA_MATCH_EQ
#define NEQ STRATA_MATCH_NEQ
#define RE STRATA_MATCH_RE
#define NRE STRATA_MATCH_NRE

static void selector_parses_valid_selectors(void **state)
{
    (void)state;
    expect_ok("up", 0, 1, (want_m[]){{EQ, "__name__", "up"}});
    expect_ok("  node:cpu_seconds:rate5m  ", 0, 1, (want_m[]){{EQ, "__name__", "node:cpu_seconds:rate5m"}});
    expect_ok("cpu{a=\"b\",c!=\"d\",e=~\"f.*\",g!~\"h\"}", 0, 5,
              (want_m[]){{EQ, "__name__", "cpu"}, {EQ, "a", "b"}, {NEQ, "c", "d"}, {RE, "e", "f.*"}, {NRE, "g", "h"}});
    expect_ok("{__name__=~\"x.*\"}", 0, 1, (want_m[]){{RE, "__name__", "x.*"}});
    expect_ok("{ a = 'b' , c =~ `d\\.e` , }", 0, 2, (want_m[]){{EQ, "a", "b"}, {RE, "c", "d\\.e"}});
    expect_ok("m { }", 0, 1, (want_m[]){{EQ, "__name__", "m"}});
    expect_ok("m[5m]", 300000, 1, (want_m[]){{EQ, "__name__", "m"}});
    expect_ok("m{a=\"b\"}[1h30m]", 5400000, 2, (want_m[]){{EQ, "__name__", "m"}, {EQ, "a", "b"}});
    expect_ok("m[ 1y2w3d4h5m6s7ms ]", ((((365LL + 14 + 3) * 24 + 4) * 60 + 5) * 60 + 6) * 1000 + 7, 1,
              (want_m[]){{EQ, "__name__", "m"}});
    expect_ok("m[90s]", 90000, 1, (want_m[]){{EQ, "__name__", "m"}});
    expect_ok("m[250ms]", 250, 1, (want_m[]){{EQ, "__name__", "m"}});
    /* Go escapes in double and single quotes; raw backticks. */
    expect_ok("{a=\"q\\\"\\\\\\n\\t\\x41\\101\\u00e9\\U0001F600\"}", 0, 1,
              (want_m[]){{EQ, "a", "q\"\\\n\tAA\xc3\xa9\xf0\x9f\x98\x80"}});
    expect_ok("{a='it\\'s'}", 0, 1, (want_m[]){{EQ, "a", "it's"}});
    expect_ok("{a=`raw\\n\nline`}", 0, 1, (want_m[]){{EQ, "a", "raw\\n\nline"}});
    /* Empty-matching matchers are fine beside a non-empty one. */
    expect_ok("{a=\"\",b!=\"\",c=~\".*\"}", 0, 3, (want_m[]){{EQ, "a", ""}, {NEQ, "b", ""}, {RE, "c", ".*"}});
    expect_ok("{a=~\".+\"}", 0, 1, (want_m[]){{RE, "a", ".+"}});
    /* A value need not be UTF-8 when an escape makes it so (raw bytes
     * that are not UTF-8 are an error, as in Prometheus). */
    expect_ok("m{a=\"\\xff\"}", 0, 2, (want_m[]){{EQ, "__name__", "m"}, {EQ, "a", "\xff"}});
    /* A bare number of seconds is a duration in Prometheus 3. */
    expect_ok("m[5]", 5000, 1, (want_m[]){{EQ, "__name__", "m"}});
    expect_ok("m[1.5]", 1500, 1, (want_m[]){{EQ, "__name__", "m"}});
    /* Two lone names are two __name__ matchers, as Prometheus reads them. */
    expect_ok("{\"a\", \"b\"}", 0, 2, (want_m[]){{EQ, "__name__", "a"}, {EQ, "__name__", "b"}});
    /* Prometheus 3 quoted names. */
    expect_ok("{\"my.metric\", \"my.label\"=\"v\"}", 0, 2,
              (want_m[]){{EQ, "__name__", "my.metric"}, {EQ, "my.label", "v"}});
}

static void selector_rejects_invalid_selectors_naming_the_position(void **state)
{
    (void)state;
    /* Positions and words are Prometheus' (promql/parser). */
    expect_err("", "unknown position:", "unexpected end of input");
    expect_err("{}", "1:1:", "at least one non-empty matcher");
    expect_err("{a=\"\"}", "1:1:", "at least one non-empty matcher");
    expect_err("{a=~\".*\",b!=\"x\",c!~\"y\"}", "1:1:", "at least one non-empty matcher");
    expect_err("{a=~\"x|\"}", "1:1:", "at least one non-empty matcher");
    expect_err("m{a=\"b\"", "1:8:", "unexpected end of input inside braces");
    expect_err("m{a=\"b}", "1:5:", "unterminated quoted string");
    expect_err("m{a==\"b\"}", "1:5:", "unexpected \"=\" in label matching, expected string");
    expect_err("m{a<\"b\"}", "1:4:", "unexpected character inside braces: '<'");
    expect_err("m{1a=\"b\"}", "1:3:", "unexpected character inside braces: '1'");
    expect_err("m{a=\"b\" c=\"d\"}", "1:9:", "unexpected identifier \"c\" in label matching, expected \",\" or \"}\"");
    expect_err("m{a=b}", "1:5:", "unexpected identifier \"b\" in label matching, expected string");
    expect_err("m{a=~\"(\"}", "1:3:", "error parsing regexp");
    expect_err("m{a=\"\\q\"}", "1:5:", "unknown escape sequence U+0071 'q'");
    expect_err("m{a=\"x\\'\"}", "1:5:", "unknown escape sequence");
    expect_err("m{a=\"\\x4\"}", "1:5:", "illegal character U+0022 '\"' in escape sequence");
    expect_err("m{a=\"\\u12\"}", "1:5:", "illegal character");
    expect_err("m{a=\"\\ud800\"}", "1:5:", "escape sequence is an invalid Unicode code point");
    expect_err("m{a=\"\\777\"}", "1:5:", "escape sequence is an invalid Unicode code point");
    expect_err("m{a=\"\\x00\"}", "1:5:", "NUL");
    expect_err("m{a=\"\xff\"}", "1:5:", "invalid UTF-8 rune");
    expect_err("m{a=\"line\nbreak\"}", "1:5:", "unterminated quoted string");
    expect_err("m[5x]", "1:3:", "bad number or duration syntax: \"5\"");
    expect_err("m[]", "1:3:", "unexpected \"]\" in subquery or range selector");
    expect_err("m[0s]", "1:3:", "duration must be greater than 0");
    expect_err("m[5m1h]", "1:3:", "not a valid duration string: \"5m1h\"");
    expect_err("m[5m5m]", "1:3:", "not a valid duration string: \"5m5m\"");
    expect_err("m[5m", "1:5:", "unclosed left bracket");
    expect_err("m[99999999999999999999s]", "1:3:", "not a valid duration string");
    expect_err("m[9999999999999s]", "1:3:", "duration out of range");
    expect_err("m{a=\"b\"} x", "1:10:", "unexpected identifier \"x\"");
    expect_err("m{__name__=\"n\"}", "1:1:", "metric name must not be set twice: \"m\" or \"n\"");
    expect_err("m{\n  a=\"b\",\n  c=\"d\" x}", "3:9:", "unexpected identifier \"x\" in label matching");
    /* Only a selector: no expressions, modifiers or subqueries. */
    expect_err("rate(m[5m])", "1:5:", "unexpected \"(\"");
    expect_err("m offset 5m", "1:3:", "unexpected <offset>");
    expect_err("m + m", "1:3:", "unexpected <op:+>");
    expect_err("m[5m:1m]", "1:1:", "expected a vector selector");
    expect_err("m[5m+1m]", "1:1:", "expected a vector selector");
    expect_err("1", "1:1:", "unexpected number \"1\"");
}

static void selector_free_resets_and_tolerates_empty(void **state)
{
    (void)state;
    strata_selector sel = {0};
    strata_selector_free(&sel);
    strata_selector_free(NULL);
    assert_int_equal(strata_selector_parse(NULL, &sel, NULL, 0), STRATA_ERR_INVALID);
    assert_int_equal(strata_selector_parse("{", &sel, NULL, 0), STRATA_ERR_INVALID);
    char tiny[8];
    assert_int_equal(strata_selector_parse("{", &sel, tiny, sizeof tiny), STRATA_ERR_INVALID);
    assert_int_equal(strlen(tiny), 7);
    assert_int_equal(strata_selector_parse("m{a=~\"x\"}", &sel, NULL, 0), STRATA_OK);
    strata_selector_free(&sel);
    assert_null(sel.matchers);
    assert_int_equal(sel.n_matchers, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(selector_parses_valid_selectors),
        cmocka_unit_test(selector_rejects_invalid_selectors_naming_the_position),
        cmocka_unit_test(selector_free_resets_and_tolerates_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
