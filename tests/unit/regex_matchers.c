/*
 * regex_matchers.c: regular-expression matchers never answer wrongly.
 *
 *  - long_values_agree_with_brute_force: values of 1,600 bytes and 64 KiB
 *    against patterns that make a backtracking engine explode or hit its
 *    limits ((a|b)*, (a+)+[bc], .*x.*y.*z, (a*)*b, (x+x+)+y, (a|aa)+ ...),
 *    for =~ and !~, each checked by a hand-written predicate of what the
 *    pattern means; through index_matcher_matches and through index_select
 *    (postings path and per-candidate path); every match well under a
 *    second even under sanitizers.
 *  - go_refused_syntax_is_invalid_with_a_message: backreferences,
 *    lookaround, atomic groups, possessive quantifiers, recursion, \C ...
 *    give STRATA_ERR_INVALID and a message, from index_matcher_compile,
 *    index_select and strata_selector_parse; what Go accepts and this RE2
 *    spells otherwise ((?<name>re)) is accepted.
 *  - invalid_utf8_values_read_as_go_reads_them: each invalid byte is
 *    U+FFFD, for the fast paths and RE2 alike.
 *  - a_failed_allocation_is_an_error_never_an_answer: the Nth allocation
 *    fails, for every N: a selection answers right or STRATA_ERR_NOMEM.
 * Seed: STRATA_SEED.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/base.h"
#include "index/index.h"
#include "testutil.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the meaning of each pattern, by hand */

static int all_in(const char *v, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (!strchr(set, v[i]))
            return 0;
    return 1;
}

static int p_ab_star(const char *v, size_t n) { return all_in(v, n, "ab"); }
static int p_aplus_plus_bc(const char *v, size_t n)
{
    return n >= 2 && all_in(v, n - 1, "a") && (v[n - 1] == 'b' || v[n - 1] == 'c');
}
static int p_xyz(const char *v, size_t n)
{
    if (n == 0 || v[n - 1] != 'z')
        return 0;
    size_t i = 0;
    while (i < n - 1 && v[i] != 'x')
        i++;
    while (i < n - 1 && v[i] != 'y')
        i++;
    return i < n - 1;
}
static int p_astar_star_b(const char *v, size_t n) { return n >= 1 && all_in(v, n - 1, "a") && v[n - 1] == 'b'; }
static int p_xx_y(const char *v, size_t n) { return n >= 3 && all_in(v, n - 1, "x") && v[n - 1] == 'y'; }
static int p_a_aa(const char *v, size_t n) { return n >= 1 && all_in(v, n, "a"); }
static int p_dot_a_20(const char *v, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += v[i] == 'a';
    return n && v[n - 1] == 'a' && k >= 20;
}
static int p_one_c(const char *v, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += v[i] == 'c';
    return k == 1 && all_in(v, n, "abc");
}
static int p_suffix(const char *v, size_t n) { return n >= 3 && memcmp(v + n - 3, "xyz", 3) == 0; }
static int p_contains(const char *v, size_t n) { return memmem(v, n, "cab", 3) != NULL; }

static const struct {
    const char *re;
    int (*want)(const char *, size_t);
} CASES[] = {
    {"(a|b)*", p_ab_star},
    {"(a+)+[bc]", p_aplus_plus_bc},
    {".*x.*y.*z", p_xyz},
    {"(a*)*b", p_astar_star_b},
    {"(x+x+)+y", p_xx_y},
    {"(a|aa)+", p_a_aa},
    {"(.*a){20}", p_dot_a_20},
    {"[ab]*c[ab]*", p_one_c},
    {".*xyz", p_suffix},       /* a fast path */
    {".*cab.*", p_contains},   /* a fast path */
    {"(?:.*)xyz", p_suffix},   /* the same through RE2 */
    {"(.*)cab(.*)", p_contains},
};
#define NCASES (sizeof CASES / sizeof CASES[0])

