/*
 * re2_shim.cc: RE2 behind the C interface of re2_shim.h.
 *
 * RE2 is C++; this file is the whole of strata's C++ and only translates:
 * options in, status codes out. Every entry point catches every exception
 * (RE2 itself throws none, but operator new does), so none unwinds through
 * C frames. Matching uses RE2::Match with ANCHOR_BOTH and no submatches,
 * which runs RE2's DFA and, should the DFA exhaust its memory budget
 * (RE2::Options::max_mem), falls back to the NFA: both linear in the text.
 *
 * For label_replace (ix_re2_compile_go, ix_re2_find, ix_re2_expand) it
 * also carries what Go's regexp does around the match: the two points
 * where Go's syntax and this RE2's differ (go_to_re2, which matchers
 * share), the decoding of invalid UTF-8 (as matcher.c's
 * decode_as_go, with the offsets mapped back) and Regexp.expand.
 *
 * No standard container but std::string (which libstdc++ instantiates
 * itself): an instantiation made here, std::vector or std::map, would be
 * a weak symbol of default visibility exported by libstrata.so, whatever
 * -fvisibility says. So the names of groups are read from the pattern as
 * it is rewritten, not from RE2::NamedCapturingGroups (a std::map).
 */
#include "re2_shim.h"

#include <re2/re2.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

extern "C" {
#include "strata.h"
}

struct ix_re2 {
    RE2 *re;
    /* ix_re2_compile_go: the named groups and their numbers */
    size_t n_names;
    char **names;
    size_t *name_group;
    bool top_bar; /* an alternation | stands outside every group */
};

extern "C" int ix_re2_full_match(const ix_re2 *r, const char *text, size_t len)
{
    try {
        return r->re->Match(re2::StringPiece(text, len), 0, len, RE2::ANCHOR_BOTH, nullptr, 0) ? 1 : 0;
    } catch (...) {
        return STRATA_ERR_NOMEM;
    }
}

/* ------------------------------------------------------------ Go's regexp for label_replace */

static int refuse(char *errbuf, size_t errlen, const char *what)
{
    if (errbuf && errlen)
        snprintf(errbuf, errlen, "invalid regular expression: %s", what);
    return STRATA_ERR_INVALID;
}

/* Length of the valid UTF-8 sequence at s[0..n) (n >= 1), 0 when s[0]
 * begins none: Go's utf8.DecodeRune gives RuneError of width 1 there. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
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

static bool utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = reinterpret_cast<const unsigned char *>(s);
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(u + i, n - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

/* Reads the name of a named group at v[at..) up to '>' into r as the name
 * of group number group, and sets *after past the '>'. Go's rule: one or
 * more of [A-Za-z0-9_]; names may repeat. */
