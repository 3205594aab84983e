/*
 * matcher.c: one label matcher compiled for repeated use: =, !=, =~, !~
 * with Prometheus' semantics.
 *
 * Regular expressions: Go's regexp, as Prometheus uses it
 * - Syntax is Go's (RE2's): backreferences, lookaround, atomic groups,
 *   possessive quantifiers, recursion, \C and the like are refused with
 *   STRATA_ERR_INVALID and a message naming the construct, as Prometheus
 *   refuses them (HTTP 400).
 * - The match is of the whole value (Prometheus compiles "^(?s:re)$" after
 *   parsing re alone, so "a)|(b" is an error, not an escape from the
 *   anchors): RE2::Match with ANCHOR_BOTH, never a rewritten pattern.
 * - `.` matches newline (the (?s:...) above); ^ and $ match only at the
 *   ends of the value unless (?m).
 * - A value that is not valid UTF-8 is matched as Go matches it: Go decodes
 *   each byte that does not begin a valid sequence as U+FFFD (width 1), so
 *   "\xff" matches `.`, `[^a]` and `\x{FFFD}`. We give RE2 the value with
 *   each such byte replaced by U+FFFD (EF BF BD), which is the same rune
 *   sequence. (Prometheus' literal fast paths compare bytes, so for a
 *   pattern spelling U+FFFD literally Prometheus is not consistent with
 *   itself; we follow Go: such patterns skip the fast paths below.)
 * - Matching never fails on a pattern that compiled and never answers
 *   "no match" for an error: the only error left is STRATA_ERR_NOMEM, and
 *   it is returned as such (select.c fails the request).
 *
 * Why RE2 (libre2 through re2_shim.cc), not PCRE2
 * Measured with test_index_regex_bench_long (RelWithDebInfo, this 2-core
 * machine under load; ns per match, the fastest of 3-7 passes):
 * - PCRE2 JIT backtracks: on (a|b)* over 1,600 bytes it fails with its JIT
 *   stack limit, on (a+)+[bc] it spends ~0.8 ms per 1,600-byte value and
 *   then fails with its match limit. Every such failure was read as "no
 *   match" (a match under !~: a delete removed what Prometheus keeps).
 *   Raising the limits only moves the cliff: (a+)+[bc] is exponential.
 * - pcre2_dfa_match (PCRE2's "DFA" is an NFA simulation, with limits) is
 *   no way out: 35 us for (a|b)* over 1,600 bytes and 3.5 ms over 64 KiB
 *   (RE2: 2.3 us, 0.16 ms), 12 ms then a match-limit error for (a+)+[bc]
 *   over 1,600 bytes; it still has an error path, and PCRE2's syntax and
 *   classes (\s with \v, \Z, \K, possessive +, (?R) ...) differ from Go's
 *   in ways an RE2-syntax pre-check would have to re-parse.
 * - RE2 is the engine Go's regexp was ported from: the same syntax (we
 *   refuse \C, which RE2 has and Go has not, and accept Go 1.22's
 *   (?<name>re), which this RE2 spells (?P<name>re)), classes and case
 *   folding, and a match in time linear in the value (its DFA, or its NFA
 *   when the DFA's memory budget runs out: O(pattern x value) at worst,
 *   as Go) with no error but memory. (a+)+[bc] over 64 KiB: 0.05-0.14 ms.
 *   Its price is ~80 ns of set-up per call against ~20 ns for PCRE2 JIT
 *   on short values: [0-9]+ over 100,000 label values costs 127 ns per
 *   match instead of 79, (.*)foo(.*) 161 instead of 100; the fast paths
 *   below and the literal-prefix check before RE2 win it back on common
 *   shapes (.*suffix 9 ns instead of 94, .*foo.* 61 instead of 164,
 *   foo_(bar|api)_.* 27 instead of 35). The patterns of index_matchers.c
 *   over the same values: 64 ns per match against 56.
 * Known differences from Go that remain: size bounds (RE2 refuses a
 * program over its 8 MiB budget, "pattern too large", where Go's bound is
 * its own; RE2 accepts nesting deeper than Go's 1,000) and the Unicode
 * tables' versions.
 *
 * Fast paths in the manner of Prometheus' FastRegexMatcher, decided from
 * the pattern text and exactly equivalent to the regex for every value,
 * valid UTF-8 or not, as long as the literal does not contain U+FFFD (a
 * literal L without U+FFFD is a prefix/suffix/substring of the decoded
 * value exactly when its bytes are of the raw value):
 *   no meta character         -> string equality
 *   literals joined by |      -> set membership (sorted, binary search);
 *                                the index looks these values up directly
 *   .*  / .+                  -> any value / any non-empty value
 *   lit.* / lit.+             -> prefix (and at least one more byte)
 *   .*lit                     -> suffix
 *   .*lit.*                   -> substring
 *   anything else             -> RE2, after a memcmp of the literal prefix
 *                                every match begins with (required_prefix)
 * Meta characters are those Go's regexp.QuoteMeta escapes: \.+*?()|[]{}^$
 */