/* Values of length n: uniform runs, near misses, random mixes. */
static char *make_value(test_rng *r, int kind, size_t n)
{
    char *v = malloc(n + 1);
    static const char *ALPHA[] = {"ab", "abc", "xyz", "axyzbc", "a", "x"};
    for (size_t i = 0; i < n; i++) {
        switch (kind) {
        case 0: v[i] = 'a'; break;
        case 1: v[i] = "ab"[i & 1]; break;
        case 2: v[i] = 'x'; break;
        default: {
            const char *al = ALPHA[(kind - 3) % 6];
            v[i] = al[test_rng_below(r, strlen(al))];
        }
        }
    }
    /* a last byte that decides many patterns */
    static const char LAST[] = "abcdyz";
    if (kind < 3)
        v[n - 1] = LAST[test_rng_below(r, sizeof LAST - 1)];
    v[n] = 0;
    return v;
}

static void long_values_agree_with_brute_force(void **state)
{
    (void)state;
    test_rng r;
    test_rng_init(&r, test_seed(7));
    enum { NVAL = 24 };
    char *vals[NVAL];
    size_t lens[NVAL];
    for (int i = 0; i < NVAL; i++) {
        lens[i] = i % 2 ? 65536 : 1600;
        vals[i] = make_value(&r, i / 2, lens[i]);
    }
    /* the special ones the issue names */
    memset(vals[0], 'a', lens[0]);                /* (a|b)* over 1,600 bytes: matches */
    memset(vals[1], 'a', lens[1]);                /* and over 64 KiB */
    vals[2][lens[2] - 1] = 'c';                   /* a...ac: (a+)+[bc] matches */
    memset(vals[3], 'a', lens[3]);                /* a...a: (a+)+[bc] fails (after 2^n paths, for PCRE2) */

    strata_index *idx;
    assert_int_equal(index_open(NULL, NULL, &idx), STRATA_OK);
    strata_sid sids[NVAL];
    for (int i = 0; i < NVAL; i++) {
        strata_label l[] = {{"i", NULL}, {"v", vals[i]}};
        char ib[8];
        snprintf(ib, sizeof ib, "%d", i);
        l[0].value = ib;
        assert_int_equal(index_get_or_create(idx, l, 2, &sids[i], NULL), STRATA_OK);
    }
    double worst = 0;
    for (size_t c = 0; c < NCASES; c++) {
        for (int neg = 0; neg < 2; neg++) {
            strata_matcher m = {neg ? STRATA_MATCH_NRE : STRATA_MATCH_RE, "v", CASES[c].re};
            index_matcher *im;
            char msg[200];
            int rc = index_matcher_compile(&m, &im, msg, sizeof msg);
            if (rc != STRATA_OK)
                fail_msg("%s: %d %s", CASES[c].re, rc, msg);
            int want_all[NVAL];
            for (int i = 0; i < NVAL; i++) {
                int want = CASES[c].want(vals[i], lens[i]) ^ neg;
                want_all[i] = want;
                double t0 = now_s();
                int got = index_matcher_matches(im, vals[i], lens[i]);
                double dt = now_s() - t0;
                worst = dt > worst ? dt : worst;
                if (got != want)
                    fail_msg("%s%s on value %d (%zu bytes): want %d got %d", neg ? "!~" : "=~", CASES[c].re, i,
                             lens[i], want, got);
                if (dt > 1.0)
                    fail_msg("%s on value %d (%zu bytes) took %.3f s", CASES[c].re, i, lens[i], dt);
            }
            index_matcher_free(im);
            /* The selection: alone (every value's postings) and behind an
             * equality on i (the per-candidate path). */
            index_sids got = {0};
            assert_int_equal(index_select(idx, &m, 1, &got), STRATA_OK);
            size_t k = 0;
            for (int i = 0; i < NVAL; i++)
                if (want_all[i]) {
                    if (k >= got.n || got.v[k] != sids[i])
                        fail_msg("select %s%s: series %d missing", neg ? "!~" : "=~", CASES[c].re, i);
                    k++;
                }
            assert_int_equal(got.n, k);
            index_sids_free(&got);
            for (int i = 0; i < NVAL; i += 5) {
                char ib[8];
                snprintf(ib, sizeof ib, "%d", i);
                strata_matcher two[] = {{STRATA_MATCH_EQ, "i", ib}, m};
                assert_int_equal(index_select(idx, two, 2, &got), STRATA_OK);
                assert_int_equal(got.n, (size_t)want_all[i]);
                index_sids_free(&got);
            }
        }
    }
    printf("slowest single match: %.3f ms\n", worst * 1e3);
    index_close(idx);
    for (int i = 0; i < NVAL; i++)
        free(vals[i]);
}

