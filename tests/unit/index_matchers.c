/* Matchers against an independent reference: a brute-force evaluator that
 * checks each series' own labels with PCRE2 (another engine than the
 * index's RE2) anchored explicitly as ^(?:re)$ with `.` matching newline,
 * on the value decoded as Go's regexp decodes it (each byte that begins
 * no well-formed UTF-8 sequence is U+FFFD; the decoder here follows the
 * Unicode standard's table of well-formed sequences, not the index's
 * code), with no fast paths and no postings, over random label sets and
 * thousands of random matcher sets with empty values, missing labels,
 * invalid UTF-8 and regex specials. Every pattern below is in the syntax
 * Go and PCRE2 share with one meaning (no \s, whose \v differs; ASCII
 * \d \w), so the two engines must agree. Also label names and values of
 * a selection. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>

#include "index/index.h"
#include "testutil.h"

static const char *NAMES[] = {"__name__", "a", "b", "c", "dd", "zz_never"};
#define NNAMES 5 /* zz_never is only used by matchers */

static const char *VALUES[] = {"",      "x",     "xy",     "foo",  "foo.bar", "a|b",   "a\nb", "\xc3\xa9",
                               "\xc3\xbc", "\xff", "(",     "[",    ".*",      "Foo",   "100",  "1.5",
                               "fo",    "bar",   "foobar", "y",    "xyz",     "b",     "a",    " x ",
                               /* not UTF-8: stray byte, truncated, surrogate, overlong, 5-byte */
                               "a\xff\x62", "foo\xff", "\xc3", "\xed\xa0\x80", "\xc0\xaf", "\xf8\x88\x80\x80\x80",
                               "\xef\xbf\xbd", "\xc3\x89", "\n", "xoo"};
#define NVALUES (sizeof VALUES / sizeof VALUES[0])

static const char *PATTERNS[] = {
    "",        ".*",      ".+",       "f.*",      "f.+",         "foo|bar",     "a|",       "|x",
    "x|xy|foo", "(?i)foo", "[a-c].*", "x*",       ".*b.*",       "\xc3\xa9|\xc3\xbc", "..", ".",
    "\\.",     "foo\\.bar", "a\\|b",   "a|b|",     "\\d+",        "1\\.5|100",   ".*oo",     "^foo$",
    "(a|b)",   "x?y?",    "foo.*",    "xy.+",     "a\nb",        "a.b",         "[^x]+",    "\\(",
    "bar|foo|", "f",      ".*.*",     "(foo)?",   "x|y|z|xy|xyz", ".*\\.bar",  "\\S+",     "fo+",
    ".*o",     ".*oo.*",  ".*o.+",    "[^a]",     "\\x{FFFD}",  "\xef\xbf\xbd", "a\xef\xbf\xbd|x", ".*\xef\xbf\xbd.*",
    "(?i)\xc3\xa9", "(?s:.)", "(?-s:.)", ".", "..",    "a.*b",        "(?<n>fo)o", "\\Qfoo.bar\\E",
    "(?m:a$)\n.*", "\\w+",   "[[:alpha:]]+", "foo.+", ".+", "(a|b)*",  "\\x{ff}|\\xff", "\\z|x\\z",
    /* a literal prefix RE2 is spared when the value lacks it */
    "fo*x?", "foo(bar)?", "xy|x.", "fo{2}", "f\\.?o|\\(", "x(y|z)*", "\xc3\xa9*", "1\\.[0-9]"};
#define NPATTERNS (sizeof PATTERNS / sizeof PATTERNS[0])

typedef struct ref_series {
    const char *val[NNAMES + 1]; /* "" when absent */
} ref_series;

/* Length of the well-formed UTF-8 sequence at s (Unicode 15, table 3-7),
 * 0 when there is none (the byte is U+FFFD to Go). */
static size_t wellformed(const unsigned char *s, size_t n)
{
    static const struct {
        unsigned char lo[4], hi[4];
        size_t len;
    } T[] = {
        {{0x00}, {0x7f}, 1},
        {{0xc2, 0x80}, {0xdf, 0xbf}, 2},
        {{0xe0, 0xa0, 0x80}, {0xe0, 0xbf, 0xbf}, 3},
        {{0xe1, 0x80, 0x80}, {0xec, 0xbf, 0xbf}, 3},
        {{0xed, 0x80, 0x80}, {0xed, 0x9f, 0xbf}, 3},
        {{0xee, 0x80, 0x80}, {0xef, 0xbf, 0xbf}, 3},
        {{0xf0, 0x90, 0x80, 0x80}, {0xf0, 0xbf, 0xbf, 0xbf}, 4},
        {{0xf1, 0x80, 0x80, 0x80}, {0xf3, 0xbf, 0xbf, 0xbf}, 4},
        {{0xf4, 0x80, 0x80, 0x80}, {0xf4, 0x8f, 0xbf, 0xbf}, 4},
    };
    for (size_t t = 0; t < sizeof T / sizeof T[0]; t++) {
        if (T[t].len > n)
            continue;
        size_t k = 0;
        while (k < T[t].len && s[k] >= T[t].lo[k] && s[k] <= T[t].hi[k])
            k++;
        if (k == T[t].len)
            return k;
    }
    return 0;
}

