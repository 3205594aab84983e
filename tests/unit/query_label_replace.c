/*
 * query_label_replace.c: the regular expressions of label_replace, Go's
 * regexp through RE2 (src/index/re2_shim.h: ix_re2_compile_go,
 * ix_re2_find, ix_re2_expand), against answers of Go's regexp itself.
 *
 * Each case is what Prometheus' evalLabelReplace does with a regex, a
 * replacement and a label value: regexp.Compile("^(?s:" + re + ")$"),
 * FindStringSubmatchIndex(value), and when it matches
 * ExpandString(nil, replacement, value, match). The expected columns were
 * printed by a Go program doing exactly that (Go 1.19; the one form newer
 * than that, (?<name>re), is marked), so they are Go's answers, not ours.
 * Values and replacements include invalid UTF-8 (Go reads each bad byte as
 * U+FFFD and the match keeps the bytes), "$1x" (the group "1x"), $01,
 * group names used twice, and a regex that escapes the anchors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/re2_shim.h"
#include "strata.h"
#include "testutil.h"

typedef struct find_case {
    const char *re, *repl, *value;
    int matches;
    const char *result;
} find_case;

static const find_case find_cases[] = {
    {"(.*)", "$1", "abc", 1, "abc"},
    {"(.*)", "x-$1", "abc", 1, "x-abc"},
    {"(a)(b)?", "[$1|$2]", "a", 1, "[a|]"},
    {"(?P<host>[^:]+):(?P<port>\\d+)", "$host/${port}", "web:8080", 1, "web/8080"},
    {"(?P<host>[^:]+):(?P<port>\\d+)", "$hostx/${port}x", "web:8080", 1, "/8080x"},
    {"(.)(.)", "$1x$2", "ab", 1, "b"},
    {"(.)(.)", "${1}x$2", "ab", 1, "axb"},
    {"(.)(.)", "$$1 $ ${ ${1 $}", "ab", 1, "$1 $ ${ ${1 $}"},
    {"(.)(.)", "$01-$00-$0", "ab", 1, "--ab"},
    {"(.)(.)", "$2$1$3$99", "ab", 1, "ba"},
    {"(.)(.)", "$1\303\251$2", "ab", 1, "b"},
    {"(.)(.)", "${1}\303\251", "ab", 1, "a\303\251"},
    {"(.)(.)", "$\303\251", "ab", 1, ""},
    {"(.)(.)", "$100000000 $1000000000", "ab", 1, " "},
    {"a)|(b", "[$0|$1]", "xxb", 1, "[b|b]"},
    {"a)|(b", "[$0|$1]", "ab", 1, "[a|]"},
    {"a)|(b", "[$0|$1]", "bx", 0, ""},
    {".*", "[$0]", "a\nb", 1, "[a\nb]"},
    {"a.c", "ok", "a\377c", 1, "ok"},
    {"(a)(.)(c)", "$2|$3", "a\377c", 1, "\377|c"},
    {"(.*)b", "$1", "\377\376b", 1, "\377\376"},
    {"(?i)AB(c)", "$1", "abC", 1, "C"},
    {"(?m)^b$", "m", "a\nb", 0, ""},
    {"(?:x)(y)", "$1", "xy", 1, "y"},
    {"[(](x)", "$1", "(x", 1, "x"},
    {"\\((x)", "$1", "(x", 1, "x"},
    {"\\Q(\\E(x)", "$1", "(x", 1, "x"},
    {"[[:alpha:](](x)", "$1", "((x", 0, ""},
    {"[]a](x)", "$1", "]x", 1, "x"},
    {"(?P<a1>x)(?P<_b>y)", "${_b}$a1", "xy", 1, "yx"},
    {"(?P<01>x)(y)", "$01|$2", "xy", 1, "x|y"},
    {"", "e", "", 1, "e"},
    {"", "e", "x", 0, ""},
    {"x*", "[$0]", "", 1, "[]"},
    {"(a|ab)(c|bcd)(d*)", "$1,$2,$3", "abcd", 1, "a,bcd,"},
    {"(a+)(b+)?", "$1|$2", "aaa", 1, "aaa|"},
    {"\\d+", "n", "\331\241\331\242", 0, ""},
    {"\\w+", "w", "\303\251", 0, ""},
    {"(\\pL+)", "$1", "h\303\251llo", 1, "h\303\251llo"},
    {"[^a]", "c", "\n", 1, "c"},
    {"(?P<n>a)|(?P<n>b)", "[$n]", "b", 1, "[b]"},
    {"(?P<n>a)|(?P<n>b)", "[$n]", "a", 1, "[a]"},
    {"(?P<n>a)?(?P<n>b)", "[$n|${n}]", "ab", 1, "[a|a]"},
    {"(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)", "$11-$10-${1}1", "abcdefghijk", 1, "k-j-a1"},
    {"(.*)", "$", "x", 1, "$"},
    {"(.*)", "a$", "x", 1, "a$"},
    {"(.*)", "${}", "x", 1, "${}"},
    {"(.*)", "${1", "x", 1, "${1"},
    {"(.*)", "$-1", "x", 1, "$-1"},
    {"(.*)", "$1\377", "x", 1, "x\377"},
    {"(.*)", "\377$1", "x", 1, "\377x"},
    {"(.*)", "$1_$1", "x", 1, "x"},
    {"(?U)(a+)(a*)", "$1|$2", "aaa", 1, "a|aa"},
    {"(a*)+", "[$1]", "aa", 1, "[aa]"},
    {"(a|b)*", "[$1]", "abab", 1, "[b]"},
    {"(?:(a)|b)*", "[$1]", "ab", 1, "[a]"},
    {"[\\]](x)", "$1", "\\]x", 0, ""},
    {"(?s).", "d", "\n", 1, "d"},
    {"(?-s:.)", "d", "\n", 0, ""},
    {"a\\z", "z", "a", 1, "z"},
    {"\\x{1F600}(.)", "$1", "\360\237\230\200z", 1, "z"},
};

typedef struct compile_case {
    const char *re;
    int ok;
} compile_case;

/* Whether Go compiles "^(?s:" re ")$". */
static const compile_case compile_cases[] = {
    {"(?P<n>a)(?P<n>b)", 1},
    {"(?P<1a>a)", 1},
    {"(?P<\303\251>a)", 0},
    {"(?<n>a)", 1}, /* Go 1.22; the Go 1.19 used for this table refuses it */
    {"(?P<n", 0},
    {"(?P", 0},
    {"(?i)(?P<x>a)", 1},
    {"\\pN", 1},
    {"\\p{Greek}", 1},
    {"[[:word:]]", 1},
    {"\\Z", 0},
    {"(?#c)", 0},
    {"a++", 0},
    {"a{,3}", 1},
    {"\\k<n>", 0},
    {"(?<!a)", 0},
    {"[", 0},
    {"(", 0},
    {"a)", 0},
    {"\\C", 0},
    {"(?<=a)b", 0},
    {"a{2,1}", 0},
    {"x**", 0},
    {"\377", 0},
    {"(?P<>a)", 0},
    {"(?P<a-b>x)", 0},
    {"\\Qa(", 0},
    {"\\8", 0},
    {"a{1001}", 0},
    {"(?i", 0},
    {"[[:foo:]]", 0},
};

