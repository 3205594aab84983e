/*
 * index_regex_bench_long.c: matching speed of label matchers, before (PCRE2
 * JIT behind the old fast paths, as matcher.c was) and after (RE2 behind
 * today's fast paths), in one run, in ns per match. Also the raw engines
 * without any fast path (PCRE2 JIT, PCRE2's DFA matcher, RE2) and how
 * often each fails to answer (a limit reached: the old code read that as
 * "no match").
 *
 * Workloads
 * - 100,000 label values shaped like real ones (metric names, hosts,
 *   paths, ids; 4-60 bytes), each pattern run over all of them;
 * - the patterns of index_matchers.c (its selection workload) over the
 *   same values;
 * - long values: 1,600 bytes and 64 KiB for (a|b)* and (a+)+[bc].
 * Run: ./build-rel/test_index_regex_bench_long (label long; not asserted,
 * it prints). Seed: STRATA_SEED.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "index/index.h"
#include "index/re2_shim.h"
#include "testutil.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the old matcher: PCRE2 JIT with a match limit behind the old fast
 * paths (literal, set, .*, .+, lit.*, lit.+), as matcher.c was. */
typedef struct old_m {
    int kind; /* 0 literal/set (strcmp over alternatives), 1 .*, 2 .+, 3 prefix, 4 pcre */
    char lit[64];
    size_t lit_len;
    int plus;
    pcre2_code *code;
    pcre2_match_data *md;
    pcre2_match_context *mc;
    char **alts, *alts_mem;
    size_t n_alts;
} old_m;

static const char META[] = "\\.+*?()|[]{}^$";
static int has_meta(const char *s, size_t n, int bar)
{
    for (size_t i = 0; i < n; i++)
        if (strchr(META, s[i]) && !(bar && s[i] == '|'))
            return 1;
    return 0;
}

static pcre2_code *pcre_compile(const char *re, uint32_t extra)
{
    int err;
    PCRE2_SIZE off;
    return pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
                         PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY | PCRE2_UTF |
                             PCRE2_NEVER_BACKSLASH_C | extra,
                         &err, &off, NULL);
}

static void old_compile(old_m *m, const char *re)
{
    memset(m, 0, sizeof *m);
    size_t n = strlen(re);
    if (!has_meta(re, n, 1)) {
        m->kind = 0;
        char *copy = m->alts_mem = strdup(re), *save = NULL;
        m->alts = calloc(n + 2, sizeof *m->alts);
        /* strtok drops empty alternatives; none of the bench's set
         * patterns has one */
        for (char *t = strtok_r(copy, "|", &save); t; t = strtok_r(NULL, "|", &save))
            m->alts[m->n_alts++] = t;
        return;
    }
    if (n == 2 && re[0] == '.' && (re[1] == '*' || re[1] == '+')) {
        m->kind = re[1] == '*' ? 1 : 2;
        return;
    }
    if (n > 2 && n < 60 && re[n - 2] == '.' && (re[n - 1] == '*' || re[n - 1] == '+') && !has_meta(re, n - 2, 0)) {
        m->kind = 3;
        memcpy(m->lit, re, n - 2);
        m->lit_len = n - 2;
        m->plus = re[n - 1] == '+';
        return;
    }
    m->kind = 4;
    m->code = pcre_compile(re, 0);
    assert_non_null(m->code);
    (void)pcre2_jit_compile(m->code, PCRE2_JIT_COMPLETE);
    m->md = pcre2_match_data_create_from_pattern(m->code, NULL);
    m->mc = pcre2_match_context_create(NULL);
    pcre2_set_match_limit(m->mc, 1000000u); /* IX_PCRE_MATCH_LIMIT as it was */
    pcre2_set_depth_limit(m->mc, 100000u);
}

/* labels.c: the old matcher checked validity per value (not for
 * literals), as index_matcher_matches still does for RE2. */
int ix_utf8_valid(const uint8_t *s, size_t n);

static long old_errors;

static int old_match(old_m *m, const char *v, size_t n)
{
    if (m->kind && !ix_utf8_valid((const uint8_t *)v, n))
        return 0;
    switch (m->kind) {
    case 0:
        for (size_t i = 0; i < m->n_alts; i++)
            if (strcmp(m->alts[i], v) == 0)
                return 1;
        return 0;
    case 1: return 1;
    case 2: return n > 0;
    case 3: return n >= m->lit_len + (size_t)m->plus && memcmp(v, m->lit, m->lit_len) == 0;
    default: {
        int r = pcre2_match(m->code, (PCRE2_SPTR)v, n, 0, PCRE2_NO_UTF_CHECK, m->md, m->mc);
        if (r < 0 && r != PCRE2_ERROR_NOMATCH)
            old_errors++; /* read as "no match" by the old code */
        return r >= 0;
    }
    }
}