/* v as Go's regexp reads it; the caller frees. */
static char *go_decoded(const char *v, size_t *len)
{
    size_t n = strlen(v), w = 0;
    char *o = malloc(3 * n + 1);
    for (size_t i = 0; i < n;) {
        size_t k = wellformed((const unsigned char *)v + i, n - i);
        if (k) {
            memcpy(o + w, v + i, k);
            w += k, i += k;
        } else {
            memcpy(o + w, "\xef\xbf\xbd", 3);
            w += 3, i++;
        }
    }
    o[w] = 0;
    *len = w;
    return o;
}

/* The reference: PCRE2, explicit anchors, compiled per call, on the value
 * as Go decodes it. */
static int ref_re(const char *re, const char *v)
{
    size_t n = strlen(re);
    char *pat = malloc(n + 8);
    sprintf(pat, "^(?:%s)$", re);
    int err;
    PCRE2_SIZE off;
    pcre2_code *c =
        pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY | PCRE2_UTF, &err,
                      &off, NULL);
    assert_non_null(c);
    size_t dl;
    char *d = go_decoded(v, &dl);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(c, NULL);
    int r = pcre2_match(c, (PCRE2_SPTR)d, dl, 0, 0, md, NULL);
    assert_true(r >= 0 || r == PCRE2_ERROR_NOMATCH); /* short values: no limit is near */
    pcre2_match_data_free(md);
    pcre2_code_free(c);
    free(d);
    free(pat);
    return r >= 0;
}

static int ref_valid(const char *re)
{
    int err;
    PCRE2_SIZE off;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &err, &off, NULL);
    pcre2_code_free(c);
    return c != NULL;
}

static int ref_match(const strata_matcher *m, const char *v)
{
    switch (m->type) {
    case STRATA_MATCH_EQ: return strcmp(v, m->value) == 0;
    case STRATA_MATCH_NEQ: return strcmp(v, m->value) != 0;
    case STRATA_MATCH_RE: return ref_re(m->value, v);
    case STRATA_MATCH_NRE: return !ref_re(m->value, v);
    }
    return 0;
}

static int name_idx(const char *name)
{
    for (int i = 0; i < NNAMES; i++)
        if (strcmp(NAMES[i], name) == 0)
            return i;
    return NNAMES;
}

/* Reference results for every (matcher, value) pair are cached: the
 * brute force is then cheap enough for thousands of sets. */
static signed char cache[4][NPATTERNS + NVALUES][NVALUES];

static int match_cached(const strata_matcher *m, int pat, const char *v)
{
    int vi = 0;
    while (strcmp(VALUES[vi], v) != 0)
        vi++;
    signed char *c = &cache[m->type][pat][vi];
    if (*c < 0)
        *c = (signed char)ref_match(m, v);
    return *c;
}

static void random_matcher(test_rng *r, strata_matcher *m, int *pat)
{
    m->type = (strata_match_type)test_rng_below(r, 4);
    m->name = NAMES[test_rng_below(r, NNAMES + 1)];
    if (m->type == STRATA_MATCH_RE || m->type == STRATA_MATCH_NRE || test_rng_below(r, 4) == 0) {
        if (m->type == STRATA_MATCH_EQ || m->type == STRATA_MATCH_NEQ)
            m->type += 2; /* a pattern is only meaningful as a regex */
        *pat = (int)test_rng_below(r, NPATTERNS);
        m->value = PATTERNS[*pat];
    } else {
        int vi = (int)test_rng_below(r, NVALUES);
        *pat = (int)NPATTERNS + vi;
        m->value = VALUES[vi];
    }
}

