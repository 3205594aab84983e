/*
 * fuzz_regex.c: label matchers (=~ and !~) against a second engine.
 *
 * The first byte picks the mode:
 * - even: raw. The rest is pattern NUL value (any bytes). The matcher must
 *   compile or refuse with STRATA_ERR_INVALID and a message, answer 0 or 1
 *   (never an error) in time linear in the value, !~ must be the negation
 *   of =~, and the answer must equal RE2's own on the value decoded as Go
 *   decodes it (so every fast path is checked against the engine).
 * - odd: generated. The bytes drive a small grammar of the regex syntax
 *   Go and PCRE2 share with one meaning (literals, `.`, classes, \d \w \b,
 *   ^ $, (?i:), groups, alternation, * + ? {m,n} and their lazy forms, and
 *   the shapes of the fast paths: lit.*, .*lit, .*lit.*, a|b|c), and a
 *   value over an alphabet with newline, é and invalid bytes, sometimes
 *   long. The matcher must accept the pattern and agree with PCRE2
 *   (^(?:re)$, DOTALL, DOLLAR_ENDONLY, UTF, on the value decoded as Go
 *   decodes it) wherever PCRE2 answers without hitting a limit.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/index.h"
#include "index/re2_shim.h"

/* ---- Go's reading of bytes: each byte that begins no well-formed UTF-8
 * sequence is U+FFFD. Written here from the Unicode table (3-7), apart
 * from matcher.c's decoder. */
static size_t wellformed(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    if (c < 0x80)
        return 1;
    uint8_t lo = 0x80, hi = 0xbf;
    size_t len;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if (s[k] < 0x80 || s[k] > 0xbf)
            return 0;
    return len;
}

static char *go_decoded(const char *v, size_t n, size_t *out)
{
    char *o = malloc(3 * n + 1);
    if (!o)
        abort();
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        size_t k = wellformed((const uint8_t *)v + i, n - i);
        if (k) {
            memcpy(o + w, v + i, k);
            w += k, i += k;
        } else {
            memcpy(o + w, "\xef\xbf\xbd", 3);
            w += 3, i++;
        }
    }
    o[w] = 0;
    *out = w;
    return o;
}

/* ---- the grammar */

typedef struct gen {
    const uint8_t *p;
    size_t n, i;
    char out[4096]; /* generation stops growing at 400 bytes; open groups then close */
    size_t len;
    int depth;
} gen;

static unsigned take(gen *g, unsigned mod)
{
    unsigned b = g->i < g->n ? g->p[g->i++] : 0;
    return mod ? b % mod : b;
}

static void put(gen *g, const char *s)
{
    size_t k = strlen(s);
    if (g->len + k >= sizeof g->out - 1)
        abort(); /* the harness's own bound is wrong */
    memcpy(g->out + g->len, s, k);
    g->len += k;
    g->out[g->len] = 0;
}

static const char *ATOMS[] = {"a",   "b",     "c",     "x",     "\n",     "\xc3\xa9", "\\.",  ".",
                              "[ab]", "[^a]", "[a-c]", "\\d",   "\\w",    "\\W",      "\\D",  "\\x{FFFD}",
                              "\\b", "^",     "$",     "1",     "(?i:a)", "[\\n]",    "\\n", "[^\\n]"};
static const char *QUANT[] = {"*", "+", "?", "*?", "+?", "??", "{2}", "{0,2}", "{1,3}", "{2,}"};

static void gen_alt(gen *g);

static void gen_atom(gen *g)
{
    if (g->len > 400) {
        put(g, "a");
        return;
    }
    unsigned k = take(g, 8);
    if (k == 0 && g->depth < 6) {
        static const char *OPEN[] = {"(", "(?:", "(?i:", "(?s:"};
        put(g, OPEN[take(g, 4)]);
        g->depth++;
        gen_alt(g);
        g->depth--;
        put(g, ")");
    } else {
        put(g, ATOMS[take(g, sizeof ATOMS / sizeof ATOMS[0])]);
    }
    if (take(g, 3) == 0)
        put(g, QUANT[take(g, sizeof QUANT / sizeof QUANT[0])]);
}

static void gen_concat(gen *g)
{
    unsigned n = take(g, 4);
    for (unsigned k = 0; k < n; k++)
        gen_atom(g);
}

static void gen_alt(gen *g)
{
    gen_concat(g);
    while (take(g, 4) == 0 && g->len < 400) {
        put(g, "|");
        gen_concat(g);
    }
}

static void gen_lit(gen *g)
{
    static const char *L[] = {"a", "b", "x", "\xc3\xa9", "\n", "1", "ab", "\xef\xbf\xbd"};
    unsigned n = 1 + take(g, 3);
    for (unsigned k = 0; k < n; k++)
        put(g, L[take(g, 8)]);
}

/* A pattern: sometimes a fast-path shape. */
static void gen_pattern(gen *g)
{
    switch (take(g, 8)) {
    case 0: gen_lit(g); put(g, take(g, 2) ? ".*" : ".+"); break;
    case 1: put(g, ".*"); gen_lit(g); break;
    case 2: put(g, ".*"); gen_lit(g); put(g, ".*"); break;
    case 3: gen_lit(g); put(g, "|"); gen_lit(g); if (take(g, 2)) put(g, "|"); break;
    case 4: put(g, take(g, 2) ? ".*" : ".+"); break;
    default: gen_alt(g);
    }
}