/* Patterns that take a backtracking engine exponential or polynomial time
 * on a 64 KiB value: each answers in well under a second. */
static void pathological_patterns_finish_quickly(void **state)
{
    (void)state;
    static const char *PATS[] = {"(a+)+$",     "(a|a)*b",        "(a*)*(b|c)", "(.*)*x",     "(a|aa|aaa)*b",
                                 "((a+)+)+c", "(.*a){50}",      "(?:a?){64}a{64}", "(\\w+\\s?)*!", ".*.*.*.*=.*",
                                 "(x+x+)+y|(a+)+[bc]|.*"};
    size_t n = 65536;
    char *v = malloc(n + 1);
    memset(v, 'a', n);
    v[n] = 0;
    for (size_t p = 0; p < sizeof PATS / sizeof PATS[0]; p++) {
        strata_matcher m = {STRATA_MATCH_NRE, "v", PATS[p]};
        index_matcher *im;
        assert_int_equal(index_matcher_compile(&m, &im, NULL, 0), STRATA_OK);
        double t0 = now_s();
        int got = index_matcher_matches(im, v, n);
        double dt = now_s() - t0;
        assert_true(got == 0 || got == 1);
        if (dt > 1.0)
            fail_msg("%s took %.3f s", PATS[p], dt);
        printf("%-26s %8.3f ms  !~ -> %d\n", PATS[p], dt * 1e3, got);
        index_matcher_free(im);
    }
    /* The two whose answer is plain: .* alternatives match everything. */
    strata_matcher m = {STRATA_MATCH_NRE, "v", "(x+x+)+y|(a+)+[bc]|.*"};
    index_matcher *im;
    assert_int_equal(index_matcher_compile(&m, &im, NULL, 0), STRATA_OK);
    assert_int_equal(index_matcher_matches(im, v, n), 0);
    assert_int_equal(index_matcher_matches(im, v, 1600), 0);
    index_matcher_free(im);
    free(v);
}

