/*
 * re2_shim.cc: RE2 behind the C interface of re2_shim.h.
 *
 * RE2 is C++; this file is the whole of strata's C++ and only translates:
 * options in, status codes out. Every entry point catches every exception
 * (RE2 itself throws none, but operator new does), so none unwinds through
 * C frames. Matching uses RE2::Match with ANCHOR_BOTH and no submatches,
 * which runs RE2's DFA and, should the DFA exhaust its memory budget
 * (RE2::Options::max_mem), falls back to the NFA: both linear in the text.
 */
#include "re2_shim.h"

#include <re2/re2.h>

#include <cstdio>
#include <new>

extern "C" {
#include "strata.h"
}

struct ix_re2 {
    RE2 *re;
};

extern "C" int ix_re2_compile(const char *pat, size_t len, ix_re2 **out, char *errbuf, size_t errlen)
{
    ix_re2 *r = nullptr;
    try {
        RE2::Options o;
        o.set_encoding(RE2::Options::EncodingUTF8);
        o.set_posix_syntax(false); /* Perl classes, \b, (?flags), non-greedy: Go's syntax.Perl */
        o.set_longest_match(false);
        o.set_dot_nl(true);        /* Prometheus compiles ^(?s:re)$ */
        o.set_never_nl(false);
        o.set_never_capture(true); /* only whether it matches is asked */
        o.set_case_sensitive(true);
        o.set_log_errors(false);   /* the message goes to the caller instead */
        r = new ix_re2{nullptr};
        r->re = new RE2(re2::StringPiece(pat, len), o);
        if (!r->re->ok()) {
            if (errbuf && errlen)
                snprintf(errbuf, errlen, "invalid regular expression: %s", r->re->error().c_str());
            ix_re2_free(r);
            return STRATA_ERR_INVALID;
        }
    } catch (...) {
        ix_re2_free(r);
        return STRATA_ERR_NOMEM;
    }
    *out = r;
    return STRATA_OK;
}

extern "C" int ix_re2_full_match(const ix_re2 *r, const char *text, size_t len)
{
    try {
        return r->re->Match(re2::StringPiece(text, len), 0, len, RE2::ANCHOR_BOTH, nullptr, 0) ? 1 : 0;
    } catch (...) {
        return STRATA_ERR_NOMEM;
    }
}

extern "C" void ix_re2_free(ix_re2 *r)
{
    if (!r)
        return;
    delete r->re;
    delete r;
}