static size_t gen_value(gen *g, char *v, size_t cap)
{
    static const char *A[] = {"a", "b", "c", "x", "\n", "\xc3\xa9", "\xff", "\xc3", "1", ".", "ab", "\xef\xbf\xbd",
                              " ", "\xed\xa0\x80", "A", "\xc3\x89"};
    size_t n = 0;
    unsigned len = take(g, 12);
    for (unsigned k = 0; k < len; k++) {
        const char *s = A[take(g, 16)];
        size_t sl = strlen(s);
        if (n + sl < cap)
            memcpy(v + n, s, sl), n += sl;
    }
    if (take(g, 8) == 0 && n) { /* long: the same bytes over and over */
        size_t unit = n;
        while (n + unit < 4096 && n + unit < cap)
            memcpy(v + n, v, unit), n += unit;
    }
    v[n] = 0;
    return n;
}

/* ---- the checks */

static int ours(const char *pat, int type, const char *v, size_t n, char *msg, size_t msglen, int *rc_out)
{
    strata_matcher m = {(strata_match_type)type, "l", pat};
    index_matcher *im;
    int rc = index_matcher_compile(&m, &im, msg, msglen);
    *rc_out = rc;
    if (rc != STRATA_OK)
        return -1;
    int r = index_matcher_matches(im, v, n);
    index_matcher_free(im);
    if (r != 0 && r != 1)
        abort(); /* an error, or garbage, instead of an answer */
    return r;
}

/* PCRE2's answer, or -1 when it has none (compile error, limit). */
static int pcre(const char *pat, const char *v, size_t n)
{
    size_t pl = strlen(pat);
    char *full = malloc(pl + 8);
    if (!full)
        abort();
    memcpy(full, "^(?:", 4);
    memcpy(full + 4, pat, pl);
    memcpy(full + 4 + pl, ")$", 3);
    int err;
    PCRE2_SIZE off;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)full, PCRE2_ZERO_TERMINATED,
                                  PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY | PCRE2_UTF, &err, &off, NULL);
    free(full);
    if (!c)
        return -1;
    size_t dl;
    char *d = go_decoded(v, n, &dl);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(c, NULL);
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    if (!md || !mc)
        abort();
    pcre2_set_match_limit(mc, 200000);
    int r = pcre2_match(c, (PCRE2_SPTR)d, dl, 0, 0, md, mc);
    pcre2_match_context_free(mc);
    pcre2_match_data_free(md);
    pcre2_code_free(c);
    free(d);
    if (r >= 0)
        return 1;
    return r == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

static void raw_mode(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t pl = nul ? (size_t)(nul - data) : size;
    if (pl > 2048)
        return;
    char *pat = malloc(pl + 1);
    if (!pat)
        abort();
    memcpy(pat, data, pl);
    pat[pl] = 0;
    const char *v = nul ? (const char *)nul + 1 : "";
    size_t vn = nul ? size - pl - 1 : 0;
    char msg[256] = "";
    int rc, rc2;
    int yes = ours(pat, STRATA_MATCH_RE, v, vn, msg, sizeof msg, &rc);
    if (rc != STRATA_OK) {
        if (rc != STRATA_ERR_INVALID || !msg[0])
            abort(); /* a refusal says why */
    } else {
        int no = ours(pat, STRATA_MATCH_NRE, v, vn, NULL, 0, &rc2);
        if (rc2 != STRATA_OK || no != !yes)
            abort();
        /* RE2 itself on the pattern (no fast path) and the decoded value */
        ix_re2 *re;
        if (ix_re2_compile(pat, pl, &re, NULL, 0) == STRATA_OK) {
            size_t dl;
            char *d = go_decoded(v, vn, &dl);
            int r = ix_re2_full_match(re, d, dl);
            free(d);
            ix_re2_free(re);
            if (r != yes) {
                fprintf(stderr, "fast path vs RE2: pattern \"%s\": %d vs %d\n", pat, yes, r);
                abort();
            }
        }
    }
    free(pat);
}

static void generated_mode(const uint8_t *data, size_t size)
{
    gen g = {.p = data, .n = size};
    gen_pattern(&g);
    char v[4200];
    size_t vn = gen_value(&g, v, sizeof v);
    char msg[256] = "";
    int rc;
    int yes = ours(g.out, STRATA_MATCH_RE, v, vn, msg, sizeof msg, &rc);
    if (rc != STRATA_OK) {
        /* The grammar nests counted repeats, which Go refuses as RE2 does
         * past 1000 copies; and RE2's program size bound (Go's own bound
         * differs: "expression too large"). Anything else it makes, Go
         * accepts. */
        if (rc == STRATA_ERR_INVALID && (strstr(msg, "invalid repetition size") || strstr(msg, "too large")))
            return;
        fprintf(stderr, "refused \"%s\": %s\n", g.out, msg);
        abort();
    }
    int want = pcre(g.out, v, vn);
    if (want >= 0 && want != yes) {
        fprintf(stderr, "pattern \"%s\" value (%zu bytes) \"%.60s\": PCRE2 %d, strata %d\n", g.out, vn, v, want, yes);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1)
        generated_mode(data + 1, size - 1);
    else
        raw_mode(data + 1, size - 1);
    return 0;
}