static int add_name(ix_re2 *r, const char *v, size_t n, size_t at, size_t group, size_t *after, char *errbuf,
                    size_t errlen)
{
    const char *gt = static_cast<const char *>(memchr(v + at, '>', n - at));
    if (!gt || gt == v + at)
        return refuse(errbuf, errlen, "invalid named capture");
    size_t nl = static_cast<size_t>(gt - (v + at));
    for (size_t i = 0; i < nl; i++) {
        char c = v[at + i];
        if (!(c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            return refuse(errbuf, errlen, "invalid named capture");
    }
    char *name = static_cast<char *>(malloc(nl + 1));
    if (!name)
        return STRATA_ERR_NOMEM;
    memcpy(name, v + at, nl);
    name[nl] = 0;
    r->names[r->n_names] = name;
    r->name_group[r->n_names++] = group;
    *after = at + nl + 1;
    return STRATA_OK;
}

/* pat in Go's syntax as this RE2 reads it, walking it as Go's parser does
 * (escapes, \Q...\E, classes with a leading ] and [:name:]):
 * - \C (any byte) exists in RE2, not in Go: refused;
 * - named groups, (?P<name>re) and Go 1.22's (?<name>re) (which this RE2
 *   does not know), become plain groups (re) for RE2, their names checked
 *   and kept in r as Go's parser does: this RE2 would refuse a name used
 *   twice, which Go accepts. (?<= and (?<! are invalid names, as in Go.
 * On the way it counts the capturing groups (every ( outside classes but
 * (?..., where only the named ones capture) into *n_groups. */
static int go_to_re2(const char *v, size_t n, std::string &out, ix_re2 *r, size_t *n_groups, char *errbuf,
                     size_t errlen)
{
    size_t i = 0, depth = 0;
    bool in_class = false;
    *n_groups = 0;
    r->top_bar = false;
    while (i < n) {
        char c = v[i];
        if (c == '\\' && i + 1 < n) {
            char e = v[i + 1];
            if (e == 'C')
                return refuse(errbuf, errlen, "invalid escape sequence: \\C (any byte: RE2 has it, Go does not)");
            if (e == 'Q' && !in_class) { /* literal text up to \E */
                size_t j = i + 2;
                while (j < n && !(v[j] == '\\' && j + 1 < n && v[j + 1] == 'E'))
                    j++;
                j = j < n ? j + 2 : n;
                out.append(v + i, j - i);
                i = j;
                continue;
            }
            out.append(v + i, 2);
            i += 2;
            continue;
        }
        if (in_class) {
            if (c == '[' && i + 1 < n && v[i + 1] == ':') { /* [:name:] */
                const char *end = static_cast<const char *>(memmem(v + i + 2, n - i - 2, ":]", 2));
                if (end) {
                    size_t j = static_cast<size_t>(end - v) + 2;
                    out.append(v + i, j - i);
                    i = j;
                    continue;
                }
            }
            if (c == ']')
                in_class = false;
            out.push_back(c);
            i++;
            continue;
        }
        if (c == '[') {
            size_t j = i + 1;
            if (j < n && v[j] == '^')
                j++;
            if (j < n && v[j] == ']') /* a leading ] is literal */
                j++;
            out.append(v + i, j - i);
            in_class = true;
            i = j;
            continue;
        }
        if (c == ')' && depth)
            depth--;
        else if (c == '|' && !depth)
            r->top_bar = true;
        if (c == '(') {
            size_t name_at = 0;
            depth++;
            if (i + 1 >= n || v[i + 1] != '?')
                ++*n_groups;
            else if (i + 2 < n && v[i + 2] == '<')
                name_at = i + 3;
            else if (i + 3 < n && v[i + 2] == 'P' && v[i + 3] == '<')
                name_at = i + 4;
            if (name_at) {
                int rc = add_name(r, v, n, name_at, ++*n_groups, &i, errbuf, errlen);
                if (rc != STRATA_OK)
                    return rc;
                out.push_back('(');
                continue;
            }
        }
        out.push_back(c);
        i++;
    }
    return STRATA_OK;
}

/* The one compile behind both entry points: Go's syntax translated by
 * go_to_re2, then RE2 with the options of the use (see re2_shim.h). */
static int compile(const char *pat, size_t len, bool matcher, ix_re2 **out, char *errbuf, size_t errlen)
{
    if (!utf8_valid(pat, len))
        return refuse(errbuf, errlen, "invalid UTF-8");
    ix_re2 *r = nullptr;
    try {
        r = new ix_re2{nullptr, 0, nullptr, nullptr, false};
        size_t opens = 0; /* at most one name per ( */
        for (size_t i = 0; i < len; i++)
            opens += pat[i] == '(';
        r->names = static_cast<char **>(calloc(opens + 1, sizeof *r->names));
        r->name_group = static_cast<size_t *>(calloc(opens + 1, sizeof *r->name_group));
        std::string p;
        size_t n_groups = 0;
        int rc = !r->names || !r->name_group ? STRATA_ERR_NOMEM
                                             : go_to_re2(pat, len, p, r, &n_groups, errbuf, errlen);
        if (rc != STRATA_OK) {
            ix_re2_free(r);
            return rc;
        }
        RE2::Options o;
        o.set_encoding(RE2::Options::EncodingUTF8);
        o.set_posix_syntax(false);  /* Go's syntax.Perl */
        o.set_longest_match(false); /* leftmost-first, as regexp.Compile */
        o.set_dot_nl(matcher);      /* a matcher is Prometheus' ^(?s:re)$ */
        o.set_never_nl(false);
        o.set_never_capture(matcher); /* a matcher asks only whether it matches */
        o.set_case_sensitive(true);
        o.set_log_errors(false);
        r->re = new RE2(re2::StringPiece(p.data(), p.size()), o);
        if (!r->re->ok()) {
            if (errbuf && errlen)
                snprintf(errbuf, errlen, "invalid regular expression: %s", r->re->error().c_str());
            ix_re2_free(r);
            return STRATA_ERR_INVALID;
        }
        /* RE2 accepted it, so the walk above saw each group as RE2 did;
         * should it ever not, no name may point at the wrong group */
        if (!matcher && n_groups != static_cast<size_t>(r->re->NumberOfCapturingGroups())) {
            ix_re2_free(r);
            return refuse(errbuf, errlen, "capturing groups not understood");
        }
    } catch (...) {
        ix_re2_free(r);
        return STRATA_ERR_NOMEM;
    }
    *out = r;
    return STRATA_OK;
}

extern "C" int ix_re2_compile(const char *pat, size_t len, ix_re2 **out, char *errbuf, size_t errlen)
{
    return compile(pat, len, true, out, errbuf, errlen);
}

extern "C" int ix_re2_compile_go(const char *pat, size_t len, ix_re2 **out, char *errbuf, size_t errlen)
{
    return compile(pat, len, false, out, errbuf, errlen);
}

extern "C" int ix_re2_top_alternation(const ix_re2 *r) { return r->top_bar ? 1 : 0; }

extern "C" size_t ix_re2_groups(const ix_re2 *r)
{
    return static_cast<size_t>(r->re->NumberOfCapturingGroups());
}

extern "C" int ix_re2_find(const ix_re2 *r, const char *text, size_t len, ptrdiff_t *ov, size_t n_pairs)
{
    size_t *at = nullptr;
    re2::StringPiece *sub = nullptr;
    try {
        /* The text as Go's regexp sees it: each byte that begins no valid
         * sequence read as U+FFFD, here spelled EF BF BD, with at[] giving
         * each decoded offset's offset in text. */
        const char *t = len ? text : "";
        size_t tl = len;
        std::string dec;
        if (!utf8_valid(text, len)) {
            const unsigned char *s = reinterpret_cast<const unsigned char *>(text);
            if (len > (SIZE_MAX / sizeof *at - 1) / 3)
                return STRATA_ERR_NOMEM;
            at = static_cast<size_t *>(malloc((3 * len + 1) * sizeof *at));
            if (!at)
                return STRATA_ERR_NOMEM;
            dec.reserve(3 * len);
            size_t w = 0;
            for (size_t i = 0; i < len;) {
                size_t k = utf8_seq(s + i, len - i);
                if (k) {
                    for (size_t j = 0; j < k; j++)
                        at[w++] = i + j;
                    dec.append(text + i, k);
                    i += k;
                } else {
                    at[w++] = i;
                    at[w++] = i + 1; /* inside the stand-in: after the byte */
                    at[w++] = i + 1;
                    dec.append("\xef\xbf\xbd", 3);
                    i++;
                }
            }
            at[w] = len;
            t = dec.data();
            tl = dec.size();
        }
        size_t ng = ix_re2_groups(r) + 1;
        sub = new re2::StringPiece[ng];
        bool m = r->re->Match(re2::StringPiece(t, tl), 0, tl, RE2::UNANCHORED, sub, static_cast<int>(ng));
        for (size_t i = 0; m && i < n_pairs; i++) {
            if (i >= ng || sub[i].data() == nullptr) {
                ov[2 * i] = ov[2 * i + 1] = -1;
                continue;
            }
            size_t b = static_cast<size_t>(sub[i].data() - t), e = b + sub[i].size();
            if (at) {
                b = at[b];
                e = at[e];
            }
            ov[2 * i] = static_cast<ptrdiff_t>(b);
            ov[2 * i + 1] = static_cast<ptrdiff_t>(e);
        }
        delete[] sub;
        free(at);
        return m ? 1 : 0;
    } catch (...) {
        delete[] sub;
        free(at);
        return STRATA_ERR_NOMEM;
    }
}

/* The length of the group name at the start of s[0..n): Go's extract
 * takes letters, decimal digits and underscores, Unicode ones included
 * (unicode.IsLetter, unicode.IsDigit); an invalid byte ends it. */
static size_t name_len(const char *s, size_t n)
{
    static const RE2 name_re("[\\p{L}\\p{Nd}_]*");
    re2::StringPiece m;
    if (!name_re.Match(re2::StringPiece(s, n), 0, n, RE2::ANCHOR_START, &m, 1))
        return 0;
    return m.size();
}

extern "C" int ix_re2_expand(const ix_re2 *r, const char *tmpl, size_t tlen, const char *text, const ptrdiff_t *ov,
                             size_t n_pairs, char *buf, size_t cap, size_t *need)
{
    try {
        std::string res;
        const char *p = tmpl, *end = tmpl + tlen;
        while (p < end) {
            const char *dollar = static_cast<const char *>(memchr(p, '$', static_cast<size_t>(end - p)));
            if (!dollar)
                break;
            res.append(p, static_cast<size_t>(dollar - p));
            p = dollar + 1;
            if (p < end && *p == '$') { /* $$ is a dollar */
                res.push_back('$');
                p++;
                continue;
            }
            /* extract(): name or {name} */
            bool brace = p < end && *p == '{';
            const char *name = brace ? p + 1 : p;
            size_t nl = name_len(name, static_cast<size_t>(end - name));
            if (nl == 0 || (brace && (name + nl >= end || name[nl] != '}'))) {
                res.push_back('$'); /* malformed: the $ stays as text */
                continue;
            }
            p = name + nl + (brace ? 1 : 0);
            long num = 0;
            for (size_t i = 0; i < nl; i++) {
                if (name[i] < '0' || name[i] > '9' || num >= 100000000) {
                    num = -1;
                    break;
                }
                num = num * 10 + (name[i] - '0');
            }
            if (name[0] == '0' && nl > 1) /* no leading zeros */
                num = -1;
            size_t g = SIZE_MAX;
            if (num >= 0) {
                g = static_cast<size_t>(num);
            } else { /* the first group of that name that took part */
                for (size_t i = 0; i < r->n_names && g == SIZE_MAX; i++) {
                    size_t gi = r->name_group[i];
                    if (strlen(r->names[i]) == nl && memcmp(r->names[i], name, nl) == 0 && gi < n_pairs &&
                        ov[2 * gi] >= 0)
                        g = gi;
                }
            }
            if (g < n_pairs && ov[2 * g] >= 0)
                res.append(text + ov[2 * g], static_cast<size_t>(ov[2 * g + 1] - ov[2 * g]));
        }
        res.append(p, static_cast<size_t>(end - p));
        *need = res.size();
        if (res.size() < cap) {
            memcpy(buf, res.data(), res.size());
            buf[res.size()] = 0;
        }
        return STRATA_OK;
    } catch (...) {
        return STRATA_ERR_NOMEM;
    }
}

extern "C" void ix_re2_free(ix_re2 *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_names; i++)
        free(r->names[i]);
    free(r->names);
    free(r->name_group);
    delete r->re;
    delete r;
}
