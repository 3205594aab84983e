/*
 * matcher.c: one label matcher compiled for repeated use: =, !=, =~, !~
 * with Prometheus' semantics.
 *
 * Regular expressions are PCRE2 with PCRE2_ANCHORED | PCRE2_ENDANCHORED
 * (fully anchored without rewriting the pattern, so "a)|(b" cannot escape
 * an added group), PCRE2_DOTALL (Prometheus compiles "^(?s:re)$"),
 * PCRE2_DOLLAR_ENDONLY (Go's $ does not match before a final newline),
 * PCRE2_UTF (Go matches runes) and PCRE2_NEVER_BACKSLASH_C. A value that
 * is not valid UTF-8 matches no regular expression: it is checked before
 * PCRE2 runs (PCRE2_NO_UTF_CHECK then saves PCRE2 the check). That is what
 * PCRE2_MATCH_INVALID_UTF would give for a fully anchored match (no
 * pattern item consumes an invalid byte), without it: PCRE2 10.42's JIT
 * gets it wrong (\S+ fails on "\xc3\xa9"). JIT is used when available.
 *
 * Fast paths in the manner of Prometheus' FastRegexMatcher, decided from
 * the pattern text and exactly equivalent to the regex:
 *   no meta character         -> string equality
 *   literals joined by |      -> set membership (sorted, binary search);
 *                                the index looks these values up directly
 *   .*  / .+                  -> any (non-empty) valid UTF-8 value
 *   lit.* / lit.+             -> prefix (and at least one more rune)
 * Meta characters are those Go's regexp.QuoteMeta escapes: \.+*?()|[]{}^$
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>

#include "index_int.h"

static const char META[] = "\\.+*?()|[]{}^$";

static int has_meta(const char *s, size_t n, int allow_bar)
{
    for (size_t i = 0; i < n; i++)
        if (strchr(META, s[i]) && !(allow_bar && s[i] == '|'))
            return 1;
    return 0;
}

static int bytes_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, MIN(al, bl));
    return c ? c : (al > bl) - (al < bl);
}

struct lit {
    char *s;
    size_t len;
};

static int lit_cmp(const void *a, const void *b)
{
    const struct lit *x = a, *y = b;
    return bytes_cmp(x->s, x->len, y->s, y->len);
}

/* Fills im->set with the |-separated literals of v (sorted, distinct). */
static int make_set(index_matcher *im, const char *v, size_t n)
{
    size_t k = 1;
    for (size_t i = 0; i < n; i++)
        k += v[i] == '|';
    struct lit *l = base_malloc(k * sizeof *l);
    if (!l)
        return STRATA_ERR_NOMEM;
    size_t start = 0, j = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || v[i] == '|') {
            l[j].len = i - start;
            l[j].s = (char *)v + start;
            j++;
            start = i + 1;
        }
    }
    qsort(l, k, sizeof *l, lit_cmp);
    im->set = base_calloc(k, sizeof *im->set);
    im->set_len = base_calloc(k, sizeof *im->set_len);
    if (!im->set || !im->set_len) {
        base_free(l);
        return STRATA_ERR_NOMEM;
    }
    for (size_t i = 0; i < k; i++) {
        if (im->n_set && lit_cmp(&l[i], &l[i - 1]) == 0)
            continue;
        if (!(im->set[im->n_set] = base_strndup(l[i].s, l[i].len))) {
            base_free(l);
            return STRATA_ERR_NOMEM;
        }
        im->set_len[im->n_set++] = l[i].len;
    }
    base_free(l);
    return STRATA_OK;
}