static int compile_anchored(const char *re, ix_re2 **out)
{
    char pat[512];
    snprintf(pat, sizeof pat, "^(?s:%s)$", re);
    return ix_re2_compile_go(pat, strlen(pat), out, NULL, 0);
}

static void find_and_expand_answer_as_go(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof find_cases / sizeof *find_cases; i++) {
        const find_case *c = &find_cases[i];
        ix_re2 *re = NULL;
        int rc = compile_anchored(c->re, &re);
        if (rc != STRATA_OK) {
            printf("case %zu: /%s/ does not compile (%d)\n", i, c->re, rc);
            bad++;
            continue;
        }
        size_t n_pairs = ix_re2_groups(re) + 1;
        ptrdiff_t ov[64];
        assert_true(n_pairs <= 32);
        int m = ix_re2_find(re, c->value, strlen(c->value), ov, n_pairs);
        if (m != c->matches) {
            printf("case %zu: /%s/ on \"%s\": match %d, Go %d\n", i, c->re, c->value, m, c->matches);
            bad++;
        } else if (m == 1) {
            char out[256];
            size_t need = 0;
            assert_int_equal(ix_re2_expand(re, c->repl, strlen(c->repl), c->value, ov, n_pairs, out, sizeof out,
                                           &need),
                             STRATA_OK);
            assert_true(need < sizeof out);
            if (strcmp(out, c->result) != 0 || need != strlen(c->result)) {
                printf("case %zu: /%s/ \"%s\" on \"%s\": \"%s\", Go \"%s\"\n", i, c->re, c->repl, c->value, out,
                       c->result);
                bad++;
            }
            /* too small a buffer: the length, and nothing past cap */
            char tiny[2] = {'#', '#'};
            size_t need2 = 0;
            assert_int_equal(ix_re2_expand(re, c->repl, strlen(c->repl), c->value, ov, n_pairs, tiny, 1, &need2),
                             STRATA_OK);
            assert_int_equal(need2, need);
            if (need >= 1)
                assert_int_equal(tiny[1], '#');
        }
        ix_re2_free(re);
    }
    assert_int_equal(bad, 0);
}

