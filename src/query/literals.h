/*
 * literals.h: values of PromQL literal tokens (literals.c), private to the
 * parser.
 */
#ifndef STRATA_QUERY_LITERALS_H
#define STRATA_QUERY_LITERALS_H

#include <stddef.h>
#include <stdint.h>

/* A NUMBER token's value. STRATA_ERR_INVALID with why filled in. */
int query_lit_number(const char *s, int64_t n, double *out, char *why, size_t whylen);
/* A DURATION token in ms (0 is allowed, negative is not written). */
int query_lit_duration(const char *s, int64_t n, int64_t *out_ms, char *why, size_t whylen);
/* Decodes a STRING token (with its quotes) checked by the lexer into out,
 * which holds n bytes; returns the length (a NUL is written after it). */
size_t query_lit_unquote(const char *s, int64_t n, char *out);

#endif