static void index_matcher_agrees_with_reference_on_every_pair(void **state)
{
    (void)state;
    for (int t = 0; t < 4; t++)
        for (size_t p = 0; p < NPATTERNS + NVALUES; p++) {
            const char *pv = p < NPATTERNS ? PATTERNS[p] : VALUES[p - NPATTERNS];
            strata_matcher m = {(strata_match_type)t, "a", pv};
            index_matcher *im;
            if ((t == STRATA_MATCH_RE || t == STRATA_MATCH_NRE) && !ref_valid(pv)) {
                assert_int_equal(index_matcher_compile(&m, &im, NULL, 0), STRATA_ERR_INVALID);
                continue;
            }
            assert_int_equal(index_matcher_compile(&m, &im, NULL, 0), STRATA_OK);
            for (size_t v = 0; v < NVALUES; v++) {
                int want = ref_match(&m, VALUES[v]);
                int got = index_matcher_matches(im, VALUES[v], strlen(VALUES[v]));
                if (want != got)
                    fail_msg("type %d pattern \"%s\" value \"%s\": want %d got %d", t, pv, VALUES[v], want, got);
            }
            index_matcher_free(im);
        }
}

static void index_select_agrees_with_brute_force(void **state)
{
    (void)state;
    memset(cache, -1, sizeof cache);
    test_rng r;
    test_rng_init(&r, test_seed(42));
    enum { NSERIES = 3000, NSETS = 4000 };
    ref_series *ref = calloc(NSERIES + 1, sizeof *ref);
    strata_index *idx;
    assert_int_equal(index_open(NULL, NULL, &idx), STRATA_OK);
    size_t made = 0;
    for (int i = 0; i < NSERIES; i++) {
        strata_label l[NNAMES];
        size_t n = 0;
        for (int k = 0; k < NNAMES; k++) {
            if (test_rng_below(&r, 10) < 6) /* present, maybe with an empty value */
                l[n++] = (strata_label){NAMES[k], VALUES[test_rng_below(&r, NVALUES)]};
        }
        /* shuffle the input order */
        for (size_t k = n; k > 1; k--) {
            size_t j = test_rng_below(&r, k);
            strata_label t = l[k - 1];
            l[k - 1] = l[j];
            l[j] = t;
        }
        strata_sid sid;
        int created;
        int rc = index_get_or_create(idx, l, n, &sid, &created);
        int nonempty = 0;
        for (size_t k = 0; k < n; k++)
            nonempty += l[k].value[0] != 0;
        if (!nonempty) {
            assert_int_equal(rc, STRATA_ERR_INVALID);
            continue;
        }
        assert_int_equal(rc, STRATA_OK);
        if (created) {
            assert_int_equal(sid, made + 1);
            made++;
            for (int k = 0; k <= NNAMES; k++)
                ref[sid].val[k] = "";
            for (size_t k = 0; k < n; k++)
                ref[sid].val[name_idx(l[k].name)] = l[k].value;
        }
    }
    printf("%zu series\n", made);
    uint64_t total_selected = 0;
    for (int set = 0; set < NSETS; set++) {
        strata_matcher m[4];
        int pat[4];
        size_t nm = test_rng_below(&r, 5);
        for (size_t k = 0; k < nm; k++)
            random_matcher(&r, &m[k], &pat[k]);
        int use_within = test_rng_below(&r, 4) == 0;
        index_sids within = {0};
        if (use_within) {
            within.v = malloc((made + 1) * sizeof *within.v);
            for (strata_sid s = 1; s <= made; s++)
                if (test_rng_below(&r, 3) == 0)
                    within.v[within.n++] = s;
        }
        /* the brute force */
        strata_sid *want = malloc((made + 1) * sizeof *want);
        size_t nwant = 0;
        size_t wi = 0;
        for (strata_sid s = 1; s <= made; s++) {
            if (use_within) {
                while (wi < within.n && within.v[wi] < s)
                    wi++;
                if (wi == within.n || within.v[wi] != s)
                    continue;
            }
            int ok = 1;
            for (size_t k = 0; k < nm && ok; k++)
                ok = match_cached(&m[k], pat[k], ref[s].val[name_idx(m[k].name)]);
            if (ok)
                want[nwant++] = s;
        }
        index_sids got = {0};
        int rc = use_within ? index_select_within(idx, m, nm, &within, &got) : index_select(idx, m, nm, &got);
        if (rc != STRATA_OK) {
            for (size_t k = 0; k < nm; k++)
                fprintf(stderr, "  %s %d \"%s\"\n", m[k].name, m[k].type, m[k].value);
        }
        assert_int_equal(rc, STRATA_OK);
        if (got.n != nwant || (nwant && memcmp(got.v, want, nwant * sizeof *want) != 0)) {
            for (size_t k = 0; k < nm; k++)
                fprintf(stderr, "  %s %d \"%s\"\n", m[k].name, m[k].type, m[k].value);
            fail_msg("set %d (within %d): want %zu series, got %zu", set, use_within, nwant, got.n);
        }
        total_selected += got.n;

        /* label names and the values of one name over the same selection */
        if (set % 8 == 0) {
            int has[NNAMES] = {0};
            for (size_t i = 0; i < nwant; i++)
                for (int k = 0; k < NNAMES; k++)
                    has[k] |= ref[want[i]].val[k][0] != 0;
            index_strs names = {0};
            assert_int_equal(index_label_names(idx, m, nm, use_within ? &within : NULL, &names), STRATA_OK);
            size_t expect = 0;
            for (int k = 0; k < NNAMES; k++)
                expect += has[k];
            assert_int_equal(names.n, expect);
            for (size_t i = 0; i < names.n; i++) {
                assert_true(has[name_idx(names.v[i])]);
                if (i)
                    assert_true(strcmp(names.v[i - 1], names.v[i]) < 0);
            }
            index_strs_free(&names);
            int k = (int)test_rng_below(&r, NNAMES);
            int vhas[NVALUES] = {0};
            size_t vexpect = 0;
            for (size_t i = 0; i < nwant; i++) {
                const char *v = ref[want[i]].val[k];
                if (!v[0])
                    continue;
                int vi = 0;
                while (strcmp(VALUES[vi], v) != 0)
                    vi++;
                vexpect += !vhas[vi];
                vhas[vi] = 1;
            }
            index_strs vals = {0};
            assert_int_equal(index_label_values(idx, NAMES[k], m, nm, use_within ? &within : NULL, &vals),
                             STRATA_OK);
            assert_int_equal(vals.n, vexpect);
            for (size_t i = 1; i < vals.n; i++)
                assert_true(strcmp(vals.v[i - 1], vals.v[i]) < 0);
            index_strs_free(&vals);
        }
        index_sids_free(&got);
        free(want);
        free(within.v);
    }
    printf("%d matcher sets, %llu series selected in all\n", NSETS, (unsigned long long)total_selected);
    index_close(idx);
    free(ref);
}