static void go_refused_syntax_is_invalid_with_a_message(void **state)
{
    (void)state;
    static const char *BAD[] = {"(a)\\1", "(?=a)", "(?!a)",  "(?<=a)", "(?<!a)", "a++",   "a*+",   "a?+",
                                "(?R)",   "(?1)",  "\\C",    "a\\Cb",  "[\\C]",  "(?>a)", "\\K",   "(?#c)",
                                "(?x)a",  "\\Z",   "(?P=n)", "\\g1",   "\\k<n>", "a{1001}", "(", "a)|(b",
                                "[z-a]",  "*",     "\\8",    "(?|a)",  "\\X",    "\\h",   "\\R",   "(?<n"};
    strata_index *idx;
    assert_int_equal(index_open(NULL, NULL, &idx), STRATA_OK);
    strata_label l[] = {{"v", "a"}};
    strata_sid sid;
    assert_int_equal(index_get_or_create(idx, l, 1, &sid, NULL), STRATA_OK);
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        for (int t = STRATA_MATCH_RE; t <= STRATA_MATCH_NRE; t++) {
            strata_matcher m = {(strata_match_type)t, "v", BAD[i]};
            index_matcher *im = NULL;
            char msg[200] = "unset";
            int rc = index_matcher_compile(&m, &im, msg, sizeof msg);
            if (rc != STRATA_ERR_INVALID)
                fail_msg("\"%s\": want STRATA_ERR_INVALID, got %d", BAD[i], rc);
            if (!strstr(msg, "invalid regular expression"))
                fail_msg("\"%s\": message \"%s\"", BAD[i], msg);
            index_sids s = {0};
            assert_int_equal(index_select(idx, &m, 1, &s), STRATA_ERR_INVALID);
            assert_int_equal(index_matcher_compile(&m, &im, NULL, 0), STRATA_ERR_INVALID);
        }
        char sel[300], err[256] = "";
        /* selector strings are Go strings: double the backslashes */
        char q[128];
        size_t w = 0;
        for (const char *p = BAD[i]; *p && w < sizeof q - 2; p++) {
            if (*p == '\\')
                q[w++] = '\\';
            q[w++] = *p;
        }
        q[w] = 0;
        snprintf(sel, sizeof sel, "{v=~\"%s\"}", q);
        strata_selector s;
        assert_int_equal(strata_selector_parse(sel, &s, err, sizeof err), STRATA_ERR_INVALID);
        if (!strstr(err, "invalid regular expression"))
            fail_msg("%s: message \"%s\"", sel, err);
        if (i < 4)
            printf("%-12s -> %s\n", sel, err);
    }
    /* Go accepts these; so do we, meaning what Go means. */
    static const struct {
        const char *re, *yes, *no;
    } OK[] = {
        {"(?<n>a)b", "ab", "b"},        {"(?P<n>a)b", "ab", "b"},   {"\\Q\\C\\E", "\\C", "C"},
        {"\\Qa(?<n>\\E", "a(?<n>", "a"}, {"[(?<]+", "(?<", "a"},      {"[[:alpha:]]+", "ab", "1"},
        {"[]a]", "]", "a]"},            {"(?i)K", "\xe2\x84\xaa", "L"}, {"a{1000}", NULL, "a"},
        {"\\x{FFFD}", "\xff", "a"},     {"(?s:.)", "\n", ""},        {"(?-s:.)", "a", "\n"},
    };
    for (size_t i = 0; i < sizeof OK / sizeof OK[0]; i++) {
        strata_matcher m = {STRATA_MATCH_RE, "v", OK[i].re};
        index_matcher *im;
        char msg[200] = "";
        int rc = index_matcher_compile(&m, &im, msg, sizeof msg);
        if (rc != STRATA_OK)
            fail_msg("\"%s\": %d %s", OK[i].re, rc, msg);
        if (OK[i].yes)
            assert_int_equal(index_matcher_matches(im, OK[i].yes, strlen(OK[i].yes)), 1);
        assert_int_equal(index_matcher_matches(im, OK[i].no, strlen(OK[i].no)), 0);
        index_matcher_free(im);
    }
    index_close(idx);
}

/* Go's regexp reads each byte that begins no valid sequence as U+FFFD
 * (width 1); Prometheus' .* and .+ match every (non-empty) value. */
static void invalid_utf8_values_read_as_go_reads_them(void **state)
{
    (void)state;
    static const struct {
        const char *re, *v;
        int want;
    } C[] = {
        {".*", "\xff", 1},           {".+", "\xff", 1},          {".", "\xff", 1},
        {"..", "\xc3", 0},           {".", "\xc3", 1},           {"...", "\xed\xa0\x80", 1}, /* surrogate: 3 runes */
        {"..", "\xc0\xaf", 1},       {".", "\xc3\xa9", 1},       {"foo.*", "foo\xff", 1},
        {"foo.+", "foo\xff", 1},     {"foo.+", "foo", 0},        {".*\xff", "a\xff", -1}, /* pattern not UTF-8 */
        {"\xef\xbf\xbd", "\xff", 1}, {"\xef\xbf\xbd|x", "\xfe", 1}, {"a\xef\xbf\xbd.*", "a\xff\x62", 1},
        {".*\xef\xbf\xbd", "a\x80", 1}, {"[^a]", "\x80", 1},    {"\\x{FFFD}{2}", "\xe2\x82", 1},
        {"\\S", "\xff", 1},          {"\\w", "\xff", 0},         {"a.c", "a\xf8\x63", 1},
        {".*b", "\xff\x62", 1},      {".*x.*", "\xffx\xff", 1},  {"\xff", "\xff", -1},
    };
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        for (int neg = 0; neg < 2; neg++) {
            strata_matcher m = {neg ? STRATA_MATCH_NRE : STRATA_MATCH_RE, "v", C[i].re};
            index_matcher *im;
            int rc = index_matcher_compile(&m, &im, NULL, 0);
            if (C[i].want < 0) {
                assert_int_equal(rc, STRATA_ERR_INVALID);
                continue;
            }
            assert_int_equal(rc, STRATA_OK);
            int got = index_matcher_matches(im, C[i].v, strlen(C[i].v));
            if (got != (C[i].want ^ neg))
                fail_msg("%s%s on case %zu: want %d got %d", neg ? "!~" : "=~", C[i].re, i, C[i].want ^ neg, got);
            index_matcher_free(im);
        }
    }
}