static int set_has(const index_matcher *im, const char *v, size_t len)
{
    size_t lo = 0, hi = im->n_set;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = bytes_cmp(im->set[mid], im->set_len[mid], v, len);
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

int ix_matcher_raw(index_matcher *im, const char *v, size_t len, int utf8_ok)
{
    switch (im->kind) {
    case IXM_EQ: return len == im->set_len[0] && memcmp(v, im->set[0], len) == 0;
    case IXM_SET: return set_has(im, v, len);
    case IXM_ANY: return utf8_ok;
    case IXM_NONEMPTY: return len > 0 && utf8_ok;
    case IXM_PREFIX:
        return utf8_ok && len >= im->set_len[0] + (size_t)im->prefix_nonempty &&
               memcmp(v, im->set[0], im->set_len[0]) == 0;
    case IXM_PCRE: {
        if (!utf8_ok)
            return 0;
        int r = pcre2_match(im->code, (PCRE2_SPTR)v, len, 0, PCRE2_NO_UTF_CHECK, im->md, im->mctx);
        /* PCRE2_ERROR_NOMATCH, or the match limit (a pathological
         * backtracking pattern; RE2 would not backtrack): no match. */
        return r >= 0;
    }
    }
    return 0;
}

int index_matcher_matches(index_matcher *im, const char *value, size_t len)
{
    int utf8_ok = 1;
    if (im->kind != IXM_EQ && im->kind != IXM_SET)
        utf8_ok = ix_utf8_valid((const uint8_t *)value, len);
    return ix_matcher_raw(im, value, len, utf8_ok) ^ im->neg;
}

void index_matcher_free(index_matcher *im)
{
    if (!im)
        return;
    for (size_t i = 0; i < im->n_set; i++)
        base_free(im->set[i]);
    base_free(im->set);
    base_free(im->set_len);
    if (im->md)
        pcre2_match_data_free(im->md);
    if (im->code)
        pcre2_code_free(im->code);
    if (im->mctx)
        pcre2_match_context_free(im->mctx);
    base_free(im);
}

static int compile_pcre(index_matcher *im, const char *v, size_t n, char *errbuf, size_t errlen)
{
    int err;
    PCRE2_SIZE off;
    uint32_t opt = PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY | PCRE2_UTF |
                   PCRE2_NEVER_BACKSLASH_C;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)v, n, opt, &err, &off, NULL);
    if (!code) {
        if (errbuf && errlen) {
            PCRE2_UCHAR msg[160];
            if (pcre2_get_error_message(err, msg, sizeof msg) < 0)
                strcpy((char *)msg, "invalid regular expression");
            snprintf(errbuf, errlen, "invalid regular expression at offset %zu: %s", (size_t)off, (char *)msg);
        }
        return STRATA_ERR_INVALID;
    }
    im->code = code;
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
    if (!(im->md = pcre2_match_data_create_from_pattern(code, NULL)) || !(im->mctx = pcre2_match_context_create(NULL)))
        return STRATA_ERR_NOMEM;
    /* Bounds the work of one value (the default, 10 million, lets one
     * pathological pattern stall a query for seconds per value). */
    pcre2_set_match_limit(im->mctx, IX_PCRE_MATCH_LIMIT);
    pcre2_set_depth_limit(im->mctx, IX_PCRE_MATCH_LIMIT / 10);
    im->kind = IXM_PCRE;
    return STRATA_OK;
}

static int classify(index_matcher *im, const char *v, size_t n, char *errbuf, size_t errlen)
{
    if (im->type == STRATA_MATCH_EQ || im->type == STRATA_MATCH_NEQ || !has_meta(v, n, 0)) {
        im->kind = IXM_EQ;
        if (!(im->set = base_calloc(1, sizeof *im->set)) || !(im->set_len = base_calloc(1, sizeof *im->set_len)) ||
            !(im->set[0] = base_strndup(v, n)))
            return STRATA_ERR_NOMEM;
        im->set_len[0] = n;
        im->n_set = 1;
        return STRATA_OK;
    }
    if (!has_meta(v, n, 1)) {
        im->kind = IXM_SET;
        return make_set(im, v, n);
    }
    if (n == 2 && v[0] == '.' && (v[1] == '*' || v[1] == '+')) {
        im->kind = v[1] == '*' ? IXM_ANY : IXM_NONEMPTY;
        return STRATA_OK;
    }
    if (n > 2 && v[n - 2] == '.' && (v[n - 1] == '*' || v[n - 1] == '+') && !has_meta(v, n - 2, 0)) {
        im->kind = IXM_PREFIX;
        im->prefix_nonempty = v[n - 1] == '+';
        if (!(im->set = base_calloc(1, sizeof *im->set)) || !(im->set_len = base_calloc(1, sizeof *im->set_len)) ||
            !(im->set[0] = base_strndup(v, n - 2)))
            return STRATA_ERR_NOMEM;
        im->set_len[0] = n - 2;
        im->n_set = 1;
        return STRATA_OK;
    }
    return compile_pcre(im, v, n, errbuf, errlen);
}

int index_matcher_compile(const strata_matcher *m, index_matcher **out, char *errbuf, size_t errlen)
{
    if (!m || !m->name || !m->value || (unsigned)m->type > STRATA_MATCH_NRE)
        return STRATA_ERR_INVALID;
    size_t n = strlen(m->value);
    int regex = m->type == STRATA_MATCH_RE || m->type == STRATA_MATCH_NRE;
    /* In UTF mode PCRE2 rejects a pattern that is not UTF-8; the fast
     * paths must reject it alike. */
    if (regex && !ix_utf8_valid((const uint8_t *)m->value, n)) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "regular expression is not valid UTF-8");
        return STRATA_ERR_INVALID;
    }
    index_matcher *im = base_calloc(1, sizeof *im);
    if (!im)
        return STRATA_ERR_NOMEM;
    im->type = m->type;
    im->name = m->name;
    im->neg = m->type == STRATA_MATCH_NEQ || m->type == STRATA_MATCH_NRE;
    int rc = classify(im, m->value, n, errbuf, errlen);
    if (rc != 0) {
        index_matcher_free(im);
        return rc;
    }
    im->matches_empty = ix_matcher_raw(im, "", 0, 1) ^ im->neg;
    *out = im;
    return STRATA_OK;
}