static void index_select_rejects_bad_regex(void **state)
{
    (void)state;
    strata_index *idx;
    assert_int_equal(index_open(NULL, NULL, &idx), STRATA_OK);
    strata_label l[] = {{"a", "1"}};
    strata_sid sid;
    assert_int_equal(index_get_or_create(idx, l, 1, &sid, NULL), STRATA_OK);
    const char *bad[] = {"(", "a)|(b", "[z-a]", "*", "\xff"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strata_matcher m = {STRATA_MATCH_RE, "a", bad[i]};
        index_sids s = {0};
        assert_int_equal(index_select(idx, &m, 1, &s), STRATA_ERR_INVALID);
    }
    strata_matcher nul = {STRATA_MATCH_EQ, NULL, "x"};
    index_sids s = {0};
    assert_int_equal(index_select(idx, &nul, 1, &s), STRATA_ERR_INVALID);
    index_close(idx);
}

/* Label names and values without matchers: everything, sorted. */
static void index_label_names_and_values_list_everything(void **state)
{
    (void)state;
    strata_index *idx;
    assert_int_equal(index_open(NULL, NULL, &idx), STRATA_OK);
    strata_label a[] = {{"job", "b"}, {"z", "1"}}, b[] = {{"job", "a"}, {"x", "2"}}, c[] = {{"job", "c"}};
    strata_sid sid;
    assert_int_equal(index_get_or_create(idx, a, 2, &sid, NULL), STRATA_OK);
    assert_int_equal(index_get_or_create(idx, b, 2, &sid, NULL), STRATA_OK);
    assert_int_equal(index_get_or_create(idx, c, 1, &sid, NULL), STRATA_OK);
    index_strs s = {0};
    assert_int_equal(index_label_names(idx, NULL, 0, NULL, &s), STRATA_OK);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.v[0], "job");
    assert_string_equal(s.v[2], "z");
    index_strs_free(&s);
    assert_int_equal(index_label_values(idx, "job", NULL, 0, NULL, &s), STRATA_OK);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.v[0], "a");
    assert_string_equal(s.v[1], "b");
    assert_string_equal(s.v[2], "c");
    index_strs_free(&s);
    assert_int_equal(index_label_values(idx, "nope", NULL, 0, NULL, &s), STRATA_OK);
    assert_int_equal(s.n, 0);
    index_strs_free(&s);
    index_close(idx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(index_matcher_agrees_with_reference_on_every_pair),
        cmocka_unit_test(index_select_agrees_with_brute_force),
        cmocka_unit_test(index_select_rejects_bad_regex),
        cmocka_unit_test(index_label_names_and_values_list_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