static void compile_accepts_and_refuses_as_go(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof compile_cases / sizeof *compile_cases; i++) {
        ix_re2 *re = NULL;
        char why[200] = "";
        char pat[512];
        snprintf(pat, sizeof pat, "^(?s:%s)$", compile_cases[i].re);
        int rc = ix_re2_compile_go(pat, strlen(pat), &re, why, sizeof why);
        if ((rc == STRATA_OK) != compile_cases[i].ok) {
            printf("/%s/: %s, Go %s (%s)\n", compile_cases[i].re, rc == STRATA_OK ? "compiles" : "refused",
                   compile_cases[i].ok ? "compiles" : "refuses", why);
            bad++;
        }
        if (rc == STRATA_OK)
            ix_re2_free(re);
        else
            assert_int_equal(rc, STRATA_ERR_INVALID);
    }
    assert_int_equal(bad, 0);
}

/* Offsets are into the value as given, invalid bytes and all, and groups
 * that took no part are -1. */
static void find_gives_offsets_into_the_raw_value(void **state)
{
    (void)state;
    ix_re2 *re;
    assert_int_equal(compile_anchored("(a)(.)(x)?(c)", &re), STRATA_OK);
    assert_int_equal(ix_re2_groups(re), 4);
    ptrdiff_t ov[10];
    assert_int_equal(ix_re2_find(re, "a\xff" "c", 3, ov, 5), 1);
    const ptrdiff_t want[10] = {0, 3, 0, 1, 1, 2, -1, -1, 2, 3};
    for (int i = 0; i < 10; i++)
        assert_int_equal(ov[i], want[i]);
    /* fewer pairs than groups: only those are written; more: -1 */
    ptrdiff_t few[2] = {7, 7}, many[14];
    assert_int_equal(ix_re2_find(re, "abc", 3, few, 1), 1);
    assert_int_equal(few[0], 0);
    assert_int_equal(few[1], 3);
    assert_int_equal(ix_re2_find(re, "abc", 3, many, 7), 1);
    assert_int_equal(many[12], -1);
    assert_int_equal(many[13], -1);
    assert_int_equal(ix_re2_find(re, "abd", 3, ov, 5), 0);
    /* an empty value, and NULL for it */
    ix_re2_free(re);
    assert_int_equal(compile_anchored("(x*)", &re), STRATA_OK);
    assert_int_equal(ix_re2_find(re, NULL, 0, ov, 2), 1);
    assert_int_equal(ov[2], 0);
    assert_int_equal(ov[3], 0);
    ix_re2_free(re);
}

/* Go's (?<name>re) and names given twice, which this RE2 does not know or
 * refuses by itself. */
static void named_groups_as_go(void **state)
{
    (void)state;
    ix_re2 *re;
    assert_int_equal(compile_anchored("(?<host>[^:]+):(?P<port>\\d+)|(?<host>x)", &re), STRATA_OK);
    assert_int_equal(ix_re2_groups(re), 3);
    ptrdiff_t ov[8];
    char out[64];
    size_t need;
    assert_int_equal(ix_re2_find(re, "db:5432", 7, ov, 4), 1);
    assert_int_equal(ix_re2_expand(re, "${host}-$port", 13, "db:5432", ov, 4, out, sizeof out, &need), STRATA_OK);
    assert_string_equal(out, "db-5432");
    assert_int_equal(ix_re2_find(re, "x", 1, ov, 4), 1);
    assert_int_equal(ix_re2_expand(re, "${host}-$port", 13, "x", ov, 4, out, sizeof out, &need), STRATA_OK);
    assert_string_equal(out, "x-");
    ix_re2_free(re);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(find_and_expand_answer_as_go),
        cmocka_unit_test(compile_accepts_and_refuses_as_go),
        cmocka_unit_test(find_gives_offsets_into_the_raw_value),
        cmocka_unit_test(named_groups_as_go),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