/* The one error matching has left, running out of memory (decoding an
 * invalid value for RE2 needs a buffer), is an error wherever it happens:
 * never "no match", never (under !~) a match. */
static void a_failed_allocation_is_an_error_never_an_answer(void **state)
{
    (void)state;
    strata_matcher nre = {STRATA_MATCH_NRE, "v", "(a|\\x{FFFD})x"};
    index_matcher *im;
    assert_int_equal(index_matcher_compile(&nre, &im, NULL, 0), STRATA_OK);
    base_alloc_fail_after(0); /* the decoding buffer */
    int r = index_matcher_matches(im, "\xffx", 2);
    base_alloc_fail_after(-1);
    assert_int_equal(r, STRATA_ERR_NOMEM);
    assert_int_equal(index_matcher_matches(im, "\xffx", 2), 0);
    assert_int_equal(index_matcher_matches(im, "\xfex", 2), 0);
    assert_int_equal(index_matcher_matches(im, "\xffy", 2), 1);
    index_matcher_free(im);

    strata_index *idx;
    assert_int_equal(index_open(NULL, NULL, &idx), STRATA_OK);
    static const char *V[] = {"\xffx", "ax", "bx", "\xfe", "\xc3x", "x"};
    strata_sid sid[6];
    for (int i = 0; i < 6; i++) {
        char id[4];
        snprintf(id, sizeof id, "%d", i);
        strata_label l[] = {{"i", id}, {"v", V[i]}};
        assert_int_equal(index_get_or_create(idx, l, 2, &sid[i], NULL), STRATA_OK);
    }
    strata_matcher two[] = {{STRATA_MATCH_RE, "i", "[0-5]"}, nre};
    strata_sid want[] = {sid[2], sid[3], sid[5]}; /* bx, \xfe, x */
    int failures = 0;
    for (long k = 0; k < 64; k++) {
        for (size_t nm = 1; nm <= 2; nm++) { /* postings path; then per-candidate path */
            index_sids got = {0};
            base_alloc_fail_after(k);
            int rc = index_select(idx, nm == 1 ? &nre : two, nm, &got);
            base_alloc_fail_after(-1);
            if (rc == STRATA_ERR_NOMEM) {
                failures++;
                continue;
            }
            assert_int_equal(rc, STRATA_OK);
            assert_int_equal(got.n, 3);
            assert_memory_equal(got.v, want, sizeof want);
            index_sids_free(&got);
        }
    }
    printf("%d selections failed with STRATA_ERR_NOMEM, none answered wrongly\n", failures);
    assert_true(failures > 0);
    index_close(idx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(long_values_agree_with_brute_force),
        cmocka_unit_test(pathological_patterns_finish_quickly),
        cmocka_unit_test(go_refused_syntax_is_invalid_with_a_message),
        cmocka_unit_test(invalid_utf8_values_read_as_go_reads_them),
        cmocka_unit_test(a_failed_allocation_is_an_error_never_an_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
