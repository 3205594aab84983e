/*
 * re2_shim.h: the C interface of re2_shim.cc, the only C++ in strata: a
 * regular expression compiled by RE2 with the options that give Go's
 * regexp (and so Prometheus') semantics. Two uses:
 * - label matchers (matcher.c): ix_re2_compile, then a full (both ends
 *   anchored) match; see the top of matcher.c for why RE2;
 * - label_replace (src/query/func_label.c): ix_re2_compile_go, then Go's
 *   Regexp.FindStringSubmatchIndex (ix_re2_find) and Regexp.ExpandString
 *   (ix_re2_expand).
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

/* Compiles the len bytes of pat, a label matcher's pattern, as Prometheus
 * compiles ^(?s:pat)$: Go's syntax as ix_re2_compile_go reads it, `.`
 * matching newline, no submatches kept. STRATA_ERR_INVALID with a message
 * in errbuf (when errbuf is not NULL), STRATA_ERR_NOMEM. */
int ix_re2_compile(const char *pat, size_t len, ix_re2 **out, char *errbuf, size_t errlen);

/* 1 when the whole of text (len bytes, valid UTF-8) matches, 0 when not,
 * STRATA_ERR_NOMEM. Time linear in len (RE2's DFA, or its NFA when the
 * DFA's memory budget runs out). Safe from several threads at once. */
int ix_re2_full_match(const ix_re2 *re, const char *text, size_t len);

/* Compiles the len bytes of pat as Go's regexp.Compile(pat) does, pat
 * being the whole pattern Go is given (label_replace passes
 * "^(?s:" re ")$", concatenated as Prometheus does): Go's syntax.Perl
 * (\C, which RE2 has and Go has not, refused; Go 1.22's (?<name>re)
 * accepted; a group name may repeat, as in Go), `.` not matching newline
 * unless (?s), ^ and $ at the ends of the text unless (?m), capturing
 * groups kept, leftmost-first matching.
 * A pattern that is not valid UTF-8 is refused, as Go refuses it.
 * STRATA_ERR_INVALID with a message in errbuf, STRATA_ERR_NOMEM. */
int ix_re2_compile_go(const char *pat, size_t len, ix_re2 **out, char *errbuf, size_t errlen);

/* 1 when an alternation | of the pattern stands outside every group (so
 * no literal prefix is common to every match), 0 when not. */
int ix_re2_top_alternation(const ix_re2 *re);

/* Number of capturing groups (group 0, the whole match, not counted). */
size_t ix_re2_groups(const ix_re2 *re);

/* Go's Regexp.FindStringSubmatchIndex: the leftmost match of re in text
 * (len bytes, UTF-8 or not: an invalid byte is one U+FFFD to the regex, as
 * Go decodes it, and offsets are into text as given). 1 when it matches,
 * with ov[2*i], ov[2*i+1] the byte offsets of group i for i < n_pairs
 * (group 0 is the whole match; -1, -1 for a group that took no part), 0
 * when not, STRATA_ERR_NOMEM. n_pairs may be anything; ix_re2_groups + 1
 * gives every group. Time linear in len. Safe from several threads. */
int ix_re2_find(const ix_re2 *re, const char *text, size_t len, ptrdiff_t *ov, size_t n_pairs);

/* Go's Regexp.ExpandString: tmpl (tlen bytes) with $name and ${name}
 * replaced by the text of the group so numbered or named in the match ov
 * (n_pairs pairs, as ix_re2_find gives) of text; $$ is a dollar. A name is
 * the longest run of Unicode letters, decimal digits and underscores, so
 * "$1x" names the group "1x"; a name of at most nine ASCII digits without
 * a leading zero is a group number; a name given to several groups means
 * the first of them that took part; a group that does not exist
 * or took no part gives nothing; a $ followed by no name (or by { without
 * a name and a closing }) stays as it is. Writes the result and a NUL into
 * buf when it fits in cap bytes and sets *need to its length (without the
 * NUL); the result is complete only when *need < cap. STRATA_OK or
 * STRATA_ERR_NOMEM. */
int ix_re2_expand(const ix_re2 *re, const char *tmpl, size_t tlen, const char *text, const ptrdiff_t *ov,
                  size_t n_pairs, char *buf, size_t cap, size_t *need);

/* ix_re2_free(NULL) is a no-op. */
void ix_re2_free(ix_re2 *re);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_INDEX_RE2_SHIM_H */
