/*
 * re2_shim.h: the C interface of re2_shim.cc, the only C++ in strata: a
 * regular expression compiled by RE2 with the options that give Go's
 * regexp (and so Prometheus') semantics, and a full (both ends anchored)
 * match. matcher.c is its only user; see the top of matcher.c for why RE2.
 *
 * Returns are strata status codes (include/strata.h): no C++ exception
 * ever leaves these functions (an allocation failure inside RE2 becomes
 * STRATA_ERR_NOMEM).
 */
#ifndef STRATA_INDEX_RE2_SHIM_H
#define STRATA_INDEX_RE2_SHIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ix_re2 ix_re2;

/* Compiles the len bytes of pat (valid UTF-8, Go syntax already checked
 * by matcher.c for what RE2 accepts and Go does not) with: Perl-like
 * syntax as Go's syntax.Perl, `.` matching newline (Prometheus' (?s:...)),
 * UTF-8, case-sensitive, errors not logged. STRATA_ERR_INVALID with RE2's
 * message in errbuf (when errbuf is not NULL), STRATA_ERR_NOMEM. */
int ix_re2_compile(const char *pat, size_t len, ix_re2 **out, char *errbuf, size_t errlen);

/* 1 when the whole of text (len bytes, valid UTF-8) matches, 0 when not,
 * STRATA_ERR_NOMEM. Time linear in len (RE2's DFA, or its NFA when the
 * DFA's memory budget runs out). Safe from several threads at once. */
int ix_re2_full_match(const ix_re2 *re, const char *text, size_t len);

/* ix_re2_free(NULL) is a no-op. */
void ix_re2_free(ix_re2 *re);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_INDEX_RE2_SHIM_H */