#include <stdio.h>
#include <stdlib.h>

#include "index_int.h"
#include "re2_shim.h"

static const char META[] = "\\.+*?()|[]{}^$";
static const char FFFD[] = "\xef\xbf\xbd";

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

/* Length of the valid UTF-8 sequence at s[0..n) (n >= 1), 0 when s[0]
 * begins none: what Go's utf8.DecodeRune calls RuneError of width 1
 * (overlong forms, surrogates, above U+10FFFF, truncated, stray
 * continuation bytes). */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    if (c < 0x80)
        return 1;
    size_t k;
    uint32_t cp, min;
    if ((c & 0xe0) == 0xc0)
        k = 1, cp = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0)
        k = 2, cp = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0)
        k = 3, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    if (n <= k)
        return 0;
    for (size_t j = 1; j <= k; j++) {
        if ((s[j] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[j] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return k + 1;
}

/* The value as Go's regexp sees it: every byte that begins no valid
 * sequence replaced by U+FFFD. Written into im->scratch (a matcher is
 * used by one thread at a time). */
static int decode_as_go(index_matcher *im, const char *v, size_t len, const char **out, size_t *out_len)
{
    if (len > (SIZE_MAX - 1) / 3)
        return STRATA_ERR_NOMEM;
    if (im->scratch_cap < 3 * len + 1) {
        char *p = base_realloc(im->scratch, 3 * len + 1);
        if (!p)
            return STRATA_ERR_NOMEM;
        im->scratch = p;
        im->scratch_cap = 3 * len + 1;
    }
    const uint8_t *s = (const uint8_t *)v;
    size_t w = 0;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_seq(s + i, len - i);
        if (k) {
            memcpy(im->scratch + w, s + i, k);
            w += k, i += k;
        } else {
            memcpy(im->scratch + w, FFFD, 3);
            w += 3, i++;
        }
    }
    *out = im->scratch;
    *out_len = w;
    return STRATA_OK;
}

static int contains(const char *v, size_t len, const char *lit, size_t n)
{
    return memmem(v, len, lit, n) != NULL;
}

int ix_matcher_raw(index_matcher *im, const char *v, size_t len, int utf8_ok)
{
    const char *l = im->n_set ? im->set[0] : NULL;
    size_t n = im->n_set ? im->set_len[0] : 0;
    switch (im->kind) {
    case IXM_EQ: return len == n && memcmp(v, l, len) == 0;
    case IXM_SET: return set_has(im, v, len);
    case IXM_ANY: return 1;
    case IXM_NONEMPTY: return len > 0;
    case IXM_PREFIX: return len >= n + (size_t)im->nonempty_rest && memcmp(v, l, n) == 0;
    case IXM_SUFFIX: return len >= n && memcmp(v + len - n, l, n) == 0;
    case IXM_CONTAINS: return contains(v, len, l, n);
    case IXM_RE2: {
        /* The literal every match begins with (see compile_re2). */
        if (im->pre_len && (len < im->pre_len || memcmp(v, im->pre, im->pre_len) != 0))
            return 0;
        if (!utf8_ok) {
            int rc = decode_as_go(im, v, len, &v, &len);
            if (rc != 0)
                return rc;
        }
        return ix_re2_full_match(im->re, v, len);
    }
    }
    return STRATA_ERR_INVALID;
}

int index_matcher_matches(index_matcher *im, const char *value, size_t len)
{
    int utf8_ok = 1;
    if (im->kind == IXM_RE2)
        utf8_ok = ix_utf8_valid((const uint8_t *)value, len);
    int r = ix_matcher_raw(im, value, len, utf8_ok);
    return r < 0 ? r : r ^ im->neg;
}

void index_matcher_free(index_matcher *im)
{
    if (!im)
        return;
    for (size_t i = 0; i < im->n_set; i++)
        base_free(im->set[i]);
    base_free(im->set);
    base_free(im->set_len);
    ix_re2_free(im->re);
    base_free(im->pre);
    base_free(im->scratch);
    base_free(im);
}

/* ------------------------------------------------------------ Go syntax */

/* The literal every match of v begins with: the text before the first
 * meta character, less its last rune when a quantifier follows (foo*
 * needs only "fo"), nothing when an alternation stands at the top. A
 * necessary condition checked with memcmp before RE2 runs: most values
 * fail it for patterns such as /api/v1/.*, and RE2 costs ~100 ns a call
 * however short the value. Exact for invalid UTF-8 values too (the
 * literal holds no U+FFFD, see the top). */
static int required_prefix(index_matcher *im, const char *v, size_t n, int top_bar)
{
    size_t k = 0;
    while (k < n && !strchr(META, v[k]))
        k++;
    if (k < n && strchr("*+?{", v[k])) {
        while (k > 0 && ((uint8_t)v[k - 1] & 0xc0) == 0x80) /* back to the rune's first byte */
            k--;
        if (k > 0)
            k--;
    }
    if (top_bar || k == 0)
        return STRATA_OK;
    if (!(im->pre = base_strndup(v, k)))
        return STRATA_ERR_NOMEM;
    im->pre_len = k;
    return STRATA_OK;
}

static int compile_re2(index_matcher *im, const char *v, size_t n, char *errbuf, size_t errlen)
{
    int rc = ix_re2_compile(v, n, &im->re, errbuf, errlen);
    if (rc == 0 && !memmem(v, n, FFFD, 3))
        rc = required_prefix(im, v, n, ix_re2_top_alternation(im->re));
    if (rc == 0)
        im->kind = IXM_RE2;
    return rc;
}

/* im->set[0] := v[0..n), for the kinds that test one literal. */
static int one_literal(index_matcher *im, enum ix_mkind kind, const char *v, size_t n)
{
    im->kind = kind;
    if (!(im->set = base_calloc(1, sizeof *im->set)) || !(im->set_len = base_calloc(1, sizeof *im->set_len)) ||
        !(im->set[0] = base_strndup(v, n)))
        return STRATA_ERR_NOMEM;
    im->set_len[0] = n;
    im->n_set = 1;
    return STRATA_OK;
}

static int is_dotstar(const char *v, size_t n) { return n >= 2 && v[0] == '.' && v[1] == '*'; }

static int classify(index_matcher *im, const char *v, size_t n, char *errbuf, size_t errlen)
{
    if (im->type == STRATA_MATCH_EQ || im->type == STRATA_MATCH_NEQ)
        return one_literal(im, IXM_EQ, v, n);
    /* A literal spelling U+FFFD also matches an invalid byte of the value
     * (see the top): only RE2, given the decoded value, gets that right. */
    if (memmem(v, n, FFFD, 3))
        return compile_re2(im, v, n, errbuf, errlen);
    if (!has_meta(v, n, 0))
        return one_literal(im, IXM_EQ, v, n);
    if (!has_meta(v, n, 1)) {
        im->kind = IXM_SET;
        return make_set(im, v, n);
    }
    if (n == 2 && v[0] == '.' && (v[1] == '*' || v[1] == '+')) {
        im->kind = v[1] == '*' ? IXM_ANY : IXM_NONEMPTY;
        return STRATA_OK;
    }
    if (n > 2 && v[n - 2] == '.' && (v[n - 1] == '*' || v[n - 1] == '+')) {
        if (!has_meta(v, n - 2, 0)) {
            im->nonempty_rest = v[n - 1] == '+';
            return one_literal(im, IXM_PREFIX, v, n - 2);
        }
        if (n > 4 && is_dotstar(v, n) && v[n - 1] == '*' && !has_meta(v + 2, n - 4, 0))
            return one_literal(im, IXM_CONTAINS, v + 2, n - 4);
    }
    if (n > 2 && is_dotstar(v, n) && !has_meta(v + 2, n - 2, 0))
        return one_literal(im, IXM_SUFFIX, v + 2, n - 2);
    return compile_re2(im, v, n, errbuf, errlen);
}

int index_matcher_compile(const strata_matcher *m, index_matcher **out, char *errbuf, size_t errlen)
{
    if (errbuf && errlen)
        errbuf[0] = 0;
    if (!m || !m->name || !m->value || (unsigned)m->type > STRATA_MATCH_NRE)
        return STRATA_ERR_INVALID;
    size_t n = strlen(m->value);
    int regex = m->type == STRATA_MATCH_RE || m->type == STRATA_MATCH_NRE;
    /* Go refuses a pattern that is not UTF-8 ("invalid UTF-8"); the fast
     * paths must refuse it alike. */
    if (regex && !ix_utf8_valid((const uint8_t *)m->value, n)) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "invalid regular expression: not valid UTF-8");
        return STRATA_ERR_INVALID;
    }
    index_matcher *im = base_calloc(1, sizeof *im);
    if (!im)
        return STRATA_ERR_NOMEM;
    im->type = m->type;
    im->name = m->name;
    im->neg = m->type == STRATA_MATCH_NEQ || m->type == STRATA_MATCH_NRE;
    int rc = classify(im, m->value, n, errbuf, errlen);
    if (rc == 0) {
        int e = ix_matcher_raw(im, "", 0, 1);
        if (e < 0)
            rc = e;
        else
            im->matches_empty = e ^ im->neg;
    }
    if (rc != 0) {
        index_matcher_free(im);
        return rc;
    }
    *out = im;
    return STRATA_OK;
}