static void old_free(old_m *m)
{
    free(m->alts_mem);
    free(m->alts);
    pcre2_match_data_free(m->md);
    pcre2_match_context_free(m->mc);
    pcre2_code_free(m->code);
}

/* ---- values */

static char **make_values(size_t n, size_t **lens)
{
    test_rng r;
    test_rng_init(&r, test_seed(11));
    char **v = malloc(n * sizeof *v);
    *lens = malloc(n * sizeof **lens);
    static const char *W[] = {"foo", "bar", "api", "node", "http", "requests", "total", "cpu", "seconds", "suffix"};
    for (size_t i = 0; i < n; i++) {
        char b[96];
        unsigned k = (unsigned)test_rng_below(&r, 6);
        unsigned a = (unsigned)test_rng_below(&r, 10), c = (unsigned)test_rng_below(&r, 10);
        unsigned x = (unsigned)test_rng_below(&r, 100000);
        switch (k) {
        case 0: snprintf(b, sizeof b, "%s_%s_%s", W[a], W[c], W[x % 10]); break;
        case 1: snprintf(b, sizeof b, "host-%05u.%s.example.com", x, W[a]); break;
        case 2: snprintf(b, sizeof b, "/api/v1/%s/%u/%s", W[a], x, W[c]); break;
        case 3: snprintf(b, sizeof b, "%u", x); break;
        case 4: snprintf(b, sizeof b, "%s", W[a]); break;
        default: snprintf(b, sizeof b, "%s-%08x-%s", W[a], (unsigned)test_rng_next(&r), W[c]); break;
        }
        v[i] = strdup(b);
        (*lens)[i] = strlen(b);
    }
    return v;
}

/* ---- one line: pattern over values with each matcher */

static long dfa_errors, jit_errors;

static void bench_one(const char *re, char **v, size_t *lens, size_t n, int reps)
{
    strata_matcher sm = {STRATA_MATCH_RE, "l", re};
    index_matcher *im;
    char msg[200];
    if (index_matcher_compile(&sm, &im, msg, sizeof msg) != STRATA_OK)
        fail_msg("%s: %s", re, msg);
    old_m om;
    old_compile(&om, re);
    pcre2_code *jit = pcre_compile(re, 0), *dfa = pcre_compile(re, 0);
    assert_non_null(jit);
    (void)pcre2_jit_compile(jit, PCRE2_JIT_COMPLETE);
    pcre2_match_data *md = pcre2_match_data_create(16, NULL);
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    pcre2_set_match_limit(mc, 1000000u);
    int ws[4096];
    ix_re2 *r2;
    assert_int_equal(ix_re2_compile(re, strlen(re), &r2, NULL, 0), STRATA_OK);

    /* Each engine over all values `reps` times; the fastest pass counts
     * (the machine is shared: the minimum is the least disturbed). */
    long hits[5] = {0};
    double t[5];
    for (int e = 0; e < 5; e++) {
        double best = 1e30;
        for (int rep = 0; rep < reps; rep++) {
            long h = 0;
            double t0 = now_s();
            for (size_t i = 0; i < n; i++) {
                int y = 0, rc;
                switch (e) {
                case 0: y = old_match(&om, v[i], lens[i]); break;
                case 1: y = index_matcher_matches(im, v[i], lens[i]); break;
                case 2:
                    rc = pcre2_match(jit, (PCRE2_SPTR)v[i], lens[i], 0, PCRE2_NO_UTF_CHECK, md, mc);
                    jit_errors += rc < 0 && rc != PCRE2_ERROR_NOMATCH;
                    y = rc >= 0;
                    break;
                case 3:
                    rc = pcre2_dfa_match(dfa, (PCRE2_SPTR)v[i], lens[i], 0, PCRE2_NO_UTF_CHECK, md, mc, ws, 4096);
                    dfa_errors += rc < 0 && rc != PCRE2_ERROR_NOMATCH;
                    y = rc >= 0;
                    break;
                case 4: y = ix_re2_full_match(r2, v[i], lens[i]); break;
                }
                h += y;
            }
            double dt = now_s() - t0;
            best = dt < best ? dt : best;
            hits[e] = h;
        }
        t[e] = best * 1e9 / (double)n;
    }
    char shown[40];
    snprintf(shown, sizeof shown, "%s", re);
    for (char *p = shown; *p; p++)
        if (*p == '\n')
            *p = '~';
    printf("%-24.24s %9.1f %9.1f %9.1f %9.1f %9.1f   %ld/%ld\n", shown, t[0], t[1], t[2], t[3], t[4],
           hits[1], (long)n);
    if (hits[0] != hits[1])
        printf("  (old and new disagree: %ld vs %ld matches)\n", hits[0], hits[1]);
    index_matcher_free(im);
    old_free(&om);
    pcre2_code_free(jit);
    pcre2_code_free(dfa);
    pcre2_match_data_free(md);
    pcre2_match_context_free(mc);
    ix_re2_free(r2);
}

static const char *HEADER = "pattern                    old(ns)   new(ns)  pcre-jit  pcre-dfa  re2-raw   matches";

static void regex_matching_speed_old_and_new(void **state)
{
    (void)state;
    size_t n = 100000, *lens;
    char **v = make_values(n, &lens);
    printf("\n100,000 label values, ns per match (old: PCRE2 JIT + old fast paths; new: RE2 + fast paths)\n%s\n",
           HEADER);
    static const char *REP[] = {"foo",          "foo.*",         "a|b|c",        "foo|bar|node", ".*suffix",
                                "(.*)foo(.*)",  ".*foo.*",       "host-0.*",     "/api/v1/.*/total",
                                "[0-9]+",       "(?i)FOO.*",     "foo_(bar|api)_.*", "host-\\d+\\..*\\.com",
                                ".*-[0-9a-f]{8}-.*"};
    for (size_t i = 0; i < sizeof REP / sizeof REP[0]; i++)
        bench_one(REP[i], v, lens, n, 7);

    /* index_matchers.c's patterns (those both engines take) */
    static const char *IM[] = {
        ".*",        ".+",       "f.*",       "f.+",          "foo|bar",     "a|",          "|x",       "x|xy|foo",
        "(?i)foo",   "[a-c].*",  "x*",        ".*b.*",        "\\.",         "foo\\.bar",   "a\\|b",    "\\d+",
        "1\\.5|100", ".*oo",     "^foo$",     "(a|b)",        "x?y?",        "foo.*",       "xy.+",     "a.b",
        "[^x]+",     "\\(",      "bar|foo|",  "f",            ".*.*",        "(foo)?",      ".*\\.bar", "\\S+",
        "fo+",       ".*oo.*",   "[^a]",      "(?s:.)",       "a.*b",        "\\w+",        "foo.+",    "(a|b)*"};
    printf("\nindex_matchers.c patterns over the same values\n%s\n", HEADER);
    double t_old = 0, t_new = 0;
    for (size_t i = 0; i < sizeof IM / sizeof IM[0]; i++) {
        strata_matcher sm = {STRATA_MATCH_RE, "l", IM[i]};
        index_matcher *im;
        assert_int_equal(index_matcher_compile(&sm, &im, NULL, 0), STRATA_OK);
        old_m om;
        old_compile(&om, IM[i]);
        double bo = 1e30, bn = 1e30;
        for (int rep = 0; rep < 5; rep++) {
            long a = 0, b = 0;
            double t0 = now_s();
            for (size_t k = 0; k < n; k++)
                a += old_match(&om, v[k], lens[k]);
            double t1 = now_s();
            for (size_t k = 0; k < n; k++)
                b += index_matcher_matches(im, v[k], lens[k]);
            double t2 = now_s();
            bo = t1 - t0 < bo ? t1 - t0 : bo;
            bn = t2 - t1 < bn ? t2 - t1 : bn;
            (void)a, (void)b;
        }
        t_old += bo;
        t_new += bn;
        index_matcher_free(im);
        old_free(&om);
    }
    size_t total = n * (sizeof IM / sizeof IM[0]);
    printf("all %zu patterns: old %.1f ns/match, new %.1f ns/match\n", sizeof IM / sizeof IM[0],
           t_old * 1e9 / (double)total, t_new * 1e9 / (double)total);

    /* long values */
    printf("\nlong values (ns per match; errors = the engine gave no answer)\n%s\n", HEADER);
    for (int L = 0; L < 2; L++) {
        size_t len = L ? 65536 : 1600;
        char *a = malloc(len + 1), *ab = malloc(len + 1);
        memset(a, 'a', len);
        a[len] = 0;
        for (size_t k = 0; k < len; k++)
            ab[k] = "ab"[k & 1];
        ab[len] = 0;
        char *lv[2] = {a, ab};
        size_t ll[2] = {len, len};
        static const char *P[] = {"(a|b)*", "(a+)+[bc]", ".*x.*y.*z", "(a|aa)+"};
        for (size_t p = 0; p < sizeof P / sizeof P[0]; p++) {
            old_errors = jit_errors = dfa_errors = 0;
            printf("%zu bytes: ", len);
            bench_one(P[p], lv, ll, 2, 3);
            printf("  errors: old %ld, pcre-jit %ld, pcre-dfa %ld (new: none possible)\n", old_errors, jit_errors,
                   dfa_errors);
        }
        free(a);
        free(ab);
    }
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
    free(lens);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(regex_matching_speed_old_and_new),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
